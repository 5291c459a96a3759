"""tensorgrad.optim against torch.optim: the same least-squares problem, 60 steps, parameters compared."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from oracle import needs_torch, torch

import tensorgrad as tg
from tensorgrad import optim

STEPS = 60
TOL = {np.float32: 1e-5, np.float64: 1e-10}

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.02, betas=(0.5, 0.9), maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.005, alpha=0.9, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, centered=True)),
    ("RMSprop", dict(lr=0.002, centered=True, momentum=0.9, maximize=True, eps=1e-6)),
]


def _case_id(case):
    name, kw = case
    return name + "-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")


class Problem:
    """min ||X W + b - Y||^2 / n (or max of its negation when `maximize`), in either framework
    (m = tg or torch), on `device` for tensorgrad."""

    def __init__(self, dtype, seed=0):
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((16, 5)).astype(dtype)
        self.Y = rng.standard_normal((16, 3)).astype(dtype)
        self.W0 = rng.standard_normal((5, 3)).astype(dtype)
        self.b0 = rng.standard_normal(3).astype(dtype)

    def make(self, m, device="cpu"):
        kw = dict(device=device) if m is tg else {}
        return [m.tensor(self.W0.copy(), requires_grad=True, **kw), m.tensor(self.b0.copy(), requires_grad=True, **kw)]

    def loss(self, m, params, sign=1.0):
        dev = params[0].device
        X, Y = m.tensor(self.X, device=dev), m.tensor(self.Y, device=dev)
        err = X @ params[0] + params[1] - Y
        return (err * err).mean() * sign


def _groups(params, two_groups):
    if not two_groups:
        return params
    return [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.003}]


def train(m, prob, opt, params, steps, sign=1.0):
    for _ in range(steps):
        opt.zero_grad()
        prob.loss(m, params, sign).backward()
        opt.step()


def run(m, prob, name, kw, steps=STEPS, two_groups=False, params=None):
    params = prob.make(m) if params is None else params
    opt = getattr(m.optim, name)(_groups(params, two_groups), **kw)
    train(m, prob, opt, params, steps, -1.0 if kw.get("maximize") else 1.0)
    return [p.detach().numpy() for p in params], opt


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_torch(case, dtype):
    name, kw = case
    prob = Problem(dtype)
    ours, _ = run(tg, prob, name, kw)
    ref, _ = run(torch, prob, name, kw)
    for a, r in zip(ours, ref):
        assert a.dtype == r.dtype
        np.testing.assert_allclose(a, r, rtol=0, atol=TOL[dtype])
    assert not np.allclose(ours[0], prob.W0)  # it moved


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                     ("AdamW", dict(lr=0.01, weight_decay=0.1)), ("Adagrad", dict(lr=0.1)),
                                     ("Adadelta", dict(lr=0.5)), ("RMSprop", dict(centered=True, momentum=0.3))])
def test_two_param_groups(name, kw, dtype):
    prob = Problem(dtype, seed=1)
    ours, opt = run(tg, prob, name, kw, two_groups=True)
    ref, _ = run(torch, prob, name, kw, two_groups=True)
    for a, r in zip(ours, ref):
        np.testing.assert_allclose(a, r, rtol=0, atol=TOL[dtype])
    assert [g["lr"] for g in opt.param_groups] == [kw["lr"] if "lr" in kw else opt.defaults["lr"], 0.003]


@needs_torch
def test_defaults_and_state_keys_match_torch():
    prob = Problem(np.float64)
    for name in ["SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop"]:
        extra = dict(momentum=0.9) if name in ("SGD", "RMSprop") else {}
        if name == "RMSprop":
            extra["centered"] = True
        if name == "Adam":
            extra["amsgrad"] = True
        _, ours = run(tg, prob, name, extra, steps=3)
        _, ref = run(torch, prob, name, extra, steps=3)
        assert ours.defaults == ref.defaults, name
        sd, rsd = ours.state_dict(), ref.state_dict()
        assert sd["param_groups"] == rsd["param_groups"], name
        assert sd["state"].keys() == rsd["state"].keys()
        for k in sd["state"]:
            assert sd["state"][k].keys() == rsd["state"][k].keys(), name
            for key, v in sd["state"][k].items():
                rv = rsd["state"][k][key]
                assert isinstance(v, tg.Tensor)
                assert str(v.dtype).split(".")[-1] == str(rv.dtype).split(".")[-1], (name, key)
                np.testing.assert_allclose(v.numpy(), rv.numpy(), atol=1e-12)


ALL = [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)), ("Adam", dict(lr=0.01, amsgrad=True)),
       ("AdamW", dict(lr=0.01)), ("Adagrad", dict(lr=0.1, lr_decay=0.01)), ("Adadelta", dict()),
       ("RMSprop", dict(centered=True, momentum=0.5))]


@pytest.mark.parametrize("name,kw", ALL)
def test_state_dict_round_trip_mid_run(name, kw):
    prob = Problem(np.float64, seed=2)
    full, _ = run(tg, prob, name, kw, steps=40)
    params = prob.make(tg)
    _, opt = run(tg, prob, name, kw, steps=20, params=params)
    sd = opt.state_dict()
    assert all(isinstance(k, int) for k in sd["state"])
    assert sd["param_groups"][0]["params"] == [0, 1]
    # the state dict is a snapshot: its tensors are clones
    for k, st in sd["state"].items():
        for key, v in st.items():
            if isinstance(v, tg.Tensor):
                assert v._data is not opt.state[params[k]][key]._data
    snap_params = [p.detach().numpy().copy() for p in params]
    sd = copy.deepcopy(sd)
    # keep running the original a few steps (must not change the snapshot), then reload into a fresh one
    train(tg, prob, opt, params, 5)
    params2 = [tg.tensor(a, requires_grad=True) for a in snap_params]
    opt2 = getattr(optim, name)(params2, **kw)
    opt2.load_state_dict(sd)
    train(tg, prob, opt2, params2, 20)
    for a, r in zip(params2, full):
        np.testing.assert_array_equal(a.detach().numpy(), r)


@needs_torch
@pytest.mark.parametrize("name,kw", ALL)
def test_state_dict_loads_into_same_optimizer_and_matches_torch(name, kw):
    prob = Problem(np.float32, seed=3)
    ref, _ = run(torch, prob, name, kw, steps=30)
    params = prob.make(tg)
    _, opt = run(tg, prob, name, kw, steps=15, params=params)
    sd = opt.state_dict()
    for p in params:  # clobber the state, then restore it
        for v in opt.state[p].values():
            if isinstance(v, tg.Tensor):
                v._data[...] = 123.0
    opt.load_state_dict(sd)
    train(tg, prob, opt, params, 15)
    for a, r in zip(params, ref):
        np.testing.assert_allclose(a.detach().numpy(), r, atol=1e-5, rtol=0)


def test_load_state_dict_validates_and_casts():
    w = tg.randn(3, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = tg.ones(3)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([{"params": [tg.randn(3, requires_grad=True)]}, {"params": [tg.randn(3, requires_grad=True)]}]
                   ).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([tg.randn(3, requires_grad=True), tg.randn(3, requires_grad=True)]).load_state_dict(sd)
    w64 = tg.randn(3, dtype=tg.float64, requires_grad=True)
    opt64 = optim.Adam([w64], lr=0.5)
    opt64.load_state_dict(sd)
    assert opt64.param_groups[0]["lr"] == 0.1 and opt64.param_groups[0]["params"][0] is w64
    st = opt64.state[w64]
    assert st["exp_avg"].dtype == tg.float64 and st["step"].dtype == tg.float32 and st["step"].item() == 1.0


@needs_torch
@pytest.mark.parametrize("name,kw", ALL)
def test_closure_step(name, kw):
    prob = Problem(np.float64, seed=4)
    results = []
    for m in (tg, torch):
        params = prob.make(m)
        opt = getattr(m.optim, name)(params, **kw)
        losses = []

        def closure():
            opt.zero_grad()
            loss = prob.loss(m, params)
            loss.backward()
            return loss

        for _ in range(25):
            with m.no_grad():  # step re-enables grad for the closure
                losses.append(float(opt.step(closure)))
        results.append((losses, [p.detach().numpy() for p in params]))
    (l1, p1), (l2, p2) = results
    np.testing.assert_allclose(l1, l2, atol=1e-10)
    for a, r in zip(p1, p2):
        np.testing.assert_allclose(a, r, atol=1e-10)
    assert l1[-1] < l1[0]


def test_step_without_closure_returns_none_and_bumps_version():
    w = tg.randn(4, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    v0 = w._version
    before = w.detach().numpy().copy()
    assert opt.step() is None
    assert w._version == v0 + 1
    np.testing.assert_allclose(w.detach().numpy(), before - 0.1 * 2 * before, rtol=1e-6)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_params_without_grad_are_skipped():
    a = tg.randn(3, requires_grad=True)
    frozen = tg.randn(3)  # never gets a grad
    b = tg.randn(3, requires_grad=True)
    for cls in (optim.SGD, optim.Adam, optim.AdamW, optim.Adadelta, optim.RMSprop, optim.Adagrad):
        opt = cls([a, frozen, b], lr=0.1)
        fa, fb = frozen.numpy().copy(), b.detach().numpy().copy()
        a.grad = tg.ones(3)
        b.grad = None
        opt.step()
        np.testing.assert_array_equal(frozen.numpy(), fa)
        np.testing.assert_array_equal(b.detach().numpy(), fb)
        if cls is not optim.Adagrad:  # Adagrad initialises every parameter's state eagerly, like torch
            assert len(opt.state[b]) == 0 and len(opt.state[frozen]) == 0
        assert len(opt.state[a]) > 0 or cls is optim.SGD  # plain SGD keeps no state


def test_zero_grad():
    w = tg.randn(3, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * 2).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and np.all(w.grad.numpy() == 0)
    opt.zero_grad()
    assert w.grad is None


@pytest.mark.parametrize("make,msg", [
    (lambda p: optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: optim.Adam(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: optim.Adam(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    (lambda p: optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
    (lambda p: optim.RMSprop(p, momentum=-1), "Invalid momentum value: -1"),
])
def test_bad_hyperparameters(make, msg):
    with pytest.raises(ValueError) as e:
        make([tg.randn(2, requires_grad=True)])
    assert str(e.value) == msg


@needs_torch
@pytest.mark.parametrize("cls,kw", [("SGD", dict(lr=-1)), ("Adam", dict(betas=(1.0, 0.9))),
                                    ("Adagrad", dict(eps=-1)), ("Adadelta", dict(rho=2.0)),
                                    ("RMSprop", dict(weight_decay=-2)), ("SGD", dict(lr=0.1, nesterov=True))])
def test_error_messages_equal_torch(cls, kw):
    with pytest.raises(ValueError) as ours:
        getattr(optim, cls)([tg.randn(2, requires_grad=True)], **kw)
    with pytest.raises(ValueError) as ref:
        getattr(torch.optim, cls)([torch.randn(2, requires_grad=True)], **kw)
    assert str(ours.value) == str(ref.value)


def test_bad_params():
    w = tg.randn(2, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="organized in ordered collections"):
        optim.SGD([w], lr=0.1).add_param_group({"params": {tg.randn(2, requires_grad=True)}})
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is"):
        optim.SGD([w, 3.0], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="param_group must be a dict"):
        optim.SGD([w], lr=0.1).add_param_group([w])


def test_add_param_group_and_required():
    from tensorgrad.optim.optimizer import Optimizer, required
    a, b = tg.randn(2, requires_grad=True), tg.randn(2, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["lr"] == 0.01
    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        Optimizer([a], dict(lr=required))
    assert "Parameter Group 1" in repr(opt) and repr(opt).startswith("SGD (")


def test_named_params():
    a, b = tg.randn(2, requires_grad=True), tg.randn(2, requires_grad=True)
    opt = optim.Adam([("a", a), ("b", b)])
    assert opt.param_groups[0]["param_names"] == ["a", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]


def test_scheduler_with_tg_optimizer_does_not_warn_when_ordered():
    w = tg.randn(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w.grad = tg.ones(2)
        opt.step()
        sched.step()
    assert abs(opt.param_groups[0]["lr"] - 0.01) < 1e-15


@pytest.mark.parametrize("name,kw", ALL)
def test_device_runs_match_cpu(name, kw, device):
    """The same run on `device` (CPU, and CUDA where usable) as on the CPU; state stays on the device."""
    prob = Problem(np.float64, seed=5)
    ref, _ = run(tg, prob, name, kw, steps=20)
    X, Y = tg.tensor(prob.X, device=device), tg.tensor(prob.Y, device=device)
    params = [tg.tensor(prob.W0, device=device, requires_grad=True),
              tg.tensor(prob.b0, device=device, requires_grad=True)]
    opt = getattr(optim, name)(params, **kw)
    for _ in range(20):
        opt.zero_grad()
        err = X @ params[0] + params[1] - Y
        (err * err).mean().backward()
        opt.step()
    for a, r in zip(params, ref):
        assert a.device.type == device
        np.testing.assert_allclose(a.detach().cpu().numpy(), r, atol=1e-10, rtol=0)
    for st in opt.state.values():
        for key, v in st.items():
            if isinstance(v, tg.Tensor) and key != "step":
                assert v.device.type == device


@pytest.mark.parametrize("opt", [lambda ps: tg.optim.SGD(ps, lr=0.1, momentum=0.9),
                                 lambda ps: tg.optim.Adam(ps, lr=0.1, amsgrad=True)])
def test_non_contiguous_parameters_update_like_contiguous_ones(opt, device):
    """A transposed parameter (its state made like it) is updated by the array-op path where the
    fused kernels, which index flat memory, can't take it; same result as a contiguous copy."""
    base = np.random.default_rng(3).standard_normal((3, 5)).astype(np.float32)
    grads = [np.random.default_rng(k).standard_normal((5, 3)).astype(np.float32) for k in range(3)]
    p_t = tg.nn.Parameter(tg.tensor(base, device=device).t())   # (5, 3), not contiguous
    p_c = tg.nn.Parameter(tg.tensor(base.T.copy(), device=device))
    assert not p_t.is_contiguous()
    opts = [opt([p_t]), opt([p_c])]
    for g in grads:
        for p, o in zip((p_t, p_c), opts):
            p.grad = tg.tensor(g, device=device)
            o.step()
    np.testing.assert_allclose(p_t.detach().cpu().numpy(), p_c.detach().cpu().numpy(), rtol=1e-6, atol=1e-7)


def test_kernel_batches_leave_out_layouts_the_kernels_cannot_take(monkeypatch):
    from tensorgrad.optim import _fused
    monkeypatch.setattr(_fused, "_on_gpu", lambda p: True)   # NumPy arrays standing in for CuPy ones
    p = np.zeros((3, 4), np.float32).T
    m, v = np.zeros_like(p), np.zeros_like(p)
    groups, rest = _fused._batches([(p, p, m, v, None, 1)], lambda u: ())
    assert not groups and len(rest) == 1
    assert not _fused._kernel_ready(p, m, v, None)
