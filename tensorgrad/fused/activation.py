"""Fused activations: GELU (exact and tanh forms) forward and backward, bias + ReLU / GELU, erf/erfc.

The NumPy references (``gelu_forward_ref``, ``gelu_backward_ref``) are the CPU path and the
oracle in tests; kernels/activation.cu holds the CUDA twins. Callers use ``gelu_forward`` and
``gelu_backward``, which pick the path from the array type.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..kernels import _DTYPE_MACROS, _MAX_BLOCKS, _THREADS, _launch_elementwise, get_kernel

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


# ---------------------------------------------------------------- relu backward
def relu_backward_ref(y, grad):
    """grad where y > 0 and where y is NaN, else 0: PyTorch's threshold_backward(grad, y, 0)."""
    return backend.zero_where(y <= 0, grad)


def relu_backward(y, grad):
    """ReLU's backward from its output y: one kernel launch on CUDA (kernels/activation.cu
    relu_backward) for same-shape, same-dtype arrays, the reference otherwise."""
    if (y.__class__ is np.ndarray or y.dtype.name not in _KERNEL_DTYPES or grad.dtype != y.dtype
            or grad.shape != y.shape):
        return relu_backward_ref(y, grad)
    return _launch_elementwise("activation", "relu_backward", (y, grad), y.dtype)


# ---------------------------------------------------------------- bias + activation
BIAS_ACTIVATIONS = ("relu", "gelu")


def _bias_shape(z, channel_dim):
    shape = [1] * z.ndim
    shape[channel_dim] = z.shape[channel_dim]
    return shape


def bias_act_forward_ref(z, bias, channel_dim: int, activation: str, approximate: str = "none"):
    """act(z + bias) with the bias along `channel_dim`: the add rounded to z's dtype, then the
    activation (relu, or gelu_forward_ref) of that sum, as the kernels do."""
    h = z + bias.reshape(_bias_shape(z, channel_dim))
    if activation == "relu":
        return backend.xp_of(z).maximum(h, 0, out=h)  # NaN propagates, as torch.relu
    return gelu_forward_ref(h, approximate)


def bias_act_forward(z, bias, channel_dim: int, activation: str, approximate: str = "none"):
    """act(z + bias) in one pass on CUDA (kernels/activation.cu bias_*_forward), the reference on the CPU."""
    if activation not in BIAS_ACTIVATIONS:
        raise ValueError(f"bias_act: activation must be one of {BIAS_ACTIVATIONS}, got {activation!r}")
    _check_approximate(approximate)
    if z.__class__ is np.ndarray or z.dtype.name not in _KERNEL_DTYPES:
        return bias_act_forward_ref(z, bias, channel_dim, activation, approximate)
    cp = backend._cupy
    fn = "bias_relu_forward" if activation == "relu" else (
        "bias_gelu_tanh_forward" if approximate == "tanh" else "bias_gelu_erf_forward")
    with z.device:
        z = cp.ascontiguousarray(z)
        bias = cp.ascontiguousarray(bias, dtype=z.dtype)
        y = cp.empty(z.shape, z.dtype)
        n = y.size
        if n:
            channels = z.shape[channel_dim]
            inner = int(np.prod(z.shape[channel_dim + 1:], dtype=np.int64))
            k = get_kernel("activation", fn, z.dtype, z.device.id)
            blocks = min((n + _THREADS - 1) // _THREADS, _MAX_BLOCKS)
            k((blocks,), (_THREADS,), (z, bias, y, np.int64(n), np.int64(inner), np.int64(channels)))
    return y
