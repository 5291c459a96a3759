"""Count distributions: Geometric, Binomial, NegativeBinomial and Multinomial, each given by probs
or logits (the log-odds, or for Multinomial unnormalized log-probabilities). No rsample; log_prob,
entropy and the moments differentiate into probs/logits."""
from __future__ import annotations

import math

import numpy as np

from .. import backend, creation, dtypes
from ..autograd import grad_mode
from ..ops._pointwise import _const
from ..ops.activation import softplus
from ..ops.arithmetic import where

from ..ops.gamma import lgamma
from ._special import poisson
from .continuous import Gamma
from .discrete import Categorical, _probs_logits
from . import constraints
from .distribution import Distribution, _as_tensor, _broadcast_all, _clamp_probs, _shape

_UNIT = "Interval(lower_bound=0.0, upper_bound=1.0)"


def _logits_of(p):
    p = _clamp_probs(p)
    return p.log() - (-p).log1p()


class _Binary(Distribution):
    """Shared set-up: probs in [0, 1] or logits, broadcast with the other parameters."""

    def _init_binary(self, probs, logits, *others):
        probs, logits = _probs_logits(probs, logits)
        if probs is not None:
            *others, self.probs = _broadcast_all(*others, probs)
            self.logits = _logits_of(self.probs)
        else:
            *others, self.logits = _broadcast_all(*others, logits)
            self.probs = self.logits.sigmoid()
            self._param_names = self._param_names[:-1] + ("logits",)
        return others, probs is not None

    @property
    def param_shape(self):
        return getattr(self, self._param_names[-1]).shape


class Geometric(_Binary):
    """Number of failures before the first success, success probability probs: P(k) = (1-p)^k p."""

    support = constraints.nonnegative_integer

    _param_names = ("probs",)

    def __init__(self, probs=None, logits=None, validate_args=None):
        _, given = self._init_binary(probs, logits)
        super().__init__(self.probs.shape, (), validate_args)
        if given:
            self._check_param("probs", (self.probs >= 0) & (self.probs <= 1), _UNIT)
            if self._validate_args and not bool((self.probs > 0).all()):
                raise ValueError(f"Expected parameter probs (Tensor of shape {tuple(self.probs.shape)}) of "
                                 f"distribution {self!r} to be positive but found invalid value:\n{self.probs}")

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return self.probs * 0

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        # inverse cdf: floor(log u / log(1 - p)) for u uniform on (0, 1)
        p = self.probs.detach()
        u = creation.rand(*self._extended_shape(sample_shape), dtype=p.dtype, device=p.device)
        u = u.clamp(min=dtypes.finfo(p.dtype).tiny)
        return (u.log() / (-p).log1p()).floor()

    def log_prob(self, value):
        value = _as_tensor(value, self.probs)
        self._check_value(value, (value >= 0) & (value == value.floor()), "IntegerGreaterThan(lower_bound=0)")
        # p = 1 and k = 0: probability 1, but 0 * log(0) is nan; zero that factor's p
        p = where((self.probs == 1) & (value == 0), 0.0, self.probs).to(self.probs.dtype)
        return value * (-p).log1p() + self.probs.log()

    def entropy(self):
        # binary cross-entropy of p with itself, divided by p
        return (softplus(self.logits) - self.logits * self.probs) / self.probs


def _bounded_below_by_zero(x):
    """max(x, 0) with PyTorch's gradient 1/2 at 0."""
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Binomial(_Binary):
    """Successes among total_count independent trials with success probability probs."""

    support = property(lambda self: constraints.integer_interval(0, self.total_count))

    _param_names = ("total_count", "probs")

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        (self.total_count,), given = self._init_binary(probs, logits, total_count)
        self.total_count = self.total_count.to(self.probs.dtype)
        super().__init__(self.probs.shape, (), validate_args)
        n = self.total_count
        self._check_param("total_count", (n >= 0) & (n == n.floor()), "IntegerGreaterThan(lower_bound=0)")
        if given:
            self._check_param("probs", (self.probs >= 0) & (self.probs <= 1), _UNIT)

    has_enumerate_support = True

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        m = ((self.total_count + 1) * self.probs).floor()
        return where(m > self.total_count, self.total_count, m)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        n = self.total_count.detach().expand(*shape)._data
        p = self.probs.detach().expand(*shape)._data
        engine = backend.generator_for(self.probs.device)
        draws = engine.binomial(n.astype(np.int64), p.astype(np.float64), size=shape)
        return _const(draws.astype(self.probs._data.dtype))

    def log_prob(self, value):
        value = _as_tensor(value, self.probs)
        n = self.total_count
        self._check_value(value, (value >= 0) & (value <= n) & (value == value.floor()),
                          "IntegerInterval(lower_bound=0, upper_bound=total_count)")
        # n log(1 + e^l) written stably as n (max(l, 0) + log1p(e^-|l|))
        norm = (n * _bounded_below_by_zero(self.logits) + n * (-self.logits.abs()).exp().log1p()
                - lgamma(n + 1))
        return value * self.logits - lgamma(value + 1) - lgamma(n - value + 1) - norm

    def enumerate_support(self, expand=True):
        n = self.total_count
        top = int(n.max().item()) if n.numel() else 0
        if not bool((n == top).all()):
            raise NotImplementedError("Inhomogeneous total count not supported by `enumerate_support`.")
        values = creation.arange(1 + top, dtype=self.probs.dtype, device=self.probs.device)
        values = values.reshape(-1, *([1] * len(self._batch_shape)))
        return values.expand(-1, *self._batch_shape) if expand else values

    def entropy(self):
        support = self.enumerate_support(expand=False)
        lp = self.log_prob(support)
        return -(lp.exp() * lp).sum(0)


class NegativeBinomial(_Binary):
    """Successes (each with probability probs) before total_count failures."""

    support = constraints.nonnegative_integer

    _param_names = ("total_count", "probs")

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        (self.total_count,), given = self._init_binary(probs, logits, total_count)
        self.total_count = self.total_count.to(self.probs.dtype)
        super().__init__(self.probs.shape, (), validate_args)
        self._check_param("total_count", self.total_count >= 0, "GreaterThanEq(lower_bound=0)")
        if given:
            self._check_param("probs", (self.probs >= 0) & (self.probs < 1),
                              "HalfOpenInterval(lower_bound=0.0, upper_bound=1.0)")

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    def sample(self, sample_shape=()):
        # a Gamma-Poisson mixture: rate ~ Gamma(total_count, rate e^-logits), k ~ Poisson(rate)
        with grad_mode.no_grad():
            rate = Gamma(self.total_count, (-self.logits).exp(), validate_args=False).sample(sample_shape)
            return poisson(rate)

    def log_prob(self, value):
        value = _as_tensor(value, self.probs)
        self._check_value(value, (value >= 0) & (value == value.floor()), "IntegerGreaterThan(lower_bound=0)")
        n, lg = self.total_count, self.logits
        unnorm = -n * softplus(lg) - value * softplus(-lg)         # n log(1-p) + k log p
        norm = -lgamma(n + value) + lgamma(1.0 + value) + lgamma(n)
        # n = k = 0 has probability 1, though lgamma(0) is infinite
        norm = where(n + value == 0, 0.0, norm).to(norm.dtype)
        return unnorm - norm


class Multinomial(Distribution):
    """Counts of total_count draws from a Categorical(probs or logits); event_shape (K,)."""

    support = property(lambda self: constraints.multinomial(self.total_count))

    _param_names = ("probs",)

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits, validate_args=validate_args)
        self._param_names = self._categorical._param_names
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:], validate_args)

    probs = property(lambda self: self._categorical.probs)
    logits = property(lambda self: self._categorical.logits)
    param_shape = property(lambda self: self._categorical.param_shape)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        from ..ops.index import one_hot
        k = self._event_shape[0]
        draws = self._categorical.sample((self.total_count,) + _shape(sample_shape))
        return one_hot(draws, k).sum(0).to(self.probs.dtype)

    def log_prob(self, value):
        value = _as_tensor(value, self.probs)
        ok = (value >= 0).all(-1) & (value.sum(-1) <= self.total_count) & (value == value.floor()).all(-1)
        self._check_value(value, ok, "Multinomial()")
        # 0 * -inf (a category of probability 0 never drawn) counts as 0
        lg = where((value == 0) & (self.logits == float("-inf")), 0.0, self.logits).to(self.logits.dtype)
        return lgamma(value.sum(-1) + 1) - lgamma(value + 1).sum(-1) + (lg * value).sum(-1)

    def entropy(self):
        # H = n H(cat) - log n! + sum_i E[log x_i!], x_i ~ Binomial(n, p_i)
        n = self.total_count
        binom = Binomial(n, self.probs, validate_args=False)
        k = creation.arange(1, n + 1, dtype=self.probs.dtype, device=self.probs.device)
        k = k.reshape(-1, *([1] * (len(self._batch_shape) + 1)))
        probs = binom.log_prob(k).exp()
        return n * self._categorical.entropy() - math.lgamma(n + 1) + (probs * lgamma(k + 1)).sum((0, -1))

