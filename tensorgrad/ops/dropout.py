"""Dropout (torch.nn.functional forms): dropout, dropout1d, dropout2d, dropout3d, alpha_dropout,
feature_alpha_dropout.

Each call takes (seed, offset) from the input device's default generator (Generator.philox_draw,
so ``tg.manual_seed`` makes it reproducible) and fused.dropout draws the mask from them: on CUDA
with Philox4x32-10, regenerated wherever it is needed and never stored; on the CPU with NumPy's
Philox4x64 generator, kept as bits for the backward (or, after
``tensorgrad.fused.dropout.set_cpu_masks("philox")``, the very mask CUDA draws for that seed).
The forward is input * keep / (1-p), and the backward is
the same map on the gradient, i.e. the same op again, so it is itself differentiable to any
order. dropout1d/2d/3d draw one mask entry per (sample, channel), covering the `inner`
elements of that channel.

alpha_dropout keeps SELU's self-normalization: dropped units take SELU's negative saturation value
and an affine map restores zero mean and unit variance. Its mask is drawn by the same Dropout op (on
a tensor of ones), and the output is input * (keep * a) + shift: a product and a sum of tensors, so
the gradient, grad * keep * a, comes from those ops.
"""
from __future__ import annotations

import math
import warnings

from ..autograd.function import Op
from ..backend import philox_draw
from ..fused.dropout import dropout_apply_bits, dropout_forward, keep_threshold, philox_counters
from ._util import check_tensor


class Dropout(Op):
    """x * keep * scale, keep drawn by Philox at (seed, offset): one mask entry per `inner` elements.

    On CUDA only the five integers and floats are kept for backward, not a mask the size of the
    input; on the CPU also the mask packed to one bit per entry (fused/dropout.py says why)."""

    def __init__(self, seed: int, offset: int, threshold: int, scale: float, inner: int, keep_bits=None):
        self.seed, self.offset, self.threshold, self.scale, self.inner = seed, offset, threshold, scale, inner
        self.keep_bits = keep_bits

    def forward(self, x):
        if self.keep_bits is not None:
            return dropout_apply_bits(x, self.keep_bits, x.size // self.inner, self.scale, self.inner)
        y, bits = dropout_forward(x, self.seed, self.offset, self.threshold, self.scale, self.inner)
        if bits is not None:
            self.ctx_arrays = (bits,)
        return y

    def backward(self, grad):
        # d(x * keep * scale)/dx = keep * scale: the same mask applied to grad, by the same op
        saved = self.saved_arrays
        return Dropout(self.seed, self.offset, self.threshold, self.scale, self.inner,
                       saved[0] if saved else None)(grad)


def _check_p(p) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _check_float(op, input):
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: result type Float can't be cast to the desired output type "
                           f"{input.dtype}; dropout needs a floating point input, convert with .float()")


def _inner(shape, lead: int) -> int:
    """How many elements one mask entry covers: the product of the dims after the first `lead`."""
    inner = 1
    for d in shape[lead:]:
        inner *= d
    return inner


def _apply(op, input, p, training, inplace, inner):
    if not training or p == 0 or input._data.size == 0:
        return input
    _check_float(op, input)
    if p == 1:  # everything dropped: no draw, the generator's stream is left as it is
        seed = offset = 0
        threshold, scale = 0, 0.0
    else:
        threshold, scale = keep_threshold(p), 1.0 / (1.0 - p)
        seed, offset = philox_draw(input.device, philox_counters(input._data.size // inner))
    node = Dropout(seed, offset, threshold, scale, inner)
    if inplace:
        return input._inplace(node)
    return node(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability p and scales the rest by 1/(1-p) (when `training`)."""
    _check_p(p)
    check_tensor("dropout", input, "input")
    return _apply("dropout", input, p, training, inplace, 1)


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
        lead = 2  # one draw per (dim 0, dim 1) pair, as torch
    else:
        lead = nd - 2  # (C, H, W): per channel; (N, C, H, W): per (sample, channel)
    return _apply("dropout2d", input, p, training, inplace, _inner(shape, lead))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, L) or unbatched (C, L) input with probability p, scaling the
    rest by 1/(1-p) (when `training`): one draw per (sample, channel), or per channel."""
    _check_p(p)
    check_tensor("dropout1d", input, "input")
    nd = input.dim()
    if nd not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {nd}D input of shape "
                           f"{list(input.shape)}. Note that dropout1d exists to provide channel-wise dropout on "
                           f"inputs with 1 spatial dimension, a channel dimension, and an optional batch dimension "
                           f"(i.e. 2D or 3D inputs).")
    return _apply("dropout1d", input, p, training, inplace, _inner(input._data.shape, nd - 1))


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, D, H, W) or unbatched (C, D, H, W) input with probability p,
    scaling the rest by 1/(1-p) (when `training`). Other ranks warn as in PyTorch and are read as
    unbatched: one draw per entry of dim 0."""
    _check_p(p)
    check_tensor("dropout3d", input, "input")
    nd = input.dim()
    if nd not in (4, 5):
        warnings.warn(f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and will result in "
                      "an error in a future release. To retain the behavior and silence this warning, please "
                      "use dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs "
                      "with 3 spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D "
                      "or 5D inputs).", stacklevel=2)
        if nd == 0 and training and 0 < p < 1:
            raise RuntimeError("dropout3d: Feature dropout requires at least 2 dimensions in the input (a 0-D "
                               "input is read as unbatched and gets one dim, not two)")
    lead = 2 if nd == 5 else 1
    return _apply("dropout3d", input, p, training, inplace, _inner(input._data.shape, lead))


# SELU's scale * alpha: dropped units are set to -_SELU_SAT, the value SELU saturates to for x -> -inf
_SELU_SAT = 1.7580993408473766


def _alpha_apply(op, input, p, training, inplace, inner):
    """input * keep * a + a * SELU_SAT * (keep - 1 + p), with a = 1/sqrt((SAT^2 p + 1)(1 - p)): zero
    mean and unit variance in, zero mean and unit variance out (Klambauer et al., 2017)."""
    if not training or p == 0 or input._data.size == 0:
        return input
    _check_float(op, input)
    if p == 1:  # everything dropped: zeros, as PyTorch (the affine map is undefined there)
        return input.mul_(0) if inplace else input * 0
    seed, offset = philox_draw(input.device, philox_counters(input._data.size // inner))
    keep = Dropout(seed, offset, keep_threshold(p), 1.0, inner)(input.new_ones(tuple(input.shape)))
    a = 1.0 / math.sqrt((_SELU_SAT * _SELU_SAT * p + 1) * (1 - p))
    scale = keep * a
    shift = keep * (a * _SELU_SAT) + a * _SELU_SAT * (p - 1)  # -a*SAT*(1-p) where dropped, a*SAT*p where kept
    if inplace:
        return input.mul_(scale).add_(shift)
    return input * scale + shift


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: each element is dropped with probability p to SELU's negative
    saturation value, then all are mapped affinely so mean and variance are kept (when `training`)."""
    _check_p(p)
    check_tensor("alpha_dropout", input, "input")
    return _alpha_apply("alpha_dropout", input, p, training, inplace, 1)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole channels: one draw per (dim 0, dim 1) pair, covering the trailing dims."""
    _check_p(p)
    check_tensor("feature_alpha_dropout", input, "input")
    if training and 0 < p < 1 and input.dim() < 2:  # checked where a mask is drawn, as PyTorch
        raise RuntimeError(f"feature_alpha_dropout: Feature dropout requires at least 2 dimensions in the input, "
                           f"got input of size {list(input.shape)}")
    return _alpha_apply("feature_alpha_dropout", input, p, training, inplace, _inner(input._data.shape, 2))


__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]
