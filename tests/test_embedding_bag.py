"""embedding_bag and nn.EmbeddingBag against PyTorch: sum/mean/max over fixed-length (2-D) and
offset-cut (1-D) bags, per_sample_weights, padding_idx, empty bags; gradients by finite differences
and against torch; the module's init, repr, from_pretrained; the errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import check_grad, check_torch, needs_torch, rand, to_np, torch

_IDX = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 0, 7])  # 11 entries into a table of 10 rows; 4 and 0 repeat

# (name, input, offsets or None, extra keyword arguments)
BAGS = [
    ("offsets", _IDX, np.array([0, 4, 4, 8]), {}),  # an empty bag in the middle
    ("trailing_empty", _IDX, np.array([0, 3, 11, 11]), {}),
    ("all_empty_but_last", _IDX, np.array([0, 0, 0]), {}),
    ("last_offset", _IDX, np.array([0, 3, 3, 8, 11]), dict(include_last_offset=True)),
    ("fixed_2d", _IDX[:10].reshape(5, 2), None, {}),
    ("padding", _IDX, np.array([0, 2, 5, 9]), dict(padding_idx=4)),
    ("padding_neg", _IDX, np.array([0, 2, 5, 9]), dict(padding_idx=-10)),  # row 0: its own bag (8:) all padding
    ("padding_2d", _IDX[:10].reshape(2, 5), None, dict(padding_idx=2)),
    ("int32", _IDX.astype(np.int32), np.array([0, 6], dtype=np.int32), {}),
]
MODES = ["sum", "mean", "max"]


def _bag_fn(x, off, mode, kw):
    """fn(module, weight[, per_sample_weights]) for check_torch / check_grad (indices as constants)."""
    def fn(m, w, psw=None):
        idx = m.tensor(x) if m is torch else tg.tensor(x, device=w.device)
        offsets = None if off is None else (m.tensor(off) if m is torch else tg.tensor(off, device=w.device))
        return m.nn.functional.embedding_bag(idx, w, offsets, mode=mode, per_sample_weights=psw, **kw)
    return fn


@needs_torch
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", BAGS, ids=[c[0] for c in BAGS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_bag_vs_torch(case, mode, dtype, device):
    _, x, off, kw = case
    fn = _bag_fn(x, off, mode, kw)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    out = check_torch(fn, [rand(10, 3, dtype=dtype)], device, **tol)[0]
    assert out.shape[1] == 3


@needs_torch
@pytest.mark.parametrize("case", BAGS, ids=[c[0] for c in BAGS])
def test_per_sample_weights_vs_torch(case, device):
    _, x, off, kw = case
    fn = _bag_fn(x, off, "sum", kw)
    check_torch(fn, [rand(10, 4), rand(*x.shape)], device, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", [BAGS[0], BAGS[3], BAGS[4], BAGS[5]], ids=lambda c: c[0])
def test_embedding_bag_gradcheck(case, mode, device):
    _, x, off, kw = case
    fn = _bag_fn(x, off, mode, kw)
    check_grad(lambda w: fn(tg, w) ** 2, [rand(10, 3)], device)  # squared: a non-constant second derivative


@pytest.mark.parametrize("case", [BAGS[0], BAGS[4], BAGS[6]], ids=lambda c: c[0])
def test_per_sample_weights_gradcheck(case, device):
    _, x, off, kw = case
    fn = _bag_fn(x, off, "sum", kw)
    check_grad(lambda w, psw: fn(tg, w, psw) ** 2, [rand(10, 3), rand(*x.shape)], device)


def test_bags_reduce_the_rows_they_name():
    """Independent of torch: each bag against a loop over its (non-padding) rows."""
    w = rand(10, 3)
    off = [0, 2, 2, 7]
    bounds = list(zip(off, off[1:] + [len(_IDX)]))
    for mode, reduce in (("sum", np.sum), ("mean", np.mean), ("max", np.max)):
        out = to_np(F.embedding_bag(tg.tensor(_IDX), tg.tensor(w), tg.tensor(off), mode=mode, padding_idx=4))
        for b, (s, e) in enumerate(bounds):
            rows = [w[i] for i in _IDX[s:e] if i != 4]
            want = reduce(rows, axis=0) if rows else np.zeros(3)
            np.testing.assert_allclose(out[b], want, rtol=1e-12, err_msg=f"{mode}, bag {b}")
    assert np.all(out[1] == 0)  # the empty bag


def test_padding_row_gets_no_gradient_and_all_padding_bag_is_zero():
    w = tg.tensor(rand(5, 2), requires_grad=True)
    out = F.embedding_bag(tg.tensor([[3, 3], [1, 3]]), w, mode="mean", padding_idx=3)
    np.testing.assert_array_equal(to_np(out)[0], 0)
    np.testing.assert_allclose(to_np(out)[1], to_np(w)[1])  # mean over the one non-padding entry
    out.sum().backward()
    g = to_np(w.grad)
    assert np.all(g[3] == 0) and np.all(g[1] == 1) and np.all(g[[0, 2, 4]] == 0)


def test_no_grad_weight_gives_a_plain_tensor_and_grad_fn_name():
    w = tg.tensor(rand(4, 2))
    out = F.embedding_bag(tg.tensor([[0, 1]]), w)
    assert out.grad_fn is None and not out.requires_grad
    w.requires_grad_(True)
    assert type(F.embedding_bag(tg.tensor([[0, 1]]), w).grad_fn).__name__ in ("EmbeddingBag",
                                                                            "EmbeddingBagBackward0")


_ERR_CASES = [
    ("no_offsets", lambda m, w: m.nn.functional.embedding_bag(m.tensor([1, 2]), w), ValueError),
    ("offsets_with_2d", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1, 2]]), w, m.tensor([0])),
     ValueError),
    ("3d_input", lambda m, w: m.nn.functional.embedding_bag(m.zeros(1, 1, 1, dtype=m.int64), w), ValueError),
    ("2d_offsets", lambda m, w: m.nn.functional.embedding_bag(m.tensor([1, 2]), w, m.tensor([[0]])), ValueError),
    ("bad_mode", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1]]), w, mode="min"), ValueError),
    ("1d_weight", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1]]), w[0]), ValueError),
    ("psw_shape", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1, 2]]), w, mode="sum",
                                                             per_sample_weights=m.ones(3, dtype=m.float64)),
     ValueError),
    ("psw_mean", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1, 2]]), w, mode="mean",
                                                            per_sample_weights=m.ones(1, 2, dtype=m.float64)),
     NotImplementedError),
    ("psw_dtype", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1, 2]]), w, mode="sum",
                                                             per_sample_weights=m.ones(1, 2, dtype=m.float32)),
     RuntimeError),
    ("float_indices", lambda m, w: m.nn.functional.embedding_bag(m.ones(1, 2), w), RuntimeError),
    ("first_offset", lambda m, w: m.nn.functional.embedding_bag(m.tensor([1, 2]), w, m.tensor([1])), RuntimeError),
    ("last_offset", lambda m, w: m.nn.functional.embedding_bag(m.tensor([1, 2]), w, m.tensor([0, 3])), RuntimeError),
    ("padding_range", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1]]), w, padding_idx=5), RuntimeError),
    ("index_range", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1, 5]]), w), (IndexError, RuntimeError)),
    ("max_scale_grad", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1]]), w, mode="max",
                                                                  scale_grad_by_freq=True), ValueError),
]


@needs_torch
@pytest.mark.parametrize("name,fn,exc", _ERR_CASES, ids=[c[0] for c in _ERR_CASES])
def test_errors_match_torch(name, fn, exc):
    w = rand(5, 3)
    with pytest.raises(exc) as ours:
        fn(tg, tg.tensor(w))
    with pytest.raises(exc) as theirs:
        fn(torch, torch.tensor(w))
    if name != "index_range":  # torch's is an internal assertion; ours names the index and the table
        assert type(ours.value) is type(theirs.value)
    else:
        assert type(ours.value) is IndexError and "index 5" in str(ours.value) and "5 rows" in str(ours.value)


def test_errors_named_and_unsupported():
    w = tg.tensor(rand(5, 3))
    with pytest.raises(RuntimeError, match="non-decreasing"):
        F.embedding_bag(tg.tensor([1, 2, 3]), w, tg.tensor([0, 2, 1]))
    # PyTorch's modes disagree with each other here (its docs require offsets[-1] == len(input))
    with pytest.raises(ValueError, match=r"include_last_offset=True.*must equal input's length 3.*got offsets\[-1\] of 2"):
        F.embedding_bag(tg.tensor([1, 2, 3]), w, tg.tensor([0, 1, 2]), include_last_offset=True, mode="max")
    with pytest.raises(NotImplementedError, match="sparse=True"):
        F.embedding_bag(tg.tensor([[1]]), w, sparse=True)
    with pytest.raises(NotImplementedError, match="max_norm"):
        F.embedding_bag(tg.tensor([[1]]), w, max_norm=1.0)
    with pytest.raises(NotImplementedError, match="scale_grad_by_freq"):
        F.embedding_bag(tg.tensor([[1]]), w, scale_grad_by_freq=True)
    with pytest.raises(TypeError, match="embedding_bag"):
        F.embedding_bag([[1]], w)
    with pytest.raises(RuntimeError, match="floating point weight"):
        F.embedding_bag(tg.tensor([[1]]), tg.ones(5, 3, dtype=tg.int64))
    with pytest.raises(IndexError, match=r"EmbeddingBag\(5, 3, mode='sum'\).*index -1"):
        tg.nn.EmbeddingBag(5, 3, mode="sum")(tg.tensor([[-1]]))


# ---------------------------------------------------------------- nn.EmbeddingBag
def test_module_init_and_padding_row():
    m = tg.nn.EmbeddingBag(400, 50, padding_idx=-3)
    assert m.padding_idx == 397 and m.mode == "mean" and tuple(m.weight.shape) == (400, 50)
    w = to_np(m.weight)
    assert np.all(w[397] == 0)
    assert abs(w.std() - 1) < 0.05 and abs(w.mean()) < 0.05  # N(0, 1)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(AssertionError, match="padding_idx must be within num_embeddings"):
        tg.nn.EmbeddingBag(5, 3, padding_idx=5)
    with pytest.raises(AssertionError, match="Shape of weight"):
        tg.nn.EmbeddingBag(5, 3, _weight=tg.zeros(4, 3))
    with pytest.raises(NotImplementedError, match="sparse=True"):
        tg.nn.EmbeddingBag(5, 3, sparse=True)
    with pytest.raises(ValueError, match="mode"):
        tg.nn.EmbeddingBag(5, 3, mode="prod")


@needs_torch
@pytest.mark.parametrize("kw", [dict(), dict(mode="sum", padding_idx=1), dict(mode="max", norm_type=1.0),
                                dict(mode="sum", include_last_offset=True)], ids=str)
def test_module_vs_torch(kw):
    ours = tg.nn.EmbeddingBag(10, 4, **kw)
    ref = torch.nn.EmbeddingBag(10, 4, **kw)
    assert repr(ours) == repr(ref)
    ref.load_state_dict({"weight": torch.from_numpy(to_np(ours.weight).copy())})
    off = [0, 3, 3, 8, 11] if kw.get("include_last_offset") else [0, 3, 3, 8]
    psw = rand(len(_IDX)) if kw.get("mode") == "sum" else None
    a = ours(tg.tensor(_IDX), tg.tensor(off), None if psw is None else tg.tensor(psw.astype(np.float32)))
    b = ref(torch.tensor(_IDX), torch.tensor(off), None if psw is None else torch.tensor(psw.astype(np.float32)))
    seed = rand(*b.shape, dtype=np.float32)
    a.backward(tg.tensor(seed))
    b.backward(torch.tensor(seed))
    np.testing.assert_allclose(to_np(a), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_np(ours.weight.grad), ref.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_from_pretrained():
    w = tg.tensor(rand(6, 2))
    m = tg.nn.EmbeddingBag.from_pretrained(w, mode="max", padding_idx=0)
    assert not m.weight.requires_grad and m.mode == "max" and m.padding_idx == 0
    assert m.num_embeddings == 6 and m.embedding_dim == 2
    np.testing.assert_array_equal(to_np(m(tg.tensor([[0, 3]]))), to_np(w)[[3]])  # padding row 0 left out
    assert tg.nn.EmbeddingBag.from_pretrained(w, freeze=False).weight.requires_grad
    with pytest.raises(AssertionError, match="2-dimensional"):
        tg.nn.EmbeddingBag.from_pretrained(tg.zeros(4))
