"""tensorgrad.testing (assert_close, make_tensor) and tensorgrad.func (grad, vjp, jacobians, vmap,
functional_call, stack_module_state): messages and results compared with torch.testing/torch.func,
float64 gradchecks through the transforms."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import func as F
from oracle import check_grad, needs_torch, rand, torch

if torch is not None:
    import torch.func as TF


def _np(t):
    return t.detach().cpu().numpy()


def _same(a, b, tol=1e-10):
    """Compare a tensorgrad result with a torch result, pytrees included."""
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, tol)
    elif isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            _same(a[k], b[k], tol)
    else:
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(a), b.detach().numpy(), rtol=tol, atol=tol)


# ====================================================================== assert_close
def _outcome(fn):
    try:
        fn()
    except Exception as e:  # the type and message are what is compared
        return type(e).__name__, str(e)
    return "OK", ""


_CASES = [  # (name, builder(m) -> (actual, expected), kwargs)
    ("float_one_off", lambda m: (m.tensor([1., 2., 3.]), m.tensor([1., 2.5, 3.])), {}),
    ("float_2d", lambda m: (m.tensor([[1., 2.], [3., 4.]]), m.tensor([[1., 2.1], [3., 0.]])), {}),
    ("zero_expected", lambda m: (m.tensor([0., 1.]), m.tensor([0., 0.])), {}),
    ("ints_exact", lambda m: (m.tensor([1, 2, 3]), m.tensor([1, 5, 3])), {}),
    ("bools", lambda m: (m.tensor([True, False]), m.tensor([True, True])), {}),
    ("half", lambda m: (m.tensor([1., 2.], dtype=m.float16), m.tensor([1., 2.1], dtype=m.float16)), {}),
    ("double", lambda m: (m.tensor([1., 2.], dtype=m.float64), m.tensor([1., 3.], dtype=m.float64)), {}),
    ("nan", lambda m: (m.tensor([float("nan")]), m.tensor([float("nan")])), {}),
    ("nan_equal", lambda m: (m.tensor([float("nan")]), m.tensor([float("nan")])), {"equal_nan": True}),
    ("inf_sign", lambda m: (m.tensor([1., float("inf")]), m.tensor([1., -float("inf")])), {}),
    ("inf_same", lambda m: (m.tensor([1., float("inf")]), m.tensor([1., float("inf")])), {}),
    ("zero_dim", lambda m: (m.tensor(1.), m.tensor(3.)), {}),
    ("zero_dim_int", lambda m: (m.tensor(3), m.tensor(1)), {}),
    ("given_tols_pass", lambda m: (m.tensor([1., 2.]), m.tensor([1., 2.5])), {"atol": 1, "rtol": 0}),
    ("given_tols_fail", lambda m: (m.tensor([1., 2.]), m.tensor([1., 2.5])), {"atol": 0.1, "rtol": 0.1}),
    ("str_msg", lambda m: (m.tensor([1.]), m.tensor([2.])), {"msg": "custom"}),
    ("callable_msg", lambda m: (m.tensor([1.]), m.tensor([2.])), {"msg": lambda s: "X" + s}),
    ("check_dtype_off", lambda m: (m.tensor([1, 2]), m.tensor([1., 2.])), {"check_dtype": False}),
    ("py_ints", lambda m: (1, 2), {}),
    ("py_floats", lambda m: (1.0, 1.5), {}),
    ("py_int_float", lambda m: (1, 1.0), {}),
    ("py_bools", lambda m: (True, False), {}),
    ("nested_list", lambda m: ([[m.tensor(1.)]], [[m.tensor(2.)]]), {}),
    ("tuple_vs_list", lambda m: ((m.tensor([1., 2.]),), [m.tensor([1., 2.])]), {}),
    ("dict_value", lambda m: ({"a": m.tensor(1.)}, {"a": m.tensor(2.)}), {}),
    ("dict_keys", lambda m: ({"a": m.tensor(1.)}, {"b": m.tensor(1.)}), {}),
    ("seq_length", lambda m: ([1, 2], [1]), {}),
    ("numpy", lambda m: (np.array([1., 2.]), np.array([1., 3.])), {}),
    ("str", lambda m: ("a", "a"), {}),
    ("none_pair", lambda m: (None, None), {}),
]


@needs_torch
@pytest.mark.parametrize("name,build,kw", _CASES, ids=[c[0] for c in _CASES])
def test_assert_close_matches_torch(name, build, kw):
    ours = _outcome(lambda: tg.testing.assert_close(*build(tg), **kw))
    theirs = _outcome(lambda: torch.testing.assert_close(*build(torch), **kw))
    assert ours == theirs


@needs_torch
@pytest.mark.parametrize("build", [
    lambda m: (m.tensor([1., 2.]), m.tensor([1., 2., 3.])),
    lambda m: (m.tensor([1., 2.]), m.tensor([1., 2.], dtype=m.float64)),
    lambda m: (m.tensor([1., 2.]), m.tensor([1., 2.]).reshape(1, 2)),
    lambda m: (m.ones(2, 3).t(), m.ones(3, 2)),
    lambda m: (m.tensor([1., 2.]), [1., 2.]),
    lambda m: (m.tensor([1., 2.]), None),
])
def test_assert_close_attribute_messages_match_torch(build):
    """Same message up to the framework's name (tensorgrad.Size vs torch.Size, ...)."""
    kw = {"check_stride": True}
    t_type, t_msg = _outcome(lambda: torch.testing.assert_close(*build(torch), **kw))
    o_type, o_msg = _outcome(lambda: tg.testing.assert_close(*build(tg), **kw))
    assert o_type == t_type
    norm = t_msg.replace("torch.Tensor", "tensorgrad.tensor.Tensor").replace("torch.", "tensorgrad.")
    if "None mismatch" in t_msg:
        assert o_msg.startswith("None mismatch: tensor([1., 2.]")
    else:
        assert o_msg == norm


@needs_torch
@pytest.mark.parametrize("kw", [{"rtol": 1e-3}, {"atol": 1e-3}])
def test_assert_close_needs_both_tolerances(kw):
    with pytest.raises(ValueError) as ours:
        tg.testing.assert_close(tg.tensor(1.), tg.tensor(1.), **kw)
    with pytest.raises(ValueError) as theirs:
        torch.testing.assert_close(torch.tensor(1.), torch.tensor(1.), **kw)
    assert str(ours.value) == str(theirs.value)


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_default_tolerances_per_dtype(dtype, scale):
    """A perturbation of scale x (atol + rtol*|e|) passes below 1 and fails above, as in torch."""
    rtol, atol = {"float16": (1e-3, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}[dtype]
    e = np.array([1.0, 4.0, -8.0])
    a = e + scale * (atol + rtol * np.abs(e))
    for m in (tg, torch):
        d = getattr(m, dtype)
        ok = _outcome(lambda: m.testing.assert_close(m.tensor(a, dtype=d), m.tensor(e, dtype=d)))[0]
        if m is tg:
            ours = ok
        else:
            assert ours == ok
    assert (ours == "OK") == (scale < 1)


def test_assert_close_accepts_close_nested_structures():
    x = tg.randn(3, 4)
    tg.testing.assert_close({"a": [x, (1, 2.0)], "b": None}, {"a": [x.clone(), (1, 2.0)], "b": None})
    with pytest.raises(AssertionError, match=r"item \['a'\]\[1\]\[1\]"):
        tg.testing.assert_close({"a": [x, (1, 2.0)]}, {"a": [x, (1, 2.5)]})


# ====================================================================== make_tensor
@pytest.mark.parametrize("dtype,lo,hi", [(tg.float32, -9, 9), (tg.float64, -9, 9), (tg.int64, -9, 9),
                                         (tg.uint8, 0, 9), (tg.int8, -9, 9)])
def test_make_tensor_default_ranges(dtype, lo, hi):
    t = tg.testing.make_tensor(40, 50, dtype=dtype, device="cpu")
    assert t.shape == (40, 50) and t.dtype == dtype
    v = _np(t)
    assert v.min() >= lo and v.max() <= hi and v.max() > v.min()
    if not dtype.is_floating_point:
        assert v.min() == lo and v.max() == hi  # 2000 draws reach both ends of a 19-value range


def test_make_tensor_options():
    t = tg.testing.make_tensor((6, 5), dtype=tg.float32, device="cpu", low=2, high=3, requires_grad=True,
                               noncontiguous=True)
    v = _np(t)
    assert t.requires_grad and not t.is_contiguous() and (v >= 2).all() and (v < 3).all()
    z = tg.testing.make_tensor(200, dtype=tg.int64, device="cpu", low=-1, high=2, exclude_zero=True)
    assert (_np(z) != 0).all()
    b = tg.testing.make_tensor(50, dtype=tg.bool, device="cpu")
    assert b.dtype == tg.bool and 0 < int(_np(b).sum()) < 50
    assert tg.testing.make_tensor(2, dtype=tg.int64, device="cpu", low=5, high=6).tolist() == [5, 5]


def test_make_tensor_errors():
    with pytest.raises(ValueError, match="`low` must be less than `high`"):
        tg.testing.make_tensor(3, dtype=tg.float32, device="cpu", low=2, high=1)
    with pytest.raises(ValueError, match="cannot be NaN"):
        tg.testing.make_tensor(3, dtype=tg.float32, device="cpu", low=float("nan"))
    with pytest.raises(TypeError):
        tg.testing.make_tensor(3, dtype=tg.float32)  # device is required, as in torch


# ====================================================================== grad, grad_and_value, vjp
def _f1(m):
    return lambda x: (m.sin(x) * x).sum()


def _f2(m):
    return lambda x, y: (m.tanh(x @ y) ** 2).sum()


@needs_torch
def test_grad_matches_torch():
    x, w = rand(3), rand(3, 4)
    _same(F.grad(_f1(tg))(tg.tensor(x)), TF.grad(_f1(torch))(torch.tensor(x)))
    for argnums in (0, 1, (0, 1), (1, 0)):
        _same(F.grad(_f2(tg), argnums=argnums)(tg.tensor(x), tg.tensor(w)),
              TF.grad(_f2(torch), argnums=argnums)(torch.tensor(x), torch.tensor(w)))
    g = F.grad(_f1(tg))(tg.tensor(x))
    assert not g.requires_grad  # outermost level: detached, as torch.func


@needs_torch
def test_grad_pytree_aux_and_value():
    def f(m):
        def loss(p, x):
            out = m.tanh(x @ p["w"] + p["b"]).sum()
            return out, {"out": out * 2}
        return loss
    p, x = {"w": rand(3, 2), "b": rand(2)}, rand(4, 3)
    ours = F.grad_and_value(f(tg), has_aux=True)({k: tg.tensor(v) for k, v in p.items()}, tg.tensor(x))
    theirs = TF.grad_and_value(f(torch), has_aux=True)({k: torch.tensor(v) for k, v in p.items()},
                                                       torch.tensor(x))
    g, (v, aux) = ours
    tg_, (tv, taux) = theirs
    _same(g, tg_)
    _same(v, tv)
    _same(aux, taux)
    g2, aux2 = F.grad(f(tg), has_aux=True)({k: tg.tensor(v) for k, v in p.items()}, tg.tensor(x))
    _same(g2, tg_)


@needs_torch
def test_nested_grad_and_hessian_match_torch():
    x = rand(4)
    gg = F.grad(lambda x: F.grad(_f1(tg))(x).sum())(tg.tensor(x))
    _same(gg, TF.grad(lambda x: TF.grad(_f1(torch))(x).sum())(torch.tensor(x)))
    _same(F.hessian(_f1(tg))(tg.tensor(x)), TF.hessian(_f1(torch))(torch.tensor(x)))
    w = rand(4, 3)
    _same(F.hessian(_f2(tg), argnums=(0, 1))(tg.tensor(x), tg.tensor(w)),
          TF.hessian(_f2(torch), argnums=(0, 1))(torch.tensor(x), torch.tensor(w)))


def test_grad_errors():
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor"):
        F.grad(lambda x: x * 2)(tg.ones(3))
    with pytest.raises(RuntimeError, match="argnums"):
        F.grad(lambda x: x.sum(), argnums=2)(tg.ones(3))
    with pytest.raises(RuntimeError, match="floating point"):
        F.grad(lambda x: x.sum())(tg.ones(3, dtype=tg.int64))


@needs_torch
def test_vjp_matches_torch():
    x, w = rand(3), rand(3, 4)
    out, fn = F.vjp(lambda x, w: (tg.sin(x @ w), x.exp()), tg.tensor(x), tg.tensor(w))
    tout, tfn = TF.vjp(lambda x, w: (torch.sin(x @ w), x.exp()), torch.tensor(x), torch.tensor(w))
    _same(out, tout)
    ct = (rand(4), rand(3))
    for _ in range(2):  # vjp_fn can be called repeatedly
        _same(fn(tuple(tg.tensor(c) for c in ct)), tfn(tuple(torch.tensor(c) for c in ct)))
    with pytest.raises(RuntimeError, match="shape"):
        fn((tg.ones(5), tg.ones(3)))


def test_grad_transforms_gradcheck():
    """float64 finite differences through grad (second order) and through vmap."""
    check_grad(lambda x: F.grad(lambda y: (y.sin() * y).sum())(x), [rand(4)])
    check_grad(lambda x, w: F.vmap(lambda r: tg.tanh(r @ w), in_dims=0)(x), [rand(3, 4), rand(4, 2)])


# ====================================================================== jacobians
@needs_torch
@pytest.mark.parametrize("ours,theirs", [(lambda: F.jacrev, lambda: TF.jacrev),
                                         (lambda: F.jacfwd, lambda: TF.jacfwd)], ids=["jacrev", "jacfwd"])
def test_jacobians_match_torch(ours, theirs):
    x, w = rand(3), rand(3, 4)

    def f(m):
        return lambda x, w: (m.sin(x @ w), (x * x).sum())
    for argnums in (0, 1, (0, 1)):
        _same(ours()(f(tg), argnums=argnums)(tg.tensor(x), tg.tensor(w)),
              theirs()(f(torch), argnums=argnums)(torch.tensor(x), torch.tensor(w)))
    j, aux = ours()(lambda x: (x.exp(), x.sum()), has_aux=True)(tg.tensor(x))
    tj, taux = theirs()(lambda x: (x.exp(), x.sum()), has_aux=True)(torch.tensor(x))
    _same(j, tj)
    _same(aux, taux)


# ====================================================================== vmap
@needs_torch
def test_vmap_matches_torch():
    a, b, c = rand(5, 3), rand(3, 4), rand(4, 5)
    cases = [
        (lambda m: lambda x, y: x @ y, dict(in_dims=(0, None)), (a, b)),
        (lambda m: lambda x, y: x @ y, dict(in_dims=(0, 1)), (a, c[:3])),
        (lambda m: lambda x: (x.sum(), x * 2), dict(out_dims=(0, 1)), (a,)),
        (lambda m: lambda x: x.sum(0) * x, dict(in_dims=1, out_dims=-1), (a,)),
        (lambda m: lambda d: d["u"] + d["v"], dict(in_dims=({"u": 0, "v": None},)), ({"u": a, "v": a[0]},)),
    ]
    for fm, kw, arrays in cases:
        ta = [{k: tg.tensor(v) for k, v in x.items()} if isinstance(x, dict) else tg.tensor(x) for x in arrays]
        tt = [{k: torch.tensor(v) for k, v in x.items()} if isinstance(x, dict) else torch.tensor(x)
              for x in arrays]
        _same(F.vmap(fm(tg), **kw)(*ta), TF.vmap(fm(torch), **kw)(*tt))


@needs_torch
def test_nested_vmap_and_kwargs():
    x = rand(2, 3, 4)
    ours = F.vmap(F.vmap(lambda r, s: r * s, in_dims=(1, None)), in_dims=(0, None), out_dims=1)(
        tg.tensor(x), 2.0)
    theirs = TF.vmap(TF.vmap(lambda r, s: r * s, in_dims=(1, None)), in_dims=(0, None), out_dims=1)(
        torch.tensor(x), 2.0)
    _same(ours, theirs)
    _same(F.vmap(lambda r, scale: r * scale)(tg.tensor(x), scale=3.0),
          TF.vmap(lambda r, scale: r * scale)(torch.tensor(x), scale=3.0))


def test_vmap_errors():
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        F.vmap(lambda x, y: x + y)(tg.ones(2, 3), tg.ones(3, 3))
    with pytest.raises(ValueError, match="in_dim"):
        F.vmap(lambda x: x, in_dims=2)(tg.ones(2, 3))
    with pytest.raises(ValueError, match="non-Tensor"):
        F.vmap(lambda x, n: x * n, in_dims=(0, 0))(tg.ones(2, 3), 3)
    with pytest.raises(ValueError, match="in_dims is not compatible"):
        F.vmap(lambda x: x, in_dims=(0, 0))(tg.ones(2, 3))


def test_vmap_randomness_same_replays_rng():
    out = F.vmap(lambda x: x + tg.rand(3), randomness="same")(tg.zeros(4, 3))
    assert np.allclose(_np(out), _np(out)[0])
    out = F.vmap(lambda x: x + tg.rand(3), randomness="different")(tg.zeros(4, 3))
    assert not np.allclose(_np(out)[0], _np(out)[1])


# ====================================================================== modules
def _models(seed=0):
    tg.manual_seed(seed)
    torch.manual_seed(seed)
    m = tg.nn.Sequential(tg.nn.Linear(3, 5), tg.nn.Tanh(), tg.nn.Linear(5, 2)).double()
    t = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    with torch.no_grad():
        for (_, p), (_, q) in zip(m.named_parameters(), t.named_parameters()):
            q.copy_(torch.tensor(_np(p)))
    return m, t


@needs_torch
def test_per_sample_grads_match_torch():
    m, t = _models()
    x, y = rand(6, 3), rand(6, 2)

    def loss(mod, fc, mse):
        def f(params, xi, yi):
            return mse(fc(mod, params, (xi.unsqueeze(0),)), yi.unsqueeze(0))
        return f
    p = {k: v.detach() for k, v in m.named_parameters()}
    tp = {k: v.detach() for k, v in t.named_parameters()}
    ours = F.vmap(F.grad(loss(m, F.functional_call, tg.nn.functional.mse_loss)), in_dims=(None, 0, 0))(
        p, tg.tensor(x), tg.tensor(y))
    theirs = TF.vmap(TF.grad(loss(t, TF.functional_call, torch.nn.functional.mse_loss)), in_dims=(None, 0, 0))(
        tp, torch.tensor(x), torch.tensor(y))
    _same(ours, theirs)
    assert ours["0.weight"].shape == (6, 5, 3)


@needs_torch
@pytest.mark.parametrize("inner", ["autograd.grad", "func.grad"])
def test_maml_inner_step_matches_torch(inner):
    """One inner SGD step through functional_call, then the meta-gradient of the query loss; the inner
    gradient taken with autograd.grad(create_graph=True) or with func.grad."""
    m, t = _models(1)
    xs, ys, xq, yq = rand(4, 3), rand(4, 2), rand(5, 3), rand(5, 2)

    def meta(mod, lib, params, fc):
        def support(p):
            return lib.nn.functional.mse_loss(fc(mod, p, (lib.tensor(xs),)), lib.tensor(ys))
        if inner == "autograd.grad":
            grads = lib.autograd.grad(support(params), list(params.values()), create_graph=True)
        else:
            grads = list((F if lib is tg else TF).grad(support)(params).values())
        fast = {k: p - 0.1 * g for (k, p), g in zip(params.items(), grads)}
        return lib.nn.functional.mse_loss(fc(mod, fast, (lib.tensor(xq),)), lib.tensor(yq))
    meta(m, tg, dict(m.named_parameters()), F.functional_call).backward()
    meta(t, torch, dict(t.named_parameters()), TF.functional_call).backward()
    for (_, p), (_, q) in zip(m.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(_np(p.grad), q.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_functional_call_restores_and_routes_gradients():
    m = tg.nn.Linear(3, 2).double()
    w0 = m.weight
    new = {"weight": tg.ones(2, 3, dtype=tg.float64, requires_grad=True)}
    out = F.functional_call(m, new, tg.ones(1, 3, dtype=tg.float64))
    out.sum().backward()
    assert m.weight is w0 and m.weight.grad is None
    assert _np(new["weight"].grad).tolist() == [[1.0] * 3] * 2

    class Boom(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = tg.nn.Linear(2, 2)

        def forward(self, x):
            raise ValueError("boom")
    b = Boom()
    w = b.lin.weight
    with pytest.raises(ValueError, match="boom"):
        F.functional_call(b, {"lin.weight": tg.zeros(2, 2)}, (tg.ones(2),))
    assert b.lin.weight is w


def test_functional_call_strict_and_tied_weights():
    m = tg.nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="Missing key\\(s\\): 'bias'"):
        F.functional_call(m, {"weight": tg.zeros(2, 3)}, (tg.ones(3),), strict=True)
    with pytest.raises(ValueError, match="multiple values"):
        F.functional_call(m, ({"weight": tg.zeros(2, 3)}, {"weight": tg.zeros(2, 3)}), (tg.ones(3),))

    class Tied(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = tg.nn.Linear(2, 2, bias=False)
            self.b = tg.nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))
    t = Tied()
    out = F.functional_call(t, {"a.weight": tg.eye(2) * 2}, (tg.ones(2),))
    assert _np(out).tolist() == [4.0, 4.0]  # both layers used the substituted weight
    out = F.functional_call(t, {"a.weight": tg.eye(2) * 2}, (tg.ones(2),), tie_weights=False)
    assert not np.allclose(_np(out), [4.0, 4.0])


@needs_torch
def test_stack_module_state_ensemble_matches_torch():
    pairs = [_models(s) for s in range(3)]
    x = rand(4, 3)
    params, buffers = F.stack_module_state([p[0] for p in pairs])
    tparams, tbuffers = TF.stack_module_state([p[1] for p in pairs])
    assert params["0.weight"].shape == (3, 5, 3) and params["0.weight"].requires_grad
    _same(params, tparams)
    base, tbase = pairs[0]

    def run(mod, fc):
        return lambda p, b, x: fc(mod, (p, b), (x,))
    ours = F.vmap(run(base, F.functional_call), in_dims=(0, 0, None))(params, buffers, tg.tensor(x))
    theirs = TF.vmap(run(tbase, TF.functional_call), in_dims=(0, 0, None))(tparams, tbuffers, torch.tensor(x))
    _same(ours, theirs)


def test_review_fixes_vmap_empty_batch_tied_values_and_int_overflow():
    assert tuple(tg.func.vmap(lambda x: x * 2)(tg.zeros(0, 3)).shape) == (0, 3)
    assert tuple(tg.func.vmap(lambda x: (x.sum(), x), out_dims=(0, 1))(tg.zeros(0, 3))[1].shape) == (3, 0)
    m = tg.nn.Module()
    m.a, m.b = tg.nn.Linear(2, 2), tg.nn.Linear(2, 2)
    m.b.weight = m.a.weight
    w = tg.ones(2, 2)
    with pytest.raises(ValueError, match="multiple values for keys .* which are tied"):
        tg.func.functional_call(m, {"a.weight": w, "b.weight": 2 * w}, (tg.ones(2),))
    for a, b in (([2 ** 63 - 1], [-1]), ([2 ** 62], [-2 ** 62])):
        with pytest.raises(AssertionError, match="not equal"):
            tg.testing.assert_close(tg.tensor(a), tg.tensor(b))
