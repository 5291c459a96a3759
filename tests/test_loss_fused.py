"""The fused cross entropy / NLL of class indices (tensorgrad/fused/loss.py, kernels/loss.cu).

Three views of the same math: the NumPy references against the loss composed from plain
array ops (log-softmax, weighted one-hot q), the CUDA kernels compiled on the host against the
references (tests/test_kernels_on_host.py's harness), and on a GPU the kernels against the
references (skipped here without one). The op-level PyTorch oracles are in tests/test_loss.py.
"""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import device_checks
from tensorgrad.fused import loss as FL
from tensorgrad.ops import loss as L
from test_kernels_on_host import _call, host_library, threaded_library  # noqa: F401  (fixtures)

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
         (6, 7, 1, "w", 0.2, True), (6, 5, 2, "w", 0.0, False), (6, 3, 1, None, 0.1, False),
         (6, 5, 1, None, 0.0, False)]


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log_softmax", [True, False])
def test_reference_rows_path_is_the_general_one(dtype, log_softmax):
    """(N, C) logits without weights or smoothing take a shorter path; it gives exactly what the
    general (N, C, S) path gives with all-one class weights, edge rows and targets included."""
    x, t = _case(7, 5, 1, dtype)
    t[5, 0], t[6, 0] = 5, -3                        # out of range both ways: NaN
    fast = FL.class_loss_forward_ref(x, t, None, -100, 0.0, log_softmax)
    general = FL.class_loss_forward_ref(x, t, np.ones(5, dtype), -100, 0.0, log_softmax)
    for a, b in zip(fast, general):
        assert a.shape == b.shape == (7, 1) and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert np.isnan(fast[0][5, 0]) and np.isnan(fast[0][6, 0]) and fast[0][0, 0] == 0 and fast[1][0, 0] == 0
    _, _, lse, sumq = fast
    for g in (_rng.normal(size=(7, 1)).astype(FL.acc_dtype(dtype)), np.asarray(0.25, FL.acc_dtype(dtype))):
        d_fast = FL.class_loss_backward_ref(x, t, None, lse, sumq, g, -100, 0.0, log_softmax)
        d_general = FL.class_loss_backward_ref(x, t, np.ones(5, dtype), lse, sumq, g, -100, 0.0, log_softmax)
        assert d_fast.shape == x.shape and d_fast.dtype == x.dtype
        np.testing.assert_array_equal(d_fast, d_general)


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


# ---------------------------------------------------------------- the reduction and the target check
def _rows_case(rows, dtype, bad_at=(), ignore=-100, c=5):
    """loss and wt rows of the forward's acc dtype and a target with out-of-range entries at bad_at."""
    acc = FL.acc_dtype(np.dtype(dtype))
    loss = _rng.uniform(0, 5, size=rows).astype(acc)
    wt = _rng.uniform(0.2, 2.0, size=rows).astype(acc)
    t = _rng.integers(0, c, size=rows).astype(np.int64)
    t[::7] = ignore
    wt[::7] = 0
    for i, v in bad_at:
        t[i] = v
    return loss, wt, t


def _reduce_kernel(call, loss, wt, t, c, ignore, reduction, dtype, check):
    """(out, scale, bad, bad_value) from a class_loss_reduce `call(arrays, ints, flags)`; unused outputs
    keep their sentinels (the kernel must not write them)."""
    out = np.full(1, 7, np.dtype(dtype))
    scale = np.full(1, 7, loss.dtype)
    bad = np.full(1, True)
    bad_value = np.full(1, 12345, np.int64)
    call([loss, wt, t, out, scale, bad, bad_value], (loss.size, c, ignore),
         (FL._REDUCTION_CODES[reduction], check))
    return out, scale, bad, bad_value


def _check_reduce(got, loss, wt, t, c, ignore, reduction, dtype, check, tol):
    out, scale, bad, bad_value = got
    want = FL.class_loss_reduce_ref(loss, wt, t, c, ignore, reduction, np.dtype(dtype), check)
    if reduction == "none":
        assert out[0] == 7
    else:
        np.testing.assert_allclose(out[0], want[0], **tol)
        assert want[0].dtype == np.dtype(dtype) and want[0].shape == ()
    if reduction == "mean":
        np.testing.assert_allclose(scale[0], want[1], **tol)
        assert want[1].dtype == loss.dtype
    else:
        assert scale[0] == 7 and want[1] is None
    if check:
        assert bool(bad[0]) == bool(want[2]) and bad_value[0] == want[3]
        assert want[2].dtype == np.bool_ and want[3].dtype == np.int64 and want[3].shape == ()
    else:
        assert bad[0] and bad_value[0] == 12345 and want[2] is None


REDUCE_CASES = [(1, ()), (6, ()), (40, ((9, 5), (23, -1))), (300, ((299, 17),)), (257, ((0, -3), (3, 99)))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("check", [False, True])
@pytest.mark.parametrize("rows,bad_at", REDUCE_CASES)
def test_reduce_kernel_matches_the_reference(host_library, dtype, reduction, check, rows, bad_at):
    lib = host_library("loss", dtype)
    loss, wt, t = _rows_case(rows, dtype, bad_at)

    def call(arrays, ints, flags):
        _call(lib, "class_loss_reduce", arrays, *ints, flags=flags)

    got = _reduce_kernel(call, loss, wt, t, 5, -100, reduction, dtype, check)
    tol = dict(rtol=1e-6, atol=0) if dtype == "float32" else dict(rtol=1e-13, atol=0)
    _check_reduce(got, loss, wt, t, 5, -100, reduction, dtype, check, tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reduce_kernel_edge_cases(host_library, dtype):
    """Every target ignored: mean NaN, scale 0; no rows: sum 0, mean NaN, nothing bad; NaN and inf
    rows propagate; a uint8-range target compared as int64; a non-default ignore_index."""
    lib = host_library("loss", dtype)

    def run(loss, wt, t, reduction, c=5, ignore=-100):
        got = _reduce_kernel(lambda a, i, f: _call(lib, "class_loss_reduce", a, *i, flags=f),
                             loss, wt, t, c, ignore, reduction, dtype, True)
        _check_reduce(got, loss, wt, t, c, ignore, reduction, dtype, True, dict(rtol=1e-6, atol=0))
        return got

    acc = FL.acc_dtype(np.dtype(dtype))
    out, scale, bad, _ = run(np.zeros(4, acc), np.zeros(4, acc), np.full(4, -100, np.int64), "mean")
    assert np.isnan(out[0]) and scale[0] == 0 and not bad[0]
    empty = np.zeros(0, acc)
    assert run(empty, empty, np.zeros(0, np.int64), "sum")[0][0] == 0
    out, scale, bad, _ = run(empty, empty, np.zeros(0, np.int64), "mean")
    assert np.isnan(out[0]) and scale[0] == 0 and not bad[0]
    loss = np.array([1.0, np.inf, 2.0], acc)
    assert run(loss, np.ones(3, acc), np.zeros(3, np.int64), "sum")[0][0] == np.inf
    loss[0] = np.nan
    assert np.isnan(run(loss, np.ones(3, acc), np.zeros(3, np.int64), "mean")[0][0])
    _, _, bad, bad_value = run(np.ones(3, acc), np.ones(3, acc), np.array([3, 255, 7]), "none", c=5, ignore=3)
    assert bad[0] and bad_value[0] == 255


# class_loss_reduce in one block of `threads` real threads (tests/test_kernels_on_host.py's
# threaded harness: the one-thread harness never runs the tree).
_THREADED_LAUNCHER = """
extern "C" void launch_class_loss_reduce(int threads, const acc_t* loss, const acc_t* wt, const long long* target,
                                         scalar_t* out, acc_t* scale, bool* bad, long long* bad_value,
                                         long long rows, long long C, long long ignore_index, int reduction,
                                         int check) {
    blockDim.x = threads;
    tg_bar.n = threads;
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back([=] {
            threadIdx.x = i;
            class_loss_reduce(loss, wt, target, out, scale, bad, bad_value, rows, C, ignore_index, reduction, check);
        });
    for (auto& th : pool) th.join();
}
"""


@pytest.fixture(scope="module")
def threaded_reduce(threaded_library):
    def build(dtype):
        fn = threaded_library("loss", dtype, _THREADED_LAUNCHER).launch_class_loss_reduce
        fn.restype = None
        fn.argtypes = ([ctypes.c_int] + [ctypes.c_void_p] * 7 + [ctypes.c_longlong] * 3 + [ctypes.c_int] * 2)
        return fn
    return build


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("threads", [2, 8, FL._REDUCE_THREADS])
@pytest.mark.parametrize("rows,bad_at", REDUCE_CASES)
def test_reduce_kernel_block_tree_matches_the_reference(threaded_reduce, dtype, threads, rows, bad_at):
    fn = threaded_reduce(dtype)
    loss, wt, t = _rows_case(rows, dtype, bad_at)
    for reduction in ("sum", "mean", "none"):
        def call(arrays, ints, flags):
            fn(threads, *[a.ctypes.data for a in arrays], *ints, *[int(f) for f in flags])
        got = _reduce_kernel(call, loss, wt, t, 5, -100, reduction, dtype, True)
        tol = dict(rtol=1e-6, atol=0) if dtype == "float32" else dict(rtol=1e-13, atol=0)
        _check_reduce(got, loss, wt, t, 5, -100, reduction, dtype, True, tol)


def test_reduce_reference_is_the_old_composition():
    """On the CPU the reference is the op's former reduction: NumPy's sum, total / denom, where."""
    loss, wt, t = _rows_case(50, "float32")
    out, scale, bad, value = FL.class_loss_reduce_ref(loss, wt, t, 5, -100, "mean", np.float32)
    assert out == np.float32(loss.sum() / wt.sum()) and scale == np.float32(1 / wt.sum())
    assert bad is None and value is None
    out, scale, _, _ = FL.class_loss_reduce_ref(loss, wt, t, 5, -100, "sum", np.float16)
    assert out.dtype == np.float16 and out == np.float16(loss.sum()) and scale is None


class _FakeKernelPath:
    """The op's CUDA flow on NumPy arrays: class_loss_forward / class_loss_reduce stand in for the
    kernels (the references), uses_kernel says yes, checks are deferrable; records the reduce calls."""

    def __init__(self, monkeypatch):
        self.reduce_calls = []
        ref_reduce = FL.class_loss_reduce_ref

        def reduce(*args):
            self.reduce_calls.append(args)
            return ref_reduce(*args)
        monkeypatch.setattr(FL, "uses_kernel", lambda x, n_cls: True)
        monkeypatch.setattr(FL, "class_loss_reduce", reduce)
        monkeypatch.setattr(device_checks, "_deferrable", lambda arr: not device_checks._eager[0])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("fn,name", [(L.cross_entropy, "cross_entropy"), (L.nll_loss, "nll_loss")])
def test_deferred_target_check_comes_from_the_reduce(monkeypatch, reduction, fn, name):
    """With the kernels deferring, the op registers ONE check from the reduce's flag, with the same
    message as the CPU's eager check, read at the next flush; eager mode raises at the call."""
    fake = _FakeKernelPath(monkeypatch)
    x = tg.tensor(_rng.normal(size=(4, 10)).astype(np.float32))
    t = tg.tensor(np.array([1, -100, 10, -1]))
    with pytest.raises(IndexError) as eager_cpu:  # the message of the eager check
        device_checks.set_eager(True)
        try:
            fn(x, t, reduction=reduction)
        finally:
            device_checks.set_eager(False)
    assert not fake.reduce_calls or fake.reduce_calls[-1][-1] is False
    fake.reduce_calls.clear()
    y = fn(x, t, reduction=reduction)
    assert len(fake.reduce_calls) == 1 and fake.reduce_calls[0][-1] is True
    assert device_checks.pending_count() == 1
    with pytest.raises(IndexError) as deferred:
        device_checks.flush()
    msg = str(eager_cpu.value)
    assert msg.startswith(f"{name}(): Target 10 is out of bounds. Valid class indices are 0 to 9 (or "
                          f"ignore_index=-100); input shape [4, 10], target shape [4]")
    assert str(deferred.value).startswith(msg + f" [raised by an earlier call of {name}()")
    assert y.shape == (() if reduction != "none" else (4,))
    fn(x, tg.tensor(np.array([1, -100, 9, 0])), reduction=reduction)  # valid: a check that passes
    assert device_checks.pending_count() == 1
    device_checks.flush()


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


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("rows,bad_at", REDUCE_CASES + [(100000, ((77777, 12), (99999, -5)))])
def test_cuda_reduce_kernel_matches_the_reference(device, dtype, rows, bad_at):
    """The single-block reduce on the GPU (the tree over 256 threads, float16 stores)."""
    if device != "cuda":
        pytest.skip("CUDA kernels: the cpu case is the reference itself")
    import cupy as cp
    loss, wt, t = _rows_case(rows, dtype, bad_at)
    tol = dict(rtol=2e-3, atol=0) if dtype == "float16" else dict(rtol=1e-5 if dtype == "float32" else 1e-12, atol=0)
    for reduction in ("none", "sum", "mean"):
        for check in (False, True):
            got = FL.class_loss_reduce(cp.asarray(loss), cp.asarray(wt), cp.asarray(t), 5, -100, reduction,
                                       np.dtype(dtype), check)
            want = FL.class_loss_reduce_ref(loss, wt, t, 5, -100, reduction, np.dtype(dtype), check)
            for g, w in zip(got, want):
                assert (g is None) == (w is None)
                if w is not None:
                    assert g.shape == () and g.dtype == w.dtype
                    np.testing.assert_allclose(g.get().astype(np.float64), w.astype(np.float64), **tol)


@pytest.mark.cuda
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cuda_target_check_deferred_and_eager(device, reduction):
    """On CUDA the reduce kernel's flag is the one pending check, raised at the next read with the
    CPU's message; eager mode raises at the call; a valid call matches the CPU's values."""
    if device != "cuda":
        pytest.skip("needs CUDA")
    x = _rng.normal(size=(6, 10)).astype(np.float32)
    bad_t = np.array([1, -100, 10, -1, 3, 12])
    want = None
    with pytest.raises(IndexError) as cpu:
        L.cross_entropy(tg.tensor(x), tg.tensor(bad_t), reduction=reduction)
    xc, tc = tg.tensor(x, device="cuda"), tg.tensor(bad_t, device="cuda")
    device_checks.discard()
    L.cross_entropy(xc, tc, reduction=reduction)
    assert device_checks.pending_count() == 1
    with pytest.raises(IndexError) as deferred:
        tg.cuda.synchronize()
    assert str(deferred.value).startswith(str(cpu.value) + " [raised by an earlier call of cross_entropy()")
    tg.cuda.set_eager_checks(True)
    try:
        with pytest.raises(IndexError) as eager:
            L.cross_entropy(xc, tc, reduction=reduction)
    finally:
        tg.cuda.set_eager_checks(False)
    assert str(eager.value) == str(cpu.value)
    good = np.array([1, -100, 9, 0, 3, 2])
    for w in (None, _rng.uniform(0.5, 2, size=10).astype(np.float32)):
        kw = {} if w is None else {"weight": tg.tensor(w)}
        want = L.cross_entropy(tg.tensor(x), tg.tensor(good), reduction=reduction, label_smoothing=0.1, **kw)
        kw = {} if w is None else {"weight": tg.tensor(w, device="cuda")}
        got = L.cross_entropy(xc, tg.tensor(good, device="cuda"), reduction=reduction, label_smoothing=0.1, **kw)
        np.testing.assert_allclose(got.numpy(force=True), want.numpy(), rtol=1e-5, atol=1e-6)
    all_ignored = L.cross_entropy(tg.tensor(x, device="cuda", requires_grad=True),
                                  tg.tensor(np.full(6, -100), device="cuda"))
    assert np.isnan(all_ignored.item())


@pytest.mark.cuda
@pytest.mark.parametrize("fn", [L.cross_entropy, L.nll_loss])
def test_cuda_target_and_weight_on_another_device_raise(device, fn):
    """The target and the class weights must be on the input's device (they reach the kernels as
    arrays): a CPU target for a CUDA input raises, naming the op and both devices, as PyTorch
    does, instead of a silent host-to-device copy."""
    if device != "cuda":
        pytest.skip("needs a CUDA input and a CPU target")
    x = tg.tensor(_rng.normal(size=(4, 5)).astype(np.float32), device="cuda", requires_grad=True)
    t = tg.tensor(np.array([0, 1, 2, 3]))
    name = fn.__name__
    with pytest.raises(RuntimeError, match=rf"{name}.*same device.*(cuda:0.*cpu|cpu.*cuda:0)"):
        fn(x, t)
    with pytest.raises(RuntimeError, match=rf"{name}.*same device"):
        fn(x, t.to("cuda"), weight=tg.ones(5))
    fn(x, t.to("cuda"), weight=tg.ones(5, device="cuda")).backward()   # all on the GPU: fine
    assert x.grad is not None


def test_target_device_is_checked_before_the_op_runs(monkeypatch):
    """On one device the check passes through check_same_device with input, target and weight."""
    seen = []
    real = L.check_same_device
    monkeypatch.setattr(L, "check_same_device", lambda op, arrays: (seen.append((op, len(arrays))), real(op, arrays)))
    x = tg.tensor(_rng.normal(size=(4, 5)).astype(np.float32))
    t = tg.tensor(np.array([0, 1, 2, 3]))
    L.cross_entropy(x, t, weight=tg.ones(5))
    L.nll_loss(x, t)
    assert seen == [("cross_entropy", 3), ("nll_loss", 2)]
