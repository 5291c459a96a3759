"""torch.utils.checkpoint: trade compute for memory by recomputing a forward during backward.

``checkpoint(fn, *args)`` returns ``fn(*args)`` but keeps none of fn's intermediate activations:
only the inputs are kept, and when the gradient reaches the outputs, fn runs again (with grad
enabled and the RNG state of the first run, so dropout draws the same masks) and the gradient
is backpropagated through that fresh graph. Gradients equal those of an ordinary run.

Two variants, as in torch:

* ``use_reentrant=True`` (the default, with a warning, when not given): a custom Function whose
  inputs are the positional tensor arguments. Its backward runs a nested backward through the
  recomputed graph, which accumulates into the parameters' ``.grad`` directly. Outputs require
  grad only if some positional input does; autograd.grad() and backward(inputs=...) raise (that
  nested backward cannot stay within the requested inputs), and there is no double backward.
* ``use_reentrant=False``: the forward is run once with grad enabled to learn which tensors
  from outside fn (inputs, parameters, closures) its graph reaches; that graph is dropped at
  once, and one node stands for fn with an edge to each of those tensors. Its backward recomputes
  fn and hands the gradients for those edges back to the running backward, so parameters get
  their gradients through the normal engine (hooks, autograd.grad, no input needing grad).
  Keyword arguments are allowed. Peak memory during the forward is one call's activations.
"""
from __future__ import annotations

import contextlib
import warnings

from .. import autocast_mode, backend
from ..autograd import grad_mode
from ..autograd.engine import (AccumulateGrad, Node, SavedTensor, edge_of, next_seq, partial_backward_running,
                               run_backward)
from ..autograd.function import Function
from ..tensor import Tensor


def noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


# ------------------------------------------------------------------ RNG state
def _rng_state(tensors):
    """The CPU generator's state and, for each CUDA device among `tensors`, its generator's
    Philox position (what dropout draws from; CuPy's cuRAND stream cannot be saved)."""
    cuda = sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"})
    gens = [backend.default_generator_for(backend.as_device(f"cuda:{i}")) for i in cuda]
    return backend.default_generator.get_state(), [(g, g._seed, g._philox_offset) for g in gens]


def _set_rng_state(state) -> None:
    cpu, gens = state
    backend.default_generator.set_state(cpu)
    for g, seed, offset in gens:
        g._seed, g._philox_offset = seed, offset


@contextlib.contextmanager
def _replay_rng(state):
    """Run the block with the RNG as `state` recorded it, then put back the RNG as it was, so a
    recomputation leaves the global random streams where the backward found them."""
    if state is None:
        yield
        return
    now = (backend.default_generator.get_state(), [(g, g._seed, g._philox_offset) for g, _, _ in state[1]])
    _set_rng_state(state)
    try:
        yield
    finally:
        _set_rng_state(now)


# ------------------------------------------------------------------ nested outputs
def _flatten(obj, out):
    """Tensors of `obj` (a Tensor or tuples/lists/dicts of them) appended to `out`, in order."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            _flatten(x, out)
    elif isinstance(obj, dict):
        for x in obj.values():
            _flatten(x, out)
    return out


def _rebuild(obj, tensors):
    """`obj` with its tensors replaced, in order, by those of the iterator `tensors`."""
    if isinstance(obj, Tensor):
        return next(tensors)
    if isinstance(obj, (tuple, list)):
        items = [_rebuild(x, tensors) for x in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict):
        return type(obj)((k, _rebuild(v, tensors)) for k, v in obj.items())
    return obj


# ------------------------------------------------------------------ use_reentrant=True
class CheckpointFunction(Function):
    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        ctx.run_function = run_function
        tensors = [a for a in args if isinstance(a, Tensor)]
        ctx.rng = _rng_state(tensors) if preserve_rng_state else None
        ctx.autocast = autocast_mode.snapshot()  # the recomputation autocasts as the forward did
        ctx.is_tensor = [isinstance(a, Tensor) for a in args]
        ctx.args = [None if t else a for a, t in zip(args, ctx.is_tensor)]  # tensors: save_for_backward
        ctx.save_for_backward(*tensors)
        # the gradients backward returns come from a nested first-order backward: no graph of their own
        ctx.double_backward = False
        return run_function(*args)  # Function.apply runs this under no_grad

    @staticmethod
    def backward(ctx, *grads):
        if partial_backward_running():  # the nested backward would fill .grad nobody asked for
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or passing an "
                "`inputs` parameter to .backward(). To resolve this error, you can either set "
                "use_reentrant=False, or call .backward() without passing the `inputs` argument.")
        saved = iter(ctx.saved_tensors)
        # fresh leaves, so the nested backward stops at them and leaves their gradient in .grad
        inputs = []
        for a, is_tensor in zip(ctx.args, ctx.is_tensor):
            if is_tensor:
                t = next(saved)
                a = t.detach().requires_grad_(t.requires_grad)
            inputs.append(a)
        with _replay_rng(ctx.rng), grad_mode.enable_grad(), autocast_mode.restored(ctx.autocast):
            outputs = ctx.run_function(*inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        run_backward([o for o, _ in pairs], [g for _, g in pairs], False, False)
        return (None, None) + tuple(x.grad if isinstance(x, Tensor) else None for x in inputs)


def _checkpoint_reentrant(function, preserve_rng_state, args):
    if grad_mode.is_grad_enabled() and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", UserWarning,
                      stacklevel=3)
    return CheckpointFunction.apply(function, preserve_rng_state, *args)


# ------------------------------------------------------------------ use_reentrant=False
class _Boundary(Node):
    """Stands in, during the nested backward, for a tensor from outside the checkpointed function,
    so that backward stops there and its gradient is captured (not accumulated, no hooks run)."""

    def __init__(self, meta, pos: int):
        self.next_functions = ()
        self._seq = -1 - pos  # below every recomputed node: runs after all of them fed it
        self._out_meta = (meta,)


def _is_outside(node, start: int) -> bool:
    return isinstance(node, AccumulateGrad) or node._seq < start


def _boundary_edges(outputs, start: int, rewrite=None):
    """The edges from fn's graph (the nodes created since `start`) to tensors from outside it, in
    the order first met. With `rewrite` ({edge: replacement}), those edges are redirected."""
    found: dict = {}
    seen = set()
    stack = []
    for o in outputs:
        e = edge_of(o)
        if e is not None:
            if _is_outside(e[0], start):
                found.setdefault(e, len(found))
            elif e[0] not in seen:
                seen.add(e[0])
                stack.append(e[0])
    while stack:
        node = stack.pop()
        edges = node.next_functions
        for e in edges:
            if e is None:
                continue
            if _is_outside(e[0], start):
                found.setdefault(e, len(found))
            elif e[0] not in seen:
                seen.add(e[0])
                stack.append(e[0])
        if rewrite is not None and any(e in rewrite for e in edges if e is not None):
            node.next_functions = tuple(rewrite.get(e, e) if e is not None else None for e in edges)
    return list(found)


class CheckpointBackward(Node):
    """The one recorded node of a non-reentrant checkpoint."""

    double_backward = False  # the recomputed graph is cut at its boundary: no second derivative
    materialize_grads = False

    def __init__(self, function, args, kwargs, rng, context_fn, n_out: int):
        self._function, self._kwargs, self._rng, self._context_fn = function, kwargs, rng, context_fn
        self._autocast = autocast_mode.snapshot()  # the recomputation autocasts as the forward did
        self._is_tensor = [isinstance(a, Tensor) for a in args]
        self._args = [None if t else a for a, t in zip(args, self._is_tensor)]
        self._saved = [SavedTensor(a) for a in args if isinstance(a, Tensor)]  # version-checked, freed after use
        self._n_out = n_out

    def release(self) -> None:
        super().release()
        self._kwargs = self._rng = None

    def name(self) -> str:
        return "CheckpointBackward"

    def backward(self, *grads):
        saved = iter(self.saved_tensors)  # raises on a second backward without retain_graph
        args = [next(saved) if t else a for a, t in zip(self._args, self._is_tensor)]
        start = next_seq()
        _, recompute_ctx = self._context_fn()
        replay = (_replay_rng(self._rng), grad_mode.enable_grad(), autocast_mode.restored(self._autocast))
        with replay[0], replay[1], replay[2], recompute_ctx:
            outputs = self._function(*args, **self._kwargs)
        outs = [t for t in _flatten(outputs, []) if edge_of(t) is not None]
        if len(outs) != self._n_out:
            raise RuntimeError(f"checkpoint: the recomputed forward returned {len(outs)} tensors that require "
                               f"grad, the original forward {self._n_out}; the function must compute the same "
                               f"thing when run again (same control flow, same inputs)")
        # the edges met in the forward, not next_functions: an enclosing checkpoint's recomputation
        # may have redirected those to its own boundary; gradients go back by position either way
        edges = self._edges
        pos = {e: i for i, e in enumerate(edges)}
        proxies = {e: (_Boundary(e[0]._out_meta[e[1]], i), 0) for i, e in enumerate(edges)}
        found = _boundary_edges(outs, start, rewrite=proxies)
        unknown = [e for e in found if e not in pos]
        if unknown:
            raise RuntimeError(f"checkpoint: the recomputed forward used {len(unknown)} tensor(s) from outside "
                               f"the function (e.g. one reached through {unknown[0][0].name()}) that the "
                               f"original forward did not; the function must be deterministic")
        roots, root_grads = [], []
        for t, g in zip(outs, grads):
            if g is None:
                continue
            e = edge_of(t)
            if e in proxies:  # fn returned an outside tensor itself: its gradient goes straight there
                t = Tensor._make(t._data, proxies[e][0], 0, None)
            roots.append(t)
            root_grads.append(g)
        if not roots:
            return (None,) * len(edges)
        capture = {proxies[e]: pos[e] for e in edges}
        # this nested backward stands for the one that called it (for a reentrant checkpoint inside)
        return tuple(run_backward(roots, root_grads, False, False, capture=capture, accumulate=False,
                                  partial=partial_backward_running()))


def _checkpoint_non_reentrant(function, preserve_rng_state, context_fn, args, kwargs):
    if not grad_mode.is_grad_enabled():  # nothing will be recorded: a plain call
        return function(*args, **kwargs)
    tensors = [a for a in args if isinstance(a, Tensor)]
    rng = _rng_state(tensors) if preserve_rng_state else None
    forward_ctx, _ = context_fn()
    start = next_seq()
    with forward_ctx:
        outputs = function(*args, **kwargs)
    flat = _flatten(outputs, [])
    diff = [t for t in flat if edge_of(t) is not None]
    edges = _boundary_edges(diff, start)
    node = CheckpointBackward(function, args, kwargs, rng, context_fn, len(diff))
    node.next_functions = node._edges = tuple(edges)
    node._seq = next_seq()
    node._out_meta = tuple((t._data.shape, t._data.dtype) for t in diff)
    # new outputs over the same memory, with `node` as their grad_fn: fn's own graph is dropped here
    index = {id(t): k for k, t in enumerate(diff)}
    new = [_rewrap(t, node, index[id(t)], start) if id(t) in index else t for t in flat]
    return _rebuild(outputs, iter(new))


def _rewrap(t, node, idx: int, start: int):
    """fn's output `t` as an output of `node`. It keeps t's version counter, so an in-place change
    to an output that aliases an input is seen by the saved-input check; and when t is (a view of)
    a tensor from outside fn, it stays a view of that tensor, so a recorded in-place op on it is
    refused as on any view instead of leaving the base's graph silently stale."""
    new = Tensor._make(t._data, node, idx, t._vc)
    base = t._base if t._base is not None else t
    e = edge_of(base)
    if e is None or _is_outside(e[0], start):  # a base made inside fn is dropped with fn's graph
        new._base = base
    return new


# ------------------------------------------------------------------ public API
def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, context_fn=noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its activations: recomputed during backward.

    `preserve_rng_state` replays the RNG of the forward during the recomputation (dropout masks
    match). `context_fn` (non-reentrant only) returns two context managers, entered around the
    forward and around the recomputation. `determinism_check`: "default" or "none" (the number of
    outputs is checked either way); `debug` is not supported; `early_stop` has no effect here.
    """
    if use_reentrant is None:
        warnings.warn("tensorgrad.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True.", UserWarning, stacklevel=2)
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got {determinism_check}")
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return _checkpoint_reentrant(function, preserve_rng_state, args)
    if debug:
        raise NotImplementedError("checkpoint(): debug=True is not supported by tensorgrad")
    return _checkpoint_non_reentrant(function, preserve_rng_state, context_fn, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run the modules/functions of `functions` (a Sequential or a list) in order, split into
    `segments` checkpointed chunks; the last chunk runs normally (its activations are needed at once)."""
    if use_reentrant is None:
        warnings.warn("tensorgrad.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
                      "passed explicitly. use_reentrant=False is recommended, but if you need to preserve the "
                      "current default behavior, you can pass use_reentrant=True.", UserWarning, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    from ..nn.containers import Sequential
    functions = list(functions.children()) if isinstance(functions, Sequential) else list(functions)
    if not isinstance(segments, int) or segments < 1:
        raise ValueError(f"checkpoint_sequential(): segments must be a positive int, got {segments!r}")

    def run_function(begin, end):
        def forward(x):
            for j in range(begin, end + 1):
                x = functions[j](x)
            return x
        return forward

    segment_size = len(functions) // segments
    if segments > 1 and segment_size == 0:
        raise ValueError(f"checkpoint_sequential(): {segments} segments for {len(functions)} functions; "
                         f"use at most one segment per function")
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1)(input)


__all__ = ["checkpoint", "checkpoint_sequential"]
