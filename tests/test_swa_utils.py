"""tensorgrad.optim.swa_utils against torch.optim.swa_utils on the same weights: AveragedModel with
every averaging function (parameters and buffers), update_bn, SWALR schedules, and an SWA
training loop end to end."""
from __future__ import annotations

import numpy as np
import pytest
from oracle import needs_torch, torch

import tensorgrad as tg
from tensorgrad.optim import swa_utils as S

TOL = dict(rtol=1e-6, atol=1e-7)


def make_model(m):
    nn = m.nn
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def copy_weights(dst, src):
    """Load torch model `src`'s state into tensorgrad model `dst`."""
    dst.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


def set_weights(model, m, rng):
    """The same new random weights for both frameworks' models (drawn once, passed as arrays)."""
    with m.no_grad():
        for p, a in zip(model.parameters(), rng):
            p.copy_(m.tensor(a))


def state_arrays(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def assert_states_equal(ours, ref):
    a, r = state_arrays(ours), state_arrays(ref)
    assert list(a) == list(r)
    for k in r:
        assert a[k].dtype == r[k].dtype, k
        np.testing.assert_allclose(a[k], r[k], err_msg=k, **TOL)


AVG = {
    "default": lambda s: {},
    "ema_avg_fn": lambda s: dict(avg_fn=s.get_ema_avg_fn(0.8)),
    "swa_avg_fn": lambda s: dict(avg_fn=s.get_swa_avg_fn()),
    "ema_multi": lambda s: dict(multi_avg_fn=s.get_ema_multi_avg_fn(0.7)),
    "swa_multi": lambda s: dict(multi_avg_fn=s.get_swa_multi_avg_fn()),
    "custom_avg_fn": lambda s: dict(avg_fn=lambda a, c, n: a * 0.5 + c * 0.5 + n * 0.01),
}
# torch's swa multi_avg_fn fails on integer buffers (num_batches_tracked: "Integer division with
# addcdiv is no longer supported"); tensorgrad's averages them like the other functions do
CASES = [(a, b) for a in AVG for b in (False, True) if (a, b) != ("swa_multi", True)]


@needs_torch
@pytest.mark.parametrize("avg,use_buffers", CASES, ids=[f"{a}-{'buffers' if b else 'params'}" for a, b in CASES])
def test_averaged_model_matches_torch(avg, use_buffers):
    rng = np.random.default_rng(0)
    ref_model = make_model(torch)
    model = make_model(tg)
    copy_weights(model, ref_model)
    ours = S.AveragedModel(model, use_buffers=use_buffers, **AVG[avg](S))
    ref = torch.optim.swa_utils.AveragedModel(ref_model, use_buffers=use_buffers,
                                              **AVG[avg](torch.optim.swa_utils))
    for step in range(4):
        weights = [rng.standard_normal(tuple(p.shape)).astype(np.float32) for p in ref_model.parameters()]
        x = rng.standard_normal((6, 3)).astype(np.float32)
        set_weights(model, tg, weights)
        set_weights(ref_model, torch, weights)
        model(tg.tensor(x))  # train mode: moves the BatchNorm buffers
        ref_model(torch.tensor(x))
        ours.update_parameters(model)
        ref.update_parameters(ref_model)
        assert_states_equal(ours, ref)
        assert int(ours.n_averaged) == int(ref.n_averaged) == step + 1
    assert ours.n_averaged.dtype == tg.int64
    # the average differs from the last weights, and running it runs the averaged copy
    assert not np.allclose(ours.module[0].weight.detach().numpy(), model[0].weight.detach().numpy())
    ours.eval()
    ref.eval()
    x = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(tg.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(), **TOL)


def test_averaged_model_is_the_running_mean_and_leaves_the_model_alone():
    lin = tg.nn.Linear(2, 1)
    avg = S.AveragedModel(lin)
    seen = []
    for k in range(5):
        with tg.no_grad():
            lin.weight.fill_(float(k * k))
        seen.append(lin.weight.detach().numpy().copy())
        avg.update_parameters(lin)
    np.testing.assert_allclose(avg.module.weight.detach().numpy(), np.mean(seen, axis=0), rtol=1e-6)
    np.testing.assert_array_equal(lin.weight.detach().numpy(), seen[-1])
    assert avg.module.weight is not lin.weight and avg.module.weight.requires_grad
    assert avg.module.weight.grad_fn is None


def test_swa_multi_avg_fn_averages_integer_buffers():
    """The running mean, truncated to the integer dtype (as the default averaging does)."""
    bn = tg.nn.BatchNorm1d(2)
    avg = S.AveragedModel(bn, multi_avg_fn=S.get_swa_multi_avg_fn(), use_buffers=True)
    ref = S.AveragedModel(bn, use_buffers=True)
    for k in (1, 4, 10):
        bn.num_batches_tracked.fill_(k)
        avg.update_parameters(bn)
        ref.update_parameters(bn)
    assert avg.module.num_batches_tracked.dtype == tg.int64
    assert int(avg.module.num_batches_tracked) == int(ref.module.num_batches_tracked) == 4


def test_only_one_averaging_function():
    with pytest.raises(AssertionError, match="only one of avg_fn and multi_avg_fn"):
        S.AveragedModel(tg.nn.Linear(1, 1), avg_fn=S.get_swa_avg_fn(), multi_avg_fn=S.get_swa_multi_avg_fn())


def test_averaged_model_state_dict_and_mismatch_errors():
    lin = tg.nn.Linear(2, 3)
    avg = S.AveragedModel(lin)
    avg.update_parameters(lin)
    assert list(avg.state_dict()) == ["n_averaged", "module.weight", "module.bias"]
    with pytest.raises(ValueError, match=r"update_parameters\(\): the model has 1 parameters but the averaged "
                                         r"copy has 2"):
        avg.update_parameters(tg.nn.Linear(2, 3, bias=False))
    with pytest.raises(ValueError, match=r"tensor 0 of the model has shape \[4, 2\]"):
        avg.update_parameters(tg.nn.Linear(2, 4))
    assert int(avg.n_averaged) == 1


@needs_torch
@pytest.mark.parametrize("was_training", [False, True])
def test_update_bn_matches_torch(was_training):
    rng = np.random.default_rng(1)
    models = [m.nn.Sequential(m.nn.BatchNorm1d(4, momentum=0.3), m.nn.InstanceNorm1d(4, track_running_stats=True),
                              m.nn.BatchNorm1d(4)) for m in (tg, torch)]
    model, ref_model = models
    with torch.no_grad():  # stale statistics: update_bn resets BatchNorm's and leaves InstanceNorm's
        ref_model[0].running_mean.fill_(5.0)
        ref_model[1].running_var.fill_(3.0)
    copy_weights(model, ref_model)
    batches = [(rng.standard_normal((7, 4, 5)).astype(np.float32), rng.standard_normal(7)) for _ in range(3)]
    model.train(was_training)
    ref_model.train(was_training)
    S.update_bn([(tg.tensor(x), tg.tensor(y)) for x, y in batches], model)
    torch.optim.swa_utils.update_bn([(torch.tensor(x), torch.tensor(y)) for x, y in batches], ref_model)
    assert_states_equal(model, ref_model)
    assert model[0].momentum == 0.3 and model[2].momentum == 0.1 and model.training == was_training
    assert int(model[0].num_batches_tracked) == 3
    # InstanceNorm's statistics were not reset (its forward still moved them, with its own momentum)
    assert (model[1].running_var.numpy() > 3.0 * 0.9 ** 3).all()


@needs_torch
def test_update_bn_with_tensor_batches_and_no_batchnorm():
    x = np.random.default_rng(2).standard_normal((8, 3)).astype(np.float32)
    ref_model = make_model(torch)
    model = make_model(tg)
    copy_weights(model, ref_model)
    S.update_bn([tg.tensor(x[:4]), tg.tensor(x[4:])], model)
    torch.optim.swa_utils.update_bn([torch.tensor(x[:4]), torch.tensor(x[4:])], ref_model)
    assert_states_equal(model, ref_model)
    lin = tg.nn.Linear(3, 2)
    before = state_arrays(lin)
    S.update_bn(iter(()), lin)  # nothing to do: the loader is not even needed
    assert all(np.array_equal(before[k], v) for k, v in state_arrays(lin).items())


SWALR_CASES = [
    dict(swa_lr=0.05),
    dict(swa_lr=0.05, anneal_epochs=3, anneal_strategy="linear"),
    dict(swa_lr=0.2, anneal_epochs=1),
    dict(swa_lr=0.01, anneal_epochs=0),
    dict(swa_lr=[0.01, 0.3], anneal_epochs=4),
]


@needs_torch
@pytest.mark.parametrize("kw", SWALR_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_swalr_matches_torch(kw):
    lrs = []
    for m, mod in ((tg, S), (torch, torch.optim.swa_utils)):
        a, b = m.zeros(2, requires_grad=True), m.zeros(3, requires_grad=True)
        opt = m.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
        sched = mod.SWALR(opt, **kw)
        seq = [sched.get_last_lr()]
        for _ in range(14):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr())
        lrs.append((seq, [g["swa_lr"] for g in opt.param_groups]))
    np.testing.assert_allclose(lrs[0][0], lrs[1][0], rtol=1e-12, atol=1e-15)
    assert lrs[0][1] == lrs[1][1]
    swa = lrs[0][1]
    np.testing.assert_allclose(lrs[0][0][-1], swa, rtol=1e-12)  # it reaches swa_lr and stays


@needs_torch
def test_swalr_state_dict_round_trip():
    a = tg.zeros(2, requires_grad=True)
    opt = tg.optim.SGD([a], lr=1.0)
    sched = S.SWALR(opt, swa_lr=0.1, anneal_epochs=6)
    for _ in range(2):
        opt.step()
        sched.step()
    sd = sched.state_dict()
    expect = []
    for _ in range(3):
        opt.step()
        sched.step()
        expect.append(sched.get_last_lr())
    opt2 = tg.optim.SGD([tg.zeros(2, requires_grad=True)], lr=1.0)
    sched2 = S.SWALR(opt2, swa_lr=0.1, anneal_epochs=6)
    sched2.load_state_dict(sd)
    opt2.param_groups[0]["lr"] = sd["_last_lr"][0]
    got = []
    for _ in range(3):
        opt2.step()
        sched2.step()
        got.append(sched2.get_last_lr())
    np.testing.assert_allclose(got, expect, rtol=1e-12)


BAD_SWALR = [
    (dict(swa_lr=0.1, anneal_strategy="exp"), "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
    (dict(swa_lr=0.1, anneal_epochs=-1), "anneal_epochs must be equal or greater than 0, got -1"),
    (dict(swa_lr=0.1, anneal_epochs=2.5), "anneal_epochs must be equal or greater than 0, got 2.5"),
    (dict(swa_lr=[0.1, 0.2, 0.3]), "swa_lr must have the same length as optimizer.param_groups. swa_lr has 3 "
                                   "values, param_groups has 2."),
]


@pytest.mark.parametrize("kw,msg", BAD_SWALR)
def test_swalr_bad_arguments(kw, msg):
    opt = tg.optim.SGD([{"params": [tg.zeros(1, requires_grad=True)]},
                        {"params": [tg.zeros(1, requires_grad=True)]}], lr=0.1)
    with pytest.raises(ValueError) as e:
        S.SWALR(opt, **kw)
    assert str(e.value) == msg
    if torch is not None:
        topt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                                {"params": [torch.zeros(1, requires_grad=True)]}], lr=0.1)
        with pytest.raises(ValueError) as ref:
            torch.optim.swa_utils.SWALR(topt, **kw)
        assert str(ref.value) == msg


@needs_torch
def test_swa_training_loop_matches_torch():
    """SGD for 10 steps; from step 4 on, SWALR anneals the lr and AveragedModel averages the weights;
    then update_bn on the data. Every number equals torch's."""
    rng = np.random.default_rng(3)
    data = [(rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32))
            for _ in range(4)]
    torch.manual_seed(3)  # the initial weights, independent of the tests run before
    ref_model = make_model(torch)
    results = []
    for m, mod in ((tg, S), (torch, torch.optim.swa_utils)):
        model = make_model(m)
        if m is tg:
            copy_weights(model, ref_model)
        else:
            model.load_state_dict(ref_model.state_dict())
        opt = m.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        swa_model = mod.AveragedModel(model)
        sched = mod.SWALR(opt, swa_lr=0.02, anneal_epochs=3)
        for step in range(10):
            x, y = data[step % len(data)]
            opt.zero_grad()
            ((model(m.tensor(x)) - m.tensor(y)) ** 2).mean().backward()
            opt.step()
            if step >= 4:
                swa_model.update_parameters(model)
                sched.step()
        mod.update_bn([(m.tensor(x), m.tensor(y)) for x, y in data], swa_model)
        results.append((swa_model, sched.get_last_lr()))
    (ours, lr), (ref, ref_lr) = results
    # ten float32 momentum steps, summed in another order than torch's: a few float32 ulps apart
    a, r = state_arrays(ours), state_arrays(ref)
    assert list(a) == list(r)
    for k in r:
        np.testing.assert_allclose(a[k], r[k], rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_allclose(lr, ref_lr, rtol=1e-12)


def test_exports():
    assert tg.optim.swa_utils is S
    for name in S.__all__:
        assert callable(getattr(S, name))
