"""ops/pointwise_extra.py: float64 grad/gradgrad checks and PyTorch as the oracle (values, dtypes, gradients,
edge values, tie conventions) for heaviside, signbit, copysign, nextafter, float_power, frexp, ldexp, gcd, lcm,
rad2deg, deg2rad, sgn, fix, positive, conj & co., angle, i0, sinc, logaddexp2, fmax and fmin."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.ops import pointwise_extra
from oracle import check_grad, check_torch, needs_torch, noncontig, rand, to_tg, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: oracle tests skipped")

EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-20, -1e-20, 1e20, -3.5, 30.0, -700.0, 2.0])


def grad(fn, arrays, device, **kw):
    return check_grad(lambda *a: fn(tg, *a), arrays, device, **kw)


def _input(shape, dom, dtype=np.float64):
    return rand(*shape, low=dom[0], high=dom[1]).astype(dtype)


def _t(a, device, requires_grad=False):
    return to_tg(np.asarray(a), device, requires_grad)


# ---------------------------------------------------------------- unary, differentiable
UNARY = {
    "i0": (lambda m, x: m.i0(x), (-5, 5)),
    "i0_large": (lambda m, x: m.i0(x), (18, 40)),  # across the series / asymptotic switch at 20
    "sinc": (lambda m, x: m.sinc(x), (-3, 3)),
    "rad2deg": (lambda m, x: m.rad2deg(x), (-3, 3)),
    "deg2rad": (lambda m, x: m.deg2rad(x), (-300, 300)),
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
    check_torch(fn, [noncontig(_input((3, 4), dom, dtype))], device)
    check_torch(fn, [_input((), dom, dtype)], device)
    check_torch(fn, [_input((0, 2), dom, dtype)], device)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["i0", "sinc", "rad2deg", "deg2rad", "angle", "sgn", "fix"])
def test_unary_edge_values_match_torch(name, device):
    """0, ±0, ±inf, NaN, tiny and huge values: outputs and gradients (sinc'(0) = 0, i0'(0) = 0, ...)."""
    fn = lambda m, x: getattr(m, name)(x)  # noqa: E731
    backward = name != "sgn"  # torch's sgn gradient is a ZeroTensor, which numpy() refuses: see below
    for dt in (np.float64, np.float32):
        check_torch(fn, [EDGES.astype(dt)], device, rtol=1e-5, atol=1e-30, backward=backward)
    check_torch(fn, [EDGES.astype(np.float16)], device, rtol=2e-3, atol=1e-3, backward=backward)


def test_i0_values_match_torch(device):
    x = np.concatenate([np.linspace(-50, 50, 2001), [700.0, -700.0, 720.0, -720.0]])
    check_torch(lambda m, v: m.i0(v), [x], device, rtol=1e-12, atol=0)
    check_torch(lambda m, v: m.i0(v), [x.astype(np.float32)], device, rtol=2e-6, atol=0)
    # 709.8 < x < 713.9: I0 is finite, though e**x is not (torch's own i0 overflows to inf there)
    near = np.array([710.0, 713.0, -713.5])
    got = np.log(tg.i0(_t(near, device)).cpu().numpy())
    want = np.log(torch.special.i0e(torch.tensor(near)).numpy()) + np.abs(near)
    np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["i0", "sinc", "rad2deg", "deg2rad", "angle", "sgn", "fix", "signbit"])
def test_unary_integer_and_bool_inputs(name, device):
    """Math of int/bool tensors gives the default float dtype; sgn/fix/signbit keep theirs (as PyTorch)."""
    fn = lambda m, x: getattr(m, name)(x)  # noqa: E731
    for dtype in (np.int64, np.int32, np.int8):
        check_torch(fn, [rand(2, 3, dtype=dtype, low=-3, high=3)], device, backward=False)
    if name != "fix":  # torch.fix has no bool kernel (tested in test_errors)
        check_torch(fn, [np.array([True, False])], device, backward=False)


def test_angle_and_sign_family_gradients_are_zero(device):
    x = np.array([-1.5, 0.5, 2.0, np.nan])
    for name in ("angle", "fix"):
        check_torch(lambda m, v: getattr(m, name)(v), [x], device)
    t = _t(x, device, True)
    tg.sgn(t).backward(_t([1.0, 2.0, np.inf, 3.0], device))
    np.testing.assert_array_equal(t.grad.cpu().numpy(), np.zeros(4))  # PyTorch: zeros


def test_signbit_matches_torch(device):
    x = np.array([-0.0, 0.0, -1.0, 1.0, np.inf, -np.inf, np.nan, -np.nan])
    for dt in (np.float64, np.float32, np.float16):
        check_torch(lambda m, v: m.signbit(v), [x.astype(dt)], device, backward=False)
    out = tg.signbit(_t(x, device, True))
    assert out.dtype == tg.bool and not out.requires_grad


# ---------------------------------------------------------------- binary, differentiable
BINARY = {
    "copysign": (lambda m, a, b: m.copysign(a, b), (-2, 2), (-2, 2)),
    "float_power": (lambda m, a, b: m.float_power(a, b), (0.2, 3), (-2, 2)),
    "ldexp": (lambda m, a, b: m.ldexp(a, b), (-2, 2), (-3, 3)),
    "fmax": (lambda m, a, b: m.fmax(a, b), (-2, 2), (-2, 2)),
    "fmin": (lambda m, a, b: m.fmin(a, b), (-2, 2), (-2, 2)),
    "logaddexp2": (lambda m, a, b: m.logaddexp2(a, b), (-3, 3), (-3, 3)),
    "nextafter": (lambda m, a, b: m.nextafter(a, b), (-2, 2), (-2, 2)),
}
BINARY_SHAPES = [((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2,)), ((2,), ()), ((0, 3), (1, 3))]


@pytest.mark.parametrize("name", sorted(set(BINARY) - {"nextafter"}))  # nextafter's gradient is not the
def test_binary_gradcheck(name, device):                                 # derivative (identity, as PyTorch)
    fn, da, db = BINARY[name]
    for sa, sb in BINARY_SHAPES:
        a, b = _input(sa, da), _input(sb, db)
        if name == "copysign":  # keep away from the jump at 0
            a, b = a + np.sign(a) * 0.1, b + np.sign(b) * 0.1
        grad(fn, [a, b], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_torch(name, dtype, device):
    fn, da, db = BINARY[name]
    check_torch(fn, [noncontig(_input((2, 3), da, dtype)), _input((3,), db, dtype)], device)
    check_torch(fn, [_input((4, 1), da, dtype), _input((1, 3), db, dtype)], device)
    check_torch(fn, [_input((), da, dtype), _input((0,), db, dtype)], device)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_edge_values_match_torch(name, device):
    """Every pair of edge values (±0, ±inf, NaN, ties): outputs and both gradients, as PyTorch —
    copysign's 0 gradient at input ±0, fmax/fmin sending ties and NaN pairs to input, ..."""
    v = np.array([0.0, -0.0, 1.0, -2.0, np.inf, -np.inf, np.nan])
    a, b = np.repeat(v, len(v)), np.tile(v, len(v))
    fn = BINARY[name][0]
    for dt in (np.float64, np.float32):
        check_torch(fn, [a.astype(dt), b.astype(dt)], device, atol=1e-30)


def test_float_power_dtypes_and_scalars(device):
    """Always float64 (integer and float32 inputs too); the gradient comes back in the input's dtype."""
    f32, i = _input((3,), (0.5, 2), np.float32), np.array([1, 2, 3])
    check_torch(lambda m, a, b: m.float_power(a, b), [f32, i], device)
    check_torch(lambda m, a, b: m.float_power(a, b), [i, np.array([2, -1, 0])], device, backward=False)
    check_torch(lambda m, a: m.float_power(a, 2), [f32], device)
    check_torch(lambda m, a: m.float_power(a, -1.5), [f32], device)
    check_torch(lambda m, a: m.float_power(2, a), [f32], device)
    check_torch(lambda m, a: m.float_power(a, 0), [np.array([0.0, 1.0, -2.0])], device)
    grad(lambda m, a: m.float_power(a, 2.5), [_input((2, 3), (0.5, 2))], device)
    grad(lambda m, a: m.float_power(1.5, a), [_input((2, 3), (-2, 2))], device)


def test_binary_dtype_promotion_matches_torch(device):
    i, f16 = np.array([1, -2, 3]), np.array([0.5, -1.0, 2.0], np.float16)
    f32, f64 = f16.astype(np.float32), f16.astype(np.float64)
    for fn in (BINARY["copysign"][0], BINARY["ldexp"][0]):
        for a, b in ((i, i), (f16, i), (f32, f64), (i, f32), (np.array([True, False, True]), i)):
            check_torch(fn, [a, b], device, backward=False)
    check_torch(lambda m, a: m.copysign(a, -1.0), [i], device, backward=False)
    check_torch(lambda m, a: m.copysign(a, -1), [f32], device)
    for name in ("fmax", "fmin"):
        for a, b in ((i, i), (i, f32), (f16, f32), (np.array([True, False, False]), np.array([False, False, True]))):
            check_torch(BINARY[name][0], [a, b], device, backward=False)
    check_torch(BINARY["nextafter"][0], [f32, f64], device)
    check_torch(BINARY["nextafter"][0], [np.array(1.0), f32], device)
    check_torch(BINARY["logaddexp2"][0], [f16.astype(np.float32), f64], device)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # -3 * 2**1023 overflows to -inf, as in torch
def test_ldexp_gradient_at_zero_and_large_exponents(device):
    x, e = np.array([0.0, 1.5, -3.0, 1.0]), np.array([5.0, -1074.0, 1000.0, 0.0])
    check_torch(lambda m, a, b: m.ldexp(a, b), [x, e], device, rtol=1e-12, atol=1e-300)
    check_torch(lambda m, a, b: m.ldexp(a, b), [x, np.array([5, 2, 3, 0])], device)
    # negative integer exponents: torch's gradient computes 2**other in integers (0); ours is 2**other
    check_torch(lambda m, a, b: m.ldexp(a, b), [x, np.array([5, -2, 3, -1])], device, backward=False)
    grad(lambda m, a, b: m.ldexp(a, b), [x, np.array([5, -2, 3, -1])], device)


# ---------------------------------------------------------------- heaviside, frexp, gcd/lcm, identities
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_heaviside_matches_torch(device):
    x = np.array([-1.5, 0.0, -0.0, 2.0, np.nan, np.inf, -np.inf])
    for dt in (np.float64, np.float32, np.int64, np.bool_):
        vals = np.array([0.5, 7.0, np.nan], dtype=np.float64)
        a = x if dt in (np.float64, np.float32) else np.nan_to_num(x).astype(dt)
        v = vals if dt in (np.float64, np.float32) else np.array([1, 7, 0]).astype(dt)
        for vv in (v[:1], v[1:2], np.array(v[1])):
            check_torch(lambda m, p, q: m.heaviside(p, q), [a.astype(dt), vv.astype(dt)], device, backward=False)
    check_torch(lambda m, p, q: m.heaviside(p, q), [np.zeros((2, 1)), np.arange(3.0)], device, backward=False)


def test_heaviside_has_no_derivative(device):
    x = _t([-1.0, 0.0, 2.0], device, True)
    y = tg.heaviside(x, _t([0.5], device))
    assert y.requires_grad  # recorded, as PyTorch, so that backward can say why it fails
    with pytest.raises(RuntimeError, match="derivative for 'heaviside' is not implemented"):
        y.sum().backward()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 1e300 in float32 is inf
def test_frexp_matches_torch(device):
    x = np.array([8.0, 0.0, -0.0, -3.5, 0.1, 1e300, 1e-310, np.inf, -np.inf, np.nan])
    for dt in (np.float64, np.float32, np.float16):
        a = x.astype(dt)
        out = check_torch(lambda m, v: tuple(m.frexp(v)), [a], device, backward=False, rtol=0, atol=0)
        assert out[1].dtype == tg.int32
    check_torch(lambda m, v: m.frexp(v).mantissa, [_input((3, 4), (-100, 100))], device)
    check_torch(lambda m, v: m.frexp(v)[0], [_input((5,), (-1, 1), np.float32)], device)
    grad(lambda m, v: m.frexp(v).mantissa, [np.array([3.0, -0.3, 100.0, 5e-3])], device)
    r = tg.frexp(_t([3.0], device))
    assert r._fields == ("mantissa", "exponent") and type(r).__name__ == "frexp"
    m, e = r
    np.testing.assert_array_equal((m * 2.0 ** e.double()).cpu().numpy(), [3.0])


def test_gcd_lcm_match_torch(device):
    a = np.array([-12, 0, 7, 0, 18, -4, 6, -3, 2 ** 40])
    b = np.array([18, -5, 0, 0, 12, 6, -4, -3, 2 ** 20 * 3])
    for name in ("gcd", "lcm"):
        fn = lambda m, p, q: getattr(m, name)(p, q)  # noqa: E731
        check_torch(fn, [a, b], device, rtol=0, atol=0)
        check_torch(fn, [a.astype(np.int32)[:-1], b.astype(np.int32)[:-1]], device, rtol=0, atol=0)
        check_torch(fn, [np.abs(a[:-1]).astype(np.uint8), np.abs(b[:-1]).astype(np.uint8)], device, rtol=0, atol=0)
        check_torch(fn, [a[:-1].astype(np.int32), b[:-1]], device, rtol=0, atol=0)  # int32 with int64: int64
        check_torch(fn, [a.reshape(3, 3), b[:3]], device, rtol=0, atol=0)


def test_identities_return_the_input(device):
    x = _t([1.0, -2.0], device, True)
    for name in ("positive", "conj", "conj_physical", "resolve_conj", "resolve_neg"):
        assert getattr(tg, name)(x) is x
        assert getattr(x, name)() is x
        assert getattr(torch, name)(torch.tensor([1.0])) is not None  # the names exist in torch
    assert tg.is_conj(x) is False and x.is_neg() is False
    i = _t([1, 2], device)
    assert tg.positive(i) is i and tg.conj(_t([True], device)).dtype == tg.bool


# ---------------------------------------------------------------- methods, errors
def test_tensor_methods_match_functions(device):
    names = pointwise_extra.__all__
    assert all(hasattr(torch.Tensor, n) for n in names)  # every one is a torch.Tensor method
    x = _t(_input((3,), (0.5, 2)), device)
    y = _t(_input((3,), (-2, 2)), device)
    for n in ("copysign", "nextafter", "float_power", "fmax", "fmin", "logaddexp2"):
        np.testing.assert_array_equal(getattr(x, n)(y).cpu().numpy(), getattr(tg, n)(x, y).cpu().numpy())
    for n in ("signbit", "rad2deg", "deg2rad", "sgn", "fix", "angle", "i0", "sinc"):
        np.testing.assert_array_equal(getattr(x, n)().cpu().numpy(), getattr(tg, n)(x).cpu().numpy())
    np.testing.assert_array_equal(x.frexp().mantissa.cpu().numpy(), tg.frexp(x).mantissa.cpu().numpy())
    e = _t([1, 2, 3], device)
    np.testing.assert_array_equal(x.ldexp(e).cpu().numpy(), tg.ldexp(x, e).cpu().numpy())
    np.testing.assert_array_equal(e.gcd(e * 2).cpu().numpy(), [1, 2, 3])
    np.testing.assert_array_equal(e.lcm(e * 2).cpu().numpy(), [2, 4, 6])
    np.testing.assert_array_equal(x.heaviside(y).cpu().numpy(), tg.heaviside(x, y).cpu().numpy())


def test_errors(device):
    f, i = _t([1.0, 2.0], device), _t([1, 2], device)
    with pytest.raises(TypeError, match=r"ldexp\(\): argument 'other' \(position 2\) must be Tensor"):
        tg.ldexp(f, 3)
    with pytest.raises(TypeError, match=r"fmax\(\): argument 'other'"):
        tg.fmax(f, 2.0)
    with pytest.raises(TypeError, match=r"heaviside\(\): argument 'values'"):
        tg.heaviside(f, 0.5)
    with pytest.raises(RuntimeError, match=r"heaviside\(\): input \(float64\) and values \(int64\)"):
        tg.heaviside(f, i)
    with pytest.raises(TypeError, match=r"copysign\(\): argument 'input'"):
        tg.copysign(2.0, f)
    with pytest.raises(TypeError, match=r"float_power\(\): expected at least one Tensor"):
        tg.float_power(2.0, 3)
    for name, args in (("gcd", (f, f)), ("lcm", (_t([True], device),) * 2), ("nextafter", (i, i)),
                       ("logaddexp2", (i, i))):
        with pytest.raises(NotImplementedError, match=f'"{name}" not implemented for'):
            getattr(tg, name)(*args)
        with pytest.raises(NotImplementedError):  # the same exception type as PyTorch
            getattr(torch, name)(*(torch.tensor(a.cpu().numpy()) for a in args))
    with pytest.raises(RuntimeError, match=r"frexp\(\): only supports floating-point dtypes, got int64"):
        tg.frexp(i)
    with pytest.raises(RuntimeError, match="bool tensor is not supported"):
        tg.positive(_t([True], device))
    with pytest.raises(NotImplementedError, match='"fix" not implemented for bool'):
        tg.fix(_t([True], device))
    with pytest.raises(RuntimeError, match=r"fmin: the size of tensor a \(2\) must match the size of tensor b \(3\)"):
        tg.fmin(f, _t([1.0, 2.0, 3.0], device))
    before = f.cpu().numpy().copy()
    with pytest.raises(RuntimeError):
        tg.copysign(f, _t([1.0, 2.0, 3.0], device))
    np.testing.assert_array_equal(f.cpu().numpy(), before)  # a failed op leaves its inputs alone


@needs_torch
def test_sign_of_nan_is_zero_as_torchs():
    x = np.array([np.nan, -2.0, 0.0, 3.0, -np.inf])
    np.testing.assert_array_equal(tg.sign(tg.tensor(x)).numpy(), torch.sign(torch.tensor(x)).numpy())


@needs_torch
def test_pow_with_a_number_base_differentiates_in_the_exponents_dtype():
    e = np.array([0.5, 2.0, -1.5])
    check_torch(lambda m, t: m.pow(1.1, t), [e], "cpu", rtol=1e-14, atol=1e-15)
