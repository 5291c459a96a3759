"""Fused kernels: the one registry of the CUDA sources in kernels/*.cu, and each one's NumPy twin.

Each fused op is a pair with the same math: a NumPy reference (the CPU path, and the oracle in
tests) and a CUDA kernel. Callers use the dispatch functions at the bottom (``gelu_forward``,
``gelu_backward``), which pick the path from the array type.

Where the sources are: ``<repo>/kernels/`` in a checkout (also an editable install), and
``tensorgrad/_kernels/`` in an installed wheel (pyproject.toml maps kernels/ there).

How a kernel file is compiled (one rule for every file):
  * ``#include "x.cuh"`` of a file beside it is pasted in by ``source()``, so the text handed to
    NVRTC is complete: CuPy's on-disk compile cache is keyed on that text, and a pip-installed
    NVRTC needs no include path.
  * The element type is chosen by one macro, ``-DTG_FLOAT16`` / ``-DTG_FLOAT32`` / ``-DTG_FLOAT64``
    (kernels/common.cuh turns it into the typedefs ``scalar_t`` (storage) and ``acc_t`` (math)).
  * A ``// dtypes: float16 float32 float64`` line in the file says which dtypes it supports
    (float32 and float64 when absent); ``extern "C" __global__`` functions are its entry points.

``compile_ptx`` runs NVRTC alone (no GPU needed: CI checks every kernel compiles).
``get_kernel`` builds a ``cupy.RawModule`` once per (file, dtype, device) and hands out its
functions, memoized per (file, function, dtype, device).
"""
from __future__ import annotations

import math
import re
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import backend

_HERE = Path(__file__).resolve().parent
_DTYPE_MACROS = {"float16": "TG_FLOAT16", "float32": "TG_FLOAT32", "float64": "TG_FLOAT64"}
_DEFAULT_DTYPES = ("float32", "float64")
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"[ \t]*$', re.M)
_DTYPES_LINE = re.compile(r"^//[ \t]*dtypes:(.*)$", re.M)
_ENTRY = re.compile(r'extern\s+"C"\s+__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?void\s+(\w+)')


# ---------------------------------------------------------------- finding the sources
def kernel_dirs() -> list[Path]:
    """Folders searched for .cu files, in order: the installed copy, then a checkout's kernels/."""
    dirs = [_HERE / "_kernels"]
    # <repo>/kernels only when this really is a checkout (pyproject.toml beside the package),
    # never some unrelated `kernels` folder in site-packages
    if (_HERE.parent / "pyproject.toml").is_file():
        dirs.append(_HERE.parent / "kernels")
    return [d for d in dirs if d.is_dir()]


def kernel_dir() -> Path:
    """The folder the kernels are loaded from (RuntimeError if there is none)."""
    dirs = kernel_dirs()
    if not dirs:
        raise RuntimeError(f"tensorgrad kernels not found: neither {_HERE / '_kernels'} (installed wheel) "
                           f"nor {_HERE.parent / 'kernels'} (checkout) exists; reinstall tensorgrad")
    return dirs[0]


def list_kernels() -> list[str]:
    """Names of the kernel files (``activation`` for activation.cu), sorted."""
    return sorted(p.stem for p in kernel_dir().glob("*.cu"))


def kernel_path(name: str) -> Path:
    path = kernel_dir() / f"{name}.cu"
    if not path.is_file():
        raise KeyError(f"no kernel file {name}.cu in {kernel_dir()}; known: {', '.join(list_kernels())}")
    return path


@lru_cache(maxsize=None)
def source(name: str) -> str:
    """The complete source of kernels/<name>.cu, with its local includes pasted in (cached)."""
    path = kernel_path(name)
    return _expand(path.read_text(), path, set())


def _expand(text: str, path: Path, seen: set) -> str:
    def paste(m):
        inc = path.parent / m.group(1)
        if not inc.is_file():  # a system header: leave it to the compiler
            return m.group(0)
        if inc.name in seen:
            return f"// {m.group(1)}: already included"
        seen.add(inc.name)
        line = text.count("\n", 0, m.start()) + 2  # the line after the #include
        body = _expand(inc.read_text(), inc, seen)
        # #line keeps compiler messages pointing at the right file and line
        return f'#line 1 "{inc.name}"\n{body}\n#line {line} "{path.name}"'
    return _INCLUDE.sub(paste, text)


@lru_cache(maxsize=None)
def kernel_dtypes(name: str) -> tuple[str, ...]:
    """The dtypes a kernel file supports (its ``// dtypes:`` line)."""
    m = _DTYPES_LINE.search(kernel_path(name).read_text())
    names = tuple(m.group(1).split()) if m else _DEFAULT_DTYPES
    unknown = [d for d in names if d not in _DTYPE_MACROS]
    if unknown:
        raise ValueError(f"{name}.cu: unknown dtype(s) {unknown} in its '// dtypes:' line")
    return names


@lru_cache(maxsize=None)
def kernel_functions(name: str) -> tuple[str, ...]:
    """The ``extern "C" __global__`` entry points of a kernel file."""
    return tuple(_ENTRY.findall(source(name)))


def _dtype_name(dtype) -> str:
    """'float32' from a NumPy dtype, a type, a string or a tensorgrad dtype."""
    return np.dtype(getattr(dtype, "np", dtype)).name


def compile_options(name: str, dtype) -> tuple[str, ...]:
    """NVRTC options selecting `dtype` for kernels/<name>.cu (TypeError if it does not support it)."""
    dt = _dtype_name(dtype)
    if dt not in kernel_dtypes(name):
        raise TypeError(f"kernel {name}.cu does not support {dt}; it supports {', '.join(kernel_dtypes(name))}")
    return (f"-D{_DTYPE_MACROS[dt]}",)


# what cupy.RawModule (CuPy 14) adds on its own, so compile_ptx checks the same compilation
_CUPY_DEFAULT_OPTIONS = ("--std=c++17", "-ftz=true")


# ---------------------------------------------------------------- compiling
def compile_ptx(name: str, arch: str = "compute_80", dtype="float32") -> str:
    """PTX of kernels/<name>.cu for `arch` and `dtype` through NVRTC alone: needs no GPU."""
    try:
        from cupy.cuda import nvrtc
    except Exception as e:
        raise RuntimeError(f"compile_ptx needs CuPy's NVRTC binding (pip install 'tensorgrad-autodiff[cuda13]'): {e}")
    opts = [f"--gpu-architecture={arch}", *compile_options(name, dtype), *_CUPY_DEFAULT_OPTIONS]
    prog = nvrtc.createProgram(source(name), f"{name}.cu", [], [])
    try:
        try:
            nvrtc.compileProgram(prog, opts)
        except nvrtc.NVRTCError as e:
            raise RuntimeError(f"NVRTC failed on {name}.cu ({' '.join(opts)}): {e}\n"
                               f"{nvrtc.getProgramLog(prog)}") from None
        ptx = nvrtc.getPTX(prog)
        return ptx.decode() if isinstance(ptx, bytes) else ptx
    finally:
        nvrtc.destroyProgram(prog)


_lock = threading.Lock()
_modules: dict = {}  # (name, dtype, device index) -> cupy.RawModule
_functions: dict = {}  # (name, function, dtype, device index) -> cupy.RawKernel


def _device_index(device) -> int:
    if device is None:
        return backend.cupy().cuda.runtime.getDevice()
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    return backend.normalize_device(backend.as_device(device)).index


def get_kernel(name: str, function: str, dtype, device=None):
    """The compiled CUDA function `function` of kernels/<name>.cu for `dtype` on `device`.

    Compiled on first use (one RawModule per file, dtype and device, loaded on that device)
    and memoized: the same object comes back for the same key.
    """
    dt = _dtype_name(dtype)
    idx = _device_index(device)
    key = (name, function, dt, idx)
    fn = _functions.get(key)
    if fn is not None:
        return fn
    cp = backend.cupy()
    with _lock:
        fn = _functions.get(key)
        if fn is None:
            if function not in kernel_functions(name):
                raise KeyError(f"{name}.cu has no kernel {function!r}; it has {', '.join(kernel_functions(name))}")
            with cp.cuda.Device(idx):
                mod = _modules.get((name, dt, idx))
                if mod is None:
                    mod = _modules[(name, dt, idx)] = cp.RawModule(code=source(name),
                                                                   options=compile_options(name, dt))
                fn = _functions[key] = mod.get_function(function)  # compiles and loads here
    return fn


def clear_cache() -> None:
    """Forget compiled modules and cached sources (after editing a .cu file in a session)."""
    with _lock:
        _modules.clear()
        _functions.clear()
    for f in (source, kernel_dtypes, kernel_functions):
        f.cache_clear()


_THREADS = 256
_MAX_BLOCKS = 65536  # the kernels loop grid-stride, so any n fits


def _launch_elementwise(name: str, function: str, inputs, dtype):
    """Run an elementwise kernel f(in..., out, n) over same-shape CuPy arrays; returns out."""
    cp = backend._cupy
    x = inputs[0]
    with x.device:  # allocate and launch on x's device, whichever is current
        out = cp.empty(x.shape, dtype=dtype)
        n = out.size
        if n:
            args = [cp.ascontiguousarray(a) for a in inputs]  # the kernels index flat memory
            k = get_kernel(name, function, dtype, x.device.id)
            blocks = min((n + _THREADS - 1) // _THREADS, _MAX_BLOCKS)
            k((blocks,), (_THREADS,), (*args, out, np.int64(n)))
    return out


# ---------------------------------------------------------------- NumPy references
# erf / erfc in float64 from W. J. Cody, "Rational Chebyshev approximations for the error
# function", Math. Comp. 23 (1969) 631-637 (the coefficients of his CALERF routine): rational
# approximations on |x| <= 0.46875 (erf), 0.46875 < |x| <= 4 and |x| > 4 (erfc times exp(x^2)).
# Checked against mpmath in tests/test_kernels.py: relative error < 2e-15. NumPy has no erf;
# np.vectorize(math.erf) costs ~250 ns an element, this ~50 (benchmarks/reference_speed.py): the
# polynomials run in place on blocks that stay in cache.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
_INV_SQRT_PI = 0.56418958354775628695
_ERF_SMALL = 0.46875
_BLOCK = 32768  # elements per block: a few float64 temporaries of this size stay in L2


def _ratio(z, coef_p, coef_q):
    """Cody's rational form (((p[-1] z + p0) z + p1) ... z + p[-2]) / ((z + q0) z + ... + q[-1]), in place."""
    num = z * coef_p[-1]
    den = z + coef_q[0]
    num += coef_p[0]
    for p, q in zip(coef_p[1:-2], coef_q[1:-1]):
        num *= z
        num += p
        den *= z
        den += q
    num *= z
    num += coef_p[-2]
    den *= z
    den += coef_q[-1]
    num /= den
    return num


def _exp_neg_sq(y):
    """exp(-y*y) as exp(-h*h) * exp(-(y-h)(y+h)) with h = y rounded down to 1/16: h*h is exact,
    so the rounding of y*y is not magnified by exp (Cody's split)."""
    h = y * 16.0
    np.trunc(h, out=h)
    h *= 0.0625
    d = y - h
    d *= y + h
    h *= h
    np.negative(h, out=h)
    np.negative(d, out=d)
    out = np.exp(h, out=h)
    out *= np.exp(d, out=d)
    return out


def _erf_block(x, complement: bool):
    """erf(x) (or erfc(x) when `complement`) of a 1-d float64 array; NaN stays NaN."""
    y = np.abs(x)
    small = y <= _ERF_SMALL
    ys = np.minimum(y, 1.0)  # the small form only counts where y <= 0.46875; no overflow elsewhere
    s = _ratio(ys * ys, _ERF_A, _ERF_B)
    s *= ys  # erf(y) where small
    ym = np.minimum(y, 4.0)  # keeps the middle form finite where it is not used
    e = _ratio(ym, _ERF_C, _ERF_D)  # erfc(y) where 0.46875 < y <= 4
    e *= _exp_neg_sq(ym)
    big = y > 4.0
    if big.any():  # rare in practice: evaluated on that subset only
        yb = np.minimum(y[big], 40.0)  # erfc(27) already underflows to 0; keeps inf out
        z = 1.0 / (yb * yb)
        r = _ratio(z, _ERF_P, _ERF_Q)
        r *= z
        e[big] = _exp_neg_sq(yb) * (_INV_SQRT_PI - r) / yb
    if complement:
        np.subtract(1.0, s, out=s)
        np.copyto(e, s, where=small)
        np.subtract(2.0, e, out=e, where=x < 0)  # erfc(-y) = 2 - erfc(y)
    else:
        np.subtract(1.0, e, out=e)
        np.copyto(e, s, where=small)
        np.copysign(e, x, out=e)  # erf is odd
    return e


def _erf_np(x, complement: bool = False):
    """erf (erfc) of a NumPy array, float64-accurate; the result has x's float dtype."""
    x = np.asarray(x)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    flat = x.astype(np.float64, copy=False).reshape(-1)
    if flat.size <= _BLOCK:
        out = _erf_block(flat, complement)
    else:
        out = np.empty_like(flat)
        for i in range(0, flat.size, _BLOCK):
            out[i:i + _BLOCK] = _erf_block(flat[i:i + _BLOCK], complement)
    return out.reshape(x.shape).astype(out_dtype, copy=False)


def _erfc_np(x):
    return _erf_np(x, complement=True)


def erf(x):
    """erf of a NumPy or CuPy array (the NumPy path is float64-accurate)."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return _erf_np(x)
    import cupyx.scipy.special as sp
    return sp.erf(x)


def erfc(x):
    """erfc of a NumPy or CuPy array."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return _erfc_np(x)
    import cupyx.scipy.special as sp
    return sp.erfc(x)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = 0.044715


def _wide(x, xp):
    """x in the math dtype of a reference (float64 on the CPU; on CUDA the kernels' acc_t), at
    least 1-d so the in-place steps below never meet NumPy's 0-d-array-to-scalar results."""
    if xp is np:
        v = x.astype(np.float64, copy=False)
    else:
        v = x.astype(np.float32) if x.dtype == np.float16 else x
    return v.reshape(1) if v.ndim == 0 else v


def _tanh_inner(v, xp):
    """tanh(sqrt(2/pi) * (v + 0.044715 v^3)), in a new array."""
    t = v * v  # v*v*v: NumPy's power(v, 3) is several times slower
    t *= _GELU_C
    t += 1.0
    t *= v
    t *= _SQRT_2_OVER_PI
    return xp.tanh(t, out=t)


# inf * 0 at x = -inf (NaN, as in PyTorch) and v**3 past 1e102 (harmless) are not worth a warning
_quiet = np.errstate(over="ignore", invalid="ignore")


@_quiet
def gelu_forward_ref(x, approximate: str = "none"):
    """GELU of a NumPy (or CuPy) array; same math as kernels/activation.cu, in float64 on NumPy."""
    xp = backend.xp_of(x)
    v = _wide(x, xp)
    if approximate == "tanh":
        y = _tanh_inner(v, xp)
        y += 1.0
    else:  # Phi(v) = erfc(-v/sqrt 2)/2: exact in the negative tail, where 1 + erf(v/sqrt 2) cancels
        y = erfc(v * -_INV_SQRT_2)
    y *= 0.5
    y *= v
    return y.astype(x.dtype, copy=False).reshape(x.shape)


@_quiet
def gelu_backward_ref(x, grad, approximate: str = "none"):
    """grad * GELU'(x) of arrays, in x's dtype."""
    xp = backend.xp_of(x)
    v = _wide(x, xp)
    if approximate == "tanh":  # d/dv = (1 + t)/2 + v/2 (1 - t^2) sqrt(2/pi) (1 + 3c v^2)
        t = _tanh_inner(v, xp)
        du = v * v
        du *= 3 * _GELU_C
        du += 1.0
        du *= _SQRT_2_OVER_PI
        d = t * t
        xp.subtract(1.0, d, out=d)
        d *= du
        d *= v
        t += 1.0
        d += t
        d *= 0.5
    else:  # d/dv = Phi(v) + v phi(v)
        d = v * v
        d *= -0.5
        d = xp.exp(d, out=d)
        d *= _INV_SQRT_2PI
        d *= v
        cdf = erfc(v * -_INV_SQRT_2)
        cdf *= 0.5
        d += cdf
    d *= grad
    return d.astype(x.dtype, copy=False).reshape(x.shape)


# ---------------------------------------------------------------- dispatch
_KERNEL_DTYPES = frozenset(_DTYPE_MACROS)


def _check_approximate(approximate):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu_forward(x, approximate: str = "none"):
    """GELU of an array: the fused CUDA kernel for CuPy arrays, the reference for NumPy."""
    _check_approximate(approximate)
    if x.__class__ is np.ndarray or x.dtype.name not in _KERNEL_DTYPES:
        return gelu_forward_ref(x, approximate)
    fn = "gelu_tanh_forward" if approximate == "tanh" else "gelu_erf_forward"
    return _launch_elementwise("activation", fn, (x,), x.dtype)


def gelu_backward(x, grad, approximate: str = "none"):
    """grad * GELU'(x) of same-shape arrays (result in x's dtype), fused on CUDA."""
    _check_approximate(approximate)
    if x.__class__ is np.ndarray or x.dtype.name not in _KERNEL_DTYPES:
        return gelu_backward_ref(x, grad, approximate)
    fn = "gelu_tanh_backward" if approximate == "tanh" else "gelu_erf_backward"
    grad = backend._cupy.broadcast_to(grad.astype(x.dtype, copy=False), x.shape)
    return _launch_elementwise("activation", fn, (x, grad), x.dtype)
