"""Pooling (torch.nn.functional forms): max_pool2d, avg_pool2d, adaptive_avg_pool2d.

max_pool2d keeps, per window, the position of its first maximum (tensorgrad/fused/pool.py:
a CUDA kernel or its NumPy reference); its backward scatters the gradient there, and the
scatter's backward gathers from there, so second derivatives work. avg_pool2d is the windows
(conv.Im2col, one group per channel) summed and divided, and adaptive_avg_pool2d two products
with constant averaging matrices: both are built from differentiable ops.
"""
from __future__ import annotations

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
    k = _tuple(kernel_size, 2, op, "kernel_size")
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _tuple(stride, 2, op, "stride")
    p = _tuple(padding, 2, op, "padding")
    d = _tuple(dilation, 2, op, "dilation")
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise RuntimeError(f"{op}: kernel_size, stride and dilation must be greater than zero, but got "
                           f"kernel_size={list(k)}, stride={list(s)}, dilation={list(d)}")
    if min(p) < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={list(p)}, "
                           f"kernel_size={list(k)} and dilation={list(d)}")
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


__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "max_pool1d", "avg_pool1d",
           "adaptive_avg_pool1d", "adaptive_max_pool1d"]
