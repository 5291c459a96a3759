"""Fused cross entropy / NLL over class indices: NumPy references and their CUDA twins.

The forward gives, per row (one position of the (N, C, S) input: r = n * S + s), the loss, the
target's weight (the denominator of a mean), the log-sum-exp and the sum of the target weights q;
the backward turns the last two into ``dx = g * (softmax(x) * sumq - q)`` in one pass. The math
and its edge cases are written out at the top of kernels/loss.cu; the references below follow
it step for step, vectorized over rows.

On the CPU the references are the path (float32 math for float16/float32, float64 for float64);
on CUDA one kernel launch each way, for class counts up to ``MAX_KERNEL_CLASSES`` (one thread
walks a row; wider rows take the references on CuPy arrays, which are the same math).

``class_loss_reduce`` is the op's reduction of those rows ('sum', or 'mean' with the backward's
scale) and its target range check, one more launch on CUDA: so the op's CUDA forward is two
kernels and its output allocations (each CuPy call costs the host ~10-30 us, and a small step is
host-bound), and the check is one flag for tensorgrad/device_checks.py, no extra reductions.
"""
from __future__ import annotations

import numpy as np

from .. import backend, kernels

MAX_KERNEL_CLASSES = 1024
_THREADS = 256
_REDUCE_THREADS = 256  # TG_REDUCE_THREADS of kernels/loss.cu
_REDUCTION_CODES = {"none": 0, "sum": 1, "mean": 2}
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
    if s == 1 and weight is None and eps == 0:
        return _class_loss_rows_forward(xp, x[:, :, 0], target[:, 0], ignore_index, log_softmax, acc)
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


def _class_loss_rows_forward(xp, x, t, ignore_index, log_softmax, acc):
    """class_loss_forward_ref for the common case, (N, C) logits without class weights or label
    smoothing: the same values from half the array calls (the CPU's per-call overhead dominates
    a classifier head's loss)."""
    n, c = x.shape
    if log_softmax:
        m = x.max(axis=1)
        m = xp.where(xp.isinf(m), acc.type(np.nan), m)
        e = xp.subtract(x, m[:, None])
        xp.exp(e, out=e)
        lse = xp.log(e.sum(axis=1))
        lse += m
    else:
        lse = xp.zeros(n, acc)
    in_range = (t >= 0) & (t < c)
    ok = in_range & (t != ignore_index)
    x_t = x[xp.arange(n), xp.where(ok, t, 0)]
    w_t = ok.astype(acc)
    loss = xp.where(ok, lse - x_t, acc.type(0))
    loss = xp.where(in_range | (t == ignore_index), loss, acc.type(np.nan))  # flagged by the op's check
    return loss[:, None], w_t[:, None], lse[:, None], w_t[:, None]


@_quiet
def class_loss_backward_ref(x3, target, weight, lse, sumq, g, ignore_index: int, eps: float,
                            log_softmax: bool = True):
    """dx (N, C, S) in x3's dtype; g is (N, S) or a 0-d array (one value for every row)."""
    xp = backend.xp_of(x3)
    acc = acc_dtype(x3.dtype)
    n, c, s = x3.shape
    g = g.astype(acc, copy=False)
    if s == 1 and weight is None and eps == 0:
        dx = _class_loss_rows_backward(xp, x3[:, :, 0], target[:, 0], lse[:, 0], sumq[:, 0],
                                       g[:, 0] if g.ndim else g, ignore_index, log_softmax, acc)
        return dx.reshape(x3.shape).astype(x3.dtype, copy=False)
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


def _class_loss_rows_backward(xp, x, t, lse, sumq, g, ignore_index, log_softmax, acc):
    """class_loss_backward_ref's dx (in acc) for (N, C) logits without weights or smoothing."""
    n, c = x.shape
    if log_softmax:
        dx = x.astype(acc) if x.dtype != acc else x.copy()
        dx -= lse[:, None]
        xp.exp(dx, out=dx)
        dx *= sumq[:, None]
    else:
        dx = xp.zeros(x.shape, acc)
    ok = (t != ignore_index) & (t >= 0) & (t < c)
    rows = xp.arange(n)
    cols = xp.where(ok, t, 0)
    dx[rows, cols] -= ok.astype(acc)  # q at the target: 1 (0 where ignored or out of range)
    dx *= g[:, None] if g.ndim else g
    return dx


@_quiet
def class_loss_reduce_ref(loss, wt, target, n_cls: int, ignore_index: int, reduction: str, out_dtype,
                          check: bool = False):
    """(out, scale, bad, bad_value) from the forward's loss and wt rows (N, S) and target (N, S).

    out: 'sum' the total, 'mean' total / sum(wt) (NaN when every target is ignored), in
    `out_dtype` (0-d); None for 'none'. scale: 'mean' only, 1 / sum(wt) or 0 when that is 0, a
    0-d array of the rows' dtype (the backward's factor); else None. With `check`: bad, a 0-d bool,
    whether a target is neither ignore_index nor in [0, n_cls), and bad_value, the first such
    target (C order) as a 0-d int64 array (0 when none); else both None. On CuPy arrays nothing
    here reads the device."""
    xp = backend.xp_of(loss)
    out = scale = bad = bad_value = None
    if reduction != "none":
        total = loss.sum()
        if reduction == "sum":
            out = xp.asarray(total, dtype=out_dtype)
        else:
            denom = wt.sum()
            scale = xp.asarray(xp.where(denom != 0, 1 / denom, 0), dtype=denom.dtype)
            out = xp.asarray(total / denom, dtype=out_dtype)
    if check:
        flags = (target != ignore_index) & ((target < 0) | (target >= n_cls))
        bad = flags.any()
        flat = flags.reshape(-1)
        bad_value = (target.reshape(-1).take(flat.view(np.uint8).argmax()) * bad if flat.size
                     else xp.zeros((), np.int64)).astype(np.int64)
    return out, scale, bad, bad_value


# ---------------------------------------------------------------- dispatch
def _use_kernel(x3) -> bool:
    return (x3.__class__ is not np.ndarray and x3.dtype.name in kernels.kernel_dtypes("loss")
            and x3.shape[1] <= MAX_KERNEL_CLASSES)


def uses_kernel(x, n_cls: int) -> bool:
    """Whether the class-index loss of `x` (any layout, `n_cls` classes) runs the CUDA kernels,
    whose class_loss_reduce also checks the targets."""
    return (x.__class__ is not np.ndarray and x.dtype.name in kernels.kernel_dtypes("loss")
            and n_cls <= MAX_KERNEL_CLASSES)


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
        w = x3 if weight is None else cp.ascontiguousarray(weight, dtype=x3.dtype)  # x3: never read
        outs = [cp.empty((n, s), acc_dtype(x3.dtype)) for _ in range(4)]
    if n * s:
        _launch("class_loss_forward", n * s, (x3, target, w, *outs), (n * s, c, s, ignore_index), eps,
                weight is not None, log_softmax, x3)
    return tuple(outs)


def class_loss_reduce(loss, wt, target, n_cls: int, ignore_index: int, reduction: str, out_dtype,
                      check: bool = False):
    """class_loss_reduce_ref's (out, scale, bad, bad_value): one single-block kernel on CUDA (for
    the rows of class_loss_forward's kernel; `out_dtype` its input's dtype), the reference on the
    CPU. Nothing here reads the device."""
    out_dtype = np.dtype(out_dtype)
    if loss.__class__ is np.ndarray or out_dtype.name not in kernels.kernel_dtypes("loss"):
        return class_loss_reduce_ref(loss, wt, target, n_cls, ignore_index, reduction, out_dtype, check)
    cp = backend.cupy()
    with loss.device:
        target = cp.ascontiguousarray(target, dtype=np.int64)
        out = cp.empty((), out_dtype) if reduction != "none" else None
        scale = cp.empty((), loss.dtype) if reduction == "mean" else None
        bad = cp.empty((), np.bool_) if check else None
        bad_value = cp.empty((), np.int64) if check else None
        if out is None and bad is None:
            return out, scale, bad, bad_value
        k = kernels.get_kernel("loss", "class_loss_reduce", out_dtype, loss.device.id)
        # a pointer the call leaves untouched (see the kernel) gets any array of this device
        k((1,), (_REDUCE_THREADS,), (loss, wt, target, loss if out is None else out, loss if scale is None else scale,
                                     target if bad is None else bad, target if bad_value is None else bad_value,
                                     np.int64(loss.size), np.int64(n_cls), np.int64(ignore_index),
                                     np.int32(_REDUCTION_CODES[reduction]), np.int32(check)))
    return out, scale, bad, bad_value


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
