"""Seeded mistakes: each a few text edits of correct_layers.py (or a function appended to it,
which overrides the correct one), with the function to check and the kind it must be named.

Written for bnlab's tests; no student code.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

CORRECT = Path(__file__).with_name("correct_layers.py")


class Mistake(NamedTuple):
    kind: str  # the catalogue kind the checker must report
    functions: tuple[str, ...]  # where it must be reported
    edits: tuple[tuple[str, str], ...] = ()  # (old, new): the first occurrence is replaced
    append: str = ""  # functions appended to the file (they override the correct ones)
    convention: str = "cs231n"


BN_TEST_LINE = "        x_hat = (x - running_mean) / np.sqrt(running_var + eps)\n"
RUN_MEAN = "        running_mean = momentum * running_mean + (1 - momentum) * mu\n"
RUN_VAR = "        running_var = momentum * running_var + (1 - momentum) * var\n"
MASK = "        mask = (np.random.rand(*x.shape) < p) / p\n"

GN_MU = "    group_mu = x_group.mean(axis=(2, 3, 4), keepdims=True)\n"
GN_VAR = "    group_var = x_group.var(axis=(2, 3, 4), keepdims=True)\n"
GN_RESHAPE = "x_group = x.reshape(N, G, C // G, H, W)"
CONV_PAD = '    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")\n'
CONV_SUM = "out[n, f, i, j] = np.sum(patch * w[f]) + b[f]"
POOL_WINDOW = "window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]"
POOL_ARGMAX = (
    "                    r, s = np.unravel_index(np.argmax(window), window.shape)\n"
    "                    dx[n, c, i * stride + r, j * stride + s] += dout[n, c, i, j]\n"
)

GN_INDIVISIBLE = """

def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    x_group = x.reshape(N, G, -1)
    mu = x_group.mean(axis=2, keepdims=True)
    var = x_group.var(axis=2, keepdims=True)
    x_hat = ((x_group - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
    return gamma * x_hat + beta, (x_hat, G)
"""

SPATIAL_PER_AXES = """

def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=AXES, keepdims=True)
    var = x.var(axis=AXES, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    out = gamma[None, :, None, None] * x_hat + beta[None, :, None, None]
    return out, (x_hat, gamma, np.sqrt(var + eps))
"""

SBN_BWD_COUNT = """

def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    x_hat, gamma, std = cache
    dbeta = dout_flat.sum(axis=0)
    dgamma = np.sum(dout_flat * x_hat, axis=0)
    dx_flat = gamma / (N * std) * (N * dout_flat - dbeta - x_hat * dgamma)
    dx = dx_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta
"""

LN_UNCENTRED = """

def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    std = np.sqrt(var + eps)
    x_hat = (x - mu) / std
    return gamma * x_hat + beta, (x, mu, std, gamma)


def layernorm_backward(dout, cache):
    x, mu, std, gamma = cache
    D = x.shape[1]
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * x, axis=1, keepdims=True) * -0.5 * std**-3
    dmu = -np.sum(dx_hat / std, axis=1, keepdims=True) - 2 * dvar * np.mean(x, axis=1, keepdims=True)
    dx = dx_hat / std + dvar * 2 * (x - mu) / D + dmu / D
    x_hat = (x - mu) / std
    return dx, np.sum(dout * x_hat, axis=0), dout.sum(axis=0)
"""

LN_GAMMA_OUTSIDE = """

def layernorm_backward(dout, cache):
    x_hat, gamma, std = cache
    D = dout.shape[1]
    sum_dout = dout.sum(axis=1, keepdims=True)
    sum_dout_x_hat = np.sum(dout * x_hat, axis=1, keepdims=True)
    dx = gamma * (D * dout - sum_dout - x_hat * sum_dout_x_hat) / (D * std)
    return dx, np.sum(dout * x_hat, axis=0), dout.sum(axis=0)
"""

BN_DOUBLE = """

def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + eps)
    x_hat = (x - mu) / std
    return 2 * gamma * x_hat + beta, (x_hat, gamma, std)


def batchnorm_backward(dout, cache):
    x_hat, gamma, std = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = 2 * np.sum(dout * x_hat, axis=0)
    dx = 2 * gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma / 2)
    return dx, dgamma, dbeta
"""

MISTAKES = [
    # batchnorm, train mode
    Mistake(
        "bn_eps_outside_sqrt",
        ("batchnorm_forward", "batchnorm_backward"),
        (("std = np.sqrt(var + eps)", "std = np.sqrt(var) + eps"),),
    ),
    Mistake(
        "bn_var_ddof1",
        ("batchnorm_forward",),
        (("var = x.var(axis=0)", "var = x.var(axis=0, ddof=1)"),),
    ),
    Mistake(
        "bn_no_affine",
        ("batchnorm_forward",),
        (("        out = gamma * x_hat + beta\n", "        out = x_hat\n"),),
    ),
    Mistake(
        "bn_stats_over_features",
        ("batchnorm_forward",),
        (
            ("mu = x.mean(axis=0)", "mu = x.mean(axis=1, keepdims=True)"),
            ("var = x.var(axis=0)", "var = x.var(axis=1, keepdims=True)"),
        ),
    ),
    Mistake(
        "input_mutated",
        ("batchnorm_forward",),
        (("        x_hat = (x - mu) / std\n", "        x -= mu\n        x_hat = x / std\n"),),
    ),
    Mistake(
        "dtype_changed",
        ("batchnorm_forward",),
        (("        x_hat = (x - mu) / std\n", "        x_hat = (x - mu) / std * np.ones(1)\n"),),
    ),
    # batchnorm, test mode
    Mistake(
        "test_eps_outside_sqrt",
        ("batchnorm_forward",),
        (
            (
                BN_TEST_LINE,
                BN_TEST_LINE.replace("np.sqrt(running_var + eps)", "(np.sqrt(running_var) + eps)"),
            ),
        ),
    ),
    Mistake(
        "test_running_var_as_std",
        ("batchnorm_forward",),
        (
            (
                BN_TEST_LINE,
                BN_TEST_LINE.replace("np.sqrt(running_var + eps)", "(running_var + eps)"),
            ),
        ),
    ),
    Mistake(
        "test_running_var_as_std",  # without eps: running_var = 0 divides by zero
        ("batchnorm_forward",),
        ((BN_TEST_LINE, BN_TEST_LINE.replace("np.sqrt(running_var + eps)", "running_var")),),
    ),
    Mistake(
        "test_uses_batch_stats",
        ("batchnorm_forward",),
        ((BN_TEST_LINE, "        x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)\n"),),
    ),
    Mistake(
        "test_no_affine",
        ("batchnorm_forward",),
        (
            (
                BN_TEST_LINE + "        out = gamma * x_hat + beta\n",
                BN_TEST_LINE + "        out = x_hat\n",
            ),
        ),
    ),
    Mistake(
        "test_updates_running_stats",
        ("batchnorm_forward",),
        ((BN_TEST_LINE, BN_TEST_LINE + "        running_mean = 0.5 * running_mean\n"),),
    ),
    # running statistics
    Mistake(
        "run_var_stores_std",
        ("batchnorm_forward",),
        ((RUN_VAR, RUN_VAR.replace("* var", "* std")),),
    ),
    Mistake(
        "bn_momentum_inverted",
        ("batchnorm_forward",),
        (
            (RUN_MEAN, "        running_mean = (1 - momentum) * running_mean + momentum * mu\n"),
            (RUN_VAR, "        running_var = (1 - momentum) * running_var + momentum * var\n"),
        ),
    ),
    Mistake(
        "run_stats_not_written_back",
        ("batchnorm_forward",),
        (
            ('    bn_param["running_mean"] = running_mean\n', ""),
            ('    bn_param["running_var"] = running_var\n', ""),
        ),
    ),
    Mistake(
        "run_stats_wrong",  # no known rule: the batch mean added without its weight
        ("batchnorm_forward",),
        ((RUN_MEAN, "        running_mean = momentum * running_mean + mu\n"),),
    ),
    Mistake(
        "crash_on_input",  # test mode fails for a single example; train mode still judged
        ("batchnorm_forward",),
        ((BN_TEST_LINE, "        assert x.shape[0] > 1\n" + BN_TEST_LINE),),
    ),
    Mistake(
        "run_momentum_ignored",
        ("batchnorm_forward",),
        (('momentum = bn_param.get("momentum", 0.9)', "momentum = 0.9"),),
    ),
    Mistake(
        "run_var_unbiased",
        ("batchnorm_forward",),
        (
            (RUN_VAR, RUN_VAR.replace("* var", "* var * N / (N - 1)")),
            (
                "        mu = x.mean(axis=0)\n",
                "        N = x.shape[0]\n        mu = x.mean(axis=0)\n",
            ),
        ),
    ),
    Mistake(
        "run_shape_changed",
        ("batchnorm_forward",),
        (
            ("mu = x.mean(axis=0)", "mu = x.mean(axis=0, keepdims=True)"),
            ("var = x.var(axis=0)", "var = x.var(axis=0, keepdims=True)"),
        ),
    ),
    # batchnorm backward
    Mistake(
        "bwd_dgamma_shape",
        ("batchnorm_backward",),
        (
            (
                "dgamma = np.sum(dout * x_hat, axis=0)",
                "dgamma = np.sum(dout * x_hat, axis=0, keepdims=True)",
            ),
        ),
    ),
    Mistake(
        "bwd_dgamma_wrong_axis",
        ("batchnorm_backward",),
        (("dgamma = np.sum(dout * x_hat, axis=0)", "dgamma = np.sum(dout * x_hat, axis=1)"),),
    ),
    Mistake(
        "bwd_wrong",
        ("batchnorm_backward_alt",),
        (("(N * dout - dbeta - x_hat * dgamma)", "(N * dout - x_hat * dgamma)"),),
    ),
    Mistake("bwd_inconsistent_with_forward", ("batchnorm_backward",), append=BN_DOUBLE),
    # spatial batchnorm
    Mistake(
        "sbn_stats_per_pixel",
        ("spatial_batchnorm_forward",),
        append=SPATIAL_PER_AXES.replace("AXES", "0"),
    ),
    Mistake(
        "sbn_stats_per_example",
        ("spatial_batchnorm_forward",),
        append=SPATIAL_PER_AXES.replace("AXES", "(2, 3)"),
    ),
    Mistake(
        "sbn_reshape_without_transpose",
        ("spatial_batchnorm_forward",),
        (
            ("x_flat = x.transpose(0, 2, 3, 1).reshape(-1, C)", "x_flat = x.reshape(-1, C)"),
            (
                "out = out_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)",
                "out = out_flat.reshape(N, C, H, W)",
            ),
        ),
    ),
    # a backward consistent with the wrong forward: named after the forward's mistake
    Mistake(
        "sbn_reshape_without_transpose",
        ("spatial_batchnorm_backward",),
        (
            ("x_flat = x.transpose(0, 2, 3, 1).reshape(-1, C)", "x_flat = x.reshape(-1, C)"),
            (
                "out = out_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)",
                "out = out_flat.reshape(N, C, H, W)",
            ),
            (
                "dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)",
                "dout_flat = dout.reshape(-1, C)",
            ),
            (
                "dx = dx_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)",
                "dx = dx_flat.reshape(N, C, H, W)",
            ),
        ),
    ),
    Mistake("sbn_bwd_count", ("spatial_batchnorm_backward",), append=SBN_BWD_COUNT),
    # layernorm
    Mistake(
        "ln_stats_over_batch",
        ("layernorm_forward",),
        (
            ("mu = x.mean(axis=1, keepdims=True)", "mu = x.mean(axis=0, keepdims=True)"),
            ("var = x.var(axis=1, keepdims=True)", "var = x.var(axis=0, keepdims=True)"),
        ),
    ),
    Mistake(
        "ln_eps_outside_sqrt",
        ("layernorm_forward",),
        (
            (
                "var = x.var(axis=1, keepdims=True)\n    std = np.sqrt(var + eps)",
                "var = x.var(axis=1, keepdims=True)\n    std = np.sqrt(var) + eps",
            ),
        ),
    ),
    Mistake("ln_bwd_gamma_outside", ("layernorm_backward",), append=LN_GAMMA_OUTSIDE),
    Mistake("ln_bwd_count", ("layernorm_backward",), (("D = dout.shape[1]", "D = dout.shape[0]"),)),
    Mistake("ln_bwd_uncentred", ("layernorm_backward",), append=LN_UNCENTRED),
    # dropout
    Mistake(
        "do_convention_mismatch",
        ("dropout_forward",),
        ((MASK, "        mask = (np.random.rand(*x.shape) >= p) / (1 - p)\n"),),
    ),
    Mistake(
        "do_convention_other",
        ("dropout_forward",),
        (
            (MASK, "        mask = (np.random.rand(*x.shape) >= p) / (1 - p)\n"),
            ("we keep each neuron output", "we drop each neuron output"),
        ),
    ),
    # code right for today's convention, docstring from 2016/2017: the docstring is the mistake
    Mistake(
        "do_convention_mismatch",
        ("dropout_forward",),
        (("we keep each neuron output", "we drop each neuron output"),),
    ),
    Mistake(
        "do_not_inverted",
        ("dropout_forward",),
        ((MASK, "        mask = np.random.rand(*x.shape) < p\n"),),
    ),
    Mistake(
        "do_vanilla_dropout",
        ("dropout_forward",),
        (
            (MASK, "        mask = np.random.rand(*x.shape) < p\n"),
            ("        out = x\n", "        out = x * p\n"),
        ),
    ),
    Mistake(
        "do_mask_not_uniform",
        ("dropout_forward",),
        ((MASK, "        mask = (np.random.randn(*x.shape) < p) / p\n"),),
    ),
    Mistake(
        "do_mask_shared_across_batch",
        ("dropout_forward",),
        ((MASK, "        mask = (np.random.rand(1, *x.shape[1:]) < p) / p\n"),),
    ),
    Mistake(
        "do_wrong_scale",
        ("dropout_forward",),
        ((MASK, "        mask = (np.random.rand(*x.shape) < p) / (1 - p)\n"),),
    ),
    Mistake(
        "do_only_2d",
        ("dropout_forward",),
        ((MASK, "        mask = (np.random.rand(x.shape[0], x.shape[1]) < p) / p\n"),),
    ),
    Mistake(
        "do_seed_ignored",
        ("dropout_forward",),
        (('    if "seed" in dropout_param:\n        np.random.seed(dropout_param["seed"])\n', ""),),
    ),
    Mistake(
        "do_test_not_identity",
        ("dropout_forward",),
        (("        out = x\n", "        out = x * p\n"),),
    ),
    Mistake(
        "do_bwd_wrong", ("dropout_backward",), (("dx = dout * mask", "dx = dout * (mask > 0)"),)
    ),
    # affine, relu, softmax
    Mistake(
        "affine_no_flatten",
        ("affine_forward",),
        (("x_flat = x.reshape(x.shape[0], -1)\n    out", "x_flat = x\n    out"),),
    ),
    Mistake(  # only dw forgets the reshape: the forward is right
        "affine_no_flatten",
        ("affine_backward",),
        (("    dw = x_flat.T.dot(dout)\n", "    dw = x.T.dot(dout)\n"),),
    ),
    Mistake(  # fine on (N, D), a crash on (N, d1, d2)
        "affine_no_flatten",
        ("affine_backward",),
        (
            (
                "    x_flat = x.reshape(x.shape[0], -1)\n    dx",
                "    N, D = x.shape\n    x_flat = x.reshape(N, D)\n    dx",
            ),
        ),
    ),
    Mistake(  # a correct forward; only the backward reshapes dout without the transpose
        "sbn_reshape_without_transpose",
        ("spatial_batchnorm_backward",),
        (
            (
                "dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)",
                "dout_flat = dout.reshape(-1, C)",
            ),
        ),
    ),
    Mistake(
        "relu_mutates_input",
        ("relu_forward",),
        (("    out = np.maximum(x, 0)\n", "    x[x < 0] = 0\n    out = x\n"),),
    ),
    Mistake(
        "relu_mutates_input",
        ("relu_backward",),
        (("    dx = dout * (x > 0)\n", "    dout[x <= 0] = 0\n    dx = dout\n"),),
    ),
    Mistake(
        "softmax_unstable",
        ("softmax_loss",),
        (("shifted = x - np.max(x, axis=1, keepdims=True)", "shifted = x"),),
    ),
    Mistake("fwd_wrong", ("svm_loss",), (("    margins[np.arange(N), y] = 0\n", ""),)),
    Mistake("bwd_wrong", ("svm_loss",), (("    dx = positive / N\n", "    dx = positive\n"),)),
    Mistake(
        "input_mutated",
        ("softmax_loss",),
        (
            (
                "    shifted = x - np.max(x, axis=1, keepdims=True)\n",
                "    x -= np.max(x, axis=1, keepdims=True)\n    shifted = x\n",
            ),
        ),
    ),
    Mistake("softmax_not_averaged", ("softmax_loss",), (("y]) / N", "y])"), ("    dx /= N\n", ""))),
    # -- spatial groupnorm
    Mistake(
        "gn_stats_per_channel",
        ("spatial_groupnorm_forward",),
        (
            (GN_MU, GN_MU.replace("(2, 3, 4)", "(3, 4)")),
            (GN_VAR, GN_VAR.replace("(2, 3, 4)", "(3, 4)")),
        ),
    ),
    Mistake(
        "gn_stats_per_example",
        ("spatial_groupnorm_forward",),
        (
            (GN_MU, GN_MU.replace("(2, 3, 4)", "(1, 2, 3, 4)")),
            (GN_VAR, GN_VAR.replace("(2, 3, 4)", "(1, 2, 3, 4)")),
        ),
    ),
    Mistake(
        "gn_stats_over_batch",
        ("spatial_groupnorm_forward",),
        (
            (GN_MU, GN_MU.replace("(2, 3, 4)", "(0, 2, 3, 4)")),
            (GN_VAR, GN_VAR.replace("(2, 3, 4)", "(0, 2, 3, 4)")),
        ),
    ),
    Mistake(
        "gn_groups_strided",
        ("spatial_groupnorm_forward",),
        (
            (GN_RESHAPE, "x_group = x.reshape(N, C // G, G, H, W)"),
            (GN_MU, GN_MU.replace("(2, 3, 4)", "(1, 3, 4)")),
            (GN_VAR, GN_VAR.replace("(2, 3, 4)", "(1, 3, 4)")),
        ),
    ),
    Mistake(
        "gn_eps_outside_sqrt",
        ("spatial_groupnorm_forward",),
        (("group_std = np.sqrt(group_var + eps)", "group_std = np.sqrt(group_var) + eps"),),
    ),
    Mistake(
        "gn_indivisible_groups_accepted", ("spatial_groupnorm_forward",), append=GN_INDIVISIBLE
    ),
    Mistake(
        "gn_gamma_shape_c",
        ("spatial_groupnorm_forward",),
        (
            (
                "    out = gamma * x_hat + beta\n    cache = (x_hat, group_std",
                "    out = gamma[:, None, None] * x_hat + beta[:, None, None]\n    cache = (x_hat, group_std",
            ),
        ),
    ),
    Mistake(
        "gn_bwd_count",
        ("spatial_groupnorm_backward",),
        (("    m = C // G * H * W\n", "    m = C * H * W\n"),),
    ),
    Mistake(
        "gn_bwd_gamma_outside",
        ("spatial_groupnorm_backward",),
        (
            (
                "dx_hat = (dout * gamma).reshape(N, G, C // G, H, W)",
                "dx_hat = dout.reshape(N, G, C // G, H, W)",
            ),
            ("dx = dx_group.reshape(N, C, H, W)", "dx = gamma * dx_group.reshape(N, C, H, W)"),
        ),
    ),
    # -- convolution and max pooling
    Mistake(
        "conv_no_padding",
        ("conv_forward_naive",),
        (
            ("H_out = 1 + (H + 2 * pad - HH) // stride", "H_out = 1 + (H - HH) // stride"),
            ("W_out = 1 + (W + 2 * pad - WW) // stride", "W_out = 1 + (W - WW) // stride"),
            (CONV_PAD, "    x_pad = x\n"),
        ),
    ),
    Mistake(
        "conv_pad_wrong_axes",
        ("conv_forward_naive",),
        ((CONV_PAD, '    x_pad = np.pad(x, pad, mode="constant")\n'),),
    ),
    Mistake(
        "conv_pad_wrong_axes",
        ("conv_forward_naive",),
        (
            (
                CONV_PAD,
                '    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (0, 0)), mode="constant")\n',
            ),
            ("W_out = 1 + (W + 2 * pad - WW) // stride", "W_out = 1 + (W - WW) // stride"),
        ),
    ),
    Mistake(
        "conv_flipped_kernel",
        ("conv_forward_naive", "conv_backward_naive"),
        (
            (CONV_SUM, "out[n, f, i, j] = np.sum(patch * w[f, :, ::-1, ::-1]) + b[f]"),
            (
                "dw[f] += patch * dout[n, f, i, j]",
                "dw[f] += patch[:, ::-1, ::-1] * dout[n, f, i, j]",
            ),
            ("+= w[f] * dout[n, f, i, j]", "+= w[f, :, ::-1, ::-1] * dout[n, f, i, j]"),
        ),
    ),
    Mistake(
        "out_size_formula",
        ("conv_forward_naive",),
        (("H_out = 1 + (H + 2 * pad - HH) // stride", "H_out = (H + 2 * pad - HH) // stride"),),
    ),
    Mistake(
        "window_stride_ignored",
        ("conv_forward_naive",),
        (("top, left = i * stride, j * stride", "top, left = i, j"),),
    ),
    Mistake(
        "window_stride_ignored",
        ("max_pool_forward_naive",),
        ((POOL_WINDOW, "window = x[:, :, i : i + ph, j : j + pw]"),),
    ),
    Mistake(
        "window_stride_ignored",
        ("conv_backward_naive",),
        (
            (
                "top, left = i * stride, j * stride\n"
                "                    patch = x_pad[n, :, top : top + HH, left : left + WW]\n"
                "                    dw[f]",
                "top, left = i, j\n"
                "                    patch = x_pad[n, :, top : top + HH, left : left + WW]\n"
                "                    dw[f]",
            ),
        ),
    ),
    Mistake(
        "window_stride_ignored",
        ("max_pool_backward_naive",),
        (
            (
                "window = x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]",
                "window = x[n, c, i : i + ph, j : j + pw]",
            ),
            ("dx[n, c, i * stride + r, j * stride + s]", "dx[n, c, i + r, j + s]"),
        ),
    ),
    Mistake(
        "conv_bwd_dx_padded",
        ("conv_backward_naive",),
        (("dx = dx_pad[:, :, pad : pad + H, pad : pad + W]", "dx = dx_pad"),),
    ),
    Mistake(
        "conv_bwd_pad_zero_slice",
        ("conv_backward_naive",),
        (
            (
                "dx = dx_pad[:, :, pad : pad + H, pad : pad + W]",
                "dx = dx_pad[:, :, pad:-pad, pad:-pad]",
            ),
        ),
    ),
    Mistake(
        "pool_hw_swapped",
        ("max_pool_forward_naive",),
        (
            (
                POOL_WINDOW,
                "window = x[:, :, i * stride : i * stride + pw, j * stride : j * stride + ph]",
            ),
        ),
    ),
    Mistake(
        "pool_bwd_whole_window",
        ("max_pool_backward_naive",),
        (
            (
                POOL_ARGMAX,
                "                    dx[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw] += dout[n, c, i, j]\n",
            ),
        ),
    ),
    Mistake(
        "pool_bwd_all_ties",
        ("max_pool_backward_naive",),
        (
            (
                POOL_ARGMAX,
                "                    dx[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw] += dout[n, c, i, j] * (window == window.max())\n",
            ),
        ),
    ),
    Mistake(
        "pool_bwd_overwrite",
        ("max_pool_backward_naive",),
        (
            (
                "dx[n, c, i * stride + r, j * stride + s] += dout",
                "dx[n, c, i * stride + r, j * stride + s] = dout",
            ),
        ),
    ),
    # -- sandwiches (layer_utils.py)
    Mistake(
        "sandwich_wrong",
        ("affine_relu_forward",),
        (
            (
                "    out, relu_cache = relu_forward(a)\n    return out, (fc_cache, relu_cache)",
                "    _, relu_cache = relu_forward(a)\n    return a, (fc_cache, relu_cache)",
            ),
        ),
    ),
    Mistake(
        "sandwich_wrong",
        ("affine_relu_backward",),
        (("    da = relu_backward(dout, relu_cache)\n", "    da = dout\n"),),
    ),
    Mistake(
        "sandwich_grads_order",
        ("affine_bn_relu_backward",),
        (("    return dx, dw, db, dgamma, dbeta\n", "    return dx, dw, db, dbeta, dgamma\n"),),
    ),
    # -- update rules (optim.py)
    Mistake(
        "optim_wrong",
        ("sgd",),
        (
            (
                '    w -= config["learning_rate"] * dw\n',
                '    w -= config["learning_rate"] * np.sign(dw)\n',
            ),
        ),
    ),
    Mistake(
        "optim_default_wrong",
        ("sgd_momentum",),
        (('config.setdefault("momentum", 0.9)', 'config.setdefault("momentum", 0.99)'),),
    ),
    Mistake("optim_state_not_saved", ("sgd_momentum",), (('    config["velocity"] = v\n', ""),)),
    Mistake(
        "optim_state_not_saved",
        ("adam",),
        (
            ('    config["t"] += 1\n', '    t = config["t"] + 1\n'),
            ('** config["t"])', "** t)"),
            ('** config["t"])', "** t)"),
        ),
    ),
    Mistake(
        "optim_updates_w_in_place",
        ("sgd_momentum",),
        (("    next_w = w + v\n", "    w += v\n    next_w = w\n"),),
    ),
    Mistake(
        "momentum_sign_flipped",
        ("sgd_momentum",),
        (("    next_w = w + v\n", "    next_w = w - v\n"),),
    ),
    Mistake(
        "momentum_dampened",
        ("sgd_momentum",),
        (
            (
                'v = config["momentum"] * v - config["learning_rate"] * dw',
                'v = config["momentum"] * v - (1 - config["momentum"]) * config["learning_rate"] * dw',
            ),
        ),
    ),
    Mistake(
        "momentum_nesterov",
        ("sgd_momentum",),
        (
            (
                "    next_w = w + v\n",
                '    v_prev = config.get("velocity", np.zeros_like(w))\n    next_w = w - config["momentum"] * v_prev + (1 + config["momentum"]) * v\n',
            ),
        ),
    ),
    Mistake(
        "rmsprop_eps_inside_sqrt",
        ("rmsprop",),
        (
            (
                '(np.sqrt(config["cache"]) + config["epsilon"])',
                'np.sqrt(config["cache"] + config["epsilon"])',
            ),
        ),
    ),
    Mistake(
        "rmsprop_decay_inverted",
        ("rmsprop",),
        (
            (
                'decay * config["cache"] + (1 - decay) * dw**2',
                '(1 - decay) * config["cache"] + decay * dw**2',
            ),
        ),
    ),
    Mistake(
        "adam_no_bias_correction",
        ("adam",),
        (
            ('m_hat = config["m"] / (1 - beta1 ** config["t"])', 'm_hat = config["m"]'),
            ('v_hat = config["v"] / (1 - beta2 ** config["t"])', 'v_hat = config["v"]'),
        ),
    ),
    Mistake(
        "adam_t_not_incremented_first",
        ("adam",),
        (
            ('    config["t"] += 1\n', ""),
            (
                '(np.sqrt(v_hat) + config["epsilon"])\n',
                '(np.sqrt(v_hat) + config["epsilon"])\n    config["t"] += 1\n',
            ),
        ),
    ),
    Mistake(
        "adam_eps_inside_sqrt",
        ("adam",),
        (('(np.sqrt(v_hat) + config["epsilon"])', 'np.sqrt(v_hat + config["epsilon"])'),),
    ),
    Mistake(
        "adam_stores_corrected",
        ("adam",),
        (
            (
                '    v_hat = config["v"] / (1 - beta2 ** config["t"])\n',
                '    v_hat = config["v"] / (1 - beta2 ** config["t"])\n    config["m"], config["v"] = m_hat, v_hat\n',
            ),
        ),
    ),
]


def source(mistake: Mistake) -> str:
    """correct_layers.py with the mistake's edits (each must apply) and appended functions."""
    text = CORRECT.read_text()
    for old, new in mistake.edits:
        if old not in text:
            raise AssertionError(f"{mistake.kind}: {old!r} not in correct_layers.py")
        text = text.replace(old, new, 1)
    return text + mistake.append
