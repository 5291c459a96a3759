"""dtype objects with PyTorch's names, and PyTorch's type-promotion rules.

A `dtype` wraps a NumPy dtype (CuPy uses the same ones). Promotion follows
PyTorch, not NumPy: operands are ranked bool < integer < floating, and within
one rank a tensor with dimensions beats a 0-dim tensor, which beats a Python
scalar. A lower-priority operand only changes the result when it is of a
higher rank; then a Python float gives the default dtype (float32), a Python
int gives int64, and a 0-dim tensor gives its own dtype.
"""
from __future__ import annotations

import builtins as _builtins

import numpy as np

__all__ = ["dtype", "float16", "float32", "float64", "int8", "uint8", "int16", "int32",
           "int64", "bool_", "half", "float", "double", "short", "int", "long",
           "get_default_dtype", "set_default_dtype", "result_type", "promote_types", "as_dtype", "finfo", "iinfo"]


class dtype:
    """A tensor element type, e.g. ``tensorgrad.float32``."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_rank")

    def __init__(self, name: str, np_dtype, rank: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = rank == 2
        self.is_signed = self.np.kind in "if"
        self.itemsize = self.np.itemsize
        self._rank = rank  # 0 bool, 1 integer, 2 floating

    def __repr__(self):
        return "tensorgrad." + self.name

    def __reduce__(self):  # pickles as the module constant
        return (as_dtype, (self.name,))


class _UnsupportedDtype:
    """PyTorch dtypes tensorgrad cannot compute in, as named constants: scripts that merely mention
    them (``{'bfloat16': torch.bfloat16, ...}``) run, and using one raises a TypeError saying why."""

    __slots__ = ("name", "is_floating_point", "is_complex", "reason")

    def __init__(self, name: str, floating: bool, complex_: bool, reason: str):
        self.name, self.is_floating_point, self.is_complex, self.reason = name, floating, complex_, reason

    def __repr__(self):
        return "tensorgrad." + self.name


_NO_BF16 = ("tensorgrad.bfloat16 is not supported: NumPy and CuPy have no bfloat16 arithmetic; use tensorgrad.float16 "
            "(e.g. autocast(dtype=tensorgrad.float16)) or float32")
_NO_COMPLEX = "tensorgrad has no complex dtypes (no complex autograd); keep real and imaginary parts as two tensors"
bfloat16 = _UnsupportedDtype("bfloat16", True, False, _NO_BF16)
complex64 = _UnsupportedDtype("complex64", False, True, _NO_COMPLEX)
complex128 = _UnsupportedDtype("complex128", False, True, _NO_COMPLEX)

float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
int8 = dtype("int8", np.int8, 1)
uint8 = dtype("uint8", np.uint8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
bool_ = dtype("bool", np.bool_, 0)
half, float, double = float16, float32, float64  # noqa: A001 - PyTorch's aliases
short, int, long = int16, int32, int64  # noqa: A001

_ALL = (float16, float32, float64, int8, uint8, int16, int32, int64, bool_)
_BY_NP = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update(half=float16, float=float32, double=float64, short=int16, int=int32,
                long=int64, bool_=bool_)

_default_float = float32


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d) -> None:
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are supported as the default, got {d}")
    _default_float = d


def as_dtype(d) -> dtype:
    """Accept a tensorgrad dtype, a NumPy dtype or type, a name, or Python's float/int/bool.

    Python's ``float`` is float64, as in PyTorch (``torch.ones(2, dtype=float)`` is double).
    """
    if d.__class__ is dtype:
        return d
    if d.__class__ is _UnsupportedDtype:
        raise TypeError(d.reason)
    if d is builtins_float:
        return float64
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool_
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        return _BY_NP[np.dtype(d)]
    except (TypeError, KeyError):
        valid = ", ".join(x.name for x in _ALL)
        raise TypeError(f"unsupported dtype {d!r}; valid dtypes are {valid}") from None


def from_numpy_dtype(npd) -> dtype:
    try:
        return _BY_NP[npd]
    except KeyError:
        raise TypeError(f"arrays of NumPy dtype {npd} are not supported; valid dtypes are "
                        + ", ".join(x.name for x in _ALL)) from None


import builtins as _b  # noqa: E402
import numbers as _numbers  # noqa: E402

builtins_float, builtins_int, builtins_bool = _b.float, _b.int, _b.bool


def promote_types(a: dtype, b: dtype) -> dtype:
    """Promotion of two tensor dtypes of equal priority (torch.promote_types)."""
    if a is b:
        return a
    if a._rank != b._rank:  # a higher category wins outright: int64 + float16 -> float16
        return a if a._rank > b._rank else b
    return _BY_NP[np.promote_types(a.np, b.np)]


def _scalar_rank(x) -> int:
    cls = x.__class__
    if cls is builtins_float:
        return 2
    if cls is builtins_int:
        return 1
    if cls is builtins_bool or isinstance(x, (builtins_bool, np.bool_)):
        return 0
    if isinstance(x, _numbers.Integral):  # int subclasses, NumPy integers
        return 1
    if isinstance(x, _numbers.Real):  # float subclasses, NumPy floats
        return 2
    raise TypeError(f"result_type: expected Tensors or Python numbers (bool, int, float), got "
                    f"{type(x).__name__}")


def result_type(*operands) -> dtype:
    """PyTorch's result dtype for tensors and Python scalars (``torch.result_type``).

    Operands are Tensors (anything with ``_data``) or Python bool/int/float.
    """
    dim_t = zero_t = None  # promoted dtype of dimensioned / 0-dim tensors
    scalar_rank = -1
    for x in operands:
        data = getattr(x, "_data", None)
        if data is None:
            scalar_rank = max(scalar_rank, _scalar_rank(x))
            continue
        d = _BY_NP[data.dtype]
        if data.ndim:
            dim_t = d if dim_t is None else promote_types(dim_t, d)
        else:
            zero_t = d if zero_t is None else promote_types(zero_t, d)
    out = dim_t
    if zero_t is not None:
        if out is None:
            out = zero_t
        elif zero_t._rank > out._rank:
            out = zero_t
    if scalar_rank >= 0:
        if out is None:
            out = (bool_, int64, _default_float)[scalar_rank]
        elif scalar_rank > out._rank:
            out = (bool_, int64, _default_float)[scalar_rank]
    if out is None:
        raise TypeError("result_type needs at least one operand")
    return out


class finfo:
    """Machine limits of a floating dtype (torch.finfo): bits, eps, max, min, tiny (smallest_normal),
    resolution, and dtype (its name); the default dtype when none is given."""

    def __init__(self, type=None):
        d = get_default_dtype() if type is None else as_dtype(type)
        if not d.is_floating_point:
            raise TypeError(f"finfo(): {d} is not a floating point dtype; use iinfo for integer dtypes")
        info = np.finfo(d.np)
        self.bits, self.eps, self.max, self.min = info.bits, _builtins.float(info.eps), _builtins.float(info.max), _builtins.float(info.min)
        self.tiny = self.smallest_normal = _builtins.float(info.tiny)
        self.resolution = 10.0 ** -_builtins.int(info.precision)  # as torch: a power of ten
        self.dtype = d.np.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype (torch.iinfo): bits, min, max, dtype."""

    def __init__(self, type):
        d = as_dtype(type)
        if d.is_floating_point or d.np == np.bool_:
            raise TypeError(f"iinfo(): {d} is not an integer dtype; use finfo for floating dtypes")
        info = np.iinfo(d.np)
        self.bits, self.min, self.max, self.dtype = info.bits, _builtins.int(info.min), _builtins.int(info.max), d.np.name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"

