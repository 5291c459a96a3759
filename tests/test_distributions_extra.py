"""tensorgrad.distributions beyond Normal/Uniform/Bernoulli/Categorical, against
torch.distributions: Exponential, Laplace, Gamma, Beta, Poisson, OneHotCategorical, Dirichlet,
MultivariateNormal, Independent and their KL divergences (values and gradients into every
parameter), sample shapes/dtypes/supports/moments, the implicit reparameterization gradients of
Gamma/Beta/Dirichlet, lgamma/digamma/polygamma, validation messages and the KL registry."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import distributions as D
from tensorgrad.distributions import _special as S
from oracle import check_grad, check_torch, needs_torch, torch

_rng = np.random.default_rng(5)


def _pos(*shape, low=0.5, high=3.0):
    return _rng.uniform(low, high, size=shape)


def _simplex(*shape):
    v = _rng.uniform(0.1, 1.0, size=shape)
    return v / v.sum(-1, keepdims=True)


def _summary(d, value):
    """Everything differentiable a distribution offers, for one comparison."""
    return [d.log_prob(value), d.entropy(), d.mean, d.variance, d.stddev]


def _spd(m, x):
    return x @ x.mT + m.eye(x.shape[-1], dtype=x.dtype)


CASES = {
    "exponential": (lambda m, r, x: _summary(m.distributions.Exponential(r), x) + [
        m.distributions.Exponential(r).cdf(x), m.distributions.Exponential(r).icdf(x / (1 + x))],
        lambda: [_pos(3, 4), _pos(3, 4)]),
    "laplace": (lambda m, loc, s, x: _summary(m.distributions.Laplace(loc, s), x) + [
        m.distributions.Laplace(loc, s).cdf(x), m.distributions.Laplace(loc, s).icdf(x.sigmoid())],
        lambda: [_rng.normal(size=(4,)), _pos(3, 1), _rng.normal(size=(3, 4))]),
    "gamma": (lambda m, c, r, x: _summary(m.distributions.Gamma(c, r), x),
              lambda: [_pos(3, 4, low=0.3, high=5), _pos(4), _pos(3, 4)]),
    "beta": (lambda m, a, b, x: _summary(m.distributions.Beta(a, b), x),
             lambda: [_pos(5, low=0.3, high=4), _pos(5, low=0.3, high=4), _rng.uniform(0.05, 0.95, size=(2, 5))]),
    "poisson": (lambda m, r, k: [m.distributions.Poisson(r).log_prob(k), m.distributions.Poisson(r).mean,
                                 m.distributions.Poisson(r).variance],
                lambda: [_pos(2, 3, low=0.1, high=8), _rng.integers(0, 10, size=(2, 3)).astype(np.float64)]),
    "onehot-logits": (lambda m, lg: [m.distributions.OneHotCategorical(logits=lg).log_prob(
        m.eye(4, dtype=lg.dtype)[[2, 0, 3]]), m.distributions.OneHotCategorical(logits=lg).entropy(),
        m.distributions.OneHotCategorical(logits=lg).mean, m.distributions.OneHotCategorical(logits=lg).variance],
        lambda: [_rng.normal(size=(3, 4))]),
    "onehot-probs": (lambda m, p: [m.distributions.OneHotCategorical(probs=p).log_prob(m.eye(3, dtype=p.dtype)),
                                   m.distributions.OneHotCategorical(probs=p).entropy()],
                     lambda: [_pos(3, low=0.1, high=1)]),
    "dirichlet": (lambda m, c, x: _summary(m.distributions.Dirichlet(c), x),
                  lambda: [_pos(2, 4, low=0.3, high=4), _simplex(3, 2, 4)]),
    "mvn-cov": (lambda m, loc, x, v: _summary(m.distributions.MultivariateNormal(loc, _spd(m, x)), v) + [
        m.distributions.MultivariateNormal(loc, _spd(m, x)).scale_tril,
        m.distributions.MultivariateNormal(loc, _spd(m, x)).precision_matrix],
        lambda: [_rng.normal(size=(3,)), _rng.normal(size=(2, 3, 3)), _rng.normal(size=(4, 1, 3))]),
    "mvn-precision": (lambda m, loc, x, v: _summary(
        m.distributions.MultivariateNormal(loc, precision_matrix=_spd(m, x)), v) + [
        m.distributions.MultivariateNormal(loc, precision_matrix=_spd(m, x)).covariance_matrix],
        lambda: [_rng.normal(size=(2, 3)), _rng.normal(size=(3, 3)), _rng.normal(size=(2, 3))]),
    "mvn-scale_tril": (lambda m, loc, x, v: _summary(
        m.distributions.MultivariateNormal(loc, scale_tril=_tril(m, x)), v),
        lambda: [_rng.normal(size=(2, 4)), _rng.normal(size=(4, 4)), _rng.normal(size=(2, 4))]),
    "independent-normal": (lambda m, loc, s, x: [
        m.distributions.Independent(m.distributions.Normal(loc, s), 2).log_prob(x),
        m.distributions.Independent(m.distributions.Normal(loc, s), 1).entropy(),
        m.distributions.Independent(m.distributions.Normal(loc, s), 1).mean],
        lambda: [_rng.normal(size=(2, 3, 4)), _pos(2, 3, 4), _rng.normal(size=(2, 3, 4))]),
}


def _tril(m, x):
    """Lower triangle with a positive diagonal, built with ops both libraries share."""
    n = x.shape[-1]
    eye = m.eye(n, dtype=x.dtype)
    return x.tril(-1) + eye * x.exp()


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name):
    fn, arrays = CASES[name]
    check_torch(fn, arrays(), "cpu", rtol=1e-8, atol=1e-9)


def test_log_prob_and_entropy_gradchecks():
    check_grad(lambda c, r, x: D.Gamma(c, r).log_prob(x) + D.Gamma(c, r).entropy(), [_pos(3), _pos(3), _pos(3)])
    check_grad(lambda a, b: D.Beta(a, b).log_prob(tg.tensor([0.3, 0.6], dtype=tg.float64)) + D.Beta(a, b).entropy(),
               [_pos(2), _pos(2)])
    check_grad(lambda c: D.Dirichlet(c).entropy(), [_pos(2, 3)])
    check_grad(lambda loc, x, v: D.MultivariateNormal(loc, x @ x.mT + tg.eye(3, dtype=tg.float64)).log_prob(v),
               [_rng.normal(size=3), _rng.normal(size=(3, 3)), _rng.normal(size=(2, 3))], double=False)


# ---------------------------------------------------------------- KL divergence
def _kl(make_p, make_q):
    return lambda m, *a: m.distributions.kl_divergence(make_p(m, *a), make_q(m, *a))


KL = {
    "exponential": (_kl(lambda m, a, b: m.distributions.Exponential(a), lambda m, a, b: m.distributions.Exponential(b)),
                    lambda: [_pos(4), _pos(4)]),
    "laplace": (_kl(lambda m, l1, s1, l2, s2: m.distributions.Laplace(l1, s1),
                    lambda m, l1, s1, l2, s2: m.distributions.Laplace(l2, s2)),
                lambda: [_rng.normal(size=4), _pos(4), _rng.normal(size=4), _pos(4)]),
    "gamma": (_kl(lambda m, c1, r1, c2, r2: m.distributions.Gamma(c1, r1),
                  lambda m, c1, r1, c2, r2: m.distributions.Gamma(c2, r2)), lambda: [_pos(4), _pos(4), _pos(4), _pos(4)]),
    "beta": (_kl(lambda m, a1, b1, a2, b2: m.distributions.Beta(a1, b1),
                 lambda m, a1, b1, a2, b2: m.distributions.Beta(a2, b2)), lambda: [_pos(3), _pos(3), _pos(3), _pos(3)]),
    "dirichlet": (_kl(lambda m, c1, c2: m.distributions.Dirichlet(c1), lambda m, c1, c2: m.distributions.Dirichlet(c2)),
                  lambda: [_pos(2, 4), _pos(2, 4)]),
    "poisson": (_kl(lambda m, a, b: m.distributions.Poisson(a), lambda m, a, b: m.distributions.Poisson(b)),
                lambda: [_pos(4), _pos(4)]),
    "onehot": (_kl(lambda m, a, b: m.distributions.OneHotCategorical(logits=a),
                   lambda m, a, b: m.distributions.OneHotCategorical(logits=b)),
               lambda: [_rng.normal(size=(2, 5)), _rng.normal(size=(2, 5))]),
    "normal": (_kl(lambda m, l1, s1, l2, s2: m.distributions.Normal(l1, s1),
                   lambda m, l1, s1, l2, s2: m.distributions.Normal(l2, s2)),
               lambda: [_rng.normal(size=4), _pos(4), _rng.normal(size=4), _pos(4)]),
    "mvn": (_kl(lambda m, l1, x1, l2, x2: m.distributions.MultivariateNormal(l1, _spd(m, x1)),
                lambda m, l1, x1, l2, x2: m.distributions.MultivariateNormal(l2, scale_tril=_tril(m, x2))),
            lambda: [_rng.normal(size=(2, 3)), _rng.normal(size=(3, 3)), _rng.normal(size=3), _rng.normal(size=(2, 3, 3))]),
    "independent": (_kl(lambda m, l1, s1, l2, s2: m.distributions.Independent(m.distributions.Normal(l1, s1), 1),
                        lambda m, l1, s1, l2, s2: m.distributions.Independent(m.distributions.Normal(l2, s2), 1)),
                    lambda: [_rng.normal(size=(2, 3)), _pos(2, 3), _rng.normal(size=(2, 3)), _pos(2, 3)]),
}


@needs_torch
@pytest.mark.parametrize("name", list(KL))
def test_kl_matches_torch(name):
    fn, arrays = KL[name]
    check_torch(fn, arrays(), "cpu", rtol=1e-8, atol=1e-9)


@needs_torch
def test_kl_infinities_match_torch():
    def pairs(m):
        t = m.tensor
        return [(m.distributions.Uniform(t([0.0, 0.0]), t([1.0, 2.0])), m.distributions.Uniform(t([0.5, -1.0]), t([2.0, 3.0]))),
                (m.distributions.Bernoulli(probs=t([0.3, 0.0])), m.distributions.Bernoulli(probs=t([1.0, 0.0]))),
                (m.distributions.Categorical(probs=t([0.5, 0.5, 0.0])), m.distributions.Categorical(probs=t([1.0, 0.0, 0.0])))]
    for (p, q), (tp, tq) in zip(pairs(tg), pairs(torch)):
        np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), torch.distributions.kl_divergence(tp, tq).numpy(),
                                   rtol=1e-6)


def test_kl_registry_dispatch_and_errors():
    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), D.Normal(1.0, 2.0)
    expected = D.kl_divergence(D.Normal(0.0, 1.0), q).item()
    assert D.kl_divergence(p, q).item() == pytest.approx(expected)          # falls back to (Normal, Normal)

    @D.register_kl(MyNormal, D.Normal)
    def _mine(p, q):
        return tg.tensor(-1.0)

    assert D.kl_divergence(p, q).item() == -1.0                             # the more specific pair wins
    assert D.kl_divergence(D.Normal(0.0, 1.0), q).item() == pytest.approx(expected)
    with pytest.raises(NotImplementedError, match="No KL.*Gamma.*Poisson"):
        D.kl_divergence(D.Gamma(1.0, 1.0), D.Poisson(1.0))
    with pytest.raises(TypeError, match="register_kl"):
        D.register_kl(int, D.Normal)
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(D.MultivariateNormal(tg.zeros(2), tg.eye(2)), D.MultivariateNormal(tg.zeros(3), tg.eye(3)))
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Independent(D.Normal(tg.zeros(2, 2), tg.ones(2, 2)), 1),
                        D.Independent(D.Normal(tg.zeros(2, 2), tg.ones(2, 2)), 2))


# ---------------------------------------------------------------- special functions
@needs_torch
@pytest.mark.parametrize("fn", ["lgamma", "digamma", "polygamma1", "polygamma2"])
def test_gamma_functions_match_torch(fn):
    x = np.concatenate([_rng.uniform(0.01, 40, 200), _rng.uniform(-6, 0, 50), [0.5, 1.0, 2.0, 150.0]])
    ours = {"lgamma": tg.lgamma, "digamma": tg.digamma, "polygamma1": lambda t: tg.polygamma(1, t),
            "polygamma2": lambda t: tg.polygamma(2, t)}[fn]
    theirs = {"lgamma": torch.lgamma, "digamma": torch.digamma, "polygamma1": lambda t: torch.polygamma(1, t),
              "polygamma2": lambda t: torch.polygamma(2, t)}[fn]
    # torch's own trigamma is good to ~5e-10 relative
    np.testing.assert_allclose(ours(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=2e-9, atol=1e-12)
    poles = tg.tensor([0.0, -2.0])
    if fn in ("lgamma", "digamma"):
        np.testing.assert_array_equal(ours(poles).numpy(), theirs(torch.tensor([0.0, -2.0])).numpy())
    else:  # a pole (torch's trigamma gives a large finite number at -2)
        assert not np.isfinite(ours(poles).numpy()).any()
    assert ours(tg.tensor([1.5], dtype=tg.float32)).dtype == tg.float32


def test_gamma_functions_gradcheck():
    check_grad(lambda x: tg.lgamma(x) + tg.digamma(x) + tg.polygamma(1, x), [_pos(5, low=0.2, high=6)])


# ---------------------------------------------------------------- sampling
def _np(t):
    return t.detach().numpy()


SAMPLES = [  # (distribution, sample_shape, expected shape, mean, variance, support check)
    (lambda: D.Exponential(tg.tensor([0.5, 2.0])), (20000,), (20000, 2), [2.0, 0.5], [4.0, 0.25],
     lambda s: (s >= 0).all()),
    (lambda: D.Laplace(tg.tensor([0.0, 3.0]), tg.tensor([1.0, 0.5])), (20000,), (20000, 2), [0.0, 3.0], [2.0, 0.5],
     lambda s: np.isfinite(s).all()),
    (lambda: D.Gamma(tg.tensor([0.3, 4.0]), tg.tensor([1.0, 2.0])), (20000,), (20000, 2), [0.3, 2.0], [0.3, 1.0],
     lambda s: (s > 0).all()),
    (lambda: D.Beta(tg.tensor([0.5, 3.0]), tg.tensor([0.5, 1.0])), (20000,), (20000, 2), [0.5, 0.75],
     [0.125, 0.0375], lambda s: ((s > 0) & (s < 1)).all()),
    (lambda: D.Poisson(tg.tensor([0.5, 6.0])), (20000,), (20000, 2), [0.5, 6.0], [0.5, 6.0],
     lambda s: ((s >= 0) & (s == np.floor(s))).all()),
    (lambda: D.OneHotCategorical(probs=tg.tensor([0.2, 0.3, 0.5])), (20000,), (20000, 3), [0.2, 0.3, 0.5],
     [0.16, 0.21, 0.25], lambda s: ((s.sum(-1) == 1) & ((s == 0) | (s == 1)).all(-1)).all()),
    (lambda: D.Dirichlet(tg.tensor([1.0, 2.0, 3.0])), (20000,), (20000, 3), [1 / 6, 2 / 6, 3 / 6],
     [5 / 252, 8 / 252, 9 / 252], lambda s: (np.abs(s.sum(-1) - 1) < 1e-5).all() and (s > 0).all()),
    (lambda: D.MultivariateNormal(tg.tensor([1.0, -1.0]), tg.tensor([[2.0, 0.6], [0.6, 1.0]])), (20000,),
     (20000, 2), [1.0, -1.0], [2.0, 1.0], lambda s: np.isfinite(s).all()),
    (lambda: D.Independent(D.Normal(tg.zeros(2, 3), tg.ones(2, 3) * 2), 1), (20000,), (20000, 2, 3),
     np.zeros((2, 3)), np.full((2, 3), 4.0), lambda s: np.isfinite(s).all()),
]


@pytest.mark.parametrize("k", range(len(SAMPLES)))
def test_samples_shapes_supports_and_moments(k):
    make, sshape, shape, mean, var, support = SAMPLES[k]
    tg.manual_seed(k)
    d = make()
    s = d.sample(sshape)
    assert tuple(s.shape) == shape and s.dtype == tg.float32 and not s.requires_grad
    assert tuple(d.sample().shape) == tuple(d.batch_shape) + tuple(d.event_shape)
    a = _np(s).astype(np.float64)
    assert support(a)
    n, var = a.shape[0], np.asarray(var)
    # 5 standard errors of the mean; the variance estimate within 10% (20000 draws)
    np.testing.assert_array_less(np.abs(a.mean(0) - mean), 5 * np.sqrt(var / n))
    np.testing.assert_allclose(a.var(0), var, rtol=0.1)
    np.testing.assert_allclose(_np(d.mean), mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_np(d.variance), var, rtol=1e-6)


def test_samples_follow_the_parameter_dtype_and_shapes():
    d = D.Gamma(tg.ones(3, 1, dtype=tg.float64), tg.ones(2, dtype=tg.float64))
    assert tuple(d.batch_shape) == (3, 2) and tuple(d.event_shape) == ()
    s = d.rsample((4, 5))
    assert tuple(s.shape) == (4, 5, 3, 2) and s.dtype == tg.float64
    m = D.MultivariateNormal(tg.zeros(4, 1, 3), scale_tril=tg.eye(3).expand(2, 3, 3))
    assert tuple(m.batch_shape) == (4, 2) and tuple(m.event_shape) == (3,)
    assert tuple(m.rsample((6,)).shape) == (6, 4, 2, 3) and tuple(m.log_prob(tg.zeros(3)).shape) == (4, 2)
    i = D.Independent(D.Dirichlet(tg.ones(5, 4, 3)), 1)
    assert (tuple(i.batch_shape), tuple(i.event_shape)) == ((5,), (4, 3))
    assert not D.Independent(D.Poisson(tg.ones(2)), 1).has_rsample and i.has_rsample
    with pytest.raises(NotImplementedError, match="rsample"):
        D.Poisson(tg.ones(2)).rsample()


# ---------------------------------------------------------------- implicit reparameterization
@needs_torch
def test_standard_gamma_grad_is_the_implicit_derivative():
    """dx/dalpha at fixed CDF value: central differences of x(alpha) = P^-1(alpha, u), inverted with
    torch's regularized incomplete gamma (float64), agree to 1e-6; torch's own approximation of this
    derivative (_standard_gamma_grad) agrees to its accuracy (~1e-3)."""
    from math import lgamma
    for alpha in (0.2, 1.0, 3.0, 30.0):
        x = np.maximum(_rng.standard_gamma(alpha, size=100), 1e-6)
        a = np.full_like(x, alpha)
        u = torch.special.gammainc(torch.tensor(a), torch.tensor(x)).numpy()

        def invert(al):
            y = x.copy()
            for _ in range(50):  # Newton on P(al, y) = u
                f = torch.special.gammainc(torch.tensor(np.full_like(y, al)), torch.tensor(y)).numpy() - u
                dens = np.exp((al - 1) * np.log(y) - y - lgamma(al))
                y = np.maximum(y - f / dens, 0.5 * y)
            return y
        h = 1e-5 * alpha
        fd = (invert(alpha + h) - invert(alpha - h)) / (2 * h)
        ours = S.standard_gamma_grad(x, a)
        np.testing.assert_allclose(ours, fd, rtol=1e-6)
        theirs = torch._standard_gamma_grad(torch.tensor(a), torch.tensor(x)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=3e-3)


def _per_sample_grads(make, params, n):
    """Gradients of each single draw (a leaf per draw), so the mean has a known standard error."""
    leaves = [tg.tensor(np.full((n,) + np.shape(p), p, dtype=np.float64), requires_grad=True) for p in params]
    x = make(*leaves).rsample()
    return x, leaves


def _assert_mean(g, expected):
    g = _np(g)
    se = g.std(0) / np.sqrt(g.shape[0])
    assert np.all(se < 0.05 * np.maximum(np.abs(expected), 0.1))  # precise enough to tell wrong gradients apart
    np.testing.assert_array_less(np.abs(g.mean(0) - expected), 5 * se)


def test_gamma_rsample_gradient_is_unbiased():
    tg.manual_seed(0)
    alpha, rate = np.array([0.3, 2.0, 9.0]), np.array([1.0, 0.5, 3.0])
    x, (a, r) = _per_sample_grads(D.Gamma, [alpha, rate], 20000)
    (x + x * x).sum().backward()
    # E[x + x^2] = a/r + a(a+1)/r^2: d/da = 1/r + (2a+1)/r^2, d/dr = -a/r^2 - 2a(a+1)/r^3
    _assert_mean(a.grad, 1 / rate + (2 * alpha + 1) / rate ** 2)
    _assert_mean(r.grad, -alpha / rate ** 2 - 2 * alpha * (alpha + 1) / rate ** 3)


def test_beta_and_dirichlet_rsample_gradients_are_unbiased():
    tg.manual_seed(1)
    a0, b0 = np.array([0.5, 2.0, 5.0]), np.array([1.5, 2.0, 0.7])
    x, (a, b) = _per_sample_grads(D.Beta, [a0, b0], 20000)
    x.sum().backward()
    _assert_mean(a.grad, b0 / (a0 + b0) ** 2)       # d/da of E[x] = a / (a + b)
    _assert_mean(b.grad, -a0 / (a0 + b0) ** 2)
    c0 = np.array([0.8, 2.0, 4.0])
    x, (c,) = _per_sample_grads(D.Dirichlet, [c0], 20000)
    x[..., 0].sum().backward()                       # E[x_0] = c_0 / sum c
    s = c0.sum()
    _assert_mean(c.grad, (np.eye(3)[0] * s - c0[0]) / s ** 2)


def test_rsample_gradients_of_location_scale_families():
    loc = tg.tensor([1.0, -2.0], requires_grad=True)
    scale = tg.tensor([0.5, 2.0], requires_grad=True)
    tg.manual_seed(2)
    D.Laplace(loc, scale).rsample((40000,)).abs().mean(0).sum().backward()
    # d/dloc E|x| = P(x > 0) - P(x < 0) = sign(loc) (1 - exp(-|loc| / scale)) for Laplace x
    expected = np.sign([1.0, -2.0]) * (1 - np.exp(-np.abs([1.0, -2.0]) / [0.5, 2.0]))
    np.testing.assert_allclose(_np(loc.grad), expected, atol=0.015)
    rate = tg.tensor([2.0], requires_grad=True)
    D.Exponential(rate).rsample((40000,)).mean().backward()
    assert abs(rate.grad.item() + 0.25) < 0.01       # d/drate of 1/rate
    m = tg.zeros(2, requires_grad=True)
    L = tg.tensor([[1.0, 0.0], [0.5, 2.0]], requires_grad=True)
    (D.MultivariateNormal(m, scale_tril=L).rsample((30000,)) ** 2).sum(-1).mean().backward()
    # E|x|^2 = |m|^2 + |L|_F^2: gradient 2L
    np.testing.assert_allclose(_np(L.grad), 2 * _np(L) * np.tri(2), atol=0.06)


# ---------------------------------------------------------------- validation
def _torch_error(fn):
    with pytest.raises(ValueError) as e:
        fn(torch)
    return str(e.value)


INVALID = {
    "exponential-rate": lambda m: m.distributions.Exponential(m.tensor([1.0, -1.0])),
    "laplace-scale": lambda m: m.distributions.Laplace(m.tensor([0.0]), m.tensor([0.0])),
    "gamma-concentration": lambda m: m.distributions.Gamma(m.tensor([-1.0]), m.tensor([1.0])),
    "gamma-rate": lambda m: m.distributions.Gamma(m.tensor([1.0]), m.tensor([-1.0])),
    "beta-concentration0": lambda m: m.distributions.Beta(m.tensor([1.0]), m.tensor([0.0])),
    "poisson-rate": lambda m: m.distributions.Poisson(m.tensor([-0.5])),
    "dirichlet-concentration": lambda m: m.distributions.Dirichlet(m.tensor([1.0, -1.0])),
    "mvn-scale_tril": lambda m: m.distributions.MultivariateNormal(m.zeros(2), scale_tril=m.tensor([[1.0, 1.0], [0.0, 1.0]])),
    "mvn-covariance": lambda m: m.distributions.MultivariateNormal(m.zeros(2), m.tensor([[1.0, 2.0], [2.0, 1.0]])),
    "exponential-value": lambda m: m.distributions.Exponential(m.tensor([1.0])).log_prob(m.tensor([-1.0])),
    "gamma-value": lambda m: m.distributions.Gamma(m.tensor([1.0]), m.tensor([1.0])).log_prob(m.tensor([-1.0])),
    "beta-value": lambda m: m.distributions.Beta(m.tensor([1.0]), m.tensor([1.0])).log_prob(m.tensor([1.5])),
    "poisson-value": lambda m: m.distributions.Poisson(m.tensor([1.0])).log_prob(m.tensor([1.5])),
    "dirichlet-value": lambda m: m.distributions.Dirichlet(m.tensor([1.0, 1.0])).log_prob(m.tensor([0.3, 0.3])),
    "onehot-value": lambda m: m.distributions.OneHotCategorical(logits=m.zeros(3)).log_prob(m.tensor([1.0, 1.0, 0.0])),
}


@needs_torch
@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_arguments_raise_torchs_value_error(name):
    theirs = _torch_error(INVALID[name])
    with pytest.raises(ValueError) as e:
        INVALID[name](tg)
    ours = str(e.value)
    if name == "beta-concentration0":  # torch reports its internal Dirichlet's stacked concentration; we name ours
        assert ours.startswith("Expected parameter concentration0 (Tensor of shape (1,)) of distribution Beta(")
        return
    # same lead-in (which parameter or value, its shape) and the same constraint name
    head = re.match(r"Expected (parameter \w+|value argument) \(Tensor of shape \([\d, ]*\)\)", theirs).group(0)
    assert ours.startswith(head), (ours, theirs)
    constraint = re.search(r"(constraint|support) \(?([A-Za-z]+)", theirs).group(2)
    assert constraint in ours, (ours, theirs)


@needs_torch
def test_constructor_errors_match_torch():
    for fn in (lambda m: m.distributions.Dirichlet(m.tensor(1.0)),
               lambda m: m.distributions.MultivariateNormal(m.tensor(0.0), m.eye(1)),
               lambda m: m.distributions.MultivariateNormal(m.zeros(2)),
               lambda m: m.distributions.MultivariateNormal(m.zeros(2), m.eye(2), scale_tril=m.eye(2)),
               lambda m: m.distributions.MultivariateNormal(m.zeros(2), scale_tril=m.ones(2)),
               lambda m: m.distributions.Independent(m.distributions.Normal(m.zeros(2), m.ones(2)), 2)):
        theirs = _torch_error(fn)
        with pytest.raises(ValueError) as ours:
            fn(tg)
        assert str(ours.value) == theirs
    D.Gamma(tg.tensor([-1.0]), tg.tensor([1.0]), validate_args=False)    # allowed when asked


def test_reprs():
    assert repr(D.Gamma(tg.ones(2), tg.ones(2))) == "Gamma(concentration: tensorgrad.Size([2]), rate: tensorgrad.Size([2]))"
    assert repr(D.Independent(D.Exponential(tg.ones(2)), 1)).startswith("Independent(Exponential(rate:")
    assert repr(D.MultivariateNormal(tg.zeros(2), scale_tril=tg.eye(2))).startswith("MultivariateNormal(loc:")


@needs_torch
def test_categorical_probs_validation_matches_torch():
    theirs = _torch_error(lambda m: m.distributions.Categorical(probs=m.tensor([0.5, -0.2, 0.7])))
    with pytest.raises(ValueError) as ours:
        D.Categorical(probs=tg.tensor([0.5, -0.2, 0.7]))
    assert str(ours.value).split(" of distribution")[0] == theirs.split(" of distribution")[0]
    assert "constraint Simplex()" in str(ours.value)
