"""Train a tiny MLP on two interleaved spirals with raw tensorgrad tensors.

No nn module or optimizer yet: the parameters are leaf tensors with requires_grad, the update is
SGD with momentum written out under tg.no_grad(). Runs on CUDA when available, else on the CPU.

    python3 examples/demo.py [--steps 400] [--cpu]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import tensorgrad as tg


def spirals(n_per_class: int, seed: int = 0):
    """Two interleaved spirals in the plane: points (n, 2) and labels +1 / -1 (n, 1)."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n_per_class)) * 3 * math.pi  # denser near the centre
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * math.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.02, (2 * n_per_class, 2))
    y = np.concatenate([np.ones(n_per_class), -np.ones(n_per_class)])[:, None]
    return x.astype(np.float32), y.astype(np.float32)


def init_params(sizes, device):
    """He-initialised weights (fan_in, fan_out) and zero biases, as leaf tensors requiring grad."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = tg.randn(fan_in, fan_out, device=device) * math.sqrt(2.0 / fan_in)
        b = tg.zeros(fan_out, device=device)
        params += [w.requires_grad_(), b.requires_grad_()]
    return params


def forward(params, x):
    *hidden, w_out, b_out = params
    h = x
    for w, b in zip(hidden[0::2], hidden[1::2]):
        h = (h @ w + b).relu()
    return (h @ w_out + b_out).tanh()  # in (-1, 1), compared with the +-1 labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--cpu", action="store_true", help="stay on the CPU even when CUDA is available")
    args = ap.parse_args()

    device = "cuda" if tg.cuda.is_available() and not args.cpu else "cpu"
    why = "" if device == "cuda" else f" ({tg.cuda.unavailable_reason() or 'chosen'})"
    print(f"tensorgrad {tg.__version__} on {device}{why}")
    tg.manual_seed(0)

    xs, ys = spirals(200)
    x = tg.tensor(xs, device=device)
    y = tg.tensor(ys, device=device)
    params = init_params([2, 64, 64, 1], device)
    velocity = [tg.zeros_like(p) for p in params]

    start = time.perf_counter()
    for step in range(args.steps + 1):
        out = forward(params, x)
        diff = out - y
        loss = (diff * diff).mean()
        loss.backward()
        with tg.no_grad():  # SGD with momentum, in place on the leaves
            for p, v in zip(params, velocity):
                v.mul_(0.9).add_(p.grad)
                p.sub_(v * args.lr)
                p.grad = None
        if step % (args.steps // 8 or 1) == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}")
    elapsed = time.perf_counter() - start

    with tg.no_grad():
        correct = ((forward(params, x) > 0) == (y > 0)).float().mean().item()
    print(f"accuracy {correct:.1%} on {xs.shape[0]} points, {args.steps} steps in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
