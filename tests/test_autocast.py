"""autocast: per-op dtypes against PyTorch's autocast on the same device type (CPU regions use
dtype=float16, as PyTorch's CPU default bfloat16 does not exist here), gradients in the parameters'
own dtype, nesting, the parameter-cast cache, backward outside autocast, checkpoint, errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import needs_torch, rand, to_np, torch

_rng = np.random.default_rng(7)


def _region(m, device):
    """autocast over `device` for tensorgrad or torch (m is the module)."""
    return m.autocast(device, dtype=m.float16)


def _pair(arrays, device, grad):
    """The same float32 arrays as tensorgrad and torch tensors on `device`."""
    tg_ts = [tg.tensor(a, device=device, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    th_ts = [torch.tensor(a, device=device, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    return tg_ts, th_ts


def f32(*shape):
    return rand(*shape, low=-1, high=1).astype(np.float32)


def labels(n, c):
    return _rng.integers(0, c, size=n).astype(np.int64)


# op name -> (fn(m, F, *tensors), arrays): m is tensorgrad or torch, F its functional module
OPS = {
    "linear": (lambda m, F, x, w, b: F.linear(x, w, b), lambda: [f32(4, 5), f32(3, 5), f32(3)]),
    "matmul": (lambda m, F, a, b: a @ b, lambda: [f32(2, 4, 5), f32(5, 3)]),
    "mm": (lambda m, F, a, b: m.mm(a, b), lambda: [f32(4, 5), f32(5, 3)]),
    "bmm": (lambda m, F, a, b: m.bmm(a, b), lambda: [f32(2, 4, 5), f32(2, 5, 3)]),
    "addmm": (lambda m, F, c, a, b: m.addmm(c, a, b), lambda: [f32(4, 3), f32(4, 5), f32(5, 3)]),
    "baddbmm": (lambda m, F, c, a, b: m.baddbmm(c, a, b), lambda: [f32(2, 4, 3), f32(2, 4, 5), f32(2, 5, 3)]),
    "conv1d": (lambda m, F, x, w, b: F.conv1d(x, w, b, padding=1), lambda: [f32(2, 3, 8), f32(4, 3, 3), f32(4)]),
    "conv2d": (lambda m, F, x, w, b: F.conv2d(x, w, b, stride=2), lambda: [f32(2, 3, 7, 7), f32(4, 3, 3, 3), f32(4)]),
    "conv_transpose2d": (lambda m, F, x, w: F.conv_transpose2d(x, w), lambda: [f32(2, 3, 4, 4), f32(3, 2, 3, 3)]),
    "cross_entropy": (lambda m, F, x, t: F.cross_entropy(x, t), lambda: [f32(6, 5), labels(6, 5)]),
    "nll_loss": (lambda m, F, x, t: F.nll_loss(F.log_softmax(x, 1), t), lambda: [f32(6, 5), labels(6, 5)]),
    "mse_loss": (lambda m, F, a, b: F.mse_loss(a, b), lambda: [f32(4, 3), f32(4, 3)]),
    "l1_loss": (lambda m, F, a, b: F.l1_loss(a, b), lambda: [f32(4, 3), f32(4, 3)]),
    "smooth_l1_loss": (lambda m, F, a, b: F.smooth_l1_loss(a, b), lambda: [f32(4, 3), f32(4, 3)]),
    "bce_with_logits": (lambda m, F, a, b: F.binary_cross_entropy_with_logits(a, b.abs()),
                        lambda: [f32(4, 3), f32(4, 3)]),
    "kl_div": (lambda m, F, a, b: F.kl_div(a, b.abs(), reduction="batchmean"), lambda: [f32(4, 3), f32(4, 3)]),
    "prod": (lambda m, F, a: a.prod(1), lambda: [f32(4, 3)]),
    "cdist": (lambda m, F, a, b: m.cdist(a, b), lambda: [f32(4, 3), f32(5, 3)]),
    "softmax": (lambda m, F, a: F.softmax(a, dim=1), lambda: [f32(4, 3)]),
    "log_softmax": (lambda m, F, a: F.log_softmax(a, dim=1), lambda: [f32(4, 3)]),
    "sum": (lambda m, F, a: a.sum(), lambda: [f32(4, 3)]),
    "exp": (lambda m, F, a: a.exp(), lambda: [f32(4, 3)]),
    "pow": (lambda m, F, a: a ** 2, lambda: [f32(4, 3)]),
    "layer_norm": (lambda m, F, a: F.layer_norm(a, (3,)), lambda: [f32(4, 3)]),
    "relu": (lambda m, F, a: F.relu(a), lambda: [f32(4, 3)]),
    "einsum": (lambda m, F, a, b: m.einsum("ij,jk->ik", a, b), lambda: [f32(4, 5), f32(5, 3)]),
    "linalg.solve": (lambda m, F, a, b: m.linalg.solve(a + 4 * m.eye(4, device=a.device), b),
                     lambda: [f32(4, 4), f32(4, 2)]),
    "add": (lambda m, F, a, b: a + b, lambda: [f32(4, 3), f32(4, 3)]),
}


def _torch_f():
    return torch.nn.functional


@needs_torch
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_dtypes_values_and_gradients_match_torch_autocast(name, device):
    """Each op's output dtype under autocast is PyTorch's; its value and the gradients of its
    float32 inputs agree to float16 accuracy; the gradients stay float32."""
    fn, make = OPS[name]
    arrays = make()
    # one input made float16 first: float32-policy ops then show their cast up
    tg_ts, th_ts = _pair(arrays, device, grad=True)
    with _region(tg, device):
        out = fn(tg, F, *tg_ts)
        half = fn(tg, F, *[t.half() if t.is_floating_point() else t for t in tg_ts])
    with _region(torch, device):
        ref = fn(torch, _torch_f(), *th_ts)
        ref_half = fn(torch, _torch_f(), *[t.half() if t.is_floating_point() else t for t in th_ts])
    assert str(out.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1], (name, out.dtype, ref.dtype)
    assert str(half.dtype).split(".")[-1] == str(ref_half.dtype).split(".")[-1], (name, half.dtype, ref_half.dtype)
    np.testing.assert_allclose(to_np(out).astype(np.float64), ref.detach().cpu().double().numpy(),
                               rtol=2e-2, atol=2e-2)
    seed = rand(*ref.shape, low=-1, high=1).astype(np.float32)
    out.backward(tg.tensor(seed, device=device).to(out.dtype))
    ref.backward(torch.tensor(seed, device=device).to(ref.dtype))
    for t, r in zip(tg_ts, th_ts):
        if r.grad is None:
            continue
        assert t.grad.dtype == tg.float32
        scale = max(1.0, float(r.grad.abs().max()))
        np.testing.assert_allclose(to_np(t.grad), r.grad.cpu().numpy(), rtol=3e-2, atol=3e-2 * scale)


def test_float64_is_never_cast_and_policy_free_ops_keep_their_dtype(device):
    a = tg.randn(3, 4, dtype=tg.float64, device=device)
    b = tg.randn(4, 2, device=device)
    with tg.autocast(device, dtype=tg.float16):
        assert (a @ a.T).dtype == tg.float64
        assert (b.T @ b).dtype == tg.float16
        assert F.relu(b).dtype == tg.float32 and F.max_pool2d(b[None, None], 2).dtype == tg.float32


def test_training_step_gradients_are_float32_and_close_to_the_float32_step():
    """An autocast step of a small CNN: float16 forward, float32 parameter gradients within
    float16 accuracy of the plain float32 step's, with GradScaler's scaling undone."""
    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Conv2d(1, 4, 3), tg.nn.ReLU(), tg.nn.MaxPool2d(2), tg.nn.Flatten(),
                             tg.nn.Linear(4 * 3 * 3, 10), tg.nn.ReLU(), tg.nn.Linear(10, 3))
    x, y = tg.randn(8, 1, 8, 8), tg.tensor(labels(8, 3))
    F.cross_entropy(model(x), y).backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    scaler = tg.amp.GradScaler("cpu", init_scale=1024.0)
    with tg.autocast("cpu", dtype=tg.float16):
        out = model(x)
        assert out.dtype == tg.float16
        loss = F.cross_entropy(out, y)
    assert loss.dtype == tg.float32
    scaler.scale(loss).backward()
    opt = tg.optim.SGD(model.parameters(), lr=0.0)
    scaler.unscale_(opt)
    for p, g in zip(model.parameters(), plain):
        assert p.grad.dtype == tg.float32
        np.testing.assert_allclose(to_np(p.grad), to_np(g), rtol=5e-2, atol=5e-3)


def test_nesting_disable_and_decorator():
    x = tg.randn(2, 3)
    with tg.autocast("cpu", dtype=tg.float16):
        assert tg.is_autocast_enabled("cpu") and (x @ x.T).dtype == tg.float16
        with tg.autocast("cpu", enabled=False):
            assert not tg.is_autocast_enabled("cpu") and (x @ x.T).dtype == tg.float32
        assert (x @ x.T).dtype == tg.float16
    assert not tg.is_autocast_enabled("cpu") and (x @ x.T).dtype == tg.float32

    @tg.autocast("cpu", dtype=tg.float16)
    def f(a):
        return a @ a.T
    assert f(x).dtype == tg.float16 and (x @ x.T).dtype == tg.float32
    assert tg.get_autocast_dtype("cpu") == tg.float16


def test_a_parameter_is_cast_once_per_region_and_again_after_an_in_place_change():
    w = tg.nn.Parameter(tg.randn(3, 3))
    x = tg.randn(2, 3)
    with tg.autocast("cpu", dtype=tg.float16):
        a, b = x @ w, x @ w
        cast_a = [e[0] for e in a.grad_fn.next_functions if e is not None]
        cast_b = [e[0] for e in b.grad_fn.next_functions if e is not None]
        assert set(map(id, cast_a)) & set(map(id, cast_b))  # the same cast node feeds both
        with tg.no_grad():
            w.mul_(2)
        c = x @ w
        np.testing.assert_allclose(to_np(c), to_np(a) * 2, rtol=2e-3)  # the cast saw the new values
    (a.sum() + b.sum()).backward()
    np.testing.assert_allclose(to_np(w.grad), np.tile(to_np(x).sum(0)[:, None], (1, 3)) * 2, rtol=2e-3)


def test_backward_inside_a_region_runs_in_the_forward_dtypes():
    lin = tg.nn.Linear(3, 2)
    x = tg.randn(4, 3)
    with tg.autocast("cpu", dtype=tg.float16):
        y = lin(x)
        y.float().sum().backward()  # the engine suspends autocast: Linear's backward sums stay float16
    assert lin.weight.grad.dtype == tg.float32 and lin.bias.grad.dtype == tg.float32
    np.testing.assert_allclose(to_np(lin.bias.grad), [4.0, 4.0])


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_recomputes_under_the_forward_autocast_state(use_reentrant):
    from tensorgrad.utils.checkpoint import checkpoint
    block = tg.nn.Sequential(tg.nn.Linear(4, 8), tg.nn.ReLU(), tg.nn.Linear(8, 4))
    x = tg.randn(3, 4, requires_grad=True)
    with tg.autocast("cpu", dtype=tg.float16):
        ref = block(x)
    ref.float().sum().backward()
    want = [to_np(p.grad) for p in block.parameters()] + [to_np(x.grad)]
    block.zero_grad()
    x.grad = None
    with tg.autocast("cpu", dtype=tg.float16):
        out = checkpoint(block, x, use_reentrant=use_reentrant)
    assert out.dtype == tg.float16
    out.float().sum().backward()  # outside the region: the recomputation still autocasts
    got = [to_np(p.grad) for p in block.parameters()] + [to_np(x.grad)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_sequential_linear_relu_under_autocast_equals_the_unfused_modules():
    lin, act = tg.nn.Linear(5, 4), tg.nn.ReLU()
    seq = tg.nn.Sequential(lin, act)
    x = tg.randn(3, 5)
    with tg.autocast("cpu", dtype=tg.float16):
        fused, plain = seq(x), act(lin(x))
    assert fused.dtype == plain.dtype == tg.float16
    np.testing.assert_array_equal(to_np(fused), to_np(plain))


def test_errors_say_what_is_supported():
    with pytest.raises(RuntimeError, match="bfloat16.*dtype=tensorgrad.float16"):
        tg.autocast("cpu")
    with pytest.raises(RuntimeError, match="float32 is not supported.*float16 only"):
        tg.autocast("cpu", dtype=tg.float32)
    with pytest.raises(RuntimeError, match="device_type must be 'cuda' or 'cpu'"):
        tg.autocast("tpu")
    tg.autocast("cpu", enabled=False)  # a disabled CPU region needs no dtype


def test_cuda_region_without_cuda_warns_and_disables():
    if tg.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        region = tg.autocast("cuda")
    with region:
        assert not tg.is_autocast_enabled("cuda")


def test_policies_follow_pytorchs_cuda_lists():
    """The CUDA column, checked against PyTorch only where a GPU is: lower precision for the
    matrix products and convolutions, float32 for losses, reductions and transcendental math,
    binary_cross_entropy banned, promotion for mixed-input ops."""
    for fn in (tg.matmul, tg.Tensor.__matmul__, F.linear, F.conv2d, tg.bmm):
        assert fn.autocast_policy == {"cuda": "lower", "cpu": "lower"}
    for fn in (tg.sum, tg.Tensor.sum, tg.exp, tg.log, tg.pow, tg.softmax, tg.log_softmax, F.layer_norm):
        assert fn.autocast_policy == {"cuda": "float32", "cpu": None}
    for fn in (F.cross_entropy, F.mse_loss, tg.prod):
        assert fn.autocast_policy == {"cuda": "float32", "cpu": "float32"}
    assert F.binary_cross_entropy.autocast_policy == {"cuda": "banned", "cpu": "float32"}
    assert tg.addcmul.autocast_policy["cuda"] == "promote"


def test_binary_cross_entropy_is_float32_on_cpu_and_a_clear_error_where_banned():
    p, t = tg.rand(4, 3), tg.rand(4, 3)
    with tg.autocast("cpu", dtype=tg.float16):
        assert F.binary_cross_entropy(p.half(), t).dtype == tg.float32
    from tensorgrad import autocast_mode
    banned_everywhere = autocast_mode.policy(cuda="banned", cpu="banned")(F.binary_cross_entropy)
    with tg.autocast("cpu", dtype=tg.float16), pytest.raises(RuntimeError, match="unsafe to autocast.*with_logits"):
        banned_everywhere(p, t)
    assert banned_everywhere(p, t).dtype == tg.float32  # outside a region: the plain op


def test_custom_fwd_casts_inputs_and_runs_without_autocast():
    @tg.amp.custom_fwd(device_type="cpu", cast_inputs=tg.float32)
    def forward(a, b):
        assert not tg.is_autocast_enabled("cpu")
        return a @ b

    a, b = tg.randn(2, 3).half(), tg.randn(3, 2)
    with tg.autocast("cpu", dtype=tg.float16):
        assert forward(a, b).dtype == tg.float32
    assert tg.cuda.amp.custom_fwd is tg.amp.custom_fwd


@needs_torch
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_float16_input_with_float32_parameters_stays_float16_as_pytorch(training):
    """The mixed precision PyTorch allows (autocast's float16 conv output into a float32 BatchNorm):
    the output in float16, gradients in each tensor's dtype, running stats updated in float32."""
    x, g = f32(4, 3, 5, 5).astype(np.float16), f32(4, 3, 5, 5).astype(np.float16)
    w, b = f32(3) + 1.5, f32(3)
    rm, rv = f32(3) * 0.1, f32(3) + 1.5
    out = {}
    for m, Fm in ((tg, F), (torch, torch.nn.functional)):
        ts = [m.tensor(a, requires_grad=True) for a in (x, w, b)]
        stats = [m.tensor(rm), m.tensor(rv)]
        y = Fm.batch_norm(ts[0], *stats, ts[1], ts[2], training)
        y.backward(m.tensor(g))
        out[m] = [y] + [t.grad for t in ts] + stats
    for a, r in zip(out[tg], out[torch]):
        assert str(a.dtype).split(".")[-1] == str(r.dtype).split(".")[-1]
        np.testing.assert_allclose(to_np(a).astype(np.float64), r.detach().double().numpy(), rtol=1e-3, atol=1e-3)


@needs_torch
@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell", "RNNCell", "LSTM", "GRU"])
def test_recurrent_layers_and_cells_follow_torch_autocast(kind, device):
    """CUDA: the cells and layers run in float16 with their state (PyTorch's lower-precision list);
    CPU: they stay float32 (PyTorch's CPU cells do; its CPU LSTM has no float16 kernel at all)."""
    if device == "cpu" and kind in ("LSTM", "GRU"):
        pytest.skip("PyTorch's CPU recurrent layers fail under float16 autocast (oneDNN); nothing to compare")
    tg.manual_seed(0)
    ours = getattr(tg.nn, kind)(4, 3).to(device)
    theirs = getattr(torch.nn, kind)(4, 3).to(device)
    theirs.load_state_dict({k: torch.tensor(to_np(v)) for k, v in ours.state_dict().items()})
    x = f32(5, 2, 4) if kind in ("LSTM", "GRU") else f32(2, 4)
    with tg.autocast(device, dtype=tg.float16):
        out = ours(tg.tensor(x, device=device))
    with torch.autocast(device, dtype=torch.float16):
        ref = theirs(torch.tensor(x, device=device))
    out, ref = (out[0], ref[0]) if isinstance(out, tuple) else (out, ref)
    assert str(out.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    np.testing.assert_allclose(to_np(out).astype(np.float64), ref.detach().cpu().double().numpy(), atol=2e-2)


def test_recurrent_policies_are_cuda_lower_precision():
    from tensorgrad.ops import rnn
    for fn in (rnn.recurrent_layer, rnn.lstm_cell, rnn.gru_cell, rnn.rnn_cell):
        assert fn.autocast_policy == {"cuda": "lower", "cpu": None}


@needs_torch
@pytest.mark.parametrize("norm", ["layer_norm", "group_norm", "instance_norm"])
def test_float16_norms_compute_in_float32_like_pytorch(norm):
    """A float16 LayerNorm's backward through rsqrt overflowed to inf (PyTorch's kernel accumulates
    in float32, its gradient stays finite): a GradScaler then skipped every step."""
    x = np.zeros((1, 16), np.float16)
    x[0, [2, 5, 8, 12, 14, 15]] = [0.356, 0.0726, 0.346, 0.2537, 0.0148, 0.1683]
    g = np.array([[632, -768, 880, 418, -1143, -290, 188, 612, -149, -120, -16, -998, 710, -137, 147, 952]],
                 np.float16)
    shape = {"layer_norm": (1, 16), "group_norm": (1, 4, 4), "instance_norm": (1, 2, 8)}[norm]
    call = {"layer_norm": lambda Fm, t, w: Fm.layer_norm(t, (shape[-1],), w),
            "group_norm": lambda Fm, t, w: Fm.group_norm(t, 2, w),
            "instance_norm": lambda Fm, t, w: Fm.instance_norm(t, weight=w)}[norm]
    wlen = {"layer_norm": 16, "group_norm": 4, "instance_norm": 2}[norm]
    res = {}
    for m, Fm in ((tg, F), (torch, torch.nn.functional)):
        t = m.tensor(x.reshape(shape), requires_grad=True)
        w = m.ones(wlen)  # float32 weight, float16 data: PyTorch's mixed form, output float16
        y = call(Fm, t, w)
        y.backward(m.tensor(g.reshape(shape)))
        res[m] = (y, t.grad)
    for a, b in zip(res[tg], res[torch]):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1] == "float16"
        assert np.isfinite(to_np(a).astype(np.float64)).all()
        np.testing.assert_allclose(to_np(a).astype(np.float64), b.detach().double().numpy(), rtol=2e-2, atol=2e-2)


def test_an_op_runs_its_body_without_autocast_and_promote_without_floats_passes_through():
    """PyTorch's wrappers turn autocast off inside the op: a promoting tensordot keeps its inner mm in
    the promoted dtype. And a promoting op on integer tensors only has nothing to cast."""
    from tensorgrad import autocast_mode
    promoting_tensordot = autocast_mode.policy(cuda="promote", cpu="promote")(tg.tensordot)
    promoting_scatter_add = autocast_mode.policy(cuda="promote", cpu="promote")(tg.scatter_add)
    a, b = tg.randn(3, 4), tg.randn(4, 2)
    with tg.autocast("cpu", dtype=tg.float16):
        assert promoting_tensordot(a, b, 1).dtype == tg.float32  # the inner mm did not lower
        assert (a @ b).dtype == tg.float16
        out = promoting_scatter_add(tg.zeros(5, dtype=tg.int64), 0, tg.tensor([0, 1, 1]),
                                    tg.ones(3, dtype=tg.int64))
    assert out.tolist() == [1, 2, 0, 0, 0]
    for fn in (F.avg_pool2d, F.logsigmoid, F.mish, F.instance_norm):
        assert fn.autocast_policy == {"cuda": "native", "cpu": "native"}


def test_custom_fwd_leaves_float64_and_the_other_device_alone_and_looks_into_containers():
    @tg.amp.custom_fwd(device_type="cpu", cast_inputs=tg.float16)
    def forward(a, pair):
        return a, pair

    a64, h = tg.randn(2, dtype=tg.float64), tg.randn(2)
    with tg.autocast("cpu", dtype=tg.float16):
        a, (p, q) = forward(a64, [h, {"k": h}][0:1] + [h])
    assert a.dtype == tg.float64 and p.dtype == q.dtype == tg.float16


def test_batch_norm_float16_input_keeps_float16_in_train_and_eval():
    bn = tg.nn.BatchNorm1d(3)
    bn.weight.data, bn.bias.data = bn.weight.data.half(), bn.bias.data.half()  # float32 running stats stay
    x = tg.randn(4, 3).half()
    assert bn(x).dtype == tg.float16
    bn.eval()
    assert bn(x).dtype == tg.float16
