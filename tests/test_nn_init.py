"""nn.init: fan computation and gains exactly as torch's; bounds exactly; distributions by moments."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn as nn
from oracle import on_device, needs_torch, to_np, torch


init = nn.init


def _moments(t):
    a = to_np(t).astype(np.float64).ravel()
    return a.mean(), a.std()


@needs_torch
@pytest.mark.parametrize("shape", [(3, 4), (16, 8, 3), (8, 4, 3, 5), (2, 3, 1, 2, 2)])
def test_fan_in_fan_out_matches_torch(shape):
    assert init._calculate_fan_in_and_fan_out(tg.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    for mode in ["fan_in", "fan_out", "FAN_IN"]:
        assert init._calculate_correct_fan(tg.empty(*shape), mode) == \
            torch.nn.init._calculate_correct_fan(torch.empty(*shape), mode)


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(tg.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(tg.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(tg.empty(2, 2, 2))
    with pytest.raises(ValueError):
        init.dirac_(tg.empty(2, 2))
    with pytest.raises(TypeError):
        init.uniform_(np.zeros(3))


@needs_torch
@pytest.mark.parametrize("nl,param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                      ("leaky_relu", math.sqrt(5)), ("leaky_relu", 1), ("selu", None),
                                      ("conv_transpose3d", None)])
def test_calculate_gain_matches_torch(nl, param):
    assert init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_uniform_normal_constant(dtype):
    t = nn.Parameter(tg.empty(200, 300, dtype=dtype))
    assert init.uniform_(t, -0.5, 2.0) is t
    a = to_np(t)
    assert a.min() >= -0.5 and a.max() < 2.0 and a.min() < -0.49 and a.max() > 1.99
    m, s = _moments(t)
    assert abs(m - 0.75) < 0.02 and abs(s - 2.5 / math.sqrt(12)) < 0.02
    assert t.is_leaf and t.requires_grad and t.grad_fn is None and t.dtype == dtype
    assert init.normal_(t, 1.0, 0.3) is t
    m, s = _moments(t)
    assert abs(m - 1.0) < 0.01 and abs(s - 0.3) < 0.01
    assert init.constant_(t, 0.25) is t and np.all(to_np(t) == 0.25)
    assert init.zeros_(t) is t and np.all(to_np(t) == 0)
    assert init.ones_(t) is t and np.all(to_np(t) == 1)
    assert t.is_leaf and t.grad_fn is None


@pytest.mark.parametrize("shape", [(256, 128), (64, 32, 3, 3)])
@pytest.mark.parametrize("kw", [{}, {"a": math.sqrt(5)}, {"mode": "fan_out", "nonlinearity": "relu"},
                                {"a": 0.1, "nonlinearity": "leaky_relu"}, {"nonlinearity": "tanh"}])
def test_kaiming(shape, kw):
    t = nn.Parameter(tg.empty(*shape))
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(t)
    fan = fan_out if kw.get("mode") == "fan_out" else fan_in
    gain = init.calculate_gain(kw.get("nonlinearity", "leaky_relu"), kw.get("a", 0))
    std = gain / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    assert init.kaiming_uniform_(t, **kw) is t
    a = to_np(t)
    assert np.abs(a).max() <= bound * (1 + 1e-6) and np.abs(a).max() > 0.98 * bound
    m, s = _moments(t)
    assert abs(m) < 0.05 * bound and abs(s - std) < 0.05 * std
    assert init.kaiming_normal_(t, **kw) is t
    m, s = _moments(t)
    assert abs(m) < 0.05 * std and abs(s - std) < 0.05 * std
    assert t.requires_grad and t.is_leaf


@pytest.mark.parametrize("shape", [(300, 200), (32, 16, 5, 5)])
@pytest.mark.parametrize("gain", [1.0, init.calculate_gain("relu")])
def test_xavier(shape, gain):
    t = tg.empty(*shape, dtype=tg.float64)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(t)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    assert init.xavier_uniform_(t, gain=gain) is t
    a = to_np(t)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.98 * bound
    assert abs(a.std() - std) < 0.05 * std
    assert init.xavier_normal_(t, gain) is t
    m, s = _moments(t)
    assert abs(m) < 0.05 * std and abs(s - std) < 0.05 * std


def _trunc_moments(mean, std, a, b):
    al, be = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    z = cdf(be) - cdf(al)
    mu = mean + std * (pdf(al) - pdf(be)) / z
    var = std ** 2 * (1 + (al * pdf(al) - be * pdf(be)) / z - ((pdf(al) - pdf(be)) / z) ** 2)
    return mu, math.sqrt(var)


@pytest.mark.parametrize("args", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, 0.0, 3.0), (0.0, 0.02, -0.04, 0.04),
                                  (0.0, 1.0, 2.5, 4.0)])
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_trunc_normal(args, dtype):
    mean, std, a, b = args
    t = nn.Parameter(tg.empty(300, 200, dtype=dtype))
    assert init.trunc_normal_(t, mean, std, a, b) is t
    v = to_np(t)
    assert v.min() >= a and v.max() <= b and t.dtype == dtype and t.requires_grad and t.is_leaf
    mu, sd = _trunc_moments(mean, std, a, b)
    m, s = _moments(t)
    assert abs(m - mu) < 0.02 * sd + 1e-9 and abs(s - sd) < 0.02 * sd
    with pytest.raises(ValueError):
        init.trunc_normal_(t, 0.0, 1.0, 1.0, -1.0)
    with pytest.raises(ValueError, match="mass"):
        init.trunc_normal_(t, 0.0, 1.0, 20.0, 21.0)


@needs_torch
@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_matches_torch(shape):
    t = nn.Parameter(tg.randn(*shape))
    assert init.eye_(t) is t and t.requires_grad
    np.testing.assert_array_equal(to_np(t), torch.nn.init.eye_(torch.empty(*shape)).numpy())


@needs_torch
@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((4, 2, 3, 3, 3), 1),
                                          ((3, 5, 2, 2), 1)])
def test_dirac_matches_torch(shape, groups):
    t = tg.randn(*shape)
    assert init.dirac_(t, groups) is t
    np.testing.assert_array_equal(to_np(t), torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3), (8, 8)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal(shape, gain):
    t = nn.Parameter(tg.empty(*shape, dtype=tg.float64))
    assert init.orthogonal_(t, gain) is t and t.requires_grad
    q = to_np(t).reshape(shape[0], -1) / gain
    if q.shape[0] >= q.shape[1]:
        np.testing.assert_allclose(q.T @ q, np.eye(q.shape[1]), atol=1e-10)
    else:
        np.testing.assert_allclose(q @ q.T, np.eye(q.shape[0]), atol=1e-10)


def test_init_is_seeded_and_device_agnostic(device):
    tg.manual_seed(7)
    a = init.kaiming_uniform_(tg.empty(4, 5, device=device))
    tg.manual_seed(7)
    b = init.kaiming_uniform_(tg.empty(4, 5, device=device))
    np.testing.assert_array_equal(to_np(a), to_np(b))
    for fn in [init.xavier_normal_, init.trunc_normal_, init.orthogonal_, init.eye_, init.ones_]:
        t = fn(tg.empty(4, 5, device=device))
        assert on_device(t, device) and np.all(np.isfinite(to_np(t)))


def test_init_inside_grad_mode_on_parameter():
    # a leaf that requires grad can be initialized while grad mode is on (the functions use no_grad)
    p = nn.Parameter(tg.empty(3, 4))
    with tg.enable_grad():
        for fn in [init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_, init.zeros_,
                   init.trunc_normal_, init.orthogonal_, init.eye_]:
            assert fn(p) is p and p.grad_fn is None
    (p * 2).sum().backward()
    assert p.grad is not None


def test_zero_element_kaiming_warns():
    with pytest.warns(UserWarning, match="zero-element"):
        t = init.kaiming_normal_(tg.empty(0, 3))
    assert t.shape == (0, 3)
