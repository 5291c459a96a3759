"""affine_grid / grid_sample (tensorgrad/ops/grid_sample.py): PyTorch as the oracle for values and
gradients (input and grid) over every mode, padding mode and align_corners, grid points inside and
well outside [-1, 1]; float64 gradchecks with second order, sampled off the kinks; PyTorch's
align_corners warning and errors."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch, torch
from tensorgrad.ops.grid_sample import affine_grid, grid_sample

_rng = np.random.default_rng(21)
PADDINGS = ("zeros", "border", "reflection")
COMBOS_2D = list(itertools.product(("bilinear", "nearest", "bicubic"), PADDINGS, (False, True)))
COMBOS_3D = list(itertools.product(("bilinear", "nearest"), PADDINGS, (False, True)))


def _ids(combos):
    return ["-".join(map(str, c)) for c in combos]


def _gs(m, *args, **kwargs):
    fn = grid_sample if m is tg else torch.nn.functional.grid_sample
    return fn(*args, **kwargs)


def _ag(m, *args, **kwargs):
    fn = affine_grid if m is tg else torch.nn.functional.affine_grid
    return fn(*args, **kwargs)


def _tolerances(dtype):
    # float32: bicubic's grid gradient sums 16 terms that cancel near zero, in another order than torch
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- grid_sample vs torch
@needs_torch
@pytest.mark.parametrize("mode,padding_mode,align_corners", COMBOS_2D, ids=_ids(COMBOS_2D))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grid_sample_2d_matches_torch(device, mode, padding_mode, align_corners, dtype):
    x = _rng.normal(size=(2, 3, 5, 6)).astype(dtype)
    g = _rng.uniform(-1.6, 1.6, size=(2, 4, 7, 2)).astype(dtype)  # some points outside the input
    check_torch(lambda m, a, b: _gs(m, a, b, mode=mode, padding_mode=padding_mode, align_corners=align_corners),
                [x, g], device, **_tolerances(dtype))


@needs_torch
@pytest.mark.parametrize("mode,padding_mode,align_corners", COMBOS_2D, ids=_ids(COMBOS_2D))
def test_grid_sample_far_outside_matches_torch(device, mode, padding_mode, align_corners):
    """Points several input widths away: zeros reads nothing, border the edge, reflection folds many times."""
    x = _rng.normal(size=(1, 2, 4, 3))
    g = _rng.uniform(-9.0, 9.0, size=(1, 5, 6, 2))
    check_torch(lambda m, a, b: _gs(m, a, b, mode=mode, padding_mode=padding_mode, align_corners=align_corners),
                [x, g], device)


@needs_torch
@pytest.mark.parametrize("mode,padding_mode,align_corners", COMBOS_3D, ids=_ids(COMBOS_3D))
def test_grid_sample_3d_matches_torch(device, mode, padding_mode, align_corners):
    x = _rng.normal(size=(2, 2, 3, 4, 5))
    g = _rng.uniform(-1.5, 1.5, size=(2, 2, 3, 4, 3))
    check_torch(lambda m, a, b: _gs(m, a, b, mode=mode, padding_mode=padding_mode, align_corners=align_corners),
                [x, g], device)


@needs_torch
def test_one_pixel_dims_and_empty_grid_match_torch(device):
    x = _rng.normal(size=(2, 2, 1, 4))
    for mode, pad, ac in itertools.product(("bilinear", "nearest", "bicubic"), PADDINGS, (False, True)):
        g = _rng.uniform(-1.2, 1.2, size=(2, 3, 2, 2))
        check_torch(lambda m, a, b: _gs(m, a, b, mode=mode, padding_mode=pad, align_corners=ac), [x, g], device)
    out = grid_sample(tg.tensor(x, device=device), tg.zeros(2, 0, 5, 2, dtype=tg.float64, device=device),
                      align_corners=False)
    assert tuple(out.shape) == (2, 2, 0, 5)


def test_nearest_gives_the_grid_a_zero_gradient(device):
    x = tg.tensor(_rng.normal(size=(1, 2, 3, 3)), device=device, requires_grad=True)
    g = tg.tensor(_rng.uniform(-1, 1, size=(1, 4, 4, 2)), device=device, requires_grad=True)
    grid_sample(x, g, mode="nearest", align_corners=False).sum().backward()
    assert g.grad is not None and tuple(g.grad.shape) == (1, 4, 4, 2)
    assert np.all(g.grad.cpu().numpy() == 0)
    assert x.grad.cpu().numpy().sum() == pytest.approx(2 * 16)  # every output read one pixel of its channel


def test_identity_transform_reproduces_the_input(device):
    x = tg.tensor(_rng.normal(size=(2, 3, 4, 5)), device=device)
    theta = tg.tensor(np.tile(np.eye(2, 3), (2, 1, 1)), device=device)
    for ac in (False, True):
        for mode in ("bilinear", "nearest", "bicubic"):
            out = grid_sample(x, affine_grid(theta, (2, 3, 4, 5), align_corners=ac), mode=mode, align_corners=ac)
            np.testing.assert_allclose(out.cpu().numpy(), x.cpu().numpy(), atol=1e-12)


# ---------------------------------------------------------------- gradchecks
def _grid_off_kinks(shape_hw, out_hw, align_corners, n=1, margin=2):
    """A grid whose pixel coordinates have fractional parts in [0.1, 0.4] or [0.6, 0.9]: off the integer
    lattice (bilinear's kinks), off the half-integers (reflection's folds with align_corners=False) and
    off the clipping points, so finite differences see a smooth function. Some points lie outside."""
    comps = []
    for size in shape_hw[::-1]:  # x (W) first, then y (H)
        whole = _rng.integers(-margin, size + margin, size=(n,) + out_hw)
        frac = _rng.uniform(0.1, 0.4, size=whole.shape) + 0.5 * _rng.integers(0, 2, size=whole.shape)
        p = whole + frac
        comps.append(p / (size - 1) * 2 - 1 if align_corners else (2 * p + 1) / size - 1)
    return np.stack(comps, axis=-1)


GRAD_COMBOS = list(itertools.product(("bilinear", "bicubic"), PADDINGS, (False, True)))


@pytest.mark.parametrize("mode,padding_mode,align_corners", GRAD_COMBOS, ids=_ids(GRAD_COMBOS))
def test_gradcheck_input_and_grid(device, mode, padding_mode, align_corners):
    cubic = mode == "bicubic"  # 16 taps a point: a smaller case keeps the second-order check fast
    x = _rng.normal(size=(1, 1 if cubic else 2, 3, 4))
    g = _grid_off_kinks((3, 4), (2, 2) if cubic else (2, 3), align_corners)
    check_grad(lambda a, b: grid_sample(a, b, mode=mode, padding_mode=padding_mode, align_corners=align_corners),
               [x, g], device)


def test_gradcheck_nearest_and_trilinear(device):
    x = _rng.normal(size=(1, 2, 3, 4))
    g = _grid_off_kinks((3, 4), (2, 3), False)
    check_grad(lambda a: grid_sample(a, tg.tensor(g, device=device), mode="nearest", align_corners=False) ** 2,
               [x], device)
    x3 = _rng.normal(size=(1, 1, 2, 3, 3))
    comps = [_grid_off_kinks((s, s), (2, 2, 2), True)[..., 0] for s in (3, 3, 2)]  # x, y, z
    check_grad(lambda a, b: grid_sample(a, b, padding_mode="reflection", align_corners=True),
               [x3, np.stack(comps, -1)], device)


# ---------------------------------------------------------------- affine_grid
AFFINE = [((2, 3, 4, 5), False), ((2, 3, 4, 5), True), ((2, 1, 3, 4, 5), False), ((2, 1, 3, 4, 5), True),
          ((2, 1, 1, 4), False)]


@needs_torch
@pytest.mark.parametrize("size,align_corners", AFFINE, ids=[f"{s}-{a}" for s, a in AFFINE])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_affine_grid_matches_torch(device, size, align_corners, dtype):
    k = len(size) - 2
    theta = _rng.normal(size=(size[0], k, k + 1)).astype(dtype)
    check_torch(lambda m, t: _ag(m, t, size, align_corners=align_corners), [theta], device, **_tolerances(dtype))


def test_affine_grid_gradcheck(device):
    check_grad(lambda t: affine_grid(t, (2, 1, 3, 4), align_corners=False) ** 2, [_rng.normal(size=(2, 2, 3))],
               device)
    check_grad(lambda t: affine_grid(t, (1, 1, 2, 3, 2), align_corners=True), [_rng.normal(size=(1, 3, 4))], device)


@needs_torch
def test_spatial_transformer_pipeline_matches_torch(device):
    """theta -> affine_grid -> grid_sample: gradients flow to theta through the grid."""
    x = _rng.normal(size=(2, 3, 6, 5))
    theta = np.tile(np.eye(2, 3), (2, 1, 1)) + _rng.normal(scale=0.3, size=(2, 2, 3))
    check_torch(lambda m, a, t: _gs(m, a, _ag(m, t, (2, 3, 4, 4), align_corners=False), align_corners=False),
                [x, theta], device)



@needs_torch
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identity_theta_gradient_at_the_borders_matches_torch(padding_mode, align_corners, dtype):
    """An identity theta puts grid points exactly on the border pixels' centres (align_corners) or
    half a pixel inside them: PyTorch clips with a zero slope at the end points themselves, and its
    float32 grid comes from its own linspace rounding, so theta's gradient depends on both."""
    img = (np.arange(16, dtype=dtype) ** 2).reshape(1, 1, 4, 4)
    theta = np.eye(2, 3, dtype=dtype)[None]
    grads = []
    for m in (tg, torch):
        t = m.tensor(theta, requires_grad=True)
        out = _gs(m, m.tensor(img), _ag(m, t, (1, 1, 4, 4), align_corners=align_corners),
                  padding_mode=padding_mode, align_corners=align_corners)
        out.sum().backward()
        np.testing.assert_allclose(np.asarray(out.detach().numpy()), img, atol=1e-4)
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-4)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_affine_grid_identity_is_torchs_bit_for_bit(dtype):
    for size in [(1, 1, 3, 7), (1, 1, 10, 33), (1, 1, 5, 6, 7)]:
        for ac in (False, True):
            k = len(size) - 2
            theta = np.eye(k, k + 1, dtype=dtype)[None]
            ours = affine_grid(tg.tensor(theta), size, align_corners=ac).numpy()
            ref = torch.nn.functional.affine_grid(torch.tensor(theta), size, align_corners=ac).numpy()
            np.testing.assert_array_equal(ours, ref)

@needs_torch
def test_align_corners_none_warns_like_torch():
    x, g, theta = tg.zeros(1, 1, 2, 2), tg.zeros(1, 2, 2, 2), tg.zeros(1, 2, 3)
    for call in (lambda: grid_sample(x, g), lambda: affine_grid(theta, (1, 1, 2, 2))):
        with pytest.warns(UserWarning, match="changed to align_corners=False since 1.3.0"):
            call()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grid_sample(x, g, align_corners=False)   # an explicit value: silent
        affine_grid(theta, (1, 1, 2, 2), align_corners=True)
    with pytest.warns(UserWarning, match="unit-size grids"):
        affine_grid(theta, (1, 1, 1, 2), align_corners=True)
    # the default is False, as PyTorch's
    xt = tg.tensor(_rng.normal(size=(1, 1, 3, 3)))
    gt = tg.tensor(_rng.uniform(-1, 1, size=(1, 2, 2, 2)))
    with pytest.warns(UserWarning):
        default = grid_sample(xt, gt)
    np.testing.assert_array_equal(default.numpy(), grid_sample(xt, gt, align_corners=False).numpy())


# ---------------------------------------------------------------- errors
def _gs_args(x_shape, g_shape, gdtype=np.float32, **kw):
    return (np.zeros(x_shape, np.float32), np.zeros(g_shape, gdtype)), dict(align_corners=False, **kw)


GS_ERRORS = [  # (input arrays, kwargs, a fragment of the message); torch raises the same type
    (_gs_args((2, 1, 3, 4), (2, 3, 2)), "expected 4D or 5D input and grid with same number of dimensions"),
    (_gs_args((2, 1, 3, 4), (3, 3, 4, 2)), "same batch size"),
    (_gs_args((2, 1, 3, 4), (2, 3, 4, 3)), "size 2 in last dimension"),
    (_gs_args((2, 1, 3, 3, 3), (2, 3, 4, 5, 2)), "size 3 in last dimension"),
    (_gs_args((2, 1, 3, 4), (2, 3, 4, 2), mode="linear"), "expected mode to be 'bilinear', 'nearest' or 'bicubic'"),
    (_gs_args((2, 1, 3, 4), (2, 3, 4, 2), padding_mode="wrap"), "expected padding_mode to be 'zeros'"),
    (_gs_args((2, 1, 0, 4), (2, 3, 4, 2)), "non-empty spatial dimensions"),
    (_gs_args((2, 1, 3, 3, 3), (2, 3, 4, 5, 3), mode="bicubic"), "bicubic interpolation only supports 4D input"),
    (_gs_args((2, 1, 3, 4), (2, 3, 4, 2), gdtype=np.float64), "same dtype"),
]


@needs_torch
@pytest.mark.parametrize("arrays,kwargs,fragment", [(a, k, f) for (a, k), f in GS_ERRORS],
                         ids=[f for _, f in GS_ERRORS])
def test_grid_sample_errors_match_torchs(arrays, kwargs, fragment):
    with pytest.raises((ValueError, RuntimeError)) as theirs:
        torch.nn.functional.grid_sample(*(torch.tensor(a) for a in arrays), **kwargs)
    with pytest.raises(type(theirs.value), match=fragment) as ours:
        grid_sample(*(tg.tensor(a) for a in arrays), **kwargs)
    assert type(ours.value) is type(theirs.value)


def test_grid_sample_rejects_integer_input_and_non_tensors():
    with pytest.raises(RuntimeError, match="floating point"):
        grid_sample(tg.zeros(1, 1, 2, 2, dtype=tg.int64), tg.zeros(1, 1, 1, 2, dtype=tg.int64), align_corners=False)
    with pytest.raises(TypeError, match="grid_sample"):
        grid_sample(tg.zeros(1, 1, 2, 2), np.zeros((1, 1, 1, 2)), align_corners=False)


AG_ERRORS = [  # (theta shape, theta dtype, size)
    ((2, 2, 3), np.int64, (2, 1, 3, 4)),
    ((2, 3, 3), np.float32, (2, 1, 3, 4)),
    ((2, 2, 3), np.float32, (2, 1, 3, 4, 5)),
    ((2, 2, 3), np.float32, (2, 1, 3)),
    ((2, 2, 3), np.float32, (2, 1, 0, 4)),
]


@needs_torch
@pytest.mark.parametrize("shape,dtype,size", AG_ERRORS, ids=[str(s) for _, _, s in AG_ERRORS])
def test_affine_grid_errors_match_torchs(shape, dtype, size):
    theta = np.zeros(shape, dtype)
    with pytest.raises((ValueError, NotImplementedError)) as theirs:
        torch.nn.functional.affine_grid(torch.tensor(theta), size, align_corners=False)
    with pytest.raises(type(theirs.value)) as ours:
        affine_grid(tg.tensor(theta), size, align_corners=False)
    assert str(ours.value).split(" Got ")[0].split(", but got")[0] == \
        str(theirs.value).split(" Got ")[0].split(", but got")[0]


def test_affine_grid_batch_mismatch_names_both_sizes():
    with pytest.raises(RuntimeError, match=r"affine_grid\(\): theta holds 2 matrices .* batch of 3"):
        affine_grid(tg.zeros(2, 2, 3), (3, 1, 3, 4), align_corners=False)
