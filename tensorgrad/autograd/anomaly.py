"""Anomaly detection (torch.autograd.detect_anomaly / set_detect_anomaly): while on, every op
recorded keeps the stack of the forward call that made it, and every backward step checks its
results for NaN, raising at the first op that produced one with that forward stack in the message.
For debugging only: the NaN check reads each gradient (a device sync on CUDA) and the stacks cost
time, as in PyTorch.
"""
from __future__ import annotations

import functools
import traceback
import warnings

from ..backend import xp_of

_mode = [False, True]  # [enabled, check_nan]; process-wide, as PyTorch's


def is_anomaly_enabled() -> bool:
    return _mode[0]


def is_anomaly_check_nan_enabled() -> bool:
    return _mode[1]


def forward_stack() -> list:
    """The caller's stack, for the node being recorded (called only while anomaly mode is on)."""
    return traceback.format_stack()[:-2]


def check_gradients(node, grads) -> None:
    """Raise if a backward result holds NaN, naming the op and where its forward ran."""
    if not _mode[1]:
        return
    for i, g in enumerate(grads):
        if g is None or g._data.dtype.kind not in "fc":
            continue
        if bool(xp_of(g._data).isnan(g._data).any()):
            where = getattr(node, "_forward_stack", None)
            origin = ("\nTraceback of the forward call that caused the error:\n" + "".join(where)) if where else ""
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.{origin}")


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self.prev = tuple(_mode)
        _mode[0], _mode[1] = True, self.check_nan

    def __exit__(self, *exc):
        _mode[0], _mode[1] = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off: takes effect when called, and undoes itself when used as
    a context manager."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = tuple(_mode)
        _mode[0], _mode[1] = bool(mode), check_nan

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _mode[0], _mode[1] = self.prev
        return False


__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]
