"""pytest-benchmark suite for the per-op overhead workload of overhead.py (tensorgrad and PyTorch).

    python3 -m pytest benchmarks/ --benchmark-group-by=group
"""
from __future__ import annotations

import pytest

from overhead import EXPECTED_GRAD, tensorgrad_input, tensorgrad_step, torch_input, torch_step


@pytest.mark.benchmark(group="overhead: (a*2+1).relu().sum() fwd+bwd, 4 x float32")
def test_overhead_tensorgrad(benchmark):
    a = tensorgrad_input()
    benchmark(tensorgrad_step, a)
    (a * 2 + 1).relu().sum().backward()
    assert a.grad.tolist() == EXPECTED_GRAD


@pytest.mark.benchmark(group="overhead: (a*2+1).relu().sum() fwd+bwd, 4 x float32")
def test_overhead_torch(benchmark):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    a = torch_input()
    benchmark(torch_step, a)
    (a * 2 + 1).relu().sum().backward()
    assert a.grad.tolist() == EXPECTED_GRAD
