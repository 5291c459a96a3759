"""Tensor creation: tensor/as_tensor/from_numpy, filled tensors, ranges, random, checked against PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import needs_torch, torch


def tname(dtype) -> str:
    return str(dtype).replace("torch.", "")


def same(t, p):
    assert isinstance(t, tg.Tensor)
    assert tuple(t.shape) == tuple(p.shape), (tuple(t.shape), tuple(p.shape))
    assert t.dtype.name == tname(p.dtype), (t.dtype, p.dtype)
    np.testing.assert_array_equal(t.numpy(), p.numpy())


# ---------------------------------------------------------------- tensor(): values and dtype inference
TENSOR_DATA = [
    [1, 2], [1.0, 2], [True], [True, False], [True, 2], [True, 2.5], [[1, 2], [3, 4.0]], [], [[]], [[], []],
    3, 3.0, True, -7, [[[1], [2]], [[3], [4]]], (1, 2, 3), [(1, 2), (3, 4)], [2 ** 40, -1], [1e-30, 1e30],
    [0.1, 0.2, 0.3], [[True, False], [False, True]],
]


@needs_torch
@pytest.mark.parametrize("data", TENSOR_DATA, ids=[repr(d) for d in TENSOR_DATA])
def test_tensor_inference_matches_torch(data):
    same(tg.tensor(data), torch.tensor(data))


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64", "bool"])
def test_tensor_explicit_dtype_matches_torch(dtype):
    data = [[1.7, -2.7, 0.0], [3.2, 100.9, -0.5]] if dtype != "uint8" else [[1.7, 2.7, 0.0], [3.2, 100.9, 0.5]]
    same(tg.tensor(data, dtype=getattr(tg, dtype)), torch.tensor(data, dtype=getattr(torch, dtype)))


@needs_torch
def test_tensor_with_numpy_scalars_and_arrays_keeps_their_dtypes():
    cases = [
        lambda: np.float64(2.5), lambda: np.float32(1.5), lambda: np.int16(3), lambda: np.int8(-2),
        lambda: np.bool_(True), lambda: [np.float32(1.5), 2], lambda: [np.float64(1.5), 2],
        lambda: [np.int16(1)], lambda: [np.int32(1), 2.5], lambda: [np.float16(1.0), 1.0],
        lambda: np.array([1, 2], dtype=np.int32), lambda: np.array(2.5), lambda: np.zeros((2, 3), np.float16),
        lambda: np.array([[True]]),
    ]
    for make in cases:
        same(tg.tensor(make()), torch.tensor(make()))


@needs_torch
def test_tensor_of_mixed_tensors_and_numbers_matches_torch():
    cases = [
        lambda m: [m.tensor(1), m.tensor(2)], lambda m: [m.tensor(1.5), 2],
        lambda m: [m.tensor(1, dtype=m.int32), 2], lambda m: [m.tensor(1.0, dtype=m.float64), 2],
        lambda m: [m.tensor(1, dtype=m.int8), 2.0], lambda m: [m.tensor(1, dtype=m.int8), m.tensor(1, dtype=m.int16)],
        lambda m: [m.tensor(1, dtype=m.int8), True], lambda m: [m.tensor(1.0, dtype=m.float16), 2],
        lambda m: [[m.tensor(1.0, dtype=m.float64)], [2]],
    ]
    for make in cases:
        same(tg.tensor(make(tg)), torch.tensor(make(torch)))


def test_tensor_copies_its_input():
    a = np.array([1.0, 2.0])
    t = tg.tensor(a)
    a[0] = 100.0
    assert t.tolist() == [1.0, 2.0]
    src = tg.tensor([1.0, 2.0], requires_grad=True)
    c = tg.tensor(src)  # PyTorch warns and copies; the copy is a new leaf
    assert c.is_leaf and not c.requires_grad
    with tg.no_grad():
        src.add_(1.0)
    assert c.tolist() == [1.0, 2.0]


def test_tensor_of_non_contiguous_array():
    a = np.arange(12.0).reshape(3, 4).T
    t = tg.tensor(a)
    assert t.tolist() == a.tolist()
    a[0, 0] = -1.0
    assert t.tolist()[0][0] == 0.0


def test_tensor_requires_grad_flag():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="(?i)floating point"):
        tg.tensor([1, 2], requires_grad=True)


def test_tensor_bad_data_raises():
    with pytest.raises(ValueError):
        tg.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        tg.tensor("abc")
    with pytest.raises(TypeError):
        tg.tensor({"a": 1})
    with pytest.raises(TypeError, match="not supported"):
        tg.tensor(np.array([1, 2], dtype=np.uint16))
    with pytest.raises(TypeError):
        tg.tensor([1.0], dtype="no_such_dtype")


def test_Tensor_constructor_gives_default_float():
    t = tg.Tensor([1, 2])
    assert t.dtype is tg.float32 and t.tolist() == [1.0, 2.0]


def test_Tensor_legacy_constructor_forms():
    """PyTorch's torch.Tensor(*sizes) / torch.Tensor(data) / torch.Tensor()."""
    assert tuple(tg.Tensor(3, 4).shape) == (3, 4) and tg.Tensor(3, 4).dtype is tg.float32
    assert tuple(tg.Tensor(2).shape) == (2,) and tuple(tg.Tensor().shape) == (0,)
    assert tg.Tensor([[1, 2]], requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="expected sizes"):
        tg.Tensor([1], [2])


# ---------------------------------------------------------------- as_tensor / from_numpy
def test_from_numpy_shares_memory():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = tg.from_numpy(a)
    assert t.dtype is tg.float32 and tuple(t.shape) == (2, 3)
    a[0, 0] = 42.0
    assert t.tolist()[0][0] == 42.0
    t.mul_(2.0)
    assert a[1, 2] == 10.0
    assert np.shares_memory(t.numpy(), a)


def test_from_numpy_keeps_dtype_and_rejects_others():
    for dt in (np.float16, np.float64, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_):
        assert tg.from_numpy(np.zeros(2, dtype=dt)).dtype.np == np.dtype(dt)
    with pytest.raises(TypeError):
        tg.from_numpy([1, 2])
    with pytest.raises(TypeError, match="not supported"):
        tg.from_numpy(np.zeros(2, dtype=np.complex64))


def test_as_tensor_shares_when_possible():
    a = np.arange(3.0)
    t = tg.as_tensor(a)
    a[0] = 7.0
    assert t.tolist()[0] == 7.0
    c = tg.as_tensor(a, dtype=tg.float32)  # a conversion: a copy
    a[1] = 9.0
    assert c.tolist()[1] == 1.0
    x = tg.ones(2)
    assert tg.as_tensor(x) is x
    assert tg.as_tensor(x, dtype=tg.float64).dtype is tg.float64
    same_ = tg.as_tensor([1, 2])
    assert same_.dtype is tg.int64


# ---------------------------------------------------------------- filled tensors
@needs_torch
def test_filled_factories_match_torch():
    cases = [
        lambda m: m.zeros(2, 3), lambda m: m.zeros((2, 3)), lambda m: m.zeros([2, 3]), lambda m: m.zeros(()),
        lambda m: m.zeros(2, 3, dtype=m.int32), lambda m: m.ones(0, 3), lambda m: m.ones(4, dtype=m.bool),
        lambda m: m.ones(m.Size([2, 2])), lambda m: m.full((2, 2), 3), lambda m: m.full((2,), 3.0),
        lambda m: m.full((2,), True), lambda m: m.full([2], 1.5, dtype=m.float64), lambda m: m.full((), 2),
        lambda m: m.eye(3), lambda m: m.eye(2, 3), lambda m: m.eye(3, 2, dtype=m.int64),
        lambda m: m.eye(2, dtype=m.bool), lambda m: m.eye(0), lambda m: m.zeros(np.int64(2), 3),
        lambda m: m.ones(2, dtype=float), lambda m: m.ones(2, dtype=int), lambda m: m.ones(2, dtype=bool),
    ]
    for make in cases:
        same(make(tg), make(torch))


def test_empty_shape_and_dtype():
    e = tg.empty(2, 3, dtype=tg.int16)
    assert tuple(e.shape) == (2, 3) and e.dtype is tg.int16
    assert tuple(tg.empty((4,)).shape) == (4,) and tg.empty(0).numel() == 0


@needs_torch
def test_like_factories_match_torch():
    a = np.array([[1, 2], [3, 4]], dtype=np.int32)
    for f in (lambda m, x: m.zeros_like(x), lambda m, x: m.ones_like(x, dtype=m.float32),
              lambda m, x: m.full_like(x, 7), lambda m, x: m.full_like(x, 2.7),
              lambda m, x: m.full_like(x, 2.7, dtype=m.float64), lambda m, x: m.ones_like(x, dtype=m.bool)):
        same(f(tg, tg.tensor(a)), f(torch, torch.tensor(a)))
    x = tg.ones(2, 3, dtype=tg.float64)
    for f in (tg.empty_like, tg.rand_like, tg.randn_like):
        r = f(x)
        assert tuple(r.shape) == (2, 3) and r.dtype is tg.float64 and not r.requires_grad
    assert tg.zeros_like(x, requires_grad=True).requires_grad
    assert tg.rand_like(x, dtype=tg.float32).dtype is tg.float32


def test_requires_grad_factories():
    for f in (lambda: tg.zeros(2, requires_grad=True), lambda: tg.ones(2, requires_grad=True),
              lambda: tg.full((2,), 1.5, requires_grad=True), lambda: tg.rand(2, requires_grad=True),
              lambda: tg.randn(2, requires_grad=True), lambda: tg.arange(3.0, requires_grad=True),
              lambda: tg.linspace(0, 1, 3, requires_grad=True), lambda: tg.eye(2, requires_grad=True),
              lambda: tg.empty(2, requires_grad=True)):
        t = f()
        assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="(?i)floating point"):
        tg.zeros(2, dtype=tg.int64, requires_grad=True)


@pytest.mark.parametrize("bad", [(-1,), (2, -3), ((2, -1),)])
def test_negative_sizes_raise_runtimeerror(bad):
    with pytest.raises(RuntimeError, match="negative dimension"):
        tg.zeros(*bad)
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.zeros(*bad)


@pytest.mark.parametrize("bad", [(2.5,), ("a",), (True,), ([2, 1.0],), (None,)])
def test_non_integer_sizes_raise_typeerror(bad):
    for f in (tg.zeros, tg.ones, tg.empty, tg.rand, tg.randn):
        with pytest.raises(TypeError, match="size"):
            f(*bad)
    if torch is not None:
        with pytest.raises(TypeError):
            torch.zeros(*bad)


def test_bad_dtype_raises_typeerror():
    with pytest.raises(TypeError, match="unsupported dtype"):
        tg.zeros(2, dtype="nope")
    with pytest.raises(TypeError, match="unsupported dtype"):
        tg.ones(2, dtype=np.complex64)
    with pytest.raises(TypeError):
        tg.tensor([1.0], dtype=object)


# ---------------------------------------------------------------- ranges
ARANGE_CASES = [(5,), (1, 4), (0, 1, 0.25), (5.0,), (0, 10, 3), (5, 0, -1), (0, 1, 0.1), (0.5, 3), (-1.5, 1.5, 0.5),
                (10, 10), (0, -3, -1), (1, 2.5, 0.5), (-3, 3, 2), (0, 100, 7)]


@needs_torch
@pytest.mark.parametrize("args", ARANGE_CASES, ids=[repr(a) for a in ARANGE_CASES])
def test_arange_matches_torch(args):
    t, p = tg.arange(*args), torch.arange(*args)
    assert tuple(t.shape) == tuple(p.shape) and t.dtype.name == tname(p.dtype)
    np.testing.assert_allclose(t.numpy(), p.numpy(), rtol=1e-6, atol=1e-7)


@needs_torch
def test_arange_dtype_and_tensor_args():
    for args, kw in [((5,), {"dtype": "float64"}), ((0, 3), {"dtype": "int32"}), ((0, 2, 0.5), {"dtype": "float64"})]:
        t = tg.arange(*args, dtype=getattr(tg, kw["dtype"]))
        p = torch.arange(*args, dtype=getattr(torch, kw["dtype"]))
        same(t, p)
    same(tg.arange(tg.tensor(4)), torch.arange(torch.tensor(4)))


def test_arange_errors():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        tg.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        tg.arange(10, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        tg.arange(0, 5, -1)


@needs_torch
@pytest.mark.parametrize("args,dtype", [((0, 1, 5), None), ((0, 10, 3), "int64"), ((1, 2, 1), None), ((1, 2, 0), None),
                                        ((-1, 1, 7), "float64"), ((2, -2, 9), None), ((0, 1, 11), "float16")])
def test_linspace_matches_torch(args, dtype):
    t = tg.linspace(*args, dtype=getattr(tg, dtype) if dtype else None)
    p = torch.linspace(*args, dtype=getattr(torch, dtype) if dtype else None)
    assert tuple(t.shape) == tuple(p.shape) and t.dtype.name == tname(p.dtype)
    np.testing.assert_array_equal(t.numpy(), p.numpy())


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int64"])
def test_linspace_is_torchs_value_for_value(dtype):
    """PyTorch counts up from start over the first half and down from end over the second, rounding as
    its dtype's arithmetic does; grids built from linspace (affine_grid) depend on the last bit."""
    for n in list(range(2, 40)) + [100, 257, 1000, 4097]:
        for a, b in [(-1, 1), (0.1, 3.7), (-5, 2), (1e3, 1e3 + 1), (0.3, -0.7), (-7, 13)]:
            t = tg.linspace(a, b, n, dtype=getattr(tg, dtype)).numpy()
            p = torch.linspace(a, b, n, dtype=getattr(torch, dtype)).numpy()
            np.testing.assert_array_equal(t, p, err_msg=f"linspace({a}, {b}, {n}, dtype={dtype})")


def test_linspace_takes_zero_dim_tensors():
    np.testing.assert_array_equal(tg.linspace(tg.tensor(0.0), tg.tensor(1.0), 3).numpy(), [0, 0.5, 1])


# ---------------------------------------------------------------- random
def test_rand_randn_shapes_dtypes_ranges():
    assert tuple(tg.rand(2, 3).shape) == (2, 3) and tg.rand(2, 3).dtype is tg.float32
    assert tuple(tg.randn((4,)).shape) == (4,) and tg.randn(4, dtype=tg.float64).dtype is tg.float64
    assert tg.rand(3, dtype=tg.float16).dtype is tg.float16
    u = tg.rand(10_000, dtype=tg.float64).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    n = tg.randn(20_000, dtype=tg.float64).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1.0) < 0.05
    assert tuple(tg.rand(()).shape) == ()
    with pytest.raises(RuntimeError, match="floating"):
        tg.rand(2, dtype=tg.int32)
    with pytest.raises(RuntimeError, match="floating"):
        tg.randn(2, dtype=tg.int64)


def test_rand_half_stays_below_one():
    for dt in (tg.float16, tg.float32, tg.float64):
        u = tg.rand(200_000, dtype=dt).numpy()
        assert u.dtype == dt.np and u.min() >= 0.0 and u.max() < 1.0, dt
        assert 0.49 < float(u.astype(np.float64).mean()) < 0.51


def test_randint():
    r = tg.randint(0, 10, (1000,))
    assert r.dtype is tg.int64 and tuple(r.shape) == (1000,)
    v = r.numpy()
    assert v.min() >= 0 and v.max() <= 9 and len(np.unique(v)) == 10
    r2 = tg.randint(5, (2, 2))
    assert tuple(r2.shape) == (2, 2) and r2.numpy().max() < 5
    assert tg.randint(-3, 3, (50,)).numpy().min() >= -3
    assert tg.randint(0, 2, (3,), dtype=tg.float32).dtype is tg.float32
    with pytest.raises(RuntimeError, match="low < high"):
        tg.randint(3, 3, (2,))


def test_randperm():
    p = tg.randperm(50)
    assert p.dtype is tg.int64 and sorted(p.tolist()) == list(range(50))
    assert tg.randperm(0).numel() == 0
    assert tg.randperm(5, dtype=tg.int32).dtype is tg.int32


def test_normal_forms():
    z = tg.normal(2.0, 3.0, (20_000,))
    assert z.dtype is tg.float32 and abs(z.numpy().mean() - 2.0) < 0.1 and abs(z.numpy().std() - 3.0) < 0.1
    m = tg.normal(tg.full((4000,), 5.0), 0.5)
    assert tuple(m.shape) == (4000,) and abs(m.numpy().mean() - 5.0) < 0.05
    b = tg.normal(tg.zeros(3), tg.ones(2, 1))
    assert tuple(b.shape) == (2, 3)
    with pytest.raises(TypeError, match="size"):
        tg.normal(0.0, 1.0)


def test_manual_seed_reproducible():
    tg.manual_seed(123)
    a = [tg.rand(5).tolist(), tg.randn(3, 2).tolist(), tg.randint(0, 100, (5,)).tolist(), tg.randperm(7).tolist(),
         tg.normal(0.0, 1.0, (3,)).tolist()]
    tg.manual_seed(123)
    b = [tg.rand(5).tolist(), tg.randn(3, 2).tolist(), tg.randint(0, 100, (5,)).tolist(), tg.randperm(7).tolist(),
         tg.normal(0.0, 1.0, (3,)).tolist()]
    assert a == b
    tg.manual_seed(124)
    c = [tg.rand(5).tolist(), tg.randn(3, 2).tolist()]
    assert c != a[:2]
    tg.manual_seed(123)
    assert tg.rand(5).tolist() == a[0]
    assert tg.rand(5).tolist() != a[0]  # the stream advances


def test_random_in_place_fills():
    tg.manual_seed(0)
    t = tg.zeros(1000, dtype=tg.float64)
    v = t._version
    t.uniform_(2.0, 3.0)
    assert t.numpy().min() >= 2.0 and t.numpy().max() < 3.0 and t._version == v + 1
    t.normal_(10.0, 0.1)
    assert abs(t.numpy().mean() - 10.0) < 0.05


# ---------------------------------------------------------------- default dtype
@needs_torch
def test_factories_follow_default_dtype():
    tg.set_default_dtype(tg.float64)
    try:
        assert tg.zeros(2).dtype is tg.float64
        assert tg.tensor([1.5]).dtype is tg.float64
        assert tg.tensor([1, 2]).dtype is tg.int64
        assert tg.rand(2).dtype is tg.float64 and tg.randn(2).dtype is tg.float64
        assert tg.arange(0.0, 1.0, 0.5).dtype is tg.float64 and tg.linspace(0, 1, 3).dtype is tg.float64
        assert tg.full((2,), 1.5).dtype is tg.float64 and tg.full((2,), 1).dtype is tg.int64
        assert tg.eye(2).dtype is tg.float64 and tg.Tensor([1]).dtype is tg.float64
    finally:
        tg.set_default_dtype(tg.float32)
    assert tg.zeros(2).dtype is tg.float32


def test_eye_linspace_randperm_argument_errors_like_torch():
    for m in (tg, torch) if torch is not None else (tg,):
        with pytest.raises(RuntimeError):
            m.eye(-1)
        with pytest.raises(RuntimeError):
            m.eye(2, -3)
        with pytest.raises(RuntimeError):
            m.linspace(0, 1, -2)
        with pytest.raises(TypeError):
            m.linspace(0, 1, 2.5)


def test_Tensor_of_a_size_is_a_shape():
    assert tuple(tg.Tensor(tg.Size([2, 3])).shape) == (2, 3)
    assert tuple(tg.Tensor(tg.ones(4, 5).shape).shape) == (4, 5)


def test_numpy_subclasses_become_plain_arrays_sharing_memory(tmp_path):
    """np.memmap (nanoGPT's data loader) and np.matrix: the tensor holds a base ndarray view, so ops,
    printing and devices work, and from_numpy still shares the memory."""
    path = str(tmp_path / "data.bin")
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(6,))
    mm[:] = np.arange(6)
    t = tg.from_numpy(mm)
    assert type(t.numpy()) is np.ndarray and t.device == tg.device("cpu")
    t += 1
    np.testing.assert_array_equal(np.asarray(mm), np.arange(1, 7))
    batch = tg.from_numpy(np.memmap(path, dtype=np.float32, mode="r")[1:4].astype(np.int64))
    assert (batch + 1).tolist() == [3, 4, 5] and "tensor" in repr(batch)
    assert tg.tensor(np.memmap(path, dtype=np.float32, mode="r")[:2]).tolist() == [1.0, 2.0]
    m = tg.as_tensor(np.asmatrix(np.eye(2)))
    assert (m @ m).tolist() == [[1.0, 0.0], [0.0, 1.0]]
