"""Round 5 of nn: LSTM with projections (proj_size), Embedding max_norm (in-place renorm),
SyncBatchNorm (one process) and convert_sync_batchnorm, LazyLinear / LazyConv2d; each against
torch (same weights, values and gradients), float64 gradchecks and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, needs_torch, rand, to_np, to_tg, torch


def _load_from_torch(tm, pm):
    tm.load_state_dict({k: tg.from_numpy(v.detach().numpy().copy()) for k, v in pm.state_dict().items()})


def _close(a, b, tol=1e-10):
    np.testing.assert_allclose(to_np(a), b.detach().numpy(), rtol=tol, atol=tol)


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


# ------------------------------------------------------------------ LSTM proj_size
@needs_torch
@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2, bidirectional=True), dict(bias=False, batch_first=True),
                                dict(num_layers=2)])
def test_lstm_proj_matches_torch(kw, device):
    torch.manual_seed(0)
    pm = torch.nn.LSTM(3, 5, proj_size=2, **kw).double()
    tm = tg.nn.LSTM(3, 5, proj_size=2, dtype=tg.float64, device=device, **kw)
    assert list(tm.state_dict()) == list(pm.state_dict())
    for k, v in pm.state_dict().items():
        assert tuple(tm.state_dict()[k].shape) == tuple(v.shape), k
    _load_from_torch(tm, pm)
    d = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    x = rand(4, 3, 3)  # (T, B) = (4, 3), or (B, T) with batch_first
    batch = 4 if kw.get("batch_first") else 3
    h0, c0 = rand(d * layers, batch, 2), rand(d * layers, batch, 5)
    tx, th, tc = (to_tg(a, device) for a in (x, h0, c0))
    px, ph, pc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    tout, pout = _flat(tm(tx, (th, tc))), _flat(pm(px, (ph, pc)))
    assert [tuple(t.shape) for t in tout] == [tuple(p.shape) for p in pout]
    for t, p in zip(tout, pout):
        _close(t, p)
    gs = [rand(*p.shape) for p in pout]
    sum((t * to_tg(g, device, False)).sum() for t, g in zip(tout, gs)).backward()
    sum((p * torch.tensor(g)).sum() for p, g in zip(pout, gs)).backward()
    for t, p in ((tx, px), (th, ph), (tc, pc)):
        _close(t.grad, p.grad)
    for name, p in pm.named_parameters():
        _close(getattr(tm, name).grad, p.grad)
    # default zero state, as torch's
    for t, p in zip(_flat(tm(tx)), _flat(pm(px))):
        _close(t, p)


@needs_torch
def test_lstm_proj_unbatched_and_packed_match_torch():
    torch.manual_seed(1)
    pm = torch.nn.LSTM(2, 4, proj_size=3, bidirectional=True).double()
    tm = tg.nn.LSTM(2, 4, proj_size=3, bidirectional=True, dtype=tg.float64)
    _load_from_torch(tm, pm)
    x = rand(5, 2)
    for t, p in zip(_flat(tm(tg.from_numpy(x))), _flat(pm(torch.tensor(x)))):
        _close(t, p)
    seqs = [rand(n, 2) for n in (3, 5, 2)]
    tp = tg.nn.utils.rnn.pack_sequence([to_tg(s, "cpu") for s in seqs], enforce_sorted=False)
    ps = [torch.tensor(s, requires_grad=True) for s in seqs]
    pp = torch.nn.utils.rnn.pack_sequence(ps, enforce_sorted=False)
    (ty, (th, tc)), (py, (ph, pc)) = tm(tp), pm(pp)
    for t, p in ((ty.data, py.data), (th, ph), (tc, pc)):
        _close(t, p)
    (ty.data.sum() + th.pow(2).sum() + tc.sum()).backward()
    (py.data.sum() + ph.pow(2).sum() + pc.sum()).backward()
    for name, p in pm.named_parameters():
        _close(getattr(tm, name).grad, p.grad)


def test_lstm_proj_gradcheck(device):
    tg.manual_seed(0)
    m = tg.nn.LSTM(2, 3, proj_size=2, bidirectional=True, dtype=tg.float64, device=device)
    params = [p for _, p in m.named_parameters()]

    def fn(x, h, c):
        y, (hn, cn) = m(x, (h, c))
        return y.sum() + hn.sum() + (cn * cn).sum()
    check_grad(fn, [rand(3, 2, 2), rand(2, 2, 2), rand(2, 2, 3)], device, double=False)
    assert all(p.grad is None for p in params)


@needs_torch
def test_lstm_proj_init_and_repr():
    tg.manual_seed(0)
    m = tg.nn.LSTM(3, 10, proj_size=4, num_layers=2)
    bound = 1 / np.sqrt(10)
    for name, p in m.named_parameters():
        assert np.abs(to_np(p)).max() <= bound, name
    assert m.weight_hr_l1.shape == (4, 10) and m.weight_ih_l1.shape == (40, 4)
    assert repr(m) == repr(torch.nn.LSTM(3, 10, proj_size=4, num_layers=2))
    assert len(m.all_weights[0]) == 5 and m.all_weights[0][4] is m.weight_hr_l0


def test_lstm_proj_errors():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        tg.nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        tg.nn.LSTM(3, 4, proj_size=-1)
    for cls in (tg.nn.GRU, tg.nn.RNN):
        with pytest.raises(ValueError, match="only supported for LSTM"):
            cls(3, 4, proj_size=2)
    m = tg.nn.LSTM(3, 4, proj_size=2)
    x = tg.zeros(2, 1, 3)
    with pytest.raises(RuntimeError, match=r"hidden\[0\].*\(1, 1, 2\)"):
        m(x, (tg.zeros(1, 1, 4), tg.zeros(1, 1, 4)))
    with pytest.raises(RuntimeError, match=r"hidden\[1\].*\(1, 1, 4\)"):
        m(x, (tg.zeros(1, 1, 2), tg.zeros(1, 1, 2)))


# ------------------------------------------------------------------ Embedding max_norm
@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_embedding_max_norm_renorms_in_place_like_torch(norm_type, device):
    w = rand(6, 3)
    idx = np.array([[0, 2, 2], [5, 0, 1]], dtype=np.int64)
    tw, pw = to_tg(w.copy(), device), torch.tensor(w.copy(), requires_grad=True)
    ty = tg.nn.functional.embedding(tg.tensor(idx, device=device), tw, max_norm=1.5, norm_type=norm_type)
    py = torch.nn.functional.embedding(torch.tensor(idx), pw, max_norm=1.5, norm_type=norm_type)
    _close(ty, py)
    _close(tw, pw)  # the rows looked up were rescaled in the weight itself; the others kept
    assert not np.allclose(to_np(tw), w) and np.array_equal(to_np(tw)[[3, 4]], w[[3, 4]])
    g = rand(*py.shape)
    ty.backward(to_tg(g, device, False))
    py.backward(torch.tensor(g))
    _close(tw.grad, pw.grad)


@needs_torch
def test_embedding_module_max_norm_and_from_pretrained_match_torch():
    w = rand(5, 4)
    pm = torch.nn.Embedding.from_pretrained(torch.tensor(w.copy()), freeze=False, padding_idx=1, max_norm=1.0)
    tm = tg.nn.Embedding.from_pretrained(tg.from_numpy(w.copy()), freeze=False, padding_idx=1, max_norm=1.0)
    assert repr(tm) == repr(pm) and tm.weight.requires_grad
    idx = np.array([1, 3, 3, 4], dtype=np.int64)
    ty, py = tm(tg.from_numpy(idx)), pm(torch.tensor(idx))
    _close(ty, py)
    _close(tm.weight, pm.weight)
    g = rand(*py.shape)
    ty.backward(tg.from_numpy(g))
    py.backward(torch.tensor(g))
    _close(tm.weight.grad, pm.weight.grad)
    frozen = tg.nn.Embedding.from_pretrained(tg.from_numpy(w.copy()), max_norm=0.5)
    assert not frozen.weight.requires_grad
    frozen(tg.tensor([0]))
    assert np.linalg.norm(to_np(frozen.weight)[0]) == pytest.approx(0.5, rel=1e-6)
    np.testing.assert_array_equal(to_np(frozen.weight)[1:], w[1:])


def test_embedding_max_norm_gradcheck_and_errors(device):
    idx = tg.tensor([[0, 1], [1, 2]], device=device)
    # rows already inside max_norm stay, so the lookup is differentiable as plain embedding
    check_grad(lambda w: tg.nn.functional.embedding(idx, w, max_norm=10.0), [rand(3, 2, low=-1, high=1)],
               device, double=False)
    idx = tg.tensor([[0, 1], [1, 2]])
    with pytest.raises(TypeError, match="embedding.*max_norm must be a number"):
        tg.nn.functional.embedding(idx, tg.randn(3, 2), max_norm="1")
    with pytest.raises(IndexError, match="index out of range"):
        tg.nn.functional.embedding(tg.tensor([3]), tg.randn(3, 2), max_norm=1.0)
    w = tg.randn(3, 2)
    before = to_np(w).copy()
    with pytest.raises(IndexError):
        tg.nn.functional.embedding(tg.tensor([0, 7]), w, max_norm=0.1)
    np.testing.assert_array_equal(to_np(w), before)  # a bad call changes nothing


# ------------------------------------------------------------------ SyncBatchNorm
@needs_torch
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2, 1, 2)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_sync_batchnorm_matches_torch_on_one_process(shape, momentum, device):
    torch.manual_seed(0)
    pm = torch.nn.SyncBatchNorm(3, momentum=momentum).double()
    tm = tg.nn.SyncBatchNorm(3, momentum=momentum, dtype=tg.float64, device=device)
    assert list(tm.state_dict()) == list(pm.state_dict()) and repr(tm) == repr(pm)
    with torch.no_grad():
        pm.weight.uniform_(0.5, 1.5)
        pm.bias.uniform_(-1, 1)
    _load_from_torch(tm, pm)
    for step in range(2):
        x = rand(*shape)
        tx, px = to_tg(x, device), torch.tensor(x, requires_grad=True)
        ty, py = tm(tx), pm(px)
        _close(ty, py)
        g = rand(*shape)
        ty.backward(to_tg(g, device, False))
        py.backward(torch.tensor(g))
        _close(tx.grad, px.grad)
        _close(tm.weight.grad, pm.weight.grad)
        _close(tm.bias.grad, pm.bias.grad)
    for k, v in pm.state_dict().items():
        _close(tm.state_dict()[k], v)
    tm.eval()
    pm.eval()
    x = rand(*shape)
    _close(tm(to_tg(x, device, False)), pm(torch.tensor(x)))


def test_sync_batchnorm_gradcheck_and_errors(device):
    m = tg.nn.SyncBatchNorm(2, dtype=tg.float64, device=device)
    check_grad(lambda x: m(x), [rand(3, 2, 2)], device, double=False)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        tg.nn.SyncBatchNorm(2, dtype=tg.float64)(tg.zeros(2, dtype=tg.float64))
    with pytest.raises(ValueError, match="number of input channels should be non-zero"):
        tg.nn.SyncBatchNorm(0)(tg.zeros(2, 0))


@needs_torch
def test_convert_sync_batchnorm_keeps_parameters_and_buffers():
    net = tg.nn.Sequential(tg.nn.Conv2d(1, 2, 1), tg.nn.BatchNorm2d(2),
                           tg.nn.Sequential(tg.nn.BatchNorm1d(3, affine=False, momentum=None)))
    net[1](net[0](tg.randn(2, 1, 3, 3)))  # running stats that differ from the defaults
    net[2](tg.randn(4, 3))
    net.eval()
    bn = net[1]
    before = {k: to_np(v).copy() for k, v in net.state_dict().items()}
    out = tg.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert out is net and type(net[1]) is tg.nn.SyncBatchNorm and type(net[2][0]) is tg.nn.SyncBatchNorm
    assert net[1].weight is bn.weight and net[1].running_mean is bn.running_mean and not net[1].training
    assert net[2][0].weight is None and net[2][0].momentum is None
    after = net.state_dict()
    assert list(after) == list(before)
    for k in before:
        np.testing.assert_array_equal(to_np(after[k]), before[k])
    single = tg.nn.SyncBatchNorm.convert_sync_batchnorm(tg.nn.BatchNorm1d(4, eps=1e-3))
    pt = torch.nn.SyncBatchNorm.convert_sync_batchnorm(torch.nn.BatchNorm1d(4, eps=1e-3))
    assert repr(single) == repr(pt)


# ------------------------------------------------------------------ LazyLinear
@needs_torch
def test_lazy_linear_infers_in_features_and_matches_torch():
    m = tg.nn.LazyLinear(3, dtype=tg.float64)
    assert m.has_uninitialized_params() and repr(m) == repr(torch.nn.LazyLinear(3))
    x = rand(2, 5, 4)
    tx = to_tg(x, "cpu")
    ty = m(tx)
    assert type(m) is tg.nn.Linear and m.in_features == 4 and m.weight.shape == (3, 4)
    assert isinstance(m.weight, tg.nn.Parameter) and m.weight.requires_grad
    bound = 1 / np.sqrt(4)
    assert np.abs(to_np(m.weight)).max() <= bound and np.abs(to_np(m.bias)).max() <= bound
    _matches_torch_module(m, torch.nn.Linear(4, 3).double(), x, tx, ty)


def test_lazy_linear_state_dict_load_and_errors():
    m = tg.nn.LazyLinear(3, bias=False)
    weight = m.weight
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        m.weight.shape
    with pytest.raises(RuntimeError, match="LazyLinear.*at least 1 dimension"):
        m(tg.tensor(1.0))
    assert m.has_uninitialized_params()  # a failed first call leaves it lazy
    with pytest.raises(RuntimeError, match="uninitialized parameter"):  # a lazy checkpoint into a built Linear
        tg.nn.Linear(2, 3, bias=False).load_state_dict(m.state_dict())
    m.double()
    y = m(tg.randn(5, 2, dtype=tg.float64))
    assert y.shape == (5, 3) and m.weight is weight and m.weight.dtype == tg.float64  # .to() before it kept
    src = tg.nn.Linear(6, 2)
    lazy = tg.nn.LazyLinear(2)
    lazy.load_state_dict(src.state_dict())  # materializes from the checkpoint's shapes
    assert lazy.in_features == 6
    x = tg.randn(4, 6)
    np.testing.assert_array_equal(to_np(lazy(x)), to_np(src(x)))
    with pytest.raises(RuntimeError, match="expected input with last dimension 6"):
        lazy(tg.randn(4, 5))


def _matches_torch_module(m, pm, x, tx, ty):
    """The materialized lazy module m (output ty for input tx, from array x) against torch module pm
    given m's weights: outputs and the gradients of the input, weight and bias agree."""
    with torch.no_grad():
        pm.weight.copy_(torch.tensor(to_np(m.weight)))
        pm.bias.copy_(torch.tensor(to_np(m.bias)))
    px = torch.tensor(x, requires_grad=True)
    py = pm(px)
    _close(ty, py)
    g = rand(*py.shape)
    ty.backward(tg.from_numpy(g))
    py.backward(torch.tensor(g))
    for ours, theirs in ((tx, px), (m.weight, pm.weight), (m.bias, pm.bias)):
        _close(ours.grad, theirs.grad)


# ------------------------------------------------------------------ LazyConv
@needs_torch
@pytest.mark.parametrize("batched", [True, False])
def test_lazy_conv2d_matches_torch(batched):
    m = tg.nn.LazyConv2d(4, 3, padding=1, groups=2, dtype=tg.float64)
    assert repr(m) == repr(torch.nn.LazyConv2d(4, 3, padding=1, groups=2))
    x = rand(2, 6, 5, 5) if batched else rand(6, 5, 5)
    tx = to_tg(x, "cpu")
    ty = m(tx)
    assert type(m) is tg.nn.Conv2d and m.in_channels == 6 and m.weight.shape == (4, 3, 3, 3)
    bound = 1 / np.sqrt(3 * 9)
    assert np.abs(to_np(m.weight)).max() <= bound and np.abs(to_np(m.bias)).max() <= bound
    pm = torch.nn.Conv2d(6, 4, 3, padding=1, groups=2).double()
    assert list(m.state_dict()) == list(pm.state_dict())
    _matches_torch_module(m, pm, x, tx, ty)


def test_lazy_conv_errors_load_and_sequential():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d"):
        tg.nn.LazyConv2d(4, 3)(tg.randn(5, 5))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups.*in_channels=3"):
        tg.nn.LazyConv2d(4, 3, groups=2)(tg.randn(1, 3, 5, 5))
    src = tg.nn.Conv1d(4, 2, 3, groups=2)
    lazy = tg.nn.LazyConv1d(2, 3, groups=2)
    lazy.load_state_dict(src.state_dict())
    assert lazy.in_channels == 4
    x = tg.randn(2, 4, 7)
    np.testing.assert_array_equal(to_np(lazy(x)), to_np(src(x)))
    net = tg.nn.Sequential(tg.nn.LazyConv3d(2, 1), tg.nn.ReLU(), tg.nn.Flatten(), tg.nn.LazyLinear(3), tg.nn.ReLU())
    y = net(tg.randn(2, 1, 2, 2, 2))
    assert y.shape == (2, 3) and net[3].in_features == 16 and type(net[0]) is tg.nn.Conv3d
    y.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
