"""The fused softmax / log_softmax over one dim (tensorgrad/fused/softmax.py, kernels/softmax.cu).

Three views of the same math: the NumPy references against the textbook formulas in float64 and
against PyTorch, the CUDA kernels compiled on the host against the references
(tests/test_kernels_on_host.py's harness), and on a GPU the kernels against the references
(skipped here without one). The op-level checks (gradcheck, second derivatives, dtype=) are in
tests/test_ops_reduce.py; a few more, over dims and edge rows, are at the end of this file.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.fused import softmax as FS
from oracle import check_grad, check_torch, needs_torch, to_tg, torch
from test_kernels_on_host import _call, host_library  # noqa: F401  (host_library is a fixture)

_rng = np.random.default_rng(21)

# (shape, axis): the dim first, in the middle, last; empty; size-1; a 0-d array (axis None)
SHAPES = [((6, 5), 1), ((6, 5), 0), ((3, 6, 4), 1), ((3, 6, 4), 0), ((3, 4, 6), 2), ((2, 3, 5, 2), 2),
          ((6, 1, 3), 1), ((6, 1, 3), 0), ((1, 7), 1), ((7,), 0), ((2, 0, 3), 1), ((2, 0, 3), 2), ((0, 4), 1),
          ((), None)]
IDS = [f"{'x'.join(map(str, s)) or 'scalar'}-dim{a}" for s, a in SHAPES]


def _case(shape, axis, dtype, edges=True):
    """Logits with, where there are enough rows along `axis`, the edge cases in their rows."""
    x = _rng.normal(0, 3, size=shape).astype(dtype)
    if not edges or axis is None or x.size == 0 or x.shape[axis] < 2:
        return x
    xm = np.moveaxis(x, axis, -1)  # a view: rows along the last axis
    rows = list(np.ndindex(xm.shape[:-1]))
    cases = [lambda r: r.fill(-np.inf),               # every logit -inf: NaN row
             lambda r: r.__setitem__(0, np.inf),       # a +inf logit: NaN row
             lambda r: r.__setitem__(1, np.nan),       # a NaN logit: NaN row
             lambda r: r.__setitem__(0, -np.inf),      # one -inf logit: probability 0, finite row
             lambda r: r.__setitem__(0, 80.0)]         # large: the shift by the max keeps exp finite
    for r, set_row in zip(rows, cases):
        set_row(xm[r])
    return x


def _composed(x, axis, g):
    """(softmax, log_softmax, dx of softmax, dx of log_softmax) in float64, the textbook way."""
    x = x.astype(np.float64)
    g = g.astype(np.float64)
    if x.size == 0:
        return x, x, x, x
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = x.max(axis=axis, keepdims=True)
        m = np.where(np.isinf(m), np.nan, m)
        e = np.exp(x - m)
        s = e.sum(axis=axis, keepdims=True)
        sm, lsm = e / s, x - m - np.log(s)
        dsm = g * sm - sm * (g * sm).sum(axis=axis, keepdims=True)
        dlsm = g - np.exp(lsm) * g.sum(axis=axis, keepdims=True)
    return sm, lsm, dsm, dlsm


TOL = {np.float16: dict(rtol=2e-3, atol=2e-3), np.float32: dict(rtol=2e-5, atol=2e-6),
       np.float64: dict(rtol=1e-12, atol=1e-13)}


def _close(got, want, dtype, **kw):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), equal_nan=True,
                               **{**TOL[dtype], **kw})


# ---------------------------------------------------------------- references
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", SHAPES, ids=IDS)
def test_reference_matches_the_composed_math(dtype, shape, axis):
    x = _case(shape, axis, dtype)
    g = _rng.normal(size=shape).astype(dtype)
    sm, lsm, dsm, dlsm = _composed(x, axis, g)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # quiet, as PyTorch
        y, ly = FS.softmax_forward_ref(x, axis), FS.log_softmax_forward_ref(x, axis)
        dy, dly = FS.softmax_backward_ref(y, g, axis), FS.log_softmax_backward_ref(ly, g, axis)
    for got in (y, ly, dy, dly):
        assert np.asarray(got).dtype == dtype and np.shape(got) == shape
    _close(y, sm, dtype)
    _close(ly, lsm, dtype)
    # the backward from the reference's own (rounded) outputs, against the composed one of them
    yd, lyd, gd = y.astype(np.float64), ly.astype(np.float64), g.astype(np.float64)
    with np.errstate(invalid="ignore"):
        _close(dy, gd * yd - yd * (gd * yd).sum(axis=axis, keepdims=True), dtype)
        _close(dly, gd - np.exp(lyd) * gd.sum(axis=axis, keepdims=True), dtype)
    if x.size and axis is not None and x.shape[axis] >= 2 and np.prod(shape) // shape[axis] >= 5:
        rows = [np.moveaxis(a, axis, -1)[r] for a in (y, ly)
                for r in list(np.ndindex(np.moveaxis(x, axis, -1).shape[:-1]))[:5]]
        for a in rows[0:3] + rows[5:8]:
            assert np.isnan(a).all()  # all -inf, +inf, NaN rows
        assert rows[3][0] == 0 and rows[8][0] == -np.inf and np.isfinite(rows[3]).all()
        assert np.isfinite(rows[4]).all() and np.isfinite(rows[9]).all()


@needs_torch
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", SHAPES, ids=IDS)
def test_reference_matches_torch(dtype, shape, axis):
    x = _case(shape, axis, dtype)
    g = _rng.normal(size=shape).astype(dtype)
    for fwd, bwd, tfn in ((FS.softmax_forward_ref, FS.softmax_backward_ref, torch.softmax),
                          (FS.log_softmax_forward_ref, FS.log_softmax_backward_ref, torch.log_softmax)):
        xt = torch.tensor(x.astype(np.float32) if dtype == np.float16 else x, requires_grad=True)
        yt = tfn(xt, 0 if axis is None else axis)
        yt.backward(torch.tensor(g.astype(np.float32) if dtype == np.float16 else g))
        y = fwd(x, axis)
        _close(y, yt.detach().numpy(), dtype)
        _close(bwd(y, g, axis), xt.grad.numpy(), dtype)


def test_reference_mixed_dtypes_promote():
    x = _case((4, 5), 1, np.float32)
    y = FS.softmax_forward_ref(x, 1)
    g = _rng.normal(size=(4, 5))
    assert FS.softmax_backward_ref(y, g, 1).dtype == np.float64
    assert FS.log_softmax_backward_ref(y, g.astype(np.float16), 1).dtype == np.float32


def test_split():
    assert FS.split((3, 4, 5), 0) == (1, 3, 20)
    assert FS.split((3, 4, 5), 1) == (3, 4, 5)
    assert FS.split((3, 4, 5), 2) == (12, 5, 1)
    assert FS.split((), None) == (1, 1, 1)
    assert FS.split((2, 0, 3), 2) == (0, 3, 1)


def test_cpu_dispatch_is_the_reference():
    x = _case((6, 5), 1, np.float32)
    np.testing.assert_array_equal(FS.softmax_forward(x, 1), FS.softmax_forward_ref(x, 1))
    np.testing.assert_array_equal(FS.log_softmax_forward(x, 1), FS.log_softmax_forward_ref(x, 1))
    g = _rng.normal(size=x.shape).astype(np.float32)
    y = FS.softmax_forward(x, 1)
    np.testing.assert_array_equal(FS.softmax_backward(y, g, 1), FS.softmax_backward_ref(y, g, 1))
    np.testing.assert_array_equal(FS.log_softmax_backward(y, g, 1), FS.log_softmax_backward_ref(y, g, 1))


# ---------------------------------------------------------------- kernels on the host
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,axis", SHAPES, ids=IDS)
def test_kernels_match_the_reference(host_library, dtype, shape, axis):
    lib = host_library("softmax", dtype)
    x = _case(shape, axis, dtype)
    g = _rng.normal(size=shape).astype(dtype)
    o, d, i = FS.split(shape, axis)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    xc = np.ascontiguousarray(x).reshape(-1)  # the kernels index flat memory (a 0-d array: one element)
    for name, fwd, bwd in (("softmax", FS.softmax_forward_ref, FS.softmax_backward_ref),
                           ("log_softmax", FS.log_softmax_forward_ref, FS.log_softmax_backward_ref)):
        y = np.full(xc.shape, 7.0, dtype)
        _call(lib, f"{name}_forward", [xc, y], o * i, d, i)
        want = fwd(x, axis)
        np.testing.assert_allclose(y.reshape(shape), want, equal_nan=True, **tol)
        dx = np.full(xc.shape, 7.0, dtype)
        _call(lib, f"{name}_backward", [np.ascontiguousarray(want).reshape(-1), g.reshape(-1), dx], o * i, d, i)
        np.testing.assert_allclose(dx.reshape(shape), bwd(want, g, axis), equal_nan=True, **tol)


# ---------------------------------------------------------------- the ops
@needs_torch
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [s for s in SHAPES if s[1] is not None], ids=IDS[:-1])
def test_ops_match_torch_over_dims(op, shape, axis, device):
    x = _case(shape, axis, np.float64, edges=False)
    check_torch(lambda m, t: getattr(m, op)(t, axis), [x], device, rtol=1e-10, atol=1e-12)
    check_torch(lambda m, t: getattr(m, op)(t, axis - len(shape)), [x.astype(np.float32)], device)


@needs_torch
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_ops_edge_rows_match_torch(op, device):
    x = _case((3, 6, 4), 1, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check_torch(lambda m, t: getattr(m, op)(t, 1), [x], device)


@needs_torch
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_ops_float16_match_torch(op, device):
    x = _case((4, 6, 3), 1, np.float16, edges=False)
    check_torch(lambda m, t: getattr(m, op)(t, 1), [x], device, rtol=2e-3, atol=2e-3)
    check_torch(lambda m, t: getattr(m, op)(t, 0, dtype=m.float32), [x], device)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [((3, 4, 2), 1), ((3, 4), 0), ((5,), 0), ((), 0)])
def test_ops_gradcheck_and_second_order(op, shape, axis, device):
    """Double backward through the fused backward op (its backward is tensor ops); gradgradcheck
    also differentiates the incoming gradient."""
    check_grad(lambda t: getattr(tg, op)(t, axis), [_rng.normal(size=shape)], device)


@needs_torch
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_ops_third_order_matches_torch(op):
    """The backward of the fused backward op is differentiable again: third derivatives."""
    x0, w0 = _rng.normal(size=(3, 4)), _rng.normal(size=(3, 4))
    res = []
    for m, grad in ((tg, tg.autograd.grad), (torch, torch.autograd.grad)):
        x, w = m.tensor(x0, requires_grad=True), m.tensor(w0)
        (g1,) = grad((getattr(m, op)(x, 1) * w).sum(), x, create_graph=True)
        (g2,) = grad((g1 * w * w).sum(), x, create_graph=True)
        (g3,) = grad((g2 * w).sum(), x)
        res.append([np.asarray(t.detach().cpu().numpy()) for t in (g1, g2, g3)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape,axis", SHAPES + [((3, 1500), 1), ((2, 1500, 3), 1), ((4, 1025), 0)],
                         ids=IDS + ["wide-last", "wide-middle", "wide-first"])
def test_cuda_kernels_match_the_reference(device, dtype, shape, axis):
    if device != "cuda":
        pytest.skip("CUDA kernels: the cpu case is the reference itself")
    import cupy as cp
    x = _case(shape, axis, np.float64).astype(dtype)
    g = _rng.normal(size=shape).astype(dtype)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else dict(rtol=1e-5, atol=1e-6)
    for fwd, bwd, fwd_ref, bwd_ref in ((FS.softmax_forward, FS.softmax_backward, FS.softmax_forward_ref,
                                        FS.softmax_backward_ref),
                                       (FS.log_softmax_forward, FS.log_softmax_backward,
                                        FS.log_softmax_forward_ref, FS.log_softmax_backward_ref)):
        y = fwd(cp.asarray(x), axis)
        want = fwd_ref(x, axis)
        assert y.dtype == x.dtype and y.shape == x.shape
        np.testing.assert_allclose(y.get().astype(np.float64), want.astype(np.float64), equal_nan=True, **tol)
        dx = bwd(cp.asarray(want), cp.asarray(g), axis)
        assert dx.dtype == x.dtype and dx.shape == x.shape
        np.testing.assert_allclose(dx.get().astype(np.float64), bwd_ref(want, g, axis).astype(np.float64),
                                   equal_nan=True, **tol)
    if x.ndim == 2:  # a transposed (non-contiguous) input and a broadcast gradient
        xt = cp.asarray(x).T
        a = xt.ndim - 1 - axis
        np.testing.assert_allclose(FS.softmax_forward(xt, a).get().astype(np.float64),
                                   FS.softmax_forward_ref(x.T, a).astype(np.float64), equal_nan=True, **tol)
        y = FS.softmax_forward_ref(x, axis)
        gb = cp.broadcast_to(cp.asarray(g[:1]), x.shape)
        np.testing.assert_allclose(FS.softmax_backward(cp.asarray(y), gb, axis).get().astype(np.float64),
                                   FS.softmax_backward_ref(y, np.broadcast_to(g[:1], x.shape), axis).astype(np.float64),
                                   equal_nan=True, **tol)


@pytest.mark.cuda
def test_cuda_one_launch_each_way(device, kernel_calls):
    """On CUDA the op forward and the backward are one kernel launch each (and no other op)."""
    if device != "cuda":
        pytest.skip("CUDA only")
    calls = kernel_calls
    for op in ("softmax", "log_softmax"):
        calls.clear()
        x = to_tg(_rng.normal(size=(64, 10)).astype(np.float32), device)
        y = getattr(tg, op)(x, 1)
        assert calls == [("softmax", f"{op}_forward")]
        y.backward(tg.ones_like(y))
        assert calls[1:] == [("softmax", f"{op}_backward")]
