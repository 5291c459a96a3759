"""Conv2d on CUDA through cuDNN's graph API, by NVIDIA's own Python package (`import cudnn`,
pip package nvidia-cudnn-frontend, with the cuDNN runtime from nvidia-cudnn-cu13).

CuPy 14 no longer binds cuDNN, so this is the one place that talks to it. Three directions, the
same three ops as ops/conv.py's Convolution / ConvInputGrad / ConvWeightGrad:

  fprop(x, w, b, g)           y  = conv(x, w) (+ b)        cudnn pygraph.conv_fprop
  dgrad(gy, w, g, in_shape)   gx = conv's adjoint in x      cudnn pygraph.conv_dgrad
  wgrad(x, gy, g, w_shape)    gw = conv's adjoint in w      cudnn pygraph.conv_wgrad

A graph is built once per (direction, shapes, strides, padding, stride, dilation, groups, dtype,
device): validate, build_operation_graph, create_execution_plans([heur_mode.A, FALLBACK]), note
filters (no TF32 or down-converted inputs for float32/float64, no reduced-precision reduction for
float16, no non-deterministic engines: the results match the im2col + cuBLAS path), check_support,
then the first plan of the ranked list that builds. Each call takes a workspace from CuPy's pool and
runs on CuPy's current stream (cudnn.set_stream on a per-thread, per-device handle).

Anything cuDNN does not take (a dtype, a geometry no engine supports, a missing library) raises
Unsupported, and fused/conv_algo.py, the chooser, runs the im2col path instead. The package is
imported lazily, at the first CUDA convolution: `import tensorgrad` never touches it, and
available() / unavailable_reason() say whether it can be used and why not.
"""
from __future__ import annotations

import ctypes
import glob
import os
import sys
import threading


from .. import backend


class Unsupported(Exception):
    """cuDNN cannot run this convolution (library absent, dtype or geometry not supported)."""


# float64 is included: cuDNN has FP64 convolution engines (among the fallback ones); where none
# builds for a configuration, that configuration falls back to im2col like any other decline
_DTYPES = ("float16", "float32", "float64")
DETERMINISTIC = True   # deselect engines with the NONDETERMINISTIC numerical note (atomics)
ALLOW_TF32 = False     # float32 on tensor cores rounds inputs to TF32: not what cuBLAS gives here

_lock = threading.RLock()
_probe: dict = {}                 # "module", "reason", "version", once probed
_graphs: dict = {}                # key -> _Plan, or the Unsupported it raised
_handles = threading.local()      # per thread: device id -> cudnn.Handle


# ---------------------------------------------------------------- loading and availability
def _preload_libcudnn() -> None:
    """Load libcudnn.so.9 from the nvidia-cudnn-cu13 (or -cu12) wheel before `import cudnn`.

    The frontend looks for the library in LD_LIBRARY_PATH and in sysconfig's purelib only, then
    falls back to dlopen("libcudnn.so.9"). When the wheel sits in another site-packages folder (a
    distro Python's dist-packages, a --target install of the frontend elsewhere), only that last
    dlopen can succeed, and it does once the library is loaded: a soname already in the process is
    reused. cuda.pathfinder (a CuPy 14 dependency) finds it with its dependency cublasLt; failing
    that, every sys.path entry's nvidia/cudnn/lib is tried."""
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib
        load_nvidia_dynamic_lib("cudnn")
        return
    except Exception:  # not installed, no library found: try the folders ourselves
        pass
    for entry in sys.path:
        for lib in sorted(glob.glob(os.path.join(entry or ".", "nvidia", "cudnn", "lib", "libcudnn.so.*[0-9]"))):
            try:
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
                return
            except OSError:
                continue


def _load():
    """The cudnn module, or raise Unsupported with the reason (probed once, remembered)."""
    if _probe:
        if _probe["module"] is None:
            raise Unsupported(_probe["reason"])
        return _probe["module"]
    with _lock:
        if _probe:
            return _load()
        module, reason, version = None, None, None
        cuda_reason = backend.cuda_unavailable_reason()
        if cuda_reason:
            reason = f"CUDA is not available: {cuda_reason}"
        else:
            try:
                if "cudnn" not in sys.modules:
                    _preload_libcudnn()
                import cudnn as module
            except Exception as e:  # ImportError, or the package's own loader failing
                module = None
                reason = (f"the cuDNN frontend cannot be imported (pip install nvidia-cudnn-frontend "
                          f"nvidia-cudnn-cu13, or tensorgrad-autodiff[cuda13]): {type(e).__name__}: {e}")
            if module is not None:
                try:
                    version = int(module.backend_version())
                    _handle(module, backend.cupy().cuda.Device().id)
                except Exception as e:  # libcudnn.so.9 not found, or it cannot make a handle
                    module = None
                    reason = (f"the cuDNN frontend imports but the cuDNN library (nvidia-cudnn-cu13) "
                              f"cannot be used: {type(e).__name__}: {e}")
        _probe.update(module=module, reason=reason, version=version)
    return _load()


def available() -> bool:
    """Whether convolutions can run through cuDNN here (a GPU, the frontend and libcudnn)."""
    return unavailable_reason() is None


def unavailable_reason() -> str | None:
    """None when cuDNN can be used, else a sentence saying why not."""
    try:
        _load()
    except Unsupported as e:
        return str(e)
    return None


def info() -> dict:
    """What was found: available, reason, the frontend's and the backend's version."""
    reason = unavailable_reason()
    module = _probe.get("module")
    return {"available": reason is None, "reason": reason,
            "frontend_version": getattr(module, "__version__", None) if module else None,
            "backend_version": _probe.get("version")}


def reset() -> None:
    """Forget the probe, the built graphs and the handles (tests)."""
    with _lock:
        _probe.clear()
        _graphs.clear()
        _handles.__dict__.clear()


def _handle(cudnn, device_id: int):
    """This thread's cuDNN handle on `device_id` (a handle must not be shared across threads)."""
    by_device = _handles.__dict__.setdefault("by_device", {})
    h = by_device.get(device_id)
    if h is None:
        with backend.cupy().cuda.Device(device_id):
            h = by_device[device_id] = cudnn.create_handle()
    return h


# ---------------------------------------------------------------- graphs
def _cudnn_types(cudnn, dtype_name: str):
    """(io data type, compute data type, numerical notes to deselect) for a NumPy dtype name."""
    dt, notes = cudnn.data_type, cudnn.numerical_note
    bad = [notes.NONDETERMINISTIC] if DETERMINISTIC else []
    if dtype_name == "float16":
        return dt.HALF, dt.FLOAT, bad + [notes.REDUCED_PRECISION_REDUCTION]
    if dtype_name == "float32":
        return dt.FLOAT, dt.FLOAT, bad + ([] if ALLOW_TF32 else [notes.TENSOR_CORE, notes.DOWN_CONVERT_INPUTS])
    if dtype_name == "float64":
        return dt.DOUBLE, dt.DOUBLE, bad + [notes.DOWN_CONVERT_INPUTS]
    raise Unsupported(f"cuDNN convolution is not used for {dtype_name} (only {', '.join(_DTYPES)})")


def _row_major(shape) -> list:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return strides[::-1]


def _conv_attrs(g) -> dict:
    t, b, l, r = g.pads
    return dict(pre_padding=[t, l], post_padding=[b, r], stride=[g.sh, g.sw], dilation=[g.dh, g.dw])


def build_graph(cudnn, direction: str, a_shape, b_shape, out_shape, g, dtype_name: str, handle=None):
    """The (unplanned) cudnn.pygraph of one direction: (graph, input A, input B, output, notes).

    fprop: A = x (N, C, H, W), B = w (O, C/groups, kh, kw), out = y (N, O, OH, OW)
    dgrad: A = gy (N, O, OH, OW), B = w, out = gx (N, C, H, W)
    wgrad: A = x, B = gy, out = gw (O, C/groups, kh, kw)
    All dense NCHW (row-major). Groups are implied by x's C over w's C/groups, as cuDNN reads them;
    the output dims are set explicitly (dgrad and wgrad cannot infer them)."""
    io, compute, notes = _cudnn_types(cudnn, dtype_name)
    graph = cudnn.pygraph(io_data_type=io, intermediate_data_type=compute, compute_data_type=compute,
                          handle=handle)
    a = graph.tensor(name="A", dim=list(a_shape), stride=_row_major(a_shape), data_type=io)
    b = graph.tensor(name="B", dim=list(b_shape), stride=_row_major(b_shape), data_type=io)
    attrs = _conv_attrs(g)
    if direction == "fprop":
        out = graph.conv_fprop(image=a, weight=b, compute_data_type=compute, name="fprop", **attrs)
    elif direction == "dgrad":
        out = graph.conv_dgrad(loss=a, filter=b, compute_data_type=compute, name="dgrad", **attrs)
    elif direction == "wgrad":
        out = graph.conv_wgrad(image=a, loss=b, compute_data_type=compute, name="wgrad", **attrs)
    else:
        raise ValueError(f"unknown convolution direction {direction!r}")
    out.set_output(True).set_data_type(io).set_dim(list(out_shape)).set_stride(_row_major(out_shape))
    return graph, a, b, out, notes


class _Plan:
    """A built graph: its tensors and workspace size."""

    __slots__ = ("graph", "a", "b", "out", "workspace", "name")

    def __init__(self, graph, a, b, out, workspace, name):
        self.graph, self.a, self.b, self.out, self.workspace, self.name = graph, a, b, out, workspace, name


def _plan(cudnn, key, direction, a_shape, b_shape, out_shape, g, dtype_name, device_id) -> _Plan:
    """The built graph for `key`, built on first use; a decline is remembered and re-raised."""
    hit = _graphs.get(key)
    if hit is None:
        with _lock:
            hit = _graphs.get(key)
            if hit is None:
                try:
                    hit = _build(cudnn, direction, a_shape, b_shape, out_shape, g, dtype_name, device_id)
                except Unsupported as e:
                    hit = e
                except Exception as e:  # cudnnGraphNotSupportedError, or a RuntimeError from a build step
                    hit = Unsupported(f"cuDNN declined {direction} {a_shape} x {b_shape} ({dtype_name}): "
                                      f"{type(e).__name__}: {e}")
                _graphs[key] = hit
    if isinstance(hit, Unsupported):
        raise hit
    return hit


def _build(cudnn, direction, a_shape, b_shape, out_shape, g, dtype_name, device_id) -> _Plan:
    handle = _handle(cudnn, device_id)
    with backend.cupy().cuda.Device(device_id):
        graph, a, b, out, notes = build_graph(cudnn, direction, a_shape, b_shape, out_shape, g, dtype_name, handle)
        graph.validate()
        graph.build_operation_graph()
        graph.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.FALLBACK])
        if notes:
            graph.deselect_numeric_notes(notes)
        graph.check_support()
        # the first plan of the ranked list that builds (a deselected one refuses to), selected
        errors = []
        for i in range(graph.get_execution_plan_count()):
            try:
                graph.build_plan_at_index(i)
                break
            except Exception as e:  # a declined or deselected plan: try the next
                errors.append(f"[{i}] {e}")
        else:
            raise Unsupported("no cuDNN plan builds: " + "; ".join(errors[:4]))
        workspace = int(graph.get_workspace_size())
        name = graph.get_plan_name_at_index(i)
    return _Plan(graph, a, b, out, workspace, name)


# ---------------------------------------------------------------- running
def _operand(cp, arr):
    """`arr` as a dense, 16-byte aligned CuPy array (the layout the graph declares)."""
    if not arr.flags.c_contiguous or arr.data.ptr % 16:
        arr = cp.array(arr, order="C", copy=True)
    return arr


def _key(direction, a, b, out_shape, g, device_id):
    # per thread, as the handle a plan is built with (PyTorch keeps its cuDNN plans per thread too);
    # the engine filters too, which are module settings a caller may change
    return (direction, a.shape, a.strides, b.shape, b.strides, tuple(out_shape), g.pads, (g.sh, g.sw),
            (g.dh, g.dw), g.groups, a.dtype.name, device_id, threading.get_ident(), DETERMINISTIC, ALLOW_TF32)


def _run(direction, a, b, out_shape, g):
    cudnn = _load()
    cp = backend.cupy()
    if a.dtype.name not in _DTYPES or a.dtype != b.dtype:
        raise Unsupported(f"cuDNN convolution is not used for {a.dtype.name} (only {', '.join(_DTYPES)})")
    if 0 in a.shape or 0 in b.shape or 0 in tuple(out_shape):
        raise Unsupported("empty convolution")
    device_id = a.device.id
    with a.device:
        a, b = _operand(cp, a), _operand(cp, b)
        key = _key(direction, a, b, out_shape, g, device_id)
        plan = _plan(cudnn, key, direction, a.shape, b.shape, out_shape, g, a.dtype.name, device_id)
        out = cp.empty(out_shape, dtype=a.dtype)
        workspace = cp.empty(max(plan.workspace, 1), dtype=cp.uint8)
        handle = _handle(cudnn, device_id)
        cudnn.set_stream(handle, cp.cuda.get_current_stream().ptr)
        plan.graph.execute({plan.a: a, plan.b: b, plan.out: out}, workspace, handle=handle)
    return out


def plan_name(direction, a, b, out_shape, g) -> str | None:
    """The cuDNN engine a built configuration runs (introspection), None if not built or declined."""
    hit = _graphs.get(_key(direction, a, b, out_shape, g, a.device.id))
    return hit.name if isinstance(hit, _Plan) else None


def fprop(x, w, b, g):
    """y = conv2d(x, w) (+ b) for CuPy arrays x (N, C, H, W), w (O, C/groups, kh, kw)."""
    y = _run("fprop", x, w, (x.shape[0], w.shape[0], g.oh, g.ow), g)
    if b is not None:
        with y.device:  # the add's kernel runs on y's device, whichever is current
            y += b.reshape(1, -1, 1, 1)
    return y


def dgrad(gy, w, g, in_shape):
    """gx (in_shape) = the adjoint of conv2d in its input applied to gy (N, O, OH, OW)."""
    return _run("dgrad", gy, w, tuple(in_shape), g)


def wgrad(x, gy, g, w_shape):
    """gw (w_shape) = the adjoint of conv2d in its weight: x (N, C, H, W) against gy (N, O, OH, OW)."""
    return _run("wgrad", x, gy, tuple(w_shape), g)


__all__ = ["Unsupported", "available", "unavailable_reason", "info", "reset", "build_graph",
           "fprop", "dgrad", "wgrad", "plan_name"]
