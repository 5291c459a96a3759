"""Comparisons and logical/bitwise ops: bool (or integer) results, never recorded."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.function import Op, check_same_device
from ..backend import xp_of
from ..tensor import Tensor
from ._util import operands


class BinaryUfunc(Op):
    """A non-differentiable binary elementwise op given by its NumPy/CuPy ufunc name."""

    differentiable = False

    def __init__(self, ufunc_name, xp, op_name):
        self.ufunc = getattr(xp, ufunc_name)
        self.op_name = op_name  # for the broadcast error

    def forward(self, a, b):
        return self.ufunc(a, b)


class UnaryUfunc(Op):
    """A non-differentiable unary elementwise op given by its NumPy/CuPy function name."""

    differentiable = False

    def __init__(self, ufunc_name):
        self.ufunc_name = ufunc_name

    def forward(self, x):
        return getattr(xp_of(x), self.ufunc_name)(x)


def _xp_of_operands(a, b):
    return xp_of(a._data if isinstance(a, Tensor) else b._data)


def _binary(name, ufunc_name, a, b):
    if not isinstance(a, Tensor):  # reflected operators (2 < x) arrive here as gt(x, 2)
        _need_tensor(name, a)
    a, b, _ = operands(name, a, b)
    return BinaryUfunc(ufunc_name, _xp_of_operands(a, b), name)(a, b)


def _need_tensor(op: str, x, name: str = "input", pos: int = 1) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be Tensor, not {type(x).__name__}")


def eq(input, other):
    return _binary("eq", "equal", input, other)


def ne(input, other):
    return _binary("ne", "not_equal", input, other)


def lt(input, other):
    return _binary("lt", "less", input, other)


def le(input, other):
    return _binary("le", "less_equal", input, other)


def gt(input, other):
    return _binary("gt", "greater", input, other)


def ge(input, other):
    return _binary("ge", "greater_equal", input, other)


def equal(input, other) -> bool:
    """True when both tensors have the same shape and equal elements (a Python bool)."""
    _need_tensor("equal", input)
    _need_tensor("equal", other, "other", 2)
    a, b = input._data, other._data
    check_same_device("equal", [a, b])
    return a.shape == b.shape and bool((a == b).all())


class IsClose(Op):
    differentiable = False

    def __init__(self, rtol, atol, equal_nan):
        self.rtol, self.atol, self.equal_nan = rtol, atol, equal_nan

    def forward(self, a, b):
        # PyTorch's formula: equal, or (when equal_nan) both NaN, or a finite |a - b| within
        # atol + |rtol * b|; bools compare in the default float dtype, integers get a float tolerance
        xp = xp_of(a)
        close = a == b
        if self.equal_nan and a.dtype.kind == "f":
            close = close | (xp.isnan(a) & xp.isnan(b))
        if self.rtol == 0 and self.atol == 0:
            return close
        default = dtypes.get_default_dtype().np
        if a.dtype.kind == "b":
            a, b = a.astype(default), b.astype(default)
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, 0 * inf: NaN, dropped below
            if a.dtype.kind == "f":
                actual = xp.abs(a - b)
                return close | (xp.isfinite(actual) & (actual <= self.atol + xp.abs(self.rtol * b)))
            allowed = self.atol + xp.abs(self.rtol * b.astype(default))
            return close | (xp.abs(a - b) <= allowed)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _need_tensor("isclose", input)
    _need_tensor("isclose", other, "other", 2)
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"isclose: expected both inputs to have the same dtype, but got {input.dtype.name} "
                           f"and {other.dtype.name}; convert one with .to()")
    if rtol < 0:
        raise RuntimeError(f"isclose: rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"isclose: atol must be greater than or equal to zero, but got {atol}")
    return IsClose(rtol, atol, bool(equal_nan))(input, other)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """isclose(...).all() as a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def _isfloat_test(op: str, ufunc_name: str, input, non_float_value: bool):
    _need_tensor(op, input)
    d = input._data
    if d.dtype.kind != "f":  # integers and bools are never NaN nor infinite
        xp = xp_of(d)
        return Tensor._make((xp.ones_like if non_float_value else xp.zeros_like)(d, dtype=bool), None, 0, None)
    return UnaryUfunc(ufunc_name)(input)


def isnan(input):
    return _isfloat_test("isnan", "isnan", input, False)


def isinf(input):
    return _isfloat_test("isinf", "isinf", input, False)


def isfinite(input):
    return _isfloat_test("isfinite", "isfinite", input, True)


def _logical(name, input, other):
    _need_tensor(name, input)
    _need_tensor(name, other, "other", 2)
    return BinaryUfunc(name, xp_of(input._data), name)(input, other)


def logical_and(input, other):
    return _logical("logical_and", input, other)


def logical_or(input, other):
    return _logical("logical_or", input, other)


def logical_xor(input, other):
    return _logical("logical_xor", input, other)


def logical_not(input):
    _need_tensor("logical_not", input)
    return UnaryUfunc("logical_not")(input)


def _bitwise(name, ufunc_name, input, other):
    a, b, dt = operands(name, input, other)
    if dt.kind == "f":
        raise NotImplementedError(f'"{name}" is only defined for integer and bool tensors, got '
                                  f'{dtypes.from_numpy_dtype(dt).name} operands; use logical_* ops or convert '
                                  f'with .int() / .bool()')
    return BinaryUfunc(ufunc_name, _xp_of_operands(a, b), name)(a, b)


def bitwise_and(input, other):
    return _bitwise("bitwise_and", "bitwise_and", input, other)


def bitwise_or(input, other):
    return _bitwise("bitwise_or", "bitwise_or", input, other)


def bitwise_xor(input, other):
    return _bitwise("bitwise_xor", "bitwise_xor", input, other)


def bitwise_not(input):
    _need_tensor("bitwise_not", input)
    kind = input._data.dtype.kind
    if kind == "f":
        raise NotImplementedError(f'"bitwise_not" (~) is only implemented on integer and Boolean-type '
                                  f'tensors, got {input.dtype.name}; use logical_not() for a truth test')
    return UnaryUfunc("logical_not" if kind == "b" else "invert")(input)


__all__ = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'equal', 'isclose', 'allclose', 'isnan', 'isinf', 'isfinite', 'logical_and', 'logical_or', 'logical_xor', 'logical_not', 'bitwise_and', 'bitwise_or', 'bitwise_xor', 'bitwise_not']
