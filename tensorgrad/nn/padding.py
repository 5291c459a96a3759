"""Padding layers (torch.nn's ZeroPad*, ConstantPad*, ReflectionPad*, ReplicationPad*, CircularPad*
for 1, 2 and 3 padded dims): functional.pad with a fixed padding, PyTorch's reprs."""
from __future__ import annotations

from ..ops.index import pad as _pad
from .module import Module


def _padding(padding, dims: int, name: str) -> tuple:
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding,) * (2 * dims)
    padding = tuple(padding)
    if len(padding) != 2 * dims:
        raise ValueError(f"{name}: padding must be an int or a tuple of {2 * dims} ints (left, right"
                         f"{', top, bottom' if dims > 1 else ''}{', front, back' if dims > 2 else ''}), got {padding}")
    return padding


class _PadNd(Module):
    mode = "constant"
    dims = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _padding(padding, self.dims, type(self).__name__)

    def forward(self, input):
        return _pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return _pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={float(self.value)}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


def _make(base, mode, dims, name):
    return type(name, (base,), {"mode": mode, "dims": dims, "__module__": __name__,
                                "__doc__": f"{mode} padding of the last {dims} dim(s)"})


ConstantPad1d, ConstantPad2d, ConstantPad3d = (_make(_ConstantPadNd, "constant", d, f"ConstantPad{d}d") for d in (1, 2, 3))
ZeroPad1d, ZeroPad2d, ZeroPad3d = (_make(_ZeroPadNd, "constant", d, f"ZeroPad{d}d") for d in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (_make(_PadNd, "reflect", d, f"ReflectionPad{d}d") for d in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (_make(_PadNd, "replicate", d, f"ReplicationPad{d}d")
                                                        for d in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_make(_PadNd, "circular", d, f"CircularPad{d}d") for d in (1, 2, 3))

__all__ = [f"{kind}Pad{d}d" for kind in ("Constant", "Zero", "Reflection", "Replication", "Circular") for d in (1, 2, 3)]
