"""Continuous relaxations of discrete variables (Concrete / Gumbel-softmax): RelaxedBernoulli on
(0, 1) and RelaxedOneHotCategorical on the simplex, reparameterized so gradients reach the
logits; a lower temperature is closer to the discrete distribution. As in PyTorch, each is a
logit- (or log-) space base distribution pushed through a sigmoid (or exp)."""
from __future__ import annotations

import math

from .. import creation
from ..ops.activation import softplus
from .discrete import Bernoulli, Categorical
from . import constraints
from .distribution import Distribution, _as_tensor, _clamp_probs
from .transformed import TransformedDistribution
from .transforms import ExpTransform, SigmoidTransform


class LogitRelaxedBernoulli(Distribution):
    """The logit of a RelaxedBernoulli draw: (logits + logistic noise) / temperature."""

    support = constraints.real

    has_rsample = True
    _param_names = ("probs",)

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._bernoulli = Bernoulli(probs, logits, validate_args)
        self._param_names = self._bernoulli._param_names
        self.temperature = _as_tensor(temperature, self._bernoulli.logits)
        super().__init__(self._bernoulli.batch_shape, (), validate_args)

    probs = property(lambda self: self._bernoulli.probs)
    logits = property(lambda self: self._bernoulli.logits)
    param_shape = property(lambda self: self._bernoulli.param_shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        p = _clamp_probs(self.probs)
        u = _clamp_probs(creation.rand(*shape, dtype=p.dtype, device=p.device))
        return (u.log() - (-u).log1p() + p.log() - (-p).log1p()) / self.temperature

    def log_prob(self, value):
        diff = self.logits - _as_tensor(value, self.logits) * self.temperature
        return self.temperature.log() + diff - 2 * softplus(diff)


class _Relaxed(TransformedDistribution):
    """A relaxed distribution as `_transform` of its `_base_cls` draw; temperature, probs and logits
    are the base's, and log_prob checks the value against the support first."""

    has_rsample = True
    _base_cls = _transform = None

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = self._base_cls(temperature, probs, logits, validate_args)
        super().__init__(base, self._transform(), validate_args)
        self._param_names = base._param_names

    temperature = property(lambda self: self.base_dist.temperature)
    probs = property(lambda self: self.base_dist.probs)
    logits = property(lambda self: self.base_dist.logits)

    def log_prob(self, value):
        value = _as_tensor(value, self.logits)
        self._check_value(value, self.support.check(value), repr(self.support))
        return super().log_prob(value)


class RelaxedBernoulli(_Relaxed):
    """sigmoid of a LogitRelaxedBernoulli draw: values in (0, 1)."""

    support = constraints.unit_interval
    _base_cls, _transform = LogitRelaxedBernoulli, SigmoidTransform


class ExpRelaxedCategorical(Distribution):
    """The log of a RelaxedOneHotCategorical draw: log_softmax((logits + Gumbel noise) / temperature)."""

    support = constraints.real_vector

    has_rsample = True
    _param_names = ("probs",)

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args)
        self._param_names = self._categorical._param_names
        self.temperature = _as_tensor(temperature, self._categorical.logits)
        k = self._categorical._num_events
        super().__init__(self._categorical.batch_shape, (k,), validate_args)

    probs = property(lambda self: self._categorical.probs)
    logits = property(lambda self: self._categorical.logits)
    param_shape = property(lambda self: self._categorical.param_shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        lg = self.logits
        u = _clamp_probs(creation.rand(*shape, dtype=lg.dtype, device=lg.device))
        scores = (lg - (-u.log()).log()) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value):
        k = self._categorical._num_events
        t = self.temperature
        value = _as_tensor(value, self.logits)
        # log (K-1)! + (K-1) log t, and the log-density of the normalized scores
        log_scale = math.lgamma(k) + (k - 1) * t.log()
        score = self.logits - value * t
        return (score - score.logsumexp(-1, keepdim=True)).sum(-1) + log_scale


class RelaxedOneHotCategorical(_Relaxed):
    """exp of an ExpRelaxedCategorical draw: points of the simplex, event_shape (K,)."""

    support = constraints.simplex
    _base_cls, _transform = ExpRelaxedCategorical, ExpTransform
