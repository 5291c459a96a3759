"""Arithmetic: + - * / // % **, clamp, maximum/minimum, where, lerp, addcmul/addcdiv.

Binary ops take Tensors or Python scalars in either position and follow
PyTorch's dtype promotion (ops._util.operands); broadcasting is NumPy's, which
is PyTorch's, and the engine reduces broadcast gradients back to each input's
shape, so no backward here sums over broadcast dimensions itself. Gradients
at kinks follow PyTorch: clamp passes the gradient on its bounds and
maximum/minimum split it on ties.
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import autocast_mode as _autocast
from .. import device_checks, dtypes
from ..autograd.function import Op
from ..backend import xp_of
from ..tensor import Tensor
from ._util import _cast, _from_numpy, _scalar_for_promotion, is_scalar, operands
from .elementwise import log
from ._pointwise import _apply, _arr, _const, _masked, _need_tensor, _no_bool, _type_error, _xp, _zeros

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
    @property
    def save_inputs(self):  # each input's gradient needs only the other input
        na, nb = self.next_functions[0] is not None, self.next_functions[1] is not None
        return (0, 1) if na and nb else ((1,) if na else (0,))

    def forward(self, a, b):
        return a * b

    def backward(self, grad):
        na, nb = self.needs_input_grad
        if na and nb:
            a, b = self.saved_tensors
            return grad * b, grad * a
        (other,) = self.saved_tensors
        return (grad * other, None) if na else (None, grad * other)


class Div(Op):
    @property
    def save_inputs(self):  # a / b: d/da needs b only; d/db needs both
        return (0, 1) if self.next_functions[1] is not None else (1,)

    def forward(self, a, b):
        return a / b

    def backward(self, grad):
        na, nb = self.needs_input_grad
        if not nb:
            (b,) = self.saved_tensors
            return grad / b, None
        a, b = self.saved_tensors
        ga = grad / b if na else None
        return ga, -grad * a / (b * b)


class Neg(Op):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


def _check_int_divisor(op: str, b) -> None:
    """On CUDA the check is deferred (device_checks): the quotient's entries for a zero divisor
    are garbage until it raises, nothing worse (an integer division by zero does not trap there)."""
    if b.dtype.kind != "f":
        device_checks.check(b == 0, lambda: RuntimeError(
            f"{op}: integer division by zero (ZeroDivisionError); integer tensors have no inf/nan to "
            f"return, divide in floating point instead"), f"{op}()")


class DivMode(Op):
    """Division rounded toward -inf ('floor') or toward 0 ('trunc'): a step function."""

    def __init__(self, mode, op_name):
        self.mode, self.op_name = mode, op_name

    def forward(self, a, b):
        if b.dtype.kind != "f":
            _check_int_divisor(self.op_name, b)
            if self.mode == "trunc":
                return (a - _xp(a, b).fmod(a, b)) // b  # exact for integers
            return a // b
        if self.mode == "trunc":
            return _xp(a, b).trunc(a / b)
        return a // b  # NumPy's float floor division is Python's, as is PyTorch's

    def backward(self, grad):
        if self.op_name == "floor_divide":
            raise RuntimeError("derivative for floor_divide is not implemented (as in PyTorch); use "
                               "div(a, b, rounding_mode='floor'), whose gradient is zero")
        z = _zeros(grad)
        return tuple(z if n else None for n in self.needs_input_grad)


def _div_mode(op: str, input, other, mode: str):
    a, b, dt = operands(op, input, other)
    _no_bool(op, dt)
    return DivMode(mode, op)(a, b)


def add(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    a, b, _ = operands("add", input, other)
    return Add()(a, b)


def sub(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    a, b, dt = operands("sub", input, other)
    if a is not input or b is not other or dt.kind == "b":  # something was cast: was it a bool?
        for x in (input, other):
            if x.__class__ is bool or (isinstance(x, Tensor) and x._data.dtype.kind == "b"):
                raise RuntimeError("sub: subtraction with a bool tensor is not supported; to invert a mask "
                                   "use ~ or logical_not(), to compare use logical_xor()")
    return Sub()(a, b)


def mul(input, other):
    a, b, _ = operands("mul", input, other)
    return Mul()(a, b)


def div(input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        if rounding_mode == "floor" or rounding_mode == "trunc":
            return _div_mode("div", input, other, rounding_mode)
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"{rounding_mode!r}")
    if isinstance(input, np.ndarray) or isinstance(other, np.ndarray):  # as a CPU tensor, like operands()
        input, other = (_from_numpy(x) if isinstance(x, np.ndarray) else x for x in (input, other))
    dt = dtypes.result_type(*(x if not hasattr(x, "item") or hasattr(x, "_data") else x.item()
                              for x in (input, other)))
    out = dt.np if dt.is_floating_point else dtypes.get_default_dtype().np  # int / int -> float
    a, b, _ = operands("div", input, other, out_dtype=out)
    return Div()(a, b)


true_divide = div


def floor_divide(input, other):
    return _div_mode("floor_divide", input, other, "floor")


class Remainder(Op):
    save_inputs = (0, 1)

    def forward(self, a, b):
        _check_int_divisor("remainder", b)
        return a % b  # Python's modulo: the sign of the divisor, like torch.remainder

    def backward(self, grad):
        a, b = self.saved_tensors
        na, nb = self.needs_input_grad
        return (grad if na else None), (-grad * div(a, b, rounding_mode="floor") if nb else None)


class Fmod(Op):
    save_inputs = (0, 1)

    def forward(self, a, b):
        _check_int_divisor("fmod", b)
        return _xp(a, b).fmod(a, b)  # C's fmod: the sign of the dividend

    def backward(self, grad):
        a, b = self.saved_tensors
        na, nb = self.needs_input_grad
        return (grad if na else None), (-grad * div(a, b, rounding_mode="trunc") if nb else None)


def remainder(input, other):
    a, b, dt = operands("remainder", input, other)
    _no_bool("remainder", dt)
    return Remainder()(a, b)


def fmod(input, other):
    _need_tensor("fmod", input)
    a, b, dt = operands("fmod", input, other)
    _no_bool("fmod", dt)
    return Fmod()(a, b)


def neg(input):
    try:
        if input._data.dtype == bool:
            raise RuntimeError("neg: negation of a bool tensor is not supported; use ~ (logical_not)")
    except AttributeError:
        raise _type_error("neg", input) from None
    return Neg()(input)


negative = neg


# ---------------------------------------------------------------- pow
def _int_pow(a, b):
    """Integer power as PyTorch defines it: a ** -n is 1 for a == 1, ±1 for a == -1, else 0."""
    xp = _xp(a, b)
    if b.dtype.kind != "i":  # unsigned exponents are never negative (and -1 has no uint8 scalar)
        return xp.power(a, b)
    if xp is np and not (b < 0).any():  # the common case; on CUDA asking would synchronize: no branch
        return xp.power(a, b)
    return _int_pow_signed(xp, a, b)


def _int_pow_signed(xp, a, b):
    """_int_pow for a signed integer dtype without reading the data (no branch, no sync on CUDA)."""
    t = b.dtype.type
    neg = b < 0
    out = xp.power(a, xp.where(neg, t(0), b))
    special = xp.where(a == 1, t(1), xp.where(a == -1, xp.where((b & 1) != 0, t(-1), t(1)), t(0)))
    return xp.where(neg, special, out)


class Pow(Op):
    """input ** exponent with a tensor exponent (the base may be a scalar constant)."""

    save_inputs = (0, 1)
    save_output = True

    def name(self) -> str:
        return "PowBackward1"  # PyTorch's name for the tensor-exponent overload

    def forward(self, a, b):
        if b.dtype.kind != "f":
            return _int_pow(a, b)
        return _xp(a, b).power(a, b)

    def backward(self, grad):
        a, b, y = self.saved_tensors
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:  # b * a ** (b - 1), zero where b == 0 (the masked exponent keeps 0 ** -1 out)
            zero = b._data == 0
            bm = where(_const(zero), 1, b)
            ga = _masked(grad * b * pow(a, bm - 1), ~zero)
        if nb:  # y * log(a), zero where a == 0 and b >= 0 (the limit, as PyTorch)
            cond = (_arr(a) == 0) & (b._data >= 0)
            if not isinstance(a, Tensor):  # a number base: its log in the exponent's dtype, not the default
                a = _const(xp_of(b._data).asarray(a, dtype=b._data.dtype))
            gb = _masked(grad * y * log(where(_const(cond), 1, a)), ~cond)
        return ga, gb


class PowScalar(Op):
    """input ** exponent for a number exponent (kept as a NumPy scalar of the result dtype)."""

    save_inputs = (0,)

    def __init__(self, exponent):
        self.exponent = exponent

    def name(self) -> str:
        return "PowBackward0"

    def forward(self, x):
        return x ** self.exponent

    def backward(self, grad):
        (x,) = self.saved_tensors
        e = self.exponent.item()
        if e == 0:
            return _zeros(grad)
        if e == 1:
            return grad
        if e == 2:
            return grad * (x * 2)
        return grad * (pow(x, e - 1) * e)


@_autocast.policy(cuda="float32")
def pow(input, exponent):
    if isinstance(exponent, Tensor):
        a, b, dt = operands("pow", input, exponent)
        _no_bool("pow", dt)
        return Pow()(a, b)
    a, e, dt = operands("pow", input, exponent)
    if dt == bool and isinstance(a, Tensor):  # x ** True is x, x ** False is all True, as in PyTorch
        return a.clone() if e else a.ne(a).logical_not()
    _no_bool("pow", dt)
    if dt.kind != "f" and e < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed (pow: use a floating "
                           "point base, e.g. x.float() ** -1)")
    return PowScalar(e)(a)


def square(input):
    _need_tensor("square", input)
    return pow(input, 2)


# ---------------------------------------------------------------- clamp, maximum, minimum, where
class Clamp(Op):
    """max(min(x, hi), lo) with number or tensor bounds (None for an absent one)."""

    save_inputs = (0, 1, 2)

    def forward(self, x, lo, hi):
        xp = xp_of(x)
        out = x if lo is None else xp.maximum(x, lo)
        return out if hi is None else xp.minimum(out, hi)

    def backward(self, grad):
        # PyTorch's rule: x gets the gradient where lo <= x <= hi (bounds included); a tensor lo
        # where x < lo < hi, a tensor hi where x > hi or hi < lo (hi wins when lo > hi)
        x, lo, hi = self.saved_tensors
        x, lo, hi = x._data, _arr(lo), _arr(hi)
        nx, nlo, nhi = self.needs_input_grad
        gx = glo = ghi = None
        if nx:
            if lo is None:
                keep = x <= hi
            elif hi is None:
                keep = x >= lo
            else:
                keep = (x >= lo) & (x <= hi)
            gx = _masked(grad, keep)
        if nlo:
            glo = _masked(grad, (x < lo) if hi is None else (x < lo) & (lo < hi))
        if nhi:
            ghi = _masked(grad, (x > hi) if lo is None else (x > hi) | (hi < lo))
        return gx, glo, ghi


def _bound(v, dt):
    if v is None:
        return None
    if isinstance(v, Tensor):
        return _cast(v, dt)
    try:
        return dt.type(v)
    except OverflowError:
        raise RuntimeError(f"clamp: value {v} cannot be converted to type {dtypes.from_numpy_dtype(dt).name} "
                           f"without overflow") from None


def clamp(input, min=None, max=None):
    _need_tensor("clamp", input)
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    for v, name, pos in ((min, "min", 2), (max, "max", 3)):
        if v is not None and not isinstance(v, Tensor) and not is_scalar(v):
            raise TypeError(f"clamp(): argument '{name}' (position {pos}) must be a Number or a Tensor, "
                            f"not {type(v).__name__}")
    dt = dtypes.result_type(input, *(_scalar_for_promotion(v) for v in (min, max) if v is not None)).np
    return _apply("clamp", Clamp(), _cast(input, dt), _bound(min, dt), _bound(max, dt))


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def _minmax_grads(op, grad, a_loses_when):
    """Gradients of maximum/minimum: the loser gets 0, a tie splits 0.5/0.5 (a NaN passes both)."""
    a, b = op.saved_tensors
    ad, bd = a._data, b._data
    xp, t = xp_of(ad), grad._data.dtype.type
    tie = ad == bd
    na, nb = op.needs_input_grad
    ga = gb = None
    if na:
        ga = _masked(grad, xp.where(tie, t(0.5), xp.where(a_loses_when(ad, bd), t(0), t(1))))
    if nb:
        gb = _masked(grad, xp.where(tie, t(0.5), xp.where(a_loses_when(bd, ad), t(0), t(1))))
    return ga, gb


class Maximum(Op):
    save_inputs = (0, 1)

    def forward(self, a, b):
        return xp_of(a).maximum(a, b)

    def backward(self, grad):
        return _minmax_grads(self, grad, lambda u, v: u < v)


class Minimum(Op):
    save_inputs = (0, 1)

    def forward(self, a, b):
        return xp_of(a).minimum(a, b)

    def backward(self, grad):
        return _minmax_grads(self, grad, lambda u, v: u > v)


def maximum(input, other):
    _need_tensor("maximum", input)
    _need_tensor("maximum", other, "other", 2)
    a, b, _ = operands("maximum", input, other)
    return Maximum()(a, b)


def minimum(input, other):
    _need_tensor("minimum", input)
    _need_tensor("minimum", other, "other", 2)
    a, b, _ = operands("minimum", input, other)
    return Minimum()(a, b)


class Where(Op):
    save_inputs = (0,)

    def forward(self, cond, a, b):
        return xp_of(cond).where(cond, a, b)

    def backward(self, grad):
        c = self.saved_tensors[0]._data
        _, na, nb = self.needs_input_grad
        return None, (_masked(grad, c) if na else None), (_masked(grad, ~c) if nb else None)


def where(condition, input=None, other=None):
    """where(condition, input, other): input where condition holds, else other (scalars allowed);
    where(condition) alone: the indices of its nonzero elements, one int64 tensor per dim."""
    _need_tensor("where", condition, "condition")
    if input is None and other is None:
        d = condition._data
        return tuple(_const(i.astype(np.int64)) for i in xp_of(d).nonzero(xp_of(d).atleast_1d(d)))
    cdt = condition._data.dtype
    if cdt != bool:
        if cdt != np.uint8:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                               f"{condition.dtype.name}")
        condition = condition.to(dtypes.bool_)  # uint8 masks: accepted, as PyTorch still does
    if isinstance(input, Tensor) or isinstance(other, Tensor):
        a, b, _ = operands("where", input, other)
    else:
        for v, name, pos in ((input, "input", 2), (other, "other", 3)):
            if not is_scalar(v):
                raise TypeError(f"where(): argument '{name}' (position {pos}) must be a Tensor or a Number, "
                                f"not {type(v).__name__}")
        dt = dtypes.result_type(_scalar_for_promotion(input), _scalar_for_promotion(other)).np
        a, b = dt.type(input), dt.type(other)
    return _apply("where", Where(), condition, a, b)


# ---------------------------------------------------------------- lerp, addcmul, addcdiv
class Lerp(Op):
    save_inputs = (0, 1, 2)

    def forward(self, a, b, w):
        # PyTorch's two forms: exact at w == 0 (a) and at w == 1 (b)
        if isinstance(w, np.generic):
            return a + w * (b - a) if builtins.abs(w) < 0.5 else b - (b - a) * (1 - w)
        d = b - a
        return xp_of(a).where(xp_of(a).abs(w) < 0.5, a + w * d, b - d * (1 - w))

    def backward(self, grad):
        a, b, w = self.saved_tensors
        na, nb, nw = self.needs_input_grad
        return ((grad * (1 - w)) if na else None, (grad * w) if nb else None,
                (grad * (b - a)) if nw else None)


def lerp(input, end, weight):
    _need_tensor("lerp", input)
    _need_tensor("lerp", end, "end", 2)
    dt = input._data.dtype
    if dt.kind != "f":
        raise NotImplementedError(f'"lerp" not implemented for {input.dtype.name} tensors; convert with '
                                  f'.float() first')
    if end._data.dtype != dt:
        raise RuntimeError(f"lerp: expected dtype {input.dtype.name} for `end` but got dtype {end.dtype.name}")
    if isinstance(weight, Tensor):
        if weight._data.ndim and weight._data.dtype != dt:  # a 0-dim weight is cast, like a number
            raise RuntimeError(f"lerp: expected dtype {input.dtype.name} for `weight` but got dtype "
                               f"{weight.dtype.name}")
        w = _cast(weight, dt)
    elif is_scalar(weight):
        w = dt.type(weight)
    else:
        raise TypeError(f"lerp(): argument 'weight' (position 3) must be a Number or a Tensor, not "
                        f"{type(weight).__name__}")
    return _apply("lerp", Lerp(), input, end, w)


def _three_tensors(op, input, tensor1, tensor2):
    for v, name, pos in ((input, "input", 1), (tensor1, "tensor1", 2), (tensor2, "tensor2", 3)):
        _need_tensor(op, v, name, pos)
    try:
        np.broadcast_shapes(input._data.shape, tensor1._data.shape, tensor2._data.shape)
    except ValueError:
        raise RuntimeError(f"{op}: shapes {list(input.shape)}, {list(tensor1.shape)} and "
                           f"{list(tensor2.shape)} do not broadcast to a common shape") from None
    dt = dtypes.result_type(input, tensor1, tensor2).np
    return _cast(input, dt), _cast(tensor1, dt), _cast(tensor2, dt), dt


@_autocast.policy(cuda="promote")
def addcmul(input, tensor1, tensor2, *, value=1):
    x, t1, t2, dt = _three_tensors("addcmul", input, tensor1, tensor2)
    _no_bool("addcmul", dt)
    prod = mul(t1, t2)
    if value != 1:
        prod = mul(prod, dt.type(value))  # an integer result truncates the value, as PyTorch
    return add(x, prod)


@_autocast.policy(cuda="promote")
def addcdiv(input, tensor1, tensor2, *, value=1):
    x, t1, t2, dt = _three_tensors("addcdiv", input, tensor1, tensor2)
    if tensor1._data.dtype.kind != "f" and tensor2._data.dtype.kind != "f":
        raise RuntimeError("addcdiv: integer division with addcdiv is not supported (as in PyTorch); use "
                           "input + value * tensor1.div(tensor2, rounding_mode='trunc') for integer "
                           "division, or pass floating point tensors for true division")
    quot = div(t1, t2)
    if value != 1:
        quot = mul(quot, dt.type(value))
    return add(x, quot)


__all__ = ['add', 'sub', 'mul', 'div', 'neg', 'floor_divide', 'remainder', 'fmod', 'pow', 'square', 'clamp', 'clip', 'clamp_min', 'clamp_max', 'maximum', 'minimum', 'where', 'lerp', 'addcmul', 'addcdiv', 'true_divide', 'negative']
