"""kl_divergence(p, q) and the register_kl registry. A pair dispatches to the registered
(type_p, type_q) that matches most specifically (nearest in both types' MROs), as in PyTorch."""
from __future__ import annotations

import math

from ..ops.activation import softplus
from ..ops.arithmetic import where
from ..ops.shape import stack
from ..ops.gamma import digamma
from ..ops.gamma import lgamma
from .continuous import Beta, Exponential, Gamma, Laplace, Normal, Uniform
from .discrete import Bernoulli, Categorical, OneHotCategorical, Poisson
from .distribution import Distribution, _sum_rightmost
from .multivariate import Dirichlet, Independent, MultivariateNormal, _batch_mahalanobis
from .counts import Binomial, Geometric
from .lowrank import LowRankMultivariateNormal
from .transformed import TransformedDistribution
from .univariate import _EULER, Cauchy, Gumbel, HalfNormal, Pareto

_KL: dict = {}
_dispatch_cache: dict = {}


def register_kl(type_p, type_q):
    """Decorator registering fn(p, q) as KL(p || q) for these distribution types (or subclasses)."""
    for t in (type_p, type_q):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(f"register_kl: expected subclasses of Distribution, but got {t!r}")

    def wrap(fn):
        _KL[type_p, type_q] = fn
        _dispatch_cache.clear()
        return fn
    return wrap


def _lookup(tp, tq):
    key = (tp, tq)
    if key not in _dispatch_cache:
        mp, mq = tp.__mro__, tq.__mro__
        matches = [(mp.index(a) + mq.index(b), fn) for (a, b), fn in _KL.items() if a in mp and b in mq]
        _dispatch_cache[key] = min(matches, key=lambda m: m[0])[1] if matches else None
    return _dispatch_cache[key]


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p(x) - log q(x)], batched over the batch shape."""
    fn = _lookup(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p = {type(p).__name__}, q = {type(q).__name__}; "
                                  f"register one with tensorgrad.distributions.register_kl")
    return fn(p, q)


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


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot(p, q):
    return _kl_categorical(p._categorical, q._categorical)


@register_kl(Poisson, Poisson)
def _kl_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Exponential, Exponential)
def _kl_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - ratio.log() - 1


@register_kl(Laplace, Laplace)
def _kl_laplace(p, q):
    scale_ratio = p.scale / q.scale
    d = (p.loc - q.loc).abs()
    return -scale_ratio.log() + d / q.scale + scale_ratio * (-d / p.scale).exp() - 1


@register_kl(Gamma, Gamma)
def _kl_gamma(p, q):
    t1 = q.concentration * (p.rate / q.rate).log()
    t2 = lgamma(q.concentration) - lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


# ---- pairs across families, each E_p[log p] - E_p[log q] with p's moments in closed form
def _gamma_neg_entropy(p):
    """-H(p) for Exponential (concentration 1) or Gamma p, and its mean and E[x^2]."""
    c = getattr(p, "concentration", 1.0)
    neg_h = -p.entropy()
    mean = c / p.rate
    return neg_h, mean, mean * mean + c / p.rate.pow(2)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    # E_p[log x] = -euler - log rate_p
    ratio = q.rate / p.rate
    return -q.concentration * ratio.log() + ratio + lgamma(q.concentration) + q.concentration * _EULER - (1 + _EULER)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * (p.concentration / p.rate)


@register_kl(Exponential, Normal)
@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    neg_h, mean, second = _gamma_neg_entropy(p)
    var_q = q.scale.pow(2)
    # E_p[(x - loc)^2] = E[x^2] - 2 loc E[x] + loc^2
    return neg_h + 0.5 * (2 * math.pi * var_q).log() + (second - 2 * q.loc * mean + q.loc.pow(2)) / (2 * var_q)


@register_kl(Exponential, Gumbel)
@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    # -log q(x) = z + e^-z + log scale, z = (x - loc)/scale; E_p[e^(-x/s)] = (1 + 1/(rate s))^-c
    neg_h, mean, _ = _gamma_neg_entropy(p)
    c = getattr(p, "concentration", 1.0)
    mgf = (1 + (p.rate * q.scale).reciprocal()).pow(-c)
    return neg_h + q.scale.log() + (mean - q.loc) / q.scale + (q.loc / q.scale).exp() * mgf


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    # E_p[e^-z] is the normal's moment generating function at -1/scale
    m, v = (p.loc - q.loc) / q.scale, (p.scale / q.scale).pow(2)
    return -0.5 * v.log() + m + (0.5 * v - m).exp() - 0.5 * (1 + math.log(2 * math.pi))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet(p, q):
    return _kl_concentrations(p.concentration, q.concentration)


def _kl_concentrations(cp, cq):
    sp, sq = cp.sum(-1), cq.sum(-1)
    t1 = lgamma(sp) - lgamma(sq)
    t2 = (lgamma(cp) - lgamma(cq)).sum(-1)
    t3 = (cp - cq) * (digamma(cp) - digamma(sp).unsqueeze(-1))
    return t1 - t2 + t3.sum(-1)


@register_kl(Beta, Beta)
def _kl_beta(p, q):
    cp = stack([p.concentration1, p.concentration0], -1)
    cq = stack([q.concentration1, q.concentration0], -1)
    return _kl_concentrations(cp, cq)


def _kl_gaussians(p_loc, lp, q_loc, lq, batch_shape):
    """KL between Gaussians given their means and lower Cholesky factors of the covariances."""
    from .. import linalg
    n = p_loc.shape[-1]
    half_log_det = lq.diagonal(0, -2, -1).log().sum(-1) - lp.diagonal(0, -2, -1).log().sum(-1)
    # tr(Sq^-1 Sp) = |Lq^-1 Lp|_F^2 ; (mq - mp)^T Sq^-1 (mq - mp) = |Lq^-1 (mq - mp)|^2
    trace = linalg.solve_triangular(lq, lp, upper=False).pow(2).sum((-2, -1))
    maha = _batch_mahalanobis(lq, q_loc - p_loc)
    out = half_log_det + 0.5 * (trace + maha - n)
    return out.expand(batch_shape) if tuple(out.shape) != tuple(batch_shape) else out


def _tril_of(d):
    if isinstance(d, MultivariateNormal):
        return d._unbroadcasted_scale_tril
    from .. import linalg
    return linalg.cholesky(d.covariance_matrix)      # low-rank: the dense n x n factor


@register_kl(MultivariateNormal, MultivariateNormal)
@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
@register_kl(LowRankMultivariateNormal, MultivariateNormal)
@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between two {'Low Rank ' if isinstance(p, LowRankMultivariateNormal) else ''}"
                         "Multivariate Normals with different event shapes cannot be computed")
    return _kl_gaussians(p.loc, _tril_of(p), q.loc, _tril_of(q), p.batch_shape)


@register_kl(Geometric, Geometric)
def _kl_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Binomial, Binomial)
def _kl_binomial(p, q):
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p() - (-q.probs).log1p())
    return _inf_where(p.total_count > q.total_count, kl)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel(p, q):
    ct1, ct2, ct3 = p.scale / q.scale, q.loc / q.scale, p.loc / q.scale
    t3 = (ct2 + lgamma(1 + ct1) - ct3).exp()
    return -ct1.log() - ct2 + ct3 + ct1 * _EULER + t3 - (1 + _EULER)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal(p, q):
    return _kl_normal(p.base_dist, q.base_dist)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy(p, q):
    return ((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log() - (4 * p.scale * q.scale).log()


@register_kl(Pareto, Pareto)
def _kl_pareto(p, q):
    alpha_ratio = q.alpha / p.alpha
    result = q.alpha * (p.scale / q.scale).log() - alpha_ratio.log() + alpha_ratio - 1
    return _inf_where(p.scale < q.scale, result)       # p puts mass below q's support


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed(p, q):
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError("KL(TransformedDistribution || TransformedDistribution) needs the same transforms "
                                  "and event_shape")
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(Independent, Independent)
def _kl_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL(Independent || Independent) needs equal reinterpreted_batch_ndims, got "
                                  f"{p.reinterpreted_batch_ndims} and {q.reinterpreted_batch_ndims}")
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


