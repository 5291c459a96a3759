"""torch.compile's stand-in (tensorgrad runs eagerly), the float32 matmul precision hint and
backends.cuda's switches: scripts that set them run, and the values read back as PyTorch's do."""
from __future__ import annotations

import pytest

import tensorgrad as tg
from oracle import needs_torch, torch


def test_compile_returns_the_model_and_works_as_a_decorator():
    model = tg.nn.Linear(3, 2)
    assert tg.compile(model) is model
    assert tg.compile(model, mode="reduce-overhead", fullgraph=True, dynamic=False) is model

    @tg.compile(backend="eager")
    def double(x):
        return x * 2
    assert double(tg.tensor([1.0])).item() == 2.0
    assert not tg.compiler.is_compiling()
    assert tg.compiler.disable(double) is double


@needs_torch
def test_compile_rejects_what_torch_rejects():
    for kwargs in ({"mode": "fastest"}, {"mode": "default", "options": {}}):
        with pytest.raises(RuntimeError):
            torch.compile(torch.nn.Linear(1, 1), **kwargs)
        with pytest.raises(RuntimeError):
            tg.compile(tg.nn.Linear(1, 1), **kwargs)
    with pytest.raises(ValueError, match="backend 'tpu-magic'"):
        tg.compile(tg.nn.Linear(1, 1), backend="tpu-magic")
    with pytest.raises(RuntimeError, match="must be a callable"):
        tg.compile(42)


@needs_torch
def test_float32_matmul_precision_reads_back_as_torchs():
    saved = tg.get_float32_matmul_precision(), torch.get_float32_matmul_precision()
    try:
        for p in ("high", "medium", "highest"):
            tg.set_float32_matmul_precision(p)
            torch.set_float32_matmul_precision(p)
            assert tg.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == p
            assert tg.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
        tg.backends.cuda.matmul.allow_tf32 = True
        assert tg.get_float32_matmul_precision() == "high"
        tg.backends.cuda.matmul.allow_tf32 = False
        assert tg.get_float32_matmul_precision() == "highest"
        with pytest.raises(RuntimeError, match="invalid precision 'low'"):
            tg.set_float32_matmul_precision("low")
        assert tg.get_float32_matmul_precision() == "highest"
    finally:
        tg.set_float32_matmul_precision(saved[0])
        torch.set_float32_matmul_precision(saved[1])


def test_matmul_precision_reaches_cupy_on_a_gpu():
    if not tg.cuda.is_available():
        pytest.skip("needs a CUDA GPU: CuPy checks the device's compute capability when its cuBLAS "
                    "compute type is set")
    import numpy as np
    from cupy._core import _routines_linalg as rl
    try:
        tg.set_float32_matmul_precision("high")
        assert rl.get_compute_type(np.float32) == rl.COMPUTE_TYPE_TF32
    finally:
        tg.set_float32_matmul_precision("highest")
    assert rl.get_compute_type(np.float32) == rl.COMPUTE_TYPE_FP32


def test_sdp_switches_read_back():
    cuda = tg.backends.cuda
    try:
        cuda.enable_flash_sdp(False)
        assert not cuda.flash_sdp_enabled() and cuda.math_sdp_enabled()
    finally:
        cuda.enable_flash_sdp(True)
