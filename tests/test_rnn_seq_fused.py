"""The whole-sequence LSTM loops of fused/rnn_seq.py (kernels/rnn_seq.cu): the NumPy references
against the layer op's own loop (ops/rnn.py's RecurrentLayer on the CPU), the kernels compiled for
one host thread against the references, and on a GPU the op with the kernels against the CPU op."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.fused import rnn_seq
from tensorgrad.ops import rnn as rnn_ops
from oracle import rand, to_np, to_tg
from test_kernels_on_host import CXX, _call, host_library  # noqa: F401  (host_library: a fixture)

# (T, B, H, batch_sizes): H not a multiple of 32, one step, one row, packed batches with equal and
# dropping sizes
CASES = [(5, 3, 7, None), (1, 1, 1, None), (6, 4, 33, [4, 4, 3, 2, 2, 1]), (4, 5, 40, [5, 3, 3, 1]),
         (3, 2, 5, [2, 1, 1])]
IDS = [f"T{t}-B{b}-H{h}-{'packed' if s else 'full'}" for t, b, h, s in CASES]


def _problem(t_len, batch, hid, dtype=np.float64, inp=3):
    x = rand(t_len, batch, inp, dtype=dtype)
    h0, c0 = rand(batch, hid, dtype=dtype), rand(batch, hid, dtype=dtype)
    s = 1 / np.sqrt(hid)
    w_ih, w_hh = rand(4 * hid, inp, dtype=dtype, low=-s, high=s), rand(4 * hid, hid, dtype=dtype, low=-s, high=s)
    b_ih, b_hh = rand(4 * hid, dtype=dtype, low=-s, high=s), rand(4 * hid, dtype=dtype, low=-s, high=s)
    return x, h0, c0, w_ih, w_hh, b_ih, b_hh


def _seeds(t_len, batch, hid, sizes, dtype=np.float64):
    gy = rand(t_len, batch, hid, dtype=dtype)
    for t, n in enumerate(sizes or []):
        gy[t, n:] = 0  # a packed batch has no outputs past each sequence's end
    return gy, rand(batch, hid, dtype=dtype), rand(batch, hid, dtype=dtype)


def _op(arrays, seeds, sizes, reverse, device="cpu"):
    """The layer op's outputs and input gradients (x, h0, c0, w_ih, w_hh, b_ih, b_hh)."""
    ts = [to_tg(a, device, True) for a in arrays]
    y, h_n, c_n = rnn_ops.recurrent_layer("LSTM", *ts, reverse=reverse, batch_sizes=sizes)
    loss = sum((o * to_tg(s, device, False)).sum() for o, s in zip((y, h_n, c_n), seeds))
    loss.backward()
    return [to_np(o) for o in (y, h_n, c_n)], [to_np(t.grad) for t in ts]


def _previous(seq, init, sizes, reverse):
    op = rnn_ops.RecurrentLayer("LSTM", reverse, sizes)
    return op._previous(seq, init)


def _reference(arrays, seeds, sizes, reverse):
    """The same outputs and gradients from the reference loops and the op's GEMMs around them."""
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = arrays
    t_len, batch = x.shape[:2]
    pre = np.ascontiguousarray((x.reshape(t_len * batch, -1) @ w_ih.T).reshape(t_len, batch, -1) + b_ih + b_hh)
    y, c_seq, h_n, c_n = rnn_seq.lstm_seq_forward(pre, w_hh, h0, c0, sizes, reverse)
    gy, gh, gc = seeds
    dz, dh0, dc0 = rnn_seq.lstm_seq_backward(pre, c_seq, c0, gy, w_hh, gh, gc, sizes, reverse)
    d = dz.reshape(t_len * batch, -1)
    h_prev = _previous(y, h0, sizes, reverse).reshape(t_len * batch, -1)
    grads = [(d @ w_ih).reshape(x.shape), dh0, dc0, d.T @ x.reshape(t_len * batch, -1), d.T @ h_prev, d.sum(0),
             d.sum(0)]
    return [y, h_n, c_n], grads, (pre, c_seq, dz)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("t_len,batch,hid,sizes", CASES, ids=IDS)
def test_reference_loops_match_the_layer_op(t_len, batch, hid, sizes, reverse):
    arrays = _problem(t_len, batch, hid)
    seeds = _seeds(t_len, batch, hid, sizes)
    outs, grads = _op(arrays, seeds, sizes, reverse)
    r_outs, r_grads, _ = _reference(arrays, seeds, sizes, reverse)
    names = ("y", "h_n", "c_n", "dx", "dh0", "dc0", "dw_ih", "dw_hh", "db_ih", "db_hh")
    for name, a, b in zip(names, outs + grads, r_outs + r_grads):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)


def test_reference_leaves_the_incoming_state_gradients_alone():
    arrays = _problem(3, 2, 4)
    gy, gh, gc = _seeds(3, 2, 4, None)
    gh0, gc0 = gh.copy(), gc.copy()
    _reference(arrays, (gy, gh, gc), None, False)
    np.testing.assert_array_equal(gh, gh0)
    np.testing.assert_array_equal(gc, gc0)


def test_supported_only_for_cuda_arrays_of_at_most_1024_units():
    a = np.zeros((2, 2), np.float32)
    assert not rnn_seq.supported(a, 8)
    assert rnn_seq.MAX_HIDDEN == 1024


# ---------------------------------------------------------------- the kernels on one host thread
TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-12, atol=1e-12)}


@pytest.mark.skipif(CXX is None, reason="needs a host C++ compiler (g++ or clang++)")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("t_len,batch,hid,sizes", CASES, ids=IDS)
def test_host_kernels_match_the_reference(host_library, dtype, t_len, batch, hid, sizes, reverse):
    lib = host_library("rnn_seq", dtype)
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _problem(t_len, batch, hid, dtype)
    gy, gh, gc = _seeds(t_len, batch, hid, sizes, dtype)
    pre0 = np.ascontiguousarray((x.reshape(t_len * batch, -1) @ w_ih.T).reshape(t_len, batch, -1) + b_ih + b_hh)
    size_arr = np.array(sizes or [batch] * t_len, dtype=np.int64)

    act_r = pre0.copy()
    y_r, c_seq_r, h_n_r, c_n_r = rnn_seq.lstm_seq_forward(act_r, w_hh, h0, c0, sizes, reverse)
    act = pre0.copy()
    y, c_seq = np.zeros_like(y_r), np.full_like(c_seq_r, np.nan)
    h_n, c_n = np.empty_like(h0), np.empty_like(c0)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    _call(lib, "lstm_seq_forward", [act, w_hh_t, h0, c0, size_arr, y, c_seq, h_n, c_n], t_len, batch, hid,
          flags=(reverse,))
    for name, got, want in (("y", y, y_r), ("h_n", h_n, h_n_r), ("c_n", c_n, c_n_r)):
        np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=name)
    for t, n in enumerate(size_arr):  # the rows each step ran; the others are the op's business
        np.testing.assert_allclose(act[t, :n], act_r[t, :n], **TOL[dtype], err_msg=f"act[{t}]")
        np.testing.assert_allclose(c_seq[t, :n], c_seq_r[t, :n], **TOL[dtype], err_msg=f"c_seq[{t}]")
        assert np.isnan(c_seq[t, n:]).all() and (y[t, n:] == 0).all()

    dz_r, dh0_r, dc0_r = rnn_seq.lstm_seq_backward(act_r, c_seq_r, c0, gy, w_hh, gh, gc, sizes, reverse)
    dz = np.zeros_like(dz_r)
    dh, dc = gh.copy(), gc.copy()
    _call(lib, "lstm_seq_backward", [act_r, c_seq_r, c0, gy, w_hh, size_arr, dz, dh, dc], t_len, batch, hid,
          flags=(reverse,))
    for name, got, want in (("dz", dz, dz_r), ("dh0", dh, dh0_r), ("dc0", dc, dc0_r)):
        np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=name)


# ---------------------------------------------------------------- CUDA: the op with the kernels
def _cuda_or_skip():
    reason = tg.cuda.unavailable_reason()
    if reason is not None:
        pytest.skip(f"needs a CUDA GPU: {reason}")


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("t_len,batch,hid,sizes", CASES + [(28, 64, 128, None), (3, 70, 1024, [70, 50, 2]),
                                                          (4, 3, 300, [3, 2, 2, 2])])
def test_cuda_layer_op_with_the_kernels_matches_the_cpu_op(monkeypatch, dtype, t_len, batch, hid, sizes, reverse):
    _cuda_or_skip()
    calls = []
    for name in ("lstm_seq_forward", "lstm_seq_backward"):
        fn = getattr(rnn_seq, name)
        monkeypatch.setattr(rnn_seq, name, lambda *a, _fn=fn, _n=name, **k: calls.append(_n) or _fn(*a, **k))
    arrays = _problem(t_len, batch, hid, dtype)
    seeds = _seeds(t_len, batch, hid, sizes, dtype)
    outs, grads = _op(arrays, seeds, sizes, reverse, "cpu")
    assert calls == []
    c_outs, c_grads = _op(arrays, seeds, sizes, reverse, "cuda")
    assert calls == ["lstm_seq_forward", "lstm_seq_backward"]
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    names = ("y", "h_n", "c_n", "dx", "dh0", "dc0", "dw_ih", "dw_hh", "db_ih", "db_hh")
    for name, a, b in zip(names, c_outs + c_grads, outs + grads):
        np.testing.assert_allclose(a, b, **tol, err_msg=name)


@pytest.mark.cuda
def test_cuda_float16_layer_tracks_float32():
    _cuda_or_skip()
    arrays = _problem(10, 8, 64, np.float32)
    seeds = _seeds(10, 8, 64, None, np.float32)
    outs, grads = _op(arrays, seeds, None, False, "cpu")
    h_outs, h_grads = _op([a.astype(np.float16) for a in arrays], [s.astype(np.float16) for s in seeds], None,
                          False, "cuda")
    for a, b in zip(h_outs + h_grads, outs + grads):
        np.testing.assert_allclose(a.astype(np.float32), b, rtol=5e-2, atol=5e-2)


@pytest.mark.cuda
def test_cuda_bidirectional_packed_lstm_module_matches_cpu():
    _cuda_or_skip()
    lengths = [7, 5, 5, 2]
    x = rand(7, 4, 6)
    outs = {}
    for device in ("cpu", "cuda"):
        tg.manual_seed(0)
        m = tg.nn.LSTM(6, 40, num_layers=2, bidirectional=True, dtype=tg.float64, device=device)
        if device == "cuda":
            m.load_state_dict({k: v for k, v in outs["cpu"][1].items()})
        xt = to_tg(x, device, True)
        packed = tg.nn.utils.rnn.pack_padded_sequence(xt, lengths)
        out, (hn, cn) = m(packed)
        y = tg.nn.utils.rnn.pad_packed_sequence(out)[0]
        (y.sum() + (hn * hn).sum() + cn.sum()).backward()
        outs[device] = ([to_np(a) for a in (y, hn, cn, xt.grad)] + [to_np(p.grad) for p in m.parameters()],
                        {k: to_tg(to_np(v), "cuda", False) for k, v in m.state_dict().items()})
    for a, b in zip(outs["cuda"][0], outs["cpu"][0]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- GRU
def _gru_problem(t_len, batch, hid, dtype=np.float64, inp=3, bias=True):
    x, h0, _, w_ih, w_hh, b_ih, b_hh = _problem(t_len, batch, hid, dtype, inp)
    w_ih, w_hh = w_ih[:3 * hid].copy(), w_hh[:3 * hid].copy()
    return (x, h0, w_ih, w_hh) + ((b_ih[:3 * hid].copy(), b_hh[:3 * hid].copy()) if bias else ())


def _gru_op(arrays, seeds, sizes, reverse, device="cpu"):
    ts = [to_tg(a, device, True) for a in arrays]
    x, h0, w_ih, w_hh = ts[:4]
    y, h_n, _ = rnn_ops.recurrent_layer("GRU", x, h0, None, w_ih, w_hh, *ts[4:], reverse=reverse,
                                        batch_sizes=sizes)
    ((y * to_tg(seeds[0], device, False)).sum() + (h_n * to_tg(seeds[1], device, False)).sum()).backward()
    return [to_np(o) for o in (y, h_n)], [to_np(t.grad) for t in ts]


def _gru_reference(arrays, seeds, sizes, reverse):
    x, h0, w_ih, w_hh = arrays[:4]
    b_ih, b_hh = arrays[4:] if len(arrays) > 4 else (None, None)
    t_len, batch = x.shape[:2]
    pre = (x.reshape(t_len * batch, -1) @ w_ih.T).reshape(t_len, batch, -1)
    pre = np.ascontiguousarray(pre + b_ih if b_ih is not None else pre)
    y, ghn, h_n = rnn_seq.gru_seq_forward(pre, w_hh, b_hh, h0, sizes, reverse)
    dgi, dgh, dh0 = rnn_seq.gru_seq_backward(pre, ghn, y, h0, seeds[0], w_hh, seeds[1], sizes, reverse)
    di, dr = dgi.reshape(t_len * batch, -1), dgh.reshape(t_len * batch, -1)
    h_prev = _previous(y, h0, sizes, reverse).reshape(t_len * batch, -1)
    grads = [(di @ w_ih).reshape(x.shape), dh0, di.T @ x.reshape(t_len * batch, -1), dr.T @ h_prev]
    if b_ih is not None:
        grads += [di.sum(0), dr.sum(0)]
    return [y, h_n], grads


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("t_len,batch,hid,sizes", CASES, ids=IDS)
def test_gru_reference_loops_match_the_layer_op(t_len, batch, hid, sizes, reverse, bias):
    arrays = _gru_problem(t_len, batch, hid, bias=bias)
    seeds = _seeds(t_len, batch, hid, sizes)[:2]
    outs, grads = _gru_op(arrays, seeds, sizes, reverse)
    r_outs, r_grads = _gru_reference(arrays, seeds, sizes, reverse)
    assert len(grads) == len(r_grads)
    for k, (a, b) in enumerate(zip(outs + grads, r_outs + r_grads)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=f"output/gradient {k}")


@pytest.mark.skipif(CXX is None, reason="needs a host C++ compiler (g++ or clang++)")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("t_len,batch,hid,sizes", CASES, ids=IDS)
def test_gru_host_kernels_match_the_reference(host_library, dtype, t_len, batch, hid, sizes, reverse):
    lib = host_library("rnn_seq", dtype)
    x, h0, w_ih, w_hh, b_ih, b_hh = _gru_problem(t_len, batch, hid, dtype)
    gy, gh, _ = _seeds(t_len, batch, hid, sizes, dtype)
    pre0 = np.ascontiguousarray((x.reshape(t_len * batch, -1) @ w_ih.T).reshape(t_len, batch, -1) + b_ih)
    size_arr = np.array(sizes or [batch] * t_len, dtype=np.int64)

    act_r = pre0.copy()
    y_r, ghn_r, h_n_r = rnn_seq.gru_seq_forward(act_r, w_hh, b_hh, h0, sizes, reverse)
    act, y, ghn, h_n = pre0.copy(), np.zeros_like(y_r), np.full_like(ghn_r, np.nan), np.empty_like(h0)
    _call(lib, "gru_seq_forward", [act, np.ascontiguousarray(w_hh.T), b_hh, h0, size_arr, y, ghn, h_n], t_len,
          batch, hid, flags=(reverse,))
    np.testing.assert_allclose(y, y_r, **TOL[dtype], err_msg="y")
    np.testing.assert_allclose(h_n, h_n_r, **TOL[dtype], err_msg="h_n")
    for t, n in enumerate(size_arr):
        np.testing.assert_allclose(act[t, :n], act_r[t, :n], **TOL[dtype], err_msg=f"act[{t}]")
        np.testing.assert_allclose(ghn[t, :n], ghn_r[t, :n], **TOL[dtype], err_msg=f"ghn[{t}]")
        assert np.isnan(ghn[t, n:]).all() and (y[t, n:] == 0).all()

    dgi_r, dgh_r, dh0_r = rnn_seq.gru_seq_backward(act_r, ghn_r, y_r, h0, gy, w_hh, gh, sizes, reverse)
    dgi, dgh, dh = np.zeros_like(dgi_r), np.zeros_like(dgh_r), gh.copy()
    _call(lib, "gru_seq_backward", [act_r, ghn_r, y_r, h0, gy, w_hh, size_arr, dgi, dgh, dh], t_len, batch, hid,
          flags=(reverse,))
    for name, got, want in (("dgi", dgi, dgi_r), ("dgh", dgh, dgh_r), ("dh0", dh, dh0_r)):
        np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=name)


@pytest.mark.cuda
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("t_len,batch,hid,sizes", CASES + [(28, 64, 128, None), (3, 70, 1024, [70, 50, 2])])
def test_cuda_gru_layer_op_with_the_kernels_matches_the_cpu_op(monkeypatch, dtype, t_len, batch, hid, sizes,
                                                               reverse, bias):
    _cuda_or_skip()
    calls = []
    for name in ("gru_seq_forward", "gru_seq_backward"):
        fn = getattr(rnn_seq, name)
        monkeypatch.setattr(rnn_seq, name, lambda *a, _fn=fn, _n=name, **k: calls.append(_n) or _fn(*a, **k))
    arrays = _gru_problem(t_len, batch, hid, dtype, bias=bias)
    seeds = _seeds(t_len, batch, hid, sizes, dtype)[:2]
    outs, grads = _gru_op(arrays, seeds, sizes, reverse, "cpu")
    assert calls == []
    c_outs, c_grads = _gru_op(arrays, seeds, sizes, reverse, "cuda")
    assert calls == ["gru_seq_forward", "gru_seq_backward"]
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for k, (a, b) in enumerate(zip(c_outs + c_grads, outs + grads)):
        np.testing.assert_allclose(a, b, **tol, err_msg=f"output/gradient {k}")
