"""Pooling (torch.nn.functional forms): max_pool2d, avg_pool2d, adaptive_avg_pool2d.

max_pool2d keeps, per window, the position of its first maximum (tensorgrad/fused/pool.py:
a CUDA kernel or its NumPy reference); its backward scatters the gradient there, and the
scatter's backward gathers from there, so second derivatives work. avg_pool2d is the windows
(conv.Im2col, one group per channel) summed and divided, and adaptive_avg_pool2d two products
with constant averaging matrices: both are built from differentiable ops.

The 1-D forms run the 2-D ones on a height-1 image; the 3-D forms run them on each depth tap's planes
and combine the taps (max, sum). max_unpool puts values back at max pooling's indices; lp_pool is
avg_pool of x**p, times the window size, to the power 1/p, as torch computes it.
"""
from __future__ import annotations

import math

import numpy as np

from .. import autocast_mode as _autocast
from ..autograd.function import Op
from ..backend import xp_of
from ..fused import pool as fused_pool
from ..tensor import Tensor
from ._util import check_tensor
from .conv import Geometry, Im2col, _tuple


def _const(arr) -> Tensor:
    return Tensor._make(arr, None, 0, None)


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling_output_shape."""
    num = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def _window_args(op, nd, kernel_size, stride, padding, dilation):
    """kernel_size, stride (kernel_size when None or empty), padding, dilation as nd-tuples, with
    PyTorch's checks and messages."""
    k = _tuple(kernel_size, nd, op, "kernel_size")
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _tuple(stride, nd, op, "stride")
    p = _tuple(padding, nd, op, "padding")
    d = _tuple(dilation, nd, op, "dilation")
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise RuntimeError(f"{op}: kernel_size, stride and dilation must be greater than zero, but got "
                           f"kernel_size={list(k)}, stride={list(s)}, dilation={list(d)}")
    if min(p) < 0 or any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={list(p)}, "
                           f"kernel_size={list(k)} and dilation={list(d)}")
    return k, s, p, d


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """(batched 4-D input, unbatched?, Geometry with the extra bottom/right padding ceil_mode needs)."""
    check_tensor(op, x, "input")
    if x._data.ndim not in (3, 4):
        raise RuntimeError(f"{op}: Expected 3D or 4D (batch mode) tensor for input, but got input of size: "
                           f"{list(x._data.shape)}")
    unbatched = x._data.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    n, c, h, w = x._data.shape
    k, s, p, d = _window_args(op, 2, kernel_size, stride, padding, dilation)
    oh = _pool_out(h, k[0], s[0], p[0], d[0], ceil_mode)
    ow = _pool_out(w, k[1], s[1], p[1], d[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise RuntimeError(f"{op}: Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{oh}x{ow}). "
                           f"Output size is too small (kernel_size={list(k)}, stride={list(s)}, padding="
                           f"{list(p)}, dilation={list(d)})")
    # bottom/right padding: whatever the last window reaches past the input (ceil_mode), at least p
    eb = max(p[0], (oh - 1) * s[0] + d[0] * (k[0] - 1) + 1 - h - p[0])
    er = max(p[1], (ow - 1) * s[1] + d[1] * (k[1] - 1) + 1 - w - p[1])
    geom = Geometry(k, s, d, (p[0], eb, p[1], er), c, (oh, ow))
    return x, unbatched, geom


# ---------------------------------------------------------------- max pooling
class MaxPool2d(Op):
    """Max over each window; ctx_arrays keeps each window's argmax (fused/pool.py: flat indices from
    the CUDA kernel, compact kernel offsets from the NumPy reference), where the backward sends the
    gradient."""

    def __init__(self, geom: Geometry):
        self.g = geom

    def forward(self, x):
        self.in_shape = x.shape
        best, arg = fused_pool.max_pool2d_forward(x, self.g)
        self.ctx_arrays = (arg,)
        return best

    def backward(self, grad):
        return MaxPoolScatter(self.saved_arrays[0], self.g, self.in_shape)(grad)


class MaxPoolScatter(Op):
    """Zeros of the input's shape with each window's gradient added at its argmax position."""

    def __init__(self, arg, geom, shape):
        self.ctx_arrays, self.g, self.shape = (arg,), geom, shape

    def forward(self, grad):
        return fused_pool.max_pool2d_backward(grad, self.ctx_arrays[0], self.g, self.shape)

    def backward(self, grad):
        return MaxPoolGather(self.saved_arrays[0], self.g, self.shape)(grad)


class MaxPoolGather(Op):
    """The adjoint of MaxPoolScatter: each window's value read at its argmax position."""

    def __init__(self, arg, geom, shape):
        self.ctx_arrays, self.g, self.shape = (arg,), geom, shape

    def forward(self, x):
        return fused_pool.max_pool2d_gather(x, self.ctx_arrays[0], self.g)

    def backward(self, grad):
        return MaxPoolScatter(self.saved_arrays[0], self.g, self.shape)(grad)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling over (N, C, H, W) or unbatched (C, H, W) input, padded with -inf; with
    `return_indices`, also the flat index (into H*W) of each window's first maximum."""
    x, unbatched, geom = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    op = MaxPool2d(geom)
    out = op(x)
    if return_indices:
        idx = fused_pool.indices(op.ctx_arrays[0], geom, x._data.shape[3])
    if out._node is not op:
        op.ctx_arrays = None
    if not return_indices:
        return out.squeeze(0) if unbatched else out
    if unbatched:
        out, idx = out.squeeze(0), idx[0]
    return out, _const(idx)


# ---------------------------------------------------------------- average pooling
def _counts(size, k, s, p, out, include_pad):
    """Per output position along one dim: the divisor PyTorch uses (window clipped to the padded
    input when counting padding, to the input otherwise)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


@_autocast.policy(cuda="native", cpu="native")  # one kernel in PyTorch
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling over (N, C, H, W) or unbatched (C, H, W) input, PyTorch's divisors."""
    op = "avg_pool2d"
    x, unbatched, g = _pool_geometry(op, input, kernel_size, stride, padding, 1, ceil_mode)
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for '{input.dtype}' tensors; convert with .float()")
    n, c, h, w = x._data.shape
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero")
        div = np.full((g.oh, g.ow), float(divisor_override))
    else:
        p = (g.pads[0], g.pads[2])
        div = np.outer(_counts(h, g.kh, g.sh, p[0], g.oh, count_include_pad),
                       _counts(w, g.kw, g.sw, p[1], g.ow, count_include_pad)).astype(np.float64)
    xp = xp_of(x._data)
    scale = xp.asarray((1.0 / div).reshape(-1), dtype=x._data.dtype)
    cols = Im2col(g)(x)                                           # (C, kh*kw, N*OH*OW)
    out = (cols.sum(1).reshape(c, n, g.oh * g.ow) * _const(scale)).permute(1, 0, 2).reshape(n, c, g.oh, g.ow)
    return out.squeeze(0) if unbatched else out


def _adaptive_matrix(size, out, xp, dtype):
    """(out, size) averaging matrix: row i averages [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out, size))
    for i in range(out):  # O(output size) rows, built once on the host
        a, b = (i * size) // out, -((-(i + 1) * size) // out)
        m[i, a:b] = 1.0 / (b - a)
    return _const(xp.asarray(m, dtype=dtype))


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (an int, or a pair whose None entries keep the input's
    size), with PyTorch's windows: row i covers [floor(i*H/OH), ceil((i+1)*H/OH))."""
    op = "adaptive_avg_pool2d"
    check_tensor(op, input, "input")
    x = input._data
    if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
        raise RuntimeError(f"{op}: Expected 3D or 4D tensor with non-zero sizes for the non-batch dims, but "
                           f"got input of size: {list(x.shape)}")
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for '{input.dtype}' tensors; convert with .float()")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise RuntimeError(f"{op}: output_size must be 2, got {list(output_size)}")
        size = tuple(x.shape[-2 + i] if s is None else s for i, s in enumerate(output_size))
    else:
        size = (output_size, output_size)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size):
        raise RuntimeError(f"{op}: output_size must be positive ints (or None), got {output_size!r}")
    h, w = x.shape[-2:]
    if size == (h, w):
        return input * 1.0  # every window is one element; a fresh tensor, as torch returns
    xp = xp_of(x)
    ph = _adaptive_matrix(h, size[0], xp, x.dtype)                # (OH, H)
    pw = _adaptive_matrix(w, size[1], xp, x.dtype)                # (OW, W)
    return ph @ input @ pw.mT


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size (an int, or a pair whose None entries keep the input's
    size), PyTorch's windows: [floor(i*H/OH), ceil((i+1)*H/OH)); one amax per output cell, so the
    gradient goes to each window's maximum."""
    op = "adaptive_max_pool2d"
    check_tensor(op, input, "input")
    x = input._data
    if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
        raise RuntimeError(f"{op}: Expected 3D or 4D tensor with non-zero sizes for the non-batch dims, but "
                           f"got input of size: {list(x.shape)}")
    if return_indices:
        raise NotImplementedError(f"{op}: return_indices=True is not supported; use max_pool2d(..., "
                                  f"return_indices=True) with a fixed kernel")
    if isinstance(output_size, (tuple, list)):
        size = tuple(x.shape[-2 + i] if s is None else s for i, s in enumerate(output_size))
    else:
        size = (output_size, output_size)
    h, w = x.shape[-2:]
    from .shape import stack
    rows = []
    for i in range(size[0]):
        a, b = (i * h) // size[0], -((-(i + 1) * h) // size[0])
        cells = []
        for j in range(size[1]):
            c, d = (j * w) // size[1], -((-(j + 1) * w) // size[1])
            cells.append(input[..., a:b, c:d].amax((-2, -1)))
        rows.append(stack(cells, -1))
    return stack(rows, -2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of (N, C, L) or (C, L) input to a fixed length."""
    size = _one(output_size, "adaptive_max_pool1d")
    return adaptive_max_pool2d(_as_2d("adaptive_max_pool1d", input), (1, size), return_indices).squeeze(-2)


# ---------------------------------------------------------------- 1-D pooling: the 2-D ops on (N, C, 1, L)
def _one(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise RuntimeError(f"{name}: expected a single int or a 1-tuple, got {v!r}")
        return v[0]
    return v


def _as_2d(op, input):
    check_tensor(op, input, "input")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"{op}: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, "
                           f"but got: {list(input.shape)}")
    return input.unsqueeze(-2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L) input (max_pool2d over a height of 1)."""
    k = _one(kernel_size, "max_pool1d")
    s = k if stride is None or stride == () else _one(stride, "max_pool1d")
    out = max_pool2d(_as_2d("max_pool1d", input), (1, k), (1, s), (0, _one(padding, "max_pool1d")),
                     (1, _one(dilation, "max_pool1d")), ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling over (N, C, L) or (C, L) input (avg_pool2d over a height of 1)."""
    k = _one(kernel_size, "avg_pool1d")
    s = k if stride is None or stride == () else _one(stride, "avg_pool1d")
    return avg_pool2d(_as_2d("avg_pool1d", input), (1, k), (1, s), (0, _one(padding, "avg_pool1d")), ceil_mode,
                      count_include_pad).squeeze(-2)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of (N, C, L) or (C, L) input to a fixed length."""
    size = _one(output_size, "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(_as_2d("adaptive_avg_pool1d", input), (1, size)).squeeze(-2)


# ---------------------------------------------------------------- 3-D pooling: depth taps over 2-D pools
# A 3-D window is kd planes of 2-D windows: tap i of output depth j reads input plane j*sd - pd + i*dd.
# Each tap's planes go through the 2-D op as extra channels, (N, C*OD, H, W); max and sum then combine
# the taps (both separable), so the CUDA kernels of the 2-D ops serve 3-D too.

def _pool3d_geometry(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    """(batched 5-D input, unbatched?, k, s, p, d, (OD, OH, OW)) with torch's checks and messages."""
    check_tensor(op, input, "input")
    if input._data.ndim not in (4, 5) or 0 in input._data.shape[-4:]:
        raise RuntimeError(f"{op}: Expected 4D or 5D (batch mode) tensor with non-zero sizes for the non-batch "
                           f"dims for input, but got input of size: {list(input._data.shape)}")
    unbatched = input._data.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    c, dep, h, w = x._data.shape[1:]
    k, s, p, d = _window_args(op, 3, kernel_size, stride, padding, dilation)
    out = tuple(_pool_out(n, *a, ceil_mode) for n, a in zip((dep, h, w), zip(k, s, p, d)))
    if min(out) < 1:
        raise RuntimeError(f"{op}: Given input size: ({c}x{dep}x{h}x{w}). Calculated output size: "
                           f"({c}x{out[0]}x{out[1]}x{out[2]}). Output size is too small (kernel_size={list(k)}, "
                           f"stride={list(s)}, padding={list(p)}, dilation={list(d)})")
    return x, unbatched, k, s, p, d, out


def _depth_planes(x, k, s, p, d, od, value):
    """For each depth tap i: the planes it reads, (N, C*OD, H, W); the depth padded with `value`."""
    from .index import pad
    n, c, dep, h, w = x._data.shape
    back = max(p, (od - 1) * s + d * (k - 1) + 1 - dep - p)           # what ceil_mode's last window reaches
    xp_ = pad(x, (0, 0, 0, 0, p, back), value=value) if p or back else x
    return [xp_[:, :, i * d:i * d + s * (od - 1) + 1:s].reshape(n, c * od, h, w) for i in range(k)]


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-D max pooling over (N, C, D, H, W) or unbatched (C, D, H, W) input; with `return_indices`,
    also the flat index (into D*H*W) of each window's maximum: the first one in (d, h, w) order, a NaN
    always winning, padding never, as torch."""
    op = "max_pool3d"
    x, unbatched, k, s, p, d, (od, oh, ow) = _pool3d_geometry(op, input, kernel_size, stride, padding, dilation,
                                                               ceil_mode)
    n, c, dep, h, w = x._data.shape
    low = -np.inf if x._data.dtype.kind == "f" else int(np.iinfo(x._data.dtype).min)
    pooled = [max_pool2d(plane, k[1:], s[1:], p[1:], d[1:], ceil_mode, True)
              for plane in _depth_planes(x, k[0], s[0], p[0], d[0], od, low)]
    vals = [v._data.reshape(n, c, od, oh, ow) for v, _ in pooled]
    xp = xp_of(vals[0])
    # which tap wins per window: a running max over the taps that land on the input (host geometry)
    depth = np.arange(od)[:, None] * s[0] - p[0] + np.arange(k[0])[None, :] * d[0]   # (OD, kd)
    inside = (depth >= 0) & (depth < dep)
    first = np.where(inside.any(1), inside.argmax(1), 0)
    arg = xp.broadcast_to(xp.asarray(first.reshape(od, 1, 1)), (n, c, od, oh, ow)).copy()
    best = xp.take_along_axis(xp.stack(vals), arg[None], 0)[0]
    for i in range(1, k[0]):
        v = vals[i]
        take = (v > best) | (v != v)                                   # torch: val > max || isnan(val)
        take &= xp.asarray(inside[:, i].reshape(od, 1, 1) & (first < i).reshape(od, 1, 1))
        best = xp.where(take, v, best)
        arg = xp.where(take, i, arg)
    from .shape import stack
    stacked = stack([v for v, _ in pooled], 0).reshape(k[0], n, c, od, oh, ow)
    out = stacked.gather(0, _const(arg[None])).squeeze(0)
    if return_indices:
        idx2d = xp.stack([i._data.reshape(n, c, od, oh, ow) for _, i in pooled])
        plane = xp.asarray(depth)[xp.arange(od).reshape(od, 1, 1), arg]  # (N, C, OD, OH, OW) input depth
        idx = plane.astype(np.int64) * (h * w) + xp.take_along_axis(idx2d, arg[None], 0)[0]
        idx = _const(idx[0] if unbatched else idx)
    if unbatched:
        out = out.squeeze(0)
    return (out, idx) if return_indices else out


@_autocast.policy(cuda="native", cpu="native")
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-D average pooling over (N, C, D, H, W) or unbatched (C, D, H, W) input: the window sums of the
    depth taps' 2-D sums, divided by PyTorch's divisor (a product of per-dim counts, or the override)."""
    op = "avg_pool3d"
    x, unbatched, k, s, p, _, (od, oh, ow) = _pool3d_geometry(op, input, kernel_size, stride, padding, 1,
                                                              ceil_mode)
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for '{input.dtype}' tensors; convert with .float()")
    n, c, dep, h, w = x._data.shape
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero")
        div = np.full((od, oh, ow), float(divisor_override))
    else:
        counts = [_counts(size, *a, count_include_pad).astype(np.float64)
                  for size, a in zip((dep, h, w), zip(k, s, p, (od, oh, ow)))]
        div = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
    total = None
    for plane in _depth_planes(x, k[0], s[0], p[0], 1, od, 0.0):
        part = avg_pool2d(plane, k[1:], s[1:], p[1:], ceil_mode, True, 1)    # window sums
        total = part if total is None else total + part
    scale = _const(xp_of(x._data).asarray(1.0 / div, dtype=x._data.dtype))
    out = total.reshape(n, c, od, oh, ow) * scale
    return out.squeeze(0) if unbatched else out


def _adaptive_size(op, x, output_size, nd):
    """output_size as an nd-tuple of positive ints, None entries keeping the input's size."""
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != nd:
            raise RuntimeError(f"{op}: output_size must be {nd}, got {list(output_size)}")
        size = tuple(x.shape[-nd + i] if v is None else v for i, v in enumerate(output_size))
    else:
        size = (output_size,) * nd
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size):
        raise RuntimeError(f"{op}: output_size must be positive ints (or None), got {output_size!r}")
    return size


def _check_adaptive3d(op, input):
    check_tensor(op, input, "input")
    x = input._data
    if x.ndim not in (4, 5) or 0 in x.shape[-4:]:
        raise RuntimeError(f"{op}: Expected 4D or 5D tensor with non-zero sizes for the non-batch dims, but "
                           f"got input of size: {list(x.shape)}")
    return x


def adaptive_avg_pool3d(input, output_size):
    """Average pooling of (N, C, D, H, W) or (C, D, H, W) input to a fixed output size, PyTorch's windows
    per dim ([floor(i*D/OD), ceil((i+1)*D/OD))): one constant averaging matrix per dim."""
    op = "adaptive_avg_pool3d"
    x = _check_adaptive3d(op, input)
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for '{input.dtype}' tensors; convert with .float()")
    od, oh, ow = _adaptive_size(op, x, output_size, 3)
    dep, h, w = x.shape[-3:]
    xp = xp_of(x)
    y = _adaptive_matrix(h, oh, xp, x.dtype) @ input @ _adaptive_matrix(w, ow, xp, x.dtype).mT
    lead = tuple(x.shape[:-3])
    y = _adaptive_matrix(dep, od, xp, x.dtype) @ y.reshape(*lead, dep, oh * ow)
    return y.reshape(*lead, od, oh, ow)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling of (N, C, D, H, W) or (C, D, H, W) input to a fixed output size, PyTorch's windows;
    max is separable, so one amax per output index along each dim in turn. (A tie within a window
    shares the gradient, as amax does; torch gives it to one of the tied elements.)"""
    op = "adaptive_max_pool3d"
    x = _check_adaptive3d(op, input)
    if return_indices:
        raise NotImplementedError(f"{op}: return_indices=True is not supported; use max_pool3d(..., "
                                  f"return_indices=True) with a fixed kernel")
    size = _adaptive_size(op, x, output_size, 3)
    from .shape import stack
    out = input
    for dim, o in zip((-3, -2, -1), size):  # O(output size) slices per dim: [floor(i*n/o), ceil((i+1)*n/o))
        n = x.shape[dim]
        out = stack([out.narrow(dim, (i * n) // o, -((-(i + 1) * n) // o) - (i * n) // o).amax(dim)
                     for i in range(o)], dim)
    return out


# ---------------------------------------------------------------- unpooling: max_pool's indices, inverted
class _Unpool(Op):
    """(M, L) values -> (M, P) zeros with row m's values put at its flat indices (the last write
    wins for a repeated index); the backward reads the gradient back from those indices."""

    def __init__(self, idx, size):
        self.ctx_arrays, self.size = (idx,), size

    def forward(self, x):
        idx = self.ctx_arrays[0]
        xp = xp_of(x)
        out = xp.zeros((x.shape[0], self.size), dtype=x.dtype)
        out[xp.arange(x.shape[0])[:, None], idx] = x
        return out

    def backward(self, grad):
        from .index import gather
        return gather(grad, 1, _const(self.saved_arrays[0]))


def _max_unpool(op, nd, input, indices, kernel_size, stride, padding, output_size):
    from ..tensor import Tensor
    check_tensor(op, input, "input")
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op}(): argument 'indices' must be a Tensor, not {type(indices).__name__}")
    x, idx = input._data, indices._data
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, but got "
                           f"input of size: {list(x.shape)}")
    if idx.dtype != np.int64:
        raise RuntimeError(f"{op}: elements in indices should be type int64 but got: {indices.dtype}")
    if idx.shape != x.shape:
        raise RuntimeError(f"{op}: Expected shape of indices to be same as that of the input tensor "
                           f"({list(x.shape)}) but got indices tensor with shape: {list(idx.shape)}")
    k = _tuple(kernel_size, nd, op, "kernel_size")
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _tuple(stride, nd, op, "stride")
    p = _tuple(padding, nd, op, "padding")
    default = [(x.shape[-nd + i] - 1) * s[i] + k[i] - 2 * p[i] for i in range(nd)]
    if output_size is None:
        size = default
    else:  # torch's _unpool_output_size
        size = [int(v) for v in output_size]
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"{op}: output_size should be a sequence containing {nd} or {nd + 2} elements, but "
                             f"it has a length of '{len(size)}'")
        for i in range(nd):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < size[i] < hi:
                raise ValueError(f'{op}: invalid output_size "{size}" (dim {i} must be between {lo} and {hi})')
    if min(size) < 1:
        raise RuntimeError(f"{op}: output size {size} is too small (input {list(x.shape)}, kernel_size "
                           f"{list(k)}, stride {list(s)}, padding {list(p)})")
    total = int(np.prod(size))
    lead = x.shape[:-nd]
    flat_idx = idx.reshape(-1, int(np.prod(x.shape[-nd:])))
    if flat_idx.size and (int(flat_idx.min()) < 0 or int(flat_idx.max()) >= total):
        bad = int(flat_idx.min()) if int(flat_idx.min()) < 0 else int(flat_idx.max())
        raise RuntimeError(f"{op}: Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, size))})")
    out = _Unpool(flat_idx, total)(input.reshape(flat_idx.shape))
    return out.reshape(*lead, *size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: (N, C, L) or (C, L) values put at `indices` (max_pool1d's
    return_indices), zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: (N, C, H, W) or (C, H, W) values put at the flat indices
    (into H*W) that max_pool2d returned, zeros elsewhere."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d: values put at the flat indices into D*H*W, zeros elsewhere."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


# ---------------------------------------------------------------- power-average (LP) pooling
def _lp_finish(out, norm_type, count):
    """torch's (sign(out) * relu(|out|)) * count, to the power 1/p: the p-norm of each window."""
    from .activation import relu
    from .elementwise import abs as _abs, sign
    return (sign(out) * relu(_abs(out))).mul(count).pow(1.0 / norm_type)


def _lp_extreme(input, norm_type, pool, kernel, stride, ceil_mode):
    """norm_type +-inf: the largest (smallest) magnitude in each window, as PyTorch."""
    if norm_type > 0:
        return pool(input.abs(), kernel, stride, 0, 1, ceil_mode)
    return -pool(-input.abs(), kernel, stride, 0, 1, ceil_mode)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x**p) ** (1/p) over (N, C, L) or (C, L) input; no padding."""
    k = _one(kernel_size, "lp_pool1d")
    stride = k if stride is None else stride
    if math.isinf(norm_type):
        return _lp_extreme(input, norm_type, max_pool1d, k, stride, ceil_mode)
    out = avg_pool1d(input.pow(norm_type), k, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, k)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x**p) ** (1/p) over (N, C, H, W) or (C, H, W) input; no padding."""
    kh, kw = _tuple(kernel_size, 2, "lp_pool2d", "kernel_size")
    if math.isinf(norm_type):
        return _lp_extreme(input, norm_type, max_pool2d, (kh, kw), stride, ceil_mode)
    out = avg_pool2d(input.pow(norm_type), (kh, kw), stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, kh * kw)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x**p) ** (1/p) over (N, C, D, H, W) or (C, D, H, W) input; no padding."""
    kd, kh, kw = _tuple(kernel_size, 3, "lp_pool3d", "kernel_size")
    if math.isinf(norm_type):
        return _lp_extreme(input, norm_type, max_pool3d, (kd, kh, kw), stride, ceil_mode)
    out = avg_pool3d(input.pow(norm_type), (kd, kh, kw), stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, kd * kh * kw)


__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "max_pool1d", "avg_pool1d",
           "adaptive_avg_pool1d", "adaptive_max_pool1d",
           "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d", "max_unpool1d", "max_unpool2d",
           "max_unpool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d"]
