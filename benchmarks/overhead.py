"""Per-op overhead: ``(a * 2 + 1).relu().sum()`` forward + backward on a 4-element float32 tensor.

The arrays are tiny, so this times the framework itself (op dispatch, tape recording, the backward
walk), not the math. tensorgrad and PyTorch (CPU) run in one process: warm-up first, then
`--repeats` interleaved rounds of `--iters` iterations each; the median round is reported.

    python3 benchmarks/overhead.py [--iters 2000] [--repeats 7] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

try:  # a checkout's tensorgrad, installed or not
    import tensorgrad as tg
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import tensorgrad as tg

VALUES = [1.0, -2.0, 3.0, -4.0]
EXPECTED_GRAD = [2.0, 0.0, 2.0, 0.0]


def tensorgrad_input():
    return tg.tensor(VALUES, dtype=tg.float32, requires_grad=True)


def tensorgrad_step(a):
    (a * 2 + 1).relu().sum().backward()
    a.grad = None  # as zero_grad(set_to_none=True) would, so grads never accumulate


def torch_input():
    import torch
    return torch.tensor(VALUES, dtype=torch.float32, requires_grad=True)


def torch_step(a):
    (a * 2 + 1).relu().sum().backward()
    a.grad = None


def _round(step, a, iters: int) -> float:
    """Microseconds per iteration over one round of `iters` iterations."""
    t0 = time.perf_counter()
    for _ in range(iters):
        step(a)
    return (time.perf_counter() - t0) / iters * 1e6


def measure(iters: int = 2000, repeats: int = 7, warmup: int = 500, with_torch: bool = True) -> dict:
    runners = {"tensorgrad": (tensorgrad_step, tensorgrad_input())}
    torch = None
    if with_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed: timing tensorgrad alone (pip install torch==2.13.0)")
        else:
            runners["torch"] = (torch_step, torch_input())
    for step, a in runners.values():  # warm-up, and a check that both compute the same thing
        for _ in range(warmup):
            step(a)
        (a * 2 + 1).relu().sum().backward()
        assert a.grad.tolist() == EXPECTED_GRAD, a.grad
        a.grad = None
    rounds = {name: [] for name in runners}
    for _ in range(repeats):  # interleaved, so drift in machine load hits both alike
        for name, (step, a) in runners.items():
            rounds[name].append(_round(step, a, iters))
    result = {
        "workload": "(a * 2 + 1).relu().sum().backward(), a: 4-element float32, requires_grad",
        "iters": iters, "repeats": repeats, "warmup": warmup,
        "us_per_iter": {name: statistics.median(r) for name, r in rounds.items()},
        "rounds_us": rounds,
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "tensorgrad": tg.__version__, **({"torch": torch.__version__} if torch else {})},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(),
                    "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
    }
    if "torch" in rounds:
        result["torch_threads"] = torch.get_num_threads()
        result["ratio_tensorgrad_over_torch"] = result["us_per_iter"]["tensorgrad"] / result["us_per_iter"]["torch"]
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=2000, help="iterations per round")
    ap.add_argument("--repeats", type=int, default=7, help="rounds per framework (median reported)")
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--no-torch", action="store_true", help="time tensorgrad alone")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = ap.parse_args(argv)
    res = measure(args.iters, args.repeats, args.warmup, not args.no_torch)
    print(f"workload: {res['workload']}")
    load = res["machine"]["loadavg_1min"]
    print(f"{args.repeats} rounds x {args.iters} iterations, median round"
          f"{'' if load is None else f' (load average {load:.2f} on {os.cpu_count()} cores)'}:")
    for name, us in res["us_per_iter"].items():
        spread = f"(rounds {min(res['rounds_us'][name]):.1f}..{max(res['rounds_us'][name]):.1f})"
        print(f"  {name:<11} {us:8.1f} us/iter  {spread}")
    if "ratio_tensorgrad_over_torch" in res:
        print(f"  ratio tensorgrad/torch: {res['ratio_tensorgrad_over_torch']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
