"""Recurrent layers and the sequential-MNIST LSTM training step, tensorgrad vs PyTorch CPU side by side.

Two kinds of workload, each run by both frameworks from the same weights on the same random data
(float32; NumPy draws it, both frameworks get copies):

Layers (``--kinds``, ``--hidden``, ``--T``, ``--batch``): one ``nn.LSTM`` / ``nn.GRU`` (or ``nn.RNN``)
layer, ``input_size=28``, ``batch_first=True``, input ``x`` of shape (batch, T, 28) with
``requires_grad=True`` (so the input gradient is computed too, as for a layer inside a network),
no initial state (zeros). Two rows per layer:

  fwd+bwd  ``x.grad`` and every parameter's ``.grad`` set to None, ``out, _ = layer(x)``, then
           ``out.backward(g)`` with a fixed random upstream gradient ``g`` of the output's shape
           (drawn once, standard normal)
  fwd      ``out, _ = layer(x)`` alone, with autograd recording as in training (the graph is built
           and dropped); the forward half of the row above

Sequential MNIST (``--mnist-batch``): the classic training step of an LSTM reading a 28x28 image as 28
steps of 28 pixels: ``LSTM(28, 128, batch_first=True)`` then ``Linear(128, 10)`` on the last step's
output; ``zero_grad``, forward, ``cross_entropy``, backward, plain SGD step (lr 0.01), on a random
MNIST-shaped batch with random labels. The issue quotes PyTorch at about 5.9 ms (batch 64) and 21 ms
(batch 256) per step; the goal is a tensorgrad / PyTorch ratio of at most 1.2, which the table marks.

Checks before timing: the two frameworks' first outputs must agree (layers: the output, ``x.grad`` and
every parameter gradient of the first fwd+bwd; sequential MNIST: the first loss), else the script stops.

Time: after warm-up, interleaved rounds (tensorgrad, PyTorch, tensorgrad, ...) so that drift in
machine load hits both alike. A round is a fixed number of calls, the same for both frameworks, chosen
from the slower one's warm-up call so that a round lasts about ``--round-ms``; the median round is
reported in ms per call, with the ratio tensorgrad / PyTorch. Both use their default threads
(recorded in the JSON).

Peak memory (fwd+bwd and sequential-MNIST rows; ``--no-memory`` skips it): each (framework, workload)
runs again in a fresh subprocess. There the same workload first runs once at toy sizes (so that the
libraries' one-time set-up, such as lazily loaded code and thread pools, is not counted); then, once
the layer or model, optimizer and data exist, the kernel's high-water mark of resident memory is reset
(``/proc/self/clear_refs``), 3 calls run, and the peak minus the resident size at the reset is
reported (activations, saved tensors, gradients, whatever the allocators keep). Linux only; elsewhere
the memory columns are left out.

Threads: each framework's defaults. On a machine that other jobs keep busy, spinning OpenMP threads
make PyTorch's small recurrent steps many times slower; time there with OMP_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 (the JSON records these variables).

Quick default (a few minutes): LSTM and GRU at hidden 128 over T 28 and 100 and batch 64 and 256, and
the sequential-MNIST step at batch 64 and 256. ``--full`` adds hidden 512.

    python3 benchmarks/rnn_step.py [--kinds lstm,gru] [--hidden 128,512] [--T 28,100] [--batch 64,256]
                                   [--mnist-batch 64,256] [--full] [--repeats 5] [--json out.json]
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

INPUT_SIZE = 28
KINDS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
QUICK = {"kinds": "lstm,gru", "hidden": "128", "T": "28,100", "batch": "64,256", "mnist_batch": "64,256"}
FULL_HIDDEN = "128,512"
MNIST_HIDDEN, MNIST_CLASSES, LR = 128, 10, 0.01
MNIST_GOAL = 1.2  # tensorgrad / PyTorch, from the issue
MNIST_QUOTED_TORCH_MS = {64: 5.9, 256: 21.0}  # the issue's PyTorch figures, for reference only
OUT_TOL, GRAD_TOL, LOSS_TOL = 1e-5, 1e-4, 1e-4  # max |tg - torch| / max(1, max |torch|)


def _framework_modules(framework: str):
    """(nn, functional, optim) of tensorgrad or PyTorch: the two share PyTorch's API."""
    if framework == "tensorgrad":
        import tensorgrad.nn as nn
        import tensorgrad.nn.functional as F
        return nn, F, tg.optim
    import torch
    return torch.nn, torch.nn.functional, torch.optim


def _to_framework(framework: str, array: np.ndarray, requires_grad: bool = False):
    if framework == "tensorgrad":
        return tg.tensor(array, requires_grad=requires_grad)
    import torch
    return torch.from_numpy(array.copy()).requires_grad_(requires_grad)


def _copy_weights(src, dst) -> None:
    """Load tensorgrad module `src`'s weights into the PyTorch module `dst` (same parameter names)."""
    import torch
    dst.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in src.state_dict().items()})


def to_numpy(t) -> np.ndarray:
    t = t.detach()
    return t.cpu().numpy() if hasattr(t, "cpu") else t.numpy()


# ------------------------------------------------------------------ workloads
class LayerRunner:
    """One framework's recurrent layer, input and upstream gradient; forward, and forward + backward."""

    def __init__(self, framework: str, kind: str, hidden: int, T: int, batch: int,
                 input_size: int = INPUT_SIZE, seed: int = 0):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch, T, input_size), dtype=np.float32)
        g = rng.standard_normal((batch, T, hidden), dtype=np.float32)
        tg.manual_seed(seed)
        ref = getattr(tg.nn, KINDS[kind])(input_size, hidden, batch_first=True)  # the weights both start from
        if framework == "tensorgrad":
            self.layer = ref
        else:
            nn, _, _ = _framework_modules(framework)
            self.layer = getattr(nn, KINDS[kind])(input_size, hidden, batch_first=True)
            _copy_weights(ref, self.layer)
        self.framework = framework
        self.x = _to_framework(framework, x, requires_grad=True)
        self.g = _to_framework(framework, g)
        self.params = list(self.layer.parameters())

    def forward(self):
        out, _ = self.layer(self.x)
        return out

    def fwd_bwd(self):
        self.x.grad = None
        for p in self.params:
            p.grad = None
        out = self.forward()
        out.backward(self.g)
        return out

    def grads(self) -> dict:
        """The input and parameter gradients of the last fwd_bwd, as NumPy arrays."""
        named = dict(self.layer.named_parameters())
        return {"x": to_numpy(self.x.grad), **{k: to_numpy(p.grad) for k, p in named.items()}}


def build_seq_mnist_model(nn, hidden: int = MNIST_HIDDEN, input_size: int = INPUT_SIZE,
                          classes: int = MNIST_CLASSES):
    """LSTM over the rows of the image, Linear on the last step's output; in either framework."""

    class SeqMNIST(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(input_size, hidden, batch_first=True)
            self.fc = nn.Linear(hidden, classes)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1])

    return SeqMNIST()


class SeqMNISTRunner:
    """One framework's sequential-MNIST LSTM, SGD optimizer and batch, and its training step."""

    def __init__(self, framework: str, batch: int, hidden: int = MNIST_HIDDEN, T: int = 28,
                 input_size: int = INPUT_SIZE, seed: int = 0):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch, T, input_size), dtype=np.float32)
        y = rng.integers(0, MNIST_CLASSES, batch)
        tg.manual_seed(seed)
        ref = build_seq_mnist_model(tg.nn, hidden, input_size)  # the weights both start from
        nn, F, optim = _framework_modules(framework)
        if framework == "tensorgrad":
            self.model = ref
        else:
            self.model = build_seq_mnist_model(nn, hidden, input_size)
            _copy_weights(ref, self.model)
        self.framework = framework
        self.x, self.y = _to_framework(framework, x), _to_framework(framework, y)
        self.opt = optim.SGD(self.model.parameters(), lr=LR)
        self.cross_entropy = F.cross_entropy
        self.model.train()

    def loss(self):
        return self.cross_entropy(self.model(self.x), self.y)

    def step(self):
        self.opt.zero_grad()
        loss = self.loss()
        loss.backward()
        self.opt.step()
        return loss


# ------------------------------------------------------------------ checks
def _max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(1, max |b|), with b the PyTorch side."""
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))) if b.size else 0.0


def compare_layers(tg_runner: LayerRunner, torch_runner: LayerRunner) -> dict:
    """Run one fwd+bwd in each framework; the largest relative differences of output and gradients."""
    out_tg, out_t = to_numpy(tg_runner.fwd_bwd()), to_numpy(torch_runner.fwd_bwd())
    g_tg, g_t = tg_runner.grads(), torch_runner.grads()
    if set(g_tg) != set(g_t):
        raise AssertionError(f"parameter names differ: {sorted(g_tg)} vs {sorted(g_t)}")
    return {"output": _max_rel_diff(out_tg, out_t),
            "grads": {k: _max_rel_diff(g_tg[k], g_t[k]) for k in g_t}}


def check_layers(name: str, tg_runner: LayerRunner, torch_runner: LayerRunner) -> dict:
    diff = compare_layers(tg_runner, torch_runner)
    worst_grad = max(diff["grads"].values())
    if diff["output"] > OUT_TOL or worst_grad > GRAD_TOL:
        raise AssertionError(f"{name}: tensorgrad and PyTorch disagree before timing: {diff}")
    return {"output": diff["output"], "worst_grad": worst_grad}


def check_seq_mnist(name: str, tg_runner: SeqMNISTRunner, torch_runner: SeqMNISTRunner) -> dict:
    first = {r.framework: float(r.loss().item()) for r in (tg_runner, torch_runner)}
    if abs(first["tensorgrad"] - first["torch"]) > LOSS_TOL * max(1.0, abs(first["torch"])):
        raise AssertionError(f"{name}: the two models disagree before training: {first}")
    return {"first_loss": first}


# ------------------------------------------------------------------ timing
def _once_ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def interleaved(fns: dict, repeats: int, round_ms: float) -> dict:
    """Warm each callable up, pick calls per round from the slower one, run interleaved rounds."""
    warm = {}
    for fw, fn in fns.items():
        fn()
        warm[fw] = _once_ms(fn)
    calls = max(1, round(round_ms / max(max(warm.values()), 1e-3)))
    rounds = {fw: [] for fw in fns}
    for _ in range(repeats):
        for fw, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            rounds[fw].append((time.perf_counter() - t0) / calls * 1e3)
    res = {"calls_per_round": calls, "ms": {fw: statistics.median(v) for fw, v in rounds.items()},
           "rounds_ms": rounds}
    if "tensorgrad" in res["ms"] and "torch" in res["ms"]:
        res["ratio"] = res["ms"]["tensorgrad"] / res["ms"]["torch"]
    return res


# Workload specs: ("layer", kind, hidden, T, batch) or ("mnist", batch); as strings for the subprocess.
def spec_name(spec: tuple) -> str:
    if spec[0] == "layer":
        _, kind, hidden, T, batch = spec
        return f"{kind} h{hidden} T{T} b{batch}"
    return f"seq-mnist b{spec[1]}"


def spec_to_arg(spec: tuple) -> str:
    return ":".join(str(s) for s in spec)


def arg_to_spec(arg: str) -> tuple:
    parts = arg.split(":")
    return (parts[0], parts[1], *map(int, parts[2:])) if parts[0] == "layer" else ("mnist", int(parts[1]))


def make_runner(framework: str, spec: tuple):
    if spec[0] == "layer":
        _, kind, hidden, T, batch = spec
        return LayerRunner(framework, kind, hidden, T, batch)
    return SeqMNISTRunner(framework, spec[1])


def time_spec(spec: tuple, repeats: int, round_ms: float, with_torch: bool) -> list:
    """Rows (name, result) for one workload: fwd+bwd and fwd for a layer, the step for sequential MNIST."""
    fws = ["tensorgrad"] + (["torch"] if with_torch else [])
    runners = {fw: make_runner(fw, spec) for fw in fws}
    name = spec_name(spec)
    if spec[0] == "layer":
        check = check_layers(name, runners["tensorgrad"], runners["torch"]) if with_torch else None
        rows = []
        for mode, method in (("fwd+bwd", "fwd_bwd"), ("fwd", "forward")):
            res = interleaved({fw: getattr(r, method) for fw, r in runners.items()}, repeats, round_ms)
            res.update(kind=spec[1], hidden=spec[2], T=spec[3], batch=spec[4], mode=mode, check=check)
            rows.append((f"{name} {mode}", res))
        return rows
    check = check_seq_mnist(name, runners["tensorgrad"], runners["torch"]) if with_torch else None
    res = interleaved({fw: r.step for fw, r in runners.items()}, repeats, round_ms)
    res.update(batch=spec[1], hidden=MNIST_HIDDEN, T=28, mode="train step", check=check,
               goal_ratio=MNIST_GOAL, issue_torch_ms=MNIST_QUOTED_TORCH_MS.get(spec[1]))
    return [(name + " step", res)]


# ------------------------------------------------------------------ peak memory (in a subprocess)
def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _tiny(spec: tuple) -> tuple:
    """The same workload at toy sizes: runs the libraries' one-time set-up, not the real sizes' memory."""
    return ("layer", spec[1], 4, 2, 2) if spec[0] == "layer" else ("mnist", 2)


def _measure_memory_here(framework: str, arg: str, calls: int = 3) -> dict:
    spec = arg_to_spec(arg)
    tiny = make_runner(framework, _tiny(spec))
    (tiny.fwd_bwd if spec[0] == "layer" else tiny.step)()
    del tiny
    r = make_runner(framework, spec)
    fn = r.fwd_bwd if spec[0] == "layer" else r.step
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark (VmHWM) to the current resident size
    base = _status_kib("VmRSS")
    for _ in range(calls):
        fn()
    return {"peak_mib": (_status_kib("VmHWM") - base) / 1024, "resident_mib": base / 1024}


def measure_memory(framework: str, spec: tuple) -> dict | None:
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--_memory", framework, spec_to_arg(spec)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report
def machine_info() -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__, "tensorgrad": tg.__version__,
            "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "thread_env": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                           "MKL_NUM_THREADS")}}
    try:
        import torch
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    except ImportError:
        pass
    return info


def _ints(text: str, what: str) -> list:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"--{what}: expected comma-separated integers, got {text!r}") from None
    if any(v <= 0 for v in vals):
        raise SystemExit(f"--{what}: sizes must be positive, got {text!r}")
    return vals


def parse_specs(args) -> list:
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            raise SystemExit(f"unknown kind {k!r}: choose from {', '.join(KINDS)}")
    hidden = _ints(args.hidden if args.hidden is not None else (FULL_HIDDEN if args.full else QUICK["hidden"]),
                   "hidden")
    specs = [("layer", k, h, T, b) for k in kinds for h in hidden
             for T in _ints(args.T, "T") for b in _ints(args.batch, "batch")]
    return specs + [("mnist", b) for b in _ints(args.mnist_batch, "mnist-batch")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default=QUICK["kinds"],
                    help=f"comma-separated layer kinds from {', '.join(KINDS)}; '' for none (default: %(default)s)")
    ap.add_argument("--hidden", default=None, help=f"hidden sizes (default: {QUICK['hidden']}; "
                                                   f"{FULL_HIDDEN} with --full)")
    ap.add_argument("--T", default=QUICK["T"], help="sequence lengths (default: %(default)s)")
    ap.add_argument("--batch", default=QUICK["batch"], help="layer batch sizes (default: %(default)s)")
    ap.add_argument("--mnist-batch", default=QUICK["mnist_batch"],
                    help="batch sizes of the sequential-MNIST step; '' for none (default: %(default)s)")
    ap.add_argument("--full", action="store_true", help=f"hidden {FULL_HIDDEN} (unless --hidden is given)")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved rounds per framework (median reported)")
    ap.add_argument("--round-ms", type=float, default=200.0, help="target length of a round (default: %(default)s)")
    ap.add_argument("--no-torch", action="store_true", help="time tensorgrad alone")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    ap.add_argument("--_memory", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._memory:
        print(json.dumps(_measure_memory_here(*args._memory)))
        return None
    if args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    specs = parse_specs(args)
    with_torch = not args.no_torch
    if with_torch and importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: timing tensorgrad alone (pip install torch==2.13.0)")
        with_torch = False
    memory = not args.no_memory and os.path.exists("/proc/self/clear_refs")
    fws = ["tensorgrad"] + (["torch"] if with_torch else [])
    results = {"rows": {}, "machine": machine_info(), "repeats": args.repeats, "round_ms": args.round_ms,
               "layer": f"input_size={INPUT_SIZE}, batch_first=True, x.requires_grad; fwd+bwd: grads to None, "
                        f"out, _ = layer(x), out.backward(g) with a fixed random g; fwd: out, _ = layer(x) "
                        f"with autograd recording",
               "seq_mnist_step": f"LSTM({INPUT_SIZE}, {MNIST_HIDDEN}, batch_first=True) + Linear({MNIST_HIDDEN}, "
                                 f"{MNIST_CLASSES}) on the last step; zero_grad, forward, cross_entropy, backward, "
                                 f"SGD(lr={LR}).step()"}
    w = max([len(spec_name(s)) + 9 for s in specs] + [8])
    header = f"{'workload':<{w}}{'tensorgrad ms':>15}{'torch ms':>11}{'ratio':>8}"
    if memory:
        header += f"{'tg peak MiB':>13}{'torch peak MiB':>16}"
    print(f"{args.repeats} interleaved rounds, median; {os.cpu_count()} cores")
    print(header)
    for spec in specs:
        for name, res in time_spec(spec, args.repeats, args.round_ms, with_torch):
            if memory and res["mode"] != "fwd":
                res["memory"] = {fw: measure_memory(fw, spec) for fw in fws}
            results["rows"][name] = res
            ms = res["ms"]
            line = f"{name:<{w}}{ms['tensorgrad']:>15.2f}"
            line += f"{ms['torch']:>11.2f}{res['ratio']:>8.2f}" if with_torch else f"{'-':>11}{'-':>8}"
            if memory:
                mem = res.get("memory") or {}
                line += f"{mem['tensorgrad']['peak_mib']:>13.1f}" if mem.get("tensorgrad") else f"{'':>13}"
                line += f"{mem['torch']['peak_mib']:>16.1f}" if mem.get("torch") else f"{'':>16}"
            if res["mode"] == "train step" and with_torch:
                line += f"   goal <= {MNIST_GOAL}: {'met' if res['ratio'] <= MNIST_GOAL else 'not met'}"
            print(line, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
