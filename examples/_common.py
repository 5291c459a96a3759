"""What the MNIST examples share: device choice, data loaders, the train/test loops, checkpoints."""
from __future__ import annotations

import os
import time

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad.datasets import MNIST
from tensorgrad.transforms import Compose, Normalize, ToTensor
from tensorgrad.utils.data import DataLoader

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is optional: pip install "tensorgrad-autodiff[examples]"
    tqdm = None


def pick_device(name: str) -> str:
    if name != "auto":
        return name
    if tg.cuda.is_available():
        return "cuda"
    print(f"CUDA not available ({tg.cuda.unavailable_reason()}); training on the CPU")
    return "cpu"


def mnist_loaders(root: str, batch_size: int, test_batch_size: int = 1000, limit: int | None = None):
    """Train and test loaders over real MNIST, normalised with the usual mean and std."""
    tf = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    train, test = MNIST(root, train=True, transform=tf), MNIST(root, train=False, transform=tf)
    if limit:
        from tensorgrad.utils.data import Subset
        train, test = Subset(train, range(limit)), Subset(test, range(min(limit, len(test))))
    return (DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=False),
            DataLoader(test, batch_size=test_batch_size))


def train_epoch(model, loader, optimizer, device, epoch: int, batch_scheduler=None,
                label_smoothing: float = 0.0, clip_grad_norm: float | None = None, scaler=None) -> float:
    """One epoch of NLL training on log-probabilities; returns samples per second.
    `batch_scheduler` (e.g. OneCycleLR) is stepped after every optimizer step. With
    `label_smoothing`, the loss is cross_entropy with smoothed targets (log_softmax of
    log-probabilities is the identity, so the model's log-softmax output can be passed as is).
    With `clip_grad_norm`, the gradients' total 2-norm is clipped to it before each step (the
    usual guard for recurrent nets, whose gradients can spike). With `scaler` (an amp.GradScaler),
    the forward runs under autocast in float16 and the loss is scaled, as PyTorch's AMP recipe."""
    model.train()
    bar = tqdm(loader, desc=f"epoch {epoch}", unit="batch") if tqdm else loader
    seen, t0 = 0, time.perf_counter()
    for i, (x, y) in enumerate(bar):
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        with tg.autocast(tg.device(device).type, dtype=tg.float16, enabled=scaler is not None and scaler.is_enabled()):
            out = model(x)
            loss = F.cross_entropy(out, y, label_smoothing=label_smoothing) if label_smoothing else F.nll_loss(out, y)
        if scaler is None:
            loss.backward()
            if clip_grad_norm:
                tg.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            if clip_grad_norm:
                scaler.unscale_(optimizer)  # clip the true gradients
                tg.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            scaler.step(optimizer)
            scaler.update()
        if batch_scheduler is not None:
            batch_scheduler.step()
        seen += len(y)
        if tqdm and i % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}", samples_s=f"{seen / (time.perf_counter() - t0):.0f}")
    rate = seen / (time.perf_counter() - t0)
    if not tqdm:
        print(f"epoch {epoch}: last loss {loss.item():.4f}, {rate:.0f} samples/s")
    return rate


def evaluate(model, loader, device):
    """(mean test loss, accuracy in %)."""
    model.eval()
    total, correct, n = 0.0, 0, 0
    with tg.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            total += F.nll_loss(out, y, reduction="sum").item()
            correct += int((out.argmax(dim=1) == y).sum().item())
            n += len(y)
    return total / n, 100.0 * correct / n


def save_checkpoint(path, model, optimizer, scheduler, epoch):
    tg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict() if scheduler else None, "epoch": epoch}, path)


def load_checkpoint(path, model, optimizer, scheduler, device) -> int:
    """Restore model, optimizer and scheduler; returns the next epoch to run (1 when no file)."""
    if not path or not os.path.exists(path):
        return 1
    state = tg.load(path, map_location=device)
    saved_total = (state.get("scheduler") or {}).get("total_steps")
    if saved_total is not None and saved_total != getattr(scheduler, "total_steps", saved_total):
        # a one-cycle schedule is fixed by its length: resuming needs the run's original length
        raise SystemExit(f"{path} was saved by a run of {saved_total} one-cycle steps; this run has "
                         f"{scheduler.total_steps}: resume with the same --epochs, --batch-size and --limit")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler and state.get("scheduler"):
        scheduler.load_state_dict(state["scheduler"])
    print(f"resumed from {path} after epoch {state['epoch']}")
    return state["epoch"] + 1
