"""Elementwise math: exp/log, powers and roots, trig, tanh/sigmoid, abs, and the step functions.

Math functions of integer and bool tensors compute in the default float dtype,
as in PyTorch. floor/ceil/round/trunc/sign give zero gradients (not None).
"""
from __future__ import annotations



from .. import autocast_mode as _autocast
from ..autograd.function import Op
from ..backend import xp_of
from ._pointwise import _LN10, _LN2, _const, _float_input, _float_only, _need_tensor, _no_bool, _sigmoid_arr, _zeros

# ---------------------------------------------------------------- unary math
class Exp(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).exp(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * y


class Exp2(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).exp2(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * (y * _LN2)


class Expm1(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).expm1(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * (y + 1)


class Log(Op):
    save_inputs = (0,)

    def forward(self, x):
        return xp_of(x).log(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / x


class Log2(Op):
    save_inputs = (0,)

    def forward(self, x):
        return xp_of(x).log2(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (x * _LN2)


class Log10(Op):
    save_inputs = (0,)

    def forward(self, x):
        return xp_of(x).log10(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (x * _LN10)


class Log1p(Op):
    save_inputs = (0,)

    def forward(self, x):
        return xp_of(x).log1p(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (x + 1)


class Sqrt(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).sqrt(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad / (y * 2)


class Rsqrt(Op):
    save_output = True

    def forward(self, x):
        xp = xp_of(x)
        return xp.reciprocal(xp.sqrt(x))

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * (y * y * y * -0.5)


class Reciprocal(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).reciprocal(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * -(y * y)


class Abs(Op):
    save_inputs = (0,)

    def forward(self, x):
        return xp_of(x).abs(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * _const(xp_of(x._data).sign(x._data))  # sign(0) = 0: abs'(0) = 0


class Sin(Op):
    save_inputs = (0,)

    def forward(self, x):
        return xp_of(x).sin(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * cos(x)


class Cos(Op):
    save_inputs = (0,)

    def forward(self, x):
        return xp_of(x).cos(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * -sin(x)


class Tan(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).tan(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * (y * y + 1)


class Tanh(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).tanh(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return TanhBackward()(y, grad)


class TanhBackward(Op):
    """grad * (1 - y²) in one op, itself differentiable in y and grad."""

    save_inputs = (0, 1)

    def forward(self, y, grad):
        return grad * (1 - y * y)

    def backward(self, gg):
        y, grad = self.saved_tensors
        ny, ng = self.needs_input_grad
        return (gg * grad * (y * -2) if ny else None), (TanhBackward()(y, gg) if ng else None)


class Sigmoid(Op):
    save_output = True

    def forward(self, x):
        return _sigmoid_arr(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return SigmoidBackward()(y, grad)


class SigmoidBackward(Op):
    """grad * y * (1 - y) in one op, itself differentiable in y and grad."""

    save_inputs = (0, 1)

    def forward(self, y, grad):
        return grad * (y * (1 - y))

    def backward(self, gg):
        y, grad = self.saved_tensors
        ny, ng = self.needs_input_grad
        return (gg * grad * (1 - y * 2) if ny else None), (SigmoidBackward()(y, gg) if ng else None)


@_autocast.policy(cuda="float32")
def exp(input):
    return Exp()(_float_input("exp", input))


def exp2(input):
    return Exp2()(_float_input("exp2", input))


@_autocast.policy(cuda="float32")
def expm1(input):
    return Expm1()(_float_input("expm1", input))


@_autocast.policy(cuda="float32")
def log(input):
    return Log()(_float_input("log", input))


@_autocast.policy(cuda="float32")
def log2(input):
    return Log2()(_float_input("log2", input))


@_autocast.policy(cuda="float32")
def log10(input):
    return Log10()(_float_input("log10", input))


@_autocast.policy(cuda="float32")
def log1p(input):
    return Log1p()(_float_input("log1p", input))


def sqrt(input):
    return Sqrt()(_float_input("sqrt", input))


@_autocast.policy(cuda="float32")
def rsqrt(input):
    return Rsqrt()(_float_input("rsqrt", input))


@_autocast.policy(cuda="float32")
def reciprocal(input):
    return Reciprocal()(_float_input("reciprocal", input))


def sin(input):
    return Sin()(_float_input("sin", input))


def cos(input):
    return Cos()(_float_input("cos", input))


@_autocast.policy(cuda="float32")
def tan(input):
    return Tan()(_float_input("tan", input))


def tanh(input):
    return Tanh()(_float_input("tanh", input))


def sigmoid(input):
    return Sigmoid()(_float_input("sigmoid", input))


def abs(input):
    _need_tensor("abs", input)
    _no_bool("abs", input._data.dtype)
    return Abs()(input)


# ---------------------------------------------------------------- steps: zero gradient
class _Step(Op):
    """Piecewise-constant ops: PyTorch records them and gives a zero gradient (not None)."""

    def backward(self, grad):
        return _zeros(grad)


class Floor(_Step):
    def forward(self, x):
        return xp_of(x).floor(x)


class Ceil(_Step):
    def forward(self, x):
        return xp_of(x).ceil(x)


class Trunc(_Step):
    def forward(self, x):
        return xp_of(x).trunc(x)


class Sign(_Step):
    def forward(self, x):
        if x.dtype.kind != "f":
            return x.copy() if x.dtype.kind == "b" else xp_of(x).sign(x)
        xp = xp_of(x)
        return xp.where(xp.isnan(x), x.dtype.type(0), xp.sign(x))  # sign(nan) is 0 in PyTorch


class Round(_Step):
    def __init__(self, decimals):
        self.decimals = decimals

    def forward(self, x):
        xp, d = xp_of(x), self.decimals
        if d == 0:
            return xp.rint(x)  # half to even, as PyTorch
        if d > 0:  # scaled in the tensor's dtype, as PyTorch does
            s = x.dtype.type(10.0 ** d)
            return xp.rint(x * s) / s
        s = x.dtype.type(10.0 ** -d)
        return xp.rint(x / s) * s


def _step(op: str, cls, input, *args):
    _need_tensor(op, input)
    kind = input._data.dtype.kind
    if kind != "f":
        _no_bool(op, input._data.dtype)
        return _const(input._data.copy())  # integers are already whole (a copy, as PyTorch)
    return cls(*args)(input)


def floor(input):
    return _step("floor", Floor, input)


def ceil(input):
    return _step("ceil", Ceil, input)


def trunc(input):
    return _step("trunc", Trunc, input)


def round(input, *, decimals=0):
    if decimals != 0:
        _need_tensor("round", input)
        if input._data.dtype.kind != "f":
            raise NotImplementedError(f'"round" with decimals={decimals} not implemented for '
                                      f'{input.dtype.name} tensors; convert with .float() first')
    return _step("round", Round, input, int(decimals))


def sign(input):
    _need_tensor("sign", input)
    return Sign()(input)


class Frac(Op):
    def forward(self, x):
        return x - xp_of(x).trunc(x)

    def backward(self, grad):
        return grad


def frac(input):
    _float_only("frac", input)
    return Frac()(input)


__all__ = ['exp', 'exp2', 'log', 'log2', 'log10', 'log1p', 'expm1', 'sqrt', 'rsqrt', 'reciprocal', 'abs', 'sign', 'sin', 'cos', 'tan', 'tanh', 'sigmoid', 'floor', 'ceil', 'round', 'trunc', 'frac']
