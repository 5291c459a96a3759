"""The adding problem (Hochreiter & Schmidhuber, 1997): a test of long-range memory for an LSTM.

Each input is a sequence of --seq-len steps (T=100 by default) of two features: a value drawn
from U(0, 1) and a marker that is 1 at exactly two steps (one in the first half of the sequence,
one in the second) and 0 elsewhere. The target is the sum of the two marked values. The model,
LSTM(2 -> 64) -> last step's output -> linear(64 -> 1), is trained with the mean squared error
on fresh random batches, and evaluated on a fixed test set.

The baseline to beat: the sum of two independent U(0, 1) values has mean 1 and variance
2 * 1/12 = 1/6, so always predicting 1.0 gives MSE = 1/6 ~ 0.167. A model that has not learnt
to find and remember the marked values sits on that plateau; the example prints it (in theory
and measured on the test set) next to the LSTM's test MSE.

Defaults: Adam, lr 1e-2 halved every 1000 steps, gradient clipping at 1.0, batch 64, 2500 steps.
The default run (T=100), 104 s on a 2-core CPU with one BLAS thread (~40 ms a step):

    baseline: 1/6 = 0.1667 in theory, 0.1688 on the test set of 2000
    step  250 .. 750: test MSE 0.175, 0.169, 0.170 (the plateau: the mean answer)
    step 1000: test MSE 0.0037   (it has found the markers: 2.2% of the baseline)
    step 1500: test MSE 0.0014
    step 2500: test MSE 0.0006   (0.4% of the baseline)

How long the plateau lasts depends on the seed (--seed 2 leaves it after ~1400 steps and ends at
0.0008 after 2000); shorter sequences are quicker: T=30 needs ~200-500 steps at lr 1e-2
(tests/test_examples_rnn.py). On a busy machine run with OPENBLAS_NUM_THREADS=1
OMP_NUM_THREADS=1: the products are small, and spinning BLAS threads stall them a hundredfold.

    python3 examples/adding_problem.py [--seq-len 100] [--steps 2500] [--batch-size 64]
                                       [--hidden 64] [--lr 1e-2] [--clip 1.0] [--eval-every 250]
                                       [--test-size 2000] [--seed 1] [--device auto|cpu|cuda]
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import tensorgrad as tg
import tensorgrad.nn as nn
import tensorgrad.nn.functional as F

from _common import pick_device, tqdm

BASELINE_MSE = 1 / 6  # Var(U1 + U2) = 2 * Var(U(0, 1)) = 2/12: the MSE of always answering the mean, 1.0


def adding_batch(n: int, seq_len: int, rng: np.random.Generator):
    """(x (n, seq_len, 2), y (n, 1)) float32: values, markers and the sums of the marked values."""
    values = rng.random((n, seq_len))
    half = seq_len // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, seq_len, n)
    markers = np.zeros((n, seq_len))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2).astype(np.float32)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)[:, None]
    return x, y


class Adder(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.lstm = nn.LSTM(2, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def test_mse(model, x, y, device, batch: int = 500) -> float:
    model.eval()
    total = 0.0
    with tg.no_grad():
        for i in range(0, len(x), batch):
            xb = tg.from_numpy(x[i:i + batch]).to(device)
            yb = tg.from_numpy(y[i:i + batch]).to(device)
            total += F.mse_loss(model(xb), yb, reduction="sum").item()
    return total / len(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seq-len", type=int, default=100, help="T, the length of each sequence")
    p.add_argument("--steps", type=int, default=2500, help="training steps, each on a fresh random batch")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--lr-step", type=int, default=1000, help="halve the lr every this many steps (0: never)")
    p.add_argument("--clip", type=float, default=1.0, help="max total gradient 2-norm (0: no clipping)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    if args.seq_len < 2:
        raise SystemExit("--seq-len must be at least 2 (one marker in each half)")

    tg.manual_seed(args.seed)
    device = pick_device(args.device)
    rng = np.random.default_rng(args.seed)
    x_test, y_test = adding_batch(args.test_size, args.seq_len, np.random.default_rng(args.seed + 10_000))
    measured = float(((y_test - 1.0) ** 2).mean())
    print(f"baseline: always predicting 1.0 gives MSE = Var(sum) = 1/6 = {BASELINE_MSE:.4f} in theory, "
          f"{measured:.4f} on this test set of {args.test_size} (T={args.seq_len})")

    model = Adder(args.hidden).to(device)
    optimizer = tg.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = tg.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_step, gamma=0.5) if args.lr_step else None
    steps = range(1, args.steps + 1)
    bar = tqdm(steps, desc="training", unit="step") if tqdm else steps
    history, recent, t0 = [], [], time.perf_counter()
    for step in bar:
        model.train()
        xb, yb = adding_batch(args.batch_size, args.seq_len, rng)
        xb, yb = tg.from_numpy(xb).to(device), tg.from_numpy(yb).to(device)
        optimizer.zero_grad()
        loss = F.mse_loss(model(xb), yb)
        loss.backward()
        if args.clip:
            tg.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        if scheduler:
            scheduler.step()
        recent.append(loss.item())
        if tqdm and step % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(recent[-20:]):.4f}",
                            samples_s=f"{step * args.batch_size / (time.perf_counter() - t0):.0f}")
        if step % args.eval_every == 0 or step == args.steps:
            mse = test_mse(model, x_test, y_test, device)
            history.append((step, mse))
            msg = (f"step {step}: train MSE {np.mean(recent):.4f}, test MSE {mse:.4f} "
                   f"({mse / measured:.1%} of the baseline), {time.perf_counter() - t0:.0f} s")
            (bar.write if tqdm else print)(msg)
            recent = []
    final = history[-1][1]
    print(f"test MSE {final:.4f} vs baseline {measured:.4f}: "
          + ("solved" if final < 0.1 * measured else "not solved yet (try more --steps)"))
    return {"baseline": measured, "history": history}


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
