"""Conversions: dtype casts and device transfers (the only ops that cross devices)."""
from __future__ import annotations

from .. import backend, device_checks, dtypes
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

    def __init__(self, device, copy=False, non_blocking=False):
        self.device = device
        self.copy = copy
        self.non_blocking = non_blocking

    def forward(self, x):
        self.source = backend.device_of(x)
        if self.device.type == "cpu" and self.source.type != "cpu":
            device_checks.flush()  # the copy to the host synchronizes anyway
        return backend.to_device(x, self.device, copy=self.copy, non_blocking=self.non_blocking)

    def backward(self, grad):
        return grad.to(self.source)


class PinMemory(Op):
    """A copy of a CPU tensor in pinned memory; the gradient passes through unchanged."""

    def forward(self, x):
        return backend.pin_memory(x)

    def backward(self, grad):
        return grad


def pin_memory(x: Tensor) -> Tensor:
    if backend.is_pinned(x._data):
        return x
    return PinMemory()(x)


def cast(x: Tensor, np_dtype) -> Tensor:
    return Cast(np_dtype)(x)


def parse_to_args(t: Tensor, args, kwargs):
    """Tensor.to's overloads: (device), (dtype), (device, dtype), (tensor), plus keywords."""
    given = set(kwargs)
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = bool(kwargs.pop("copy", False))
    non_blocking = bool(kwargs.pop("non_blocking", False))
    from ..memory_format import check as _check_format
    # accepted (tensors stay in C order); a module's to() checks no rank, as PyTorch's skips other ranks
    _check_format(kwargs.pop("memory_format", None), "to()", t.dim() if t is not None else None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    flags = []
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, dtypes.dtype):
            dtype = a
        elif isinstance(a, dtypes._UnsupportedDtype):
            raise TypeError(f"to(): {a.reason}")
        elif isinstance(a, (str, backend.Device, int)) and not isinstance(a, bool):
            device = a
        elif isinstance(a, bool):
            flags.append(a)  # to(device, dtype, non_blocking, copy) given positionally
        else:
            try:
                dtype = dtypes.as_dtype(a)
            except TypeError:
                raise TypeError(f"to(): expected a device, a dtype or a Tensor, got {a!r}") from None
    if len(flags) > 2:
        raise TypeError(f"to(): expected at most two positional bools (non_blocking, copy), got {len(flags)}")
    if flags:
        if "non_blocking" in given or (len(flags) > 1 and "copy" in given):
            raise TypeError("to(): non_blocking/copy given both positionally and as keywords")
        non_blocking = flags[0]
        copy = flags[1] if len(flags) > 1 else copy
    return device, dtype, copy, non_blocking


def to(x: Tensor, device=None, dtype=None, copy=False, non_blocking=False) -> Tensor:
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
        return cast(ToDevice(device, non_blocking=non_blocking)(x), np_dtype)  # widen after: fewer bytes moved
    if np_dtype is not None:
        x = cast(x, np_dtype)
    if device is not None:
        x = ToDevice(device, non_blocking=non_blocking)(x)
    return x
