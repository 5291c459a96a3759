"""Helpers shared by the pointwise op families (arithmetic, elementwise math, activations)."""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..autograd.function import Op
from ..backend import xp_of
from ..tensor import Tensor

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = 0.044715


# ---------------------------------------------------------------- helpers
def _const(arr) -> Tensor:
    """A raw array as an untracked tensor (masks and coefficients inside backward formulas)."""
    if isinstance(arr, np.generic):  # NumPy turns 0-d results into scalars
        arr = np.asarray(arr)
    return Tensor._make(arr, None, 0, None)


def _zeros(grad) -> Tensor:
    d = grad._data
    return _const(xp_of(d).zeros_like(d))


def _xp(a, b):
    """Array module of a binary op's operands (one may be a NumPy scalar constant)."""
    return xp_of(b) if isinstance(a, np.generic) else xp_of(a)


def _arr(v):
    return v._data if isinstance(v, Tensor) else v


def _type_error(op: str, x, name: str = "input", pos: int = 1) -> TypeError:
    return TypeError(f"{op}(): argument '{name}' (position {pos}) must be Tensor, not {type(x).__name__}")


def _need_tensor(op: str, x, name: str = "input", pos: int = 1) -> None:
    if not isinstance(x, Tensor):
        raise _type_error(op, x, name, pos)


def _float_input(op: str, x):
    """Math functions of int/bool tensors compute in the default float dtype, as PyTorch does."""
    try:
        if x._data.dtype.kind == "f":
            return x
    except AttributeError:
        raise _type_error(op, x) from None
    from .convert import cast
    return cast(x, dtypes.get_default_dtype().np)


def _float_only(op: str, x) -> None:
    """Activations are defined for floating tensors only (PyTorch has no integer kernels)."""
    try:
        kind = x._data.dtype.kind
    except AttributeError:
        raise _type_error(op, x) from None
    if kind != "f":
        raise NotImplementedError(f'"{op}" not implemented for {x.dtype.name} tensors; convert the input '
                                  f'with .float() first')


def _no_bool(op: str, dt) -> None:
    if dt.kind == "b":
        raise NotImplementedError(f'"{op}" not implemented for bool tensors; convert with .int() or .float() '
                                  f'first')


def _apply(op_name: str, op, *inputs):
    """Run an Op of several operands, naming all their shapes when they don't broadcast."""
    try:
        return op(*inputs)
    except ValueError as e:
        if "broadcast" not in str(e):
            raise
    shapes = ", ".join(str(list(t.shape)) if isinstance(t, Tensor) else "[]"
                       for t in inputs if t is not None)
    raise RuntimeError(f"{op_name}: shapes {shapes} do not broadcast to a common shape") from None


class GradMask(Op):
    """grad * coef, exactly 0 where coef is 0/False even for inf or nan gradients (PyTorch
    masks these gradients with where, not a product). Linear in grad: its backward is itself."""

    def forward(self, grad, coef):
        self.ctx_arrays = (coef,)
        zero = grad.dtype.type(0)
        if coef.dtype.kind == "b":
            return xp_of(grad).where(coef, grad, zero)
        return xp_of(grad).where(coef != 0, grad * coef, zero)

    def backward(self, gg):
        return GradMask()(gg, self.saved_arrays[0]), None


def _masked(grad, coef):
    return GradMask()(grad, coef)


def _sigmoid_arr(x):
    """Logistic function without overflow: exp only ever sees -|x|."""
    xp = xp_of(x)
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r)
