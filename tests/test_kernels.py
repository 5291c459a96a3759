"""The kernel registry (tensorgrad.kernels): sources, NVRTC compile of every kernels/*.cu, the NumPy
references (erf and GELU) against independent math and PyTorch, and on a GPU the kernels against
the references."""
from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import kernels as K
from tensorgrad.fused import activation as A

from oracle import torch

ARCHS = ("compute_80", "compute_90")
KERNELS = K.list_kernels()
COMPILE_CASES = [(name, arch, dt) for name in KERNELS for arch in ARCHS for dt in K.kernel_dtypes(name)]
CUDA_REASON = tg.cuda.unavailable_reason()
needs_gpu = pytest.mark.skipif(CUDA_REASON is not None, reason=f"needs a CUDA GPU: {CUDA_REASON}")


def _nvrtc_reason():
    try:
        from cupy.cuda import nvrtc
        nvrtc.getVersion()  # loads libnvrtc: fails when the nvidia-cuda-nvrtc wheel is missing
    except Exception as e:
        return f"CuPy's NVRTC is not usable ({type(e).__name__}: {e}); pip install 'tensorgrad-autodiff[cuda13]'"
    return None


NVRTC_REASON = _nvrtc_reason()
needs_nvrtc = pytest.mark.skipif(NVRTC_REASON is not None, reason=str(NVRTC_REASON))


# ---------------------------------------------------------------- registry: sources
def test_sources_found_in_checkout():
    assert "activation" in KERNELS
    assert K.kernel_dir().name in ("kernels", "_kernels")
    for name in KERNELS:
        src = K.source(name)
        assert not re.search(r'^\s*#\s*include\s+"', src, re.M), "local includes are pasted in"
        assert K.kernel_functions(name), f"{name}.cu has no extern \"C\" __global__ kernels"


def test_activation_metadata():
    assert K.kernel_dtypes("activation") == ("float16", "float32", "float64")
    assert set(K.kernel_functions("activation")) == {
        "gelu_erf_forward", "gelu_erf_backward", "gelu_tanh_forward", "gelu_tanh_backward",
        "bias_relu_forward", "bias_gelu_erf_forward", "bias_gelu_tanh_forward", "relu_backward"}


def test_source_lookups_are_cached():
    assert K.source("activation") is K.source("activation")
    assert K.kernel_functions("activation") is K.kernel_functions("activation")


def test_unknown_kernel_and_dtype():
    with pytest.raises(KeyError, match="no kernel file nope.cu"):
        K.source("nope")
    with pytest.raises(TypeError, match="does not support int32"):
        K.compile_options("activation", np.int32)
    assert K.compile_options("activation", tg.float64)[0] == "-DTG_FLOAT64"  # tensorgrad dtypes work


@pytest.mark.skipif(CUDA_REASON is None, reason="checks the error without a GPU")
def test_get_kernel_without_gpu_says_why():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        K.get_kernel("activation", "gelu_erf_forward", np.float32)


@pytest.fixture
def tmp_kernels(tmp_path, monkeypatch):
    """A kernel folder of the test's own, in place of the real one."""
    monkeypatch.setattr(K, "kernel_dirs", lambda: [tmp_path])
    K.clear_cache()
    yield tmp_path
    K.clear_cache()


def test_include_is_pasted_once_with_line_markers(tmp_kernels):
    (tmp_kernels / "inc.cuh").write_text("#define TWO 2\n")
    (tmp_kernels / "k.cu").write_text('// dtypes: float64\n#include "inc.cuh"\n#include "inc.cuh"\n'
                                      '#include <cstdint>\nextern "C" __global__ void k(double* x) { x[0] = TWO; }\n')
    src = K.source("k")
    assert src.count("#define TWO 2") == 1
    assert '#line 1 "inc.cuh"' in src and '#line 3 "k.cu"' in src
    assert "#include <cstdint>" in src  # system headers are left to the compiler
    assert K.kernel_dtypes("k") == ("float64",)
    assert K.kernel_functions("k") == ("k",)
    assert K.list_kernels() == ["k"]


@needs_nvrtc
def test_compile_error_names_the_file(tmp_kernels):
    (tmp_kernels / "bad.cu").write_text('extern "C" __global__ void bad() { undefined_name; }\n')
    with pytest.raises(RuntimeError, match=r"(?s)NVRTC failed on bad\.cu.*undefined_name"):
        K.compile_ptx("bad")


# ---------------------------------------------------------------- every kernel compiles (CI, no GPU)
@needs_nvrtc
@pytest.mark.parametrize("name,arch,dtype", COMPILE_CASES, ids=["-".join(c) for c in COMPILE_CASES])
def test_kernel_compiles_to_ptx(name, arch, dtype):
    ptx = K.compile_ptx(name, arch=arch, dtype=dtype)
    assert f".target sm_{arch.split('_')[1]}" in ptx
    for fn in K.kernel_functions(name):
        assert f".entry {fn}(" in ptx, f"{fn} missing from the PTX of {name}.cu"
    if dtype != "float64":
        assert ".f64" not in ptx.replace(".f64.", ""), f"{name}.cu computes in double for {dtype}"


# ---------------------------------------------------------------- erf / erfc references
def _probe_points():
    rng = np.random.default_rng(7)
    return np.concatenate([rng.uniform(-0.46875, 0.46875, 400), rng.uniform(-4, 4, 800),
                           rng.uniform(-27, 27, 400), [0.46875, -0.46875, 4.0, -4.0, 1e-20, -1e-20, 1e-300]])


def test_erf_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    xs = _probe_points()
    e, ec = A.erf(xs), A.erfc(xs)
    for x, a, b in zip(xs, e, ec):
        ref, refc = mpmath.erf(x), mpmath.erfc(x)
        assert abs((a - ref) / ref) < 2e-15, (x, a, ref)
        if refc > 1e-300:  # below that erfc is subnormal: absolute rounding only
            assert abs((b - refc) / refc) < 2e-15, (x, b, refc)


def test_erf_against_math_module():
    xs = _probe_points()
    np.testing.assert_allclose(A.erf(xs), [math.erf(v) for v in xs], rtol=2e-15, atol=0)
    np.testing.assert_allclose(A.erfc(xs), [math.erfc(v) for v in xs], rtol=1e-14, atol=1e-300)


def test_erf_special_values_and_dtypes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow/invalid warnings on inf, nan, huge
        x = np.array([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, -0.0])
        e, ec = A.erf(x), A.erfc(x)
    np.testing.assert_array_equal(e, [np.nan, 1, -1, 1, -1, 0, -0.0])
    assert np.signbit(e[-1])
    np.testing.assert_array_equal(ec, [np.nan, 0, 2, 0, 2, 1, 1])
    assert A.erf(np.float32(0.5)).dtype == np.float32
    assert A.erf(np.array([1, 2])).dtype == np.float64
    big = np.linspace(-3, 3, 100_001).reshape(1, -1, 1)  # spans several blocks, keeps its shape
    out = A.erf(big)
    assert out.shape == big.shape
    np.testing.assert_allclose(out.ravel()[::997], [math.erf(v) for v in big.ravel()[::997]], rtol=2e-15)


# ---------------------------------------------------------------- GELU references
def _gelu_exact_composed(x):
    return np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in np.asarray(x, np.float64).ravel()])


def _gelu_tanh_composed(x):
    x = np.asarray(x, np.float64)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _points(dtype):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(500) * 3, [0.0, -0.0, -1e-30, 1e-30, -5.0, -8.0, -12.0,
                                                        -40.0, 40.0, -1e4, 1e4, 3.0, -3.0]])
    return x.astype(dtype)


def test_gelu_reference_against_composed_math():
    x = np.linspace(-6, 6, 1201)
    np.testing.assert_allclose(A.gelu_forward(x), _gelu_exact_composed(x), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(A.gelu_forward(x, "tanh"), _gelu_tanh_composed(x), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_backward_is_the_derivative(approximate):
    x = np.linspace(-7, 7, 701) + 1e-3
    h = 1e-6
    fd = (A.gelu_forward(x + h, approximate) - A.gelu_forward(x - h, approximate)) / (2 * h)
    np.testing.assert_allclose(A.gelu_backward(x, np.ones_like(x), approximate), fd, rtol=1e-8, atol=1e-9)


def test_gelu_exact_tail_is_relatively_accurate():
    # x Phi(x) for x = -10: 1 + erf(x / sqrt 2) would cancel to 0; erfc keeps every digit
    assert A.gelu_forward(np.array([-10.0]))[0] == pytest.approx(-10 * 7.61985302416047e-24, rel=1e-13)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_reference_keeps_dtype_and_shape(dtype, approximate):
    for x in (np.zeros((2, 0, 3), dtype), np.array(1.5, dtype), np.ones((3, 4), dtype)[:, ::2]):
        y = A.gelu_forward(x, approximate)
        g = A.gelu_backward(x, np.ones_like(x), approximate)
        assert y.dtype == dtype and g.dtype == dtype
        assert y.shape == x.shape and g.shape == x.shape


def test_gelu_rejects_unknown_approximate():
    with pytest.raises(ValueError, match="approximate"):
        A.gelu_forward(np.ones(2), "erf")


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed (pip install torch==2.13.0)")
@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-12, 1e-14), (np.float32, 2e-6, 1e-6),
                                             (np.float16, 2e-3, 2e-3)])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_reference_against_torch(dtype, rtol, atol, approximate):
    x = _points(dtype)
    if dtype == np.float16:  # stay inside float16's range
        x = x[np.abs(x.astype(np.float32)) < 100]
    g = np.random.default_rng(5).standard_normal(x.shape).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    (gt,) = torch.autograd.grad(yt, xt, torch.tensor(g))
    y = A.gelu_forward(x, approximate)
    dx = A.gelu_backward(x, g, approximate)
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_allclose(y.astype(np.float64), yt.detach().numpy().astype(np.float64), rtol=rtol, atol=atol)
    np.testing.assert_allclose(dx.astype(np.float64), gt.numpy().astype(np.float64), rtol=rtol, atol=atol)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed (pip install torch==2.13.0)")
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_special_values_match_torch(approximate):
    x = np.array([-np.inf, np.inf, np.nan, -0.0, 0.0, 1e200, -1e200])
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    (gt,) = torch.autograd.grad(yt.sum(), xt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = A.gelu_forward(x, approximate)
        dx = A.gelu_backward(x, np.ones_like(x), approximate)
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(dx, gt.numpy())


# ---------------------------------------------------------------- the CUDA kernels (GPU only)
_GPU_TOL = {np.float64: (1e-12, 1e-13), np.float32: (2e-6, 2e-6), np.float16: (2e-3, 2e-3)}


@needs_gpu
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("n", [0, 1, 1000, (1 << 20) + 3])
def test_gelu_kernel_matches_reference(dtype, approximate, n):
    import cupy as cp
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    y = A.gelu_forward(cp.asarray(x), approximate)
    dx = A.gelu_backward(cp.asarray(x), cp.asarray(g), approximate)
    assert isinstance(y, cp.ndarray) and y.dtype == dtype and y.shape == x.shape
    assert isinstance(dx, cp.ndarray) and dx.dtype == dtype and dx.shape == x.shape
    rtol, atol = _GPU_TOL[dtype]
    np.testing.assert_allclose(y.get().astype(np.float64), A.gelu_forward(x, approximate).astype(np.float64),
                               rtol=rtol, atol=atol)
    np.testing.assert_allclose(dx.get().astype(np.float64),
                               A.gelu_backward(x, g, approximate).astype(np.float64), rtol=rtol, atol=atol)


@needs_gpu
@pytest.mark.cuda
def test_gelu_kernel_layouts():
    import cupy as cp
    x = np.linspace(-5, 5, 24).reshape(4, 6)
    xs = cp.asarray(x)[:, ::2]  # non-contiguous
    y = A.gelu_forward(xs)
    np.testing.assert_allclose(y.get(), A.gelu_forward(x[:, ::2]), rtol=1e-12, atol=1e-13)
    g = cp.asarray(np.float32(2.0))  # broadcast, other dtype: result in x's dtype
    dx = A.gelu_backward(xs, g)
    assert dx.dtype == np.float64 and dx.shape == (4, 3)
    np.testing.assert_allclose(dx.get(), A.gelu_backward(x[:, ::2], 2.0), rtol=1e-12, atol=1e-13)
    y0 = A.gelu_forward(cp.asarray(np.array(1.0, np.float32)))  # 0-d
    assert y0.shape == () and float(y0) == pytest.approx(0.8413447, rel=1e-6)
    special = A.gelu_forward(cp.asarray([np.nan, np.inf, -0.0]))
    assert np.isnan(special[0].get()) and special[1].get() == np.inf and special[2].get() == 0


@needs_gpu
@pytest.mark.cuda
def test_get_kernel_is_memoized():
    f1 = K.get_kernel("activation", "gelu_erf_forward", np.float32, 0)
    assert K.get_kernel("activation", "gelu_erf_forward", "float32", "cuda:0") is f1
    assert K.get_kernel("activation", "gelu_erf_forward", tg.float32) is f1 or tg.cuda.current_device() != 0
    f2 = K.get_kernel("activation", "gelu_erf_forward", np.float64, 0)
    assert f2 is not f1
    assert K._modules[("activation", "float32", 0)] is not K._modules[("activation", "float64", 0)]
    with pytest.raises(KeyError, match="no kernel 'nope'"):
        K.get_kernel("activation", "nope", np.float32, 0)
