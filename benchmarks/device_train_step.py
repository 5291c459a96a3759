"""Training steps on one device, tensorgrad vs PyTorch eager on the same device in one run, and the
CNN's backward pass on the CPU against the GPU.

Workloads (``--workloads``), each from the same weights on the same random MNIST-shaped batch:
  cnn64, cnn128, cnn512  examples/mnist_cnn.py's CNN at batch 64, 128, 512 (train mode: dropout on)
  mlp64                  examples/mnist_mlp.py's 784-512-512-10 MLP at batch 64
  lstm64                 the sequential-MNIST LSTM (28 steps of 28 pixels, hidden 128) at batch 64
A step is ``zero_grad``, forward, loss (NLL of log-softmax; cross entropy for the LSTM), backward,
SGD step (lr 0.01): benchmarks/train_step.py's and benchmarks/rnn_step.py's steps, on ``--device``.

Timing: on CUDA each round of steps is bracketed by CUDA events (tensorgrad: CuPy's, PyTorch: its
own) and the events are waited on after the round, so the time is the GPU's work plus whatever the
host makes it wait; on the CPU, perf_counter. Warm-up steps first (kernel compilation, the memory
pools, cuBLAS handles), then interleaved rounds; the median round in ms per step and the ratio
tensorgrad / PyTorch are reported. The issue's goals: CNN batch 128 at most 1.0 (1.2 the bar), the
LSTM step at most 1.5.

Backward, CPU vs GPU (``--backward-batch``, default 256; on CUDA only): the CNN's forward is run, then
``loss.backward()`` alone is timed, on the CPU (perf_counter) and on the GPU (events), for both
frameworks; the GPU speedup over the CPU is reported (goal: at least 30x for tensorgrad).

    python3 benchmarks/device_train_step.py [--device cuda] [--workloads ...] [--repeats 7] [--json out.json]
    python3 benchmarks/device_train_step.py --device cpu --tiny     # what the CI test runs
    python3 benchmarks/device_train_step.py --amp                   # both frameworks under autocast
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:  # a checkout's tensorgrad, installed or not
    import tensorgrad as tg
except ImportError:
    sys.path.insert(0, os.path.join(HERE, ".."))
    import tensorgrad as tg
import rnn_step  # noqa: E402  (benchmarks/ beside this file)
import train_step  # noqa: E402

WORKLOADS = {  # name: (model, batch, steps per timed round)
    "cnn64": ("cnn", 64, 20), "cnn128": ("cnn", 128, 20), "cnn512": ("cnn", 512, 5),
    "mlp64": ("mlp", 64, 50), "lstm64": ("lstm", 64, 10),
}
LR = 0.01


class Clock:
    """Elapsed ms of a block of work on one device and framework: CUDA events there, else perf_counter."""

    def __init__(self, framework: str, device: str):
        self.cuda = device.startswith("cuda")
        if self.cuda and framework == "torch":
            import torch
            self._event = lambda: torch.cuda.Event(enable_timing=True)
        elif self.cuda:
            import cupy
            self._event = lambda: cupy.cuda.Event()

    def time_ms(self, fn, calls: int) -> float:
        if not self.cuda:
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            return (time.perf_counter() - t0) * 1e3
        start, end = self._event(), self._event()
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        try:
            return start.elapsed_time(end)  # torch.cuda.Event
        except AttributeError:
            import cupy
            return cupy.cuda.get_elapsed_time(start, end)


class StepRunner:
    """One framework's model, optimizer and batch on `device`, and its training step."""

    def __init__(self, framework: str, kind: str, batch: int, device: str, seed: int = 0, amp: bool = False):
        rng = np.random.default_rng(seed)
        self.framework, self.kind = framework, kind
        self.device_type = "cuda" if device.startswith("cuda") else "cpu"
        if kind == "lstm":
            x = rng.standard_normal((batch, 28, 28), dtype=np.float32)
            tg.manual_seed(seed)
            ref = rnn_step.build_seq_mnist_model(tg.nn)
            build = (lambda: ref) if framework == "tensorgrad" else (
                lambda: rnn_step.build_seq_mnist_model(rnn_step._framework_modules("torch")[0]))
        else:
            x = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
            tg.manual_seed(seed)
            ref = train_step.tensorgrad_model(kind)
            build = (lambda: ref) if framework == "tensorgrad" else (lambda: train_step.torch_model(kind))
        y = rng.integers(0, 10, batch)
        self.model = build()
        if framework == "tensorgrad":
            import tensorgrad.nn.functional as F
            self.x, self.y = tg.tensor(x, device=device), tg.tensor(y, device=device)
            self.model.to(device)
            self.opt = tg.optim.SGD(self.model.parameters(), lr=LR)
            self.lib = tg
        else:
            import torch
            import torch.nn.functional as F
            self.model.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ref.state_dict().items()})
            self.model.to(device)
            self.x, self.y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
            self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
            self.lib = torch
        # --amp: PyTorch's recipe, forward and loss under autocast (float16), the loss scaled
        self.scaler = self.lib.amp.GradScaler(self.device_type) if amp else None
        self.loss_fn = F.cross_entropy if kind == "lstm" else F.nll_loss
        self.clock = Clock(framework, device)
        self.model.train()

    def loss(self):
        with self.lib.autocast(self.device_type, dtype=self.lib.float16, enabled=self.scaler is not None):
            return self.loss_fn(self.model(self.x), self.y)

    def step(self):
        self.opt.zero_grad()
        loss = self.loss()
        if self.scaler is None:
            loss.backward()
            self.opt.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()

    def first_loss(self) -> float:
        self.model.eval()
        v = float(self.loss().item())
        self.model.train()
        return v

    def backward_ms(self) -> float:
        """Forward untimed, then loss.backward() alone."""
        self.opt.zero_grad()
        loss = self.loss()
        return self.clock.time_ms(loss.backward, 1)


def time_steps(name: str, device: str, repeats: int, with_torch: bool, warmup: int, amp: bool = False) -> dict:
    kind, batch, steps = WORKLOADS[name]
    runners = {"tensorgrad": StepRunner("tensorgrad", kind, batch, device, amp=amp)}
    if with_torch:
        runners["torch"] = StepRunner("torch", kind, batch, device, amp=amp)
    first = {fw: r.first_loss() for fw, r in runners.items()}
    if with_torch and abs(first["tensorgrad"] - first["torch"]) > 1e-3 * max(1.0, abs(first["torch"])):
        raise AssertionError(f"{name} on {device}: the two models disagree before training: {first}")
    for r in runners.values():
        r.clock.time_ms(r.step, warmup)
    rounds = {fw: [] for fw in runners}
    for _ in range(repeats):
        for fw, r in runners.items():
            rounds[fw].append(r.clock.time_ms(r.step, steps) / steps)
    res = {"model": kind, "batch": batch, "device": device, "steps_per_round": steps, "first_loss": first,
           "ms_per_step": {fw: statistics.median(v) for fw, v in rounds.items()}, "rounds_ms": rounds}
    if with_torch:
        res["ratio"] = res["ms_per_step"]["tensorgrad"] / res["ms_per_step"]["torch"]
    return res


def time_backward(batch: int, devices: list, repeats: int, with_torch: bool) -> dict:
    """The CNN's backward alone on each device (median of `repeats` after 2 warm-ups)."""
    WORKLOADS[f"_cnn{batch}"] = ("cnn", batch, 1)
    out = {}
    for device in devices:
        for fw in ["tensorgrad"] + (["torch"] if with_torch else []):
            r = StepRunner(fw, "cnn", batch, device)
            for _ in range(2):
                r.backward_ms()
            out.setdefault(device, {})[fw] = statistics.median(r.backward_ms() for _ in range(repeats))
    if len(devices) == 2:
        cpu, gpu = devices
        out["gpu_speedup"] = {fw: out[cpu][fw] / out[gpu][fw] for fw in out[gpu]}
    return out


def machine_info(device: str) -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__, "tensorgrad": tg.__version__,
            "platform": platform.platform(), "cpu_count": os.cpu_count(), "device": device,
            "date": time.strftime("%Y-%m-%d")}
    if device.startswith("cuda"):
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        info.update(gpu=props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
                    cupy=cupy.__version__, cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(),
                    cuda_driver=cupy.cuda.runtime.driverGetVersion())
    try:
        import torch
        info.update(torch=torch.__version__, torch_cuda=torch.version.cuda)
    except ImportError:
        pass
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated: " + ", ".join(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=7, help="interleaved rounds per framework (median reported)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before the rounds")
    ap.add_argument("--backward-batch", type=int, default=256, help="CNN batch of the CPU-vs-GPU backward row; 0 skips")
    ap.add_argument("--no-torch", action="store_true", help="time tensorgrad alone")
    ap.add_argument("--tiny", action="store_true", help="one round of one step each, batch 2 (a smoke test)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    ap.add_argument("--amp", action="store_true",
                    help="steps under autocast(float16) with a GradScaler, in both frameworks")
    ap.add_argument("--profile", action="store_true",
                    help="also print, per workload, tensorgrad's step by op: host time (what the Python side "
                         "costs), then with device synchronization (what each op costs on the device)")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not tg.cuda.is_available():
        raise SystemExit(f"--device {args.device}: no usable GPU ({tg.cuda.unavailable_reason()}); "
                         f"use --device cpu, or benchmarks/train_step.py for the CPU comparison")
    with_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    if with_torch and args.device.startswith("cuda"):
        import torch
        with_torch = torch.cuda.is_available()
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    for n in names:
        if n not in WORKLOADS:
            raise SystemExit(f"unknown workload {n!r}: choose from {', '.join(WORKLOADS)}")
    if args.tiny:
        for n in names:
            WORKLOADS[n] = (WORKLOADS[n][0], 2, 1)
        args.repeats, args.warmup = 1, 1
        args.backward_batch = 2 if args.backward_batch else 0
    results = {"machine": machine_info(args.device), "repeats": args.repeats, "workloads": {},
               "step": f"zero_grad, forward, loss, backward, SGD(lr={LR}).step(); train mode"
                       + ("; autocast float16 + GradScaler" if args.amp else ""),
               "timing": "CUDA events around each round" if args.device.startswith("cuda") else "perf_counter"}
    print(f"{args.device}{' (amp)' if args.amp else ''}: {args.repeats} interleaved rounds, median ms per step")
    print(f"{'workload':<9}{'tensorgrad':>12}{'torch':>9}{'ratio':>8}")
    for n in names:
        res = results["workloads"][n] = time_steps(n, args.device, args.repeats, with_torch, args.warmup, args.amp)
        ms = res["ms_per_step"]
        tail = f"{ms['torch']:>9.3f}{res['ratio']:>8.2f}" if with_torch else f"{'-':>9}{'-':>8}"
        print(f"{n:<9}{ms['tensorgrad']:>12.3f}{tail}", flush=True)
    if args.backward_batch:
        devices = ["cpu", args.device] if args.device.startswith("cuda") else ["cpu"]
        bw = results["backward"] = time_backward(args.backward_batch, devices, args.repeats, with_torch)
        print(f"CNN backward at batch {args.backward_batch}, ms: " +
              ", ".join(f"{d} {fw} {v:.2f}" for d in devices for fw, v in bw[d].items()))
        if "gpu_speedup" in bw:
            print("GPU speedup over CPU: " + ", ".join(f"{fw} {v:.1f}x" for fw, v in bw["gpu_speedup"].items()))
    if args.profile:
        results["profiles"] = {n: profile_step(n, args.device) for n in names}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {args.json}")
    return results


def profile_step(name: str, device: str, steps: int = 5) -> dict:
    """tensorgrad's step of one workload under tensorgrad.profiler, `steps` steps after warm-up:
    once without synchronizing (host time per op: where a host-bound GPU step spends it) and once
    synchronizing after every op (device time per op). Prints both tables; returns them as text."""
    kind, batch, _ = WORKLOADS[name]
    runner = StepRunner("tensorgrad", kind, batch, device)
    for _ in range(3):
        runner.step()
    out = {}
    for sync in (False, True):
        tg.cuda.synchronize() if device.startswith("cuda") else None
        with tg.profiler.profile(sync_cuda=sync) as prof:
            for _ in range(steps):
                runner.step()
        label = "synchronized after each op (device time)" if sync else "host time"
        out["device" if sync else "host"] = text = prof.key_averages().table(row_limit=25)
        print(f"\n{name}: {steps} tensorgrad steps by op, {label}\n{text}")
    return out


if __name__ == "__main__":
    main()
