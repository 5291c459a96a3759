"""More of torch.nn.functional's activations, composed from existing differentiable ops (where,
clamp, elu, softplus, sigmoid, tanh), so their gradients and second derivatives come with them.

Piecewise ones select with `where`, which passes the gradient only to the branch it took: so
hardtanh/relu6/hardsigmoid have zero gradient on and beyond their bounds, as PyTorch's backward
kernels (which test min < x < max).
"""
from __future__ import annotations

import warnings

from .. import autocast_mode as _autocast
from ..tensor import Tensor
from ._pointwise import _float_only
from .activation import elu, leaky_relu, relu, softplus
from .arithmetic import clamp_max, where
from .elementwise import sigmoid, tanh


def _check(op, input):
    _float_only(op, input)


def _inplace_or(op_fn, input, inplace, *args):
    return input._inplace(op_fn, *args) if inplace else op_fn(input, *args)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """min_val below it, max_val above it, x between; gradient 1 strictly between the bounds."""
    _check("hardtanh", input)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return input._inplace(hardtanh, min_val, max_val)
    return where(input <= min_val, min_val, where(input >= max_val, max_val, input)).to(input.dtype)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    _check("relu6", input)
    return _inplace_or(hardtanh, input, inplace, 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    """0 below -3, 1 above 3, x / 6 + 1 / 2 between."""
    _check("hardsigmoid", input)
    if inplace:
        return input._inplace(hardsigmoid)
    return hardtanh(input / 6 + 0.5, 0.0, 1.0)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6 (MobileNetV3)."""
    _check("hardswish", input)
    if inplace:
        return input._inplace(hardswish)
    return input * relu6(input + 3) / 6


@_autocast.policy(cuda="native", cpu="native")  # one kernel in PyTorch
def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    _check("mish", input)
    if inplace:
        return input._inplace(mish)
    return input * tanh(softplus(input))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al. (2017)."""
    _check("selu", input)
    if inplace:
        return input._inplace(selu)
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def celu(input, alpha=1.0, inplace=False):
    """x above 0, alpha * (exp(x / alpha) - 1) below."""
    _check("celu", input)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu(): alpha must not be 0")
    if inplace:
        return input._inplace(celu, alpha)
    return elu(input / alpha, 1.0) * alpha if alpha != 1.0 else elu(input, 1.0)


def glu(input, dim=-1):
    """a * sigmoid(b) for the two halves a, b of input along dim."""
    _check("glu", input)
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.dim()} is size {n}")
    a, b = input.chunk(2, dim)
    return a * sigmoid(b)


@_autocast.policy(cuda="native", cpu="native")  # one kernel in PyTorch
def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), without overflow."""
    _check("logsigmoid", input)
    return -softplus(-input)


def softsign(input):
    """x / (1 + |x|)."""
    _check("softsign", input)
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    _check("tanhshrink", input)
    return input - tanh(input)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    _check("softshrink", input)
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    zero = input.new_zeros(())
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, zero))


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    _check("hardshrink", input)
    return where((input > lambd) | (input < -lambd), input, input.new_zeros(()))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    _check("threshold", input)
    if inplace:
        return input._inplace(lambda t: where(t > threshold, t, value).to(t.dtype))
    return where(input > threshold, input, value).to(input.dtype)


@_autocast.policy(cuda="lower", cpu="lower")
def prelu(input, weight):
    """max(0, x) + weight * min(0, x), weight of 1 or C (the channel dim 1) elements."""
    _check("prelu", input)
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): weight must be a Tensor, got {type(weight).__name__}")
    channels = input.shape[1] if input.dim() >= 2 else 1
    if weight.numel() not in (1, channels):
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{weight.numel()} and channel size = {channels}.")
    w = weight.reshape(-1)
    if w.numel() > 1 and input.dim() >= 2:
        w = w.reshape((1, channels) + (1,) * (input.dim() - 2))
    elif w.numel() == 1:
        w = w.reshape(())
    return relu(input) + w * clamp_max(input, 0)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU whose negative slope is drawn uniformly from [lower, upper] per element in
    training, and is (lower + upper) / 2 otherwise."""
    _check("rrelu", input)
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from ..creation import rand_like
    slope = rand_like(input, requires_grad=False) * (upper - lower) + lower
    if inplace:
        return input._inplace(lambda t: where(t >= 0, t, t * slope))
    return where(input >= 0, input, input * slope)


@_autocast.policy(cuda="float32")
def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input) along dim."""
    from .reduce import softmax
    if dim is None:
        raise TypeError("softmin(): dim must be given (PyTorch's implicit dim is deprecated)")
    return softmax(-input, dim, dtype=dtype)


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """A sample from the Gumbel-softmax (Concrete) distribution over `dim`: softmax((logits + g) / tau)
    with g ~ Gumbel(0, 1) i.i.d. hard=True returns the one-hot of its argmax in the forward pass with
    the soft sample's gradient (the straight-through estimator). eps is deprecated and unused."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    _check("gumbel_softmax", logits)
    from ..creation import empty_like
    gumbels = -empty_like(logits).exponential_().log()  # -log(Exp(1)) ~ Gumbel(0, 1)
    return _gumbel_softmax_given(logits, gumbels, tau, hard, dim)


def _gumbel_softmax_given(logits, gumbels, tau, hard, dim):
    """The deterministic part of gumbel_softmax, for given Gumbel noise."""
    from .reduce import softmax
    y_soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    from ..creation import zeros_like
    y_hard = zeros_like(logits).scatter_(dim, y_soft.argmax(dim, keepdim=True), 1.0)
    # forward: y_hard (y_soft cancels); backward: only the last term carries a gradient
    return y_hard - y_soft.detach() + y_soft


__all__ = ["hardtanh", "relu6", "hardsigmoid", "hardswish", "mish", "selu", "celu", "glu", "logsigmoid", "softsign",
           "tanhshrink", "softshrink", "hardshrink", "threshold", "prelu", "rrelu", "softmin",
           "gumbel_softmax"]
