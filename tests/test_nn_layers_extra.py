"""pad's reflect/replicate/circular modes and the padding layers, pixel_shuffle / pixel_unshuffle /
channel_shuffle, instance_norm and InstanceNorm1d/2d/3d, ParameterList and ParameterDict:
PyTorch as the oracle (values, gradients, running stats, state_dict keys, reprs), gradchecks."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import check_grad, check_torch, needs_torch, torch

_rng = np.random.default_rng(19)

PADS = [((1, 5), (2, 1), "reflect"), ((2, 3, 4), (3, 0), "reflect"), ((1, 2, 3, 4), (1, 2, 2, 0), "reflect"),
        ((1, 1, 3, 4, 5), (1, 1, 2, 2, 0, 2), "reflect"), ((2, 3, 4), (3, 1), "replicate"),
        ((1, 2, 3, 4), (0, 5, 2, 2), "replicate"), ((1, 1, 4), (-1, 1), "circular"), ((1, 1, 4), (1, -1), "circular"),
        ((1, 2, 3, 3), (2, 3, 1, 0), "circular"), ((1, 1, 2, 3, 4), (1, 1, 1, 1, 1, 1), "circular")]


@needs_torch
@pytest.mark.parametrize("shape,pad,mode", PADS, ids=[f"{m}-{'x'.join(map(str, s))}-{p}" for s, p, m in PADS])
def test_pad_modes_match_torch(device, shape, pad, mode):
    check_torch(lambda m, t: m.nn.functional.pad(t, pad, mode=mode), [_rng.normal(size=shape)], device)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_gradcheck(device, mode):
    check_grad(lambda t: F.pad(t, (2, 1, 1, 2), mode=mode), [_rng.normal(size=(1, 2, 3, 4))], device)


@needs_torch
@pytest.mark.parametrize("shape,pad,mode", [((1, 1, 3, 3), (3, 3), "reflect"), ((3,), (1, 1), "reflect"),
                                            ((1, 1, 3), (4, 0), "circular"), ((1, 2, 3, 3), (1, 1), "bogus")])
def test_pad_mode_errors_match_torch(shape, pad, mode):
    with pytest.raises((RuntimeError, NotImplementedError, ValueError)) as ours:
        F.pad(tg.zeros(*shape), pad, mode=mode)
    with pytest.raises((RuntimeError, NotImplementedError, ValueError)) as theirs:
        torch.nn.functional.pad(torch.zeros(*shape), pad, mode=mode)
    assert type(ours.value) is type(theirs.value)


@needs_torch
def test_padding_layers_match_torch(device):
    x = _rng.normal(size=(2, 3, 4, 5))
    for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular"):
        for d, shape in ((1, (2, 3, 5)), (2, (2, 3, 4, 5)), (3, (1, 2, 3, 4, 5))):
            args = (2, 1.5) if kind == "Constant" else (1,)
            ours, theirs = getattr(tg.nn, f"{kind}Pad{d}d")(*args), getattr(torch.nn, f"{kind}Pad{d}d")(*args)
            assert repr(ours) == repr(theirs)
            check_torch(lambda m, t: (ours if m is tg else theirs)(t), [_rng.normal(size=shape)], device)
    ours, theirs = tg.nn.ReflectionPad2d((1, 2, 0, 3)), torch.nn.ReflectionPad2d((1, 2, 0, 3))
    assert repr(ours) == repr(theirs) and ours.padding == theirs.padding
    check_torch(lambda m, t: (ours if m is tg else theirs)(t), [x], device)


@needs_torch
@pytest.mark.parametrize("call,shape", [(lambda m, t: m.nn.functional.pixel_shuffle(t, 2), (2, 8, 3, 5)),
                                        (lambda m, t: m.nn.functional.pixel_shuffle(t, 3), (9, 2, 2)),
                                        (lambda m, t: m.nn.functional.pixel_unshuffle(t, 2), (2, 3, 4, 6)),
                                        (lambda m, t: m.nn.functional.channel_shuffle(t, 3), (2, 6, 2, 2))])
def test_pixel_and_channel_shuffles_match_torch(device, call, shape):
    check_torch(call, [_rng.normal(size=shape)], device)


def test_pixel_shuffle_round_trip_and_errors():
    x = tg.randn(2, 8, 3, 5)
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2).numpy(), x.numpy())
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(tg.zeros(1, 3, 2, 2), 2)
    assert repr(tg.nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"


@needs_torch
@pytest.mark.parametrize("kw", [dict(), dict(affine=True), dict(affine=True, track_running_stats=True),
                                dict(track_running_stats=True, momentum=0.3)])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_instance_norm_matches_torch(device, kw, dims):
    make = {1: "InstanceNorm1d", 2: "InstanceNorm2d", 3: "InstanceNorm3d"}[dims]
    ours, theirs = getattr(tg.nn, make)(3, **kw).double(), getattr(torch.nn, make)(3, **kw).double()
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    if kw.get("affine"):
        w, b = _rng.normal(size=3), _rng.normal(size=3)
        ours.weight.data, ours.bias.data = tg.tensor(w), tg.tensor(b)
        theirs.weight.data, theirs.bias.data = torch.tensor(w), torch.tensor(b)
    ours.to(device)
    shape = (2, 3) + (4, 5, 3)[:dims]
    for _ in range(2):  # two training steps: the running stats follow
        check_torch(lambda m, t: (ours if m is tg else theirs)(t), [_rng.normal(size=shape)], device)
    if kw.get("track_running_stats"):
        np.testing.assert_allclose(ours.running_mean.cpu().numpy(), theirs.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.running_var.cpu().numpy(), theirs.running_var.numpy(), rtol=1e-12)
        ours.eval()
        theirs.eval()
        check_torch(lambda m, t: (ours if m is tg else theirs)(t), [_rng.normal(size=shape)], device)


def test_instance_norm_gradcheck_and_unbatched(device):
    check_grad(lambda t, w, b: F.instance_norm(t, weight=w, bias=b), [_rng.normal(size=(2, 3, 5)),
                                                                      _rng.normal(size=3), _rng.normal(size=3)],
               device)
    m = tg.nn.InstanceNorm1d(3)
    x = tg.randn(3, 6)
    np.testing.assert_allclose(m(x).numpy(), m(x.unsqueeze(0))[0].numpy())
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        m(tg.randn(2, 3, 4, 5))


@needs_torch
def test_parameter_containers_match_torch():
    ours = tg.nn.ParameterList([tg.ones(2), tg.zeros(3)])
    theirs = torch.nn.ParameterList([torch.ones(2), torch.zeros(3)])
    ours.append(tg.nn.Parameter(tg.ones(1)))
    theirs.append(torch.nn.Parameter(torch.ones(1)))
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()] == ["0", "1", "2"]
    assert all(isinstance(p, tg.nn.Parameter) for p in ours) and len(ours) == 3 and ours[-1].shape == (1,)
    assert repr(ours).replace("tensorgrad", "torch") == repr(theirs)
    d = tg.nn.ParameterDict({"a": tg.ones(2)})
    d["b"] = tg.zeros(3)
    td = torch.nn.ParameterDict({"a": torch.ones(2)})
    td["b"] = torch.zeros(3)
    assert list(d.keys()) == list(td.keys()) and "b" in d and isinstance(d["b"], tg.nn.Parameter)

    class Model(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = tg.nn.ParameterList([tg.randn(2, 2) for _ in range(2)])
            self.extra = tg.nn.ParameterDict({"scale": tg.ones(1)})

        def forward(self, x):
            for w in self.ws:
                x = x @ w
            return x * self.extra["scale"]
    m = Model()
    assert sorted(m.state_dict()) == ["extra.scale", "ws.0", "ws.1"]
    m(tg.ones(3, 2)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())


# ---------------------------------------------------------------- 1-D pooling
POOL1D = ["MaxPool1d(2)", "MaxPool1d(3, stride=2, padding=1, ceil_mode=True)", "MaxPool1d(2, dilation=2)",
          "AvgPool1d(3)", "AvgPool1d(3, 2, 1, count_include_pad=False)", "AdaptiveAvgPool1d(4)",
          "AdaptiveAvgPool1d(9)"]


@needs_torch
@pytest.mark.parametrize("make", POOL1D)
@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 9)])
def test_pool1d_matches_torch(device, make, shape):
    ours, theirs = eval("tg.nn." + make), eval("torch.nn." + make)
    assert repr(ours) == repr(theirs)
    check_torch(lambda m, t: (ours if m is tg else theirs)(t), [_rng.normal(size=shape)], device)


@needs_torch
def test_max_pool1d_indices_match_torch(device):
    x = _rng.normal(size=(2, 3, 10))
    a = F.max_pool1d(tg.tensor(x, device=device), 3, 2, 1, return_indices=True)
    b = torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(a[1].cpu().numpy(), b[1].numpy())
    np.testing.assert_array_equal(a[0].cpu().numpy(), b[0].numpy())


def test_pool1d_gradcheck_and_errors(device):
    check_grad(lambda t: F.avg_pool1d(t, 3, 2, 1) + F.adaptive_avg_pool1d(t, 4), [_rng.normal(size=(2, 2, 7))],
               device)
    with pytest.raises(RuntimeError, match="Expected 2D or 3D"):
        F.max_pool1d(tg.zeros(1, 2, 3, 4), 2)


@needs_torch
@pytest.mark.parametrize("pad,mode", [((-1, 2), "reflect"), ((-2, -2), "reflect"), ((-3, 1), "reflect"),
                                      ((-1, 2), "replicate"), ((-4, 0), "replicate"), ((2, -3), "replicate")])
def test_negative_padding_matches_torch(device, pad, mode):
    check_torch(lambda m, t: m.nn.functional.pad(t, pad, mode=mode), [_rng.normal(size=(1, 2, 5))], device)


def test_padding_that_leaves_nothing_is_refused():
    for pad, mode in (((-5, 3), "circular"), ((-3, -2), "reflect"), ((-5, 0), "replicate")):
        with pytest.raises(RuntimeError, match="empty dimension"):
            F.pad(tg.zeros(1, 1, 5), pad, mode=mode)


@needs_torch
def test_parameter_dict_orders_keys_as_torch():
    for given in ({"b": 1, "a": 2, "c": 3}, [("b", 1), ("a", 2)]):
        ours = tg.nn.ParameterDict({k: tg.ones(v) for k, v in dict(given).items()} if isinstance(given, dict)
                                   else [(k, tg.ones(v)) for k, v in given])
        theirs = torch.nn.ParameterDict({k: torch.ones(v) for k, v in dict(given).items()} if isinstance(given, dict)
                                        else [(k, torch.ones(v)) for k, v in given])
        assert list(ours.keys()) == list(theirs.keys())


# ---------------------------------------------------------------- unfold / fold
UNFOLD = [dict(kernel_size=3), dict(kernel_size=(2, 3), stride=2, padding=1, dilation=(1, 2)),
          dict(kernel_size=2, stride=2)]


@needs_torch
@pytest.mark.parametrize("kw", UNFOLD, ids=["k3", "mixed", "patches"])
@pytest.mark.parametrize("batched", [True, False])
def test_unfold_and_fold_match_torch(device, kw, batched):
    shape = (2, 3, 7, 6) if batched else (3, 7, 6)
    check_torch(lambda m, t: m.nn.functional.unfold(t, **kw), [_rng.normal(size=shape)], device)
    cols = torch.nn.functional.unfold(torch.zeros(shape), **kw).shape
    check_torch(lambda m, t: m.nn.functional.fold(t, (7, 6), **kw), [_rng.normal(size=tuple(cols))], device)


@needs_torch
def test_unfold_fold_modules_and_errors(device):
    ours, theirs = tg.nn.Unfold(2, stride=2), torch.nn.Unfold(2, stride=2)
    assert repr(ours) == repr(theirs)
    assert repr(tg.nn.Fold((4, 6), 2, stride=2)) == repr(torch.nn.Fold((4, 6), 2, stride=2))
    x = _rng.normal(size=(1, 2, 4, 6))
    np.testing.assert_allclose(tg.nn.Fold((4, 6), 2, stride=2)(ours(tg.tensor(x))).numpy(), x)   # patches round trip
    check_grad(lambda t: F.fold(F.unfold(t, 2, padding=1), (3, 4), 2, padding=1), [_rng.normal(size=(1, 2, 3, 4))],
               device)
    with pytest.raises(RuntimeError, match="sliding blocks"):
        F.fold(tg.zeros(1, 8, 5), (4, 6), 2, stride=2)


@needs_torch
@pytest.mark.parametrize("make,shape", [("AdaptiveMaxPool2d((1, 1))", (2, 3, 7, 5)),
                                        ("AdaptiveMaxPool2d(3)", (2, 3, 7, 5)),
                                        ("AdaptiveMaxPool2d((None, 2))", (3, 7, 5)),
                                        ("AdaptiveMaxPool1d(4)", (2, 3, 9))])
def test_adaptive_max_pool_matches_torch(device, make, shape):
    ours, theirs = eval("tg.nn." + make), eval("torch.nn." + make)
    assert repr(ours) == repr(theirs)
    check_torch(lambda m, t: (ours if m is tg else theirs)(t), [_rng.normal(size=shape)], device)
    with pytest.raises(NotImplementedError, match="return_indices"):
        F.adaptive_max_pool2d(tg.zeros(1, 1, 4, 4), 2, return_indices=True)
