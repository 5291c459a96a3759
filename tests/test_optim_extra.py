"""Adamax, NAdam, RAdam, LBFGS, Rprop and ASGD against torch.optim: step-by-step parameter trajectories from the
same weights (so the same gradients), state_dict round trips, hyperparameter validation."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from test_optim import Problem  # noqa: E402  (the shared regression problem)
from oracle import needs_torch, torch

import tensorgrad as tg
from tensorgrad.optim.adamax import Adamax
from tensorgrad.optim.asgd import ASGD
from tensorgrad.optim.lbfgs import LBFGS
from tensorgrad.optim.nadam import NAdam
from tensorgrad.optim.radam import RAdam
from tensorgrad.optim.rprop import Rprop

OURS = {"Adamax": Adamax, "NAdam": NAdam, "RAdam": RAdam, "LBFGS": LBFGS, "Rprop": Rprop, "ASGD": ASGD}
STEPS = 12
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])


def cls_of(m, name):
    return OURS[name] if m is tg else getattr(torch.optim, name)


def groups(params, two_groups):
    if not two_groups:
        return params
    return [{"params": [params[0]], "weight_decay": 0.05}, {"params": [params[1]], "lr": 0.003}]


def trajectory(m, prob, name, kw, steps=STEPS, two_groups=False, params=None, opt=None):
    """Parameters (as NumPy arrays) after each of `steps` steps, and the optimizer."""
    params = prob.make(m) if params is None else params
    opt = cls_of(m, name)(groups(params, two_groups), **kw) if opt is None else opt
    sign = -1.0 if kw.get("maximize") else 1.0
    out = []
    for _ in range(steps):
        opt.zero_grad()
        prob.loss(m, params, sign).backward()
        opt.step()
        out.append([p.detach().cpu().numpy().copy() for p in params])
    return out, opt


def assert_trajectories_close(ours, ref, dtype):
    assert len(ours) == len(ref)
    for k, (a_step, r_step) in enumerate(zip(ours, ref)):
        for a, r in zip(a_step, r_step):
            assert a.dtype == r.dtype
            np.testing.assert_allclose(a, r, err_msg=f"step {k + 1}", **TOL[dtype])


CASES = [
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adamax", dict(lr=0.02, eps=1e-3, maximize=True, weight_decay=0.05)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, momentum_decay=0.02)),
    ("NAdam", dict(lr=0.02, maximize=True, weight_decay=0.05, eps=1e-6)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),  # rho_t > 5 from the 3rd step
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.02, betas=(0.9, 0.95), maximize=True, weight_decay=0.05)),
]


def _case_id(case):
    name, kw = case
    return name + "-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")


@needs_torch
@DTYPES
@pytest.mark.parametrize("two_groups", [False, True], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_trajectory_matches_torch(case, two_groups, dtype):
    name, kw = case
    prob = Problem(dtype)
    ours, opt = trajectory(tg, prob, name, kw, two_groups=two_groups)
    ref, ref_opt = trajectory(torch, prob, name, kw, two_groups=two_groups)
    assert_trajectories_close(ours, ref, dtype)
    assert not np.allclose(ours[-1][0], prob.W0)  # it moved
    if two_groups:
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
        assert [g["weight_decay"] for g in opt.param_groups] == [g["weight_decay"] for g in ref_opt.param_groups]


def test_radam_switches_to_the_rectified_update():
    """With beta2 = 0.9 the SMA length passes 5 at the 3rd step: the first two steps are plain
    bias-corrected momentum steps (lr * m_hat, whatever the second moment is)."""
    w = tg.tensor(np.zeros(3), requires_grad=True)
    opt = RAdam([w], lr=0.1, betas=(0.5, 0.9))
    w.grad = tg.tensor(np.array([1.0, -2.0, 4.0]))
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), -0.1 * np.array([1.0, -2.0, 4.0]), rtol=1e-15)


@needs_torch
@pytest.mark.parametrize("name,kw", [("Adamax", dict(weight_decay=0.1)), ("NAdam", dict(decoupled_weight_decay=True)),
                                     ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True))])
@pytest.mark.parametrize("default_dtype", [np.float32, np.float64], ids=["default_f32", "default_f64"])
def test_defaults_state_keys_and_dtypes_match_torch(name, kw, default_dtype):
    prob = Problem(np.float64, seed=1)
    before = (tg.get_default_dtype(), torch.get_default_dtype())
    tg.set_default_dtype(tg.float64 if default_dtype is np.float64 else tg.float32)
    torch.set_default_dtype(torch.float64 if default_dtype is np.float64 else torch.float32)
    try:
        _, ours = trajectory(tg, prob, name, kw, steps=3)
        _, ref = trajectory(torch, prob, name, kw, steps=3)
    finally:
        tg.set_default_dtype(before[0])
        torch.set_default_dtype(before[1])
    assert ours.defaults == ref.defaults
    sd, rsd = ours.state_dict(), ref.state_dict()
    assert sd["param_groups"] == rsd["param_groups"]
    assert sd["state"].keys() == rsd["state"].keys()
    for k in sd["state"]:
        assert list(sd["state"][k]) == list(rsd["state"][k])
        for key, v in sd["state"][k].items():
            rv = rsd["state"][k][key]
            assert isinstance(v, tg.Tensor)
            assert str(v.dtype).split(".")[-1] == str(rv.dtype).split(".")[-1], key
            np.testing.assert_allclose(v.numpy(), rv.numpy(), rtol=1e-12, atol=0)


def _round_trip(m, prob, name, kw, dtype):
    """5 steps, a deep-copied state_dict, 3 more steps of the original (must not touch the
    snapshot), then a fresh optimizer on the snapshot's weights loads it and runs 5 steps."""
    params = prob.make(m)
    _, opt = trajectory(m, prob, name, kw, steps=5, two_groups=True, params=params)
    sd = opt.state_dict()
    assert all(isinstance(k, int) for k in sd["state"])
    sd = copy.deepcopy(sd)
    snap = [p.detach().numpy().copy() for p in params]
    trajectory(m, prob, name, kw, steps=3, params=params, opt=opt)
    params2 = [m.tensor(a, requires_grad=True) for a in snap]
    opt2 = cls_of(m, name)(groups(params2, True), lr=123.0)  # hyperparameters come from the state dict
    opt2.load_state_dict(sd)
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    rest, _ = trajectory(m, prob, name, kw, steps=5, params=params2, opt=opt2)
    return rest, opt2


RT = [("Adamax", dict(lr=0.01, weight_decay=0.1)), ("NAdam", dict(lr=0.01, weight_decay=0.1)),
      ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
      ("RAdam", dict(lr=0.01, weight_decay=0.1))]


@DTYPES
@pytest.mark.parametrize("name,kw", RT)
def test_state_dict_round_trip_resumes(name, kw, dtype):
    prob = Problem(dtype, seed=2)
    full, opt = trajectory(tg, prob, name, kw, steps=10, two_groups=True)
    sd = opt.state_dict()
    for k, st in sd["state"].items():  # a snapshot: clones of the state tensors
        for key, v in st.items():
            assert v._data is not opt.state[opt.param_groups[k]["params"][0]][key]._data
    rest, opt2 = _round_trip(tg, prob, name, kw, dtype)
    if name == "NAdam" and dtype is np.float64:
        # load_state_dict casts mu_product (a float32 CPU scalar under the float32 default dtype)
        # to the parameter's dtype, as torch's does: the resumed run rounds it differently
        assert all(st["mu_product"].dtype == tg.float64 for st in opt2.state.values())
        close = dict(rtol=1e-8, atol=1e-10)
    else:
        close = dict(rtol=0, atol=0)
    for a_step, r_step in zip(rest, full[5:]):
        for a, r in zip(a_step, r_step):
            np.testing.assert_allclose(a, r, **close)


@needs_torch
@DTYPES
@pytest.mark.parametrize("name,kw", RT)
def test_state_dict_round_trip_matches_torchs(name, kw, dtype):
    prob = Problem(dtype, seed=2)
    ours, opt = _round_trip(tg, prob, name, kw, dtype)
    ref, ref_opt = _round_trip(torch, prob, name, kw, dtype)
    assert_trajectories_close(ours, ref, dtype)
    for st, rst in zip(opt.state.values(), ref_opt.state.values()):
        for key, v in st.items():
            assert str(v.dtype).split(".")[-1] == str(rst[key].dtype).split(".")[-1], key


@needs_torch
@pytest.mark.parametrize("name,kw", [("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01, weight_decay=0.1)),
                                     ("RAdam", dict(lr=0.01, betas=(0.9, 0.9)))])
def test_state_dict_of_torch_loads_and_matches(name, kw):
    """torch's state dict (tensors converted) resumes our optimizer on torch's trajectory."""
    prob = Problem(np.float64, seed=3)
    tparams = prob.make(torch)
    ref, topt = trajectory(torch, prob, name, kw, steps=6, params=tparams)
    tsd = topt.state_dict()
    sd = {"param_groups": copy.deepcopy(tsd["param_groups"]),
          "state": {k: {key: tg.tensor(v.numpy()) for key, v in st.items()} for k, st in tsd["state"].items()}}
    params = [tg.tensor(p.detach().numpy(), requires_grad=True) for p in tparams]
    opt = OURS[name](params)
    opt.load_state_dict(sd)
    ours, _ = trajectory(tg, prob, name, kw, steps=6, params=params, opt=opt)
    ref2, _ = trajectory(torch, prob, name, kw, steps=6, params=tparams, opt=topt)
    assert_trajectories_close(ours, ref2, np.float64)


@pytest.mark.parametrize("cls", [Adamax, NAdam, RAdam])
def test_skips_params_without_grad_and_bumps_versions(cls):
    a, frozen, b = tg.randn(3, requires_grad=True), tg.randn(3), tg.randn(3, requires_grad=True)
    opt = cls([a, frozen, b], lr=0.1)
    fa, fb = frozen.numpy().copy(), b.detach().numpy().copy()
    a.grad = tg.ones(3)
    v0 = a._version
    assert opt.step() is None
    assert a._version > v0
    np.testing.assert_array_equal(frozen.numpy(), fa)
    np.testing.assert_array_equal(b.detach().numpy(), fb)
    assert len(opt.state[b]) == 0 and len(opt.state[frozen]) == 0 and len(opt.state[a]) > 0
    assert a.is_leaf and a.requires_grad and a.grad_fn is None


@needs_torch
@pytest.mark.parametrize("name", ["Adamax", "NAdam", "RAdam"])
def test_closure_step_returns_loss(name):
    prob = Problem(np.float64, seed=4)
    results = []
    for m in (tg, torch):
        params = prob.make(m)
        opt = cls_of(m, name)(params, lr=0.05)

        def closure():
            opt.zero_grad()
            loss = prob.loss(m, params)
            loss.backward()
            return loss

        with m.no_grad():  # step re-enables grad for the closure
            losses = [float(opt.step(closure)) for _ in range(8)]
        results.append((losses, [p.detach().numpy() for p in params]))
    (l1, p1), (l2, p2) = results
    np.testing.assert_allclose(l1, l2, rtol=1e-10)
    for a, r in zip(p1, p2):
        np.testing.assert_allclose(a, r, rtol=1e-10)


@pytest.mark.parametrize("name", ["Adamax", "NAdam", "RAdam"])
def test_device_runs_match_cpu(name, device):
    prob = Problem(np.float64, seed=5)
    ref, _ = trajectory(tg, prob, name, dict(lr=0.01, weight_decay=0.1), steps=8)
    params = prob.make(tg, device=device)
    ours, opt = trajectory(tg, prob, name, dict(lr=0.01, weight_decay=0.1), steps=8, params=params)
    for a_step, r_step in zip(ours, ref):
        for a, r in zip(a_step, r_step):
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-12)
    for st in opt.state.values():
        for key, v in st.items():
            assert v.device.type == ("cpu" if key in ("step", "mu_product") else device)


BAD = [
    ("Adamax", dict(lr=-1), "Invalid learning rate: -1"),
    ("Adamax", dict(eps=-1e-3), "Invalid epsilon value: -0.001"),
    ("Adamax", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    ("Adamax", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adamax", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("NAdam", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("NAdam", dict(eps=-1), "Invalid epsilon value: -1"),
    ("NAdam", dict(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    ("NAdam", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("NAdam", dict(weight_decay=-2), "Invalid weight_decay value: -2"),
    ("NAdam", dict(momentum_decay=-1e-3), "Invalid momentum_decay value: -0.001"),
    ("RAdam", dict(lr=-1e-3), "Invalid learning rate: -0.001"),
    ("RAdam", dict(eps=-1), "Invalid epsilon value: -1"),
    ("RAdam", dict(betas=(1.5, 0.9)), "Invalid beta parameter at index 0: 1.5"),
    ("RAdam", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("RAdam", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("LBFGS", dict(lr=-1), "Invalid learning rate: -1"),
    ("Rprop", dict(lr=-1), "Invalid learning rate: -1"),
    ("Rprop", dict(etas=(1.0, 1.2)), "Invalid eta values: 1.0, 1.2"),
    ("Rprop", dict(etas=(0.5, 0.9)), "Invalid eta values: 0.5, 0.9"),
    ("Rprop", dict(etas=(0.0, 1.2)), "Invalid eta values: 0.0, 1.2"),
    ("ASGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("ASGD", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
]


@pytest.mark.parametrize("name,kw,msg", BAD, ids=[f"{n}-{m}" for n, _, m in BAD])
def test_bad_hyperparameters(name, kw, msg):
    with pytest.raises(ValueError) as e:
        OURS[name]([tg.randn(2, requires_grad=True)], **kw)
    assert str(e.value) == msg


@needs_torch
@pytest.mark.parametrize("name,kw,msg", BAD, ids=[f"{n}-{m}" for n, _, m in BAD])
def test_error_messages_equal_torch(name, kw, msg):
    with pytest.raises(ValueError) as ref:
        getattr(torch.optim, name)([torch.randn(2, requires_grad=True)], **kw)
    assert str(ref.value) == msg


@pytest.mark.parametrize("cls", [Adamax, NAdam, RAdam])
def test_accepts_torch_keyword_arguments(cls):
    w = tg.randn(2, requires_grad=True)
    opt = cls([w], foreach=False, capturable=False, differentiable=False, maximize=True)
    assert opt.param_groups[0]["maximize"] is True and opt.defaults["foreach"] is False


# ---------------------------------------------------------------------------------------------- LBFGS
class Quadratic:
    """0.5 x'Ax - b'x for a random SPD A, x split into two parameters (a (2, 2) one and a (3,) one)."""

    def __init__(self, dtype, seed=0):
        rng = np.random.default_rng(seed)
        M = rng.standard_normal((7, 7))
        self.A = (M @ M.T + 0.5 * np.eye(7)).astype(dtype)
        self.b = rng.standard_normal(7).astype(dtype)
        self.x0 = [rng.standard_normal((2, 2)).astype(dtype), rng.standard_normal(3).astype(dtype)]

    def make(self, m):
        return [m.tensor(a.copy(), requires_grad=True) for a in self.x0]

    def loss(self, m, params):
        x = m.cat([params[0].reshape(-1), params[1]])
        A, b = m.tensor(self.A), m.tensor(self.b)
        return 0.5 * (x * (A @ x)).sum() - (b * x).sum()


class Rosenbrock:
    def __init__(self, dtype, start=(-1.5, 2.0)):
        self.x0 = [np.array(start, dtype=dtype)]

    def make(self, m):
        return [m.tensor(self.x0[0].copy(), requires_grad=True)]

    def loss(self, m, params):
        x = params[0]
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def lbfgs_run(m, prob, kw, outer=6, params=None, opt=None):
    """Iterates (and closure losses) after each of `outer` step(closure) calls, plus the optimizer."""
    params = prob.make(m) if params is None else params
    opt = cls_of(m, "LBFGS")(params, **kw) if opt is None else opt
    calls = [0]

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = prob.loss(m, params)
        loss.backward()
        return loss

    iterates, losses = [], []
    for _ in range(outer):
        losses.append(float(opt.step(closure)))
        iterates.append([p.detach().numpy().copy() for p in params])
    return iterates, losses, opt, calls[0]


LBFGS_CASES = [  # (problem, kwargs, outer steps compared in float32)
    ("quadratic", dict(lr=0.2, max_iter=4), 3),
    ("quadratic", dict(max_iter=5, history_size=2), 3),  # the memory is shifted
    ("quadratic", dict(line_search_fn="strong_wolfe", max_iter=3), 3),
    ("quadratic", dict(line_search_fn="strong_wolfe", history_size=3, max_iter=10), 1),
    ("rosenbrock", dict(lr=0.05, max_iter=10), 3),
    ("rosenbrock", dict(lr=0.1, max_iter=20, history_size=4, max_eval=15), 1),
    ("rosenbrock", dict(line_search_fn="strong_wolfe", max_iter=5), 3),
    ("rosenbrock", dict(line_search_fn="strong_wolfe", lr=0.5, history_size=5, max_eval=12), 2),
    # runs into float32's resolution (stopping on tolerance_change), where the two diverge: float64 only
    ("rosenbrock", dict(line_search_fn="strong_wolfe", max_iter=50, tolerance_change=1e-12), 0),
]
# float32 L-BFGS amplifies rounding (torch's own float32 run drifts from its float64 one by more than
# ours drifts from it), so float32 is compared over the first outer steps only, before the drift shows
LBFGS_PARAMS = ([pytest.param(kind, kw, np.float64, 6, id=_case_id((kind, kw)) + "-f64") for kind, kw, _ in LBFGS_CASES]
                + [pytest.param(kind, kw, np.float32, n, id=_case_id((kind, kw)) + "-f32")
                   for kind, kw, n in LBFGS_CASES if n])


def _problem(kind, dtype):
    return Quadratic(dtype) if kind == "quadratic" else Rosenbrock(dtype)


@needs_torch
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar")
@pytest.mark.parametrize("kind,kw,dtype,outer", LBFGS_PARAMS)
def test_lbfgs_iterates_match_torch(kind, kw, dtype, outer):
    prob = _problem(kind, dtype)
    ours, l_ours, opt, n_ours = lbfgs_run(tg, prob, kw, outer=outer)
    ref, l_ref, ref_opt, n_ref = lbfgs_run(torch, prob, kw, outer=outer)
    tol = dict(rtol=1e-9, atol=1e-12) if dtype is np.float64 else dict(rtol=1e-5, atol=1e-6)
    assert n_ours == n_ref  # the same number of closure calls (same branches taken)
    np.testing.assert_allclose(l_ours, l_ref, **tol)
    for k, (a_step, r_step) in enumerate(zip(ours, ref)):
        for a, r in zip(a_step, r_step):
            assert a.dtype == r.dtype
            np.testing.assert_allclose(a, r, err_msg=f"outer step {k + 1}", **tol)
    st, rst = opt.state[opt.param_groups[0]["params"][0]], ref_opt.state[ref_opt.param_groups[0]["params"][0]]
    assert st["func_evals"] == rst["func_evals"] and st["n_iter"] == rst["n_iter"]
    assert len(st["old_dirs"]) == len(rst["old_dirs"]) <= opt.param_groups[0]["history_size"]
    assert sorted(st) == sorted(rst)
    for key in ("d", "prev_flat_grad"):
        assert str(st[key].dtype).split(".")[-1] == str(rst[key].dtype).split(".")[-1]
        r = rst[key].numpy()  # near the optimum: differences of nearly equal gradients, so relative to the largest
        rel = 1e-6 if dtype is np.float64 else 1e-4
        np.testing.assert_allclose(st[key].numpy(), r, rtol=0, atol=np.abs(r).max() * rel)
    assert opt.defaults == ref_opt.defaults


@pytest.mark.parametrize("kw", [dict(lr=0.3), dict(line_search_fn="strong_wolfe")])
def test_lbfgs_converges_on_quadratic(kw):
    prob = Quadratic(np.float64, seed=1)
    kw = dict(max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-15, **kw)
    ours, losses, opt, _ = lbfgs_run(tg, prob, kw, outer=2)
    x = np.concatenate([a.ravel() for a in ours[-1]])
    np.testing.assert_allclose(x, np.linalg.solve(prob.A, prob.b), rtol=1e-6, atol=1e-7)


def test_lbfgs_rosenbrock_reaches_minimum():
    ours, losses, _, _ = lbfgs_run(tg, Rosenbrock(np.float64), dict(line_search_fn="strong_wolfe", max_iter=200),
                                   outer=2)
    np.testing.assert_allclose(ours[-1][0], [1.0, 1.0], atol=1e-5)


@pytest.mark.parametrize("kw", [dict(lr=0.1, max_iter=3), dict(line_search_fn="strong_wolfe", max_iter=3,
                                                                 history_size=2)])
def test_lbfgs_state_dict_round_trip(kw):
    prob = Rosenbrock(np.float64)
    full, l_full, _, _ = lbfgs_run(tg, prob, kw, outer=6)
    params = prob.make(tg)
    _, _, opt, _ = lbfgs_run(tg, prob, kw, outer=3, params=params)
    sd = copy.deepcopy(opt.state_dict())
    assert sd["state"][0]["n_iter"] == opt.state[params[0]]["n_iter"] > 0
    params2 = [tg.tensor(p.detach().numpy(), requires_grad=True) for p in params]
    opt2 = LBFGS(params2, **kw)
    opt2.load_state_dict(sd)
    rest, l_rest, _, _ = lbfgs_run(tg, prob, kw, outer=3, params=params2, opt=opt2)
    np.testing.assert_array_equal(l_rest, l_full[3:])
    for a_step, r_step in zip(rest, full[3:]):
        for a, r in zip(a_step, r_step):
            np.testing.assert_array_equal(a, r)


def test_lbfgs_returns_at_once_when_optimal():
    w = tg.tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = LBFGS([w])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, tg.Tensor) and float(loss) == 0.0 and len(calls) == 1
    assert opt.state[w]["func_evals"] == 1 and opt.state[w]["n_iter"] == 0


def test_lbfgs_closure_runs_with_grad_and_step_leaves_no_graph():
    w = tg.tensor(np.array([3.0, -1.0]), requires_grad=True)
    opt = LBFGS([w], max_iter=3)
    seen = []

    def closure():
        seen.append(tg.is_grad_enabled())
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        opt.step(closure)
    assert all(seen) and len(seen) == 3
    assert w.is_leaf and w.grad_fn is None and w.requires_grad


def test_lbfgs_param_without_grad_counts_as_zero_gradient():
    a, unused = tg.tensor(np.array([2.0, -3.0]), requires_grad=True), tg.tensor(np.ones(2), requires_grad=True)
    opt = LBFGS([a, unused], lr=0.5, max_iter=5)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_array_equal(unused.detach().numpy(), np.ones(2))
    assert np.abs(a.detach().numpy()).max() < 2.0


def test_lbfgs_argument_errors():
    a, b = tg.randn(2, requires_grad=True), tg.randn(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options \(parameter groups\)"):
        LBFGS([{"params": [a]}, {"params": [b]}])
    opt = LBFGS([a], line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    assert LBFGS([b], max_iter=8).defaults["max_eval"] == 10
    assert LBFGS([b], max_iter=8, max_eval=3).defaults["max_eval"] == 3


# ---------------------------------------------------------------------------------------------- Rprop, ASGD
def group_lrs(params, two_groups):
    """Two groups without weight_decay (Rprop has none): the second with its own lr."""
    return [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.003}] if two_groups else params


SIGN_CASES = [
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),  # the clamp bites both ways
    ("Rprop", dict(lr=0.02, maximize=True)),
    ("Rprop", dict(lr=0.01, foreach=False, differentiable=False)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=4)),  # averaging starts mid-run: mu < 1 from step 6
    ("ASGD", dict(lr=0.03, t0=2, lambd=0.1, maximize=True, weight_decay=0.05)),
]


def sign_trajectory(m, prob, name, kw, steps=STEPS, two_groups=False):
    params = prob.make(m)
    opt = cls_of(m, name)(group_lrs(params, two_groups), **kw)
    return trajectory(m, prob, name, kw, steps=steps, params=params, opt=opt)


@needs_torch
@DTYPES
@pytest.mark.parametrize("two_groups", [False, True], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("case", SIGN_CASES, ids=[_case_id(c) for c in SIGN_CASES])
def test_rprop_asgd_trajectories_match_torch(case, two_groups, dtype):
    name, kw = case
    prob = Problem(dtype)
    ours, opt = sign_trajectory(tg, prob, name, kw, steps=16, two_groups=two_groups)
    ref, ref_opt = sign_trajectory(torch, prob, name, kw, steps=16, two_groups=two_groups)
    assert_trajectories_close(ours, ref, dtype)
    assert not np.allclose(ours[-1][0], prob.W0)
    assert opt.defaults == ref_opt.defaults
    sd, rsd = opt.state_dict(), ref_opt.state_dict()
    assert sd["param_groups"] == rsd["param_groups"]
    for k in rsd["state"]:
        assert list(sd["state"][k]) == list(rsd["state"][k])
        for key, v in sd["state"][k].items():
            rv = rsd["state"][k][key]
            assert str(v.dtype).split(".")[-1] == str(rv.dtype).split(".")[-1], key
            np.testing.assert_allclose(v.numpy(), rv.numpy(), err_msg=key, **TOL[dtype])


def test_rprop_step_sizes_follow_the_gradient_signs():
    """Same sign: step size * etaplus; flipped sign: * etaminus and no move; then the step after a
    flip neither grows nor shrinks it (its remembered gradient is zero)."""
    w = tg.tensor(np.zeros(2), requires_grad=True)
    opt = Rprop([w], lr=0.1, etas=(0.5, 2.0))
    moves = []
    for g in ([1.0, 1.0], [1.0, -1.0], [1.0, -1.0]):
        before = w.detach().numpy().copy()
        w.grad = tg.tensor(np.array(g))
        opt.step()
        moves.append(w.detach().numpy() - before)
    np.testing.assert_allclose(moves, [[-0.1, -0.1], [-0.2, 0.0], [-0.4, 0.05]], rtol=1e-15)
    np.testing.assert_array_equal(opt.state[w]["prev"].numpy(), [1.0, -1.0])


def test_asgd_average_copies_until_t0_then_averages():
    w = tg.tensor(np.array([1.0]), requires_grad=True)
    opt = ASGD([w], lr=0.1, lambd=0.0, t0=2)
    iterates = []
    for _ in range(5):
        w.grad = tg.tensor(np.array([1.0]))
        opt.step()
        iterates.append(float(w.detach()))
    st = opt.state[w]
    # mu = 1 / max(1, t - t0) set by step t is used by step t + 1: steps 1-4 copy the iterate (mu
    # is 1 through t = 3), step 5 averages (mu = 1/2): ax is the mean of the iterates from step 4 on
    np.testing.assert_allclose(float(st["ax"]), np.mean(iterates[3:]), rtol=1e-12)
    assert float(st["mu"]) == pytest.approx(1 / 3) and float(st["eta"]) == pytest.approx(0.1)


@DTYPES
@pytest.mark.parametrize("name,kw", [("Rprop", dict(lr=0.05)), ("ASGD", dict(lr=0.05, t0=3, weight_decay=0.1))])
def test_rprop_asgd_state_dict_round_trip_resumes(name, kw, dtype):
    prob = Problem(dtype, seed=2)
    full, _ = sign_trajectory(tg, prob, name, kw, steps=10, two_groups=True)
    params = prob.make(tg)
    opt = OURS[name](group_lrs(params, True), **kw)
    trajectory(tg, prob, name, kw, steps=5, params=params, opt=opt)
    sd = copy.deepcopy(opt.state_dict())
    snap = [p.detach().numpy().copy() for p in params]
    trajectory(tg, prob, name, kw, steps=3, params=params, opt=opt)  # must not touch the snapshot
    params2 = [tg.tensor(a, requires_grad=True) for a in snap]
    opt2 = OURS[name](group_lrs(params2, True), lr=123.0)
    opt2.load_state_dict(sd)
    assert [g["lr"] for g in opt2.param_groups] == [kw["lr"], 0.003]
    rest, _ = trajectory(tg, prob, name, kw, steps=5, params=params2, opt=opt2)
    if name == "ASGD":  # load_state_dict casts eta and mu to the parameter's dtype, as torch's does
        assert all(st["eta"].dtype == st["mu"].dtype == params2[0].dtype for st in opt2.state.values())
    for a_step, r_step in zip(rest, full[5:]):
        for a, r in zip(a_step, r_step):
            np.testing.assert_array_equal(a, r)


@needs_torch
@pytest.mark.parametrize("name,kw", [("Rprop", dict(lr=0.05)), ("ASGD", dict(lr=0.05, t0=3))])
def test_rprop_asgd_state_dict_of_torch_loads_and_matches(name, kw):
    prob = Problem(np.float64, seed=3)
    tparams = prob.make(torch)
    topt = getattr(torch.optim, name)(tparams, **kw)
    trajectory(torch, prob, name, kw, steps=6, params=tparams, opt=topt)
    tsd = topt.state_dict()
    sd = {"param_groups": copy.deepcopy(tsd["param_groups"]),
          "state": {k: {key: tg.tensor(v.numpy()) for key, v in st.items()} for k, st in tsd["state"].items()}}
    params = [tg.tensor(p.detach().numpy(), requires_grad=True) for p in tparams]
    opt = OURS[name](params)
    opt.load_state_dict(sd)
    tparams2 = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in tparams]
    topt2 = getattr(torch.optim, name)(tparams2)  # torch resumed the same way (its load casts too)
    topt2.load_state_dict(tsd)
    for st, rst in zip(opt.state.values(), topt2.state.values()):
        assert {k: str(v.dtype).split(".")[-1] for k, v in st.items()} == \
            {k: str(v.dtype).split(".")[-1] for k, v in rst.items()}
    ours, _ = trajectory(tg, prob, name, kw, steps=6, params=params, opt=opt)
    ref, _ = trajectory(torch, prob, name, kw, steps=6, params=tparams2, opt=topt2)
    assert_trajectories_close(ours, ref, np.float64)


@pytest.mark.parametrize("cls", [Rprop, ASGD])
def test_rprop_asgd_skip_params_without_grad(cls):
    a, b = tg.randn(3, requires_grad=True), tg.randn(3, requires_grad=True)
    opt = cls([a, b], lr=0.1)
    fb = b.detach().numpy().copy()
    a.grad = tg.ones(3)
    v0 = a._version
    assert opt.step() is None
    assert a._version > v0 and len(opt.state[b]) == 0
    np.testing.assert_array_equal(b.detach().numpy(), fb)


@pytest.mark.parametrize("name,kw", [("Rprop", dict(lr=0.05)), ("ASGD", dict(lr=0.05, t0=3, weight_decay=0.1))])
def test_rprop_asgd_device_runs_match_cpu(name, kw, device):
    prob = Problem(np.float64, seed=5)
    ref, _ = sign_trajectory(tg, prob, name, kw, steps=8)
    params = prob.make(tg, device=device)
    ours, opt = trajectory(tg, prob, name, kw, steps=8, params=params, opt=OURS[name](params, **kw))
    for a_step, r_step in zip(ours, ref):
        for a, r in zip(a_step, r_step):
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-12)
    for st in opt.state.values():
        for key, v in st.items():
            assert v.device.type == ("cpu" if key in ("step", "eta", "mu") else device)



def test_rprop_asgd_are_exported():
    assert tg.optim.Rprop is Rprop and tg.optim.ASGD is ASGD
