"""Conversions: dtype casts and device transfers (the only ops that cross devices)."""
from __future__ import annotations

from .. import backend, dtypes
from ..autograd.function import Op
from ..tensor import Tensor


class Cast(Op):
    def __init__(self, np_dtype):
        self.np_dtype = np_dtype

    def forward(self, x):
        return x.astype(self.np_dtype)

    def backward(self, grad):
        return grad  # the engine casts it back to the input's dtype


class ToDevice(Op):
    """An explicit copy to another device; its gradient is copied back."""

    def __init__(self, device, copy=False):
        self.device = device
        self.copy = copy

    def forward(self, x):
        self.source = backend.device_of(x)
        return backend.to_device(x, self.device, copy=self.copy)

    def backward(self, grad):
        return grad.to(self.source)


def cast(x: Tensor, np_dtype) -> Tensor:
    return Cast(np_dtype)(x)


def parse_to_args(t: Tensor, args, kwargs):
    """Tensor.to's overloads: (device), (dtype), (device, dtype), (tensor), plus keywords."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, dtypes.dtype):
            dtype = a
        elif isinstance(a, (str, backend.Device, int)) and not isinstance(a, bool):
            device = a
        elif isinstance(a, bool):
            pass  # non_blocking / copy given positionally
        else:
            try:
                dtype = dtypes.as_dtype(a)
            except TypeError:
                raise TypeError(f"to(): expected a device, a dtype or a Tensor, got {a!r}") from None
    return device, dtype, copy


def to(x: Tensor, device=None, dtype=None, copy=False) -> Tensor:
    if device is not None:
        device = backend.normalize_device(backend.as_device(device))
        if device == x.device:
            device = None
    np_dtype = None if dtype is None else dtypes.as_dtype(dtype).np
    if np_dtype is not None and np_dtype == x._data.dtype:
        np_dtype = None
    if device is None and np_dtype is None:
        return Cast(x._data.dtype)(x) if copy else x
    if device is not None and np_dtype is not None and np_dtype.itemsize > x._data.dtype.itemsize:
        return cast(ToDevice(device)(x), np_dtype)  # widen after the copy: fewer bytes moved
    if np_dtype is not None:
        x = cast(x, np_dtype)
    if device is not None:
        x = ToDevice(device)(x)
    return x
