"""Convolution through cuDNN (fused/cudnn_conv.py) and the chooser between it and im2col + cuBLAS
(fused/conv_algo.py).

Here on any machine: the chooser's logic with stand-in paths and timings, TENSORGRAD_CONV_ALGO,
and cuDNN's graceful absence (no GPU, no frontend, no library). On a GPU with the cuDNN frontend
importable (pip install nvidia-cudnn-frontend nvidia-cudnn-cu13): forward, input gradient and
weight gradient against the im2col path and PyTorch over a grid of geometries and dtypes, the
chooser measuring and caching, the variable forcing either path. Those skip, saying which of the
two is missing, elsewhere.
"""
from __future__ import annotations

import os
import subprocess
import sys
import types

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import backend
from tensorgrad.fused import conv_algo, cudnn_conv
from tensorgrad.ops.conv import Convolution, ConvInputGrad, ConvWeightGrad, Geometry
from oracle import needs_torch, rand, torch


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    """Every test starts with no remembered choice and TENSORGRAD_CONV_ALGO unset; a test that
    fakes cuDNN's probe leaves no fake behind."""
    monkeypatch.delenv(conv_algo.ENV, raising=False)
    conv_algo.reset()
    yield
    conv_algo.reset()


@pytest.fixture
def fake_probe(monkeypatch):
    """Re-run cuDNN's probe under the test's fakes, and probe afresh afterwards."""
    cudnn_conv.reset()
    yield
    monkeypatch.undo()
    cudnn_conv.reset()


# ---------------------------------------------------------------- graceful absence (CPU)
def test_import_tensorgrad_does_not_import_cudnn():
    code = ("import sys, tensorgrad, tensorgrad.ops.conv, tensorgrad.fused.conv_algo; "
            "print('cudnn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False"


def test_without_cuda_the_reason_says_so(monkeypatch, fake_probe):
    monkeypatch.setattr(backend, "cuda_unavailable_reason", lambda: "no GPU here")
    assert not cudnn_conv.available()
    assert cudnn_conv.unavailable_reason() == "CUDA is not available: no GPU here"
    with pytest.raises(cudnn_conv.Unsupported, match="no GPU here"):
        cudnn_conv._load()


def test_without_the_frontend_the_reason_names_the_package(monkeypatch, fake_probe):
    monkeypatch.setattr(backend, "cuda_unavailable_reason", lambda: None)
    monkeypatch.setattr(cudnn_conv, "_preload_libcudnn", lambda: None)
    monkeypatch.setitem(sys.modules, "cudnn", None)          # `import cudnn` raises ImportError
    assert not cudnn_conv.available()
    reason = cudnn_conv.unavailable_reason()
    assert "nvidia-cudnn-frontend" in reason and "cannot be imported" in reason
    assert cudnn_conv.info()["available"] is False


def test_without_the_library_the_reason_names_the_runtime_wheel(monkeypatch, fake_probe):
    def no_library():
        raise RuntimeError("Unable to find symbol cudnnGetVersion")  # what the frontend raises then
    monkeypatch.setattr(backend, "cuda_unavailable_reason", lambda: None)
    monkeypatch.setitem(sys.modules, "cudnn", types.SimpleNamespace(backend_version=no_library))
    reason = cudnn_conv.unavailable_reason()
    assert "nvidia-cudnn-cu13" in reason and "cudnnGetVersion" in reason


def test_unavailable_cudnn_makes_the_chooser_run_im2col(monkeypatch, fake_probe):
    monkeypatch.setattr(backend, "cuda_unavailable_reason", lambda: "no GPU here")
    calls = []
    out = conv_algo.run(("fprop", 1), lambda: calls.append("im2col") or "i", lambda: calls.append("cudnn"))
    assert out == "i" and calls == ["im2col"]
    assert conv_algo.choices() == {("fprop", 1): "im2col"}
    assert "no GPU here" in conv_algo.reasons()[("fprop", 1)]


def test_cpu_convolutions_never_reach_the_chooser():
    x, w = tg.tensor(rand(2, 3, 6, 6)).requires_grad_(), tg.tensor(rand(4, 3, 3, 3)).requires_grad_()
    tg.nn.functional.conv2d(x, w, padding=1).sum().backward()
    assert not conv_algo.counts and not conv_algo.choices()


# ---------------------------------------------------------------- the chooser's logic (CPU)
class Paths:
    """Stand-in paths: each returns its name and counts its calls; cudnn may raise instead."""

    def __init__(self, cudnn_raises=None):
        self.calls = {"im2col": 0, "cudnn": 0}
        self.cudnn_raises = cudnn_raises

    def im2col(self):
        self.calls["im2col"] += 1
        return "im2col-result"

    def cudnn(self):
        self.calls["cudnn"] += 1
        if self.cudnn_raises is not None:
            raise self.cudnn_raises
        return "cudnn-result"


@pytest.fixture
def cudnn_usable(monkeypatch):
    monkeypatch.setattr(cudnn_conv, "unavailable_reason", lambda: None)


def stand_in_timer(ms):
    """A timer that runs the path `reps` times and reports ms[algo] instead of measuring."""
    def timer(algo, fn, reps, device):
        for _ in range(reps):
            out = fn()
        return out, ms[algo]
    return timer


@pytest.mark.parametrize("fast", ["cudnn", "im2col"])
def test_auto_measures_once_then_runs_the_faster(monkeypatch, cudnn_usable, fast):
    slow = "im2col" if fast == "cudnn" else "cudnn"
    monkeypatch.setattr(conv_algo, "_timer", stand_in_timer({fast: 1.0, slow: 3.0}))
    p, key = Paths(), ("fprop", (2, 3, 8, 8), "float32")
    assert conv_algo.run(key, p.im2col, p.cudnn) == f"{fast}-result"
    per_path = conv_algo.WARMUP + conv_algo.REPS
    assert p.calls == {"im2col": per_path, "cudnn": per_path}      # both timed, once
    assert conv_algo.choices() == {key: fast}
    assert conv_algo.timings() == {key: {fast: 1.0, slow: 3.0}}
    for _ in range(3):
        assert conv_algo.run(key, p.im2col, p.cudnn) == f"{fast}-result"
    assert p.calls[fast] == per_path + 3 and p.calls[slow] == per_path  # remembered: no more timing
    assert conv_algo.counts[("fprop", fast)] == 4


def test_each_configuration_and_direction_is_measured_on_its_own(monkeypatch, cudnn_usable):
    ms = {"cudnn": 1.0, "im2col": 2.0}
    monkeypatch.setattr(conv_algo, "_timer", stand_in_timer(ms))
    p = Paths()
    conv_algo.run(("fprop", "A"), p.im2col, p.cudnn)
    ms.update(cudnn=5.0)
    conv_algo.run(("wgrad", "A"), p.im2col, p.cudnn)   # same shapes, other direction
    conv_algo.run(("fprop", "B"), p.im2col, p.cudnn)   # other shapes
    assert conv_algo.choices() == {("fprop", "A"): "cudnn", ("wgrad", "A"): "im2col", ("fprop", "B"): "im2col"}


def test_a_declined_configuration_falls_back_silently_and_is_remembered(monkeypatch, cudnn_usable, recwarn):
    monkeypatch.setattr(conv_algo, "_timer", stand_in_timer({"cudnn": 1.0, "im2col": 2.0}))
    p, key = Paths(cudnn_raises=cudnn_conv.Unsupported("no engine for this")), ("dgrad", 7)
    for _ in range(3):
        assert conv_algo.run(key, p.im2col, p.cudnn) == "im2col-result"
    assert p.calls == {"im2col": 3, "cudnn": 1}
    assert conv_algo.choices() == {key: "im2col"} and conv_algo.reasons() == {key: "no engine for this"}
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_a_declined_configuration_falls_back_when_cudnn_is_forced(monkeypatch, cudnn_usable):
    monkeypatch.setenv(conv_algo.ENV, "cudnn")
    p, key = Paths(cudnn_raises=cudnn_conv.Unsupported("float64: no engine")), ("wgrad", 1)
    assert conv_algo.run(key, p.im2col, p.cudnn) == "im2col-result"
    assert conv_algo.run(key, p.im2col, p.cudnn) == "im2col-result"
    assert p.calls == {"im2col": 2, "cudnn": 1}


def test_an_unexpected_cudnn_error_falls_back_with_a_warning(monkeypatch, cudnn_usable):
    p, key = Paths(cudnn_raises=RuntimeError("CUDNN_STATUS_INTERNAL_ERROR")), ("fprop", 3)
    with pytest.warns(RuntimeWarning, match="CUDNN_STATUS_INTERNAL_ERROR"):
        assert conv_algo.run(key, p.im2col, p.cudnn) == "im2col-result"
    assert conv_algo.run(key, p.im2col, p.cudnn) == "im2col-result"
    assert p.calls["cudnn"] == 1 and "INTERNAL_ERROR" in conv_algo.reasons()[key]


def test_an_error_after_cudnn_ran_the_configuration_is_raised(monkeypatch, cudnn_usable):
    monkeypatch.setenv(conv_algo.ENV, "cudnn")
    p, key = Paths(), ("fprop", 4)
    assert conv_algo.run(key, p.im2col, p.cudnn) == "cudnn-result"
    p.cudnn_raises = RuntimeError("illegal address")
    with pytest.raises(RuntimeError, match="illegal address"):
        conv_algo.run(key, p.im2col, p.cudnn)


def test_the_variable_forces_either_path(monkeypatch, cudnn_usable):
    monkeypatch.setattr(conv_algo, "_timer", stand_in_timer({"cudnn": 9.0, "im2col": 1.0}))
    p, key = Paths(), ("fprop", 5)
    assert conv_algo.run(key, p.im2col, p.cudnn) == "im2col-result"   # auto: im2col measured faster
    monkeypatch.setenv(conv_algo.ENV, "cudnn")
    before = dict(p.calls)
    assert conv_algo.run(key, p.im2col, p.cudnn) == "cudnn-result"    # forced, despite the timing
    assert p.calls == {"im2col": before["im2col"], "cudnn": before["cudnn"] + 1}
    monkeypatch.setenv(conv_algo.ENV, "IM2COL")
    q = Paths()
    assert conv_algo.run(("fprop", 6), q.im2col, q.cudnn) == "im2col-result"
    assert q.calls == {"im2col": 1, "cudnn": 0} and ("fprop", 6) not in conv_algo.choices()


def test_forcing_im2col_does_not_even_probe_cudnn(monkeypatch):
    monkeypatch.setenv(conv_algo.ENV, "im2col")
    monkeypatch.setattr(cudnn_conv, "unavailable_reason", lambda: pytest.fail("probed cuDNN"))
    p = Paths()
    assert conv_algo.run(("fprop", 0), p.im2col, p.cudnn) == "im2col-result"


def test_an_unknown_setting_is_an_error(monkeypatch):
    monkeypatch.setenv(conv_algo.ENV, "winograd")
    with pytest.raises(ValueError, match="auto, cudnn, im2col"):
        conv_algo.run(("fprop", 0), Paths().im2col, Paths().cudnn)


def test_graph_description_needs_no_gpu():
    """The cuDNN graph of each direction, built (not planned) where the frontend imports."""
    cudnn = pytest.importorskip("cudnn", reason="nvidia-cudnn-frontend is not installed")
    g = Geometry((3, 3), (2, 1), (1, 2), (1, 2, 0, 1), 2, (4, 5))
    x, w, y = (2, 4, 8, 9), (6, 2, 3, 3), (2, 6, 4, 5)
    for direction, a, b, out in (("fprop", x, w, y), ("dgrad", y, w, x), ("wgrad", x, y, w)):
        graph, ta, tb, to, notes = cudnn_conv.build_graph(cudnn, direction, a, b, out, g, "float32")
        assert list(to.get_dim()) == list(out) and list(ta.get_dim()) == list(a)
        (node,) = graph.nodes
        assert node.params == {"pre_padding": [1, 0], "post_padding": [2, 1], "stride": [2, 1], "dilation": [1, 2]}
        assert cudnn.numerical_note.TENSOR_CORE in notes          # no TF32 for float32
    with pytest.raises(cudnn_conv.Unsupported, match="int32"):
        cudnn_conv.build_graph(cudnn, "fprop", x, w, y, g, "int32")


# ---------------------------------------------------------------- on a GPU with cuDNN
def _gpu_skip_reason():
    reason = backend.cuda_unavailable_reason()
    if reason:
        return f"needs a CUDA GPU: {reason}"
    reason = cudnn_conv.unavailable_reason()
    if reason:
        return f"needs cuDNN through its Python frontend: {reason}"
    return None


needs_cudnn = pytest.mark.skipif(_gpu_skip_reason() is not None, reason=str(_gpu_skip_reason()))

# (N, C, H, W), (O, C/groups, kh, kw), stride, dilation, pads (top, bottom, left, right), groups
GRID = [
    ((2, 3, 9, 9), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),
    ((2, 4, 10, 8), (6, 2, 3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 2),
    ((1, 6, 11, 9), (6, 1, 3, 3), (1, 1), (2, 2), (2, 2, 2, 2), 6),        # depthwise, dilated
    ((3, 8, 7, 7), (16, 8, 1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1),       # 1x1
    ((2, 4, 12, 10), (8, 4, 5, 3), (2, 3), (1, 2), (2, 2, 1, 1), 1),      # rectangular everything
    ((2, 4, 8, 8), (4, 4, 2, 2), (1, 1), (1, 1), (0, 1, 0, 1), 1),        # asymmetric: padding='same'
]
TOL = {"float64": dict(rtol=1e-10, atol=1e-10), "float32": dict(rtol=1e-4, atol=1e-4),
       "float16": dict(rtol=5e-2, atol=5e-2)}


def _geometry(xs, ws, stride, dilation, pads, groups):
    oh = (xs[2] + pads[0] + pads[1] - dilation[0] * (ws[2] - 1) - 1) // stride[0] + 1
    ow = (xs[3] + pads[2] + pads[3] - dilation[1] * (ws[3] - 1) - 1) // stride[1] + 1
    return Geometry(ws[2:], stride, dilation, pads, groups, (oh, ow))


def _torch_reference(x, w, gy, g):
    """y, gx, gw in float64 by PyTorch (CPU), padding applied explicitly (it may be asymmetric)."""
    t, b, l, r = g.pads
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (l, r, t, b)), wt, stride=(g.sh, g.sw),
                                   dilation=(g.dh, g.dw), groups=g.groups)
    y.backward(torch.tensor(gy, dtype=torch.float64))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


@needs_cudnn
@needs_torch
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("case", GRID, ids=lambda c: "x{}w{}s{}d{}p{}g{}".format(*c).replace(" ", ""))
def test_cudnn_matches_im2col_and_torch(dtype, case):
    cp = backend.cupy()
    g = _geometry(*case)
    xs, ws = case[0], case[1]
    x, w = rand(*xs, dtype=dtype, low=-1, high=1), rand(*ws, dtype=dtype, low=-1, high=1)
    gy = rand(xs[0], ws[0], g.oh, g.ow, dtype=dtype, low=-1, high=1)
    want = _torch_reference(x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64), g)
    xd, wd, gyd = cp.asarray(x), cp.asarray(w), cp.asarray(gy)
    im2col = (Convolution(g)._im2col(xd, wd), ConvInputGrad(g, xs)._im2col(gyd, wd),
              ConvWeightGrad(g, ws)._im2col(xd, gyd))
    try:
        got = (cudnn_conv.fprop(xd, wd, None, g), cudnn_conv.dgrad(gyd, wd, g, xs), cudnn_conv.wgrad(xd, gyd, g, ws))
    except cudnn_conv.Unsupported as e:
        if dtype == "float32" and g.pads[0] == g.pads[1] and g.pads[2] == g.pads[3]:
            raise  # symmetric float32 convolutions are cuDNN's bread and butter: must run
        pytest.skip(f"cuDNN declines this configuration (im2col runs it): {e}")
    for name, a, b, ref in zip(("y", "gx", "gw"), got, im2col, want):
        assert a.dtype == np.dtype(dtype) and a.shape == ref.shape, name
        tol = TOL[dtype] if name != "gw" or dtype != "float16" else dict(rtol=1e-1, atol=2e-1)
        np.testing.assert_allclose(cp.asnumpy(a).astype(np.float64), ref, err_msg=f"{name} vs torch", **tol)
        np.testing.assert_allclose(cp.asnumpy(a).astype(np.float64), cp.asnumpy(b).astype(np.float64),
                                   err_msg=f"{name} vs im2col", **tol)


def _conv_step(device, algo, monkeypatch, dtype=np.float32, **kw):
    """conv2d forward and backward through the ops under TENSORGRAD_CONV_ALGO=algo."""
    monkeypatch.setenv(conv_algo.ENV, algo)
    x = tg.tensor(rand(2, 4, 9, 9, dtype=dtype), device=device).requires_grad_()
    w = tg.tensor(rand(6, 2, 3, 3, dtype=dtype), device=device).requires_grad_()
    b = tg.tensor(rand(6, dtype=dtype), device=device).requires_grad_()
    y = tg.nn.functional.conv2d(x, w, b, **kw)
    y.backward(tg.ones_like(y))
    return [t.detach().cpu().numpy() for t in (y, x.grad, w.grad, b.grad)]


@needs_cudnn
@pytest.mark.cuda
def test_the_variable_forces_each_path_through_the_ops(monkeypatch):
    kw = dict(stride=2, padding=1, groups=2)
    via_cudnn = _conv_step("cuda", "cudnn", monkeypatch, **kw)
    assert {d for (d, algo), n in conv_algo.counts.items() if algo == "cudnn" and n} == {"fprop", "dgrad", "wgrad"}
    conv_algo.reset()
    via_im2col = _conv_step("cuda", "im2col", monkeypatch, **kw)
    assert not any(algo == "cudnn" for _, algo in conv_algo.counts)
    for a, b in zip(via_cudnn, via_im2col):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@needs_cudnn
@pytest.mark.cuda
def test_auto_measures_each_configuration_once_on_the_gpu(monkeypatch):
    _conv_step("cuda", "auto", monkeypatch, padding=1, groups=2)
    chosen = conv_algo.choices()
    assert {k[0] for k in chosen} == {"fprop", "dgrad", "wgrad"}
    assert set(chosen.values()) <= {"cudnn", "im2col"}
    measured = conv_algo.timings()
    assert all(v["cudnn"] > 0 and v["im2col"] > 0 for v in measured.values())
    _conv_step("cuda", "auto", monkeypatch, padding=1, groups=2)
    assert conv_algo.choices() == chosen and conv_algo.timings() == measured   # cached
    assert sum(conv_algo.counts.values()) == 6


@needs_cudnn
@needs_torch
@pytest.mark.cuda
def test_conv_transpose2d_with_output_padding_through_cudnn(monkeypatch):
    monkeypatch.setenv(conv_algo.ENV, "cudnn")
    x, w = rand(2, 4, 5, 5, dtype=np.float32), rand(4, 3, 3, 3, dtype=np.float32)
    got = tg.nn.functional.conv_transpose2d(tg.tensor(x, device="cuda"), tg.tensor(w, device="cuda"),
                                            stride=2, padding=1, output_padding=1)
    want = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1,
                                                output_padding=1)
    np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-4, atol=1e-4)
    assert conv_algo.counts[("dgrad", "cudnn")] == 1, conv_algo.reasons()


@needs_cudnn
@pytest.mark.cuda
def test_strided_and_offset_inputs_are_made_dense_for_cudnn():
    cp = backend.cupy()
    g = _geometry((2, 3, 8, 8), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)
    base = cp.asarray(rand(2, 3, 8, 9, dtype=np.float32))
    x = base[..., 1:]                               # neither contiguous nor aligned
    w = cp.asarray(rand(4, 3, 3, 3, dtype=np.float32))
    got = cudnn_conv.fprop(x, w, None, g)
    want = Convolution(g)._im2col(cp.ascontiguousarray(x), w)
    np.testing.assert_allclose(cp.asnumpy(got), cp.asnumpy(want), rtol=1e-4, atol=1e-4)


@needs_cudnn
@pytest.mark.cuda
def test_cudnn_reports_what_it_found():
    found = cudnn_conv.info()
    assert found["available"] and found["backend_version"] >= 90000, found
