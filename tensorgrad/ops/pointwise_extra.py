"""The rest of PyTorch's pointwise math, with its dtype rules and gradient conventions:

    sign and step functions   heaviside, signbit, copysign, nextafter, sgn, fix, positive
    powers of two             float_power (always float64), frexp, ldexp
    integers                  gcd, lcm
    conversions               rad2deg, deg2rad, angle, conj & co. (identity on real tensors)
    smooth functions          i0 (modified Bessel), sinc, logaddexp2, fmax / fmin (NaN-ignoring)

Integer and bool inputs of the float functions compute in the default float dtype, as in PyTorch.
The Bessel kernels (I0, I1 and their exponentially scaled forms) live here because i0 is a
top-level function; tensorgrad.special builds i0e, i1 and i1e on them.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..autograd.function import Op
from ..backend import xp_of
from ..tensor import Tensor
from ._pointwise import _const, _float_input, _masked, _need_tensor, _zeros
from ._util import _cast, operands
from .arithmetic import pow, where
from .comparison import BinaryUfunc
from .elementwise import _Step, cos, exp2, sign, sin, trunc
from .special import _float_pair, logaddexp

_LN2 = math.log(2.0)


def _quiet():
    """NumPy warns on 0/0, overflow, ...; PyTorch does not (no effect on CuPy)."""
    return np.errstate(all="ignore")


def _tensor_pair(op, input, other):
    """Both operands must be tensors (PyTorch's signature takes no numbers for these)."""
    _need_tensor(op, input)
    _need_tensor(op, other, "other", 2)
    return operands(op, input, other)


def _float_kinds_only(op, dt):
    if dt.kind != "f":
        raise NotImplementedError(f'"{op}" not implemented for {dtypes.as_dtype(dt).name} tensors (as in '
                                  f'PyTorch); convert the inputs with .float() first')


# ---------------------------------------------------------------- signs and steps
class Heaviside(Op):
    op_name = "heaviside"

    def forward(self, x, values):
        xp = xp_of(x)
        return xp.where(x == 0, values, (x > 0).astype(x.dtype))  # NaN input: 0, as PyTorch

    def backward(self, grad):
        raise RuntimeError("the derivative for 'heaviside' is not implemented (as in PyTorch): the step has "
                           "no useful gradient; detach() the input or use a smooth surrogate such as sigmoid")


def heaviside(input, values):
    """0 where input < 0, `values` where input == 0, 1 where input > 0 (and 0 for NaN)."""
    _need_tensor("heaviside", input)
    _need_tensor("heaviside", values, "values", 2)
    if input.dtype != values.dtype:
        raise RuntimeError(f"heaviside(): input ({input.dtype.name}) and values ({values.dtype.name}) must have "
                           f"the same dtype, as in PyTorch; convert one with .to(other.dtype)")
    return Heaviside()(input, values)


def signbit(input):
    """True where the sign bit is set: negative numbers, -0.0 and NaNs with the sign bit."""
    _need_tensor("signbit", input)
    d = input._data
    if d.dtype.kind == "b":
        return _const(xp_of(d).zeros(d.shape, dtype=bool))
    return _const(xp_of(d).signbit(d) if d.dtype.kind == "f" else d < 0)


class Copysign(Op):
    save_output = True
    save_inputs = (0,)
    op_name = "copysign"

    def forward(self, a, b):
        return xp_of(a).copysign(a, b)  # a is always the input tensor's array; b may be a number

    def backward(self, grad):
        a, y = self.saved_tensors
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:  # PyTorch's y / a, masked to 0 at a == ±0: ±1, and NaN at ±inf and NaN
            ad, yd = a._data, y._data
            xp, t = xp_of(ad), ad.dtype.type
            flip = xp.where(xp.signbit(ad) == xp.signbit(yd), t(1), t(-1))
            ga = _masked(grad, xp.where(ad == 0, t(0), xp.where(xp.isfinite(ad), flip, t(math.nan))))
        if nb:
            gb = _zeros(grad)
        return ga, gb


def copysign(input, other):
    """|input| with the sign of `other` (a tensor or a number); integers compute in float."""
    _need_tensor("copysign", input)
    a, b = _float_pair("copysign", input, other, scalars=True)
    return Copysign()(a, b)


class NextAfter(Op):
    save_inputs = (0, 1)
    op_name = "nextafter"

    def forward(self, a, b):
        return xp_of(a).nextafter(a, b)

    def backward(self, grad):
        # PyTorch's convention: the gradient passes to input where it moved (input != other), 0 for other
        a, b = self.saved_tensors
        na, nb = self.needs_input_grad
        return (_masked(grad, a._data != b._data) if na else None), (_zeros(grad) if nb else None)


def nextafter(input, other):
    """The next floating-point value after `input` towards `other`."""
    a, b, dt = _tensor_pair("nextafter", input, other)
    _float_kinds_only("nextafter", dt)
    return NextAfter()(a, b)


class Sgn(_Step):
    def forward(self, x):
        xp = xp_of(x)
        return xp.where(xp.isnan(x), x.dtype.type(0), xp.sign(x))  # PyTorch: sgn(NaN) = 0


def sgn(input):
    """The sign of each element: -1, 0 or 1, and 0 for NaN (PyTorch's sgn of real tensors)."""
    _need_tensor("sgn", input)
    return Sgn()(input) if input._data.dtype.kind == "f" else sign(input)


def fix(input):
    """Rounds towards zero: the same as trunc."""
    _need_tensor("fix", input)
    if input._data.dtype.kind == "b":
        raise NotImplementedError('"fix" not implemented for bool tensors; convert with .int() or .float() first')
    return trunc(input)


def positive(input):
    """input itself (unary plus); bool tensors raise, as in PyTorch."""
    _need_tensor("positive", input)
    if input._data.dtype.kind == "b":
        raise RuntimeError("positive(): the `+` operator on a bool tensor is not supported; "
                           "convert with .int() first")
    return input


def _real_identity(name):
    def fn(input):
        _need_tensor(name, input)
        return input  # tensorgrad has no complex dtypes: conjugation and negation bits never exist
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{name}(input): input itself (tensorgrad's tensors are real, as torch.{name} on real tensors)."
    return fn


conj, conj_physical, resolve_conj, resolve_neg = (
    _real_identity(n) for n in ("conj", "conj_physical", "resolve_conj", "resolve_neg"))


def is_conj(input) -> bool:
    _need_tensor("is_conj", input)
    return False


def is_neg(input) -> bool:
    _need_tensor("is_neg", input)
    return False


class Angle(Op):
    def forward(self, x):
        xp = xp_of(x)
        return xp.where(x < 0, x.dtype.type(math.pi), xp.where(xp.isnan(x), x, x.dtype.type(0)))

    def backward(self, grad):
        return _zeros(grad)  # piecewise constant: PyTorch's zero gradient


def angle(input):
    """The argument of a real number: pi for negative values, 0 otherwise (-0.0 too), NaN stays NaN."""
    return Angle()(_float_input("angle", input))


# ---------------------------------------------------------------- powers of two
def float_power(input, exponent):
    """input ** exponent computed in float64 whatever the inputs' dtypes (either may be a number)."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError(f"float_power(): expected at least one Tensor operand, got {type(input).__name__} and "
                        f"{type(exponent).__name__}")
    a, b = (_cast(v, np.float64) if isinstance(v, Tensor) else _float_number("float_power", v)
            for v in (input, exponent))
    return pow(a, b)


def _float_number(op, v):
    if isinstance(v, (bool, int, float, np.generic)) and not isinstance(v, (complex, np.complexfloating)):
        return float(v)
    raise TypeError(f"{op}(): expected a Tensor or a real number, got {type(v).__name__}")


class Frexp(Op):
    op_name = "frexp"

    def forward(self, x):
        m, e = xp_of(x).frexp(x)
        self.ctx_arrays = (e,)
        return m, e.astype(np.int32, copy=False)

    def backward(self, grad, _grad_exponent=None):
        (e,) = self.saved_arrays  # x = m * 2**e with e fixed: dm/dx = 2**-e
        d = grad._data
        return grad * _const(xp_of(d).ldexp(d.dtype.type(1), -e))


_FrexpResult = namedtuple("frexp", ["mantissa", "exponent"])


def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2**exponent, |mantissa| in [0.5, 1) (int32 exponent)."""
    _need_tensor("frexp", input)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"frexp(): only supports floating-point dtypes, got {input.dtype.name}; "
                           f"convert with .float() first")
    return _FrexpResult(*Frexp()(input))


def ldexp(input, other):
    """input * 2**other (other a tensor; integer operands give the default float dtype)."""
    a, b, dt = _tensor_pair("ldexp", input, other)
    if dt.kind != "f":
        dt = dtypes.get_default_dtype().np
        a, b = _cast(a, dt), _cast(b, dt)
    return a * exp2(b)


# ---------------------------------------------------------------- integers
def _integer_pair(op, input, other):
    a, b, dt = _tensor_pair(op, input, other)
    if dt.kind not in "iu":
        raise NotImplementedError(f'"{op}" not implemented for {dtypes.as_dtype(dt).name} tensors; '
                                  f'{op} is defined for integer tensors only')
    return BinaryUfunc(op, xp_of(a._data), op)(a, b)


def gcd(input, other):
    """Greatest common divisor, elementwise (non-negative; gcd(0, 0) = 0)."""
    return _integer_pair("gcd", input, other)


def lcm(input, other):
    """Least common multiple, elementwise (non-negative; 0 if either is 0)."""
    return _integer_pair("lcm", input, other)


# ---------------------------------------------------------------- conversions
def rad2deg(input):
    return _float_input("rad2deg", input) * (180.0 / math.pi)


def deg2rad(input):
    return _float_input("deg2rad", input) * (math.pi / 180.0)


# ---------------------------------------------------------------- modified Bessel functions I0, I1
# Power series below _SERIES_MAX (positive terms: no cancellation, 40 terms reach float64 accuracy
# at |x| = 20) and the large-argument asymptotic expansion above it (its terms shrink up to
# k ~ 2|x|, so 35 terms are float64-accurate from 20 up). Everything runs in float64 with the
# data's array module; the scaled forms never form e**|x|, so they stay finite everywhere.
_SERIES_MAX = 20.0


def _bessel_series(a, nu):
    """sum_k (a/2)**(2k+nu) / (k! (k+nu)!) for a >= 0 and nu = 0 or 1."""
    q = a * a * 0.25
    term = a * 0.5 if nu else xp_of(a).ones_like(a)
    s = term
    for k in range(1, 40):
        term = term * q / (k * (k + nu))
        s = s + term
    return s


def _bessel_asymptotic(a, nu):
    """The series S of I_nu(a) ~ e**a / sqrt(2 pi a) * S, S = sum_k (-1)**k prod_j (4nu² - (2j-1)²) / (k! (8a)**k)."""
    mu = 4.0 * nu * nu
    term = xp_of(a).ones_like(a)
    s = term
    for k in range(1, 35):
        term = term * ((2 * k - 1) ** 2 - mu) / (8.0 * k * a)
        s = s + term
    return s


def bessel_i(x, nu: int, scaled: bool):
    """I_nu(x) (or e**-|x| I_nu(x) when `scaled`) of a float array, in its dtype; nu is 0 or 1.

    As in PyTorch, the unscaled forms give NaN at ±inf (the scaled ones 0)."""
    xp = xp_of(x)
    a = xp.abs(x.astype(np.float64).reshape(-1))  # 1-d: NumPy's 0-d math gives scalars, not arrays
    with _quiet():
        small = a <= _SERIES_MAX
        s = _bessel_series(xp.where(small, a, 0.0), nu)
        big = xp.where(small, _SERIES_MAX + 1.0, a)
        g = _bessel_asymptotic(big, nu)
        if scaled:
            out = xp.where(small, s * xp.exp(-a), g / xp.sqrt(2.0 * math.pi * big))
        else:  # e**a / sqrt(2 pi a) as one exp: finite up to I0's own overflow at ~713
            out = xp.where(small, s, g * xp.exp(big - 0.5 * xp.log(2.0 * math.pi * big)))
            out = xp.where(xp.isinf(a), xp.nan, out)
        if nu == 1:
            out = xp.where(x.reshape(-1) < 0, -out, out)  # I1 is odd
        return out.astype(x.dtype, copy=False).reshape(x.shape)


class I0(Op):
    save_inputs = (0,)

    def forward(self, x):
        return bessel_i(x, 0, False)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * I1()(x)


class I1(Op):
    save_inputs = (0,)
    save_output = True

    def forward(self, x):
        return bessel_i(x, 1, False)

    def backward(self, grad):
        x, y = self.saved_tensors
        xd = x._data  # I1'(x) = I0(x) - I1(x)/x; PyTorch: 1/2 where |x| <= eps (and NaN)
        zero = ~(xp_of(xd).abs(xd) > np.finfo(xd.dtype).eps)
        xs = where(_const(zero), 1.0, x)
        return grad * where(_const(zero), 0.5, I0()(x) - y / xs)


def i0(input):
    """The modified Bessel function of the first kind, order 0 (torch.i0)."""
    return I0()(_float_input("i0", input))


# ---------------------------------------------------------------- sinc, logaddexp2, fmax, fmin
class Sinc(Op):
    save_inputs = (0,)

    def forward(self, x):
        xp = xp_of(x)
        with _quiet():
            t = x * x.dtype.type(math.pi)
            return xp.where(x == 0, x.dtype.type(1), xp.sin(t) / t)

    def backward(self, grad):
        (x,) = self.saved_tensors
        zero = x._data == 0  # sinc'(0) = 0; the masked x keeps 0/0 out of higher derivatives
        xs = where(_const(zero), 1.0, x)
        t = xs * math.pi
        return _masked(grad * ((t * cos(t) - sin(t)) / (t * xs)), ~zero)


def sinc(input):
    """sin(pi x) / (pi x), 1 at x = 0."""
    return Sinc()(_float_input("sinc", input))


def logaddexp2(input, other):
    """log2(2**input + 2**other) without overflow (floating tensors only)."""
    a, b = _float_pair("logaddexp2", input, other, ints=False)
    return logaddexp(a * _LN2, b * _LN2) * (1.0 / _LN2)


class _NanIgnoringExtremum(Op):
    """fmax / fmin: the gradient goes to input where it is chosen (ties and all-NaN included),
    else to other, as PyTorch's masks do."""

    save_inputs = (0, 1)
    fn = ""

    def forward(self, a, b):
        return getattr(xp_of(a), self.fn)(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        ad, bd = a._data, b._data
        xp = xp_of(ad)
        to_a = self.a_wins(ad, bd) | xp.isnan(bd)
        na, nb = self.needs_input_grad
        return (_masked(grad, to_a) if na else None), (_masked(grad, ~to_a) if nb else None)


class Fmax(_NanIgnoringExtremum):
    fn, op_name = "fmax", "fmax"
    a_wins = staticmethod(lambda a, b: a >= b)


class Fmin(_NanIgnoringExtremum):
    fn, op_name = "fmin", "fmin"
    a_wins = staticmethod(lambda a, b: a <= b)


def fmax(input, other):
    """Elementwise maximum that ignores NaN (NaN only where both are NaN)."""
    a, b, _ = _tensor_pair("fmax", input, other)
    return Fmax()(a, b)


def fmin(input, other):
    """Elementwise minimum that ignores NaN (NaN only where both are NaN)."""
    a, b, _ = _tensor_pair("fmin", input, other)
    return Fmin()(a, b)


__all__ = ["heaviside", "signbit", "copysign", "nextafter", "float_power", "frexp", "ldexp", "gcd", "lcm",
           "rad2deg", "deg2rad", "sgn", "fix", "positive", "conj", "conj_physical", "resolve_conj", "resolve_neg",
           "is_conj", "is_neg", "angle", "i0", "sinc", "logaddexp2", "fmax", "fmin"]
TENSOR_METHODS = " ".join(__all__)  # torch.Tensor has every one of them as a method
