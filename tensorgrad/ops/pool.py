"""Pooling (torch.nn.functional forms): max_pool2d, avg_pool2d, adaptive_avg_pool2d.

max_pool2d keeps, per window, the kernel offset of its first maximum (PyTorch's
flat H*W indices are computed from it for return_indices); its backward scatters
the gradient there, and the scatter's backward gathers from there, so second
derivatives work. avg_pool2d is
the windows (conv.Im2col, one group per channel) summed and divided, and
adaptive_avg_pool2d two products with constant averaging matrices: both are
built from differentiable ops.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Op
from ..backend import repeat_pairs, where_or_zero, xp_of
from ..tensor import Tensor
from ._util import check_tensor
from .conv import Geometry, Im2col, _pad, _tuple, _windows


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
    """Max over each window; ctx_arrays keeps each window's winning kernel offset (in 0..kh*kw-1,
    uint8 for kernels up to 256 elements), from which the backward finds where the gradient goes."""

    def __init__(self, geom: Geometry):
        self.g = geom

    def forward(self, x):
        g = self.g
        xp = xp_of(x)
        self.in_shape = x.shape
        if _tiles(g):
            best, arg = _tiled_argmax(xp, x, g)
            win = None
        else:
            low = -math.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
            win = _windows(_pad(x, g.pads, low), g)               # (N, C, kh, kw, OH, OW), a view
            best, arg = self._argmax(xp, win, False)
        if x.dtype.kind == "f" and xp.isnan(best).any():          # rare: redo with torch's NaN rule
            best, arg = self._argmax(xp, _windows(x, g) if win is None else win, True)
        self.ctx_arrays = (arg,)
        return best

    def _argmax(self, xp, win, nan_rule):
        """Running max over the kernel offsets (O(kernel size) whole-array passes). The winning offset
        changes only on a strictly greater value, so ties keep the first max, as in torch; with
        `nan_rule`, a NaN always wins (torch: `val > max || isnan(val)`). Padding (the lowest value)
        never wins over the input: like torch, a window starts from its first in-bounds position, so
        an all -inf window points into the input, not at the padding."""
        g = self.g
        kdt = _offset_dtype(g)
        best = win[:, :, 0, 0].copy()
        arg = xp.zeros(best.shape, dtype=kdt)
        take = xp.empty(best.shape, dtype=bool)
        inside = _inside(xp, g, self.in_shape) if any(g.pads) else None  # (kh*kw, OH, OW)
        on_input = xp.broadcast_to(inside[0], best.shape).copy() if inside is not None else None
        for k in range(1, g.kh * g.kw):
            v = win[:, :, k // g.kw, k % g.kw]
            xp.greater(v, best, out=take)
            if nan_rule:
                take |= v != v
            if on_input is not None:  # an in-bounds value replaces a padding one even when equal
                take |= inside[k] & ~on_input
                on_input |= take
            xp.maximum(best, v, out=best)                        # NaN propagates into the value
            step = kdt(k) - arg                                   # arg = k where take: integer math (wraps
            step *= take                                          # modulo 2**bits, exact), no masks
            arg += step
        return best, arg

    def backward(self, grad):
        return MaxPoolScatter(self.saved_arrays[0], self.g, self.in_shape)(grad)


def _inside(xp, g: Geometry, in_shape):
    """(kh*kw, OH, OW) bools: whether kernel offset k of each window lands on the input, not padding."""
    h, w = in_shape[2:]
    rows = xp.arange(g.oh)[None, :] * g.sh + xp.arange(g.kh)[:, None] * g.dh - g.pads[0]   # (kh, OH)
    cols = xp.arange(g.ow)[None, :] * g.sw + xp.arange(g.kw)[:, None] * g.dw - g.pads[2]   # (kw, OW)
    rin, cin = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    return (rin[:, None, :, None] & cin[None, :, None, :]).reshape(g.kh * g.kw, g.oh, g.ow)


def _offset_dtype(g: Geometry):
    k = g.kh * g.kw
    return np.uint8 if k <= 256 else np.int16 if k < 2 ** 15 else np.int64


def _tiles(g: Geometry) -> bool:
    """Windows that tile the (top-left part of the) input exactly: stride == kernel, no dilation,
    no padding (ceil_mode's extra row/column counts as padding)."""
    return (g.sh, g.sw) == (g.kh, g.kw) and (g.dh, g.dw) == (1, 1) and not any(g.pads) and g.kh * g.kw <= 256


def _tile_view(a, g: Geometry):
    """(N, C, OH, kh, OW, kw) view of the part of NCHW `a` that tiling windows cover."""
    n, c = a.shape[:2]
    return a[:, :, :g.oh * g.kh, :g.ow * g.kw].reshape(n, c, g.oh, g.kh, g.ow, g.kw)


def _tiled_argmax(xp, x, g: Geometry):
    """Max and first-max offset of tiling windows. The max is pairwise, along W (for a contiguous
    input the two operands are single stride-2 runs over the whole array) then along H: kh + kw - 2
    passes instead of kh*kw - 1 running-argmax steps. The offset of the first max is then the
    number of leading offsets whose value differs from it: a cumulative AND of `v_k != best`
    summed in uint8 (for a non-NaN max, `==` finds exactly the values equal to it; a NaN max is
    redone by the caller with torch's NaN rule)."""
    t = _tile_view(x, g)
    rows = t[..., 0]                                              # (N, C, OH, kh, OW): max of each window row
    for j in range(1, g.kw):
        rows = xp.maximum(rows, t[..., j], out=None if j == 1 else rows)
    best = rows[:, :, :, 0]
    for i in range(1, g.kh):
        best = xp.maximum(best, rows[:, :, :, i], out=None if i == 1 else best)
    if g.kh * g.kw == 1:
        return best.copy(), xp.zeros(best.shape, dtype=np.uint8)
    best = xp.ascontiguousarray(best)
    run = xp.not_equal(t[:, :, :, 0, :, 0], best)                 # no max at offsets 0..k yet
    arg = run.view(np.uint8).copy()
    ne = xp.empty(best.shape, dtype=bool)
    for k in range(1, g.kh * g.kw - 1):                           # the last offset is implied
        xp.not_equal(t[:, :, :, k // g.kw, :, k % g.kw], best, out=ne)
        run &= ne
        arg += run.view(np.uint8)
    return best, arg


def _repeat_tiles(a, g: Geometry):
    """(N, C, OH, OW) -> (N, C, OH*kh, OW*kw): each window's value at every position of its tile."""
    cols = repeat_pairs(a) if g.kw == 2 else a.repeat(g.kw, axis=3)
    return cols.repeat(g.kh, axis=2) if g.kh > 1 else cols


def _flat_index(arg, g: Geometry, w: int):
    """Each window's argmax as a flat index into the input's H*W plane (PyTorch's indices):
    the window's top-left corner plus the winning kernel offset."""
    xp = xp_of(arg)
    offs = xp.asarray([(k // g.kw) * g.dh * w + (k % g.kw) * g.dw for k in range(g.kh * g.kw)], dtype=np.int64)
    corner = ((xp.arange(g.oh, dtype=np.int64) * g.sh - g.pads[0]).reshape(-1, 1) * w
              + xp.arange(g.ow, dtype=np.int64) * g.sw - g.pads[2])
    return offs.take(arg) + corner


def _disjoint(g: Geometry) -> bool:
    """Windows that never overlap: each input position is in at most one window."""
    return g.sh >= g.dh * (g.kh - 1) + 1 and g.sw >= g.dw * (g.kw - 1) + 1


def _offset_view(a, g: Geometry, k: int):
    """The (N, C, OH, OW) strided view of padded-input-shaped `a` at kernel offset k of every window."""
    i, j = divmod(k, g.kw)
    return a[:, :, i * g.dh:i * g.dh + g.sh * (g.oh - 1) + 1:g.sh, j * g.dw:j * g.dw + g.sw * (g.ow - 1) + 1:g.sw]


class MaxPoolScatter(Op):
    """Zeros of the input's shape with each window's gradient added at its argmax position."""

    def __init__(self, arg, geom, shape):
        self.ctx_arrays, self.g, self.shape = (arg,), geom, shape

    def forward(self, grad):
        (arg,) = self.ctx_arrays
        g, (n, c, h, w) = self.g, self.shape
        xp = xp_of(grad)
        if _tiles(g):
            # every input position is in at most one window and the output's tiles are the input's
            # layout: the gradient repeated over each tile, kept where the tile's offset is the
            # window's argmax; whole-array passes, no zeros init, no strided stores
            offs = xp.arange(g.kh * g.kw, dtype=arg.dtype).reshape(g.kh, g.kw)
            pattern = xp.tile(offs, (g.oh, g.ow))                 # (OH*kh, OW*kw): each position's offset
            keep = xp.negative(_repeat_tiles(arg, g) == pattern, dtype=np.int8)  # -1 (all ones) or 0
            out = _repeat_tiles(grad, g)                          # fresh and contiguous: masked in place
            bits = out.view(f"i{out.dtype.itemsize}")
            xp.bitwise_and(bits, keep, out=bits)                  # int8 sign-extends: exactly grad or +0.0
            if out.shape[2:] != (h, w):                           # rows/columns no window reaches: zero
                out = xp.pad(out, ((0, 0), (0, 0), (0, h - out.shape[2]), (0, w - out.shape[3])))
            return out
        if _disjoint(g):
            # one masked store per kernel offset, no index arrays: windows do not overlap, so every
            # input position receives at most one gradient
            t, b, l, r = g.pads
            out = xp.zeros_like(grad, shape=(n, c, h + t + b, w + l + r))
            for k in range(g.kh * g.kw):
                _offset_view(out, g, k)[...] = where_or_zero(arg == k, grad)
            return out[:, :, t:t + h, l:l + w] if (t or b or l or r) else out
        out = xp.zeros_like(grad, shape=(n * c, h * w))
        flat = _flat_index(arg, g, w).reshape(n * c, -1)
        xp.add.at(out, (xp.arange(n * c).reshape(-1, 1), flat), grad.reshape(n * c, -1))
        return out.reshape(self.shape)

    def backward(self, grad):
        return MaxPoolGather(self.saved_arrays[0], self.g, self.shape)(grad)


class MaxPoolGather(Op):
    """The adjoint of MaxPoolScatter: each window's value read at its argmax position."""

    def __init__(self, arg, geom, shape):
        self.ctx_arrays, self.g, self.shape = (arg,), geom, shape

    def forward(self, x):
        (arg,) = self.ctx_arrays
        n, c, h, w = self.shape
        flat = _flat_index(arg, self.g, w)
        return xp_of(x).take_along_axis(x.reshape(n * c, -1), flat.reshape(n * c, -1), axis=1).reshape(flat.shape)

    def backward(self, grad):
        return MaxPoolScatter(self.saved_arrays[0], self.g, self.shape)(grad)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling over (N, C, H, W) or unbatched (C, H, W) input, padded with -inf; with
    `return_indices`, also the flat index (into H*W) of each window's first maximum."""
    x, unbatched, geom = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    op = MaxPool2d(geom)
    out = op(x)
    if return_indices:
        idx = _flat_index(op.ctx_arrays[0], geom, x._data.shape[3])
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


__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]
