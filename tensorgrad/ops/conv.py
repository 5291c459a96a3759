"""Convolutions (torch.nn.functional forms): conv1d/2d/3d, conv_transpose1d/2d/3d.

A convolution is im2col, then one product: the windows of the (padded) input are copied out
into columns of shape (groups, C/g*kh*kw, N*OH*OW) and the weight, reshaped to (groups, O/g,
C/g*kh*kw), multiplies them in one GEMM per group. Col2im, the adjoint, adds columns back
onto the image, one strided slice per kernel offset.

Three ops make up conv2d and its derivatives, as in PyTorch's convolution_backward, and each
one's backward is built from the three, so derivatives of every order work:
  Convolution(x, w[, b])   y = conv(x, w) + b
  ConvInputGrad(gy, w)     gx = conv's adjoint in x, applied to gy (also conv_transpose2d)
  ConvWeightGrad(x, gy)    gw = conv's adjoint in w
They run over the batch in chunks whose columns fit in a few MiB: the columns are written and
read back while still in cache, and never kept (a full batch's columns are 8x the input), so
backward recomputes them from the saved input instead. Im2col and Col2im are also ops of their
own (each the other's backward) for avg_pool2d.

Stride-1 convolutions on the CPU take their columns over whole rows (see _im2col_rows): the
copies in im2col and col2im then move long contiguous runs instead of OW-element window rows.

On CUDA each of the three ops' forward goes through fused/conv_algo.py, which runs it either by
the im2col path here (the ops' _im2col methods) or by cuDNN (fused/cudnn_conv.py), whichever it
measured faster for that configuration (TENSORGRAD_CONV_ALGO=auto|cudnn|im2col).

The 1-D forms are the 2-D ones on a height-1 image; the 3-D forms unfold the depth taps into
channels and run one 2-D convolution (see the 3-D section at the end).
"""
from __future__ import annotations

from .. import autocast_mode as _autocast
from ..autograd.function import Op
from ..backend import column_budget, row_windows, sliding_view, xp_of
from ..fused import conv_algo
from ..fused import im2col as fused_im2col
from ._util import check_tensor


class Geometry:
    """Window geometry of a 2-D convolution over (H, W): kernel, stride, dilation, padding
    (top, bottom, left, right), groups, and the resulting output size (OH, OW)."""

    __slots__ = ("kh", "kw", "sh", "sw", "dh", "dw", "pads", "groups", "oh", "ow")

    def __init__(self, kernel, stride, dilation, pads, groups, out_hw):
        self.kh, self.kw = kernel
        self.sh, self.sw = stride
        self.dh, self.dw = dilation
        self.pads = pads
        self.groups = groups
        self.oh, self.ow = out_hw


def _windows(xp_padded, g: Geometry):
    """A strided view (N, C, kh, kw, OH, OW) of the windows of a padded NCHW array (no copy)."""
    s0, s1, s2, s3 = xp_padded.strides
    n, c = xp_padded.shape[:2]
    return sliding_view(xp_padded, (n, c, g.kh, g.kw, g.oh, g.ow),
                        (s0, s1, s2 * g.dh, s3 * g.dw, s2 * g.sh, s3 * g.sw))


def _pad(x, pads, value=0.0):
    t, b, l, r = pads
    if not (t or b or l or r):
        return x
    return xp_of(x).pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def _im2col(x, g: Geometry, pad_value=0.0):
    """x (N, C, H, W) -> columns (groups, C/groups*kh*kw, N*OH*OW): the padded windows, copied out.
    Batch and positions share the last axis, so the product with the weight is one GEMM per group
    (NumPy's matmul leaves BLAS when an operand is broadcast over a batch axis: 10x slower).
    This NumPy code is the reference of the one-launch CUDA gather that CuPy arrays take."""
    if fused_im2col.use_kernel(x):
        return fused_im2col.im2col(x, g, pad_value)
    n, c = x.shape[:2]
    win = _windows(_pad(x, g.pads, pad_value), g).transpose(1, 2, 3, 0, 4, 5)  # (C, kh, kw, N, OH, OW) view
    return xp_of(x).ascontiguousarray(win).reshape(g.groups, c // g.groups * g.kh * g.kw, n * g.oh * g.ow)


def _col2im(cols, g: Geometry, shape, out=None):
    """The adjoint of _im2col: columns back to `shape` (N, C, H, W), overlapping windows summed.
    `out`, if given, is a C-contiguous array of `shape` that receives the result. The reference of
    the one-launch CUDA gather (fused/im2col.py) that CuPy arrays take: no atomics, deterministic."""
    if fused_im2col.use_kernel(cols):
        return fused_im2col.col2im(cols, g, shape, out)
    n, c, h, w = shape
    t, b, l, r = g.pads
    xp = xp_of(cols)
    cols = cols.reshape(c, g.kh, g.kw, n, g.oh, g.ow)
    padded = bool(t or b or l or r)
    if out is None or padded:
        acc = xp.zeros_like(cols, shape=(n, c, h + t + b, w + l + r))
    else:
        acc = out
        acc[...] = 0
    hspan, wspan = g.sh * (g.oh - 1) + 1, g.sw * (g.ow - 1) + 1
    view = acc.transpose(1, 0, 2, 3)                              # (C, N, Hp, Wp), like the columns
    for i in range(g.kh):  # O(kernel size) strided adds, each over every window at once
        for j in range(g.kw):
            view[:, :, i * g.dh:i * g.dh + hspan:g.sh, j * g.dw:j * g.dw + wspan:g.sw] += cols[:, i, j]
    if padded:
        acc = acc[:, :, t:t + h, l:l + w]
        if out is not None:
            out[...] = acc
            return out
    return acc


# ---------------------------------------------------------- stride 1: windows over whole rows
# With stride 1, the kernel offset (i, j) of all of an image's windows, read over the padded
# width Wp instead of OW, is one contiguous run of the padded image: (OH-1)*Wp + OW positions
# starting at i*dh*Wp + j*dw. Columns over these row positions are copied (im2col) and added
# back (col2im) in long runs. The Wp-OW positions per row that are no window (they straddle two
# rows) cost that much more GEMM work: the forward drops them, and the backward gives them a zero
# gradient, so they add nothing -- as long as what they multiply is finite, which the ops check.

def _row_width(shape, g: Geometry, arr):
    """The padded width Wp if this convolution takes row columns on `arr`'s device, else None."""
    if g.sh == 1 and g.sw == 1 and row_windows(arr):
        return shape[3] + g.pads[2] + g.pads[3]
    return None


def _positions(g: Geometry, wp) -> int:
    """Column positions per image: OH*OW windows, or the row positions over padded width `wp`."""
    return g.oh * g.ow if wp is None else (g.oh - 1) * wp + g.ow


def _im2col_rows(x, g: Geometry):
    """x (m, C, H, W) -> row columns (groups, C/groups*kh*kw, m*positions) of its padded image."""
    xp = xp_of(x)
    xpad = xp.ascontiguousarray(_pad(x, g.pads))
    m, c, hp, wp = xpad.shape
    e = xpad.itemsize
    win = sliding_view(xpad, (c, g.kh, g.kw, m, _positions(g, wp)),
                       (hp * wp * e, g.dh * wp * e, g.dw * e, c * hp * wp * e, e))
    return xp.ascontiguousarray(win).reshape(g.groups, c // g.groups * g.kh * g.kw, -1)


def _windows_of_rows(rows, g: Geometry, wp):
    """A view (..., OH, OW) of the positions of `rows` (..., positions) that are windows."""
    e = rows.itemsize
    return sliding_view(rows, rows.shape[:-1] + (g.oh, g.ow), rows.strides[:-1] + (wp * e, e))


def _grad_rows(gy, g: Geometry, wp):
    """gy (m, O, OH, OW) -> (groups, O/groups, m*positions), zero at positions that are no window."""
    m, o, oh, ow = gy.shape
    rows = xp_of(gy).empty((o, m, _positions(g, wp)), dtype=gy.dtype)
    gt = gy.transpose(1, 0, 2, 3)
    body = rows[:, :, :(oh - 1) * wp].reshape(o, m, oh - 1, wp)   # all rows but the last: a view
    body[..., :ow] = gt[:, :, :-1]
    body[..., ow:] = 0
    rows[:, :, (oh - 1) * wp:] = gt[:, :, -1]
    return rows.reshape(g.groups, o // g.groups, -1)


def _col2im_rows(cols, g: Geometry, shape, out):
    """The adjoint of _im2col_rows into `out` (a C-contiguous array of `shape` (m, C, H, W))."""
    n, c, h, w = shape
    t, b, l, r = g.pads
    hp, wp = h + t + b, w + l + r
    count = _positions(g, wp)
    xp = xp_of(cols)
    cols = cols.reshape(c, g.kh, g.kw, n, count)
    padded = bool(t or b or l or r)
    acc = xp.empty((n, c, hp * wp), dtype=cols.dtype) if padded else out.reshape(n, c, h * w)
    view = acc.transpose(1, 0, 2)                                 # (C, m, Hp*Wp), like the columns
    view[:, :, :count] = cols[:, 0, 0]                            # offset (0, 0) starts at 0
    view[:, :, count:] = 0
    for i in range(g.kh):
        for j in range(g.kw):
            if i or j:
                start = i * g.dh * wp + j * g.dw
                view[:, :, start:start + count] += cols[:, i, j]
    if padded:
        out[...] = acc.reshape(n, c, hp, wp)[:, :, t:t + h, l:l + w]
    return out


def _columns(x, g: Geometry, wp):
    return _im2col(x, g) if wp is None else _im2col_rows(x, g)


def _gradient_columns(gy, g: Geometry, wp):
    return _grad_columns(gy, g.groups) if wp is None else _grad_rows(gy, g, wp)


def _chunks(n: int, per_image_bytes: int, arr):
    """Batch slices whose columns stay within the device's column budget (at least one image)."""
    step = max(1, column_budget(arr) // max(1, per_image_bytes))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _grad_columns(gy, groups: int):
    """gy (m, O, OH, OW) -> (groups, O/groups, m*OH*OW): the layout the products need."""
    m, o = gy.shape[:2]
    xp = xp_of(gy)
    return xp.ascontiguousarray(gy.reshape(m, o, -1).transpose(1, 0, 2)).reshape(groups, o // groups, -1)


class Convolution(Op):
    """y = conv2d(x, w) (+ b): chunked im2col and GEMM, the bias added during the copy to NCHW."""

    save_inputs = (0, 1)

    def __init__(self, geom: Geometry):
        self.g = geom

    def forward(self, x, w, b=None):
        if conv_algo.on_cuda(x):  # cuDNN or this im2col path, chosen by measurement (fused/conv_algo.py)
            return conv_algo.fprop(x, w, b, self.g, self._im2col)
        return self._im2col(x, w, b)

    def _im2col(self, x, w, b=None):
        g = self.g
        n, o = x.shape[0], w.shape[0]
        xp = xp_of(x)
        y = xp.empty((n, o, g.oh, g.ow), dtype=x.dtype)
        wm = w.reshape(g.groups, o // g.groups, -1)                   # (G, O/G, C/G*kh*kw)
        wp = _row_width(x.shape, g, x)
        per_image = w[0].size * g.groups * _positions(g, wp) * x.itemsize
        for sl in _chunks(n, per_image, x):
            prod = xp.matmul(wm, _columns(x[sl], g, wp)).reshape(o, sl.stop - sl.start, -1)
            if wp is None:
                out = prod.reshape(prod.shape[:2] + (g.oh, g.ow))
            else:
                out = _windows_of_rows(prod, g, wp)
            out = out.transpose(1, 0, 2, 3)                           # (m, O, OH, OW), a view
            if b is None:
                y[sl] = out
            else:
                xp.add(out, b.reshape(o, 1, 1), out=y[sl])
        return y

    def backward(self, grad):
        x, w = self.saved_tensors
        need = self.needs_input_grad
        gx = ConvInputGrad(self.g, tuple(x.shape))(grad, w) if need[0] else None
        gw = ConvWeightGrad(self.g, tuple(w.shape))(x, grad) if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (grad.sum((0, 2, 3)) if need[2] else None)


class ConvInputGrad(Op):
    """gx = the adjoint of conv2d in its input, applied to gy (m, O, OH, OW) with weight w:
    per chunk, columns w^T gy, then col2im onto `in_shape`. Also conv_transpose2d's forward."""

    save_inputs = (0, 1)

    def __init__(self, geom: Geometry, in_shape):
        self.g, self.in_shape = geom, in_shape

    def forward(self, gy, w):
        if conv_algo.on_cuda(gy):
            return conv_algo.dgrad(gy, w, self.g, self.in_shape, self._im2col)
        return self._im2col(gy, w)

    def _im2col(self, gy, w):
        g = self.g
        n, c, h, wd = self.in_shape
        xp = xp_of(gy)
        gx = xp.empty(self.in_shape, dtype=gy.dtype)
        wt = w.reshape(g.groups, w.shape[0] // g.groups, -1).transpose(0, 2, 1)  # (G, C/G*kh*kw, O/G)
        wp = _row_width(self.in_shape, g, gy)
        if wp is not None and not xp.isfinite(w).all():
            wp = None           # inf * the zero gradient at positions that are no window is NaN
        per_image = w[0].size * g.groups * _positions(g, wp) * gy.itemsize
        for sl in _chunks(n, per_image, gy):
            cols = xp.matmul(wt, _gradient_columns(gy[sl], g, wp))
            shape = (sl.stop - sl.start, c, h, wd)
            if wp is None:
                _col2im(cols, g, shape, out=gx[sl])
            else:
                _col2im_rows(cols, g, shape, out=gx[sl])
        return gx

    def backward(self, ggx):
        gy, w = self.saved_tensors
        need = self.needs_input_grad
        dgy = Convolution(self.g)(ggx, w) if need[0] else None
        dw = ConvWeightGrad(self.g, tuple(w.shape))(ggx, gy) if need[1] else None
        return dgy, dw


class ConvWeightGrad(Op):
    """gw = the adjoint of conv2d in its weight: sum over chunks of gy-columns times x's columns."""

    save_inputs = (0, 1)

    def __init__(self, geom: Geometry, w_shape):
        self.g, self.w_shape = geom, w_shape

    def forward(self, x, gy):
        if conv_algo.on_cuda(x):
            return conv_algo.wgrad(x, gy, self.g, self.w_shape, self._im2col)
        return self._im2col(x, gy)

    def _im2col(self, x, gy):
        wp = _row_width(x.shape, self.g, x)
        gw = self._sum(x, gy, wp)
        if wp is not None and xp_of(gw).isnan(gw).any():
            # a non-finite input at a position that is no window times its zero gradient is NaN;
            # the window columns say whether the true gradient has one
            gw = self._sum(x, gy, None)
        return gw

    def _sum(self, x, gy, wp):
        g = self.g
        xp = xp_of(x)
        o = self.w_shape[0]
        # accumulated transposed, (G, C/G*kh*kw, O/G): BLAS runs this orientation 20% faster here
        acc = xp.zeros((g.groups, self.w_shape[1] * g.kh * g.kw, o // g.groups), dtype=x.dtype)
        per_image = acc[0, :, 0].size * g.groups * _positions(g, wp) * x.itemsize
        for sl in _chunks(x.shape[0], per_image, x):
            acc += xp.matmul(_columns(x[sl], g, wp), _gradient_columns(gy[sl], g, wp).transpose(0, 2, 1))
        return xp.ascontiguousarray(acc.transpose(0, 2, 1)).reshape(self.w_shape)

    def backward(self, ggw):
        x, gy = self.saved_tensors
        need = self.needs_input_grad
        dx = ConvInputGrad(self.g, tuple(x.shape))(gy, ggw) if need[0] else None
        dgy = Convolution(self.g)(x, ggw) if need[1] else None
        return dx, dgy


class Im2col(Op):
    """x (N, C, H, W) -> columns (groups, C/groups*kh*kw, N*OH*OW), for avg_pool2d."""

    def __init__(self, geom: Geometry, pad_value=0.0):
        self.g, self.pad_value = geom, pad_value

    def forward(self, x):
        self.in_shape = x.shape
        return _im2col(x, self.g, self.pad_value)

    def backward(self, grad):
        return Col2im(self.g, self.in_shape)(grad)


class Col2im(Op):
    """The adjoint of Im2col: columns back to (N, C, H, W), overlapping windows summed."""

    def __init__(self, geom: Geometry, shape):
        self.g, self.shape = geom, shape

    def forward(self, cols):
        return xp_of(cols).ascontiguousarray(_col2im(cols, self.g, self.shape))  # a crop when padded

    def backward(self, grad):
        return Im2col(self.g)(grad)


# ---------------------------------------------------------------- argument parsing
def _tuple(v, n: int, op: str, name: str) -> tuple:
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            v = tuple(v) * n
        if len(v) != n or not all(isinstance(e, int) and not isinstance(e, bool) for e in v):
            raise RuntimeError(f"{op}: expected {name} to be a single int or a tuple of {n} ints, got {v!r}")
        return tuple(v)
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{op}(): argument '{name}' must be an int or a tuple of ints, not {type(v).__name__}")
    return (v,) * n


def _out_size(size, k, s, d, p_total):
    return (size + p_total - d * (k - 1) - 1) // s + 1


def _shape(t) -> list:
    return list(t._data.shape)


def _check_conv_args(op, input, weight, bias, nd):
    """Checks for convNd with nd spatial dims; returns (input as batched, was it unbatched)."""
    check_tensor(op, input, "input")
    check_tensor(op, weight, "weight")
    if bias is not None:
        check_tensor(op, bias, "bias")
    x = input._data
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got input "
                           f"of size: {list(x.shape)}")
    if weight._data.ndim != nd + 2:
        raise RuntimeError(f"{op}: expected weight to be {nd + 2}-D (out_channels, in_channels/groups, "
                           f"kernel...), got weight of shape {_shape(weight)}")
    if x.dtype != weight._data.dtype or (bias is not None and bias._data.dtype != x.dtype):
        raise RuntimeError(f"{op}: expected input, weight and bias to have the same dtype, got input "
                           f"{input.dtype}, weight {weight.dtype}" + (f", bias {bias.dtype}" if bias is not None
                                                                      else "") + "; convert with .to(dtype)")
    unbatched = x.ndim == nd + 1
    return (input.unsqueeze(0) if unbatched else input), unbatched


def _conv2d(op, input, weight, bias, stride, padding, dilation, groups, shown=None):
    """conv2d on a batched 4-D input; `shown`: the user's input/weight shapes for error text (conv1d)."""
    x, w = input._data, weight._data
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    in_s, w_s = shown or (list(x.shape), list(w.shape))
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise RuntimeError(f"{op}: non-positive groups is not supported (got groups={groups!r})")
    if c != cg * groups:
        raise RuntimeError(f"{op}: expected input with {cg * groups} channels (weight {w_s}, groups {groups}), "
                           f"got input of shape {in_s}")
    if o % groups:
        raise RuntimeError(f"{op}: out_channels ({o}, weight {w_s}) must be divisible by groups ({groups})")
    if bias is not None and tuple(bias._data.shape) != (o,):
        raise RuntimeError(f"{op}: expected bias of shape [{o}] (weight {w_s}), got bias of shape "
                           f"{_shape(bias)}")
    stride = _tuple(stride, 2, op, "stride")
    dilation = _tuple(dilation, 2, op, "dilation")
    if min(stride) < 1:
        raise RuntimeError(f"{op}: non-positive stride is not supported (got stride={list(stride)})")
    if min(dilation) < 1:
        raise RuntimeError(f"{op}: dilation should be greater than zero (got dilation={list(dilation)})")
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise RuntimeError(f"{op}: padding='same' is not supported for strided convolutions "
                                   f"(stride={list(stride)})")
            th, tw = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)  # any extra on the bottom/right, as torch
        else:
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of ['valid', 'same']")
    else:
        ph, pw = _tuple(padding, 2, op, "padding")
        if ph < 0 or pw < 0:
            raise RuntimeError(f"{op}: negative padding is not supported (got padding={[ph, pw]})")
        pads = (ph, ph, pw, pw)
    eff = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    padded = (h + pads[0] + pads[1], wd + pads[2] + pads[3])
    if eff[0] > padded[0] or eff[1] > padded[1]:
        raise RuntimeError(f"{op}: kernel size (dilated) {eff} is larger than the padded input {padded} "
                           f"(input {in_s}, weight {w_s}, padding {list(pads)} as top, bottom, left, right)")
    oh = _out_size(h, kh, stride[0], dilation[0], pads[0] + pads[1])
    ow = _out_size(wd, kw, stride[1], dilation[1], pads[2] + pads[3])
    geom = Geometry((kh, kw), stride, dilation, pads, groups, (oh, ow))
    return Convolution(geom)(input, weight) if bias is None else Convolution(geom)(input, weight, bias)


@_autocast.policy(cuda="lower", cpu="lower")
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) over NCHW input, torch.nn.functional.conv2d's signature:
    weight (out_channels, in_channels/groups, kH, kW); padding an int, a pair, 'valid' or 'same'.
    A 3-D input is one unbatched image."""
    x, unbatched = _check_conv_args("conv2d", input, weight, bias, 2)
    out = _conv2d("conv2d", x, weight, bias, stride, padding, dilation, groups,
                  (_shape(input), _shape(weight)))
    return out.squeeze(0) if unbatched else out


@_autocast.policy(cuda="lower", cpu="lower")
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C, L) input: conv2d on a height-1 image. A 2-D input is unbatched."""
    x, unbatched = _check_conv_args("conv1d", input, weight, bias, 1)
    if not isinstance(padding, str):
        padding = (0,) + _tuple(padding, 1, "conv1d", "padding")
    out = _conv2d("conv1d", x.unsqueeze(2), weight.unsqueeze(2), bias,
                  (1,) + _tuple(stride, 1, "conv1d", "stride"), padding,
                  (1,) + _tuple(dilation, 1, "conv1d", "dilation"), groups,
                  (_shape(input), _shape(weight))).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _conv_transpose2d(op, x, weight, bias, stride, padding, output_padding, groups, dilation, shown=None):
    """conv_transpose2d on a batched 4-D input; `shown`: the user's input/weight shapes for error text."""
    n, c, h, wd = x._data.shape
    ci, og, kh, kw = weight._data.shape
    in_s, w_s = shown or (_shape(x), _shape(weight))
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise RuntimeError(f"{op}: non-positive groups is not supported (got groups={groups!r})")
    if c != ci:
        raise RuntimeError(f"{op}: expected input with {ci} channels (weight {w_s}, groups {groups}), "
                           f"got input of shape {in_s}")
    if ci % groups:
        raise RuntimeError(f"{op}: in_channels ({ci}, weight {w_s}) must be divisible by groups "
                           f"({groups})")
    o = og * groups
    if bias is not None and tuple(bias._data.shape) != (o,):
        raise RuntimeError(f"{op}: expected bias of shape [{o}] (weight {w_s}), got bias of shape "
                           f"{_shape(bias)}")
    stride = _tuple(stride, 2, op, "stride")
    dilation = _tuple(dilation, 2, op, "dilation")
    pad = _tuple(padding, 2, op, "padding")
    opad = _tuple(output_padding, 2, op, "output_padding")
    if min(stride) < 1 or min(dilation) < 1 or min(pad) < 0:
        raise RuntimeError(f"{op}: stride and dilation must be positive and padding non-negative (got stride="
                           f"{list(stride)}, dilation={list(dilation)}, padding={list(pad)})")
    for k in range(2):
        if not 0 <= opad[k] < max(stride[k], dilation[k]):
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={list(opad)}, stride={list(stride)}, dilation={list(dilation)}")
    hout = (h - 1) * stride[0] - 2 * pad[0] + dilation[0] * (kh - 1) + opad[0] + 1
    wout = (wd - 1) * stride[1] - 2 * pad[1] + dilation[1] * (kw - 1) + opad[1] + 1
    if hout <= 0 or wout <= 0:
        raise RuntimeError(f"{op}: output size {[hout, wout]} is too small (input {in_s}, weight "
                           f"{w_s}, stride {list(stride)}, padding {list(pad)})")
    # the conv2d this transposes maps (hout, wout) padded by pad (+ output_padding on the far side) to (h, w)
    geom = Geometry((kh, kw), stride, dilation, (pad[0], pad[0], pad[1], pad[1]), groups, (h, wd))
    # weight (in, out/groups, kh, kw) is that conv2d's weight; output_padding rows get no window
    out = ConvInputGrad(geom, (n, o, hout, wout))(x, weight)
    if bias is not None:
        out = out + bias.reshape(1, o, 1, 1)
    return out


@_autocast.policy(cuda="lower", cpu="lower")
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the gradient of conv2d with respect to its input), with
    torch.nn.functional.conv_transpose2d's signature: weight (in_channels, out_channels/groups, kH, kW).
    A 3-D input is unbatched."""
    x, unbatched = _check_conv_args("conv_transpose2d", input, weight, bias, 2)
    out = _conv_transpose2d("conv_transpose2d", x, weight, bias, stride, padding, output_padding, groups, dilation,
                            (_shape(input), _shape(weight)))
    return out.squeeze(0) if unbatched else out


@_autocast.policy(cuda="lower", cpu="lower")
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution over (N, C, L) or unbatched (C, L) input: conv_transpose2d on a
    height-1 image; weight (in_channels, out_channels/groups, k)."""
    op = "conv_transpose1d"
    x, unbatched = _check_conv_args(op, input, weight, bias, 1)
    one = lambda v, name: (0 if name in ("padding", "output_padding") else 1,) + _tuple(v, 1, op, name)  # noqa: E731
    out = _conv_transpose2d(op, x.unsqueeze(2), weight.unsqueeze(2), bias, one(stride, "stride"),
                            one(padding, "padding"), one(output_padding, "output_padding"), groups,
                            one(dilation, "dilation"), (_shape(input), _shape(weight))).squeeze(2)
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------- 3-D: depth taps unfolded into channels
# A 3-D convolution is a 2-D one over (H, W) once the kd depth taps of each output depth are side
# by side as channels: x (N, C, D, H, W) -> (N*OD, kd*C, H, W), weight (O, C/g, kd, kh, kw) ->
# (O, kd*C/g, kh, kw), channels ordered (group, tap, channel) so groups stay contiguous. One conv2d
# (one GEMM per group, the CUDA paths included) does the rest; its transpose, conv_transpose2d,
# followed by the adjoint of the unfolding (strided adds along depth), is conv_transpose3d.
# Both are compositions of differentiable ops, so derivatives of every order work.

def _depth_taps(x, k, s, d, od):
    """(N, C, D', H, W) -> (N, k, C, od, H, W): for each tap i, the planes i*d + j*s, j < od."""
    from .shape import stack
    return stack([x[:, :, i * d:i * d + s * (od - 1) + 1:s] for i in range(k)], 1)


def _as_channels(weight, groups):
    """(A, B, kd, kh, kw) -> (A, kd*B, kh, kw), channel tap*B + b: the layout of conv3d's unfolded groups."""
    a, b, kd, kh, kw = weight._data.shape
    return weight.permute(0, 2, 1, 3, 4).reshape(a, kd * b, kh, kw)


def _check_groups(op, c_in, c_weight, o, groups, bias, in_s, w_s):
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise RuntimeError(f"{op}: non-positive groups is not supported (got groups={groups!r})")
    if c_in != c_weight:
        raise RuntimeError(f"{op}: expected input with {c_weight} channels (weight {w_s}, groups {groups}), "
                           f"got input of shape {in_s}")
    if o % groups or c_in % groups:
        raise RuntimeError(f"{op}: in_channels ({c_in}) and out_channels ({o}) (weight {w_s}) must be divisible "
                           f"by groups ({groups})")
    if bias is not None and tuple(bias._data.shape) != (o,):
        raise RuntimeError(f"{op}: expected bias of shape [{o}] (weight {w_s}), got bias of shape {_shape(bias)}")


@_autocast.policy(cuda="lower", cpu="lower")
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation) over (N, C, D, H, W) or unbatched (C, D, H, W) input,
    torch.nn.functional.conv3d's signature: weight (out_channels, in_channels/groups, kD, kH, kW);
    padding an int, a triple, 'valid' or 'same'."""
    op = "conv3d"
    x, unbatched = _check_conv_args(op, input, weight, bias, 3)
    in_s, w_s = _shape(input), _shape(weight)
    n, c, dep = x._data.shape[:3]
    o, cg, kd = weight._data.shape[:3]
    _check_groups(op, c, cg * groups if isinstance(groups, int) else c, o, groups, bias, in_s, w_s)
    stride = _tuple(stride, 3, op, "stride")
    dilation = _tuple(dilation, 3, op, "dilation")
    if min(stride) < 1:
        raise RuntimeError(f"{op}: non-positive stride is not supported (got stride={list(stride)})")
    if min(dilation) < 1:
        raise RuntimeError(f"{op}: dilation should be greater than zero (got dilation={list(dilation)})")
    if isinstance(padding, str):
        if padding == "same" and stride != (1, 1, 1):
            raise RuntimeError(f"{op}: padding='same' is not supported for strided convolutions "
                               f"(stride={list(stride)})")
        if padding not in ("same", "valid"):
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of ['valid', 'same']")
        total = dilation[0] * (kd - 1) if padding == "same" else 0
        front, back, hw_pad = total // 2, total - total // 2, padding   # any extra at the back, as torch
    else:
        pads = _tuple(padding, 3, op, "padding")
        if min(pads) < 0:
            raise RuntimeError(f"{op}: negative padding is not supported (got padding={list(pads)})")
        front, back, hw_pad = pads[0], pads[0], pads[1:]
    eff = dilation[0] * (kd - 1) + 1
    if eff > dep + front + back:
        raise RuntimeError(f"{op}: kernel depth (dilated) {eff} is larger than the padded input depth "
                           f"{dep + front + back} (input {in_s}, weight {w_s}, depth padding {[front, back]})")
    od = _out_size(dep, kd, stride[0], dilation[0], front + back)
    if front or back:
        from .index import pad
        x = pad(x, (0, 0, 0, 0, front, back))
    h, w = x._data.shape[3:]
    cols = _depth_taps(x, kd, stride[0], dilation[0], od)                   # (N, kd, C, OD, H, W)
    cols = cols.reshape(n, kd, groups, c // groups, od, h, w).permute(0, 4, 2, 1, 3, 5, 6)
    cols = cols.reshape(n * od, c * kd, h, w)                                # channels (group, tap, c)
    y = _conv2d(op, cols, _as_channels(weight, groups), bias, stride[1:], hw_pad, dilation[1:], groups,
                (in_s, w_s))                                                 # (N*OD, O, OH, OW)
    y = y.reshape(n, od, o, *y._data.shape[2:]).permute(0, 2, 1, 3, 4)
    return y.squeeze(0) if unbatched else y


@_autocast.policy(cuda="lower", cpu="lower")
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-D convolution (the gradient of conv3d with respect to its input), with
    torch.nn.functional.conv_transpose3d's signature: weight (in_channels, out_channels/groups, kD, kH, kW).
    A 4-D input is unbatched."""
    op = "conv_transpose3d"
    x, unbatched = _check_conv_args(op, input, weight, bias, 3)
    in_s, w_s = _shape(input), _shape(weight)
    n, c, dep, h, w = x._data.shape
    ci, og, kd = weight._data.shape[:3]
    _check_groups(op, c, ci, og * groups if isinstance(groups, int) else ci, groups, bias, in_s, w_s)
    stride = _tuple(stride, 3, op, "stride")
    dilation = _tuple(dilation, 3, op, "dilation")
    pad = _tuple(padding, 3, op, "padding")
    opad = _tuple(output_padding, 3, op, "output_padding")
    if min(stride) < 1 or min(dilation) < 1 or min(pad) < 0:
        raise RuntimeError(f"{op}: stride and dilation must be positive and padding non-negative (got stride="
                           f"{list(stride)}, dilation={list(dilation)}, padding={list(pad)})")
    for k in range(3):
        if not 0 <= opad[k] < max(stride[k], dilation[k]):
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={list(opad)}, stride={list(stride)}, dilation={list(dilation)}")
    sd, dd = stride[0], dilation[0]
    full = (dep - 1) * sd + dd * (kd - 1) + 1 + opad[0]                    # output depth before the crop
    dout = full - 2 * pad[0]
    if dout <= 0:
        raise RuntimeError(f"{op}: output depth {dout} is too small (input {in_s}, weight {w_s}, stride "
                           f"{list(stride)}, padding {list(pad)})")
    o = og * groups
    # the transpose of conv2d over the unfolded channels: (N*D, Cin, H, W) -> (N*D, g*kd*O/g, Hout, Wout)
    flat = x.permute(0, 2, 1, 3, 4).reshape(n * dep, c, h, w)
    z = _conv_transpose2d(op, flat, _as_channels(weight, groups), None, stride[1:], pad[1:], opad[1:], groups,
                          dilation[1:], (in_s, w_s))
    ho, wo = z._data.shape[2:]
    z = z.reshape(n, dep, groups, kd, og, ho * wo).permute(0, 3, 2, 4, 1, 5).reshape(n, kd, o, dep, ho * wo)
    # the adjoint of _depth_taps: tap i of input plane j lands on output plane i*dd + j*sd
    from .index import pad as _pad_t
    spread = _pad_t(z.unsqueeze(4), (0, 0, 0, sd - 1)).reshape(n, kd, o, dep * sd, ho * wo)
    out = None
    for i in range(kd):
        after = full - i * dd - dep * sd                                   # >= 1 - sd: crops only spread zeros
        part = _pad_t(spread[:, i], (0, 0, i * dd, after))
        out = part if out is None else out + part
    out = _pad_t(out, (0, 0, -pad[0], -pad[0])).reshape(n, o, dout, ho, wo)
    if bias is not None:
        out = out + bias.reshape(1, o, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
