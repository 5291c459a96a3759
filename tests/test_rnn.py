"""RNN, LSTM, GRU and their cells against torch.nn (copied weights), the fused LSTM/GRU steps
against their unfused composition, float64 gradchecks, bad input, and backpropagation through
time: long sequences, memory linear in T, truncated BPTT with flat memory."""
from __future__ import annotations

import gc
import math
import tracemalloc
import weakref

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.fused import rnn_cells
from tensorgrad.ops import rnn as rnn_ops
from oracle import check_grad, needs_torch, rand, to_np, to_tg, torch

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}
LAYERS = [("LSTM", {}), ("GRU", {}), ("RNN", {}), ("RNN", dict(nonlinearity="relu"))]


def _tg_dtype(dtype):
    return getattr(tg, np.dtype(dtype).name)


def _pair(cls, dtype, device, *args, **kw):
    """The same module in torch and tensorgrad: torch's default init, its weights copied over."""
    torch.manual_seed(0)
    pm = getattr(torch.nn, cls)(*args, **kw).to(getattr(torch, np.dtype(dtype).name))
    tm = getattr(tg.nn, cls)(*args, **kw, dtype=_tg_dtype(dtype), device=device)
    tm.load_state_dict({k: to_tg(v.detach().numpy(), device, False) for k, v in pm.state_dict().items()})
    return tm, pm


def _flat(out):
    """Output tensors of a layer or cell call, in order: output, h_n[, c_n]."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _compare_module(tm, pm, arrays, device, dtype, call=lambda m, x, *s: m(x, *s)):
    """Run `call` on both with the same inputs (x, states...); compare outputs and the gradients of
    the inputs and of every parameter for one random seed per output."""
    ts = [to_tg(a, device, True) for a in arrays]
    ps = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_t, out_p = _flat(call(tm, *ts)), _flat(call(pm, *ps))
    assert len(out_t) == len(out_p)
    for k, (a, b) in enumerate(zip(out_t, out_p)):
        assert tuple(a.shape) == tuple(b.shape), f"output {k}: {tuple(a.shape)} vs torch {tuple(b.shape)}"
        np.testing.assert_allclose(to_np(a), b.detach().numpy(), **TOL[dtype], err_msg=f"output {k}")
    seeds = [rand(*b.shape, dtype=dtype) for b in out_p]
    sum((a * to_tg(s, device, False)).sum() for a, s in zip(out_t, seeds)).backward()
    sum((b * torch.tensor(s)).sum() for b, s in zip(out_p, seeds)).backward()
    for i, (a, b) in enumerate(zip(ts, ps)):
        np.testing.assert_allclose(to_np(a.grad), b.grad.numpy(), **TOL[dtype], err_msg=f"gradient of input {i}")
    for (name, p), (pname, q) in zip(tm.named_parameters(), pm.named_parameters()):
        assert name == pname
        # a parameter's gradient sums over batch and time: an entry near 0 amid entries of ~20 carries
        # their rounding error, so the absolute tolerance scales with the largest entry
        tol = dict(TOL[dtype], atol=TOL[dtype]["atol"] * max(1.0, float(np.abs(q.grad.numpy()).max())))
        np.testing.assert_allclose(to_np(p.grad), q.grad.numpy(), **tol, err_msg=f"gradient of {name}")
    return out_t


# ------------------------------------------------------------------ layers against torch
@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (1, True), (2, False), (2, True)])
@pytest.mark.parametrize("cls,extra", LAYERS)
def test_layer_vs_torch(device, cls, extra, num_layers, bidirectional, batch_first, dtype):
    t_len, batch, inp, hid = 7, 3, 5, 4
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, **extra)
    tm, pm = _pair(cls, dtype, device, inp, hid, **kw)
    x = rand(batch, t_len, inp, dtype=dtype) if batch_first else rand(t_len, batch, inp, dtype=dtype)
    states = [rand(num_layers * (2 if bidirectional else 1), batch, hid, dtype=dtype)
              for _ in range(2 if cls == "LSTM" else 1)]
    call = (lambda m, x, h, c: m(x, (h, c))) if cls == "LSTM" else (lambda m, x, h: m(x, h))
    _compare_module(tm, pm, [x] + states, device, dtype, call)


@needs_torch
@pytest.mark.parametrize("t_len", [1, 50])
@pytest.mark.parametrize("cls,extra", LAYERS)
def test_layer_sequence_lengths_vs_torch(device, cls, extra, t_len):
    tm, pm = _pair(cls, np.float64, device, 3, 6, num_layers=2, bidirectional=True, **extra)
    _compare_module(tm, pm, [rand(t_len, 2, 3)], device, np.float64, lambda m, x: m(x))
    tm, pm = _pair(cls, np.float32, device, 3, 6, **extra)
    _compare_module(tm, pm, [rand(t_len, 4, 3, dtype=np.float32)], device, np.float32, lambda m, x: m(x))


@needs_torch
@pytest.mark.parametrize("cls,extra", LAYERS)
def test_layer_unbatched_and_without_bias_vs_torch(device, cls, extra):
    tm, pm = _pair(cls, np.float64, device, 3, 4, bias=False, bidirectional=True, **extra)
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in pm.named_parameters()]
    states = [rand(2, 4) for _ in range(2 if cls == "LSTM" else 1)]
    call = (lambda m, x, h, c: m(x, (h, c))) if cls == "LSTM" else (lambda m, x, h: m(x, h))
    _compare_module(tm, pm, [rand(6, 3)] + states, device, np.float64, call)  # (T, I) input, (L*D, H) states


@needs_torch
def test_dropout_between_layers(device):
    tm, pm = _pair("LSTM", np.float64, device, 3, 8, num_layers=3, dropout=0.5)
    x = rand(5, 2, 3)
    tm.eval(), pm.eval()
    _compare_module(tm, pm, [x], device, np.float64, lambda m, x: m(x))  # eval: no dropout, as torch
    tm.train()
    a, b = tm(to_tg(x, device, False))[0], tm(to_tg(x, device, False))[0]
    assert not np.allclose(to_np(a), to_np(b)), "train mode: dropout between layers should vary the output"
    tm1 = tg.nn.LSTM(3, 8, num_layers=1)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        tg.nn.LSTM(3, 8, num_layers=1, dropout=0.5)
    assert tm1.dropout == 0


# ------------------------------------------------------------------ packed sequences
@needs_torch
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("cls,extra", LAYERS)
def test_packed_sequence_vs_torch(device, cls, extra, enforce_sorted):
    lengths = [6, 4, 4, 1] if enforce_sorted else [4, 6, 1, 4]
    tm, pm = _pair(cls, np.float64, device, 3, 5, num_layers=2, bidirectional=True, batch_first=True, **extra)
    x = rand(4, 6, 3)
    states = [rand(4, 4, 5) for _ in range(2 if cls == "LSTM" else 1)]

    def call(m, x, *s):
        fw = torch if isinstance(x, torch.Tensor) else tg
        rnn = fw.nn.utils.rnn
        packed = rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=enforce_sorted)
        out, hn = m(packed, tuple(s) if cls == "LSTM" else s[0])
        padded, out_len = rnn.pad_packed_sequence(out, batch_first=True)
        assert list(out_len.tolist()) == lengths
        return padded, hn
    out = _compare_module(tm, pm, [x] + states, device, np.float64, call)
    assert np.all(to_np(out[0])[lengths.index(1), 1:] == 0), "outputs past a sequence's end are zero"


def test_packed_final_state_is_each_sequences_last_step(device):
    """h_n of a packed batch equals running each sequence alone, unpadded."""
    m = tg.nn.GRU(2, 3, batch_first=True, dtype=tg.float64, device=device)
    x = rand(3, 5, 2)
    lengths = [2, 5, 3]
    packed = tg.nn.utils.rnn.pack_padded_sequence(to_tg(x, device, False), lengths, batch_first=True,
                                                  enforce_sorted=False)
    _, hn = m(packed)
    for b, n in enumerate(lengths):
        _, alone = m(to_tg(x[b:b + 1, :n], device, False))
        np.testing.assert_allclose(to_np(hn)[:, b], to_np(alone)[:, 0], rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ cells
CELLS = [("LSTMCell", {}), ("GRUCell", {}), ("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu"))]


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cls,extra", CELLS)
def test_cell_vs_torch(device, cls, extra, bias, dtype):
    tm, pm = _pair(cls, dtype, device, 5, 4, bias=bias, **extra)
    states = [rand(3, 4, dtype=dtype) for _ in range(2 if cls == "LSTMCell" else 1)]
    call = (lambda m, x, h, c: m(x, (h, c))) if cls == "LSTMCell" else (lambda m, x, h: m(x, h))
    _compare_module(tm, pm, [rand(3, 5, dtype=dtype)] + states, device, dtype, call)
    _compare_module(tm, pm, [rand(5, dtype=dtype)], device, dtype, lambda m, x: m(x))  # unbatched, no state


@needs_torch
@pytest.mark.parametrize("cls", ["LSTMCell", "GRUCell"])
def test_cell_loop_over_a_sequence_vs_torch(device, cls):
    """BPTT through the tape: a Python loop over 20 steps of a cell."""
    tm, pm = _pair(cls, np.float64, device, 3, 4)

    def call(m, x):
        h = None
        for t in range(x.shape[0]):
            h = m(x[t], h)
        return h
    _compare_module(tm, pm, [rand(20, 2, 3)], device, np.float64, call)


def test_step_ops_gradcheck_and_double_backward(device):
    """The fused step ops: first derivatives by the fused backward, second by the composed one."""
    check_grad(lambda z, c: rnn_ops.LSTMStep()(z, c), [rand(3, 8), rand(3, 2)], device)
    check_grad(lambda gi, gh, h: rnn_ops.GRUStep()(gi, gh, h), [rand(3, 6), rand(3, 6), rand(3, 2)], device)


# ------------------------------------------------------------------ fused against composed
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_lstm_step_matches_composition(device, dtype):
    z, c = rand(5, 12, dtype=dtype, low=-4, high=4), rand(5, 3, dtype=dtype)
    z[0, :] = 60.0   # saturated gates: sigmoid and tanh must not overflow to NaN
    z[1, :] = -60.0
    fused = [to_tg(z, device), to_tg(c, device)]
    comp = [to_tg(z, device), to_tg(c, device)]
    hf, cf = rnn_ops.LSTMStep()(*fused)
    hc, cc = rnn_ops.lstm_step_composed(*comp)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-6, atol=1e-6)
    for a, b in ((hf, hc), (cf, cc)):
        assert np.isfinite(to_np(a)).all()
        np.testing.assert_allclose(to_np(a), to_np(b), **tol)
    gh, gcn = rand(5, 3, dtype=dtype), rand(5, 3, dtype=dtype)
    tg.autograd.backward([hf, cf], [to_tg(gh, device, False), to_tg(gcn, device, False)])
    tg.autograd.backward([hc, cc], [to_tg(gh, device, False), to_tg(gcn, device, False)])
    for a, b in zip(fused, comp):
        np.testing.assert_allclose(to_np(a.grad), to_np(b.grad), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_gru_step_matches_composition(device, dtype):
    gi, gh, h = rand(5, 9, dtype=dtype, low=-4, high=4), rand(5, 9, dtype=dtype), rand(5, 3, dtype=dtype)
    gi[0, :] = 60.0
    gi[1, :] = -60.0
    fused = [to_tg(a, device) for a in (gi, gh, h)]
    comp = [to_tg(a, device) for a in (gi, gh, h)]
    out_f, out_c = rnn_ops.GRUStep()(*fused), rnn_ops.gru_step_composed(*comp)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-6, atol=1e-6)
    assert np.isfinite(to_np(out_f)).all()
    np.testing.assert_allclose(to_np(out_f), to_np(out_c), **tol)
    seed = to_tg(rand(5, 3, dtype=dtype), device, False)
    out_f.backward(seed)
    out_c.backward(seed)
    for a, b in zip(fused, comp):
        np.testing.assert_allclose(to_np(a.grad), to_np(b.grad), **tol)


def test_fused_calls_write_in_place_where_documented():
    """The layer op overwrites the pre-activations with the gates and dc with dc_prev."""
    z, c = rand(4, 8), rand(4, 2)
    act, h, c_new = rnn_cells.lstm_cell_forward(z.copy(), c)
    z2 = z.copy()
    act2, _, _ = rnn_cells.lstm_cell_forward(z2, c, act=z2)
    assert act2 is z2 and np.array_equal(act2, act)
    dh, dc = rand(4, 2), rand(4, 2)
    dz, dcp = rnn_cells.lstm_cell_backward(act, c, c_new, dh, dc.copy())
    dc2 = dc.copy()
    _, dcp2 = rnn_cells.lstm_cell_backward(act, c, c_new, dh, dc2, dc_prev=dc2)
    assert dcp2 is dc2 and np.array_equal(dcp2, dcp)


# ------------------------------------------------------------------ gradcheck
@pytest.mark.parametrize("cls,extra", LAYERS)
def test_layer_gradcheck(device, cls, extra):
    m = getattr(tg.nn, cls)(2, 3, num_layers=2, bidirectional=True, dtype=tg.float64, device=device, **extra)
    params = list(m.parameters())
    names = [n for n, _ in m.named_parameters()]

    def fn(x, h, *ps):
        for name, p in zip(names, ps):
            m._parameters[name] = p
        out, hn = m(x, (h, h * 0.5) if cls == "LSTM" else h)
        return (out, hn[0]) if cls == "LSTM" else (out, hn)
    arrays = [rand(4, 2, 2), rand(4, 2, 3)] + [to_np(p) for p in params]
    check_grad(fn, arrays, device, double=False)


@pytest.mark.parametrize("cls,extra", CELLS)
def test_cell_gradcheck(device, cls, extra):
    m = getattr(tg.nn, cls)(2, 3, dtype=tg.float64, device=device, **extra)
    names = [n for n, _ in m.named_parameters()]

    def fn(x, h, *ps):
        for name, p in zip(names, ps):
            m._parameters[name] = p
        out = m(x, (h, h * 0.5) if cls == "LSTMCell" else h)
        return out
    arrays = [rand(2, 2), rand(2, 3)] + [to_np(p) for p in m.parameters()]
    check_grad(fn, arrays, device)


def test_packed_layer_gradcheck(device):
    m = tg.nn.LSTM(2, 3, bidirectional=True, dtype=tg.float64, device=device)
    names = [n for n, _ in m.named_parameters()]

    def fn(x, *ps):
        for name, p in zip(names, ps):
            m._parameters[name] = p
        packed = tg.nn.utils.rnn.pack_padded_sequence(x, [2, 4, 3], enforce_sorted=False)
        out, (hn, cn) = m(packed)
        return tg.nn.utils.rnn.pad_packed_sequence(out)[0], hn, cn
    check_grad(fn, [rand(4, 3, 2)] + [to_np(p) for p in m.parameters()], device, double=False)


def test_layer_has_no_double_backward():
    m = tg.nn.LSTM(2, 3, dtype=tg.float64)
    x = tg.tensor(rand(3, 1, 2), requires_grad=True)
    out, _ = m(x)
    g, = tg.autograd.grad(out.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward .* RecurrentLayer"):
        g.sum().backward()


# ------------------------------------------------------------------ module API
@needs_torch
@pytest.mark.parametrize("cls,kw", [("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
                                    ("GRU", dict(bias=False, dropout=0.25, num_layers=2)), ("RNN", {}),
                                    ("LSTMCell", {}), ("GRUCell", dict(bias=False)),
                                    ("RNNCell", dict(nonlinearity="relu"))])
def test_names_shapes_repr_and_state_dict_round_trip(cls, kw):
    tm = getattr(tg.nn, cls)(5, 7, **kw)
    pm = getattr(torch.nn, cls)(5, 7, **kw)
    assert repr(tm) == repr(pm)
    assert [(n, tuple(p.shape)) for n, p in tm.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in pm.named_parameters()]
    pm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    back = getattr(tg.nn, cls)(5, 7, **kw)
    back.load_state_dict({k: tg.tensor(v.numpy()) for k, v in pm.state_dict().items()})
    for (n, a), (_, b) in zip(tm.state_dict().items(), back.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy()), n


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"])
def test_default_init_is_uniform_in_one_over_sqrt_hidden(cls):
    m = getattr(tg.nn, cls)(30, 100)
    bound = 1 / math.sqrt(100)
    for name, p in m.named_parameters():
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound, name
        assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.1), name  # U(-b, b) has std b/sqrt(3)


def test_bad_input_names_the_layer_and_shapes():
    lstm = tg.nn.LSTM(5, 4, num_layers=2)
    with pytest.raises(RuntimeError, match=r"LSTM\(5, 4, num_layers=2\): input.size\(-1\) must be equal to "
                                           r"input_size. Expected 5, got 3 \(input shape \[7, 2, 3\]\)"):
        lstm(tg.zeros(7, 2, 3))
    with pytest.raises(ValueError, match=r"LSTM\(5, 4, num_layers=2\): Expected input to be 2D .* got 4D"):
        lstm(tg.zeros(1, 7, 2, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] \(h_0\) size \(2, 2, 4\), got \[1, 2, 4\]"):
        lstm(tg.zeros(7, 2, 5), (tg.zeros(1, 2, 4), tg.zeros(2, 2, 4)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] \(c_0\) size \(2, 2, 4\), got \[2, 3, 4\]"):
        lstm(tg.zeros(7, 2, 5), (tg.zeros(2, 2, 4), tg.zeros(2, 3, 4)))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        lstm(tg.zeros(7, 2, 5), tg.zeros(2, 2, 4))
    with pytest.raises(RuntimeError, match="for unbatched 2-D input, hx should also be 2-D but got 3-D"):
        tg.nn.GRU(5, 4)(tg.zeros(7, 5), tg.zeros(1, 1, 4))
    with pytest.raises(RuntimeError, match="input must have the type tensorgrad.float32 .* got type tensorgrad.float64"):
        tg.nn.RNN(5, 4)(tg.zeros(7, 2, 5, dtype=tg.float64))
    cell = tg.nn.LSTMCell(5, 4)
    with pytest.raises(RuntimeError, match=r"LSTMCell\(5, 4\): input has inconsistent input_size: got 6, "
                                           r"expected 5 \(input shape \[2, 6\]\)"):
        cell(tg.zeros(2, 6))
    with pytest.raises(RuntimeError, match=r"Input batch size 2 doesn't match hx\[0\] batch size 3"):
        cell(tg.zeros(2, 5), (tg.zeros(3, 4), tg.zeros(3, 4)))
    with pytest.raises(RuntimeError, match=r"GRUCell\(5, 4\): hx has inconsistent hidden_size: got 3, expected 4"):
        tg.nn.GRUCell(5, 4)(tg.zeros(2, 5), tg.zeros(2, 3))
    with pytest.raises(ValueError, match="RNNCell.*Expected input to be 1D or 2D, got 3D"):
        tg.nn.RNNCell(5, 4)(tg.zeros(1, 2, 5))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        tg.nn.RNN(5, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        tg.nn.LSTM(5, 4, proj_size=4)


@needs_torch
def test_clip_grad_norm_with_recurrent_parameters():
    tm, pm = _pair("LSTM", np.float64, "cpu", 3, 6, num_layers=2)
    x = rand(30, 4, 3)
    tm(tg.tensor(x))[0].pow(2).sum().backward()
    pm(torch.tensor(x))[0].pow(2).sum().backward()
    n_t = tg.nn.utils.clip_grad_norm_(tm.parameters(), 0.5)
    n_p = torch.nn.utils.clip_grad_norm_(pm.parameters(), 0.5)
    assert float(n_t) == pytest.approx(float(n_p), rel=1e-10) and float(n_p) > 0.5
    for p, q in zip(tm.parameters(), pm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ backpropagation through time
@needs_torch
def test_thousand_step_cell_loop_and_layer_match_torch():
    """1,000 steps through the tape (a cell in a Python loop) and through the layer op: no recursion
    limit, and gradients equal PyTorch's."""
    t_len = 1000
    x = rand(t_len, 2, 3, low=-1, high=1)
    tm, pm = _pair("LSTMCell", np.float64, "cpu", 3, 4)

    def run(m, fw):
        xs = (tg.tensor if fw is tg else torch.tensor)(x)
        h = c = None
        for t in range(t_len):
            h, c = m(xs[t], None if h is None else (h, c))
        h.sum().backward()
    run(tm, tg)
    run(pm, torch)
    for p, q in zip(tm.parameters(), pm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-10)
    tl, pl = _pair("GRU", np.float64, "cpu", 3, 4)
    _compare_module(tl, pl, [x], "cpu", np.float64, lambda m, x: m(x)[1])


def _array_bytes() -> int:
    """Bytes of NumPy array data allocated now (NumPy traces its buffers in its own tracemalloc
    domain; Python objects are left out, so interpreter and NumPy caches of small objects don't
    blur the figure)."""
    snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
    return sum(t.size for t in snap.traces)


def _held_bytes(fn):
    """Bytes of array data still allocated after fn() returns what it builds."""
    gc.collect()
    tracemalloc.start()
    try:
        base = _array_bytes()
        keep = fn()
        held = _array_bytes() - base
    finally:
        tracemalloc.stop()
    del keep
    return held


@pytest.mark.parametrize("kind", ["cell", "layer"])
def test_graph_memory_grows_linearly_with_sequence_length(kind):
    m = tg.nn.LSTMCell(8, 32) if kind == "cell" else tg.nn.LSTM(8, 32)

    def build(t_len):
        x = tg.randn(t_len, 16, 8)
        if kind == "layer":
            return m(x)[0].sum()
        h = None
        for t in range(t_len):
            h = m(x[t], h)
        return h[0].sum()
    held = {t: _held_bytes(lambda t=t: build(t)) for t in (50, 100, 200, 400)}
    per_step = [(held[b] - held[a]) / (b - a) for a, b in ((50, 100), (100, 200), (200, 400))]
    assert max(per_step) < 1.25 * min(per_step), (held, per_step)  # the same cost per step: linear
    assert held[400] < 400 * 16 * 32 * 8 * 12, held                # about a dozen (B, H) float32 per step


@pytest.mark.parametrize("kind", ["cell", "layer"])
def test_truncated_bptt_frees_earlier_chunks(kind):
    """Detaching the carried state between chunks: memory stays flat over 100 chunks and the
    graph of an earlier chunk is gone, by reference counting alone (no cycles for gc to find)."""
    m = tg.nn.LSTMCell(4, 16) if kind == "cell" else tg.nn.LSTM(4, 16)
    opt = tg.optim.SGD(m.parameters(), lr=0.01)
    x = tg.randn(10, 8, 4)
    state = None
    first_graph = None
    sizes = []
    tracemalloc.start()
    try:
        for chunk in range(100):
            if kind == "cell":
                h = state
                for t in range(10):
                    h = m(x[t], h)
                out, state = h[0], h
            else:
                out, state = m(x, state)
            if chunk == 0:
                first_graph = weakref.ref(out.grad_fn)
            opt.zero_grad()
            out.pow(2).mean().backward()
            opt.step()
            state = tuple(s.detach() for s in state)  # truncate: the next chunk starts a new graph
            if chunk % 10 == 9:
                sizes.append(_array_bytes())
    finally:
        tracemalloc.stop()
    assert first_graph() is None, "the first chunk's graph is still alive"
    assert max(sizes) == min(sizes), sizes  # the same arrays alive after chunk 10, 20, ..., 100


# ------------------------------------------------------------------ edge cases
def test_empty_batch_and_empty_sequence():
    m = tg.nn.LSTM(3, 4, bidirectional=True)
    out, (hn, cn) = m(tg.zeros(5, 0, 3))
    assert tuple(out.shape) == (5, 0, 8) and tuple(hn.shape) == (2, 0, 4) and tuple(cn.shape) == (2, 0, 4)
    with pytest.raises(RuntimeError, match=r"Expected sequence length to be larger than 0 .*\[0, 2, 3\]"):
        m(tg.zeros(0, 2, 3))
    with pytest.raises(RuntimeError, match="sequence length"):
        tg.nn.GRU(3, 4, batch_first=True)(tg.zeros(2, 0, 3))
    with pytest.raises(ValueError, match=r"PackedSequence's data must be 2-D .* got data of shape \[8, 2, 3\]"):
        m(tg.nn.utils.rnn.pack_padded_sequence(tg.zeros(4, 3, 2, 3), [4, 3, 1]))
    with pytest.raises(RuntimeError, match="expected a floating point input"):
        m(tg.zeros(5, 2, 3, dtype=tg.int64))


@needs_torch
def test_frozen_weights_no_grad_and_retain_graph_vs_torch():
    tm, pm = _pair("GRU", np.float64, "cpu", 3, 4, num_layers=2)
    for p, q in zip(tm.parameters(), pm.parameters()):
        p.requires_grad_(False)
        q.requires_grad_(False)
    h0 = rand(2, 2, 4)
    th, ph = tg.tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    x = rand(5, 2, 3)
    out_t, out_p = tm(tg.tensor(x), th)[0], pm(torch.tensor(x), ph)[0]
    for _ in range(2):                     # the second backward needs retain_graph, and accumulates
        out_t.sum().backward(retain_graph=True)
        out_p.sum().backward(retain_graph=True)
    np.testing.assert_allclose(th.grad.numpy(), ph.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert all(p.grad is None for p in tm.parameters())
    with tg.no_grad():
        out = tm(tg.tensor(x), tg.tensor(h0))[0]
    assert out.grad_fn is None and not out.requires_grad
    np.testing.assert_allclose(out.numpy(), out_p.detach().numpy(), rtol=1e-12)


def test_output_changed_in_place_before_backward_raises():
    m = tg.nn.LSTM(3, 4)
    out, _ = m(tg.randn(5, 2, 3))
    out.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
