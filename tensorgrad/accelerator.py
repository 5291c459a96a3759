"""tensorgrad.accelerator: PyTorch's device-agnostic accelerator API (torch.accelerator), over the
one accelerator tensorgrad has, CUDA. Scripts written as

    device = tg.accelerator.current_accelerator() if tg.accelerator.is_available() else tg.device("cpu")

(the official PyTorch examples' idiom) run on a GPU when one is usable and on the CPU otherwise.
"""
from __future__ import annotations

from . import backend, cuda


def is_available() -> bool:
    """Whether an accelerator (a usable CUDA device) is present."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False):
    """The accelerator's device type, ``device('cuda')``; None when ``check_available`` is True and
    no accelerator is usable. tensorgrad has no accelerator but CUDA, so without
    ``check_available`` this is ``device('cuda')`` even where CUDA is unusable (PyTorch answers with
    the build's accelerator the same way)."""
    if check_available and not is_available():
        return None
    return backend.Device("cuda")


def device_count() -> int:
    """Usable accelerator devices (0 without a GPU)."""
    return cuda.device_count() if is_available() else 0


def current_device_index() -> int:
    """The current CUDA device's index."""
    return cuda.current_device()


def set_device_index(device) -> None:
    """Make a CUDA device current: an index, 'cuda:N' or a tensorgrad.device."""
    cuda.set_device(device)


def synchronize(device=None) -> None:
    """Wait for the accelerator's queued work (tensorgrad.cuda.synchronize)."""
    cuda.synchronize(device)


__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "set_device_index",
           "synchronize"]
