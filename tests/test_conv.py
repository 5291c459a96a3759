"""conv2d, conv1d, conv_transpose2d against torch.nn.functional, and float64 grad/gradgrad checks."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.ops import conv
from oracle import check_grad, check_torch, rand, torch

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")


def F(m):
    return conv if m is tg else m.nn.functional


TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-7, atol=1e-9)}

CONV2D_CASES = [
    # input shape, weight shape, kwargs
    ((2, 3, 8, 8), (4, 3, 3, 3), {}),
    ((1, 3, 7, 9), (5, 3, 2, 4), dict(stride=(2, 1), padding=(1, 2))),          # batch 1, non-square kernel
    ((2, 4, 9, 8), (6, 2, 3, 2), dict(stride=2, padding=1, dilation=(2, 1), groups=2)),
    ((2, 4, 6, 7), (4, 1, 3, 3), dict(padding="same", groups=4)),               # depthwise, 'same'
    ((2, 2, 6, 7), (3, 2, 2, 4), dict(padding="same", dilation=(1, 2))),        # asymmetric 'same' padding
    ((2, 2, 6, 6), (3, 2, 3, 3), dict(padding="valid", stride=3)),
    ((6, 6, 6), (4, 3, 3, 3), dict(padding=1, groups=2)),                        # unbatched 3-D input
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES)
def test_conv2d_vs_torch(device, dtype, xs, ws, kw):
    arrays = [rand(*xs, dtype=dtype), rand(*ws, dtype=dtype), rand(ws[0], dtype=dtype)]
    check_torch(lambda m, x, w, b: F(m).conv2d(x, w, b, **kw), arrays, device, **TOL[dtype])


def test_conv2d_without_bias_vs_torch(device):
    check_torch(lambda m, x, w: F(m).conv2d(x, w, stride=2, padding=(0, 1)),
                [rand(2, 3, 7, 7), rand(2, 3, 3, 3)], device)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, dilation=2), dict(padding="same", groups=2)])
def test_conv2d_gradcheck(device, kw):
    check_grad(lambda x, w, b: conv.conv2d(x, w, b, **kw), [rand(2, 2, 5, 5), rand(2, 2 // kw.get("groups", 1), 3, 2),
                                                           rand(2)], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 4, 11), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    ((1, 3, 9), (2, 3, 4), dict(padding="same", dilation=2)),
    ((3, 10), (2, 3, 3), dict()),                                                # unbatched
])
def test_conv1d_vs_torch(device, dtype, xs, ws, kw):
    arrays = [rand(*xs, dtype=dtype), rand(*ws, dtype=dtype), rand(ws[0], dtype=dtype)]
    check_torch(lambda m, x, w, b: F(m).conv1d(x, w, b, **kw), arrays, device, **TOL[dtype])


def test_conv1d_gradcheck(device):
    check_grad(lambda x, w: conv.conv1d(x, w, stride=2, padding=1), [rand(2, 2, 7), rand(3, 2, 3)], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 3, 5, 5), (3, 4, 3, 3), dict()),
    ((1, 4, 4, 5), (4, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2,
                                      dilation=(1, 2))),
    ((2, 2, 3, 3), (2, 2, 2, 2), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 4), (2, 3, 3, 3), dict(stride=2)),                                   # unbatched
    ((2, 3, 4, 5), (3, 2, 3, 2), dict(padding=1, output_padding=(1, 0), dilation=(2, 1))),  # stride 1, extra row
])
def test_conv_transpose2d_vs_torch(device, dtype, xs, ws, kw):
    arrays = [rand(*xs, dtype=dtype), rand(*ws, dtype=dtype), rand(ws[1] * kw.get("groups", 1), dtype=dtype)]
    check_torch(lambda m, x, w, b: F(m).conv_transpose2d(x, w, b, **kw), arrays, device, **TOL[dtype])


def test_conv_transpose2d_gradcheck(device):
    check_grad(lambda x, w, b: conv.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
               [rand(1, 2, 3, 3), rand(2, 3, 3, 3), rand(3)], device)


def test_conv2d_is_the_adjoint_of_conv_transpose2d(device):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same geometry."""
    x, w, y = rand(2, 3, 7, 7), rand(4, 3, 3, 3), rand(2, 4, 4, 4)
    t = lambda a: tg.tensor(a, device=device)
    lhs = (conv.conv2d(t(x), t(w), stride=2, padding=1) * t(y)).sum().item()
    rhs = (t(x) * conv.conv_transpose2d(t(y), t(w), stride=2, padding=1, output_padding=0)).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_conv2d_errors_name_the_shapes():
    x, w = tg.zeros(2, 4, 8, 8), tg.zeros(16, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"conv2d: expected input with 3 channels \(weight \[16, 3, 3, 3\], "
                                           r"groups 1\), got input of shape \[2, 4, 8, 8\]"):
        conv.conv2d(x, w)
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but "
                                           r"got input of size: \[2, 3\]"):
        conv.conv2d(tg.zeros(2, 3), w)
    with pytest.raises(RuntimeError, match=r"kernel size \(dilated\) \(5, 5\) is larger than the padded input "
                                           r"\(4, 4\)"):
        conv.conv2d(tg.zeros(1, 1, 2, 2), tg.zeros(1, 1, 5, 5), padding=1)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        conv.conv2d(tg.zeros(1, 3, 8, 8), w, padding="same", stride=2)
    with pytest.raises(RuntimeError, match="same dtype"):
        conv.conv2d(tg.zeros(1, 3, 8, 8), tg.zeros(16, 3, 3, 3, dtype=tg.float64))
    with pytest.raises(RuntimeError, match="divisible by groups"):
        conv.conv2d(tg.zeros(1, 4, 8, 8), tg.zeros(3, 2, 3, 3), groups=2)


@pytest.mark.parametrize("per_chunk", [1, 2, 3])  # one image per chunk; two and three, uneven tail
def test_conv_chunked_over_the_batch_matches_torch(device, monkeypatch, per_chunk):
    """Convolutions run over the batch in cache-sized chunks: the chunk boundaries must not show."""
    sizes = []

    def chunks(n, per_image_bytes, arr):
        out = [slice(i, min(i + per_chunk, n)) for i in range(0, n, per_chunk)]
        sizes.extend(sl.stop - sl.start for sl in out)
        return out
    monkeypatch.setattr(conv, "_chunks", chunks)
    kw = dict(stride=(1, 2), padding=1, groups=2)
    arrays = [rand(5, 4, 6, 7), rand(6, 2, 3, 3), rand(6)]
    check_torch(lambda m, x, w, b: F(m).conv2d(x, w, b, **kw), arrays, device, **TOL[np.float32])
    check_torch(lambda m, x, w, b: F(m).conv_transpose2d(x, w, b, stride=2, groups=2),
                [rand(5, 4, 3, 3), rand(4, 3, 2, 2), rand(6)], device, **TOL[np.float32])
    check_grad(lambda x, w, b: conv.conv2d(x, w, b, **kw), [rand(3, 4, 4, 5), rand(6, 2, 3, 3), rand(6)], device)
    assert max(sizes) == per_chunk and (per_chunk == 1 or 5 % per_chunk in sizes)  # the tail ran too


def test_conv_chunk_sizes_follow_the_column_budget(monkeypatch):
    x = np.zeros((10, 1, 1, 1), np.float32)
    monkeypatch.setattr(conv, "column_budget", lambda arr: 3000)
    assert [sl.stop - sl.start for sl in conv._chunks(10, 1000, x)] == [3, 3, 3, 1]
    assert [sl.stop - sl.start for sl in conv._chunks(4, 10 ** 9, x)] == [1, 1, 1, 1]  # at least one image


ROW_CASES = [  # stride-1 geometries: conv2d kwargs, or ("t", kwargs) for conv_transpose2d
    ((3, 4, 7, 8), (6, 4, 3, 3), dict()),
    ((3, 4, 7, 8), (6, 2, 3, 2), dict(padding=(1, 2), groups=2)),
    ((2, 3, 9, 9), (4, 3, 3, 3), dict(dilation=(2, 3), padding="same")),
    ((2, 3, 6, 5), (4, 3, 1, 5), dict(padding=(0, 2))),                          # one-row kernel
    ((2, 3, 4, 5), (3, 2, 3, 2), ("t", dict(padding=1, output_padding=(1, 0), dilation=(2, 1)))),
]


@pytest.mark.parametrize("xs,ws,kw", ROW_CASES)
def test_row_columns_match_window_columns(monkeypatch, xs, ws, kw):
    """Stride-1 convolutions on the CPU take columns over whole rows; forward, both gradients
    and second derivatives must equal those of the window columns (the GPU's path) exactly
    up to float64 rounding, and the row path must actually run."""
    transposed = isinstance(kw, tuple)
    kw = kw[1] if transposed else kw
    fn = conv.conv_transpose2d if transposed else conv.conv2d
    x, w = rand(*xs), rand(*ws)
    calls = []
    real = conv._im2col_rows
    monkeypatch.setattr(conv, "_im2col_rows", lambda *a: calls.append(1) or real(*a))

    def run():
        tx, tw = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
        y = fn(tx, tw, **kw)
        gx, gw = tg.autograd.grad((y * y).sum(), (tx, tw), create_graph=True)
        ggx, = tg.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (tx,))
        return [a.detach().numpy() for a in (y, gx, gw, ggx)]

    rows = run()
    assert calls, "the row path did not run"
    monkeypatch.setattr(conv, "row_windows", lambda arr: False)
    calls.clear()
    windows = run()
    assert not calls
    for a, b in zip(rows, windows):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed: oracle test skipped")
def test_row_columns_with_non_finite_values_match_torch():
    """Row positions that are no window multiply their zero gradient by real values; an inf
    there must not turn a gradient that PyTorch computes as finite into NaN."""
    x, w = rand(2, 2, 6, 7, dtype=np.float32), rand(3, 2, 3, 3, dtype=np.float32)
    x[1, 0, 2, 0] = np.inf       # in no window at kernel column 2: gw[:, 0, :, 2] stays finite
    gy = rand(2, 3, 4, 5, dtype=np.float32)
    tx, tw = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
    conv.conv2d(tx, tw).backward(tg.tensor(gy))
    px, pw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(px, pw).backward(torch.tensor(gy))
    assert np.isfinite(pw.grad.numpy()[:, 0, :, 2]).all()
    np.testing.assert_allclose(tw.grad.numpy(), pw.grad.numpy(), rtol=1e-4, atol=1e-4, equal_nan=True)

    w[0, 1, 0, 0] = np.inf       # offset (0, 0) reaches no input in the last two rows and columns
    x = rand(2, 2, 6, 7, dtype=np.float32)
    tx, tw = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
    conv.conv2d(tx, tw).backward(tg.tensor(gy))
    px, pw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(px, pw).backward(torch.tensor(gy))
    assert np.isfinite(px.grad.numpy()[:, 1, 4:, :]).all()
    np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=1e-4, atol=1e-4, equal_nan=True)
