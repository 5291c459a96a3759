"""F.interpolate / nn.Upsample (tensorgrad/ops/interpolate.py): PyTorch as the oracle for values
and gradients over modes, sizes, scale factors and align_corners; float64 gradchecks with second
order; PyTorch's errors; the modules."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import check_grad, check_torch, needs_torch, torch

_rng = np.random.default_rng(8)

CASES = [  # (input shape, kwargs)
    ((2, 3, 5, 7), dict(scale_factor=2)),
    ((2, 3, 5, 7), dict(size=(3, 11))),
    ((2, 3, 5, 7), dict(size=(9, 13), mode="nearest-exact")),
    ((1, 2, 6, 6), dict(scale_factor=0.5)),
    ((1, 2, 5, 7), dict(scale_factor=1.7, mode="bilinear")),
    ((1, 2, 5, 7), dict(size=(8, 4), mode="bilinear", align_corners=True)),
    ((1, 2, 5, 7), dict(scale_factor=(0.5, 1.5), mode="bilinear")),
    ((1, 2, 5, 7), dict(size=(5, 7), mode="bilinear")),
    ((1, 2, 3, 4), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    ((1, 2, 3, 4), dict(scale_factor=1.3, mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 9), dict(scale_factor=3, mode="linear")),
    ((2, 3, 9), dict(size=4, mode="linear", align_corners=True)),
    ((2, 3, 9), dict(size=13)),
    ((1, 1, 3, 4, 5), dict(scale_factor=2, mode="trilinear")),
    ((1, 1, 3, 4, 5), dict(size=(2, 6, 3))),
]
IDS = [f"{'x'.join(map(str, s))}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for s, kw in CASES]


@needs_torch
@pytest.mark.parametrize("shape,kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(device, shape, kwargs, dtype):
    x = _rng.normal(size=shape).astype(dtype)
    check_torch(lambda m, t: m.nn.functional.interpolate(t, **kwargs), [x], device)


@pytest.mark.parametrize("shape,kwargs", [CASES[0], CASES[4], CASES[5], CASES[10], CASES[13]],
                         ids=[IDS[0], IDS[4], IDS[5], IDS[10], IDS[13]])
def test_gradcheck_and_second_order(device, shape, kwargs):
    small = tuple(min(n, 3) for n in shape)
    check_grad(lambda t: F.interpolate(t, **kwargs) ** 2, [_rng.normal(size=small)], device)


@needs_torch
@pytest.mark.parametrize("kwargs,shape", [
    (dict(scale_factor=2, mode="bilinear"), (1, 2, 3)),                 # bilinear needs 4-D
    (dict(scale_factor=2, align_corners=True), (1, 2, 3, 3)),           # align_corners with nearest
    (dict(size=(2, 2), scale_factor=2), (1, 2, 3, 3)),                  # both
    (dict(), (1, 2, 3, 3)),                                             # neither
    (dict(size=(2, 2, 2)), (1, 2, 3, 3)),                               # wrong number of sizes
    (dict(scale_factor=2), (2, 3)),                                     # no spatial dim
])
def test_errors_match_torchs(kwargs, shape):
    x = np.zeros(shape)
    with pytest.raises((ValueError, NotImplementedError, RuntimeError)) as ours:
        F.interpolate(tg.tensor(x), **kwargs)
    with pytest.raises((ValueError, NotImplementedError, RuntimeError)) as theirs:
        torch.nn.functional.interpolate(torch.tensor(x), **kwargs)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value).split(" (")[0][:40] == str(theirs.value).split(" (")[0][:40]


@needs_torch
@pytest.mark.parametrize("shape,kwargs", [((1, 2, 7), {"size": 3}), ((1, 2, 7, 5), {"size": (3, 4)}),
                                          ((1, 2, 7, 5), {"scale_factor": 0.5}), ((1, 1, 4, 5, 6), {"size": (2, 3, 4)})])
def test_area_mode_is_adaptive_average_pooling_as_torch(shape, kwargs, device):
    check_torch(lambda m, x: (F if m is tg else torch.nn.functional).interpolate(x, mode="area", **kwargs),
                [_rng.normal(size=shape)], device)


def test_unsupported_modes_say_what_is_supported():
    with pytest.raises(NotImplementedError, match="antialias=True is not supported"):
        F.interpolate(tg.zeros(1, 1, 4, 4), scale_factor=2, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match="not one of"):
        F.interpolate(tg.zeros(1, 1, 4, 4), scale_factor=2, mode="cubic")
    with pytest.raises(RuntimeError, match="floating point"):
        F.interpolate(tg.zeros(1, 1, 4, 4, dtype=tg.int64), scale_factor=2)


@needs_torch
def test_modules_match_torch(device):
    x = _rng.normal(size=(2, 3, 4, 5))
    for make in (lambda nn: nn.Upsample(scale_factor=2), lambda nn: nn.Upsample(size=(7, 3), mode="bilinear"),
                 lambda nn: nn.UpsamplingNearest2d(scale_factor=3), lambda nn: nn.UpsamplingBilinear2d(size=(6, 9))):
        ours, theirs = make(tg.nn), make(torch.nn)
        assert repr(ours) == repr(theirs)
        check_torch(lambda m, t: (ours if m is tg else theirs)(t), [x], device)


@needs_torch
@pytest.mark.parametrize("shape,modes", [((1, 2, 5), ("nearest", "nearest-exact", "linear")),
                                         ((1, 2, 5, 5), ("nearest", "nearest-exact", "bilinear")),
                                         ((1, 1, 5, 5, 5), ("nearest", "nearest-exact", "trilinear"))])
def test_a_scale_factor_that_keeps_the_size_matches_torch(device, shape, modes):
    """floor(5 * 1.19) = 5: PyTorch copies some of these dims and resamples others by 1 / 1.19.
    Where it resamples with nearest modes, its backward kernel recomputes the scale from the sizes
    (1) and passes the gradient straight through, which is not the adjoint of its forward; there
    tensorgrad's gradient is the true one (scattered to the pixels the forward read), so only the
    values are compared."""
    x = _rng.normal(size=shape)
    for mode in modes:
        resampled_nearest = mode.startswith("nearest") and not (mode == "nearest" and len(shape) == 4)
        check_torch(lambda m, t: m.nn.functional.interpolate(t, scale_factor=1.19, mode=mode), [x], device,
                    backward=not resampled_nearest)
    t = tg.tensor(np.arange(5.0).reshape(1, 1, 5), requires_grad=True)
    F.interpolate(t, scale_factor=1.19, mode="nearest").backward(tg.arange(5.0).reshape(1, 1, 5))
    assert t.grad.reshape(-1).tolist() == [0.0 + 1.0, 2.0, 3.0, 4.0, 0.0]   # out reads in[0, 0, 1, 2, 3]
