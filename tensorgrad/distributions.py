"""tensorgrad.distributions: Normal, Uniform, Bernoulli, Categorical and kl_divergence, with
torch.distributions' names, parameters and formulas (what policy-gradient and VAE code uses).

log_prob, entropy and the moments are tensor ops, so they differentiate into the parameters;
rsample (Normal, Uniform) is reparameterized (loc + scale * eps), so samples do too; sample()
never records. Draws come from tensorgrad's generators on the parameters' device. As in PyTorch,
validate_args (default True) checks parameters when a distribution is made and values given to
log_prob, which reads the data (on CUDA, a wait for the GPU).
"""
from __future__ import annotations

import math

from . import creation, dtypes
from .autograd import grad_mode
from .ops.activation import softplus
from .ops.arithmetic import where
from .tensor import Size, Tensor

_validate_default = [True]


def _as_tensor(v, like=None):
    if isinstance(v, Tensor):
        return v
    dt = like.dtype if isinstance(like, Tensor) and like.is_floating_point() else dtypes.get_default_dtype()
    return creation.tensor(float(v), dtype=dt, device=like.device if isinstance(like, Tensor) else None)


def _broadcast_all(*values):
    """The parameters as tensors (numbers in the others' dtype and device), broadcast together."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    from .ops.shape import broadcast_tensors
    return broadcast_tensors(*[_as_tensor(v, like) for v in values])


def _shape(sample_shape) -> tuple:
    return tuple(sample_shape) if isinstance(sample_shape, (tuple, list, Size)) else (int(sample_shape),)


class Distribution:
    """The base: batch_shape and event_shape, sample/rsample, log_prob, entropy and moments."""

    has_rsample = False

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

    def _check(self, ok, what):
        if self._validate_args and not bool(ok.all()):
            raise ValueError(f"Expected {what} of distribution {self!r} to be valid, but found invalid values")

    def __repr__(self):
        parts = []
        for name in self._param_names:
            v = getattr(self, name)
            parts.append(f"{name}: {v.item() if v.numel() == 1 else v.shape}")
        return f"{type(self).__name__}({', '.join(parts)})"


class Normal(Distribution):
    """Gaussian with mean loc and standard deviation scale (broadcast together)."""

    has_rsample = True
    _param_names = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)
        self._check(self.scale > 0, "parameter scale (GreaterThan(lower_bound=0.0))")

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
        from .ops.special import erf
        return 0.5 * (1 + erf((_as_tensor(value, self.loc) - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value):
        from .ops.special import erfinv
        return self.loc + self.scale * erfinv(2 * _as_tensor(value, self.loc) - 1) * math.sqrt(2)


class Uniform(Distribution):
    """Uniform on [low, high)."""

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
        if self._validate_args:
            self._check((value >= self.low) & (value < self.high), "value (in the support [low, high))")
        inside = ((self.low <= value) & (self.high > value)).to(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def entropy(self):
        return (self.high - self.low).log()

    def cdf(self, value):
        return ((_as_tensor(value, self.low) - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return _as_tensor(value, self.low) * (self.high - self.low) + self.low


def _probs_logits(probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    return probs, logits


class Bernoulli(Distribution):
    """1 with probability probs (or sigmoid(logits)), else 0."""

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
            self._check((self.probs >= 0) & (self.probs <= 1), "parameter probs (Interval(0.0, 1.0))")

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
        if self._validate_args:
            self._check((value == 0) | (value == 1), "value (in {0, 1})")
        return -(softplus(-self.logits) * value + softplus(self.logits) * (1 - value))

    def entropy(self):
        return softplus(-self.logits) * self.probs + softplus(self.logits) * (1 - self.probs)


def _clamp_probs(p):
    eps = dtypes.finfo(p.dtype).eps
    return p.clamp(eps, 1 - eps)


class Categorical(Distribution):
    """One of K categories (the last dim of probs or logits), each with its normalized weight."""

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
            self._check(_as_tensor(probs) >= 0, "parameter probs (non-negative)")

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
        if self._validate_args:
            self._check((value >= 0) & (value < self._num_events), f"value (an index in [0, {self._num_events}))")
        value = value.long().unsqueeze(-1)
        from .ops.shape import broadcast_tensors
        value, logits = broadcast_tensors(value, self.logits)
        return logits.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self):
        lo = dtypes.finfo(self.logits.dtype).min
        return -(self.logits.clamp(min=lo) * self.probs).sum(-1)


# ---------------------------------------------------------------- KL divergence
_KL: dict = {}


def register_kl(type_p, type_q):
    """Decorator registering fn(p, q) as KL(p || q) for these distribution types."""
    def wrap(fn):
        _KL[type_p, type_q] = fn
        return fn
    return wrap


def kl_divergence(p, q):
    """KL(p || q), batched."""
    for (tp, tq), fn in _KL.items():
        if isinstance(p, tp) and isinstance(q, tq):
            return fn(p, q)
    raise NotImplementedError(f"No KL(p || q) is implemented for p = {type(p).__name__}, q = {type(q).__name__}; "
                              f"register one with tensorgrad.distributions.register_kl")


def _inf_where(cond, t):
    return where(cond, float("inf"), t).to(t.dtype)


@register_kl(Normal, Normal)
def _kl_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Uniform, Uniform)
def _kl_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _inf_where((q.low > p.low) | (q.high < p.high), result)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli(p, q):
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = where(p.probs == 0, 0.0, _inf_where(q.probs == 0, t1)).to(t1.dtype)
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = where(p.probs == 1, 0.0, _inf_where(q.probs == 1, t2)).to(t2.dtype)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = where(p.probs == 0, 0.0, _inf_where(q.probs == 0, t)).to(t.dtype)
    return t.sum(-1)


__all__ = ["Distribution", "Normal", "Uniform", "Bernoulli", "Categorical", "kl_divergence", "register_kl"]
