"""nn core: Parameter, Module registration/state_dict/to/repr, containers, Linear, activations,
clip_grad; PyTorch is the oracle (weights copied in through NumPy)."""
from __future__ import annotations

import copy
import math
from collections import OrderedDict

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn as nn
import tensorgrad.nn.functional as F
from oracle import on_device, check_grad, needs_torch, rand, to_np, torch


if torch is not None:
    tnn = torch.nn


# ---------------------------------------------------------------- helpers
class TGNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        self.heads = nn.ModuleDict({"a": nn.Linear(3, 2), "b": nn.Linear(3, 1, bias=False)})
        self.register_buffer("running", tg.zeros(3))
        self.register_buffer("scratch", tg.ones(2), persistent=False)
        self.scale = nn.Parameter(tg.ones(1))

    def forward(self, x):
        h = self.body(x) * self.scale + self.running
        return self.heads["a"](h), self.heads["b"](h)


def _torch_net():
    class TNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.body = tnn.Sequential(tnn.Linear(4, 8), tnn.ReLU(), tnn.Linear(8, 3))
            self.heads = tnn.ModuleDict({"a": tnn.Linear(3, 2), "b": tnn.Linear(3, 1, bias=False)})
            self.register_buffer("running", torch.zeros(3))
            self.register_buffer("scratch", torch.ones(2), persistent=False)
            self.scale = tnn.Parameter(torch.ones(1))

        def forward(self, x):
            h = self.body(x) * self.scale + self.running
            return self.heads["a"](h), self.heads["b"](h)
    return TNet()


def _copy_into_torch(tg_model, t_model):
    sd = {k: torch.from_numpy(to_np(v).copy()) for k, v in tg_model.state_dict().items()}
    t_model.load_state_dict(sd)


# ---------------------------------------------------------------- Parameter
def test_parameter_basics():
    t = tg.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, tg.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p._data is t._data  # shares memory
    with tg.no_grad():
        p.add_(1)
    np.testing.assert_array_equal(to_np(t), to_np(p))
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert repr(p).endswith("requires_grad=True)")
    assert not nn.Parameter(tg.ones(2), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    y = (p * 2).sum()
    assert type(p * 2) is tg.Tensor
    y.backward()
    np.testing.assert_array_equal(to_np(p.grad), np.full((2, 3), 2.0, np.float32))
    with pytest.raises(TypeError):
        nn.Parameter(np.ones(2))


def test_parameter_deepcopy():
    p = nn.Parameter(tg.randn(3))
    p.grad = tg.ones(3)
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q._data is not p._data
    np.testing.assert_array_equal(to_np(q), to_np(p))
    np.testing.assert_array_equal(to_np(q.grad), np.ones(3, np.float32))
    m = nn.Linear(2, 2)
    m2 = copy.deepcopy(m)
    assert isinstance(m2.weight, nn.Parameter) and m2.weight is not m.weight
    np.testing.assert_array_equal(to_np(m2.weight), to_np(m.weight))


# ---------------------------------------------------------------- registration
def test_registration_and_attribute_protocol():
    m = nn.Module()
    m.w = nn.Parameter(tg.ones(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("buf", tg.zeros(2))
    m.plain = 3
    assert set(m._parameters) == {"w"} and set(m._modules) == {"sub"} and set(m._buffers) == {"buf"}
    assert m.w is m._parameters["w"] and m.buf is m._buffers["buf"] and m.sub is m._modules["sub"]
    assert "w" in dir(m) and "sub" in dir(m) and "buf" in dir(m)
    # re-assigning a tensor to a buffer keeps it a buffer; a plain tensor to a param name fails
    m.buf = tg.ones(2)
    assert "buf" in m._buffers
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = tg.ones(2)
    m.w = None
    assert m._parameters["w"] is None and m.w is None
    with pytest.raises(TypeError):
        m.sub = 5
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", tg.ones(1))
    with pytest.raises(KeyError, match='"."'):
        m.register_parameter("a.b", nn.Parameter(tg.ones(1)))
    with pytest.raises(TypeError):
        m.register_buffer("x", 3)
    with pytest.raises(TypeError):
        m.add_module("x", 3)
    # a Parameter replacing a module / buffer moves it between registries
    m.sub = nn.Parameter(tg.ones(1))
    assert "sub" not in m._modules and "sub" in m._parameters
    del m.sub
    assert "sub" not in m._parameters
    del m.buf
    assert "buf" not in m._buffers
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        m.nothing
    with pytest.raises(AttributeError):
        class Early(nn.Module):
            def __init__(self):
                self.w = nn.Parameter(tg.ones(1))
                super().__init__()
        Early()


@needs_torch
def test_named_parameters_buffers_modules_match_torch():
    tgm, tm = TGNet(), _torch_net()
    assert [k for k, _ in tgm.named_parameters()] == [k for k, _ in tm.named_parameters()]
    assert [tuple(p.shape) for p in tgm.parameters()] == [tuple(p.shape) for p in tm.parameters()]
    assert [k for k, _ in tgm.named_buffers()] == [k for k, _ in tm.named_buffers()]
    assert [k for k, _ in tgm.named_modules()] == [k for k, _ in tm.named_modules()]
    assert [k for k, _ in tgm.named_children()] == [k for k, _ in tm.named_children()]
    assert [k for k, _ in tgm.named_parameters(prefix="m", recurse=False)] == \
        [k for k, _ in tm.named_parameters(prefix="m", recurse=False)]
    assert len(list(tgm.modules())) == len(list(tm.modules()))
    assert len(list(tgm.children())) == 2


def test_shared_parameters_deduplicated():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert [k for k, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert len(list(seq.modules())) == 3  # seq, lin, relu
    m = nn.Module()
    m.a = nn.Parameter(tg.ones(1))
    m.b = m.a
    assert len(list(m.parameters())) == 1


# ---------------------------------------------------------------- state_dict
@needs_torch
def test_state_dict_keys_match_torch_and_roundtrip():
    tgm, tm = TGNet(), _torch_net()
    sd = tgm.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd.keys()) == list(tm.state_dict().keys())
    assert "scratch" not in sd and "running" in sd
    for v in sd.values():
        assert type(v) is tg.Tensor and not v.requires_grad
    # values share memory with the parameters
    with tg.no_grad():
        sd["body.0.weight"].fill_(0.5)
    assert np.all(to_np(tgm.body[0].weight) == 0.5)
    # tensorgrad -> torch: same outputs and gradients
    with tg.no_grad():
        tgm.running.copy_(tg.tensor([0.1, -0.2, 0.3]))
    _copy_into_torch(tgm, tm)
    x = rand(5, 4, dtype=np.float32)
    ya, yb = tgm(tg.tensor(x))
    ta, tb = tm(torch.tensor(x))
    np.testing.assert_allclose(to_np(ya), ta.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_np(yb), tb.detach().numpy(), rtol=1e-5, atol=1e-6)
    (ya.sum() + (yb * yb).sum()).backward()
    (ta.sum() + (tb * tb).sum()).backward()
    tparams = dict(tm.named_parameters())
    for k, p in tgm.named_parameters():
        np.testing.assert_allclose(to_np(p.grad), tparams[k].grad.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    # torch -> tensorgrad through NumPy, into a fresh model
    fresh = TGNet()
    res = fresh.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    for k, v in fresh.state_dict().items():
        np.testing.assert_array_equal(to_np(v), tm.state_dict()[k].numpy(), err_msg=k)
    # torch tensors / NumPy arrays are accepted directly too
    fresh2 = TGNet()
    fresh2.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    np.testing.assert_array_equal(to_np(fresh2.heads["a"].weight), tm.heads["a"].weight.detach().numpy())


def test_load_state_dict_in_place_and_errors():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    w_before = m[0].weight
    sd = {k: v.clone() + 1 for k, v in m.state_dict().items()}
    m.load_state_dict(sd)
    assert m[0].weight is w_before and m[0].weight.requires_grad and m[0].weight.is_leaf
    np.testing.assert_array_equal(to_np(m[0].weight), to_np(sd["0.weight"]))
    # strict: missing and unexpected keys are named
    bad = dict(sd)
    del bad["1.bias"]
    bad["2.weight"] = tg.ones(1)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "2.weight"' in msg
    res = m.load_state_dict(bad, strict=False)
    assert res.missing_keys == ["1.bias"] and res.unexpected_keys == ["2.weight"]
    # shape mismatch names the key and both shapes, strict or not
    bad = dict(sd)
    bad["0.weight"] = tg.ones(4, 2)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: copying a param with shape "
                                               r"tensorgrad.Size\(\[4, 2\]\) from checkpoint, the shape in "
                                               r"current model is tensorgrad.Size\(\[3, 2\]\)"):
            m.load_state_dict(bad, strict=strict)
    with pytest.raises(TypeError):
        m.load_state_dict([1, 2])


@needs_torch
def test_load_state_dict_key_reports_match_torch():
    tgm, tm = TGNet(), _torch_net()
    sd_t = tm.state_dict()
    del sd_t["heads.a.bias"]
    sd_t["extra"] = torch.ones(1)
    sd_t["body.9.weight"] = torch.ones(1)
    sd_t["body.0.extra"] = torch.ones(1)
    sd_g = {k: tg.tensor(v.numpy()) for k, v in sd_t.items()}
    tres = tm.load_state_dict(sd_t, strict=False)
    gres = tgm.load_state_dict(sd_g, strict=False)
    assert gres.missing_keys == tres.missing_keys and gres.unexpected_keys == tres.unexpected_keys
    with pytest.raises(RuntimeError) as et:
        tm.load_state_dict(sd_t)
    with pytest.raises(RuntimeError) as eg:
        tgm.load_state_dict(sd_g)
    assert str(eg.value).replace("TGNet", "X") == str(et.value).replace("TNet", "X")
    sd_t = tm.state_dict()
    sd_t["heads.b.weight"] = torch.ones(2, 3)
    with pytest.raises(RuntimeError) as et:
        tm.load_state_dict(sd_t)
    with pytest.raises(RuntimeError) as eg:
        tgm.load_state_dict({k: tg.tensor(v.numpy()) for k, v in sd_t.items()})
    assert str(eg.value).replace("TGNet", "X") == str(et.value).replace("TNet", "X").replace("torch.", "tensorgrad.")


# ---------------------------------------------------------------- modes, grads, to
def test_train_eval_flags():
    m = TGNet()
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    m.heads.train(False)
    assert m.training and not m.heads["a"].training and m.body[0].training
    with pytest.raises(ValueError):
        m.train("yes")


def test_zero_grad_and_requires_grad():
    m = nn.Linear(3, 2)
    m(tg.randn(4, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert np.all(to_np(m.weight.grad) == 0) and np.all(to_np(m.bias.grad) == 0)
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    assert m.requires_grad_(False) is m
    assert not m.weight.requires_grad and not m.bias.requires_grad
    m.requires_grad_()
    assert m.weight.requires_grad


def test_to_dtype_keeps_identity():
    m = TGNet()
    m.register_buffer("steps", tg.tensor([3]))  # integer buffers keep their dtype
    params = list(m.parameters())
    w0 = m.body[0].weight
    m(tg.randn(2, 4))[0].sum().backward()
    assert m.to(tg.float64) is m
    assert [p is q for p, q in zip(params, m.parameters())] == [True] * len(params)
    assert all(p.dtype == tg.float64 and isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    assert m.body[0].weight.grad.dtype == tg.float64
    assert m.running.dtype == tg.float64 and m.steps.dtype == tg.int64
    assert m.float() is m and m.body[0].weight.dtype == tg.float32 and m.body[0].weight is w0
    m.double()
    assert m.scale.dtype == tg.float64
    m.half()
    assert m.scale.dtype == tg.float16 and m.steps.dtype == tg.int64
    m.to(dtype=tg.float32)
    out = m(tg.randn(2, 4))
    assert out[0].dtype == tg.float32
    m.to("cpu")
    m.cpu()
    assert m.scale.device == tg.device("cpu")
    assert m.to(tg.randn(1, dtype=tg.float64)).scale.dtype == tg.float64
    with pytest.raises(TypeError, match="floating point"):
        m.to(tg.int64)


def test_to_device(device):
    m = TGNet()
    m.register_buffer("steps", tg.tensor([3]))
    w = m.body[0].weight
    m.to(device)
    assert m.body[0].weight is w
    assert all(on_device(p, device) for p in m.parameters())
    assert all(on_device(b, device) for b in m.buffers())
    x = tg.randn(2, 4, device=device)
    ya, _ = m(x)
    ya.sum().backward()
    assert on_device(w.grad, device)
    m.cpu()
    assert w.device == tg.device("cpu") and w.grad.device == tg.device("cpu")


def test_apply_and_hooks():
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    seen = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen == ["Linear", "Linear", "Sequential"]
    m.apply(lambda mod: nn.init.zeros_(mod.weight) if isinstance(mod, nn.Linear) else None)
    assert all(np.all(to_np(mod.weight) == 0) for mod in m)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0 + 1,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(to_np(args[0]).copy()) or out * 2)
    x = tg.randn(3, 2)
    out = m(x)
    np.testing.assert_array_equal(calls[0], np.ones((3, 2), np.float32))
    expected = 2 * (to_np(m[1].bias) + 0 * to_np(m[0].bias).sum())
    np.testing.assert_allclose(to_np(out), np.broadcast_to(expected, (3, 2)), rtol=1e-6)
    h1.remove()
    h2.remove()
    np.testing.assert_array_equal(to_np(m(x)), np.broadcast_to(to_np(m[1].bias), (3, 2)))

    class NoForward(nn.Module):
        pass
    with pytest.raises(NotImplementedError, match="forward"):
        NoForward()(x)


def test_get_submodule_parameter_buffer():
    m = TGNet()
    assert m.get_submodule("heads.a") is m.heads["a"]
    assert m.get_parameter("body.2.bias") is m.body[2].bias
    assert m.get_buffer("running") is m.running
    with pytest.raises(AttributeError):
        m.get_submodule("heads.c")


# ---------------------------------------------------------------- repr
@needs_torch
def test_repr_matches_torch():
    tgm, tm = TGNet(), _torch_net()
    assert repr(tgm).replace("TGNet", "X") == repr(tm).replace("TNet", "X")
    pairs = [
        (nn.Sequential(nn.Linear(2, 3), nn.ReLU(inplace=True), nn.Linear(3, 1, bias=False)),
         tnn.Sequential(tnn.Linear(2, 3), tnn.ReLU(inplace=True), tnn.Linear(3, 1, bias=False))),
        (nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.Tanh()]),
         tnn.ModuleList([tnn.Linear(2, 2), tnn.Linear(2, 2), tnn.Linear(2, 2), tnn.Tanh()])),
        (nn.ModuleList(), tnn.ModuleList()),
        (nn.Sequential(OrderedDict(fc=nn.Linear(1, 1), act=nn.Sequential(nn.GELU(), nn.Sigmoid()))),
         tnn.Sequential(OrderedDict(fc=tnn.Linear(1, 1), act=tnn.Sequential(tnn.GELU(), tnn.Sigmoid())))),
    ]
    for a, b in pairs:
        assert repr(a) == repr(b)
    for a, b in [(nn.LeakyReLU(), tnn.LeakyReLU()), (nn.LeakyReLU(0.2, True), tnn.LeakyReLU(0.2, True)),
                 (nn.GELU("tanh"), tnn.GELU("tanh")), (nn.SiLU(), tnn.SiLU()), (nn.SiLU(True), tnn.SiLU(True)),
                 (nn.Softmax(dim=1), tnn.Softmax(dim=1)), (nn.Softmax(), tnn.Softmax()),
                 (nn.LogSoftmax(-1), tnn.LogSoftmax(-1)), (nn.ELU(0.5), tnn.ELU(0.5)),
                 (nn.Softplus(2.0, 10.0), tnn.Softplus(2.0, 10.0)), (nn.Identity(), tnn.Identity()),
                 (nn.Flatten(), tnn.Flatten()), (nn.Flatten(0, 2), tnn.Flatten(0, 2)),
                 (nn.Unflatten(1, (2, 3)), tnn.Unflatten(1, (2, 3))), (nn.Tanh(), tnn.Tanh()),
                 (nn.Module(), tnn.Module())]:
        assert repr(a) == repr(b)


# ---------------------------------------------------------------- containers
def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    sl = s[1:]
    assert isinstance(sl, nn.Sequential) and list(sl) == [b, c] and list(sl._modules) == ["1", "2"]
    with pytest.raises(IndexError):
        s[3]
    d = nn.Linear(1, 1)
    s.append(d)
    assert len(s) == 4 and s[3] is d
    s[3] = nn.Identity()
    assert isinstance(s[3], nn.Identity)
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and s[1] is c
    s.insert(1, b)
    assert list(s) == [a, b, c, s[3]]
    assert len(s + nn.Sequential(nn.Tanh())) == 5
    x = tg.randn(4, 2)
    np.testing.assert_allclose(to_np(s(x)), to_np(c(b(a(x)))), rtol=1e-6)
    named = nn.Sequential(OrderedDict([("first", a), ("act", nn.ReLU())]))
    assert named.first is a and list(named._modules) == ["first", "act"]
    assert [k for k, _ in named.named_parameters()] == ["first.weight", "first.bias"]
    assert nn.Sequential().forward(x) is x


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers += [nn.Sigmoid()]
    assert len(layers) == 6 and isinstance(layers[-1], nn.Sigmoid)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(5)]
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and len(layers) == 6
    with pytest.raises(IndexError):
        layers[6]
    with pytest.raises(TypeError):
        layers.extend(nn.Linear(1, 1))
    holder = nn.Module()
    holder.layers = layers
    assert [k for k, _ in holder.named_parameters()][:2] == ["layers.1.weight", "layers.1.bias"]

    d = nn.ModuleDict({"x": nn.Linear(1, 2)})
    d["y"] = nn.ReLU()
    d.update([("z", nn.Tanh())])
    assert list(d) == ["x", "y", "z"] and list(d.keys()) == ["x", "y", "z"] and "y" in d and len(d) == 3
    assert isinstance(d.pop("y"), nn.ReLU) and "y" not in d
    assert [k for k, _ in d.items()] == ["x", "z"] and len(list(d.values())) == 2
    d.clear()
    assert len(d) == 0
    with pytest.raises(ValueError):
        d.update([("a", nn.ReLU(), 3)])


@needs_torch
def test_flatten_unflatten_identity():
    x = rand(2, 3, 4, 5, dtype=np.float32)
    for kw in [{}, {"start_dim": 0}, {"start_dim": 1, "end_dim": 2}, {"start_dim": -2}]:
        np.testing.assert_array_equal(to_np(nn.Flatten(**kw)(tg.tensor(x))), tnn.Flatten(**kw)(torch.tensor(x)).numpy())
    y = nn.Unflatten(1, (3, 1))(tg.tensor(x))
    assert tuple(y.shape) == (2, 3, 1, 4, 5)
    np.testing.assert_array_equal(to_np(nn.Unflatten(-1, [5, 1])(tg.tensor(x))),
                                  tnn.Unflatten(-1, [5, 1])(torch.tensor(x)).numpy())
    t = tg.tensor(x)
    assert nn.Identity(3, foo=1)(t) is t
    with pytest.raises(TypeError):
        nn.Unflatten(1, 3)


# ---------------------------------------------------------------- Linear
@needs_torch
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("in_shape", [(5, 4), (4,), (2, 3, 4)])
def test_linear_matches_torch(device, dtype, tol, bias, in_shape):
    tdt = {np.float32: tg.float32, np.float64: tg.float64}[dtype]
    m = nn.Linear(4, 3, bias=bias, dtype=tdt, device=device)
    tm = tnn.Linear(4, 3, bias=bias, dtype=getattr(torch, np.dtype(dtype).name))
    assert m.weight.dtype == tdt and on_device(m.weight, device)
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(to_np(m.weight)))
        if bias:
            tm.bias.copy_(torch.from_numpy(to_np(m.bias)))
    x = rand(*in_shape, dtype=dtype)
    xt = tg.tensor(x, device=device, requires_grad=True)
    xp = torch.tensor(x, requires_grad=True)
    y, yp = m(xt), tm(xp)
    assert tuple(y.shape) == tuple(yp.shape) and y.dtype == tdt
    np.testing.assert_allclose(to_np(y), yp.detach().numpy(), rtol=tol, atol=tol)
    g = rand(*yp.shape, dtype=dtype)
    y.backward(tg.tensor(g, device=device))
    yp.backward(torch.tensor(g))
    np.testing.assert_allclose(to_np(xt.grad), xp.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(to_np(m.weight.grad), tm.weight.grad.numpy(), rtol=tol, atol=tol)
    if bias:
        np.testing.assert_allclose(to_np(m.bias.grad), tm.bias.grad.numpy(), rtol=tol, atol=tol)
    else:
        assert m.bias is None and "bias" in m._parameters


def test_linear_gradcheck(device):
    m = nn.Linear(3, 2, dtype=tg.float64, device=device)
    w, b = to_np(m.weight), to_np(m.bias)
    check_grad(lambda x, w, b: F.linear(x, w, b), [rand(4, 3), w, b], device)
    check_grad(lambda x: m(x), [rand(2, 3)], device)


def test_linear_init_bounds_and_errors():
    m = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)
    w, b = to_np(m.weight), to_np(m.bias)
    assert w.shape == (40, 50) and b.shape == (40,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # really spread over the range
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=4, out_features=3, bias=True\): expected input "
                                           r"with last dimension 4, got shape \[2, 5\]"):
        nn.Linear(4, 3)(tg.randn(2, 5))
    with pytest.warns(UserWarning, match="zero-element"):
        m0 = nn.Linear(0, 3)
    assert np.all(to_np(m0.bias) == 0)  # fan_in 0: bound 0, like torch
    assert tuple(m0(tg.randn(2, 0)).shape) == (2, 3)


# ---------------------------------------------------------------- activations
@needs_torch
@pytest.mark.parametrize("name,args", [("ReLU", ()), ("LeakyReLU", (0.2,)), ("ELU", (0.7,)), ("GELU", ()),
                                       ("GELU", ("tanh",)), ("SiLU", ()), ("Softplus", (2.0, 1.0)),
                                       ("Sigmoid", ()), ("Tanh", ()), ("Softmax", (1,)),
                                       ("LogSoftmax", (-1,)), ("Softmax", (0,))])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_activation_modules_match_torch(device, name, args, dtype, tol):
    from oracle import check_torch
    check_torch(lambda mod, x: (getattr(nn, name) if mod is tg else getattr(tnn, name))(*args)(x),
                [rand(3, 5, dtype=dtype)], device, rtol=tol, atol=tol)


@needs_torch
@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU", "SiLU", "ELU"])
def test_inplace_activations(name):
    x = rand(4, 3, dtype=np.float32)
    t = tg.tensor(x)
    out = getattr(nn, name)(inplace=True)(t)
    assert out is t
    np.testing.assert_allclose(to_np(t), getattr(tnn, name)()(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-7)
    # in place inside a graph: still differentiable
    a = tg.tensor(x, requires_grad=True)
    ap = torch.tensor(x, requires_grad=True)
    getattr(nn, name)(inplace=True)(a * 2).sum().backward()
    getattr(tnn, name)(inplace=True)(ap * 2).sum().backward()
    np.testing.assert_allclose(to_np(a.grad), ap.grad.numpy(), rtol=1e-6, atol=1e-7)


@needs_torch
def test_softmax_implicit_dim_matches_torch():
    for shape in [(5,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        x = rand(*shape, dtype=np.float32)
        with pytest.warns(UserWarning):
            a = nn.Softmax()(tg.tensor(x))
        with pytest.warns(UserWarning):
            b = F.log_softmax(tg.tensor(x))
        with pytest.warns(UserWarning):
            ta = tnn.Softmax()(torch.tensor(x))
            tb = torch.nn.functional.log_softmax(torch.tensor(x))
        np.testing.assert_allclose(to_np(a), ta.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(to_np(b), tb.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- functional
@needs_torch
def test_functional_namespace():
    for name in ["relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid", "tanh", "softmax",
                 "log_softmax", "linear", "pad", "one_hot", "normalize"]:
        assert callable(getattr(F, name)), name
    assert nn.functional is F
    x = rand(3, 4, dtype=np.float32)
    np.testing.assert_allclose(to_np(F.normalize(tg.tensor(x))),
                               torch.nn.functional.normalize(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_np(F.normalize(tg.tensor(x), p=1.0, dim=0)),
                               torch.nn.functional.normalize(torch.tensor(x), p=1.0, dim=0).numpy(), rtol=1e-5)
    t = tg.tensor(x)
    assert F.relu(t, inplace=True) is t and np.all(to_np(t) >= 0)
    np.testing.assert_allclose(to_np(F.softmax(tg.tensor(x), dim=0, dtype=tg.float64)),
                               torch.softmax(torch.tensor(x), 0, dtype=torch.float64).numpy(), rtol=1e-12)


# ---------------------------------------------------------------- clip_grad
@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(device, norm_type, max_norm):
    shapes = [(3, 4), (4,), (2, 2, 2)]
    grads = [rand(*s, dtype=np.float32) for s in shapes]
    ps = [nn.Parameter(tg.zeros(*s, device=device)) for s in shapes]
    tps = [torch.nn.Parameter(torch.zeros(*s)) for s in shapes]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = tg.tensor(g, device=device)
        tp.grad = torch.tensor(g)
    ps.append(nn.Parameter(tg.zeros(2, device=device)))  # no grad: skipped
    total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    assert isinstance(total, tg.Tensor) and total.dtype == tg.float32 and total.shape == ()
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-5)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(to_np(p.grad), tp.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert ps[-1].grad is None


@needs_torch
def test_clip_grad_value_and_edge_cases():
    g = rand(5, 3, dtype=np.float32)
    p = nn.Parameter(tg.zeros(5, 3))
    p.grad = tg.tensor(g)
    tp = torch.nn.Parameter(torch.zeros(5, 3))
    tp.grad = torch.tensor(g)
    nn.utils.clip_grad_value_(p, 0.5)  # a single tensor is accepted
    torch.nn.utils.clip_grad_value_(tp, 0.5)
    np.testing.assert_array_equal(to_np(p.grad), tp.grad.numpy())
    # single tensor for clip_grad_norm_, non-finite norms
    p.grad = tg.tensor(g)
    tp.grad = torch.tensor(g)
    np.testing.assert_allclose(nn.utils.clip_grad_norm_(p, 1.0).item(),
                               torch.nn.utils.clip_grad_norm_(tp, 1.0).item(), rtol=1e-6)
    np.testing.assert_allclose(to_np(p.grad), tp.grad.numpy(), rtol=1e-5, atol=1e-7)
    p.grad = tg.tensor([float("inf"), 1.0, 0.0] * 5).reshape(5, 3)
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([nn.Parameter(tg.zeros(2))], 1.0).item() == 0.0
    # a whole model, as used in a training loop
    m = TGNet()
    m(tg.randn(3, 4))[0].sum().backward()
    before = math.sqrt(sum(float((to_np(q.grad).astype(np.float64) ** 2).sum()) for q in m.parameters()
                           if q.grad is not None))
    total = nn.utils.clip_grad_norm_(m.parameters(), 0.1)
    np.testing.assert_allclose(total.item(), before, rtol=1e-5)
    after = math.sqrt(sum(float((to_np(q.grad).astype(np.float64) ** 2).sum()) for q in m.parameters()
                          if q.grad is not None))
    np.testing.assert_allclose(after, min(0.1, before), rtol=1e-4)


def test_parameters_vector_roundtrip():
    m = nn.Linear(3, 2)
    v = nn.utils.parameters_to_vector(m.parameters())
    assert tuple(v.shape) == (8,)
    w = m.weight
    nn.utils.vector_to_parameters(v * 0 + 1, m.parameters())
    assert m.weight is w and np.all(to_np(m.weight) == 1) and np.all(to_np(m.bias) == 1)


# ---------------------------------------------------------------- training end to end
def test_small_training_loop_decreases_loss():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    x = tg.randn(64, 2)
    y = (x[:, :1] * x[:, 1:]).detach()
    losses = []
    for _ in range(200):
        loss = ((model(x) - y) ** 2).mean()
        model.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        with tg.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_state_dict_prefix_keep_vars_and_star_import():
    m = nn.Sequential(nn.Linear(2, 2))
    sd = m.state_dict(prefix="model.")
    assert list(sd) == ["model.0.weight", "model.0.bias"]
    kv = m.state_dict(keep_vars=True)
    assert kv["0.weight"] is m[0].weight
    dest = OrderedDict()
    assert m.state_dict(destination=dest) is dest and len(dest) == 2
    ns = {}
    exec("from tensorgrad.nn import *", ns)
    for name in ["Module", "Linear", "Sequential", "Parameter", "ReLU", "init", "functional", "utils"]:
        assert name in ns, name
    # a float64 checkpoint is cast into the float32 parameters, as in torch
    m.load_state_dict({k: v.double() * 0 + 2 for k, v in m.state_dict().items()})
    assert m[0].weight.dtype == tg.float32 and np.all(to_np(m[0].weight) == 2)
