"""The backward engine, checked against PyTorch: graph shapes, hooks, retain_graph, version
counters, in-place ops, deep/wide graphs, higher-order gradients and autograd.grad."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.autograd.function import Op
from oracle import needs_torch, torch

pytestmark = needs_torch

RNG = np.random.default_rng(7)


def arr(*shape, dtype=np.float64):
    return RNG.uniform(-1.5, 1.5, size=shape).astype(dtype)


def pair(a, requires_grad=True):
    """The same values as a tensorgrad leaf and a torch leaf."""
    return (tg.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad))


def close(t, p, rtol=1e-6, atol=1e-8):
    assert t is not None, "tensorgrad gave None where torch gave a tensor"
    assert p is not None, "tensorgrad gave a tensor where torch gave None"
    assert tuple(t.shape) == tuple(p.shape), (tuple(t.shape), tuple(p.shape))
    assert t.dtype.name == str(p.dtype).replace("torch.", ""), (t.dtype, p.dtype)
    np.testing.assert_allclose(t.detach().numpy(), p.detach().numpy(), rtol=rtol, atol=atol)


def both(fn, *arrays):
    """Run fn(module, *leaves) for tensorgrad and torch, backward of the sum; return the leaves."""
    tl = [tg.tensor(a, requires_grad=True) for a in arrays]
    pl = [torch.tensor(a, requires_grad=True) for a in arrays]
    fn(tg, *tl).sum().backward()
    fn(torch, *pl).sum().backward()
    for t, p in zip(tl, pl):
        close(t.grad, p.grad)
    return tl, pl


# ---------------------------------------------------------------- graph shapes
def test_diamond_graph():
    def f(m, x):
        a = x * 2.0
        b = x.exp()
        c = a * b + a / (b + 1.0)
        return c - b

    both(f, arr(4, 3))


def test_double_diamond_shared_intermediate():
    def f(m, x, w):
        h = x * w
        u = h.exp()
        v = h * h
        return (u + v) * h - u / (v + 1.0)

    both(f, arr(3, 2), arr(3, 2))


def test_tensor_reused_many_times_sums_gradients():
    def f(m, x):
        acc = x * 0.0
        for i in range(60):
            acc = acc + x * float(i % 7) - x.exp() * 0.01
        return acc * x

    both(f, arr(5))


def test_same_tensor_as_both_operands():
    both(lambda m, x: x * x + x / (x * x + 1.0) - x, arr(6))


@pytest.mark.parametrize("sa,sb", [((3, 1), (4,)), ((1,), (2, 3)), ((), (2, 3)), ((2, 1, 3), (4, 1)),
                                   ((1, 1), (5, 4)), ((4, 1, 1), (1, 3, 2)), ((3,), (2, 3))])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcast_gradients_reduced_like_torch(sa, sb, op):
    def f(m, a, b):
        r = getattr(m, op)(a, b if op != "div" else b * b + 1.0)
        return r * r

    both(f, arr(*sa), arr(*sb))


def test_broadcast_float32_grad_dtype():
    tl, _ = both(lambda m, a, b: a * b, arr(3, 1, dtype=np.float32), arr(4, dtype=np.float32))
    assert tl[0].grad.dtype is tg.float32 and tl[1].grad.dtype is tg.float32


def test_mixed_precision_grad_dtypes_follow_inputs():
    tl, _ = both(lambda m, a, b: a * b, arr(3, dtype=np.float32), arr(3, dtype=np.float64))
    assert tl[0].grad.dtype is tg.float32 and tl[1].grad.dtype is tg.float64


def test_expand_and_reshape_gradients():
    def f(m, x):
        y = x.reshape(2, 3).expand(4, 2, 3)
        return y.permute(2, 0, 1).transpose(0, 1) * y.sum()

    both(f, arr(6))


def test_long_chain_without_recursion():
    n = 10_000
    x = tg.tensor([0.5, -0.25], dtype=tg.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.001
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(250)  # the walk must be iterative
    try:
        y.sum().backward()
    finally:
        sys.setrecursionlimit(limit)
    np.testing.assert_allclose(x.grad.numpy(), np.full(2, 1.0001 ** n), rtol=1e-9)


def test_long_chain_release_does_not_recurse():
    x = tg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y + 1.0
    del y  # freeing a very deep graph must not overflow the C stack either
    import gc
    gc.collect()


def test_wide_graph():
    def f(m, x):
        terms = [x * float(i) for i in range(1000)]
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total * x

    both(f, arr(3))


def test_backward_on_non_scalar_needs_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()
    g = np.array([0.5, -1.0], dtype=np.float32)
    (x * 3).backward(tg.tensor(g))
    xp = torch.tensor([1.0, 2.0], requires_grad=True)
    (xp * 3).backward(torch.tensor(g))
    close(x.grad, xp.grad)


def test_backward_gradient_shape_mismatch_raises():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="(?i)mismatch in shape"):
        (x * 2).backward(tg.ones(3))


def test_backward_without_grad_raises():
    x = tg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()


def test_one_element_non_scalar_backward():
    x, xp = pair(arr(1, 1))
    (x * 4.0).backward()
    (xp * 4.0).backward()
    close(x.grad, xp.grad)


# ---------------------------------------------------------------- hooks, retain_grad
def test_leaf_hook_modifies_grad():
    x, xp = pair(arr(3))
    for t in (x, xp):
        t.register_hook(lambda g: g * 3.0)
    (x * x).sum().backward()
    (xp * xp).sum().backward()
    close(x.grad, xp.grad)


def test_leaf_hook_called_once_with_total_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(g.numpy().copy()))
    (x * 2.0 + x * 3.0).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [5.0, 5.0])


def test_non_leaf_hooks_chain_in_order_and_retain_grad_sees_result():
    a = arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        y = x * 2.0
        y.register_hook(lambda g: g * 3.0)
        y.retain_grad()
        y.register_hook(lambda g: g + 1.0)
        (y * y).sum().backward()
        res.append((x.grad, y.grad))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])


def test_hook_returning_none_observes_only():
    x, xp = pair(arr(4))
    seen = []
    y = x.exp()
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    (y * 2.0).sum().backward()
    (xp.exp() * 2.0).sum().backward()
    close(x.grad, xp.grad)
    np.testing.assert_allclose(seen[0], np.full(4, 2.0))


def test_hook_removal_via_handle():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    h1 = x.register_hook(lambda g: g * 10.0)
    h2 = y.register_hook(lambda g: g * 100.0)
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tg.ones(2).register_hook(lambda g: g)


def test_retain_grad_non_leaf():
    x, xp = pair(arr(2, 3))
    outs = []
    for t in (x, xp):
        h = t.exp()
        h.retain_grad()
        assert h.retains_grad
        (h * h).sum().backward()
        outs.append(h)
    close(outs[0].grad, outs[1].grad)
    close(x.grad, xp.grad)


def test_non_leaf_grad_is_none_without_retain_grad():
    x = tg.tensor([1.0], requires_grad=True)
    h = x * 2.0
    (h * h).sum().backward()
    assert h.grad is None and not h.retains_grad
    assert x.grad is not None


def test_retain_grad_accumulates_over_backwards():
    a = arr(3)
    got = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        y = x * 2.0
        y.retain_grad()
        s = (y * y).sum()
        s.backward(retain_graph=True)
        s.backward()
        got.append((x.grad, y.grad))
    close(got[0][0], got[1][0])
    close(got[0][1], got[1][1])


def test_retain_grad_on_leaf_is_noop():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    x.retain_grad()
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


# ---------------------------------------------------------------- retain_graph
def test_retain_graph_allows_second_backward_and_accumulates():
    x, xp = pair(arr(3))
    s, sp = (x.exp() * x).sum(), (xp.exp() * xp).sum()
    s.backward(retain_graph=True)
    sp.backward(retain_graph=True)
    close(x.grad, xp.grad)
    s.backward()
    sp.backward()
    close(x.grad, xp.grad)
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp(x.detach().numpy()) * (1 + x.detach().numpy())))


def test_second_backward_without_retain_graph_raises():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    s = (x.exp() * x).sum()
    s.backward()
    with pytest.raises(RuntimeError, match="(?i)backward through the graph a second time"):
        s.backward()


def test_second_backward_through_graph_without_saved_tensors_works_like_torch():
    a = arr(3)
    grads = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        s = (x + 1.0).sum()
        s.backward()
        s.backward()
        grads.append(x.grad)
    close(*grads)


def test_accumulation_into_existing_grad_and_zeroing():
    x, xp = pair(arr(3))
    for _ in range(3):
        (x.exp()).sum().backward()
        (xp.exp()).sum().backward()
    close(x.grad, xp.grad)
    x.grad = None
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


def test_grad_not_aliased_between_leaves():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # AddBackward hands the very same gradient to both
    a.grad.add_(100.0)
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])
    (a + b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(a.grad.numpy(), [102.0, 102.0])


# ---------------------------------------------------------------- versions and in-place ops
def test_inplace_on_saved_output_raises_naming_op():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="ExpBackward0.*modified by an inplace operation"):
        y.sum().backward()


def test_inplace_on_saved_input_raises():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    a = x.clone()
    b = a * a
    a.mul_(2)
    with pytest.raises(RuntimeError, match="MulBackward0.*modified by an inplace operation.*version 1"):
        b.sum().backward()


def test_leaf_modified_under_no_grad_after_being_saved_raises():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    with tg.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_where_nothing_saved_needs_it():
    x, xp = pair(arr(3))
    for t in (x, xp):
        y = t + 1.0
        y.mul_(2.0)
        (y * 3.0).sum().backward()
    close(x.grad, xp.grad)


def test_inplace_chain_on_non_leaf_matches_torch():
    x, xp = pair(arr(4))
    for t in (x, xp):
        y = t * 3.0
        y.add_(t.exp())
        y.mul_(t)
        y.sub_(1.0)
        y.div_(2.0)
        y.exp_()
        y.sum().backward()
    close(x.grad, xp.grad)


@pytest.mark.parametrize("op", ["mul", "div"])
def test_inplace_on_operand_of_scalar_mul_div_is_allowed(op):
    x, xp = pair(arr(3))
    for t in (x, xp):
        y = t + 1.0
        z = getattr(y, op)(2.0)
        y.add_(1.0)  # y's value is not needed to differentiate y * 2 or y / 2
        z.sum().backward()
    close(x.grad, xp.grad)


def test_inplace_after_use_by_add_is_allowed():
    x, xp = pair(arr(3))
    for t in (x, xp):
        y = t.exp()
        z = (y * 1.0).exp()  # (y * 1.0) is a new tensor: y's own version is irrelevant to it
        w = y + 2.0
        w.mul_(3.0)
        (z + w).sum().backward()
    close(x.grad, xp.grad)


def test_inplace_on_leaf_requiring_grad_raises():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x += 1.0
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.mul_(2.0)


def test_inplace_on_leaf_allowed_under_no_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    v = x._version
    with tg.no_grad():
        x.add_(1.0)
        x.mul_(2.0)
        x -= 1.0
    assert x._version == v + 3
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    np.testing.assert_allclose(x.detach().numpy(), [3.0, 5.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 10.0])


def test_sgd_style_update_loop_matches_torch():
    w0, a = arr(3), arr(5, 3)
    res = []
    for m in (tg, torch):
        w = m.tensor(w0, requires_grad=True)
        data = m.tensor(a)
        for _ in range(5):
            loss = ((data * w).exp() - 1.0).mean()
            loss.backward()
            with m.no_grad():
                w -= 0.1 * w.grad
            w.grad = None
        res.append(w)
    close(res[0], res[1])


def test_iadd_imul_on_non_leaf_records():
    x, xp = pair(arr(3))
    for t in (x, xp):
        y = t * 3.0
        y += t.exp()
        y *= t
        y -= 2.0
        y /= t * t + 1.0
        assert y.grad_fn is not None
        y.sum().backward()
    close(x.grad, xp.grad)


def test_iadd_with_non_leaf_operand_that_requires_grad():
    x, xp = pair(arr(3))
    a, ap = pair(arr(3), requires_grad=False)
    for base, t in ((a, x), (ap, xp)):
        y = base * 1.0  # does not require grad
        y += t.exp()  # now it does
        assert y.requires_grad
        (y * y).sum().backward()
    close(x.grad, xp.grad)


def test_inplace_on_tensor_not_requiring_grad_under_grad_mode_is_untracked():
    y = tg.ones(3)
    y.mul_(2.0)
    assert y.grad_fn is None and not y.requires_grad
    np.testing.assert_allclose(y.numpy(), 2.0)


def test_version_counter_bumped_by_inplace_and_shared_by_detach():
    x = tg.ones(3)
    d = x.detach()
    v = x._version
    x.add_(1.0)
    assert x._version == v + 1 and d._version == x._version
    d.mul_(2.0)
    assert x._version == v + 2
    np.testing.assert_allclose(x.numpy(), 4.0)


def test_inplace_through_detached_alias_invalidates_saved_tensor():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.detach().zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---------------------------------------------------------------- higher order
def test_hessian_vector_product_vs_torch():
    a, v = arr(4), arr(4)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        f = (x.exp() * x * x + x * x * x / (x * x + 1.0)).sum()
        (g,) = m.autograd.grad(f, x, create_graph=True)
        assert g.requires_grad
        (hv,) = m.autograd.grad(g, x, grad_outputs=m.tensor(v))
        res.append((g, hv))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])


def test_gradient_penalty_vs_torch():
    xa, wa = arr(5, 3), arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(xa, requires_grad=True)
        w = m.tensor(wa, requires_grad=True)
        out = ((x * w).exp() * x).sum()
        (gx,) = m.autograd.grad(out, x, create_graph=True)
        penalty = ((gx * gx).sum(dim=1) - 1.0) * 2.0
        loss = (penalty * penalty).mean() + out * 0.01
        loss.backward()
        res.append((x.grad, w.grad))
    close(res[0][0], res[1][0], rtol=1e-5)
    close(res[0][1], res[1][1], rtol=1e-5)


def test_third_derivative():
    a = arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        y = (x * x * x * x).sum()
        (g1,) = m.autograd.grad(y, x, create_graph=True)
        (g2,) = m.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = m.autograd.grad(g2.sum(), x)
        res.append(g3)
    close(*res)
    np.testing.assert_allclose(res[0].numpy(), 24 * a)


def test_backward_create_graph_then_backward_of_grad():
    a = arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        (x.exp() * x).sum().backward(create_graph=True)
        g = x.grad
        assert g.requires_grad
        x.grad = None
        (g * g).sum().backward()
        res.append(x.grad)
    close(*res)


def test_relu_double_backward_vs_torch():
    a = arr(6)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        y = (x.relu() * x * x).sum()
        (g,) = m.autograd.grad(y, x, create_graph=True)
        (h,) = m.autograd.grad((g * g).sum(), x)
        res.append((g, h))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])


# ---------------------------------------------------------------- autograd.grad
def test_grad_does_not_touch_leaf_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.autograd.grad((x * x).sum(), x)
    assert x.grad is None
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    x.grad = tg.tensor([10.0, 10.0])
    tg.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 10.0])


def test_grad_does_not_touch_other_leaves():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    tg.autograd.grad((x * w).sum(), x)
    assert x.grad is None and w.grad is None


def test_grad_allow_unused():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    z = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3.0).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = tg.autograd.grad(y, [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_allclose(gx.numpy(), [3.0, 3.0])


def test_grad_materialize_grads():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    z = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    gx, gz = tg.autograd.grad((x * 3.0).sum(), [x, z], materialize_grads=True)
    np.testing.assert_allclose(gz.numpy(), [0.0, 0.0, 0.0])
    assert tuple(gz.shape) == (3,)


def test_grad_with_grad_outputs_multiple_outputs_and_inputs():
    a, b, g1, g2 = arr(3), arr(3), arr(3), arr(3)
    res = []
    for m in (tg, torch):
        x1 = m.tensor(a, requires_grad=True)
        x2 = m.tensor(b, requires_grad=True)
        y1 = x1 * x2
        y2 = x1.exp() + x2 * 2.0
        res.append(m.autograd.grad([y1, y2], [x1, x2], grad_outputs=[m.tensor(g1), m.tensor(g2)]))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])


def test_grad_wrt_non_leaf_inputs():
    a = arr(4)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        h = x.exp()
        k = h * 2.0
        y = (k * h).sum()
        res.append(m.autograd.grad(y, [h, k]))
        assert x.grad is None
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])


def test_grad_same_input_twice():
    a = arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        res.append(m.autograd.grad((x * x).sum(), [x, x]))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])


def test_grad_input_not_requiring_grad_raises():
    x = tg.tensor([1.0], requires_grad=True)
    c = tg.tensor([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.autograd.grad((x * c).sum(), [c])


def test_grad_frees_graph_unless_retained():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp()).sum()
    tg.autograd.grad(y, x, retain_graph=True)
    tg.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="(?i)second time"):
        tg.autograd.grad(y, x)


def test_backward_inputs_only_accumulates_into_those():
    a, b = arr(3), arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        w = m.tensor(b, requires_grad=True)
        (x * w).exp().sum().backward(inputs=[x])
        res.append((x.grad, w.grad))
    close(res[0][0], res[1][0])
    assert res[0][1] is None and res[1][1] is None


def test_backward_inputs_non_leaf_and_accumulates():
    a = arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        y = x * 2.0
        s = (y * y).sum()
        s.backward(inputs=[y], retain_graph=True)
        s.backward(inputs=[y, x])
        res.append((x.grad, y.grad))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])


def test_autograd_backward_multiple_roots():
    a, g = arr(3), arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        m.autograd.backward([(x * x).sum(), x.exp()], [None, m.tensor(g)])
        res.append(x.grad)
    close(*res)


# ---------------------------------------------------------------- ops without double backward
class _Cube(Op):
    """x**3 whose backward is written without double-backward support."""

    save_inputs = (0,)
    double_backward = False

    def forward(self, x):
        return x * x * x

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * x * x * 3.0


def test_no_double_backward_first_order_fine():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    _Cube()(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    assert tg.autograd.gradcheck(lambda t: _Cube()(t), [tg.tensor([0.3, -0.7], dtype=tg.float64,
                                                                  requires_grad=True)])


def test_no_double_backward_create_graph_ok_until_second_derivative_requested():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    (g,) = tg.autograd.grad(_Cube()(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])  # first derivative is fine
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="(?i)double backward.*_Cube"):
        tg.autograd.grad(g.sum(), x)


def test_no_double_backward_mixed_graph_only_raises_through_that_op():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    w = tg.tensor([0.5, 0.5], dtype=tg.float64, requires_grad=True)
    y = (_Cube()(x) + w * w * w).sum()
    gx, gw = tg.autograd.grad(y, [x, w], create_graph=True)
    (hw,) = tg.autograd.grad(gw.sum(), w, retain_graph=True)  # w's path is double-differentiable
    np.testing.assert_allclose(hw.numpy(), 6 * np.array([0.5, 0.5]))
    with pytest.raises(RuntimeError, match="(?i)double backward"):
        tg.autograd.grad(gx.sum(), x)


def test_op_returning_wrong_number_of_gradients_raises():
    class Bad(Op):
        def forward(self, a, b):
            return a + b

        def backward(self, grad):
            return grad

    x = tg.tensor([1.0], requires_grad=True)
    y = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 1 gradients, expected 2"):
        Bad()(x, y).sum().backward()


def test_no_grad_results_do_not_record():
    x = tg.tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = x * 2.0
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf


def test_grad_fn_names_and_next_functions():
    x = tg.tensor([1.0], requires_grad=True)
    y = x.exp() * 2.0
    p = torch.tensor([1.0], requires_grad=True)
    q = p.exp() * 2.0
    assert y.grad_fn.name() == q.grad_fn.name().replace("MulBackward0", "MulBackward0")
    exp_node, _ = y.grad_fn.next_functions[0]
    assert exp_node.name() == "ExpBackward0"
    acc, _ = exp_node.next_functions[0]
    assert acc.name() == "AccumulateGrad" and acc.variable is x


# ---------------------------------------------------------------- engine regressions
@pytest.mark.parametrize("how", ["grad", "backward_inputs"])
def test_leaf_hooks_apply_with_autograd_grad_and_backward_inputs(how):
    a = arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        x.register_hook(lambda g: g * 10.0)
        y = (x * x).sum()
        if how == "grad":
            res.append(m.autograd.grad(y, x)[0])
        else:
            y.backward(inputs=[x])
            res.append(x.grad)
    close(*res)


def test_root_without_grad_error_names_its_index():
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="element 1 of tensors does not require grad"):
        tg.autograd.backward([(x * 2.0).sum(), tg.tensor(1.0)])


def test_no_double_backward_dependence_through_grad_output_raises():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    w = tg.tensor([0.5, -1.5], dtype=tg.float64, requires_grad=True)
    z = (_Cube()(x) * w).sum()
    (g,) = tg.autograd.grad(z, x, create_graph=True)  # 3 x^2 w: depends on w through _Cube's grad_output
    np.testing.assert_allclose(g.detach().numpy(), 3 * np.array([1.0, 4.0]) * np.array([0.5, -1.5]))
    with pytest.raises(RuntimeError, match="(?i)double backward"):
        tg.autograd.grad(g.sum(), w, allow_unused=True)


# ---------------------------------------------------------------- more in-place semantics
def test_retain_grad_follows_tensor_through_inplace_and_hooks_stay_with_old_version():
    a = arr(3)
    res = []
    for m in (tg, torch):
        seen = []
        x = m.tensor(a, requires_grad=True)
        y = x * 2.0
        y.retain_grad()
        y.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
        y.mul_(3.0)
        assert y.retains_grad
        (y * y).sum().backward()
        res.append((x.grad, y.grad, seen[0]))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])
    np.testing.assert_allclose(res[0][2], res[1][2])


def test_inplace_on_plain_leaf_with_grad_operand_joins_graph():
    a, b = arr(3), arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        acc = m.tensor(b)
        assert acc.is_leaf and not acc.requires_grad
        acc.add_(x * x)
        assert not acc.is_leaf and acc.requires_grad and acc.grad_fn is not None
        acc.mul_(x)
        acc.sum().backward()
        res.append(x.grad)
    close(*res)


@pytest.mark.parametrize("case", ["int_add_float", "bool_add_int", "shape"])
def test_inplace_type_and_shape_errors_like_torch(case):
    for m in (tg, torch):
        if case == "int_add_float":
            t, f = m.tensor([1, 2]), lambda t: t.add_(1.5)
        elif case == "bool_add_int":
            t, f = m.tensor([True, False]), lambda t: t.add_(m.tensor([1, 2]))
        else:
            t, f = m.ones(3), lambda t: t.add_(m.ones(2, 3))
        with pytest.raises(RuntimeError):
            f(t)
    int_t = tg.tensor([1, 2])
    int_t.add_(3)  # same kind: fine
    assert int_t.tolist() == [4, 5]
    f = tg.tensor([1.0, 2.0])
    f.add_(tg.tensor([1, 1]))  # int into float: fine
    assert f.tolist() == [2.0, 3.0]


def test_recorded_inplace_on_view_raises_instead_of_losing_the_base_graph():
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    base = tg.zeros(2, 2)
    v = base.reshape(4)
    with pytest.raises(RuntimeError, match="in-place operation on a view"):
        v.add_(x)
    h = x * 1.0
    with pytest.raises(RuntimeError, match="in-place operation on a view"):
        h.reshape(2, 2).mul_(2.0)


def test_unrecorded_inplace_on_view_updates_base_and_shared_version():
    base = tg.zeros(2, 2)
    v = base.reshape(4)
    before = base._version
    v.add_(1.0)
    assert base.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert base._version == v._version == before + 1
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        x.reshape(2, 1).mul_(3.0)
    assert x.detach().tolist() == [3.0, 6.0]


@pytest.mark.parametrize("value,error", [("list", TypeError), ("ones3", RuntimeError), ("f64", RuntimeError)])
def test_grad_assignment_is_validated_like_torch(value, error):
    for m in (tg, torch):
        x = m.ones(2, requires_grad=True)
        v = {"list": lambda: [1.0, 2.0], "ones3": lambda: m.ones(3),
             "f64": lambda: m.ones(2, dtype=m.float64)}[value]()
        with pytest.raises(error):
            x.grad = v
    x = tg.ones(2, requires_grad=True)
    x.grad = tg.full((2,), 3.0)
    (x * 1.0).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]
    del x.grad
    assert x.grad is None


def test_backward_inputs_edge_cases_like_torch():
    for m in (tg, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        z = m.tensor([1.0], requires_grad=True)
        (x * 2.0).sum().backward(inputs=[z])  # unused input: no error, no grad
        assert z.grad is None and x.grad is None
        with pytest.raises(RuntimeError, match="cannot be empty"):
            (x * 2.0).sum().backward(inputs=[])
        with pytest.raises(RuntimeError, match="cannot be empty"):
            m.autograd.backward([(x * 2.0).sum()], inputs=[])
        (x * 2.0).sum().backward(inputs=x)  # a single tensor
        assert x.grad.tolist() == [2.0, 2.0]
        with pytest.raises(RuntimeError):
            (x * 2.0).sum().backward(inputs=[m.tensor([1.0])])


def test_fill_and_zero_on_leaf_requiring_grad_raise_like_torch():
    for m in (tg, torch):
        x = m.ones(3, requires_grad=True)
        for f in (lambda t: t.fill_(2.0), lambda t: t.zero_()):
            with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
                f(x)
        with m.no_grad():
            x.fill_(2.0)
        assert x.tolist() == [2.0, 2.0, 2.0]
        (x * x).sum().backward()
        x.grad.zero_()  # the usual way to reset a gradient
        assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_fill_on_non_leaf_cuts_gradient_like_torch():
    a = arr(3)
    res = []
    for m in (tg, torch):
        x = m.tensor(a, requires_grad=True)
        y = x * 2.0
        z = y + x  # add saves nothing, so overwriting y afterwards is fine
        y.fill_(1.5)
        (y * x + z).sum().backward()
        res.append(x.grad)
    close(*res)
