"""Special and inverse-trigonometric functions and binary math with PyTorch's semantics: erf, erfc,
erfinv, sinh/cosh, asin/acos/atan (and arc* aliases), asinh/acosh/atanh, logit, nan_to_num, atan2,
logaddexp, hypot, xlogy. Integer and bool inputs compute in the default float dtype, as in PyTorch;
each Op's backward is written with tensor ops, so second derivatives work.
"""
from __future__ import annotations

import math

import numpy as np

from .. import autocast_mode as _autocast
from .. import dtypes
from ..autograd.function import Op
from ..backend import special_function, xp_of
from ..tensor import Tensor
from ..fused.activation import erf as _erf_arr, erfc as _erfc_arr
from ._pointwise import _const, _float_input, _masked, _need_tensor
from ._util import _cast, check_tensor, operands
from .arithmetic import clamp, where
from .elementwise import exp, sigmoid

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _quiet():
    """NumPy warns on log(0), 0/0, ...; PyTorch does not (no effect on CuPy)."""
    return np.errstate(all="ignore")


# ---------------------------------------------------------------- unary math
class _Unary(Op):
    """y = fn(x) elementwise; the backward is grad * deriv(x) in tensor ops (double backward)."""

    save_inputs = (0,)
    fn = ""

    def forward(self, x):
        with _quiet():
            return getattr(xp_of(x), self.fn)(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * self.deriv(x)


def _unary_op(np_name, deriv):
    return type(np_name.replace("arc", "a").capitalize(), (_Unary,), {"fn": np_name, "deriv": staticmethod(deriv)})


Sinh = _unary_op("sinh", lambda x: cosh(x))
Cosh = _unary_op("cosh", lambda x: sinh(x))
Asin = _unary_op("arcsin", lambda x: (1 - x * x).rsqrt())
Acos = _unary_op("arccos", lambda x: -(1 - x * x).rsqrt())
Atan = _unary_op("arctan", lambda x: (x * x + 1).reciprocal())
Asinh = _unary_op("arcsinh", lambda x: (x * x + 1).rsqrt())
Acosh = _unary_op("arccosh", lambda x: ((x - 1) * (x + 1)).rsqrt())
Atanh = _unary_op("arctanh", lambda x: (1 - x * x).reciprocal())


class Erf(_Unary):
    def forward(self, x):
        return _erf_arr(x)

    deriv = staticmethod(lambda x: exp(-(x * x)) * _TWO_OVER_SQRT_PI)


class Erfc(_Unary):
    def forward(self, x):
        return _erfc_arr(x)

    deriv = staticmethod(lambda x: exp(-(x * x)) * -_TWO_OVER_SQRT_PI)


# Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011): ~1e-7, refined by Newton
_ERFINV_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                   -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _horner(coefs, w):
    p = np.full_like(w, coefs[0])
    for c in coefs[1:]:
        p = p * w + c
    return p


def _erfinv_np(x):
    """erfinv of a NumPy array, float64-accurate: Giles' approximation + Newton steps on
    erf (on log erfc for |x| > 0.5, where 1 - |x| is exact and erf(y) - x would cancel)."""
    out_dtype = x.dtype
    x = x.astype(np.float64)
    a = np.abs(x)
    with _quiet():
        w = -np.log((1.0 - a) * (1.0 + a))
        y = np.where(w < 5.0, _horner(_ERFINV_CENTRAL, w - 2.5), _horner(_ERFINV_TAIL, np.sqrt(w) - 3.0)) * a
        y = np.where(np.isfinite(y), y, 0.0)
        tail = a > 0.5
        for _ in range(4):
            # in the tail, Newton on log(erfc(y)) = log(1 - |x|): nearly quadratic in y, so it
            # converges even where Giles' float32 fit is rough (4 steps from 1 - |x| = 2**-53)
            c = _erfc_arr(y)
            f = np.where(tail, (np.log(1.0 - a) - np.log(c)) * c, _erf_arr(y) - a)
            y = y - f / (_TWO_OVER_SQRT_PI * np.exp(-y * y))
        y = np.where(a == 1.0, np.inf, np.where(a > 1.0, np.nan, y))
        return np.copysign(y, x).astype(out_dtype, copy=False)


_erfinv_arr = special_function("erfinv", lambda x: _erfinv_np(np.asarray(x)))  # CUDA: cupyx.scipy.special


class Erfinv(Op):
    save_output = True

    def forward(self, x):
        return _erfinv_arr(x)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * exp(y * y) * (math.sqrt(math.pi) / 2)


def _unary(name, cls):
    def fn(input):
        return cls()(_float_input(name, input))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{name}(input): elementwise, PyTorch's torch.{name} (integers compute in the default float dtype)."
    return fn


erf, erfc, erfinv = _unary("erf", Erf), _unary("erfc", Erfc), _unary("erfinv", Erfinv)
sinh, cosh = _unary("sinh", Sinh), _unary("cosh", Cosh)
asin, acos, atan = _unary("asin", Asin), _unary("acos", Acos), _unary("atan", Atan)
# CUDA autocast runs these in float32, as PyTorch
sinh, cosh, asin, acos, erfinv = (_autocast.policy(cuda="float32")(f) for f in (sinh, cosh, asin, acos, erfinv))
asinh, acosh, atanh = _unary("asinh", Asinh), _unary("acosh", Acosh), _unary("atanh", Atanh)
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


class Logit(Op):
    save_inputs = (0,)

    def forward(self, x):
        with _quiet():
            return xp_of(x).log(x / (1 - x))

    def backward(self, grad):
        (x,) = self.saved_tensors
        g = grad / (x * (1 - x))
        xd = x._data
        return where(_const((xd < 0) | (xd > 1)), math.nan, g)  # PyTorch: NaN outside [0, 1]


def logit(input, eps=None):
    """log(p / (1 - p)); with `eps`, p is first clamped to [eps, 1 - eps] (zero gradient outside)."""
    x = _float_input("logit", input)
    if eps is not None:
        x = clamp(x, eps, 1.0 - eps)
    return Logit()(x)


class NanToNum(Op):
    def __init__(self, nan, posinf, neginf):
        self.vals = (nan, posinf, neginf)

    def forward(self, x):
        xp = xp_of(x)
        self.ctx_arrays = (xp.isfinite(x),)
        nan, pos, neg = self.vals
        with _quiet():  # a replacement out of the dtype's range becomes inf, as in PyTorch
            return xp.nan_to_num(x, copy=True, nan=nan, posinf=pos, neginf=neg)

    def backward(self, grad):
        return _masked(grad, self.saved_arrays[0])  # PyTorch: grad * isfinite(input)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN -> nan, +inf -> posinf, -inf -> neginf (defaults: the dtype's largest/lowest finite value)."""
    check_tensor("nan_to_num", input)
    dt = input._data.dtype
    if dt.kind != "f":
        return _const(input._data.copy())  # integers and bools are already finite (a copy, as PyTorch)
    fi = np.finfo(dt)
    pos = fi.max if posinf is None else posinf
    neg = fi.min if neginf is None else neginf
    return NanToNum(float(nan), float(pos), float(neg))(input)


# ---------------------------------------------------------------- binary math
def _float_pair(op, input, other, ints=True, scalars=False):
    """Both operands in their promoted float dtype (integers -> the default float dtype, or
    PyTorch's error where it has no integer kernel)."""
    if not scalars:
        _need_tensor(op, input)
        _need_tensor(op, other, "other", 2)
    a, b, dt = operands(op, input, other)
    if dt.kind != "f":
        if not ints:
            raise NotImplementedError(f'"{op}" not implemented for {dtypes.as_dtype(dt).name} tensors (as in '
                                      f'PyTorch); convert the inputs with .float() first')
        dt = dtypes.get_default_dtype().np
        a = _cast(a, dt) if isinstance(a, Tensor) else dt.type(a)
        b = _cast(b, dt) if isinstance(b, Tensor) else dt.type(b)
    return a, b


class Atan2(Op):
    save_inputs = (0, 1)
    op_name = "atan2"

    def forward(self, a, b):
        return xp_of(a).arctan2(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        r = grad / (a * a + b * b)
        na, nb = self.needs_input_grad
        return (r * b if na else None), (r * -a if nb else None)


class LogAddExp(Op):
    save_inputs = (0, 1)
    op_name = "logaddexp"

    def forward(self, a, b):
        xp = xp_of(a)
        with _quiet():
            m = xp.maximum(a, b)
            out = m + xp.log1p(xp.exp(-xp.abs(a - b)))
            return xp.where(xp.isinf(m) & (a == b), m, out)  # inf + inf: no inf - inf

    def backward(self, grad):
        a, b = self.saved_tensors
        na, nb = self.needs_input_grad
        return (grad * sigmoid(a - b) if na else None), (grad * sigmoid(b - a) if nb else None)


class Hypot(Op):
    save_inputs = (0, 1)
    save_output = True
    op_name = "hypot"

    def forward(self, a, b):
        return xp_of(a).hypot(a, b)

    def backward(self, grad):
        a, b, y = self.saved_tensors
        r = grad / y
        na, nb = self.needs_input_grad
        return (r * a if na else None), (r * b if nb else None)


class XLogY(Op):
    save_inputs = (0, 1)
    op_name = "xlogy"

    def forward(self, x, y):
        xp = xp_of(x)
        with _quiet():
            return xp.where((x == 0) & ~xp.isnan(y), x.dtype.type(0), x * xp.log(y))

    def backward(self, grad):
        x, y = self.saved_tensors
        nx, ny = self.needs_input_grad
        gx = gy = None
        if nx:  # PyTorch: xlogy(grad, y), 0 where x == 0 and y <= 0
            xd, yd = x._data, y._data
            gx = _masked(XLogY()(grad, y), ~((xd == 0) & (yd <= 0)))
        if ny:
            gy = grad * x / y
        return gx, gy


@_autocast.policy(cuda="promote")
def atan2(input, other):
    """The angle of (other, input), elementwise and broadcast; integers compute in float."""
    return Atan2()(*_float_pair("atan2", input, other))


arctan2 = atan2


def logaddexp(input, other):
    """log(exp(input) + exp(other)) without overflow."""
    return LogAddExp()(*_float_pair("logaddexp", input, other, ints=False))


def hypot(input, other):
    """sqrt(input² + other²) without overflow."""
    return Hypot()(*_float_pair("hypot", input, other, ints=False))


def xlogy(input, other):
    """input * log(other), 0 where input is 0 (unless other is NaN); either may be a number."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"xlogy(): expected at least one Tensor operand, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    a, b = _float_pair("xlogy", input, other, scalars=True)
    ref = a if isinstance(a, Tensor) else b
    xp = xp_of(ref._data)
    a, b = ((v if isinstance(v, Tensor) else _const(xp.asarray(v))) for v in (a, b))
    return XLogY()(a, b)


__all__ = ["erf", "erfc", "erfinv", "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "arcsin",
           "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "atan2", "arctan2", "logaddexp", "hypot", "xlogy",
           "logit", "nan_to_num"]
