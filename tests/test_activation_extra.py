"""relu6, hardtanh, hardsigmoid, hardswish, mish, selu, celu, glu, logsigmoid, softsign,
tanhshrink, softshrink, hardshrink, threshold, prelu, rrelu, softmin (ops/activation_extra.py)
and their modules: PyTorch as the oracle, float64 gradchecks with second order, the kinks and
the errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import check_grad, check_torch, needs_torch, to_tg, torch

_rng = np.random.default_rng(12)

# name: (call(module, t) with module tg or torch and F its functional, smooth enough for gradcheck)
CASES = {
    "relu6": (lambda m, t: m.nn.functional.relu6(t), False),
    "hardtanh": (lambda m, t: m.nn.functional.hardtanh(t, -1.5, 2.5), False),
    "hardsigmoid": (lambda m, t: m.nn.functional.hardsigmoid(t), False),
    "hardswish": (lambda m, t: m.nn.functional.hardswish(t), False),
    "mish": (lambda m, t: m.nn.functional.mish(t), True),
    "selu": (lambda m, t: m.nn.functional.selu(t), False),
    "celu": (lambda m, t: m.nn.functional.celu(t, 0.7), False),
    "glu": (lambda m, t: m.nn.functional.glu(t, 1), True),
    "logsigmoid": (lambda m, t: m.nn.functional.logsigmoid(t), True),
    "softsign": (lambda m, t: m.nn.functional.softsign(t), False),
    "tanhshrink": (lambda m, t: m.nn.functional.tanhshrink(t), True),
    "softshrink": (lambda m, t: m.nn.functional.softshrink(t, 0.4), False),
    "hardshrink": (lambda m, t: m.nn.functional.hardshrink(t, 0.4), False),
    "threshold": (lambda m, t: m.nn.functional.threshold(t, 0.3, -2.0), False),
    "rrelu-eval": (lambda m, t: m.nn.functional.rrelu(t, 0.1, 0.3, training=False), False),
    "softmin": (lambda m, t: m.nn.functional.softmin(t, dim=1), True),
}


def _away_from_kinks(shape):
    """Values at least 0.05 from every kink the cases have (0, +-3, +-0.4, 0.3, -1.5, 2.5, 6)."""
    x = _rng.uniform(-7, 7, size=shape)
    for k in (0.0, 3.0, -3.0, 0.4, -0.4, 0.3, -1.5, 2.5, 6.0):
        near = np.abs(x - k) < 0.05
        x[near] += 0.1
    return x


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(device, name, dtype):
    fn, _ = CASES[name]
    check_torch(fn, [_away_from_kinks((4, 6)).astype(dtype)], device)
    if name != "glu" and name != "softmin":
        check_torch(fn, [np.array(0.75, dtype)], device)


@pytest.mark.parametrize("name", [n for n, (_, smooth) in CASES.items()] )
def test_gradcheck(device, name):
    fn, smooth = CASES[name]
    x = _away_from_kinks((3, 4)) * (0.5 if smooth else 1.0)
    check_grad(lambda t: fn(tg, t), [x], device, double=smooth or name in ("selu", "celu", "hardswish", "softsign"))


@needs_torch
@pytest.mark.parametrize("name,points", [
    ("hardtanh", [-1.5, 2.5]), ("relu6", [0.0, 6.0]), ("hardsigmoid", [-3.0, 3.0]),
    ("softshrink", [-0.4, 0.4]), ("hardshrink", [-0.4, 0.4]), ("threshold", [0.3]),
])
def test_gradient_on_the_bounds_is_torchs(name, points):
    fn, _ = CASES[name]
    x = np.array(points)
    t = tg.tensor(x, requires_grad=True)
    fn(tg, t).sum().backward()
    p = torch.tensor(x, requires_grad=True)
    fn(torch, p).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), p.grad.numpy())


@needs_torch
@pytest.mark.parametrize("shape,n", [((2, 3, 4, 5), 3), ((2, 3), 3), ((5,), 1), ((2, 3, 4), 1)])
def test_prelu_matches_torch(device, shape, n):
    w = _rng.uniform(0.05, 0.5, size=n)
    check_torch(lambda m, t, ww: m.nn.functional.prelu(t, ww), [_away_from_kinks(shape), w], device)
    check_grad(lambda t, ww: F.prelu(t, ww), [_away_from_kinks(shape), w], device, double=False)


def test_prelu_module_learns_its_slope():
    m = tg.nn.PReLU(3, init=0.1)
    assert m.weight.tolist() == pytest.approx([0.1] * 3) and list(m.state_dict()) == ["weight"]
    x = -tg.ones(2, 3, 4)
    m(x).sum().backward()
    assert m.weight.grad.tolist() == [-8.0, -8.0, -8.0]
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        tg.nn.PReLU(4)(x)


def test_rrelu_in_training_draws_slopes_in_range():
    x = -tg.ones(1000)
    y = tg.nn.RReLU(0.1, 0.3).train()(x)
    slopes = -y.numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    assert np.all(tg.nn.RReLU(0.1, 0.3).eval()(x).numpy() == -0.2)


@needs_torch
def test_modules_match_torch(device):
    x = _away_from_kinks((2, 4, 3))
    for name, args in [("ReLU6", ()), ("Hardtanh", (-2.0, 3.0)), ("Hardsigmoid", ()), ("Hardswish", ()),
                       ("Mish", ()), ("SELU", ()), ("CELU", (0.5,)), ("GLU", (1,)), ("LogSigmoid", ()),
                       ("Softsign", ()), ("Tanhshrink", ()), ("Softshrink", (0.3,)), ("Hardshrink", (0.3,)),
                       ("Threshold", (0.1, 20.0)), ("Softmin", (1,))]:
        ours, theirs = getattr(tg.nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(ours) == repr(theirs)
        check_torch(lambda m, t: (ours if m is tg else theirs)(t), [x], device)


def test_inplace_forms_write_into_the_input(device):
    for fn in (lambda t: F.relu6(t, inplace=True), lambda t: F.hardtanh(t, inplace=True),
               lambda t: F.hardswish(t, inplace=True), lambda t: F.selu(t, inplace=True),
               lambda t: F.threshold(t, 0.0, 5.0, inplace=True)):
        x = to_tg(_away_from_kinks((5,)), device, requires_grad=False)
        want = fn(x.clone()).cpu().numpy()
        out = fn(x)
        assert out is x
        np.testing.assert_allclose(x.cpu().numpy(), want)


def test_errors():
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(tg.ones(3, 5), 1)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        tg.nn.Hardtanh(2.0, 1.0)
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0"):
        F.softshrink(tg.ones(2), -1.0)
    with pytest.raises(RuntimeError, match="relu6"):
        F.relu6(tg.ones(2, dtype=tg.int64))
