"""BatchNorm1d/2d, LayerNorm, GroupNorm, Embedding and their functional forms; PyTorch is the oracle
(weights and buffers copied in through NumPy)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, needs_torch, rand, to_np, torch
from tensorgrad.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm
from tensorgrad.nn.sparse import Embedding
from tensorgrad.ops.norm import batch_norm, embedding, group_norm, layer_norm

if torch is not None:
    tnn = torch.nn
    TF = torch.nn.functional

# Our norms follow PyTorch 2.13 (the oracle CI installs): BatchNorm and GroupNorm take bias=, and
# the norms' reprs show it. An older torch (a GPU image's) lacks both: there those cases skip.
_TORCH_NORM_BIAS = torch is not None and "bias" in __import__("inspect").signature(
    torch.nn.GroupNorm.__init__).parameters


def _needs_norm_bias(kw=None):
    if not _TORCH_NORM_BIAS and (kw is None or "bias" in kw):
        pytest.skip(f"torch {torch.__version__} has no bias= on BatchNorm/GroupNorm nor in the norms' reprs "
                    "(added by 2.13, which tensorgrad follows)")

_TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}
_TDT = {np.float32: "float32", np.float64: "float64"}


def _randomize(m, seed=0):
    """Random (non-default) parameters and float buffers, so the affine part and eval mode are exercised."""
    r = np.random.default_rng(seed)
    with tg.no_grad():
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            if t.is_floating_point():
                a = r.uniform(0.5, 1.5, size=tuple(t.shape)) if "var" in name else r.normal(size=tuple(t.shape))
                t.copy_(tg.tensor(a.astype(to_np(t).dtype), device=t.device))


def _torch_copy(tg_mod, t_mod):
    t_mod.load_state_dict({k: torch.from_numpy(to_np(v).copy()) for k, v in tg_mod.state_dict().items()})
    return t_mod


def _compare_module(tg_mod, t_mod, shape, dtype, steps=3, seed=0, device="cpu"):
    """Several train steps then one eval step: outputs, input grads, parameter grads, buffers."""
    tol = _TOL[dtype]
    r = np.random.default_rng(seed)
    for step in range(steps + 1):
        train = step < steps
        tg_mod.train(train)
        t_mod.train(train)
        x = (r.normal(size=shape) * 2 + 0.5).astype(dtype)
        g = r.normal(size=shape).astype(dtype)
        xt = tg.tensor(x, requires_grad=True, device=device)
        xp = torch.tensor(x, requires_grad=True)
        for p in tg_mod.parameters():
            p.grad = None
        t_mod.zero_grad()
        yt = tg_mod(xt)
        yp = t_mod(xp)
        assert yt.dtype.name == str(yp.dtype).replace("torch.", "")
        np.testing.assert_allclose(to_np(yt), yp.detach().numpy(), **tol, err_msg=f"output, step {step}")
        yt.backward(tg.tensor(g, device=device))
        yp.backward(torch.tensor(g))
        np.testing.assert_allclose(to_np(xt.grad), xp.grad.numpy(), **tol, err_msg=f"input grad, step {step}")
        tp = dict(t_mod.named_parameters())
        for name, p in tg_mod.named_parameters():
            np.testing.assert_allclose(to_np(p.grad), tp[name].grad.numpy(), **tol, err_msg=f"{name}.grad")
        tb = dict(t_mod.named_buffers())
        for name, b in tg_mod.named_buffers():
            np.testing.assert_allclose(to_np(b), tb[name].numpy(), **tol, err_msg=f"buffer {name}, step {step}")


# ---------------------------------------------------------------- BatchNorm
_BN = {"BatchNorm1d": BatchNorm1d, "BatchNorm2d": BatchNorm2d, "BatchNorm3d": BatchNorm3d}


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 5, 2)), ("BatchNorm3d", (2, 3, 2, 3, 2))])
@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False},
                                {"bias": False}, {"track_running_stats": False}])
def test_batchnorm_vs_torch(cls, shape, dtype, kw, device):
    _needs_norm_bias(kw)
    tdt = getattr(torch, _TDT[dtype])
    m = _BN[cls](3, dtype=_TDT[dtype], device=device, **kw)
    _randomize(m)
    t = _torch_copy(m, getattr(tnn, cls)(3, dtype=tdt, **kw))
    _compare_module(m, t, shape, dtype, device=device)
    if m.track_running_stats:
        assert m.num_batches_tracked.item() == t.num_batches_tracked.item() == 3


@needs_torch
def test_batchnorm_state_dict_repr():
    _needs_norm_bias()
    for kw in [{}, {"affine": False}, {"bias": False}, {"track_running_stats": False}, {"momentum": None}]:
        for cls in _BN:
            m = _BN[cls](5, **kw)
            t = getattr(tnn, cls)(5, **kw)
            assert repr(m) == repr(t)
            sd, tsd = m.state_dict(), t.state_dict()
            assert list(sd) == list(tsd)
            for k in sd:
                assert sd[k].dtype.name == str(tsd[k].dtype).replace("torch.", ""), k
                np.testing.assert_array_equal(to_np(sd[k]), tsd[k].numpy())
    m = BatchNorm1d(3)
    m.double()
    assert m.running_mean.dtype == tg.float64 and m.num_batches_tracked.dtype == tg.int64
    # a state dict without num_batches_tracked (old checkpoints) still loads
    sd = {k: v for k, v in BatchNorm1d(3).state_dict().items() if k != "num_batches_tracked"}
    BatchNorm1d(3).load_state_dict(sd)


def test_batchnorm_running_stats_in_place():
    m = BatchNorm1d(2)
    rm, rv = m.running_mean, m.running_var
    v0 = rm._version
    x = tg.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    m(x)
    assert m.running_mean is rm and m.running_var is rv and rm._version > v0
    np.testing.assert_allclose(to_np(rm), [0.3, 0.6], rtol=1e-6)
    np.testing.assert_allclose(to_np(rv), [0.9 + 0.1 * 4.0, 0.9 + 0.1 * 16.0], rtol=1e-6)  # unbiased
    assert not rm.requires_grad and rm.grad_fn is None
    m.reset_running_stats()
    assert to_np(rm).tolist() == [0, 0] and to_np(rv).tolist() == [1, 1] and m.num_batches_tracked.item() == 0
    # eval mode: the running stats are used and left alone
    m.eval()
    y = m(x)
    np.testing.assert_allclose(to_np(y), to_np(x) / np.sqrt(1 + 1e-5), rtol=1e-6)
    assert m.num_batches_tracked.item() == 0


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D input\)"):
        BatchNorm1d(3)(tg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D input\)"):
        BatchNorm2d(3)(tg.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        BatchNorm1d(4)(tg.randn(2, 3))
    x = tg.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="running_var should contain 3 elements not 4"):
        batch_norm(x, tg.zeros(3), tg.ones(4))
    with pytest.raises(RuntimeError, match="weight should contain 3 elements not 4"):
        batch_norm(x, tg.zeros(3), tg.ones(3), weight=tg.ones(4))
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        BatchNorm1d(3)(tg.randn(1, 3))


@needs_torch
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_functional_vs_torch(training):
    x, w, b = rand(4, 3, 2), rand(3), rand(3)
    rm, rv = rand(3), rand(3, low=0.5, high=1.5)
    rm_t, rv_t = tg.tensor(rm), tg.tensor(rv)
    rm_p, rv_p = torch.tensor(rm), torch.tensor(rv)

    def fn(mod, x, w, b):
        F = TF if mod is torch else tg.ops.norm
        stats = (rm_p, rv_p) if mod is torch else (rm_t, rv_t)
        return F.batch_norm(x, *stats, w, b, training, 0.2, 1e-4)
    from oracle import check_torch
    check_torch(fn, [x, w, b], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(to_np(rm_t), rm_p.numpy(), rtol=1e-12)
    np.testing.assert_allclose(to_np(rv_t), rv_p.numpy(), rtol=1e-12)
    # no running stats at all in training mode
    check_torch(lambda mod, x: (TF if mod is torch else tg.ops.norm).batch_norm(x, None, None, training=True),
                [x], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training, device):
    rm, rv = tg.tensor(rand(3), device=device), tg.tensor(rand(3, low=0.5, high=1.5), device=device)
    check_grad(lambda x, w, b: batch_norm(x, rm.clone(), rv.clone(), w, b, training, 0.1, 1e-3),
               [rand(4, 3, 2), rand(3), rand(3)], device)


# ---------------------------------------------------------------- LayerNorm
@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nshape,shape", [(5, (4, 5)), ((3, 4), (2, 3, 4)), ([4], (2, 3, 4))])
@pytest.mark.parametrize("kw", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}])
def test_layernorm_vs_torch(nshape, shape, dtype, kw, device):
    m = LayerNorm(nshape, dtype=_TDT[dtype], device=device, **kw)
    _randomize(m)
    t = _torch_copy(m, tnn.LayerNorm(nshape, dtype=getattr(torch, _TDT[dtype]), **kw))
    assert repr(m) == repr(t) or not _TORCH_NORM_BIAS
    assert list(m.state_dict()) == list(t.state_dict())
    _compare_module(m, t, shape, dtype, steps=1, device=device)


def test_layer_norm_gradcheck_and_errors(device):
    check_grad(lambda x, w, b: layer_norm(x, (3, 2), w, b, 1e-3), [rand(2, 3, 2), rand(3, 2), rand(3, 2)],
               device)
    check_grad(lambda x: layer_norm(x, 4), [rand(3, 4)], device)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[3\], expected input with shape \[\*, 3\], "
                                           r"but got input of size\[2, 3, 4\]"):
        layer_norm(tg.randn(2, 3, 4), (3,))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        layer_norm(tg.randn(2, 3, 4), (4,), weight=tg.ones(3))


# ---------------------------------------------------------------- GroupNorm
@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups,shape", [(2, (3, 6, 4)), (3, (2, 6, 2, 3)), (1, (4, 6)), (6, (2, 6, 5))])
@pytest.mark.parametrize("kw", [{}, {"affine": False}, {"bias": False}, {"eps": 1e-3}])
def test_groupnorm_vs_torch(groups, shape, dtype, kw, device):
    if "bias" in kw:
        _needs_norm_bias(kw)
    m = GroupNorm(groups, 6, dtype=_TDT[dtype], device=device, **kw)
    _randomize(m)
    t = _torch_copy(m, tnn.GroupNorm(groups, 6, dtype=getattr(torch, _TDT[dtype]), **kw))
    assert repr(m) == repr(t) or not _TORCH_NORM_BIAS
    assert list(m.state_dict()) == list(t.state_dict())
    _compare_module(m, t, shape, dtype, steps=1, device=device)


def test_group_norm_gradcheck_and_errors(device):
    check_grad(lambda x, w, b: group_norm(x, 2, w, b, 1e-3), [rand(2, 4, 3), rand(4), rand(4)], device)
    with pytest.raises(RuntimeError, match=r"Expected number of channels in input to be divisible by num_groups, "
                                           r"but got input of shape \[2, 3, 4\] and num_groups=2"):
        group_norm(tg.randn(2, 3, 4), 2)
    with pytest.raises(ValueError, match=r"num_channels \(3\) must be divisible by num_groups \(2\)"):
        GroupNorm(2, 3)
    with pytest.raises(RuntimeError, match="GroupNorm"):
        GroupNorm(2, 4)(tg.randn(2, 6, 3))


# ---------------------------------------------------------------- Embedding
@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_vs_torch(dtype, padding_idx, device):
    m = Embedding(7, 4, padding_idx=padding_idx, dtype=_TDT[dtype], device=device)
    t = tnn.Embedding(7, 4, padding_idx=padding_idx, dtype=getattr(torch, _TDT[dtype]))
    assert repr(m) == repr(t)
    assert m.padding_idx == t.padding_idx
    assert list(m.state_dict()) == list(t.state_dict())
    if padding_idx is not None:
        assert np.all(to_np(m.weight)[m.padding_idx] == 0)
    _torch_copy(m, t)
    idx = np.array([[1, 2, 1, 6], [2, 2, 0, 1], [6, 6, 6, 3]], dtype=np.int64)  # repeats and the padding rows
    g = np.random.default_rng(3).normal(size=idx.shape + (4,)).astype(dtype)
    y = m(tg.tensor(idx, device=device))
    yp = t(torch.tensor(idx))
    np.testing.assert_array_equal(to_np(y), yp.detach().numpy())
    y.backward(tg.tensor(g, device=device))
    yp.backward(torch.tensor(g))
    np.testing.assert_allclose(to_np(m.weight.grad), t.weight.grad.numpy(), **_TOL[dtype])
    if padding_idx is not None:
        assert np.all(to_np(m.weight.grad)[m.padding_idx] == 0)
    # int32 indices and a 0-d index
    np.testing.assert_array_equal(to_np(m(tg.tensor(idx.astype(np.int32), device=device))), yp.detach().numpy())
    assert tuple(m(tg.tensor(3, device=device)).shape) == (4,)


def test_embedding_gradcheck(device):
    idx = tg.tensor([[0, 2, 2], [1, 0, 2]], device=device)
    check_grad(lambda w: embedding(idx, w), [rand(3, 2)], device)
    # the padding row gets no gradient by design (unlike finite differences): keep it out of the inputs
    pad = tg.tensor(rand(1, 2), device=device)
    check_grad(lambda w: embedding(idx, tg.cat([w, pad]), padding_idx=2) ** 2, [rand(2, 2)], device)


def test_embedding_misc_and_errors():
    w = tg.randn(5, 3)
    e = Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and e.weight._data is w._data
    assert Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\): index out of range in self"):
        Embedding(10, 3)(tg.tensor([10]))
    with pytest.raises(IndexError, match="index out of range in self"):
        Embedding(10, 3)(tg.tensor([-1]))
    with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar types: Long, Int"):
        Embedding(10, 3)(tg.tensor([1.0]))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        Embedding(10, 3, padding_idx=10)
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        Embedding(4, 3, _weight=tg.randn(3, 3))
    with pytest.raises(NotImplementedError):
        Embedding(10, 3, sparse=True)
    with pytest.raises(RuntimeError, match="'weight' must be 2-D"):
        embedding(tg.tensor([1]), tg.randn(3))


@needs_torch
def test_embedding_init_statistics():
    tg.manual_seed(0)
    w = to_np(Embedding(2000, 50).weight)
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01


def test_batchnorm3d_checks_its_input_rank():
    with pytest.raises(ValueError, match="BatchNorm3d: expected 5D input"):
        BatchNorm3d(3)(tg.zeros(2, 3, 4, 4))
