"""The Distribution base class and the helpers every distribution shares: parameters as broadcast
tensors, sample shapes, and argument validation with torch.distributions' messages."""
from __future__ import annotations

import numpy as np

from .. import creation, dtypes
from ..autograd import grad_mode
from ..tensor import Size, Tensor

_validate_default = [True]


def _as_tensor(v, like=None):
    if isinstance(v, Tensor):
        return v
    dt = like.dtype if isinstance(like, Tensor) and like.is_floating_point() else dtypes.get_default_dtype()
    return creation.tensor(float(v), dtype=dt, device=like.device if isinstance(like, Tensor) else None)


def _broadcast_all(*values):
    """The parameters as tensors (numbers in the others' dtype and device), broadcast together."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    from ..ops.shape import broadcast_tensors
    return broadcast_tensors(*[_as_tensor(v, like) for v in values])


def _shape(sample_shape) -> tuple:
    return tuple(sample_shape) if isinstance(sample_shape, (tuple, list, Size)) else (int(sample_shape),)


def _sum_rightmost(t, n):
    return t.sum(tuple(range(-n, 0))) if n > 0 else t


def _clamp_probs(p):
    eps = dtypes.finfo(p.dtype).eps
    return p.clamp(eps, 1 - eps)


class Distribution:
    """The base: batch_shape and event_shape, sample/rsample, log_prob, entropy and moments."""

    has_rsample = False
    has_enumerate_support = False
    _param_names: tuple = ()
    _expand_skip: tuple = ()      # tensors kept unbroadcast (they broadcast against the batch anyway)

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape, self._event_shape = Size(tuple(batch_shape)), Size(tuple(event_shape))
        self._validate_args = _validate_default[0] if validate_args is None else bool(validate_args)

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        _validate_default[0] = bool(value)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()) -> tuple:
        return _shape(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape)

    def sample(self, sample_shape=()):
        with grad_mode.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterized sample (rsample); use sample()")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def expand(self, batch_shape, _instance=None):
        """The same distribution over a larger batch_shape (broadcast from the current one): every
        parameter tensor whose leading dims are the batch is expanded (a view: gradients flow back);
        inner distributions (Independent's base, a mixture's parts) expand with their extra dims."""
        new_batch, old = _shape(batch_shape), tuple(self._batch_shape)
        try:
            ok = tuple(np.broadcast_shapes(old, new_batch)) == new_batch
        except ValueError:
            ok = False
        if not ok:
            raise RuntimeError(f"{type(self).__name__}.expand(): batch_shape {new_batch} is not broadcastable from "
                               f"the distribution's batch_shape {old} (it must keep the trailing dims, or grow "
                               "dims of size 1)")
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        nb = len(old)
        for k, v in self.__dict__.items():
            if k in self._expand_skip:
                continue
            if isinstance(v, Tensor) and v.dim() >= nb and tuple(v.shape[:nb]) == old:
                setattr(new, k, v.expand(*new_batch, *v.shape[nb:]))
            elif isinstance(v, Distribution) and tuple(v.batch_shape[:nb]) == old:
                setattr(new, k, v.expand(new_batch + tuple(v.batch_shape[nb:])))
        new._batch_shape = Size(new_batch)
        return new

    @property
    def support(self):
        raise NotImplementedError(f"{type(self).__name__} does not define its support")

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__} has no enumerate_support (its support is not finite)")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no icdf")

    def perplexity(self):
        return self.entropy().exp()

    def _check(self, ok, what):
        """Raise PyTorch's ValueError unless every element of the bool tensor ok holds."""
        if self._validate_args and not bool(ok.all()):
            raise ValueError(f"Expected {what} of distribution {self!r} to be valid, but found invalid values")

    def _check_param(self, name, ok, constraint):
        if self._validate_args and not bool(ok.all()):
            v = getattr(self, name)
            raise ValueError(f"Expected parameter {name} (Tensor of shape {tuple(v.shape)}) of distribution "
                             f"{self!r} to satisfy the constraint {constraint}, but found invalid values:\n{v}")

    def _check_value(self, value, ok, support):
        if self._validate_args and not bool(ok.all()):
            raise ValueError(f"Expected value argument (Tensor of shape {tuple(value.shape)}) to be within the "
                             f"support ({support}) of the distribution {self!r}, but found invalid values:\n"
                             f"{value}")

    def __repr__(self):
        parts = []
        for name in self._param_names:
            v = getattr(self, name)
            parts.append(f"{name}: {v.item() if v.numel() == 1 else v.shape}")
        return f"{type(self).__name__}({', '.join(parts)})"


_GT0 = "GreaterThan(lower_bound=0.0)"
_GE0 = "GreaterThanEq(lower_bound=0.0)"
