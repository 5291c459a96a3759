"""sort, argsort, msort, topk, kthvalue, unique (tensorgrad/ops/sort.py) and multinomial
(tensorgrad/creation.py): PyTorch as the oracle for values, indices and gradients, float64
gradchecks (and second order) of the differentiable values, the errors, and multinomial's
distribution."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch, to_tg, torch

_rng = np.random.default_rng(17)


def _distinct(*shape):
    """Values without ties (the order of tied values is unspecified in PyTorch's unstable sorts)."""
    n = int(np.prod(shape)) if shape else 1
    return _rng.permutation(n).reshape(shape).astype(np.float64) * 0.37 - 3.0


def _with_edges():
    x = np.array([[3.0, 1.0, np.nan, 2.0, 1.0, -np.inf],
                  [0.0, -np.inf, np.inf, 5.0, 5.0, np.nan],
                  [2.0, 2.0, 2.0, 2.0, -0.0, 0.0]])
    return x


# ---------------------------------------------------------------- sort / argsort against PyTorch's stable sort
@needs_torch
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int16", "uint8"])
def test_sort_matches_torchs_stable_sort(device, descending, dim, dtype):
    x = _with_edges() if dtype.startswith("float") else _rng.integers(0, 4, size=(3, 6))
    x = x.astype(dtype)
    a = tg.sort(to_tg(x, device, requires_grad=False), dim, descending=descending)
    b = torch.sort(torch.tensor(x), dim=dim, descending=descending, stable=True)
    np.testing.assert_array_equal(a.values.cpu().numpy(), b.values.numpy())
    np.testing.assert_array_equal(a.indices.cpu().numpy(), b.indices.numpy())
    assert a.values.dtype.name == dtype and a.indices.dtype == tg.int64
    i = tg.argsort(to_tg(x, device, requires_grad=False), dim, descending)
    np.testing.assert_array_equal(i.cpu().numpy(), b.indices.numpy())


@needs_torch
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((4, 7), 1), ((4, 7), 0), ((2, 3, 5), 1), ((3, 0, 2), 1),
                                       ((3, 0, 2), 2), ((), 0), ((), -1)])
def test_sort_values_and_gradients_match_torch(device, shape, dim):
    x = _distinct(*shape)
    for descending in (False, True):
        check_torch(lambda m, t: m.sort(t, dim, descending=descending).values, [x], device)
        check_torch(lambda m, t: t.sort(dim, descending).indices, [x], device, backward=False)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_gradcheck_and_second_order(device, descending):
    check_grad(lambda t: tg.sort(t, 1, descending=descending).values * tg.arange(5.0, device=t.device),
               [_distinct(3, 5)], device)


def test_sort_backward_scatters_to_the_sources(device):
    x = to_tg(np.array([3.0, 1.0, 2.0]), device)
    v, i = x.sort()
    (v * to_tg(np.array([10.0, 20.0, 30.0]), device, requires_grad=False)).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [30.0, 10.0, 20.0])
    assert i.tolist() == [1, 2, 0] and v.grad_fn.name() == "SortBackward0"


@needs_torch
def test_msort_matches_torch(device):
    check_torch(lambda m, t: m.msort(t), [_distinct(4, 3)], device)


# ---------------------------------------------------------------- topk, kthvalue
@needs_torch
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k,dim", [(1, 1), (3, 1), (7, 1), (0, 1), (2, 0)])
def test_topk_matches_torch(device, largest, k, dim):
    x = _distinct(4, 7)
    check_torch(lambda m, t: m.topk(t, k, dim, largest).values, [x], device)
    check_torch(lambda m, t: t.topk(k, dim=dim, largest=largest).indices, [x], device, backward=False)


@needs_torch
def test_topk_with_nan_and_of_a_0d_tensor(device):
    x = np.array([[1.0, np.nan, 3.0, -np.inf]])
    a, b = tg.topk(to_tg(x, device), 2), torch.topk(torch.tensor(x), 2)
    np.testing.assert_array_equal(a.values.detach().cpu().numpy(), b.values.detach().numpy())  # NaN is largest
    np.testing.assert_array_equal(a.indices.cpu().numpy(), b.indices.numpy())
    for k in (0, 1):
        a, b = tg.topk(to_tg(np.array(2.5), device), k), torch.topk(torch.tensor(2.5), k)
        assert tuple(a.values.shape) == tuple(b.values.shape) and a.indices.tolist() == b.indices.tolist()


def test_topk_gradcheck(device):
    check_grad(lambda t: tg.topk(t, 2, 1).values, [_distinct(3, 5)], device)


@needs_torch
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("k,dim", [(1, 1), (4, 1), (7, 1), (2, 0)])
def test_kthvalue_matches_torch(device, keepdim, k, dim):
    x = _distinct(4, 7)
    check_torch(lambda m, t: m.kthvalue(t, k, dim, keepdim).values, [x], device)
    check_torch(lambda m, t: t.kthvalue(k, dim, keepdim=keepdim).indices, [x], device, backward=False)
    check_grad(lambda t: tg.kthvalue(t, k, dim, keepdim).values, [x], device)


@pytest.mark.parametrize("call,match", [
    (lambda t: tg.topk(t, 8), r"topk\(\): selected index k=8 is out of range for dim -1 of size 7"),
    (lambda t: tg.topk(t, -1), r"k must be in \[0, 7\]"),
    (lambda t: tg.kthvalue(t, 0), r"kthvalue\(\): selected number k=0 is out of range"),
    (lambda t: tg.sort(t, 2), r"sort.*dim"),
])
def test_errors_name_the_op_and_the_valid_range(call, match):
    with pytest.raises((RuntimeError, IndexError), match=match):
        call(tg.tensor(_distinct(4, 7)))
    with pytest.raises(TypeError, match="k must be an int"):
        tg.topk(tg.tensor(_distinct(3)), 1.5)


# ---------------------------------------------------------------- unique
@needs_torch
@pytest.mark.parametrize("data", [[3, 1, 3, 2, 1, 1], [[2.5, -1.0], [2.5, 0.0]], [True, False, True], []])
def test_unique_matches_torch(device, data):
    x = np.array(data) if data else np.zeros(0, np.int64)
    a = tg.unique(to_tg(x, device, requires_grad=False), return_inverse=True, return_counts=True)
    b = torch.unique(torch.tensor(x), return_inverse=True, return_counts=True)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.cpu().numpy(), v.numpy())
        assert u.dtype.name == str(v.dtype).split(".")[-1]
    np.testing.assert_array_equal(tg.unique(to_tg(x, device, requires_grad=False)).cpu().numpy(),
                                  torch.unique(torch.tensor(x)).numpy())
    with pytest.raises(NotImplementedError, match="dim="):
        tg.unique(tg.tensor([1, 2]), dim=0)


# ---------------------------------------------------------------- multinomial
def test_multinomial_with_replacement_follows_the_weights(device):
    w = to_tg(np.array([1.0, 2.0, 7.0, 0.0]), device, requires_grad=False)   # need not sum to 1
    s = tg.multinomial(w, 200_000, replacement=True, generator=None)
    assert s.dtype == tg.int64 and tuple(s.shape) == (200_000,) and s.device.type == device
    freq = np.bincount(s.cpu().numpy(), minlength=4) / 200_000
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7, 0.0], atol=0.005)   # ~5 standard errors
    rows = tg.multinomial(to_tg(np.array([[0.0, 1.0], [1.0, 0.0]]), device), 5, True)
    assert rows.tolist() == [[1] * 5, [0] * 5]


def test_multinomial_without_replacement_draws_distinct_categories(device):
    w = to_tg(np.array([[1.0, 0.0, 0.0, 5.0], [1.0, 1.0, 1.0, 1.0]]), device)
    s = tg.multinomial(w, 2).cpu().numpy()
    assert sorted(s[0]) == [0, 3] and len(set(s[1])) == 2
    assert sorted(tg.multinomial(w[1], 4).tolist()) == [0, 1, 2, 3]        # all of them: a permutation
    p = to_tg(np.array([0.1, 0.2, 0.7]), device)
    big = tg.multinomial(p.reshape(1, 3).expand(20_000, 3).contiguous(), 2).cpu().numpy()
    np.testing.assert_allclose(np.bincount(big[:, 0], minlength=3) / 20_000, [0.1, 0.2, 0.7], atol=0.015)
    # the second draw given the first is the renormalized rest: P(second = 1 | first = 2) = 0.2 / 0.3
    assert abs(np.mean(big[big[:, 0] == 2, 1] == 1) - 2 / 3) < 0.02


def test_multinomial_is_reproducible_with_a_generator():
    w = tg.tensor([0.3, 0.3, 0.4])
    a = tg.multinomial(w, 10, True, generator=tg.Generator().manual_seed(5))
    b = w.multinomial(10, True, generator=tg.Generator().manual_seed(5))
    assert a.tolist() == b.tolist()


@pytest.mark.parametrize("weights,n,replacement,match", [
    ([1.0, -1.0], 1, True, "element < 0"),
    ([1.0, float("nan")], 1, True, "nan"),
    ([0.0, 0.0], 1, True, "sum of probabilities <= 0"),
    ([1.0, 0.0, 0.0], 2, False, "not enough non-negative category"),
    ([1.0, 2.0], 3, False, "n_sample > prob_dist.size"),
    ([1.0, 2.0], 0, True, "n_sample <= 0"),
    ([[[1.0]]], 1, True, "prob_dist must be 1 or 2 dim"),
])
def test_multinomial_rejects_bad_input(device, eager_checks, weights, n, replacement, match):
    with pytest.raises(RuntimeError, match=match):
        tg.multinomial(to_tg(np.array(weights), device, requires_grad=False), n, replacement)
    with pytest.raises(RuntimeError, match="floating-point"):
        tg.multinomial(tg.tensor([1, 2]), 1)


@needs_torch
def test_unique_keeps_each_nan_as_torch():
    x = np.array([3, np.nan, 1, 3, -np.inf, np.nan, 0, -0.0])
    a = tg.unique(tg.tensor(x), return_inverse=True, return_counts=True)
    b = torch.unique(torch.tensor(x), return_inverse=True, return_counts=True)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
