"""Which implementation runs a convolution on CUDA: cuDNN (fused/cudnn_conv.py) or im2col + cuBLAS
(ops/conv.py with fused/im2col.py). The one place that decides; the ops call it for CuPy arrays.

TENSORGRAD_CONV_ALGO (read at each call; where unset, tensorgrad.backends.cudnn's enabled and
benchmark choose: im2col when not enabled, else auto with benchmark, cudnn without):
  auto    (default) the first time a configuration (direction, shapes, dtype, geometry, device)
          runs, both paths are timed with CUDA events (one warm-up, then REPS runs each) and the
          faster one is remembered for that configuration and direction. That first run waits
          for the GPU (the timing) and runs each path a few times, so a new shape (the last
          partial batch, a new batch size) costs one such pause, as torch.backends.cudnn.benchmark;
          where shapes keep changing, set cudnn
  cudnn   cuDNN wherever it takes the configuration, im2col elsewhere
  im2col  always im2col + cuBLAS
Where cuDNN is unavailable (no frontend or library: cudnn_conv.unavailable_reason()) or declines a
configuration (cudnn_conv.Unsupported), im2col runs, silently, and the decline is remembered. Any
other cuDNN error on a configuration's first run is remembered too, with a warning.

choices() / reasons() / timings() / counts show what was decided and run (tests, benchmarks).
"""
from __future__ import annotations

import os
import warnings
from collections import Counter

import numpy as np

from .. import backend
from . import cudnn_conv

ENV = "TENSORGRAD_CONV_ALGO"
ALGOS = ("cudnn", "im2col")
WARMUP = 1
REPS = 2
# tensorgrad.backends.cudnn.enabled / .benchmark (used where TENSORGRAD_CONV_ALGO is not set):
# not enabled -> im2col; benchmark -> auto (time both); not benchmark -> cudnn (its heuristics)
CUDNN_ENABLED = True
BENCHMARK = True

_choices: dict = {}     # key -> the algorithm that runs it
_reasons: dict = {}     # key -> why cuDNN does not run it
_timings: dict = {}     # key -> {algorithm: milliseconds per run}
counts: Counter = Counter()   # (direction, algorithm) -> runs
_cudnn_ran: set = set()  # keys cuDNN has run: a later failure there is an error, not a decline


def mode() -> str:
    """'auto', 'cudnn' or 'im2col': TENSORGRAD_CONV_ALGO where set, else from
    tensorgrad.backends.cudnn's enabled and benchmark."""
    m = os.environ.get(ENV, "").strip().lower()
    if not m:
        return "im2col" if not CUDNN_ENABLED else "auto" if BENCHMARK else "cudnn"
    if m not in ("auto",) + ALGOS:
        raise ValueError(f"{ENV}={m!r}: expected one of auto, cudnn, im2col")
    return m


def on_cuda(arr) -> bool:
    return arr.__class__ is not np.ndarray


def choices() -> dict:
    return dict(_choices)


def reasons() -> dict:
    return dict(_reasons)


def timings() -> dict:
    return {k: dict(v) for k, v in _timings.items()}


def reset() -> None:
    """Forget every choice, reason, timing and count (tests, benchmarks)."""
    _choices.clear()
    _reasons.clear()
    _timings.clear()
    counts.clear()
    _cudnn_ran.clear()


def _time_cuda(algo: str, fn, reps: int, device: int):
    """(fn's last result, milliseconds per run) over `reps` runs, with CUDA events on the current
    stream of `device`, the one the work runs on (not whichever is current)."""
    cp = backend.cupy()
    with cp.cuda.Device(device):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        for _ in range(reps):
            out = fn()
        end.record()
        end.synchronize()
    return out, cp.cuda.get_elapsed_time(start, end) / reps


_timer = _time_cuda   # tests substitute a stand-in: (algo, fn, reps, device) -> (result, ms)


def _decline(key, e: Exception) -> None:
    _choices[key] = "im2col"
    _reasons[key] = str(e)
    if not isinstance(e, cudnn_conv.Unsupported):
        warnings.warn(f"cuDNN convolution failed for {key[0]} {key[1:]}, using im2col for it: "
                      f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=4)


def _go(direction, algo, fn):
    counts[direction, algo] += 1
    return fn()


def run(key, im2col, cudnn):
    """Run the convolution `key` names (key[0]: 'fprop', 'dgrad' or 'wgrad') by im2col() or
    cudnn(), each a no-argument callable returning the result, as TENSORGRAD_CONV_ALGO says."""
    direction = key[0]
    m = mode()
    if m == "im2col":
        return _go(direction, "im2col", im2col)
    if key not in _reasons:
        reason = cudnn_conv.unavailable_reason()
        if reason is not None:
            _choices[key], _reasons[key] = "im2col", reason
    if key in _reasons:                       # cuDNN is unavailable or declined this configuration
        return _go(direction, "im2col", im2col)
    chosen = _choices.get(key)
    if m == "cudnn" or chosen == "cudnn":
        return _try_cudnn(key, im2col, cudnn)
    if chosen == "im2col":
        return _go(direction, "im2col", im2col)
    return _measure(key, im2col, cudnn)


def _try_cudnn(key, im2col, cudnn):
    direction = key[0]
    try:
        out = cudnn()
    except cudnn_conv.Unsupported as e:
        _decline(key, e)
        return _go(direction, "im2col", im2col)
    except Exception as e:
        if key in _cudnn_ran:                 # it ran this configuration before: a real failure
            raise
        _decline(key, e)
        return _go(direction, "im2col", im2col)
    _cudnn_ran.add(key)
    counts[direction, "cudnn"] += 1
    return out


def _measure(key, im2col, cudnn):
    """Time both paths on this configuration, remember the faster, return its result."""
    direction = key[0]
    try:
        for _ in range(WARMUP):               # the first call also builds the cuDNN graph
            cudnn()
        out_c, ms_c = _timer("cudnn", cudnn, REPS, key[-1])
    except Exception as e:
        _decline(key, e)
        return _go(direction, "im2col", im2col)
    _cudnn_ran.add(key)
    for _ in range(WARMUP):
        im2col()
    out_i, ms_i = _timer("im2col", im2col, REPS, key[-1])
    _timings[key] = {"cudnn": ms_c, "im2col": ms_i}
    algo = "cudnn" if ms_c <= ms_i else "im2col"
    _choices[key] = algo
    counts[direction, algo] += 1
    return out_c if algo == "cudnn" else out_i


# ---------------------------------------------------------------- the three directions
def _geometry_key(g):
    return (g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pads, g.groups)


def _device_id(arr):
    return arr.device.id


def fprop(x, w, b, g, im2col):
    """y = conv2d(x, w) (+ b): `im2col(x, w, b)` is the im2col + GEMM forward."""
    key = ("fprop", x.shape, w.shape, b is not None, x.dtype.name, _geometry_key(g), _device_id(x))
    with x.device:  # both paths allocate and launch on the operands' device, whichever is current
        return run(key, lambda: im2col(x, w, b), lambda: cudnn_conv.fprop(x, w, b, g))


def dgrad(gy, w, g, in_shape, im2col):
    """gx = conv2d's adjoint in its input, applied to gy: `im2col(gy, w)` is the GEMM + col2im path."""
    key = ("dgrad", gy.shape, w.shape, tuple(in_shape), gy.dtype.name, _geometry_key(g), _device_id(gy))
    with gy.device:
        return run(key, lambda: im2col(gy, w), lambda: cudnn_conv.dgrad(gy, w, g, in_shape))


def wgrad(x, gy, g, w_shape, im2col):
    """gw = conv2d's adjoint in its weight: `im2col(x, gy)` is the im2col + GEMM path."""
    key = ("wgrad", x.shape, gy.shape, tuple(w_shape), x.dtype.name, _geometry_key(g), _device_id(x))
    with x.device:
        return run(key, lambda: im2col(x, gy), lambda: cudnn_conv.wgrad(x, gy, g, w_shape))


__all__ = ["ENV", "ALGOS", "mode", "on_cuda", "run", "fprop", "dgrad", "wgrad", "choices", "reasons",
           "timings", "counts", "reset"]
