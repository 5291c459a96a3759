"""Comparisons and logical/bitwise ops: bool (or integer) results, never recorded."""
from __future__ import annotations

from ..autograd.function import Op
from ..backend import xp_of
from ._util import apply_binary, operands


class BinaryUfunc(Op):
    """A non-differentiable binary elementwise op given by its NumPy/CuPy ufunc name."""

    differentiable = False

    def __init__(self, ufunc_name, xp):
        self.ufunc = getattr(xp, ufunc_name)

    def forward(self, a, b):
        return self.ufunc(a, b)


def _binary(name, ufunc_name, a, b):
    a, b, _ = operands(name, a, b)
    xp = xp_of(a._data if hasattr(a, "_data") else b._data)
    return apply_binary(name, BinaryUfunc(ufunc_name, xp), a, b)


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


# ---- not yet implemented (TODO: replace each stub with the real op)


def equal(*args, **kwargs):
    raise NotImplementedError("equal is not implemented yet")


def isclose(*args, **kwargs):
    raise NotImplementedError("isclose is not implemented yet")


def allclose(*args, **kwargs):
    raise NotImplementedError("allclose is not implemented yet")


def isnan(*args, **kwargs):
    raise NotImplementedError("isnan is not implemented yet")


def isinf(*args, **kwargs):
    raise NotImplementedError("isinf is not implemented yet")


def isfinite(*args, **kwargs):
    raise NotImplementedError("isfinite is not implemented yet")


def logical_and(*args, **kwargs):
    raise NotImplementedError("logical_and is not implemented yet")


def logical_or(*args, **kwargs):
    raise NotImplementedError("logical_or is not implemented yet")


def logical_xor(*args, **kwargs):
    raise NotImplementedError("logical_xor is not implemented yet")


def logical_not(*args, **kwargs):
    raise NotImplementedError("logical_not is not implemented yet")


def bitwise_and(*args, **kwargs):
    raise NotImplementedError("bitwise_and is not implemented yet")


def bitwise_or(*args, **kwargs):
    raise NotImplementedError("bitwise_or is not implemented yet")


def bitwise_xor(*args, **kwargs):
    raise NotImplementedError("bitwise_xor is not implemented yet")


def bitwise_not(*args, **kwargs):
    raise NotImplementedError("bitwise_not is not implemented yet")


__all__ = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'equal', 'isclose', 'allclose', 'isnan', 'isinf', 'isfinite', 'logical_and', 'logical_or', 'logical_xor', 'logical_not', 'bitwise_and', 'bitwise_or', 'bitwise_xor', 'bitwise_not']
