"""Fused cross entropy / NLL over class indices: NumPy references and their CUDA twins.

The forward gives, per row (one position of the (N, C, S) input: r = n * S + s), the loss, the
target's weight (the denominator of a mean), the log-sum-exp and the sum of the target weights q;
the backward turns the last two into ``dx = g * (softmax(x) * sumq - q)`` in one pass. The math
and its edge cases are written out at the top of kernels/loss.cu; the references below follow
it step for step, vectorized over rows.

On the CPU the references are the path (float32 math for float16/float32, float64 for float64);
on CUDA one kernel launch each way, for class counts up to ``MAX_KERNEL_CLASSES`` (one thread
walks a row; wider rows take the references on CuPy arrays, which are the same math).
"""
from __future__ import annotations

import numpy as np

from .. import backend, kernels

MAX_KERNEL_CLASSES = 1024
_THREADS = 256
_MAX_BLOCKS = 65536


def acc_dtype(dtype):
    """The math dtype of the fused loss for inputs of `dtype` (the kernels' acc_t)."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


# ---------------------------------------------------------------- NumPy references
_quiet = np.errstate(invalid="ignore", over="ignore", divide="ignore")


@_quiet
def class_loss_forward_ref(x3, target, weight, ignore_index: int, eps: float, log_softmax: bool = True):
    """(loss, wt, lse, sumq), each of shape (N, S), of x3 (N, C, S) against target (N, S) int64.

    log_softmax=False: x3 holds log-probabilities (nll_loss); lse is then 0."""
    xp = backend.xp_of(x3)
    acc = acc_dtype(x3.dtype)
    x = x3.astype(acc, copy=False)
    n, c, s = x.shape
    if log_softmax:
        m = x.max(axis=1)  # NaN propagates, as the kernel's `v > m || v != v`
        m = xp.where(xp.isinf(m), acc.type(np.nan), m)
        lse = xp.log(xp.exp(x - m[:, None, :]).sum(axis=1)) + m
    else:
        lse = xp.zeros((n, s), acc)
    valid = target != ignore_index
    in_range = (target >= 0) & (target < c)
    t = xp.where(valid & in_range, target, 0)
    w_t = weight.astype(acc, copy=False)[t] if weight is not None else xp.ones(t.shape, acc)
    w_t = w_t * (valid & in_range)
    x_t = xp.take_along_axis(x, t[:, None, :], axis=1)[:, 0, :]
    main = acc.type(1 - eps)
    loss = xp.where(w_t * main == 0, acc.type(0), w_t * main * (lse - x_t))  # a gather: no 0 * inf
    wsum = acc.type(c) if weight is None else weight.astype(acc, copy=False).sum()
    sumq = w_t * main
    if eps > 0:
        smooth = acc.type(eps / c)
        wc = weight.astype(acc, copy=False)[None, :, None] if weight is not None else acc.type(1)
        q = wc * smooth * (valid & in_range)[:, None, :]
        loss = loss + xp.where(q == 0, acc.type(0), q * (lse[:, None, :] - x)).sum(axis=1)
        sumq = sumq + smooth * wsum * (valid & in_range)
    loss = xp.where(valid & ~in_range, acc.type(np.nan), loss)  # flagged by the op's check
    return loss, w_t, lse, sumq


@_quiet
def class_loss_backward_ref(x3, target, weight, lse, sumq, g, ignore_index: int, eps: float,
                            log_softmax: bool = True):
    """dx (N, C, S) in x3's dtype; g is (N, S) or a 0-d array (one value for every row)."""
    xp = backend.xp_of(x3)
    acc = acc_dtype(x3.dtype)
    n, c, s = x3.shape
    g = g.astype(acc, copy=False)
    g = g[:, None, :] if g.ndim else g
    if log_softmax:
        dx = x3.astype(acc) if x3.dtype != acc else x3.copy()
        dx -= lse[:, None, :]
        xp.exp(dx, out=dx)
        dx *= sumq[:, None, :]
    else:
        dx = xp.zeros(x3.shape, acc)
    ok = (target != ignore_index) & (target >= 0) & (target < c)
    t = xp.where(ok, target, 0)
    w_t = weight.astype(acc, copy=False)[t] if weight is not None else xp.ones(t.shape, acc)
    hit = (w_t * acc.type(1 - eps)) * ok  # q at the target class beyond the smoothing share
    if eps > 0:
        wc = weight.astype(acc, copy=False)[None, :, None] if weight is not None else acc.type(1)
        dx -= (wc * acc.type(eps / c)) * ok[:, None, :]
    xp.put_along_axis(dx, t[:, None, :], xp.take_along_axis(dx, t[:, None, :], axis=1) - hit[:, None, :], axis=1)
    dx *= g
    return dx.astype(x3.dtype, copy=False)


# ---------------------------------------------------------------- dispatch
def _use_kernel(x3) -> bool:
    return (x3.__class__ is not np.ndarray and x3.dtype.name in kernels.kernel_dtypes("loss")
            and x3.shape[1] <= MAX_KERNEL_CLASSES)


def _launch(function, n, arrays, ints, eps, has_weight, log_softmax, like):
    with like.device:
        k = kernels.get_kernel("loss", function, like.dtype, like.device.id)
        blocks = max(1, min((n + _THREADS - 1) // _THREADS, _MAX_BLOCKS))
        acc = acc_dtype(like.dtype)
        k((blocks,), (_THREADS,), (*arrays, *[np.int64(v) for v in ints], acc.type(eps), np.int32(has_weight),
                                   np.int32(log_softmax)))


def class_loss_forward(x3, target, weight, ignore_index: int, eps: float, log_softmax: bool = True):
    """(loss, wt, lse, sumq) per row: one kernel on CUDA, the reference on the CPU."""
    if not _use_kernel(x3):
        return class_loss_forward_ref(x3, target, weight, ignore_index, eps, log_softmax)
    cp = backend.cupy()
    n, c, s = x3.shape
    with x3.device:
        x3 = cp.ascontiguousarray(x3)
        target = cp.ascontiguousarray(target, dtype=np.int64)
        w = cp.empty(0, x3.dtype) if weight is None else cp.ascontiguousarray(weight, dtype=x3.dtype)
        outs = [cp.empty((n, s), acc_dtype(x3.dtype)) for _ in range(4)]
    if n * s:
        _launch("class_loss_forward", n * s, (x3, target, w, *outs), (n * s, c, s, ignore_index), eps,
                weight is not None, log_softmax, x3)
    return tuple(outs)


def class_loss_backward(x3, target, weight, lse, sumq, g, ignore_index: int, eps: float,
                        log_softmax: bool = True):
    """dx of x3's shape and dtype from the forward's lse and sumq and the per-row (or 0-d) g."""
    if not _use_kernel(x3):
        return class_loss_backward_ref(x3, target, weight, lse, sumq, g, ignore_index, eps, log_softmax)
    cp = backend.cupy()
    n, c, s = x3.shape
    with x3.device:
        x3 = cp.ascontiguousarray(x3)
        target = cp.ascontiguousarray(target, dtype=np.int64)
        w = cp.empty(0, x3.dtype) if weight is None else cp.ascontiguousarray(weight, dtype=x3.dtype)
        # one g per row, or one for all (reduction 'mean'/'sum'); read off before the copy, since
        # ascontiguousarray turns a 0-d array into shape (1,)
        g_stride = 1 if g.ndim else 0
        g = cp.ascontiguousarray(g, dtype=acc_dtype(x3.dtype))
        dx = cp.empty(x3.shape, x3.dtype)
    if dx.size:
        _launch("class_loss_backward", dx.size, (x3, target, w, lse, sumq, g, dx),
                (dx.size, c, s, ignore_index, g_stride), eps, weight is not None, log_softmax, x3)
    return dx
