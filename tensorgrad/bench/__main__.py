"""python -m tensorgrad.bench: forward and backward times, CPU vs GPU, tensorgrad vs PyTorch.

For every workload, batch size and device, tensorgrad and (where installed) PyTorch run the same
computation from the same weights and data; each part is timed after warm-up (CUDA events on a
GPU). Prints a table (median and interquartile range per part, throughput, the GPU's backward
speedup over the CPU, the ratio to PyTorch), and writes the raw figures as JSON and a plot of
backward time against batch size (one line per device and framework; needs matplotlib).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time

import numpy as np

import tensorgrad as tg
from .timing import measure
from .workloads import WORKLOADS, Case, Framework

DEFAULT_WORKLOADS = ("linear", "mlp", "conv2d_mnist", "maxpool2d_mnist", "batchnorm2d", "mnist_cnn", "lstm", "gru",
                     "cross_entropy", "train_cnn")
DEFAULT_BATCHES = (8, 32, 64)


def _devices(arg: str) -> tuple[list, str | None]:
    """The devices to run on, and why CUDA is not among them (None when it is, or was not asked)."""
    reason = tg.cuda.unavailable_reason()
    if arg == "auto":
        return (["cpu", "cuda"] if reason is None else ["cpu"]), reason
    devices = [d.strip() for d in arg.split(",") if d.strip()]
    if any(d.startswith("cuda") for d in devices) and reason is not None:
        raise SystemExit(f"--devices {arg}: no usable GPU: {reason}")
    return devices, None


def _torch_devices(devices: list) -> set:
    if importlib.util.find_spec("torch") is None:
        return set()
    import torch
    return {d for d in devices if d == "cpu" or torch.cuda.is_available()}


def machine_info() -> dict:
    info = {"date": time.strftime("%Y-%m-%d %H:%M"), "python": platform.python_version(), "numpy": np.__version__,
            "tensorgrad": tg.__version__, "platform": platform.platform(), "cpu_count": os.cpu_count()}
    if tg.cuda.is_available():
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        info.update(gpu=name.decode() if isinstance(name, bytes) else name, cupy=cupy.__version__,
                    cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(), cuda_driver=cupy.cuda.runtime.driverGetVersion())
    else:
        info["gpu"] = None
        info["gpu_unavailable_reason"] = tg.cuda.unavailable_reason()
    if importlib.util.find_spec("torch") is not None:
        import torch
        info.update(torch=torch.__version__, torch_cuda=torch.version.cuda)
    return info


def run(workloads, batches, devices, dtype, repeats, warmup, with_torch, width=None, log=print) -> dict:
    """Measure every (workload, batch, device) for tensorgrad and PyTorch; returns the JSON payload."""
    torch_devices = _torch_devices(devices) if with_torch else set()
    measurements, rows = [], []
    for name in workloads:
        for batch in batches:
            per_device = {}
            for device in devices:
                tg_case = Case(name, Framework("tensorgrad"), device, dtype, batch, width)
                tg_m = measure(tg_case, "tensorgrad", repeats, warmup)
                measurements.append(tg_m.as_dict())
                pt_m = None
                if device in torch_devices:
                    pt_case = Case(name, Framework("torch"), device, dtype, batch, width, tg_case.state())
                    pt_m = measure(pt_case, "torch", repeats, warmup)
                    measurements.append(pt_m.as_dict())
                per_device[device] = (tg_m, pt_m)
            cpu_bwd = per_device["cpu"][0].backward_ms["median"] if "cpu" in per_device else None
            for device, (m, pt) in per_device.items():
                total = 1e3 * batch / m.samples_per_s
                row = {"workload": name, "batch": batch, "device": device, "width": m.width,
                       "forward_ms": m.forward_ms, "backward_ms": m.backward_ms, "step_ms": m.step_ms,
                       "samples_per_s": m.samples_per_s,
                       "gpu_backward_speedup": (cpu_bwd / m.backward_ms["median"]
                                                if device != "cpu" and cpu_bwd else None),
                       "ratio_to_torch": total / (1e3 * batch / pt.samples_per_s) if pt else None,
                       "torch_forward_ms": pt.forward_ms["median"] if pt else None,
                       "torch_backward_ms": pt.backward_ms["median"] if pt else None}
                rows.append(row)
                log(format_row(row))
    return {"rows": rows, "measurements": measurements}


HEADER = (f"{'workload':<16}{'batch':>6} {'device':<7}{'fwd ms (±iqr)':>17}{'bwd ms (±iqr)':>17}{'samples/s':>11}"
          f"{'GPU bwd x':>10}{'vs torch':>9}{'torch fwd':>10}{'torch bwd':>10}")


def format_row(r: dict) -> str:
    def part(d):
        return f"{d['median']:9.3f} ±{d['iqr']:<6.3f}"

    def opt(v, fmt):
        return format(v, fmt) if v is not None else "-"
    return (f"{r['workload']:<16}{r['batch']:>6} {r['device']:<7}{part(r['forward_ms']):>17}{part(r['backward_ms']):>17}"
            f"{r['samples_per_s']:>11.0f}{opt(r['gpu_backward_speedup'], '.1f'):>10}{opt(r['ratio_to_torch'], '.2f'):>9}"
            f"{opt(r['torch_forward_ms'], '.3f'):>10}{opt(r['torch_backward_ms'], '.3f'):>10}")


def plot(payload: dict, path: str) -> str | None:
    """Backward time against batch size, one panel per workload, one line per (device, framework)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'tensorgrad-autodiff[bench]'): no plot"
    names = list(dict.fromkeys(m["workload"] for m in payload["measurements"]))
    cols = min(4, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        lines = {}
        for m in payload["measurements"]:
            if m["workload"] == name:
                lines.setdefault((m["device"], m["framework"]), []).append((m["batch"], m["backward_ms"]["median"]))
        for (device, fw), pts in sorted(lines.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", linestyle="-" if fw == "tensorgrad" else "--",
                    label=f"{fw} {device}")
        ax.set_title(name, fontsize=10)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("backward ms")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m tensorgrad.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS),
                    help="comma-separated, or 'all'; --list shows them")
    ap.add_argument("--batch-sizes", default=",".join(map(str, DEFAULT_BATCHES)))
    ap.add_argument("--width", type=int, default=None, help="override every workload's width (hidden size, channels)")
    ap.add_argument("--devices", default="auto", help="'auto' (cpu, and cuda when usable) or a list: cpu,cuda")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64", "float16"])
    ap.add_argument("--repeats", type=int, default=5, help="timed repetitions (median and IQR reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed repetitions first")
    ap.add_argument("--no-torch", action="store_true", help="time tensorgrad alone")
    ap.add_argument("--json", default="tensorgrad_bench.json", help="raw figures ('' to skip)")
    ap.add_argument("--plot", default="tensorgrad_bench.png", help="PNG plot ('' to skip)")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = ap.parse_args(argv)
    if args.list:
        for name, (family, what, width) in WORKLOADS.items():
            print(f"{name:<16}{family:<10}{what} (default width {width})")
        return {}
    names = list(WORKLOADS) if args.workloads == "all" else [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    batches = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    devices, why = _devices(args.devices)
    if args.dtype == "float16" and devices == ["cpu"]:
        raise SystemExit("--dtype float16 is timed on CUDA only (the CPU has no fast half math)")
    with_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    print(f"tensorgrad {tg.__version__} bench: {', '.join(devices)}; {args.dtype}; {args.repeats} timed repetitions "
          f"after {args.warmup} warm-up; {os.cpu_count()} CPU cores")
    if why:
        print(f"no GPU found: {why}; timing the CPU only")
    if not with_torch:
        print("PyTorch is not installed (or --no-torch): no ratios")
    print(HEADER)
    t0 = time.perf_counter()
    payload = run(names, batches, devices, args.dtype, args.repeats, args.warmup, with_torch, args.width)
    payload["machine"] = machine_info()
    payload["settings"] = {k: v for k, v in vars(args).items() if k != "list"}
    payload["settings"]["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"done in {payload['settings']['seconds']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        note = plot(payload, args.plot)
        print(note or f"wrote {args.plot}")
    return payload


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
