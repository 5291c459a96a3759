"""Bias + activation fused (ops/activation.py BiasActivation, kernels/activation.cu bias_*_forward),
and nn.Sequential running a Linear / Conv2d followed by ReLU / GELU through it."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn
from tensorgrad.fused import activation as A
from tensorgrad.ops.activation import bias_activation
from oracle import check_grad, needs_torch, rand, to_np, to_tg, torch
from test_kernels_on_host import _call, host_library  # noqa: F401  (host_library is a fixture)

ACTS = [("relu", "none"), ("gelu", "none"), ("gelu", "tanh")]


def _away_from_zero(a):
    """Keep values off relu's kink, where a finite difference straddles it."""
    return np.where(np.abs(a) < 0.1, 0.3, a)


@pytest.mark.parametrize("activation,approximate", ACTS)
@pytest.mark.parametrize("shape,channel_dim", [((4, 3), 1), ((3,), 0), ((2, 3, 4, 5), 1), ((3, 2, 2), 0),
                                             ((2, 3, 4), -1), ((2, 3, 4), -2)])
def test_gradcheck(activation, approximate, shape, channel_dim, device):
    z = _away_from_zero(rand(*shape))
    b = rand(shape[channel_dim], low=-0.05, high=0.05)
    check_grad(lambda a, c: bias_activation(a, c, activation, channel_dim, approximate), [z, b], device)


@pytest.mark.parametrize("activation,approximate", ACTS)
def test_reference_is_the_composed_math(activation, approximate):
    z = rand(2, 3, 4, 4, dtype=np.float32)
    z[0, 0, 0, 0] = np.nan
    b = rand(3, dtype=np.float32)
    y = A.bias_act_forward_ref(z, b, 1, activation, approximate)
    h = z + b.reshape(1, 3, 1, 1)
    want = np.maximum(h, 0) if activation == "relu" else A.gelu_forward_ref(h, approximate)
    np.testing.assert_array_equal(y, want)
    assert np.isnan(y[0, 0, 0, 0]) and y.dtype == np.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn,activation,approximate", [("bias_relu_forward", "relu", "none"),
                                                       ("bias_gelu_erf_forward", "gelu", "none"),
                                                       ("bias_gelu_tanh_forward", "gelu", "tanh")])
@pytest.mark.parametrize("shape,channel_dim", [((5, 7), 1), ((2, 3, 4, 5), 1)])
def test_kernels_match_the_reference(host_library, dtype, fn, activation, approximate, shape, channel_dim):
    lib = host_library("activation", dtype)
    z = rand(*shape, dtype=dtype, low=-6, high=6)
    z.reshape(-1)[3] = np.nan
    b = rand(shape[channel_dim], dtype=dtype)
    y = np.empty_like(z)
    inner = int(np.prod(shape[channel_dim + 1:]))
    _call(lib, fn, [z, b, y], z.size, inner, shape[channel_dim])
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y, A.bias_act_forward_ref(z, b, channel_dim, activation, approximate), **tol)


def _pair(kind, act):
    tg.manual_seed(0)
    layer = nn.Linear(6, 5) if kind == "linear" else nn.Conv2d(3, 4, 3, padding=1)
    return layer, (nn.ReLU() if act == "relu" else nn.GELU(approximate=act.split("_")[1]))


def _input(kind, unbatched=False):
    shape = (4, 6) if kind == "linear" else (2, 3, 5, 5)
    return rand(*(shape[1:] if unbatched else shape), dtype=np.float32)


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("act", ["relu", "gelu_none", "gelu_tanh"])
@pytest.mark.parametrize("unbatched", [False, True])
def test_sequential_fuses_the_pair_with_the_same_values_and_gradients(kind, act, unbatched, device):
    layer, activation = _pair(kind, act)
    model = nn.Sequential(layer, activation).to(device)
    x_np = _input(kind, unbatched)
    x1, x2 = to_tg(x_np, device), to_tg(x_np, device)
    fused = model(x1)
    assert type(fused.grad_fn).__name__ == "BiasActivation"
    fused.square().sum().backward()
    grads = [p.grad.cpu().numpy().copy() for p in model.parameters()]
    model.zero_grad()
    plain = activation(layer(x2))  # the two modules called one by one
    assert type(plain.grad_fn).__name__ != "BiasActivation"
    plain.square().sum().backward()
    np.testing.assert_allclose(to_np(fused), to_np(plain), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(to_np(x1.grad), to_np(x2.grad), rtol=1e-5, atol=1e-6)
    for g, p in zip(grads, model.parameters()):
        np.testing.assert_allclose(g, p.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("act", ["relu", "gelu_none"])
def test_sequential_pair_matches_torch(kind, act, device):
    layer, activation = _pair(kind, act)
    model = nn.Sequential(layer, activation, nn.Flatten(), nn.Linear(5 if kind == "linear" else 100, 2)).to(device)
    tm = torch.nn.Sequential(
        torch.nn.Linear(6, 5) if kind == "linear" else torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.ReLU() if act == "relu" else torch.nn.GELU(), torch.nn.Flatten(),
        torch.nn.Linear(5 if kind == "linear" else 100, 2))
    tm.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in model.state_dict().items()})
    x = _input(kind)
    y = model(to_tg(x, device))
    yt = tm(torch.tensor(x))
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(to_np(y), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    for (name, p), pt in zip(model.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), pt.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_pairs_with_hooks_subclasses_or_no_bias_run_unfused():
    x = tg.tensor(_input("linear"))
    calls = []
    layer, act = _pair("linear", "relu")
    act.register_forward_hook(lambda m, i, o: calls.append(o))
    y = nn.Sequential(layer, act)(x)
    assert calls and type(y.grad_fn).__name__ != "BiasActivation"

    class MyLinear(nn.Linear):
        def forward(self, input):
            return super().forward(input) * 2

    y = nn.Sequential(MyLinear(6, 5), nn.ReLU())(x)
    assert type(y.grad_fn).__name__ != "BiasActivation"
    y = nn.Sequential(nn.Linear(6, 5, bias=False), nn.ReLU())(x)
    assert type(y.grad_fn).__name__ != "BiasActivation"
    y = nn.Sequential(nn.Linear(6, 5), nn.ReLU(inplace=True), nn.Linear(5, 2), nn.GELU())(x)
    assert type(y.grad_fn).__name__ == "BiasActivation"


def test_errors_name_the_op_and_shapes():
    with pytest.raises(RuntimeError, match=r"bias_activation: bias of shape \[4\] does not match dim 1 of input \[2, 3\]"):
        bias_activation(tg.ones(2, 3), tg.ones(4), "relu")
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=6.*got shape \[4, 7\]"):
        nn.Sequential(nn.Linear(6, 5), nn.ReLU())(tg.ones(4, 7))
    with pytest.raises(ValueError, match="activation must be one of"):
        A.bias_act_forward(np.ones((2, 3)), np.ones(3), 1, "tanh")


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("activation,approximate", ACTS)
def test_cuda_kernels_match_the_reference(device, dtype, activation, approximate):
    if device != "cuda":
        pytest.skip("CUDA kernels: the cpu case is the reference itself")
    import cupy as cp
    z = rand(3, 4, 5, 6, dtype=dtype, low=-5, high=5)
    b = rand(4, dtype=dtype)
    y = A.bias_act_forward(cp.asarray(z), cp.asarray(b), 1, activation, approximate)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.get().astype(np.float64),
                               A.bias_act_forward_ref(z, b, 1, activation, approximate).astype(np.float64), **tol)
