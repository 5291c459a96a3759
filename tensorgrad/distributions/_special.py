"""The Gamma(alpha, 1) sampler with its implicit reparameterization gradient dx/dalpha, and the
Poisson sampler; the gamma-function family itself (lgamma, digamma, polygamma) is ops/gamma.py.

The array code is written against the data's array module (NumPy or CuPy) in float64.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.function import Op
from ..backend import xp_of
from ..ops._pointwise import _const
from ..ops.gamma import _digamma_f64, _quiet


# ---------------------------------------------------------------- Gamma(alpha, 1) sampling
def _series_grad(x, a):
    """dx/da where x < a + 1, from P(a, x) = x^a e^-x / Gamma(a+1) * S, S = sum_n c_n with
    c_0 = 1, c_n = c_{n-1} x / (a + n): dx/da = -(x/a) (S (log x - psi(a+1)) + dS/da), where
    dc_n/da = -c_n H_n, H_n = sum_{k<=n} 1/(a + k). All terms positive: no cancellation."""
    xp = xp_of(x)
    c, h = xp.ones_like(x), xp.zeros_like(x)
    s, ds = xp.ones_like(x), xp.zeros_like(x)
    for n in range(1, 100000):
        c = c * x / (a + n)
        h = h + 1.0 / (a + n)
        s, ds = s + c, ds - c * h
        if n % 8 == 0 and bool((c * (1.0 + h) <= 1e-17 * (s + xp.abs(ds))).all()):
            break
    return -(x / a) * (s * (xp.log(x) - _digamma_f64(a + 1.0)) + ds)


def _cf_grad(x, a):
    """dx/da where x >= a + 1, from Q(a, x) = x^a e^-x / Gamma(a) * C with C = 1 / K and the
    continued fraction K = b_0 + a_1/(b_1 + a_2/(b_2 + ...)), b_n = x + 2n + 1 - a,
    a_n = n (a - n): dx/da = x (C (log x - psi(a)) + dC/da). K and dK/da come from the
    convergents A_n / B_n, differentiated alongside (forward mode), rescaled to stay finite."""
    xp = xp_of(x)
    one, zero = xp.ones_like(x), xp.zeros_like(x)
    A0, B0, dA0, dB0 = one, zero, zero, zero                       # n = -1
    A1, B1, dA1, dB1 = x + 1.0 - a, one, -one, zero                # n = 0
    k, dk = A1, -one
    done = xp.zeros(x.shape, dtype=bool)
    for n in range(1, 100000):
        bn, an = x + 2 * n + 1.0 - a, n * (a - n)
        A2 = bn * A1 + an * A0
        B2 = bn * B1 + an * B0
        dA2 = -A1 + bn * dA1 + n * A0 + an * dA0
        dB2 = -B1 + bn * dB1 + n * B0 + an * dB0
        scale = xp.where(B2 != 0, 1.0 / xp.where(B2 != 0, B2, 1.0), 1.0)
        A0, B0, dA0, dB0 = A1 * scale, B1 * scale, dA1 * scale, dB1 * scale
        A1, B1, dA1, dB1 = A2 * scale, B2 * scale, dA2 * scale, dB2 * scale
        k_new, dk_new = A1 / B1, (dA1 * B1 - A1 * dB1) / (B1 * B1)
        # rounding keeps the last digits of dK moving: stop at 1e-14, not machine epsilon, and
        # freeze each element once it converged (else some element is always flickering)
        settled = (xp.abs(k_new - k) <= 1e-15 * xp.abs(k_new)) & (xp.abs(dk_new - dk) <= 1e-14 * xp.abs(dk_new))
        k, dk = xp.where(done, k, k_new), xp.where(done, dk, dk_new)
        done = done | settled
        if n % 8 == 0 and bool(done.all()):
            break
    c, dc = 1.0 / k, -dk / (k * k)
    return x * (c * (xp.log(x) - _digamma_f64(a)) + dc)


def standard_gamma_grad(x, a):
    """dx/dalpha of x ~ Gamma(alpha, 1) at the sample (implicit function theorem on the CDF:
    dx/da = -(dP(a, x)/da) / p(x; a)), float64 arrays in, float64 out; 0 where x underflowed to 0."""
    xp = xp_of(x)
    with _quiet():
        # the series for x < a + 1 (as Numerical Recipes) and, where the fraction converges slowly
        # (small a, x near 1), up to x = 4, where Q(a, x) >= ~1e-2 costs at most two digits
        series = (x < a + 1.0) | (x < 4.0)
        out = xp.zeros_like(x)
        if bool(series.any()):
            xs, as_ = xp.where(series, x, 0.5), xp.where(series, a, 1.0)
            out = xp.where(series, _series_grad(xs, as_), out)
        if bool((~series).any()):
            xc, ac = xp.where(series, 2.0, x), xp.where(series, 1.0, a)
            out = xp.where(series, out, _cf_grad(xc, ac))
        return xp.where(x > 0, out, 0.0)


class StandardGamma(Op):
    """x ~ Gamma(alpha, 1) drawn from the device's generator; gradient dx/dalpha (implicit)."""

    save_inputs = (0,)
    save_output = True

    def __init__(self, engine):
        self.engine = engine

    def forward(self, alpha):
        x = self.engine.standard_gamma(alpha.astype(np.float64), size=alpha.shape)
        tiny = np.finfo(alpha.dtype).tiny  # as PyTorch: never exactly 0
        return xp_of(alpha).maximum(x, tiny).astype(alpha.dtype, copy=False)

    def backward(self, grad):
        alpha, x = self.saved_tensors
        d = standard_gamma_grad(x._data.astype(np.float64), alpha._data.astype(np.float64))
        return grad * _const(d.astype(x._data.dtype, copy=False))


def standard_gamma(alpha):
    """Gamma(alpha, 1) samples of alpha's shape, differentiable into alpha (pathwise)."""
    return StandardGamma(backend.generator_for(alpha.device))(alpha)


def poisson(rate):
    """Poisson(rate) counts of rate's shape and dtype (not differentiable)."""
    engine = backend.generator_for(rate.device)
    counts = engine.poisson(rate._data.astype(np.float64), size=tuple(rate.shape))
    return _const(counts.astype(rate._data.dtype))
