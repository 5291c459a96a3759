"""tensorgrad.backends.cudnn: how CUDA convolutions use cuDNN, with PyTorch's names.

  enabled        (True)  False: convolutions take im2col + cuBLAS only
  benchmark      (True)  True: each configuration's first run times cuDNN against im2col and
                         keeps the faster (tensorgrad's default); False: cuDNN's own heuristic
                         choice wherever cuDNN takes the configuration, no timing (PyTorch's
                         default, and the choice where shapes keep changing)
  deterministic  (True)  True: cuDNN engines that use atomics (run-to-run differences) are left out
  allow_tf32     (False) True: float32 convolutions may round their inputs to TF32 on tensor cores

The defaults differ from PyTorch's where tensorgrad behaves differently by default, so reading a
flag tells what happens. TENSORGRAD_CONV_ALGO (auto, cudnn, im2col), when set, decides over
enabled and benchmark. Works as ``tg.backends.cudnn.benchmark = True`` and as
``import tensorgrad.backends.cudnn as cudnn; cudnn.benchmark = True``.
"""
from __future__ import annotations

import sys
import types

from ..fused import conv_algo, cudnn_conv


def is_available() -> bool:
    """Whether cuDNN can run convolutions here (its frontend and library load, and a GPU is usable)."""
    return cudnn_conv.unavailable_reason() is None


def version():
    """cuDNN's version number (e.g. 91000), or None where it is unavailable."""
    if not is_available():
        return None
    return cudnn_conv.info().get("backend_version")


def _flag(module, name, doc):
    def get(self):
        return getattr(module, name)

    def set_(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"backends.cudnn: expected a bool, got {type(value).__name__} {value!r}")
        setattr(module, name, value)
    return property(get, set_, doc=doc)


class _CudnnModule(types.ModuleType):
    enabled = _flag(conv_algo, "CUDNN_ENABLED", "False: CUDA convolutions use im2col + cuBLAS only")
    benchmark = _flag(conv_algo, "BENCHMARK", "True: time cuDNN against im2col per configuration")
    deterministic = _flag(cudnn_conv, "DETERMINISTIC", "True: no cuDNN engines with atomics")
    allow_tf32 = _flag(cudnn_conv, "ALLOW_TF32", "True: float32 convolutions may use TF32 tensor cores")


sys.modules[__name__].__class__ = _CudnnModule
