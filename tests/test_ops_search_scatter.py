"""searchsorted/bucketize (ops/search.py), kron (ops/arrange.py), scatter_reduce, masked_scatter and put
(ops/scatter_extra.py), index_put: PyTorch as the oracle for values, dtypes and gradients (in-place forms
included), float64 grad/gradgrad checks, and PyTorch's errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, rand, to_tg, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: oracle tests skipped")


def idx(*rows):
    return np.array(rows, dtype=np.int64)


def _t(a, device):
    return to_tg(np.asarray(a), device, False)


def ties(*shape, dtype=np.float64):
    """Small integers as floats: sorted sequences with repeats, amax/amin with ties."""
    return rand(*shape, dtype=np.int64, low=-3, high=3).astype(dtype)


# ---------------------------------------------------------------- searchsorted / bucketize
SEARCH_CASES = [  # (sequence shape, values shape)
    ((7,), (4, 5)), ((7,), ()), ((7,), (0,)), ((1,), (6,)), ((2, 3, 8), (2, 3, 5)), ((4, 6), (4, 0)), ((0,), (3,)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("case", SEARCH_CASES)
def test_searchsorted_matches_torch(case, dtype, device):
    seq_shape, v_shape = case
    seq = np.sort(ties(*seq_shape, dtype=dtype), axis=-1)  # repeats: left and right differ
    vals = ties(*v_shape, dtype=dtype)
    for kw in ({}, {"right": True}, {"side": "left"}, {"side": "right", "right": True}, {"out_int32": True}):
        check_torch(lambda m, s, v: m.searchsorted(s, v, **kw), [seq, vals], device, backward=False)


def test_searchsorted_scalars_mixed_dtypes_nan_and_sorter(device):
    seq = np.array([1.0, 3, 5, 7, 9])
    for v in (5, 5.0, 0, 10, True):
        for right in (False, True):
            check_torch(lambda m, s: m.searchsorted(s, v, right=right), [seq], device, backward=False)
            check_torch(lambda m, s: m.bucketize(v, s, right=right), [seq], device, backward=False)
    check_torch(lambda m, s, v: m.searchsorted(s, v), [np.arange(5), np.array([0.5, 3.5, 9.0])], device,
                backward=False)  # int sequence, float values: compared as numbers
    check_torch(lambda m, s, v: m.searchsorted(s, v, right=True),
                [np.arange(5.0).astype(np.float32), np.array([2, 3], dtype=np.int32)], device, backward=False)
    nan = np.array([1.0, 2.0, np.nan])  # NaN values and NaN in the sequence land where PyTorch puts them
    for right in (False, True):
        check_torch(lambda m, s, v: m.searchsorted(s, v, right=right), [nan, np.array([np.nan, 2.0, 3.0])],
                    device, backward=False)
    unsorted = rand(3, 6)
    sorter = np.argsort(unsorted, axis=-1)
    for right in (False, True):
        check_torch(lambda m, s, v, o: m.searchsorted(s, v, sorter=o, right=right),
                    [unsorted, rand(3, 4), sorter], device, backward=False)
        check_torch(lambda m, s, o: m.searchsorted(s, 0.25, sorter=o, right=right),
                    [unsorted[0], sorter[0]], device, backward=False)


@pytest.mark.parametrize("shape", [(3, 4), (), (0,)])
def test_bucketize_matches_torch(shape, device):
    bounds = np.sort(ties(6))
    for kw in ({}, {"right": True}, {"out_int32": True}):
        check_torch(lambda m, v, b: m.bucketize(v, b, **kw), [ties(*shape), bounds], device, backward=False)


def test_searchsorted_is_not_recorded(device):
    v = to_tg(rand(4), device, True)
    for out in (tg.searchsorted(_t(np.arange(3.0), device), v), tg.bucketize(v, _t(np.arange(3.0), device))):
        assert out.dtype == tg.int64 and not out.requires_grad and out.grad_fn is None


@pytest.mark.parametrize("seq, v, kw, err, msg", [
    ((), (2,), {}, RuntimeError, "should have positive dimension"),
    ((2, 3), (3, 1), {}, RuntimeError, r"first N-1 dimensions .* \[2, 3\] and input value tensor \[3, 1\]"),
    ((2, 3), (2, 3, 1), {}, RuntimeError, "first N-1 dimensions"),
    ((2, 3), 1.0, {}, RuntimeError, "scalar only when boundaries tensor dimension is 1"),
    ((4,), (2,), {"side": "left", "right": True}, RuntimeError, "can't be set to opposites"),
    ((4,), (2,), {"side": "middle"}, RuntimeError, "side can only be 'left' or 'right'"),
    ((4,), "a", {}, TypeError, "argument 'input' must be a Tensor or a number"),
])
def test_searchsorted_errors(seq, v, kw, err, msg, device):
    s = _t(np.sort(rand(*seq), axis=-1) if seq else rand(), device)
    v = _t(rand(*v), device) if isinstance(v, tuple) else v
    with pytest.raises(err, match=msg):
        tg.searchsorted(s, v, **kw)


def test_searchsorted_sorter_and_bucketize_errors(device, eager_checks):
    s, v = _t(rand(5), device), _t(rand(3), device)
    with pytest.raises(RuntimeError, match="sorter must be a tensor of long dtype but got dtype int32"):
        tg.searchsorted(s, v, sorter=_t(np.arange(5, dtype=np.int32), device))
    with pytest.raises(RuntimeError, match=r"same size, but got boundary tensor \[5\] and got sorter tensor \[4\]"):
        tg.searchsorted(s, v, sorter=_t(np.arange(4), device))
    with pytest.raises(RuntimeError, match="sorter index 9 is out of bounds"):
        tg.searchsorted(s, v, sorter=_t(idx(0, 1, 2, 3, 9), device))
    with pytest.raises(RuntimeError, match=r"bucketize\(\): boundaries tensor must be 1 dimension, but got dim\(2\)"):
        tg.bucketize(v, _t(rand(1, 5), device))
    with pytest.raises(TypeError, match="'sorted_sequence' must be a Tensor"):
        tg.searchsorted([1.0, 2.0], v)


# ---------------------------------------------------------------- kron
KRON_CASES = [((2, 3), (4,)), ((2,), (3, 2)), ((), (3,)), ((), ()), ((2, 1, 3), (2, 2)), ((0, 2), (3,))]


@pytest.mark.parametrize("case", KRON_CASES)
def test_kron_matches_torch_and_gradcheck(case, device):
    a, b = (rand(*s) for s in case)
    check_torch(lambda m, x, y: m.kron(x, y), [a, b], device)
    check_torch(lambda m, x, y: x.kron(y), [a.astype(np.float32), b.astype(np.float32)], device)
    check_grad(tg.kron, [a, b], device)


def test_kron_promotes_and_checks_types(device):
    check_torch(lambda m, x, y: m.kron(x, y), [idx([1, 2], [3, 4]), rand(2)], device)
    check_torch(lambda m, x, y: m.kron(x, y), [idx(1, 2), idx(3, 4, 5)], device)
    with pytest.raises(TypeError, match=r"kron\(\): argument 'other' must be a Tensor"):
        tg.kron(_t(rand(2), device), 3.0)


# ---------------------------------------------------------------- scatter_reduce
REDUCES = ["sum", "prod", "mean", "amax", "amin"]
SR_CASES = [  # (input shape, dim, index, src shape): repeated indices throughout
    ((4,), 0, idx(0, 0, 2, 0, 3), (5,)),
    ((3, 4), 0, idx([0, 2, 2, 1], [2, 2, 0, 1]), (2, 4)),
    ((3, 4), 1, idx([3, 3, 0], [1, 1, 1], [0, 2, 0]), (3, 3)),
    ((2, 3, 2), -1, idx([[1, 1], [0, 0], [1, 0]], [[0, 0], [1, 1], [0, 1]]), (2, 3, 2)),
    ((3, 4), 1, idx([0, 0], [3, 3]), (3, 5)),  # src larger than index: only its corner is used
    ((), 0, np.array(0), ()),
]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("case", SR_CASES)
def test_scatter_reduce_matches_torch(case, reduce, include_self, device):
    shape, dim, index, sshape = case
    # ties for amax/amin; PyTorch's backward fails on a src larger than the index, so that case
    # compares values here and gradients by gradcheck below
    backward = sshape == index.shape or not sshape
    for dtype in (np.float64, np.float32):
        x, s = ties(*shape, dtype=dtype), ties(*sshape, dtype=dtype)
        check_torch(lambda m, x, i, s: m.scatter_reduce(x, dim, i, s, reduce, include_self=include_self),
                    [x, index, s], device, backward=backward)
        check_torch(lambda m, x, i, s: (x * 1).scatter_reduce_(dim, i, s, reduce=reduce, include_self=include_self),
                    [x, index, s], device, backward=backward)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("case", SR_CASES)
def test_scatter_reduce_gradcheck(case, reduce, include_self, device):
    shape, dim, index, sshape = case
    x = rand(*shape, low=0.5, high=2.0) * np.where(rand(*shape) > 0, 1, -1)  # away from 0, distinct: no ties
    s = rand(*sshape, low=0.5, high=2.0)
    check_grad(lambda x, s, i: tg.scatter_reduce(x, dim, i, s, reduce, include_self=include_self),
               [x, s, index], device)


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_with_zeros(include_self, device):
    """Zeros in input and src: one zero at a position, two, and one in input with one in src."""
    x = np.array([0.0, 2.0, 3.0, 0.0, 1.5])
    s = np.array([0.0, 4.0, 0.0, 5.0, 0.0, 0.0, 2.0, 0.0, 3.0])
    i = idx(0, 1, 1, 2, 2, 3, 3, 4, 4)
    check_torch(lambda m, x, i, s: m.scatter_reduce(x, 0, i, s, "prod", include_self=include_self),
                [x, i, s], device)
    check_grad(lambda x, s: tg.scatter_reduce(x, 0, _t(i, device), s, "prod", include_self=include_self),
               [x, s], device, double=False)
    # second derivatives are PyTorch's formula where no position has two zeros scattered in
    single = np.array([0.0, 4.0, 0.5, 5.0, 0.0, 1.0, 2.0, 0.0, 3.0])
    check_grad(lambda x, s: tg.scatter_reduce(x, 0, _t(i, device), s, "prod", include_self=include_self),
               [x + 1.0, single], device)


def test_scatter_reduce_integer_bool_nan_and_grad_fn(device):
    ints = np.array([-5, 7, 3])
    for dtype in (np.int64, np.int32, np.uint8):
        x, s = np.abs(ints).astype(dtype), np.array([2, 0, 9, 4], dtype=dtype)
        for reduce in REDUCES:  # mean of integers: floor division; amax/amin start from the dtype's limits
            for inc in (True, False):
                check_torch(lambda m, x, i, s: m.scatter_reduce(x, 0, i, s, reduce, include_self=inc),
                            [x, idx(0, 0, 1, 1), s], device)
    check_torch(lambda m, x, i, s: m.scatter_reduce(x, 0, i, s, "mean"), [ints, idx(0, 1), np.array([2, 0])],
                device)  # -3 / 2 floors to -2
    for reduce in ("sum", "prod", "amax", "amin"):
        for inc in (True, False):
            check_torch(lambda m, x, i, s: m.scatter_reduce(x, 0, i, s, reduce, include_self=inc),
                        [np.array([True, False, True]), idx(0, 1, 1), np.array([False, True, False])], device)
    for reduce in ("amax", "amin", "sum"):
        check_torch(lambda m, x, i, s: m.scatter_reduce(x, 0, i, s, reduce),
                    [np.array([1.0, np.nan, 2.0]), idx(0, 1, 0), np.array([np.nan, 3.0, 2.0])], device,
                    backward=False)
    x = to_tg(rand(3), device, True)
    assert tg.scatter_reduce(x, 0, _t(idx(0), device), _t(rand(1), device), "amax").grad_fn.name() == \
        "ScatterReduceBackward0"


def test_scatter_reduce_in_place_rules(device):
    leaf = to_tg(rand(4), device, True)
    i, s = _t(idx(0, 0), device), to_tg(rand(2), device, True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.scatter_reduce_(0, i, s, "sum")
    plain = _t(rand(4), device)
    before, v = plain.numpy().copy(), plain._version
    plain.scatter_reduce_(0, i, _t(np.array([1.0, 2.0]), device), "amax", include_self=False)
    assert plain._version == v + 1
    np.testing.assert_array_equal(plain.numpy(), np.concatenate([[2.0], before[1:]]))
    y = leaf * 1
    y.scatter_reduce_(0, i, s, "prod")
    y.sum().backward()
    assert leaf.grad is not None and s.grad is not None


@pytest.mark.parametrize("args, err, msg", [
    ((0, idx(0), rand(1), "foo"), RuntimeError, "reduce argument must be either sum, prod, mean, amax or amin, got 'foo'"),
    ((0, idx(0), rand(1).astype(np.float32), "sum"), RuntimeError, "expected self.dtype to be equal to src.dtype"),
    ((0, idx(0, 4), rand(2), "sum"), RuntimeError, r"scatter_reduce\(\): index 4 is out of bounds for dimension 0 "
                                                   r"with size 4"),
    ((0, idx(-1), rand(1), "sum"), RuntimeError, "index -1 is out of bounds"),
    ((0, idx([0]), rand(1), "sum"), RuntimeError, "same number of dimensions"),
    ((0, idx(0, 1), rand(1), "sum"), RuntimeError, "no larger than src"),
    ((0, idx(0).astype(np.float64), rand(1), "sum"), RuntimeError, "expected dtype int64 or int32 for index"),
    ((0, idx(0), 1.5, "sum"), TypeError, "argument 'src' must be a Tensor"),
    ((2, idx(0), rand(1), "sum"), IndexError, "dimension out of range"),
])
def test_scatter_reduce_errors_leave_input_unchanged(args, err, msg, device, eager_checks):
    x = _t(rand(4), device)
    before = x.numpy().copy()
    dim, index, src, reduce = args
    src = _t(src, device) if isinstance(src, np.ndarray) else src
    with pytest.raises(err, match=msg):
        x.scatter_reduce_(dim, _t(index, device), src, reduce)
    np.testing.assert_array_equal(x.numpy(), before)
    with pytest.raises(RuntimeError, match="'mean' is not implemented for bool"):
        tg.scatter_reduce(_t(np.array([True]), device), 0, _t(idx(0), device), _t(np.array([True]), device), "mean")


# ---------------------------------------------------------------- masked_scatter
MS_CASES = [  # (input shape, mask shape, source shape)
    ((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), (7,)), ((3,), (2, 3), (3, 3)), ((), (), (2,)), ((2, 2), (2, 2), (0,)),
]


@pytest.mark.parametrize("case", MS_CASES)
def test_masked_scatter_matches_torch_and_gradcheck(case, device):
    shape, mshape, sshape = case
    mask = rand(*mshape, dtype=bool)
    if not sshape[0]:
        mask[...] = False
    elif not mshape:
        mask = np.array(True)
    for dtype in (np.float64, np.float32):
        check_torch(lambda m, x, k, s: m.masked_scatter(x, k, s),
                    [rand(*shape, dtype=dtype), mask, rand(*sshape, dtype=dtype)], device)
    check_grad(lambda x, s, k: tg.masked_scatter(x, k, s), [rand(*shape), rand(*sshape), mask], device)
    if np.broadcast_shapes(shape, mshape) == shape:  # the in-place form broadcasts mask to self only
        check_torch(lambda m, x, k, s: (x * 1).masked_scatter_(k, s), [rand(*shape), mask, rand(*sshape)], device)
        check_torch(lambda m, x, k, s: x.masked_scatter(k, s), [rand(*shape), mask, rand(*sshape)], device)


def test_masked_scatter_errors(device):
    x = _t(rand(2, 3), device)
    mask = _t(np.array([[True, False, True], [False, True, False]]), device)
    with pytest.raises(RuntimeError, match="at least as many elements as ones in mask, but source has 2 and mask 3"):
        x.masked_scatter(mask, _t(rand(2), device))
    with pytest.raises(RuntimeError, match="expected a bool mask"):
        x.masked_scatter(_t(np.ones((2, 3), dtype=np.int32), device), _t(rand(6), device))
    with pytest.raises(RuntimeError, match=r"same dtype, but got self.dtype = \S*float64 and source.dtype = \S*float32"):
        x.masked_scatter(mask, _t(rand(6, dtype=np.float32), device))
    with pytest.raises(TypeError, match="argument 'source' must be a Tensor"):
        x.masked_scatter(mask, 3.0)
    small = _t(rand(3), device)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        small.masked_scatter_(mask, _t(rand(6), device))
    leaf = to_tg(rand(2, 3), device, True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf.masked_scatter_(mask, _t(rand(6), device))


# ---------------------------------------------------------------- put / index_put
PUT_CASES = [  # (input shape, index, accumulate)
    ((6,), idx(1, -1), False), ((2, 3), idx([1], [-1], [0]), False), ((2, 3), idx(1, 1, 4, -5), True),
    ((), idx(0), False), ((2,), np.zeros(0, dtype=np.int64), True),
]


@pytest.mark.parametrize("case", PUT_CASES)
def test_put_matches_torch_and_gradcheck(case, device):
    shape, index, acc = case
    for dtype in (np.float64, np.float32):
        x, s = rand(*shape, dtype=dtype), rand(*index.shape, dtype=dtype)
        check_torch(lambda m, x, i, s: m.put(x, i, s, acc), [x, index, s], device)
        check_torch(lambda m, x, i, s: x.put(i, s, accumulate=acc), [x, index, s], device)
        check_torch(lambda m, x, i, s: (x * 1).put_(i, s, acc), [x, index, s], device)
    check_grad(lambda x, s, i: tg.put(x, i, s, acc), [rand(*shape), rand(*index.shape), index], device)


def test_put_errors_and_leaf(device, eager_checks):
    x = _t(rand(2, 3), device)
    s2 = _t(rand(2), device)
    with pytest.raises(IndexError, match=r"put\(\): index 6 is out of bounds for dimension 0 with size 6"):
        x.put_(_t(idx(1, 6), device), s2)
    with pytest.raises(IndexError, match="index -7 is out of bounds"):
        x.put(_t(idx(1, -7), device), s2)
    with pytest.raises(IndexError, match=r"source.numel\(\) = 3, index.numel\(\) = 2"):
        x.put(_t(idx(1, 2), device), _t(rand(3), device))
    with pytest.raises(RuntimeError, match="same dtype"):
        x.put(_t(idx(1, 2), device), _t(rand(2, dtype=np.float32), device))
    with pytest.raises(RuntimeError, match=r"expected dtype int64 for index, got \S*int32"):
        x.put(_t(idx(1, 2).astype(np.int32), device), s2)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        to_tg(rand(3), device, True).put_(_t(idx(0), device), s2[:1])


INDEX_PUT_CASES = [  # (input shape, index arrays, values shape, accumulate); repeats only with accumulate
    ((3, 4), (idx(0, 2, 0), idx(1, 3, 1)), (3,), True), ((3, 4), (idx(0, 2), idx(1, 3)), (2,), False),
    ((3, 4), (idx(2, 0, 2),), (3, 4), True), ((3, 4), (idx(2, 0),), (4,), False),
    ((2, 3, 2), (idx(1, 0), idx(2, 2)), (2, 2), True), ((2, 3, 2), (idx(1, 0), idx(2, 2)), (1,), False),
    ((3,), (np.array([True, False, True]),), (), True), ((3,), (np.array([True, False, True]),), (), False),
]


@pytest.mark.parametrize("case", INDEX_PUT_CASES)
def test_index_put_matches_torch_and_gradcheck(case, device):
    shape, index, vshape, acc = case
    arrays = [rand(*shape), rand(*vshape), *index]
    check_torch(lambda m, x, v, *i: m.index_put(x, i, v, acc), arrays, device)
    check_torch(lambda m, x, v, *i: x.index_put(list(i), v, accumulate=acc), arrays, device)
    check_torch(lambda m, x, v, *i: (x * 1).index_put_(i, v, acc), arrays, device)
    check_grad(lambda x, v, *i: tg.index_put(x, i, v, acc), arrays, device, grad_inputs=[0, 1])


def test_exports_follow_pytorch():
    """Functions and Tensor methods exist where PyTorch has them (no Tensor.searchsorted: none in PyTorch)."""
    for name in ("searchsorted", "bucketize", "kron", "scatter_reduce", "scatter_reduce_", "masked_scatter",
                 "masked_scatter_", "put", "put_", "index_put", "index_put_"):
        if hasattr(torch.Tensor, name):
            assert hasattr(tg.Tensor, name), f"Tensor.{name}"
        if hasattr(torch, name) and name != "index_put_":
            assert hasattr(tg, name), f"tensorgrad.{name}"


@pytest.mark.parametrize("seq, value, right", [
    ([0.1, 0.2], 0.1, True),  # 0.1 compared as float32, not float64
    ([0.1, 0.2], 0.1, False),
    ([1, 5, 9], 4.5, False),  # an int sequence and a float number: compared in float32
    ([1, 5, 9], 5, True),
])
def test_searchsorted_compares_a_number_in_the_promoted_dtype(seq, value, right):
    tseq = torch.tensor(seq)
    want = int(torch.searchsorted(tseq, value, right=right))
    assert int(tg.searchsorted(tg.tensor(seq), value, right=right)) == want
    assert int(tg.bucketize(value, tg.tensor(seq), right=right)) == int(torch.bucketize(value, tseq, right=right))


def test_searchsorted_number_wraps_into_an_unsigned_sequence_as_pytorch():
    seq = [1, 5, 9]
    want = int(torch.searchsorted(torch.tensor(seq, dtype=torch.uint8), -1))
    assert int(tg.searchsorted(tg.tensor(seq, dtype=tg.uint8), -1)) == want == 3
