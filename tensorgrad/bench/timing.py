"""Timing one built workload: forward, backward (and the optimizer step) separately.

CPU: time.perf_counter around each part. CUDA: a pair of events recorded on the current stream
around each part, read after the part's end event completes, so a time is the device's work
(plus any wait the host causes), not the launch. Warm-up repetitions run first and are not kept
(kernel compilation, memory pools, BLAS handles, lazily loaded code).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field


class _Timer:
    def __init__(self, framework: str, device: str):
        self.cuda = device.startswith("cuda")
        if self.cuda and framework == "torch":
            import torch
            self._pair = lambda: (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            self._elapsed = lambda a, b: a.elapsed_time(b)
        elif self.cuda:
            import cupy
            self._pair = lambda: (cupy.cuda.Event(), cupy.cuda.Event())
            self._elapsed = cupy.cuda.get_elapsed_time

    def __call__(self, fn, *args):
        """(result of fn(*args), elapsed ms)."""
        if not self.cuda:
            t0 = time.perf_counter()
            out = fn(*args)
            return out, (time.perf_counter() - t0) * 1e3
        start, end = self._pair()
        start.record()
        out = fn(*args)
        end.record()
        end.synchronize()
        return out, self._elapsed(start, end)


def _summary(values: list) -> dict:
    v = sorted(values)
    q1, q3 = (statistics.quantiles(v, n=4)[0], statistics.quantiles(v, n=4)[2]) if len(v) >= 2 else (v[0], v[0])
    return {"median": statistics.median(v), "iqr": q3 - q1, "min": v[0], "max": v[-1], "n": len(v)}


@dataclass
class Measurement:
    workload: str
    framework: str
    device: str
    dtype: str
    batch: int
    width: int
    forward_ms: dict = field(default_factory=dict)   # median, iqr, min, max, n
    backward_ms: dict = field(default_factory=dict)
    step_ms: dict | None = None                      # optimizer step (training-step workloads)
    samples_per_s: float = 0.0                       # batch / (forward + backward [+ step]) medians

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def measure(case, framework: str, repeats: int = 5, warmup: int = 2) -> Measurement:
    """Time `case` (a workloads.Case): `warmup` untimed repetitions, then `repeats` timed ones."""
    timer = _Timer(framework, case.device)
    fwd, bwd, stp = [], [], []
    for i in range(warmup + repeats):
        out, tf = timer(case.forward)
        _, tb = timer(case.backward, out)
        ts = timer(case.step)[1] if case.opt is not None else None
        del out
        if i >= warmup:
            fwd.append(tf)
            bwd.append(tb)
            if ts is not None:
                stp.append(ts)
    m = Measurement(case.name, framework, case.device, str(case.x.dtype).split(".")[-1], case.batch, case.width,
                    _summary(fwd), _summary(bwd), _summary(stp) if stp else None)
    total = m.forward_ms["median"] + m.backward_ms["median"] + (m.step_ms["median"] if m.step_ms else 0.0)
    m.samples_per_s = case.batch / (total / 1e3) if total > 0 else float("inf")
    return m
