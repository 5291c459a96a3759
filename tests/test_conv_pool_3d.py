"""conv3d, conv_transpose1d/3d, 3-d pooling, max unpooling and LP pooling against torch, with float64
gradient and second-derivative checks, the nn modules (init, reprs, output_size) and the errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.ops import conv, pool
from oracle import check_grad, check_torch, needs_torch, rand, torch

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")


def F(m):
    return tg.nn.functional if m is tg else m.nn.functional


TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-7, atol=1e-9)}


# ---------------------------------------------------------------- conv3d
CONV3D_CASES = [
    # input shape, weight shape, kwargs
    ((2, 3, 5, 6, 5), (4, 3, 3, 3, 3), {}),
    ((1, 4, 6, 5, 7), (6, 2, 2, 3, 2), dict(stride=(2, 1, 3), padding=(1, 0, 1), dilation=(2, 1, 1), groups=2)),
    ((2, 4, 5, 5, 6), (4, 1, 3, 2, 3), dict(padding="same", groups=4, dilation=(1, 2, 1))),  # depthwise, asym.
    ((2, 2, 4, 6, 5), (3, 2, 2, 2, 2), dict(padding="same")),                   # even kernel: extra at the back
    ((2, 2, 6, 6, 6), (3, 2, 3, 2, 3), dict(padding="valid", stride=2)),
    ((4, 5, 6, 5), (4, 2, 3, 3, 2), dict(padding=1, groups=2)),                 # unbatched 4-D input
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", CONV3D_CASES)
def test_conv3d_vs_torch(device, dtype, xs, ws, kw):
    arrays = [rand(*xs, dtype=dtype), rand(*ws, dtype=dtype), rand(ws[0], dtype=dtype)]
    check_torch(lambda m, x, w, b: F(m).conv3d(x, w, b, **kw), arrays, device, **TOL[dtype])


def test_conv3d_without_bias_vs_torch(device):
    check_torch(lambda m, x, w: F(m).conv3d(x, w, stride=(1, 2, 1), padding=(0, 1, 1)),
                [rand(2, 3, 4, 5, 5), rand(2, 3, 2, 3, 3)], device)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, dilation=(2, 1, 1)), dict(padding="same", groups=2)])
def test_conv3d_gradcheck(device, kw):
    g = kw.get("groups", 1)
    check_grad(lambda x, w, b: conv.conv3d(x, w, b, **kw), [rand(1, 2, 4, 3, 4), rand(2, 2 // g, 2, 2, 3), rand(2)],
               device)


# ---------------------------------------------------------------- transposed convolutions
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 3, 6), (3, 4, 3), dict()),
    ((2, 4, 7), (4, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((1, 2, 5), (2, 2, 2), dict(stride=3, dilation=2, output_padding=2)),
    ((3, 5), (3, 2, 2), dict(dilation=2, output_padding=1)),                      # unbatched, stride 1
])
def test_conv_transpose1d_vs_torch(device, dtype, xs, ws, kw):
    arrays = [rand(*xs, dtype=dtype), rand(*ws, dtype=dtype), rand(ws[1] * kw.get("groups", 1), dtype=dtype)]
    check_torch(lambda m, x, w, b: F(m).conv_transpose1d(x, w, b, **kw), arrays, device, **TOL[dtype])


def test_conv_transpose1d_gradcheck(device):
    check_grad(lambda x, w, b: conv.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
               [rand(2, 2, 4), rand(2, 3, 3), rand(3)], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 3, 3, 4, 3), (3, 2, 3, 3, 2), dict()),
    ((1, 4, 3, 4, 3), (4, 3, 3, 2, 3), dict(stride=(2, 1, 3), padding=(1, 0, 1), output_padding=(1, 0, 2),
                                         dilation=(1, 2, 1), groups=2)),
    ((2, 2, 3, 3, 3), (2, 2, 3, 1, 2), dict(stride=(2, 1, 1), dilation=(3, 1, 1), output_padding=(2, 0, 0))),
    ((2, 3, 4, 3), (2, 3, 2, 3, 2), dict(stride=3, padding=1, output_padding=(0, 1, 2))),   # unbatched
])
def test_conv_transpose3d_vs_torch(device, dtype, xs, ws, kw):
    arrays = [rand(*xs, dtype=dtype), rand(*ws, dtype=dtype), rand(ws[1] * kw.get("groups", 1), dtype=dtype)]
    check_torch(lambda m, x, w, b: F(m).conv_transpose3d(x, w, b, **kw), arrays, device, **TOL[dtype])


def test_conv_transpose3d_gradcheck(device):
    check_grad(lambda x, w, b: conv.conv_transpose3d(x, w, b, stride=(2, 1, 2), padding=(1, 0, 0),
                                                     output_padding=(1, 0, 1)),
               [rand(1, 2, 2, 3, 2), rand(2, 2, 3, 2, 2), rand(2)], device)


def test_conv3d_is_the_adjoint_of_conv_transpose3d(device):
    """<conv3d(x, w), y> == <x, conv_transpose3d(y, w)> for the same geometry (groups included)."""
    x, w, y = rand(2, 4, 7, 6, 5), rand(6, 2, 3, 2, 3), rand(2, 6, 4, 2, 3)
    t = lambda a: tg.tensor(a, device=device)  # noqa: E731
    kw = dict(stride=2, padding=(1, 0, 1), dilation=(1, 2, 1), groups=2)
    lhs = (conv.conv3d(t(x), t(w), **kw) * t(y)).sum().item()
    rhs = (t(x) * conv.conv_transpose3d(t(y), t(w), output_padding=(0, 1, 0), **kw)).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_conv_errors_name_the_op_and_shapes():
    w = tg.zeros(4, 3, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"conv3d: expected input with 3 channels \(weight \[4, 3, 3, 3, 3\], "
                                           r"groups 1\), got input of shape \[1, 2, 5, 5, 5\]"):
        conv.conv3d(tg.zeros(1, 2, 5, 5, 5), w)
    with pytest.raises(RuntimeError, match=r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv3d, but "
                                           r"got input of size: \[3, 5, 5\]"):
        conv.conv3d(tg.zeros(3, 5, 5), w)
    with pytest.raises(RuntimeError, match=r"conv3d: kernel depth \(dilated\) 5 is larger than the padded input "
                                           r"depth 4"):
        conv.conv3d(tg.zeros(1, 3, 2, 5, 5), w, padding=1, dilation=(2, 1, 1))
    with pytest.raises(RuntimeError, match="conv3d: padding='same' is not supported for strided"):
        conv.conv3d(tg.zeros(1, 3, 5, 5, 5), w, padding="same", stride=(1, 2, 1))
    with pytest.raises(RuntimeError, match=r"conv3d: expected bias of shape \[4\]"):
        conv.conv3d(tg.zeros(1, 3, 5, 5, 5), w, tg.zeros(3))
    with pytest.raises(RuntimeError, match="conv3d: .*divisible by groups"):
        conv.conv3d(tg.zeros(1, 4, 5, 5, 5), tg.zeros(3, 2, 1, 1, 1), groups=2)
    with pytest.raises(RuntimeError, match="conv3d: expected weight to be 5-D"):
        conv.conv3d(tg.zeros(1, 3, 5, 5, 5), tg.zeros(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"conv_transpose3d: output padding must be smaller than either stride "
                                           r"or dilation"):
        conv.conv_transpose3d(tg.zeros(1, 4, 2, 2, 2), tg.zeros(4, 3, 2, 2, 2), stride=2, output_padding=(2, 0, 0))
    with pytest.raises(RuntimeError, match=r"conv_transpose3d: expected input with 4 channels \(weight "
                                           r"\[4, 3, 2, 2, 2\], groups 1\), got input of shape \[1, 3, 2, 2, 2\]"):
        conv.conv_transpose3d(tg.zeros(1, 3, 2, 2, 2), tg.zeros(4, 3, 2, 2, 2))
    with pytest.raises(RuntimeError, match=r"conv_transpose3d: output depth -1 is too small"):
        conv.conv_transpose3d(tg.zeros(1, 4, 1, 2, 2), tg.zeros(4, 3, 1, 2, 2), padding=(1, 0, 0))
    with pytest.raises(RuntimeError, match=r"conv_transpose1d: expected input with 2 channels \(weight \[2, 3, 3\]"):
        conv.conv_transpose1d(tg.zeros(1, 3, 4), tg.zeros(2, 3, 3))
    with pytest.raises(RuntimeError, match="conv_transpose1d: output padding must be smaller"):
        conv.conv_transpose1d(tg.zeros(1, 2, 4), tg.zeros(2, 3, 3), output_padding=1)
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv_transpose1d"):
        conv.conv_transpose1d(tg.zeros(1, 2, 4, 4), tg.zeros(2, 3, 3))


# ---------------------------------------------------------------- conv modules
@needs_torch
@pytest.mark.parametrize("name,args,kw,xs", [
    ("Conv3d", (4, 6, (2, 3, 3)), dict(stride=(1, 2, 1), padding=1, groups=2), (2, 4, 5, 6, 5)),
    ("Conv3d", (2, 3, 3), dict(padding="same", padding_mode="reflect"), (1, 2, 4, 5, 4)),
    ("Conv3d", (2, 3, 3), dict(padding=(1, 2, 0), padding_mode="circular", bias=False), (2, 4, 5, 4)),
    ("Conv3d", (2, 3, 2), dict(padding=1, padding_mode="replicate", dilation=2), (1, 2, 4, 5, 4)),
    ("ConvTranspose1d", (4, 2, 3), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5)),
    ("ConvTranspose3d", (2, 4, (3, 2, 2)), dict(stride=2, dilation=(1, 2, 1), bias=False), (1, 2, 3, 2, 3)),
])
def test_conv_modules_match_torch(name, args, kw, xs):
    """Same parameter names and shapes, repr, default init bounds; torch's weights loaded give torch's output."""
    ours = getattr(tg.nn, name)(*args, **kw, dtype=tg.float64)
    theirs = getattr(torch.nn, name)(*args, **kw).double()
    assert repr(ours) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    w = ours.weight.detach().numpy()
    bound = 1 / math.sqrt(w.shape[1] * math.prod(w.shape[2:]))           # kaiming_uniform_(a=sqrt(5))
    assert np.abs(w).max() <= bound and np.abs(w).max() > bound / 2
    ours.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    check_torch(lambda m, x: (ours if m is tg else theirs)(x), [rand(*xs)], rtol=1e-7, atol=1e-9)


@needs_torch
@pytest.mark.parametrize("name,args,xs,size", [
    ("ConvTranspose1d", (2, 3, 3, 2, 1), (2, 2, 4), [8]),
    ("ConvTranspose1d", (2, 3, 3, 3), (2, 4), [2, 12]),                           # unbatched, (C, L) given
    ("ConvTranspose3d", (2, 3, 3, 2, 1), (1, 2, 3, 2, 3), [6, 4, 5]),
    ("ConvTranspose3d", (2, 3, 2, (2, 3, 1)), (1, 2, 2, 2, 2), [1, 3, 4, 5, 3]),  # with (N, C)
])
def test_conv_transpose_output_size_vs_torch(name, args, xs, size):
    ours, theirs = getattr(tg.nn, name)(*args, dtype=tg.float64), getattr(torch.nn, name)(*args).double()
    ours.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    check_torch(lambda m, x: (ours if m is tg else theirs)(x, output_size=size), [rand(*xs)], rtol=1e-7, atol=1e-9)


def test_conv_transpose_module_errors():
    m = tg.nn.ConvTranspose3d(2, 3, 3, stride=2)
    with pytest.raises(ValueError, match=r"requested an output size of \[9, 5, 5\], but valid sizes range from "
                                         r"\[5, 5, 5\] to \[6, 6, 6\]"):
        m(tg.zeros(1, 2, 2, 2, 2), output_size=[9, 5, 5])
    with pytest.raises(ValueError, match="ConvTranspose3D: for 5D input, output_size must have 3 or 5 elements"):
        m(tg.zeros(1, 2, 2, 2, 2), output_size=[5, 5])
    with pytest.raises(RuntimeError, match=r"ConvTranspose3d\(2, 3, .*Expected 4D \(unbatched\) or 5D"):
        m(tg.zeros(2, 2, 2), output_size=[5, 5, 5])
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose1d'):
        tg.nn.ConvTranspose1d(2, 3, 3, padding_mode="reflect")
    with pytest.raises(RuntimeError, match=r"^Conv3d\(2, 3, kernel_size=\(3, 3, 3\), stride=\(1, 1, 1\)\): conv3d: "
                                           r"expected input with 2 channels"):
        tg.nn.Conv3d(2, 3, 3)(tg.zeros(1, 3, 4, 4, 4))


# ---------------------------------------------------------------- 3-d pooling
POOL3D_CASES = [
    ((2, 3, 5, 6, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 6, 5, 7), dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), ceil_mode=True)),
    ((2, 4, 5, 6), dict(kernel_size=2, ceil_mode=True)),                         # unbatched
    ((1, 2, 7, 5, 6), dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kw", POOL3D_CASES + [
    ((1, 2, 7, 6, 7), dict(kernel_size=(2, 3, 2), stride=2, padding=1, dilation=(3, 1, 2), ceil_mode=True)),
])
def test_max_pool3d_vs_torch(device, dtype, xs, kw):
    check_torch(lambda m, x: F(m).max_pool3d(x, return_indices=True, **kw), [rand(*xs, dtype=dtype)], device)


def test_max_pool3d_ties_and_nan_follow_torch(device):
    """Integer-valued input: ties everywhere (the first maximum in (d, h, w) order gets the gradient);
    and a NaN wins its windows."""
    x = rand(2, 2, 5, 4, 5, low=0, high=2).round()
    check_torch(lambda m, x: F(m).max_pool3d(x, (3, 2, 2), 2, 1, return_indices=True), [x], device)
    x[0, 1, 2, 1, 3] = np.nan
    check_torch(lambda m, x: F(m).max_pool3d(x, 2, 1, return_indices=True), [x], device)


def test_max_pool3d_gradcheck(device):
    check_grad(lambda x: pool.max_pool3d(x, (2, 2, 3), (1, 2, 1), (1, 0, 1)), [rand(1, 2, 3, 4, 4)], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kw", POOL3D_CASES)
@pytest.mark.parametrize("extra", [dict(), dict(count_include_pad=False), dict(divisor_override=5)])
def test_avg_pool3d_vs_torch(device, dtype, xs, kw, extra):
    check_torch(lambda m, x: F(m).avg_pool3d(x, **kw, **extra), [rand(*xs, dtype=dtype)], device, **TOL[dtype])


def test_avg_pool3d_gradcheck(device):
    check_grad(lambda x: pool.avg_pool3d(x, 2, (1, 2, 2), 1, True, False), [rand(1, 2, 3, 4, 3)], device)


@pytest.mark.parametrize("xs,size", [((2, 3, 5, 6, 7), (2, 3, 4)), ((3, 4, 5, 6), 3), ((1, 2, 5, 4, 7), (None, 2, 5)),
                                     ((1, 2, 3, 4, 5), (3, 4, 5))])
def test_adaptive_pool3d_vs_torch(device, xs, size):
    check_torch(lambda m, x: F(m).adaptive_avg_pool3d(x, size), [rand(*xs)], device)
    check_torch(lambda m, x: F(m).adaptive_max_pool3d(x, size), [rand(*xs)], device)


def test_adaptive_pool3d_gradcheck(device):
    check_grad(lambda x: pool.adaptive_avg_pool3d(x, (2, 3, 2)), [rand(1, 2, 3, 4, 5)], device)
    check_grad(lambda x: pool.adaptive_max_pool3d(x, (2, 3, 2)), [rand(1, 2, 3, 4, 5)], device)


def test_pool3d_errors():
    with pytest.raises(RuntimeError, match=r"max_pool3d: Expected 4D or 5D \(batch mode\) tensor .*\[2, 3, 4\]"):
        pool.max_pool3d(tg.zeros(2, 3, 4), 2)
    with pytest.raises(RuntimeError, match=r"avg_pool3d: pad should be at most half of effective kernel size, but "
                                           r"got pad=\[2, 0, 0\], kernel_size=\[3, 3, 3\]"):
        pool.avg_pool3d(tg.zeros(1, 1, 4, 4, 4), 3, padding=(2, 0, 0))
    with pytest.raises(RuntimeError, match=r"max_pool3d: Given input size: \(1x2x4x4\). Calculated output size: "
                                           r"\(1x0x1x1\). Output size is too small"):
        pool.max_pool3d(tg.zeros(1, 1, 2, 4, 4), (3, 3, 3), 2)
    with pytest.raises(RuntimeError, match="max_pool3d: expected kernel_size to be a single int or a tuple of 3"):
        pool.max_pool3d(tg.zeros(1, 1, 4, 4, 4), (2, 2))
    with pytest.raises(RuntimeError, match="avg_pool3d: divisor must be not zero"):
        pool.avg_pool3d(tg.zeros(1, 1, 4, 4, 4), 2, divisor_override=0)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool3d: Expected 4D or 5D tensor .*\[1, 0, 2, 2\]"):
        pool.adaptive_avg_pool3d(tg.zeros(1, 0, 2, 2), 2)
    with pytest.raises(RuntimeError, match="adaptive_max_pool3d: output_size must be 3"):
        pool.adaptive_max_pool3d(tg.zeros(1, 2, 2, 2), (1, 1))


# ---------------------------------------------------------------- max unpooling
@needs_torch
@pytest.mark.parametrize("nd,xs,kw,size", [
    (1, (2, 3, 10), dict(kernel_size=2), None),
    (1, (3, 11), dict(kernel_size=3, stride=2, padding=1), [11]),                # unbatched
    (2, (2, 3, 8, 8), dict(kernel_size=2), None),
    (2, (2, 3, 7, 8), dict(kernel_size=3, stride=2, padding=1), [2, 3, 7, 8]),   # (N, C) given
    (2, (3, 7, 6), dict(kernel_size=(3, 2), stride=(2, 1)), [8, 6]),             # unbatched, larger output
    (3, (1, 2, 4, 5, 4), dict(kernel_size=2, stride=(1, 2, 2)), [4, 5, 4]),
])
def test_max_unpool_vs_torch(device, nd, xs, kw, size):
    """Values unpooled at the indices that torch's max_pool returned, then torch's and our gradients."""
    px = torch.tensor(rand(*xs))
    pooled, idx = getattr(torch.nn.functional, f"max_pool{nd}d")(px, return_indices=True, **kw)
    arrays = [pooled.numpy(), idx.numpy()]
    check_torch(lambda m, v, i: getattr(F(m), f"max_unpool{nd}d")(v, i, output_size=size, **kw), arrays, device)


def test_max_unpool_inverts_our_max_pool(device):
    """unpool(pool(x)) keeps x at each window's maximum and is zero elsewhere; and it is differentiable twice."""
    x = tg.tensor(rand(2, 3, 6, 6), device=device)
    y, idx = pool.max_pool2d(x, 2, return_indices=True)
    up = pool.max_unpool2d(y, idx, 2)
    assert tuple(up.shape) == (2, 3, 6, 6)
    kept = up.cpu().numpy() != 0
    assert kept.reshape(2, 3, -1).sum(-1).tolist() == [[9] * 3] * 2
    np.testing.assert_array_equal(up.cpu().numpy()[kept], x.cpu().numpy()[kept])
    i = idx.cpu().numpy()
    check_grad(lambda v: pool.max_unpool2d(v, tg.tensor(i, device=device), 2), [rand(2, 3, 3, 3)], device)
    y3, i3 = pool.max_pool3d(tg.tensor(rand(1, 2, 4, 4, 4)), 2, return_indices=True)
    check_grad(lambda v: pool.max_unpool3d(v, i3, 2), [rand(1, 2, 2, 2, 2)], "cpu")


def test_max_unpool_errors():
    v, i = tg.zeros(1, 1, 2, 2), tg.tensor(np.array([[[[0, 1], [4, 16]]]]))
    with pytest.raises(RuntimeError, match=r"max_unpool2d: Found an invalid max index: 16 \(output volumes are of "
                                           r"size 4x4\)"):
        pool.max_unpool2d(v, i, 2)
    with pytest.raises(ValueError, match=r'max_unpool2d: invalid output_size "\[6, 4\]" \(dim 0 must be between '
                                         r'2 and 6\)'):
        pool.max_unpool2d(v, i, 2, output_size=(6, 4))
    with pytest.raises(ValueError, match="max_unpool2d: output_size should be a sequence containing 2 or 4"):
        pool.max_unpool2d(v, i, 2, output_size=(4, 4, 4))
    with pytest.raises(RuntimeError, match="max_unpool2d: elements in indices should be type int64"):
        pool.max_unpool2d(v, i.to(tg.int32), 2)
    with pytest.raises(RuntimeError, match=r"max_unpool1d: Expected shape of indices to be same as that of the "
                                           r"input tensor \(\[1, 1, 4\]\)"):
        pool.max_unpool1d(tg.zeros(1, 1, 4), tg.zeros(1, 1, 3, dtype=tg.int64), 2)
    with pytest.raises(RuntimeError, match=r"max_unpool1d: Expected 2D or 3D \(batch mode\) tensor"):
        pool.max_unpool1d(v, i, 2)


# ---------------------------------------------------------------- LP pooling
@pytest.mark.parametrize("p", [2.0, 3.0, 1.5])
def test_lp_pool_vs_torch(device, p):
    x = rand(2, 3, 7, 8, low=0.1, high=2.0)       # positive: x**p is real for fractional p
    check_torch(lambda m, x: F(m).lp_pool1d(x[0], p, 3), [x], device)
    check_torch(lambda m, x: F(m).lp_pool1d(x, p, 2, 3, True), [x[0]], device)
    check_torch(lambda m, x: F(m).lp_pool2d(x, p, (2, 3), 2, True), [x], device)
    check_torch(lambda m, x: F(m).lp_pool2d(x, p, 3), [x[0]], device)
    check_torch(lambda m, x: F(m).lp_pool3d(x, p, 2, (1, 2, 3)), [x], device)


def test_lp_pool_signed_input_with_even_power_vs_torch(device):
    check_torch(lambda m, x: F(m).lp_pool2d(x, 2, 2, 1), [rand(2, 3, 5, 5)], device)


def test_lp_pool_gradcheck(device):
    check_grad(lambda x: pool.lp_pool1d(x, 2.0, 2), [rand(1, 2, 6)], device)
    check_grad(lambda x: pool.lp_pool2d(x, 3.0, (2, 2), 1), [rand(1, 2, 3, 4, low=0.5, high=2.0)], device)


# ---------------------------------------------------------------- pooling modules
@needs_torch
@pytest.mark.parametrize("name,args,kw,xs", [
    ("MaxPool3d", (2,), dict(stride=1, padding=1, dilation=(1, 2, 1), ceil_mode=True), (1, 2, 4, 5, 4)),
    ("AvgPool3d", ((2, 3, 2),), dict(padding=1, count_include_pad=False), (2, 4, 5, 4)),
    ("AdaptiveAvgPool3d", ((2, None, 3),), {}, (1, 2, 4, 5, 4)),
    ("AdaptiveMaxPool3d", (2,), {}, (1, 2, 4, 5, 4)),
    ("LPPool1d", (2, 3), dict(stride=2), (2, 3, 9)),
    ("LPPool2d", (2, (2, 3)), dict(ceil_mode=True), (2, 3, 5, 7)),
    ("LPPool3d", (2, 2), {}, (1, 2, 4, 5, 4)),
])
def test_pool_modules_match_torch(name, args, kw, xs):
    ours, theirs = getattr(tg.nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    check_torch(lambda m, x: (ours if m is tg else theirs)(x), [rand(*xs)])


@needs_torch
@pytest.mark.parametrize("nd,kw", [(1, dict(kernel_size=2)), (2, dict(kernel_size=(2, 3), stride=(2, 1))),
                                   (3, dict(kernel_size=2, padding=(1, 0, 0)))])
def test_max_unpool_modules_match_torch(nd, kw):
    ours, theirs = getattr(tg.nn, f"MaxUnpool{nd}d")(**kw), getattr(torch.nn, f"MaxUnpool{nd}d")(**kw)
    assert repr(ours) == repr(theirs)
    pool_kw = dict(kw)
    pooled, idx = getattr(torch.nn.functional, f"max_pool{nd}d")(torch.tensor(rand(1, 2, *[6] * nd)),
                                                                  return_indices=True, **pool_kw)
    check_torch(lambda m, v, i: (ours if m is tg else theirs)(v, i), [pooled.numpy(), idx.numpy()])


@needs_torch
@pytest.mark.parametrize("norm_type", [float("inf"), float("-inf")])
@pytest.mark.parametrize("fn,shape", [("lp_pool1d", (1, 2, 6)), ("lp_pool2d", (1, 2, 5, 6)), ("lp_pool3d", (1, 1, 2, 5, 6))])
def test_lp_pool_with_infinite_norm_is_the_extreme_magnitude(fn, shape, norm_type):
    x = np.random.default_rng(5).normal(size=shape)
    check_torch(lambda m, a: getattr(F(m), fn)(a, norm_type, 2), [x], "cpu")
