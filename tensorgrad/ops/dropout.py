"""Dropout (torch.nn.functional forms): dropout, dropout2d.

Each call takes (seed, offset) from the input device's default generator (Generator.philox_draw,
so ``tg.manual_seed`` makes it reproducible) and fused.dropout draws the mask from them: on CUDA
with Philox4x32-10, regenerated wherever it is needed and never stored; on the CPU with NumPy's
Philox4x64 generator, kept as bits for the backward (or, after
``tensorgrad.fused.dropout.set_cpu_masks("philox")``, the very mask CUDA draws for that seed).
The forward is input * keep / (1-p), and the backward is
the same map on the gradient, i.e. the same op again, so it is itself differentiable to any
order. dropout2d draws one mask entry per (sample, channel), covering the `inner` = H*W
elements of that channel.
"""
from __future__ import annotations

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


def _apply(op, input, p, training, inplace, inner):
    if not training or p == 0 or input._data.size == 0:
        return input
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: result type Float can't be cast to the desired output type "
                           f"{input.dtype}; dropout needs a floating point input, convert with .float()")
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
    inner = 1
    for d in shape[lead:]:  # the mask entry covers the trailing dims
        inner *= d
    return _apply("dropout2d", input, p, training, inplace, inner)


__all__ = ["dropout", "dropout2d"]
