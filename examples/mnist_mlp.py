"""A 784-512-512-10 MLP on MNIST (ReLU, dropout 0.2), written against tensorgrad's nn API.

Defaults: Adam with a one-cycle learning rate (peak 2e-3) over 5 epochs, batch 64: 98.5% test
accuracy (a constant lr of 1e-3 levels off near 97.7%).

    python3 examples/mnist_mlp.py [--epochs 5] [--batch-size 64] [--lr 2e-3] [--seed 1]
                                  [--device auto|cpu|cuda] [--checkpoint PATH]
"""
from __future__ import annotations

import argparse
import sys

import tensorgrad as tg
import tensorgrad.nn as nn

from _common import evaluate, load_checkpoint, mnist_loaders, pick_device, save_checkpoint, train_epoch


def make_model():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 10), nn.LogSoftmax(dim=1),
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--data", default="data")
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)

    tg.manual_seed(args.seed)
    device = pick_device(args.device)
    train_loader, test_loader = mnist_loaders(args.data, args.batch_size, limit=args.limit)
    model = make_model().to(device)
    optimizer = tg.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = tg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                 steps_per_epoch=len(train_loader))
    start = load_checkpoint(args.checkpoint, model, optimizer, scheduler, device)
    acc = 0.0
    for epoch in range(start, args.epochs + 1):
        rate = train_epoch(model, train_loader, optimizer, device, epoch, scheduler)
        loss, acc = evaluate(model, test_loader, device)
        print(f"epoch {epoch}: test loss {loss:.4f}, accuracy {acc:.2f}% ({rate:.0f} train samples/s on {device})")
        if args.checkpoint:
            save_checkpoint(args.checkpoint, model, optimizer, scheduler, epoch)
    return acc


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
