"""tensorgrad.distributions, round 4, against torch.distributions: enumerate_support and
param_shape, constraints, transforms and TransformedDistribution, expand, and the distributions
LogNormal, Gumbel, HalfNormal, HalfCauchy, Cauchy, StudentT, Chi2, Weibull, Pareto, Geometric,
Binomial, NegativeBinomial, Multinomial, RelaxedBernoulli, RelaxedOneHotCategorical,
LowRankMultivariateNormal, MixtureSameFamily and their KL divergences (values and gradients into
every parameter), sample shapes/supports/moments, reparameterized gradients and validation."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import distributions as D
from tensorgrad.distributions import constraints as C
from tensorgrad.distributions import transforms as T
from oracle import check_grad, check_torch, needs_torch, torch
from test_distributions_extra import _np, _pos, _torch_error

_rng = np.random.default_rng(41)


# ---------------------------------------------------------------- enumerate_support, param_shape
@needs_torch
@pytest.mark.parametrize("expand", [True, False])
def test_enumerate_support_matches_torch(expand):
    p = _rng.uniform(0.1, 0.9, size=(2, 3))
    for make in (lambda m, t: m.distributions.Bernoulli(probs=t),
                 lambda m, t: m.distributions.Categorical(probs=t),
                 lambda m, t: m.distributions.OneHotCategorical(logits=t)):
        ours, theirs = make(tg, tg.tensor(p)), make(torch, torch.tensor(p))
        a, b = ours.enumerate_support(expand), theirs.enumerate_support(expand)
        assert tuple(a.shape) == tuple(b.shape) and a.dtype.name == str(b.dtype)[6:]
        np.testing.assert_array_equal(_np(a), b.numpy())
        assert ours.has_enumerate_support and tuple(ours.param_shape) == tuple(theirs.param_shape)
        # log_prob of the whole support: one row per outcome, probabilities summing to 1
        np.testing.assert_allclose(_np(ours.log_prob(a)), theirs.log_prob(b).numpy(), rtol=1e-12)
    assert not D.Normal(0.0, 1.0).has_enumerate_support
    with pytest.raises(NotImplementedError, match="Normal has no enumerate_support"):
        D.Normal(0.0, 1.0).enumerate_support()


# ---------------------------------------------------------------- constraints
@needs_torch
def test_constraints_check_and_repr_match_torch():
    x = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0, np.nan], [0.25, 0.25, 0.5, 0.0, 3.0, 1.0]])
    names = ["real", "positive", "nonnegative", "unit_interval", "boolean", "nonnegative_integer",
             "positive_integer", "real_vector", "simplex", "one_hot"]
    for name in names:
        a, b = getattr(C, name), getattr(torch.distributions.constraints, name)
        assert repr(a) == repr(b) and a.event_dim == b.event_dim and a.is_discrete == b.is_discrete, name
        np.testing.assert_array_equal(_np(a.check(tg.tensor(x))), b.check(torch.tensor(x)).numpy(), err_msg=name)
    for make in (lambda c: c.interval(0.0, 1.0), lambda c: c.half_open_interval(0.0, 1.0),
                 lambda c: c.greater_than(0.5), lambda c: c.greater_than_eq(0.5), lambda c: c.less_than(0.5),
                 lambda c: c.integer_interval(0, 2), lambda c: c.independent(c.positive, 1),
                 lambda c: c.multinomial(4)):
        a, b = make(C), make(torch.distributions.constraints)
        assert repr(a) == repr(b) and a.event_dim == b.event_dim
        np.testing.assert_array_equal(_np(a.check(tg.tensor(x))), b.check(torch.tensor(x)).numpy(), err_msg=repr(a))
    m = np.array([[[2.0, 0.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]], [[2.0, 1.0], [1.0, 2.0]]])
    sym = np.array([[[2.0, 1.0], [1.0, 2.0]], [[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, 1e-3]]])
    for name in ("lower_triangular", "lower_cholesky", "positive_definite", "symmetric", "square"):
        a, b = getattr(C, name), getattr(torch.distributions.constraints, name)
        # (torch's positive_definite returns only the symmetry check when some matrix is not symmetric)
        for v in ((sym,) if name == "positive_definite" else (m, sym)):
            np.testing.assert_array_equal(_np(a.check(tg.tensor(v))), b.check(torch.tensor(v)).numpy(), err_msg=name)
    assert _np(C.positive_definite.check(tg.tensor(m))).tolist() == [False, False, True]
    with pytest.raises(ValueError, match="dependent"):
        C.dependent.check(tg.ones(2))


# ---------------------------------------------------------------- transforms
TRANSFORMS = {
    "exp": lambda m, M, p: M.ExpTransform(),
    "affine": lambda m, M, p: M.AffineTransform(p, p * p + 0.5),
    "affine-negative-number": lambda m, M, p: M.AffineTransform(1.5, -2.0),
    "affine-event": lambda m, M, p: M.AffineTransform(p, p - 3.0, event_dim=1),
    "sigmoid": lambda m, M, p: M.SigmoidTransform(),
    "tanh": lambda m, M, p: M.TanhTransform(),
    "power": lambda m, M, p: M.PowerTransform(p * p + 0.5),
    "compose": lambda m, M, p: M.ComposeTransform([M.AffineTransform(p, 0.5), M.ExpTransform(),
                                                   M.PowerTransform(p.exp()), M.ExpTransform().inv]),
    "inverse-sigmoid": lambda m, M, p: M.SigmoidTransform().inv,
}
_POSITIVE_DOMAIN = ("power", "inverse-sigmoid")


@needs_torch
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transforms_match_torch(name):
    make = TRANSFORMS[name]
    x = _rng.uniform(0.1, 0.9, size=(3, 4)) if name in _POSITIVE_DOMAIN else _rng.normal(size=(3, 4))

    def fn(m, x, p):
        t = make(m, m.distributions.transforms, p)
        y = t(x)
        tie = 0 * x.sum()       # a constant jacobian (number scale) still joins the graph, as check_torch needs
        return [y, t.log_abs_det_jacobian(x, y) + tie, t.inv(y), t.inv.log_abs_det_jacobian(y, x) + tie]
    check_torch(fn, [x, _rng.normal(size=(4,))], rtol=1e-9, atol=1e-10)
    t, tt = make(tg, T, tg.ones(4)), make(torch, torch.distributions.transforms, torch.ones(4))
    assert repr(t.domain) == repr(tt.domain) and repr(t.codomain) == repr(tt.codomain)
    assert t.bijective == tt.bijective


def test_transform_gradchecks_and_structure():
    for make in (lambda p: T.TanhTransform(), lambda p: T.AffineTransform(p, p.exp()),
                 lambda p: T.ComposeTransform([T.SigmoidTransform(), T.PowerTransform(p.exp())])):
        check_grad(lambda x, p: make(p).log_abs_det_jacobian(x, make(p)(x)) + make(p)(x),
                   [_rng.normal(size=3), _rng.normal(size=3)], double=False)
    soft, x = T.SoftmaxTransform(), tg.tensor(_rng.normal(size=(2, 5)))
    y = soft(x)
    np.testing.assert_allclose(_np(y.sum(-1)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(_np(soft(soft.inv(y))), _np(y), rtol=1e-12)     # inverse up to a shift
    with pytest.raises(NotImplementedError, match="SoftmaxTransform has no log_abs_det_jacobian"):
        soft.log_abs_det_jacobian(x, y)
    assert _np(T.AbsTransform()(tg.tensor([-2.0, 3.0]))).tolist() == [2.0, 3.0]
    assert T.ExpTransform().inv.inv == T.ExpTransform() and T.ExpTransform() != T.SigmoidTransform()
    assert T.AffineTransform(0.0, -1.0).sign == -1 and T.identity_transform(x) is x
    # cache_size=1: the inverse of the last output is the input itself (exact even where tanh saturates)
    t = T.TanhTransform(cache_size=1)
    big = tg.tensor([30.0])
    assert t.inv(t(big)) is big
    assert not np.isfinite(_np(T.TanhTransform().inv(T.TanhTransform()(big)))).all()


# ---------------------------------------------------------------- TransformedDistribution
@needs_torch
def test_transformed_distribution_matches_torch():
    def fn(m, loc, scale, a, x):
        M = m.distributions
        d = M.TransformedDistribution(M.Normal(loc, scale), [M.transforms.AffineTransform(a, 2.0),
                                                            M.transforms.SigmoidTransform()])
        u = M.TransformedDistribution(M.Normal(loc, scale), M.transforms.AffineTransform(a, -3.0))
        return [d.log_prob(x), d.cdf(x), d.icdf(x), u.log_prob(x), u.cdf(x), u.icdf(x)]
    check_torch(fn, [_rng.normal(size=(3,)), _pos(3), _rng.normal(size=(2, 3)), _rng.uniform(0.1, 0.9, size=(2, 3))],
                rtol=1e-9, atol=1e-10)

    def vec(m, loc, scale, v):
        M = m.distributions
        d = M.TransformedDistribution(M.Normal(loc, scale), [M.transforms.AffineTransform(loc, scale, event_dim=1)])
        return [d.log_prob(v)]
    check_torch(vec, [_rng.normal(size=(2, 4)), _pos(2, 4), _rng.normal(size=(3, 2, 4))], rtol=1e-9, atol=1e-10)
    d = D.TransformedDistribution(D.Normal(tg.zeros(2, 4), tg.ones(2, 4)),
                                  T.AffineTransform(tg.zeros(4), tg.ones(4), event_dim=1))
    td = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(torch.zeros(2, 4), torch.ones(2, 4)),
        torch.distributions.transforms.AffineTransform(torch.zeros(4), torch.ones(4), event_dim=1))
    shapes = (tuple(d.batch_shape), tuple(d.event_shape))
    assert shapes == (tuple(td.batch_shape), tuple(td.event_shape)) == ((2,), (4,))
    assert tuple(d.sample((5,)).shape) == (5, 2, 4) and d.has_rsample
    with pytest.raises(ValueError, match="transforms must be a Transform"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [lambda x: x])


# ---------------------------------------------------------------- the distributions against torch
def _moments(d, value, cdf=True):
    out = [d.log_prob(value), d.entropy(), d.mean, d.mode, d.variance, d.stddev]
    return out + ([d.cdf(value)] if cdf else [])


CASES = {
    "lognormal": (lambda m, loc, s, x: _moments(m.distributions.LogNormal(loc, s), x),
                  lambda: [_rng.normal(size=(4,)), _pos(3, 1), _pos(3, 4)]),
    "halfnormal": (lambda m, s, x: _moments(m.distributions.HalfNormal(s), x) + [
        m.distributions.HalfNormal(s).icdf(x / (1 + x))], lambda: [_pos(4), _pos(2, 4)]),
    "halfcauchy": (lambda m, s, x: [m.distributions.HalfCauchy(s).log_prob(x), m.distributions.HalfCauchy(s).entropy(),
                                    m.distributions.HalfCauchy(s).cdf(x),
                                    m.distributions.HalfCauchy(s).icdf(x / (1 + x)),
                                    m.distributions.HalfCauchy(s).mean, m.distributions.HalfCauchy(s).mode],
                   lambda: [_pos(4), _pos(2, 4)]),
    "cauchy": (lambda m, loc, s, x: [m.distributions.Cauchy(loc, s).log_prob(x),
                                     m.distributions.Cauchy(loc, s).entropy(), m.distributions.Cauchy(loc, s).cdf(x),
                                     m.distributions.Cauchy(loc, s).icdf(x.sigmoid()),
                                     m.distributions.Cauchy(loc, s).mean, m.distributions.Cauchy(loc, s).variance],
               lambda: [_rng.normal(size=(3, 1)), _pos(4), _rng.normal(size=(3, 4))]),
    "gumbel": (lambda m, loc, s, x: _moments(m.distributions.Gumbel(loc, s), x) + [
        m.distributions.Gumbel(loc, s).icdf(x.sigmoid())],
        lambda: [_rng.normal(size=(4,)), _pos(4), _rng.normal(size=(2, 4))]),
    "studentt": (lambda m, df, loc, s, x: _moments(m.distributions.StudentT(df, loc, s), x, cdf=False),
                 lambda: [np.array([0.7, 1.5, 2.5, 6.0]), _rng.normal(size=(4,)), _pos(4), _rng.normal(size=(3, 4))]),
    "chi2": (lambda m, df, x: _moments(m.distributions.Chi2(df), x, cdf=False) + [m.distributions.Chi2(df).df],
             lambda: [_pos(4, low=0.5, high=6), _pos(2, 4)]),
    "weibull": (lambda m, s, c, x: _moments(m.distributions.Weibull(s, c), x),
                lambda: [_pos(4), _pos(4, low=1.2, high=3), _pos(2, 4)]),
    "pareto": (lambda m, s, a, x: _moments(m.distributions.Pareto(s, a), s + x),
               lambda: [_pos(4), np.array([0.5, 1.5, 2.5, 4.0]), _pos(2, 4)]),
    "geometric-probs": (lambda m, p, k: _moments(m.distributions.Geometric(probs=p), k, cdf=False),
                        lambda: [_rng.uniform(0.1, 0.9, size=(4,)), _rng.integers(0, 6, size=(2, 4)).astype(float)]),
    "geometric-logits": (lambda m, lg, k: _moments(m.distributions.Geometric(logits=lg), k, cdf=False),
                         lambda: [_rng.normal(size=(4,)), _rng.integers(0, 6, size=(2, 4)).astype(float)]),
    "binomial": (lambda m, p, k: _moments(m.distributions.Binomial(m.tensor([5.0, 5.0, 5.0, 5.0], dtype=p.dtype), p),
                                          k, cdf=False),
                 lambda: [_rng.uniform(0.1, 0.9, size=(4,)), _rng.integers(0, 6, size=(3, 4)).astype(float)]),
    "binomial-logits": (lambda m, lg, k: [m.distributions.Binomial(m.tensor([3.0, 7.0], dtype=lg.dtype), logits=lg)
                                          .log_prob(k), m.distributions.Binomial(3, logits=lg).entropy()],
                        lambda: [np.array([-1.0, 2.0]), np.array([[0.0, 7.0], [3.0, 2.0]])]),
    "negativebinomial": (lambda m, n, p, k: [m.distributions.NegativeBinomial(n, p).log_prob(k),
        m.distributions.NegativeBinomial(n, p).mean, m.distributions.NegativeBinomial(n, p).mode,
        m.distributions.NegativeBinomial(n, p).variance],
        lambda: [_pos(4, low=0.5, high=5), _rng.uniform(0.1, 0.9, size=(4,)),
                 _rng.integers(0, 8, (3, 4)).astype(float)]),
    "negativebinomial-logits": (lambda m, n, lg, k: [m.distributions.NegativeBinomial(n, logits=lg).log_prob(k)],
                                lambda: [_pos(4), _rng.normal(size=(4,)), _rng.integers(0, 8, (4,)).astype(float)]),
    "multinomial": (lambda m, p, k: [m.distributions.Multinomial(6, probs=p).log_prob(k),
                                     m.distributions.Multinomial(6, probs=p).entropy(),
                                     m.distributions.Multinomial(6, probs=p).mean,
                                     m.distributions.Multinomial(6, probs=p).variance],
                    lambda: [_pos(2, 3), np.array([[1.0, 2.0, 3.0], [6.0, 0.0, 0.0]])]),
    "multinomial-logits": (lambda m, lg, k: [m.distributions.Multinomial(4, logits=lg).log_prob(k),
                                             m.distributions.Multinomial(4, logits=lg).entropy()],
                           lambda: [_rng.normal(size=(3, 4)), np.array([1.0, 2.0, 0.0, 1.0])]),
    "relaxed-bernoulli": (lambda m, t, lg, x: [m.distributions.RelaxedBernoulli(t, logits=lg).log_prob(x),
                                               m.distributions.RelaxedBernoulli(t, logits=lg).probs],
                          lambda: [_pos(4, low=0.2, high=2), _rng.normal(size=(4,)), _rng.uniform(0.05, 0.95, (3, 4))]),
    "relaxed-onehot": (lambda m, t, p, x: [m.distributions.RelaxedOneHotCategorical(t, probs=p).log_prob(x)],
                       lambda: [np.array(0.7), _pos(2, 4), _rng.dirichlet(np.ones(4), size=(3, 2))]),
}


@needs_torch
@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # Pareto's infinite mean (alpha <= 1) divides by zero
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name):
    fn, arrays = CASES[name]

    def tied(m, *a):   # outputs torch makes constant (a mode of 0, a nan mean) join the graph: check_torch needs it
        return [o + 0 * a[0].sum() for o in fn(m, *a)]
    # torch's Multinomial entropy takes lgamma(n + 1) in float32 (an absolute error ~1e-7); ours is float64
    check_torch(tied, arrays(), "cpu", rtol=1e-8, atol=2e-7 if "multinomial" in name else 1e-9)


def _lowrank(m, loc, w, d):
    return m.distributions.LowRankMultivariateNormal(loc, w, d.exp())


def _mixture(m, lg, loc, s):
    M = m.distributions
    return M.MixtureSameFamily(M.Categorical(logits=lg), M.Normal(loc, s))


def _mixture_mvn(m, lg, loc, w, d):
    M = m.distributions
    return M.MixtureSameFamily(M.Categorical(logits=lg), M.LowRankMultivariateNormal(loc, w, d.exp()))


MORE = {
    "lowrank": (lambda m, loc, w, d, x: [_lowrank(m, loc, w, d).log_prob(x), _lowrank(m, loc, w, d).entropy(),
                                         _lowrank(m, loc, w, d).variance, _lowrank(m, loc, w, d).covariance_matrix,
                                         _lowrank(m, loc, w, d).precision_matrix, _lowrank(m, loc, w, d).scale_tril],
                lambda: [_rng.normal(size=(2, 4)), _rng.normal(size=(4, 2)), _rng.normal(size=(3, 1, 4)),
                         _rng.normal(size=(3, 2, 4))]),
    "mixture": (lambda m, lg, loc, s, x: [_mixture(m, lg, loc, s).log_prob(x), _mixture(m, lg, loc, s).mean,
                                          _mixture(m, lg, loc, s).variance, _mixture(m, lg, loc, s).cdf(x)],
                lambda: [_rng.normal(size=(2, 3)), _rng.normal(size=(2, 3)), _pos(2, 3), _rng.normal(size=(4, 2))]),
    "mixture-mvn": (lambda m, lg, loc, w, d, x: [_mixture_mvn(m, lg, loc, w, d).log_prob(x),
                                                 _mixture_mvn(m, lg, loc, w, d).mean,
                                                 _mixture_mvn(m, lg, loc, w, d).variance],
                    lambda: [_rng.normal(size=(3,)), _rng.normal(size=(3, 2)), _rng.normal(size=(3, 2, 1)),
                             _rng.normal(size=(3, 2)), _rng.normal(size=(5, 2))]),
}


@needs_torch
@pytest.mark.parametrize("name", list(MORE))
def test_lowrank_and_mixture_match_torch(name):
    fn, arrays = MORE[name]
    check_torch(fn, arrays(), "cpu", rtol=1e-8, atol=1e-9)


# ---------------------------------------------------------------- KL divergence
def _dense(m, loc, x):
    return m.distributions.MultivariateNormal(loc * 0.5, x @ x.mT + 1e-1 * m.eye(3, dtype=x.dtype))


def _kl(make):
    return lambda m, *a: m.distributions.kl_divergence(make(m, *a[:len(a) // 2]), make(m, *a[len(a) // 2:]))


KL = {
    "geometric": (_kl(lambda m, lg: m.distributions.Geometric(logits=lg)), lambda: [_rng.normal(size=4)] * 1 + [
        _rng.normal(size=4)]),
    "binomial": (_kl(lambda m, p: m.distributions.Binomial(5, p)), lambda: [_rng.uniform(0.1, 0.9, 4),
                                                                             _rng.uniform(0.1, 0.9, 4)]),
    "gumbel": (_kl(lambda m, loc, s: m.distributions.Gumbel(loc, s)),
               lambda: [_rng.normal(size=4), _pos(4), _rng.normal(size=4), _pos(4)]),
    "halfnormal": (_kl(lambda m, s: m.distributions.HalfNormal(s)), lambda: [_pos(4), _pos(4)]),
    "cauchy": (_kl(lambda m, loc, s: m.distributions.Cauchy(loc, s)),
               lambda: [_rng.normal(size=4), _pos(4), _rng.normal(size=4), _pos(4)]),
    "pareto": (_kl(lambda m, s, a: m.distributions.Pareto(s, a)),
               lambda: [_pos(4, low=2, high=3), _pos(4), _pos(4, low=0.5, high=1.5), _pos(4)]),
    "lognormal": (_kl(lambda m, loc, s: m.distributions.LogNormal(loc, s)),
                  lambda: [_rng.normal(size=4), _pos(4), _rng.normal(size=4), _pos(4)]),
    "chi2": (_kl(lambda m, df: m.distributions.Chi2(df)), lambda: [_pos(4), _pos(4)]),
    "lowrank": (_kl(lambda m, loc, w, d: _lowrank(m, loc, w, d)),
                lambda: [_rng.normal(size=(2, 3)), _rng.normal(size=(3, 2)), _rng.normal(size=3),
                         _rng.normal(size=3), _rng.normal(size=(2, 3, 1)), _rng.normal(size=(2, 3))]),
    "lowrank-mvn": (lambda m, loc, w, d, x: [
        m.distributions.kl_divergence(_lowrank(m, loc, w, d), _dense(m, loc, x)),
        m.distributions.kl_divergence(_dense(m, loc, x), _lowrank(m, loc, w, d))],
        lambda: [_rng.normal(size=3), _rng.normal(size=(3, 2)), _rng.normal(size=3), _rng.normal(size=(3, 3))]),
}


@needs_torch
@pytest.mark.parametrize("name", list(KL))
def test_kl_matches_torch(name):
    fn, arrays = KL[name]
    check_torch(fn, arrays(), "cpu", rtol=1e-8, atol=1e-9)


@needs_torch
def test_kl_infinities_and_errors_match_torch():
    def pairs(m):
        t, M = m.tensor, m.distributions
        return [(M.Pareto(t([1.0, 2.0]), t([2.0, 2.0])), M.Pareto(t([1.5, 1.0]), t([1.0, 3.0]))),
                (M.Binomial(t([5.0, 6.0]), t([0.3, 0.4])), M.Binomial(t([5.0, 5.0]), t([0.5, 0.5])))]
    for (p, q), (tp, tq) in zip(pairs(tg), pairs(torch)):
        np.testing.assert_allclose(_np(D.kl_divergence(p, q)), torch.distributions.kl_divergence(tp, tq).numpy(),
                                   rtol=1e-6)
    with pytest.raises(NotImplementedError, match="q.total_count > p.total_count"):
        D.kl_divergence(D.Binomial(2, tg.tensor([0.5])), D.Binomial(3, tg.tensor([0.5])))
    with pytest.raises(NotImplementedError, match="same transforms"):
        D.kl_divergence(D.LogNormal(0.0, 1.0), D.TransformedDistribution(D.Normal(0.0, 1.0), T.SigmoidTransform()))


# ---------------------------------------------------------------- expand
EXPAND = {
    "normal": lambda m: m.distributions.Normal(m.tensor([0.0, 1.0]), m.tensor([1.0, 2.0])),
    "categorical": lambda m: m.distributions.Categorical(logits=m.tensor([[0.0, 1.0, 2.0]])),
    "lognormal": lambda m: m.distributions.LogNormal(m.tensor([0.0, 1.0]), 1.0),
    "gumbel": lambda m: m.distributions.Gumbel(m.tensor([0.0, 1.0]), 2.0),
    "binomial": lambda m: m.distributions.Binomial(4, m.tensor([0.2, 0.7])),
    "multinomial": lambda m: m.distributions.Multinomial(3, m.tensor([0.2, 0.3, 0.5])),
    "mvn": lambda m: m.distributions.MultivariateNormal(m.zeros(3), m.eye(3) * 2),
    "lowrank": lambda m: m.distributions.LowRankMultivariateNormal(m.zeros(3), m.ones(3, 1), m.ones(3)),
    "independent": lambda m: m.distributions.Independent(m.distributions.Normal(m.zeros(2, 3), m.ones(2, 3)), 1),
    "mixture": lambda m: m.distributions.MixtureSameFamily(m.distributions.Categorical(logits=m.zeros(2)),
                                                           m.distributions.Normal(m.tensor([-1.0, 1.0]), 1.0)),
}


@needs_torch
@pytest.mark.parametrize("name", list(EXPAND))
def test_expand_matches_torch(name):
    ours, theirs = EXPAND[name](tg), EXPAND[name](torch)
    new = (4,) + tuple(theirs.batch_shape) if name != "categorical" else (4, 5)
    a, b = ours.expand(new), theirs.expand(new)
    assert (tuple(a.batch_shape), tuple(a.event_shape)) == (tuple(b.batch_shape), tuple(b.event_shape))
    tg.manual_seed(0)
    s = a.sample((2,))
    assert tuple(s.shape) == (2,) + new + tuple(b.event_shape)
    np.testing.assert_allclose(_np(a.log_prob(s)), b.log_prob(torch.tensor(_np(s))).numpy(), rtol=1e-5, atol=1e-6)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)           # the original is untouched


def test_expand_keeps_gradients():
    loc = tg.tensor([0.5, -0.5], requires_grad=True)
    D.Normal(loc, 1.0).expand((3, 2)).log_prob(tg.zeros(3, 2)).sum().backward()
    np.testing.assert_allclose(_np(loc.grad), [-1.5, 1.5])          # d/dloc of -(x - loc)^2/2, 3 rows
    with pytest.raises(RuntimeError, match=r"Normal.expand\(\): batch_shape \(7,\) is not broadcastable"):
        D.Normal(loc, 1.0).expand((7,))


# ---------------------------------------------------------------- sampling
SAMPLES = {  # distribution, support check; moments are compared with its own (torch-checked) mean/variance
    "lognormal": (lambda: D.LogNormal(tg.tensor([0.0, 0.5]), tg.tensor([0.3, 0.5])), lambda s: (s > 0).all()),
    "gumbel": (lambda: D.Gumbel(tg.tensor([0.0, 3.0]), tg.tensor([1.0, 0.5])), lambda s: np.isfinite(s).all()),
    "halfnormal": (lambda: D.HalfNormal(tg.tensor([1.0, 2.0])), lambda s: (s >= 0).all()),
    "studentt": (lambda: D.StudentT(tg.tensor([6.0, 9.0]), tg.tensor([1.0, -1.0]), 2.0),
                 lambda s: np.isfinite(s).all()),
    "chi2": (lambda: D.Chi2(tg.tensor([0.5, 4.0])), lambda s: (s > 0).all()),
    "weibull": (lambda: D.Weibull(tg.tensor([1.0, 2.0]), tg.tensor([0.8, 3.0])), lambda s: (s > 0).all()),
    "pareto": (lambda: D.Pareto(tg.tensor([1.0, 2.0]), tg.tensor([5.0, 6.0])), lambda s: (s >= np.array([1, 2])).all()),
    "geometric": (lambda: D.Geometric(tg.tensor([0.2, 0.7])), lambda s: ((s >= 0) & (s == np.floor(s))).all()),
    "binomial": (lambda: D.Binomial(tg.tensor([10.0, 3.0]), tg.tensor([0.3, 0.9])),
                 lambda s: ((s >= 0) & (s <= np.array([10, 3])) & (s == np.floor(s))).all()),
    "negativebinomial": (lambda: D.NegativeBinomial(tg.tensor([2.0, 5.5]), tg.tensor([0.3, 0.6])),
                         lambda s: ((s >= 0) & (s == np.floor(s))).all()),
    "multinomial": (lambda: D.Multinomial(5, tg.tensor([0.2, 0.3, 0.5])), lambda s: (s.sum(-1) == 5).all()),
    "lowrank": (lambda: D.LowRankMultivariateNormal(tg.tensor([1.0, -1.0]), tg.tensor([[1.0], [0.5]]),
                                                    tg.tensor([0.5, 1.0])), lambda s: np.isfinite(s).all()),
    "mixture": (lambda: D.MixtureSameFamily(D.Categorical(tg.tensor([[0.3, 0.7], [0.5, 0.5]])),
                                            D.Normal(tg.tensor([[-2.0, 2.0], [0.0, 4.0]]), tg.tensor([0.5, 1.0]))),
                lambda s: np.isfinite(s).all()),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_samples_shapes_supports_and_moments(name):
    make, support = SAMPLES[name]
    tg.manual_seed(7)
    d = make()
    s = d.sample((20000,))
    assert tuple(s.shape) == (20000,) + tuple(d.batch_shape) + tuple(d.event_shape) and not s.requires_grad
    assert s.dtype == tg.float32 and tuple(d.sample().shape) == tuple(d.batch_shape) + tuple(d.event_shape)
    assert tuple(d.sample((2, 3)).shape) == (2, 3) + tuple(d.batch_shape) + tuple(d.event_shape)
    a = _np(s).astype(np.float64)
    assert support(a)
    mean, var = _np(d.mean).astype(np.float64), _np(d.variance).astype(np.float64)
    # 5 standard errors of the mean; the variance within 12% (heavy tails: Pareto, StudentT)
    np.testing.assert_array_less(np.abs(a.mean(0) - mean), 5 * np.sqrt(var / a.shape[0]))
    np.testing.assert_allclose(a.var(0), var, rtol=0.12)


def test_heavy_tailed_and_relaxed_samples():
    tg.manual_seed(3)
    c = D.Cauchy(tg.tensor([1.0]), tg.tensor([2.0]))
    s = _np(c.sample((20000,)))[:, 0]
    q = np.quantile(s, [0.25, 0.5, 0.75])          # the quartiles are icdf(1/4, 1/2, 3/4)
    np.testing.assert_allclose(q, _np(c.icdf(tg.tensor([0.25, 0.5, 0.75]))), atol=0.1)
    h = _np(D.HalfCauchy(tg.tensor([2.0])).sample((20000,)))
    assert (h >= 0).all() and abs(np.median(h) - 2.0) < 0.1          # median scale * tan(pi/4)
    rb = D.RelaxedBernoulli(tg.tensor(0.1), probs=tg.tensor([0.2, 0.8]))
    x = _np(rb.sample((20000,)))
    assert ((x > 0) & (x < 1)).all()
    np.testing.assert_allclose((x > 0.5).mean(0), [0.2, 0.8], atol=0.02)   # a low temperature rounds to Bernoulli
    ro = D.RelaxedOneHotCategorical(tg.tensor(0.2), probs=tg.tensor([0.2, 0.3, 0.5]))
    y = _np(ro.sample((20000,)))
    assert tuple(y.shape) == (20000, 3) and np.allclose(y.sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(np.bincount(y.argmax(-1), minlength=3) / 20000, [0.2, 0.3, 0.5], atol=0.02)


# ---------------------------------------------------------------- reparameterized gradients
def test_rsample_gradients_are_unbiased():
    tg.manual_seed(4)
    loc = tg.tensor([0.2], requires_grad=True)
    scale = tg.tensor([0.5], requires_grad=True)
    D.LogNormal(loc, scale).rsample((40000,)).mean().backward()
    m = np.exp(0.2 + 0.125)                          # E = exp(loc + scale^2 / 2)
    np.testing.assert_allclose([loc.grad.item(), scale.grad.item()], [m, 0.5 * m], rtol=0.03)
    s = tg.tensor([1.5], requires_grad=True)
    D.HalfNormal(s).rsample((40000,)).mean().backward()
    assert abs(s.grad.item() - np.sqrt(2 / np.pi)) < 0.02
    g_loc, g_scale = tg.tensor([0.0], requires_grad=True), tg.tensor([2.0], requires_grad=True)
    D.Gumbel(g_loc, g_scale).rsample((40000,)).mean().backward()
    np.testing.assert_allclose([g_loc.grad.item(), g_scale.grad.item()], [1.0, 0.5772156649], rtol=0.03)
    df = tg.tensor([4.0], requires_grad=True)
    D.Chi2(df).rsample((40000,)).mean().backward()
    assert abs(df.grad.item() - 1.0) < 0.03          # E = df
    w = tg.tensor([[1.0], [0.5]], requires_grad=True)
    D.LowRankMultivariateNormal(tg.zeros(2), w, tg.ones(2)).rsample((40000,)).pow(2).sum(-1).mean().backward()
    np.testing.assert_allclose(_np(w.grad), 2 * _np(w), atol=0.05)          # E|x|^2 = |W|_F^2 + sum D
    lg = tg.tensor([0.3, -0.2, 0.1], requires_grad=True)
    x = D.RelaxedOneHotCategorical(tg.tensor(0.5), logits=lg).rsample((4,))
    x[:, 0].sum().backward()
    assert lg.grad is not None and np.isfinite(_np(lg.grad)).all() and abs(_np(lg.grad).sum()) < 1e-5
    for d in (D.Geometric(tg.tensor([0.5])), D.Binomial(3, tg.tensor([0.5])), D.MixtureSameFamily(
            D.Categorical(tg.ones(2)), D.Normal(tg.zeros(2), tg.ones(2)))):
        assert not d.has_rsample
        with pytest.raises(NotImplementedError, match="rsample"):
            d.rsample()


def test_gradchecks():
    check_grad(lambda df, loc, s: D.StudentT(df, loc, s).log_prob(tg.tensor([0.3, -1.0], dtype=tg.float64))
               + D.StudentT(df, loc, s).entropy(), [_pos(2), _rng.normal(size=2), _pos(2)], double=False)
    check_grad(lambda s, c: D.Weibull(s, c).log_prob(tg.tensor([0.5, 2.0], dtype=tg.float64)) + D.Weibull(s, c).mean,
               [_pos(2), _pos(2, low=1, high=3)], double=False)
    check_grad(lambda lg: D.Binomial(4, logits=lg).entropy() + D.Geometric(logits=lg).entropy()
               + D.NegativeBinomial(3.0, logits=lg).log_prob(tg.tensor([2.0, 0.0], dtype=tg.float64)),
               [_rng.normal(size=2)], double=False)
    check_grad(lambda t, lg: D.RelaxedOneHotCategorical(t, logits=lg).log_prob(
        tg.tensor([0.2, 0.3, 0.5], dtype=tg.float64)), [np.array(0.7), _rng.normal(size=3)], double=False)
    check_grad(lambda loc, w, d: D.LowRankMultivariateNormal(loc, w, d.exp()).log_prob(
        tg.tensor([0.1, 0.2, -0.3], dtype=tg.float64)), [_rng.normal(size=3), _rng.normal(size=(3, 2)),
                                                         _rng.normal(size=3)], double=False)
    check_grad(lambda lg, loc: D.MixtureSameFamily(D.Categorical(logits=lg), D.Gumbel(loc, 1.5)).log_prob(
        tg.tensor([[0.5], [-1.0]], dtype=tg.float64)), [_rng.normal(size=3), _rng.normal(size=3)], double=False)


# ---------------------------------------------------------------- validation
INVALID = {
    "lognormal-scale": lambda m: m.distributions.LogNormal(m.tensor([0.0]), m.tensor([-1.0])),
    "lognormal-value": lambda m: m.distributions.LogNormal(m.tensor([0.0]), m.tensor([1.0])).log_prob(m.tensor([-1.0])),
    "halfnormal-scale": lambda m: m.distributions.HalfNormal(m.tensor([0.0])),
    "halfnormal-value": lambda m: m.distributions.HalfNormal(m.tensor([1.0])).log_prob(m.tensor([-1.0])),
    "halfcauchy-value": lambda m: m.distributions.HalfCauchy(m.tensor([1.0])).log_prob(m.tensor([-1.0])),
    "cauchy-scale": lambda m: m.distributions.Cauchy(m.tensor([0.0]), m.tensor([-1.0])),
    "gumbel-scale": lambda m: m.distributions.Gumbel(m.tensor([0.0]), m.tensor([-1.0])),
    "studentt-df": lambda m: m.distributions.StudentT(m.tensor([-1.0])),
    "chi2-df": lambda m: m.distributions.Chi2(m.tensor([-1.0])),
    "weibull-concentration": lambda m: m.distributions.Weibull(m.tensor([1.0]), m.tensor([-1.0])),
    "weibull-value": lambda m: m.distributions.Weibull(m.tensor([1.0]), m.tensor([1.0])).log_prob(m.tensor([-1.0])),
    "pareto-alpha": lambda m: m.distributions.Pareto(m.tensor([1.0]), m.tensor([0.0])),
    "pareto-value": lambda m: m.distributions.Pareto(m.tensor([1.0]), m.tensor([1.0])).log_prob(m.tensor([0.5])),
    "geometric-probs": lambda m: m.distributions.Geometric(m.tensor([1.5])),
    "geometric-value": lambda m: m.distributions.Geometric(m.tensor([0.5])).log_prob(m.tensor([1.5])),
    "binomial-probs": lambda m: m.distributions.Binomial(3, m.tensor([1.5])),
    "binomial-count": lambda m: m.distributions.Binomial(m.tensor([-2.0]), m.tensor([0.5])),
    "binomial-value": lambda m: m.distributions.Binomial(3, m.tensor([0.5])).log_prob(m.tensor([4.0])),
    "negativebinomial-probs": lambda m: m.distributions.NegativeBinomial(3.0, m.tensor([1.0])),
    "negativebinomial-value": lambda m: m.distributions.NegativeBinomial(3.0, m.tensor([0.5])).log_prob(
        m.tensor([-1.0])),
    "multinomial-value": lambda m: m.distributions.Multinomial(3, m.tensor([0.5, 0.5])).log_prob(m.tensor([3.0, 1.0])),
    "relaxedbernoulli-value": lambda m: m.distributions.RelaxedBernoulli(m.tensor(0.5), m.tensor([0.5])).log_prob(
        m.tensor([1.5])),
    "lowrank-cov_diag": lambda m: m.distributions.LowRankMultivariateNormal(m.zeros(2), m.ones(2, 1),
                                                                            m.tensor([1.0, 0.0])),
}


@needs_torch
@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_arguments_raise_torchs_value_error(name):
    theirs = _torch_error(INVALID[name])
    with pytest.raises(ValueError) as e:
        INVALID[name](tg)
    ours = str(e.value)
    # the same lead-in (which parameter or value, its shape) and the same constraint (by name: where it
    # depends on a parameter, torch prints the tensor and we print the parameter's name)
    head = re.match(r"Expected (parameter \w+|value argument) \(Tensor of shape \([\d, ]*\)\)", theirs).group(0)
    assert ours.startswith(head), (ours, theirs)
    found = re.search(r"(constraint|support) \(?([A-Za-z]+)", theirs)
    what = found.group(2) if found else "to be positive"
    assert what in ours, (ours, theirs)


@needs_torch
def test_constructor_errors_match_torch():
    for fn in (lambda m: m.distributions.Geometric(probs=m.ones(1), logits=m.ones(1)),
               lambda m: m.distributions.Binomial(3),
               lambda m: m.distributions.LowRankMultivariateNormal(m.tensor(0.0), m.ones(1, 1), m.ones(1)),
               lambda m: m.distributions.LowRankMultivariateNormal(m.zeros(2), m.ones(2), m.ones(2))):
        theirs = _torch_error(fn)
        with pytest.raises(ValueError) as ours:
            fn(tg)
        assert str(ours.value) == theirs
    with pytest.raises(NotImplementedError, match="inhomogeneous total_count"):
        D.Multinomial(tg.tensor(3), tg.ones(2))
    with pytest.raises(NotImplementedError, match="Inhomogeneous total count"):
        D.Binomial(tg.tensor([2.0, 3.0]), tg.ones(2) / 2).enumerate_support()
    with pytest.raises(ValueError, match="cov_factor must be a batch of matrices with shape 2 x m"):
        D.LowRankMultivariateNormal(tg.zeros(2), tg.ones(3, 1), tg.ones(2))
    with pytest.raises(ValueError, match="Mixture distribution needs to be an"):
        D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(tg.zeros(2), 1.0))
    D.Pareto(tg.tensor([1.0]), tg.tensor([0.0]), validate_args=False)            # allowed when asked


@needs_torch
def test_supports_match_torch():
    def every(m):
        M, t = m.distributions, m.tensor
        p, one = t([0.2, 0.8]), t([1.0, 2.0])
        return [M.Normal(0.0, 1.0), M.Exponential(one), M.Gamma(one, one), M.Beta(one, one), M.Bernoulli(p),
                M.OneHotCategorical(p), M.Poisson(one), M.Dirichlet(one), M.MultivariateNormal(one, m.eye(2)),
                M.Independent(M.Normal(one, one), 1), M.Cauchy(0.0, 1.0), M.StudentT(one), M.Chi2(one),
                M.LogNormal(one, one), M.HalfNormal(one), M.HalfCauchy(one), M.Gumbel(one, one), M.Weibull(one, one),
                M.Geometric(p), M.NegativeBinomial(one, p), M.RelaxedBernoulli(t(0.5), p),
                M.RelaxedOneHotCategorical(t(0.5), p), M.LowRankMultivariateNormal(one, m.ones(2, 1), one),
                M.MixtureSameFamily(M.Categorical(p), M.Normal(one, one)), M.Categorical(p), M.Multinomial(3, p),
                M.TransformedDistribution(M.Normal(one, one), [M.transforms.SigmoidTransform()])]
    for a, b in zip(every(tg), every(torch)):
        assert repr(a.support).replace("tensorgrad", "torch") == repr(b.support), (a, b)
    x = tg.tensor([-1.0, 0.5, 2.0, 3.0])
    assert _np(D.Pareto(tg.tensor(1.0), 2.0).support.check(x)).tolist() == [False, False, True, True]
    assert _np(D.Binomial(2, tg.tensor(0.5)).support.check(x)).tolist() == [False, False, True, False]


@needs_torch
def test_transformed_value_validation_matches_torch():
    def fn(m):
        M = m.distributions
        return M.TransformedDistribution(M.Normal(m.zeros(2), m.ones(2)), M.transforms.ExpTransform()).log_prob(
            m.tensor([1.0, -1.0]))
    theirs = _torch_error(fn)
    with pytest.raises(ValueError) as ours:
        fn(tg)
    assert str(ours.value).split(" of the distribution")[0] == theirs.split(" of the distribution")[0]


# ---------------------------------------------------------------- review fixes: broadcasting, mixed signs, ladj
_BROADCAST = {  # base distribution and transforms whose parameters broadcast past the base shape
    "scalar-base": lambda m: (m.distributions.Normal(m.tensor(0.0), m.tensor(1.0)),
                              [m.distributions.transforms.AffineTransform(m.zeros(3), m.ones(3))]),
    "grow-batch": lambda m: (m.distributions.Normal(m.zeros(2, 1), m.ones(2, 1)),
                             [m.distributions.transforms.ExpTransform(),
                              m.distributions.transforms.AffineTransform(m.zeros(3), 2.0)]),
    "event-dim": lambda m: (m.distributions.Normal(m.zeros(4), m.ones(4)),
                            [m.distributions.transforms.AffineTransform(m.zeros(2, 4), m.ones(4), event_dim=1)]),
}


@needs_torch
@pytest.mark.parametrize("name", list(_BROADCAST))
def test_transformed_broadcast_expands_the_base_like_torch(name):
    d = D.TransformedDistribution(*_BROADCAST[name](tg))
    td = torch.distributions.TransformedDistribution(*_BROADCAST[name](torch))
    assert (tuple(d.batch_shape), tuple(d.event_shape)) == (tuple(td.batch_shape), tuple(td.event_shape))
    assert (tuple(d.base_dist.batch_shape), tuple(d.base_dist.event_shape)) == (
        tuple(td.base_dist.batch_shape), tuple(td.base_dist.event_shape))
    for shape in ((), (2,), (5, 1)):
        s, ts = d.sample(shape), td.sample(shape)
        assert tuple(s.shape) == tuple(ts.shape) and tuple(d.rsample(shape).shape) == tuple(ts.shape)
    # one independent draw per element, not one noise value repeated along the broadcast dims
    values = _np(d.sample((2000,))).reshape(2000, -1)
    corr = np.corrcoef(values, rowvar=False)
    assert np.abs(corr - np.eye(len(corr))).max() < 0.15, corr
    x = _np(d.sample((2,)))
    np.testing.assert_allclose(_np(d.log_prob(tg.tensor(x))), td.log_prob(torch.tensor(x)).numpy(), rtol=1e-6)


@needs_torch
def test_transformed_sample_is_detached_and_rsample_keeps_the_graph():
    for m in (tg, torch):
        M, loc = m.distributions, m.tensor([1.0, -2.0], requires_grad=True)
        d = M.TransformedDistribution(M.Normal(0.0, 1.0), [M.transforms.AffineTransform(loc, 2.0)])
        assert not d.sample().requires_grad and not d.sample((3,)).requires_grad
        r = d.rsample((3,))
        assert r.requires_grad and tuple(r.shape) == (3, 2)
        r.sum().backward()
        np.testing.assert_array_equal(loc.grad.detach().numpy(), [3.0, 3.0])


@needs_torch
def test_transformed_cdf_icdf_with_mixed_signs_match_torch():
    def fn(m, loc, scale, a, u):
        M = m.distributions
        d = M.TransformedDistribution(M.Normal(loc, scale), [M.transforms.AffineTransform(a, m.tensor(
            [1.5, -0.7, 2.0, -3.0], dtype=loc.dtype)), M.transforms.AffineTransform(0.0, -1.0)], validate_args=False)
        return [d.cdf(u * 4 - 2), d.icdf(u), d.log_prob(u)]
    check_torch(fn, [_rng.normal(size=(4,)), _pos(4), _rng.normal(size=(4,)), _rng.uniform(0.05, 0.95, (3, 4))],
                rtol=1e-9, atol=1e-10)


def test_transformed_cdf_does_not_sync_the_sign_to_the_host(monkeypatch):
    d = D.TransformedDistribution(D.Normal(tg.zeros(2), tg.ones(2)), [T.AffineTransform(0.0, tg.tensor([1.0, -1.0]))],
                                  validate_args=False)
    u = tg.tensor([0.25, 0.25])

    def no_sync(*args):
        raise AssertionError("cdf/icdf read a tensor back to the host")
    for name in ("__bool__", "item", "tolist"):
        monkeypatch.setattr(tg.Tensor, name, no_sync)
    c, x = d.cdf(tg.tensor([0.5, 0.5])), d.icdf(u)
    monkeypatch.undo()
    # the decreasing element flips: P(-X <= 0.5) = P(X <= 0.5) (the values against torch are above)
    np.testing.assert_allclose(_np(c), _np(D.Normal(0.0, 1.0).cdf(tg.tensor([0.5, 0.5]))), rtol=1e-6)
    np.testing.assert_allclose(_np(x), _np(D.Normal(0.0, 1.0).icdf(u)), rtol=1e-6)


@needs_torch
@pytest.mark.parametrize("scale,event_dim", [(2.0, 0), (-0.5, 0), (3.0, 1)])
def test_affine_log_abs_det_jacobian_at_infinity_matches_torch(scale, event_dim):
    x = np.array([[np.inf, -np.inf, 1.0], [0.0, np.nan, -2.0]])
    ours = T.AffineTransform(0.0, scale, event_dim=event_dim)
    theirs = torch.distributions.transforms.AffineTransform(0.0, scale, event_dim=event_dim)
    for rows in (x, x[0]):       # x[0] with event_dim=1: a 0-d result
        a, b = tg.tensor(rows), torch.tensor(rows)
        r, tr = ours.log_abs_det_jacobian(a, ours(a)), theirs.log_abs_det_jacobian(b, theirs(b))
        assert tuple(r.shape) == tuple(tr.shape) and r.dtype.name == str(tr.dtype)[6:]
        np.testing.assert_array_equal(_np(r), tr.numpy())


# ---------------------------------------------------------------- Gamma/Chi2 cdf, KL across families
@needs_torch
def test_gamma_and_chi2_cdf_match_torch():
    # the incomplete gamma has no derivative in its shape argument (torch neither): only rate and x get one
    def fn(m, c, df, rate, x):
        return [m.distributions.Gamma(c, rate).cdf(x), m.distributions.Chi2(df).cdf(x)]
    check_torch(fn, [_pos(4, low=0.3, high=6), _pos(4, low=0.5, high=8), _pos(4), _pos(3, 4, low=0.01, high=6)],
                grad_inputs=[2, 3], rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="to be within the support"):
        D.Gamma(tg.tensor(2.0), 1.0).cdf(tg.tensor(-1.0))


def _cross(p_make, q_make):
    def fn(m, *a):
        return [m.distributions.kl_divergence(p_make(m, *a), q_make(m, *a))]
    return fn


KL_CROSS = {  # every pair here is registered in torch.distributions.kl too
    "exponential-gamma": _cross(lambda m, r, c, b: m.distributions.Exponential(r),
                                lambda m, r, c, b: m.distributions.Gamma(c, b)),
    "gamma-exponential": _cross(lambda m, r, c, b: m.distributions.Gamma(c, b),
                                lambda m, r, c, b: m.distributions.Exponential(r)),
    "chi2-exponential": _cross(lambda m, r, c, b: m.distributions.Chi2(c),
                               lambda m, r, c, b: m.distributions.Exponential(r)),
    "exponential-normal": _cross(lambda m, r, c, b: m.distributions.Exponential(r),
                                 lambda m, r, c, b: m.distributions.Normal(c - 1, b)),
    "gamma-normal": _cross(lambda m, r, c, b: m.distributions.Gamma(c, b),
                           lambda m, r, c, b: m.distributions.Normal(1 - r, b)),
    "exponential-gumbel": _cross(lambda m, r, c, b: m.distributions.Exponential(r),
                                 lambda m, r, c, b: m.distributions.Gumbel(c - 1, b)),
    "gamma-gumbel": _cross(lambda m, r, c, b: m.distributions.Gamma(c, b),
                           lambda m, r, c, b: m.distributions.Gumbel(1 - r, r)),
    "normal-gumbel": _cross(lambda m, r, c, b: m.distributions.Normal(c - 1, r),
                            lambda m, r, c, b: m.distributions.Gumbel(1 - r, b)),
}


@needs_torch
@pytest.mark.parametrize("name", list(KL_CROSS))
def test_kl_across_families_matches_torch(name):
    p_type, q_type = (n.capitalize() for n in name.split("-"))
    assert (getattr(torch.distributions, p_type if p_type != "Chi2" else "Gamma"),
            getattr(torch.distributions, q_type)) in torch.distributions.kl._KL_REGISTRY
    # rtol 1e-7: the gamma entropy's gradient goes through trigamma, good to ~1e-9 relative here
    check_torch(KL_CROSS[name], [_pos(2, 3), _pos(3), _pos(2, 1)], rtol=1e-7, atol=1e-9)
