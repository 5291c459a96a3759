"""F.interpolate(mode='bicubic') (tensorgrad/ops/interpolate.py): PyTorch as the oracle for values and
gradients over sizes, scale factors and align_corners (cubic convolution A = -0.75, taps past the
edges clamped to the border); float64 gradchecks with second order; antialias handling."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import check_grad, check_torch, needs_torch, torch

_rng = np.random.default_rng(31)

CASES = [  # (input shape, kwargs)
    ((2, 3, 5, 7), dict(scale_factor=2)),
    ((2, 3, 5, 7), dict(size=(3, 11))),
    ((1, 2, 5, 7), dict(size=(8, 4), align_corners=True)),
    ((1, 2, 5, 7), dict(scale_factor=(0.5, 1.5))),
    ((1, 2, 6, 6), dict(scale_factor=0.4)),
    ((1, 2, 5, 7), dict(size=(5, 7))),
    ((1, 2, 5, 7), dict(size=(5, 9), align_corners=True)),
    ((1, 2, 3, 4), dict(size=(1, 1), align_corners=True)),
    ((1, 2, 3, 4), dict(size=(1, 1))),
    ((1, 1, 1, 1), dict(size=(3, 4))),
    ((1, 2, 4, 4), dict(scale_factor=1.3, recompute_scale_factor=True)),
    ((1, 2, 2, 3), dict(scale_factor=3.5)),  # taps reach two pixels past both edges: clamped
]
IDS = [f"{'x'.join(map(str, s))}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for s, kw in CASES]


@needs_torch
@pytest.mark.parametrize("shape,kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bicubic_matches_torch(device, shape, kwargs, dtype):
    x = _rng.normal(size=shape).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float64 else dict(rtol=1e-5, atol=5e-6)
    check_torch(lambda m, t: m.nn.functional.interpolate(t, mode="bicubic", **kwargs), [x], device, **tol)


@needs_torch
def test_a_scale_factor_that_keeps_the_size_resamples_like_torch(device):
    """floor(5 * 1.19) = 5: PyTorch's bicubic forward still samples at 1 / 1.19 (it does not copy), but
    its backward passes the gradient straight through, which is not the adjoint of that forward; so
    the values are compared with PyTorch and the gradient is checked numerically."""
    x = _rng.normal(size=(1, 2, 5, 5))
    out = check_torch(lambda m, t: m.nn.functional.interpolate(t, scale_factor=1.19, mode="bicubic"), [x], device,
                      backward=False)[0]
    assert not np.allclose(out.cpu().numpy(), x)
    check_grad(lambda t: F.interpolate(t, scale_factor=1.19, mode="bicubic"), [x[:, :1]], device, double=False)


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2), dict(size=(4, 2), align_corners=True),
                                    dict(scale_factor=(1.5, 0.7))], ids=str)
def test_bicubic_gradcheck_and_second_order(device, kwargs):
    check_grad(lambda t: F.interpolate(t, mode="bicubic", **kwargs) ** 2, [_rng.normal(size=(1, 2, 3, 3))], device)


def test_bicubic_reproduces_a_constant_and_overshoots_a_step():
    """The weights sum to 1 (a constant stays), and A = -0.75 gives a cubic that rings at an edge."""
    ones = F.interpolate(tg.ones(1, 1, 3, 4, dtype=tg.float64), size=(7, 9), mode="bicubic")
    np.testing.assert_allclose(ones.numpy(), 1.0, rtol=0, atol=1e-12)
    step = tg.tensor(np.repeat([[0.0] * 4 + [1.0] * 4], 2, axis=0).reshape(1, 1, 2, 8))
    out = F.interpolate(step, size=(2, 24), mode="bicubic").numpy()
    assert out.max() > 1.0 and out.min() < 0.0


@needs_torch
def test_upsample_module_bicubic_matches_torch(device):
    x = _rng.normal(size=(2, 3, 4, 5))
    for kw in (dict(scale_factor=2, mode="bicubic"), dict(size=(7, 3), mode="bicubic", align_corners=True)):
        ours, theirs = tg.nn.Upsample(**kw), torch.nn.Upsample(**kw)
        assert repr(ours) == repr(theirs)
        check_torch(lambda m, t: (ours if m is tg else theirs)(t), [x], device)


@needs_torch
@pytest.mark.parametrize("shape,mode", [((1, 1, 4, 4), "nearest"), ((1, 1, 4), "linear"),
                                        ((1, 1, 4, 4, 4), "trilinear")])
def test_antialias_outside_bilinear_and_bicubic_raises_torchs_value_error(shape, mode):
    with pytest.raises(ValueError) as theirs:
        torch.nn.functional.interpolate(torch.zeros(shape), scale_factor=2, mode=mode, antialias=True)
    with pytest.raises(ValueError, match="Anti-alias option is restricted to bilinear and bicubic") as ours:
        F.interpolate(tg.zeros(*shape), scale_factor=2, mode=mode, antialias=True)
    assert str(theirs.value).startswith("Anti-alias option is restricted to bilinear")
    assert "4-D tensor" in str(ours.value)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_antialias_true_is_unsupported_and_false_is_accepted(mode):
    x = tg.tensor(_rng.normal(size=(1, 1, 6, 6)))
    with pytest.raises(NotImplementedError, match="antialias=True is not supported"):
        F.interpolate(x, scale_factor=0.5, mode=mode, antialias=True)
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=0.5, mode=mode, antialias=False).numpy(),
                                  F.interpolate(x, scale_factor=0.5, mode=mode).numpy())


@needs_torch
@pytest.mark.parametrize("shape", [(1, 2, 3), (1, 1, 2, 2, 2)])
def test_bicubic_needs_4d_input(shape):
    with pytest.raises(NotImplementedError):
        torch.nn.functional.interpolate(torch.zeros(shape), scale_factor=2, mode="bicubic")
    with pytest.raises(NotImplementedError, match="bicubic mode needs 4D input"):
        F.interpolate(tg.zeros(*shape), scale_factor=2, mode="bicubic")
