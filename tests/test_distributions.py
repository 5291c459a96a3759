"""tensorgrad.distributions against torch.distributions: log_prob, entropy, moments, cdf/icdf and
kl_divergence (values and gradients into the parameters), sample shapes and statistics,
reparameterized gradients, validation; and finfo/iinfo/broadcast_tensors which they use."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import distributions as D
from oracle import check_torch, needs_torch, to_tg, torch

_rng = np.random.default_rng(23)


def _normal(m, loc, scale):
    return m.distributions.Normal(loc, scale)


CASES = {
    "normal-log_prob": (lambda m, loc, scale, x: m.distributions.Normal(loc, scale).log_prob(x),
                        lambda: [_rng.normal(size=(3, 4)), _rng.uniform(0.5, 2, size=(3, 4)), _rng.normal(size=(3, 4))]),
    "normal-broadcast": (lambda m, loc, scale, x: m.distributions.Normal(loc, scale).log_prob(x),
                         lambda: [_rng.normal(size=(4,)), _rng.uniform(0.5, 2, size=(3, 1)), _rng.normal(size=(3, 4))]),
    "normal-entropy-cdf-icdf": (lambda m, loc, scale, u: (m.distributions.Normal(loc, scale).entropy()
                                                         + m.distributions.Normal(loc, scale).cdf(loc + 0.3)
                                                         + m.distributions.Normal(loc, scale).icdf(u)),
                                lambda: [_rng.normal(size=(5,)), _rng.uniform(0.5, 2, size=(5,)),
                                         _rng.uniform(0.1, 0.9, size=(5,))]),
    "uniform": (lambda m, lo, hi: (m.distributions.Uniform(lo, hi).log_prob((lo + hi) / 2)
                                   + m.distributions.Uniform(lo, hi).entropy()
                                   + m.distributions.Uniform(lo, hi).variance + m.distributions.Uniform(lo, hi).mean),
                lambda: [_rng.normal(size=(4,)), _rng.normal(size=(4,)) + 3]),
    "bernoulli-probs": (lambda m, p, x: m.distributions.Bernoulli(probs=p).log_prob(x)
                        + m.distributions.Bernoulli(probs=p).entropy(),
                        lambda: [_rng.uniform(0.1, 0.9, size=(6,)), (_rng.random(6) < 0.5).astype(float)]),
    "bernoulli-logits": (lambda m, lg, x: m.distributions.Bernoulli(logits=lg).log_prob(x)
                         + m.distributions.Bernoulli(logits=lg).entropy() + m.distributions.Bernoulli(logits=lg).mean,
                         lambda: [_rng.normal(size=(6,)), (_rng.random(6) < 0.5).astype(float)]),
    "categorical-logits": (lambda m, lg: m.distributions.Categorical(logits=lg).entropy()
                           + m.distributions.Categorical(logits=lg).log_prob(m.tensor([2, 0, 1])),
                           lambda: [_rng.normal(size=(3, 4))]),
    "categorical-probs": (lambda m, p: m.distributions.Categorical(probs=p).entropy()
                          + m.distributions.Categorical(probs=p).log_prob(m.tensor([3, 1])),
                          lambda: [_rng.uniform(0.1, 1, size=(2, 4))]),
}


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(device, name):
    fn, arrays = CASES[name]
    if device == "cuda" and "categorical" in name:
        pytest.skip("the index tensor of these cases is made on the CPU")
    check_torch(fn, arrays(), device, rtol=1e-9, atol=1e-10)


KL = [("Normal", lambda m: (m.distributions.Normal(m.tensor([0.0, 1.0]), m.tensor([1.0, 2.0])),
                            m.distributions.Normal(m.tensor([0.5, -1.0]), m.tensor([2.0, 0.5])))),
      ("Uniform", lambda m: (m.distributions.Uniform(m.tensor([0.0, 0.0]), m.tensor([1.0, 2.0])),
                             m.distributions.Uniform(m.tensor([-1.0, 0.5]), m.tensor([2.0, 3.0])))),
      ("Bernoulli", lambda m: (m.distributions.Bernoulli(probs=m.tensor([0.2, 0.0, 1.0, 0.5])),
                               m.distributions.Bernoulli(probs=m.tensor([0.5, 0.3, 0.0, 1.0])))),
      ("Categorical", lambda m: (m.distributions.Categorical(probs=m.tensor([[0.2, 0.8, 0.0], [0.3, 0.3, 0.4]])),
                                 m.distributions.Categorical(probs=m.tensor([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]))))]


@needs_torch
@pytest.mark.parametrize("name,make", KL, ids=[k for k, _ in KL])
def test_kl_divergence_matches_torch(name, make):
    ours = D.kl_divergence(*make(tg)).numpy()
    theirs = torch.distributions.kl_divergence(*make(torch)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_kl_gradient_reaches_the_parameters():
    loc = tg.tensor([0.3], requires_grad=True)
    D.kl_divergence(D.Normal(loc, tg.ones(1)), D.Normal(tg.zeros(1), tg.ones(1))).sum().backward()
    assert loc.grad.item() == pytest.approx(0.3)       # d/dmu of mu^2 / 2
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Uniform(0.0, 1.0))


def test_samples_have_the_right_shapes_and_statistics(device):
    tg.manual_seed(0)
    n = D.Normal(to_tg(np.array([0.0, 3.0]), device, requires_grad=False),
                 to_tg(np.array([1.0, 0.5]), device, requires_grad=False))
    s = n.sample((20000,))
    assert tuple(s.shape) == (20000, 2) and not s.requires_grad and s.device.type == device
    np.testing.assert_allclose(s.cpu().numpy().mean(0), [0.0, 3.0], atol=0.03)
    np.testing.assert_allclose(s.cpu().numpy().std(0), [1.0, 0.5], rtol=0.03)
    c = D.Categorical(probs=to_tg(np.array([[0.1, 0.9], [0.7, 0.3]]), device, requires_grad=False))
    draws = c.sample((5000,)).cpu().numpy()
    assert draws.shape == (5000, 2)
    np.testing.assert_allclose(draws.mean(0), [0.9, 0.3], atol=0.03)
    b = D.Bernoulli(probs=to_tg(np.array([0.25]), device, requires_grad=False)).sample((4000,))
    assert tuple(b.shape) == (4000, 1) and abs(b.cpu().numpy().mean() - 0.25) < 0.03
    u = D.Uniform(2.0, 5.0).sample((1000,)).numpy()
    assert u.min() >= 2.0 and u.max() < 5.0 and D.Uniform(2.0, 5.0).sample().shape == ()


def test_rsample_is_reparameterized_and_sample_is_not():
    loc = tg.tensor([1.0, 2.0], requires_grad=True)
    scale = tg.tensor([0.5, 0.5], requires_grad=True)
    x = D.Normal(loc, scale).rsample((1000,))
    x.mean().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5], rtol=1e-4)   # mean over 2 columns
    assert not D.Normal(loc, scale).sample().requires_grad
    with pytest.raises(NotImplementedError, match="rsample"):
        D.Categorical(logits=tg.zeros(3)).rsample()


def test_policy_gradient_step_uses_log_prob():
    """REINFORCE: loss = -log_prob(action) * advantage; its gradient pushes the taken action up."""
    logits = tg.zeros(3, requires_grad=True)
    dist = D.Categorical(logits=logits)
    action = tg.tensor(1)
    (-dist.log_prob(action) * 2.0).backward()
    g = logits.grad.numpy()
    assert g[1] < 0 and g[0] > 0 and g[2] > 0 and abs(g.sum()) < 1e-6


@needs_torch
def test_validation_and_reprs_match_torch():
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both"):
        D.Categorical(probs=tg.ones(2), logits=tg.ones(2))
    with pytest.raises(ValueError, match="scale"):
        D.Normal(0.0, -1.0)
    D.Normal(0.0, -1.0, validate_args=False)                        # allowed when asked
    with pytest.raises(ValueError, match="value"):
        D.Bernoulli(probs=tg.tensor([0.5])).log_prob(tg.tensor([0.5]))
    assert repr(D.Normal(tg.zeros(2), tg.ones(2))) == repr(torch.distributions.Normal(torch.zeros(2),
                                                                                       torch.ones(2))).replace(
        "torch", "tensorgrad")
    assert repr(D.Categorical(logits=tg.zeros(3))).startswith("Categorical(logits:")


@needs_torch
def test_finfo_iinfo_and_broadcasting_helpers_match_torch():
    for a, b in ((tg.float32, torch.float32), (tg.float64, torch.float64), (tg.float16, torch.float16)):
        fa, fb = tg.finfo(a), torch.finfo(b)
        assert (fa.eps, fa.max, fa.min, fa.tiny, fa.bits, fa.resolution) == (fb.eps, fb.max, fb.min, fb.tiny, fb.bits,
                                                                              fb.resolution)
    assert tg.finfo().eps == torch.finfo().eps
    ia, ib = tg.iinfo(tg.int32), torch.iinfo(torch.int32)
    assert (ia.min, ia.max, ia.bits) == (ib.min, ib.max, ib.bits)
    with pytest.raises(TypeError, match="not a floating point dtype"):
        tg.finfo(tg.int64)
    assert tuple(tg.broadcast_shapes((2, 1), (3,), (1, 1, 1))) == tuple(torch.broadcast_shapes((2, 1), (3,), (1, 1, 1)))
    a, b = tg.broadcast_tensors(tg.ones(2, 1, requires_grad=True), tg.ones(3))
    assert tuple(a.shape) == tuple(b.shape) == (2, 3)
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        tg.broadcast_shapes((2,), (3,))
