"""Dropout (torch.nn.functional forms): dropout, dropout2d.

The keep mask is drawn with tensorgrad's per-device generator (so ``tg.manual_seed``
makes it reproducible), scaled by 1/(1-p) and kept in ``ctx_arrays``; the output is
input * mask and the backward multiplies the gradient by the same mask, as a product with
a constant tensor, so it is itself differentiable. dropout2d draws one mask value per
(sample, channel) and broadcasts it over the spatial dims.
"""
from __future__ import annotations

import warnings

from ..autograd.function import Op
from ..backend import random_uniform, xp_of
from ..tensor import Tensor
from ._util import check_tensor


def _const(arr) -> Tensor:
    return Tensor._make(arr, None, 0, None)


class Dropout(Op):
    """input * mask, the mask (already scaled by 1/(1-p), broadcastable to the input) in ctx_arrays."""

    def __init__(self, mask):
        self.ctx_arrays = (mask,)

    def forward(self, x):
        return x * self.ctx_arrays[0]

    def backward(self, grad):
        return grad * _const(self.saved_arrays[0])


def _check_p(p) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _mask(input, shape, p):
    """A mask of `shape` in the input's dtype and device: 1/(1-p) with probability 1-p, else 0."""
    x = input._data
    if p == 1:
        return xp_of(x).zeros_like(x, shape=shape)
    u = random_uniform(input.device, shape, x.dtype)
    return (u < (1.0 - p)).astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))


def _apply(op, input, p, training, inplace, mask_shape):
    if not training or p == 0 or input._data.size == 0:
        return input
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: result type Float can't be cast to the desired output type "
                           f"{input.dtype}; dropout needs a floating point input, convert with .float()")
    if inplace:
        return input._inplace(lambda t: Dropout(_mask(t, mask_shape, p))(t))
    return Dropout(_mask(input, mask_shape, p))(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability p and scales the rest by 1/(1-p) (when `training`)."""
    _check_p(p)
    check_tensor("dropout", input, "input")
    return _apply("dropout", input, p, training, inplace, input._data.shape)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels with probability p, scaling the rest by 1/(1-p) (when `training`).

    A 4-D input is (N, C, H, W): one draw per (sample, channel). A 3-D input is one unbatched
    (C, H, W) image: one draw per channel. (PyTorch 2.13 still reads a 3-D input as (N, C, L), with
    a warning that it will change to (C, H, W); tensorgrad implements the (C, H, W) reading.)
    Other ranks warn as in PyTorch and drop along dims 0 and 1."""
    _check_p(p)
    check_tensor("dropout2d", input, "input")
    shape = input._data.shape
    nd = len(shape)
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in "
                      "an error in a future release. To retain the behavior and silence this warning, please "
                      "use dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs "
                      "with 2 spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D "
                      "or 4D inputs).", stacklevel=2)
        if nd < 2:
            raise RuntimeError(f"dropout2d: Feature dropout requires at least 2 dimensions in the input, got "
                               f"input of size {list(shape)}")
        mask_shape = shape[:2] + (1,) * (nd - 2)
    elif nd == 3:
        mask_shape = (shape[0], 1, 1)
    else:
        mask_shape = (shape[0], shape[1], 1, 1)
    return _apply("dropout2d", input, p, training, inplace, mask_shape)


__all__ = ["dropout", "dropout2d"]
