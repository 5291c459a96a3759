"""tensorgrad.amp: GradScaler's scaling, unscaling, skipped steps and scale schedule against
PyTorch's GradScaler on the CPU; autocast's disabled form (tests/test_autocast.py has the
enabled one); the errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorgrad as tg
from oracle import needs_torch, torch


def _run(lib, scaler_kwargs, poison_steps, n_steps=7):
    """A small regression trained with a GradScaler; at `poison_steps` one input is inf (so are
    the gradients). Returns the scales after each update, the losses and the final weights."""
    rng = np.random.default_rng(0)
    x0, y0, w0 = rng.normal(size=(6, 3)), rng.normal(size=(6, 1)), rng.normal(size=(1, 3))
    w = lib.tensor(w0, requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.05)
    scaler = lib.amp.GradScaler("cpu", **scaler_kwargs)
    scales, losses = [], []
    for step in range(n_steps):
        x = x0.copy()
        if step in poison_steps:
            x[0, 0] = np.inf
        opt.zero_grad()
        loss = ((lib.tensor(x) @ w.T - lib.tensor(y0)) ** 2).mean()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        losses.append(float(loss.item()))
    return scales, losses, w.detach().numpy().copy(), scaler


@needs_torch
@pytest.mark.parametrize("poison", [(), (1,), (0, 3, 4)])
def test_grad_scaler_matches_torch(poison):
    kwargs = dict(init_scale=2.0 ** 8, growth_interval=2)
    ours, theirs = _run(tg, kwargs, poison), _run(torch, kwargs, poison)
    assert ours[0] == theirs[0]                                       # the scale schedule
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)         # losses (inf where poisoned)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12)         # skipped steps left w alone
    assert ours[3].state_dict() == theirs[3].state_dict()


def test_unscale_gives_the_true_gradient_and_errors():
    w = tg.tensor([2.0], requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)
    s = tg.amp.GradScaler("cpu", init_scale=1024.0)
    s.scale((w * 3).sum()).backward()
    assert w.grad.item() == 3 * 1024
    s.unscale_(opt)
    assert w.grad.item() == 3.0
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called"):
        s.unscale_(opt)
    s.step(opt)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called"):
        s.step(opt)
    s.update()
    assert w.item() == pytest.approx(2.0 - 0.1 * 3.0)
    with pytest.raises(ValueError, match="growth factor"):
        tg.amp.GradScaler("cpu", growth_factor=1.0)


def test_disabled_scaler_and_autocast_pass_through():
    w = tg.tensor([1.0], requires_grad=True)
    opt = tg.optim.SGD([w], lr=1.0)
    s = tg.amp.GradScaler("cpu", enabled=False)
    loss = (w * 2).sum()
    assert s.scale(loss) is loss and s.get_scale() == 1.0 and s.state_dict() == {}
    with tg.autocast("cpu", enabled=False), tg.cuda.amp.autocast(enabled=False):
        loss.backward()
    s.step(opt)
    s.update()
    assert w.item() == -1.0

    @tg.autocast("cuda", enabled=False)
    def f(t):
        return t * 2
    assert f(tg.ones(1)).item() == 2.0


@pytest.mark.skipif(tg.cuda.is_available(), reason="the no-GPU branch")
def test_cuda_scaler_without_a_gpu_disables_itself_with_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = tg.cuda.amp.GradScaler()
    assert not s.is_enabled() and "CUDA is not available" in str(caught[0].message)


def test_float16_gradients_unscale_at_large_scales():
    """1 / 2**25 is below float16's range: the unscale multiplies in float32, so the true gradient
    comes back instead of zeros."""
    w = tg.tensor([2.0], dtype=tg.float16, requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)
    s = tg.amp.GradScaler("cpu", init_scale=2.0 ** 25)
    w.grad = tg.tensor([3.0 * 2 ** 14], dtype=tg.float16)             # a scaled gradient that fits float16
    s._scale = 2.0 ** 14 * 2 ** 11
    s.unscale_(opt)
    assert w.grad.item() == pytest.approx(3.0 / 2 ** 11, rel=1e-3) and w.grad.item() != 0


@needs_torch
def test_update_without_a_step_and_a_closure_raise_as_pytorch():
    for m in (tg, torch):
        w = m.ones(1, requires_grad=True) if m is tg else torch.ones(1, requires_grad=True)
        opt = m.optim.SGD([w], lr=0.1)
        s = m.amp.GradScaler("cpu")
        s.scale((w * 2).sum()).backward()
        with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
            s.update()  # no unscale_/step since the scale: nothing says whether to grow or back off
        with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
            s.step(opt, closure=lambda: None)
