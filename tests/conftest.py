"""Shared fixtures: every test that takes `device` runs on the CPU and, where a GPU is usable, on CUDA."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/oracle.py importable as `oracle`

import tensorgrad as tg  # noqa: E402

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


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: runs on a CUDA device (skipped without a GPU)")
    config.addinivalue_line("markers", "slow: long-running test")
