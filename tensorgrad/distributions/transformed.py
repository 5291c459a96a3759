"""TransformedDistribution: y = t_n(...t_1(x)) for x from a base distribution, with density by the
change of variables log p(y) = log p_base(x) - sum_i log |dt_i/dx|, and the cdf/icdf of monotone
transforms (a decreasing one flips the cdf)."""
from __future__ import annotations

from ..tensor import Size
from . import constraints
from .distribution import Distribution, _as_tensor, _sum_rightmost
from .multivariate import Independent
from .transforms import ComposeTransform, Transform


class TransformedDistribution(Distribution):
    """base_distribution pushed through transforms (a Transform or a list, applied in order)."""

    def __init__(self, base_distribution, transforms, validate_args=None):
        if isinstance(transforms, Transform):
            transforms = [transforms]
        elif not (isinstance(transforms, list) and all(isinstance(t, Transform) for t in transforms)):
            raise ValueError("transforms must be a Transform or a list of Transforms")
        self.transforms = transforms
        chain = ComposeTransform(transforms)
        base_shape = tuple(base_distribution.batch_shape) + tuple(base_distribution.event_shape)
        dom_event = chain.domain.event_dim
        if len(base_shape) < dom_event:
            raise ValueError(f"base_distribution needs at least {dom_event} dims but has shape {base_shape}")
        # a transform over more event dims than the base has: those batch dims become event dims
        extra = dom_event - len(base_distribution.event_shape)
        if extra > 0:
            base_distribution = Independent(base_distribution, extra)
        self.base_dist = base_distribution
        shape = tuple(chain.forward_shape(base_shape))
        event_dim = chain.codomain.event_dim + max(len(base_distribution.event_shape) - dom_event, 0)
        cut = len(shape) - event_dim
        super().__init__(Size(shape[:cut]), Size(shape[cut:]), validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def support(self):
        cod = ComposeTransform(self.transforms).codomain
        extra = len(self._event_shape) - cod.event_dim
        return constraints.independent(cod, extra) if extra > 0 else cod

    def sample(self, sample_shape=()):
        x = self.base_dist.sample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def rsample(self, sample_shape=()):
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value):
        y = _as_tensor(value, _first_tensor(self))
        if type(self) is TransformedDistribution and self._validate_args:   # the named ones check their own
            support = self.support
            self._check_value(y, support.check(y), repr(support))
        event_dim, lp = len(self._event_shape), 0.0
        for t in reversed(self.transforms):
            x = t._inv_call(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            lp = lp - _sum_rightmost(t.log_abs_det_jacobian(x, y), event_dim - t.domain.event_dim)
            y = x
        return lp + _sum_rightmost(self.base_dist.log_prob(y), event_dim - len(self.base_dist.event_shape))

    def _decreasing(self):
        sign = 1
        for t in self.transforms:
            sign = sign * t.sign
        if isinstance(sign, int):
            return sign < 0
        if bool((sign == 1).all()):
            return False
        if bool((sign == -1).all()):
            return True
        raise NotImplementedError("cdf/icdf need transforms that are all increasing or all decreasing")

    def cdf(self, value):
        y = _as_tensor(value, _first_tensor(self))
        for t in reversed(self.transforms):
            y = t._inv_call(y)
        c = self.base_dist.cdf(y)
        return 1 - c if self._decreasing() else c

    def icdf(self, value):
        u = _as_tensor(value, _first_tensor(self))
        x = self.base_dist.icdf(1 - u if self._decreasing() else u)
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return f"{type(self).__name__}()" if type(self) is TransformedDistribution else super().__repr__()


def _first_tensor(d):
    """A parameter tensor of the (innermost) base distribution: numbers given as values take its
    dtype and device."""
    while hasattr(d, "base_dist"):
        d = d.base_dist
    for name in d._param_names:
        return getattr(d, name)
    return None
