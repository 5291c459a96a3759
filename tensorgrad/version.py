"""torch.version's fields: __version__, and cuda (the CUDA runtime CuPy was built for, or None
without CuPy), which scripts print in their environment reports."""
from __future__ import annotations

from . import __version__  # noqa: F401 - the one version number, set in tensorgrad/__init__.py
git_version = None
debug = False
hip = None


def _cuda_version():
    try:
        import cupy
        v = cupy.cuda.runtime.runtimeGetVersion()  # e.g. 13000
    except Exception:  # no CuPy, or its CUDA libraries do not load
        return None
    return f"{v // 1000}.{v % 1000 // 10}"


cuda = _cuda_version()
