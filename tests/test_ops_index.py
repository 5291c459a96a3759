"""Indexing ops: getitem/setitem, index_put, gather/scatter, index_select, masks, tril/triu, pad, one_hot.

Every op is checked against PyTorch (values and gradients, float32 and float64) and by
gradcheck + gradgradcheck in float64, including non-contiguous inputs, size-1 and empty dims.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch, noncontig, rand, to_tg, torch

FLOATS = [np.float32, np.float64]


def F(m):
    """The module holding pad/one_hot: torch.nn.functional for torch, tensorgrad itself."""
    return m.nn.functional if m is torch else m


def grad_noncontig(fn, x, others=(), device="cpu"):
    """gradcheck + gradgradcheck of fn(x, *others) with x a non-contiguous float64 tensor."""
    xa = noncontig(np.asarray(x, dtype=np.float64))
    t = tg.from_numpy(xa) if device == "cpu" else tg.tensor(xa, device=device)
    t.requires_grad_()
    if device == "cpu":
        assert xa.size <= 1 or not t.is_contiguous()
    ts = [t] + [to_tg(np.asarray(o), device, requires_grad=False) for o in others]
    assert tg.autograd.gradcheck(fn, ts)
    assert tg.autograd.gradgradcheck(fn, ts)


def idx(*v, dtype=np.int64):
    """idx(1, 2) and idx([1, 2]) are both [1, 2]; idx([0], [1]) is [[0], [1]]."""
    return np.array(v[0] if len(v) == 1 and isinstance(v[0], list) else v, dtype=dtype)


def fresh(t):
    """The output itself: gradcheck copies outputs, so ones aliasing the input are read correctly."""
    return t


# (shape of x, index built from the index inputs, index inputs: int/bool arrays)
GETITEM_CASES = [
    ((5,), lambda: 2, []),
    ((5,), lambda: -1, []),
    ((4, 5), lambda: (slice(1, None, 2), -2), []),
    ((6,), lambda: slice(-4, None, 3), []),
    ((3, 4, 5), lambda: (None, Ellipsis, None, 0), []),
    ((3, 4, 5), lambda: (Ellipsis, slice(1, 3)), []),
    ((3, 4, 5), lambda: (0, slice(None), [0, 1]), []),  # int then advanced: PyTorch's, not NumPy's, order
    ((3, 4, 5), lambda i: i, [idx([[0, 2], [2, 2]])]),  # repeats, 2-D index
    ((3, 4, 5), lambda i: i, [idx(1, 0, dtype=np.int32)]),
    ((3, 4, 5), lambda i, j: (i, slice(None), j), [idx(0, 2, 0), idx(4, -1, 4)]),  # separated: dims in front
    ((3, 4, 5), lambda i, j: (slice(None), i, j), [idx([1], [3]), idx(0, 4, 2)]),  # adjacent, broadcast
    ((3, 4, 5), lambda i: (i, 1, i), [idx(0, 1)]),
    ((3, 4, 5), lambda m: m, [rand(3, 4, dtype=bool)]),
    ((3, 4, 5), lambda m: (Ellipsis, m), [rand(5, dtype=bool)]),
    ((3, 4, 5), lambda m: (1, m), [rand(4, 5, dtype=bool)]),
    ((3, 4), lambda m, i: (m, i), [idx(True, False, True, dtype=bool), idx(3, 0)]),
    ((2, 3), lambda: True, []),
    ((2, 3), lambda: (0, False), []),
    ((3, 4, 5), lambda t: t, [np.array(1)]),  # 0-dim int tensor: like an int
    ((3, 4, 5), lambda t: (slice(None), t), [np.array(True)]),
    ((3, 4, 5), lambda: [[0, 1], [1, 0]], []),  # a list of lists reads as a tuple
    ((3, 4, 5), lambda: [0, 2, 2], []),
    ((3, 4, 5), lambda: [True, False, True], []),
    ((3, 4), lambda: slice(1, 1), []),
    ((0, 4), lambda: (slice(None), 1), []),
    ((3, 0, 2), lambda i: i, [idx(2, 0)]),
    ((2, 3), lambda i: (i,), [np.zeros(0, dtype=np.int64)]),
    ((1, 1), lambda: (0, 0), []),
    ((), lambda: None, []),
    ((), lambda: Ellipsis, []),
    ((), lambda: (), []),
    ((4, 5), lambda i, j: (i, j), [idx([0], [3]), idx(1, 4, 4)]),
]


@needs_torch
@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")  # torch on the list-of-lists case
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(GETITEM_CASES)))
def test_getitem_matches_torch(case, dtype, device):
    shape, build, extra = GETITEM_CASES[case]
    check_torch(lambda m, x, *ts: x[build(*ts)], [rand(*shape, dtype=dtype)] + extra, device)


@pytest.mark.parametrize("case", range(len(GETITEM_CASES)))
def test_getitem_gradcheck(case, device):
    shape, build, extra = GETITEM_CASES[case]
    check_grad(lambda x, *ts: fresh(x[build(*ts)]), [rand(*shape)] + extra, device)
    grad_noncontig(lambda x, *ts: fresh(x[build(*ts)]), rand(*shape), extra, device)


def _random_index(rng, shape):
    """A random PyTorch index for `shape`: ints, slices, None, ..., bools, index arrays or one mask.

    Returns (build, arrays): build(*tensors) gives the index, `arrays` the index arrays to pass.
    """
    items, arrays = [], []
    adv_shape = [(3,), (2, 1), (1,)][rng.integers(3)]
    dim, ellipsis, mask = 0, False, False
    while dim < len(shape) and rng.random() < 0.85:
        n, r = shape[dim], rng.integers(8)
        if r == 0 and n:
            items.append(int(rng.integers(-n, n)))
            dim += 1
        elif r == 1:
            lo, hi = (None if rng.random() < 0.3 else int(rng.integers(-n - 2, n + 3)) for _ in range(2))
            items.append(slice(lo, hi, [None, 1, 2, 3][rng.integers(4)]))
            dim += 1
        elif r == 2:
            items.append(None)
        elif r == 3 and n and not mask:
            arrays.append(rng.integers(-n, n, size=adv_shape))
            items.append(("array", len(arrays) - 1))
            dim += 1
        elif r == 4 and not mask and not arrays:
            k = min(int(rng.integers(1, 3)), len(shape) - dim)
            arrays.append(rng.random(shape[dim:dim + k]) < 0.5)
            items.append(("array", len(arrays) - 1))
            mask, dim = True, dim + k
        elif r == 5 and not ellipsis:
            items.append(Ellipsis)
            ellipsis, dim = True, int(rng.integers(dim, len(shape) + 1))
        elif r == 6:
            items.append(bool(rng.random() < 0.5))
    if rng.random() < 0.2 and len(items) == 1:
        items = items[0]

    def build(*ts):
        def one(item):
            return ts[item[1]] if isinstance(item, tuple) else item
        return tuple(one(i) for i in items) if isinstance(items, list) else one(items)
    return build, arrays


@needs_torch
def test_getitem_and_setitem_random_indexes_match_torch(device):
    rng = np.random.default_rng(7)
    shapes = [(4,), (3, 4), (2, 1, 3), (3, 0, 2), (1, 1), (2, 3, 2, 2)]
    compared = 0
    for trial in range(150):
        shape = shapes[trial % len(shapes)]
        build, arrays = _random_index(rng, shape)
        x = rand(*shape)
        try:
            torch.zeros(shape)[build(*(torch.tensor(a) for a in arrays))]
        except (IndexError, RuntimeError):  # e.g. a False index broadcast with a 3-element index
            with pytest.raises((IndexError, RuntimeError)):
                to_tg(x, device)[build(*(to_tg(a, device) for a in arrays))]
            continue
        check_torch(lambda m, x, *ts: x[build(*ts)], [x] + arrays, device)

        def setitem(m, x, v, *ts):  # one value for every entry, so repeated indices are well defined
            y = x * 1
            y[build(*ts)] = v
            return y

        check_torch(setitem, [x, rand()] + arrays, device)
        compared += 1
    assert compared > 100


def test_getitem_repeated_indices_accumulate(device):
    x = to_tg(rand(4, 3), device)
    i = to_tg(idx(1, 1, 3, 1), device)
    (x[i] * to_tg(np.arange(12.).reshape(4, 3), device, False)).sum().backward()
    expect = np.zeros((4, 3))
    expect[1] = [0 + 3 + 9, 1 + 4 + 10, 2 + 5 + 11]  # rows 0, 1 and 3 of the output
    expect[3] = [6, 7, 8]
    np.testing.assert_allclose(x.grad.cpu().numpy(), expect)
    # one element picked twice by two index tensors
    y = to_tg(rand(2, 3), device)
    y[(idx(0, 0), idx(2, 2))].sum().backward()
    np.testing.assert_allclose(y.grad.cpu().numpy(), [[0, 0, 2], [0, 0, 0]])


def test_getitem_basic_is_a_view_advanced_is_a_copy():
    x = tg.tensor(np.arange(12.0).reshape(3, 4))
    v = x[1, 1:]
    a = x[[1]]
    x.add_(1)
    np.testing.assert_allclose(v.numpy(), [6, 7, 8])
    np.testing.assert_allclose(a.numpy(), [[4, 5, 6, 7]])
    assert v._version == x._version == 1 and a._version == 0
    assert x[0, 0].shape == () and x[0, 0]._base is x  # a 0-dim view, not a copy


def test_backward_twice_needs_retain_graph_only_for_index_arrays():
    x = tg.ones(3, requires_grad=True)
    y = x[1:]
    assert y.grad_fn.name() == "IndexBackward0"
    y.sum().backward()
    y.sum().backward()  # a view keeps nothing for backward
    assert x.grad.tolist() == [0.0, 2.0, 2.0]
    z = x[[0, 0]].sum()
    z.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward()
    assert tg.gather(x, 0, tg.tensor([1])).grad_fn.name() == "GatherBackward0"


def test_getitem_of_int_tensor_is_not_recorded():
    x = tg.arange(6).reshape(2, 3)
    y = x[:, [2, 0]]
    assert y.dtype == tg.int64 and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), [[2, 0], [5, 3]])


@pytest.mark.parametrize("index, err, msg", [
    (5, IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    ((0, -6), IndexError, "index -6 is out of bounds for dimension 1 with size 4"),
    ([0, 3], IndexError, "index 3 is out of bounds for dimension 0 with size 3"),
    (slice(None, None, -1), ValueError, "step must be greater than zero"),
    (slice(None, None, 0), ValueError, "slice step cannot be zero"),
    ((0, 0, 0), IndexError, "too many indices for tensor of dimension 2"),
    (1.5, IndexError, "got float"),
    ("a", IndexError, "got str"),
    ((Ellipsis, 0, Ellipsis), IndexError, "single ellipsis"),
    (([0, 1], [0, 1, 2]), IndexError, "could not be broadcast together with shapes [2], [3]"),
])
def test_getitem_errors(index, err, msg):
    x = tg.zeros(3, 4, requires_grad=True)
    with pytest.raises(err, match=msg.replace("[", r"\[").replace("]", r"\]")):
        x[index]


@pytest.mark.usefixtures("eager_checks")
def test_getitem_tensor_index_errors(device):
    x = to_tg(rand(3, 4), device)
    with pytest.raises(IndexError, match="must be long, int, byte or bool tensors"):
        x[to_tg(np.array([1.0]), device, False)]
    with pytest.raises(IndexError, match="tensors used as indices"):
        x[to_tg(np.array([1], dtype=np.int16), device, False)]
    with pytest.raises(IndexError, match=r"shape of the mask \[3, 3\] at index 1 does not match .* \[3, 4\]"):
        x[to_tg(np.ones((3, 3), dtype=bool), device, False)]
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        x[:, to_tg(idx(0, 4), device, False)]
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        to_tg(np.array(1.0), device)[0]


# ---------------------------------------------------------------- setitem / index_put
def _setitem(m, x, v, *ts, build):
    y = x * 1
    y[build(*ts)] = v
    return y * 2


SETITEM_CASES = [
    ((3, 4), lambda: 0, (4,)),
    ((3, 4), lambda: 0, (1, 4)),  # extra leading size-1 dims are dropped
    ((3, 4), lambda: (slice(None), slice(1, 3)), (3, 1)),  # broadcast value
    ((3, 4), lambda i: i, (2, 4), idx(2, 0)),
    ((3, 4), lambda i: (i, 1), (), idx(2, 0, 1)),
    ((3, 4), lambda m: m, None, rand(3, 4, dtype=bool)),
    ((3, 4, 2), lambda i, j: (i, slice(None), j), (3, 4), idx(0, 2, 1), idx(1, 0, 1)),
    ((3, 4), lambda: Ellipsis, (4,)),
    ((0, 4), lambda: slice(None), (4,)),
]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(SETITEM_CASES)))
def test_setitem_autograd_matches_torch(case, dtype, device):
    shape, build, vshape, *extra = SETITEM_CASES[case]
    if vshape is None:  # a mask: one value per selected entry
        vshape = (int(extra[0].sum()),)
    fn = lambda m, x, v, *ts: _setitem(m, x, v, *ts, build=build)  # noqa: E731
    check_torch(fn, [rand(*shape, dtype=dtype), rand(*vshape, dtype=dtype)] + list(extra), device)


@pytest.mark.parametrize("case", range(len(SETITEM_CASES)))
def test_setitem_gradcheck(case, device):
    shape, build, vshape, *extra = SETITEM_CASES[case]
    if vshape is None:
        vshape = (int(extra[0].sum()),)
    check_grad(lambda x, v, *ts: _setitem(tg, x, v, *ts, build=build),
               [rand(*shape), rand(*vshape)] + list(extra), device)


@needs_torch
def test_setitem_scalar_and_cast_value(device):
    def fn(m, x, v):
        y = x * 1
        y[1] = 2.5
        y[0, :2] = v  # float64 value into a float32 tensor: cast, gradient flows back in float64
        return y

    check_torch(fn, [rand(3, 4, dtype=np.float32), rand(2)], device)
    xi = to_tg(np.zeros(3, dtype=np.int64), device)
    xi[0] = 2.7
    assert xi.tolist() == [2, 0, 0]


def test_setitem_on_leaf_requiring_grad_raises_and_leaves_it_unchanged(device):
    x = to_tg(rand(3), device)
    before = x.detach().cpu().numpy().copy()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[...] = to_tg(rand(3), device)
    np.testing.assert_array_equal(x.detach().cpu().numpy(), before)
    with tg.no_grad():
        x[0] = 1.0
    assert x.detach().cpu().numpy()[0] == 1.0


@pytest.mark.usefixtures("eager_checks")
def test_setitem_errors_do_not_modify(device):
    y = to_tg(rand(3, 4), device, False)
    before = y.cpu().numpy().copy()
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        y[to_tg(idx(0, 3), device)] = 1.0
    with pytest.raises(RuntimeError, match=r"value tensor of shape \[3\] cannot be broadcast to indexing "
                                           r"result of shape \[2, 4\]"):
        y[[0, 1]] = to_tg(rand(3), device)
    with pytest.raises(RuntimeError, match=r"shape \[2, 4\] cannot be broadcast .* \[4\]"):
        y[0] = to_tg(rand(2, 4), device)
    with pytest.raises(TypeError, match="can't assign a list"):
        y[0] = [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(y.cpu().numpy(), before)


def test_setitem_last_write_wins_and_grad_goes_to_every_copy():
    x = tg.zeros(3, requires_grad=True)
    v = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y[[0, 0]] = v
    assert y.tolist() == [2.0, 0.0, 0.0]
    (y * tg.tensor([5.0, 1.0, 1.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0]
    assert v.grad.tolist() == [5.0, 5.0]


def test_setitem_value_requiring_grad_into_plain_tensor(device):
    x = to_tg(np.zeros((2, 3)), device, False)
    v = to_tg(np.array([1.0, 2.0, 3.0]), device)
    x[1] = v * 2
    assert x.grad_fn is not None and x.tolist() == [[0.0, 0.0, 0.0], [2.0, 4.0, 6.0]]
    (x * to_tg(np.arange(6.0).reshape(2, 3), device, False)).sum().backward()
    assert v.grad.tolist() == [6.0, 8.0, 10.0]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_matches_torch(accumulate, dtype, device):
    rows = idx(0, 2, 2, 1) if accumulate else idx(0, 2, 1)  # repeats only where the result is defined
    cols = idx(1, 3, 3, 0) if accumulate else idx(1, 3, 0)
    fn = lambda m, x, v, i, j: m.index_put(x, (i, j), v, accumulate=accumulate)  # noqa: E731
    check_torch(fn, [rand(3, 4, dtype=dtype), rand(len(rows), dtype=dtype), rows, cols], device)
    check_torch(lambda m, x, v, i: m.index_put(x, (i,), v, accumulate), [rand(3, 4, dtype=dtype),
                rand(4, dtype=dtype), idx(2, 2)], device)


def test_index_put_gradcheck(device):
    check_grad(lambda x, v, i: fresh(tg.index_put(x, (i,), v, accumulate=True)), [rand(3, 2), rand(2),
               idx(1, 1, 0)], device)
    check_grad(lambda x, v, i, j: tg.index_put(x, (i, j), v),
               [rand(3, 2), rand(3), idx(2, 0, 1), idx(1, 1, 0)], device)
    grad_noncontig(lambda x: tg.index_put(x, (slice(1, None), 0), 7.0), rand(3, 2), [], device)


# ---------------------------------------------------------------- gather / scatter / index_select
GATHER_CASES = [  # (input shape, dim, index)
    ((3, 4), 0, idx([0, 2, 2, 1], [1, 1, 0, 0])),
    ((3, 4), 1, idx([3], [0], [3])),
    ((3, 4), -1, idx([0, 0, 0], [1, 2, 3])),  # repeats
    ((2, 3, 2), 1, idx([[0, 1], [2, 2]], [[1, 0], [0, 0]])),
    ((4,), 0, idx(3, 3, 0)),
    ((), 0, np.array(0)),
    ((3, 1), 0, np.zeros((0, 1), dtype=np.int64)),
    ((3, 4), 1, idx([0], [1], dtype=np.int32)),
]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(GATHER_CASES)))
def test_gather_matches_torch(case, dtype, device):
    shape, dim, index = GATHER_CASES[case]
    check_torch(lambda m, x, i: m.gather(x, dim, i), [rand(*shape, dtype=dtype), index], device)
    check_torch(lambda m, x, i: x.gather(dim, i), [rand(*shape, dtype=dtype), index], device)


@pytest.mark.parametrize("case", range(len(GATHER_CASES)))
def test_gather_gradcheck(case, device):
    shape, dim, index = GATHER_CASES[case]
    check_grad(lambda x, i: tg.gather(x, dim, i), [rand(*shape), index], device)
    grad_noncontig(lambda x, i: tg.gather(x, dim, i), rand(*shape), [index], device)


@pytest.mark.parametrize("index, err, msg", [
    (idx([[3]]), RuntimeError, "index 3 is out of bounds for dimension 0 with size 3"),
    (idx([[-1]]), RuntimeError, "index -1 is out of bounds for dimension 0 with size 3"),
    (idx(0), RuntimeError, "same number of dimensions"),
    (np.zeros((4, 5), dtype=np.int64), RuntimeError, "no larger than self"),
    (np.array([[0.0]]), RuntimeError, "expected dtype int64 or int32"),
])
@pytest.mark.usefixtures("eager_checks")
def test_gather_errors(index, err, msg, device):
    x = to_tg(rand(3, 4), device)
    with pytest.raises(err, match=msg):
        tg.gather(x, 0, to_tg(index, device, False))
    with pytest.raises(IndexError, match="dimension out of range"):
        tg.gather(x, 2, to_tg(idx([[0]]), device, False))


SCATTER_CASES = [  # (input shape, dim, index, src shape)
    ((3, 4), 0, idx([0, 2, 2, 1], [1, 1, 0, 0]), (2, 4)),
    ((3, 4), 1, idx([3, 3], [0, 1]), (2, 2)),
    ((2, 3, 2), -2, idx([[0, 1], [2, 2]], [[1, 0], [0, 0]]), (2, 2, 2)),
    ((4,), 0, idx(3, 3, 0), (3,)),
    ((), 0, np.array(0), ()),
    ((3, 1), 0, np.zeros((0, 1), dtype=np.int64), (0, 1)),
]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(SCATTER_CASES)))
def test_scatter_add_matches_torch(case, dtype, device):
    shape, dim, index, sshape = SCATTER_CASES[case]
    arrays = [rand(*shape, dtype=dtype), index, rand(*sshape, dtype=dtype)]
    check_torch(lambda m, x, i, s: m.scatter_add(x, dim, i, s), arrays, device)
    check_torch(lambda m, x, i, s: x.scatter_add(dim, i, s), arrays, device)


@needs_torch
def test_scatter_add_src_larger_than_index(device):
    # PyTorch's backward errors here; tensorgrad gives zeros to the unused part of src
    arrays = [rand(3, 4), idx([0, 1, 2], [2, 2, 2]), rand(2, 5)]
    check_torch(lambda m, x, i, s: m.scatter_add(x, 1, i, s), arrays, device, backward=False)
    x, i, s = (to_tg(a, device) for a in arrays)
    tg.scatter_add(x, 1, i, s).sum().backward()
    expect = np.zeros((2, 5))
    expect[:, :3] = 1
    np.testing.assert_array_equal(s.grad.cpu().numpy(), expect)


@pytest.mark.parametrize("case", range(len(SCATTER_CASES)))
def test_scatter_add_gradcheck(case, device):
    shape, dim, index, sshape = SCATTER_CASES[case]
    check_grad(lambda x, i, s: fresh(tg.scatter_add(x, dim, i, s)), [rand(*shape), index, rand(*sshape)],
               device)
    grad_noncontig(lambda s, x, i: fresh(tg.scatter_add(x, dim, i, s)), rand(*sshape), [rand(*shape), index],
                   device)


def test_scatter_add_repeated_indices_accumulate(device):
    x = to_tg(np.zeros(3), device, False)
    s = to_tg(np.array([1.0, 2.0, 4.0, 8.0]), device)
    y = tg.scatter_add(x, 0, to_tg(idx(2, 0, 2, 2), device), s)
    assert y.tolist() == [2.0, 0.0, 13.0]
    (y * to_tg(np.array([1.0, 10.0, 100.0]), device, False)).sum().backward()
    assert s.grad.tolist() == [100.0, 1.0, 100.0, 100.0]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
def test_scatter_matches_torch(dtype, device):
    index = idx([0, 2, 1, 1], [1, 0, 2, 0])  # distinct targets along dim 0 in each column
    arrays = [rand(3, 4, dtype=dtype), index, rand(2, 4, dtype=dtype)]
    check_torch(lambda m, x, i, s: m.scatter(x, 0, i, s), arrays, device)
    check_torch(lambda m, x, i: m.scatter(x, 1, i, 1.5), [rand(3, 4, dtype=dtype), idx([0], [3], [2])],
                device)
    check_torch(lambda m, x, i: m.scatter(x, 1, i, value=-2.0),
                [rand(2, 4, dtype=dtype), idx([0, 0], [3, 1])], device)


@pytest.mark.usefixtures("eager_checks")
def test_scatter_gradcheck_and_errors(device):
    check_grad(lambda x, s, i: tg.scatter(x, 1, i, s), [rand(2, 3), rand(2, 2), idx([2, 0], [1, 2])], device)
    check_grad(lambda x, i: tg.scatter(x, 0, i, 3.0), [rand(3, 2), idx([[2, 0]])], device)
    x = to_tg(rand(3, 4), device)
    with pytest.raises(RuntimeError, match="expected self.dtype to be equal to src.dtype"):
        tg.scatter_add(x, 0, to_tg(idx([[0]]), device), to_tg(rand(1, 1, dtype=np.float32), device))
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0 with size 3"):
        tg.scatter(x, 0, to_tg(idx([[-1]]), device), 1.0)
    with pytest.raises(RuntimeError, match="no larger than src"):
        tg.scatter_add(x, 0, to_tg(idx([[0, 1]]), device), to_tg(rand(1, 1), device))
    with pytest.raises(NotImplementedError, match="reduce"):
        tg.scatter(x, 0, to_tg(idx([[0]]), device), 1.0, reduce="multiply")


INDEX_SELECT_CASES = [
    ((3, 4), 0, idx(2, 0, 2)),
    ((3, 4), -1, idx(3, dtype=np.int32)),
    ((2, 3, 2), 1, np.zeros(0, dtype=np.int64)),
    ((3, 4), 1, np.array(1)),
    ((), 0, idx(0)),
    ((0, 3), 1, idx(2, 0)),
]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(INDEX_SELECT_CASES)))
def test_index_select_matches_torch(case, dtype, device):
    shape, dim, index = INDEX_SELECT_CASES[case]
    check_torch(lambda m, x, i: m.index_select(x, dim, i), [rand(*shape, dtype=dtype), index], device)


@pytest.mark.parametrize("case", range(len(INDEX_SELECT_CASES)))
def test_index_select_gradcheck(case, device):
    shape, dim, index = INDEX_SELECT_CASES[case]
    check_grad(lambda x, i: x.index_select(dim, i), [rand(*shape), index], device)
    grad_noncontig(lambda x, i: tg.index_select(x, dim, i), rand(*shape), [index], device)


@pytest.mark.usefixtures("eager_checks")
def test_index_select_errors(device):
    x = to_tg(rand(3, 4), device)
    with pytest.raises(IndexError, match="index -1 is out of bounds for dimension 0 with size 3"):
        tg.index_select(x, 0, to_tg(idx(-1), device))
    with pytest.raises(IndexError, match="supposed to be a vector"):
        tg.index_select(x, 0, to_tg(idx([[0]]), device))
    with pytest.raises(RuntimeError, match="expected dtype int64 or int32"):
        tg.index_select(x, 0, to_tg(np.array([0.0]), device, False))


TAKE_CASES = [  # (input shape, index, dim)
    ((3, 4), idx([[1, -1]]), 1),  # broadcast along dim 0, negative wraps
    ((3, 4), idx([[1], [2], [0]]), 0),
    ((3, 1, 2), idx([[[0, 1], [2, 0]], [[1, 1], [0, 2]]]), 0),  # input broadcast
    ((3, 4), idx(1, 11, 0), None),
    ((), np.array(0), None),
    ((2, 0), np.zeros((1, 0), dtype=np.int64), 1),
]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(TAKE_CASES)))
def test_take_along_dim_matches_torch(case, dtype, device):
    shape, index, dim = TAKE_CASES[case]
    check_torch(lambda m, x, i: m.take_along_dim(x, i, dim), [rand(*shape, dtype=dtype), index], device)
    check_torch(lambda m, x, i: x.take_along_dim(i, dim=dim), [rand(*shape, dtype=dtype), index], device)


@pytest.mark.parametrize("case", range(len(TAKE_CASES)))
def test_take_along_dim_gradcheck(case, device):
    shape, index, dim = TAKE_CASES[case]
    check_grad(lambda x, i: tg.take_along_dim(x, i, dim), [rand(*shape), index], device)
    grad_noncontig(lambda x, i: tg.take_along_dim(x, i, dim), rand(*shape), [index], device)


@pytest.mark.usefixtures("eager_checks")
def test_take_along_dim_errors(device):
    x = to_tg(rand(3, 4), device)
    with pytest.raises(RuntimeError, match="expected dtype int64"):
        tg.take_along_dim(x, to_tg(idx([[1]], dtype=np.int32), device), 1)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        tg.take_along_dim(x, to_tg(idx(1), device), 1)
    with pytest.raises(RuntimeError, match="index 12 is out of bounds"):
        tg.take_along_dim(x, to_tg(idx(12), device))
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0 with size 12"):
        tg.take_along_dim(x, to_tg(idx(-1), device))  # flattened: no wrapping, as in PyTorch
    with pytest.raises(RuntimeError, match="index -5 is out of bounds for dimension 1 with size 4"):
        tg.take_along_dim(x, to_tg(idx([[-5]]), device), 1)


# ---------------------------------------------------------------- masks
MASK_CASES = [  # (input shape, mask)
    ((2, 3), np.array([True, False, True])),
    ((3,), np.array([[True, False, True], [False, False, True]])),  # the mask broadcasts the input
    ((2, 3), np.array(True)),
    ((2, 1, 3), rand(2, 4, 1, dtype=bool)),
    ((0, 3), np.ones(3, dtype=bool)),
]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(MASK_CASES)))
def test_masked_fill_matches_torch(case, dtype, device):
    shape, mask = MASK_CASES[case]
    check_torch(lambda m, x, k: m.masked_fill(x, k, -1.5), [rand(*shape, dtype=dtype), mask], device)
    check_torch(lambda m, x, k, v: x.masked_fill(k, v), [rand(*shape, dtype=dtype), mask, rand(dtype=dtype)],
                device)


@pytest.mark.parametrize("case", range(len(MASK_CASES)))
def test_masked_fill_gradcheck(case, device):
    shape, mask = MASK_CASES[case]
    check_grad(lambda x, k, v: tg.masked_fill(x, k, v), [rand(*shape), mask, rand()], device)
    grad_noncontig(lambda x, k: tg.masked_fill(x, k, 2.0), rand(*shape), [mask], device)


@needs_torch
def test_masked_fill_in_place_and_dtypes(device):
    def fn(m, x, k):
        y = x * 1
        y.masked_fill_(k, 3.0)
        return y

    check_torch(fn, [rand(2, 3), np.array([[True, False, True], [False, False, False]])], device)
    check_torch(lambda m, x, k: m.masked_fill(x, k, 2.7), [rand(2, 3, dtype=np.int64, low=0, high=9),
                                                          np.array([True, False, True])], device)


def test_masked_fill_errors(device):
    x = to_tg(rand(2, 3), device)
    with pytest.raises(RuntimeError, match="expected a bool mask"):
        tg.masked_fill(x, to_tg(idx(1, 0, 1), device), 0.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        tg.masked_fill(x, to_tg(np.ones(3, dtype=bool), device), to_tg(rand(1), device))
    with pytest.raises(RuntimeError, match=r"masked_fill.*\[2, 3\] and \[2\]"):
        tg.masked_fill(x, to_tg(np.ones(2, dtype=bool), device), 0.0)


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(MASK_CASES)))
def test_masked_select_matches_torch(case, dtype, device):
    shape, mask = MASK_CASES[case]
    check_torch(lambda m, x, k: m.masked_select(x, k), [rand(*shape, dtype=dtype), mask], device)


@pytest.mark.parametrize("case", range(len(MASK_CASES)))
def test_masked_select_gradcheck(case, device):
    shape, mask = MASK_CASES[case]
    check_grad(lambda x, k: tg.masked_select(x, k), [rand(*shape), mask], device)
    grad_noncontig(lambda x, k: tg.masked_select(x, k), rand(*shape), [mask], device)


@needs_torch
@pytest.mark.parametrize("as_tuple", [False, True])
@pytest.mark.parametrize("a", [np.array([[0.0, 1.5], [0.0, -2.0]]), np.array([[True], [False], [True]]),
                               np.array(3), np.array(0.0), np.zeros((2, 0))])
def test_nonzero_matches_torch(a, as_tuple, device):
    check_torch(lambda m, x: m.nonzero(x, as_tuple=as_tuple), [a], device, backward=False)


# ---------------------------------------------------------------- tril / triu
@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", ["tril", "triu"])
@pytest.mark.parametrize("shape, diagonal", [((3, 3), 0), ((2, 3, 4), 1), ((4, 2), -1), ((3, 0), 0),
                                             ((1, 1), -2)])
def test_tril_triu_match_torch(op, shape, diagonal, dtype, device):
    check_torch(lambda m, x: getattr(m, op)(x, diagonal), [rand(*shape, dtype=dtype)], device)
    check_torch(lambda m, x: getattr(x, op)(diagonal=diagonal), [rand(*shape, dtype=dtype)], device)


@pytest.mark.parametrize("op", ["tril", "triu"])
def test_tril_triu_gradcheck_and_errors(op, device):
    check_grad(lambda x: getattr(tg, op)(x, 1), [rand(2, 3, 3)], device)
    grad_noncontig(lambda x: getattr(tg, op)(x, -1), rand(3, 4), [], device)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        getattr(tg, op)(to_tg(rand(3), device))


# ---------------------------------------------------------------- pad
PAD_CASES = [  # (input shape, pad, value)
    ((3,), (1, 2), None),
    ((2, 3), (0, 1, 2, 0), 1.5),
    ((2, 3), (-1, 2), None),  # negative crops
    ((2, 3, 4), (1, -2, -1, 0, 1, 1), -3.0),
    ((3, 4), (-2, -2), None),  # cropped to nothing
    ((0, 2), (1, 1, 1, 0), 2.0),
    ((2, 2), (), None),
]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(PAD_CASES)))
def test_pad_matches_torch(case, dtype, device):
    shape, p, value = PAD_CASES[case]
    check_torch(lambda m, x: F(m).pad(x, p, value=value), [rand(*shape, dtype=dtype)], device)
    check_torch(lambda m, x: F(m).pad(x, list(p), "constant", value), [rand(*shape, dtype=dtype)], device)


@pytest.mark.parametrize("case", range(len(PAD_CASES)))
def test_pad_gradcheck(case, device):
    shape, p, value = PAD_CASES[case]
    check_grad(lambda x: tg.pad(x, p, value=value), [rand(*shape)], device)
    grad_noncontig(lambda x: tg.pad(x, p), rand(*shape), [], device)


@needs_torch
def test_pad_int_and_bool(device):
    check_torch(lambda m, x: F(m).pad(x, (1, 1), value=1.7), [rand(2, 3, dtype=np.int64)], device)
    check_torch(lambda m, x: F(m).pad(x, (2, 0)), [rand(3, dtype=bool)], device)


def test_pad_returns_new_tensor_for_zero_padding():
    x = tg.zeros(2)
    y = tg.pad(x, (0, 0))
    y[0] = 1.0
    assert x.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("p, mode, err, msg", [
    ((1,), "constant", RuntimeError, "divisible by 2"),
    ((1, 1, 1, 1, 1, 1), "constant", RuntimeError, "padding length 6 and input of dimension 2"),
    ((-3, -2), "constant", RuntimeError, "negative output size"),
    ((1.5, 1), "constant", TypeError, "tuple of ints"),
    ((4, 4), "reflect", RuntimeError, "Padding size should be less than the corresponding input dimension"),
    ((1, 1, 1, 1, 1, 1), "replicate", NotImplementedError, "Padding size 6 is not supported for 2D input"),
    ((1, 1), "foo", NotImplementedError, "unrecognised padding mode"),
])
def test_pad_errors(p, mode, err, msg):
    with pytest.raises(err, match=msg):
        tg.pad(tg.zeros(3, 4), p, mode=mode)


# ---------------------------------------------------------------- one_hot
@needs_torch
@pytest.mark.parametrize("a, n", [(idx(0, 3, 1), -1), (idx([0, 2], [1, 1]), 5), (np.array(2), 4),
                                  (np.zeros(0, dtype=np.int64), 3)])
def test_one_hot_matches_torch(a, n, device):
    out = check_torch(lambda m, x: F(m).one_hot(x, n), [a], device, backward=False)[0]
    assert out.grad_fn is None


@pytest.mark.parametrize("a, n, msg", [
    (idx(0, 3), 3, "smaller than num_classes"),
    (idx(0, -1), 3, "non-negative"),
    (idx(0, 1, dtype=np.int32), 3, "int64"),
    (np.zeros(0, dtype=np.int64), -1, "can not infer total number of classes"),
])
@pytest.mark.usefixtures("eager_checks")
def test_one_hot_errors(a, n, msg, device):
    with pytest.raises(RuntimeError, match=msg):
        tg.one_hot(to_tg(a, device), n)


def test_exports():
    for name in ("getitem", "index_put", "gather", "scatter", "scatter_add", "index_select", "masked_fill",
                 "masked_select", "nonzero", "tril", "triu", "take_along_dim", "pad", "one_hot"):
        assert getattr(tg, name) is getattr(tg.ops.index, name)
    assert tg.Tensor.gather is tg.gather and tg.Tensor.masked_fill is tg.masked_fill
