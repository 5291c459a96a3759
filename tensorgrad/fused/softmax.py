"""Fused softmax / log_softmax over one dim: NumPy references and their CUDA twins.

Forward, per row along the dim: the max shift m (NaN where the row has a NaN or an infinite max:
such a row comes out all NaN, quietly, as in PyTorch), s = sum exp(x - m), then
``softmax = exp(x - m) / s`` or ``log_softmax = (x - m) - log(s)``. Backward from the saved
output y: ``softmax: dx = y * (g - sum(g * y))``, ``log_softmax: dx = g - exp(y) * sum(g)``.
The math is written out at the top of kernels/softmax.cu; the references below follow it.

On the CPU the references are the path (float32 math for float16, the dtype's own otherwise);
on CUDA one kernel launch each way, for dims of size up to ``MAX_KERNEL_DIM`` (one thread walks
a row; wider rows take the references on CuPy arrays, which are the same math). ``axis`` is the
dim, or None for a 0-d array (a single element).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, kernels

MAX_KERNEL_DIM = 1024
_THREADS = 256
_MAX_BLOCKS = 65536
_NAN = math.nan


def acc_dtype(dtype):
    """The math dtype for arrays of `dtype` (the kernels' acc_t): float32 for float16."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


# ---------------------------------------------------------------- NumPy references
# The forwards are quiet by construction (exp sees x - max <= 0 or NaN, never inf - inf), so they
# skip the errstate (microseconds a call on the CPU); the backwards can meet inf * 0 in a NaN row.
_quiet = np.errstate(invalid="ignore", over="ignore", divide="ignore")


def _shifted(x, axis):
    """x (in its math dtype) minus its row max; a row whose max is NaN or +-inf is shifted by NaN,
    which gives the all-NaN row of PyTorch without the warning inf - inf would give."""
    xp = backend.xp_of(x)
    acc = acc_dtype(x.dtype)
    if x.dtype != acc:
        x = x.astype(acc)
    m = x.max(axis=axis, keepdims=True)
    return xp.asarray(x - xp.where(xp.isinf(m), acc.type(_NAN), m))  # an array even when 0-d


def softmax_forward_ref(x, axis):
    """softmax of x along `axis`, in x's dtype."""
    if x.size == 0:
        return x.copy()
    xp = backend.xp_of(x)
    e = _shifted(x, axis)
    xp.exp(e, out=e)
    e /= e.sum(axis=axis, keepdims=True)
    return e.astype(x.dtype, copy=False)


def log_softmax_forward_ref(x, axis):
    """log_softmax of x along `axis`, in x's dtype."""
    if x.size == 0:
        return x.copy()
    xp = backend.xp_of(x)
    s = _shifted(x, axis)
    s -= xp.log(xp.exp(s).sum(axis=axis, keepdims=True))
    return s.astype(x.dtype, copy=False)


def _acc_pair(y, g):
    out = np.result_type(y.dtype, g.dtype)
    acc = acc_dtype(out)
    return y.astype(acc, copy=False), g.astype(acc, copy=False), out


@_quiet
def softmax_backward_ref(y, g, axis):
    """dx = y * (g - sum(g * y)) along `axis`, from the softmax output y and its gradient g."""
    y, g, out = _acc_pair(y, g)
    s = (g * y).sum(axis=axis, keepdims=True)
    dx = g - s
    dx *= y
    return dx.astype(out, copy=False)


@_quiet
def log_softmax_backward_ref(y, g, axis):
    """dx = g - exp(y) * sum(g) along `axis`, from the log_softmax output y and its gradient g."""
    xp = backend.xp_of(y)
    y, g, out = _acc_pair(y, g)
    s = g.sum(axis=axis, keepdims=True)
    dx = xp.exp(y)
    dx *= s
    dx = g - dx
    return xp.asarray(dx).astype(out, copy=False)


# ---------------------------------------------------------------- dispatch
def split(shape, axis):
    """(outer, dim, inner) of `shape` around `axis`: the kernels' (O, D, I) layout."""
    if axis is None:
        return 1, 1, 1
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _use_kernel(x, axis) -> bool:
    return (x.__class__ is not np.ndarray and x.dtype.name in kernels.kernel_dtypes("softmax")
            and (axis is None or x.shape[axis] <= MAX_KERNEL_DIM))


def _launch(function, arrays, shape, axis, like):
    o, d, i = split(shape, axis)
    rows = o * i
    with like.device:
        k = kernels.get_kernel("softmax", function, like.dtype, like.device.id)
        blocks = max(1, min((rows + _THREADS - 1) // _THREADS, _MAX_BLOCKS))
        k((blocks,), (_THREADS,), (*arrays, np.int64(rows), np.int64(d), np.int64(i)))


def _forward(function, ref, x, axis):
    if not _use_kernel(x, axis):
        return ref(x, axis)
    cp = backend.cupy()
    with x.device:
        y = cp.empty(x.shape, x.dtype)
        if x.size:
            _launch(function, (cp.ascontiguousarray(x), y), x.shape, axis, x)
    return y


def _backward(function, ref, y, g, axis):
    if not (_use_kernel(y, axis) and g.__class__ is y.__class__ and g.dtype == y.dtype and g.shape == y.shape):
        return ref(y, g, axis)
    cp = backend.cupy()
    with y.device:
        dx = cp.empty(y.shape, y.dtype)
        if y.size:
            _launch(function, (cp.ascontiguousarray(y), cp.ascontiguousarray(g), dx), y.shape, axis, y)
    return dx


def softmax_forward(x, axis):
    """softmax of x along `axis`: one kernel on CUDA, the reference on the CPU."""
    return _forward("softmax_forward", softmax_forward_ref, x, axis)


def log_softmax_forward(x, axis):
    """log_softmax of x along `axis`: one kernel on CUDA, the reference on the CPU."""
    return _forward("log_softmax_forward", log_softmax_forward_ref, x, axis)


def softmax_backward(y, g, axis):
    """dx of softmax from its output y and gradient g: one kernel on CUDA, the reference on the CPU."""
    return _backward("softmax_backward", softmax_backward_ref, y, g, axis)


def log_softmax_backward(y, g, axis):
    """dx of log_softmax from its output y and gradient g: one kernel on CUDA, the reference on the CPU."""
    return _backward("log_softmax_backward", log_softmax_backward_ref, y, g, axis)
