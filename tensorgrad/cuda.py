"""tensorgrad.cuda: is CUDA usable, and which device is current."""
from __future__ import annotations

from . import backend


def is_available() -> bool:
    """True when CuPy imports and sees a CUDA device with a working driver."""
    return backend.cuda_unavailable_reason() is None


def unavailable_reason() -> str | None:
    """Why CUDA can't be used here (no CuPy / no driver / no device), or None."""
    return backend.cuda_unavailable_reason()


def device_count() -> int:
    return backend.cuda_device_count()


def current_device() -> int:
    return backend.cupy().cuda.runtime.getDevice()


def set_device(device) -> None:
    d = backend.normalize_device(backend.as_device(device))
    backend.cupy().cuda.runtime.setDevice(d.index)


def synchronize(device=None) -> None:
    cp = backend.cupy()
    if device is None:
        cp.cuda.Device().synchronize()
    else:
        d = backend.normalize_device(backend.as_device(device))
        cp.cuda.Device(d.index).synchronize()


def manual_seed(seed: int) -> None:
    """Seed the current device's generator (tensorgrad.manual_seed seeds all devices)."""
    backend.manual_seed_cuda(seed, current_device())


def manual_seed_all(seed: int) -> None:
    backend.manual_seed_cuda(seed)


class device:
    """Context manager making a CUDA device current: ``with tensorgrad.cuda.device(1): ...``."""

    def __init__(self, device):
        self._device = backend.normalize_device(backend.as_device(device))
        self._ctx = None

    def __enter__(self):
        self._ctx = backend.device_context(self._device)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
