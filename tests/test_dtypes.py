"""dtype objects and PyTorch's type promotion: result_type, promote_types, operator result dtypes,
default dtype; exhaustive small grids plus a hypothesis property test, torch as the oracle."""
from __future__ import annotations

import itertools
import operator
import pickle

import numpy as np
import pytest

import tensorgrad as tg
from oracle import needs_torch, torch

pytestmark = needs_torch

NAMES = ["float16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64", "bool"]
KINDS = ["dim", "zero"]
SCALARS = [True, False, 3, -2, 0, 2.5, -0.5]


def tname(dtype) -> str:
    return str(dtype).replace("torch.", "").replace("tensorgrad.", "")


def make(mod, operand, value=1):
    """A tensor operand ('float32', 'dim'|'zero') for module `mod`, or a Python scalar as is."""
    if not isinstance(operand, tuple):
        return operand
    name, kind = operand
    dt = getattr(mod, name)
    if name == "bool":
        value = bool(value)
    return mod.full((2,) if kind == "dim" else (), value, dtype=dt)


TENSOR_OPERANDS = [(n, k) for n in NAMES for k in KINDS]
ALL_PAIRS = [(a, b) for a, b in itertools.product(TENSOR_OPERANDS + SCALARS, repeat=2)
             if isinstance(a, tuple) or isinstance(b, tuple)]


def operand_id(x):
    return f"{x[0]}_{x[1]}" if isinstance(x, tuple) else repr(x)


# ---------------------------------------------------------------- dtype objects
def test_dtype_objects_match_torch():
    for n in NAMES:
        d, p = getattr(tg, n), getattr(torch, n)
        assert d.name == tname(p)
        assert repr(d) == repr(p).replace("torch.", "tensorgrad.")
        assert d.is_floating_point == p.is_floating_point
        assert d.is_signed == p.is_signed
        assert d.itemsize == p.itemsize
    for alias in ("half", "float", "double", "short", "int", "long"):
        assert getattr(tg, alias).name == tname(getattr(torch, alias))


def test_dtype_pickles_as_the_same_object():
    for n in NAMES:
        d = getattr(tg, n)
        assert pickle.loads(pickle.dumps(d)) is d


def test_as_dtype_accepts_python_types_like_torch():
    from tensorgrad.dtypes import as_dtype
    for py in (float, int, bool):
        assert as_dtype(py).name == tname(torch.ones(1, dtype=py).dtype)
    assert as_dtype(np.float64) is tg.float64 and as_dtype("int16") is tg.int16
    with pytest.raises(TypeError, match="unsupported dtype"):
        as_dtype("complex64")


# ---------------------------------------------------------------- promote_types
@pytest.mark.parametrize("a", NAMES)
def test_promote_types_all_pairs(a):
    for b in NAMES:
        got = tg.promote_types(getattr(tg, a), getattr(tg, b))
        want = torch.promote_types(getattr(torch, a), getattr(torch, b))
        assert got.name == tname(want), (a, b)


# ---------------------------------------------------------------- result_type
@pytest.mark.parametrize("a", TENSOR_OPERANDS + SCALARS, ids=operand_id)
def test_result_type_exhaustive_grid(a):
    for b in TENSOR_OPERANDS + SCALARS:
        if not (isinstance(a, tuple) or isinstance(b, tuple)):
            continue
        got = tg.result_type(make(tg, a), make(tg, b))
        want = torch.result_type(make(torch, a), make(torch, b))
        assert got.name == tname(want), (a, b, got, want)


def test_result_type_with_float64_default():
    tg.set_default_dtype(tg.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for a, b in ALL_PAIRS:
            got = tg.result_type(make(tg, a), make(tg, b))
            want = torch.result_type(make(torch, a), make(torch, b))
            assert got.name == tname(want), (a, b)
    finally:
        tg.set_default_dtype(tg.float32)
        torch.set_default_dtype(torch.float32)


# ---------------------------------------------------------------- operator result dtypes
BINARY_OPS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "ge": operator.ge,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor,
}


def _negative_int_with_uint8(a, b):
    return any(isinstance(x, tuple) and x[0] == "uint8" and y.__class__ is int and y < 0
               for x, y in ((a, b), (b, a)))


def _known_bug(op, a, b):
    if _negative_int_with_uint8(a, b):
        return "uint8"
    if op == "pow" and isinstance(a, tuple) and a[0] == "bool" and (b is True or b is False):
        return "pow"
    return None


def outcome(mod, op, a, b):
    """The result dtype name, or 'error' when the op raises."""
    try:
        with np.errstate(all="ignore"):
            r = BINARY_OPS[op](make(mod, a, 3), make(mod, b, 2))
    except (RuntimeError, TypeError, ValueError, ZeroDivisionError):
        return "error"
    return tname(r.dtype) if mod is torch else r.dtype.name


@pytest.mark.parametrize("op", list(BINARY_OPS))
def test_operator_result_dtypes_match_torch(op):
    bad = []
    for a, b in ALL_PAIRS:
        if _known_bug(op, a, b):
            continue
        want, got = outcome(torch, op, a, b), outcome(tg, op, a, b)
        if want != got:
            bad.append((a, b, want, got))
    assert not bad, f"{len(bad)} mismatches, first: {bad[:5]}"


@pytest.mark.parametrize("op", ["add", "mul", "sub", "eq", "lt"])
def test_out_of_range_int_scalar_with_small_int_tensor_like_torch(op):
    for a, b in ((("uint8", "dim"), -2), (-2, ("uint8", "zero")), (("int8", "dim"), 1000)):
        if op == "mul" and isinstance(a, tuple) and a[0] == "int8":
            b = 100
        assert outcome(tg, op, a, b) == outcome(torch, op, a, b), (a, b)
        if outcome(torch, op, a, b) != "error":
            want = BINARY_OPS[op](make(torch, a, 3), make(torch, b, 2))
            got = BINARY_OPS[op](make(tg, a, 3), make(tg, b, 2))
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_pow_bool_tensor_by_bool_scalar_like_torch():
    for a in (("bool", "dim"), ("bool", "zero")):
        for b in (True, False):
            assert outcome(tg, "pow", a, b) == outcome(torch, "pow", a, b)


@pytest.mark.parametrize("op", ["add", "mul", "truediv", "lt"])
def test_operator_result_dtypes_with_float64_default(op):
    tg.set_default_dtype(tg.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for a, b in ALL_PAIRS:
            if not _known_bug(op, a, b):
                assert outcome(tg, op, a, b) == outcome(torch, op, a, b), (op, a, b)
    finally:
        tg.set_default_dtype(tg.float32)
        torch.set_default_dtype(torch.float32)


def test_division_of_integers_gives_default_float():
    for m in (tg, torch):
        assert tname((m.tensor([1, 2]) / m.tensor([2, 2])).dtype) == "float32"
        assert tname((m.tensor([1, 2], dtype=m.int8) / 2).dtype) == "float32"
        assert tname((m.tensor([True]) / True).dtype) == "float32"


def test_reverse_operators_promote_the_same():
    for name in ("float16", "int8", "uint8", "int32", "bool"):
        for s in (2, 2.5, True):
            a = tg.full((2,), 1, dtype=getattr(tg, name))
            p = torch.full((2,), 1, dtype=getattr(torch, name))
            assert (s + a).dtype.name == tname((s + p).dtype)
            assert (s * a).dtype.name == tname((s * p).dtype)


# ---------------------------------------------------------------- hypothesis
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

operand_st = st.one_of(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(KINDS)),
    st.booleans(),
    st.integers(min_value=-100, max_value=100),
    st.floats(min_value=-100, max_value=100, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(a=operand_st, b=operand_st, op=st.sampled_from(["add", "mul", "truediv", "eq", "sub"]))
def test_property_result_dtype_matches_torch(a, b, op):
    if not (isinstance(a, tuple) or isinstance(b, tuple)):
        return
    want = torch.result_type(make(torch, a), make(torch, b))
    assert tg.result_type(make(tg, a), make(tg, b)).name == tname(want)
    if _known_bug(op, a, b):
        return
    assert outcome(tg, op, a, b) == outcome(torch, op, a, b)


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(KINDS)), min_size=2, max_size=4))
def test_property_chained_add_dtype_matches_torch(ops):
    t = make(tg, ops[0])
    p = make(torch, ops[0])
    for o in ops[1:]:
        t = t + make(tg, o)
        p = p + make(torch, o)
    assert t.dtype.name == tname(p.dtype)


# ---------------------------------------------------------------- default dtype
def test_set_default_dtype():
    assert tg.get_default_dtype() is tg.float32
    tg.set_default_dtype(tg.float64)
    try:
        assert tg.get_default_dtype() is tg.float64
        assert (tg.tensor([1, 2]) * 1.5).dtype is tg.float64
        assert (tg.tensor([1.0], dtype=tg.float32) * 1.5).dtype is tg.float32
        assert (tg.tensor([1, 2]) / 2).dtype is tg.float64
    finally:
        tg.set_default_dtype(tg.float32)
    tg.set_default_dtype(tg.float16)
    try:
        assert tg.zeros(1).dtype is tg.float16 and (tg.tensor([1]) * 0.5).dtype is tg.float16
    finally:
        tg.set_default_dtype(tg.float32)
    assert tg.get_default_dtype() is tg.float32


def test_set_default_dtype_rejects_non_float():
    for bad in (tg.int64, tg.bool, tg.int8):
        with pytest.raises(TypeError):
            tg.set_default_dtype(bad)
        with pytest.raises(TypeError):
            torch.set_default_dtype(getattr(torch, bad.name))
    assert tg.get_default_dtype() is tg.float32


def test_result_type_with_numpy_scalars_like_torch():
    for name in NAMES:
        for s in (np.int64(3), np.int8(3), np.float32(1.5), np.float64(-2.5)):
            got = tg.result_type(make(tg, (name, "dim")), s)
            want = torch.result_type(make(torch, (name, "dim")), s)
            assert got.name == tname(want), (name, type(s).__name__)


def test_result_type_rejects_non_numbers():
    with pytest.raises(TypeError):
        tg.result_type(tg.ones(1), "a")
    with pytest.raises(TypeError):
        tg.result_type(tg.ones(1), None)
