"""Memory behaviour of the tape: saved values are released by backward (kept with retain_graph),
training loops do not grow, and the graph makes no reference cycles that keep arrays alive."""
from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import tensorgrad as tg

MB = 1 << 20


def graph_nodes(t):
    """Every node reachable from t's grad_fn."""
    seen, stack = {}, [t.grad_fn]
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen[id(n)] = n
        stack.extend(e[0] for e in n.next_functions if e is not None)
    return list(seen.values())


def _build(x):
    """x -> exp (saves its output) -> mul with itself (saves both inputs) -> sum."""
    h = x.exp()
    href = weakref.ref(h._data)
    y = (h * h).sum()
    return y, href


def test_backward_releases_saved_tensors():
    x = tg.randn(1000, dtype=tg.float64, requires_grad=True)
    y, href = _build(x)
    nodes = graph_nodes(y)
    assert any(n._saved for n in nodes)
    gc.collect()
    assert href() is not None  # the graph holds the intermediate exp(x) for backward
    y.backward()
    gc.collect()
    assert all(n._saved is None for n in nodes if n.name() != "AccumulateGrad")
    assert href() is None, "backward() kept an intermediate that only the graph needed"
    assert y.grad_fn is not None  # the graph itself still exists


def test_retain_graph_keeps_saved_tensors():
    x = tg.randn(1000, dtype=tg.float64, requires_grad=True)
    y, href = _build(x)
    y.backward(retain_graph=True)
    gc.collect()
    assert href() is not None
    assert any(n._saved for n in graph_nodes(y))
    g1 = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1)
    gc.collect()
    assert href() is None


def test_autograd_grad_releases_saved_tensors():
    x = tg.randn(1000, dtype=tg.float64, requires_grad=True)
    y, href = _build(x)
    tg.autograd.grad(y, x)
    gc.collect()
    assert href() is None


def test_saved_memory_freed_after_backward_tracemalloc():
    n = 500_000  # 4 MB per float64 intermediate
    x = tg.randn(n, dtype=tg.float64, requires_grad=True)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        h1 = x.exp()
        h2 = h1 * x
        h3 = h2.exp()
        y = (h3 * h1).sum()
        del h1, h2, h3
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        # backward needs h1 (exp's output, mul's input) and h3 (exp's output); h2 is nobody's saved value
        assert 1.9 * n * 8 < held < 2.6 * n * 8, f"the graph holds {held / MB:.1f} MB, expected about 8 MB"
        y.backward()
        del x.grad
        x.grad = None
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert after < n * 8 // 2, f"{after / MB:.1f} MB still held after backward (graph alive, y kept)"
    assert y.grad_fn is not None


def test_no_grad_forward_keeps_nothing():
    n = 500_000
    x = tg.randn(n, dtype=tg.float64, requires_grad=True)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        with tg.no_grad():
            y = (x.exp() * x).exp().sum()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert y.grad_fn is None
    assert after < n * 8 // 2


def _mlp_step(x, w1, b1, w2, target):
    h = (x @ w1 + b1).relu()
    out = h @ w2
    diff = out - target
    loss = (diff * diff).mean()
    loss.backward()
    with tg.no_grad():
        for p in (w1, b1, w2):
            p -= 0.01 * p.grad
            p.grad = None
    return loss.item()


def _params():
    tg.manual_seed(0)
    x = tg.randn(32, 64, dtype=tg.float64)
    w1 = (tg.randn(64, 128, dtype=tg.float64) * 0.1).requires_grad_()
    b1 = tg.zeros(128, dtype=tg.float64, requires_grad=True)
    w2 = (tg.randn(128, 8, dtype=tg.float64) * 0.1).requires_grad_()
    target = tg.randn(32, 8, dtype=tg.float64)
    return x, w1, b1, w2, target


def test_training_loop_memory_is_flat():
    args = _params()
    for _ in range(20):  # warm-up: caches, lazily created objects
        _mlp_step(*args)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        losses = [_mlp_step(*args) for _ in range(1000)]
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert losses[-1] < losses[0]  # it is really training
    assert grown < 1 * MB, f"memory grew by {grown / MB:.2f} MB over 1000 iterations"


def test_graph_has_no_reference_cycles():
    """With the cycle collector off, memory must stay flat: everything is freed by refcounting."""
    args = _params()
    big = tg.randn(100_000, dtype=tg.float64, requires_grad=True)  # 800 kB intermediates per step
    for _ in range(5):
        _mlp_step(*args)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(200):
            _mlp_step(*args)
            y = (big.exp() * big).exp()
            y.retain_grad()
            y.register_hook(lambda g: g * 1.0)
            y.sum().backward()
            big.grad = None
            del y
        grown = tracemalloc.get_traced_memory()[0] - base
        found = gc.collect()
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    assert grown < 2 * MB, f"memory grew by {grown / MB:.2f} MB with gc disabled: reference cycles"
    assert found < 100, f"the cycle collector found {found} unreachable objects (cycles in the graph)"


def test_custom_function_graph_has_no_reference_cycles():
    class Exp(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(x, y)
            ctx.mark_non_differentiable()
            return y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y

    x = tg.randn(100_000, dtype=tg.float64, requires_grad=True)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            y = Exp.apply(x)
            (y * 2.0).sum().backward()
            x.grad = None
            del y
        grown = tracemalloc.get_traced_memory()[0] - base
        found = gc.collect()
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    assert grown < 2 * MB, f"memory grew by {grown / MB:.2f} MB with gc disabled"
    assert found < 50, f"{found} objects in reference cycles"


def test_dropping_unused_graph_frees_everything_without_gc():
    x = tg.randn(100_000, dtype=tg.float64, requires_grad=True)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        y = (x.exp() * x).exp()
        ref = weakref.ref(y._data)
        node_ref = weakref.ref(y.grad_fn)
        del y  # never backpropagated
        assert ref() is None and node_ref() is None
    finally:
        if was_enabled:
            gc.enable()


def test_leaf_accumulator_does_not_keep_leaf_alive():
    x = tg.randn(1000, requires_grad=True)
    (x * 2.0).sum().backward()
    xref = weakref.ref(x)
    del x
    assert xref() is None


@pytest.mark.parametrize("retain", [False, True])
def test_backward_on_graph_without_saved_tensors_after_release(retain):
    x = tg.ones(3, requires_grad=True)
    y = (x + 1.0).sum()
    y.backward(retain_graph=retain)
    y.backward()  # nothing was saved, so a second pass is fine (as in PyTorch)
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
