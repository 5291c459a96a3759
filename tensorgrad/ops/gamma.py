"""The gamma-function family as differentiable ops, with PyTorch's values: lgamma, digamma,
polygamma and mvlgamma (torch.lgamma/digamma/polygamma/mvlgamma; methods too).

Everything computes in float64 and casts back. lgamma uses math.lgamma per element on the CPU and
cupyx.scipy.special on CUDA (backend.special_function); digamma and polygamma are written against
the data's array module: a recurrence up to where the asymptotic series is accurate, then the
series. Both reflect negative x first, so their recurrences have a fixed length: no host sync
on CUDA.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Op
from ..backend import special_function, xp_of
from ._pointwise import _float_input


def _quiet():
    return np.errstate(all="ignore")


# ---------------------------------------------------------------- lgamma
def _lgamma_scalar(v):
    try:
        return math.lgamma(v)
    except (ValueError, OverflowError):  # poles at 0, -1, -2, ...: PyTorch gives +inf
        return math.inf


_lgamma_ufunc = np.frompyfunc(_lgamma_scalar, 1, 1)
_lgamma_arr = special_function(
    # np.asarray: frompyfunc gives a bare Python float for a 0-d input
    "gammaln", lambda x: np.asarray(_lgamma_ufunc(np.asarray(x, np.float64))).astype(x.dtype))


# ---------------------------------------------------------------- digamma / polygamma
# Bernoulli numbers B_2 .. B_14 for the asymptotic series
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)


def _shift_up(x, floor, step, max_steps=None):
    """Move x up by whole steps until it is >= floor, accumulating step(y) for every y passed. With
    max_steps (enough for every x the caller can pass) the loop runs that many times and never
    reads a flag back, so on CUDA it queues without a host sync."""
    xp = xp_of(x)
    y, acc = x.copy(), xp.zeros_like(x)
    taken = 0
    while True:
        low = y < floor
        if taken == max_steps or (max_steps is None and not bool(low.any())):
            return y, acc
        acc = acc + xp.where(low, step(xp.where(low, y, 1.0)), 0.0)
        y = xp.where(low, y + 1.0, y)
        taken += 1


def _digamma_f64(x):
    xp = xp_of(x)
    with _quiet():
        neg = x < 0.5
        # reflection: psi(x) = psi(1 - x) - pi / tan(pi x) for x < 1/2
        y = xp.where(neg, 1.0 - x, x)
        # psi(y) = psi(y + 1) - 1/y; y >= 1/2 after the reflection, so 10 steps reach 10
        y, acc = _shift_up(y, 10.0, lambda v: -1.0 / v, max_steps=10)
        inv2 = 1.0 / (y * y)
        series, p = 0.0, inv2
        for k, b in enumerate(_B2K, 1):
            series = series + b / (2 * k) * p
            p = p * inv2
        out = acc + xp.log(y) - 0.5 / y - series
        # pi cot(pi x) from x's fractional part: exact however large |x| is (tan(pi x) is not)
        out = xp.where(neg, out - math.pi / xp.tan(math.pi * (x - xp.floor(x))), out)
        whole = (x <= 0) & (x == xp.floor(x))
        at_zero = xp.where(xp.signbit(x), xp.inf, -xp.inf)  # psi(-0) = +inf, psi(+0) = -inf, as PyTorch
        return xp.where(x == 0, at_zero, xp.where(whole, xp.nan, out))


def _cot_derivative_coeffs(n: int) -> list:
    """Coefficients (in c = cot(pi x), lowest power first) of d^n/dx^n cot(pi x), from
    d/dx cot(pi x) = -pi (1 + c^2): each derivative maps P(c) to -pi (1 + c^2) P'(c)."""
    p = [0.0, 1.0]
    for _ in range(n):
        dp = [k * p[k] for k in range(1, len(p))] + [0.0, 0.0]
        p = [-math.pi * (dp[k] + (dp[k - 2] if k >= 2 else 0.0)) for k in range(len(dp))]
    return p


def _polygamma_f64(n, x):
    """psi^(n)(x) = (-1)^(n+1) n! sum_k 1/(x+k)^(n+1), n >= 1: upward recurrence, then the
    asymptotic series (-1)^(n+1) [(n-1)!/y^n + n!/(2 y^(n+1)) + sum B_2k (2k+n-1)!/(2k)! / y^(2k+n)].
    Negative x reflects first, psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi d^n/dx^n cot(pi x), so the
    recurrence has a fixed length (no host sync, and no endless loop at -inf or -1e9)."""
    xp = xp_of(x)
    sign = -1.0 if n % 2 == 0 else 1.0
    fact = math.factorial(n)
    floor = 15.0 + 2 * n
    with _quiet():
        finite = xp.isfinite(x)
        neg = finite & (x < 0)
        z = xp.where(finite, xp.where(neg, 1.0 - x, x), floor)  # z >= 0; non-finite x parked
        y, acc = _shift_up(z, floor, lambda v: sign * fact / v ** (n + 1), max_steps=int(floor) + 1)
        s = math.factorial(n - 1) / y ** n + fact / (2 * y ** (n + 1))
        for k, b in enumerate(_B2K, 1):
            s = s + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) / y ** (2 * k + n)
        out = acc + sign * s
        # the reflection's cot(pi x) from x's fractional part: exact, however large |x| is
        c = 1.0 / xp.tan(math.pi * (x - xp.floor(x)))
        d = 0.0
        for coef in reversed(_cot_derivative_coeffs(n)):
            d = d * c + coef
        out = xp.where(neg, (-1.0) ** n * out - math.pi * d, out)
        whole = (x <= 0) & (x == xp.floor(x))
        out = xp.where(whole, sign * xp.inf, out)  # the poles: +inf for odd n, -inf for even, as PyTorch
        # PyTorch's values at the infinities: 0 / nan at +inf, nan / -+inf at -inf
        out = xp.where(x == xp.inf, 0.0 if n == 1 else xp.nan, out)
        out = xp.where(x == -xp.inf, xp.nan if n == 1 else sign * xp.inf, out)
        return xp.where(xp.isnan(x), xp.nan, out)


def _f64(fn):
    def run(x):
        return fn(x.astype(np.float64)).astype(x.dtype, copy=False)
    return run


class Lgamma(Op):
    save_inputs = (0,)

    def forward(self, x):
        return _lgamma_arr(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * Digamma()(x)


class Digamma(Op):
    save_inputs = (0,)

    def forward(self, x):
        return _f64(_digamma_f64)(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * Polygamma(1)(x)


class Polygamma(Op):
    save_inputs = (0,)

    def __init__(self, n):
        self.n = n

    def forward(self, x):
        return _f64(lambda a: _polygamma_f64(self.n, a))(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * Polygamma(self.n + 1)(x)


def lgamma(input):
    """log |Gamma(input)| elementwise (torch.lgamma)."""
    return Lgamma()(_float_input("lgamma", input))


def digamma(input):
    """d/dx lgamma(x) (torch.digamma): -inf at 0, NaN at the negative integers."""
    return Digamma()(_float_input("digamma", input))


def polygamma(n, input):
    """The n-th derivative of digamma (torch.polygamma); n = 0 is digamma."""
    if not isinstance(n, int) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n (or non-integer n), got n={n!r}")
    return digamma(input) if n == 0 else Polygamma(n)(_float_input("polygamma", input))


def mvlgamma(input, p):
    """The multivariate log-gamma of dimension p (torch.mvlgamma): sum_j lgamma(x - j/2) + p(p-1)/4 log(pi);
    every element must exceed (p - 1) / 2."""
    if not isinstance(p, int) or p < 1:
        raise RuntimeError(f"mvlgamma(): p has to be greater than or equal to 1, got {p!r}")
    x = _float_input("mvlgamma", input)
    if bool((x._data <= (p - 1) / 2).any()):
        raise RuntimeError(f"mvlgamma(): all elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    out = lgamma(x)
    for j in range(1, p):
        out = out + lgamma(x - j / 2)
    return out + p * (p - 1) / 4 * math.log(math.pi)


__all__ = ["lgamma", "digamma", "polygamma", "mvlgamma"]
