"""The catalogue of mistakes ``bnlab check`` names: kind -> severity, what is wrong, the fix.

Severity: ``error`` (wrong results), ``latent`` (works in the assignment, breaks elsewhere),
``note`` (a convention difference, not a mistake). Every kind is described with an example
in docs/check.md; the ``message`` of a finding is the ``what`` sentence plus the ``fix`` line.
"""

from __future__ import annotations

from typing import NamedTuple

DOCS_URL = "docs/check.md"


class Kind(NamedTuple):
    severity: str
    what: str  # one sentence: what the code does
    fix: str  # the correct formula line


BN_TRAIN = "out = gamma * (x - mu) / np.sqrt(var + eps) + beta  (mu, var over axis 0)"
BN_TEST = "out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta"
RUN_RULE = (
    "running_mean = momentum * running_mean + (1 - momentum) * mu, the same for "
    "running_var with the batch var, then store both back into bn_param"
)
SBN = "statistics per channel over axes (0, 2, 3): x.transpose(0, 2, 3, 1).reshape(-1, C)"
LN = "mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)"
LN_BWD = (
    "dx_hat = dout * gamma; dx = inv_std / D * (D * dx_hat - dx_hat.sum(axis=1, keepdims=True)"
    " - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True))"
)
BN_BWD = (
    "dx = gamma * inv_std / m * (m * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))"
)
DO = "mask = (np.random.rand(*x.shape) < p) / p; out = x * mask  (p = keep probability)"
GN = (
    "x_g = x.reshape(N, G, C // G, H, W); mu, var over axes (2, 3, 4) of x_g; "
    "out = gamma * ((x_g - mu) / np.sqrt(var + eps)).reshape(N, C, H, W) + beta"
)
GN_BWD = (
    "dx_hat = (dout * gamma).reshape(N, G, C // G, H, W); dx = inv_std / m * (m * dx_hat "
    "- dx_hat.sum(axis=(2, 3, 4), keepdims=True) - x_hat * (dx_hat * x_hat).sum(axis=(2, 3, 4), "
    "keepdims=True)), m = C // G * H * W"
)
CONV = (
    "x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))); out[n, f, i, j] = "
    "np.sum(x_pad[n, :, i*stride:i*stride+HH, j*stride:j*stride+WW] * w[f]) + b[f]"
)
CONV_SIZE = "H_out = 1 + (H + 2 * pad - HH) // stride  (pooling: 1 + (H - pool_height) // stride)"
POOL = (
    "out[n, c, i, j] = x[n, c, i*stride:i*stride+pool_height, j*stride:j*stride+pool_width].max()"
)
POOL_BWD = (
    "dx[n, c, window] += dout[n, c, i, j] * (window == window.max()) for ONE maximum of "
    "the window (np.argmax), accumulated with += over overlapping windows"
)
SGD_MOMENTUM = "v = momentum * v - learning_rate * dw; next_w = w + v; config['velocity'] = v"
RMSPROP = (
    "cache = decay_rate * cache + (1 - decay_rate) * dw**2; next_w = w - learning_rate * dw "
    "/ (np.sqrt(cache) + epsilon); config['cache'] = cache"
)
ADAM = (
    "t += 1; m = beta1 * m + (1 - beta1) * dw; v = beta2 * v + (1 - beta2) * dw**2; "
    "next_w = w - learning_rate * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + epsilon); "
    "store m, v, t (not the corrected m, v) in config"
)

# The correct line per function, for deviations no kind explains (fwd_wrong, bwd_wrong).
FORMULAS = {
    "affine_forward": "out = x.reshape(x.shape[0], -1) @ w + b",
    "affine_backward": "dx = (dout @ w.T).reshape(x.shape); dw = x.reshape(N, -1).T @ dout; "
    "db = dout.sum(axis=0)",
    "relu_forward": "out = np.maximum(x, 0)",
    "relu_backward": "dx = dout * (x > 0)",
    "softmax_loss": "loss = -mean(log softmax(x)[i, y_i]); dx = (softmax(x) - onehot(y)) / N",
    "svm_loss": "loss = mean_i sum_{j != y_i} max(0, x_ij - x_iy_i + 1); dx[i, j] = [margin > 0] / N, "
    "dx[i, y_i] = -(number of positive margins) / N",
    "batchnorm_forward": BN_TRAIN,
    "batchnorm_backward": BN_BWD,
    "batchnorm_backward_alt": BN_BWD,
    "layernorm_forward": "out = gamma * (x - mu) / np.sqrt(var + eps) + beta  (mu, var over axis 1)",
    "layernorm_backward": LN_BWD,
    "spatial_batchnorm_forward": BN_TRAIN.replace("axis 0", "axes (0, 2, 3)"),
    "spatial_batchnorm_backward": BN_BWD.replace("axis=0", "axis=(0, 2, 3)"),
    "dropout_forward": DO,
    "dropout_backward": "dx = dout * mask  (train mode), dx = dout  (test mode)",
    "spatial_groupnorm_forward": GN,
    "spatial_groupnorm_backward": GN_BWD,
    "conv_forward_naive": CONV,
    "conv_backward_naive": "dx_pad[n, :, window] += w[f] * dout[n, f, i, j]; dw[f] += "
    "x_pad[n, :, window] * dout[n, f, i, j]; db = dout.sum(axis=(0, 2, 3)); dx = dx_pad[:, :, "
    "pad:-pad, pad:-pad]",
    "max_pool_forward_naive": POOL,
    "max_pool_backward_naive": POOL_BWD,
    "sgd": "next_w = w - learning_rate * dw",
    "sgd_momentum": SGD_MOMENTUM,
    "rmsprop": RMSPROP,
    "adam": ADAM,
}

KINDS: dict[str, Kind] = {
    # -- running statistics, batchnorm train / test mode
    "bn_eps_outside_sqrt": Kind("error", "train mode divides by sqrt(var) + eps.", BN_TRAIN),
    "bn_var_ddof1": Kind(
        "error", "train mode normalises with the unbiased variance (ddof=1).", BN_TRAIN
    ),
    "bn_no_affine": Kind("error", "train mode forgets gamma and beta.", BN_TRAIN),
    "bn_stats_over_features": Kind(
        "error", "batchnorm takes mean and var over axis 1 (that is layernorm).", BN_TRAIN
    ),
    "test_eps_outside_sqrt": Kind(
        "error", "test mode divides by sqrt(running_var) + eps.", BN_TEST
    ),
    "test_running_var_as_std": Kind(
        "error", "test mode divides by running_var instead of its square root.", BN_TEST
    ),
    "test_uses_batch_stats": Kind(
        "error", "test mode normalises with the test batch's own mean and var.", BN_TEST
    ),
    "test_no_affine": Kind("error", "test mode forgets gamma and beta.", BN_TEST),
    "test_updates_running_stats": Kind(
        "error", "a test-mode call changes running_mean / running_var.", BN_TEST
    ),
    "run_var_stores_std": Kind(
        "error", "the running 'variance' averages the batch std, not the batch var.", RUN_RULE
    ),
    "bn_momentum_inverted": Kind(
        "error", "momentum weighs the new batch instead of the old running value.", RUN_RULE
    ),
    "run_stats_not_written_back": Kind(
        "error", "the running statistics are computed but never stored in bn_param.", RUN_RULE
    ),
    "run_momentum_ignored": Kind(
        "error", "bn_param['momentum'] is ignored (a fixed momentum is used).", RUN_RULE
    ),
    "run_stats_wrong": Kind("error", "the running statistics follow no known rule.", RUN_RULE),
    "run_var_unbiased": Kind(
        "note",
        "running_var stores the unbiased batch variance (PyTorch's choice, not cs231n's).",
        RUN_RULE,
    ),
    "run_shape_changed": Kind(
        "latent",
        "running_mean / running_var are stored with shape (1, D) instead of (D,).",
        "store mu and var of shape (D,): x.mean(axis=0), not keepdims=True",
    ),
    # -- spatial batchnorm
    "sbn_stats_per_pixel": Kind(
        "error", "spatial batchnorm takes statistics per channel and pixel over N only.", SBN
    ),
    "sbn_stats_per_example": Kind(
        "error", "spatial batchnorm takes statistics per example and channel (instance norm).", SBN
    ),
    "sbn_reshape_without_transpose": Kind(
        "error", "(N, C, H, W) is reshaped to (N*H*W, C) without moving C last first.", SBN
    ),
    "sbn_bwd_count": Kind(
        "error", "the spatial backward divides by N where the statistics ran over N*H*W.", BN_BWD
    ),
    # -- layernorm
    "ln_stats_over_batch": Kind("error", "layernorm normalises over axis 0 (it is batchnorm).", LN),
    "ln_eps_outside_sqrt": Kind("error", "layernorm divides by sqrt(var) + eps.", LN),
    "ln_bwd_gamma_outside": Kind(
        "error", "layernorm backward pulls gamma out of the per-example sums.", LN_BWD
    ),
    "ln_bwd_count": Kind("error", "layernorm backward divides by N instead of D.", LN_BWD),
    "ln_bwd_uncentred": Kind("error", "layernorm backward uses x where x - mean belongs.", LN_BWD),
    # -- backward, any normalisation layer
    "bwd_wrong": Kind(
        "error", "the backward disagrees with the true gradient of the correct forward.", BN_BWD
    ),
    "bwd_inconsistent_with_forward": Kind(
        "error",
        "the backward is the exact gradient of your own (wrong) forward, so your gradient check "
        "passes, but not of the correct forward.",
        "fix the forward first, then re-derive the backward",
    ),
    "bwd_dgamma_shape": Kind(
        "latent",
        "dgamma / dbeta are returned with shape (1, D) (rel_error hides it by broadcasting).",
        "dgamma = np.sum(dout * x_hat, axis=0)  # (D,)",
    ),
    "bwd_dgamma_wrong_axis": Kind(
        "error",
        "dgamma / dbeta are summed over the wrong axis.",
        "dgamma = np.sum(dout * x_hat, axis=0)  # gamma is per feature: sum over the batch",
    ),
    "fwd_wrong": Kind(
        "error",
        "the forward output differs from the reference in a way no known mistake explains.",
        BN_TRAIN,
    ),
    # -- dropout
    "do_convention_mismatch": Kind(
        "error",
        "p is used as the drop probability against the keep-probability convention "
        "(or the reverse).",
        DO,
    ),
    "do_convention_other": Kind(
        "note",
        "your code and your docstring both use the other meaning of p than --convention "
        "(drop vs keep probability): run with the matching --convention to check the rest.",
        DO,
    ),
    "do_not_inverted": Kind(
        "error", "dropout is neither inverted nor classic: no scaling at train or test time.", DO
    ),
    "do_vanilla_dropout": Kind(
        "latent",
        "classic dropout (unscaled at train time, x p at test time): consistent, but "
        "not the inverted dropout asked for.",
        DO,
    ),
    "do_mask_not_uniform": Kind(
        "error",
        "the kept fraction or the mask's values match neither p nor 1 - p (e.g. a randn mask).",
        DO,
    ),
    "do_mask_shared_across_batch": Kind(
        "error", "one mask is shared by every example of the batch.", DO
    ),
    "do_wrong_scale": Kind("error", "kept units are scaled by the wrong factor.", DO),
    "do_test_not_identity": Kind(
        "error", "inverted dropout's test mode must return x unchanged.", "out = x  (test mode)"
    ),
    "do_only_2d": Kind(
        "latent",
        "dropout fails on 4-D input (conv feature maps).",
        "mask = (np.random.rand(*x.shape) < p) / p  # any shape",
    ),
    "do_seed_ignored": Kind(
        "latent",
        "dropout_param['seed'] is ignored, so masks do not repeat for a gradient check.",
        "if 'seed' in dropout_param: np.random.seed(dropout_param['seed'])",
    ),
    "do_bwd_wrong": Kind(
        "error",
        "dropout backward does not apply the forward's mask.",
        "dx = dout * mask  (train mode), dx = dout  (test mode)",
    ),
    # -- spatial groupnorm
    "gn_stats_per_channel": Kind(
        "error", "groupnorm takes statistics per example and channel, not per group.", GN
    ),
    "gn_stats_per_example": Kind(
        "error", "groupnorm takes statistics over all channels of an example (G ignored).", GN
    ),
    "gn_stats_over_batch": Kind(
        "error", "groupnorm's statistics also run over the batch (axis 0).", GN
    ),
    "gn_groups_strided": Kind(
        "error",
        "channels are grouped with a stride (c, c + G, ...) instead of C // G consecutive ones "
        "(x.reshape(N, C // G, G, H, W)).",
        GN,
    ),
    "gn_eps_outside_sqrt": Kind("error", "groupnorm divides by sqrt(var) + eps.", GN),
    "gn_indivisible_groups_accepted": Kind(
        "latent",
        "a G that does not divide C returns a result instead of an error (the groups mix "
        "channels of different examples or cut channels in two).",
        "if C % G: raise ValueError(...)  # or let x.reshape(N, G, C // G, H, W) raise",
    ),
    "gn_gamma_shape_c": Kind(
        "note",
        "groupnorm only works with gamma, beta of shape (C,), where cs231n passes (1, C, 1, 1).",
        "out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)",
    ),
    "gn_bwd_count": Kind(
        "error",
        "the groupnorm backward divides by the wrong count (m = C // G * H * W values per group).",
        GN_BWD,
    ),
    "gn_bwd_gamma_outside": Kind(
        "error", "the groupnorm backward pulls gamma out of the per-group sums.", GN_BWD
    ),
    # -- convolution and max pooling
    "conv_no_padding": Kind("error", "conv_param['pad'] is ignored: x is not padded.", CONV),
    "conv_pad_wrong_axes": Kind(
        "error",
        "x is padded on the wrong axes (only H or only W, or N and C too, as np.pad(x, pad) does).",
        CONV,
    ),
    "conv_flipped_kernel": Kind(
        "error",
        "the kernel is flipped (true convolution): cs231n's conv layer is a cross-correlation.",
        CONV,
    ),
    "out_size_formula": Kind("error", "the output size follows a wrong formula.", CONV_SIZE),
    "window_stride_ignored": Kind(
        "error", "window (i, j) starts at (i, j) instead of (i * stride, j * stride).", CONV
    ),
    "conv_bwd_dx_padded": Kind(
        "error",
        "dx is returned with the padding still on (the gradient of x_pad, not of x).",
        "dx = dx_pad[:, :, pad:pad + H, pad:pad + W]",
    ),
    "conv_bwd_pad_zero_slice": Kind(
        "latent",
        "dx = dx_pad[:, :, pad:-pad, pad:-pad] is empty when pad = 0 (cs231n's tests only use "
        "pad = 1).",
        "dx = dx_pad[:, :, pad:pad + H, pad:pad + W]",
    ),
    "pool_hw_swapped": Kind(
        "error", "pool_height and pool_width are swapped (the window is W x H).", POOL
    ),
    "pool_bwd_whole_window": Kind(
        "error",
        "max-pool backward sends dout to every element of the window, not only to its maximum.",
        POOL_BWD,
    ),
    "pool_bwd_all_ties": Kind(
        "note",
        "on ties, max-pool backward sends dout to every tied maximum (the gradient is multiplied "
        "by the number of ties); bnlab and PyTorch send it to one.",
        POOL_BWD,
    ),
    "pool_bwd_overwrite": Kind(
        "latent",
        "max-pool backward assigns (=) instead of accumulating (+=): where overlapping windows "
        "(stride < pool size) share a maximum, gradient is lost.",
        POOL_BWD,
    ),
    # -- sandwich layers (layer_utils)
    "sandwich_wrong": Kind(
        "error",
        "the sandwich does not compose its layers like the reference (wrong order, a layer "
        "missing, or a cache unpacked into the wrong layer).",
        "out = relu(norm(affine(x))); the backward unwinds the caches in reverse order",
    ),
    "sandwich_grads_order": Kind(
        "error",
        "the sandwich backward returns the right gradients in the wrong order.",
        "return dx, dw, db (then dgamma, dbeta)",
    ),
    # -- update rules (optim.py)
    "optim_wrong": Kind(
        "error",
        "the update differs from the reference in a way no known mistake explains.",
        "next_w = w - learning_rate * dw  (each rule's line is in its docstring)",
    ),
    "optim_default_wrong": Kind(
        "latent",
        "a missing hyperparameter gets a default other than cs231n's.",
        "config.setdefault('learning_rate', 1e-2) (adam: 1e-3), momentum 0.9, decay_rate 0.99, "
        "epsilon 1e-8, beta1 0.9, beta2 0.999, t 0",
    ),
    "optim_state_not_saved": Kind(
        "error",
        "the rule's state (velocity, cache, m, v, t) is not stored in config, so every call "
        "starts again from zero.",
        "config['velocity'] = v  (rmsprop: config['cache']; adam: config['m'], ['v'], ['t'])",
    ),
    "optim_updates_w_in_place": Kind(
        "note",
        "the rule changes w in place as well as returning it (cs231n's own sgd does): fine for "
        "the Solver, surprising for a caller who keeps w.",
        "next_w = w - learning_rate * dw  # a new array",
    ),
    "momentum_sign_flipped": Kind(
        "error",
        "sgd_momentum steps against its velocity (next_w = w - v with v built from -dw): "
        "it climbs the loss.",
        SGD_MOMENTUM,
    ),
    "momentum_dampened": Kind(
        "error",
        "the velocity is an average (1 - momentum) * dw, as in Adam's m, not cs231n's sum.",
        SGD_MOMENTUM,
    ),
    "momentum_nesterov": Kind(
        "error",
        "sgd_momentum applies Nesterov's update where plain momentum is asked.",
        SGD_MOMENTUM,
    ),
    "rmsprop_eps_inside_sqrt": Kind(
        "error",
        "rmsprop divides by sqrt(cache + epsilon) instead of sqrt(cache) + epsilon.",
        RMSPROP,
    ),
    "rmsprop_decay_inverted": Kind(
        "error", "decay_rate weighs the new dw**2 instead of the old cache.", RMSPROP
    ),
    "adam_no_bias_correction": Kind(
        "error", "adam uses m and v without the bias corrections 1 - beta**t.", ADAM
    ),
    "adam_t_not_incremented_first": Kind(
        "error",
        "adam's bias correction uses t before incrementing it (the first step divides by "
        "1 - beta**0 = 0).",
        ADAM,
    ),
    "adam_eps_inside_sqrt": Kind(
        "error", "adam divides by sqrt(v_hat + epsilon) instead of sqrt(v_hat) + epsilon.", ADAM
    ),
    "adam_stores_corrected": Kind(
        "error", "adam stores the bias-corrected m_hat, v_hat in config instead of m, v.", ADAM
    ),
    # -- affine, relu, softmax
    "affine_no_flatten": Kind(
        "error",
        "x is not reshaped to (N, D) before the product.",
        "out = x.reshape(x.shape[0], -1) @ w + b; dx = (dout @ w.T).reshape(x.shape)",
    ),
    "relu_mutates_input": Kind(
        "latent",
        "relu overwrites the caller's x or dout in place (breaks relu(x) + x).",
        "out = np.maximum(x, 0); dx = dout * (x > 0)  # new arrays",
    ),
    "softmax_unstable": Kind(
        "error",
        "softmax overflows for large scores (exp without subtracting the row max).",
        "shifted = x - x.max(axis=1, keepdims=True)",
    ),
    "softmax_not_averaged": Kind(
        "error",
        "the loss or dx is summed over the batch instead of averaged.",
        "loss = -np.mean(log_probs[np.arange(N), y]); dx = (probs - onehot) / N",
    ),
    # -- contracts, any function
    "input_mutated": Kind(
        "latent",
        "the function changes one of the caller's arrays in place.",
        "compute into new arrays (x = x - mu, not x -= mu)",
    ),
    "dtype_changed": Kind(
        "latent",
        "float32 input comes back as float64 (doubles memory, slows the nets).",
        "keep x's dtype: avoid mixing in float64 arrays, or cast once with .astype(x.dtype)",
    ),
    "shape_wrong": Kind(
        "error", "an output has the wrong shape.", "each gradient has its input's shape"
    ),
    "crash_on_input": Kind("error", "the function raises on a valid input.", ""),
    # -- statuses (reported as findings too)
    "crashed": Kind("error", "the function raised an exception.", ""),
    "timeout": Kind(
        "error", "the function did not finish within the time limit (an endless loop?).", ""
    ),
    "not_implemented": Kind("note", "not implemented yet.", ""),
}


def doc_link(kind: str) -> str:
    """Where a kind is explained: docs/check.md#<kind>."""
    return f"{DOCS_URL}#{kind}"
