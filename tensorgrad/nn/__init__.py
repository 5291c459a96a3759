"""tensorgrad.nn: modules, parameters, initializers and the functional API (torch.nn's names)."""
from __future__ import annotations

from .parameter import Parameter
from .module import Module
from .containers import ModuleDict, ModuleList, Sequential
from .linear import Flatten, Identity, Linear, Unflatten
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from . import functional, init, utils
from . import functional as functional  # noqa: PLC0414 - explicit re-export

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Flatten",
           "Unflatten", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh", "Softmax",
           "LogSoftmax", "functional", "init", "utils"]

try:
    from .loss import *  # noqa: F401,F403
    from . import loss as _loss
    __all__ += [n for n in getattr(_loss, "__all__", ()) if n not in __all__]
except ImportError:  # pragma: no cover - written separately
    pass
