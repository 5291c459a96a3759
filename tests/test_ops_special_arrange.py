"""ops/special.py and ops/arrange.py: float64 grad/gradgrad checks and PyTorch as the oracle (values, dtypes,
gradients) for the special/inverse-trig math, binary math, scans, shape helpers and the
addmm/tensordot/cdist family; one error-message test per family."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch, noncontig, rand, to_tg, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: oracle tests skipped")


def _m(m):
    """The functions' home: tensorgrad (top level) or torch, for the oracle."""
    return m


def oracle(fn, arrays, device, **kw):
    """check_torch with fn(m, ...) where m is tensorgrad or torch."""
    return check_torch(lambda m, *a: fn(_m(m), *a), arrays, device, **kw)


def grad(fn, arrays, device, **kw):
    return check_grad(lambda *a: fn(tg, *a), arrays, device, **kw)


def _input(shape, dom, dtype=np.float64):
    return rand(*shape, low=dom[0], high=dom[1]).astype(dtype)


def _t(a, device):
    return to_tg(np.asarray(a), device, False)


# ---------------------------------------------------------------- unary math
UNARY = {
    "erf": (lambda m, x: m.erf(x), (-3, 3)),
    "erfc": (lambda m, x: m.erfc(x), (-3, 3)),
    "erfinv": (lambda m, x: m.erfinv(x), (-0.95, 0.95)),
    "sinh": (lambda m, x: m.sinh(x), (-2, 2)),
    "cosh": (lambda m, x: m.cosh(x), (-2, 2)),
    "asin": (lambda m, x: m.asin(x), (-0.9, 0.9)),
    "acos": (lambda m, x: m.acos(x), (-0.9, 0.9)),
    "atan": (lambda m, x: m.atan(x), (-3, 3)),
    "asinh": (lambda m, x: m.asinh(x), (-3, 3)),
    "acosh": (lambda m, x: m.acosh(x), (1.2, 3)),
    "atanh": (lambda m, x: m.atanh(x), (-0.9, 0.9)),
    "logit": (lambda m, x: m.logit(x), (0.05, 0.95)),
    "logit_eps": (lambda m, x: m.logit(x, eps=0.25), (0.02, 0.98)),
    "nan_to_num": (lambda m, x: m.nan_to_num(x), (-2, 2)),
}
SHAPES = [(2, 3), (1,), (), (0, 3)]


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name, device):
    fn, dom = UNARY[name]
    for shape in SHAPES:
        grad(fn, [_input(shape, dom)], device)
    grad(fn, [noncontig(_input((3, 2), dom))], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name, dtype, device):
    fn, dom = UNARY[name]
    oracle(fn, [noncontig(_input((3, 4), dom, dtype))], device)
    oracle(fn, [_input((), dom, dtype)], device)
    oracle(fn, [_input((0, 2), dom, dtype)], device)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_integer_and_bool_inputs(name, device):
    """int/bool inputs: the default float dtype (nan_to_num: a copy), as in PyTorch."""
    fn = UNARY[name][0]
    for dtype in (np.int64, np.int32, np.bool_):
        x = rand(2, 3, dtype=dtype, low=-1 if name not in ("acosh",) else 1, high=1 if name != "acosh" else 3)
        oracle(fn, [x], device, backward=False)


def test_erfinv_accuracy_and_special_values(device):
    x = np.concatenate([np.linspace(-0.9999, 0.9999, 4001), np.logspace(-300, -1, 50)])
    got = tg.erfinv(_t(x, device)).cpu().numpy()
    np.testing.assert_allclose(got, torch.erfinv(torch.tensor(x)).numpy(), rtol=1e-12, atol=0)
    # the far tail: erfc(erfinv(x)) gives back 1 - x (torch's own erfinv is ~1e-10 off there)
    tail = 1 - np.logspace(-16, -2, 60)
    y = tg.erfinv(_t(tail, device))
    np.testing.assert_allclose(tg.erfc(y).cpu().numpy(), 1 - tail, rtol=1e-12)
    special = np.array([1.0, -1.0, 1.5, -2.0, np.nan, 0.0, -0.0])
    oracle(lambda m, v: m.erfinv(v), [special], device, backward=False)
    np.testing.assert_array_equal(np.signbit(tg.erfinv(_t(special, device)).cpu().numpy()[-2:]), [False, True])


def test_nan_to_num_values_and_gradient(device):
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    for kw in ({}, {"nan": 2.0}, {"posinf": 7.0, "neginf": -7.0}, {"nan": -1.0, "posinf": 1e300}):
        for dt in (np.float32, np.float64):
            oracle(lambda m, v: m.nan_to_num(v, **kw), [x.astype(dt)], device)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 in gradients, as torch
def test_logit_outside_unit_interval_matches_torch(device):
    x = np.array([-0.5, 0.0, 0.1, 0.5, 1.0, 1.5])
    oracle(lambda m, v: m.logit(v), [x], device)
    oracle(lambda m, v: m.logit(v, 0.2), [x], device)


def test_unary_errors():
    with pytest.raises(TypeError, match=r"erf\(\): argument 'input'"):
        tg.erf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"nan_to_num\(\): argument 'input' must be a Tensor"):
        tg.nan_to_num(3.0)


# ---------------------------------------------------------------- binary math
BINARY = {
    "atan2": (lambda m, a, b: m.atan2(a, b), (-2, 2), (-2, 2)),
    "logaddexp": (lambda m, a, b: m.logaddexp(a, b), (-3, 3), (-3, 3)),
    "hypot": (lambda m, a, b: m.hypot(a, b), (-2, 2), (-2, 2)),
    "xlogy": (lambda m, a, b: m.xlogy(a, b), (-2, 2), (0.2, 3)),
}
BINARY_SHAPES = [((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2,)), ((2,), ()), ((0, 3), (1, 3)), ((1,), (1,))]


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck(name, device):
    fn, da, db = BINARY[name]
    for sa, sb in BINARY_SHAPES:
        grad(fn, [_input(sa, da), _input(sb, db)], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_torch(name, dtype, device):
    fn, da, db = BINARY[name]
    oracle(fn, [noncontig(_input((2, 3), da, dtype)), _input((3,), db, dtype)], device)
    oracle(fn, [_input((4, 1), da, dtype), _input((1, 3), db, dtype)], device)
    oracle(fn, [_input((), da, dtype), _input((0,), db, dtype)], device)


def test_binary_dtypes_match_torch(device):
    i = np.array([1, 2, -3])
    for name in ("atan2", "xlogy"):
        oracle(BINARY[name][0], [i, np.abs(i)], device, backward=False)
    oracle(lambda m, a, b: m.atan2(a, b), [i, np.array([0.5, 1.0, 2.0], dtype=np.float32)], device)
    oracle(lambda m, a, b: m.atan2(a, b), [np.array([0.5], np.float32), np.array([2.0])], device)
    for name in ("hypot", "logaddexp"):
        with pytest.raises(RuntimeError, match=f'"{name}" not implemented for int64'):
            BINARY[name][0](tg, _t(i, device), _t(i, device))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 in gradients, as torch
def test_binary_special_values(device):
    v = np.array([np.inf, -np.inf, 0.0, 1.0, np.nan])
    a, b = np.repeat(v, 5), np.tile(v, 5)
    oracle(lambda m, x, y: m.logaddexp(x, y), [a, b], device, backward=False)
    oracle(lambda m, x, y: m.atan2(x, y), [a, b], device, backward=False)
    oracle(lambda m, x, y: m.hypot(x, y), [a, b], device, backward=False)
    oracle(lambda m, x, y: m.xlogy(x, y), [a, b], device, backward=False)
    # xlogy's PyTorch gradients at x == 0 (y <= 0 masks d/dx, d/dy is grad * x / y)
    oracle(lambda m, x, y: m.xlogy(x, y), [np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, -1.0, 2.0, 3.0])],
           device)


def test_xlogy_scalar_operands(device):
    oracle(lambda m, x: m.xlogy(2.0, x), [_input((3,), (0.2, 2))], device)
    oracle(lambda m, x: m.xlogy(x, 3), [_input((3,), (-2, 2))], device)
    oracle(lambda m, x: m.xlogy(0, x), [np.array([0.0, 1.0, np.nan])], device, backward=False)
    grad(lambda m, x: m.xlogy(x, 2.5), [_input((2, 3), (-2, 2))], device)


def test_binary_errors(device):
    a = _t(np.ones((2, 3)), device)
    with pytest.raises(RuntimeError, match=r"atan2: .*size of tensor a \(3\) must match .* \(4\)"):
        tg.atan2(a, _t(np.ones(4), device))
    with pytest.raises(TypeError, match=r"hypot\(\): argument 'other' \(position 2\) must be Tensor"):
        tg.hypot(a, 2.0)
    with pytest.raises(TypeError, match="xlogy.*at least one Tensor"):
        tg.xlogy(1.0, 2.0)


# ---------------------------------------------------------------- scans and counts
WITH_ZEROS = np.array([[1.5, 0.0, 2.0, -3.0, 0.5],
                       [0.0, 0.0, 2.0, 1.0, -1.5],
                       [2.0, -1.0, 0.7, 0.0, 1.2],
                       [0.8, 1.1, -0.6, 1.3, 0.9]])


def test_cumprod_gradcheck(device):
    for shape, dim in (((2, 3), 0), ((2, 3), 1), ((2, 3), -1), ((), 0), ((0, 3), 1), ((4,), 0)):
        grad(lambda m, x: m.cumprod(x, dim), [_input(shape, (0.5, 1.5)) * np.sign(_input(shape, (-1, 1)))],
             device)
    for dim in (0, 1):  # zeros, one or several in a slice: first and second derivatives exact
        grad(lambda m, x: m.cumprod(x, dim), [WITH_ZEROS], device)
    grad(lambda m, x: m.cumprod(x, 0), [np.zeros(4)], device)


def test_cumprod_double_backward_with_zeros_matches_torch(device):
    g, v = rand(4, 5), rand(4, 5)
    hv = []
    for m in (tg, torch):
        x = (to_tg(WITH_ZEROS.copy(), device) if m is tg else torch.tensor(WITH_ZEROS, requires_grad=True))
        gt, vt = ((_t(g, device), _t(v, device)) if m is tg else (torch.tensor(g), torch.tensor(v)))
        (gx,) = m.autograd.grad(_m(m).cumprod(x, 1), x, gt, create_graph=True)
        (h,) = m.autograd.grad(gx, x, vt)
        hv.append(h.detach().cpu().numpy())
    np.testing.assert_allclose(hv[0], hv[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cumprod_matches_torch(dtype, device):
    for dim in (0, 1, -1):
        oracle(lambda m, x: m.cumprod(x, dim), [WITH_ZEROS.astype(dtype)], device)
        oracle(lambda m, x: m.cumprod(x, dim), [noncontig(_input((3, 4), (-1.5, 1.5), dtype))], device)
    oracle(lambda m, x: m.cumprod(x, 0), [_input((), (-2, 2), dtype)], device)
    oracle(lambda m, x: m.cumprod(x, 1), [_input((0, 3), (-2, 2), dtype)], device)
    oracle(lambda m, x: m.cumprod(x, 0), [np.zeros(4, dtype)], device)


def test_cumprod_dtypes(device):
    for dt in (np.int32, np.int64, np.bool_, np.uint8):
        oracle(lambda m, x: m.cumprod(x, 0), [rand(5, dtype=dt, low=0, high=3)], device, backward=False)
    f64 = {tg: tg.float64, torch: torch.float64}
    oracle(lambda m, x: m.cumprod(x, 0, dtype=f64[m]), [rand(5, dtype=np.int64, low=-3, high=3)], device,
           backward=False)


def test_logcumsumexp(device):
    for shape, dim in (((3, 4), 1), ((3, 4), 0), ((), 0), ((0, 2), 0), ((5,), -1)):
        grad(lambda m, x: m.logcumsumexp(x, dim), [_input(shape, (-3, 3))], device)
    for dt in (np.float32, np.float64):
        oracle(lambda m, x: m.logcumsumexp(x, 1), [noncontig(_input((3, 4), (-3, 3), dt))], device)
        # no overflow; the gradient's exp(x - y) magnifies float32 rounding by |x| (~900 here)
        oracle(lambda m, x: m.logcumsumexp(x * 300, 0), [_input((6, 2), (-3, 3), dt)], device,
               rtol=1e-5 if dt == np.float64 else 2e-3)
    oracle(lambda m, x: m.logcumsumexp(x, 0), [np.array([-np.inf, 1.0, np.inf, 2.0])], device, backward=False)
    with pytest.raises(NotImplementedError, match='"logcumsumexp" not implemented for int64'):
        tg.logcumsumexp(_t(np.array([1, 2, 3]), device), 0)  # as in PyTorch


def test_count_nonzero(device):
    for dt in (np.float64, np.int64, np.bool_):
        x = rand(3, 4, dtype=dt, low=-1, high=1) * (rand(3, 4) > 0)
        for dim in (None, 0, 1, -1, (0, 1)):
            oracle(lambda m, v: m.count_nonzero(v, dim), [x.astype(dt)], device, backward=False)
    oracle(lambda m, v: m.count_nonzero(v), [np.array(0.0)], device, backward=False)
    oracle(lambda m, v: m.count_nonzero(v, 0), [np.zeros((0, 3))], device, backward=False)


def test_diff(device):
    x = _input((3, 5), (-2, 2))
    for n, dim in ((1, -1), (2, 1), (1, 0), (3, 0), (0, 1), (7, 1)):
        oracle(lambda m, v: m.diff(v, n, dim), [x], device)
        grad(lambda m, v: m.diff(v, n, dim), [x], device)
    oracle(lambda m, v, p, a: m.diff(v, 2, 0, prepend=p, append=a), [x, _input((1, 5), (-1, 1)),
                                                                        _input((2, 5), (-1, 1))], device)
    grad(lambda m, v, p: m.diff(v, 1, 1, prepend=p), [x, _input((3, 2), (-1, 1))], device)
    oracle(lambda m, v: m.diff(v), [np.array([True, False, False, True])], device, backward=False)
    oracle(lambda m, v: m.diff(v, 2), [np.array([1, 4, 9, 16], np.int32)], device, backward=False)
    oracle(lambda m, v: m.diff(v), [np.zeros((2, 0))], device)


def test_scan_errors(device):
    x = _t(np.ones((2, 3)), device)
    with pytest.raises(IndexError, match=r"cumprod\(\): dimension out of range .*\[-2, 1\], but got 2"):
        tg.cumprod(x, 2)
    with pytest.raises(RuntimeError, match="diff expects input to be at least one-dimensional"):
        tg.diff(_t(np.array(1.0), device))
    with pytest.raises(RuntimeError, match="order must be non-negative but got -1"):
        tg.diff(x, -1)
    with pytest.raises(RuntimeError, match="diff expects prepend to be a tensor with as many dims as input"):
        tg.diff(x, prepend=_t(np.ones(3), device))
    with pytest.raises(TypeError, match=r"logcumsumexp\(\): argument 'input' \(position 1\) must be Tensor"):
        tg.logcumsumexp([1.0], 0)


# ---------------------------------------------------------------- shape and indexing
def test_roll(device):
    x = _input((3, 4), (-2, 2))
    for shifts, dims in ((1, None), (-5, None), (2, 1), ((1, -2), (0, 1)), ((3, 1), (1, 1)), (7, 0)):
        oracle(lambda m, v: m.roll(v, shifts, dims), [x], device)
        grad(lambda m, v: m.roll(v, shifts, dims), [x], device)
    oracle(lambda m, v: m.roll(v, 1), [_input((), (-2, 2))], device)
    oracle(lambda m, v: m.roll(v, 2, 0), [_input((0, 3), (-2, 2))], device)


def test_repeat_interleave(device):
    x = _input((2, 3), (-2, 2))
    oracle(lambda m, v: m.repeat_interleave(v, 2), [x], device)
    oracle(lambda m, v: m.repeat_interleave(v, 3, dim=0), [x], device)
    oracle(lambda m, v, r: m.repeat_interleave(v, r, dim=1), [x, np.array([0, 2, 1])], device)
    oracle(lambda m, v, r: m.repeat_interleave(v, r, dim=-2), [x, np.array([3])], device)
    oracle(lambda m, v, r: m.repeat_interleave(v, r, dim=0), [x, np.array(2)], device)
    oracle(lambda m, v: m.repeat_interleave(v, 2), [_input((), (-2, 2))], device)
    oracle(lambda m, r: m.repeat_interleave(r), [np.array([1, 0, 3])], device)
    grad(lambda m, v: m.repeat_interleave(v, 2, dim=1), [x], device)
    check_grad(lambda v: tg.repeat_interleave(v, _t(np.array([2, 0]), device), dim=0), [x], device)


def test_diag_diagonal_trace(device):
    for k in (0, 1, -2):
        oracle(lambda m, v: m.diag(v, k), [_input((3,), (-2, 2))], device)
        grad(lambda m, v: m.diag(v, k), [_input((3,), (-2, 2))], device)
        oracle(lambda m, v: m.diag(v, k), [noncontig(_input((3, 4), (-2, 2)))], device)
        grad(lambda m, v: m.diag(v, k), [_input((3, 4), (-2, 2))], device)
    oracle(lambda m, v: m.diag(v), [_input((0,), (-2, 2))], device)
    oracle(lambda m, v: m.diag(v, 5), [_input((2, 3), (-2, 2))], device)  # past the corner: empty
    y = _input((2, 3, 4), (-2, 2))
    for off, d1, d2 in ((0, 0, 1), (1, 2, 0), (-1, 1, 2), (2, -1, -2)):
        oracle(lambda m, v: m.diagonal(v, off, d1, d2), [y], device)
        grad(lambda m, v: m.diagonal(v, off, d1, d2), [y], device)
    for a in (_input((3, 3), (-2, 2)), _input((2, 4), (-2, 2)), _input((0, 3), (-2, 2))):
        oracle(lambda m, v: m.trace(v), [a], device)
        grad(lambda m, v: m.trace(v), [a], device)
    oracle(lambda m, v: m.trace(v), [rand(3, 3, dtype=np.int32)], device, backward=False)


def test_meshgrid(device):
    a, b, c = _input((2,), (-2, 2)), _input((3,), (-2, 2)), _input((), (-2, 2))
    for indexing in ("ij", "xy"):
        oracle(lambda m, *t: m.meshgrid(*t, indexing=indexing), [a, b, c], device)
        oracle(lambda m, *t: m.meshgrid(list(t), indexing=indexing), [a, b], device)
        grad(lambda m, *t: [g * 1.0 for g in m.meshgrid(*t, indexing=indexing)], [a, b], device)
    oracle(lambda m, t: m.meshgrid(t, indexing="xy"), [a], device)
    oracle(lambda m, *t: m.meshgrid(*t, indexing="ij"), [a, _input((0,), (-2, 2))], device)


def test_tensor_split(device):
    x = _input((7, 2), (-2, 2))
    for ios, dim in ((3, 0), (7, 0), (9, 0), (1, 1), ([2, 5], 0), ([-3, 2, 20], 0), ([5, 2], 0), ([], 0),
                     ([1], -1)):
        oracle(lambda m, v: m.tensor_split(v, ios, dim), [x], device)
    oracle(lambda m, v, i: m.tensor_split(v, i), [x, np.array([1, 4])], device)
    oracle(lambda m, v, i: m.tensor_split(v, i, 1), [x, np.array(2)], device)
    grad(lambda m, v: m.tensor_split(v, 3), [x], device)
    grad(lambda m, v: m.tensor_split(v, [1, 3]), [x], device)


def test_rot90(device):
    x = _input((2, 3, 4), (-2, 2))
    for k in (0, 1, 2, 3, 4, -1, 5):
        for dims in ((0, 1), (1, 2), (2, 0), (-1, -3)):
            oracle(lambda m, v: m.rot90(v, k, dims), [x], device)
    grad(lambda m, v: m.rot90(v, 1, (1, 2)), [x], device)
    grad(lambda m, v: m.rot90(v, 3), [x], device)


def test_tril_triu_indices(device):
    for row, col, off in ((3, 3, 0), (3, 4, 1), (4, 3, -1), (4, 3, -9), (3, 3, 9), (0, 0, 0), (1, 5, 2)):
        for name in ("tril_indices", "triu_indices"):
            got = getattr(tg, name)(row, col, off, device=device)
            want = getattr(torch, name)(row, col, off)
            assert got.dtype == tg.int64 and got.device.type == device
            np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())
    assert tg.tril_indices(3, 3, dtype=tg.int32).dtype == tg.int32


def test_shape_errors(device):
    x = _t(np.ones((2, 3)), device)
    with pytest.raises(RuntimeError, match="roll: shifts and dimensions must align. shifts: 2, dims: 1"):
        tg.roll(x, (1, 2), 0)
    with pytest.raises(RuntimeError, match="repeat_interleave: repeats must have the same size as input"):
        tg.repeat_interleave(x, _t(np.array([1, 2]), device), dim=1)
    with pytest.raises(RuntimeError, match="repeat_interleave: repeats can not be negative"):
        tg.repeat_interleave(x, -1)
    with pytest.raises(RuntimeError, match=r"diag\(\): Supports 1D or 2D tensors. Got 3D"):
        tg.diag(_t(np.ones((2, 2, 2)), device))
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical 0, -2"):
        tg.diagonal(x, 0, 0, -2)
    with pytest.raises(RuntimeError, match="trace: expected a matrix, but got tensor with dim 1"):
        tg.trace(_t(np.ones(3), device))
    with pytest.raises(RuntimeError, match="meshgrid: Expected 0D or 1D tensor"):
        tg.meshgrid(x)
    with pytest.raises(RuntimeError, match="number of sections must be larger than 0, got 0"):
        tg.tensor_split(x, 0)
    with pytest.raises(RuntimeError, match="expected rotation dims to be different"):
        tg.rot90(x, 1, (1, -1))
    with pytest.raises(RuntimeError, match="expected total dims >= 2, but got total dims = 1"):
        tg.rot90(_t(np.ones(3), device))
    with pytest.raises(RuntimeError, match="tril_indices: row must be a non-negative int"):
        tg.tril_indices(-1, 3)


# ---------------------------------------------------------------- linear algebra helpers
def test_addmm_baddbmm(device):
    a, b = _input((2, 3), (-1, 1)), _input((3, 4), (-1, 1))
    for inp_shape in ((2, 4), (4,), (1, 4), ()):
        for kw in ({}, {"beta": 0.5, "alpha": -2.0}, {"beta": 0}):
            inp = _input(inp_shape, (-1, 1))
            oracle(lambda m, i, x, y: m.addmm(i, x, y, **kw), [inp, a, b], device)
            grad(lambda m, i, x, y: m.addmm(i, x, y, **kw), [inp, a, b], device)
    nan_in = np.full((2, 4), np.nan)
    oracle(lambda m, i, x, y: m.addmm(i, x, y, beta=0), [nan_in, a, b], device)  # input ignored
    b1, b2 = _input((2, 2, 3), (-1, 1)), _input((2, 3, 4), (-1, 1))
    for inp_shape in ((2, 2, 4), (1, 4), ()):
        for kw in ({}, {"beta": 2.0, "alpha": 0.5}):
            inp = _input(inp_shape, (-1, 1))
            oracle(lambda m, i, x, y: m.baddbmm(i, x, y, **kw), [inp, b1, b2], device)
            grad(lambda m, i, x, y: m.baddbmm(i, x, y, **kw), [inp, b1, b2], device)
    oracle(lambda m, i, x, y: m.addmm(i, x, y), [_input((2, 4), (-1, 1), np.float32),
                                                  _input((2, 3), (-1, 1), np.float32),
                                                  _input((3, 4), (-1, 1), np.float32)], device)


def test_tensordot(device):
    a, b = _input((2, 3, 4), (-1, 1)), _input((3, 4, 5), (-1, 1))
    cases = [(a, b, 2), (a, _input((4, 2), (-1, 1)), 1), (_input((2, 3), (-1, 1)), _input((4,), (-1, 1)), 0),
             (a, _input((4, 3, 2), (-1, 1)), ([1, 2], [1, 0])), (a, _input((3,), (-1, 1)), ([1], [0])),
             (_input((3,), (-1, 1)), _input((3,), (-1, 1)), 1), (_input((0, 3), (-1, 1)), _input((3, 2), (-1, 1)), 1),
             (_input((2, 0), (-1, 1)), _input((0, 3), (-1, 1)), 1)]
    for x, y, dims in cases:
        oracle(lambda m, u, v: m.tensordot(u, v, dims=dims), [x, y], device)
        grad(lambda m, u, v: m.tensordot(u, v, dims=dims), [x, y], device)


def test_cdist(device):
    x1, x2 = _input((3, 4), (-1, 1)), _input((5, 4), (-1, 1))
    for p in (2.0, 1.0, 3.0, math.inf, 0.5):
        oracle(lambda m, u, v: m.cdist(u, v, p), [x1, x2], device)
        grad(lambda m, u, v: m.cdist(u, v, p), [x1, x2], device)
    x2[1] = x1[0]  # a zero distance: PyTorch's zero gradient there, for each p (p=0 counts: all zero)
    for p in (2.0, 1.0, 3.0, math.inf, 0.0):
        oracle(lambda m, u, v: m.cdist(u, v, p), [x1, x2], device)
    oracle(lambda m, u, v: m.cdist(u, v), [_input((2, 3, 4), (-1, 1)), _input((2, 5, 4), (-1, 1))], device)
    oracle(lambda m, u, v: m.cdist(u, v), [_input((2, 3, 4), (-1, 1), np.float32),
                                           _input((1, 5, 4), (-1, 1), np.float32)], device)
    oracle(lambda m, u, v: m.cdist(u, v), [_input((0, 4), (-1, 1)), x2], device)


def test_linalg_errors(device):
    m34, m23 = _t(np.ones((3, 4)), device), _t(np.ones((2, 3)), device)
    with pytest.raises(RuntimeError, match=r"addmm: input of shape \[3, 4\] does not broadcast to .* \[2, 4\]"):
        tg.addmm(m34, m23, m34)
    with pytest.raises(RuntimeError, match="addmm: expected input to have dtype float64"):
        tg.addmm(_t(np.ones((2, 4), np.float32), device), m23, m34)
    with pytest.raises(RuntimeError, match="contracted dimensions need to match, but first has size 3 in dim 1 "
                                           "and second has size 4 in dim 0"):
        tg.tensordot(m23, _t(np.ones((4, 3)), device), 1)
    with pytest.raises(RuntimeError, match="cdist only supports at least 2D tensors, X1 got: 1D"):
        tg.cdist(_t(np.ones(3), device), m34)
    with pytest.raises(RuntimeError, match="X1 and X2 must have the same number of columns. X1: 3 X2: 4"):
        tg.cdist(m23, m34)
    with pytest.raises(RuntimeError, match="cdist only supports non-negative p values"):
        tg.cdist(m34, m34, -1.0)


def test_log_scan_of_the_cuda_path_is_exact_far_below_the_maximum():
    """logcumsumexp on CUDA scans in log space (backend.log_scan); here it runs on NumPy against
    logaddexp.accumulate, with entries far below the slice's maximum (a max-shift would give -inf)."""
    from tensorgrad import backend
    for x in (np.array([-800.0, -120.0, -50.0, 0.0]), np.float32([-800, -120, -50, 0]),
              np.random.default_rng(3).normal(size=(3, 7, 5)) * 50, np.array([-np.inf, 0.0, np.inf, 1.0])):
        for axis in range(x.ndim):
            np.testing.assert_allclose(backend.log_scan(np, x, axis), np.logaddexp.accumulate(x, axis=axis),
                                       rtol=1e-6)


@needs_torch
def test_diagonal_is_a_view_that_in_place_ops_write_through():
    for lib in (tg, torch):
        a = lib.zeros(3, 3)
        a.diagonal().add_(1)
        b = lib.zeros(2, 3, 4)
        lib.diagonal(b, 1, 1, 2).fill_(2)
        assert float(a.sum()) == 3.0 and float(b.sum()) == 12.0


@needs_torch
def test_float16_scans_accumulate_in_float32_as_torch():
    x = np.random.default_rng(4).uniform(0.9, 1.1, 300).astype(np.float16)
    np.testing.assert_array_equal(tg.tensor(x).cumprod(0).numpy(), torch.tensor(x).cumprod(0).numpy())
    y = np.random.default_rng(5).normal(size=300).astype(np.float16)
    np.testing.assert_allclose(tg.tensor(y).logcumsumexp(0).numpy().astype(np.float64),
                               torch.tensor(y).logcumsumexp(0).numpy().astype(np.float64), rtol=1e-3)
