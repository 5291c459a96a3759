"""Helpers shared by the op families: operand promotion, dims, and error text."""
from __future__ import annotations

import functools

import numbers

import numpy as np

from .. import dtypes
from ..tensor import Tensor

_SCALAR_TYPES = (bool, int, float, np.generic)
_PY_NUMBERS = (int, float, bool)


def is_scalar(x) -> bool:
    return isinstance(x, _SCALAR_TYPES) or (isinstance(x, numbers.Number) and not isinstance(x, complex))


def check_tensor(op: str, x, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, not {type(x).__name__}")
    return x


def _scalar_for_promotion(x):
    """NumPy scalars promote like the Python scalar of their kind (weakly)."""
    if isinstance(x, np.generic):
        return x.item()
    return x


def operands(op: str, a, b, out_dtype=None):
    """Tensors/scalars `a`, `b` cast to their PyTorch result dtype (or `out_dtype`).

    Returns (a, b, result dtype as NumPy dtype). Scalars come back as NumPy scalars of that
    dtype, so the op passes them straight into the array math (no device transfer).
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if out_dtype is None:  # fast paths: same dtypes, or a float tensor with a Python number
        if ta:
            dt = a._data.dtype
            if tb:
                if dt == b._data.dtype:
                    return a, b, dt
            elif b.__class__ is dt.type:  # a NumPy scalar of the tensor's own dtype (from backward)
                return a, b, dt
            elif dt.kind == "f" and b.__class__ in _PY_NUMBERS:
                return a, dt.type(b), dt
        elif tb:
            dt = b._data.dtype
            if a.__class__ is dt.type:
                return a, b, dt
            if dt.kind == "f" and a.__class__ in _PY_NUMBERS:
                return dt.type(a), b, dt
    if not ta and not tb:
        raise TypeError(f"{op}(): expected at least one Tensor operand, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):  # PyTorch reads a NumPy array as a CPU tensor
        a, b = (_from_numpy(x) if isinstance(x, np.ndarray) else x for x in (a, b))
        return operands(op, a, b, out_dtype)
    for x in (a, b):
        if not isinstance(x, Tensor) and not is_scalar(x):
            raise TypeError(f"{op}(): expected a Tensor or a Python number as operand, got "
                            f"{type(x).__name__}; wrap arrays with tensorgrad.tensor() or from_numpy()")
    if out_dtype is None:
        out_dtype = dtypes.result_type(a if ta else _scalar_for_promotion(a),
                                       b if tb else _scalar_for_promotion(b)).np
    a = _cast(a, out_dtype) if ta else _scalar_as(a, out_dtype)
    b = _cast(b, out_dtype) if tb else _scalar_as(b, out_dtype)
    return a, b, out_dtype


def _from_numpy(arr) -> Tensor:
    """A NumPy array operand as a constant CPU tensor sharing its memory (a CUDA op then refuses
    it with the usual device error, as PyTorch does: no silent transfer)."""
    from ..creation import from_numpy
    return from_numpy(arr)


def _scalar_as(x, np_dtype):
    """A Python/NumPy scalar as a NumPy scalar of `np_dtype`; out-of-range ints wrap, as in PyTorch."""
    try:
        return np_dtype.type(x)
    except OverflowError:
        return np.array(x, dtype=np.int64).astype(np_dtype)[()]


def _cast(t: Tensor, np_dtype) -> Tensor:
    if t._data.dtype == np_dtype:
        return t
    from .convert import cast
    return cast(t, np_dtype)


def broadcast_error(op: str, a, b) -> RuntimeError:
    sa = list(a.shape) if isinstance(a, Tensor) else []
    sb = list(b.shape) if isinstance(b, Tensor) else []
    for i in range(1, max(len(sa), len(sb)) + 1):
        x = sa[-i] if i <= len(sa) else 1
        y = sb[-i] if i <= len(sb) else 1
        if x != y and x != 1 and y != 1:
            return RuntimeError(f"{op}: the size of tensor a ({x}) must match the size of tensor b ({y}) at "
                                f"non-singleton dimension {max(len(sa), len(sb)) - i}: shapes {sa} and {sb} "
                                f"do not broadcast")
    return RuntimeError(f"{op}: shapes {sa} and {sb} do not broadcast")


def wrap_dim(dim: int, ndim: int, op: str) -> int:
    n = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}(): dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(f"{op}(): dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return int(dim) + n if dim < 0 else int(dim)


def normalize_dims(dim, ndim: int, op: str) -> tuple:
    """dim=None -> all dims; an int or a tuple/list -> sorted tuple of non-negative dims, no repeats."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        dims = tuple(wrap_dim(d, ndim, op) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}(): dim {list(dim)} has repeated entries; each dim may appear only once")
        if ndim == 0:
            return ()
        return tuple(sorted(dims))
    d = wrap_dim(dim, ndim, op)
    return () if ndim == 0 else (d,)


def shape_arg(shape, op: str) -> tuple:
    """Accept f(x, 2, 3), f(x, (2, 3)) and f(x, [2, 3]) (PyTorch accepts both forms)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{op}(): size must be a sequence of ints, got {s!r}")
        out.append(int(s))
    return tuple(out)


def accepts_axis(fn):
    """PyTorch's NumPy-style alias on reductions and joins: axis= for dim= (x.sum(axis=1))."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}() got both 'dim' and its alias 'axis'; pass one")
            kwargs["dim"] = kwargs.pop("axis")
        return fn(*args, **kwargs)
    return wrapper

