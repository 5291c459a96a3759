"""The pytest-benchmark suite: every tensorgrad.bench workload, forward and backward separately
and together, for tensorgrad and PyTorch, on each device, dtype and batch size.

    python3 -m pytest benchmarks/test_suite.py --benchmark-group-by=group [-k "lstm and cuda"]

What is timed (tensorgrad/bench/workloads.py has the workloads):
  forward   the layer or model (a training step: with its loss), autograd recording
  backward  out.backward(g) after an untimed forward (pedantic setup), one call per round
  both      forward then backward (and the optimizer step of a training-step workload)
On CUDA each timed call ends with a device synchronization (pytest-benchmark times on the host),
so the figure is the GPU work plus launch; `python -m tensorgrad.bench` uses CUDA events instead.
float16 runs on CUDA only. Groups put tensorgrad and PyTorch side by side.
"""
from __future__ import annotations

import pytest

import tensorgrad as tg
from tensorgrad.bench import WORKLOADS, Case, Framework

DEVICES = ["cpu"] + (["cuda"] if tg.cuda.is_available() else [])
BATCHES = {"default": [16, 64], "recurrent": [16, 64]}


def _sync(framework: str, device: str):
    if device == "cpu":
        return lambda: None
    if framework == "torch":
        import torch
        return torch.cuda.synchronize
    return tg.cuda.synchronize


def _case(framework, name, device, dtype, batch):
    if framework == "torch":
        torch = pytest.importorskip("torch", reason="PyTorch is not installed")
        if device == "cuda" and not torch.cuda.is_available():
            pytest.skip("this PyTorch build has no CUDA")
        ref = Case(name, Framework("tensorgrad"), "cpu", dtype, batch)
        return Case(name, Framework("torch"), device, dtype, batch, reference_state=ref.state())
    return Case(name, Framework("tensorgrad"), device, dtype, batch)


def _params():
    for name in WORKLOADS:
        for device in DEVICES:
            for dtype in ["float32"] + (["float16"] if device == "cuda" else []):
                for batch in BATCHES["default"]:
                    yield pytest.param(name, device, dtype, batch, id=f"{name}-{device}-{dtype}-b{batch}")


@pytest.mark.parametrize("framework", ["tensorgrad", "torch"])
@pytest.mark.parametrize("part", ["forward", "backward", "both"])
@pytest.mark.parametrize("name,device,dtype,batch", list(_params()))
def test_workload(benchmark, framework, part, name, device, dtype, batch):
    case = _case(framework, name, device, dtype, batch)
    sync = _sync(framework, device)
    benchmark.group = f"{name} {part}: {WORKLOADS[name][1]}, batch {batch}, {device}, {dtype}"
    benchmark.extra_info.update(workload=name, part=part, device=device, dtype=dtype, batch=batch)
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
