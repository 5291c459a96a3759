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


_RANK = {"channels_last": 4, "channels_last_3d": 5}


def check(fmt, op: str, ndim=None) -> None:
    """A memory_format argument must be one of the constants (PyTorch raises a TypeError otherwise),
    and channels_last(_3d) needs a rank-4 (rank-5) tensor, as in PyTorch."""
    if fmt is None:
        return
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{op}: memory_format must be a tensorgrad.memory_format (contiguous_format, "
                        f"channels_last, channels_last_3d, preserve_format), got {type(fmt).__name__}")
    rank = _RANK.get(fmt.name)
    if rank is not None and ndim is not None and ndim != rank:
        raise RuntimeError(f"{op}: required rank {rank} tensor to use {fmt.name} format, got a {ndim}-d tensor")


def is_laid_out(shape, fmt) -> bool:
    """Whether a C-contiguous tensor of `shape` also satisfies `fmt`: channels_last(_3d) when the
    channel dim or the spatial extent is trivial (the only cases where both layouts coincide)."""
    rank = _RANK.get(fmt.name)
    if rank is None:
        return True
    if len(shape) != rank:
        return False
    spatial = 1
    for n in shape[2:]:
        spatial *= n
    return shape[1] == 1 or spatial <= 1


__all__ = ["memory_format", "contiguous_format", "channels_last", "channels_last_3d", "preserve_format"]
