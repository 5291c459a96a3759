"""Profiling the tape: per-op forward and backward times, bytes saved for backward, a table, a
Chrome trace; and the recorded tape of a tensor, printed or as Graphviz DOT.

    with tg.profiler.profile() as prof:
        loss = model(x).sum(); loss.backward()
    print(prof.key_averages().table(sort_by="self_time_total"))
    prof.export_chrome_trace("trace.json")          # open in https://ui.perfetto.dev

    print(tg.profiler.tape(loss))                    # op, output shapes and dtypes, device, saved bytes
    open("tape.dot", "w").write(tg.profiler.tape(loss).to_dot())

How it hooks in: while a profile is active, ``Op.__call__`` is swapped for a timed wrapper (so
profiling costs nothing when off) and the engine times each node's backward. An event's time is
inclusive; its *self* time excludes the events nested in it (the ops a backward runs, say), so self
times add up to the profiled wall time of the outermost events without double counting.
``sync_cuda=True`` synchronizes the device after each CUDA event, so its time is the kernels' time
rather than the launch's (slower, but honest per op).
"""
from __future__ import annotations

import enum
import json
import os
import time
from collections import OrderedDict

import numpy as np

from .autograd import engine as _engine
from .autograd import function as _function

def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0):
    """torch.profiler.schedule's signature, for profile(schedule=...): tensorgrad records every step of
    the block, so the returned schedule only reports the step's phase for code that asks."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError("Invalid profiler schedule arguments")
    cycle = wait + warmup + active

    def phase(step: int) -> str:
        if step < skip_first:
            return "NONE"
        step -= skip_first
        if repeat and step >= cycle * repeat:
            return "NONE"
        k = step % cycle
        return "NONE" if k < wait else "WARMUP" if k < wait + warmup else "RECORD"
    return phase


def tensorboard_trace_handler(dir_name: str, worker_name=None, use_gzip: bool = False):
    """An on_trace_ready handler writing the Chrome trace (which TensorBoard's profiler plugin and
    chrome://tracing read) to dir_name/<worker>.<ms>.pt.trace.json."""
    import socket

    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        name = f"{worker_name or f'{socket.gethostname()}_{os.getpid()}'}.{time.time_ns() // 1_000_000}.pt.trace.json"
        path = os.path.join(dir_name, name)
        prof.export_chrome_trace(path)
        if use_gzip:
            import gzip
            import shutil
            with open(path, "rb") as src, gzip.open(path + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.remove(path)
    return handler


__all__ = ["profile", "ProfilerActivity", "schedule", "tensorboard_trace_handler", "record_function", "tape", "Tape", "Event", "KeyAverages"]

_active: list = [None]  # the profile recording now (one at a time)


def _nbytes(arrays) -> int:
    total = 0
    for a in arrays or ():
        n = getattr(a, "nbytes", None)
        if isinstance(n, (int, np.integer)):
            total += int(n)
    return total


def _saved_bytes(node) -> int:
    """Bytes of the arrays a node keeps for backward: saved tensors and ctx_arrays."""
    arrays = []
    for s in getattr(node, "_saved", None) or ():
        t = getattr(s, "tensor", None)
        arrays.append(t._data if t is not None else getattr(s, "data", None))
    ctx = getattr(node, "ctx_arrays", None)
    if ctx is not None:
        arrays.extend(ctx if isinstance(ctx, (tuple, list)) else (ctx,))
    return _nbytes(arrays)


def _describe(values):
    """(shapes, device name) of the arrays or tensors among `values`."""
    shapes, device = [], None
    for v in values:
        d = getattr(v, "_data", v)
        if hasattr(d, "shape") and hasattr(d, "dtype"):
            shapes.append(list(d.shape))
            if device is None:
                device = "cpu" if d.__class__ is np.ndarray else f"cuda:{d.device.id}"
    return shapes, device


class Event:
    """One timed span: an op's forward, a node's backward, or a record_function range."""

    __slots__ = ("name", "phase", "start_ns", "dur_ns", "child_ns", "saved_bytes", "shapes", "device", "depth")

    def __init__(self, name, phase, start_ns, depth, shapes=None, device=None):
        self.name, self.phase, self.start_ns, self.depth = name, phase, start_ns, depth
        self.dur_ns = self.child_ns = self.saved_bytes = 0
        self.shapes, self.device = shapes, device

    @property
    def self_ns(self) -> int:
        return self.dur_ns - self.child_ns

    def __repr__(self):
        return (f"Event({self.name!r}, {self.phase}, {self.dur_ns / 1e3:.1f} us, self {self.self_ns / 1e3:.1f} us, "
                f"saved {self.saved_bytes} B)")


class ProfilerActivity(enum.Enum):
    """torch.profiler.ProfilerActivity: which activities to record. tensorgrad records every op
    (host time, plus device time with sync_cuda) whatever is asked."""
    CPU = "CPU"
    CUDA = "CUDA"


class profile:
    """Context manager recording every op's forward and backward (see the module docstring).

    record_shapes: keep the input shapes of each event (for the table's grouping and the trace).
    sync_cuda: synchronize the CUDA device at the end of each event that ran on it.
    torch.profiler's other arguments are accepted: activities, profile_memory, with_stack,
    with_flops, with_modules and schedule (every step is recorded) change nothing;
    on_trace_ready(prof) is called once when the block ends; step() marks nothing.
    """

    def __init__(self, activities=None, schedule=None, on_trace_ready=None, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False, with_flops: bool = False,
                 with_modules: bool = False, *, sync_cuda: bool = False, use_cuda=None):  # torch's order
        self.on_trace_ready = on_trace_ready
        if activities is not None and not all(isinstance(a, ProfilerActivity) for a in activities):
            raise TypeError("profile(): activities must be ProfilerActivity values (CPU, CUDA)")
        self.record_shapes, self.sync_cuda = record_shapes, sync_cuda
        self.events: list[Event] = []
        self._stack: list[Event] = []
        self._t0 = 0
        self._saved_call = None

    # ------------------------------------------------------------ on and off
    def __enter__(self):
        if _active[0] is not None:
            raise RuntimeError("tensorgrad.profiler.profile: another profile is already recording; "
                               "nest record_function ranges inside one profile instead")
        _active[0] = self
        self._t0 = time.perf_counter_ns()
        self._saved_call = _function.Op.__call__
        _function.Op.__call__ = _timed_call
        _engine._backward_observer[0] = self
        return self

    def __exit__(self, *exc):
        _function.Op.__call__ = self._saved_call
        _engine._backward_observer[0] = None
        _active[0] = None
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)
        return False

    def step(self) -> None:
        """torch.profiler's schedule step: every step is recorded here, so nothing to advance."""

    # ------------------------------------------------------------ recording
    def _begin(self, name, phase, values=()):
        shapes, device = _describe(values) if (self.record_shapes or self.sync_cuda) else (None, None)
        ev = Event(name, phase, time.perf_counter_ns() - self._t0, len(self._stack),
                   shapes if self.record_shapes else None, device)
        self._stack.append(ev)
        return ev

    def _end(self, ev, node=None):
        if self.sync_cuda and ev.device and ev.device.startswith("cuda"):
            from . import cuda
            cuda.synchronize(ev.device)
        ev.dur_ns = time.perf_counter_ns() - self._t0 - ev.start_ns
        if node is not None:
            ev.saved_bytes = _saved_bytes(node)
        self._stack.pop()
        if self._stack:
            self._stack[-1].child_ns += ev.dur_ns
        self.events.append(ev)

    # ------------------------------------------------------------ results
    def key_averages(self, group_by_input_shape: bool = False) -> "KeyAverages":
        """Events grouped by (name, phase) (and input shapes when asked): counts, total and self times, saved bytes."""
        rows: "OrderedDict[tuple, dict]" = OrderedDict()
        for ev in self.events:
            key = (ev.name, ev.phase) + ((str(ev.shapes),) if group_by_input_shape else ())
            r = rows.get(key)
            if r is None:
                r = rows[key] = {"name": ev.name, "phase": ev.phase, "count": 0, "total_ns": 0, "self_ns": 0,
                                 "saved_bytes": 0, "shapes": ev.shapes if group_by_input_shape else None}
            r["count"] += 1
            r["total_ns"] += ev.dur_ns
            r["self_ns"] += ev.self_ns
            r["saved_bytes"] += ev.saved_bytes
        return KeyAverages(rows.values())

    def self_time_total_ns(self) -> int:
        """The sum of every event's self time: the wall time inside the outermost events."""
        return sum(ev.self_ns for ev in self.events)

    def export_chrome_trace(self, path) -> None:
        """Write the events in Chrome's trace event format (JSON; Perfetto and chrome://tracing open it)."""
        pid = os.getpid()
        trace = [{"name": ev.name, "cat": ev.phase, "ph": "X", "ts": ev.start_ns / 1e3, "dur": ev.dur_ns / 1e3,
                  "pid": pid, "tid": 0,
                  "args": {k: v for k, v in (("saved_bytes", ev.saved_bytes), ("shapes", ev.shapes),
                                              ("device", ev.device)) if v}}
                 for ev in sorted(self.events, key=lambda e: (e.start_ns, e.depth))]
        with open(path, "w") as f:
            json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, f)


def _timed_call(op, *inputs):
    """Op.__call__ while a profile records: the original call, timed, with the op's saved bytes."""
    prof = _active[0]
    ev = prof._begin(type(op).__name__, "forward", inputs)
    try:
        return prof._saved_call(op, *inputs)
    finally:
        prof._end(ev, op if op.__dict__.get("_saved") is not None or op.__dict__.get("ctx_arrays") is not None
                  else None)


class record_function:
    """A named range inside a profile (``with record_function("data loading"): ...``); no-op outside one."""

    def __init__(self, name: str):
        self.name = name
        self._ev = None

    def __enter__(self):
        prof = _active[0]
        if prof is not None:
            self._ev = prof._begin(self.name, "user")
        return self

    def __exit__(self, *exc):
        if self._ev is not None:
            _active[0]._end(self._ev)
        return False


class KeyAverages(list):
    """Rows of profile.key_averages(); ``table()`` formats them."""

    _SORT = {"self_time_total": "self_ns", "time_total": "total_ns", "count": "count", "saved_bytes": "saved_bytes"}
    # torch.profiler's keys: one clock here (host time, device time too with sync_cuda)
    for _dev in ("cpu", "cuda", "device"):
        _SORT[f"{_dev}_time_total"], _SORT[f"self_{_dev}_time_total"] = "total_ns", "self_ns"
    _SORT["calls"] = "count"
    del _dev

    def table(self, sort_by: str = "self_time_total", row_limit: int = 30) -> str:
        if sort_by not in self._SORT:
            raise ValueError(f"KeyAverages.table: sort_by must be one of {sorted(self._SORT)}, got {sort_by!r}")
        rows = sorted(self, key=lambda r: r[self._SORT[sort_by]], reverse=True)
        total_self = sum(r["self_ns"] for r in self) or 1
        head = (f"{'op':<34}{'phase':<10}{'calls':>7}{'self ms':>10}{'self %':>8}{'total ms':>10}"
                f"{'avg us':>9}{'saved KiB':>11}")
        lines = [head, "-" * len(head)]
        for r in rows[:row_limit]:
            name = r["name"] if len(r["name"]) <= 33 else r["name"][:30] + "..."
            lines.append(f"{name:<34}{r['phase']:<10}{r['count']:>7}{r['self_ns'] / 1e6:>10.3f}"
                         f"{100 * r['self_ns'] / total_self:>7.1f}%{r['total_ns'] / 1e6:>10.3f}"
                         f"{r['total_ns'] / r['count'] / 1e3:>9.1f}{r['saved_bytes'] / 1024:>11.1f}")
        if len(rows) > row_limit:
            lines.append(f"... {len(rows) - row_limit} more rows")
        lines.append(f"self time total: {total_self / 1e6:.3f} ms over {sum(r['count'] for r in self)} events")
        return "\n".join(lines)


# ---------------------------------------------------------------- the tape of a tensor
class Tape:
    """The recorded ops a tensor depends on, oldest first (``str`` prints them; ``to_dot`` for Graphviz)."""

    def __init__(self, root):
        self.root = root
        node = root.grad_fn
        self.nodes = []
        seen, todo = set(), [node] if node is not None else []
        while todo:  # iterative: a 1,000-step unroll is a deep graph
            n = todo.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            self.nodes.append(n)
            todo.extend(e[0] for e in getattr(n, "next_functions", ()) if e is not None)
        self.nodes.sort(key=lambda n: getattr(n, "_seq", -1))
        self._ids = {id(n): i for i, n in enumerate(self.nodes)}

    def _label(self, n) -> str:
        if n.name() == "AccumulateGrad":
            leaf = n._leaf() if hasattr(n, "_leaf") else None
            return f"leaf {list(leaf._data.shape)} {leaf._data.dtype.name}" if leaf is not None else "leaf (freed)"
        outs = ", ".join(f"{list(s)} {np.dtype(d).name}" for s, d in getattr(n, "_out_meta", ()))
        return f"{n.name()} -> {outs}"

    def _device(self, n, inputs, devices) -> str:
        """Where a node ran: a leaf's device, else that of what it saved, else of its first input."""
        if n.name() == "AccumulateGrad":
            leaf = n._leaf() if hasattr(n, "_leaf") else None
            return str(leaf.device) if leaf is not None else "?"
        saved = [getattr(s, "tensor", None) for s in getattr(n, "_saved", None) or ()]
        arrays = [t._data for t in saved if t is not None] + list(getattr(n, "ctx_arrays", None) or ())
        _, dev = _describe(arrays)
        if dev is None and inputs:
            dev = devices[inputs[0]]
        return dev or str(getattr(self.root, "device", "cpu"))

    def rows(self) -> list[dict]:
        """One dict per node, oldest first: index, op, label (outputs' shapes and dtypes), device,
        saved_bytes and inputs (indices of the nodes feeding it)."""
        out, devices = [], []
        for i, n in enumerate(self.nodes):
            inputs = [self._ids[id(e[0])] for e in getattr(n, "next_functions", ()) if e is not None]
            devices.append(self._device(n, inputs, devices))
            out.append({"index": i, "op": n.name(), "label": self._label(n), "device": devices[-1],
                        "saved_bytes": _saved_bytes(n), "inputs": inputs})
        return out

    def __str__(self) -> str:
        lines = [f"tape of a tensor of shape {list(self.root._data.shape)} {self.root._data.dtype.name}: "
                 f"{len(self.nodes)} nodes, oldest first"]
        for r in self.rows():
            ins = ", ".join(f"#{j}" for j in r["inputs"])
            lines.append(f"#{r['index']:<4}{r['label']:<56} {r['device']:<7} saved {r['saved_bytes']:>10} B  "
                         f"inputs [{ins}]")
        return "\n".join(lines)

    __repr__ = __str__

    def to_dot(self, name: str = "tape") -> str:
        """Graphviz DOT: one box per op (name, outputs, saved bytes), an edge from each input to its user."""
        lines = [f'digraph "{name}" {{', '  rankdir=BT;', '  node [shape=box, fontname="monospace"];']
        for r in self.rows():
            label = (r["label"].replace('"', "'") + f"\\n{r['device']}"
                     + (f", saved {r['saved_bytes']} B" if r["saved_bytes"] else ""))
            shape = ', style=rounded' if r["op"] == "AccumulateGrad" else ""
            lines.append(f'  n{r["index"]} [label="{label}"{shape}];')
        for r in self.rows():
            for j in r["inputs"]:
                lines.append(f"  n{j} -> n{r['index']};")
        lines.append("}")
        return "\n".join(lines) + "\n"


def tape(tensor) -> Tape:
    """The tape recorded for `tensor` (empty for a leaf or a tensor made without grad)."""
    return Tape(tensor)
