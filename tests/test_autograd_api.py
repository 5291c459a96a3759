"""Public autograd API: grad modes (context managers, decorators, threads), custom Functions
compared with the same Function written for torch, and gradcheck/gradgradcheck."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.autograd.gradcheck import GradcheckError
from oracle import needs_torch, torch

RNG = np.random.default_rng(11)


def arr(*shape):
    return RNG.uniform(-1.0, 1.0, size=shape)


def close(t, p, rtol=1e-6, atol=1e-9):
    assert t is not None and p is not None, (t, p)
    assert tuple(t.shape) == tuple(p.shape)
    assert t.dtype.name == str(p.dtype).replace("torch.", "")
    np.testing.assert_allclose(t.detach().numpy(), p.detach().numpy(), rtol=rtol, atol=atol)


# ---------------------------------------------------------------- grad modes
def test_no_grad_context():
    x = tg.ones(2, requires_grad=True)
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2.0
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_enable_grad_inside_no_grad_and_nesting():
    x = tg.ones(2, requires_grad=True)
    with tg.no_grad():
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            y = x * 2.0
            with tg.no_grad():
                assert not tg.is_grad_enabled()
                with tg.set_grad_enabled(True):
                    assert tg.is_grad_enabled()
                assert not tg.is_grad_enabled()
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
        z = x * 2.0
    assert tg.is_grad_enabled()
    assert y.requires_grad and not z.requires_grad


def test_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with tg.no_grad():
            raise ValueError
    assert tg.is_grad_enabled()

    @tg.no_grad()
    def boom():
        raise KeyError

    with pytest.raises(KeyError):
        boom()
    assert tg.is_grad_enabled()


def test_set_grad_enabled_call_and_context():
    try:
        tg.set_grad_enabled(False)  # a plain call switches immediately
        assert not tg.is_grad_enabled()
        tg.set_grad_enabled(True)
        assert tg.is_grad_enabled()
        with tg.set_grad_enabled(False):
            assert not tg.is_grad_enabled()
        assert tg.is_grad_enabled()
        with tg.no_grad():
            with tg.set_grad_enabled(True):
                assert tg.is_grad_enabled()
            assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)


@needs_torch
def test_grad_mode_decorators_match_torch():
    results = {}
    for m in (tg, torch):
        x = m.ones(2, requires_grad=True)

        @m.no_grad()
        def f1(t):
            return (t * 2).requires_grad

        @m.no_grad
        def f2(t):
            return (t * 2).requires_grad

        @m.enable_grad()
        def f3(t):
            return (t * 2).requires_grad

        @m.enable_grad
        def f4(t):
            return (t * 2).requires_grad

        @m.set_grad_enabled(False)
        def f5(t):
            return (t * 2).requires_grad

        out = [f1(x), f2(x), m.is_grad_enabled(), f5(x), m.is_grad_enabled()]
        with m.no_grad():
            out += [f3(x), f4(x), m.is_grad_enabled()]
        results[m.__name__] = out
        assert f1.__name__ == "f1"  # functools.wraps
    assert results["tensorgrad"] == results["torch"] == [False, False, True, False, True, True, True, False]


@needs_torch
def test_decorated_generator_runs_each_step_in_mode_like_torch():
    results = {}
    for m in (tg, torch):
        @m.no_grad()
        def gen():
            got = yield m.is_grad_enabled()
            yield (got, m.is_grad_enabled())
            return "done"

        it = gen()
        seen = [next(it), m.is_grad_enabled(), it.send(5), m.is_grad_enabled()]
        with pytest.raises(StopIteration) as stop:
            next(it)
        seen.append(stop.value.value)
        results[m.__name__] = seen
    assert results["tensorgrad"] == results["torch"] == [False, True, (5, False), True, "done"]


def test_grad_mode_is_thread_local():
    seen = {}
    barrier = threading.Barrier(2)

    def no_grad_worker():
        with tg.no_grad():
            barrier.wait()  # both threads are inside their blocks now
            seen["a"] = tg.is_grad_enabled()
            barrier.wait()

    def grad_worker():
        barrier.wait()
        x = tg.ones(2, requires_grad=True)
        seen["b"] = tg.is_grad_enabled()
        seen["b_rec"] = (x * 2.0).requires_grad
        barrier.wait()

    threads = [threading.Thread(target=no_grad_worker), threading.Thread(target=grad_worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": False, "b": True, "b_rec": True}


def test_new_thread_starts_with_grad_enabled_even_from_no_grad():
    seen = []
    with tg.no_grad():
        t = threading.Thread(target=lambda: seen.append(tg.is_grad_enabled()))
        t.start()
        t.join()
        assert not tg.is_grad_enabled()
    assert seen == [True]


# ---------------------------------------------------------------- custom Functions
def make_functions(m):
    class MulAdd(m.autograd.Function):
        """a * b + k with a non-tensor argument k."""

        @staticmethod
        def forward(ctx, a, b, k):
            ctx.save_for_backward(a, b)
            ctx.k = k
            ctx.flags = tuple(ctx.needs_input_grad)
            return a * b + k

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga = g * b if ctx.needs_input_grad[0] else None
            gb = g * a if ctx.needs_input_grad[1] else None
            return ga, gb, None

    class Exp(m.autograd.Function):
        """Saves its output."""

        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class SplitScale(m.autograd.Function):
        """Two differentiable outputs and one integer (non-differentiable) output."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            count = (x > 0).sum()
            ctx.mark_non_differentiable(count)
            return x * 2, x * x, count

        @staticmethod
        def backward(ctx, g1, g2, g3):
            (x,) = ctx.saved_tensors
            return g1 * 2 + g2 * 2 * x

    class Sorted(m.autograd.Function):
        """A float output marked non-differentiable."""

        @staticmethod
        def forward(ctx, x):
            mask = (x > 0).to(x.dtype)
            ctx.mark_non_differentiable(mask)
            return x * 3, mask

        @staticmethod
        def backward(ctx, g, gmask):
            return g * 3

    return MulAdd, Exp, SplitScale, Sorted


@needs_torch
def test_function_with_saved_inputs_and_non_tensor_arg_matches_torch():
    a, b = arr(3, 2), arr(2)
    res = []
    for m in (tg, torch):
        MulAdd = make_functions(m)[0]
        x = m.tensor(a, requires_grad=True)
        w = m.tensor(b, requires_grad=True)
        y = MulAdd.apply(x, w, 0.5)
        assert y.grad_fn is not None and y.requires_grad
        (y * y).sum().backward()
        res.append((y, x.grad, w.grad, y.grad_fn))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])
    close(res[0][2], res[1][2])
    assert res[0][3].name() == "MulAddBackward"


@needs_torch
def test_function_needs_input_grad_matches_torch():
    flags = {}
    for m in (tg, torch):
        MulAdd = make_functions(m)[0]
        x = m.tensor(arr(2), requires_grad=True)
        w = m.tensor(arr(2))
        y = MulAdd.apply(x, w, 1.0)
        flags[m.__name__] = y.grad_fn.flags if m is tg else None
        y.sum().backward()
        assert w.grad is None and x.grad is not None
    assert flags["tensorgrad"] == (True, False, False)


@needs_torch
def test_function_saving_its_output_matches_torch_including_double_backward():
    a = arr(4)
    res = []
    for m in (tg, torch):
        Exp = make_functions(m)[1]
        x = m.tensor(a, requires_grad=True)
        y = Exp.apply(x)
        (g,) = m.autograd.grad((y * x).sum(), x, create_graph=True)
        (h,) = m.autograd.grad((g * g).sum(), x)
        res.append((y, g, h))
    for t, p in zip(res[0], res[1]):
        close(t, p)


@needs_torch
def test_function_multiple_outputs_and_non_differentiable_matches_torch():
    a = arr(5)
    res = []
    for m in (tg, torch):
        SplitScale = make_functions(m)[2]
        x = m.tensor(a, requires_grad=True)
        y1, y2, count = SplitScale.apply(x)
        assert y1.requires_grad and y2.requires_grad
        assert not count.requires_grad
        (y1 * 3 + y2).sum().backward()
        res.append((y1, y2, count, x.grad))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])
    assert res[0][2].item() == res[1][2].item()
    close(res[0][3], res[1][3])


@needs_torch
def test_function_only_one_of_several_outputs_used_matches_torch():
    a = arr(5)
    res = []
    for m in (tg, torch):
        SplitScale = make_functions(m)[2]
        x = m.tensor(a, requires_grad=True)
        y1, y2, _ = SplitScale.apply(x)
        (y2 * 5).sum().backward()  # y1 gets zeros (materialized)
        res.append(x.grad)
    close(*res)


@needs_torch
def test_function_float_output_marked_non_differentiable():
    a = arr(4)
    res = []
    for m in (tg, torch):
        Sorted = make_functions(m)[3]
        x = m.tensor(a, requires_grad=True)
        y, mask = Sorted.apply(x)
        assert y.requires_grad and not mask.requires_grad and mask.grad_fn is None
        (y * mask + y).sum().backward()
        res.append(x.grad)
    close(*res)


def test_function_not_recorded_without_grad_or_under_no_grad():
    MulAdd = make_functions(tg)[0]
    y = MulAdd.apply(tg.ones(2), tg.ones(2), 1.0)
    assert y.grad_fn is None and not y.requires_grad
    x = tg.ones(2, requires_grad=True)
    with tg.no_grad():
        y = MulAdd.apply(x, x, 1.0)
    assert y.grad_fn is None and not y.requires_grad


def test_function_forward_runs_without_recording():
    inside = []

    class Probe(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            inside.append((tg.is_grad_enabled(), y.requires_grad))
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = tg.ones(2, requires_grad=True)
    Probe.apply(x).sum().backward()
    assert inside == [(False, False)]
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


@needs_torch
def test_function_wrong_number_of_gradients_raises():
    for m in (tg, torch):
        class TooFew(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g

        class TooMany(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g, g

        x = m.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match=r"returned an incorrect number of gradients \(expected 2, got 1\)"):
            TooFew.apply(x, 3.0).sum().backward()
        with pytest.raises(RuntimeError, match=r"returned an incorrect number of gradients \(expected 1, got 2\)"):
            TooMany.apply(x).sum().backward()


@needs_torch
def test_function_extra_trailing_none_gradients_allowed():
    for m in (tg, torch):
        class Extra(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2, None, None

        x = m.ones(2, requires_grad=True)
        Extra.apply(x).sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]


def test_function_saved_tensors_freed_after_backward():
    Exp = make_functions(tg)[1]
    x = tg.ones(2, requires_grad=True)
    y = Exp.apply(x)
    s = y.sum()
    s.backward()
    with pytest.raises(RuntimeError, match="(?i)second time"):
        s.backward()


def test_function_saved_input_modified_in_place_raises():
    MulAdd = make_functions(tg)[0]
    x = tg.ones(2, requires_grad=True)
    w = tg.ones(2)
    y = MulAdd.apply(x, w, 0.0)
    w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@needs_torch
def test_function_materialize_grads_false_gives_none():
    got = {}
    for m in (tg, torch):
        class Two(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                got.setdefault(m.__name__, []).append((g1 is None, g2 is None))
                out = 0
                if g1 is not None:
                    out = out + g1 * 2
                if g2 is not None:
                    out = out + g2 * 3
                return out

        x = m.ones(2, requires_grad=True)
        a, b = Two.apply(x)
        b.sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]
    assert got["tensorgrad"] == got["torch"] == [(True, False)]


def test_function_used_twice_in_graph():
    Exp = make_functions(tg)[1]
    x = tg.tensor([0.5, -1.0], dtype=tg.float64, requires_grad=True)
    y = Exp.apply(x) * Exp.apply(x * 2.0)
    y.sum().backward()
    xv = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp(3 * xv))


def test_function_gradcheck_and_gradgradcheck():
    MulAdd, Exp, SplitScale, _ = make_functions(tg)
    a = tg.tensor(arr(3, 2), requires_grad=True)
    b = tg.tensor(arr(2), requires_grad=True)
    assert tg.autograd.gradcheck(lambda p, q: MulAdd.apply(p, q, 0.3), (a, b))
    assert tg.autograd.gradgradcheck(lambda p, q: MulAdd.apply(p, q, 0.3), (a, b))
    assert tg.autograd.gradcheck(Exp.apply, (a,))
    assert tg.autograd.gradgradcheck(Exp.apply, (a,))
    assert tg.autograd.gradcheck(lambda t: SplitScale.apply(t)[:2], (b,))


# ---------------------------------------------------------------- gradcheck
def test_gradcheck_passes_for_correct_ops():
    x = tg.tensor(arr(3, 2), requires_grad=True)
    w = tg.tensor(arr(2), requires_grad=True)
    assert tg.autograd.gradcheck(lambda a, b: (a * b).exp() / (b * b + 1.0), (x, w))
    assert tg.autograd.gradgradcheck(lambda a, b: (a * b).exp() / (b * b + 1.0), (x, w))
    assert tg.autograd.gradcheck(lambda a: (a.sum(dim=0) * a.mean()), (x,))


class _WrongBackward(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3.0 * x  # should be 2x


class _WrongSecondOrder(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2.0 * x.detach()  # right value, but hides the dependence on x from double backward


def test_gradcheck_detects_wrong_backward():
    x = tg.tensor(arr(4), requires_grad=True)
    assert tg.autograd.gradcheck(_WrongBackward.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="(?i)jacobian mismatch"):
        tg.autograd.gradcheck(_WrongBackward.apply, (x,))
    assert issubclass(GradcheckError, RuntimeError)


def test_gradgradcheck_detects_wrong_second_derivative():
    x = tg.tensor(arr(4), requires_grad=True)
    assert tg.autograd.gradcheck(_WrongSecondOrder.apply, (x,))  # first order is right
    assert tg.autograd.gradgradcheck(_WrongSecondOrder.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError):
        tg.autograd.gradgradcheck(_WrongSecondOrder.apply, (x,))


def test_gradcheck_detects_wrong_gradient_for_one_of_two_inputs():
    class HalfWrong(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * b  # second should be g * a

    a = tg.tensor(arr(3), requires_grad=True)
    b = tg.tensor(arr(3), requires_grad=True)
    with pytest.raises(GradcheckError, match="input 1"):
        tg.autograd.gradcheck(HalfWrong.apply, (a, b))


def test_gradcheck_detects_missing_gradient():
    class Forgets(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * 2.0 + b

        @staticmethod
        def backward(ctx, g):
            return g * 2.0, None  # b's gradient is missing

    a = tg.tensor(arr(3), requires_grad=True)
    b = tg.tensor(arr(3), requires_grad=True)
    assert tg.autograd.gradcheck(Forgets.apply, (a, b), raise_exception=False) is False


def test_gradcheck_needs_an_input_requiring_grad_and_warns_for_float32():
    with pytest.raises(ValueError):
        tg.autograd.gradcheck(lambda t: t * 2.0, (tg.tensor(arr(2)),))
    x32 = tg.tensor(arr(2), dtype=tg.float32, requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        tg.autograd.gradcheck(lambda t: t * 2.0, (x32,), atol=1e-2, rtol=1e-2)


def test_gradcheck_leaves_inputs_unchanged():
    a = arr(3, 2)
    x = tg.tensor(a, requires_grad=True)
    tg.autograd.gradcheck(lambda t: t.exp(), (x,))
    tg.autograd.gradgradcheck(lambda t: t.exp(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), a)
    assert x.grad is None


@needs_torch
def test_function_with_non_tensor_output_gets_none_gradient():
    got = {}
    for m in (tg, torch):
        class WithInt(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, 5

            @staticmethod
            def backward(ctx, g1, g2):
                got[m.__name__] = g2
                return g1 * 2

        x = m.ones(2, requires_grad=True)
        y, k = WithInt.apply(x)
        assert k == 5
        y.sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]
    assert got == {"tensorgrad": None, "torch": None}


def test_gradcheck_error_names_the_wrong_output():
    class SecondWrong(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 4  # d(x*3)/dx is 3, not 4

    x = tg.tensor(arr(3), requires_grad=True)
    with pytest.raises(GradcheckError, match="output 1 with respect to input 0"):
        tg.autograd.gradcheck(SecondWrong.apply, (x,))
