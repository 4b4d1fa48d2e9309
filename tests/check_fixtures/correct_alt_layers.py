# ruff: noqa: NPY002  (cs231n seeds and draws from NumPy's global random state)
"""Correct layers in other styles than correct_layers.py, for the no-false-alarm tests.

Staged batchnorm backward with a long cache, var as E[x^2] - E[x]^2, running_var starting
at ones, layernorm and spatial batchnorm by reusing batchnorm on a transposed view, dropout
with np.random.binomial, softmax through probabilities. Written for bnlab's tests.
"""

import numpy as np


def affine_forward(x, w, b):
    out = np.dot(x.reshape(len(x), np.prod(x.shape[1:])), w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, _ = cache
    dx = np.reshape(dout @ w.T, x.shape)
    dw = x.reshape(len(x), -1).T @ dout
    return dx, dw, np.sum(dout, axis=0)


def relu_forward(x):
    return x * (x > 0), x


def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0.0)


def softmax_loss(x, y):
    probs = np.exp(x - x.max(axis=1)[:, None])
    probs /= probs.sum(axis=1)[:, None]
    N = len(y)
    loss = -np.mean(np.log(probs[range(N), y]))
    dx = probs.copy()
    dx[range(N), y] -= 1
    return loss, dx / N


def svm_loss(x, y):
    N, C = x.shape
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(N):
        for j in range(C):
            margin = x[i, j] - x[i, y[i]] + 1
            if j != y[i] and margin > 0:
                loss += margin
                dx[i, j] += 1
                dx[i, y[i]] -= 1
    return loss / N, dx / N


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.setdefault("eps", 1e-5)
    momentum = bn_param.setdefault("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.setdefault("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.setdefault("running_var", np.ones(D, dtype=x.dtype))
    cache = None
    if mode == "train":
        sample_mean = np.mean(x, axis=0)
        sample_var = np.mean(x**2, axis=0) - sample_mean**2
        xmu = x - sample_mean
        sqrtvar = np.sqrt(sample_var + eps)
        ivar = 1.0 / sqrtvar
        xhat = xmu * ivar
        out = gamma * xhat + beta
        cache = (xhat, gamma, xmu, ivar, sqrtvar, sample_var, eps)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * sample_mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * sample_var
    else:
        out = gamma * ((x - running_mean) / np.sqrt(running_var + eps)) + beta
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (sqrtvar**2) * divar
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dsq = np.ones_like(dout) / N * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -np.sum(dx1, axis=0)
    dx2 = np.ones_like(dout) / N * dmu
    return dx1 + dx2, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, gamma, _, ivar, _, _, _ = cache
    N = dout.shape[0]
    dbeta = dout.sum(0)
    dgamma = (dout * xhat).sum(0)
    dx = (gamma * ivar / N) * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    # batchnorm on the transpose: the statistics of each example become a column's
    param = {"mode": "train", "eps": ln_param.get("eps", 1e-5)}
    ones, zeros = np.ones(x.shape[0]), np.zeros(x.shape[0])
    xhat_t, bn_cache = batchnorm_forward(x.T, ones, zeros, param)
    out = gamma * xhat_t.T + beta
    return out, (bn_cache, gamma, xhat_t.T)


def layernorm_backward(dout, cache):
    bn_cache, gamma, xhat = cache
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx_t, _, _ = batchnorm_backward_alt((dout * gamma).T, bn_cache)
    return dx_t.T, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    x_flat = np.moveaxis(x, 1, -1).reshape(N * H * W, C)
    out, cache = batchnorm_forward(x_flat, gamma, beta, bn_param)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(np.moveaxis(dout, 1, -1).reshape(-1, C), cache)
    return np.moveaxis(dx.reshape(N, H, W, C), -1, 1), dgamma, dbeta


def dropout_forward(x, dropout_param):
    """p: the probability of keeping a unit."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        mask = np.random.binomial(1, p, size=x.shape) / p
        return x * mask, (mode, mask)
    return x, (mode, None)


def dropout_backward(dout, cache):
    mode, mask = cache
    return dout * mask if mode == "train" else dout
