"""Sums over every dim but one contiguous run of dims, in one CUDA launch (kernels/reduce.cu).

These are the bias gradients of a training step: Linear's (rows, out) -> (out,) and a
convolution's (N, C, H, W) -> (C,). CuPy's general reduction costs the host several times a
plain kernel launch, and a small training step on a GPU is bound by the host, so the sums whose
shape fits (x viewed as (A, C, B), reduced over A and B) take these kernels; everything else,
and every NumPy array, takes xp.sum. The kernels give up parallelism for one launch, so they
only take sums of at most ``MAX_PER_THREAD`` elements per thread (the small, host-bound case).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, kernels

_THREADS = 256       # TG_SUM_THREADS of kernels/reduce.cu
_TILE = 32           # TG_SUM_TILE: columns per block of sum_columns
_MAX_BLOCKS = 65536
MAX_PER_THREAD = 256


def sum_outer_inner_ref(x3):
    """out[c] = sum of x3[a, c, b] over a and b, in x3's dtype (float16 summed in float32)."""
    acc = np.float64 if x3.dtype == np.float64 else np.float32
    return x3.sum(axis=(0, 2), dtype=acc).astype(x3.dtype, copy=False)


def split(shape, dims):
    """(A, C, B) if reducing `shape` over `dims` (sorted) leaves one contiguous run of dims
    (A: the product of the dims before it, C: of the run, B: of the dims after), else None."""
    kept = [i for i in range(len(shape)) if i not in dims]
    if not kept or not dims or kept[-1] - kept[0] + 1 != len(kept):
        return None
    k0, k1 = kept[0], kept[-1] + 1
    return math.prod(shape[:k0]), math.prod(shape[k0:k1]), math.prod(shape[k1:])


def uses_kernel(x, dims) -> bool:
    """Whether summing the array `x` over `dims` (sorted dim indices) takes the kernels."""
    if x.__class__ is np.ndarray or x.dtype.name not in kernels.kernel_dtypes("reduce"):
        return False
    acb = split(x.shape, dims)
    if acb is None or not x.flags.c_contiguous:
        return False
    a, c, b = acb
    if a * b * c == 0:
        return False
    if b == 1:  # sum_columns: each column's rows over blockDim.y = _THREADS // _TILE threads
        return a <= MAX_PER_THREAD * (_THREADS // _TILE)
    return a * b <= MAX_PER_THREAD * _THREADS


def sum_outer_inner(x, dims, out_shape):
    """x summed over `dims` into `out_shape` (keepdim-shaped or not), one launch; for arrays
    where uses_kernel(x, dims) holds."""
    cp = backend._cupy
    a, c, b = split(x.shape, dims)
    with x.device:
        out = cp.empty(c, dtype=x.dtype)
        if b == 1:
            k = kernels.get_kernel("reduce", "sum_columns", x.dtype, x.device.id)
            blocks = min((c + _TILE - 1) // _TILE, _MAX_BLOCKS)
            k((blocks,), (_TILE, _THREADS // _TILE), (x, out, np.int64(a), np.int64(c)))
        else:
            k = kernels.get_kernel("reduce", "sum_channels", x.dtype, x.device.id)
            k((min(c, _MAX_BLOCKS),), (_THREADS,), (x, out, np.int64(a), np.int64(c), np.int64(b)))
    return out.reshape(out_shape)
