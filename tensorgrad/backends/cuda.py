"""tensorgrad.backends.cuda: PyTorch's CUDA switches, for scripts that set them.

``matmul.allow_tf32`` is another view of ``set_float32_matmul_precision`` (True is 'high', False
'highest'), as in PyTorch. The scaled-dot-product-attention backend switches are recorded and
reported back; tensorgrad's attention has one (math) implementation on every device.
"""
from __future__ import annotations

from .. import backend, settings


class _MatmulFlags:
    @property
    def allow_tf32(self) -> bool:
        return settings.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        settings.set_float32_matmul_precision("high" if value else "highest")

    # float16 matmuls may reduce in float16 (PyTorch's default True); cuBLAS decides, as for PyTorch
    allow_fp16_reduced_precision_reduction = True

    def __repr__(self):
        return f"matmul(allow_tf32={self.allow_tf32})"


matmul = _MatmulFlags()
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built() -> bool:
    """Whether this install can use CUDA at all (CuPy imports); a GPU may still be absent."""
    return backend._cupy is not None


def enable_flash_sdp(enabled: bool) -> None:
    _sdp["flash"] = bool(enabled)


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _sdp["mem_efficient"] = bool(enabled)


def enable_math_sdp(enabled: bool) -> None:
    _sdp["math"] = bool(enabled)


def enable_cudnn_sdp(enabled: bool) -> None:
    _sdp["cudnn"] = bool(enabled)


def flash_sdp_enabled() -> bool:
    return _sdp["flash"]


def mem_efficient_sdp_enabled() -> bool:
    return _sdp["mem_efficient"]


def math_sdp_enabled() -> bool:
    return _sdp["math"]


def cudnn_sdp_enabled() -> bool:
    return _sdp["cudnn"]
