"""Max pooling 2-D, fused: the forward with each window's argmax, and the backward that routes the
gradient there. NumPy references and their CUDA twins (kernels/pool.cu).

The argmax comes in one of two forms, told apart by its dtype:
  * int64: the flat index h * W + w into the input plane (PyTorch's return_indices). The CUDA
    kernels write and read this form.
  * uint8 / int16 / int32: the kernel offset i * kw + j of the window's maximum. The NumPy
    reference keeps this compact form: its fast CPU paths compare and repeat it in whole-array
    passes, where int64 would cost 8x the memory traffic; `indices` turns it into the flat form.
`max_pool2d_backward` and `max_pool2d_gather` accept either form.

The rule, on both paths: ties keep the first maximum in row-major window order, a NaN always
wins (torch's `val > max || isnan(val)`: the last NaN of a window), padding never wins (a window
of -inf values points at its first in-bounds position, as torch). The backward sums, per input
element, the gradients of the windows whose argmax it is.

Dispatch: CuPy arrays of a kernel dtype (float16/32/64) use the kernels, with no host
synchronisation; everything else (NumPy, and integer CuPy arrays, which have no NaN) uses the
reference, written for either array module.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, kernels
from ..backend import repeat_pairs, where_or_zero, xp_of
from ..ops.conv import Geometry, _pad, _windows

_THREADS = 256
_MAX_BLOCKS = 65536


def use_kernel(arr) -> bool:
    return arr.__class__ is not np.ndarray and arr.dtype.name in kernels.kernel_dtypes("pool")


def _is_flat(arg) -> bool:
    return arg.dtype == np.int64


# ---------------------------------------------------------------- NumPy reference: forward
def max_pool2d_forward_ref(x, g: Geometry):
    """(y, kernel offsets) of NCHW `x` (NumPy or CuPy; any real dtype)."""
    xp = xp_of(x)
    if _tiles(g):
        best, arg = _tiled_argmax(xp, x, g)
        win = None
    else:
        low = -math.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        win = _windows(_pad(x, g.pads, low), g)                   # (N, C, kh, kw, OH, OW), a view
        best, arg = _running_argmax(xp, win, g, x.shape, False)
    # rare: redo with torch's NaN rule. `.any()` syncs with the host, but CuPy floats take the kernel
    if x.dtype.kind == "f" and xp.isnan(best).any():
        best, arg = _running_argmax(xp, _windows(x, g) if win is None else win, g, x.shape, True)
    return best, arg


def _running_argmax(xp, win, g: Geometry, in_shape, nan_rule):
    """Running max over the kernel offsets (O(kernel size) whole-array passes). The winning offset
    changes only on a strictly greater value, so ties keep the first max, as in torch; with
    `nan_rule`, a NaN always wins (torch: `val > max || isnan(val)`). Padding (the lowest value)
    never wins over the input: like torch, a window starts from its first in-bounds position, so
    an all -inf window points into the input, not at the padding."""
    kdt = _offset_dtype(g)
    best = win[:, :, 0, 0].copy()
    (ih, _), (iw, _) = _first_taps(g, in_shape)
    # each window's search starts at its first in-bounds tap: where a window has none, that is
    # the offset torch reports (nothing replaces it)
    arg = xp.broadcast_to(xp.asarray((ih[:, None] * g.kw + iw).astype(kdt)), best.shape).copy()
    take = xp.empty(best.shape, dtype=bool)
    inside = _inside(xp, g, in_shape) if any(g.pads) else None  # (kh*kw, OH, OW)
    on_input = xp.broadcast_to(inside[0], best.shape).copy() if inside is not None else None
    for k in range(1, g.kh * g.kw):
        v = win[:, :, k // g.kw, k % g.kw]
        xp.greater(v, best, out=take)
        if nan_rule:
            take |= v != v
        if on_input is not None:  # an in-bounds value replaces a padding one even when equal
            take |= inside[k] & ~on_input
            on_input |= take
        xp.maximum(best, v, out=best)                            # NaN propagates into the value
        step = kdt(k) - arg                                       # arg = k where take: integer math (wraps
        step *= take                                              # modulo 2**bits, exact), no masks
        arg += step
    return best, arg


def _inside(xp, g: Geometry, in_shape):
    """(kh*kw, OH, OW) bools: whether kernel offset k of each window lands on the input, not padding."""
    h, w = in_shape[2:]
    rows = xp.arange(g.oh)[None, :] * g.sh + xp.arange(g.kh)[:, None] * g.dh - g.pads[0]   # (kh, OH)
    cols = xp.arange(g.ow)[None, :] * g.sw + xp.arange(g.kw)[:, None] * g.dw - g.pads[2]   # (kw, OW)
    rin, cin = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    return (rin[:, None, :, None] & cin[None, :, None, :]).reshape(g.kh * g.kw, g.oh, g.ow)


def _first_taps(g: Geometry, in_shape):
    """Per window row and per window column (host NumPy, from the geometry alone): the first
    kernel tap past the top / left padding (stepping by the dilation, as torch), and whether it is
    inside the input. A window has an input position iff both its row and its column have one."""
    def axis(out, s, d, k, p, size):
        start = np.arange(out) * s - p
        first = np.where(start < 0, (-start + d - 1) // d, 0)
        return first, (first < k) & (start + first * d < size)
    h, w = in_shape[2:]
    return (axis(g.oh, g.sh, g.dh, g.kh, g.pads[0], h), axis(g.ow, g.sw, g.dw, g.kw, g.pads[2], w))


def _empty_windows(g: Geometry, in_shape):
    """(OH, OW) bools of the windows with no input position, or None when there are none (the
    usual case: only a dilation larger than a padded input allows them)."""
    (_, ok_h), (_, ok_w) = _first_taps(g, in_shape)
    return None if ok_h.all() and ok_w.all() else ~(ok_h[:, None] & ok_w)


def _offset_dtype(g: Geometry):
    """The narrowest dtype for kernel offsets; never int64, the flat form's dtype."""
    k = g.kh * g.kw
    return np.uint8 if k <= 256 else np.int16 if k <= 2 ** 15 else np.int32


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


def indices(arg, g: Geometry, w: int):
    """The argmax as flat int64 indices into the input's H*W plane (PyTorch's): `arg` itself when
    already flat, else each window's top-left corner plus its winning kernel offset."""
    if _is_flat(arg):
        return arg
    xp = xp_of(arg)
    offs = xp.asarray([(k // g.kw) * g.dh * w + (k % g.kw) * g.dw for k in range(g.kh * g.kw)], dtype=np.int64)
    corner = ((xp.arange(g.oh, dtype=np.int64) * g.sh - g.pads[0]).reshape(-1, 1) * w
              + xp.arange(g.ow, dtype=np.int64) * g.sw - g.pads[2])
    return offs.take(arg) + corner


# ---------------------------------------------------------------- NumPy reference: backward
def max_pool2d_backward_ref(grad, arg, g: Geometry, shape):
    """Zeros of the input's `shape` with each window's gradient added at its argmax (either form)."""
    n, c, h, w = shape
    xp = xp_of(grad)
    if not _is_flat(arg) and _tiles(g):
        # every input position is in at most one window and the output's tiles are the input's
        # layout: the gradient repeated over each tile, kept where the tile's offset is the
        # window's argmax; whole-array passes, no zeros init, no strided stores
        offs = xp.arange(g.kh * g.kw, dtype=arg.dtype).reshape(g.kh, g.kw)
        pattern = xp.tile(offs, (g.oh, g.ow))                     # (OH*kh, OW*kw): each position's offset
        keep = xp.negative(_repeat_tiles(arg, g) == pattern, dtype=np.int8)  # -1 (all ones) or 0
        out = _repeat_tiles(grad, g)                              # fresh and contiguous: masked in place
        bits = out.view(f"i{out.dtype.itemsize}")
        xp.bitwise_and(bits, keep, out=bits)                      # int8 sign-extends: exactly grad or +0.0
        if out.shape[2:] != (h, w):                               # rows/columns no window reaches: zero
            out = xp.pad(out, ((0, 0), (0, 0), (0, h - out.shape[2]), (0, w - out.shape[3])))
        return out
    if not _is_flat(arg) and _disjoint(g):
        # one masked store per kernel offset, no index arrays: windows do not overlap, so every
        # input position receives at most one gradient
        t, b, l, r = g.pads
        out = xp.zeros_like(grad, shape=(n, c, h + t + b, w + l + r))
        for k in range(g.kh * g.kw):
            _offset_view(out, g, k)[...] = where_or_zero(arg == k, grad)
        return out[:, :, t:t + h, l:l + w] if (t or b or l or r) else out
    # overlapping windows: an unbuffered add, in row-major window order
    flat, empty = _in_plane(indices(arg, g, w), g, shape)
    if empty is not None:
        grad = xp.where(empty, grad.dtype.type(0), grad)
    out = xp.zeros_like(grad, shape=(n * c, h * w))
    flat = flat.reshape(n * c, -1)
    xp.add.at(out, (xp.arange(n * c).reshape(-1, 1), flat), grad.reshape(n * c, -1))
    return out.reshape(shape)


def _in_plane(flat, g: Geometry, shape):
    """(flat indices safe to index the plane with, (OH, OW) mask of the windows with no input
    position or None). Those windows' index (torch's) lies outside the plane, or aliases a position
    of another row: it is replaced by 0 and the caller zeroes what they send or read there."""
    empty = _empty_windows(g, shape)
    if empty is None:
        return flat, None
    empty = xp_of(flat).asarray(empty)
    return xp_of(flat).where(empty, 0, flat), empty


def _repeat_tiles(a, g: Geometry):
    """(N, C, OH, OW) -> (N, C, OH*kh, OW*kw): each window's value at every position of its tile."""
    cols = repeat_pairs(a) if g.kw == 2 else a.repeat(g.kw, axis=3)
    return cols.repeat(g.kh, axis=2) if g.kh > 1 else cols


def _disjoint(g: Geometry) -> bool:
    """Windows that never overlap: each input position is in at most one window."""
    return g.sh >= g.dh * (g.kh - 1) + 1 and g.sw >= g.dw * (g.kw - 1) + 1


def _offset_view(a, g: Geometry, k: int):
    """The (N, C, OH, OW) strided view of padded-input-shaped `a` at kernel offset k of every window."""
    i, j = divmod(k, g.kw)
    return a[:, :, i * g.dh:i * g.dh + g.sh * (g.oh - 1) + 1:g.sh, j * g.dw:j * g.dw + g.sw * (g.ow - 1) + 1:g.sw]


# ---------------------------------------------------------------- CUDA kernels
def geometry_args(shape, g: Geometry):
    """The kernels' geometry arguments after `total`, for an (N, C, H, W) input `shape`."""
    h, w = shape[2:]
    return [np.int64(v) for v in (h, w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pads[0], g.pads[2])]


def _launch(function, arrays, total, shape, g: Geometry):
    k = kernels.get_kernel("pool", function, arrays[0].dtype, arrays[0].device.id)
    blocks = min((total + _THREADS - 1) // _THREADS, _MAX_BLOCKS)
    k((blocks,), (_THREADS,), (*arrays, np.int64(total), *geometry_args(shape, g)))


def _forward_kernel(x, g: Geometry):
    cp = backend.cupy()
    n, c = x.shape[:2]
    with x.device:
        x = cp.ascontiguousarray(x)
        y = cp.empty((n, c, g.oh, g.ow), dtype=x.dtype)
        arg = cp.empty(y.shape, dtype=np.int64)
        if y.size:
            _launch("max_pool2d_forward", (x, y, arg), y.size, x.shape, g)
    return y, arg


def _backward_kernel(grad, arg, g: Geometry, shape):
    cp = backend.cupy()
    with grad.device:
        grad = cp.ascontiguousarray(grad)
        dx = cp.empty(shape, dtype=grad.dtype)
        if dx.size:
            _launch("max_pool2d_backward", (grad, cp.ascontiguousarray(arg), dx), dx.size, shape, g)
    return dx


# ---------------------------------------------------------------- dispatch
def max_pool2d_forward(x, g: Geometry):
    """(y, argmax) of NCHW `x`: flat int64 argmax from the kernel, kernel offsets from the reference."""
    return _forward_kernel(x, g) if use_kernel(x) else max_pool2d_forward_ref(x, g)


def max_pool2d_backward(grad, arg, g: Geometry, shape):
    """The input's gradient of `shape` (N, C, H, W): `grad` (N, C, OH, OW) summed at each argmax."""
    if use_kernel(grad) and _is_flat(arg):
        return _backward_kernel(grad, arg, g, shape)
    return max_pool2d_backward_ref(grad, arg, g, shape)


def max_pool2d_gather(x, arg, g: Geometry):
    """The adjoint of the backward: each window's value of NCHW `x` read at its argmax."""
    n, c, h, w = x.shape
    xp = xp_of(x)
    flat, empty = _in_plane(indices(arg, g, w), g, x.shape)
    out = xp.take_along_axis(x.reshape(n * c, -1), flat.reshape(n * c, -1), axis=1).reshape(flat.shape)
    return out if empty is None else xp.where(empty, x.dtype.type(0), out)


__all__ = ["max_pool2d_forward", "max_pool2d_backward", "max_pool2d_gather", "indices", "use_kernel",
           "max_pool2d_forward_ref", "max_pool2d_backward_ref"]
