"""tensorgrad.special: PyTorch's torch.special namespace.

Most names are the top-level ops under their SciPy-style names (expit = sigmoid, gammaln = lgamma,
psi = digamma, multigammaln = mvlgamma, ...). The functions that exist only here are new ops:

    erfcx      exp(x²) erfc(x), finite where erfc underflows (a continued fraction for x >= 3)
    ndtr       the standard normal CDF; log_ndtr its log, accurate far in both tails
    ndtri      the inverse of ndtr, accurate down to the smallest subnormal probability
    i0e, i1, i1e   modified Bessel functions (kernels in ops/pointwise_extra.py, next to i0)
    xlog1py    x * log1p(y), 0 where x == 0;  entr  -x log x (the elementwise entropy)
    gammainc, gammaincc   the regularized incomplete gamma functions P(a, x) and Q(a, x)

Integer and bool inputs compute in the default float dtype; the new functions compute in float64
and cast back to the input's dtype. Every backward is written with tensor ops (double backward works)
and follows PyTorch's values at 0, ±inf and NaN.
"""
from __future__ import annotations

import math

import numpy as np

from .autograd.function import Op
from .backend import xp_of
from .fused.activation import erfc as _erfc_arr
from .ops._pointwise import _const, _float_input, _masked
from .ops.arithmetic import where
from .ops.elementwise import exp, exp2, expm1, log, log1p, round, sigmoid
from .ops.gamma import _lgamma_arr, digamma, lgamma, mvlgamma, polygamma
from .ops.pointwise_extra import I1, bessel_i, i0, sinc
from .ops.reduce import log_softmax, logsumexp, softmax
from .ops.special import _erfinv_arr, _float_pair, erf, erfc, erfinv, logit, xlogy
from .tensor import Tensor

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)

expit = sigmoid
gammaln = lgamma
psi = digamma


def multigammaln(input, p):
    """The multivariate log-gamma function of dimension p (torch.special.multigammaln)."""
    return mvlgamma(input, p)


def _quiet():
    return np.errstate(all="ignore")


def _in_f64(fn):
    """Run an array function in float64 and cast back (precision for float16/float32 inputs). It sees
    a 1-d array: NumPy turns 0-d results into scalars, whose array module xp_of cannot tell."""
    def run(x):
        return fn(x.astype(np.float64).reshape(-1)).astype(x.dtype, copy=False).reshape(x.shape)
    return run


# ---------------------------------------------------------------- erfcx, log_ndtr, ndtri: array math
_ERFCX_CF_FROM = 3.0  # below: exp(x²) erfc(x) directly (erfc is relative-accurate there)


def _erfcx_tail(x):
    """(t, r) for the continued fraction erfcx(t) = 1/sqrt(pi) / (t + r),
    r = (1/2)/(t + 1/(t + (3/2)/(t + ...))), 30 levels (float64-accurate from t = 3), at t = max(x, 3)."""
    xp = xp_of(x)
    t = xp.where(x < _ERFCX_CF_FROM, _ERFCX_CF_FROM, x)  # NaN stays in this branch
    u = t
    for k in range(30, 1, -1):
        u = t + (k * 0.5) / u
    return t, 0.5 / u


def _erfcx_f64(x):
    """exp(x²) erfc(x): directly below 3 (for x < -26.6 exp overflows, as the true value does),
    by the continued fraction above."""
    xp = xp_of(x)
    with _quiet():
        t, r = _erfcx_tail(x)
        return xp.where(x < _ERFCX_CF_FROM, xp.exp(x * x) * _erfc_arr(x), 1.0 / (_SQRT_PI * (t + r)))


def _erfcx_deriv_f64(x):
    """erfcx'(x) = 2x erfcx(x) - 2/sqrt(pi). Above 3 the two terms cancel (the result is ~ -1/(sqrt(pi) x²)),
    so there it is -2/sqrt(pi) * r / (t + r) from the continued fraction. +inf: NaN, PyTorch's value."""
    xp = xp_of(x)
    with _quiet():
        t, r = _erfcx_tail(x)
        direct = 2.0 * x * xp.exp(x * x) * _erfc_arr(x) - 2.0 / _SQRT_PI
        out = xp.where(x < _ERFCX_CF_FROM, direct, (-2.0 / _SQRT_PI) * r / (t + r))
        return xp.where(x == xp.inf, xp.nan, out)


def _log_ndtr_f64(x):
    """log Phi(x): log1p(-Phi(-x)) for x >= -1 (keeps the tiny tail beyond Phi ~ 1), and
    log(erfcx(-x/sqrt2) / 2) - x²/2 below -1 (no underflow of Phi)."""
    xp = xp_of(x)
    with _quiet():
        right = xp.log1p(-0.5 * _erfc_arr(x * _INV_SQRT2))
        xl = xp.where(x < -1.0, x, -1.0)
        left = xp.log(0.5 * _erfcx_f64(-xl * _INV_SQRT2)) - 0.5 * xl * xl
        return xp.where(x < -1.0, left, right)


# Abramowitz & Stegun 26.2.23: the upper-tail normal quantile to 4.5e-4, a start for Newton steps
_AS_NUM = (2.515517, 0.802853, 0.010328)
_AS_DEN = (1.432788, 0.189269, 0.001308)


def _ndtri_f64(p):
    """Phi^-1(p). p >= 1/4: sqrt2 erfinv(2p - 1), where 2p - 1 and 1 - (2p - 1) are exact. p < 1/4:
    A&S's estimate, then Newton steps on log Phi(y) = log p (near-linear in the tail, so four steps
    reach float64 accuracy even at p = 1e-300, where 2p - 1 rounds to -1)."""
    xp = xp_of(p)
    with _quiet():
        tail = p < 0.25
        q = xp.where(tail & (p > 0), p, 0.125)
        t = xp.sqrt(-2.0 * xp.log(q))
        num = _AS_NUM[0] + t * (_AS_NUM[1] + t * _AS_NUM[2])
        den = 1.0 + t * (_AS_DEN[0] + t * (_AS_DEN[1] + t * _AS_DEN[2]))
        y = num / den - t
        log_q = xp.log(q)
        for _ in range(4):  # y -= (log Phi(y) - log q) / (phi(y) / Phi(y))
            lp = _log_ndtr_f64(y)
            y = y - (lp - log_q) * xp.exp(lp + 0.5 * y * y) * _SQRT_2PI
        center = math.sqrt(2.0) * _erfinv_arr(2.0 * xp.where(tail, 0.5, p) - 1.0)  # NaN, p > 1: NaN here
        out = xp.where(tail, y, center)
        return xp.where(p == 0, -xp.inf, xp.where(p < 0, xp.nan, out))


# ---------------------------------------------------------------- the ops
class Erfcx(Op):
    save_inputs = (0,)

    def forward(self, x):
        return _in_f64(_erfcx_f64)(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * ErfcxDeriv()(x)


class ErfcxDeriv(Op):
    """erfcx'(x), free of the cancellation of 2x erfcx(x) - 2/sqrt(pi) for large x."""

    save_inputs = (0,)
    save_output = True

    def forward(self, x):
        return _in_f64(_erfcx_deriv_f64)(x)

    def backward(self, grad):
        x, d = self.saved_tensors  # erfcx'' = 2 erfcx + 2x erfcx'
        return grad * (Erfcx()(x) * 2.0 + x * d * 2.0)


class LogNdtr(Op):
    save_inputs = (0,)
    save_output = True

    def forward(self, x):
        return _in_f64(_log_ndtr_f64)(x)

    def backward(self, grad):
        # phi/Phi: exp(-x²/2 - log Phi) / sqrt(2 pi) from x >= -1; below, sqrt(2/pi) / erfcx(-x/sqrt2),
        # which neither cancels nor overflows. -inf: NaN, PyTorch's value (its formula gives inf - inf).
        x, y = self.saved_tensors
        xd = x._data
        left_mask = xd < -1.0
        xl = where(_const(left_mask), x, -1.0)
        xr = where(_const(left_mask), -1.0, x)
        left = _SQRT_2_OVER_PI / Erfcx()(xl * -_INV_SQRT2)
        right = exp(xr * xr * -0.5 - where(_const(left_mask), 0.0, y)) * (1.0 / _SQRT_2PI)
        d = where(_const(left_mask), left, right)
        return grad * where(_const(xd == -np.inf), math.nan, d)


class Ndtri(Op):
    save_output = True

    def forward(self, p):
        return _in_f64(_ndtri_f64)(p)

    def backward(self, grad):
        (y,) = self.saved_tensors  # 1 / phi(y) = sqrt(2 pi) exp(y²/2)
        return grad * exp(y * y * 0.5) * _SQRT_2PI


class I0e(Op):
    save_inputs = (0,)
    save_output = True

    def forward(self, x):
        return bessel_i(x, 0, True)

    def backward(self, grad):
        x, y = self.saved_tensors  # (e^-|x| I0)' = e^-|x| I1 - sign(x) e^-|x| I0
        return grad * (I1e()(x) - y * _const(xp_of(x._data).sign(x._data)))


class I1e(Op):
    save_inputs = (0,)
    save_output = True

    def forward(self, x):
        return bessel_i(x, 1, True)

    def backward(self, grad):
        x, y = self.saved_tensors  # i0e(x) - i1e(x) (sign(x) + 1/x); PyTorch: 1/2 where |x| <= eps (and NaN)
        xd = x._data
        zero = _const(~(xp_of(xd).abs(xd) > np.finfo(xd.dtype).eps))
        xs = where(zero, 1.0, x)
        return grad * where(zero, 0.5, I0e()(x) - y * (_const(xp_of(xd).sign(xd)) + xs.reciprocal()))


class XLog1py(Op):
    save_inputs = (0, 1)
    op_name = "special.xlog1py"

    def forward(self, x, y):
        xp = xp_of(x)
        with _quiet():
            return xp.where((x == 0) & ~xp.isnan(y), x.dtype.type(0), x * xp.log1p(y))

    def backward(self, grad):
        x, y = self.saved_tensors
        nx, ny = self.needs_input_grad
        gx = gy = None
        if nx:  # PyTorch: xlog1py(grad, y), 0 where x == 0 and y <= -1
            xd, yd = x._data, y._data
            gx = _masked(XLog1py()(grad, y), ~((xd == 0) & (yd <= -1)))
        if ny:
            gy = grad * x / (y + 1.0)
        return gx, gy


class Entr(Op):
    save_inputs = (0,)

    def forward(self, x):
        xp = xp_of(x)
        with _quiet():
            out = xp.where(x > 0, -x * xp.log(x), x.dtype.type(-np.inf))
            return xp.where(x == 0, x.dtype.type(0), xp.where(xp.isnan(x), x, out))

    def backward(self, grad):
        (x,) = self.saved_tensors  # -(1 + log x): inf at 0, NaN below, as PyTorch
        return grad * -(log(x) + 1.0)


# ---------------------------------------------------------------- the functions
def erfcx(input):
    """The scaled complementary error function exp(x²) erfc(x)."""
    return Erfcx()(_float_input("special.erfcx", input))


def ndtr(input):
    """The standard normal CDF, (1 + erf(x / sqrt 2)) / 2."""
    return erfc(_float_input("special.ndtr", input) * -_INV_SQRT2) * 0.5


def log_ndtr(input):
    """log of the standard normal CDF, accurate for very negative and very positive x."""
    return LogNdtr()(_float_input("special.log_ndtr", input))


def ndtri(input):
    """The standard normal quantile (inverse of ndtr): -inf at 0, inf at 1, NaN outside [0, 1]."""
    return Ndtri()(_float_input("special.ndtri", input))


def i0e(input):
    """exp(-|x|) I0(x), the exponentially scaled modified Bessel function of order 0."""
    return I0e()(_float_input("special.i0e", input))


def i1(input):
    """The modified Bessel function of the first kind, order 1."""
    return I1()(_float_input("special.i1", input))


def i1e(input):
    """exp(-|x|) I1(x), the exponentially scaled modified Bessel function of order 1."""
    return I1e()(_float_input("special.i1e", input))


def xlog1py(input, other):
    """input * log1p(other), 0 where input is 0 (unless other is NaN); either may be a number."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"special.xlog1py(): expected at least one Tensor operand, got {type(input).__name__} "
                        f"and {type(other).__name__}")
    a, b = _float_pair("special.xlog1py", input, other, scalars=True)
    xp = xp_of((a if isinstance(a, Tensor) else b)._data)
    a, b = ((v if isinstance(v, Tensor) else _const(xp.asarray(v))) for v in (a, b))
    return XLog1py()(a, b)


def entr(input):
    """The elementwise entropy -x log x: 0 at 0, -inf for negative x."""
    return Entr()(_float_input("special.entr", input))


# ---------------------------------------------------------------- regularized incomplete gamma
_IGAMMA_MAX_STEPS = 5000  # enough for a up to ~3e5 (both expansions need ~8 sqrt(a) steps)


def _igamma_f64(a, x, upper: bool):
    """P(a, x) (or Q = 1 - P when `upper`) for float64 arrays, PyTorch's values at the edges.

    x < a + 1: the series P = x**a e**-x / Gamma(a + 1) * sum_n x**n / ((a+1)...(a+n)); else Legendre's
    continued fraction Q = x**a e**-x / Gamma(a) / (x + 1 - a - 1(1-a)/(x + 3 - a - 2(2-a)/(x + 5 - a - ...))),
    by the modified Lentz method. Each is used where it converges fast and gives the smaller of P and Q
    directly; the other is 1 minus it. The loops stop when every element has converged (on CUDA one
    host sync per step, as gamma.py's recurrences)."""
    xp = xp_of(x)
    eps, tiny = np.finfo(np.float64).eps, 1e-300
    with _quiet():
        ok = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        aa, xx = xp.where(ok, a, 1.0), xp.where(ok, x, 1.0)
        log_pre = aa * xp.log(xx) - xx - _lgamma_arr(aa)
        series = xx < aa + 1.0
        # series for P (where series), from term 1/a
        term = xp.where(series, 1.0 / aa, 0.0)
        total, n = term, 0
        while n < _IGAMMA_MAX_STEPS and bool((xp.abs(term) > eps * xp.abs(total)).any()):
            n += 1
            term = term * xx / (aa + n)
            total = total + term
        p_series = total * xp.exp(log_pre)
        # continued fraction for Q (elsewhere): b_0 = x + 1 - a, then a_i = -i (i - a), b_i = b_{i-1} + 2
        b = xp.where(series, 2.0, xx + 1.0 - aa)
        c, d = xp.full_like(b, 1.0 / tiny), 1.0 / b
        h, i = d, 0
        while i < _IGAMMA_MAX_STEPS:
            i += 1
            an = -i * (i - aa)
            b = b + 2.0
            d = an * d + b
            d = xp.where(xp.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = xp.where(xp.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            step = d * c
            h = h * step
            if not bool((xp.abs(step - 1.0) > eps).any()):
                break
        q_cf = h * xp.exp(log_pre)
        if upper:
            out = xp.where(series, 1.0 - p_series, q_cf)
            edge = xp.where(a == 0, 0.0, xp.where(x == 0, 1.0, xp.where(xp.isinf(a), 1.0, 0.0)))
        else:
            out = xp.where(series, p_series, 1.0 - q_cf)
            edge = xp.where(a == 0, 1.0, xp.where(x == 0, 0.0, xp.where(xp.isinf(a), 0.0, 1.0)))
        # PyTorch's order: a or x negative -> NaN; a == 0 -> 1 (P) for x > 0, NaN at x == 0; x == 0 -> 0;
        # a == inf -> 0, NaN for x == inf; x == inf -> 1; then NaN propagates
        nan = (a < 0) | (x < 0) | ((a == 0) & ~(x > 0)) | (xp.isinf(a) & xp.isinf(x))
        decided = (a == 0) | (x == 0) | xp.isinf(a) | xp.isinf(x)
        out = xp.where(decided, edge, xp.where(xp.isnan(a) | xp.isnan(x), xp.nan, out))
        return xp.where(nan, xp.nan, out)


class IGamma(Op):
    """P(a, x) or Q(a, x); only x is differentiable (PyTorch has no derivative in a)."""

    save_inputs = (0, 1)

    def __init__(self, upper: bool):
        self.upper = upper
        self.op_name = "special.gammaincc" if upper else "special.gammainc"

    def forward(self, a, x):
        dtype = a.dtype  # both operands come promoted to one float dtype
        a, x = (v.astype(np.float64) for v in xp_of(a).broadcast_arrays(a, x))
        out = _igamma_f64(a.reshape(-1), x.reshape(-1), self.upper).reshape(a.shape)
        return out.astype(dtype, copy=False)

    def backward(self, grad):
        a, x = self.saved_tensors
        na, nx = self.needs_input_grad
        if na:
            raise NotImplementedError(f"{self.op_name}(): the derivative with respect to input (a) is not "
                                      f"implemented (as in PyTorch); pass input without requires_grad")
        # d/dx P = x**(a-1) e**-x / Gamma(a), PyTorch's expression (its NaN/inf at x == 0 included)
        d = exp((a - 1.0) * log(x) - x - lgamma(a))
        return None, grad * (-d if self.upper else d)


def _igamma(name, upper, input, other):
    return IGamma(upper)(*_float_pair(name, input, other, ints=False))


def gammainc(input, other):
    """The regularized lower incomplete gamma function P(input, other); differentiable in other."""
    return _igamma("special.gammainc", False, input, other)


def gammaincc(input, other):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P; differentiable in other."""
    return _igamma("special.gammaincc", True, input, other)


__all__ = ["expit", "logit", "erf", "erfc", "erfcx", "erfinv", "gammaln", "digamma", "psi", "polygamma",
           "multigammaln", "xlogy", "xlog1py", "i0", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "sinc",
           "entr", "gammainc", "gammaincc", "logsumexp", "softmax", "log_softmax", "round", "exp2", "expm1", "log1p"]
