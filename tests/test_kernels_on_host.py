"""The CUDA kernels' math run on the CPU: each kernels/*.cu source, compiled as C++ by the host
compiler with the few CUDA names it uses stood in for (one thread walking the grid-stride loop
over every element), is called through ctypes and compared with its NumPy reference.

This checks what NVRTC's compile cannot: the kernels' index arithmetic, gate layout, in-place
aliasing and formulas, on machines without a GPU (CI). What it cannot check is the GPU itself
(launch configuration, float16 conversions, the CUDA math library); tests/test_kernels.py and the
device tests do that on a GPU.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess

import numpy as np
import pytest

from tensorgrad import kernels as K
from tensorgrad.fused import activation as A
from tensorgrad.fused import rnn_cells
from tensorgrad.optim import _fused as optim_fused

from oracle import rand

CXX = shutil.which("g++") or shutil.which("clang++")
pytestmark = pytest.mark.skipif(CXX is None, reason="needs a host C++ compiler (g++ or clang++)")

# what the kernels use of CUDA, for one host thread: blockIdx.x * blockDim.x + threadIdx.x = 0
# and a stride blockDim.x * gridDim.x = 1 make TG_FOR_EACH visit every element in order (and
# blockIdx.y = 0, gridDim.y = 1 every parameter of a multi-tensor kernel); a block's shared memory
# is the one thread's own, and a barrier with one thread does nothing
_PRELUDE = """
#include <math.h>
#include <string.h>
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, sizeof f); return f; }
static inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, sizeof d); return d; }
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__
static inline void __syncthreads() {}
#define __launch_bounds__(...)
double tg_smem[1 << 16];  // the host's `extern __shared__ double tg_smem[]` (dynamic shared memory)
struct tg_host_dim { long long x, y; };
static const tg_host_dim blockIdx = {0, 0}, threadIdx = {0, 0}, blockDim = {1, 1}, gridDim = {1, 1};
"""


@pytest.fixture(scope="module")
def host_library(tmp_path_factory):
    built = {}

    def build(name: str, dtype: str):
        key = (name, dtype)
        if key not in built:
            src = _PRELUDE + K.source(name)
            digest = hashlib.sha1((src + dtype).encode()).hexdigest()[:12]
            out = tmp_path_factory.mktemp("kernels") / f"{name}_{dtype}_{digest}.so"
            cpp = out.with_suffix(".cpp")
            cpp.write_text(src)
            cmd = [CXX, "-O1", "-shared", "-fPIC", "-x", "c++", f"-D{K._DTYPE_MACROS[dtype]}", str(cpp),
                   "-o", str(out)]
            res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
            assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr}"
            built[key] = ctypes.CDLL(str(out))
        return built[key]
    return build


# A host harness with real threads, for kernels that cooperate within a block (shared memory,
# __syncthreads, reduction trees), which the one-thread harness above never exercises: the
# shared arrays are shared (function statics), threadIdx is per thread, __syncthreads a barrier
# over the block's threads, and tg_launch runs a grid's blocks one after another.
THREADED_PRELUDE = """
#include <math.h>
#include <string.h>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, sizeof f); return f; }
static inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, sizeof d); return d; }
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
#define __launch_bounds__(...)
struct tg_host_dim { long long x, y; };
static thread_local tg_host_dim threadIdx = {0, 0};
static tg_host_dim blockIdx = {0, 0}, blockDim = {1, 1}, gridDim = {1, 1};
struct tg_barrier {
    std::mutex m; std::condition_variable cv; long long n = 1, waiting = 0, generation = 0;
    void wait() {
        std::unique_lock<std::mutex> lock(m);
        long long gen = generation;
        if (++waiting == n) { waiting = 0; ++generation; cv.notify_all(); return; }
        cv.wait(lock, [&] { return gen != generation; });
    }
};
static tg_barrier tg_bar;
static inline void __syncthreads() { tg_bar.wait(); }
// body() as a grid of gx blocks of (bx, by) threads, the blocks one after another
template <class F> static void tg_launch(long long gx, long long bx, long long by, F body) {
    gridDim.x = gx; blockDim.x = bx; blockDim.y = by; tg_bar.n = bx * by;
    for (long long b = 0; b < gx; ++b) {
        blockIdx.x = b;
        std::vector<std::thread> pool;
        for (long long i = 0; i < bx * by; ++i)
            pool.emplace_back([=] { threadIdx.x = i % bx; threadIdx.y = i / bx; body(); });
        for (auto& t : pool) t.join();
    }
}
"""


@pytest.fixture(scope="module")
def threaded_library(tmp_path_factory):
    """build(name, dtype, launcher): kernels/<name>.cu under THREADED_PRELUDE, with `launcher`
    (C++ defining extern "C" entry points that call tg_launch) appended, as a ctypes library."""
    if CXX is None:
        pytest.skip("needs a host C++ compiler (g++ or clang++)")
    built = {}

    def build(name: str, dtype: str, launcher: str):
        src = THREADED_PRELUDE + K.source(name) + launcher
        digest = hashlib.sha1((src + dtype).encode()).hexdigest()[:12]
        if digest not in built:
            out = tmp_path_factory.mktemp("threaded") / f"{name}_{dtype}_{digest}.so"
            cpp = out.with_suffix(".cpp")
            cpp.write_text(src)
            cmd = [CXX, "-O1", "-std=c++17", "-shared", "-fPIC", "-pthread", "-x", "c++",
                   f"-D{K._DTYPE_MACROS[dtype]}", str(cpp), "-o", str(out)]
            res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
            assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr}"
            built[digest] = ctypes.CDLL(str(out))
        return built[digest]
    return build


def _call(lib, function, arrays, *ints, reals=(), flags=(), acc=None):
    """function(*arrays, *ints as long long, *reals as acc_t, *flags as int); acc_t is the math type
    of `acc` (a dtype), by default of the first array's dtype."""
    fn = getattr(lib, function)
    fn.restype = None
    acc = np.dtype(acc if acc is not None else arrays[0].dtype)
    fn.argtypes = ([ctypes.c_void_p] * len(arrays) + [ctypes.c_longlong] * len(ints)
                   + [ctypes.c_double if acc == np.float64 else ctypes.c_float] * len(reals)
                   + [ctypes.c_int] * len(flags))
    for a in arrays:
        assert a.flags.c_contiguous
    fn(*[a.ctypes.data for a in arrays], *ints, *reals, *[int(f) for f in flags])


TOL = {"float32": dict(rtol=2e-6, atol=2e-6), "float64": dict(rtol=1e-13, atol=1e-13)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_kernels_match_the_reference(host_library, dtype):
    lib = host_library("rnn_cells", dtype)
    b, h = 5, 7
    z, c_prev = rand(b, 4 * h, dtype=dtype, low=-5, high=5), rand(b, h, dtype=dtype)
    z[0] = 50.0  # saturated gates
    act_r, h_r, c_r = rnn_cells._lstm_forward_ref(z, c_prev, np.empty_like(z), np.empty_like(c_prev),
                                                  np.empty_like(c_prev))
    act = z.copy()                                   # in place, as the layer op calls it
    hk, ck = np.empty_like(c_prev), np.empty_like(c_prev)
    _call(lib, "lstm_cell_forward", [act, c_prev, act, hk, ck], b * h, h)
    for got, want in ((act, act_r), (hk, h_r), (ck, c_r)):
        np.testing.assert_allclose(got, want, **TOL[dtype])

    dh, dc = rand(b, h, dtype=dtype), rand(b, h, dtype=dtype)
    dz_r, dcp_r = rnn_cells._lstm_backward_ref(act_r, c_prev, c_r, dh, dc.copy(), np.empty_like(z),
                                               np.empty_like(c_prev))
    dz, dck = np.empty_like(z), dc.copy()            # dc_prev written over dc
    _call(lib, "lstm_cell_backward", [act_r, c_prev, c_r, dh, dck, dz, dck], b * h, h)
    np.testing.assert_allclose(dz, dz_r, **TOL[dtype])
    np.testing.assert_allclose(dck, dcp_r, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gru_kernels_match_the_reference(host_library, dtype):
    lib = host_library("rnn_cells", dtype)
    b, h = 4, 6
    gi, gh, h_prev = (rand(b, 3 * h, dtype=dtype, low=-4, high=4), rand(b, 3 * h, dtype=dtype),
                      rand(b, h, dtype=dtype))
    act_r, h_r = rnn_cells._gru_forward_ref(gi, gh, h_prev, np.empty_like(gi), np.empty_like(h_prev))
    act, hk = gi.copy(), np.empty_like(h_prev)
    _call(lib, "gru_cell_forward", [act, gh, h_prev, act, hk], b * h, h)
    np.testing.assert_allclose(act, act_r, **TOL[dtype])
    np.testing.assert_allclose(hk, h_r, **TOL[dtype])

    dh = rand(b, h, dtype=dtype)
    gh_n = np.ascontiguousarray(gh[:, 2 * h:])
    dgi_r, dgh_r, dhp_r = rnn_cells._gru_backward_ref(act_r, gh_n, h_prev, dh.copy(), np.empty_like(gi),
                                                      np.empty_like(gi), np.empty_like(h_prev))
    dgi, dgh, dhk = np.empty_like(gi), np.empty_like(gi), dh.copy()   # dh_prev written over dh
    _call(lib, "gru_cell_backward", [act_r, gh_n, h_prev, dhk, dgi, dgh, dhk], b * h, h)
    for got, want in ((dgi, dgi_r), (dgh, dgh_r), (dhk, dhp_r)):
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_kernels_match_the_reference(host_library, dtype, approximate):
    lib = host_library("activation", dtype)
    x = rand(257, dtype=dtype, low=-8, high=8)
    g = rand(257, dtype=dtype)
    form = "tanh" if approximate == "tanh" else "erf"
    y, dx = np.empty_like(x), np.empty_like(x)
    _call(lib, f"gelu_{form}_forward", [x, y], x.size)
    _call(lib, f"gelu_{form}_backward", [x, g, dx], x.size)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y, A.gelu_forward_ref(x, approximate), **tol)
    np.testing.assert_allclose(dx, A.gelu_backward_ref(x, g, approximate), **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("momentum,dampening,weight_decay,nesterov,maximize", [
    (0.0, 0.0, 0.0, False, False), (0.9, 0.0, 1e-2, True, False), (0.8, 0.3, 0.0, False, True)])
def test_sgd_kernel_matches_the_reference(host_library, dtype, momentum, dampening, weight_decay, nesterov,
                                          maximize):
    lib = host_library("optim", dtype)
    p, g = rand(300, dtype=dtype), rand(300, dtype=dtype)
    use_buf = momentum != 0
    for first in (True, False):                      # the first step sets the buffer, later ones blend
        buf = rand(300, dtype=dtype)
        p_r, buf_r = p.copy(), buf.copy()
        optim_fused._sgd_ref(p_r, g, buf_r if use_buf else None, 0.1, momentum, dampening, weight_decay,
                             first, nesterov, maximize)
        p_k, buf_k = p.copy(), buf.copy()
        _call(lib, "sgd_step", [p_k, g, buf_k], p.size, reals=(0.1, momentum, 1 - dampening, weight_decay),
              flags=(use_buf, first, nesterov, maximize))
        np.testing.assert_allclose(p_k, p_r, **TOL[dtype])
        np.testing.assert_allclose(buf_k, buf_r if use_buf else buf, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta1,weight_decay,decoupled,amsgrad,maximize", [
    (0.9, 0.0, False, False, False), (0.9, 1e-2, False, True, True), (0.3, 1e-2, True, True, False)])
def test_adam_kernel_matches_the_reference(host_library, dtype, beta1, weight_decay, decoupled, amsgrad, maximize):
    lib = host_library("optim", dtype)
    n, lr, beta2, eps, step = 300, 1e-2, 0.999, 1e-8, 3
    p, g = rand(n, dtype=dtype), rand(n, dtype=dtype)
    m, v, vmax = rand(n, dtype=dtype), rand(n, dtype=dtype, low=0, high=1), rand(n, dtype=dtype, low=0, high=1)
    g[7] = np.nan                       # propagates into every state and p, amsgrad's maximum too
    vmax[11] = np.nan                   # a NaN already in the maximum stays
    step_size, bc2_sqrt = lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5
    ref = [a.copy() for a in (p, m, v, vmax)]
    optim_fused._adam_ref(ref[0], g, ref[1], ref[2], ref[3] if amsgrad else None, lr, beta1, beta2, eps,
                          weight_decay, step_size, bc2_sqrt, decoupled, maximize)
    got = [a.copy() for a in (p, m, v, vmax)]
    _call(lib, "adam_step", [got[0], g, got[1], got[2], got[3]], n,
          reals=(1 - beta1, beta2, 1 - beta2, eps, weight_decay, 1 - lr * weight_decay, step_size, bc2_sqrt),
          flags=(decoupled, amsgrad, maximize))
    for name, a, b in zip(("p", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"), got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == "float32" else 1e-13, atol=1e-6 if dtype ==
                                   "float32" else 1e-14, err_msg=name)
    assert np.isnan(got[0][7]) and (not amsgrad or np.isnan(got[3][7]) and np.isnan(got[0][11]))


def _table(groups):
    """The multi-tensor kernels' address table (int64, one row per parameter) and sizes."""
    table = np.array([[a.ctypes.data for a in arrays] for arrays in groups], dtype=np.int64)
    return table, np.array([arrays[0].size for arrays in groups], dtype=np.int64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multi_tensor_sgd_kernel_updates_every_parameter(host_library, dtype):
    lib = host_library("optim", dtype)
    sizes = (300, 1, 0, 57)
    params = [rand(n, dtype=dtype) for n in sizes]
    grads = [rand(n, dtype=dtype) for n in sizes]
    bufs = [rand(n, dtype=dtype) for n in sizes]
    want = [(p.copy(), b.copy()) for p, b in zip(params, bufs)]
    for (p, b), g in zip(want, grads):
        optim_fused._sgd_ref(p, g, b, 0.1, 0.9, 0.2, 1e-2, False, False, False)
    table, n = _table(list(zip(params, grads, bufs)))
    _call(lib, "sgd_step_multi", [table, n], len(sizes), reals=(0.1, 0.9, 0.8, 1e-2), flags=(True, False, False, False),
          acc=dtype)
    for (p_r, b_r), p, b in zip(want, params, bufs):
        np.testing.assert_allclose(p, p_r, **TOL[dtype])
        np.testing.assert_allclose(b, b_r, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multi_tensor_adam_kernel_updates_every_parameter(host_library, dtype):
    lib = host_library("optim", dtype)
    sizes = (200, 3, 64)
    lr, beta1, beta2, eps, wd, step = 1e-2, 0.9, 0.999, 1e-8, 1e-2, 2
    state = [[rand(n, dtype=dtype), rand(n, dtype=dtype), rand(n, dtype=dtype),
              rand(n, dtype=dtype, low=0, high=1), rand(n, dtype=dtype, low=0, high=1)] for n in sizes]
    step_size, bc2_sqrt = lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5
    want = [[a.copy() for a in s] for s in state]
    for p, g, m, v, vmax in want:
        optim_fused._adam_ref(p, g, m, v, vmax, lr, beta1, beta2, eps, wd, step_size, bc2_sqrt, True, False)
    table, n = _table(state)
    _call(lib, "adam_step_multi", [table, n], len(sizes),
          reals=(1 - beta1, beta2, 1 - beta2, eps, wd, 1 - lr * wd, step_size, bc2_sqrt), flags=(True, True, False),
          acc=dtype)
    for got, ref in zip(state, want):
        for a, b in zip(got, ref):
            np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == "float32" else 1e-13,
                                       atol=1e-6 if dtype == "float32" else 1e-14)
