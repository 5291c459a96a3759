"""Regressions from review: stored gradients never alias graph tensors, stale views refuse,
copy_ keeps the graph, hook results are checked, alpha with scalars, relu's masked inf."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import needs_torch, torch


def _both(fn):
    return fn(tg), fn(torch)


def _np(t):
    return t.detach().numpy()


@needs_torch
def test_create_graph_grad_is_a_private_writable_copy():
    def run(m):
        x = m.ones(3, requires_grad=True)
        x.sum().backward(create_graph=True)  # the incoming gradient is a broadcast (read-only) view
        x.sum().backward()  # accumulates into x.grad in place
        return x.grad
    a, b = _both(run)
    np.testing.assert_array_equal(_np(a), _np(b))


@needs_torch
def test_two_leaves_never_share_one_grad_tensor_with_create_graph():
    def run(m):
        x = m.ones(3, requires_grad=True)
        y = m.ones(3, requires_grad=True)
        (x + y).pow(2).sum().backward(create_graph=True)
        with m.no_grad():
            x.grad.zero_()
        return y.grad
    a, b = _both(run)
    np.testing.assert_array_equal(_np(a), _np(b))


@needs_torch
def test_user_seed_gradient_is_not_modified():
    def run(m):
        x = m.ones(3, requires_grad=True)
        g = m.ones(3)
        x.backward(g, create_graph=True)
        x.backward(g)
        return g
    a, b = _both(run)
    np.testing.assert_array_equal(_np(a), _np(b))


@needs_torch
def test_retained_grads_are_private_and_writable():
    def run(m):
        a = m.ones(3, requires_grad=True)
        b = a * 2
        c = a * 3
        b.retain_grad()
        c.retain_grad()
        (b + c).sum().backward()
        b.grad.add_(1)
        return b.grad, c.grad
    (tb, tc), (pb, pc) = _both(run)
    np.testing.assert_array_equal(_np(tb), _np(pb))
    np.testing.assert_array_equal(_np(tc), _np(pc))


def test_view_taken_before_recorded_inplace_on_base_refuses_instead_of_wrong_grad():
    h = tg.tensor([[1.0, -2.0, 3.0]], requires_grad=True)
    a = h * 1
    v = a[:, :2]
    a.relu_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation recorded"):
        v.sum().backward()


@needs_torch
def test_view_taken_after_recorded_inplace_is_fine():
    def run(m):
        h = m.tensor([[1.0, -2.0, 3.0]], requires_grad=True)
        a = h * 1
        a.relu_()
        a[:, :2].sum().backward()
        return h.grad
    a, b = _both(run)
    np.testing.assert_array_equal(_np(a), _np(b))


@needs_torch
def test_copy_from_leaf_that_requires_grad_keeps_the_gradient():
    def run(m):
        x = m.zeros(3)
        y = m.ones(3, requires_grad=True)
        x.copy_(y)
        (x * 3).sum().backward()
        return y.grad
    a, b = _both(run)
    np.testing.assert_array_equal(_np(a), _np(b))


def test_copy_from_nonleaf_does_not_share_its_graph_slot():
    w = tg.ones(3, requires_grad=True)
    y = w * 2
    x = tg.zeros(3)
    x.copy_(y)
    assert x.grad_fn is not y.grad_fn


@pytest.mark.parametrize("bad", ["shape", "dtype"])
def test_hook_that_changes_shape_or_dtype_raises(bad):
    hook = (lambda g: g.sum()) if bad == "shape" else (lambda g: g.double())
    x = tg.ones(3, requires_grad=True)
    x.register_hook(hook)
    with pytest.raises(RuntimeError, match="has changed the (size|type) of value"):
        (x * 2).sum().backward()
    y = tg.ones(3, requires_grad=True) * 1
    y.register_hook(hook)
    with pytest.raises(RuntimeError, match="has changed the (size|type) of value"):
        (y * 2).sum().backward()


@needs_torch
@pytest.mark.parametrize("op", ["add", "sub", "add_", "sub_"])
def test_alpha_with_a_scalar_other(op):
    def run(m):
        x = m.tensor([1.0, 2.0])
        out = getattr(x, op)(2, alpha=3)
        return out
    a, b = _both(run)
    np.testing.assert_array_equal(_np(a), _np(b))


@needs_torch
def test_relu_backward_keeps_inf_out_of_masked_positions():
    def run(m):
        x = m.tensor([-1.0, 2.0], requires_grad=True)
        x.relu().backward(m.tensor([float("inf"), 1.0]))
        return x.grad
    a, b = _both(run)
    np.testing.assert_array_equal(_np(a), _np(b))


def test_tensor_of_a_tensor_keeps_its_device_and_copies():
    x = tg.ones(2)
    y = tg.tensor(x)
    assert y.device == x.device and y._data is not x._data


@needs_torch
def test_arithmetic_into_expanded_tensor_raises_like_torch():
    for m in (tg, torch):
        e = m.ones(1).expand(3)
        with m.no_grad(), pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            e.add_(1)


@pytest.mark.parametrize("write", ["fill_", "setitem"])
def test_fill_and_setitem_into_expanded_tensor_raise_on_every_device(write):
    # PyTorch allows these two (every element gets the same value); tensorgrad refuses them on all
    # devices alike, because NumPy's broadcast views are read-only and CuPy's are not
    e = tg.ones(1).expand(3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        if write == "fill_":
            e.fill_(2)
        else:
            e[0] = 5.0
