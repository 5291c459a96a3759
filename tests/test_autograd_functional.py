"""tensorgrad.autograd.functional against torch.autograd.functional on the same functions: values,
shapes and nested-tuple structure; create_graph results differentiated again; strict-mode and
argument errors; float64 finite-difference checks of the create_graph results."""
from __future__ import annotations

import numpy as np
import pytest
from oracle import needs_torch, rand, torch

import tensorgrad as tg
from tensorgrad.autograd import functional as F


# functions written once for both frameworks: fn(m) returns the function for module m
def f_one_one(m):
    return lambda x: (x.sin() * x[..., :1]).exp()


def f_two_one(m):
    return lambda x, y: (x[:2] * y).tanh() + x[2]


def f_one_two(m):
    return lambda x: (x * x, (x ** 3).sum())


def f_two_two(m):
    return lambda x, y: ((x[:2] * y).exp(), (x ** 3).sum() * y)


def s_one(m):  # one-element outputs, for hessian / vhp / hvp
    return lambda x: (x.sin() * x).sum() * (x ** 2).sum()


def s_two(m):
    return lambda x, y: (x.cos() * x).sum() * (y ** 2).sum() + (x[:2] * y[0]).prod()


def _inputs(m, arrays):
    ts = tuple(m.tensor(a) for a in arrays)
    return ts if len(ts) > 1 else ts[0]


JAC = [
    (f_one_one, [rand(2, 3)]),
    (f_two_one, [rand(3), rand(2, 2)]),
    (f_one_two, [rand(4)]),
    (f_two_two, [rand(3), rand(2)]),
]
ONE_ELEMENT = [(s_one, [rand(3)]), (s_two, [rand(3), rand(2)])]


def assert_same(ours, ref, rtol=1e-10, atol=1e-12):
    """Same nesting (Tensor vs tuple, lengths), shapes and values."""
    if isinstance(ref, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(ref)
        for a, r in zip(ours, ref):
            assert_same(a, r, rtol, atol)
        return
    assert isinstance(ours, tg.Tensor) and not isinstance(ours, tuple)
    assert tuple(ours.shape) == tuple(ref.shape)
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)


def _flat(res):
    return [t for r in res for t in _flat(r)] if isinstance(res, tuple) else [res]


@needs_torch
@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("fn,arrays", JAC, ids=[f.__name__ for f, _ in JAC])
def test_jacobian_matches_torch(fn, arrays, vectorize):
    ours = F.jacobian(fn(tg), _inputs(tg, arrays), vectorize=vectorize)
    ref = torch.autograd.functional.jacobian(fn(torch), _inputs(torch, arrays), vectorize=vectorize)
    assert_same(ours, ref)
    assert not any(t.requires_grad for t in _flat(ours))


def test_jacobian_is_the_finite_difference_jacobian():
    x = rand(2, 3)
    f = f_one_one(tg)
    J = F.jacobian(f, tg.tensor(x)).numpy()
    eps = 1e-6
    num = np.zeros((2, 3, 2, 3))
    for idx in np.ndindex(2, 3):
        d = np.zeros_like(x)
        d[idx] = eps
        num[(..., *idx)] = (f(tg.tensor(x + d)).numpy() - f(tg.tensor(x - d)).numpy()) / (2 * eps)
    np.testing.assert_allclose(J, num, rtol=1e-6, atol=1e-8)


@needs_torch
@pytest.mark.parametrize("fn,arrays", JAC, ids=[f.__name__ for f, _ in JAC])
def test_vjp_and_jvp_match_torch(fn, arrays):
    ins_t, ins_r = _inputs(tg, arrays), _inputs(torch, arrays)
    out_r = fn(torch)(*(ins_r if isinstance(ins_r, tuple) else (ins_r,)))
    v_out = tuple(rand(*o.shape) for o in (out_r if isinstance(out_r, tuple) else (out_r,)))
    v_in = tuple(rand(*a.shape) for a in arrays)
    pack = (lambda m, vs: tuple(m.tensor(v) for v in vs) if len(vs) > 1 else m.tensor(vs[0]))
    ours = F.vjp(fn(tg), ins_t, pack(tg, v_out))
    ref = torch.autograd.functional.vjp(fn(torch), ins_r, pack(torch, v_out))
    assert_same(ours, ref)
    ours = F.jvp(fn(tg), ins_t, pack(tg, v_in))
    ref = torch.autograd.functional.jvp(fn(torch), ins_r, pack(torch, v_in))
    assert_same(ours, ref)


@needs_torch
def test_v_may_be_none_for_one_element():
    x = rand(1)
    ours = F.vjp(lambda t: (t * t).sum(), tg.tensor(rand(3)))
    assert ours[1].shape == (3,)
    for name in ("jvp", "vjp"):
        ours = getattr(F, name)(lambda t: t.exp() * 3, tg.tensor(x))
        ref = getattr(torch.autograd.functional, name)(lambda t: t.exp() * 3, torch.tensor(x))
        assert_same(ours, ref)


@needs_torch
@pytest.mark.parametrize("fn,arrays", ONE_ELEMENT, ids=[f.__name__ for f, _ in ONE_ELEMENT])
def test_hessian_vhp_hvp_match_torch(fn, arrays):
    ins_t, ins_r = _inputs(tg, arrays), _inputs(torch, arrays)
    assert_same(F.hessian(fn(tg), ins_t), torch.autograd.functional.hessian(fn(torch), ins_r))
    v = [rand(*a.shape) for a in arrays]
    v_t = tuple(tg.tensor(a) for a in v) if len(v) > 1 else tg.tensor(v[0])
    v_r = tuple(torch.tensor(a) for a in v) if len(v) > 1 else torch.tensor(v[0])
    for name in ("vhp", "hvp"):
        ours = getattr(F, name)(fn(tg), ins_t, v_t)
        ref = getattr(torch.autograd.functional, name)(fn(torch), ins_r, v_r)
        assert_same(ours, ref)


@needs_torch
def test_hessian_of_a_one_element_non_scalar_output():
    x = rand(3)
    f = (lambda t: (t[:2] * t[1:]).sum().reshape(1, 1) ** 2)
    assert_same(F.hessian(f, tg.tensor(x)), torch.autograd.functional.hessian(f, torch.tensor(x)))


@needs_torch
@pytest.mark.parametrize("name", ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"])
def test_create_graph_allows_a_further_backward(name):
    """The result under create_graph=True is a function of the caller's inputs: sum it, backward,
    and the input gradients equal torch's."""
    arrays = [rand(3), rand(2)]
    v = (rand(3), rand(2))
    grads = []
    for m in (tg, torch):
        x, y = (m.tensor(a, requires_grad=True) for a in arrays)
        mod = F if m is tg else torch.autograd.functional
        args = ((m.tensor(v[0]), m.tensor(v[1])),) if name in ("jvp", "vhp", "hvp") else ()
        res = getattr(mod, name)(s_two(m), (x, y), *args, create_graph=True)
        if name in ("vjp", "jvp", "vhp", "hvp"):  # (output, product)
            res = res[1]
        flat = _flat(res)
        assert all(t.requires_grad for t in flat)
        total = sum(((t * t).sum() for t in flat), m.tensor(0.0, dtype=m.float64))
        total.backward()
        grads.append([x.grad.numpy(), y.grad.numpy()])
    for a, r in zip(*grads):
        np.testing.assert_allclose(a, r, rtol=1e-9, atol=1e-12)


def test_create_graph_results_pass_gradcheck():
    """float64 finite differences of the create_graph results with respect to the inputs."""
    v = tg.tensor(rand(3))
    f = s_one(tg)
    x = tg.tensor(rand(3), requires_grad=True)
    assert tg.autograd.gradcheck(lambda t: F.vjp(f, t, create_graph=True)[1], [x])
    assert tg.autograd.gradcheck(lambda t: F.hvp(f, t, v, create_graph=True)[1], [x])
    assert tg.autograd.gradcheck(lambda t: F.jvp(f_one_one(tg), t, v.reshape(3, 1).expand(3, 3)[:2],
                                                 create_graph=True)[1], [tg.tensor(rand(2, 3), requires_grad=True)])
    assert tg.autograd.gradcheck(lambda t: F.hessian(f, t, create_graph=True), [x])


@needs_torch
def test_independent_inputs_give_zeros_and_strict_raises():
    arrays = [rand(3), rand(2)]
    fn = (lambda x, y: x * 2)
    ours = F.jacobian(fn, _inputs(tg, arrays))
    ref = torch.autograd.functional.jacobian(fn, _inputs(torch, arrays))
    assert_same(ours, ref)
    assert_same(F.vjp(fn, _inputs(tg, arrays), tg.ones(3)),
                torch.autograd.functional.vjp(fn, _inputs(torch, arrays), torch.ones(3)))
    for call in (lambda: F.jacobian(fn, _inputs(tg, arrays), strict=True),
                 lambda: F.vjp(fn, _inputs(tg, arrays), tg.ones(3), strict=True)):
        with pytest.raises(RuntimeError, match="independent of input 1.*strict mode"):
            call()
    with pytest.raises(RuntimeError, match="output 0 of the user-provided function does not require gradients"):
        F.jacobian(lambda x: tg.ones(2), tg.tensor(rand(2)), strict=True)
    with pytest.raises(RuntimeError, match="independent of input 0.*create_graph=True"):
        F.jacobian(lambda x: x * 2, tg.tensor(rand(2)), strict=True, create_graph=True)
    with pytest.raises(RuntimeError, match="jacobian of the user-provided function with respect to input 0 is "
                                           "independent"):
        F.hessian(lambda x: x.sum(), tg.tensor(rand(2)), strict=True)
    np.testing.assert_array_equal(F.hessian(lambda x: x.sum(), tg.tensor(rand(2))).numpy(), np.zeros((2, 2)))


def test_inputs_are_not_modified_and_get_no_grad():
    x = tg.tensor(rand(3), requires_grad=True)
    before = x.detach().numpy().copy()
    F.jacobian(lambda t: t * t, x)
    F.hvp(s_one(tg), x, tg.ones(3))
    assert x.grad is None
    np.testing.assert_array_equal(x.detach().numpy(), before)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: F.jacobian(lambda a: a, [tg.ones(2)]), TypeError, "inputs given to jacobian must be either a Tensor"),
    (lambda: F.vjp(lambda a: a, (tg.ones(2), 3.0)), TypeError, "value at index 1 has type"),
    (lambda: F.vjp(lambda a: [a], tg.ones(2)), TypeError, "outputs of the user-provided function given to vjp"),
    (lambda: F.vjp(lambda a: a * 2, tg.ones(2), tg.ones(3)), RuntimeError, r"v has invalid size: should be \[2\] "
                                                                         r"but got \[3\]"),
    (lambda: F.vjp(lambda a: a * 2, tg.ones(2), (tg.ones(2), tg.ones(2))), RuntimeError, "single Tensor"),
    (lambda: F.jvp(lambda a, b: a * b, (tg.ones(2), tg.ones(2)), (tg.ones(2),)), RuntimeError,
     "tuple of invalid length: should be 2 but got 1"),
    (lambda: F.jvp(lambda a, b: a * b, (tg.ones(2), tg.ones(2)), (tg.ones(2), tg.ones(1))), RuntimeError,
     r"Entry 1 in v has invalid size"),
    (lambda: F.vjp(lambda a: a * 2, tg.ones(2)), RuntimeError, "v can only be None if the user-provided function "
                                                            "returns a single Tensor with a single element"),
    (lambda: F.jvp(lambda a: a * 2, tg.ones(2)), RuntimeError, "v can only be None if the input"),
    (lambda: F.hessian(lambda a: a * 2, tg.ones(2)), RuntimeError, "should contain a single element"),
    (lambda: F.hvp(lambda a: (a.sum(), a.sum()), tg.ones(2), tg.ones(2)), RuntimeError,
     "hvp should return a single Tensor"),
    (lambda: F.jacobian(lambda a: a, tg.ones(2), strategy="sideways"), ValueError, "forward-mode"),
    (lambda: F.jacobian(lambda a: a, tg.ones(2), strategy="forward-mode"), NotImplementedError, "vectorize=True"),
])
def test_bad_arguments(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


@needs_torch
def test_forward_mode_strategy_with_vectorize_gives_the_same_jacobian():
    x = rand(3)
    ours = F.jacobian(f_one_two(tg), tg.tensor(x), vectorize=True, strategy="forward-mode")
    ref = torch.autograd.functional.jacobian(f_one_two(torch), torch.tensor(x), vectorize=True, strategy="forward-mode")
    assert_same(ours, ref)


def test_float32_inputs_give_float32_results():
    x = tg.tensor(rand(3, dtype=np.float32))
    assert F.jacobian(lambda t: t * t, x).dtype == tg.float32
    assert F.hessian(lambda t: (t ** 3).sum(), x).dtype == tg.float32
