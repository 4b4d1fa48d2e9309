"""Mistake hypotheses: small pure functions computing what each catalogued mistake would output.

A deviation is named by re-computing the candidate mistakes on the same probe and seeing
which one the student's output equals. Every function returns ``{kind: [variant, ...]}``
with the correct answer under the key ``"truth"``.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-5

BN_AXES = (0,)
SBN_AXES = (0, 2, 3)
LN_AXES = (1,)


def _param_shape(x: np.ndarray, axes: tuple[int, ...]) -> tuple[int, ...]:
    """gamma's broadcast shape: (1, D) for 2-D batchnorm and layernorm, (1, C, 1, 1) spatially."""
    return (1, x.shape[1]) if x.ndim == 2 else (1, x.shape[1], 1, 1)


def normalize(x, gamma, beta, axes, eps=EPS, *, outside=False, ddof=0, affine=True):
    """gamma * (x - mu) / sqrt(var + eps) + beta with mu, var over ``axes`` (and the variants)."""
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    std = np.sqrt(var) + eps if outside else np.sqrt(var + eps)
    x_hat = (x - mu) / std
    if not affine:
        return x_hat
    shape = _param_shape(x, axes)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)


def bn_train(x, gamma, beta, eps=EPS):
    """Batchnorm train mode, x: (N, D)."""
    return {
        "truth": [normalize(x, gamma, beta, BN_AXES, eps)],
        "bn_eps_outside_sqrt": [normalize(x, gamma, beta, BN_AXES, eps, outside=True)],
        "bn_var_ddof1": [normalize(x, gamma, beta, BN_AXES, eps, ddof=1)],
        "bn_no_affine": [normalize(x, gamma, beta, BN_AXES, eps, affine=False)],
        "bn_stats_over_features": [normalize(x, gamma, beta, LN_AXES, eps)],
        **_train_combinations(x, gamma, beta, BN_AXES, eps),
    }


def _train_combinations(x, gamma, beta, axes, eps):
    """Two train-mode mistakes at once: "kind+kind" -> what the pair would output."""
    return {
        "bn_eps_outside_sqrt+bn_var_ddof1": [
            normalize(x, gamma, beta, axes, eps, outside=True, ddof=1)
        ],
        "bn_no_affine+bn_eps_outside_sqrt": [
            normalize(x, gamma, beta, axes, eps, outside=True, affine=False)
        ],
        "bn_no_affine+bn_var_ddof1": [normalize(x, gamma, beta, axes, eps, ddof=1, affine=False)],
    }


def sbn_train(x, gamma, beta, eps=EPS):
    """Spatial batchnorm train mode, x: (N, C, H, W)."""
    N, C, H, W = x.shape
    # the mistake: rows of (N*H*W, C) taken straight from x's memory, mixing channels
    scrambled = normalize(x.reshape(N * H * W, C), gamma, beta, BN_AXES, eps).reshape(x.shape)
    return {
        "truth": [normalize(x, gamma, beta, SBN_AXES, eps)],
        "sbn_stats_per_pixel": [normalize(x, gamma, beta, (0,), eps)],
        "sbn_stats_per_example": [normalize(x, gamma, beta, (2, 3), eps)],
        "sbn_reshape_without_transpose": [scrambled],
        "bn_eps_outside_sqrt": [normalize(x, gamma, beta, SBN_AXES, eps, outside=True)],
        "bn_var_ddof1": [normalize(x, gamma, beta, SBN_AXES, eps, ddof=1)],
        "bn_no_affine": [normalize(x, gamma, beta, SBN_AXES, eps, affine=False)],
        **_train_combinations(x, gamma, beta, SBN_AXES, eps),
    }


def ln_train(x, gamma, beta, eps=EPS):
    """Layernorm, x: (N, D)."""
    return {
        "truth": [normalize(x, gamma, beta, LN_AXES, eps)],
        "ln_stats_over_batch": [normalize(x, gamma, beta, BN_AXES, eps)],
        "ln_eps_outside_sqrt": [normalize(x, gamma, beta, LN_AXES, eps, outside=True)],
    }


def bn_test(x, gamma, beta, running_mean, running_var, eps=EPS):
    """Batchnorm test mode; x: (N, D) or (N, C, H, W), running statistics: (D,).

    Mistakes come in combinations here ("test_no_affine+test_eps_outside_sqrt"): the
    normaliser and the affine step are independent lines of a test branch.
    """
    shape = (1, x.shape[1]) if x.ndim == 2 else (1, x.shape[1], 1, 1)
    g, b = gamma.reshape(shape), beta.reshape(shape)
    rm, rv = running_mean.reshape(shape), running_var.reshape(shape)
    axes = BN_AXES if x.ndim == 2 else SBN_AXES
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = {  # kind of the normaliser -> its variants of x_hat
            "": [(x - rm) / np.sqrt(rv + eps)],
            "test_eps_outside_sqrt": [(x - rm) / (np.sqrt(rv) + eps)],
            "test_running_var_as_std": [(x - rm) / (rv + eps), (x - rm) / rv],
            "test_uses_batch_stats": [
                normalize(x, gamma, beta, axes, eps, affine=False),
                normalize(x, gamma, beta, axes, eps, outside=True, affine=False),
            ],
        }
    hypotheses = {}
    for kind, variants in normalised.items():
        hypotheses[kind or "truth"] = [g * v + b for v in variants]
        hypotheses["+".join(k for k in ("test_no_affine", kind) if k)] = variants
    return hypotheses


def _rule(momentum, start, batches):
    value = start
    for batch in batches:
        value = momentum * value + (1 - momentum) * batch
    return value


def running_stats(start_mean, start_var, batches, axes, momentum, eps=EPS):
    """What running_mean and running_var hold after one train call per batch, per mistake."""
    mus = [b.mean(axis=axes) for b in batches]
    vars_ = [b.var(axis=axes) for b in batches]
    m = int(np.prod([batches[0].shape[a] for a in axes]))
    means = {
        "truth": [_rule(momentum, start_mean, mus)],
        "bn_momentum_inverted": [_rule(1 - momentum, start_mean, mus)],
        "run_momentum_ignored": [_rule(0.9, start_mean, mus), _rule(0.99, start_mean, mus)],
        "run_stats_not_written_back": [start_mean],
    }
    variances = {
        "truth": [_rule(momentum, start_var, vars_)],
        "bn_momentum_inverted": [_rule(1 - momentum, start_var, vars_)],
        "run_momentum_ignored": [_rule(0.9, start_var, vars_), _rule(0.99, start_var, vars_)],
        "run_var_stores_std": [
            _rule(momentum, start_var, [np.sqrt(v) for v in vars_]),
            _rule(momentum, start_var, [np.sqrt(v + eps) for v in vars_]),
            _rule(momentum, start_var, [np.sqrt(v) + eps for v in vars_]),  # with eps outside
        ],
        "run_var_unbiased": [_rule(momentum, start_var, [v * m / (m - 1) for v in vars_])],
        "run_stats_not_written_back": [start_var],
    }
    return means, variances


def ln_backward(x, gamma, dout, eps=EPS):
    """Layernorm backward (dx, dgamma, dbeta) and the catalogued mistakes in dx."""
    N, D = x.shape
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    var = x.var(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = xc * inv_std
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)

    def closed(g, count, centred=xc):
        x_h = centred * inv_std
        return (
            inv_std
            / count
            * (
                count * g
                - g.sum(axis=1, keepdims=True)
                - x_h * (g * x_h).sum(axis=1, keepdims=True)
            )
        )

    def staged(g, centred_var, centred_x):
        dvar = np.sum(g * centred_var, axis=1, keepdims=True) * -0.5 * inv_std**3
        dmu = -np.sum(g * inv_std, axis=1, keepdims=True) - 2 * dvar * np.mean(
            centred_var, axis=1, keepdims=True
        )
        return g * inv_std + dvar * 2 * centred_x / D + dmu / D

    g = dout * gamma
    truth = closed(g, D)
    outside = gamma * closed(dout, D)
    uncentred = [
        closed(g, D, centred=x),
        staged(g, x, xc),
        staged(g, xc, x),
        staged(g, x, x),
    ]
    grads = {
        "truth": [truth],
        "ln_bwd_gamma_outside": [outside],
        "ln_bwd_count": [closed(g, N), staged_count(g, xc, inv_std, N)],
        "ln_bwd_uncentred": uncentred,
    }
    return {k: [(dx, dgamma, dbeta) for dx in v] for k, v in grads.items()}


def staged_count(g, xc, inv_std, count):
    """The staged layernorm backward with every 1/D replaced by 1/count."""
    dvar = np.sum(g * xc, axis=1, keepdims=True) * -0.5 * inv_std**3
    dmu = (
        -np.sum(g * inv_std, axis=1, keepdims=True)
        - 2 * dvar * np.sum(xc, axis=1, keepdims=True) / count
    )
    return g * inv_std + dvar * 2 * xc / count + dmu / count


def bn_backward_closed(x, gamma, dout, axes, count=None, eps=EPS):
    """Batchnorm's closed-form backward over ``axes``, dividing by ``count`` (default: m)."""
    shape = _param_shape(x, axes)
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    m = count or int(np.prod([x.shape[a] for a in axes]))
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx = (
        gamma.reshape(shape)
        * inv_std
        / m
        * (m * dout - dbeta.reshape(shape) - x_hat * dgamma.reshape(shape))
    )
    return dx, dgamma, dbeta


def sbn_backward(x, gamma, dout, eps=EPS):
    N = x.shape[0]
    return {
        "truth": [bn_backward_closed(x, gamma, dout, SBN_AXES, eps=eps)],
        "sbn_bwd_count": [bn_backward_closed(x, gamma, dout, SBN_AXES, count=N, eps=eps)],
        "sbn_reshape_without_transpose": _sbn_backward_scrambled(x, gamma, dout, eps),
    }


def _sbn_backward_scrambled(x, gamma, dout, eps=EPS) -> list[tuple[np.ndarray, ...]]:
    """A correct forward's cache, but dout or dx reshaped between (N, C, H, W) and (N*H*W, C)
    without the transpose (dout.reshape(-1, C), or dx_flat.reshape(N, C, H, W)), or both."""
    N, C, H, W = x.shape

    def to_rows(a, transpose):
        return a.transpose(0, 2, 3, 1).reshape(-1, C) if transpose else a.reshape(-1, C)

    def back(a, transpose):
        return a.reshape(N, H, W, C).transpose(0, 3, 1, 2) if transpose else a.reshape(x.shape)

    x_rows = to_rows(x, True)  # the forward transposed correctly: its cache is per channel
    variants = []
    for dout_t, dx_t in ((False, True), (True, False), (False, False)):
        dx, dgamma, dbeta = bn_backward_closed(
            x_rows, gamma, to_rows(dout, dout_t), BN_AXES, eps=eps
        )
        variants.append((back(dx, dx_t), dgamma, dbeta))
    return variants
