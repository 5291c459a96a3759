"""tensorgrad.amp: GradScaler (dynamic loss scaling, PyTorch's algorithm) and autocast.

GradScaler is for training in float16: the loss is multiplied by a scale before backward, so
small gradients do not flush to zero; unscale_ divides the gradients back and notes whether any
is inf or NaN; step skips the optimizer step when one is; update halves the scale after such a
step and doubles it after ``growth_interval`` clean ones. The inf check stays on the device until
step reads it (one read per step, as in PyTorch).

autocast (per-op float16 inside a region) lives in autocast_mode.py; this module re-exports it,
with custom_fwd/custom_bwd, as PyTorch's torch.amp does.
"""
from __future__ import annotations

import types
import warnings

import numpy as np

from . import backend, cuda
from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_enabled  # noqa: F401
from .tensor import Tensor


class GradScaler:
    """Dynamic loss scaling: ``scaler.scale(loss).backward(); scaler.step(opt); scaler.update()``."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if device not in ("cuda", "cpu"):
            raise RuntimeError(f"GradScaler: device must be 'cuda' or 'cpu', got {device!r}")
        if enabled and device == "cuda" and not cuda.is_available():
            warnings.warn("GradScaler is enabled, but CUDA is not available; disabling it (as PyTorch does).",
                          stacklevel=2)
            enabled = False
        if growth_factor <= 1.0:
            raise ValueError("The growth factor must be > 1.0.")
        if backoff_factor >= 1.0:
            raise ValueError("The backoff factor must be < 1.0.")
        self._device, self._enabled = device, bool(enabled)
        self._scale, self._growth_factor, self._backoff_factor = float(init_scale), growth_factor, backoff_factor
        self._growth_interval, self._growth_tracker = int(growth_interval), 0
        self._per_optimizer: dict = {}  # id(optimizer) -> {"unscaled": bool, "found_inf": device bool or None}

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def get_growth_interval(self):
        return self._growth_interval

    def scale(self, outputs):
        """outputs (a tensor, or a list/tuple of them) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError(f"GradScaler.scale: outputs must be a Tensor or an iterable of Tensors, got "
                         f"{type(outputs).__name__}")

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"unscaled": False, "found_inf": None, "stepped": False})

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale (in place) and note any inf/NaN among them."""
        if not self._enabled:
            return
        st = self._state(optimizer)
        if st["unscaled"]:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        inv = 1.0 / self._scale
        found = None
        for group in optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                data = g._data
                xp = backend.xp_of(data)
                bad = ~xp.isfinite(data).all()  # a device bool: no read here
                found = bad if found is None else (found | bad)
                if data.dtype == np.float16:  # 1/scale can be below float16's range: multiply in float32
                    wide = data.astype(np.float32)
                    wide *= np.float32(inv)
                    data[...] = wide
                else:
                    data *= data.dtype.type(inv)
        st["unscaled"], st["found_inf"] = True, found

    def step(self, optimizer, *args, **kwargs):
        """unscale_ if not yet done, then optimizer.step() unless a gradient was inf or NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        st = self._state(optimizer)
        if st["stepped"]:
            raise RuntimeError("step() has already been called since the last update().")
        if not st["unscaled"]:
            self.unscale_(optimizer)
        st["stepped"] = True
        if st["found_inf"] is not None and bool(st["found_inf"]):  # the one read of the step
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        """Back off after a step that found inf/NaN, grow after growth_interval clean steps (or set new_scale)."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        else:
            checks = [st["found_inf"] for st in self._per_optimizer.values() if st["found_inf"] is not None]
            if not checks:  # as PyTorch: an update without an unscale_/step would grow the scale blindly
                raise AssertionError("No inf checks were recorded prior to update.")
            found = any(bool(f) for f in checks)
            if found:
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale *= self._growth_factor
                    self._growth_tracker = 0
        self._per_optimizer.clear()

    def state_dict(self) -> dict:
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])


def _cuda_grad_scaler(init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                      enabled=True):
    """torch.cuda.amp.GradScaler(...): GradScaler('cuda', ...)."""
    return GradScaler("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


def _cuda_autocast(enabled=True, dtype=None, cache_enabled=None):
    """torch.cuda.amp.autocast(...): autocast('cuda', ...)."""
    return autocast("cuda", dtype, enabled, cache_enabled)


# tensorgrad.cuda.amp: PyTorch's older spelling of the same two
cuda_amp = types.SimpleNamespace(GradScaler=_cuda_grad_scaler, autocast=_cuda_autocast, custom_fwd=custom_fwd,
                                 custom_bwd=custom_bwd)

__all__ = ["GradScaler", "autocast", "custom_fwd", "custom_bwd", "is_autocast_enabled"]
