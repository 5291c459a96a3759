"""F.gumbel_softmax (the sample given its Gumbel noise against torch's own, the sampling statistics,
the straight-through estimator) and optim.lr_scheduler.CyclicLR (lr and momentum sequences against
torch's step by step, errors, state_dict)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import check_grad, needs_torch, rand, to_np, torch
from tensorgrad.ops.activation_extra import _gumbel_softmax_given


# ---------------------------------------------------------------- gumbel_softmax
def _torch_sample_and_noise(logits, seed, **kw):
    """torch's gumbel_softmax and the Gumbel noise it drew: it takes -log of an Exp(1) draw made with
    empty_like(logits).exponential_(), which the same seed reproduces."""
    torch.manual_seed(seed)
    noise = -torch.empty_like(logits).exponential_().log()
    torch.manual_seed(seed)
    return torch.nn.functional.gumbel_softmax(logits, **kw), noise


@needs_torch
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
@pytest.mark.parametrize("tau,dim,shape", [(1.0, -1, (4, 6)), (0.3, 0, (5, 3)), (2.5, 1, (2, 7, 3))])
def test_given_noise_matches_torch(tau, dim, shape, hard, device):
    x = rand(*shape)
    xp = torch.tensor(x, requires_grad=True)
    ref, noise = _torch_sample_and_noise(xp, 7, tau=tau, hard=hard, dim=dim)
    xt = tg.tensor(x, device=device, requires_grad=True)
    out = _gumbel_softmax_given(xt, tg.tensor(noise.numpy(), device=device), tau, hard, dim)
    np.testing.assert_allclose(to_np(out), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    seed = rand(*shape)
    ref.backward(torch.tensor(seed))
    out.backward(tg.tensor(seed, device=device))
    np.testing.assert_allclose(to_np(xt.grad), xp.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_public_function_uses_fresh_gumbel_noise(device):
    x = tg.tensor(rand(3, 5), device=device)
    tg.manual_seed(3)
    out = F.gumbel_softmax(x, tau=0.7, hard=True, dim=0)
    tg.manual_seed(3)
    noise = -tg.empty_like(x).exponential_().log()
    np.testing.assert_array_equal(to_np(out), to_np(_gumbel_softmax_given(x, noise, 0.7, True, 0)))
    assert not np.array_equal(to_np(F.gumbel_softmax(x)), to_np(F.gumbel_softmax(x)))  # a new draw each call


@pytest.mark.parametrize("tau", [1.0, 0.25])
def test_argmax_frequencies_follow_softmax_of_logits(tau):
    """Gumbel-max: P(argmax of the sample = k) = softmax(logits)_k, whatever tau."""
    logits = np.array([1.0, -0.5, 0.3, 2.0, 0.0])
    p = np.exp(logits) / np.exp(logits).sum()
    n = 40000
    tg.manual_seed(11)
    sample = to_np(F.gumbel_softmax(tg.tensor(np.tile(logits, (n, 1))), tau=tau, hard=True))
    freq = sample.mean(0)
    sigma = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) < 5 * sigma), (freq, p)


def test_hard_sample_is_one_hot_of_the_soft_sample():
    x = tg.tensor(rand(6, 4, 3))
    noise = -tg.empty_like(x).exponential_().log()
    soft = to_np(_gumbel_softmax_given(x, noise, 0.5, False, 1))
    hard = to_np(_gumbel_softmax_given(x, noise, 0.5, True, 1))
    assert set(np.unique(hard)) <= {0.0, 1.0}
    np.testing.assert_array_equal(hard.sum(1), 1)
    np.testing.assert_array_equal(hard.argmax(1), soft.argmax(1))
    np.testing.assert_allclose(soft.sum(1), 1, rtol=1e-12)


def test_straight_through_gradient_is_the_soft_one(device):
    x = rand(5, 4)
    noise = tg.tensor(-np.log(np.random.default_rng(0).exponential(size=(5, 4))), device=device)
    seed = tg.tensor(rand(5, 4), device=device)
    grads = []
    for hard in (False, True):
        xt = tg.tensor(x, device=device, requires_grad=True)
        _gumbel_softmax_given(xt, noise, 0.8, hard, -1).backward(seed)
        grads.append(to_np(xt.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-15)
    assert np.abs(grads[0]).max() > 1e-3  # a real gradient, not zeros on both sides


def test_soft_sample_gradcheck(device):
    g = -np.log(np.random.default_rng(1).exponential(size=(3, 4)))
    check_grad(lambda x, noise: _gumbel_softmax_given(x, noise, 0.6, False, -1), [rand(3, 4), g], device,
               grad_inputs=[0])


def test_gumbel_softmax_arguments():
    x = tg.zeros(2, 3)
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(x, eps=1e-3)
    assert tuple(F.gumbel_softmax(x, dim=0).shape) == (2, 3)
    with pytest.raises(RuntimeError, match="gumbel_softmax"):
        F.gumbel_softmax(tg.zeros(2, 3, dtype=tg.int64))


# ---------------------------------------------------------------- CyclicLR
def _optimizer(m, name, two_groups, **kw):
    a, b = m.zeros(3, requires_grad=True), m.zeros(2, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}] if two_groups else [a, b]
    return getattr(m.optim, name)(groups, lr=0.1, **kw), [a, b]


def _trace(m, kw, opt_name="SGD", opt_kw=None, two_groups=False, steps=60):
    """[(lrs, momenta or beta1s, get_last_lr)] before and after each optimizer + scheduler step."""
    opt, params = _optimizer(m, opt_name, two_groups, **(opt_kw or {}))
    sched = m.optim.lr_scheduler.CyclicLR(opt, **kw)
    out = []
    for i in range(steps + 1):
        if i:
            for p in params:
                p.grad = m.ones(p.shape)
            opt.step()
            sched.step()
        out.append(([g["lr"] for g in opt.param_groups],
                    [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups],
                    list(sched.get_last_lr())))
    return out


class _Halving:
    """A scale_fn object with state (kept by state_dict as its __dict__)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, x):
        return self.base ** x


CYCLIC = [
    ("triangular", dict(base_lr=0.01, max_lr=0.1, step_size_up=5), "SGD", {"momentum": 0.9}),
    ("asymmetric", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=8), "SGD", {"momentum": 0.9}),
    ("triangular2", dict(base_lr=0.001, max_lr=0.1, step_size_up=4, mode="triangular2"), "SGD", {"momentum": 0.5}),
    ("exp_range", dict(base_lr=0.01, max_lr=0.2, step_size_up=6, mode="exp_range", gamma=0.97), "RMSprop",
     {"momentum": 0.9}),
    ("scale_fn_cycle", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda c: 1.0 / c), "SGD",
     {"momentum": 0.9}),
    ("scale_fn_iter", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=_Halving(0.98),
                           scale_mode="iterations", mode="ignored"), "SGD", {"momentum": 0.9}),
    ("no_momentum", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, cycle_momentum=False), "Adagrad", {}),
    ("adam_beta1", dict(base_lr=1e-4, max_lr=1e-2, step_size_up=7, base_momentum=0.85, max_momentum=0.95), "Adam",
     {}),
    ("sgd_plain", dict(base_lr=0.01, max_lr=0.1, step_size_up=2), "SGD", {}),  # SGD's defaults have momentum
    ("per_group", dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=5, base_momentum=[0.8, 0.7],
                       max_momentum=0.9), "AdamW", {}),
]


@needs_torch
@pytest.mark.parametrize("name,kw,opt_name,opt_kw", CYCLIC, ids=[c[0] for c in CYCLIC])
def test_cyclic_lr_matches_torch(name, kw, opt_name, opt_kw):
    two = isinstance(kw["base_lr"], list)
    ours = _trace(tg, kw, opt_name, opt_kw, two_groups=two)
    ref = _trace(torch, kw, opt_name, opt_kw, two_groups=two)
    for i, ((lr, mom, last), (rlr, rmom, rlast)) in enumerate(zip(ours, ref)):
        np.testing.assert_allclose(lr, rlr, rtol=1e-12, atol=0, err_msg=f"lr at step {i}")
        np.testing.assert_allclose(last, rlast, rtol=1e-12, atol=0, err_msg=f"last lr at step {i}")
        if rmom[0] is not None:
            np.testing.assert_allclose(mom, rmom, rtol=1e-12, atol=0, err_msg=f"momentum at step {i}")
    lrs = [t[0][0] for t in ours]
    assert lrs[0] == (kw["base_lr"][0] if two else kw["base_lr"]) and max(lrs) > lrs[0]  # it cycles


def test_cyclic_lr_starts_at_base_lr_and_max_momentum():
    opt, _ = _optimizer(tg, "Adam", True, betas=(0.5, 0.99))
    sched = tg.optim.lr_scheduler.CyclicLR(opt, base_lr=[0.01, 0.02], max_lr=0.5, max_momentum=0.93)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.02] == sched.base_lrs == sched.get_last_lr()
    assert [g["betas"] for g in opt.param_groups] == [(0.93, 0.99)] * 2  # betas[1] untouched
    assert [g["initial_lr"] for g in opt.param_groups] == [0.01, 0.02]


def test_cyclic_lr_errors():
    CyclicLR = tg.optim.lr_scheduler.CyclicLR
    opt, _ = _optimizer(tg, "Adagrad", False)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        CyclicLR(opt, 0.01, 0.1)
    CyclicLR(opt, 0.01, 0.1, cycle_momentum=False)  # fine without momentum cycling
    opt, _ = _optimizer(tg, "SGD", False, momentum=0.9)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        CyclicLR(opt, 0.01, 0.1, mode="cosine")
    with pytest.raises(ValueError, match="base_lr must have the same length as optimizer.param_groups"):
        CyclicLR(opt, [0.01, 0.02], 0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        CyclicLR(object(), 0.01, 0.1, cycle_momentum=False)


@pytest.mark.parametrize("kw", [dict(mode="triangular2"), dict(mode="exp_range", gamma=0.9),
                                dict(scale_fn=_Halving(0.9), scale_mode="iterations")],
                         ids=["triangular2", "exp_range", "scale_fn_object"])  # (stable across xdist workers)
def test_cyclic_lr_state_dict_resume(kw):
    base = dict(base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=5)

    def make(scale_base=None):
        opt, _ = _optimizer(tg, "SGD", True, momentum=0.9)
        k = dict(base, **kw)
        if scale_base is not None:
            k["scale_fn"] = _Halving(scale_base)  # a different object, restored from the state_dict
        return opt, tg.optim.lr_scheduler.CyclicLR(opt, **k)

    opt, sched = make()
    full = []
    for i in range(30):
        opt.step()
        sched.step()
        full.append(([g["lr"] for g in opt.param_groups], [g["momentum"] for g in opt.param_groups]))
        if i == 11:
            sd, osd = copy.deepcopy(sched.state_dict()), opt.state_dict()
    assert "optimizer" not in sd and "_scale_fn_ref" not in sd and sd["last_epoch"] == 12
    custom = "scale_fn" in kw
    assert sd["_scale_fn_custom"] == ({"base": 0.9} if custom else None)
    opt2, sched2 = make(0.5 if custom else None)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(sd)
    for i in range(12, 30):
        opt2.step()
        sched2.step()
        np.testing.assert_allclose([g["lr"] for g in opt2.param_groups], full[i][0], rtol=1e-12)
        np.testing.assert_allclose([g["momentum"] for g in opt2.param_groups], full[i][1], rtol=1e-12)


@needs_torch
def test_cyclic_lr_state_dict_keys_match_torch():
    ours = tg.optim.lr_scheduler.CyclicLR(_optimizer(tg, "SGD", False, momentum=0.9)[0], 0.01, 0.1)
    ref = torch.optim.lr_scheduler.CyclicLR(_optimizer(torch, "SGD", False, momentum=0.9)[0], 0.01, 0.1)
    internal = {"_get_lr_called_within_step"}  # torch's own step bookkeeping
    assert set(ours.state_dict()) - internal == set(ref.state_dict()) - internal


@pytest.mark.parametrize("dtype", [tg.float16, tg.float32])
def test_exponential_draws_are_never_zero_so_gumbel_noise_stays_finite(dtype):
    """A float16 draw of u = 0 (1 in 2**11 before the fix) gave Exp = 0, Gumbel noise +inf and a
    NaN row from gumbel_softmax; PyTorch never returns 0."""
    tg.manual_seed(3)
    e = tg.empty(2_000_000, dtype=dtype).exponential_()
    assert e.dtype == dtype and float(e.min()) > 0
    assert abs(float(e.float().mean()) - 1.0) < 0.01  # still Exp(1)
    y = F.gumbel_softmax(tg.zeros(1000, 200, dtype=dtype))
    assert not bool(tg.isnan(y).any())
