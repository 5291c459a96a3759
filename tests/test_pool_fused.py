"""The fused max-pool kernels (kernels/pool.cu) against their NumPy reference (tensorgrad/fused/pool.py)
and torch: host-compiled on the CPU (test_kernels_on_host's g++ build, one thread), on CUDA where a
GPU is usable. Inputs carry NaN, +-inf and many ties, where the first-max and NaN rules show."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.fused import pool as P
from tensorgrad.ops import pool

from oracle import to_np, torch
import test_kernels_on_host
from test_kernels_on_host import _call

host_library = test_kernels_on_host.host_library  # the g++ build fixture, shared

CASES = [
    ((2, 3, 8, 8), dict(kernel_size=2)),                                            # tiles
    ((2, 2, 9, 7), dict(kernel_size=3, stride=1)),                                  # overlapping
    ((1, 2, 7, 9), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),        # non-square, padding
    ((2, 2, 9, 9), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ((2, 2, 7, 8), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((2, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 10, 11), dict(kernel_size=2, stride=3)),                                # gaps: rows in no window
    ((2, 1, 11, 10), dict(kernel_size=(2, 3), stride=(3, 2), padding=1, dilation=2, ceil_mode=True)),
    ((1, 1, 9, 12), dict(kernel_size=(3, 4), dilation=(2, 1), stride=1, padding=(1, 2))),
]


def _input(shape, dtype, seed=0):
    """Few distinct values (ties in most windows), a NaN pair in one window, +-inf, and a corner of
    -inf so that padded windows are all -inf and must still point into the input."""
    rng = np.random.default_rng(seed)
    x = (rng.integers(-3, 4, size=shape) * 0.5).astype(dtype)
    x[0, 0, :3, :3] = -np.inf
    x[-1, -1, 1, 1] = x[-1, -1, 1, 2] = np.nan
    x[-1, 0, -1, -1] = np.inf
    x[0, -1, 4, 3] = np.nan
    return x


def _geometry(x, kw):
    return pool._pool_geometry("max_pool2d", tg.tensor(x), **{"stride": None, "padding": 0, "dilation": 1,
                                                              "ceil_mode": False, **kw})[2]


def _host_forward(lib, x, g):
    y = np.empty(x.shape[:2] + (g.oh, g.ow), dtype=x.dtype)
    arg = np.empty(y.shape, dtype=np.int64)
    _call(lib, "max_pool2d_forward", [x, y, arg], y.size, *P.geometry_args(x.shape, g))  # as launched
    return y, arg


def _host_backward(lib, grad, arg, g, shape):
    dx = np.empty(shape, dtype=grad.dtype)
    _call(lib, "max_pool2d_backward", [grad, arg, dx], dx.size, *P.geometry_args(shape, g))
    return dx


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,kw", CASES)
def test_host_kernels_match_the_reference_and_torch(host_library, dtype, shape, kw):
    lib = host_library("pool", dtype)
    x = _input(shape, dtype)
    g = _geometry(x, kw)
    y, arg = _host_forward(lib, x, g)
    y_ref, off_ref = P.max_pool2d_forward_ref(x, g)
    t = torch.tensor(x, requires_grad=True)
    y_t, idx_t = torch.nn.functional.max_pool2d(t, return_indices=True, **kw)
    np.testing.assert_array_equal(arg, P.indices(off_ref, g, shape[3]))
    np.testing.assert_array_equal(arg, idx_t.numpy())
    np.testing.assert_array_equal(y, y_ref)                   # NaN == NaN here: same positions
    np.testing.assert_array_equal(y, y_t.detach().numpy())

    grad = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    dx = _host_backward(lib, grad, arg, g, shape)
    y_t.backward(torch.tensor(grad))
    # the same sums in the same (row-major window) order: equal to the last bit
    np.testing.assert_array_equal(dx, t.grad.numpy())
    np.testing.assert_array_equal(dx, P.max_pool2d_backward_ref(grad, off_ref, g, shape))
    np.testing.assert_array_equal(dx, P.max_pool2d_backward_ref(grad, arg, g, shape))   # flat form too


@pytest.mark.parametrize("kw", [dict(kernel_size=2, stride=2, padding=1), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=3, stride=2, padding=1, dilation=2)])
def test_host_kernel_all_minus_inf_windows_point_into_the_input(host_library, kw):
    lib = host_library("pool", "float32")
    x = np.full((1, 1, 3, 5), -np.inf, dtype=np.float32)
    x[0, 0, 2, 4] = 1.0
    g = _geometry(x, kw)
    y, arg = _host_forward(lib, x, g)
    y_t, idx_t = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(arg, idx_t.numpy())
    np.testing.assert_array_equal(y, y_t.numpy())


def test_host_kernel_ties_go_to_the_first_max(host_library):
    lib = host_library("pool", "float64")
    x = np.zeros((1, 2, 5, 6))
    x[0, 1, ::2, 1::2] = 1.0
    for kw in (dict(kernel_size=3, stride=1), dict(kernel_size=(2, 3), stride=(1, 2), padding=1)):
        g = _geometry(x, kw)
        _, arg = _host_forward(lib, x, g)
        _, idx_t = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(arg, idx_t.numpy())


def test_host_kernels_on_random_geometries(host_library):
    """Random kernel, stride, padding, dilation and ceil_mode over small inputs with ties, NaN and -inf."""
    lib = host_library("pool", "float64")
    rng = np.random.default_rng(5)
    done = 0
    while done < 40:
        k, s, d = rng.integers(1, 5, 2), rng.integers(1, 4, 2), rng.integers(1, 4, 2)
        kw = dict(kernel_size=tuple(map(int, k)), stride=tuple(map(int, s)), dilation=tuple(map(int, d)),
                  padding=(int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1))),
                  ceil_mode=bool(rng.integers(2)))
        x = rng.integers(-2, 3, size=(2, 2, *rng.integers(1, 14, 2))) * 1.0
        x[rng.random(x.shape) < 0.05] = np.nan
        x[rng.random(x.shape) < 0.1] = -np.inf
        t = torch.tensor(x, requires_grad=True)
        try:
            y_t, idx_t = torch.nn.functional.max_pool2d(t, return_indices=True, **kw)
        except RuntimeError:                                  # output too small: not a case
            continue
        g = _geometry(x, kw)
        y, arg = _host_forward(lib, x, g)
        _, off_ref = P.max_pool2d_forward_ref(x, g)
        np.testing.assert_array_equal(arg, idx_t.numpy(), err_msg=str(kw))
        np.testing.assert_array_equal(P.indices(off_ref, g, x.shape[3]), arg, err_msg=str(kw))
        np.testing.assert_array_equal(y, y_t.detach().numpy(), err_msg=str(kw))
        grad = rng.standard_normal(y.shape)
        dx = _host_backward(lib, grad, arg, g, x.shape)
        np.testing.assert_allclose(dx, P.max_pool2d_backward_ref(grad, off_ref, g, x.shape), rtol=1e-14, atol=0)
        if P._empty_windows(g, x.shape) is None:             # see test_windows_with_no_input_position
            y_t.backward(torch.tensor(grad))
            np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-14, atol=0, err_msg=str(kw))
        done += 1


def test_windows_with_no_input_position(host_library):
    """A dilation wider than a tiny padded input leaves windows whose taps all miss it: -inf, and
    torch's index (outside the plane). Their gradient goes nowhere (torch's CPU backward writes it
    out of bounds, so it is not the oracle here) and the double backward reads 0 there."""
    lib = host_library("pool", "float64")
    for shape, kw in (((2, 2, 1, 6), dict(kernel_size=2, stride=2, padding=1, dilation=3, ceil_mode=True)),
                      ((1, 2, 5, 2), dict(kernel_size=(1, 2), stride=1, padding=(0, 1), dilation=3))):
        x = np.random.default_rng(2).standard_normal(shape)
        g = _geometry(x, kw)
        assert P._empty_windows(g, shape) is not None
        y, arg = _host_forward(lib, x, g)
        y_t, idx_t = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(arg, idx_t.numpy())
        np.testing.assert_array_equal(y, y_t.numpy())
        y_ref, off_ref = P.max_pool2d_forward_ref(x, g)
        np.testing.assert_array_equal(P.indices(off_ref, g, shape[3]), arg)
        np.testing.assert_array_equal(y_ref, y)
        grad = np.random.default_rng(3).standard_normal(y.shape)
        dx = _host_backward(lib, grad, arg, g, shape)
        for a in (off_ref, arg):
            np.testing.assert_array_equal(P.max_pool2d_backward_ref(grad, a, g, shape), dx)
            v = np.random.default_rng(4).standard_normal(shape)    # gather is the adjoint of the backward
            np.testing.assert_allclose((dx * v).sum(), (grad * P.max_pool2d_gather(v, a, g)).sum(), rtol=1e-12)


def test_cpu_dispatch_is_the_reference():
    x = _input((2, 2, 6, 6), np.float32)
    g = _geometry(x, dict(kernel_size=2))
    y, arg = P.max_pool2d_forward(x, g)
    assert arg.dtype == np.uint8                              # the compact offsets, not the flat form
    y_ref, arg_ref = P.max_pool2d_forward_ref(x, g)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(arg, arg_ref)


# ---------------------------------------------------------------- CUDA
def _cupy(device):
    if device != "cuda":
        pytest.skip("the kernel path runs on CUDA only")
    import cupy
    import cupyx
    return cupy, cupyx


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape,kw", CASES)
def test_cuda_kernels_match_the_reference(device, dtype, shape, kw):
    cp, cupyx = _cupy(device)
    x = _input(shape, dtype)
    g = _geometry(x, kw)
    grad = np.random.default_rng(1).standard_normal(x.shape[:2] + (g.oh, g.ow)).astype(dtype)
    xd, gd = cp.asarray(x), cp.asarray(grad)
    P.max_pool2d_forward(xd, g)                               # compile outside the no-sync block
    with cupyx.allow_synchronize(False):                      # no host round trip on the kernel path
        y, arg = P.max_pool2d_forward(xd, g)
        dx = P.max_pool2d_backward(gd, arg, g, x.shape)
    y_ref, off_ref = P.max_pool2d_forward_ref(x, g)
    assert arg.dtype == np.int64
    np.testing.assert_array_equal(cp.asnumpy(arg), P.indices(off_ref, g, shape[3]))
    np.testing.assert_array_equal(cp.asnumpy(y), y_ref)
    dx_ref = P.max_pool2d_backward_ref(grad.astype(np.float64), off_ref, g, x.shape)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else dict(rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(cp.asnumpy(dx).astype(np.float64), dx_ref, **tol)


def test_max_pool2d_op_vs_torch(device):
    """Through the op (the kernels on CUDA): values, indices, unbatched input, gradient and double backward."""
    x = _input((1, 3, 9, 8), np.float64)[0]                  # unbatched (C, H, W)
    x = np.nan_to_num(x, nan=0.25, neginf=-2.0, posinf=2.0)  # finite, for the gradients
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    t = tg.tensor(x, device=device, requires_grad=True)
    p = torch.tensor(x, requires_grad=True)
    out, idx = pool.max_pool2d(t, return_indices=True, **kw)
    ref, ref_idx = torch.nn.functional.max_pool2d(p, return_indices=True, **kw)
    np.testing.assert_array_equal(to_np(idx), ref_idx.numpy())
    np.testing.assert_array_equal(to_np(out), ref.detach().numpy())
    (gt,) = tg.autograd.grad((pool.max_pool2d(t, **kw) ** 2).sum(), [t], create_graph=True)
    (gp,) = torch.autograd.grad((torch.nn.functional.max_pool2d(p, **kw) ** 2).sum(), [p], create_graph=True)
    np.testing.assert_allclose(to_np(gt), gp.detach().numpy())
    (ht,) = tg.autograd.grad((gt * tg.tensor(x, device=device)).sum(), [t])
    (hp,) = torch.autograd.grad((gp * torch.tensor(x)).sum(), [p])
    np.testing.assert_allclose(to_np(ht), hp.numpy())
