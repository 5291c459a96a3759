"""Comparison, logical and bitwise ops against PyTorch: values, result dtypes, promotion, errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import noncontig, rand, to_tg, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: oracle tests skipped")


def _args(args, module, device):
    return [(to_tg(a.copy(), device, False) if module is tg else torch.tensor(a.copy()))
            if isinstance(a, np.ndarray) else a for a in args]


def agrees_with_torch(fn, args, device, what=""):
    """fn(m, *args) gives what torch gives (values, dtype, shape; or a Python value of the same type),
    or raises the same exception type. Arrays in `args` become tensors, scalars pass as they are."""
    try:
        expected = fn(torch, *_args(args, torch, device))
    except Exception as e:  # noqa: BLE001 - the oracle decides which errors are right
        with pytest.raises(type(e)):
            fn(tg, *_args(args, tg, device))
        return
    got = fn(tg, *_args(args, tg, device))
    if not isinstance(expected, torch.Tensor):
        assert type(got) is type(expected) and got == expected, f"{what}: {got!r} vs torch {expected!r}"
        return
    assert isinstance(got, tg.Tensor), what
    want = str(expected.dtype).replace("torch.", "")
    assert got.dtype.name == want, f"{what}: {got.dtype} vs torch {want}"
    assert not got.requires_grad, what
    np.testing.assert_array_equal(got.cpu().numpy(), expected.numpy(), err_msg=what)


BINARY = {
    "eq": lambda m, a, b: m.eq(a, b),
    "ne": lambda m, a, b: m.ne(a, b),
    "lt": lambda m, a, b: m.lt(a, b),
    "le": lambda m, a, b: m.le(a, b),
    "gt": lambda m, a, b: m.gt(a, b),
    "ge": lambda m, a, b: m.ge(a, b),
    "==": lambda m, a, b: a == b,
    "!=": lambda m, a, b: a != b,
    "<": lambda m, a, b: a < b,
    "<=": lambda m, a, b: a <= b,
    ">": lambda m, a, b: a > b,
    ">=": lambda m, a, b: a >= b,
    "logical_and": lambda m, a, b: m.logical_and(a, b),
    "logical_or": lambda m, a, b: m.logical_or(a, b),
    "logical_xor": lambda m, a, b: m.logical_xor(a, b),
    "bitwise_and": lambda m, a, b: m.bitwise_and(a, b),
    "bitwise_or": lambda m, a, b: m.bitwise_or(a, b),
    "bitwise_xor": lambda m, a, b: m.bitwise_xor(a, b),
    "&": lambda m, a, b: a & b,
    "|": lambda m, a, b: a | b,
    "^": lambda m, a, b: a ^ b,
}

_F = np.array([[1.0, -2.0, 0.0], [3.5, 1.0, -0.0]])
_I = np.array([[1, -2, 0], [3, 1, 7]])
CASES = {
    "float_float": lambda: (_F, _F[::-1]),
    "float_broadcast": lambda: (_F, np.array([1.0, 0.0, -0.0])),
    "float_0dim": lambda: (_F, np.asarray(1.0)),
    "0dim_0dim": lambda: (np.asarray(1.0), np.asarray(2.0)),
    "float_scalar": lambda: (_F, 1.0),
    "scalar_float": lambda: (1.0, _F),
    "int_float_scalar": lambda: (_I, 1.5),
    "int_int_scalar": lambda: (_I, 1),
    "int_bool_scalar": lambda: (_I, True),
    "int_scalar_int": lambda: (3, _I),
    "int32_int64": lambda: (_I.astype(np.int32), _I[::-1].copy()),
    "uint8_int8": lambda: (np.abs(_I).astype(np.uint8), _I.astype(np.int8)),
    "int_float": lambda: (_I, _F),
    "float32_float64": lambda: (_F.astype(np.float32), _F[::-1].copy()),
    "bool_bool": lambda: (_F > 0, _F < 1),
    "bool_int": lambda: (_F > 0, _I),
    "bool_float": lambda: (_F > 0, _F),
    "bool_int_scalar": lambda: (_F > 0, 1),
    "noncontig": lambda: (noncontig(_F), noncontig(_F[::-1].copy())),
    "zero_size": lambda: (np.zeros((0, 3)), np.ones(3)),
    "nan_inf": lambda: (np.array([np.nan, np.inf, -np.inf, 1.0]), np.array([np.nan, np.inf, np.inf, np.nan])),
    "broadcast_error": lambda: (np.ones((2, 3)), np.ones(4)),
}


@pytest.mark.parametrize("op", list(BINARY))
def test_binary_matches_torch(op, device):
    for case, make in CASES.items():
        agrees_with_torch(BINARY[op], list(make()), device, f"{op} with {case}")


def test_results_are_never_recorded(device):
    x = to_tg(rand(2, 3), device)
    for out in (x > 0, x == x, tg.isclose(x, x), tg.isnan(x), tg.logical_not(x), tg.logical_and(x, x)):
        assert out.dtype == tg.bool and not out.requires_grad and out.grad_fn is None


def test_broadcast_error_names_op(device):
    a, b = to_tg(np.ones((2, 3)), device), to_tg(np.ones(4), device)
    for name, fn in (("lt", tg.lt), ("logical_or", tg.logical_or), ("isclose", tg.isclose),
                     ("bitwise_and", lambda x, y: tg.bitwise_and(x.long(), y.long()))):
        with pytest.raises(RuntimeError, match=rf"{name}.*\[2, 3\].*\[4\]"):
            fn(a, b)


UNARY = {
    "isnan": lambda m, x: m.isnan(x),
    "isinf": lambda m, x: m.isinf(x),
    "isfinite": lambda m, x: m.isfinite(x),
    "logical_not": lambda m, x: m.logical_not(x),
    "bitwise_not": lambda m, x: m.bitwise_not(x),
    "~": lambda m, x: ~x,
    "method_isnan": lambda m, x: x.isnan(),
}
UNARY_INPUTS = {
    "float": lambda: np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5]),
    "float32_2d": lambda: noncontig(np.array([[np.nan, 1.0], [np.inf, 0.0]], dtype=np.float32)),
    "float_0dim": lambda: np.asarray(np.inf),
    "int": lambda: _I,
    "uint8": lambda: np.array([0, 1, 255], dtype=np.uint8),
    "bool": lambda: _F > 0,
    "empty": lambda: np.zeros((0, 2)),
}


@pytest.mark.parametrize("op", list(UNARY))
def test_unary_matches_torch(op, device):
    for case, make in UNARY_INPUTS.items():
        if op == "~" and make().dtype.kind == "f":
            continue  # the operator raises NotImplementedError here, TypeError in PyTorch (see ERRORS)
        agrees_with_torch(UNARY[op], [make()], device, f"{op} of {case}")


CLOSE = {
    "default": lambda m, a, b: m.isclose(a, b),
    "rtol": lambda m, a, b: m.isclose(a, b, rtol=0.1),
    "atol": lambda m, a, b: m.isclose(a, b, atol=0.5, rtol=0),
    "zero_tol": lambda m, a, b: m.isclose(a, b, rtol=0, atol=0),
    "equal_nan": lambda m, a, b: m.isclose(a, b, equal_nan=True),
    "method": lambda m, a, b: a.isclose(b, 1e-3, 1e-3, True),
    "allclose": lambda m, a, b: m.allclose(a, b),
    "allclose_loose": lambda m, a, b: m.allclose(a, b, rtol=1.0, atol=10.0, equal_nan=True),
    "allclose_method": lambda m, a, b: a.allclose(b, atol=0.2),
    "equal": lambda m, a, b: m.equal(a, b),
    "equal_method": lambda m, a, b: a.equal(b),
}
CLOSE_INPUTS = {
    "float": lambda: (np.array([1.0, 1.0, 1.0, np.nan, np.inf, -np.inf, 0.0]),
                      np.array([1.0, 1.05, 1.3, np.nan, np.inf, np.inf, 1e-9])),
    "float32": lambda: (np.array([1.0, 100.0, 0.0], dtype=np.float32),
                        np.array([1.0 + 1e-6, 100.001, 0.4], dtype=np.float32)),
    "same": lambda: (_F, _F.copy()),
    "broadcast": lambda: (_F, np.array([1.0, -2.0, 0.0])),
    "shape_mismatch": lambda: (np.ones(3), np.ones(2)),
    "int": lambda: (np.array([10, 10, 10]), np.array([10, 11, 13])),
    "bool": lambda: (_F > 0, _F >= 0),
    "mixed_dtypes": lambda: (_F, _F.astype(np.float32)),
    "int_float": lambda: (_I, _I.astype(np.float64)),
    "zero_size": lambda: (np.zeros((0, 2)), np.zeros((0, 2))),
    "0dim": lambda: (np.asarray(1.0), np.asarray(1.0 + 1e-9)),
}


@pytest.mark.parametrize("op", list(CLOSE))
def test_closeness_matches_torch(op, device):
    for case, make in CLOSE_INPUTS.items():
        agrees_with_torch(CLOSE[op], list(make()), device, f"{op} with {case}")


def test_python_bools():
    a = tg.tensor([1.0, 2.0])
    assert tg.equal(a, a.clone()) is True and tg.equal(a, a + 1) is False
    assert tg.allclose(a, a + 1e-9) is True and tg.allclose(a, a + 1) is False
    assert tg.equal(tg.tensor([float("nan")]), tg.tensor([float("nan")])) is False


ERRORS = [
    (lambda: tg.bitwise_and(tg.ones(2), tg.ones(2)), NotImplementedError, "bitwise_and.*float32"),
    (lambda: tg.ones(2) | 1, NotImplementedError, "bitwise_or.*float32"),
    (lambda: tg.tensor([1, 2]) ^ 1.5, NotImplementedError, "bitwise_xor"),
    (lambda: ~tg.ones(2), TypeError, "integer and bool"),  # PyTorch raises TypeError for ~ on floats
    (lambda: tg.isclose(tg.ones(2), tg.ones(2, dtype=tg.float64)), RuntimeError, "float32 and float64"),
    (lambda: tg.allclose(tg.ones(2), tg.ones(2, dtype=tg.float64)), RuntimeError, "float32 and float64"),
    (lambda: tg.isclose(tg.ones(2), tg.ones(2), rtol=-1), RuntimeError, "rtol.*-1"),
    (lambda: tg.isclose(tg.ones(2), tg.ones(2), atol=-0.5), RuntimeError, "atol.*-0.5"),
    (lambda: tg.isclose(tg.ones(2), 1.0), TypeError, "isclose.*other.*Tensor"),
    (lambda: tg.equal(tg.ones(2), 1.0), TypeError, "equal.*other.*Tensor"),
    (lambda: tg.logical_and(tg.ones(2), True), TypeError, "logical_and.*other.*Tensor"),
    (lambda: tg.logical_not([1]), TypeError, "logical_not.*Tensor"),
    (lambda: tg.isnan(1.0), TypeError, "isnan.*Tensor"),
    (lambda: tg.eq(1, 2), TypeError, "eq.*Tensor"),
    (lambda: tg.lt(tg.ones(2), "a"), TypeError, "lt"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    fn, exc, match = ERRORS[i]
    with pytest.raises(exc, match=match):
        fn()
