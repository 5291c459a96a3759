"""Process-wide switches PyTorch scripts set at the top: deterministic algorithms, the CPU
thread count and the float32 matmul precision."""
from __future__ import annotations

import os
import warnings

_deterministic = [False, False]  # [mode, warn_only]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for run-to-run reproducible results. tensorgrad's CPU ops are deterministic already; on
    CUDA this keeps cuDNN to deterministic engines (backends.cudnn.deterministic). Its scatter-adds
    (the backward of indexing) use atomic adds whose float rounding can vary between runs; unlike
    PyTorch, they do not raise in this mode."""
    from .fused import cudnn_conv
    _deterministic[0], _deterministic[1] = bool(mode), bool(warn_only)
    if mode:
        cudnn_conv.DETERMINISTIC = True


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic[0]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic[1]


def get_num_threads() -> int:
    """The threads NumPy's BLAS uses (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS, else the cores)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        v = os.environ.get(var)
        if v and v.isdigit():
            return int(v)
    return os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Set the CPU threads of NumPy's BLAS, through threadpoolctl where it is installed; otherwise
    a warning says the count is fixed when NumPy loads (set OMP_NUM_THREADS before starting)."""
    if not isinstance(n, int) or n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if n != get_num_threads():
            warnings.warn(f"set_num_threads({n}): without threadpoolctl (pip install threadpoolctl) NumPy's BLAS "
                          f"keeps its {get_num_threads()} threads; set OMP_NUM_THREADS={n} before starting Python",
                          RuntimeWarning, stacklevel=2)
        return
    threadpool_limits(n, user_api="blas")
    os.environ["OMP_NUM_THREADS"] = str(n)


_matmul_precision = ["highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """PyTorch's hint for float32 matmuls on CUDA: 'highest' (full float32, the default), 'high'
    (TF32 tensor cores) or 'medium' (bfloat16). tensorgrad passes it to CuPy's cuBLAS calls; on the
    CPU, NumPy's BLAS has one precision and the hint changes nothing, as in PyTorch."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"set_float32_matmul_precision(): invalid precision {precision!r}; expected 'highest', "
                           f"'high' or 'medium'")
    from . import backend
    backend.set_float32_matmul_compute(precision)
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision[0]


__all__ = ["set_float32_matmul_precision", "get_float32_matmul_precision", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "get_num_threads", "set_num_threads"]
