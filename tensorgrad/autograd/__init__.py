"""tensorgrad.autograd: the tape, backward, grad(), custom Functions and gradient checks."""
from __future__ import annotations

from .anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .engine import run_backward, edge_of
from .function import Function, FunctionCtx
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import gradcheck, gradgradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled", "gradcheck", "gradgradcheck", "detect_anomaly",
           "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _make_grads(outputs, grad_outputs):
    """Check each seed gradient against its output, or make ones for a scalar output."""
    from ..tensor import Tensor
    from ..backend import xp_of
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward: output {i} is a {type(out).__name__}, expected a Tensor")
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; output {i} has "
                                   f"shape {list(out._data.shape)}: pass gradient= (grad_outputs=) a tensor "
                                   f"of that shape")
            g = Tensor._make(xp_of(out._data).ones_like(out._data), None, 0, None)
        else:
            if not isinstance(g, Tensor):
                raise TypeError(f"backward: gradient for output {i} must be a Tensor, got {type(g).__name__}")
            if g._data.shape != out._data.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {list(g._data.shape)} "
                                   f"and output[{i}] has a shape of {list(out._data.shape)}.")
            if g.device != out.device:
                raise RuntimeError(f"backward: grad_output[{i}] is on {g.device} but output[{i}] is on "
                                   f"{out.device}; move it with .to()")
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``tensorgrad.autograd.backward``: backward from several outputs at once."""
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = [inputs] if not isinstance(inputs, (tuple, list)) else list(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        for t, g in zip(tensors, grad_tensors):  # simple and exact, if not the fastest
            t.backward(g, retain_graph=True if len(tensors) > 1 else retain_graph,
                       create_graph=create_graph, inputs=inputs)
        return
    run_backward(tensors, _make_grads(tensors, grad_tensors), retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of `outputs` with respect to `inputs`, returned (not accumulated into ``.grad``).
    only_inputs is PyTorch's deprecated no-op (WGAN-GP code passes it); is_grads_batched is not
    supported."""
    if not only_inputs:
        import warnings
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to True). To accumulate "
                      "gradient for other parts of the graph, please use torch.autograd.backward.",
                      FutureWarning, stacklevel=2)
    if is_grads_batched:
        raise NotImplementedError("autograd.grad(is_grads_batched=True) is not supported by tensorgrad; loop over "
                                  "the batch of grad_outputs (or use tensorgrad.func.vmap)")
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    edges = []
    for i, t in enumerate(inputs):
        e = edge_of(t)
        if e is None:
            raise RuntimeError(f"grad: input {i} (shape {list(t.shape)}) does not require grad; "
                               f"call requires_grad_() on it before the forward pass")
        edges.append(e)
    capture = {}
    for e in edges:
        capture.setdefault(e, len(capture))
    captured = run_backward(outputs, _make_grads(outputs, grad_outputs), retain_graph, create_graph,
                            capture=capture, accumulate=False)
    result = []
    for i, (t, e) in enumerate(zip(inputs, edges)):
        g = captured[capture[e]]
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} appears to not have been used in the graph. Set "
                                   f"allow_unused=True if this is the desired behavior.")
            if materialize_grads:
                from ..creation import zeros_like
                g = zeros_like(t)
        result.append(g)
    return tuple(result)
