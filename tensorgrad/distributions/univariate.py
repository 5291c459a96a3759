"""More univariate continuous distributions: Cauchy, StudentT, Chi2, and those PyTorch builds as
transformed distributions (LogNormal, HalfNormal, HalfCauchy, Gumbel, Weibull, Pareto), whose
closed-form moments and entropies are written out here. All reparameterize (rsample)."""
from __future__ import annotations

import math

from .. import creation, dtypes
from ..ops.arithmetic import where
from ..ops.gamma import digamma
from ..ops.gamma import lgamma
from .continuous import Exponential, Gamma, Normal, Uniform
from . import constraints
from .distribution import _GT0, Distribution, _as_tensor, _broadcast_all, _validate_default
from .transformed import TransformedDistribution
from .transforms import AbsTransform, AffineTransform, ExpTransform, PowerTransform

_EULER = 0.57721566490153286061
_NONNEG = "GreaterThanEq(lower_bound=0.0)"


def _full(like, value):
    return creation.full(tuple(like.shape), value, dtype=like.dtype, device=like.device)


class Cauchy(Distribution):
    """Density 1 / (pi scale (1 + ((x - loc) / scale)^2)); no mean or variance (nan, inf)."""

    support = constraints.real

    has_rsample = True
    _param_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)
        self._check_param("scale", self.scale > 0, _GT0)

    @property
    def mean(self):
        return _full(self.loc, float("nan"))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return _full(self.loc, float("inf"))

    def rsample(self, sample_shape=()):
        u = creation.rand(*self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + self.scale * (math.pi * (u - 0.5)).tan()     # the inverse cdf

    def log_prob(self, value):
        z = (_as_tensor(value, self.loc) - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - (z * z).log1p()

    def cdf(self, value):
        return ((_as_tensor(value, self.loc) - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        return (math.pi * (_as_tensor(value, self.loc) - 0.5)).tan() * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()


class Chi2(Gamma):
    """Gamma(df / 2, rate 1/2)."""

    _param_names = ("df",)

    def __init__(self, df, validate_args=None):
        (df,) = _broadcast_all(df)
        super().__init__(0.5 * df, 0.5, validate_args=False)
        self._validate_args = _validate_default[0] if validate_args is None else bool(validate_args)
        self._check_param("df", df > 0, _GT0)

    @property
    def df(self):
        return self.concentration * 2


class StudentT(Distribution):
    """Student's t with df degrees of freedom, shifted by loc and scaled by scale."""

    support = constraints.real

    has_rsample = True
    _param_names = ("df", "loc", "scale")

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = _broadcast_all(df, loc, scale)
        super().__init__(self.df.shape, (), validate_args)
        self._check_param("df", self.df > 0, _GT0)
        self._check_param("scale", self.scale > 0, _GT0)

    @property
    def mean(self):
        return where(self.df > 1, self.loc, float("nan")).to(self.loc.dtype)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        v = self.scale.pow(2) * self.df / (self.df - 2)
        v = where(self.df > 2, v, float("inf")).to(v.dtype)            # 1 < df <= 2: infinite
        return where(self.df > 1, v, float("nan")).to(v.dtype)         # df <= 1: undefined

    def rsample(self, sample_shape=()):
        # x = z / sqrt(chi2 / df): a standard normal over the root of an independent chi-square
        shape = self._extended_shape(sample_shape)
        z = creation.randn(*shape, dtype=self.df.dtype, device=self.df.device)
        chi2 = Chi2(self.df.expand(shape), validate_args=False).rsample()
        return self.loc + self.scale * z * (chi2 / self.df).rsqrt()

    def log_prob(self, value):
        y = (_as_tensor(value, self.loc) - self.loc) / self.scale
        norm = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi) + lgamma(0.5 * self.df)
                - lgamma(0.5 * (self.df + 1)))
        return -0.5 * (self.df + 1) * (y * y / self.df).log1p() - norm

    def entropy(self):
        df = self.df
        lbeta = lgamma(0.5 * df) + math.lgamma(0.5) - lgamma(0.5 * (df + 1))
        return (self.scale.log() + 0.5 * (df + 1) * (digamma(0.5 * (df + 1)) - digamma(0.5 * df))
                + 0.5 * df.log() + lbeta)


class LogNormal(TransformedDistribution):
    """exp(x) for x ~ Normal(loc, scale)."""

    support = constraints.positive

    _param_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        super().__init__(Normal(loc, scale, validate_args=validate_args), ExpTransform(), validate_args)

    loc = property(lambda self: self.base_dist.loc)
    scale = property(lambda self: self.base_dist.scale)

    def log_prob(self, value):
        value = _as_tensor(value, self.loc)
        self._check_value(value, value > 0, _GT0)
        return super().log_prob(value)

    @property
    def mean(self):
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale.pow(2)).exp()

    @property
    def variance(self):
        s2 = self.scale.pow(2)
        return s2.expm1() * (2 * self.loc + s2).exp()

    def entropy(self):
        return self.base_dist.entropy() + self.loc


class _Half(TransformedDistribution):
    """|x| for x from a distribution symmetric about 0: twice its density on x >= 0."""

    support = constraints.nonnegative

    _param_names = ("scale",)
    scale = property(lambda self: self.base_dist.scale)

    def log_prob(self, value):
        value = _as_tensor(value, self.scale)
        self._check_value(value, value >= 0, _NONNEG)
        lp = self.base_dist.log_prob(value) + math.log(2)
        return where(value >= 0, lp, float("-inf")).to(lp.dtype)

    def cdf(self, value):
        return 2 * self.base_dist.cdf(_as_tensor(value, self.scale)) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((_as_tensor(prob, self.scale) + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)

    @property
    def mode(self):
        return self.scale * 0


class HalfNormal(_Half):
    def __init__(self, scale, validate_args=None):
        super().__init__(Normal(0.0, scale, validate_args=validate_args), AbsTransform(), validate_args)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)


class HalfCauchy(_Half):
    def __init__(self, scale, validate_args=None):
        super().__init__(Cauchy(0.0, scale, validate_args=validate_args), AbsTransform(), validate_args)

    @property
    def mean(self):
        return _full(self.scale, float("inf"))

    variance = mean


class Gumbel(TransformedDistribution):
    """loc - scale log(-log u) for u ~ Uniform(0, 1): density exp(-(z + e^-z)) / scale, z = (x - loc)/scale."""

    support = constraints.real

    _param_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _broadcast_all(loc, scale)
        fi = dtypes.finfo(self.loc.dtype)
        base = Uniform(_full(self.loc, fi.tiny), _full(self.loc, 1 - fi.eps), validate_args=validate_args)
        super().__init__(base, [ExpTransform().inv, AffineTransform(0, -1.0), ExpTransform().inv,
                                AffineTransform(self.loc, -self.scale)], validate_args)
        self._check_param("scale", self.scale > 0, _GT0)

    def log_prob(self, value):
        z = (self.loc - _as_tensor(value, self.loc)) / self.scale
        return (z - z.exp()) - self.scale.log()

    @property
    def mean(self):
        return self.loc + self.scale * _EULER

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def entropy(self):
        return self.scale.log() + (1 + _EULER)


class Weibull(TransformedDistribution):
    """scale * e^(1/concentration) for e ~ Exponential(1)."""

    support = constraints.positive

    _param_names = ("scale", "concentration")

    def __init__(self, scale, concentration, validate_args=None):
        self.scale, self.concentration = _broadcast_all(scale, concentration)
        base = Exponential(self.scale * 0 + 1, validate_args=validate_args)
        super().__init__(base, [PowerTransform(self.concentration.reciprocal()), AffineTransform(0, self.scale)],
                         validate_args)
        self._check_param("scale", self.scale > 0, _GT0)
        self._check_param("concentration", self.concentration > 0, _GT0)

    def log_prob(self, value):
        value = _as_tensor(value, self.scale)
        self._check_value(value, value > 0, _GT0)
        return super().log_prob(value)

    @property
    def mean(self):
        return self.scale * lgamma(1 + self.concentration.reciprocal()).exp()

    @property
    def mode(self):
        c = self.concentration
        return self.scale * ((c - 1) / c).pow(c.reciprocal())

    @property
    def variance(self):
        c = self.concentration
        return self.scale.pow(2) * (lgamma(1 + 2 / c).exp() - (2 * lgamma(1 + c.reciprocal())).exp())

    def entropy(self):
        c = self.concentration
        return _EULER * (1 - c.reciprocal()) + (self.scale / c).log() + 1


class Pareto(TransformedDistribution):
    """scale * e^x for x ~ Exponential(alpha): density alpha scale^alpha / x^(alpha+1) on x >= scale."""

    support = property(lambda self: constraints.greater_than_eq(self.scale))

    _param_names = ("scale", "alpha")

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = _broadcast_all(scale, alpha)
        super().__init__(Exponential(self.alpha, validate_args=validate_args),
                         [ExpTransform(), AffineTransform(0, self.scale)], validate_args)
        self._check_param("scale", self.scale > 0, _GT0)
        self._check_param("alpha", self.alpha > 0, _GT0)

    def log_prob(self, value):
        value = _as_tensor(value, self.scale)
        self._check_value(value, value >= self.scale, "GreaterThanEq(lower_bound=scale)")
        return super().log_prob(value)

    @property
    def mean(self):
        a = self.alpha.clamp(min=1)           # infinite for alpha <= 1
        return a * self.scale / (a - 1)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        a = self.alpha.clamp(min=2)           # infinite for alpha <= 2
        return self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))

    def entropy(self):
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())
