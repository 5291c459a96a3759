"""The pytest-benchmark suite: every tensorgrad.bench workload, forward and backward separately
and together, for tensorgrad and PyTorch, on each device, dtype, batch size and width.

    python3 -m pytest benchmarks/test_suite.py --benchmark-group-by=group [-k "lstm and cuda"]

Widths: each workload's default (hidden size, channels) and twice it, except where the shapes are
fixed (the MNIST CNN, MaxPool2d at the MNIST shape); TENSORGRAD_BENCH_WIDTHS=1 keeps the defaults
only, =1,2,4 adds more multiples. Batch sizes: TENSORGRAD_BENCH_BATCHES (default 16,64).

What is timed (tensorgrad/bench/workloads.py has the workloads):
  forward   the layer or model (a training step: with its loss), autograd recording
  backward  out.backward(g) after an untimed forward (pedantic setup), one call per round
  both      forward then backward (and the optimizer step of a training-step workload)
On CUDA each timed call ends with a device synchronization (pytest-benchmark times on the host),
so the figure is the GPU work plus launch; `python -m tensorgrad.bench` uses CUDA events instead.
float16 runs on CUDA only. Groups put tensorgrad and PyTorch side by side.
"""
from __future__ import annotations

import os

import pytest

import tensorgrad as tg
from tensorgrad.bench import WORKLOADS, Case, Framework
from tensorgrad.bench.workloads import FIXED_WIDTH

DEVICES = ["cpu"] + (["cuda"] if tg.cuda.is_available() else [])
BATCHES = [int(b) for b in os.environ.get("TENSORGRAD_BENCH_BATCHES", "16,64").split(",")]
WIDTH_MULTIPLES = [int(m) for m in os.environ.get("TENSORGRAD_BENCH_WIDTHS", "1,2").split(",")]


def _widths(name: str) -> list[int]:
    default = WORKLOADS[name][2]
    return [default] if name in FIXED_WIDTH else [default * m for m in WIDTH_MULTIPLES]


def _sync(framework: str, device: str):
    if device == "cpu":
        return lambda: None
    if framework == "torch":
        import torch
        return torch.cuda.synchronize
    return tg.cuda.synchronize


def _case(framework, name, device, dtype, batch, width):
    if framework == "torch":
        torch = pytest.importorskip("torch", reason="PyTorch is not installed")
        if device == "cuda" and not torch.cuda.is_available():
            pytest.skip("this PyTorch build has no CUDA")
        ref = Case(name, Framework("tensorgrad"), "cpu", dtype, batch, width)
        return Case(name, Framework("torch"), device, dtype, batch, width, reference_state=ref.state())
    return Case(name, Framework("tensorgrad"), device, dtype, batch, width)


def _params():
    for name in WORKLOADS:
        for device in DEVICES:
            for dtype in ["float32"] + (["float16"] if device == "cuda" else []):
                for batch in BATCHES:
                    for width in _widths(name):
                        yield pytest.param(name, device, dtype, batch, width,
                                           id=f"{name}-{device}-{dtype}-b{batch}-w{width}")


@pytest.mark.parametrize("framework", ["tensorgrad", "torch"])
@pytest.mark.parametrize("part", ["forward", "backward", "both"])
@pytest.mark.parametrize("name,device,dtype,batch,width", list(_params()))
def test_workload(benchmark, framework, part, name, device, dtype, batch, width):
    case = _case(framework, name, device, dtype, batch, width)
    sync = _sync(framework, device)
    benchmark.group = f"{name} {part}: {WORKLOADS[name][1]}, width {width}, batch {batch}, {device}, {dtype}"
    benchmark.extra_info.update(workload=name, part=part, device=device, dtype=dtype, batch=batch, width=width)
    for _ in range(2):  # warm-up
        case.backward(case.forward())
        case.step()
    sync()
    if part == "forward":
        benchmark(lambda: (case.forward(), sync()))
    elif part == "backward":
        def setup():
            out = case.forward()
            sync()
            return (out,), {}
        benchmark.pedantic(lambda out: (case.backward(out), sync()), setup=setup, rounds=10, iterations=1)
    else:
        benchmark(lambda: (case.backward(case.forward()), case.step(), sync()))
