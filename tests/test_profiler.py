"""tensorgrad.profiler: per-op forward/backward events, their totals, saved bytes, the Chrome trace,
and the tape of a tensor (printed and as DOT)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad import nn
from tensorgrad.autograd.function import Op
from oracle import to_tg


def _model():
    tg.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))


def _step(model, device):
    x = to_tg(np.random.default_rng(0).normal(size=(5, 1, 8, 8)).astype(np.float32), device, False)
    y = tg.tensor(np.array([0, 1, 2, 3, 0]), device=device)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss


def test_records_forward_and_backward_of_every_op(device):
    model = _model().to(device)
    with tg.profiler.profile(record_shapes=True) as prof:
        loss = _step(model, device)
    names = {(e.name, e.phase) for e in prof.events}
    for op in ("Convolution", "BiasActivation", "Linear", "_IndexClassLoss"):
        assert (op, "forward") in names
    for node in ("ConvolutionBackward0", "BiasActivationBackward0", "LinearBackward0", "_IndexClassLossBackward0"):
        assert (node, "backward") in names
    assert all(e.dur_ns >= 0 and e.self_ns >= 0 for e in prof.events)
    lin = next(e for e in prof.events if e.name == "Linear")
    assert lin.shapes == [[5, 108], [4, 108], [4]]
    assert lin.device == ("cpu" if device == "cpu" else "cuda:0")
    assert loss.grad_fn is not None


def test_totals_match_the_sum_of_the_entries():
    model = _model()
    with tg.profiler.profile() as prof:
        with tg.profiler.record_function("step"):
            _step(model, "cpu")
    rows = prof.key_averages()
    assert sum(r["self_ns"] for r in rows) == prof.self_time_total_ns()
    assert sum(r["count"] for r in rows) == len(prof.events)
    top = [e for e in prof.events if e.depth == 0]
    assert [e.name for e in top] == ["step"]           # everything ran inside the range
    assert prof.self_time_total_ns() == top[0].dur_ns  # self times add up to the outermost span
    table = rows.table(row_limit=5)
    assert "self time total" in table and f"{len(prof.events)} events" in table and "more rows" in table
    with pytest.raises(ValueError, match="sort_by must be one of"):
        rows.table(sort_by="cpu_time")


def test_saved_bytes_are_what_the_op_keeps():
    x = tg.randn(6, 7, requires_grad=True)
    w = tg.randn(5, 7, requires_grad=True)
    with tg.profiler.profile() as prof:
        y = F.linear(x, w).relu()
    ev = {e.name: e for e in prof.events}
    assert ev["Linear"].saved_bytes == x._data.nbytes + w._data.nbytes
    assert ev["Relu"].saved_bytes == y._data.nbytes        # relu keeps its output
    with tg.profiler.profile() as prof:
        with tg.no_grad():
            F.linear(x, w)
    assert prof.events[0].saved_bytes == 0                   # not recorded: nothing kept


def test_profiling_switches_on_and_off_cleanly():
    original = Op.__call__
    with tg.profiler.profile() as prof:
        assert Op.__call__ is not original
        with pytest.raises(RuntimeError, match="already recording"):
            tg.profiler.profile().__enter__()
        (tg.ones(2, requires_grad=True) * 2).sum().backward()
    assert Op.__call__ is original
    n = len(prof.events)
    (tg.ones(2, requires_grad=True) * 2).sum().backward()
    assert len(prof.events) == n
    with tg.profiler.record_function("outside"):  # a no-op outside a profile
        pass
    with pytest.raises(ZeroDivisionError):          # an error inside still restores the hooks
        with tg.profiler.profile():
            1 / 0
    assert Op.__call__ is original


def test_chrome_trace_is_valid_json_in_trace_event_format(tmp_path):
    model = _model()
    with tg.profiler.profile(record_shapes=True) as prof:
        _step(model, "cpu")
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    assert len(events) == len(prof.events)
    for e in events:
        assert e["ph"] == "X" and isinstance(e["name"], str) and e["cat"] in ("forward", "backward", "user")
        assert e["ts"] >= 0 and e["dur"] >= 0 and isinstance(e["pid"], int) and isinstance(e["tid"], int)
    back = [e for e in events if e["name"] == "ConvolutionBackward0"][0]
    inner = [e for e in events if e["ts"] >= back["ts"] and e["ts"] + e["dur"] <= back["ts"] + back["dur"]
             and e is not back]
    assert inner, "the ops a backward runs nest inside its span"


def test_tape_lists_the_recorded_ops_oldest_first():
    x = tg.randn(3, 4, requires_grad=True)
    y = (x * 2).relu().sum()
    t = tg.profiler.tape(y)
    rows = t.rows()
    assert [r["op"] for r in rows] == ["AccumulateGrad", "MulBackward0", "ReluBackward0", "SumBackward0"]
    assert rows[2]["saved_bytes"] == 48 and rows[3]["inputs"] == [2] and rows[0]["device"] == "cpu"
    text = str(t)
    assert "4 nodes" in text and "ReluBackward0 -> [3, 4] float32" in text
    assert tg.profiler.tape(tg.ones(2)).nodes == []


def test_tape_of_a_deep_unroll_needs_no_recursion():
    h = tg.zeros(1, requires_grad=True)
    for _ in range(3000):
        h = h * 1.0 + 1.0
    assert len(tg.profiler.tape(h).nodes) == 6001


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot 4 on a newer pyparsing
def test_dot_export_parses():
    pydot = pytest.importorskip("pydot", reason="pydot (the DOT parser used here) is not installed")
    model = _model()
    x = tg.randn(2, 1, 8, 8)
    loss = F.cross_entropy(model(x), tg.tensor(np.array([0, 1])))
    t = tg.profiler.tape(loss)
    (graph,) = pydot.graph_from_dot_data(t.to_dot())
    assert len(graph.get_nodes()) - 1 == len(t.nodes)  # pydot lists the `node [...]` default as a node
    assert len(graph.get_edges()) == sum(len(r["inputs"]) for r in t.rows())
