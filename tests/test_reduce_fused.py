"""One-launch sums over all dims but one contiguous run (tensorgrad/fused/reduce.py,
kernels/reduce.cu: the bias gradients of a step) and ReLU's one-launch backward
(kernels/activation.cu relu_backward).

The references against NumPy's sums and PyTorch; the kernels compiled on the host, with real
threads for the block trees (tests/test_kernels_on_host.py's threaded harness), against the
references; on a GPU the Sum op and relu's backward through the kernels against the CPU
(skipped here without one).
"""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.fused import activation as FA
from tensorgrad.fused import reduce as FR
from oracle import check_torch, needs_torch, to_tg, torch
from test_kernels_on_host import _call, host_library, threaded_library  # noqa: F401  (fixtures)

_rng = np.random.default_rng(5)

# (shape, dims) whose kept dims are one contiguous run; B == 1 (columns) and B > 1 (channels)
RUNS = [((64, 10), (0,)), ((3, 7, 128), (0, 1)), ((8, 5, 6, 6), (0, 2, 3)), ((2, 3, 4, 5), (0, 3)),
        ((9, 33), (1,)), ((4, 70, 2), (0, 2)), ((1, 1), (0,)), ((5, 1), (0,))]


# ---------------------------------------------------------------- the split and the reference
def test_split_finds_the_kept_run():
    assert FR.split((64, 10), (0,)) == (64, 10, 1)
    assert FR.split((8, 5, 6, 6), (0, 2, 3)) == (8, 5, 36)
    assert FR.split((2, 3, 4, 5), (0, 3)) == (2, 12, 5)
    assert FR.split((9, 33), (1,)) == (1, 9, 33)
    assert FR.split((2, 3, 4), (1,)) is None     # kept dims 0 and 2 are not one run
    assert FR.split((2, 3), (0, 1)) is None      # nothing kept: a full sum
    assert FR.split((2, 3), ()) is None          # nothing reduced


def test_numpy_arrays_never_take_the_kernels():
    assert not FR.uses_kernel(np.ones((64, 10), np.float32), (0,))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape,dims", RUNS)
def test_reference_is_the_sum_over_the_dims(dtype, shape, dims):
    x = _rng.normal(size=shape).astype(dtype)
    a, c, b = FR.split(shape, dims)
    got = FR.sum_outer_inner_ref(x.reshape(a, c, b))
    assert got.dtype == x.dtype and got.shape == (c,)
    want = x.astype(np.float64).sum(axis=dims).reshape(-1)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.astype(np.float64), want, **tol)


# ---------------------------------------------------------------- the kernels on host threads
_LAUNCHER = """
extern "C" void launch_sum_columns(long long gx, long long by, const scalar_t* x, scalar_t* out, long long A,
                                   long long C) {
    tg_launch(gx, TG_SUM_TILE, by, [=] { sum_columns(x, out, A, C); });
}
extern "C" void launch_sum_channels(long long gx, long long bx, const scalar_t* x, scalar_t* out, long long A,
                                    long long C, long long B) {
    tg_launch(gx, bx, 1, [=] { sum_channels(x, out, A, C, B); });
}
"""


@pytest.fixture(scope="module")
def reduce_kernels(threaded_library):
    def build(dtype):
        lib = threaded_library("reduce", dtype, _LAUNCHER)
        for fn in (lib.launch_sum_columns, lib.launch_sum_channels):
            fn.restype = None
        lib.launch_sum_columns.argtypes = [ctypes.c_longlong] * 2 + [ctypes.c_void_p] * 2 + [ctypes.c_longlong] * 2
        lib.launch_sum_channels.argtypes = [ctypes.c_longlong] * 2 + [ctypes.c_void_p] * 2 + [ctypes.c_longlong] * 3
        return lib
    return build


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("a,c,grid,rows", [(64, 10, 1, 8), (37, 70, 3, 8), (37, 70, 1, 8), (5, 33, 2, 2),
                                           (1, 3, 1, 1), (300, 40, 1, 4)])
def test_sum_columns_on_host_threads(reduce_kernels, dtype, a, c, grid, rows):
    """Tiles of 32 columns, blockDim.y rows per column, fewer blocks than tiles (grid-stride),
    ragged last tile and row count."""
    lib = reduce_kernels(dtype)
    x = _rng.normal(size=(a, c)).astype(dtype)
    out = np.full(c, 7.0, dtype)
    lib.launch_sum_columns(grid, rows, x.ctypes.data, out.ctypes.data, a, c)
    np.testing.assert_allclose(out, FR.sum_outer_inner_ref(x.reshape(a, c, 1)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("a,c,b,grid,threads", [(8, 5, 36, 5, 256), (8, 5, 36, 2, 16), (3, 4, 1, 4, 8),
                                                (2, 3, 700, 3, 64), (1, 1, 1, 1, 1)])
def test_sum_channels_on_host_threads(reduce_kernels, dtype, a, c, b, grid, threads):
    lib = reduce_kernels(dtype)
    x = _rng.normal(size=(a, c, b)).astype(dtype)
    out = np.full(c, 7.0, dtype)
    lib.launch_sum_channels(grid, threads, x.ctypes.data, out.ctypes.data, a, c, b)
    np.testing.assert_allclose(out, FR.sum_outer_inner_ref(x), rtol=1e-5, atol=1e-5)


def test_dispatch_limits_match_the_kernels_launch_shape():
    """The per-thread bound: blockDim.y = 256 / 32 rows share a column; 256 threads a channel."""
    assert FR._THREADS // FR._TILE == 8
    src = open(tg.kernels.kernel_path("reduce")).read()
    assert f"#define TG_SUM_THREADS {FR._THREADS}" in src and f"#define TG_SUM_TILE {FR._TILE}" in src


# ---------------------------------------------------------------- relu's backward
def _relu_case(dtype):
    y = np.maximum(_rng.normal(size=(7, 9)), 0).astype(dtype)
    y[0, :3] = [np.nan, 0.0, -0.0]
    g = _rng.normal(size=y.shape).astype(dtype)
    g[1, :2] = [np.inf, np.nan]
    y[1, :2] = [0.0, 0.0]              # masked: inf/NaN gradients stay out
    g[2, 0], y[2, 0] = np.inf, 1.5     # passed: an inf gradient where y > 0
    return y, g


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_backward_reference_is_threshold_backward(dtype):
    y, g = _relu_case(dtype)
    got = FA.relu_backward_ref(y, g)
    want = np.where((y <= 0), 0, g).astype(dtype)     # NaN y: not <= 0, so g passes
    np.testing.assert_array_equal(got, want)
    assert got[0, 0] == g[0, 0] and got[1, 0] == 0 and got[1, 1] == 0 and got[2, 0] == np.inf


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_backward_kernel_on_host(host_library, dtype):
    lib = host_library("activation", dtype)
    y, g = _relu_case(dtype)
    dx = np.full(y.shape, 7.0, dtype)
    _call(lib, "relu_backward", [y, g, dx], y.size)
    np.testing.assert_array_equal(dx, FA.relu_backward_ref(y, g))


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_gradient_at_nan_and_zero_matches_torch(device, dtype):
    """PyTorch's threshold_backward masks where y <= 0: a NaN input passes its gradient."""
    x = np.array([np.nan, 1.0, -1.0, 0.0, -0.0, 2.0, 3.0], dtype)
    g = np.array([1.0, np.inf, np.nan, 2.0, 3.0, -1.0, np.nan], dtype)
    t = to_tg(x, device)
    t.relu().backward(to_tg(g, device))
    p = torch.tensor(x, requires_grad=True)
    p.relu().backward(torch.tensor(g))
    np.testing.assert_array_equal(t.grad.cpu().numpy(), p.grad.numpy())
    check_torch(lambda m, u: m.relu(u), [_rng.normal(size=(5, 4)).astype(dtype)], device)


# ---------------------------------------------------------------- on a GPU
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape,dims", RUNS + [((2000, 10), (0,)), ((512, 64, 26, 26), (0, 2, 3))])
def test_cuda_sum_matches_the_cpu(device, dtype, shape, dims):
    if device != "cuda":
        pytest.skip("CUDA only: on the CPU the Sum op is NumPy's sum")
    x = _rng.normal(size=shape).astype(dtype)
    for keepdim in (False, True):
        got = to_tg(x, "cuda").sum(dims, keepdim=keepdim)
        want = x.astype(np.float64).sum(axis=dims, keepdims=keepdim)
        assert got.dtype == getattr(tg, dtype) and tuple(got.shape) == want.shape
        tol = dict(rtol=2e-3, atol=5e-2) if dtype == "float16" else dict(rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(got.cpu().numpy().astype(np.float64), want, **tol)


@pytest.mark.cuda
def test_cuda_bias_gradients_take_one_launch(device, kernel_calls):
    """The bias gradients of Linear and Conv2d on CUDA are one reduce-kernel launch each, and
    relu's backward one activation-kernel launch."""
    if device != "cuda":
        pytest.skip("CUDA only")
    calls = kernel_calls
    lin = tg.nn.Linear(20, 30).to("cuda")
    y = lin(to_tg(_rng.normal(size=(64, 20)).astype(np.float32), "cuda")).relu()
    y.sum().backward()
    assert ("reduce", "sum_columns") in calls and ("activation", "relu_backward") in calls
    np.testing.assert_array_equal(lin.bias.grad.cpu().numpy(), (y.detach().cpu().numpy() > 0).sum(0))
    calls.clear()
    conv = tg.nn.Conv2d(3, 8, 3).to("cuda")
    conv(to_tg(_rng.normal(size=(4, 3, 10, 10)).astype(np.float32), "cuda")).sum().backward()
    assert ("reduce", "sum_channels") in calls
    np.testing.assert_allclose(conv.bias.grad.cpu().numpy(), np.full(8, 4 * 8 * 8, np.float32))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_cuda_relu_backward_matches_the_reference(device, dtype):
    if device != "cuda":
        pytest.skip("CUDA only")
    import cupy as cp
    y, g = _relu_case(dtype)
    got = FA.relu_backward(cp.asarray(y), cp.asarray(g))
    np.testing.assert_array_equal(got.get(), FA.relu_backward_ref(y, g))
    gt = cp.asarray(np.ascontiguousarray(g.T)).T    # a non-contiguous gradient
    np.testing.assert_array_equal(FA.relu_backward(cp.asarray(y), gt).get(), FA.relu_backward_ref(y, g))
