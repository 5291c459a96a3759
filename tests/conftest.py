"""Shared fixtures: every test that takes `device` runs on the CPU and, where a GPU is usable, on CUDA."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/oracle.py importable as `oracle`

import tensorgrad as tg  # noqa: E402
from tensorgrad import device_checks  # noqa: E402

_CUDA_REASON = tg.cuda.unavailable_reason()


def pytest_report_header(config):
    return [f"tensorgrad CUDA: {'available' if _CUDA_REASON is None else 'unavailable (' + _CUDA_REASON[:80] + ')'}"]


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request):
    """'cpu', and 'cuda' where a GPU is usable (skipped with the reason otherwise)."""
    if request.param == "cuda" and _CUDA_REASON is not None:
        pytest.skip(f"needs a CUDA GPU: {_CUDA_REASON}")
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    tg.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True)
def _no_pending_checks():
    """A validity check one test left pending on CUDA must not fail the next test."""
    device_checks.discard()
    yield


@pytest.fixture
def eager_checks():
    """For tests of error messages: data-dependent checks (index bounds, class values, integer
    division by zero) raise at the call on CUDA too, instead of at the next read of a device value.
    tests/test_device_checks.py covers the deferred path itself."""
    before = device_checks.is_eager()
    device_checks.set_eager(True)
    yield
    device_checks.set_eager(before)


@pytest.fixture
def kernel_calls(monkeypatch):
    """The (file, function) of every fused kernel fetched from the registry while the test runs,
    in order: ops fetch their kernel per launch, so this lists the launches."""
    from tensorgrad import kernels
    calls = []
    real = kernels.get_kernel

    def spy(name, function, dtype, device=None):
        calls.append((name, function))
        return real(name, function, dtype, device)
    monkeypatch.setattr(kernels, "get_kernel", spy)
    return calls


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: runs on a CUDA device (skipped without a GPU)")
    config.addinivalue_line("markers", "slow: long-running test")
