"""Speed of the NumPy references in tensorgrad.fused.activation: erf and GELU, against np.vectorize(math.erf)
(what the erf reference used to be). ns per element, best of several runs.

    python3 benchmarks/reference_speed.py [--n 1000000]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

try:
    from tensorgrad.fused import activation as A
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from tensorgrad.fused import activation as A


def best_ns_per_element(fn, x, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - t0)
    return best / x.size * 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    x64 = np.random.default_rng(0).standard_normal(args.n) * 2
    x32 = x64.astype(np.float32)
    vectorized = np.vectorize(math.erf, otypes=[np.float64])
    cases = [
        ("np.vectorize(math.erf), float64", lambda x: vectorized(x), x64),
        ("A.erf, float64", A.erf, x64),
        ("A.gelu_forward, float32", A.gelu_forward, x32),
        ("A.gelu_backward, float32", lambda x: A.gelu_backward(x, x), x32),
        ("A.gelu_forward tanh, float32", lambda x: A.gelu_forward(x, "tanh"), x32),
    ]
    print(f"{args.n} elements, best of {args.runs}:")
    for name, fn, x in cases:
        print(f"  {name:<38} {best_ns_per_element(fn, x, args.runs):7.1f} ns/element")


if __name__ == "__main__":
    main()
