"""The one registry of the CUDA sources in kernels/*.cu: finding, compiling and caching them.

Each fused op is a pair with the same math: a NumPy reference (the CPU path, and the oracle in
tests) and a CUDA kernel. The pairs live in tensorgrad/fused/ (one module per family), whose
dispatch functions pick the path from the array type; this module is what they share.

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
