"""tensorgrad.utils.checkpoint: gradients equal the plain run's (and PyTorch's), RNG replay, errors."""
import warnings

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, needs_torch, rand, torch
from tensorgrad.utils.checkpoint import checkpoint, checkpoint_sequential

nn = tg.nn
MODES = [True, False]


def _np(t):
    return t.detach().cpu().numpy()


def _mlp(dropout=0.0):
    layers = [nn.Linear(4, 6), nn.Tanh(), nn.Dropout(dropout), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 3)]
    return nn.Sequential(*layers).double()


def _grads(net, x):
    return [_np(p.grad) for p in net.parameters()] + ([_np(x.grad)] if x.grad is not None else [])


def _run(net, x, fn, seed):
    """fn(net, x) with a fixed output gradient; returns the output and all gradients, then clears them."""
    tg.manual_seed(seed)
    y = fn(net, x)
    y.backward(tg.tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape), device=y.device))
    out = _np(y), _grads(net, x)
    net.zero_grad()
    x.grad = None
    return out


@pytest.mark.parametrize("use_reentrant", MODES)
def test_gradients_equal_plain_run_with_dropout(device, use_reentrant):
    net = _mlp(dropout=0.5).to(device)
    x = tg.tensor(rand(5, 4), device=device, requires_grad=True)
    ref_y, ref_g = _run(net, x, lambda n, x: n(x), seed=7)
    y, g = _run(net, x, lambda n, x: checkpoint(n, x, use_reentrant=use_reentrant), seed=7)
    np.testing.assert_allclose(y, ref_y)
    for a, b in zip(g, ref_g):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # without replaying the RNG the recomputation draws other masks: other gradients
    _, g = _run(net, x, lambda n, x: checkpoint(n, x, use_reentrant=use_reentrant, preserve_rng_state=False), 7)
    assert not all(np.allclose(a, b) for a, b in zip(g, ref_g))


@pytest.mark.parametrize("use_reentrant", MODES)
def test_recomputation_leaves_rng_where_it_was(use_reentrant):
    net = _mlp(dropout=0.5)
    x = tg.tensor(rand(5, 4), requires_grad=True)
    y = checkpoint(net, x, use_reentrant=use_reentrant)
    state = tg.get_rng_state()
    y.sum().backward()
    np.testing.assert_array_equal(tg.get_rng_state().numpy(), state.numpy())


@needs_torch
@pytest.mark.parametrize("use_reentrant", MODES)
@pytest.mark.parametrize("input_grad", [True, False])
def test_matches_torch(use_reentrant, input_grad):
    net = _mlp()
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Dropout(0.0), torch.nn.Linear(6, 6),
                               torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    with torch.no_grad():
        for p, tp in zip(net.parameters(), tnet.parameters()):
            tp.copy_(torch.from_numpy(_np(p)))
    a = rand(5, 4)
    x = tg.tensor(a, requires_grad=input_grad)
    tx = torch.tensor(a, requires_grad=input_grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "None of the inputs have requires_grad=True"
        y = checkpoint(net, x, use_reentrant=use_reentrant)
        ty = torch.utils.checkpoint.checkpoint(tnet, tx, use_reentrant=use_reentrant)
    np.testing.assert_allclose(_np(y), ty.detach().numpy(), rtol=1e-10)
    assert y.requires_grad == ty.requires_grad  # reentrant: only if an input requires grad
    if not ty.requires_grad:
        return
    seed = rand(5, 3)
    y.backward(tg.tensor(seed))
    ty.backward(torch.from_numpy(seed))
    for p, tp in zip(net.parameters(), tnet.parameters()):
        np.testing.assert_allclose(_np(p.grad), tp.grad.numpy(), rtol=1e-10, atol=1e-12)
    if input_grad:
        np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("use_reentrant", MODES)
@pytest.mark.parametrize("segments", [1, 2, 3])
def test_checkpoint_sequential_matches_torch(use_reentrant, segments):
    net = _mlp()
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Dropout(0.0), torch.nn.Linear(6, 6),
                               torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    with torch.no_grad():
        for p, tp in zip(net.parameters(), tnet.parameters()):
            tp.copy_(torch.from_numpy(_np(p)))
    a = rand(5, 4)
    x, tx = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y = checkpoint_sequential(net, segments, x, use_reentrant=use_reentrant)
    ty = torch.utils.checkpoint.checkpoint_sequential(tnet, segments, tx, use_reentrant=use_reentrant)
    np.testing.assert_allclose(_np(y), ty.detach().numpy(), rtol=1e-10)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for p, tp in zip(net.parameters(), tnet.parameters()):
        np.testing.assert_allclose(_np(p.grad), tp.grad.numpy(), rtol=1e-10, atol=1e-12)


def _ck_fn(a, b, use_reentrant):
    return checkpoint(lambda u, v: (u * v).sin() + u.exp(), a, b, use_reentrant=use_reentrant)


def test_gradcheck_non_reentrant():
    check_grad(lambda a, b: _ck_fn(a, b, False), [rand(3, 4), rand(3, 4)], double=False)


def test_finite_differences_reentrant():
    # gradcheck differentiates with autograd.grad, which a reentrant checkpoint refuses (as in
    # PyTorch): central differences against .backward() instead
    arrays, seed, eps = [rand(3, 4), rand(3, 4)], rand(3, 4), 1e-6
    ts = [tg.tensor(a, requires_grad=True) for a in arrays]
    _ck_fn(*ts, True).backward(tg.tensor(seed))
    for t, a in zip(ts, arrays):
        numeric = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            hi, lo = a.copy(), a.copy()
            hi[i] += eps
            lo[i] -= eps
            with tg.no_grad():
                up = _np(_ck_fn(*[tg.tensor(hi if u is t else v) for u, v in zip(ts, arrays)], True))
                down = _np(_ck_fn(*[tg.tensor(lo if u is t else v) for u, v in zip(ts, arrays)], True))
            numeric[i] = ((up - down) * seed).sum() / (2 * eps)
        np.testing.assert_allclose(_np(t.grad), numeric, rtol=1e-6, atol=1e-8)


def test_non_reentrant_multiple_outputs_kwargs_closures():
    w = tg.tensor(rand(3), requires_grad=True)
    c = w * 2.0  # a non-leaf tensor from outside the function
    x = tg.tensor(rand(4, 3), requires_grad=True)

    def fn(x, k, scale=1.0):
        h = (x * c).tanh()
        return {"a": h.sum(1) * scale, "pair": (h * k, x), "n": 3}

    def loss(out):
        return out["a"].sum() + (out["pair"][0] ** 2).sum() + 3.0 * out["pair"][1].sum()

    loss(fn(x, 2.0, scale=0.5)).backward(retain_graph=True)  # c's graph is used again below
    ref = _np(x.grad), _np(w.grad)
    x.grad = w.grad = None
    out = checkpoint(fn, x, 2.0, use_reentrant=False, scale=0.5)
    assert out["n"] == 3 and isinstance(out["pair"], tuple) and out["a"].grad_fn.name() == "CheckpointBackward"
    loss(out).backward()
    np.testing.assert_allclose(_np(x.grad), ref[0], rtol=1e-12)
    np.testing.assert_allclose(_np(w.grad), ref[1], rtol=1e-12)


def test_non_reentrant_parameters_via_autograd_grad():
    net = _mlp()
    x = tg.tensor(rand(5, 4))  # requires no grad: the parameters still get theirs
    params = list(net.parameters())
    ref = tg.autograd.grad(net(x).sum(), params)
    got = tg.autograd.grad(checkpoint(net, x, use_reentrant=False).sum(), params)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12)
    assert all(p.grad is None for p in params)  # autograd.grad accumulates nothing


def test_reentrant_no_input_requires_grad_warns():
    net = _mlp()
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        y = checkpoint(net, tg.tensor(rand(5, 4)), use_reentrant=True)
    assert not y.requires_grad


@pytest.mark.parametrize("use_reentrant", MODES)
def test_second_backward_and_inplace_errors(use_reentrant):
    x = tg.tensor(rand(3), requires_grad=True)
    y = checkpoint(lambda t: (t * t).sum(), x, use_reentrant=use_reentrant)
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(_np(x.grad), 4 * _np(x))  # twice 2x
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    a = tg.tensor(rand(3), requires_grad=True).mul(1.0)
    y = checkpoint(lambda t: (t * t).sum(), a, use_reentrant=use_reentrant)
    with tg.no_grad():
        a.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_identity_output_and_no_grad():
    x = tg.tensor(rand(3), requires_grad=True)
    y, z = checkpoint(lambda t: (t, t * 3.0), x, use_reentrant=False)
    (y.sum() + z.sum()).backward()
    np.testing.assert_allclose(_np(x.grad), np.full(3, 4.0))
    with tg.no_grad():
        y = checkpoint(lambda t: t * 2.0, x, use_reentrant=False)
    assert y.grad_fn is None and not y.requires_grad


def test_argument_errors():
    x = tg.tensor(rand(3), requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda t: t * 2.0, x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda t, scale: t * scale, x, use_reentrant=True, scale=2.0)
    with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
        checkpoint(lambda t: t, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="determinism_check"):
        checkpoint(lambda t: t, x, use_reentrant=False, determinism_check="bogus")
    with pytest.raises(ValueError, match="Unexpected keyword arguments: bogus"):
        checkpoint_sequential([nn.Tanh()], 1, x, use_reentrant=False, bogus=1)
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential([nn.Tanh(), nn.Tanh()], 3, x, use_reentrant=False)


def test_nondeterministic_recompute_is_reported():
    w1, w2 = tg.tensor(rand(3), requires_grad=True), tg.tensor(rand(3), requires_grad=True)
    calls = []

    def fn(x):
        calls.append(1)
        return x * (w1 if len(calls) == 1 else w2)

    y = checkpoint(fn, tg.tensor(rand(3)), use_reentrant=False)
    with pytest.raises(RuntimeError, match="must be deterministic"):
        y.sum().backward()


@pytest.mark.parametrize("use_reentrant", MODES)
def test_activations_are_not_kept(use_reentrant):
    import gc
    import weakref
    net = _mlp()
    x = tg.tensor(rand(5, 4), requires_grad=True)
    refs = []

    def fn(t):
        h = net[1](net[0](t))
        refs.append(weakref.ref(h))
        return net[5](net[4](net[3](h)))

    y = checkpoint(fn, x, use_reentrant=use_reentrant)
    gc.collect()
    assert refs[0]() is None  # the intermediate activation is gone until backward recomputes it
    # the one recorded node leads straight to the input (and, non-reentrant, to the parameters)
    leaves = {id(e[0]) for e in y.grad_fn.next_functions if e is not None}
    expected = [x] + ([] if use_reentrant else list(net.parameters()))
    assert leaves == {id(tg.autograd.engine.accumulator_for(t)) for t in expected}
    y.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in net.parameters())


# ------------------------------------------------------------------ outputs aliasing inputs
def test_non_reentrant_output_aliasing_an_input_shares_its_version():
    """An output that is (a view of) an input keeps the input's version counter, so an in-place
    change through it reaches the saved-input check, as PyTorch's does."""
    x = tg.tensor(rand(2), requires_grad=True)
    h = x * 1.0
    y1, y2 = checkpoint(lambda a: (a.exp(), a.view(-1)), h, use_reentrant=False)
    with tg.no_grad():
        y2.mul_(0.0)
    assert h._version == y2._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y1.sum().backward()
    assert x.grad is None
    y = checkpoint(lambda a: a, h, use_reentrant=False)  # the input itself
    with tg.no_grad():
        y.add_(1.0)
    assert h._version == 2


@needs_torch
def test_non_reentrant_aliasing_output_inplace_matches_torch_or_errors():
    a = rand(2)
    for m in (torch, tg):  # PyTorch: the saved input was modified
        x = m.tensor(a, requires_grad=True)
        h = x * 1.0
        y1, y2 = m.utils.checkpoint.checkpoint(lambda t: (t.exp(), t.view(-1)), h, use_reentrant=False)
        with pytest.raises(RuntimeError):  # tensorgrad refuses the recorded in-place op on the view
            y2.mul_(0.0)
            y1.sum().backward()
        assert x.grad is None
    # a recorded in-place op on an output viewing an input is refused as on a plain view of it,
    # instead of leaving the input's graph stale (half PyTorch's gradient before)
    h = tg.tensor(a, requires_grad=True) * 1.0
    y = checkpoint(lambda t: t.view(-1), h, use_reentrant=False)
    with pytest.raises(RuntimeError, match="in-place operation on a view"):
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="in-place operation on a view"):
        h.view(-1).mul_(2.0)
    # a view of an activation made inside fn is an ordinary output: in place is fine
    got = []
    for m in (torch, tg):
        x = m.tensor(a, requires_grad=True)
        y = m.utils.checkpoint.checkpoint(lambda t: t.exp().view(-1), x * 1.0, use_reentrant=False)
        y.mul_(2.0)
        (y * y).sum().backward()
        got.append((_np(y), _np(x.grad)))
    for u, v in zip(*got):
        np.testing.assert_allclose(v, u, rtol=1e-12)


# ------------------------------------------------------------------ nesting
def _twin_linear():
    lin = nn.Linear(3, 3).double()
    tlin = torch.nn.Linear(3, 3).double()
    with torch.no_grad():
        tlin.weight.copy_(torch.from_numpy(_np(lin.weight)))
        tlin.bias.copy_(torch.from_numpy(_np(lin.bias)))
    return lin, tlin


def _nested(m, lin, x, outer, inner):
    ck = m.utils.checkpoint.checkpoint

    def block(a):
        return ck(lambda b: lin(b).tanh(), a * 2.0, use_reentrant=inner).sin() * lin.bias.sum()

    if outer is None:
        return block(x)
    return ck(block, x, use_reentrant=outer)


@needs_torch
@pytest.mark.parametrize("outer", MODES)
@pytest.mark.parametrize("inner", MODES)
def test_nested_checkpoints_match_plain_run_and_torch(outer, inner):
    lin, tlin = _twin_linear()
    a, seed = rand(4, 3), rand(4, 3)
    results = []
    for m, layer, o in ((tg, lin, None), (tg, lin, outer), (torch, tlin, outer)):
        x = m.tensor(a, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: the inner input needs no grad in no_grad
            y = _nested(m, layer, x, o, inner)
        y.backward(m.tensor(seed))
        results.append([_np(y), _np(x.grad), _np(layer.weight.grad), _np(layer.bias.grad)])
        layer.zero_grad()
    for got in results[1:]:
        for u, v in zip(got, results[0]):
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)


def test_nested_non_reentrant_under_autograd_grad():
    lin, _ = _twin_linear()
    x = tg.tensor(rand(4, 3), requires_grad=True)
    wrt = [x, lin.weight, lin.bias]
    ref = tg.autograd.grad(_nested(tg, lin, x, None, False).sum(), wrt)
    got = tg.autograd.grad(_nested(tg, lin, x, False, False).sum(), wrt)
    for u, v in zip(got, ref):
        np.testing.assert_allclose(_np(u), _np(v), rtol=1e-12)
    assert lin.weight.grad is None and x.grad is None


# ------------------------------------------------------------------ reentrant: grad() and double backward
REENTRANT_GRAD_ERROR = "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad()"


@needs_torch
@pytest.mark.parametrize("how", ["grad", "backward_inputs"])
@pytest.mark.parametrize("outer,inner", [(True, None), (False, True), (True, False)])
def test_reentrant_under_partial_backward_raises_like_torch(how, outer, inner):
    lin, tlin = _twin_linear()
    a = rand(4, 3)
    for m, layer in ((torch, tlin), (tg, lin)):
        x = m.tensor(a, requires_grad=True)
        if inner is None:
            y = m.utils.checkpoint.checkpoint(lambda t: layer(t).tanh(), x, use_reentrant=outer)
        else:
            y = _nested(m, layer, x, outer, inner)
        with pytest.raises(RuntimeError, match=REENTRANT_GRAD_ERROR.replace("(", r"\(").replace(")", r"\)")):
            if how == "grad":
                m.autograd.grad(y.sum(), [x])
            else:
                y.sum().backward(inputs=[x])
        assert x.grad is None and layer.weight.grad is None and layer.bias.grad is None  # nothing accumulated


def test_reentrant_double_backward_is_refused_clearly():
    lin, _ = _twin_linear()
    x = tg.tensor(rand(4, 3), requires_grad=True)
    ref = tg.autograd.grad(lin(x).tanh().sum(), [x])[0]
    y = checkpoint(lambda t: lin(t).tanh(), x, use_reentrant=True)
    y.sum().backward(create_graph=True)
    np.testing.assert_allclose(_np(x.grad), _np(ref), rtol=1e-12)  # first order still right
    with pytest.raises(RuntimeError, match="double backward .*CheckpointFunction"):
        x.grad.sum().backward()
