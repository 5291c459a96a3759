"""TransformedDistribution: y = t_n(...t_1(x)) for x from a base distribution, with density by the
change of variables log p(y) = log p_base(x) - sum_i log |dt_i/dx|, and the cdf/icdf of monotone
transforms (a decreasing one flips the cdf). Transform parameters that broadcast past the
base shape expand the base distribution, so each element draws its own noise."""
from __future__ import annotations

from ..autograd import grad_mode
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
        base_event = len(base_distribution.event_shape)
        dom_event = chain.domain.event_dim
        if len(base_shape) < dom_event:
            raise ValueError(f"base_distribution needs at least {dom_event} dims but has shape {base_shape}")
        shape = tuple(chain.forward_shape(base_shape))
        # parameters broadcasting past the base (loc of shape (3,) over a scalar Normal): expand the base
        # to the preimage shape, so every element gets its own draw instead of one repeated noise value
        expanded = tuple(chain.inverse_shape(shape))
        if expanded != base_shape:
            base_distribution = base_distribution.expand(expanded[:len(expanded) - base_event])
        # a transform over more event dims than the base has: those batch dims become event dims
        if dom_event > base_event:
            base_distribution = Independent(base_distribution, dom_event - base_event)
        self.base_dist = base_distribution
        event_dim = max(chain.codomain.event_dim, base_event + chain.codomain.event_dim - dom_event)
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
        with grad_mode.no_grad():        # as torch: a sample is data, even through grad-requiring parameters
            return self._push(self.base_dist.sample(sample_shape))

    def rsample(self, sample_shape=()):
        return self._push(self.base_dist.rsample(sample_shape))

    def _push(self, x):
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

    def _monotonize_cdf(self, value):
        """A decreasing transform flips the cdf: sign * (u - 1/2) + 1/2, elementwise with the sign
        tensor (mixed signs allowed, and no host sync to ask which case holds)."""
        sign = 1
        for t in self.transforms:
            sign = sign * t.sign
        if isinstance(sign, int) and sign == 1:
            return value
        return sign * (value - 0.5) + 0.5

    def cdf(self, value):
        y = _as_tensor(value, _first_tensor(self))
        for t in reversed(self.transforms):
            y = t._inv_call(y)
        return self._monotonize_cdf(self.base_dist.cdf(y))

    def icdf(self, value):
        u = _as_tensor(value, _first_tensor(self))
        return self._push(self.base_dist.icdf(self._monotonize_cdf(u)))

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
