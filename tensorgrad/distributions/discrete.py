"""Discrete distributions: Bernoulli, Categorical, OneHotCategorical and Poisson. They have no
rsample; log_prob and entropy still differentiate into probs/logits/rate."""
from __future__ import annotations

import math

from .. import creation, dtypes
from ..autograd import grad_mode
from ..ops.activation import softplus
from ..ops.special import xlogy
from ..tensor import Tensor

from ..ops.gamma import lgamma
from ._special import poisson
from . import constraints
from .distribution import _GE0, Distribution, _as_tensor, _broadcast_all, _clamp_probs, _shape


def _probs_logits(probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    return probs, logits


class Bernoulli(Distribution):
    """1 with probability probs (or sigmoid(logits)), else 0."""

    support = constraints.boolean

    _param_names = ("probs",)

    def __init__(self, probs=None, logits=None, validate_args=None):
        probs, logits = _probs_logits(probs, logits)
        if probs is not None:
            self.probs = _as_tensor(probs)
            self.logits = _clamp_probs(self.probs).log() - (-_clamp_probs(self.probs)).log1p()
            shape = self.probs.shape
        else:
            self.logits = _as_tensor(logits)
            self.probs = self.logits.sigmoid()
            shape = self.logits.shape
            self._param_names = ("logits",)
        super().__init__(shape, (), validate_args)
        if probs is not None:
            self._check_param("probs", (self.probs >= 0) & (self.probs <= 1),
                              "Interval(lower_bound=0.0, upper_bound=1.0)")

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        with grad_mode.no_grad():
            return creation.bernoulli(self.probs.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        value = _as_tensor(value, self.logits)
        self._check_value(value, (value == 0) | (value == 1), "Boolean()")
        return -(softplus(-self.logits) * value + softplus(self.logits) * (1 - value))

    def entropy(self):
        return softplus(-self.logits) * self.probs + softplus(self.logits) * (1 - self.probs)

    has_enumerate_support = True

    @property
    def param_shape(self):
        return getattr(self, self._param_names[0]).shape

    def enumerate_support(self, expand=True):
        """Both outcomes along a new leading dim: (2, 1, ..., 1), or (2, *batch_shape) if expand."""
        nb = len(self._batch_shape)
        values = creation.arange(2, dtype=self.probs.dtype, device=self.probs.device).reshape(2, *([1] * nb))
        return values.expand(2, *self._batch_shape) if expand else values


class Categorical(Distribution):
    """One of K categories (the last dim of probs or logits), each with its normalized weight."""

    support = property(lambda self: constraints.integer_interval(0, self._num_events - 1))

    _param_names = ("probs",)

    def __init__(self, probs=None, logits=None, validate_args=None):
        probs, logits = _probs_logits(probs, logits)
        if probs is not None:
            p = _as_tensor(probs)
            if p.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = p / p.sum(-1, keepdim=True)
            self.logits = _clamp_probs(self.probs).log()
        else:
            lg = _as_tensor(logits)
            if lg.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = lg - lg.logsumexp(-1, keepdim=True)
            self.probs = self.logits.softmax(-1)
            self._param_names = ("logits",)
        self._num_events = self.probs.shape[-1]
        super().__init__(self.probs.shape[:-1], (), validate_args)
        if probs is not None:
            self._check_param("probs", (self.probs >= 0).all(-1), "Simplex()")

    @property
    def mean(self):
        return creation.full(tuple(self._batch_shape), float("nan"), dtype=self.probs.dtype, device=self.probs.device)

    variance = mean

    @property
    def mode(self):
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()):
        shape = _shape(sample_shape)
        n = math.prod(shape) if shape else 1
        rows = self.probs.reshape(-1, self._num_events)
        with grad_mode.no_grad():
            draws = creation.multinomial(rows, n, replacement=True)      # (batch, n)
        return draws.T.reshape(shape + tuple(self._batch_shape))

    def log_prob(self, value):
        value = _as_tensor(value, None) if not isinstance(value, Tensor) else value
        self._check_value(value, (value >= 0) & (value < self._num_events),
                          f"IntegerInterval(lower_bound=0, upper_bound={self._num_events - 1})")
        value = value.long().unsqueeze(-1)
        from ..ops.shape import broadcast_tensors
        value, logits = broadcast_tensors(value, self.logits)
        return logits.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self):
        lo = dtypes.finfo(self.logits.dtype).min
        return -(self.logits.clamp(min=lo) * self.probs).sum(-1)

    has_enumerate_support = True

    @property
    def param_shape(self):
        return getattr(self, self._param_names[0]).shape

    def enumerate_support(self, expand=True):
        """Every category (int64) along a new leading dim: (K, 1, ..., 1), or (K, *batch_shape)."""
        k, nb = self._num_events, len(self._batch_shape)
        values = creation.arange(k, device=self.probs.device).reshape(k, *([1] * nb))
        return values.expand(k, *self._batch_shape) if expand else values


class OneHotCategorical(Distribution):
    """A Categorical whose outcomes are one-hot vectors of length K (event_shape (K,))."""

    support = constraints.one_hot

    _param_names = ("probs",)

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args)
        self._param_names = self._categorical._param_names
        k = self._categorical._num_events
        super().__init__(self._categorical.batch_shape, (k,), validate_args)

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        from ..ops.index import one_hot
        return one_hot(self.probs.argmax(-1), self._event_shape[0]).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        from ..ops.index import one_hot
        idx = self._categorical.sample(sample_shape)
        return one_hot(idx, self._event_shape[0]).to(self.probs.dtype)

    def log_prob(self, value):
        value = _as_tensor(value, self.probs)
        ok = ((value == 0) | (value == 1)).all(-1) & (value.sum(-1) == 1)
        self._check_value(value, ok, "OneHot()")
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    has_enumerate_support = True

    @property
    def param_shape(self):
        return self._categorical.param_shape

    def enumerate_support(self, expand=True):
        """The K one-hot vectors along a new leading dim: (K, 1, ..., 1, K), or (K, *batch_shape, K)."""
        k, nb = self._event_shape[0], len(self._batch_shape)
        values = creation.eye(k, dtype=self.probs.dtype, device=self.probs.device).reshape(k, *([1] * nb), k)
        return values.expand(k, *self._batch_shape, k) if expand else values


class Poisson(Distribution):
    """Counts k >= 0 with probability rate^k exp(-rate) / k! (sample only: no rsample)."""

    support = constraints.nonnegative_integer

    _param_names = ("rate",)

    def __init__(self, rate, validate_args=None):
        (self.rate,) = _broadcast_all(rate)
        super().__init__(self.rate.shape, (), validate_args)
        self._check_param("rate", self.rate >= 0, _GE0)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        with grad_mode.no_grad():
            return poisson(self.rate.detach().expand(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        value = _as_tensor(value, self.rate)
        self._check_value(value, (value >= 0) & (value == value.floor()), "IntegerGreaterThan(lower_bound=0)")
        return xlogy(value, self.rate) - self.rate - lgamma(value + 1)
