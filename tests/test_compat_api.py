"""PyTorch names that training scripts use around the model: seeding CUDA on any machine,
tg.accelerator, tg.backends (cudnn switches wired to the convolution path, mps), inference_mode,
the float constants, Tensor.new_*, and DataLoader's worker options."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.fused import conv_algo, cudnn_conv
from tensorgrad.utils.data import DataLoader, TensorDataset
from oracle import needs_torch, torch

CUDA = tg.cuda.is_available()


# ---------------------------------------------------------------- seeding CUDA without a GPU
@pytest.mark.skipif(CUDA, reason="the no-GPU branch: with a GPU these seed it (tests/test_generator.py)")
def test_cuda_seeding_without_a_gpu_does_nothing():
    tg.manual_seed(3)
    before = tg.rand(4).numpy()
    tg.manual_seed(3)
    tg.cuda.manual_seed(7)
    tg.cuda.manual_seed_all(7)
    np.testing.assert_array_equal(tg.rand(4).numpy(), before)   # the CPU stream untouched
    with pytest.raises(TypeError, match="cuda.manual_seed"):
        tg.cuda.manual_seed("7")                                # the seed is still checked
    with pytest.raises(ValueError, match="out of range"):
        tg.cuda.manual_seed_all(2 ** 64)


# ---------------------------------------------------------------- tg.accelerator
def test_accelerator_is_cuda():
    assert tg.accelerator.is_available() == CUDA
    assert tg.accelerator.current_accelerator() == tg.device("cuda")
    assert tg.accelerator.current_accelerator(check_available=True) == (tg.device("cuda") if CUDA else None)
    assert tg.accelerator.device_count() == (tg.cuda.device_count() if CUDA else 0)
    # the official PyTorch examples' device choice
    device = tg.accelerator.current_accelerator() if tg.accelerator.is_available() else tg.device("cpu")
    assert tg.ones(2, device=device).device.type == ("cuda" if CUDA else "cpu")


# ---------------------------------------------------------------- tg.backends
@pytest.fixture
def cudnn_flags(monkeypatch):
    """The switches restored after the test, TENSORGRAD_CONV_ALGO unset during it."""
    monkeypatch.delenv(conv_algo.ENV, raising=False)
    saved = (conv_algo.CUDNN_ENABLED, conv_algo.BENCHMARK, cudnn_conv.DETERMINISTIC, cudnn_conv.ALLOW_TF32)
    yield tg.backends.cudnn
    conv_algo.CUDNN_ENABLED, conv_algo.BENCHMARK, cudnn_conv.DETERMINISTIC, cudnn_conv.ALLOW_TF32 = saved


def test_cudnn_switches_choose_the_convolution_path(cudnn_flags, monkeypatch):
    cudnn = cudnn_flags
    assert (cudnn.enabled, cudnn.benchmark) == (True, True) and conv_algo.mode() == "auto"
    cudnn.benchmark = False                       # cuDNN's heuristics, no timing
    assert conv_algo.mode() == "cudnn"
    cudnn.enabled = False                         # no cuDNN at all
    assert conv_algo.mode() == "im2col"
    monkeypatch.setenv(conv_algo.ENV, "auto")     # the environment decides over the switches
    assert conv_algo.mode() == "auto"
    import tensorgrad.backends.cudnn as cudnn_module   # the import form reaches the same switches
    assert cudnn_module is cudnn and cudnn_module.enabled is False


def test_cudnn_numerics_switches_reach_the_plans(cudnn_flags):
    cudnn = cudnn_flags
    assert cudnn.deterministic is cudnn_conv.DETERMINISTIC is True
    assert cudnn.allow_tf32 is cudnn_conv.ALLOW_TF32 is False
    cudnn.deterministic, cudnn.allow_tf32 = False, True
    assert (cudnn_conv.DETERMINISTIC, cudnn_conv.ALLOW_TF32) == (False, True)   # part of the plan key
    with pytest.raises(TypeError, match="expected a bool"):
        cudnn.benchmark = 1


def test_cudnn_availability_and_mps():
    assert tg.backends.cudnn.is_available() == (cudnn_conv.unavailable_reason() is None)
    assert (tg.backends.cudnn.version() is None) == (not tg.backends.cudnn.is_available())
    assert tg.backends.mps.is_available() is False and tg.backends.mps.is_built() is False


# ---------------------------------------------------------------- inference_mode
def test_inference_mode_records_nothing():
    x = tg.ones(3, requires_grad=True)
    with tg.inference_mode():
        assert not (x * 2).requires_grad and not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    with tg.inference_mode(False):
        assert (x * 2).requires_grad

    @tg.inference_mode
    def bare(t):
        return t * 2

    @tg.inference_mode()
    def called(t):
        return t * 2
    assert not bare(x).requires_grad and not called(x).requires_grad and (x * 2).requires_grad


# ---------------------------------------------------------------- constants and new_*
@needs_torch
def test_constants_are_torchs():
    for name in ("inf", "nan", "pi", "e"):
        a, b = getattr(tg, name), getattr(torch, name)
        assert (math.isnan(a) and math.isnan(b)) or a == b, name


@needs_torch
@pytest.mark.parametrize("call", [lambda t, m: t.new_zeros(2, 3), lambda t, m: t.new_ones((4,)),
                                  lambda t, m: t.new_full((2, 2), 7), lambda t, m: t.new_tensor([1, 2, 3]),
                                  lambda t, m: t.new_zeros(2, dtype=m.int64),
                                  lambda t, m: t.new_tensor(np.array([1.5, 2.5]), requires_grad=True)])
def test_new_tensors_take_dtype_and_device_of_self(call, device):
    a = call(tg.ones(2, dtype=tg.float64, device=device), tg)
    b = call(torch.ones(2, dtype=torch.float64), torch)
    assert a.dtype.name == str(b.dtype).split(".")[-1] and tuple(a.shape) == tuple(b.shape)
    assert a.device.type == device and a.requires_grad == b.requires_grad
    np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().numpy())
    assert tuple(tg.ones(1).new_empty(2, 5).shape) == (2, 5)


# ---------------------------------------------------------------- DataLoader's worker options
@needs_torch
@pytest.mark.parametrize("kwargs", [dict(prefetch_factor=2), dict(persistent_workers=True), dict(timeout=-1)])
def test_worker_options_are_checked_as_in_pytorch(kwargs):
    with pytest.raises(ValueError) as ours:
        DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError) as theirs:
        torch.utils.data.DataLoader(list(range(4)), **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_worker_init_fn_runs_once_per_pass_with_workers():
    ds = TensorDataset(tg.arange(6))
    calls = []
    loader = DataLoader(ds, batch_size=4, num_workers=2, worker_init_fn=calls.append, persistent_workers=True,
                        prefetch_factor=2, timeout=5, multiprocessing_context="spawn")
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]
    list(loader)
    assert calls == [0, 0]                        # this process is the one worker, once per pass
    calls.clear()
    list(DataLoader(ds, batch_size=4, worker_init_fn=calls.append))
    assert calls == []                            # no workers: PyTorch does not call it either
    with pytest.raises(TypeError, match="worker_init_fn must be callable"):
        DataLoader(ds, num_workers=1, worker_init_fn=3)


# ---------------------------------------------------------------- index_add / _copy / _fill and small tensor methods
@needs_torch
@pytest.mark.parametrize("call", [
    lambda m, t, s: t.index_add(0, m.tensor([0, 2, 0]), s, alpha=2),
    lambda m, t, s: m.index_add(t, 1, m.tensor([1, 0]), t[:, :2] * s[0, 0]),
    lambda m, t, s: t.index_copy(0, m.tensor([3, 1, 0]), s),
    lambda m, t, s: t.index_fill(1, m.tensor([0, 2]), -1.5) * s.sum(),
], ids=["add", "add-dim1", "copy", "fill"])
def test_index_add_copy_fill_match_torch(call):
    from oracle import check_torch
    check_torch(call, [np.random.default_rng(1).normal(size=(4, 3)), np.random.default_rng(2).normal(size=(3, 3))])


def test_index_in_place_forms_and_errors():
    t = tg.zeros(4, 3)
    t.index_add_(0, tg.tensor([1, 1]), tg.ones(2, 3))
    assert t.sum().item() == 6.0 and t[1].tolist() == [2.0, 2.0, 2.0]
    t.index_fill_(1, tg.tensor([0]), 9.0)
    assert t[:, 0].tolist() == [9.0] * 4
    t.index_copy_(0, tg.tensor([0]), tg.full((1, 3), 5.0))
    assert t[0].tolist() == [5.0] * 3
    with pytest.raises(RuntimeError, match="does not match"):
        tg.zeros(4, 3).index_add(0, tg.tensor([0, 1]), tg.ones(3, 3))
    with pytest.raises(IndexError, match="out of range|out of bounds"):
        tg.zeros(4, 3).index_fill(0, tg.tensor([7]), 1.0)


@needs_torch
def test_small_tensor_methods_match_torch():
    a, b = tg.tensor([[0, 1], [2, 0]]), torch.tensor([[0, 1], [2, 0]])
    assert a.argwhere().tolist() == b.argwhere().tolist()
    for name in ("byte", "char", "short"):
        assert getattr(a, name)().dtype.name == str(getattr(b, name)().dtype).split(".")[-1]
    assert tg.ones(2).get_device() == torch.ones(2).get_device() == -1
    assert tg.ones(2, 3).nbytes == torch.ones(2, 3).nbytes and tuple(tg.ones(2, 3).mH.shape) == (3, 2)
    x = tg.tensor([1.0, 4.0])
    assert x.log_() is x and x.tolist() == pytest.approx([0.0, float(np.log(4.0))])
    tg.manual_seed(0)
    e = tg.empty(20000).exponential_(2.0).numpy()
    assert e.min() > 0 and abs(e.mean() - 0.5) < 0.02
    ln = tg.empty(20000).log_normal_(0.0, 0.5).numpy()
    assert abs(np.log(ln).std() - 0.5) < 0.02
    assert tg.ones(3).data_ptr() != 0


# ---------------------------------------------------------------- second audit: spellings scripts use
@needs_torch
def test_axis_is_an_alias_of_dim_as_in_torch():
    x = np.random.default_rng(0).normal(size=(3, 4))
    for call in (lambda m, t: t.sum(axis=1), lambda m, t: m.mean(t, axis=0), lambda m, t: t.max(axis=1).values,
                 lambda m, t: t.argmax(axis=0), lambda m, t: t.std(axis=1), lambda m, t: t.logsumexp(axis=1),
                 lambda m, t: t.softmax(axis=-1), lambda m, t: m.cat([t, t], axis=1), lambda m, t: m.stack([t, t], axis=2),
                 lambda m, t: t.cumsum(axis=0), lambda m, t: (t > 0).any(axis=1), lambda m, t: m.flip(t, dims=[0]),
                 lambda m, t: t.amax(axis=(0, 1))):
        a, b = call(tg, tg.tensor(x)), call(torch, torch.tensor(x))
        np.testing.assert_allclose(a.numpy().astype(float), b.numpy().astype(float), rtol=1e-12)
    with pytest.raises(TypeError, match="both 'dim' and its alias 'axis'"):
        tg.ones(2).sum(dim=0, axis=0)
    assert tuple(tg.zeros(size=(2, 3)).shape) == tuple(torch.zeros(size=(2, 3)).shape)
    assert tuple(tg.randn(size=[4]).shape) == (4,)


@needs_torch
def test_legacy_tensor_types():
    a, b = tg.FloatTensor(np.zeros(4)), torch.FloatTensor(np.zeros(4))
    assert a.dtype.name == str(b.dtype).split(".")[-1]
    assert tuple(tg.LongTensor(2, 3).shape) == (2, 3) and tg.LongTensor([1, 2]).tolist() == [1, 2]
    assert isinstance(a, tg.FloatTensor) and not isinstance(a, tg.LongTensor) and not isinstance(a, tg.cuda.FloatTensor)
    assert tg.tensor([1, 2]).type(tg.FloatTensor).dtype is tg.float32
    for name in ("HalfTensor", "DoubleTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"):
        assert getattr(tg, name)([1]).dtype.name == str(getattr(torch, name)([1]).dtype).split(".")[-1]


@needs_torch
def test_median_var_mean_bincount_logspace_match_torch():
    x = np.random.default_rng(1).normal(size=(3, 6))
    for call in (lambda m, t: m.median(t), lambda m, t: t.median(1).values, lambda m, t: t.median(0, keepdim=True).values,
                 lambda m, t: m.var_mean(t, 1)[0], lambda m, t: m.std_mean(t, 0, keepdim=True)[1],
                 lambda m, t: m.var_mean(t, correction=0)[0]):
        from oracle import check_torch
        check_torch(call, [x])
    assert tg.tensor([[3.0, 1.0, 4.0, 2.0]]).median(1).indices.tolist() == torch.tensor([[3.0, 1.0, 4.0, 2.0]]).median(1).indices.tolist()
    assert np.isnan(tg.median(tg.tensor([3.0, float("nan"), 1.0])).item())
    i = np.array([0, 2, 2, 5])
    assert tg.bincount(tg.tensor(i), minlength=8).tolist() == torch.bincount(torch.tensor(i), minlength=8).tolist()
    w = np.array([0.5, 1.0, 1.0, 2.0], np.float32)
    np.testing.assert_allclose(tg.tensor(i).bincount(weights=tg.tensor(w)).numpy(),
                               torch.bincount(torch.tensor(i), weights=torch.tensor(w)).numpy())
    np.testing.assert_allclose(tg.logspace(0, 2, 5, base=2.0).numpy(), torch.logspace(0, 2, 5, base=2.0).numpy())
    r = tg.randint_like(tg.zeros(100, dtype=tg.int64), 3, 7)
    assert r.dtype is tg.int64 and r.min().item() >= 3 and r.max().item() < 7
    assert tg.ones(2, 3).ndimension() == torch.ones(2, 3).ndimension()
    with pytest.raises(RuntimeError, match="non-negative"):
        tg.bincount(tg.tensor([1, -1]))


@needs_torch
def test_print_options_and_settings_match_torch():
    try:
        for kw in (dict(precision=2), dict(sci_mode=True), dict(profile="short"), dict(precision=6, linewidth=40)):
            tg.set_printoptions(**kw)
            torch.set_printoptions(**kw)
            x = np.array([1.23456789, 100.5, 0.001])
            assert repr(tg.tensor(x)).replace("tensorgrad", "torch") == repr(torch.tensor(x))
    finally:
        tg.set_printoptions(profile="default", sci_mode=None)
        torch.set_printoptions(profile="default", sci_mode=None)
    assert not tg.are_deterministic_algorithms_enabled()
    tg.use_deterministic_algorithms(True)
    try:
        assert tg.are_deterministic_algorithms_enabled() and tg.backends.cudnn.deterministic
    finally:
        tg.use_deterministic_algorithms(False)
    assert tg.get_num_threads() >= 1
    with pytest.raises(RuntimeError, match="positive integer"):
        tg.set_num_threads(0)


@needs_torch
def test_sequential_lr_steps_quietly_as_torch():
    import warnings
    opt = tg.optim.SGD([tg.zeros(1, requires_grad=True)], lr=0.1)
    L = tg.optim.lr_scheduler
    s = L.SequentialLR(opt, [L.LinearLR(opt, 0.5, total_iters=2), L.ExponentialLR(opt, 0.9)], milestones=[2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(4):
            opt.step()
            s.step()


# ---------------------------------------------------------------- names found by running reference scripts
@needs_torch
def test_numpy_array_operands_act_as_cpu_tensors_as_in_torch():
    a, b = np.array([3.0, 4.0]), np.array([1, 2])
    for op in ("__mul__", "__add__", "__sub__", "__truediv__", "__pow__", "__gt__"):
        for x, y in ((a, b), (b, a)):
            ours = getattr(tg.tensor([1.0, 2.0], dtype=tg.float32), op)(x)
            ref = getattr(torch.tensor([1.0, 2.0], dtype=torch.float32), op)(torch.from_numpy(x))
            assert ours.dtype.name == str(ref.dtype).split(".")[-1], op
            np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    (a * t).sum().backward()  # NumPy defers to the tensor's reflected operator
    np.testing.assert_array_equal(t.grad.numpy(), a)


def test_memory_format_constants_are_accepted_and_keep_c_order():
    x = tg.randn(2, 3, 4, 4).to(memory_format=tg.channels_last)
    assert x.is_contiguous() and not x.is_contiguous(memory_format=tg.channels_last)
    model = tg.nn.Conv2d(3, 4, 3).to(memory_format=tg.channels_last)
    assert tuple(model(x).shape) == (2, 4, 2, 2)
    assert x.contiguous(memory_format=tg.contiguous_format) is x
    with pytest.raises(TypeError, match="memory_format must be"):
        x.to(memory_format="channels_last")


def test_bfloat16_and_complex_are_named_but_refused_with_the_reason():
    table = {"float32": tg.float32, "bfloat16": tg.bfloat16, "float16": tg.float16}  # nanoGPT's idiom
    assert table["bfloat16"].is_floating_point and not tg.cuda.is_bf16_supported()
    for make in (lambda: tg.zeros(2, dtype=tg.bfloat16), lambda: tg.zeros(2).to(tg.bfloat16),
                 lambda: tg.ones(1, dtype=tg.complex64)):
        with pytest.raises(TypeError, match="bfloat16 is not supported|no complex dtypes"):
            make()


def test_autograd_grad_takes_the_deprecated_only_inputs():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.autograd.grad((x ** 2).sum(), x, only_inputs=True, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), [2.0, 4.0])
    with pytest.warns(FutureWarning, match="only_inputs argument is deprecated"):
        tg.autograd.grad((x ** 2).sum(), x, only_inputs=False)


def test_profiler_takes_torch_profiler_arguments_and_version_fields():
    from tensorgrad.profiler import ProfilerActivity, profile
    ready = []
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], record_shapes=True, profile_memory=True,
                 with_stack=True, on_trace_ready=ready.append) as prof:
        with tg.autograd.profiler.record_function("block"):
            (tg.ones(3, requires_grad=True) * 2).sum().backward()
        prof.step()
    assert ready == [prof] and any(e.name == "block" for e in prof.events)
    assert tg.version.__version__ == tg.__version__
    assert tg.version.cuda is None or tg.version.cuda.count(".") == 1


def test_profiler_torch_idioms_sort_keys_schedule_and_trace_handler(tmp_path):
    from tensorgrad.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler
    with profile([ProfilerActivity.CPU], schedule(wait=1, warmup=1, active=2),
                 tensorboard_trace_handler(str(tmp_path))) as prof:
        for _ in range(3):
            (tg.ones(3, requires_grad=True) * 2).sum().backward()
            prof.step()
    for key in ("cpu_time_total", "self_cpu_time_total", "cuda_time_total", "self_cuda_time_total"):
        assert "Mul" in prof.key_averages().table(sort_by=key, row_limit=5)
    assert [p.name.endswith(".pt.trace.json") for p in tmp_path.iterdir()] == [True]
    assert schedule(wait=1, warmup=1, active=2)(0) == "NONE" and schedule(wait=1, warmup=1, active=2)(2) == "RECORD"


def test_memory_format_ranks_and_like_factories_as_torch():
    for shape in [(2, 3, 1, 1), (2, 3, 1, 1, 1), (2, 1, 4, 4), (2, 3, 4, 4)]:
        for ours, theirs in ((tg.channels_last, "channels_last"), (tg.channels_last_3d, "channels_last_3d")):
            expected = torch.zeros(*shape).is_contiguous(memory_format=getattr(torch, theirs)) if torch else None
            if expected is not None:
                assert tg.zeros(*shape).is_contiguous(memory_format=ours) == expected, (shape, theirs)
    with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
        tg.zeros(2, 3, 4).contiguous(memory_format=tg.channels_last)
    p = tg.randn(3, 4)
    assert tuple(tg.zeros_like(p, memory_format=tg.preserve_format).shape) == (3, 4)  # torch's optimizers do this
    assert tuple(p.clone(memory_format=tg.contiguous_format).shape) == (3, 4)


def test_comparing_with_a_numpy_array_gives_a_tensor():
    assert (tg.ones(3) == np.ones(3)).tolist() == [True] * 3
    assert (np.ones(3) == tg.ones(3)).tolist() == [True] * 3
    assert (tg.ones(3) != np.zeros(3)).tolist() == [True] * 3


@needs_torch
def test_apply_and_map_write_through_views_as_torch():
    ours, ref = tg.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for t, m in ((ours, tg), (ref, torch)):
        t.t().apply_(lambda v: v * 10 + 1)
        t.map_(m.tensor([1.0, 2.0]), lambda a, b: a - b)
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


def test_jit_decorators_are_eager_no_ops():
    @tg.jit.script
    def double(x):
        return x * 2
    model = tg.nn.Linear(2, 2)
    assert tg.jit.trace(model, tg.ones(1, 2)) is model and tg.jit.script(model) is model
    assert double(tg.ones(2)).tolist() == [2.0, 2.0] and not tg.jit.is_scripting()
    with pytest.raises(RuntimeError, match="save the model's state_dict"):
        tg.jit.save(model, "m.pt")


@needs_torch
def test_python_range_indexes_as_torch():
    ours, ref = tg.zeros(3, 4), torch.zeros(3, 4)
    for t in (ours, ref):
        t[range(3), [1, 0, 3]] = 1.0  # YOLO-style one-hot targets
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(tg.tensor(x)[range(1, 3)].numpy(), torch.tensor(x)[range(1, 3)].numpy())
    np.testing.assert_array_equal(tg.tensor(x)[range(3), range(3)].numpy(), torch.tensor(x)[range(3), range(3)].numpy())


@needs_torch
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_unique_consecutive_matches_torch(dim):
    for x in (np.array([[1, 1], [1, 1], [2, 3], [2, 3], [1, 1]]), np.array([[1.0, np.nan], [np.nan, 2.0]]),
              np.zeros((0, 3), dtype=np.int64)):
        if dim == 1 and x.shape[0] == 0:
            continue
        ours = tg.unique_consecutive(tg.tensor(x), return_inverse=True, return_counts=True, dim=dim)
        ref = torch.unique_consecutive(torch.tensor(x), return_inverse=True, return_counts=True, dim=dim)
        for a, b in zip(ours, ref):
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tg.tensor([1, 1, 2]).unique_consecutive().tolist() == [1, 2]


@needs_torch
def test_renorm_inplace_and_forward_hooks_with_kwargs_as_torch():
    w = np.random.default_rng(0).normal(size=(4, 3)) * 3
    ours, ref = tg.tensor(w), torch.tensor(w)
    ours.renorm_(2, 0, 1.5)
    ref.renorm_(2, 0, 1.5)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)
    for m in (tg, torch):
        class Scaled(m.nn.Module):
            def forward(self, x, scale=1.0):
                return x * scale
        mod, seen = Scaled(), []
        mod.register_forward_pre_hook(lambda _, a, kw: (a, {**kw, "scale": 3.0}), with_kwargs=True)
        mod.register_forward_hook(lambda _, a, kw, out: seen.append(kw["scale"]), with_kwargs=True)
        mod.register_forward_hook(lambda _, a, out: seen.append("first"), prepend=True)
        assert mod(m.ones(2)).tolist() == [3.0, 3.0] and seen == ["first", 3.0]
