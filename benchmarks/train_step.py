"""Training steps of the MNIST models, tensorgrad vs PyTorch CPU side by side: time and peak memory.

A step is what a training loop does per batch: ``zero_grad``, forward, NLL loss on log-softmax,
backward, optimizer step (plain SGD, lr 0.01). Both frameworks start from the same weights and see
the same random batch (MNIST-shaped: 1x28x28 images, 10 classes); the models are in train mode,
so dropout runs.

Workloads:
  cnn64, cnn256  the examples/mnist_cnn.py network at batch 64 and 256
  mlp64          the examples/mnist_mlp.py 784-512-512-10 MLP at batch 64

Time: after warm-up, interleaved rounds (tensorgrad, PyTorch, tensorgrad, ...) so that drift in
machine load hits both alike; the median round is reported in ms per step, with the ratio.

Peak memory: each (framework, workload) runs again in a fresh subprocess. Once model, optimizer
and batch exist (before any step), the kernel's high-water mark of resident memory is reset
(``/proc/self/clear_refs``), a few steps run, and the peak minus the resident size at the reset
is reported: what training needs beyond the model and the batch (activations, saved tensors,
gradients, optimizer state, and whatever the allocator keeps).
Linux only; elsewhere the memory columns are left out.

    python3 benchmarks/train_step.py [--workloads cnn64,cnn256,mlp64] [--repeats 7] [--json out.json]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
try:  # a checkout's tensorgrad, installed or not
    import tensorgrad as tg
except ImportError:
    sys.path.insert(0, os.path.join(HERE, ".."))
    import tensorgrad as tg

WORKLOADS = {  # name: (model, batch size, steps per timed round)
    "cnn64": ("cnn", 64, 5),
    "cnn256": ("cnn", 256, 2),
    "mlp64": ("mlp", 64, 100),
}
LR = 0.01


# ------------------------------------------------------------------ the models, in both frameworks
def build_model(kind: str, nn, F, flatten):
    """examples/mnist_mlp.py's MLP or examples/mnist_cnn.py's CNN, in whichever framework `nn`,
    `F` (its functional module) and `flatten` come from: the two share PyTorch's API."""
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(512, 10), nn.LogSoftmax(dim=1))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = self.dropout1(F.max_pool2d(x, 2))
            x = self.dropout2(F.relu(self.fc1(flatten(x, 1))))
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def tensorgrad_model(kind: str):
    import tensorgrad.nn as nn
    import tensorgrad.nn.functional as F
    return build_model(kind, nn, F, tg.flatten)


def torch_model(kind: str):
    import torch
    return build_model(kind, torch.nn, torch.nn.functional, torch.flatten)


class Runner:
    """One framework's model, optimizer and batch, and its training step."""

    def __init__(self, framework: str, kind: str, batch: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, batch)
        tg.manual_seed(seed)
        ref = tensorgrad_model(kind)  # the weights both frameworks start from
        self.framework = framework
        if framework == "tensorgrad":
            self.model, self.x, self.y = ref, tg.tensor(x), tg.tensor(y)
            self.opt = tg.optim.SGD(self.model.parameters(), lr=LR)
            import tensorgrad.nn.functional as F
        else:
            import torch
            import torch.nn.functional as F
            self.model = torch_model(kind)
            self.model.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                        for k, v in ref.state_dict().items()})
            self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
            self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.nll = F.nll_loss
        self.model.train()

    def step(self) -> float:
        self.opt.zero_grad()
        loss = self.nll(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def round_ms(self, steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        return (time.perf_counter() - t0) / steps * 1e3


# ------------------------------------------------------------------ timing
def time_workload(name: str, repeats: int, with_torch: bool) -> dict:
    kind, batch, steps = WORKLOADS[name]
    runners = {"tensorgrad": Runner("tensorgrad", kind, batch)}
    if with_torch:
        runners["torch"] = Runner("torch", kind, batch)
    first = {}
    for fw, r in runners.items():  # warm-up; with dropout off the first losses must agree
        r.model.eval()
        first[fw] = float(r.nll(r.model(r.x), r.y).item())
        r.model.train()
        for _ in range(2):
            r.step()
    if with_torch and abs(first["tensorgrad"] - first["torch"]) > 1e-4 * max(1.0, abs(first["torch"])):
        raise AssertionError(f"{name}: the two models disagree before training: {first}")
    rounds = {fw: [] for fw in runners}
    for _ in range(repeats):
        for fw, r in runners.items():
            rounds[fw].append(r.round_ms(steps))
    res = {"batch": batch, "model": kind, "steps_per_round": steps,
           "ms_per_step": {fw: statistics.median(v) for fw, v in rounds.items()}, "rounds_ms": rounds}
    if with_torch:
        res["ratio"] = res["ms_per_step"]["tensorgrad"] / res["ms_per_step"]["torch"]
    return res


# ------------------------------------------------------------------ peak memory (in a subprocess)
def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _measure_memory_here(framework: str, name: str, steps: int = 3) -> dict:
    kind, batch, _ = WORKLOADS[name]
    r = Runner(framework, kind, batch)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark (VmHWM) to the current resident size
    base = _status_kib("VmRSS")
    for _ in range(steps):
        r.step()
    return {"peak_step_mib": (_status_kib("VmHWM") - base) / 1024, "resident_mib": base / 1024}


def measure_memory(framework: str, name: str) -> dict | None:
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--_memory", framework, name],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report
def machine_info() -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__, "tensorgrad": tg.__version__,
            "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    try:
        import torch
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    except ImportError:
        pass
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated: " + ", ".join(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=7, help="interleaved rounds per framework (median reported)")
    ap.add_argument("--no-torch", action="store_true", help="time tensorgrad alone")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    ap.add_argument("--_memory", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._memory:
        print(json.dumps(_measure_memory_here(*args._memory)))
        return
    with_torch = not args.no_torch
    if with_torch and importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: timing tensorgrad alone (pip install torch==2.13.0)")
        with_torch = False
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    for n in names:
        if n not in WORKLOADS:
            raise SystemExit(f"unknown workload {n!r}: choose from {', '.join(WORKLOADS)}")
    results = {"workloads": {}, "machine": machine_info(), "repeats": args.repeats,
               "step": f"zero_grad, forward, nll_loss, backward, SGD(lr={LR}).step(); train mode"}
    fws = ["tensorgrad"] + (["torch"] if with_torch else [])
    header = f"{'workload':<9}{'tensorgrad ms':>15}{'torch ms':>11}{'ratio':>8}"
    if not args.no_memory:
        header += f"{'tg peak MiB':>13}{'torch peak MiB':>16}"
    print(f"{args.repeats} interleaved rounds, median; {os.cpu_count()} cores")
    print(header)
    for n in names:
        res = time_workload(n, args.repeats, with_torch)
        if not args.no_memory:
            res["memory"] = {fw: measure_memory(fw, n) for fw in fws}
        results["workloads"][n] = res
        ms = res["ms_per_step"]
        line = f"{n:<9}{ms['tensorgrad']:>15.2f}"
        line += f"{ms['torch']:>11.2f}{res['ratio']:>8.2f}" if with_torch else f"{'-':>11}{'-':>8}"
        mem = res.get("memory") or {}
        if not args.no_memory and mem.get("tensorgrad"):
            line += f"{mem['tensorgrad']['peak_step_mib']:>13.1f}"
            line += f"{mem['torch']['peak_step_mib']:>16.1f}" if mem.get("torch") else f"{'-':>16}"
        print(line, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
