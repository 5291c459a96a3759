"""tensorgrad.cuda: memory statistics from CuPy's pool, the peak tracker, empty_cache, and the
eager-checks switch; without CUDA the statistics are 0 as in PyTorch."""
from __future__ import annotations

import gc

import pytest

import tensorgrad as tg
from tensorgrad import backend

_REASON = tg.cuda.unavailable_reason()
needs_cuda = pytest.mark.skipif(_REASON is not None, reason=f"needs a CUDA GPU: {_REASON}")
no_cuda = pytest.mark.skipif(_REASON is None, reason="checks the behaviour without CUDA")
MB = 1 << 20


@no_cuda
def test_memory_stats_without_cuda_are_zero_like_torch():
    for f in (tg.cuda.memory_allocated, tg.cuda.max_memory_allocated, tg.cuda.memory_reserved):
        assert f() == 0 and f(0) == 0 and f("cuda:1") == 0
    assert tg.cuda.empty_cache() is None


@no_cuda
def test_reset_peak_without_cuda_names_the_reason():
    with pytest.raises(RuntimeError, match="reset_peak_memory_stats.*CUDA is not available: .+"):
        tg.cuda.reset_peak_memory_stats()


@pytest.mark.skipif(backend._cupy is None, reason="CuPy is not installed")
def test_peak_tracking_allocator_is_installed_over_the_default_pool():
    import cupy as cp
    assert tg.cuda._PEAK_TRACKED
    assert getattr(cp.cuda.get_allocator(), "__name__", "") == "tracking_malloc"


def test_eager_checks_switch():
    assert tg.cuda.eager_checks() is False
    tg.cuda.set_eager_checks(True)
    try:
        assert tg.cuda.eager_checks() is True
    finally:
        tg.cuda.set_eager_checks(False)
    assert tg.cuda.eager_checks() is False


@needs_cuda
def test_memory_allocated_follows_live_arrays():
    gc.collect()
    before = tg.cuda.memory_allocated()
    t = tg.empty(4 * MB, dtype=tg.uint8, device="cuda")
    assert tg.cuda.memory_allocated() - before >= 4 * MB
    assert tg.cuda.memory_reserved() >= tg.cuda.memory_allocated()
    del t
    gc.collect()
    assert tg.cuda.memory_allocated() == before


@needs_cuda
def test_max_memory_allocated_tracks_the_peak_and_resets():
    gc.collect()
    tg.cuda.reset_peak_memory_stats()
    base = tg.cuda.memory_allocated()
    assert tg.cuda.max_memory_allocated() == base
    a = tg.empty(8 * MB, dtype=tg.uint8, device="cuda")
    b = tg.empty(8 * MB, dtype=tg.uint8, device="cuda")
    del a, b  # the peak was only ever visible inside the allocator
    gc.collect()
    assert tg.cuda.memory_allocated() == base
    assert tg.cuda.max_memory_allocated() >= base + 16 * MB
    tg.cuda.reset_peak_memory_stats()
    assert tg.cuda.max_memory_allocated() == base


@needs_cuda
def test_empty_cache_returns_cached_blocks():
    t = tg.empty(16 * MB, dtype=tg.uint8, device="cuda")
    del t
    gc.collect()
    assert tg.cuda.memory_reserved() - tg.cuda.memory_allocated() >= 16 * MB  # cached by the pool
    tg.cuda.empty_cache()
    assert tg.cuda.memory_reserved() - tg.cuda.memory_allocated() < 16 * MB
    x = tg.ones(3, device="cuda")  # the pool still works after
    assert x.sum().item() == 3.0


@needs_cuda
@pytest.mark.parametrize("dev", [None, 0, "cuda", "cuda:0", tg.device("cuda", 0)])
def test_device_arguments(dev):
    assert tg.cuda.memory_allocated(dev) == tg.cuda.memory_allocated()
    assert tg.cuda.memory_reserved(dev) >= 0
    assert tg.cuda.max_memory_allocated(dev) >= tg.cuda.memory_allocated(dev)
    tg.cuda.reset_peak_memory_stats(dev)


@needs_cuda
def test_device_arguments_rejected():
    with pytest.raises(ValueError, match="expected a CUDA device"):
        tg.cuda.memory_allocated("cpu")
    with pytest.raises(RuntimeError, match="does not exist"):
        tg.cuda.memory_allocated(tg.cuda.device_count())
