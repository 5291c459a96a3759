"""tensorgrad.autograd.functional: vjp, jvp, jacobian, hessian, vhp, hvp of a whole function, as
torch.autograd.functional (same arguments, same nested-tuple results, same strict-mode errors).

Everything is built on reverse mode (``autograd.grad``):
  * vjp is one backward pass; vhp is a backward pass through the (create_graph) gradient;
  * jvp and hvp use the double-backward trick: the vjp ``u -> J^T u`` is linear in u, so
    differentiating it with respect to a dummy ``u`` (zeros that require grad) in direction v gives
    ``J v`` without forward-mode AD;
  * jacobian runs one backward per output element (a row of J); hessian is the jacobian of the
    gradient.

A Tensor argument gives a Tensor result, a tuple gives a tuple (jacobian and hessian nest one
tuple level per tupled side: outputs outside, inputs inside). Results are detached unless
``create_graph=True``, in which case they can be differentiated again.
"""
from __future__ import annotations

from . import grad_mode  # (Tensor is imported where used: this module loads before tensorgrad.tensor)

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


# ------------------------------------------------------------------ argument handling
def _as_tuple(x, arg_name: str, fn_name: str):
    """(whether x was a tuple, x as a tuple of Tensors); anything else is a TypeError."""
    from ..tensor import Tensor
    if not isinstance(x, tuple):
        if not isinstance(x, Tensor):
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                            f"but the given {arg_name} has type {type(x)}.")
        return False, (x,)
    for i, el in enumerate(x):
        if not isinstance(el, Tensor):
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                            f"but the value at index {i} has type {type(el)}.")
    return True, x


def _unpack(res, was_tuple):
    """Undo _as_tuple on a result: `was_tuple` is a bool, or a pair (outer, inner) for nested tuples."""
    if isinstance(was_tuple, tuple):
        outer, inner = was_tuple
        if not inner:
            res = tuple(r[0] for r in res)
        return res if outer else res[0]
    return res if was_tuple else res[0]


def _prepare_inputs(inputs, create_graph: bool, need_graph: bool = True):
    """Fresh tensors to differentiate with respect to. Under create_graph an input that already
    requires grad is passed through a view, so the results stay connected to the caller's graph."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(res, create_graph: bool):
    """Detach (possibly nested tuples of) results unless the caller wants to differentiate them."""
    if isinstance(res, tuple):
        return tuple(_finish(r, create_graph) for r in res)
    if res is None or create_graph:
        return res
    return res.detach()


def _validate_v(v, other, other_is_tuple: bool, fn_name: str):
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(f"{fn_name}(): v is a tuple of invalid length: should be {len(other)} but got "
                               f"{len(v)}.")
        raise RuntimeError(f"{fn_name}(): the given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, other)):
        if tuple(a.shape) != tuple(b.shape):
            where = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(f"{fn_name}(): {where}v has invalid size: should be {list(b.shape)} but got "
                               f"{list(a.shape)}.")


def _check_requires_grad(tensors, kind: str, strict: bool, fn_name: str):
    """In strict mode, every one of `tensors` must depend differentiably on the inputs."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"{fn_name}(): the output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if t.requires_grad:
            continue
        if kind == "outputs":
            raise RuntimeError(f"{fn_name}(): output {i} of the user-provided function does not require "
                               f"gradients. The outputs must be computed in a differentiable manner from the "
                               f"input when running in strict mode.")
        if kind == "jacobian":
            raise RuntimeError(f"{fn_name}(): while computing the hessian, found that the jacobian of the "
                               f"user-provided function with respect to input {i} is independent of the input. "
                               f"This is not allowed in strict mode (a linear function has a constant jacobian).")
        raise RuntimeError(f"{fn_name}(): the gradient with respect to input {i} is independent of the inputs "
                           f"of the user-provided function. This is not allowed in strict mode.")


_INDEPENDENT = {  # what a missing gradient means, per stage, for the strict-mode error
    "back": "the output of the user-provided function is independent of input {i}",
    "back_trick": "the gradient with respect to the input is independent of entry {i} in the grad_outputs "
                  "when using the double backward trick to compute forward mode gradients",
    "double_back": "the jacobian of the user-provided function is independent of input {i}",
    "double_back_trick": "the hessian of the user-provided function is independent of entry {i} in the "
                         "grad_jacobian (the double backward trick needs it)",
}


def _fill_zeros(grads, refs, strict: bool, stage: str, fn_name: str):
    """Zeros for the gradients of inputs the outputs do not depend on (an error in strict mode)."""
    from ..creation import zeros_like
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn_name}(): " + _INDEPENDENT[stage].format(i=i)
                                   + ". This is not allowed in strict mode.")
            g = zeros_like(ref)
        out.append(g)
    return tuple(out)


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad over the outputs that are part of a graph (others contribute nothing);
    None for every input no output depends on."""
    from . import grad as _autograd_grad
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gos = zip(*pairs)
    return _autograd_grad(outs, inputs, gos, retain_graph=retain_graph, create_graph=create_graph,
                          allow_unused=True)


def _single_scalar_output(outputs, is_tuple: bool, fn_name: str):
    if is_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single "
                           f"element (it has shape {list(outputs[0].shape)})")


# ------------------------------------------------------------------ products
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T J): the vector-Jacobian product; v may be None for a one-element output."""
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict, "vjp")
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _prepare_inputs(v, create_graph, need_graph=False)
            _validate_v(v, outputs, out_tuple, "vjp")
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("vjp(): the vector v can only be None if the user-provided function returns a "
                               "single Tensor with a single element.")
        grads = _grad(outputs, inputs, v, create_graph)
        res = _fill_zeros(grads, inputs, strict, "back", "vjp")
    return _unpack(_finish(outputs, create_graph), out_tuple), _unpack(_finish(res, create_graph), in_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), J v): the Jacobian-vector product; v may be None for a one-element input."""
    from ..creation import zeros_like
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare_inputs(inputs, create_graph)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            v = _prepare_inputs(v, create_graph, need_graph=False)
            _validate_v(v, inputs, in_tuple, "jvp")
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("jvp(): the vector v can only be None if the input to the user-provided function "
                               "is a single Tensor with a single element.")
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict, "jvp")
        # u -> J^T u is linear in u: its derivative along v (at any u, here 0) is J v
        dummies = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        vjps = _grad(outputs, inputs, dummies, create_graph=True)
        _check_requires_grad(vjps, "grad_inputs", strict, "jvp")
        grads = _grad(vjps, dummies, v, create_graph)
        res = _fill_zeros(grads, outputs, strict, "back_trick", "jvp")
    return _unpack(_finish(outputs, create_graph), out_tuple), _unpack(_finish(res, create_graph), out_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T H) for a function returning one element: backward through the gradient."""
    with grad_mode.enable_grad():
        in_tuple, inputs, v, outputs = _second_order_setup(func, inputs, v, create_graph, strict, "vhp")
        jac = _grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict, "vhp")
        grads = _grad(jac, inputs, v, create_graph)
        res = _fill_zeros(grads, inputs, strict, "double_back", "vhp")
    return _finish(outputs[0], create_graph), _unpack(_finish(res, create_graph), in_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), H v) for a function returning one element, by the double-backward trick."""
    from ..creation import zeros_like
    with grad_mode.enable_grad():
        in_tuple, inputs, v, outputs = _second_order_setup(func, inputs, v, create_graph, strict, "hvp")
        jac = _grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict, "hvp")
        # u -> H^T u is linear in u: its derivative along v is H v
        dummies = tuple(zeros_like(t, requires_grad=True) for t in inputs)
        back = _grad(jac, inputs, dummies, create_graph=True)
        grads = _grad(back, dummies, v, create_graph)
        res = _fill_zeros(grads, inputs, strict, "double_back_trick", "hvp")
    return _finish(outputs[0], create_graph), _unpack(_finish(res, create_graph), in_tuple)


def _second_order_setup(func, inputs, v, create_graph, strict, fn_name):
    """The shared start of vhp/hvp: checked inputs and v, and the single one-element output."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare_inputs(inputs, create_graph)
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _prepare_inputs(v, create_graph, need_graph=False)
        _validate_v(v, inputs, in_tuple, fn_name)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError(f"{fn_name}(): the vector v can only be None if the input to the user-provided "
                           f"function is a single Tensor with a single element.")
    out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn_name)
    _check_requires_grad(outputs, "outputs", strict, fn_name)
    _single_scalar_output(outputs, out_tuple, fn_name)
    return in_tuple, inputs, v, outputs


# ------------------------------------------------------------------ full matrices
_STRATEGIES = ("forward-mode", "reverse-mode")


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs: J[i][j] has shape outputs[i].shape + inputs[j].shape.

    One backward pass per output element. `vectorize` is accepted (the rows are computed one by
    one either way); ``strategy="forward-mode"`` (which torch allows only with vectorize=True)
    gives the same matrix, computed in reverse mode.
    """
    from ..creation import zeros
    from ..ops.shape import stack
    if strategy not in _STRATEGIES:
        raise ValueError(f'jacobian(): expected strategy to be either "forward-mode" or "reverse-mode", got '
                         f'{strategy!r}')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("jacobian(): computing the Jacobian with strategy='forward-mode' is only "
                                  "implemented for vectorize=True (as in torch)")
    with grad_mode.enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict, "jacobian")
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]  # rows[j]: d out.flat[k] / d inputs[j], for each k
            flat = out.reshape(-1)
            for k in range(flat.numel()):
                grads = _grad((flat[k],), inputs, retain_graph=True, create_graph=create_graph)
                for j, (g, inp) in enumerate(zip(grads, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"jacobian(): output {i} of the user-provided function is "
                                               f"independent of input {j}. This is not allowed in strict mode.")
                        g = inp.new_zeros(inp.shape)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(f"jacobian(): the jacobian of the user-provided function is "
                                           f"independent of input {j}. This is not allowed in strict mode "
                                           f"when create_graph=True.")
                    rows[j].append(g)
            blocks = []
            for r, inp in zip(rows, inputs):
                shape = tuple(out.shape) + tuple(inp.shape)
                blocks.append(stack(r).reshape(shape) if r else zeros(shape, dtype=inp.dtype, device=inp.device))
            jac.append(tuple(blocks))
    return _unpack(_finish(tuple(jac), create_graph), (out_tuple, in_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function returning one element: H[i][j] has shape inputs[i].shape +
    inputs[j].shape (a Tensor for a single input). The jacobian of the create_graph gradient."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar_func(*inp):
        out_tuple, outputs = _as_tuple(func(*inp), "outputs of the user-provided function", "hessian")
        _check_requires_grad(outputs, "outputs", strict, "hessian")
        _single_scalar_output(outputs, out_tuple, "hessian")
        return outputs[0].reshape(())

    def gradient(*inp):
        jac = jacobian(scalar_func, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict, "hessian")
        return jac

    res = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _unpack(res, (in_tuple, in_tuple))
