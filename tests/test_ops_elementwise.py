"""Elementwise ops: float64 grad/gradgrad checks, PyTorch as the oracle for values, dtypes and
gradients (float32 and float64), dtype promotion, PyTorch's gradient conventions at kinks, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, noncontig, rand, to_tg, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: oracle tests skipped")


def _F(m):
    """The activations' home: torch.nn.functional for torch, the top level for tensorgrad."""
    return torch.nn.functional if m is torch else m


# name -> (fn(m, x), (low, high) of the random input)
UNARY = {
    "exp": (lambda m, x: m.exp(x), (-2, 2)),
    "exp2": (lambda m, x: m.exp2(x), (-2, 2)),
    "expm1": (lambda m, x: m.expm1(x), (-2, 2)),
    "log": (lambda m, x: m.log(x), (0.2, 3)),
    "log2": (lambda m, x: m.log2(x), (0.2, 3)),
    "log10": (lambda m, x: m.log10(x), (0.2, 3)),
    "log1p": (lambda m, x: m.log1p(x), (-0.8, 2)),
    "sqrt": (lambda m, x: m.sqrt(x), (0.2, 3)),
    "rsqrt": (lambda m, x: m.rsqrt(x), (0.2, 3)),
    "square": (lambda m, x: m.square(x), (-2, 2)),
    "reciprocal": (lambda m, x: m.reciprocal(x), (0.3, 2)),
    "abs": (lambda m, x: m.abs(x), (-2, 2)),
    "sign": (lambda m, x: m.sign(x), (-2, 2)),
    "neg": (lambda m, x: m.neg(x), (-2, 2)),
    "negative": (lambda m, x: m.negative(x), (-2, 2)),
    "sin": (lambda m, x: m.sin(x), (-3, 3)),
    "cos": (lambda m, x: m.cos(x), (-3, 3)),
    "tan": (lambda m, x: m.tan(x), (-1.2, 1.2)),
    "tanh": (lambda m, x: m.tanh(x), (-2, 2)),
    "sigmoid": (lambda m, x: m.sigmoid(x), (-3, 3)),
    "relu": (lambda m, x: m.relu(x), (-2, 2)),
    "leaky_relu": (lambda m, x: _F(m).leaky_relu(x), (-2, 2)),
    "leaky_relu_slope": (lambda m, x: _F(m).leaky_relu(x, 0.2), (-2, 2)),
    "elu": (lambda m, x: _F(m).elu(x), (-2, 2)),
    "elu_alpha": (lambda m, x: _F(m).elu(x, alpha=0.7), (-2, 2)),
    "gelu": (lambda m, x: _F(m).gelu(x), (-3, 3)),
    "gelu_tanh": (lambda m, x: _F(m).gelu(x, approximate="tanh"), (-3, 3)),
    "silu": (lambda m, x: _F(m).silu(x), (-3, 3)),
    "softplus": (lambda m, x: _F(m).softplus(x), (-3, 3)),
    "softplus_beta": (lambda m, x: _F(m).softplus(x, beta=2.0, threshold=1.5), (-2, 2)),
    "floor": (lambda m, x: m.floor(x), (-2, 2)),
    "ceil": (lambda m, x: m.ceil(x), (-2, 2)),
    "round": (lambda m, x: m.round(x), (-2, 2)),
    "round_decimals": (lambda m, x: m.round(x, decimals=1), (-2, 2)),
    "round_neg_decimals": (lambda m, x: m.round(x * 100, decimals=-1), (-2, 2)),
    "trunc": (lambda m, x: m.trunc(x), (-2, 2)),
    "frac": (lambda m, x: m.frac(x), (-2, 2)),
    "clamp": (lambda m, x: m.clamp(x, -0.5, 0.7), (-2, 2)),
    "clamp_min": (lambda m, x: m.clamp_min(x, -0.5), (-2, 2)),
    "clamp_max": (lambda m, x: m.clamp_max(x, 0.5), (-2, 2)),
    "clamp_crossed": (lambda m, x: m.clamp(x, min=1.0, max=0.0), (-2, 2)),
    "clip": (lambda m, x: m.clip(x, min=-1), (-2, 2)),
    "pow_3": (lambda m, x: x ** 3, (-2, 2)),
    "pow_2": (lambda m, x: m.pow(x, 2), (-2, 2)),
    "pow_1": (lambda m, x: x ** 1, (-2, 2)),
    "pow_0": (lambda m, x: x ** 0, (-2, 2)),
    "pow_half": (lambda m, x: x ** 0.5, (0.2, 3)),
    "pow_neg": (lambda m, x: x.pow(-1.5), (0.2, 3)),
    "rpow": (lambda m, x: 2 ** x, (-2, 2)),
    "rpow_fn": (lambda m, x: m.pow(1.5, x), (-2, 2)),
    "rpow_zero_base": (lambda m, x: 0.0 ** x, (0.2, 2)),
    "mul_scalar": (lambda m, x: x * 2.5, (-2, 2)),
    "rsub_scalar": (lambda m, x: 2.5 - x, (-2, 2)),
    "rdiv_scalar": (lambda m, x: 3 / x, (0.3, 2)),
    "div_floor_scalar": (lambda m, x: m.div(x, 0.7, rounding_mode="floor"), (-2, 2)),
    "remainder_scalar": (lambda m, x: x % 0.7, (-2, 2)),
    "rremainder_scalar": (lambda m, x: 5 % x, (0.5, 2)),
    "fmod_scalar": (lambda m, x: m.fmod(x, -0.7), (-2, 2)),
    "where_scalar_other": (lambda m, x: m.where(x > 0, x, 0.5), (-2, 2)),
    "where_scalar_input": (lambda m, x: m.where(x > 0, 2, x), (-2, 2)),
    "maximum_self": (lambda m, x: m.maximum(x, x * 0.5), (-2, 2)),
    "method_chain": (lambda m, x: x.sigmoid().tanh().exp().log(), (-2, 2)),
}

# steps: everything below except floor_divide has a gradient (zero or not) in PyTorch
NO_GRAD_UNARY = {"floor_divide_scalar": (lambda m, x: x // 0.7, (-2, 2))}

SHAPES = [(2, 3), (1,), (), (0, 3)]


def _check_grad(fn, arrays, device):
    # the first gradient of add, frac, fmod IS the incoming gradient: gradgradcheck must read it right
    check_grad(fn, arrays, device)


def _input(shape, dom, dtype=np.float64):
    return rand(*shape, low=dom[0], high=dom[1]).astype(dtype)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name, device):
    fn, dom = UNARY[name]
    for shape in SHAPES:
        _check_grad(lambda x: fn(tg, x), [_input(shape, dom)], device)
    _check_grad(lambda x: fn(tg, x), [noncontig(_input((3, 2), dom))], device)


# PyTorch has no derivative for remainder(Scalar, Tensor); tensorgrad gives the real one
# (checked by the gradcheck above), so only the forward is compared
TORCH_NO_DERIVATIVE = {"rremainder_scalar"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY) + sorted(NO_GRAD_UNARY))
def test_unary_matches_torch(name, dtype, device):
    fn, dom = {**UNARY, **NO_GRAD_UNARY}[name]
    backward = name not in NO_GRAD_UNARY and name not in TORCH_NO_DERIVATIVE
    check_torch(fn, [noncontig(_input((3, 4), dom, dtype))], device, backward=backward)
    check_torch(fn, [_input((), dom, dtype)], device, backward=backward)


def _args(args, module, device):
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(to_tg(a.copy(), device, False) if module is tg else torch.tensor(a.copy()))
        else:
            out.append(a)
    return out


def agrees_with_torch(fn, args, device, what=""):
    """fn(m, *args) gives what torch gives (values, dtype, shape) or raises the same exception type.

    `args` are NumPy arrays (turned into tensors) and Python scalars (passed as they are).
    """
    try:
        expected = fn(torch, *_args(args, torch, device))
    except Exception as e:  # noqa: BLE001 - the oracle decides which errors are right
        with pytest.raises(type(e)):
            fn(tg, *_args(args, tg, device))
        return None
    got = fn(tg, *_args(args, tg, device))
    if not isinstance(expected, torch.Tensor):
        assert got == expected and type(got) is type(expected), f"{what}: {got!r} vs torch {expected!r}"
        return got
    assert isinstance(got, tg.Tensor), what
    assert got.dtype.name == str(expected.dtype).replace("torch.", ""), \
        f"{what}: {got.dtype} vs torch {expected.dtype}"
    assert tuple(got.shape) == tuple(expected.shape), what
    np.testing.assert_allclose(got.cpu().numpy().astype(np.float64), expected.numpy().astype(np.float64),
                               rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=what)
    return got


INT_UNARY = ["exp", "log", "sqrt", "rsqrt", "sin", "tanh", "sigmoid", "reciprocal", "abs", "sign", "neg",
             "square", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "floor", "ceil", "round",
             "round_decimals", "trunc", "frac", "clamp", "clamp_min", "clip", "pow_3", "pow_half", "pow_neg",
             "pow_0", "rpow", "mul_scalar", "rsub_scalar", "rdiv_scalar", "div_floor_scalar",
             "remainder_scalar", "where_scalar_other", "log1p", "expm1", "exp2", "log2", "log10", "cos",
             "tan"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", INT_UNARY)
def test_unary_integer_and_bool_inputs(name, device):
    """int/bool inputs: float results in the default dtype, int results, or PyTorch's error."""
    for dtype in (np.int64, np.int32, np.uint8, np.bool_):
        x = rand(2, 3, dtype=dtype, low=0 if dtype == np.uint8 else -2, high=3)
        if name == "clip" and dtype == np.uint8:  # min=-1: PyTorch wraps it to 255; an error here
            with pytest.raises(RuntimeError, match="-1 cannot be converted to type uint8"):
                UNARY[name][0](tg, to_tg(x, device))
            continue
        agrees_with_torch(UNARY[name][0], [x], device, f"{name} of {np.dtype(dtype)}")


# name -> (fn(m, a, b), domain of a, domain of b)
BINARY = {
    "add": (lambda m, a, b: m.add(a, b), (-2, 2), (-2, 2)),
    "add_alpha": (lambda m, a, b: m.add(a, b, alpha=2), (-2, 2), (-2, 2)),
    "sub": (lambda m, a, b: a - b, (-2, 2), (-2, 2)),
    "sub_alpha": (lambda m, a, b: m.sub(a, b, alpha=0.5), (-2, 2), (-2, 2)),
    "mul": (lambda m, a, b: a * b, (-2, 2), (-2, 2)),
    "div": (lambda m, a, b: a / b, (-2, 2), (0.5, 2)),
    "true_divide": (lambda m, a, b: m.true_divide(a, b), (-2, 2), (-2, -0.5)),
    "div_floor": (lambda m, a, b: m.div(a, b, rounding_mode="floor"), (-2, 2), (0.5, 2)),
    "div_trunc": (lambda m, a, b: m.div(a, b, rounding_mode="trunc"), (-2, 2), (-2, -0.5)),
    "remainder": (lambda m, a, b: m.remainder(a, b), (-2, 2), (0.5, 2)),
    "remainder_neg": (lambda m, a, b: a % b, (-2, 2), (-2, -0.5)),
    "fmod": (lambda m, a, b: m.fmod(a, b), (-2, 2), (0.5, 2)),
    "fmod_neg": (lambda m, a, b: a.fmod(b), (-2, 2), (-2, -0.5)),
    "pow": (lambda m, a, b: m.pow(a, b), (0.5, 2), (-2, 2)),
    "pow_op": (lambda m, a, b: a ** b, (0.5, 2), (-2, 2)),
    "maximum": (lambda m, a, b: m.maximum(a, b), (-2, 2), (-2, 2)),
    "minimum": (lambda m, a, b: a.minimum(b), (-2, 2), (-2, 2)),
    "where": (lambda m, a, b: m.where(a > b, a, b * 2), (-2, 2), (-2, 2)),
    "clamp_tensor_min": (lambda m, a, b: m.clamp(a, min=b), (-2, 2), (-2, 2)),
    "clamp_tensor_max": (lambda m, a, b: a.clamp(max=b), (-2, 2), (-2, 2)),
    "clamp_min_tensor": (lambda m, a, b: m.clamp_min(a, b), (-2, 2), (-2, 2)),
    "lerp_small_weight": (lambda m, a, b: m.lerp(a, b, 0.3), (-2, 2), (-2, 2)),
    "lerp_big_weight": (lambda m, a, b: a.lerp(b, 0.8), (-2, 2), (-2, 2)),
    "addcmul_self": (lambda m, a, b: m.addcmul(a, b, b, value=0.5), (-2, 2), (-2, 2)),
}
BINARY_SHAPES = [((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2,)), ((2,), ()), ((0, 3), (1, 3)), ((1,), (1,))]


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck(name, device):
    fn, da, db = BINARY[name]
    for sa, sb in BINARY_SHAPES:
        _check_grad(lambda a, b: fn(tg, a, b), [_input(sa, da), _input(sb, db)], device)
    _check_grad(lambda a, b: fn(tg, a, b), [noncontig(_input((2, 3), da)), noncontig(_input((3, 3), db))[:2]],
               device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_torch(name, dtype, device):
    fn, da, db = BINARY[name]
    check_torch(fn, [noncontig(_input((2, 3), da, dtype)), _input((3,), db, dtype)], device)
    check_torch(fn, [_input((4, 1), da, dtype), _input((1, 3), db, dtype)], device)


def _mask_on_device_of(m, a, b):
    """where's condition on its operands' device: a CPU mask with CUDA operands raises (in PyTorch too)."""
    return m.tensor([True, False, True]).to((a if isinstance(a, m.Tensor) else b).device)


# (fn(m, a, b)) for the promotion matrix; some raise in PyTorch, and must raise the same way here
PROMOTION_OPS = {
    "add": lambda m, a, b: m.add(a, b),
    "sub": lambda m, a, b: m.sub(a, b),
    "mul": lambda m, a, b: m.mul(a, b),
    "div": lambda m, a, b: m.div(a, b),
    "div_floor": lambda m, a, b: m.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
    "floor_divide": lambda m, a, b: m.floor_divide(a, b),
    "remainder": lambda m, a, b: m.remainder(a, b),
    "fmod": lambda m, a, b: m.fmod(a, b),
    "pow": lambda m, a, b: m.pow(a, b),
    "maximum": lambda m, a, b: m.maximum(a, b),
    "minimum": lambda m, a, b: m.minimum(a, b),
    "where": lambda m, a, b: m.where(_mask_on_device_of(m, a, b), a, b),
    "clamp_min": lambda m, a, b: m.clamp(a, min=b),
    "clamp_max": lambda m, a, b: m.clamp(a, max=b),
    "lerp": lambda m, a, b: m.lerp(a, b, 0.25),
    "addcmul": lambda m, a, b: m.addcmul(a, b, b, value=2),
    "addcdiv": lambda m, a, b: m.addcdiv(a, b, b, value=2),
}
PROMOTION_CASES = {
    "int_tensor_float_scalar": lambda: (rand(3, dtype=np.int64, low=1, high=3), 2.5),
    "float_scalar_int_tensor": lambda: (2.5, rand(3, dtype=np.int64, low=1, high=3)),
    "int_tensor_int_scalar": lambda: (rand(3, dtype=np.int32, low=1, high=3), 2),
    "int32_int64": lambda: (rand(3, dtype=np.int32, low=1, high=3), rand(3, dtype=np.int64, low=1, high=3)),
    "uint8_int8": lambda: (rand(3, dtype=np.uint8, low=1, high=3), rand(3, dtype=np.int8, low=1, high=3)),
    "float32_float64": lambda: (rand(3, dtype=np.float32), rand(3, dtype=np.float64, low=0.5, high=2)),
    "f64_0dim_f32": lambda: (np.asarray(1.5), rand(3, dtype=np.float32, low=0.5, high=2)),
    "f32_f64_0dim": lambda: (rand(3, dtype=np.float32, low=0.5, high=2), np.asarray(1.5)),
    "f64_0dim_int32": lambda: (np.asarray(1.5), rand(3, dtype=np.int32, low=1, high=3)),
    "int_0dim_float32": lambda: (np.asarray(2), rand(3, dtype=np.float32, low=0.5, high=2)),
    "bool_bool": lambda: (np.array([True, False, True]), np.array([True, True, True])),
    "bool_int_scalar": lambda: (np.array([True, False, True]), 2),
    "float_bool": lambda: (rand(3, dtype=np.float32, low=0.5, high=2), np.array([True, False, True])),
    "int_float_tensor": lambda: (rand(3, dtype=np.int64, low=1, high=3), rand(3, dtype=np.float32, low=0.5,
                                                                                high=2)),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("op", sorted(PROMOTION_OPS))
def test_binary_dtype_promotion(op, device):
    for case, make in PROMOTION_CASES.items():
        agrees_with_torch(PROMOTION_OPS[op], list(make()), device, f"{op} with {case}")


INT_SEMANTICS = {
    "floor_divide": lambda m, a, b: a // b,
    "div_trunc": lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
    "remainder": lambda m, a, b: a % b,
    "fmod": lambda m, a, b: m.fmod(a, b),
    "pow_negative_exponent": lambda m, a, b: a ** (b - 3),
    "rpow_negative_exponent": lambda m, a, b: m.pow(-1, b - 3),
    "rpow_zero_base": lambda m, a, b: m.pow(0, b - 3),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float32 0 ** -3 is inf, as in PyTorch
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32])
@pytest.mark.parametrize("name", sorted(INT_SEMANTICS))
def test_signs_and_integer_semantics(name, dtype, device):
    """Python/PyTorch sign rules (remainder: divisor's sign, fmod: dividend's), integer powers."""
    a = np.array([[7, -7, 7, -7, 1, -1, 0, 2]], dtype=dtype).repeat(2, 0)
    b = np.array([[2, 2, -2, -2, 3, 1, 2, 5], [1, 2, 3, 4, 5, -1, -3, 2]], dtype=dtype)
    agrees_with_torch(INT_SEMANTICS[name], [a, b], device)


class _ArrayModuleNotNumpy:
    """NumPy under another name: ops then take the path they take for CuPy (no data-dependent
    branch), which this machine can run on NumPy arrays."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8])
def test_integer_pow_device_path_matches_torch(dtype, monkeypatch):
    """Integer pow as CUDA runs it: every dtype, negative exponents included, without reading the data
    (a uint8 exponent once built NumPy's uint8(-1), which NumPy 2 and CuPy refuse)."""
    from tensorgrad.ops import arithmetic
    signed = np.dtype(dtype).kind == "i"
    a = np.array([[2, -2, 1, -1, 0, 3, 5]], dtype=dtype).repeat(2, 0) if signed else \
        np.array([[2, 1, 0, 3, 5, 7, 255]], dtype=dtype).repeat(2, 0)
    b = np.array([[3, 2, -3, -3, 2, -1, 0], [1, -2, 4, -2, -1, 3, 1]], dtype=dtype) if signed else \
        np.array([[3, 2, 7, 0, 1, 2, 1], [1, 2, 4, 9, 0, 3, 2]], dtype=dtype)
    monkeypatch.setattr(arithmetic, "_xp", lambda x, y: _ArrayModuleNotNumpy())
    for x in (a, dtype(2)):  # tensor ** tensor, and a scalar base (2 ** t)
        got = arithmetic._int_pow(x, b)
        want = torch.pow(torch.tensor(x) if isinstance(x, np.ndarray) else int(x), torch.tensor(b)).numpy()
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.usefixtures("eager_checks")  # on CUDA the check raises at the call, not at the next read
@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod", "div_trunc"])
def test_integer_division_by_zero_raises(op, device):
    a = to_tg(np.array([1, 2, 3]), device)
    b = to_tg(np.array([1, 0, 1]), device)
    fn = INT_SEMANTICS[op]
    with pytest.raises(RuntimeError, match="division by zero"):
        fn(tg, a, b)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(torch, torch.tensor([1, 2, 3]), torch.tensor([1, 0, 1]))


@pytest.mark.usefixtures("eager_checks")
def test_float_division_by_zero_matches_torch(device):
    a = np.array([-3.5, 3.5, 0.0], dtype=np.float32)
    b = np.zeros(3, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for fn in (INT_SEMANTICS["floor_divide"], INT_SEMANTICS["remainder"], INT_SEMANTICS["fmod"],
                   INT_SEMANTICS["div_trunc"], lambda m, a, b: a / b):
            agrees_with_torch(fn, [a, b], device)


# name -> fn(m, x, y, z) and the domains of x, y, z
TERNARY = {
    "where": (lambda m, c, a, b: m.where(c > 0, a, b), (-2, 2), (-2, 2), (-2, 2)),
    "clamp_tensors": (lambda m, x, lo, hi: m.clamp(x, lo, hi), (-2, 2), (-1.5, 0), (0, 1.5)),
    "clamp_crossed_tensors": (lambda m, x, lo, hi: m.clamp(x, min=lo, max=hi), (-2, 2), (0, 1.5), (-1.5, 0)),
    "lerp_tensor_weight": (lambda m, a, b, w: m.lerp(a, b, w), (-2, 2), (-2, 2), (-0.3, 1.3)),
    "addcmul": (lambda m, x, a, b: m.addcmul(x, a, b), (-2, 2), (-2, 2), (-2, 2)),
    "addcmul_value": (lambda m, x, a, b: x.addcmul(a, b, value=-1.5), (-2, 2), (-2, 2), (-2, 2)),
    "addcdiv": (lambda m, x, a, b: m.addcdiv(x, a, b), (-2, 2), (-2, 2), (0.5, 2)),
    "addcdiv_value": (lambda m, x, a, b: x.addcdiv(a, b, value=0.5), (-2, 2), (-2, 2), (-2, -0.5)),
}
TERNARY_SHAPES = [((2, 3), (3,), (2, 1)), ((), (2,), (1, 2)), ((0, 2), (2,), ()), ((1,), (1,), (1,))]


@pytest.mark.parametrize("name", sorted(TERNARY))
def test_ternary_gradcheck(name, device):
    fn, *doms = TERNARY[name]
    for shapes in TERNARY_SHAPES:
        _check_grad(lambda x, y, z: fn(tg, x, y, z), [_input(s, d) for s, d in zip(shapes, doms)], device)
    arrays = [noncontig(_input((2, 3), d)) for d in doms]
    _check_grad(lambda x, y, z: fn(tg, x, y, z), arrays, device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(TERNARY))
def test_ternary_matches_torch(name, dtype, device):
    fn, *doms = TERNARY[name]
    arrays = [_input(s, d, dtype) for s, d in zip(((2, 3), (3,), (2, 1)), doms)]
    arrays[0] = noncontig(arrays[0])
    check_torch(fn, arrays, device)


# exact kinks, ties and boundaries: the gradient conventions must be PyTorch's
KINKS = {
    "relu": (lambda m, x: m.relu(x), [[-1.0, 0.0, 2.0]]),
    "abs": (lambda m, x: m.abs(x), [[-1.0, 0.0, 2.0]]),
    "leaky_relu": (lambda m, x: _F(m).leaky_relu(x, 0.1), [[-1.0, 0.0, 2.0]]),
    "elu": (lambda m, x: _F(m).elu(x, 0.5), [[-1.0, 0.0, 2.0]]),
    "clamp_bounds": (lambda m, x: m.clamp(x, -1.0, 1.0), [[-2.0, -1.0, 0.0, 1.0, 2.0]]),
    "clamp_tensor_bounds": (lambda m, x, lo, hi: m.clamp(x, lo, hi),
                            [[-1.0, 0.0, 0.5, 1.0, 2.0, 0.5], [0.0] * 5 + [1.0], [1.0] * 5 + [0.0]]),
    "maximum_ties": (lambda m, a, b: m.maximum(a, b), [[1.0, 2.0, 3.0, float("nan")], [1.0, 3.0, 2.0, 1.0]]),
    "minimum_ties": (lambda m, a, b: m.minimum(a, b), [[1.0, 2.0, 3.0, float("nan")], [1.0, 3.0, 2.0, 1.0]]),
    "pow_zero_base": (lambda m, a, b: a ** b, [[0.0, 0.0, 0.0, 2.0, 0.0], [0.0, 1.0, -1.0, 0.0, 2.5]]),
    "pow_negative_base": (lambda m, a, b: a ** b, [[-2.0, -2.0], [2.0, 0.5]]),
    "rpow_zero_base": (lambda m, b: 0.0 ** b, [[0.0, 1.0, -1.0]]),
    "pow_scalar_zero": (lambda m, a: a ** 0, [[0.0, 2.0, float("inf")]]),
    "sqrt_zero": (lambda m, x: m.sqrt(x), [[0.0, 4.0]]),
    "log_zero": (lambda m, x: m.log(x), [[0.0, 2.0]]),
    "softplus_threshold": (lambda m, x: _F(m).softplus(x, beta=2, threshold=1), [[0.4, 0.5, 0.6, 30.0]]),
    "where_masks_inf": (lambda m, x: m.where(x > 0, m.log(x), 0.0), [[0.0, -1.0, 2.0]]),
    "clamp_masks_inf": (lambda m, x: m.sqrt(m.clamp(x, min=0.0)), [[0.0, -1.0, 2.0]]),
    "lerp_weight_half": (lambda m, a, b, w: m.lerp(a, b, w), [[1.0, 2.0], [3.0, -5.0], [0.5, -0.5]]),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(KINKS))
def test_gradient_conventions_at_kinks(name, device):
    fn, values = KINKS[name]
    check_torch(fn, [np.array(v) for v in values], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_halves_to_even(dtype, device):
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.25, 0.35, 1.45, -0.15, 15.0, 25.0, 1234.5], dtype=dtype)
    for decimals in (0, 1, -1):
        agrees_with_torch(lambda m, t: m.round(t, decimals=decimals), [x], device, f"decimals={decimals}")


def test_sigmoid_family_is_stable_for_large_inputs(device):
    x = np.array([-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        for fn in (lambda m, t: m.sigmoid(t), lambda m, t: _F(m).silu(t), lambda m, t: _F(m).softplus(t),
                   lambda m, t: _F(m).softplus(t, beta=0.5), lambda m, t: _F(m).elu(t),
                   lambda m, t: m.tanh(t)):
            check_torch(fn, [x], device, rtol=1e-6, atol=1e-30)  # float32 sigmoid(-100): 0 or 4e-44
    # the small tail keeps its relative precision (no 1 - (1 - tiny) cancellation)
    y = tg.sigmoid(to_tg(np.array([-30.0, -80.0]), device, False))
    np.testing.assert_allclose(y.cpu().numpy(), 1 / (1 + np.exp([30.0, 80.0])), rtol=1e-12)


def test_gelu_uses_fused_kernels(device, monkeypatch):
    """The forward and the plain backward go through fused.activation.gelu_*; double backward composes ops."""
    from tensorgrad.fused import activation as fused_act
    calls = []
    for fname in ("gelu_forward", "gelu_backward"):
        orig = getattr(fused_act, fname)
        monkeypatch.setattr(fused_act, fname, lambda *a, _o=orig, _n=fname: calls.append(_n) or _o(*a))
    x = to_tg(rand(5), device)
    y = tg.gelu(x, approximate="tanh")
    (g,) = tg.autograd.grad(y.sum(), [x], create_graph=True)
    assert calls == ["gelu_forward", "gelu_backward"]
    (gg,) = tg.autograd.grad(g.sum(), [x])
    xt = torch.tensor(x.detach().cpu().numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.gelu(xt, approximate="tanh").sum(), [xt], create_graph=True)
    (ggt,) = torch.autograd.grad(gt.sum(), [xt])
    np.testing.assert_allclose(gg.cpu().numpy(), ggt.numpy(), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "silu", "gelu", "gelu_tanh", "elu", "softplus_beta",
                                  "pow_3", "sin", "rsqrt", "log"])
def test_third_derivative_matches_torch(name, device):
    fn, dom = UNARY[name]
    x = _input((4,), dom)
    xt = to_tg(x.copy(), device)
    xp = torch.tensor(x.copy(), requires_grad=True)
    outs = []
    for m, t in ((tg, xt), (torch, xp)):
        g = fn(m, t)
        for _ in range(3):  # elementwise: d/dx of the sum is the derivative at each element
            (g,) = m.autograd.grad(g.sum(), [t], create_graph=True)
        outs.append(g.detach().cpu().numpy() if m is tg else g.detach().numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-8, atol=1e-10)


def test_grad_fn_names_and_recording(device):
    x = to_tg(rand(3, low=0.5), device)
    assert tg.floor(x).grad_fn.name() == "FloorBackward0"  # recorded, with a zero gradient
    assert (x ** 2).grad_fn.name() == "PowBackward0"
    assert (x ** x).grad_fn.name() == "PowBackward1"
    assert tg.sigmoid(x).grad_fn.name() == "SigmoidBackward0"
    assert tg.gelu(x).grad_fn.name() == "GeluBackward0"
    assert not (x > 0).requires_grad
    with tg.no_grad():
        assert tg.exp(x).grad_fn is None


def test_floor_divide_has_no_derivative_like_torch(device):
    x = to_tg(rand(3), device)
    y = x // 0.5
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="floor_divide"):
        y.sum().backward()
    xt = torch.tensor(rand(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        (xt // 0.5).sum().backward()


def test_where_single_argument_is_nonzero(device):
    c = np.array([[True, False, True], [False, False, True]])
    got = tg.where(to_tg(c, device))
    want = torch.where(torch.tensor(c))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == tg.int64
        np.testing.assert_array_equal(g.cpu().numpy(), w.numpy())
    (z,) = tg.where(to_tg(np.array(True), device))
    np.testing.assert_array_equal(z.cpu().numpy(), torch.where(torch.tensor(True))[0].numpy())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_where_condition_dtypes(device):
    x = rand(3)
    agrees_with_torch(lambda m, c, a: m.where(c, a, 0.0), [np.array([1, 0, 1], dtype=np.uint8), x], device)
    agrees_with_torch(lambda m, c, a: m.where(c, a, 0.0), [np.array([1.0, 0.0, 1.0]), x], device)
    agrees_with_torch(lambda m, c, a: m.where(c, a, 0.0), [np.array([1, 0, 1]), x], device)
    for a, b in ((1.0, 0), (1, 0), (True, False), (2, 0.5)):
        agrees_with_torch(lambda m, c: m.where(c, a, b), [np.array([True, False])], device)


def test_inplace_variants(device):
    a = rand(2, 3)
    for name, fn in (("clamp_", lambda t: t.clamp_(-0.5, 0.5)), ("clamp_min_", lambda t: t.clamp_min_(0.1)),
                     ("clamp_max_", lambda t: t.clamp_max_(0.1)), ("pow_", lambda t: t.pow_(2)),
                     ("sigmoid_", lambda t: t.sigmoid_()), ("tanh_", lambda t: t.tanh_()),
                     ("abs_", lambda t: t.abs_()), ("sqrt_", lambda t: t.abs_().sqrt_())):
        t = to_tg(a.copy(), device, False)
        p = torch.tensor(a.copy())
        assert fn(t) is t, name
        fn(p)
        np.testing.assert_allclose(t.cpu().numpy(), p.numpy(), rtol=1e-12, err_msg=name)
    # F.leaky_relu / elu / silu with inplace=True, through the graph
    for fn in (lambda m, t: _F(m).leaky_relu(t * 1, 0.2, inplace=True),
               lambda m, t: _F(m).elu(t * 1, 0.5, inplace=True), lambda m, t: _F(m).silu(t * 1, inplace=True)):
        check_torch(fn, [a], device)


def test_results_do_not_alias_inputs(device):
    x = to_tg(rand(3, dtype=np.int64), device)
    for y in (tg.floor(x), tg.round(x), tg.trunc(x), tg.ceil(x)):
        assert y.dtype == tg.int64
        y.add_(1)
    np.testing.assert_array_equal(x.cpu().numpy(), tg.floor(x).cpu().numpy())


ERRORS = [
    (lambda: tg.exp(3.0), TypeError, "exp.*Tensor"),
    (lambda: tg.relu([1.0]), TypeError, "relu.*Tensor"),
    (lambda: tg.relu(tg.tensor([True])), RuntimeError, "Boolean"),
    (lambda: -tg.tensor([True]), RuntimeError, "bool"),
    (lambda: tg.tensor([True]) - tg.tensor([False]), RuntimeError, "bool"),
    (lambda: tg.add(tg.ones(2, 3), tg.ones(4)), RuntimeError, r"add.*\[2, 3\].*\[4\]"),
    (lambda: tg.pow(tg.ones(2, 3), tg.ones(4)), RuntimeError, r"pow.*\[2, 3\].*\[4\]"),
    (lambda: tg.maximum(tg.ones(2), tg.ones(3)), RuntimeError, "maximum"),
    (lambda: tg.maximum(tg.ones(2), 1.0), TypeError, "maximum.*other.*Tensor"),
    (lambda: tg.minimum(1.0, tg.ones(2)), TypeError, "minimum.*input.*Tensor"),
    (lambda: tg.fmod(5, tg.ones(2)), TypeError, "fmod.*Tensor"),
    (lambda: tg.pow(2, 3), TypeError, "pow"),
    (lambda: tg.pow(tg.ones(2), "x"), TypeError, "pow"),
    (lambda: tg.tensor([2, 3]) ** -1, RuntimeError, "negative integer powers"),
    (lambda: tg.tensor([True]) ** tg.tensor([True]), NotImplementedError, "bool"),
    (lambda: tg.tensor([True]) // tg.tensor([True]), NotImplementedError, "bool"),
    (lambda: tg.div(tg.ones(2), 2, rounding_mode="round"), RuntimeError, "rounding_mode"),
    (lambda: tg.clamp(tg.ones(2)), RuntimeError, "min.*max"),
    (lambda: tg.clamp(tg.ones(2), min="a"), TypeError, "clamp.*min"),
    (lambda: tg.clamp(tg.ones(2), min=tg.ones(3)), RuntimeError, r"clamp.*\[2\].*\[3\]"),
    (lambda: tg.where(tg.ones(2), tg.ones(2), tg.ones(2)), RuntimeError, "boolean"),
    (lambda: tg.where(tg.tensor([True, False]), tg.ones(3), 0.0), RuntimeError, r"where.*\[2\].*\[3\]"),
    (lambda: tg.where(tg.tensor([True]), "a", 0.0), TypeError, "where.*input"),
    (lambda: tg.where([True], 1.0, 0.0), TypeError, "where.*condition"),
    (lambda: tg.lerp(tg.ones(2), tg.ones(2, dtype=tg.float64), 0.5), RuntimeError, "lerp.*end.*float64"),
    (lambda: tg.lerp(tg.ones(2), tg.ones(2), tg.ones(2, dtype=tg.float64)), RuntimeError, "weight"),
    (lambda: tg.lerp(tg.tensor([1, 2]), tg.tensor([1, 2]), 0.5), NotImplementedError, "lerp.*int64"),
    (lambda: tg.lerp(tg.ones(2), 1.0, 0.5), TypeError, "lerp.*end"),
    (lambda: tg.lerp(tg.ones(2), tg.ones(3), 0.5), RuntimeError, "lerp"),
    (lambda: tg.addcdiv(tg.ones(2), tg.tensor([1, 2]), tg.tensor([1, 2])), RuntimeError, "addcdiv.*integer"),
    (lambda: tg.addcmul(tg.ones(2), tg.ones(3), tg.ones(2)), RuntimeError, r"addcmul.*\[2\], \[3\]"),
    (lambda: tg.addcmul(tg.ones(2), 2.0, tg.ones(2)), TypeError, "addcmul.*tensor1"),
    (lambda: tg.gelu(tg.ones(2), approximate="fast"), RuntimeError, "approximate"),
    (lambda: tg.gelu(tg.tensor([1, 2])), NotImplementedError, "gelu.*int64"),
    (lambda: tg.leaky_relu(tg.tensor([1, 2])), NotImplementedError, "leaky_relu"),
    (lambda: tg.softplus(tg.tensor([1, 2])), NotImplementedError, "softplus"),
    (lambda: tg.frac(tg.tensor([1, 2])), NotImplementedError, "frac"),
    (lambda: tg.round(tg.tensor([1, 2]), decimals=1), NotImplementedError, "round"),
    (lambda: tg.floor(tg.tensor([True])), NotImplementedError, "floor.*bool"),
    (lambda: tg.abs(tg.tensor([True])), NotImplementedError, "abs.*bool"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    fn, exc, match = ERRORS[i]
    with pytest.raises(exc, match=match):
        fn()


def test_failed_op_leaves_operands_untouched():
    x = tg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError):
        tg.mul(x, tg.ones(4))
    assert x._version == 0 and x.grad is None and x.grad_fn is None
    y = x * 2
    with pytest.raises(RuntimeError):
        tg.where(tg.tensor([True, False]), y, 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))
