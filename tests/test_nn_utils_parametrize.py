"""nn.utils weight_norm / spectral_norm (hook-based), parametrize and parametrizations, against PyTorch."""
import warnings

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, needs_torch, rand, torch
from tensorgrad.nn.utils import parametrize as P
from tensorgrad.nn.utils.weight_norm import _weight_norm

nn = tg.nn


def _t(a, device="cpu", requires_grad=False):
    return tg.tensor(a, device=device, requires_grad=requires_grad)


def _np(t):
    return t.detach().cpu().numpy()


def _copy_params(tg_mod, th_mod):
    """Give the torch module the tensorgrad module's parameter values (before any reparametrization)."""
    with torch.no_grad():
        for name, p in tg_mod.named_parameters():
            dict(th_mod.named_parameters())[name].copy_(torch.from_numpy(_np(p)))


def _pair(make_tg, make_th, device="cpu"):
    m = make_tg().double()
    t = make_th().double()
    _copy_params(m, t)
    return m.to(device), t


def _forward_backward(m, t, x, device="cpu"):
    """Run both on x with the same output gradient; return (tg output, torch output)."""
    xt = _t(x, device, True)
    xh = torch.tensor(x, requires_grad=True)
    y, yh = m(xt), t(xh)
    seed = rand(*yh.shape)
    y.backward(_t(seed, device))
    yh.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(_np(xt.grad), xh.grad.numpy(), rtol=1e-6, atol=1e-8)
    return y, yh


def _assert_grads_match(m, t, names):
    tp, hp = dict(m.named_parameters()), dict(t.named_parameters())
    for name in names:
        np.testing.assert_allclose(_np(tp[name]), hp[name].detach().numpy(), rtol=1e-6, atol=1e-8, err_msg=name)
        np.testing.assert_allclose(_np(tp[name].grad), hp[name].grad.numpy(), rtol=1e-6, atol=1e-8, err_msg=name)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return fn(*args, **kw)


# ------------------------------------------------------------------ hook-based weight_norm
@needs_torch
@pytest.mark.parametrize("kind,dim", [("linear", 0), ("linear", 1), ("linear", None), ("conv", 0), ("conv", 1),
                                      ("conv", 3), ("conv", -2)])
def test_weight_norm_matches_torch(device, kind, dim):
    if kind == "linear":
        m, t = _pair(lambda: nn.Linear(3, 4), lambda: torch.nn.Linear(3, 4), device)
        x = rand(5, 3)
    else:
        m, t = _pair(lambda: nn.Conv2d(2, 3, 3), lambda: torch.nn.Conv2d(2, 3, 3), device)
        x = rand(2, 2, 5, 5)
    with pytest.warns(FutureWarning):
        assert nn.utils.weight_norm(m, dim=dim) is m
    _quiet(torch.nn.utils.weight_norm, t, dim=dim)
    assert list(m.state_dict()) == list(t.state_dict())
    assert m.weight_g.shape == tuple(t.weight_g.shape)
    np.testing.assert_allclose(_np(m.weight), t.weight.detach().numpy(), rtol=1e-7)  # unchanged weight
    y, yh = _forward_backward(m, t, x, device)
    np.testing.assert_allclose(_np(y), yh.detach().numpy(), rtol=1e-6, atol=1e-8)
    _assert_grads_match(m, t, ["weight_g", "weight_v", "bias"])
    # g and v changed: the next forward recomputes the weight from them
    with tg.no_grad():
        m.weight_g.mul_(2.0)
    with torch.no_grad():
        t.weight_g.mul_(2.0)
    np.testing.assert_allclose(_np(m(_t(x, device))), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-6, atol=1e-8)
    nn.utils.remove_weight_norm(m)
    torch.nn.utils.remove_weight_norm(t)
    assert list(m.state_dict()) == list(t.state_dict())
    assert isinstance(m.weight, nn.Parameter) and not m._forward_pre_hooks
    np.testing.assert_allclose(_np(m.weight), t.weight.detach().numpy(), rtol=1e-7)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_weight_norm_gradcheck(dim):
    v = rand(3, 4)
    g = rand(3, 1) if dim == 0 else (rand(1, 4) if dim == 1 else rand())
    check_grad(lambda g, v: _weight_norm(v, g, dim), [g, v])


def test_weight_norm_errors():
    m = nn.Linear(3, 4)
    _quiet(nn.utils.weight_norm, m)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        _quiet(nn.utils.weight_norm, m)
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        nn.utils.remove_weight_norm(m, "bias")
    with pytest.raises(AttributeError, match="no parameter 'nope'"):
        _quiet(nn.utils.weight_norm, nn.Linear(3, 4), "nope")
    with pytest.raises(IndexError, match="weight_norm"):
        _quiet(nn.utils.weight_norm, nn.Linear(3, 4), dim=2)
    nn.utils.remove_weight_norm(m)
    with pytest.raises(ValueError, match="not found"):
        nn.utils.remove_weight_norm(m)


# ------------------------------------------------------------------ hook-based spectral_norm
def _spectral_pair(kind, device, **kw):
    if kind == "linear":
        m, t = _pair(lambda: nn.Linear(5, 4), lambda: torch.nn.Linear(5, 4), device)
        x = rand(3, 5)
    elif kind == "conv":
        m, t = _pair(lambda: nn.Conv2d(2, 3, 3), lambda: torch.nn.Conv2d(2, 3, 3), device)
        x = rand(2, 2, 5, 5)
    else:
        m, t = _pair(lambda: nn.ConvTranspose2d(2, 3, 3), lambda: torch.nn.ConvTranspose2d(2, 3, 3), device)
        x = rand(2, 2, 4, 4)
    return m, t, x


@needs_torch
@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
@pytest.mark.parametrize("n_iter", [1, 3])
def test_spectral_norm_matches_torch(device, kind, n_iter):
    m, t, x = _spectral_pair(kind, device)
    nn.utils.spectral_norm(m, n_power_iterations=n_iter)
    torch.nn.utils.spectral_norm(t, n_power_iterations=n_iter)
    assert list(m.state_dict()) == list(t.state_dict())
    assert m.weight_u.shape == tuple(t.weight_u.shape)  # ConvTranspose: dim 1 by default
    assert m.weight_v.shape == tuple(t.weight_v.shape)
    with tg.no_grad():  # start from torch's random u, v
        m.weight_u.copy_(_t(t.weight_u.numpy(), device))
        m.weight_v.copy_(_t(t.weight_v.numpy(), device))
    for _ in range(2):  # training: each forward refines u and v
        for p in list(m.parameters()):
            p.grad = None
        t.zero_grad()
        y, yh = _forward_backward(m, t, x, device)
        np.testing.assert_allclose(_np(y), yh.detach().numpy(), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(_np(m.weight_u), t.weight_u.numpy(), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(_np(m.weight_v), t.weight_v.numpy(), rtol=1e-6, atol=1e-9)
        _assert_grads_match(m, t, ["weight_orig", "bias"])
    m.eval()
    t.eval()
    u = _np(m.weight_u).copy()
    y = m(_t(x, device))
    np.testing.assert_array_equal(_np(m.weight_u), u)  # eval: no power iteration
    np.testing.assert_allclose(_np(y), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-6, atol=1e-8)
    nn.utils.remove_spectral_norm(m)
    torch.nn.utils.remove_spectral_norm(t)
    assert list(m.state_dict()) == list(t.state_dict())
    np.testing.assert_allclose(_np(m.weight), t.weight.detach().numpy(), rtol=1e-6, atol=1e-9)


def test_spectral_norm_sigma_is_largest_singular_value():
    m = nn.Linear(6, 4).double()
    nn.utils.spectral_norm(m, n_power_iterations=50)
    m(tg.zeros(1, 6, dtype=tg.float64))
    assert abs(np.linalg.svd(_np(m.weight), compute_uv=False)[0] - 1.0) < 1e-6


def test_spectral_norm_errors():
    m = nn.Linear(3, 4)
    nn.utils.spectral_norm(m)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="spectral_norm of 'bias' not found"):
        nn.utils.remove_spectral_norm(m, "bias")
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.spectral_norm(nn.Linear(3, 4), n_power_iterations=0)
    with pytest.raises(AttributeError, match="no parameter 'nope'"):
        nn.utils.spectral_norm(nn.Linear(3, 4), "nope")
    with pytest.raises(IndexError, match="out of range"):
        nn.utils.spectral_norm(nn.Linear(3, 4), dim=2)


# ------------------------------------------------------------------ parametrize
class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(0, 1)

    def right_inverse(self, A):
        return A.triu()


class TSymmetric(torch.nn.Module if torch is not None else object):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(0, 1)

    def right_inverse(self, A):
        return A.triu()


class Scale(nn.Module):
    def forward(self, X):
        return 3.0 * X


class TScale(torch.nn.Module if torch is not None else object):
    def forward(self, X):
        return 3.0 * X


@needs_torch
@pytest.mark.parametrize("chain", [False, True])
def test_parametrize_matches_torch(device, chain):
    m, t = _pair(lambda: nn.Linear(3, 3), lambda: torch.nn.Linear(3, 3), device)
    w = m.weight
    P.register_parametrization(m, "weight", Symmetric())
    torch.nn.utils.parametrize.register_parametrization(t, "weight", TSymmetric())
    if chain:
        P.register_parametrization(m, "weight", Scale())
        torch.nn.utils.parametrize.register_parametrization(t, "weight", TScale())
    assert m.parametrizations.weight.original is w  # the same Parameter: optimizers keep working
    assert type(m).__name__ == type(t).__name__ == "ParametrizedLinear"
    assert P.type_before_parametrizations(m) is nn.Linear
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight") and not P.is_parametrized(m, "bias")
    assert list(m.state_dict()) == list(t.state_dict())
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    np.testing.assert_allclose(_np(m.weight), t.weight.detach().numpy(), rtol=1e-7)
    y, yh = _forward_backward(m, t, rand(4, 3), device)
    np.testing.assert_allclose(_np(y), yh.detach().numpy(), rtol=1e-6, atol=1e-8)
    _assert_grads_match(m, t, ["parametrizations.weight.original", "bias"])
    # assignment goes through right_inverse (Scale has none, so only unchained)
    if not chain:
        a = rand(3, 3)
        m.weight = _t(a, device)
        t.weight = torch.from_numpy(a)
        np.testing.assert_allclose(_np(m.parametrizations.weight.original),
                                   t.parametrizations.weight.original.detach().numpy())
        assert m.parametrizations.weight.original is w
    expect = t.weight.detach().numpy()
    P.remove_parametrizations(m, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(t, "weight")
    assert type(m) is nn.Linear and not P.is_parametrized(m)
    assert m.weight is w and list(m.state_dict()) == list(t.state_dict())
    np.testing.assert_allclose(_np(m.weight), expect, rtol=1e-7)


def test_parametrize_leave_unparametrized_and_buffers():
    m = nn.BatchNorm1d(3)
    P.register_parametrization(m, "running_var", Scale())
    assert "parametrizations.running_var.original" in m.state_dict()
    assert "parametrizations.running_var.original" not in dict(m.named_parameters())
    np.testing.assert_allclose(_np(m.running_var), np.full(3, 3.0))
    P.remove_parametrizations(m, "running_var", leave_parametrized=False)
    np.testing.assert_allclose(_np(m.running_var), np.ones(3))
    assert "running_var" in dict(m.named_buffers()) and type(m) is nn.BatchNorm1d


def test_parametrize_two_tensors_and_cached():
    m = nn.Linear(3, 3)
    calls = []

    class Counting(nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 2

    P.register_parametrization(m, "weight", Counting())
    P.register_parametrization(m, "bias", Scale())
    calls.clear()
    with P.cached():
        a, b = m.weight, m.weight
        assert a is b and len(calls) == 1
    assert m.weight is not a and len(calls) == 2
    P.remove_parametrizations(m, "weight")
    assert type(m).__name__ == "ParametrizedLinear"  # bias still parametrized
    P.remove_parametrizations(m, "bias")
    assert type(m) is nn.Linear and "parametrizations" not in m._modules


def test_parametrize_errors():
    m = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element"):
        P.register_parametrization(m, "nope", Scale())
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(m, "weight")

    class Flat(nn.Module):
        def forward(self, X):
            return X.reshape(-1)

    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(m, "weight", Flat())
    assert not P.is_parametrized(m) and type(m) is nn.Linear  # nothing half-registered
    P.register_parametrization(m, "weight", Flat(), unsafe=True)
    assert m.weight.shape == (9,)
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        m.weight = tg.zeros(9)
    with pytest.raises(KeyError, match="already exists"):
        m.weight = nn.Parameter(tg.zeros(9))
    m2 = nn.Linear(3, 3)
    P.register_parametrization(m2, "weight", Scale())
    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(m2, "weight", Flat())
    assert len(m2.parametrizations.weight) == 1


# ------------------------------------------------------------------ parametrizations.*
@needs_torch
@pytest.mark.parametrize("dim", [0, 1, None])
def test_parametrizations_weight_norm_matches_torch(device, dim):
    m, t = _pair(lambda: nn.Conv2d(2, 3, 3), lambda: torch.nn.Conv2d(2, 3, 3), device)
    nn.utils.parametrizations.weight_norm(m, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(t, dim=dim)
    assert list(m.state_dict()) == list(t.state_dict())
    keys = ["parametrizations.weight.original0", "parametrizations.weight.original1", "bias"]
    for k in keys:
        assert m.state_dict()[k].shape == tuple(t.state_dict()[k].shape)
    y, yh = _forward_backward(m, t, rand(2, 2, 5, 5), device)
    np.testing.assert_allclose(_np(y), yh.detach().numpy(), rtol=1e-6, atol=1e-8)
    _assert_grads_match(m, t, keys)
    P.remove_parametrizations(m, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(t, "weight")
    assert list(m.state_dict()) == list(t.state_dict())
    np.testing.assert_allclose(_np(m.weight), t.weight.detach().numpy(), rtol=1e-7)
    with pytest.raises(ValueError, match="no parameter or buffer with name 'nope'"):
        nn.utils.parametrizations.weight_norm(m, "nope")


@needs_torch
@pytest.mark.parametrize("kind", ["linear", "convT"])
def test_parametrizations_spectral_norm_matches_torch(device, kind):
    m, t, x = _spectral_pair(kind, device)
    nn.utils.parametrizations.spectral_norm(m)
    torch.nn.utils.parametrizations.spectral_norm(t)
    assert list(m.state_dict()) == list(t.state_dict())
    sn, tsn = m.parametrizations.weight[0], t.parametrizations.weight[0]
    with tg.no_grad():
        sn._u.copy_(_t(tsn._u.numpy(), device))
        sn._v.copy_(_t(tsn._v.numpy(), device))
    for _ in range(2):
        for p in list(m.parameters()):
            p.grad = None
        t.zero_grad()
        y, yh = _forward_backward(m, t, x, device)
        np.testing.assert_allclose(_np(y), yh.detach().numpy(), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(_np(sn._u), tsn._u.numpy(), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(_np(sn._v), tsn._v.numpy(), rtol=1e-6, atol=1e-9)
        _assert_grads_match(m, t, ["parametrizations.weight.original", "bias"])
    m.eval()
    u = _np(sn._u).copy()
    m(_t(x, device))
    np.testing.assert_array_equal(_np(sn._u), u)
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.parametrizations.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)


def test_parametrized_module_copy_state_dict_and_pickle():
    import copy
    import pickle
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Scale())
    m2 = copy.deepcopy(m)
    assert type(m2).__name__ == "ParametrizedLinear"
    assert m2.parametrizations.weight.original is not m.parametrizations.weight.original
    np.testing.assert_array_equal(_np(m2.weight), _np(m.weight))
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(m)
    m3 = nn.Linear(3, 3)
    P.register_parametrization(m3, "weight", Scale())
    m3.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(_np(m3.weight), _np(m.weight))
