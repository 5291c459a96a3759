"""Univariate continuous distributions: Normal, Uniform, Exponential, Laplace, Gamma and Beta.

log_prob, entropy and the moments are tensor ops, so they differentiate into the parameters.
Normal, Uniform, Exponential and Laplace reparameterize by transforming standard noise; Gamma and
Beta by implicit reparameterization: x ~ Gamma(alpha, 1) moves with alpha along dx/dalpha =
-(dF/dalpha) / p at fixed CDF value F (see _special.standard_gamma_grad)."""
from __future__ import annotations

import math

from .. import creation, dtypes
from ..ops.special import xlogy
from ..ops.shape import stack
from ..ops.gamma import digamma
from ..ops.gamma import lgamma
from ..special import gammainc
from ._special import standard_gamma
from . import constraints
from .distribution import _GE0, _GT0, Distribution, _as_tensor, _broadcast_all


class Normal(Distribution):
    """Gaussian with mean loc and standard deviation scale (broadcast together)."""

    support = constraints.real

    has_rsample = True
    _param_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)
        self._check_param("scale", self.scale > 0, _GT0)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def rsample(self, sample_shape=()):
        eps = creation.randn(*self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        value = _as_tensor(value, self.loc)
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log().expand(self._batch_shape)

    def cdf(self, value):
        from ..ops.special import erf
        return 0.5 * (1 + erf((_as_tensor(value, self.loc) - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value):
        from ..ops.special import erfinv
        return self.loc + self.scale * erfinv(2 * _as_tensor(value, self.loc) - 1) * math.sqrt(2)


class Uniform(Distribution):
    """Uniform on [low, high)."""

    support = property(lambda self: constraints.interval(self.low, self.high))

    has_rsample = True
    _param_names = ("low", "high")

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = _broadcast_all(low, high)
        super().__init__(self.low.shape, (), validate_args)
        self._check(self.low < self.high, "parameters low < high")

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()):
        u = creation.rand(*self._extended_shape(sample_shape), dtype=self.low.dtype, device=self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        value = _as_tensor(value, self.low)
        self._check_value(value, (value >= self.low) & (value < self.high), "Interval(low, high)")
        inside = ((self.low <= value) & (self.high > value)).to(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def entropy(self):
        return (self.high - self.low).log()

    def cdf(self, value):
        return ((_as_tensor(value, self.low) - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return _as_tensor(value, self.low) * (self.high - self.low) + self.low


class Exponential(Distribution):
    """Density rate * exp(-rate x) on x >= 0."""

    support = constraints.nonnegative

    has_rsample = True
    _param_names = ("rate",)

    def __init__(self, rate, validate_args=None):
        (self.rate,) = _broadcast_all(rate)
        super().__init__(self.rate.shape, (), validate_args)
        self._check_param("rate", self.rate > 0, _GT0)

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return self.rate * 0

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        u = creation.rand(*self._extended_shape(sample_shape), dtype=self.rate.dtype, device=self.rate.device)
        return -(-u).log1p() / self.rate          # inverse CDF of 1 - exp(-rate x)

    def log_prob(self, value):
        value = _as_tensor(value, self.rate)
        self._check_value(value, value >= 0, _GE0)
        return self.rate.log() - self.rate * value

    def entropy(self):
        return 1.0 - self.rate.log()

    def cdf(self, value):
        return 1 - (-self.rate * _as_tensor(value, self.rate)).exp()

    def icdf(self, value):
        return -(-_as_tensor(value, self.rate)).log1p() / self.rate


class Laplace(Distribution):
    """Density exp(-|x - loc| / scale) / (2 scale)."""

    support = constraints.real

    has_rsample = True
    _param_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)
        self._check_param("scale", self.scale > 0, _GT0)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return math.sqrt(2) * self.scale

    def rsample(self, sample_shape=()):
        eps = dtypes.finfo(self.loc.dtype).eps
        u = creation.rand(*self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        u = u * (2 - eps) - (1 - eps)              # uniform on (-1, 1): log1p(-|u|) stays finite
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        value = _as_tensor(value, self.loc)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def entropy(self):
        return 1 + (2 * self.scale).log()

    def cdf(self, value):
        d = _as_tensor(value, self.loc) - self.loc
        return 0.5 - 0.5 * d.sign() * (-d.abs() / self.scale).expm1()

    def icdf(self, value):
        t = _as_tensor(value, self.loc) - 0.5
        return self.loc - self.scale * t.sign() * (-2 * t.abs()).log1p()


class Gamma(Distribution):
    """Density rate^c x^(c-1) exp(-rate x) / Gamma(c) on x > 0 (c = concentration)."""

    support = constraints.nonnegative

    has_rsample = True
    _param_names = ("concentration", "rate")

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = _broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, (), validate_args)
        self._check_param("concentration", self.concentration > 0, _GT0)
        self._check_param("rate", self.rate > 0, _GT0)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return x.clamp(min=dtypes.finfo(x.dtype).tiny)

    def log_prob(self, value):
        value = _as_tensor(value, self.rate)
        self._check_value(value, value >= 0, _GE0)
        c, r = self.concentration, self.rate
        return xlogy(c, r) + xlogy(c - 1, value) - r * value - lgamma(c)

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + lgamma(c) + (1.0 - c) * digamma(c)

    def cdf(self, value):
        """P(c, rate x): the regularized lower incomplete gamma (differentiable in rate and x only,
        as in PyTorch)."""
        value = _as_tensor(value, self.rate)
        self._check_value(value, value >= 0, _GE0)
        return gammainc(self.concentration, self.rate * value)


class Beta(Distribution):
    """Density x^(a-1) (1-x)^(b-1) / B(a, b) on [0, 1] (a = concentration1, b = concentration0)."""

    support = constraints.unit_interval

    has_rsample = True
    _param_names = ("concentration1", "concentration0")

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = _broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, (), validate_args)
        self._check_param("concentration1", self.concentration1 > 0, _GT0)
        self._check_param("concentration0", self.concentration0 > 0, _GT0)

    @property
    def _total(self):
        return self.concentration1 + self.concentration0

    @property
    def mean(self):
        return self.concentration1 / self._total

    @property
    def mode(self):
        return (self.concentration1 - 1) / (self._total - 2)

    @property
    def variance(self):
        t = self._total
        return self.concentration1 * self.concentration0 / (t.pow(2) * (t + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x1 = standard_gamma(self.concentration1.expand(shape))
        x0 = standard_gamma(self.concentration0.expand(shape))
        eps = dtypes.finfo(x1.dtype).eps
        return (x1 / (x1 + x0)).clamp(min=dtypes.finfo(x1.dtype).tiny, max=1 - eps)

    def log_prob(self, value):
        value = _as_tensor(value, self.concentration1)
        self._check_value(value, (value >= 0) & (value <= 1), "Interval(lower_bound=0.0, upper_bound=1.0)")
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1, value) + xlogy(b - 1, 1 - value) + lgamma(a + b) - lgamma(a) - lgamma(b)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        t = a + b
        return (lgamma(a) + lgamma(b) - lgamma(t) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
                + (t - 2) * digamma(t))

    @property
    def concentration(self):
        return stack([self.concentration1, self.concentration0], -1)
