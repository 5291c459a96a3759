"""pytest-benchmark suite for rnn_step.py: the sequential-MNIST LSTM training step and one GRU layer's
forward + backward (tensorgrad and PyTorch CPU).

    python3 -m pytest benchmarks/test_rnn_step.py --benchmark-group-by=group
"""
from __future__ import annotations

import math

import pytest

from rnn_step import LayerRunner, SeqMNISTRunner

FRAMEWORKS = ["tensorgrad", "torch"]
GRU_LAYER = {"hidden": 128, "T": 28, "batch": 64}  # one cell of rnn_step.py's grid


def _need(framework: str) -> None:
    if framework == "torch":
        pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("batch", [64, 256])
def test_seq_mnist_lstm_step(benchmark, batch, framework):
    _need(framework)
    benchmark.group = (f"seq-MNIST LSTM(28, 128) + Linear(128, 10), batch {batch}: "
                       f"zero_grad, forward, cross_entropy, backward, SGD step")
    runner = SeqMNISTRunner(framework, batch)
    runner.step()  # warm-up
    loss = benchmark(runner.step)
    assert math.isfinite(float(loss.item()))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_gru_layer_fwd_bwd(benchmark, framework):
    _need(framework)
    h, T, b = GRU_LAYER["hidden"], GRU_LAYER["T"], GRU_LAYER["batch"]
    benchmark.group = (f"GRU(28, {h}, batch_first=True) on (batch {b}, T {T}, 28): "
                       f"forward + backward of a fixed random upstream gradient")
    runner = LayerRunner(framework, "gru", h, T, b)
    runner.fwd_bwd()  # warm-up
    out = benchmark(runner.fwd_bwd)
    assert tuple(out.shape) == (b, T, h)
