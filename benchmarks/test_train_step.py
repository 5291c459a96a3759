"""pytest-benchmark suite for the MNIST training steps of train_step.py (tensorgrad and PyTorch CPU).

    python3 -m pytest benchmarks/test_train_step.py --benchmark-group-by=group
"""
from __future__ import annotations

import math

import pytest

from train_step import WORKLOADS, Runner

FRAMEWORKS = ["tensorgrad", "torch"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_train_step(benchmark, workload, framework):
    if framework == "torch":
        pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    kind, batch, _ = WORKLOADS[workload]
    benchmark.group = f"train step: {workload} ({kind}, batch {batch}), forward + backward + SGD"
    runner = Runner(framework, kind, batch)
    runner.step()  # warm-up
    loss = benchmark(runner.step)
    assert math.isfinite(float(loss.item()))
