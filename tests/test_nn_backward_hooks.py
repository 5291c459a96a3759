"""Module backward hooks (register_full_backward_hook / _pre_hook): what they see and what their
results change, against PyTorch's (same weights, same inputs)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorgrad as tg
from oracle import needs_torch, torch


def _run(lib, sd, hooks, x_requires_grad=True, extra=None):
    lin = lib.nn.Linear(3, 2)
    lin.load_state_dict({k: lib.tensor(v) for k, v in sd.items()})
    seen = []
    handles = [register(lin, seen) for register in hooks]
    x = lib.tensor(np.linspace(-1, 1, 12).reshape(4, 3), dtype=lib.float32, requires_grad=x_requires_grad)
    (lin(x) * lib.tensor(np.arange(8.0).reshape(4, 2), dtype=lib.float32)).sum().backward()
    return seen, (x.grad.numpy() if x.grad is not None else None), lin.weight.grad.numpy(), handles, lin


def _shapes(gs):
    return [None if g is None else tuple(g.shape) for g in gs]


@pytest.fixture
def sd():
    return {k: v.numpy() for k, v in tg.nn.Linear(3, 2).state_dict().items()}


HOOKS = {
    "observe": [lambda m, seen: m.register_full_backward_hook(
        lambda mod, gi, go: seen.append((_shapes(gi), _shapes(go), float(go[0].sum()))))],
    "scale-grad-input": [lambda m, seen: m.register_full_backward_hook(
        lambda mod, gi, go: tuple(None if g is None else g * 3 for g in gi))],
    "pre-replaces-grad-output": [lambda m, seen: m.register_full_backward_pre_hook(
        lambda mod, go: tuple(g * 0.5 for g in go)),
        lambda m, seen: m.register_full_backward_hook(lambda mod, gi, go: seen.append(float(go[0].sum())))],
}


@needs_torch
@pytest.mark.parametrize("name", list(HOOKS))
@pytest.mark.parametrize("x_requires_grad", [True, False])
def test_backward_hooks_match_torch(sd, name, x_requires_grad):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = _run(tg, sd, HOOKS[name], x_requires_grad)
        theirs = _run(torch, sd, HOOKS[name], x_requires_grad)
    fired = [str(w.message) for w in caught if "Full backward hook is firing" in str(w.message)]
    assert len(fired) == (0 if x_requires_grad else 2)          # both warn when no input needs a gradient
    assert ours[0] == theirs[0]                                  # what the hooks saw
    if x_requires_grad:
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)   # input gradient after the hooks
    else:
        assert ours[1] is None and theirs[1] is None
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6)       # weight gradient (pre-hook: halved)


def test_removed_hook_is_not_called(sd):
    seen, _, _, handles, lin = _run(tg, sd, HOOKS["observe"])
    assert len(seen) == 1
    handles[0].remove()
    lin(tg.ones(2, 3, requires_grad=True)).sum().backward()
    assert len(seen) == 1


def test_hooks_on_a_module_with_several_outputs_and_a_non_tensor_argument():
    class Split(tg.nn.Module):
        def forward(self, x, scale):
            return x * scale, x.sum(1)

    m = Split()
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((_shapes(gi), _shapes(go))))
    x = tg.ones(2, 3, requires_grad=True)
    a, b = m(x, 2.0)
    (a.sum() + b.sum()).backward()
    assert seen == [([(2, 3), None], [(2, 3), (2,)])]
    assert x.grad.tolist() == [[3.0] * 3] * 2
    with pytest.raises(RuntimeError, match="one per positional argument"):
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0],))
        a, b = m(tg.ones(2, 3, requires_grad=True), 2.0)
        a.sum().backward()


@needs_torch
def test_hooks_fire_on_layers_inside_sequential():
    """Sequential runs Linear + ReLU pairs as one fused op; a layer with backward hooks is run as a
    module instead, so its hooks fire, as in PyTorch."""
    fired = {}
    for lib in (tg, torch):
        lib.manual_seed(0)
        seq = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 1))
        names = []
        seq[0].register_full_backward_hook(lambda m, gi, go, names=names: names.append("lin0"))
        seq[1].register_full_backward_pre_hook(lambda m, go, names=names: names.append("relu-pre"))
        seq(lib.ones(2, 3, requires_grad=True)).sum().backward()
        fired[lib.__name__] = names
    assert fired["tensorgrad"] == fired["torch"] == ["relu-pre", "lin0"]


@needs_torch
def test_backward_hooks_see_the_output_after_forward_hooks(sd):
    """A forward hook that replaces the output: grad_output is that of the replaced output."""
    seen = {}
    for lib in (tg, torch):
        lin = lib.nn.Linear(3, 2)
        lin.load_state_dict({k: lib.tensor(v) for k, v in sd.items()})
        lin.register_forward_hook(lambda m, a, out: out * 3)
        got = []
        lin.register_full_backward_hook(lambda m, gi, go, got=got: got.append(float(go[0].sum())))
        lin(lib.ones(1, 3, requires_grad=True)).sum().backward()
        seen[lib.__name__] = got
    assert seen["tensorgrad"] == seen["torch"] == [2.0]
