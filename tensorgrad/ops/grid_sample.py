"""affine_grid and grid_sample (torch.nn.functional's): spatial transformer sampling.

affine_grid maps an output pixel grid through a batch of affine matrices; it is a matmul of a
constant base grid with theta, so its gradient comes from matmul.

grid_sample reads `input` at the normalized (x, y[, z]) points of `grid`. It is composed of ops
that already have backward and double backward, so both gradients follow:

- `SourceIndex` turns one grid component into a pixel coordinate with PyTorch's padding rule
  (border clipping, reflection). That map is piecewise linear; its slope is kept as an array, as
  PyTorch's *_set_grad helpers do, so the coordinate is differentiable w.r.t. the grid.
- Each output point reads a few taps per spatial dim (1 nearest, 2 bilinear, 4 bicubic); the
  tap combinations ("corners") are gathered from the flattened input in one `Index` op (its
  backward is a scatter-add, `xp.add.at`) and summed with weights built from the fractional
  coordinates by tensor ops, which carry the gradient w.r.t. the grid. Out-of-bounds taps read 0.

No Python loop runs over pixels: the loops are over spatial dims and the 1 to 16 corners.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from .. import autocast_mode as _autocast
from ..autograd.function import Op
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor
from .arithmetic import where
from .index import Index
from .interpolate import _cubic_weights  # PyTorch's cubic convolution (A = -0.75)
from .shape import stack

_MODES = ("bilinear", "nearest", "bicubic")
_PADDING_MODES = ("zeros", "border", "reflection")
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def _const(arr) -> Tensor:
    return Tensor._make(arr, None, 0, None)


def _align(align_corners) -> bool:
    """None means False, with PyTorch's warning that the default changed in 1.3.0."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


# ---------------------------------------------------------------- affine_grid
def _base_coords(n: int, align_corners: bool, dtype) -> np.ndarray:
    """n pixel centres in [-1, 1] (corner pixels' centres at -1 and 1 when align_corners); 0 when n == 1.
    Built in theta's dtype with PyTorch's linspace and rounding steps, so the grid matches it bit for bit."""
    if n <= 1:
        return np.zeros(1, dtype)
    from ..creation import _linspace_array
    r = _linspace_array(np, -1.0, 1.0, n, dtype)
    if align_corners:
        return r
    return ((r * dtype.type(n - 1)).astype(dtype) / dtype.type(n)).astype(dtype)


def affine_grid(theta, size, align_corners=None):
    """A sampling grid (N, H, W, 2) from affine matrices theta (N, 2, 3) for size (N, C, H, W), or
    (N, D, H, W, 3) from theta (N, 3, 4) for size (N, C, D, H, W): grid[n, i, j] = theta[n] @ (x_j, y_i, 1)."""
    check_tensor("affine_grid", theta, "theta")
    align_corners = _align(align_corners)
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    k = len(size) - 2  # spatial dims
    if theta.dim() != 3 or tuple(theta.shape[1:]) != (k, k + 1):
        raise ValueError(f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} for size {size}. "
                         f"Got {theta.shape}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid(): theta holds {theta.shape[0]} matrices but size {size} asks for a batch "
                           f"of {size[0]}; theta.shape[0] must equal size[0]")
    if align_corners and min(size[2:]) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", UserWarning, stacklevel=2)
    # homogeneous base coordinates (*spatial, k + 1): x varies along the last dim, then y, then z
    spatial = size[2:]
    dtype = theta._data.dtype
    axes = [_base_coords(n, align_corners, dtype) for n in spatial[::-1]]  # x (W), y (H)[, z (D)]
    mesh = np.meshgrid(*axes[::-1], indexing="ij")               # each of shape `spatial`
    base = np.stack(list(mesh[::-1]) + [np.ones(spatial, dtype)], axis=-1).reshape(-1, k + 1)
    from ..creation import tensor as _tensor
    base = _tensor(base, device=theta.device)
    grid = base.matmul(theta.transpose(1, 2))                    # (N, prod(spatial), k)
    return grid.reshape((size[0],) + spatial + (k,))


# ---------------------------------------------------------------- source coordinates (raw arrays)
def _clip(xp, c, size: int):
    """Border padding: clamp to [0, size - 1]; slope 0 where clamped (PyTorch's clip_coordinates_set_grad)."""
    return xp.clip(c, 0, size - 1), (c > 0) & (c < size - 1)  # zero slope exactly at the ends too


def _reflect(xp, c, twice_low: int, twice_high: int):
    """Fold c into [twice_low / 2, twice_high / 2] by reflecting at the ends; returns (value, slope +-1)."""
    if twice_low == twice_high:  # a one-pixel dim (align_corners): everything lands on pixel 0
        return xp.zeros_like(c), xp.zeros_like(c)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    d = c - low
    sign = xp.where(d < 0, -1.0, 1.0)
    d = xp.abs(d)
    extra = xp.fmod(d, span)
    odd = xp.floor(d / span) % 2 == 1  # an odd number of reflections runs backwards
    return xp.where(odd, span - extra + low, extra + low), xp.where(odd, -sign, sign)


def _pad_coordinate(xp, c, size: int, padding_mode: str, align_corners: bool):
    """PyTorch's padding rule applied to pixel coordinate c: (value, slope d value / d c)."""
    if padding_mode == "border":
        return _clip(xp, c, size)
    if padding_mode == "reflection":
        c, s1 = _reflect(xp, c, 0, 2 * (size - 1)) if align_corners else _reflect(xp, c, -1, 2 * size - 1)
        c, s2 = _clip(xp, c, size)
        return c, s1 * s2
    return c, None


def _unnormalize(g, size: int, align_corners: bool):
    """Normalized [-1, 1] to pixel coordinates: (value, slope)."""
    if align_corners:
        return (g + 1) / 2 * (size - 1), (size - 1) / 2
    return ((g + 1) * size - 1) / 2, size / 2


class SourceIndex(Op):
    """One grid component to a pixel coordinate of a dim of `size` pixels (padding applied unless
    `pad` is False). Piecewise linear: the backward scales by the slope kept from the forward."""

    def __init__(self, size: int, padding_mode: str, align_corners: bool, pad: bool = True):
        self.size, self.padding_mode, self.align_corners, self.pad = size, padding_mode, align_corners, pad

    def forward(self, g):
        xp = xp_of(g)
        c, scale = _unnormalize(g, self.size, self.align_corners)
        slope = None
        if self.pad:
            c, slope = _pad_coordinate(xp, c, self.size, self.padding_mode, self.align_corners)
        slope = xp.full_like(g, scale) if slope is None else (slope * scale).astype(g.dtype)
        self.ctx_arrays = (slope,)
        return c.astype(g.dtype, copy=False)

    def backward(self, grad):
        return grad * _const(self.saved_arrays[0])


class NoGridGrad(Op):
    """Passes nearest-mode samples through; the grid gets PyTorch's all-zero gradient (the samples
    are piecewise constant in the grid)."""

    is_view = True

    def forward(self, out, grid):
        self.grid_meta = (grid.shape, grid.dtype)
        return out[...]

    def backward(self, grad):
        xp = xp_of(grad._data)
        return grad, _const(xp.zeros(*self.grid_meta))


# ---------------------------------------------------------------- taps along one dim
def _in_bounds(idx, size: int):
    return (idx >= 0) & (idx <= size - 1)


def _taps(grid_k, size: int, mode: str, padding_mode: str, align_corners: bool):
    """The taps of one spatial dim: a list of (index array, in-bounds mask, weight Tensor or None);
    arrays of shape (N, P). Index values are only meaningful where the mask holds."""
    xp = xp_of(grid_k._data)
    if mode == "nearest":
        c = SourceIndex(size, padding_mode, align_corners)(grid_k.detach())._data
        idx = xp.rint(c)  # round half to even, as PyTorch's nearbyint
        return [(idx, _in_bounds(idx, size), None)]
    if mode == "bilinear":
        c = SourceIndex(size, padding_mode, align_corners)(grid_k)
        lo = xp.floor(c._data)
        t = c - _const(lo)
        return [(lo, _in_bounds(lo, size), 1 - t), (lo + 1, _in_bounds(lo + 1, size), t)]
    # bicubic: the coordinate is not padded; each of the 4 integer taps is (PyTorch's get_value_bounded)
    c = SourceIndex(size, padding_mode, align_corners, pad=False)(grid_k)
    lo = xp.floor(c._data)
    weights = _cubic_weights(c - _const(lo))
    taps = []
    for j, w in enumerate(weights):
        idx, _ = _pad_coordinate(xp, lo + (j - 1), size, padding_mode, align_corners)
        taps.append((idx, _in_bounds(idx, size), w))
    return taps


def _sample(input, dim_taps, out_spatial):
    """Sum over tap combinations of weight * input[n, :, taps]: (N, C, *out_spatial)."""
    x = input._data
    xp = xp_of(x)
    n, c = x.shape[:2]
    in_spatial = x.shape[2:]
    strides = [int(np.prod(in_spatial[d + 1:])) for d in range(len(in_spatial))]
    flats, masks, weights = [], [], []
    for corner in itertools.product(*dim_taps):
        flat, ok, w = 0, True, None
        for (idx, inb, wt), stride in zip(corner, strides):
            flat = flat + xp.where(inb, idx, 0).astype(np.int64) * stride
            ok = ok & inb
            w = wt if w is None else w * wt
        flats.append(flat)
        masks.append(ok)
        weights.append(w)
    p = flats[0].shape[1]
    k = len(flats)
    key = (xp.arange(n).reshape(n, 1, 1), xp.arange(c).reshape(1, c, 1), xp.stack(flats, 1).reshape(n, 1, k * p))
    vals = Index((Ellipsis,), (0, 1, 2), key)(input.reshape(n, c, -1)).reshape(n, c, k, p)
    mask = _const(xp.stack(masks, 1).reshape(n, 1, k, p))
    if weights[0] is None:  # nearest: one corner, weight 1
        out = where(mask, vals, 0.0)
    else:  # `where`, not a product with the mask: an infinite weight must not turn into NaN
        out = (vals * where(mask, stack(weights, 1).reshape(n, 1, k, p), 0.0)).sum(2)
    return out.reshape((n, c) + tuple(out_spatial))


# ---------------------------------------------------------------- grid_sample
def _check(input, grid, mode, padding_mode):
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    sizes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.dim() not in (4, 5) or grid.dim() != input.dim():
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, "
                           f"but got {sizes}")
    if not input.is_floating_point() or input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to be floating point tensors of the same "
                           f"dtype, but got input of dtype {input.dtype} and grid of dtype {grid.dtype}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got {sizes}")
    k = input.dim() - 2
    if grid.shape[-1] != k:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {k} in last dimension, but got grid with "
                           f"sizes {list(grid.shape)}")
    for d in range(2, input.dim()):
        if input.shape[d] == 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {list(input.shape)} with dimension {d} being empty")
    if mode == "bicubic" and k != 2:
        raise RuntimeError(f"grid_sampler(): bicubic interpolation only supports 4D input, got input with sizes "
                           f"{list(input.shape)}")


@_autocast.policy(cuda="promote", cpu="float32")
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample input (N, C, H, W) at grid (N, H_out, W_out, 2) -> (N, C, H_out, W_out); or volumetric
    input (N, C, D, H, W) at grid (N, D_out, H_out, W_out, 3). grid[..., 0] is x (along W), [..., 1]
    y (along H)[, [..., 2] z (along D)], normalized so -1 and 1 are the input's edges (align_corners=
    False) or its corner pixels' centres (True). Mode 'bilinear' is trilinear for 5-D input."""
    check_tensor("grid_sample", input)
    check_tensor("grid_sample", grid, "grid")
    _check(input, grid, mode, padding_mode)
    align_corners = _align(align_corners)
    n, k = input.shape[0], input.dim() - 2
    out_spatial = tuple(grid.shape[1:-1])
    flat_grid = grid.reshape(n, -1, k)
    # grid components run x, y, z (W, H, D): the reverse of the input's spatial dims
    dim_taps = [_taps(flat_grid[..., k - 1 - d], input.shape[2 + d], mode, padding_mode, align_corners)
                for d in range(k)]
    out = _sample(input, dim_taps, out_spatial)
    return NoGridGrad()(out, grid) if mode == "nearest" else out


__all__ = ["affine_grid", "grid_sample"]
