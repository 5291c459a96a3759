"""The fused cross entropy / NLL of class indices (tensorgrad/fused/loss.py, kernels/loss.cu).

Three views of the same math: the NumPy references against the loss composed from plain
array ops (log-softmax, weighted one-hot q), the CUDA kernels compiled on the host against the
references (tests/test_kernels_on_host.py's harness), and on a GPU the kernels against the
references (skipped here without one). The op-level PyTorch oracles are in tests/test_loss.py.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.fused import loss as FL
from tensorgrad.ops import loss as L
from test_kernels_on_host import _call, host_library  # noqa: F401  (host_library is a fixture)

_rng = np.random.default_rng(11)


def _case(n, c, s, dtype, ignore=-100):
    """Logits (N, C, S) with the edge cases in its rows, and targets (N, S) including ignored ones."""
    x = _rng.normal(0, 3, size=(n, c, s)).astype(dtype)
    t = _rng.integers(0, c, size=(n, s)).astype(np.int64)
    t[0, 0] = ignore
    x[1, 1, 0] = -np.inf            # another class's -inf logit: no NaN (without smoothing)
    t[1, 0] = 0
    x[2, :, 0] = -np.inf            # every logit -inf: NaN, as log_softmax
    x[3, 0, 0] = np.nan             # a NaN logit: NaN row
    x[4, 2, 0] = 80.0               # large logit: the shift by the max keeps exp finite
    return x, t


def _composed(x3, t, w, ignore, eps, log_softmax):
    """loss rows and dx / g from log_softmax and q built as arrays (float64), the textbook way."""
    x = x3.astype(np.float64)
    n, c, s = x.shape
    with np.errstate(invalid="ignore", over="ignore"):
        if log_softmax:
            m = x.max(axis=1, keepdims=True)
            m = np.where(np.isinf(m), np.nan, m)
            z = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
        else:
            z = x
        ok = (t != ignore)
        onehot = (np.arange(c)[None, :, None] == np.where(ok, t, 0)[:, None, :])
        wc = np.ones(c) if w is None else w.astype(np.float64)
        q = (onehot * (1 - eps) + eps / c) * wc[None, :, None] * ok[:, None, :]
        loss = -np.where(q == 0, 0.0, q * z).sum(axis=1)
        soft = np.exp(z) * q.sum(axis=1, keepdims=True) if log_softmax else 0.0
        return loss, (w[np.where(ok, t, 0)] if w is not None else np.ones(t.shape)) * ok, soft - q


CASES = [(6, 5, 1, None, 0.0, True), (6, 5, 3, "w", 0.0, True), (6, 4, 2, None, 0.3, True),
         (6, 7, 1, "w", 0.2, True), (6, 5, 2, "w", 0.0, False), (6, 3, 1, None, 0.1, False)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c,s,weighted,eps,log_softmax", CASES)
def test_reference_matches_the_composed_math(dtype, n, c, s, weighted, eps, log_softmax):
    x, t = _case(n, c, s, dtype)
    w = _rng.uniform(0.2, 2.0, size=c).astype(dtype) if weighted else None
    loss, wt, lse, sumq = FL.class_loss_forward_ref(x, t, w, -100, eps, log_softmax)
    want_loss, want_wt, want_d = _composed(x, t, w, -100, eps, log_softmax)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(loss, want_loss, **tol)
    np.testing.assert_allclose(wt, want_wt, **tol)
    assert loss.dtype == FL.acc_dtype(dtype) and (np.isfinite(loss[1, 0]) or eps > 0)
    if log_softmax:
        assert np.isnan(loss[2, 0]) and np.isnan(loss[3, 0])
    g = _rng.normal(size=(n, s)).astype(dtype)
    dx = FL.class_loss_backward_ref(x, t, w, lse, sumq, g, -100, eps, log_softmax)
    np.testing.assert_allclose(dx, (want_d * g[:, None, :]).astype(dtype), **tol)
    dx0 = FL.class_loss_backward_ref(x, t, w, lse, sumq, np.asarray(0.5, dtype), -100, eps, log_softmax)
    np.testing.assert_allclose(dx0, (want_d * 0.5).astype(dtype), **tol)
    assert dx.dtype == dtype and dx.shape == x.shape


def test_reference_marks_out_of_range_targets_nan():
    x, t = _case(6, 4, 1, np.float64)
    t[5, 0] = 4
    loss, wt, _, sumq = FL.class_loss_forward_ref(x, t, None, -100, 0.0)
    assert np.isnan(loss[5, 0]) and wt[5, 0] == 0 and sumq[5, 0] == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n,c,s,weighted,eps,log_softmax", CASES)
def test_kernels_match_the_reference(host_library, dtype, n, c, s, weighted, eps, log_softmax):
    lib = host_library("loss", dtype)
    x, t = _case(n, c, s, dtype)
    t[5, s - 1] = c  # out of range: NaN loss, no gradient
    w = _rng.uniform(0.2, 2.0, size=c).astype(dtype) if weighted else np.zeros(0, dtype)
    ref = FL.class_loss_forward_ref(x, t, w if weighted else None, -100, eps, log_softmax)
    outs = [np.empty((n, s), FL.acc_dtype(np.dtype(dtype))) for _ in range(4)]
    _call(lib, "class_loss_forward", [x, t, w, *outs], n * s, c, s, -100, reals=(eps,),
          flags=(bool(weighted), log_softmax))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for got, want in zip(outs, ref):
        np.testing.assert_allclose(got, want, **tol)
    lse, sumq = outs[2], outs[3]
    for g in (_rng.normal(size=(n, s)).astype(FL.acc_dtype(np.dtype(dtype))), np.asarray([0.25], FL.acc_dtype(np.dtype(dtype)))):
        dx = np.empty_like(x)
        _call(lib, "class_loss_backward", [x, t, w, lse, sumq, g, dx], x.size, c, s, -100, 1 if g.size > 1 else 0,
              reals=(eps,), flags=(bool(weighted), log_softmax))
        want = FL.class_loss_backward_ref(x, t, w if weighted else None, lse, sumq, g if g.size > 1 else g[0],
                                          -100, eps, log_softmax)
        np.testing.assert_allclose(dx, want, **tol)


def test_reductions_keep_the_denominator_on_the_device_side():
    """mean divides by the summed target weights; all ignored gives NaN loss and zero gradient."""
    x = tg.tensor(_rng.normal(size=(3, 4)), requires_grad=True)
    t = tg.tensor(np.array([-100, -100, -100]))
    y = L.cross_entropy(x, t)
    assert np.isnan(y.item())
    y.backward()
    assert np.all(x.grad.numpy() == 0)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("n,c,s,weighted,eps,log_softmax", CASES + [(5, 1500, 1, None, 0.1, True)])
def test_cuda_kernels_match_the_reference(device, dtype, n, c, s, weighted, eps, log_softmax):
    if device != "cuda":
        pytest.skip("CUDA kernels: the cpu case is the reference itself")
    import cupy as cp
    x, t = _case(n, c, s, np.float64)
    x = x.astype(dtype)
    w = _rng.uniform(0.2, 2.0, size=c).astype(dtype) if weighted else None
    ref = FL.class_loss_forward_ref(x, t, w, -100, eps, log_softmax)
    got = FL.class_loss_forward(cp.asarray(x), cp.asarray(t), None if w is None else cp.asarray(w), -100, eps,
                                log_softmax)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else dict(rtol=1e-5, atol=1e-5)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a.get(), b, **tol)
    g = _rng.normal(size=(n, s)).astype(FL.acc_dtype(np.dtype(dtype)))
    dx = FL.class_loss_backward(cp.asarray(x), cp.asarray(t), None if w is None else cp.asarray(w), got[2], got[3],
                                cp.asarray(g), -100, eps, log_softmax)
    want = FL.class_loss_backward_ref(x, t, w, ref[2], ref[3], g, -100, eps, log_softmax)
    np.testing.assert_allclose(dx.get().astype(np.float64), want.astype(np.float64), **tol)
    # one g for every row (reduction 'mean' or 'sum'): a 0-d array
    g0 = np.asarray(0.37, dtype=g.dtype)
    dx = FL.class_loss_backward(cp.asarray(x), cp.asarray(t), None if w is None else cp.asarray(w), got[2], got[3],
                                cp.asarray(g0), -100, eps, log_softmax)
    want = FL.class_loss_backward_ref(x, t, w, ref[2], ref[3], g0, -100, eps, log_softmax)
    np.testing.assert_allclose(dx.get().astype(np.float64), want.astype(np.float64), **tol)
