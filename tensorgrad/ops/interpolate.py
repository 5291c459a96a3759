"""interpolate (torch.nn.functional.interpolate): nearest, nearest-exact, linear, bilinear,
bicubic and trilinear resampling of the spatial dims of (N, C, *spatial) input.

Each spatial dim is resampled on its own (all these modes are separable): a nearest mode is one
index_select of source positions, a linear mode the sum of two index_selects weighted by
constants, bicubic the sum of four (PyTorch's cubic convolution, A = -0.75, taps past the edges
clamped to the border pixel). So the backward (scatter-adds of the gradient) and double backward come from the
index ops. Source positions follow PyTorch's CPU kernels, computed in the same precision (float32
for float16/float32 input, float64 for float64), so nearest picks the same pixels.
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from ._util import check_tensor
from .index import IndexSelect

_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}  # modes with taps and weights
_NEAREST = ("nearest", "nearest-exact")
_MODES = _NEAREST + tuple(_LINEAR_DIMS) + ("area",)


def _const(arr) -> Tensor:
    return Tensor._make(arr, None, 0, None)


def _scale(in_size: int, out_size: int, scale_factor, acc):
    """PyTorch's compute_scales_value: 1/scale_factor where one was given, else in/out."""
    if scale_factor is not None and scale_factor > 0:
        return acc.type(1.0 / scale_factor)
    return acc.type(in_size) / acc.type(out_size)


def _nearest_index(in_size, out_size, scale_factor, exact, acc):
    dst = np.arange(out_size, dtype=acc)
    scale = _scale(in_size, out_size, scale_factor, acc)
    src = np.floor((dst + acc.type(0.5)) * scale if exact else dst * scale)
    return np.minimum(src.astype(np.int64), in_size - 1)


def _linear_taps(in_size, out_size, scale_factor, align_corners, acc):
    """(i0, i1, w0, w1): out[j] = w0[j] * in[i0[j]] + w1[j] * in[i1[j]]."""
    dst = np.arange(out_size, dtype=acc)
    if align_corners:
        scale = acc.type(in_size - 1) / acc.type(out_size - 1) if out_size > 1 else acc.type(0)
        src = dst * scale
    else:
        scale = _scale(in_size, out_size, scale_factor, acc)
        src = np.maximum(scale * (dst + acc.type(0.5)) - acc.type(0.5), acc.type(0))
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    w1 = np.clip(src - i0.astype(acc), 0, 1).astype(acc)
    i1 = i0 + (i0 < in_size - 1)
    return i0, i1, (acc.type(1) - w1), w1


def _cubic_taps(in_size, out_size, scale_factor, align_corners, acc):
    """(i0..i3, w0..w3): out[j] = sum_k wk[j] * in[ik[j]], taps at floor(src) - 1 .. floor(src) + 2."""
    dst = np.arange(out_size, dtype=acc)
    if align_corners:
        scale = acc.type(in_size - 1) / acc.type(out_size - 1) if out_size > 1 else acc.type(0)
        src = dst * scale
    else:  # unlike linear, the source position is not clamped at 0: the taps are
        src = _scale(in_size, out_size, scale_factor, acc) * (dst + acc.type(0.5)) - acc.type(0.5)
    lo = np.floor(src)
    t = (src - lo).astype(acc)
    idx = [np.clip(lo.astype(np.int64) + k, 0, in_size - 1) for k in (-1, 0, 1, 2)]
    return tuple(idx) + tuple(w.astype(acc) for w in _cubic_weights(t))


def _cubic_weights(t):
    """PyTorch's cubic convolution weights (A = -0.75) of the taps at distances 1 + t, t, 1 - t, 2 - t."""
    a = -0.75

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):   # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


_taps_cache: dict = {}  # (sizes, mode, ..., dtype, device) -> the taps as arrays on that device


def _taps(in_size, out_size, scale_factor, mode, align_corners, dtype, device):
    """The source indices (and, for linear modes, weights in `dtype`) on `device`, computed and
    uploaded once per configuration (a training step does not copy them from the host each time)."""
    key = (in_size, out_size, scale_factor, mode, align_corners, dtype.str, str(device))
    hit = _taps_cache.get(key)
    if hit is not None:
        return hit
    from ..creation import tensor as _tensor
    acc = np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)
    if mode in _NEAREST:
        host = (_nearest_index(in_size, out_size, scale_factor, mode == "nearest-exact", acc),)
    elif mode == "bicubic":
        taps = _cubic_taps(in_size, out_size, scale_factor, align_corners, acc)
        host = taps[:4] + tuple(w.astype(dtype) for w in taps[4:])
    else:
        i0, i1, w0, w1 = _linear_taps(in_size, out_size, scale_factor, align_corners, acc)
        host = (i0, i1, w0.astype(dtype), w1.astype(dtype))
    if len(_taps_cache) > 512:
        _taps_cache.clear()
    hit = _taps_cache[key] = tuple(_tensor(a, device=device)._data for a in host)
    return hit


def _resample_dim(t: Tensor, axis: int, out_size: int, scale_factor, mode, align_corners):
    data = t._data
    taps = _taps(data.shape[axis], out_size, scale_factor, mode, align_corners, data.dtype, t.device)
    if mode in _NEAREST:
        return IndexSelect((Ellipsis,), (axis,), (taps[0],))(t)
    k = len(taps) // 2  # 2 taps (linear) or 4 (bicubic): indices, then weights
    shape = [1] * data.ndim
    shape[axis] = out_size
    out = None
    for i, w in zip(taps[:k], taps[k:]):
        term = IndexSelect((Ellipsis,), (axis,), (i,))(t) * _const(w.reshape(shape))
        out = term if out is None else out + term
    return out


def _tuple(v, n: int, name: str):
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"interpolate(): {name} {list(v)} must have one entry per spatial dim ({n})")
        return tuple(v)
    return (v,) * n


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample the spatial dims of `input` (N, C, d1[, d2[, d3]]) to `size` or by `scale_factor`."""
    check_tensor("interpolate", input)
    x = input._data
    spatial = x.ndim - 2
    if mode not in _MODES:
        raise ValueError(f"interpolate(): mode {mode!r} is not one of {', '.join(_MODES)}")
    if antialias and not (mode in ("bilinear", "bicubic") and x.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D tensor "
                         "as input")
    if antialias:
        raise NotImplementedError("interpolate(): antialias=True is not supported; use antialias=False")
    if not 1 <= spatial <= 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {x.ndim}D) for "
                                  f"the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if mode in _LINEAR_DIMS and _LINEAR_DIMS[mode] != spatial:
        raise NotImplementedError(f"Got {x.ndim}D input, but {mode} mode needs {_LINEAR_DIMS[mode] + 2}D input")
    if mode in _NEAREST and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if x.dtype.kind != "f":
        raise RuntimeError(f"interpolate(): expected a floating point input, got {input.dtype}")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    in_sizes = x.shape[2:]
    if size is not None:
        if isinstance(size, (tuple, list)) and len(size) != spatial:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(in_sizes)} and output size of {list(size)}. Please "
                             f"provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                             f"(o1, o2, ...,oK) format.")
        out_sizes = tuple(int(s) for s in _tuple(size, spatial, "size"))
        factors = (None,) * spatial
    else:
        factors = tuple(float(f) for f in _tuple(scale_factor, spatial, "scale_factor"))
        out_sizes = tuple(int(math.floor(n * f)) for n, f in zip(in_sizes, factors))
        if recompute_scale_factor:
            factors = (None,) * spatial
    if any(s <= 0 for s in out_sizes):
        raise ValueError(f"interpolate(): output size {list(out_sizes)} must be positive (input spatial size "
                         f"{list(in_sizes)})")
    if mode == "area":  # PyTorch's definition: adaptive average pooling to the output size
        from . import pool
        return getattr(pool, f"adaptive_avg_pool{spatial}d")(input, out_sizes if spatial > 1 else out_sizes[0])
    out = input
    for k in range(spatial):
        # where PyTorch's kernels copy a dim whose size stays: the linear modes always, nearest on 2-D
        # images; elsewhere a scale_factor that keeps the size still moves the samples
        same = out_sizes[k] == in_sizes[k]
        if mode in _LINEAR_DIMS and mode != "bicubic" or (mode == "nearest" and spatial == 2):
            identity = same
        else:
            identity = same and factors[k] in (None, 1.0)
        if not identity:
            out = _resample_dim(out, 2 + k, out_sizes[k], factors[k], mode, bool(align_corners))
    return out if out is not input else input.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """interpolate, under the older name (torch.nn.functional.upsample)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


__all__ = ["interpolate", "upsample"]
