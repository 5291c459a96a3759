"""kl_div, cosine_similarity, pairwise_distance, cosine_embedding_loss, margin_ranking_loss,
triplet_margin_loss, soft_margin_loss, hinge_embedding_loss, poisson_nll_loss, gaussian_nll_loss,
multilabel_soft_margin_loss (ops/loss_extra.py) and their modules, against PyTorch (values and
the gradients of every float input, targets included), with float64 gradchecks."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import check_grad, check_torch, needs_torch, torch

_rng = np.random.default_rng(31)


def _log_probs(*shape):
    x = _rng.normal(size=shape)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _probs(*shape):
    p = _rng.uniform(0.05, 1.0, size=shape)
    return p / p.sum(-1, keepdims=True)


def _signs(*shape):
    return np.where(_rng.random(shape) < 0.5, -1.0, 1.0)


# name: (call(lib, *tensors), arrays, which arrays get gradients)
CASES = {
    "kl_div-batchmean": (lambda m, x, t: m.nn.functional.kl_div(x, t, reduction="batchmean"),
                         lambda: [_log_probs(4, 5), _probs(4, 5)], [0, 1]),
    "kl_div-none": (lambda m, x, t: m.nn.functional.kl_div(x, t, reduction="none"),
                    lambda: [_log_probs(4, 5), _probs(4, 5)], [0, 1]),
    "kl_div-log_target": (lambda m, x, t: m.nn.functional.kl_div(x, t, reduction="sum", log_target=True),
                          lambda: [_log_probs(4, 5), _log_probs(4, 5)], [0, 1]),
    "cosine_similarity": (lambda m, a, b: m.nn.functional.cosine_similarity(a, b, dim=1),
                          lambda: [_rng.normal(size=(4, 6)), _rng.normal(size=(4, 6))], [0, 1]),
    "cosine_similarity-broadcast": (lambda m, a, b: m.nn.functional.cosine_similarity(a, b, dim=-1),
                                    lambda: [_rng.normal(size=(3, 4, 6)), _rng.normal(size=(1, 6))], [0, 1]),
    "pairwise_distance": (lambda m, a, b: m.nn.functional.pairwise_distance(a, b),
                          lambda: [_rng.normal(size=(4, 6)), _rng.normal(size=(4, 6))], [0, 1]),
    "pairwise_distance-p1": (lambda m, a, b: m.nn.functional.pairwise_distance(a, b, p=1.0, keepdim=True),
                             lambda: [_rng.normal(size=(4, 6)), _rng.normal(size=(4, 6))], [0, 1]),
    "cosine_embedding": (lambda m, a, b, y: m.nn.functional.cosine_embedding_loss(a, b, y, margin=0.2),
                         lambda: [_rng.normal(size=(5, 6)), _rng.normal(size=(5, 6)), _signs(5)], [0, 1]),
    "margin_ranking": (lambda m, a, b, y: m.nn.functional.margin_ranking_loss(a, b, y, margin=0.1),
                       lambda: [_rng.normal(size=(7,)), _rng.normal(size=(7,)), _signs(7)], [0, 1]),
    "triplet": (lambda m, a, p, n: m.nn.functional.triplet_margin_loss(a, p, n, margin=0.5),
                lambda: [_rng.normal(size=(5, 6)), _rng.normal(size=(5, 6)), _rng.normal(size=(5, 6))], [0, 1, 2]),
    "triplet-swap": (lambda m, a, p, n: m.nn.functional.triplet_margin_loss(a, p, n, p=1, swap=True,
                                                                              reduction="none"),
                     lambda: [_rng.normal(size=(5, 6)), _rng.normal(size=(5, 6)), _rng.normal(size=(5, 6))],
                     [0, 1, 2]),
    "soft_margin": (lambda m, x, y: m.nn.functional.soft_margin_loss(x, y),
                    lambda: [_rng.normal(size=(4, 3)), _signs(4, 3)], [0]),
    "hinge_embedding": (lambda m, x, y: m.nn.functional.hinge_embedding_loss(x, y, margin=0.7, reduction="sum"),
                        lambda: [_rng.normal(size=(4, 3)), _signs(4, 3)], [0]),
    "poisson": (lambda m, x, t: m.nn.functional.poisson_nll_loss(x, t),
                lambda: [_rng.normal(size=(4, 3)), _rng.poisson(2.0, size=(4, 3)).astype(float)], [0]),
    "poisson-full": (lambda m, x, t: m.nn.functional.poisson_nll_loss(x, t, log_input=False, full=True),
                     lambda: [_rng.uniform(0.5, 3, size=(4, 3)), _rng.poisson(2.0, size=(4, 3)).astype(float)],
                     [0]),
    "gaussian": (lambda m, x, t, v: m.nn.functional.gaussian_nll_loss(x, t, v),
                 lambda: [_rng.normal(size=(4, 3)), _rng.normal(size=(4, 3)), _rng.uniform(0.5, 2, size=(4, 3))],
                 [0, 1, 2]),
    "gaussian-homoscedastic": (lambda m, x, t, v: m.nn.functional.gaussian_nll_loss(x, t, v, full=True,
                                                                                     reduction="none"),
                               lambda: [_rng.normal(size=(4, 3)), _rng.normal(size=(4, 3)),
                                        _rng.uniform(0.5, 2, size=(4,))], [0, 1, 2]),
    "multilabel_soft_margin": (lambda m, x, y: m.nn.functional.multilabel_soft_margin_loss(x, y),
                               lambda: [_rng.normal(size=(4, 5)), (_rng.random((4, 5)) < 0.5).astype(float)], [0]),
}


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(device, name):
    fn, arrays, grads = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_torch(fn, arrays(), device, grad_inputs=grads, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", ["kl_div-batchmean", "cosine_similarity", "pairwise_distance", "cosine_embedding",
                                  "triplet", "soft_margin", "poisson", "gaussian", "multilabel_soft_margin"])
def test_gradcheck(device, name):
    fn, arrays, grads = CASES[name]
    check_grad(lambda *t: fn(tg, *t), arrays(), device, grad_inputs=grads, double=name != "triplet")


@needs_torch
def test_modules_match_torch(device):
    x, t = _log_probs(3, 4), _probs(3, 4)
    a, b, y = _rng.normal(size=(3, 4)), _rng.normal(size=(3, 4)), _signs(3)
    pairs = [("KLDivLoss", dict(reduction="batchmean"), [x, t]), ("CosineSimilarity", dict(dim=1), [a, b]),
             ("PairwiseDistance", dict(p=3.0), [a, b]), ("CosineEmbeddingLoss", dict(margin=0.1), [a, b, y]),
             ("MarginRankingLoss", dict(margin=0.2), [a[:, 0], b[:, 0], y]),
             ("TripletMarginLoss", dict(margin=0.3), [a, b, x]), ("SoftMarginLoss", {}, [a, np.sign(b)]),
             ("HingeEmbeddingLoss", dict(margin=0.5), [a, np.sign(b)]), ("PoissonNLLLoss", {}, [a, np.abs(b)]),
             ("GaussianNLLLoss", {}, [a, b, np.abs(x) + 0.1]),
             ("MultiLabelSoftMarginLoss", {}, [a, (b > 0).astype(float)])]
    for name, kw, arrays in pairs:
        ours, theirs = getattr(tg.nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(ours) == repr(theirs)
        check_torch(lambda m, *ts: (ours if m is tg else theirs)(*ts), arrays, device, grad_inputs=[0],
                    rtol=1e-9, atol=1e-10)


def test_kl_div_mean_warns_as_torch_and_batchmean_is_the_kl():
    x, t = _log_probs(4, 5), _probs(4, 5)
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(tg.tensor(x), tg.tensor(t))
    want = (np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * x).sum() / 4
    assert F.kl_div(tg.tensor(x), tg.tensor(t), reduction="batchmean").item() == pytest.approx(want, rel=1e-12)


@needs_torch
def test_kl_div_with_a_zero_target_probability(device):
    """0 log 0 = 0 in the value, as PyTorch's xlogy; the target's gradient there is finite here
    (PyTorch's is NaN), the input's is the same."""
    x, t = _log_probs(3, 4), _probs(3, 4)
    t[0, 0] = 0.0
    check_torch(lambda m, a, b: m.nn.functional.kl_div(a, b, reduction="sum"), [x, t], device, grad_inputs=[0])
    b = tg.tensor(t, requires_grad=True)
    F.kl_div(tg.tensor(x), b, reduction="sum").backward()
    assert np.isfinite(b.grad.numpy()).all()


def test_errors():
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(tg.zeros(4, 3), tg.zeros(4, 3), tg.ones(2))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(tg.zeros(4, 3), tg.zeros(4, 3), -tg.ones(4, 3))
    with pytest.raises(ValueError, match="'bad' is not a valid value for reduction"):
        F.kl_div(tg.zeros(2), tg.zeros(2), reduction="bad")
    with pytest.raises(RuntimeError, match="same dimension"):
        F.margin_ranking_loss(tg.zeros(3), tg.zeros(3, 1), tg.ones(3))
