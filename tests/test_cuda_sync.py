"""A CUDA training step never waits for the device; checks on device data raise at the next read.

How a synchronization is detected (`HostWaitDetector`): before the step, one single-thread kernel
is queued on the current stream that spins until the host sets a flag in pinned (host-mapped)
memory, or until a timeout passes, and records which of the two ended it. The step is then run
on the host with that stream held. Every op of the step queues behind the spinner, so anything
in the step that waits for the device -- a device-to-host copy (item(), tolist(), .cpu(),
bool() of a device array, a mask's nonzero count), a stream or device synchronize, an implicit
one such as cudaFree or a pageable copy -- blocks until the spinner times out; the step returns
before the timeout only if it issued no such wait. After the step the host releases the flag,
and the spinner's record says whether it was released (no synchronization) or timed out.

Why not the alternatives:
- CUDA graph capture (cupy.cuda.Stream.begin_capture) fails on synchronizing calls, but also on
  things that are not synchronizations (CuPy's pinned staging buffers query events of the
  capturing stream; pool growth and module loading are restricted by the capture mode), and a
  synchronous copy on the legacy stream escapes it when the capture stream is non-blocking; the
  captured work also never runs, so the deferred checks' flags would be garbage afterwards.
- cupyx.allow_synchronize is deprecated and, by its own documentation, misses synchronizations
  made outside CuPy's Python layer; CUDA has no sync-debug switch of its own (PyTorch's
  set_sync_debug_mode wraps its own calls).
The spinner measures the thing that matters -- the host waiting for the device -- whatever
issues the wait. Its limits: a step must enqueue fewer kernels than the launch queue holds
(about a thousand; these models need a few hundred at most) and run on the host within the
timeout; work on another non-blocking stream would not be held. A test below checks that the
detector does fire on a step that calls .item().
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import device_checks, nn

_REASON = tg.cuda.unavailable_reason()
needs_cuda = pytest.mark.skipif(_REASON is not None, reason=f"needs a CUDA GPU: {_REASON}")
pytestmark = pytest.mark.cuda

_HOLD_SRC = r"""
extern "C" __global__ void hold_stream(const volatile int* release, volatile int* timed_out,
                                       unsigned long long timeout_ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    while (release[0] == 0) {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
        if (now - start > timeout_ns) {
            timed_out[0] = 1;
            __threadfence_system();
            return;
        }
#if __CUDA_ARCH__ >= 700
        __nanosleep(10000);
#endif
    }
}
"""


class HostWaitDetector:
    """``synced, host_s = detector(step)``: whether `step` made the host wait for the device."""

    def __init__(self, timeout_s: float = 10.0):
        import cupy as cp
        self.cp = cp
        self.timeout_s = timeout_s
        self.kernel = cp.RawKernel(_HOLD_SRC, "hold_stream")
        # pinned host memory is device-accessible at the same address under unified addressing
        self.mem = cp.cuda.alloc_pinned_memory(8)
        self.flags = np.frombuffer(self.mem, np.int32, 2)  # [release, timed_out]

    def __call__(self, step):
        cp = self.cp
        tg.cuda.synchronize()  # start from an idle device, nothing pending
        self.flags[:] = 0
        ptr = self.mem.ptr
        self.kernel((1,), (1,), (np.uint64(ptr), np.uint64(ptr + 4), np.uint64(int(self.timeout_s * 1e9))))
        t0 = time.perf_counter()
        try:
            step()
        finally:
            host_s = time.perf_counter() - t0
            self.flags[0] = 1  # let the stream go
            cp.cuda.get_current_stream().synchronize()
        return bool(self.flags[1]), host_s


@pytest.fixture(scope="module")
def detector():
    if _REASON is not None:
        pytest.skip(f"needs a CUDA GPU: {_REASON}")
    return HostWaitDetector()


# ---------------------------------------------------------------- the training steps
def _cnn(device):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                          nn.Flatten(), nn.Linear(8 * 8 * 8, 10)).to(device)
    x = tg.randn(16, 3, 16, 16, device=device)
    y = tg.randint(0, 10, (16,), device=device)
    return model, x, y


def _mlp(device):
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10)).to(device)
    x = tg.randn(64, 32, device=device)
    y = tg.randint(0, 10, (64,), device=device)
    return model, x, y


_MODELS = {"cnn": _cnn, "mlp": _mlp}
_OPTIMS = {"sgd_momentum": lambda p: tg.optim.SGD(p, lr=0.01, momentum=0.9),
           "adam": lambda p: tg.optim.Adam(p, lr=1e-3)}


def _make_step(model_name, optim_name, device, read_loss=False):
    tg.manual_seed(0)
    model, x, y = _MODELS[model_name](device)
    opt = _OPTIMS[optim_name](model.parameters())
    losses = []

    def step():
        opt.zero_grad()
        loss = tg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item() if read_loss else loss)

    return step, losses


@pytest.mark.parametrize("optim_name", sorted(_OPTIMS))
@pytest.mark.parametrize("model_name", sorted(_MODELS))
def test_step_runs_on_cpu(model_name, optim_name):
    """The same steps on the CPU: the step code itself is sound (runs without a GPU)."""
    step, losses = _make_step(model_name, optim_name, "cpu")
    for _ in range(3):
        step()
    assert all(np.isfinite(float(v)) for v in losses)


@needs_cuda
@pytest.mark.parametrize("optim_name", sorted(_OPTIMS))
@pytest.mark.parametrize("model_name", sorted(_MODELS))
def test_training_step_does_not_synchronize(detector, model_name, optim_name):
    step, losses = _make_step(model_name, optim_name, "cuda")
    for _ in range(3):  # warm-up: kernels compiled and loaded, memory pools filled
        step()
    synced, host_s = detector(step)
    assert not synced, (f"a {model_name} training step with {optim_name} made the host wait for the "
                        f"device (the held stream timed out after {detector.timeout_s}s; the step took "
                        f"{host_s:.2f}s on the host)")
    assert np.isfinite(losses[-1].item())


@needs_cuda
@pytest.mark.parametrize("read", ["item", "tolist", "cpu", "synchronize"])
def test_detector_fires_on_a_read(detector, read):
    """The detector can fail: a step that reads a value from the device is caught."""
    step, losses = _make_step("mlp", "sgd_momentum", "cuda")
    step()
    reads = {"item": lambda: losses[-1].item(), "tolist": lambda: losses[-1].tolist(),
             "cpu": lambda: losses[-1].cpu(), "synchronize": tg.cuda.synchronize}

    def step_and_read():
        step()
        reads[read]()

    synced, _ = HostWaitDetector(timeout_s=2.0)(step_and_read)
    assert synced


# ---------------------------------------------------------------- deferred checks on CUDA
def _int(vals, device="cuda"):
    return tg.tensor(vals, dtype=tg.int64, device=device)


def _f(*shape, device="cuda", fill=1.0):
    return tg.full(shape, fill, device=device)


# name: (inputs on a device, the op on them, exception, message, the op named in the note)
_F = tg.nn.functional
_BAD_CALLS = {
    "getitem": (lambda d: (tg.arange(5.0, device=d), _int([1, 7], d)), lambda x, i: x[i],
                IndexError, "index 7 is out of bounds for dimension 0 with size 5", "indexing"),
    "gather": (lambda d: (_f(2, 3, device=d), _int([[0, 3], [1, 2]], d)), lambda x, i: tg.gather(x, 1, i),
               RuntimeError, r"gather\(\): index 3 is out of bounds for dimension 1 with size 3", r"gather\(\)"),
    "scatter_add": (lambda d: (_f(3, device=d, fill=0.0), _int([0, -1], d), _f(2, device=d)),
                    lambda x, i, v: tg.scatter_add(x, 0, i, v),
                    RuntimeError, r"scatter_add\(\): index -1 is out of bounds for dimension 0 with size 3",
                    r"scatter_add\(\)"),
    "index_select": (lambda d: (_f(4, 2, device=d), _int([0, 4], d)), lambda x, i: tg.index_select(x, 0, i),
                     IndexError, r"index_select\(\): index 4 is out of bounds for dimension 0 with size 4",
                     r"index_select\(\)"),
    "embedding": (lambda d: (_int([1, 9], d), _f(3, 2, device=d)), lambda i, w: _F.embedding(i, w),
                  IndexError, "index out of range in self: index 9 for an embedding table of 3 rows",
                  r"embedding\(\)"),
    "floor_divide": (lambda d: (_int([4, 5], d), _int([2, 0], d)), tg.floor_divide,
                     RuntimeError, "floor_divide: integer division by zero", r"floor_divide\(\)"),
    "div_trunc": (lambda d: (_int([4, 5], d), _int([2, 0], d)), lambda a, b: tg.div(a, b, rounding_mode="trunc"),
                  RuntimeError, "div: integer division by zero", r"div\(\)"),
    "remainder": (lambda d: (_int([4, 5], d), _int([0, 1], d)), tg.remainder,
                  RuntimeError, "remainder: integer division by zero", r"remainder\(\)"),
    "fmod": (lambda d: (_int([4, 5], d), _int([0, 1], d)), tg.fmod,
             RuntimeError, "fmod: integer division by zero", r"fmod\(\)"),
    "one_hot": (lambda d: (_int([0, 5], d),), lambda t: _F.one_hot(t, 3),
                RuntimeError, r"class values must be smaller than num_classes \(3\), got 5", r"one_hot\(\)"),
    "one_hot_negative": (lambda d: (_int([-2, 1], d),), lambda t: _F.one_hot(t, 3),
                         RuntimeError, "class values must be non-negative, got -2", r"one_hot\(\)"),
}


@pytest.fixture
def clean_checks():
    device_checks.discard()
    yield
    device_checks.discard()


@pytest.mark.parametrize("name", sorted(_BAD_CALLS))
def test_invalid_input_raises_at_once_on_cpu(name):
    """The same calls on the CPU raise at the call, with the same message and no note."""
    inputs, call, exc, msg, _ = _BAD_CALLS[name]
    with pytest.raises(exc, match=f"^[^[]*{msg}[^[]*$"):
        call(*inputs("cpu"))


@needs_cuda
@pytest.mark.parametrize("name", sorted(_BAD_CALLS))
def test_invalid_input_raises_at_the_next_read(clean_checks, name):
    inputs, call, exc, msg, op = _BAD_CALLS[name]
    args = inputs("cuda")
    call(*args)  # no synchronization here, so no error yet
    with pytest.raises(exc, match=f"{msg}.*raised by an earlier call of {op}"):
        tg.ones(1, device="cuda").item()
    tg.ones(1, device="cuda").item()  # raised once


@needs_cuda
@pytest.mark.parametrize("read", ["tolist", "repr", "cpu", "bool", "int", "numpy", "synchronize"])
def test_every_read_raises_pending_checks(clean_checks, read):
    x, i = tg.arange(3.0, device="cuda"), _int([5])
    t = tg.ones(1, device="cuda")
    x[i]
    reads = {"tolist": t.tolist, "repr": lambda: repr(t), "cpu": t.cpu, "bool": lambda: bool(t),
             "int": lambda: int(t), "numpy": lambda: t.numpy(force=True), "synchronize": tg.cuda.synchronize}
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        reads[read]()


@needs_cuda
@pytest.mark.parametrize("name", sorted(_BAD_CALLS))
def test_eager_checks_raise_at_the_call(clean_checks, name):
    inputs, call, exc, msg, _ = _BAD_CALLS[name]
    args = inputs("cuda")
    tg.cuda.set_eager_checks(True)
    try:
        with pytest.raises(exc, match=msg):
            call(*args)
    finally:
        tg.cuda.set_eager_checks(False)


@needs_cuda
@pytest.mark.parametrize("name", sorted(_BAD_CALLS))
def test_invalid_input_does_not_synchronize(detector, clean_checks, name):
    inputs, call, *_ = _BAD_CALLS[name]
    args = inputs("cuda")
    call(*args)  # warm-up: kernels compiled
    device_checks.discard()
    synced, _ = detector(lambda: call(*args))
    device_checks.discard()
    assert not synced


@needs_cuda
def test_deferred_gathers_stay_in_bounds(clean_checks):
    """Until its check is read, an invalid index is clamped: the op reads inside its array."""
    x = tg.arange(4.0, device="cuda")
    y = x[_int([1, 100, -100])]
    z = tg.nn.functional.embedding(_int([5]), tg.eye(3, device="cuda"))
    device_checks.discard()  # drop the errors to look at the values
    assert y.tolist() == [1.0, 3.0, 0.0]
    assert z.tolist() == [[0.0, 0.0, 1.0]]


@needs_cuda
def test_valid_checks_leave_nothing_pending(clean_checks):
    x = tg.arange(6.0, device="cuda").reshape(2, 3)
    x[_int([1, 0])]
    tg.gather(x, 1, _int([[0, 2], [1, 1]]))
    tg.floor_divide(_int([4]), _int([3]))
    assert device_checks.pending_count() == 3  # indexing, gather, floor_divide
    tg.cuda.synchronize()
    assert device_checks.pending_count() == 0


# ---------------------------------------------------------------- branch-free ops match the CPU
@needs_cuda
def test_int_pow_negative_exponent_matches_cpu():
    a, b = [2, 1, -1, -1, 3, 0], [-1, -3, -3, -2, 2, 0]
    cpu = tg.pow(tg.tensor(a), tg.tensor(b)).tolist()
    assert tg.pow(_int(a), _int(b)).tolist() == cpu == [0, 1, -1, 1, 9, 1]


@needs_cuda
@pytest.mark.parametrize("vals", [[[2.0, 3.0, 4.0], [1.0, 5.0, 0.5]], [[0.0, 3.0, 4.0], [0.0, 0.0, 2.0]]])
@pytest.mark.parametrize("dim", [None, 1])
def test_prod_backward_matches_cpu(vals, dim):
    grads = []
    for device in ("cpu", "cuda"):
        x = tg.tensor(vals, dtype=tg.float64, device=device, requires_grad=True)
        y = x.prod() if dim is None else x.prod(dim)
        (g,) = tg.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = tg.autograd.grad((g * g).sum(), x)
        grads.append((g.tolist(), gg.tolist()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-12)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12)
