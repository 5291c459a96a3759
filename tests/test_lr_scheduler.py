"""tensorgrad.optim.lr_scheduler against torch.optim.lr_scheduler: the lr sequence over 100 steps."""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
from oracle import needs_torch, torch

import tensorgrad as tg
from tensorgrad import optim
from tensorgrad.optim import lr_scheduler as tls

STEPS = 100


def _make_opt(m, opt_name, two_groups, **opt_kw):
    a = m.zeros(3, requires_grad=True)
    b = m.zeros(2, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}] if two_groups else [a, b]
    return getattr(m.optim, opt_name)(groups, lr=0.1, **opt_kw), [a, b]


def _trace(m, sched_name, sched_kw, opt_name="SGD", opt_kw=None, two_groups=True, metrics=None,
           steps=STEPS):
    """[(lrs, momenta/beta1s, get_last_lr)] per step, stepping the optimizer then the scheduler."""
    opt, params = _make_opt(m, opt_name, two_groups, **(opt_kw or {}))
    sched = getattr(m.optim.lr_scheduler, sched_name)(opt, **sched_kw)
    out = []

    def record():
        lrs = [g["lr"] for g in opt.param_groups]
        mom = [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]
        out.append((lrs, mom, list(sched.get_last_lr())))

    record()
    for i in range(steps):
        for p in params:
            p.grad = m.ones(p.shape)
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        record()
    return out


def _assert_same(ours, ref):
    assert len(ours) == len(ref)
    for i, ((lr, mom, last), (rlr, rmom, rlast)) in enumerate(zip(ours, ref)):
        np.testing.assert_allclose(lr, rlr, rtol=1e-12, atol=0, err_msg=f"lr at step {i}")
        np.testing.assert_allclose(last, rlast, rtol=1e-12, atol=0, err_msg=f"last lr at step {i}")
        if rmom[0] is not None:
            np.testing.assert_allclose(mom, rmom, rtol=1e-12, atol=0, err_msg=f"momentum at step {i}")


def _lam(e):
    return 0.95 ** e + 0.01 * (e % 7)


SCHEDULES = [
    ("StepLR", dict(step_size=7), {}),
    ("StepLR", dict(step_size=10, gamma=0.5), {}),
    ("MultiStepLR", dict(milestones=[10, 30, 30, 75], gamma=0.3), {}),
    ("ExponentialLR", dict(gamma=0.97), {}),
    ("CosineAnnealingLR", dict(T_max=30), {}),
    ("CosineAnnealingLR", dict(T_max=25, eta_min=0.001), {}),
    ("LambdaLR", dict(lr_lambda=_lam), {}),
    ("LambdaLR", dict(lr_lambda=[_lam, lambda e: 1.0 / (1 + e)]), {}),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=100), {}),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=120, anneal_strategy="linear"), {}),
    ("OneCycleLR", dict(max_lr=0.8, epochs=10, steps_per_epoch=11, three_phase=True, pct_start=0.25), {}),
    ("OneCycleLR", dict(max_lr=0.8, total_steps=100, cycle_momentum=False, div_factor=10.0), {}),
    ("OneCycleLR", dict(max_lr=0.01, total_steps=100, base_momentum=0.8, max_momentum=0.9), "Adam"),
    ("OneCycleLR", dict(max_lr=0.01, total_steps=100, three_phase=True, anneal_strategy="linear"), "AdamW"),
    ("LinearLR", dict(start_factor=0.1, total_iters=8), {}),
    ("LinearLR", dict(start_factor=0.5, end_factor=0.1, total_iters=30), {}),
    ("ConstantLR", dict(factor=0.25, total_iters=7), {}),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.97), {}),
    ("PolynomialLR", dict(total_iters=60, power=2.0), {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=0.001), {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=7), {}),
]


def _name(v):  # stable across processes (pytest-xdist compares the ids its workers collect)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(str(_name(x)) for x in v) + "]"
    return getattr(v, "__name__", v)


def _sid(c):
    return c[0] + "-" + "-".join(f"{k}={_name(v)}" for k, v in c[1].items())


@needs_torch
@pytest.mark.parametrize("two_groups", [False, True], ids=["1group", "2groups"])
@pytest.mark.parametrize("case", SCHEDULES, ids=[_sid(c) for c in SCHEDULES])
def test_lr_sequence_matches_torch(case, two_groups):
    name, kw, opt = case
    opt_name = opt or "SGD"
    opt_kw = {"momentum": 0.9} if opt_name == "SGD" else {}
    if isinstance(kw.get("lr_lambda"), list) and not two_groups:
        pytest.skip("one lambda per group needs two groups")
    if isinstance(kw.get("max_lr"), list) and not two_groups:
        pytest.skip("one max_lr per group needs two groups")
    ours = _trace(tg, name, kw, opt_name, opt_kw, two_groups)
    ref = _trace(torch, name, kw, opt_name, opt_kw, two_groups)
    _assert_same(ours, ref)


PLATEAU = [
    dict(),
    dict(mode="min", factor=0.5, patience=3),
    dict(mode="max", factor=0.5, patience=2, threshold=0.01, threshold_mode="abs", cooldown=3),
    dict(mode="min", factor=0.3, patience=1, threshold=0.05, threshold_mode="rel", cooldown=2, min_lr=0.002),
    dict(mode="max", factor=0.7, patience=0, threshold_mode="rel", min_lr=[0.01, 0.004], eps=1e-3),
]


@needs_torch
@pytest.mark.parametrize("kw", PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
def test_reduce_on_plateau_matches_torch(kw):
    rng = np.random.default_rng(0)
    metrics = list(np.cumsum(rng.standard_normal(STEPS)) * 0.1 + np.linspace(2, 0, STEPS) ** 2)
    ours = _trace(tg, "ReduceLROnPlateau", kw, metrics=metrics)
    ref = _trace(torch, "ReduceLROnPlateau", kw, metrics=metrics)
    _assert_same(ours, ref)
    assert ours[-1][0] != ours[0][0]  # it reduced at least once


def test_initial_lr_and_base_lrs():
    opt, _ = _make_opt(tg, "SGD", True)
    sched = tls.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    assert sched.base_lrs == [0.1, 0.05] and sched.last_epoch == 0 and sched.get_last_lr() == [0.1, 0.05]
    opt2, _ = _make_opt(tg, "SGD", False)
    with pytest.raises(KeyError, match="initial_lr"):
        tls.StepLR(opt2, step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        tls.StepLR(object(), step_size=2)


@pytest.mark.parametrize("name,kw", [("StepLR", dict(step_size=5, gamma=0.5)),
                                     ("CosineAnnealingLR", dict(T_max=10)),
                                     ("OneCycleLR", dict(max_lr=1.0, total_steps=40)),
                                     ("LambdaLR", dict(lr_lambda=_lam))])
def test_scheduler_state_dict_resume(name, kw):
    full = _trace(tg, name, kw, "SGD", {"momentum": 0.9}, steps=30)
    opt, params = _make_opt(tg, "SGD", True, momentum=0.9)
    sched = getattr(tls, name)(opt, **kw)
    for _ in range(12):
        opt.step()
        sched.step()
    sd, osd = copy.deepcopy(sched.state_dict()), opt.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 12
    opt2, _ = _make_opt(tg, "SGD", True, momentum=0.9)
    sched2 = getattr(tls, name)(opt2, **kw)
    opt2.load_state_dict(osd)  # after creating the scheduler, as PyTorch recommends
    sched2.load_state_dict(sd)
    for i in range(12, 30):
        opt2.step()
        sched2.step()
        np.testing.assert_allclose([g["lr"] for g in opt2.param_groups], full[i + 1][0], rtol=1e-12)
        assert sched2.get_last_lr() == [g["lr"] for g in opt2.param_groups]


def test_plateau_state_dict_and_errors():
    opt, _ = _make_opt(tg, "SGD", False)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        tls.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        tls.ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="threshold mode x is unknown!"):
        tls.ReduceLROnPlateau(opt, threshold_mode="x")
    with pytest.raises(ValueError, match="expected 1 min_lrs, got 2"):
        tls.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])
    s = tls.ReduceLROnPlateau(opt, patience=1)
    for v in [1.0, 1.0, 1.0]:
        s.step(v)
    assert math.isclose(opt.param_groups[0]["lr"], 0.01)
    sd = s.state_dict()
    s2 = tls.ReduceLROnPlateau(_make_opt(tg, "SGD", False)[0], patience=1)
    s2.load_state_dict(sd)
    assert s2.best == 1.0 and s2.num_bad_epochs == 0 and s2.last_epoch == 3


def test_onecycle_errors():
    opt, _ = _make_opt(tg, "SGD", False)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        tls.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="Expected positive integer total_steps"):
        tls.OneCycleLR(opt, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start"):
        tls.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy must be one of"):
        tls.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        tls.OneCycleLR(optim.Adagrad([tg.zeros(2, requires_grad=True)]), max_lr=1.0, total_steps=10)
    s = tls.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        s.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        s.step()


def test_warns_when_scheduler_steps_before_optimizer():
    opt, _ = _make_opt(tg, "SGD", False)
    sched = tls.StepLR(opt, step_size=3)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2, _ = _make_opt(tg, "SGD", False)
    sched2 = tls.ExponentialLR(opt2, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt2.step()
        sched2.step()
    assert opt2.param_groups[0]["lr"] == 0.05


@needs_torch
@pytest.mark.parametrize("name,kw", [("StepLR", dict(step_size=7, gamma=0.5)),
                                     ("MultiStepLR", dict(milestones=[5, 20, 20])),
                                     ("ExponentialLR", dict(gamma=0.9)),
                                     ("CosineAnnealingLR", dict(T_max=30, eta_min=0.01)),
                                     ("LambdaLR", dict(lr_lambda=_lam)),
                                     ("LinearLR", dict(start_factor=0.2, total_iters=10)),
                                     ("ConstantLR", dict(factor=0.5, total_iters=8)),
                                     ("PolynomialLR", dict(total_iters=40, power=1.5))])
def test_explicit_epoch_uses_closed_form_like_torch(name, kw):
    seqs = []
    for m in (tg, torch):
        opt, _ = _make_opt(m, "SGD", True)
        sched = getattr(m.optim.lr_scheduler, name)(opt, **kw)
        opt.step()
        seq = []
        for epoch in [3, 7, 8, 21, 50, 44]:
            with pytest.warns(UserWarning, match="epoch parameter"):
                sched.step(epoch)
            seq.append([g["lr"] for g in opt.param_groups])
        seqs.append(seq)
    np.testing.assert_allclose(seqs[0], seqs[1], rtol=1e-12)


# ---------------------------------------------------------------- SequentialLR, ChainedScheduler
COMBINED = {
    "warmup-cosine": lambda L, o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=5),
                                                     L.CosineAnnealingLR(o, T_max=30)], milestones=[5]),
    "three-stages": lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, factor=0.1, total_iters=2),
                                                    L.ExponentialLR(o, gamma=0.9), L.StepLR(o, 5)], milestones=[3, 12]),
    "chained": lambda L, o: L.ChainedScheduler([L.ConstantLR(o, factor=0.1, total_iters=2),
                                                L.ExponentialLR(o, gamma=0.9)]),
}


def _combined_trace(m, build, steps=60):
    opt, params = _make_opt(m, "SGD", True, momentum=0.9)
    sched = build(m.optim.lr_scheduler, opt)
    out = [([g["lr"] for g in opt.param_groups], list(sched.get_last_lr()))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR steps the next schedule with step(0), which warns
        for _ in range(steps):
            for p in params:
                p.grad = m.ones(p.shape)
            opt.step()
            sched.step()
            out.append(([g["lr"] for g in opt.param_groups], list(sched.get_last_lr())))
    return out, sched


@needs_torch
@pytest.mark.parametrize("name", list(COMBINED))
def test_combined_schedules_match_torch(name):
    ours, _ = _combined_trace(tg, COMBINED[name])
    ref, _ = _combined_trace(torch, COMBINED[name])
    for i, ((lr, last), (rlr, rlast)) in enumerate(zip(ours, ref)):
        np.testing.assert_allclose(lr, rlr, rtol=1e-12, atol=0, err_msg=f"lr at step {i}")
        np.testing.assert_allclose(last, rlast, rtol=1e-12, atol=0, err_msg=f"last lr at step {i}")


def test_sequential_state_dict_resumes():
    full, _ = _combined_trace(tg, COMBINED["warmup-cosine"], steps=30)
    part, sched = _combined_trace(tg, COMBINED["warmup-cosine"], steps=12)
    sd = copy.deepcopy(sched.state_dict())
    assert "optimizer" not in sd and len(sd["_schedulers"]) == 2
    opt, params = _make_opt(tg, "SGD", True, momentum=0.9)
    sched2 = COMBINED["warmup-cosine"](tls, opt)
    sched2.load_state_dict(sd)
    for group, lr in zip(opt.param_groups, part[-1][0]):
        group["lr"] = lr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(12, 30):
            opt.step()
            sched2.step()
            np.testing.assert_allclose([g["lr"] for g in opt.param_groups], full[i + 1][0], rtol=1e-12)


def test_new_schedulers_check_their_arguments():
    opt, _ = _make_opt(tg, "SGD", True)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        tls.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Constant multiplicative factor"):
        tls.ConstantLR(opt, factor=2.0)
    with pytest.raises(ValueError, match="T_0"):
        tls.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        tls.SequentialLR(opt, [tls.ConstantLR(opt), tls.StepLR(opt, 3)], milestones=[])
    other, _ = _make_opt(tg, "SGD", True)
    with pytest.raises(ValueError, match="same optimizer"):
        tls.ChainedScheduler([tls.ConstantLR(opt), tls.StepLR(other, 3)])


@needs_torch
@pytest.mark.parametrize("t_mult", [1, 2])
def test_warm_restarts_with_explicit_epochs_match_torch(t_mult):
    seqs = []
    for m in (tg, torch):
        opt, _ = _make_opt(m, "SGD", True)
        sched = m.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=t_mult, eta_min=0.01)
        opt.step()
        seq = []
        for epoch in [0.5, 3, 4, 9.25, 30, 2]:
            sched.step(epoch)
            seq.append([g["lr"] for g in opt.param_groups] + [sched.T_i, sched.T_cur])
        seqs.append(seq)
    np.testing.assert_allclose(seqs[0], seqs[1], rtol=1e-12)
