"""ops/shape_extra.py: float64 grad/gradgrad checks and PyTorch as the oracle (values, dtypes, shapes,
gradients) for the extra shape and indexing ops; views share memory and version counters; bad
arguments raise the exception type PyTorch raises, naming the op."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, noncontig, rand, to_tg, torch


def _idx(*v):
    return np.array(v, dtype=np.int64)


# name -> (fn(m, *tensors), input arrays); m is tensorgrad or torch, so one lambda serves both
CASES = {
    "atleast_1d_0d": (lambda m, x: m.atleast_1d(x), [rand()]),
    "atleast_1d_many": (lambda m, x, y: m.atleast_1d(x, y), [rand(), rand(2, 3)]),
    "atleast_2d_0d": (lambda m, x: m.atleast_2d(x), [rand()]),
    "atleast_2d_list": (lambda m, x, y: m.atleast_2d([x, y]), [rand(3), rand(2, 2, 2)]),
    "atleast_3d": (lambda m, x, y, z: m.atleast_3d(x, y, z), [rand(), rand(3), rand(2, 3)]),
    "ravel": (lambda m, x: m.ravel(x), [noncontig(rand(2, 3))]),
    "ravel_method": (lambda m, x: x.ravel(), [rand(2, 3)]),
    "t": (lambda m, x, y, z: (m.t(x), m.t(y), m.t(z)), [rand(2, 3), rand(3), rand()]),
    "adjoint": (lambda m, x: (m.adjoint(x), x.adjoint()), [rand(2, 3, 4)]),
    "vsplit": (lambda m, x: m.vsplit(x, 2), [rand(4, 3)]),
    "vsplit_indices": (lambda m, x: x.vsplit([1, 3]), [rand(4, 3)]),
    "hsplit": (lambda m, x: m.hsplit(x, 2), [rand(2, 4, 2)]),
    "hsplit_1d": (lambda m, x: x.hsplit([1, 3]), [rand(5)]),
    "dsplit": (lambda m, x: m.dsplit(x, [1]), [rand(2, 2, 4)]),
    "dstack": (lambda m, x, y: m.dstack([x, y]), [rand(3), rand(3)]),
    "dstack_3d": (lambda m, x, y: m.dstack((x, y)), [rand(2, 3), rand(2, 3, 2)]),
    "column_stack": (lambda m, x, y: m.column_stack([x, y]), [rand(3), rand(3, 2)]),
    "column_stack_0d": (lambda m, x, y: m.column_stack([x, y]), [rand(), rand()]),
    "row_stack": (lambda m, x, y: m.row_stack([x, y]), [rand(3), rand(2, 3)]),
    "block_diag": (lambda m, a, b, c, d: m.block_diag(a, b, c, d), [rand(2, 3), rand(), rand(2), rand(1, 1)]),
    "block_diag_empty_row": (lambda m, a, b: m.block_diag(a, b), [rand(0), rand(2, 0)]),
    "take": (lambda m, x, i: m.take(x, i), [rand(2, 3), np.array([[0, 0], [5, -6]])]),
    "take_method_0d": (lambda m, x, i: x.take(i), [rand(2, 3), np.array(-1)]),
    "select": (lambda m, x: m.select(x, 1, -1), [rand(2, 3, 4)]),
    "select_method_1d": (lambda m, x: x.select(0, 2), [rand(3)]),
    "narrow_copy": (lambda m, x: m.narrow_copy(x, 1, 1, 2), [noncontig(rand(2, 3))]),
    "select_scatter": (lambda m, x, s: m.select_scatter(x, s, 1, -1), [rand(2, 3, 4), rand(2, 4)]),
    "select_scatter_1d": (lambda m, x, s: x.select_scatter(s, 0, 1), [rand(3), rand()]),
    "slice_scatter": (lambda m, x, s: m.slice_scatter(x, s, 1, 1, None, 2), [rand(4, 5), rand(4, 2)]),
    "slice_scatter_default": (lambda m, x, s: x.slice_scatter(s, end=-1), [rand(4, 5), rand(3, 5)]),
    "slice_scatter_clamped": (lambda m, x, s: m.slice_scatter(x, s, -1, -10, 10), [rand(2, 3), rand(2, 3)]),
    "diagonal_scatter": (lambda m, x, s: m.diagonal_scatter(x, s), [rand(3, 4), rand(3)]),
    "diagonal_scatter_offset": (lambda m, x, s: x.diagonal_scatter(s, -1), [rand(3, 4), rand(2)]),
    "diagonal_scatter_3d": (lambda m, x, s: m.diagonal_scatter(x, s, 1, 0, 2), [rand(2, 3, 4), rand(3, 2)]),
    "diag_embed": (lambda m, x: m.diag_embed(x), [rand(2, 3)]),
    "diag_embed_dims": (lambda m, x: x.diag_embed(1, 0, 2), [rand(2, 3)]),
    "diag_embed_neg": (lambda m, x: m.diag_embed(x, -2, -1, 0), [noncontig(rand(2, 3))]),
    "diagflat": (lambda m, x: m.diagflat(x, -1), [rand(2, 2)]),
    "diagflat_0d": (lambda m, x: x.diagflat(), [rand()]),
    "diagflat_1d": (lambda m, x: m.diagflat(x, 2), [rand(3)]),
    "unfold_overlap": (lambda m, x: x.unfold(0, 2, 1), [rand(5)]),
    "unfold_step": (lambda m, x: x.unfold(1, 3, 2), [rand(3, 7)]),
    "unfold_gaps": (lambda m, x: x.unfold(0, 2, 3), [rand(6, 3)]),
    "unfold_noncontig": (lambda m, x: x.unfold(-1, 2, 1), [noncontig(rand(3, 4))]),
    "unfold_long_windows": (lambda m, x: x.unfold(1, 4, 1), [rand(2, 5, 2)]),
    "unfold_0d": (lambda m, x: x.unfold(0, 1, 1), [rand()]),
    "unfold_twice": (lambda m, x: x.unfold(0, 2, 1).unfold(1, 2, 2), [rand(4, 5)]),
    "fill_diagonal_": (lambda m, x: (x * 1).fill_diagonal_(0.5), [rand(2, 5)]),
    "fill_diagonal_wrap": (lambda m, x: (x * 1).fill_diagonal_(-1.0, wrap=True), [rand(7, 3)]),
    "fill_diagonal_tall": (lambda m, x: (x * 1).fill_diagonal_(3.0), [rand(7, 3)]),
    "fill_diagonal_3d": (lambda m, x: (x * 1).fill_diagonal_(2.0), [rand(3, 3, 3)]),
}

REDUCES = ["prod", "mean", "amax", "amin"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name, device):
    fn, arrays = CASES[name]
    check_grad(lambda *a: fn(tg, *a), arrays, device)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name, device):
    fn, arrays = CASES[name]
    check_torch(fn, arrays, device)


@pytest.mark.parametrize("name", ["select_scatter", "diagonal_scatter_3d", "unfold_step", "block_diag", "take",
                                  "fill_diagonal_wrap", "diag_embed_dims"])
def test_float32_matches_torch(name, device):
    fn, arrays = CASES[name]
    check_torch(fn, [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays], device)


def test_integer_inputs_match_torch(device):
    """No gradients, but values and dtypes as PyTorch's (block_diag promotes, *_scatter casts src)."""
    a, b = rand(2, 2, dtype=np.int64, low=-5, high=5), rand(3, dtype=np.int32, low=-5, high=5)
    check_torch(lambda m, a, b: m.block_diag(a, b), [a, b], device)
    check_torch(lambda m, a, b: m.block_diag(a, b), [a, rand(2)], device)
    check_torch(lambda m, x, s: m.select_scatter(x, s, 0, 1), [a, rand(2)], device, backward=False)
    check_torch(lambda m, x, i: (m.diag_embed(x), m.diagflat(x), x.unfold(0, 2, 1), m.take(x, i)),
                [b, _idx(2, -1)], device)
    check_torch(lambda m, x: (x * 1).fill_diagonal_(7), [a], device)
    check_torch(lambda m, x: (x * 1).fill_diagonal_(True), [rand(3, 3, dtype=bool)], device)


# ---------------------------------------------------------------- index_reduce
@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_index_reduce(reduce, include_self, device):
    cases = [
        (0, [rand(4, 3), _idx(0, 2, 0, 3, 2), rand(5, 3)]),
        (1, [noncontig(rand(3, 4)), _idx(1, 1, 3), rand(3, 3)]),
        (-1, [rand(2, 3), _idx(), rand(2, 0)]),
        (0, [rand(), _idx(0), rand()]),
    ]
    for dim, arrays in cases:
        def fn(m, x, i, s):
            return m.index_reduce(x, dim, i, s, reduce, include_self=include_self)
        check_grad(lambda *a: fn(tg, *a), arrays, device)
        check_torch(fn, arrays, device)
        check_torch(lambda m, x, i, s: x.index_reduce(dim, i, s, reduce, include_self=include_self), arrays, device)
    x = rand(4, 3, dtype=np.float32)
    check_torch(lambda m, x, i, s: (x * 1).index_reduce_(0, i, s, reduce, include_self=include_self),
                [x, _idx(3, 0, 3), rand(3, 3, dtype=np.float32)], device)


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
def test_index_reduce_integers_match_torch(device):
    x, s = rand(4, 3, dtype=np.int64, low=-6, high=6), rand(4, 3, dtype=np.int64, low=-6, high=6)
    for reduce in REDUCES:
        check_torch(lambda m, x, i, s: m.index_reduce(x, 0, i, s, reduce), [x, _idx(0, 2, 0, 1), s], device)


# ---------------------------------------------------------------- views: memory and version counters
def test_views_alias_their_input(device):
    views = [lambda x: x.select(1, 2), lambda x: x.unfold(1, 2, 2), lambda x: x.ravel(), tg.atleast_3d,
             tg.adjoint, tg.t, lambda x: tg.hsplit(x, 3)[1], lambda x: tg.select(x, 0, -1)]
    for make in views:
        x = to_tg(rand(4, 6, low=1.0, high=2.0), device, False)
        view = make(x)
        total = float(x.sum())
        view.mul_(0)
        assert float(x.sum()) < total, "writing through a view changes its base"
        assert x._version == 1 and view._version == 1, "an in-place op on a view bumps its base's version"
    x = to_tg(rand(4, 6), device, False)
    v = x.unfold(0, 2, 1)
    x[1, 0] = 100.0  # the base written: the overlapping windows both see it
    assert float(v[0, 0, 1]) == 100.0 and float(v[1, 0, 0]) == 100.0
    assert tg.atleast_1d(x) is x and tg.atleast_2d(x) is x


def test_copies_do_not_alias(device):
    x = to_tg(rand(3, 4), device, False)
    keep = x.numpy().copy() if device == "cpu" else x.cpu().numpy().copy()
    outs = [tg.narrow_copy(x, 1, 0, 2), tg.select_scatter(x, tg.zeros_like(x[0]), 0, 0),
            tg.slice_scatter(x, tg.zeros_like(x), 0), tg.diagonal_scatter(x, tg.zeros_like(x.diagonal())),
            tg.ravel(x.t()), tg.take(x, tg.tensor([0, 1], device=x.device))]
    for out in outs:
        out.fill_(9.0)
    np.testing.assert_array_equal(x.cpu().numpy(), keep)
    assert x._version == 0


def test_fill_diagonal_is_in_place(device):
    x = to_tg(np.zeros((3, 3)), device, False)
    v = x.t()
    out = x.fill_diagonal_(4.0)
    assert out is x and x._version == 1 and v._version == 1
    np.testing.assert_array_equal(x.cpu().numpy(), 4 * np.eye(3))
    a = rand(3, 3)
    leaf = to_tg(a.copy(), device, True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.fill_diagonal_(0.0)
    np.testing.assert_array_equal(leaf.detach().cpu().numpy(), a)  # refused before any write


def test_unfold_backward_sees_later_writes_as_errors(device):
    """The base's version counter guards a saved view: x.unfold(...) used in a product, then
    x changed in place, makes backward refuse (as PyTorch's does)."""
    x = to_tg(rand(5), device, True)
    y = x * 1
    w = y.unfold(0, 2, 1)
    loss = (w * w).sum()
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# ---------------------------------------------------------------- errors: PyTorch's types, the op named
ERRORS = [
    # (fn(m), exception type, text naming the op in tensorgrad's message)
    (lambda m: m.select(m.ones(2, 3), 1, 3), IndexError, r"select\(\).*index 3 out of range"),
    (lambda m: m.select(m.ones(2, 3), 1, -4), IndexError, r"select\(\)"),
    (lambda m: m.select(m.ones(2, 3), 2, 0), IndexError, r"select\(\).*dimension out of range"),
    (lambda m: m.ones(()).select(0, 0), IndexError, r"select\(\).*0-dim"),
    (lambda m: m.take(m.ones(2, 3), m.tensor([6])), IndexError, r"take\(\).*index 6"),
    (lambda m: m.take(m.ones(2, 3), m.tensor([-7])), IndexError, r"take\(\).*index -7"),
    (lambda m: m.take(m.ones(2, 3), m.tensor([1], dtype=m.int32)), RuntimeError, r"take\(\).*long"),
    (lambda m: m.hsplit(m.ones(2, 4), 3), RuntimeError, r"hsplit.*not divisible"),
    (lambda m: m.hsplit(m.ones(2, 4), 0), RuntimeError, r"hsplit.*not divisible"),
    (lambda m: m.hsplit(m.ones(()), 1), RuntimeError, r"hsplit requires .* at least 1"),
    (lambda m: m.vsplit(m.ones(4), 2), RuntimeError, r"vsplit requires .* at least 2"),
    (lambda m: m.dsplit(m.ones(2, 2), 2), RuntimeError, r"dsplit requires .* at least 3"),
    (lambda m: m.dstack([]), RuntimeError, r"dstack"),
    (lambda m: m.column_stack([m.ones(2, 2, 2), m.ones(2)]), RuntimeError, r"cat\(\)"),
    (lambda m: m.block_diag(m.ones(2, 2, 2)), RuntimeError, r"block_diag.*2 or fewer"),
    (lambda m: m.adjoint(m.ones(3)), RuntimeError, r"adjoint\(\).*1-D"),
    (lambda m: m.t(m.ones(2, 2, 2)), RuntimeError, r"t\(\) expects"),
    (lambda m: m.narrow_copy(m.ones(2, 3), 1, 1, 3), RuntimeError, r"narrow_copy\(\).*exceeds"),
    (lambda m: m.select_scatter(m.ones(2, 3), m.ones(2), 0, 0), RuntimeError, r"select_scatter\(\).*src size"),
    (lambda m: m.select_scatter(m.ones(2, 3), m.ones(3), 0, 2), IndexError, r"select_scatter\(\).*out of range"),
    (lambda m: m.slice_scatter(m.ones(2, 3), m.ones(2, 1), 1, 0, 3, 2), RuntimeError,
     r"slice_scatter\(\).*src size = \[2, 1\], slice size = \[2, 2\]"),
    (lambda m: m.slice_scatter(m.ones(2, 3), m.ones(2, 2), 1, 0, 3, 0), RuntimeError, r"slice_scatter\(\).*step"),
    (lambda m: m.slice_scatter(m.ones(()), m.ones(()), 0), IndexError, r"slice_scatter\(\).*0-dim"),
    (lambda m: m.diagonal_scatter(m.ones(2, 3), m.ones(3)), RuntimeError, r"diagonal_scatter\(\).*src size"),
    (lambda m: m.diagonal_scatter(m.ones(2, 3), m.ones(2), 0, 0, 0), RuntimeError,
     r"diagonal_scatter\(\).*identical"),
    (lambda m: m.diag_embed(m.ones(2, 3), 1, 0, 0), RuntimeError, r"diag_embed\(\).*identical"),
    (lambda m: m.diag_embed(m.ones(())), IndexError, r"diag_embed\(\)"),
    (lambda m: m.ones(5).unfold(0, 6, 2), RuntimeError, r"unfold\(\).*maximum size .* is 5 but size is 6"),
    (lambda m: m.ones(5).unfold(0, 2, 0), RuntimeError, r"unfold\(\).*step is 0"),
    (lambda m: m.ones(5).unfold(0, -1, 1), RuntimeError, r"unfold\(\).*size is -1"),
    (lambda m: m.ones(5).unfold(1, 1, 1), IndexError, r"unfold\(\).*dimension out of range"),
    (lambda m: m.ones(()).unfold(0, 2, 1), RuntimeError, r"unfold\(\).*size is 2"),
    (lambda m: m.ones(3).fill_diagonal_(1), RuntimeError, r"fill_diagonal_\(\).*larger than 1"),
    (lambda m: m.ones(2, 3, 3).fill_diagonal_(1), RuntimeError, r"fill_diagonal_\(\).*equal length"),
    (lambda m: m.index_reduce(m.ones(2, 3), 0, m.tensor([0]), m.ones(1, 3), "sum"), RuntimeError,
     r"index_reduce\(\).*prod, mean, amax or amin"),
    (lambda m: m.index_reduce(m.ones(2, 3), 0, m.tensor([0, 0, 5]), m.ones(3, 3), "prod"), IndexError,
     r"index_reduce\(\).*index 5"),
    (lambda m: m.index_reduce(m.ones(2, 3), 0, m.tensor([0, -1]), m.ones(2, 3), "amax"), IndexError,
     r"index_reduce\(\).*index -1"),
    (lambda m: m.index_reduce(m.ones(()), 0, m.tensor([1]), m.ones(()), "prod"), IndexError,
     r"index_reduce\(\).*index 1"),
    (lambda m: m.index_reduce(m.ones(2, 3), 0, m.tensor([0, 0]), m.ones(3, 3), "prod"), RuntimeError,
     r"index_reduce\(\).*Number of indices \(2\)"),
    (lambda m: m.index_reduce(m.ones(2, 3), 0, m.tensor([0]), m.ones(1, 3, dtype=m.float64), "prod"), RuntimeError,
     r"index_reduce\(\).*same scalar type"),
    (lambda m: m.index_reduce(m.ones(3, 2), 0, m.tensor([0]), m.ones(1, 3), "prod"), RuntimeError,
     r"index_reduce\(\).*source tensor shape must match"),
    (lambda m: m.index_reduce(m.ones(2, 3), 0, m.tensor([0.0]), m.ones(1, 3), "prod"), RuntimeError,
     r"index_reduce\(\).*dtype"),
]


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_match_torch_types(k):
    fn, exc, text = ERRORS[k]
    with pytest.raises(exc, match=text):
        fn(tg)
    if torch is not None:  # PyTorch raises the same exception type
        with pytest.raises(exc):
            fn(torch)


def test_bad_argument_types():
    x = tg.ones(2, 3)
    with pytest.raises(TypeError, match="take"):
        tg.take(x, [0, 1])
    with pytest.raises(TypeError, match="atleast_2d"):
        tg.atleast_2d([x, 3])
    with pytest.raises(TypeError, match="hsplit"):
        tg.hsplit(x, 1.5)
    with pytest.raises(TypeError, match="select"):
        tg.select(x, 0, 1.0)
