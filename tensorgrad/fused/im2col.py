"""im2col / col2im of a 2-D convolution on CUDA as single gather kernels (kernels/im2col.cu).

The NumPy reference is _im2col / _col2im in tensorgrad/ops/conv.py (a strided view copied out,
and O(kernel size) strided adds), which call these for CuPy arrays: one launch each way instead of
a pad plus a copy, and a zero fill plus kh*kw adds plus a crop. Columns are (C, kh, kw, N, OH, OW).
"""
from __future__ import annotations

import numpy as np

from .. import backend, kernels

_THREADS = 256
_MAX_BLOCKS = 65536


def use_kernel(arr) -> bool:
    return arr.__class__ is not np.ndarray and arr.dtype.name in kernels.kernel_dtypes("im2col")


def _geometry_args(shape, g):
    n, c, h, w = shape
    t, _, l, _ = g.pads
    return [np.int64(v) for v in (n, c, h, w, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.dh, g.dw, t, l)]


def _launch(function, src, dst, shape, g, *extra):
    total = dst.size
    if total == 0:
        return dst
    with src.device:
        k = kernels.get_kernel("im2col", function, src.dtype, src.device.id)
        blocks = min((total + _THREADS - 1) // _THREADS, _MAX_BLOCKS)
        k((blocks,), (_THREADS,), (src, dst, np.int64(total), *_geometry_args(shape, g), *extra))
    return dst


def im2col(x, g, pad_value=0.0):
    """Columns (groups, C/groups*kh*kw, N*OH*OW) of a CuPy (N, C, H, W) array, padding read as pad_value."""
    cp = backend.cupy()
    n, c = x.shape[:2]
    with x.device:
        x = cp.ascontiguousarray(x)
        cols = cp.empty((c, g.kh, g.kw, n, g.oh, g.ow), dtype=x.dtype)
    acc = np.float64 if x.dtype == np.float64 else np.float32
    _launch("im2col", x, cols, x.shape, g, acc(pad_value))
    return cols.reshape(g.groups, c // g.groups * g.kh * g.kw, n * g.oh * g.ow)


def col2im(cols, g, shape, out=None):
    """The adjoint: columns back to a CuPy array of `shape` (N, C, H, W), overlaps summed, padding cropped.
    `out`, if given, is a C-contiguous array of `shape` that receives the result."""
    cp = backend.cupy()
    with cols.device:
        cols = cp.ascontiguousarray(cols)
        if out is None or not out.flags.c_contiguous or out.dtype != cols.dtype:  # the kernel writes cols' type
            res = cp.empty(shape, dtype=cols.dtype)
        else:
            res = out
    _launch("col2im", cols, res, shape, g)
    if out is not None and res is not out:
        out[...] = res
        return out
    return res
