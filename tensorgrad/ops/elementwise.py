"""Elementwise arithmetic and math: + - * / // % **, exp/log/trig, where, clamp.

Binary ops take Tensors or Python scalars in either position and follow
PyTorch's dtype promotion (ops._util.operands); broadcasting is NumPy's, which
is PyTorch's, and the engine reduces broadcast gradients back to each input's
shape, so no backward here sums over broadcast dimensions itself.
"""
from __future__ import annotations

from .. import dtypes
from ..autograd.function import Op
from ..backend import xp_of
from ._util import apply_binary, operands


# ---------------------------------------------------------------- arithmetic
class Add(Op):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Op):
    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(Op):
    save_inputs = (0, 1)

    def forward(self, a, b):
        return a * b

    def backward(self, grad):
        a, b = self.saved_tensors
        na, nb = self.needs_input_grad
        return (grad * b if na else None), (grad * a if nb else None)


class Div(Op):
    save_inputs = (0, 1)

    def forward(self, a, b):
        return a / b

    def backward(self, grad):
        a, b = self.saved_tensors
        na, nb = self.needs_input_grad
        ga = grad / b if na else None
        gb = -grad * a / (b * b) if nb else None
        return ga, gb


class Neg(Op):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


def add(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    a, b, _ = operands("add", input, other)
    return apply_binary("add", Add(), a, b)


def sub(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    a, b, dt = operands("sub", input, other)
    if dt == bool:
        raise RuntimeError("sub: subtraction of bool tensors is not supported; use logical_xor() or ~")
    return apply_binary("sub", Sub(), a, b)


def mul(input, other):
    a, b, _ = operands("mul", input, other)
    return apply_binary("mul", Mul(), a, b)


def div(input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        if rounding_mode == "floor":
            return floor_divide(input, other)
        if rounding_mode == "trunc":
            return trunc(div(input, other))
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    dt = dtypes.result_type(*(x if not hasattr(x, "item") or hasattr(x, "_data") else x.item()
                              for x in (input, other)))
    out = dt.np if dt.is_floating_point else dtypes.get_default_dtype().np  # int / int -> float
    a, b, _ = operands("div", input, other, out_dtype=out)
    return apply_binary("div", Div(), a, b)


true_divide = div


def neg(input):
    if input._data.dtype == bool:
        raise RuntimeError("neg: negation of a bool tensor is not supported; use ~ (logical_not)")
    return Neg()(input)


negative = neg


# ---------------------------------------------------------------- unary math
class Exp(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).exp(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * y


class Relu(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).maximum(x, 0)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return MaskGrad()(grad, y)


class MaskGrad(Op):
    """grad * (y > 0) in one op: relu's backward, itself differentiable in `grad`."""

    save_inputs = (1,)

    def forward(self, grad, y):
        return grad * (y > 0)

    def backward(self, gg):
        (y,) = self.saved_tensors
        return MaskGrad()(gg, y), None


def _float_input(op: str, x):
    """Math functions of int/bool tensors compute in the default float dtype, as PyTorch does."""
    if x._data.dtype.kind != "f":
        from .convert import cast
        return cast(x, dtypes.get_default_dtype().np)
    return x


def exp(input):
    return Exp()(_float_input("exp", input))


def relu(input):
    return Relu()(input)


# ---- not yet implemented (TODO: replace each stub with the real op)


def floor_divide(*args, **kwargs):
    raise NotImplementedError("floor_divide is not implemented yet")


def remainder(*args, **kwargs):
    raise NotImplementedError("remainder is not implemented yet")


def fmod(*args, **kwargs):
    raise NotImplementedError("fmod is not implemented yet")


def pow(*args, **kwargs):
    raise NotImplementedError("pow is not implemented yet")


def exp2(*args, **kwargs):
    raise NotImplementedError("exp2 is not implemented yet")


def log(*args, **kwargs):
    raise NotImplementedError("log is not implemented yet")


def log2(*args, **kwargs):
    raise NotImplementedError("log2 is not implemented yet")


def log10(*args, **kwargs):
    raise NotImplementedError("log10 is not implemented yet")


def log1p(*args, **kwargs):
    raise NotImplementedError("log1p is not implemented yet")


def expm1(*args, **kwargs):
    raise NotImplementedError("expm1 is not implemented yet")


def sqrt(*args, **kwargs):
    raise NotImplementedError("sqrt is not implemented yet")


def rsqrt(*args, **kwargs):
    raise NotImplementedError("rsqrt is not implemented yet")


def square(*args, **kwargs):
    raise NotImplementedError("square is not implemented yet")


def reciprocal(*args, **kwargs):
    raise NotImplementedError("reciprocal is not implemented yet")


def abs(*args, **kwargs):
    raise NotImplementedError("abs is not implemented yet")


def sign(*args, **kwargs):
    raise NotImplementedError("sign is not implemented yet")


def sin(*args, **kwargs):
    raise NotImplementedError("sin is not implemented yet")


def cos(*args, **kwargs):
    raise NotImplementedError("cos is not implemented yet")


def tan(*args, **kwargs):
    raise NotImplementedError("tan is not implemented yet")


def tanh(*args, **kwargs):
    raise NotImplementedError("tanh is not implemented yet")


def sigmoid(*args, **kwargs):
    raise NotImplementedError("sigmoid is not implemented yet")


def leaky_relu(*args, **kwargs):
    raise NotImplementedError("leaky_relu is not implemented yet")


def elu(*args, **kwargs):
    raise NotImplementedError("elu is not implemented yet")


def gelu(*args, **kwargs):
    raise NotImplementedError("gelu is not implemented yet")


def silu(*args, **kwargs):
    raise NotImplementedError("silu is not implemented yet")


def softplus(*args, **kwargs):
    raise NotImplementedError("softplus is not implemented yet")


def clamp(*args, **kwargs):
    raise NotImplementedError("clamp is not implemented yet")


def clip(*args, **kwargs):
    raise NotImplementedError("clip is not implemented yet")


def clamp_min(*args, **kwargs):
    raise NotImplementedError("clamp_min is not implemented yet")


def clamp_max(*args, **kwargs):
    raise NotImplementedError("clamp_max is not implemented yet")


def maximum(*args, **kwargs):
    raise NotImplementedError("maximum is not implemented yet")


def minimum(*args, **kwargs):
    raise NotImplementedError("minimum is not implemented yet")


def where(*args, **kwargs):
    raise NotImplementedError("where is not implemented yet")


def floor(*args, **kwargs):
    raise NotImplementedError("floor is not implemented yet")


def ceil(*args, **kwargs):
    raise NotImplementedError("ceil is not implemented yet")


def round(*args, **kwargs):
    raise NotImplementedError("round is not implemented yet")


def trunc(*args, **kwargs):
    raise NotImplementedError("trunc is not implemented yet")


def frac(*args, **kwargs):
    raise NotImplementedError("frac is not implemented yet")


def lerp(*args, **kwargs):
    raise NotImplementedError("lerp is not implemented yet")


def addcmul(*args, **kwargs):
    raise NotImplementedError("addcmul is not implemented yet")


def addcdiv(*args, **kwargs):
    raise NotImplementedError("addcdiv is not implemented yet")


__all__ = ['add', 'sub', 'mul', 'div', 'neg', 'exp', 'relu', 'floor_divide', 'remainder', 'fmod', 'pow', 'exp2', 'log', 'log2', 'log10', 'log1p', 'expm1', 'sqrt', 'rsqrt', 'square', 'reciprocal', 'abs', 'sign', 'sin', 'cos', 'tan', 'tanh', 'sigmoid', 'leaky_relu', 'elu', 'gelu', 'silu', 'softplus', 'clamp', 'clip', 'clamp_min', 'clamp_max', 'maximum', 'minimum', 'where', 'floor', 'ceil', 'round', 'trunc', 'frac', 'lerp', 'addcmul', 'addcdiv', 'true_divide', 'negative']
