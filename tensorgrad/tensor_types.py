"""PyTorch's legacy tensor types: FloatTensor, LongTensor, ... (and tensorgrad.cuda's), as
constructors (FloatTensor([1, 2]), LongTensor(3, 4) uninitialized) and as types for isinstance
(a float32 CPU tensor is a FloatTensor) and Tensor.type(FloatTensor)."""
from __future__ import annotations

import numpy as np

from . import dtypes
from .tensor import Size, Tensor, _LEGACY_TYPE_NAMES


class _LegacyType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls._dtype and obj.device.type == cls._device_type

    def __call__(cls, *args, device=None):
        from .creation import empty, tensor
        dev = cls._device_type if device is None else device
        if len(args) == 1 and isinstance(args[0], Size):
            args = tuple(args[0])
        if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return empty(*args, dtype=cls._dtype, device=dev)
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}(): expected sizes (ints) or one sequence of data, got "
                            f"{', '.join(type(a).__name__ for a in args)}")
        return tensor(args[0] if args else [], dtype=cls._dtype, device=dev)

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__name__}'>"


def _make(np_name: str, device_type: str, module: str):
    name = _LEGACY_TYPE_NAMES[np_name]
    return _LegacyType(name, (), {"_dtype": dtypes.as_dtype(np_name), "_device_type": device_type,
                                  "__module__": module, "__doc__": f"{np_name} tensors on the {device_type}"})


_CPU = {np_name: _make(np_name, "cpu", "tensorgrad") for np_name in _LEGACY_TYPE_NAMES}
_CUDA = {np_name: _make(np_name, "cuda", "tensorgrad.cuda") for np_name in _LEGACY_TYPE_NAMES}

(HalfTensor, FloatTensor, DoubleTensor, CharTensor, ByteTensor, ShortTensor, IntTensor, LongTensor,
 BoolTensor) = (_CPU[n] for n in ("float16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64", "bool"))

__all__ = ["HalfTensor", "FloatTensor", "DoubleTensor", "CharTensor", "ByteTensor", "ShortTensor", "IntTensor",
           "LongTensor", "BoolTensor"]
