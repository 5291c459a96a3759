"""Fused batch normalization: the per-channel statistics, the affine pass and the backward.

An (N, C, *) input is viewed as x3 (N, C, L), L the product of the dims after C; a channel's
values are x3[:, c, :] (n = N * L of them). With mean_c, var_c (biased) and invstd = 1/sqrt(var + eps):

  forward   y = x * scale_c + shift_c,   scale = weight * invstd,  shift = bias - mean * scale
  backward  sum_g = sum g,  sum_gxh = sum g * x_hat = invstd * (sum g x - mean * sum_g)
            training:  dx = scale * (g - sum_g / n - x_hat * sum_gxh / n)
            eval:      dx = g * scale          (mean and invstd from the running statistics)
            dweight = sum_gxh,  dbias = sum_g

Only mean and invstd (C values each) are kept for the backward, never x_hat. Math dtype: float32
for float16 and float32 inputs, float64 for float64 (as PyTorch); the per-channel sums are
combined in float64.

Passes over the data (CPU): the statistics take one pass for the sums of x and x * x; the variance
E[x^2] - mean^2 loses digits when |mean| is large against the spread, so where any channel has
mean^2 > ONE_PASS_RATIO * var, x - mean is formed (into the output's buffer) and its squares summed
instead: the same two-pass numbers PyTorch gets. The backward follows the forward's choice for
sum g * x_hat. The elementwise parts are in-place ufunc chains on one buffer: no temporaries.
On CUDA (CuPy arrays) the same functions run with CuPy, always two-pass (no host sync).
"""
from __future__ import annotations

import numpy as np

from .. import backend

ONE_PASS_RATIO = 4.0  # mean^2 <= 4 var: E[x^2] - mean^2 within 5x the rounding of the two-pass sum

_quiet = np.errstate(invalid="ignore", over="ignore", divide="ignore")


def acc_dtype(dtype):
    """The math dtype for data of `dtype`: float64 for float64, float32 otherwise (float16 included)."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def as3d(a):
    """(N, C, *) as (N, C, L): a view where the layout allows (reshape copies otherwise)."""
    return a.reshape(a.shape[0], a.shape[1], -1)


# ---------------------------------------------------------------- per-channel sums (float64 (C,))
def channel_sum(a3):
    """sum over N and L of a3 (N, C, L), per channel, in float64."""
    xp = backend.xp_of(a3)
    n, c, l = a3.shape
    if xp is not np or a3.size == 0:
        return a3.sum(axis=(0, 2), dtype=np.float64)
    if not a3.flags.c_contiguous:
        a3 = np.ascontiguousarray(a3)
    if l >= 32:  # BLAS gemv over the (N*C, L) rows, the N partial sums combined in float64
        rows = a3.reshape(n * c, l) @ np.ones(l, a3.dtype)
        return rows.reshape(n, c).sum(axis=0, dtype=np.float64)
    cols = np.ones(n, a3.dtype) @ a3.reshape(n, c * l)
    return cols.reshape(c, l).sum(axis=1, dtype=np.float64)


def channel_dot(a3, b3):
    """sum over N and L of a3 * b3 (both (N, C, L)), per channel, in float64."""
    xp = backend.xp_of(a3)
    if xp is not np or a3.size == 0:
        return (a3 * b3).sum(axis=(0, 2), dtype=np.float64)
    n, c, l = a3.shape
    if l >= 32 and a3.dtype == b3.dtype:  # batched row dot products (BLAS), rows combined in float64
        a3 = np.ascontiguousarray(a3)
        b3 = np.ascontiguousarray(b3)
        rows = np.matmul(a3.reshape(n * c, 1, l), b3.reshape(n * c, l, 1))
        return rows.reshape(n, c).sum(axis=0, dtype=np.float64)
    return np.einsum("ncl,ncl->c", a3, b3).astype(np.float64)


def _col(v, dtype):
    """A (C,) vector as (C, 1) in `dtype`: broadcasts against (N, C, L)."""
    return v.astype(dtype, copy=False)[:, None]


# ---------------------------------------------------------------- chunked elementwise chains (CPU)
_CHUNK = 1 << 16  # elements per chunk of the in-place chains: a few arrays of it stay in L2
_TABLE_MAX = 1 << 16  # per-channel vectors spread to contiguous (C, L) tables up to this size


def _tables(vecs, c: int, l: int, dtype):
    """(C,) vectors as arrays that broadcast against (N, C, L): contiguous (C, L) tables when small
    (NumPy's broadcast of a (C, 1) column runs one short inner loop per row, ~2x slower), else (C, 1)."""
    out = []
    for v in vecs:
        col = v.astype(dtype, copy=False)[:, None]
        out.append(np.ascontiguousarray(np.broadcast_to(col, (c, l))) if l > 1 and c * l <= _TABLE_MAX else col)
    return out


def _chunks(a3):
    """Slices along N of (N, C, L) holding about _CHUNK elements each."""
    n, c, l = a3.shape
    k = max(1, _CHUNK // max(1, c * l))
    return [slice(i, i + k) for i in range(0, n, k)]


def scale_shift(x3, scale, shift, acc, out=None):
    """x3 * scale + shift ((C,) vectors, per channel) in `acc`; into `out` (may be x3 itself)."""
    xp = backend.xp_of(x3)
    if xp is not np:
        y = xp.multiply(x3, _col(scale, acc), out=out)
        if shift is not None:
            y += _col(shift, acc)
        return y
    n, c, l = x3.shape
    y = np.empty(x3.shape, acc) if out is None else out
    tabs = _tables([scale] if shift is None else [scale, shift], c, l, acc)
    for sl in _chunks(x3):
        ys = y[sl]
        np.multiply(x3[sl], tabs[0], out=ys)
        if shift is not None:
            ys += tabs[1]
    return y


def dx_chain(src, a, b, g3, s, acc, out=None):
    """((src * a + b) + g3) * s with (C,) vectors a, b, s per channel, in `acc`; into `out` (may be src)."""
    xp = backend.xp_of(src)
    if xp is not np:
        dx = xp.multiply(src, _col(a, acc), out=out)
        dx += _col(b, acc)
        dx += g3
        dx *= _col(s, acc)
        return dx
    n, c, l = src.shape
    dx = np.empty(src.shape, acc) if out is None else out
    ta, tb, ts = _tables([a, b, s], c, l, acc)
    for sl in _chunks(src):
        d = dx[sl]
        np.multiply(src[sl], ta, out=d)
        d += tb
        d += g3[sl]
        d *= ts
    return dx


# ---------------------------------------------------------------- forward
@_quiet
def batch_norm_train_forward(x3, weight, bias, eps: float, out_dtype, one_pass=None):
    """(y, mean, var, invstd, exact) of x3 (N, C, L) with batch statistics.

    y is in out_dtype; mean, var (biased) and invstd are (C,) in the math dtype (float64 on the
    CPU); exact says whether the variance was computed two-pass (the backward reuses the choice).
    one_pass=None decides from the data (CPU), True/False forces it (tests).
    """
    xp = backend.xp_of(x3)
    acc = acc_dtype(np.dtype(out_dtype))
    n = x3.shape[0] * x3.shape[2]
    xa = x3.astype(acc, copy=False)
    s1 = channel_sum(xa)
    mean = s1 / n
    if one_pass is None:
        one_pass = xp is np
    exact = True
    if one_pass:
        var = channel_dot(xa, xa) / n - mean * mean
        exact = not bool(np.all(mean * mean <= ONE_PASS_RATIO * var))
    if exact:
        if xa is x3:
            d = xa - _col(mean, acc)  # the output's buffer from here on
        else:  # a converted copy already
            d = xa
            d -= _col(mean, acc)
        var = channel_dot(d, d) / n
    var = xp.maximum(var, 0)
    invstd = 1 / xp.sqrt(var + eps)
    scale = invstd if weight is None else invstd * weight.astype(np.float64 if xp is np else acc)
    if exact:  # d = x - mean: scale it in place and add the bias
        y = scale_shift(d, scale, bias, acc, out=d)
    else:
        shift = -mean * scale
        if bias is not None:
            shift = shift + bias
        y = scale_shift(xa, scale, shift, acc, out=None if xa is x3 else xa)  # a converted copy: reused
    return y.astype(out_dtype, copy=False), mean.astype(acc), var.astype(acc), invstd.astype(acc), exact


@_quiet
def batch_norm_eval_forward(x3, mean, var, weight, bias, eps: float, out_dtype):
    """(y, invstd): y = x * scale + shift with the given (running) mean and var."""
    xp = backend.xp_of(x3)
    acc = acc_dtype(np.dtype(out_dtype))
    mean = mean.astype(acc, copy=False)
    invstd = 1 / xp.sqrt(var.astype(acc, copy=False) + acc.type(eps))
    scale = invstd if weight is None else invstd * weight.astype(acc, copy=False)
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias.astype(acc, copy=False)
    xa = x3.astype(acc, copy=False)
    y = scale_shift(xa, scale, shift, acc, out=None if xa is x3 else xa)
    return y.astype(out_dtype, copy=False), invstd


# ---------------------------------------------------------------- backward
@_quiet
def batch_norm_train_backward(g3, x3, mean, invstd, weight, exact: bool, need_dx=True):
    """(dx, dweight, dbias): dx (N, C, L) in x3's dtype (None unless need_dx); dweight (the
    sum of g * x_hat) and dbias (the sum of g) are (C,) in the math dtype."""
    acc = np.result_type(acc_dtype(x3.dtype), acc_dtype(g3.dtype), mean.dtype)
    n = x3.shape[0] * x3.shape[2]
    ga = g3.astype(acc, copy=False)
    xa = x3.astype(acc, copy=False)
    mean64, invstd64 = mean.astype(np.float64), invstd.astype(np.float64)
    sum_g = channel_sum(ga)
    d = None
    if exact:
        if xa is x3:
            d = xa - _col(mean, acc)
        else:
            d = xa
            d -= _col(mean, acc)
        sum_gxh = channel_dot(ga, d) * invstd64
    else:
        sum_gxh = (channel_dot(ga, xa) - mean64 * sum_g) * invstd64
    dx = None
    if need_dx:
        scale = invstd64 if weight is None else invstd64 * weight.astype(np.float64)
        a = -invstd64 * sum_gxh / n  # dx = scale * (g + (x - mean) * a - sum_g / n)
        if d is None:
            dx = dx_chain(xa, a, -mean64 * a - sum_g / n, ga, scale, acc, out=None if xa is x3 else xa)
        else:
            dx = dx_chain(d, a, -sum_g / n, ga, scale, acc, out=d)
        dx = dx.astype(x3.dtype, copy=False)
    return dx, sum_gxh.astype(acc), sum_g.astype(acc)


@_quiet
def batch_norm_eval_backward(g3, x3, mean, invstd, weight, need=(True, True, True)):
    """(dx, dweight, dbias) in eval mode: dx = g * scale; dweight = sum g * (x - mean) * invstd."""
    xp = backend.xp_of(x3)
    acc = np.result_type(acc_dtype(x3.dtype), acc_dtype(g3.dtype), invstd.dtype)
    ga = g3.astype(acc, copy=False)
    dx = dw = db = None
    if need[0]:
        scale = invstd if weight is None else invstd * weight.astype(acc, copy=False)
        dx = xp.multiply(ga, _col(scale, acc)).astype(x3.dtype, copy=False)
    if need[1]:
        d = x3.astype(acc, copy=False) - _col(mean, acc)
        dw = (channel_dot(ga, d) * invstd.astype(np.float64)).astype(acc)
    if need[2]:
        db = channel_sum(ga).astype(acc)
    return dx, dw, db
