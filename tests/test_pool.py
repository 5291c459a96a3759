"""max_pool2d, avg_pool2d, adaptive_avg_pool2d against torch.nn.functional, and float64 gradchecks."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.ops import pool
from oracle import check_grad, check_torch, needs_torch, rand, to_np, torch


def F(m):
    return pool if m is tg else m.nn.functional


TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}

MAX_CASES = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((1, 2, 7, 9), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),      # batch 1, non-square
    ((2, 2, 9, 9), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ((2, 2, 7, 8), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((2, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((3, 7, 7), dict(kernel_size=3, stride=1)),                                  # unbatched, overlapping
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kw", MAX_CASES)
def test_max_pool2d_vs_torch(device, dtype, xs, kw):
    check_torch(lambda m, x: F(m).max_pool2d(x, **kw), [rand(*xs, dtype=dtype)], device, **TOL[dtype])


@pytest.mark.parametrize("xs,kw", MAX_CASES)
def test_max_pool2d_indices_vs_torch(device, xs, kw):
    x = rand(*xs)
    out, idx = pool.max_pool2d(tg.tensor(x, device=device), return_indices=True, **kw)
    ref, ref_idx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(to_np(idx), ref_idx.numpy())
    assert idx.dtype == tg.int64
    np.testing.assert_allclose(to_np(out), ref.numpy())


def test_max_pool2d_ties_go_to_the_first_max_like_torch(device):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 2, 2] = -1.0  # windows of zeros: every position ties
    check_torch(lambda m, x: F(m).max_pool2d(x, 3, stride=1), [x], device)
    check_torch(lambda m, x: F(m).max_pool2d(x, 2, return_indices=True)[0], [np.ones((1, 2, 4, 6))], device)


def test_max_pool2d_gradcheck(device):
    x = np.random.default_rng(0).permutation(144).reshape(2, 2, 6, 6) * 0.05  # distinct: no ties in finite diffs
    check_grad(lambda x: pool.max_pool2d(x, 3, stride=2, padding=1), [x], device)
    check_grad(lambda x: pool.max_pool2d(x, 2), [x], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kw", [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((1, 2, 7, 9), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),
    ((2, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((2, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    ((3, 6, 5), dict(kernel_size=2, stride=1)),                                  # unbatched
])
def test_avg_pool2d_vs_torch(device, dtype, xs, kw):
    check_torch(lambda m, x: F(m).avg_pool2d(x, **kw), [rand(*xs, dtype=dtype)], device, **TOL[dtype])


def test_avg_pool2d_gradcheck(device):
    check_grad(lambda x: pool.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
               [rand(1, 2, 6, 7)], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,size", [
    ((2, 3, 8, 8), 1), ((2, 3, 8, 8), (4, 2)), ((1, 2, 7, 10), (3, 4)), ((2, 2, 5, 6), (None, 4)),
    ((3, 9, 5), (4, 7)), ((2, 2, 4, 4), 4),
])
def test_adaptive_avg_pool2d_vs_torch(device, dtype, xs, size):
    check_torch(lambda m, x: F(m).adaptive_avg_pool2d(x, size), [rand(*xs, dtype=dtype)], device, **TOL[dtype])


def test_adaptive_avg_pool2d_gradcheck(device):
    check_grad(lambda x: pool.adaptive_avg_pool2d(x, (2, 3)), [rand(1, 2, 5, 7)], device)


def test_pool_errors():
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        pool.max_pool2d(tg.zeros(1, 1, 8, 8), 2, padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        pool.max_pool2d(tg.zeros(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D .* got input of size: \[8, 8\]"):
        pool.avg_pool2d(tg.zeros(8, 8), 2)


def test_max_pool2d_propagates_nan_like_torch(device):
    x = rand(1, 1, 4, 4)
    x[0, 0, 0, 1] = x[0, 0, 3, 3] = x[0, 0, 2, 0] = x[0, 0, 3, 1] = np.nan  # two NaNs in one window
    out, idx = pool.max_pool2d(tg.tensor(x, device=device), 2, return_indices=True)
    ref, ref_idx = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(to_np(out), ref.numpy())
    np.testing.assert_array_equal(to_np(idx), ref_idx.numpy())


def test_max_pool2d_double_backward_vs_torch(device):
    """create_graph through max_pool2d: the gradient is itself differentiable (scatter <-> gather)."""
    x = rand(2, 2, 6, 6)
    t = tg.tensor(x, device=device, requires_grad=True)
    p = torch.tensor(x, requires_grad=True)
    (gt,) = tg.autograd.grad((pool.max_pool2d(t, 3, stride=2, padding=1) ** 2).sum(), [t], create_graph=True)
    (gp,) = torch.autograd.grad((torch.nn.functional.max_pool2d(p, 3, stride=2, padding=1) ** 2).sum(), [p],
                                create_graph=True)
    (ht,) = tg.autograd.grad((gt * tg.tensor(x, device=device)).sum(), [t])
    (hp,) = torch.autograd.grad((gp * torch.tensor(x)).sum(), [p])
    np.testing.assert_allclose(to_np(gt), gp.detach().numpy())
    np.testing.assert_allclose(to_np(ht), hp.numpy())


# exact tiling (stride == kernel, no padding/dilation): the pairwise-max forward and repeat-and-mask backward
TILE_CASES = [
    ((2, 3, 8, 8), 2), ((2, 2, 9, 7), 2),            # odd H/W: the last row/column is in no window
    ((1, 2, 9, 12), (3, 4)), ((2, 1, 6, 5), (1, 2)), ((2, 2, 4, 6), (2, 1)), ((3, 5, 5), 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,k", TILE_CASES)
def test_max_pool2d_tiling_vs_torch(device, dtype, xs, k):
    x = rand(*xs, dtype=dtype)
    check_torch(lambda m, x: F(m).max_pool2d(x, k), [x], device, **TOL[dtype])
    out, idx = pool.max_pool2d(tg.tensor(x, device=device), k, return_indices=True)
    ref, ref_idx = torch.nn.functional.max_pool2d(torch.tensor(x), k, return_indices=True)
    np.testing.assert_array_equal(to_np(idx), ref_idx.numpy())
    np.testing.assert_array_equal(to_np(out), ref.numpy())


@pytest.mark.parametrize("k", [2, (2, 3)])
def test_max_pool2d_tiling_ties_after_relu_go_to_the_first(device, k):
    """relu'd inputs: many windows all zeros (or with repeated maxima): the first position in
    row-major order gets the whole gradient, exactly as torch."""
    x = np.maximum(rand(2, 3, 12, 12, dtype=np.float32), 0)
    x[0, 0, :4, :6] = 0.0
    x[0, 1, 0:2, 0:3] = [[0.5, 1.0, 1.0], [1.0, 0.25, 1.0]]  # ties across columns and rows
    x[1, 2, 2:4, 3:6] = [[0.0, 0.5, 0.25], [0.5, 0.5, 0.0]]
    check_torch(lambda m, x: F(m).max_pool2d(x, k), [x], device, rtol=0, atol=0)
    gy = tg.tensor(rand(*pool.max_pool2d(tg.tensor(x), k).shape, dtype=np.float32), device=device)
    t = tg.tensor(x, device=device, requires_grad=True)
    pool.max_pool2d(t, k).backward(gy)
    p = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(p, k).backward(torch.tensor(to_np(gy)))
    np.testing.assert_array_equal(to_np(t.grad), p.grad.numpy())  # bit-exact, zeros included


def test_max_pool2d_tiling_nan_and_inf_like_torch(device):
    x = rand(2, 2, 6, 6, dtype=np.float32)
    x[0, 0, 0, 1] = x[0, 0, 1, 1] = np.nan        # two NaNs in one window
    x[0, 1, 2, 2] = np.nan
    x[1, 0, 4:, 4:] = np.inf
    x[1, 1, :2, :2] = -np.inf
    out, idx = pool.max_pool2d(tg.tensor(x, device=device), 2, return_indices=True)
    ref, ref_idx = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(to_np(out), ref.numpy())
    np.testing.assert_array_equal(to_np(idx), ref_idx.numpy())
    # inf / NaN gradients are routed bit-exactly, never multiplied by a 0/1 mask
    gy = np.full(tuple(ref.shape), np.inf, dtype=np.float32)
    gy[0, 0, 0, 0] = np.nan
    check_torch(lambda m, x: F(m).max_pool2d(x, 2), [x], device)
    t = tg.tensor(x, device=device, requires_grad=True)
    pool.max_pool2d(t, 2).backward(tg.tensor(gy, device=device))
    p = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(p, 2).backward(torch.tensor(gy))
    np.testing.assert_array_equal(to_np(t.grad), p.grad.numpy())


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_max_pool2d_tiling_ints(device, dtype):
    x = rand(2, 3, 7, 8, dtype=dtype, low=0, high=3)  # small range: many ties
    out, idx = pool.max_pool2d(tg.tensor(x, device=device), 2, return_indices=True)
    ref, ref_idx = torch.nn.functional.max_pool2d(torch.tensor(x.astype(np.float64)), 2, return_indices=True)
    np.testing.assert_array_equal(to_np(out), ref.numpy().astype(dtype))
    np.testing.assert_array_equal(to_np(idx), ref_idx.numpy())


def test_max_pool2d_tiling_gradcheck(device):
    x = np.random.default_rng(1).permutation(2 * 2 * 7 * 9).reshape(2, 2, 7, 9) * 0.05  # distinct values
    check_grad(lambda x: pool.max_pool2d(x, 2), [x], device)
    check_grad(lambda x: pool.max_pool2d(x, (3, 2)), [x], device)


def test_max_pool2d_tiling_double_backward_vs_torch(device):
    x = rand(2, 2, 6, 7)
    x[0, 0, :2, :2] = 0.0  # a tied window
    t = tg.tensor(x, device=device, requires_grad=True)
    p = torch.tensor(x, requires_grad=True)
    (gt,) = tg.autograd.grad((pool.max_pool2d(t, 2) ** 2).sum(), [t], create_graph=True)
    (gp,) = torch.autograd.grad((torch.nn.functional.max_pool2d(p, 2) ** 2).sum(), [p], create_graph=True)
    (ht,) = tg.autograd.grad((gt * tg.tensor(x, device=device)).sum(), [t])
    (hp,) = torch.autograd.grad((gp * torch.tensor(x)).sum(), [p])
    np.testing.assert_allclose(to_np(gt), gp.detach().numpy())
    np.testing.assert_allclose(to_np(ht), hp.numpy())


@needs_torch
@pytest.mark.parametrize("kw", [dict(kernel_size=2, stride=2, padding=1),          # disjoint windows
                                dict(kernel_size=3, stride=1, padding=1),          # overlapping
                                dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)])
def test_max_pool_all_minus_inf_windows_point_into_the_input(kw):
    """A window of -inf values and padding: torch picks its first in-bounds position, never padding."""
    x = np.full((1, 1, 3, 5), -np.inf, dtype=np.float32)
    x[0, 0, 2, 4] = 1.0
    a = tg.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    out, idx = tg.nn.functional.max_pool2d(a, return_indices=True, **kw)
    tout, tidx = torch.nn.functional.max_pool2d(b, return_indices=True, **kw)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    g = np.arange(1, tout.numel() + 1, dtype=np.float32).reshape(tout.shape)
    out.backward(tg.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
