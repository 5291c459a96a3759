"""MixtureSameFamily: a Categorical over the rightmost batch dim of a component distribution.
log p(x) = logsumexp_k (log w_k + log p_k(x)); moments by the laws of total expectation and
variance. Sampling draws every component and keeps the chosen one (no rsample, as in PyTorch)."""
from __future__ import annotations

from ..autograd import grad_mode
from . import constraints
from .discrete import Categorical
from .distribution import Distribution, _as_tensor, _shape


class MixtureSameFamily(Distribution):
    """mixture_distribution: a Categorical with batch_shape B; component_distribution: batch B + (K,)."""

    support = property(lambda self: constraints.MixtureSameFamilyConstraint(self._component_distribution.support))

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an  instance of torch.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution need to be an instance of torch.distributions.Distribution")
        mb, cb = tuple(mixture_distribution.batch_shape), tuple(component_distribution.batch_shape)
        k = mixture_distribution.logits.shape[-1]
        if len(cb) < 1 or cb[-1] != k:
            raise ValueError(f"`mixture_distribution component` ({k}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({cb[-1] if cb else None})")
        if len(mb) > len(cb) - 1 or any(a != b and a != 1 and b != 1 for a, b in zip(reversed(mb), reversed(cb[:-1]))):
            raise ValueError(f"`mixture_distribution.batch_shape` ({mb}) is not compatible with "
                             f"`component_distribution.batch_shape`({cb[:-1]})")
        self._mixture_distribution, self._component_distribution = mixture_distribution, component_distribution
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(cb[:-1], component_distribution.event_shape, validate_args)

    mixture_distribution = property(lambda self: self._mixture_distribution)
    component_distribution = property(lambda self: self._component_distribution)

    def _pad(self, t):
        """Mixture-shaped (..., K) -> (..., K, 1, ..., 1) to broadcast over the event dims."""
        return t.reshape(*t.shape, *([1] * self._event_ndims))

    @property
    def mean(self):
        w = self._pad(self._mixture_distribution.probs)
        return (w * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        w = self._pad(self._mixture_distribution.probs)
        dim = -1 - self._event_ndims
        comp = self._component_distribution
        mean_cond_var = (w * comp.variance).sum(dim)
        var_cond_mean = (w * (comp.mean - self._pad_mean(self.mean)).pow(2)).sum(dim)
        return mean_cond_var + var_cond_mean

    def _pad_mean(self, m):
        return m.unsqueeze(-1 - self._event_ndims)

    def log_prob(self, value):
        x = _as_tensor(value, self._mixture_distribution.logits).unsqueeze(-1 - self._event_ndims)
        lp = self._component_distribution.log_prob(x)                        # (..., K)
        return (lp + self._mixture_distribution.logits.log_softmax(-1)).logsumexp(-1)

    def cdf(self, value):
        x = _as_tensor(value, self._mixture_distribution.logits).unsqueeze(-1 - self._event_ndims)
        return (self._component_distribution.cdf(x) * self._mixture_distribution.probs).sum(-1)

    def sample(self, sample_shape=()):
        with grad_mode.no_grad():
            s = _shape(sample_shape)
            idx = self._mixture_distribution.sample(s)                     # (s..., mb...)
            comps = self._component_distribution.sample(s)                 # (s..., B..., K, event...)
            nb, mb = len(self._batch_shape), tuple(self._mixture_distribution.batch_shape)
            # the mixture's batch is right-aligned with B (it may broadcast); one index per event
            idx = idx.reshape(*s, *([1] * (nb - len(mb))), *mb, 1, *([1] * self._event_ndims))
            idx = idx.expand(*s, *self._batch_shape, 1, *self._event_shape)
            return comps.gather(len(s) + nb, idx).squeeze(len(s) + nb)

    def __repr__(self):
        return (f"MixtureSameFamily(\n  {self._mixture_distribution!r},\n  {self._component_distribution!r})")
