"""torch.memory_format's constants. tensorgrad keeps every tensor in NumPy/CuPy's C order: asking for
channels_last (``x.to(memory_format=tg.channels_last)``, ``model.to(memory_format=...)``) is
accepted and changes nothing, since the layout is a speed hint with the same values either way."""
from __future__ import annotations


class memory_format:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return "tensorgrad." + self.name

    def __reduce__(self):  # pickles as the module constant
        return (_named, (self.name,))


def _named(name: str) -> "memory_format":
    return globals()[name]


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")


def check(fmt, op: str) -> None:
    """A memory_format argument must be one of the constants (PyTorch raises a TypeError otherwise)."""
    if fmt is not None and not isinstance(fmt, memory_format):
        raise TypeError(f"{op}: memory_format must be a tensorgrad.memory_format (contiguous_format, "
                        f"channels_last, channels_last_3d, preserve_format), got {type(fmt).__name__}")


__all__ = ["memory_format", "contiguous_format", "channels_last", "channels_last_3d", "preserve_format"]
