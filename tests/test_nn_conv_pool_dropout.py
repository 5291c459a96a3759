"""nn conv/pool/dropout layers: Conv1d, Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d
(PyTorch is the oracle, weights copied through state_dict), and dropout / dropout2d / Dropout / Dropout2d
(statistics, exact masks and gradients, reproducibility, gradchecks with a fixed mask)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.nn import conv as tconv
from tensorgrad.nn import dropout as tdrop
from tensorgrad.nn import pooling as tpool
from tensorgrad.ops.dropout import dropout, dropout2d
from oracle import on_device, check_grad, needs_torch, rand, to_np, torch


if torch is not None:
    tnn = torch.nn

_TG = {**{n: getattr(tconv, n) for n in tconv.__all__}, **{n: getattr(tpool, n) for n in tpool.__all__},
       **{n: getattr(tdrop, n) for n in tdrop.__all__}}
_DT = {np.float32: (tg.float32, "float32"), np.float64: (tg.float64, "float64")}


def _pair_of(name, args, kwargs, dtype, device):
    """The tensorgrad module and the torch one, torch's parameters copied from tensorgrad's."""
    tdt, tname = _DT[dtype]
    has_params = name.startswith("Conv")
    extra = {"dtype": tdt, "device": device} if has_params else {}
    textra = {"dtype": getattr(torch, tname)} if has_params else {}
    m = _TG[name](*args, **kwargs, **extra)
    tm = getattr(tnn, name)(*args, **kwargs, **textra)
    sd, tsd = m.state_dict(), tm.state_dict()
    assert list(sd) == list(tsd)
    assert [tuple(v.shape) for v in sd.values()] == [tuple(v.shape) for v in tsd.values()]
    tm.load_state_dict({k: torch.from_numpy(to_np(v).copy()) for k, v in sd.items()})
    return m, tm


def _compare(m, tm, x, dtype, tol, device, fwd_kwargs=None):
    fwd_kwargs = fwd_kwargs or {}
    xt = tg.tensor(x, device=device, requires_grad=True)
    xp = torch.tensor(x, requires_grad=True)
    y, yp = m(xt, **fwd_kwargs), tm(xp, **fwd_kwargs)
    assert tuple(y.shape) == tuple(yp.shape) and y.dtype == _DT[dtype][0]
    np.testing.assert_allclose(to_np(y), yp.detach().numpy(), rtol=tol, atol=tol)
    g = rand(*yp.shape, dtype=dtype)
    y.backward(tg.tensor(g, device=device))
    yp.backward(torch.tensor(g))
    np.testing.assert_allclose(to_np(xt.grad), xp.grad.numpy(), rtol=tol, atol=tol)
    for (k, p), (tk, tp) in zip(m.named_parameters(), tm.named_parameters()):
        assert k == tk
        np.testing.assert_allclose(to_np(p.grad), tp.grad.numpy(), rtol=tol, atol=tol, err_msg=k)


# ---------------------------------------------------------------- conv layers vs torch
_CONV_CASES = [
    ("Conv1d", (3, 4, 3), {}, (2, 3, 10)),
    ("Conv1d", (4, 6, 3), dict(stride=2, padding=1, dilation=2, groups=2), (2, 4, 11)),
    ("Conv1d", (2, 4, 4), dict(padding="same", bias=False), (2, 2, 9)),
    ("Conv1d", (3, 2, 2), dict(padding="valid"), (3, 7)),  # unbatched
    ("Conv2d", (3, 4, 3), {}, (2, 3, 8, 7)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2, bias=False),
     (2, 4, 9, 8)),
    ("Conv2d", (2, 3, 4), dict(padding="same", dilation=2), (2, 2, 9, 9)),
    ("Conv2d", (2, 4, 1), dict(padding="valid"), (2, 5, 6)),  # unbatched
    ("Conv2d", (6, 6, 3), dict(groups=6, padding=1), (1, 6, 5, 5)),  # depthwise
    ("ConvTranspose2d", (3, 4, 3), {}, (2, 3, 5, 4)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5, 5)),
    ("ConvTranspose2d", (2, 3, (3, 2)), dict(stride=(2, 3), padding=(1, 0), dilation=(2, 1), bias=False),
     (2, 2, 4, 3)),
    ("ConvTranspose2d", (3, 2, 2), dict(stride=2, output_padding=(1, 0), dilation=2), (3, 4, 4)),  # unbatched
]


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # torch's, about its speed
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("name,args,kwargs,in_shape", _CONV_CASES)
def test_conv_modules_match_torch(device, dtype, tol, name, args, kwargs, in_shape):
    m, tm = _pair_of(name, args, kwargs, dtype, device)
    assert m.weight.dtype == _DT[dtype][0] and on_device(m.weight, device)
    assert repr(m) == repr(tm)
    _compare(m, tm, rand(*in_shape, dtype=dtype), dtype, tol, device)


@needs_torch
@pytest.mark.parametrize("in_shape,output_size", [((2, 3, 5, 5), [10, 10]), ((2, 3, 5, 5), [9, 10]),
                                                  ((2, 3, 5, 5), (2, 6, 9, 9)), ((3, 5, 5), (6, 10, 9))])
def test_conv_transpose2d_output_size_matches_torch(device, in_shape, output_size):
    m, tm = _pair_of("ConvTranspose2d", (3, 6, 3), dict(stride=2, padding=1), np.float64, device)
    _compare(m, tm, rand(*in_shape), np.float64, 1e-10, device, dict(output_size=output_size))
    with pytest.raises(ValueError) as te:
        tm(torch.zeros(2, 3, 5, 5, dtype=torch.float64), output_size=[12, 12])
    expected = str(te.value).replace("torch.Size([5, 5])", "[5, 5]")  # tensorgrad shows the sizes as a list
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        m(tg.zeros(2, 3, 5, 5, dtype=tg.float64, device=device), output_size=[12, 12])


@needs_torch
def test_conv_reprs_and_state_dict_match_torch():
    cases = [("Conv1d", (2, 4, 3), dict(padding=1, bias=False)),
             ("Conv1d", (2, 4, 3), dict(padding="same", dilation=3, groups=2)),
             ("Conv2d", (1, 32, 3), {}),
             ("Conv2d", (4, 8, (3, 5)), dict(stride=(2, 1), padding=(0, 2), dilation=2, groups=4, bias=False)),
             ("Conv2d", (4, 8, 3), dict(padding="valid")),
             ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2, bias=False,
                                                 dilation=2)),
             ("ConvTranspose2d", (4, 6, (1, 3)), {})]
    for name, args, kwargs in cases:
        m = _TG[name](*args, **kwargs)
        tm = getattr(tnn, name)(*args, **kwargs)
        assert repr(m) == repr(tm)
        for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "transposed",
                     "output_padding", "groups", "padding_mode"):
            assert getattr(m, attr) == getattr(tm, attr), attr
        sd, tsd = m.state_dict(), tm.state_dict()
        assert list(sd) == list(tsd)
        assert [tuple(v.shape) for v in sd.values()] == [tuple(v.shape) for v in tsd.values()]
        # and torch's state_dict loads into tensorgrad's module
        m.load_state_dict({k: tg.tensor(v.numpy()) for k, v in tsd.items()})
        np.testing.assert_array_equal(to_np(m.weight), tsd["weight"].numpy())
    seq = tg.nn.Sequential(tconv.Conv2d(1, 2, 3), tpool.MaxPool2d(2), tdrop.Dropout(0.1))
    tseq = tnn.Sequential(tnn.Conv2d(1, 2, 3), tnn.MaxPool2d(2), tnn.Dropout(0.1))
    assert repr(seq) == repr(tseq)


@pytest.mark.parametrize("name,args,kwargs,fan_in", [
    ("Conv1d", (6, 50, 5), {}, 30),
    ("Conv2d", (3, 64, (3, 5)), {}, 45),
    ("Conv2d", (8, 64, 3), dict(groups=4), 18),
    ("ConvTranspose2d", (64, 6, 3), dict(groups=2), 27),  # weight (64, 3, 3, 3): fan_in = 3 * 9
])
def test_conv_default_init_bounds(name, args, kwargs, fan_in):
    m = _TG[name](*args, **kwargs)
    bound = 1 / math.sqrt(fan_in)
    w, b = to_np(m.weight), to_np(m.bias)
    assert tg.nn.init._calculate_fan_in_and_fan_out(m.weight)[0] == fan_in
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # spread over the whole range
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    if b.size >= 30:  # a few values may all be small by chance (6 values: 1.6% of seeds)
        assert np.abs(b).max() > 0.5 * bound
    assert len(np.unique(b)) == b.size


@needs_torch
def test_conv_validation_errors_match_torch():
    def canon(msg):  # torch prints its choices as a set, in an order that changes with the hash seed
        return re.sub(r"[{\[]('[^}\]]*')[}\]]",
                      lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", msg)

    def same_error(fn_tg, fn_torch, exc=ValueError):
        with pytest.raises(exc) as te:
            fn_torch()
        with pytest.raises(exc) as ours:
            fn_tg()
        assert canon(str(ours.value)) == canon(str(te.value))

    for name in ("Conv1d", "Conv2d", "ConvTranspose2d"):
        same_error(lambda: _TG[name](3, 4, 3, groups=2), lambda: getattr(tnn, name)(3, 4, 3, groups=2))
        same_error(lambda: _TG[name](4, 3, 3, groups=2), lambda: getattr(tnn, name)(4, 3, 3, groups=2))
        same_error(lambda: _TG[name](4, 4, 3, groups=0), lambda: getattr(tnn, name)(4, 4, 3, groups=0))
        same_error(lambda: _TG[name](4, 4, 3, padding_mode="foo"),
                   lambda: getattr(tnn, name)(4, 4, 3, padding_mode="foo"))
    for name in ("Conv1d", "Conv2d"):
        same_error(lambda: _TG[name](4, 4, 3, padding="full"), lambda: getattr(tnn, name)(4, 4, 3, padding="full"))
        same_error(lambda: _TG[name](4, 4, 3, stride=2, padding="same"),
                   lambda: getattr(tnn, name)(4, 4, 3, stride=2, padding="same"))
    same_error(lambda: tconv.ConvTranspose2d(4, 4, 3, padding_mode="reflect"),
               lambda: tnn.ConvTranspose2d(4, 4, 3, padding_mode="reflect"))


def test_conv_forward_errors_name_the_layer():
    m = tconv.Conv2d(1, 32, 3)
    with pytest.raises(RuntimeError, match=r"^Conv2d\(1, 32, kernel_size=\(3, 3\), stride=\(1, 1\)\): conv2d: "
                                           r".*\[2, 3, 8, 8\]"):
        m(tg.randn(2, 3, 8, 8))
    with pytest.raises(RuntimeError, match=r"^Conv2d\(1, 32, .*\): .*size: \[8, 8\]"):
        m(tg.randn(8, 8))
    with pytest.raises(RuntimeError, match=r"^Conv2d\(1, 32, .*\): .*dtype"):
        m(tg.randn(1, 1, 8, 8, dtype=tg.float64))
    with pytest.raises(TypeError, match=r"^Conv2d\(1, 32, .*\): conv2d\(\): argument 'input' must be a Tensor"):
        m(np.zeros((1, 1, 8, 8), np.float32))
    with pytest.raises(RuntimeError, match=r"^Conv1d\(2, 4, kernel_size=\(3,\), stride=\(1,\)\): conv1d: "
                                           r".*\[1, 3, 9\]"):
        tconv.Conv1d(2, 4, 3)(tg.randn(1, 3, 9))
    with pytest.raises(RuntimeError, match=r"^Conv2d\(1, 2, kernel_size=\(5, 5\), .*\): .*larger than"):
        tconv.Conv2d(1, 2, 5)(tg.randn(1, 1, 3, 3))
    with pytest.raises(RuntimeError, match=r"^ConvTranspose2d\(3, 2, kernel_size=\(2, 2\), .*\): conv_transpose2d: "
                                           r".*\[1, 4, 5, 5\]"):
        tconv.ConvTranspose2d(3, 2, 2)(tg.randn(1, 4, 5, 5))


def test_conv_module_gradcheck(device):
    m = tconv.Conv2d(2, 3, (2, 3), stride=(2, 1), padding=1, dilation=(1, 2), dtype=tg.float64, device=device)
    x = tg.tensor(rand(2, 2, 5, 6), device=device, requires_grad=True)
    assert tg.autograd.gradcheck(lambda x, w, b: m(x), [x, m.weight, m.bias])
    assert tg.autograd.gradgradcheck(lambda x, w, b: m(x), [x, m.weight, m.bias])
    mg = tconv.Conv2d(4, 2, 2, groups=2, bias=False, dtype=tg.float64, device=device)
    check_grad(lambda x: mg(x), [rand(1, 4, 3, 4)], device)
    mt = tconv.ConvTranspose2d(2, 4, 2, stride=2, padding=1, output_padding=1, groups=2, dtype=tg.float64,
                               device=device)
    x = tg.tensor(rand(1, 2, 3, 3), device=device, requires_grad=True)
    assert tg.autograd.gradcheck(lambda x, w, b: mt(x), [x, mt.weight, mt.bias])
    m1 = tconv.Conv1d(2, 2, 3, padding="same", dtype=tg.float64, device=device)
    check_grad(lambda x: m1(x), [rand(2, 2, 5)], device)


def test_conv_module_to_dtype_and_training_step():
    m = tconv.Conv2d(1, 2, 3)
    assert m.weight.dtype == tg.float32
    m.to(tg.float64)
    assert m.weight.dtype == tg.float64 and m.bias.dtype == tg.float64
    x = tg.randn(4, 1, 6, 6, dtype=tg.float64)
    target = tg.randn(4, 2, 4, 4, dtype=tg.float64)
    losses = []
    for _ in range(20):
        loss = ((m(x) - target) ** 2).mean()
        m.zero_grad()
        loss.backward()
        with tg.no_grad():
            for p in m.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# ---------------------------------------------------------------- pooling layers vs torch
_POOL_CASES = [
    ("MaxPool2d", (2,), {}, (2, 3, 8, 7)),
    ("MaxPool2d", (3, 2, 1), dict(ceil_mode=True), (2, 2, 9, 8)),
    ("MaxPool2d", ((3, 2),), dict(stride=(1, 2), dilation=(2, 1)), (3, 9, 8)),  # unbatched
    ("AvgPool2d", (2,), {}, (2, 3, 8, 6)),
    ("AvgPool2d", (3, 2, 1), dict(count_include_pad=False, ceil_mode=True), (2, 2, 8, 9)),
    ("AvgPool2d", ((2, 3),), dict(stride=1, padding=(1, 1), divisor_override=4), (3, 5, 6)),  # unbatched
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 7, 5)),
    ("AdaptiveAvgPool2d", ((3, None),), {}, (2, 2, 7, 5)),
    ("AdaptiveAvgPool2d", ((4, 3),), {}, (3, 9, 7)),  # unbatched
]


@needs_torch
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("name,args,kwargs,in_shape", _POOL_CASES)
def test_pool_modules_match_torch(device, dtype, tol, name, args, kwargs, in_shape):
    m, tm = _pair_of(name, args, kwargs, dtype, device)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == []
    _compare(m, tm, rand(*in_shape, dtype=dtype), dtype, tol, device)


@needs_torch
def test_pool_reprs_attributes_and_indices_match_torch():
    cases = [("MaxPool2d", (2,), {}), ("MaxPool2d", ((3, 2), (1, 2), 1, 2), dict(ceil_mode=True)),
             ("MaxPool2d", (3,), dict(return_indices=True)),
             ("AvgPool2d", (3,), {}), ("AvgPool2d", ((3, 2), 1, (1, 0), True, False, 2), {}),
             ("AdaptiveAvgPool2d", (5,), {}), ("AdaptiveAvgPool2d", ((None, 7),), {})]
    for name, args, kwargs in cases:
        m, tm = _TG[name](*args, **kwargs), getattr(tnn, name)(*args, **kwargs)
        assert repr(m) == repr(tm)
        assert {k: v for k, v in vars(m).items() if not k.startswith("_") and k != "training"} == \
            {k: v for k, v in vars(tm).items() if not k.startswith("_") and k != "training"}
    x = rand(2, 3, 7, 7)
    out, idx = tpool.MaxPool2d(3, 2, return_indices=True)(tg.tensor(x))
    tout, tidx = tnn.MaxPool2d(3, 2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(to_np(out), tout.numpy())
    np.testing.assert_array_equal(to_np(idx), tidx.numpy())


def test_pool_module_gradcheck(device):
    check_grad(lambda x: tpool.MaxPool2d(2, 1)(x), [rand(1, 2, 4, 4)], device)
    check_grad(lambda x: tpool.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)(x), [rand(1, 2, 5, 6)],
               device)
    check_grad(lambda x: tpool.AdaptiveAvgPool2d((2, 3))(x), [rand(2, 5, 7)], device)


# ---------------------------------------------------------------- dropout
def _scale(p, dtype):
    return np.asarray(1.0 / (1.0 - p), dtype=dtype)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_statistics_and_exact_gradient(device, p, dtype):
    x_np = rand(400, 500, dtype=dtype, low=0.5, high=2.0)  # no zeros: the output/input ratio is the mask
    x = tg.tensor(x_np, device=device, requires_grad=True)
    y = dropout(x, p)
    y_np = to_np(y)
    assert y.dtype == x.dtype and y.shape == x.shape
    kept = y_np != 0
    assert abs((~kept).mean() - p) < 0.01
    s = _scale(p, dtype)
    np.testing.assert_array_equal(y_np[kept], x_np[kept] * s)  # kept values scaled by 1/(1-p), exactly
    np.testing.assert_allclose(y_np / x_np, np.where(kept, s, 0), rtol=1e-6 if dtype == np.float32 else 1e-14)
    g = rand(400, 500, dtype=dtype)
    y.backward(tg.tensor(g, device=device))
    np.testing.assert_array_equal(to_np(x.grad), g * np.where(kept, s, dtype(0)))  # grad = mask/(1-p) exactly


def test_dropout_float16(device):
    x = tg.ones(200, 300, dtype=tg.float16, device=device, requires_grad=True)
    y = dropout(x, 0.25)
    assert y.dtype == tg.float16
    v = to_np(y)
    assert set(np.unique(v).tolist()) == {0.0, float(np.float16(1 / 0.75))}
    assert abs((v == 0).mean() - 0.25) < 0.01
    y.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), v)


def test_dropout_backward_reuses_the_same_mask(device):
    x = tg.tensor(rand(30, 40, low=0.5, high=2.0), device=device, requires_grad=True)
    y = dropout(x, 0.3)
    if device == "cuda":
        assert y.grad_fn.ctx_arrays is None  # no mask kept: the backward redraws it from (seed, offset)
    else:  # one bit per entry kept: Philox in NumPy costs more than the bits
        assert y.grad_fn.ctx_arrays[0].nbytes == (30 * 40 + 7) // 8
    mask = np.where(to_np(y) != 0, 1 / 0.7, 0.0)  # x (float64) has no zeros
    np.testing.assert_array_equal(to_np(y), to_np(x) * mask)
    g = rand(30, 40)
    (gx,) = tg.autograd.grad(y, x, tg.tensor(g, device=device), create_graph=True)
    np.testing.assert_array_equal(to_np(gx), g * mask)
    # the backward is differentiable: d/dg of sum(gx * c) is c * mask
    gt = tg.tensor(g, device=device, requires_grad=True)
    y2 = dropout(x, 0.3)
    (gx2,) = tg.autograd.grad(y2, x, gt, create_graph=True)
    (gg,) = tg.autograd.grad(gx2.sum(), gt)
    np.testing.assert_array_equal(to_np(gg), (to_np(y2) != 0) / 0.7)


def test_dropout_gradcheck_with_fixed_mask(device):
    def f(x):
        tg.manual_seed(7)  # the same mask on every call
        return dropout(x, 0.4)

    def f2(x):
        tg.manual_seed(11)
        return dropout2d(x, 0.5)
    check_grad(f, [rand(4, 5)], device)
    check_grad(f2, [rand(2, 3, 2, 2)], device)
    check_grad(lambda x: dropout(x * x, 0.3, training=False), [rand(3)], device)


def test_dropout_eval_p0_p1_and_errors(device):
    x = tg.tensor(rand(5, 6), device=device, requires_grad=True)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    v = x.reshape(1, 5, 6)
    assert dropout2d(v, 0.0) is v and dropout2d(v, 0.5, training=False) is v
    assert dropout(x, 0.5, training=False, inplace=True) is x
    z = dropout(x, 1.0)
    np.testing.assert_array_equal(to_np(z), np.zeros((5, 6)))
    z.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), np.zeros((5, 6)))
    for p in (-0.1, 1.5):
        for fn in (dropout, dropout2d, tdrop.Dropout, tdrop.Dropout2d):
            with pytest.raises(ValueError, match=rf"^dropout probability has to be between 0 and 1, but got {p}$"):
                fn(x, p) if fn in (dropout, dropout2d) else fn(p)
    with pytest.raises(RuntimeError, match="floating point"):
        dropout(tg.ones(3, dtype=tg.int64, device=device))
    ints = tg.ones(3, dtype=tg.int64, device=device)
    assert dropout(ints, 0.5, training=False) is ints
    e = tg.zeros(0, 3, device=device)
    assert dropout(e) is e


def test_dropout_reproducible_under_manual_seed(device):
    x = tg.ones(50, 60, device=device)
    tg.manual_seed(123)
    a = to_np(dropout(x, 0.5))
    b = to_np(dropout(x, 0.5))
    tg.manual_seed(123)
    c = to_np(dropout(x, 0.5))
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)
    tg.manual_seed(5)
    d1 = to_np(dropout2d(tg.ones(4, 8, 3, 3, device=device)))
    tg.manual_seed(5)
    d2 = to_np(tdrop.Dropout2d()(tg.ones(4, 8, 3, 3, device=device)))
    np.testing.assert_array_equal(d1, d2)


@pytest.mark.parametrize("shape", [(50, 200, 2, 3), (4000, 2, 3)])
def test_dropout2d_zeroes_whole_channels(device, shape):
    p = 0.3
    x_np = rand(*shape, low=0.5, high=2.0)
    x = tg.tensor(x_np, device=device, requires_grad=True)
    y = dropout2d(x, p)
    y_np = to_np(y)
    chans = y_np.reshape(-1, shape[-2] * shape[-1])
    dropped = (chans == 0).all(1)
    kept = (chans != 0).all(1)
    assert np.all(dropped | kept)  # each channel entirely zero or entirely kept
    assert abs(dropped.mean() - p) < 0.03
    mask = np.where(kept, 1 / (1 - p), 0.0)
    np.testing.assert_array_equal(chans, x_np.reshape(chans.shape) * mask[:, None])
    g = rand(*shape)
    y.backward(tg.tensor(g, device=device))
    np.testing.assert_array_equal(to_np(x.grad).reshape(chans.shape), g.reshape(chans.shape) * mask[:, None])


def test_dropout2d_other_ranks():
    x = tg.ones(6, 40, 2, 3, 2)
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        y = to_np(dropout2d(x, 0.5)).reshape(240, 12)
    assert np.all((y == 0).all(1) | (y == 2).all(1))  # as torch: one draw per (dim 0, dim 1) pair
    assert 0.3 < (y == 0).mean() < 0.7
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        y = to_np(dropout2d(tg.ones(6, 40), 0.5))
    assert set(np.unique(y).tolist()) == {0.0, 2.0}
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="at least 2 dimensions"):
        dropout2d(tg.ones(5), 0.5)


def test_dropout_inplace(device):
    x = tg.tensor(rand(20, 30, low=0.5, high=2.0), device=device, requires_grad=True)
    h = x * 1.0
    out = dropout(h, 0.5, inplace=True)
    assert out is h
    kept = to_np(h) != 0
    np.testing.assert_array_equal(to_np(h), np.where(kept, to_np(x) * 2.0, 0.0))
    h.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), np.where(kept, 2.0, 0.0))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        dropout(x, 0.5, inplace=True)
    with tg.no_grad():
        v = tg.ones(3, 4, 2, 2, device=device)
        r = dropout2d(v, 0.5, inplace=True)
    assert r is v and set(np.unique(to_np(v)).tolist()) <= {0.0, 2.0}


@needs_torch
def test_dropout_modules_train_eval_and_repr():
    for cls, tcls in ((tdrop.Dropout, tnn.Dropout), (tdrop.Dropout2d, tnn.Dropout2d)):
        for args in ((), (0.2,), (0.7, True)):
            assert repr(cls(*args)) == repr(tcls(*args))
    m = tdrop.Dropout(0.5)
    x = tg.ones(100, 100)
    assert m.training
    y = to_np(m(x))
    assert set(np.unique(y).tolist()) == {0.0, 2.0}
    m.eval()
    assert m(x) is x
    m2 = tg.nn.Sequential(tdrop.Dropout2d(0.9)).eval()
    inp = x.reshape(1, 100, 10, 10)
    assert m2(inp) is inp
    np.testing.assert_array_equal(to_np(m2(tg.ones(2, 3, 4, 4))), np.ones((2, 3, 4, 4)))
    m2.train()
    assert (to_np(m2(tg.ones(2, 30, 4, 4))) == 0).mean() > 0.5


@needs_torch
@pytest.mark.parametrize("make,shape", [
    ('Conv2d(3, 4, 3, padding=1, padding_mode="reflect")', (2, 3, 6, 5)),
    ('Conv2d(3, 4, (3, 5), padding=(1, 2), padding_mode="circular")', (2, 3, 6, 7)),
    ('Conv2d(3, 4, 3, padding="same", padding_mode="replicate", dilation=2)', (2, 3, 8, 8)),
    ('Conv2d(3, 4, 4, padding="same", padding_mode="reflect")', (1, 3, 7, 7)),
    ('Conv1d(3, 4, 5, padding=2, padding_mode="circular")', (2, 3, 9)),
])
def test_padding_modes_match_torch(device, make, shape):
    """padding_mode reflect/replicate/circular: the input padded by F.pad in that mode, then a
    convolution without padding (PyTorch's way); outputs and every gradient, same weights."""
    torch.manual_seed(0)
    theirs = eval("tnn." + make).double()
    ours = eval("tconv." + make).double()
    ours.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    ours.to(device)
    x = np.random.default_rng(0).normal(size=shape)
    a, b = tg.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_a, out_b = ours(a), theirs(b)
    np.testing.assert_allclose(out_a.detach().cpu().numpy(), out_b.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(1).normal(size=tuple(out_b.shape))
    out_a.backward(tg.tensor(g, device=device))
    out_b.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.cpu().numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)

