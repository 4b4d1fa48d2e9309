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
