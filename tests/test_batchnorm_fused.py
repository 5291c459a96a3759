"""The fused batch_norm op (tensorgrad/ops/norm.py BatchNorm, tensorgrad/fused/batchnorm.py) against
the composed formula it replaced (mean, var, rsqrt and arithmetic as tensor ops), in float64:
forward, every gradient, second derivatives, running statistics; training and eval mode. The
PyTorch oracles are in tests/test_nn_norm_embedding.py."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.autograd import gradcheck, gradgradcheck
from tensorgrad.fused import batchnorm as FB
from tensorgrad.ops.elementwise import rsqrt
from tensorgrad.ops.norm import BatchNorm, batch_norm
from tensorgrad.ops.reduce import mean, var
from tensorgrad.ops.shape import reshape

_rng = np.random.default_rng(5)


def composed_batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                        eps=1e-5):
    """The previous batch_norm: composed of tensor ops (the reference)."""
    shape = input.shape
    c = shape[1]
    stat_shape = (1, c) + (1,) * (len(shape) - 2)
    if training:
        n = input.numel() // c
        dims = (0,) + tuple(range(2, len(shape)))
        m = mean(input, dims, True)
        v = var(input, dims, keepdim=True, correction=0)
        with tg.no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(reshape(m.detach(), (c,)), alpha=momentum)
            if running_var is not None:
                running_var.mul_(1 - momentum).add_(reshape(v.detach(), (c,)) * (n / (n - 1)), alpha=momentum)
    else:
        m = reshape(running_mean, stat_shape)
        v = reshape(running_var, stat_shape)
    out = (input - m) * rsqrt(v + eps)
    if weight is not None:
        out = out * reshape(weight, stat_shape)
    if bias is not None:
        out = out + reshape(bias, stat_shape)
    return out


SHAPES = [(6, 3), (4, 3, 5), (3, 4, 5, 2), (2, 3, 8, 8)]


def _inputs(shape, offset=0.5, dtype=np.float64):
    c = shape[1]
    x = (_rng.normal(size=shape) * 2 + offset).astype(dtype)
    w, b = _rng.normal(size=c).astype(dtype), _rng.normal(size=c).astype(dtype)
    rm, rv = _rng.normal(size=c).astype(dtype), _rng.uniform(0.5, 1.5, size=c).astype(dtype)
    return x, w, b, rm, rv


def _run(fn, x, w, b, rm, rv, training, g, affine=True, bias=True):
    xt = tg.tensor(x, requires_grad=True)
    wt = tg.tensor(w, requires_grad=True) if affine else None
    bt = tg.tensor(b, requires_grad=True) if affine and bias else None
    rmt, rvt = tg.tensor(rm.copy()), tg.tensor(rv.copy())
    out = fn(xt, rmt, rvt, wt, bt, training, 0.3, 1e-3)
    out.backward(tg.tensor(g))
    grads = [t.grad.numpy() if t is not None else None for t in (xt, wt, bt)]
    return out.detach().numpy(), grads, rmt.numpy(), rvt.numpy(), out


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("offset", [0.5, 300.0])  # a large mean: the two-pass variance and sums
def test_fused_matches_composed_float64(shape, training, affine, bias, offset):
    x, w, b, rm, rv = _inputs(shape, offset)
    g = _rng.normal(size=shape)
    new = _run(batch_norm, x, w, b, rm, rv, training, g, affine, bias)
    old = _run(composed_batch_norm, x, w, b, rm, rv, training, g, affine, bias)
    assert type(new[4].grad_fn) is BatchNorm
    np.testing.assert_allclose(new[0], old[0], rtol=1e-10, atol=1e-10)
    for a, e in zip(new[1], old[1]):
        if e is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(new[2], old[2], rtol=1e-12, atol=1e-12)  # running stats
    np.testing.assert_allclose(new[3], old[3], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3, 2), (3, 2, 3, 2)])
def test_gradcheck_and_gradgradcheck(training, shape):
    x, w, b, rm, rv = _inputs(shape)
    rmt, rvt = tg.tensor(rm), tg.tensor(rv)
    ts = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]
    fn = lambda x, w, b: batch_norm(x, rmt.clone(), rvt.clone(), w, b, training, 0.1, 1e-3)  # noqa: E731
    assert gradcheck(fn, ts, atol=1e-6, rtol=1e-4)
    assert gradgradcheck(fn, ts, atol=1e-6, rtol=1e-4)
    # without the affine parameters
    assert gradgradcheck(lambda x: batch_norm(x, rmt.clone(), rvt.clone(), None, None, training, 0.1, 1e-3),
                         [ts[0]], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("training", [True, False])
def test_second_derivatives_match_composed(training):
    x, w, b, rm, rv = _inputs((5, 3, 4))
    g = _rng.normal(size=x.shape)
    v = _rng.normal(size=x.shape)
    res = []
    for fn in (batch_norm, composed_batch_norm):
        ts = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]
        out = fn(ts[0], tg.tensor(rm), tg.tensor(rv), ts[1], ts[2], training, 0.1, 1e-3)
        gt = tg.tensor(g, requires_grad=True)
        dx, dw, db = tg.autograd.grad(out, ts, gt, create_graph=True)
        s = (dx * tg.tensor(v)).sum() + (dw * dw).sum() + (db * dw).sum()
        res.append([a.detach().numpy() for a in tg.autograd.grad(s, ts[:2] + [gt])])
    for a, e in zip(*res):
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 40), (3, 5, 6, 7)])
@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_reference_one_pass_and_two_pass(shape, offset):
    """The NumPy functions, forced one-pass or two-pass, against float64 textbook math."""
    x = (_rng.normal(size=shape) + offset).astype(np.float32)
    w, b = _rng.normal(size=shape[1]).astype(np.float32), _rng.normal(size=shape[1]).astype(np.float32)
    x3 = FB.as3d(x)
    x64 = x3.astype(np.float64)
    m = x64.mean(axis=(0, 2))
    v = x64.var(axis=(0, 2))
    inv = 1 / np.sqrt(v + 1e-5)
    ref = (x64 - m[:, None]) * (inv * w)[:, None] + b[:, None]
    g = _rng.normal(size=x3.shape).astype(np.float32)
    xh = (x64 - m[:, None]) * inv[:, None]
    n = x3.shape[0] * x3.shape[2]
    sg, sgx = g.sum(axis=(0, 2), dtype=np.float64), (g * xh).sum(axis=(0, 2))
    dx_ref = (w * inv)[:, None] * (g - sg[:, None] / n - xh * sgx[:, None] / n)
    for one_pass in (True, False):
        y, mean_, var_, invstd, exact = FB.batch_norm_train_forward(x3, w, b, 1e-5, np.float32, one_pass)
        assert y.dtype == np.float32 and mean_.dtype == np.float32 and invstd.dtype == np.float32
        assert exact == (not one_pass or offset > 0)  # the large offset falls back to two passes
        np.testing.assert_allclose(var_, v, rtol=2e-5)
        # y = x * scale + shift, as PyTorch's CPU kernel: a large mean costs float32 digits (the
        # rounding of x * scale, ~eps * |x| * scale, is not cancelled by the shift's)
        cancel = 2 * np.finfo(np.float32).eps * np.abs(x64).max() * np.abs(inv * w).max()
        np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 + cancel)
        dx, dw, db = FB.batch_norm_train_backward(g, x3, mean_, invstd, w, exact)
        np.testing.assert_allclose(dx, dx_ref, rtol=1e-3, atol=1e-4 * np.abs(dx_ref).max())
        np.testing.assert_allclose(dw, sgx, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(db, sg, rtol=1e-5, atol=1e-4)


def test_channel_sums_layouts():
    for shape in [(7, 3, 1), (5, 4, 3), (3, 2, 100), (0, 3, 4)]:
        a = _rng.normal(size=shape).astype(np.float32)
        b = _rng.normal(size=shape).astype(np.float32)
        np.testing.assert_allclose(FB.channel_sum(a), a.astype(np.float64).sum(axis=(0, 2)), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(FB.channel_dot(a, b), (a.astype(np.float64) * b).sum(axis=(0, 2)), rtol=1e-4,
                                   atol=1e-4)
        t = a.transpose(2, 1, 0)  # not contiguous
        np.testing.assert_allclose(FB.channel_sum(t), t.astype(np.float64).sum(axis=(0, 2)), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(FB.channel_dot(t, t), (t.astype(np.float64) ** 2).sum(axis=(0, 2)), rtol=1e-4)


@pytest.mark.parametrize("training", [True, False])
def test_float16_computes_in_float32(training):
    x, w, b, rm, rv = _inputs((4, 3, 5, 5), dtype=np.float16)
    g = _rng.normal(size=x.shape).astype(np.float16)
    xt, wt, bt = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    out = batch_norm(xt, tg.tensor(rm), tg.tensor(rv), wt, bt, training, 0.1, 1e-5)
    assert out.dtype == tg.float16
    out.backward(tg.tensor(g))
    assert xt.grad.dtype == tg.float16 and wt.grad.dtype == tg.float16
    x32 = [tg.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, b)]
    ref = composed_batch_norm(x32[0], tg.tensor(rm.astype(np.float64)), tg.tensor(rv.astype(np.float64)),
                              x32[1], x32[2], training, 0.1, 1e-5)
    ref.backward(tg.tensor(g.astype(np.float64)))
    np.testing.assert_allclose(out.detach().numpy().astype(np.float64), ref.detach().numpy(), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(xt.grad.numpy().astype(np.float64), x32[0].grad.numpy(), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(wt.grad.numpy().astype(np.float64), x32[1].grad.numpy(), rtol=1e-2, atol=5e-2)


def test_mixed_dtypes_promote_as_composed():
    x, w, b, rm, rv = _inputs((4, 3, 2))
    for training in (True, False):
        xt = tg.tensor(x.astype(np.float32), requires_grad=True)
        wt = tg.tensor(w, requires_grad=True)
        out = batch_norm(xt, tg.tensor(rm), tg.tensor(rv), wt, None, training)
        ref = composed_batch_norm(xt, tg.tensor(rm), tg.tensor(rv), wt, None, training)
        assert out.dtype == ref.dtype == tg.float64
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-6)
        out.sum().backward()
        assert xt.grad.dtype == tg.float32 and wt.grad.dtype == tg.float64


def test_eval_uses_a_snapshot_of_the_running_stats():
    """Changing the running buffers between forward and backward (a later training step) does not
    change the eval-mode gradient."""
    x, w, b, rm, rv = _inputs((4, 3, 2))
    rmt, rvt = tg.tensor(rm), tg.tensor(rv)
    wt = tg.tensor(w, requires_grad=True)
    out = batch_norm(tg.tensor(x), rmt, rvt, wt, None, False)
    with tg.no_grad():
        rmt.add_(5.0)
        rvt.mul_(3.0)
    out.sum().backward()
    expected = ((x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5)).sum(axis=(0, 2))
    np.testing.assert_allclose(wt.grad.numpy(), expected, rtol=1e-10)


def test_module_train_and_eval_against_composed():
    m = tg.nn.BatchNorm2d(3, dtype=tg.float64, momentum=None)
    rm, rv = tg.zeros(3, dtype=tg.float64), tg.ones(3, dtype=tg.float64)
    w = m.weight.detach().clone()
    for step in range(4):
        m.train(step < 3)
        x = _rng.normal(size=(4, 3, 3, 3)) * 3 + 1
        out = m(tg.tensor(x))
        eaf = 1.0 / (step + 1)
        ref = composed_batch_norm(tg.tensor(x), rm, rv, w, None, step < 3, eaf)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(m.running_mean.numpy(), rm.numpy(), rtol=1e-12)
        np.testing.assert_allclose(m.running_var.numpy(), rv.numpy(), rtol=1e-12)
