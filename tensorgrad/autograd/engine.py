"""The tape and the backward walk.

Every op run with grad enabled on an input that requires grad becomes a `Node`
(its ``grad_fn``), stamped with a global creation number. A node points at the
nodes that produced its inputs (``next_functions``, PyTorch's name: pairs of
node and output index); leaves that require grad are reached through an
`AccumulateGrad` node that writes ``.grad``.

`run_backward` walks the nodes reachable from the outputs with a max-heap keyed
by creation number, so a node runs only after every node created later (all of
its consumers) has handed it its gradients. No recursion: a 10,000-node chain
is as easy as a short one. Gradients arriving at one output are kept in a list
and summed once, then reduced to that output's shape and dtype in `_fit` — the
one place where broadcasting is undone.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import weakref

from . import grad_mode
from .. import autocast_mode
from .anomaly import _mode as _anomaly, check_gradients

_creation_counter = itertools.count()
_tensor_cls: list = []  # [Tensor], filled in by tensor.py


def next_seq() -> int:
    return next(_creation_counter)


class SavedTensor:
    """A tensor kept for backward, with the version it had when saved.

    An op's own output is kept as its array and version counter only (not the
    Tensor, whose grad_fn is the node itself: that would be a reference cycle);
    `unpack` rebuilds it with the running node as its grad_fn.
    """

    __slots__ = ("tensor", "data", "vc", "version", "out_idx")

    def __init__(self, tensor, out_idx=None):
        self.vc = tensor._vc
        self.version = tensor._vc[0]
        self.out_idx = out_idx
        if out_idx is None:
            self.tensor, self.data = tensor, None
        else:
            self.tensor, self.data = None, tensor._data

    def unpack(self, node):
        if self.vc[0] != self.version:
            data = self.data if self.tensor is None else self.tensor._data
            raise RuntimeError(
                f"{node.name()}: one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: [{data.dtype} tensor of shape {list(data.shape)}] "
                f"is at version {self.vc[0]}; expected version {self.version} instead. Hint: use the "
                f"out-of-place form of the op that changed it (x = x * 2 instead of x.mul_(2) or x *= 2), "
                f"or clone() the tensor before modifying it.")
        if self.tensor is not None:
            return self.tensor
        return _tensor_cls[0]._make(self.data, node, self.out_idx, self.vc)


class Node:
    """A recorded op: the unit the engine walks. Subclasses implement `backward`."""

    __slots__ = ("next_functions", "_seq", "_out_meta", "__weakref__", "__dict__")
    double_backward = True  # False: backward runs on raw arrays; create_graph gets an erroring node
    # often or always unset, so class-level defaults instead of per-node slots
    _saved = None  # [SavedTensor, ...] when the op keeps tensors for backward
    _freed = False
    _hooks = None  # {output index: [hook, ...]} for tensor hooks on non-leaf outputs
    _retained = None  # {output index: weakref to a tensor} for retain_grad()
    ctx_arrays = None  # non-differentiable arrays the forward kept (masks, indices)
    _view_of_vc = None  # view ops: (the base's version counter, its recorded in-place count then)
    materialize_grads = True  # give backward zeros (not None) for outputs that got no gradient

    def name(self) -> str:
        return type(self).__name__ + "Backward0"

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    # -- saved tensors
    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is None:
            if self._freed:
                raise RuntimeError(
                    f"{self.name()}: trying to backward through the graph a second time (or to access "
                    f"saved tensors after they have already been freed). Saved intermediate values of "
                    f"the graph are freed when you call .backward() or autograd.grad(). Specify "
                    f"retain_graph=True if you need to backward through the graph a second time.")
            return ()
        return tuple([s.unpack(self) for s in saved])  # a list comprehension: cheaper than a generator

    def release(self) -> None:
        """Drop what was saved for backward (after a backward without retain_graph)."""
        if self._saved is not None or self.ctx_arrays is not None:
            self._freed = True
            self._saved = None
            self.ctx_arrays = None

    @property
    def saved_arrays(self):
        """Non-differentiable arrays the forward kept (masks, indices), freed like saved tensors."""
        arrays = self.ctx_arrays
        if arrays is None and self._freed:
            self.saved_tensors  # raises the freed-graph error
        return arrays

    def backward(self, *grads):
        raise NotImplementedError(f"{self.name()} has no backward")

    def register_hook(self, fn):  # PyTorch exposes grad_fn.register_hook; kept minimal
        raise NotImplementedError("register hooks on tensors (Tensor.register_hook), not on grad_fn")


class AccumulateGrad(Node):
    """The sink for a leaf tensor that requires grad: adds the gradient into ``.grad``.

    The leaf holds its accumulator; the accumulator holds the leaf weakly (no reference cycle),
    so one accumulator serves every graph the leaf takes part in.
    """

    __slots__ = ("_leaf",)

    def __init__(self, leaf):
        self._leaf = weakref.ref(leaf)
        self.next_functions = ()
        self._seq = next_seq()
        self._out_meta = ((leaf._data.shape, leaf._data.dtype),)
        self._saved = None

    @property
    def variable(self):
        return self._leaf()

    def name(self) -> str:
        return "AccumulateGrad"

    def accumulate(self, grad, create_graph: bool) -> None:
        # writes leaf._grad directly: shape, dtype and device already match (the engine's _fit)
        leaf = self._leaf()
        if leaf is None:  # the leaf is gone: nobody can read its gradient
            return
        old = leaf._grad
        if old is None:
            if create_graph:  # a recorded copy: the incoming tensor may be shared or read-only
                leaf._grad = grad.clone()
            else:  # a private copy: the incoming array may be shared with other leaves' grads
                leaf._grad = grad._detached_copy()
        elif create_graph or old.requires_grad or grad.requires_grad:
            leaf._grad = old + grad
        else:
            xp_data = old._data
            xp_data += grad._data  # in place, like PyTorch's accumulation
            old._vc[0] += 1


def accumulator_for(leaf) -> AccumulateGrad:
    """The leaf's AccumulateGrad, created on first use."""
    acc = leaf._accum
    d = leaf._data
    if acc is None or acc._out_meta[0] != (d.shape, d.dtype):  # `.data = ...` may change either
        acc = leaf._accum = AccumulateGrad(leaf)
    return acc


def edge_of(t):
    """(node, output index) that gradients for `t` flow into, or None."""
    node = t._node
    if node is not None:
        return (node, t._out_idx)
    if t._requires_grad:
        return (accumulator_for(t), 0)
    return None


def _fit(grad, meta, node):
    """Reduce a gradient to the shape and dtype of the value it is for (undo broadcasting)."""
    shape, dtype = meta
    gshape = grad._data.shape
    if gshape != shape:
        lead = len(gshape) - len(shape)
        if lead < 0:
            raise RuntimeError(f"{node.name()}: gradient of shape {list(gshape)} cannot be reduced to "
                               f"shape {list(shape)}")
        dims = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                          if n == 1 and gshape[i + lead] != 1)
        if dims:
            grad = grad.sum(dim=dims, keepdim=True) if lead == 0 else grad.sum(dim=dims)
            if lead and grad._data.shape != shape:
                grad = grad.reshape(shape)
        if grad._data.shape != shape:
            raise RuntimeError(f"{node.name()}: gradient of shape {list(gshape)} does not match "
                               f"shape {list(shape)}")
    if grad._data.dtype != dtype:
        grad = grad.to(dtype)
    return grad


def _run_hook(hook, grad):
    """A tensor hook's result replaces the gradient, which must keep its shape, dtype and device."""
    out = hook(grad)
    if out is None:
        return grad
    name = getattr(hook, "__name__", "hook")
    if not isinstance(out, _tensor_cls[0]):
        raise TypeError(f"hook '{name}' returned a {type(out).__name__}; a hook returns a Tensor or None")
    if out._data.shape != grad._data.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value (was {list(grad._data.shape)}, "
                           f"got {list(out._data.shape)})")
    if out._data.dtype != grad._data.dtype or out.device != grad.device:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {grad.dtype} on {grad.device}, "
                           f"got {out.dtype} on {out.device})")
    return out


def _sum_grads(grads):
    total = grads[0]
    for g in grads[1:]:
        total = total + g
    return total


_backward_observer: list = [None]  # the tensorgrad.profiler.profile timing backward calls, if any


class _Running(threading.local):
    def __init__(self):
        self.partial = []  # per running backward, innermost last: asked for some inputs only?


_running = _Running()


def partial_backward_running() -> bool:
    """Whether the innermost running backward computes some inputs' gradients only (autograd.grad,
    backward(inputs=)) instead of accumulating into every leaf (a reentrant checkpoint refuses it)."""
    return bool(_running.partial) and _running.partial[-1]


def run_backward(roots, grad_roots, retain_graph: bool, create_graph: bool,
                 capture=None, accumulate=True, partial=None):
    """Backpropagate from `roots` (tensors) seeded with `grad_roots` (tensors).

    With `capture` (a dict {(node, idx): position}) the gradients reaching
    those points are returned in a list instead of (or as well as, when
    `accumulate`) being accumulated into leaves' ``.grad``. `partial` overrides what
    partial_backward_running() says during this backward (a nested backward that stands for
    its caller's passes the caller's).
    """
    captured = [None] * len(capture) if capture else None
    buffers: dict = {}
    heap: list = []
    for i, (t, g) in enumerate(zip(roots, grad_roots)):
        edge = edge_of(t)
        if edge is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn; "
                               f"call requires_grad_() on the leaf tensors you want gradients for")
        node, idx = edge
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * len(node._out_meta)
            heapq.heappush(heap, (-node._seq, node))
        if buf[idx] is None:
            buf[idx] = [g]
        else:
            buf[idx].append(g)

    needed = _nodes_leading_to(capture, [n for _, n in heap]) if capture else None

    state = grad_mode._state
    prev_mode = state.enabled
    state.enabled = create_graph
    prof = _backward_observer[0]
    autocast_state = autocast_mode._state
    autocast_state.suspended += 1  # a backward runs in its forward's dtypes, never autocast
    _running.partial.append((bool(capture) or not accumulate) if partial is None else partial)
    try:
        while heap:
            _, node = heapq.heappop(heap)
            buf = buffers.pop(node)
            if len(buf) == 1:  # the common single-output node
                b = buf[0]
                grads = [b[0] if len(b) == 1 else _sum_grads(b)]
            else:
                grads = [None if b is None else (b[0] if len(b) == 1 else _sum_grads(b)) for b in buf]
            if node.__class__ is AccumulateGrad:  # a leaf: its hooks, then capture or accumulate
                leaf = node._leaf()
                if leaf is not None and leaf._hooks:
                    for hook in leaf._hooks:
                        grads[0] = _run_hook(hook, grads[0])
                if capture:
                    pos = capture.get((node, 0))
                    if pos is not None:
                        captured[pos] = grads[0]
                if accumulate:
                    node.accumulate(grads[0], create_graph)
                continue
            if node._hooks:
                for idx, hooks in node._hooks.items():
                    if grads[idx] is not None:
                        for hook in hooks:
                            grads[idx] = _run_hook(hook, grads[idx])
            if node._retained:
                for idx, ref in node._retained.items():
                    t = ref()
                    if t is not None and grads[idx] is not None:
                        g = grads[idx].clone() if create_graph else grads[idx]._detached_copy()
                        t.grad = g if t.grad is None else t.grad + g
            if capture:
                for idx in range(len(grads)):
                    pos = capture.get((node, idx))
                    if pos is not None:
                        captured[pos] = grads[idx]
                if not any(e is not None and e[0] in needed for e in node.next_functions):
                    continue  # nothing beyond this node leads to a requested input
            if node._view_of_vc is not None and node._view_of_vc[0][1] != node._view_of_vc[1]:
                raise RuntimeError(
                    f"{node.name()}: the tensor this view was taken from was modified by an in-place "
                    f"operation recorded for autograd after the view was taken; tensorgrad does not "
                    f"rebase views onto the new graph (PyTorch does), so its gradient would be wrong. "
                    f"Take the view after the in-place op, or use the out-of-place op.")
            if prof is not None:
                event = prof._begin(node.name(), "backward", grads)
            if create_graph or len(grads) > 1:
                in_grads = _call_backward(node, grads, create_graph)
            else:
                in_grads = node.backward(grads[0])
                if in_grads.__class__ is not tuple:
                    in_grads = (in_grads,)
            if prof is not None:
                prof._end(event)
            if _anomaly[0]:
                check_gradients(node, in_grads)
            if len(in_grads) != len(node.next_functions):
                raise RuntimeError(f"{node.name()}: backward returned {len(in_grads)} gradients, expected "
                                   f"{len(node.next_functions)} (one per input)")
            if not retain_graph and (node._saved is not None or node.ctx_arrays is not None):
                node.release()
            for edge, g in zip(node.next_functions, in_grads):
                if edge is None or g is None:
                    continue
                nxt, idx = edge
                if capture and nxt not in needed:
                    continue
                meta = nxt._out_meta[idx]
                if g._data.shape != meta[0] or g._data.dtype != meta[1]:
                    g = _fit(g, meta, node)
                buf = buffers.get(nxt)
                if buf is None:
                    buf = buffers[nxt] = [None] * len(nxt._out_meta)
                    heapq.heappush(heap, (-nxt._seq, nxt))
                if buf[idx] is None:
                    buf[idx] = [g]
                else:
                    buf[idx].append(g)
    finally:
        state.enabled = prev_mode
        autocast_state.suspended -= 1
        _running.partial.pop()
    return captured


def _call_backward(node, grads, create_graph):
    if len(grads) > 1 and node.materialize_grads and any(g is None for g in grads):
        # an output nobody used: give the op zeros of the right shape
        grads = [g if g is not None else _zeros_for(node, i, grads) for i, g in enumerate(grads)]
    if create_graph and not node.double_backward:
        with grad_mode.no_grad():
            out = node.backward(*grads)
        out = out if isinstance(out, tuple) else (out,)
        # the erroring node depends on the op's inputs and on the incoming gradients alike
        deps = node.next_functions + tuple(edge_of(g) for g in grads)
        return tuple(None if g is None else _no_double_backward(node, g, deps) for g in out)
    out = node.backward(*grads)
    return out if out.__class__ is tuple else (out,)


def _zeros_for(node, i, grads):
    from ..tensor import Tensor
    from ..backend import xp_of
    shape, dtype = node._out_meta[i]
    like = next(g for g in grads if g is not None)._data
    return Tensor._make(xp_of(like).zeros_like(like, shape=shape, dtype=dtype), None, 0, None)


class NoDoubleBackward(Node):
    """Stands in as the grad_fn of a gradient whose op has no double backward."""

    def __init__(self, op_name, next_functions, meta):
        self.op_name = op_name
        self.next_functions = next_functions
        self._seq = next_seq()
        self._out_meta = (meta,)
        self._saved = None

    def backward(self, *grads):
        raise RuntimeError(f"double backward (a derivative of the gradient, create_graph=True) of "
                           f"{self.op_name} is not implemented in tensorgrad; use create_graph=False "
                           f"or build the function from ops that support it")


def _no_double_backward(node, g, deps):
    if not grad_mode.is_grad_enabled() or not any(e is not None for e in deps):
        return g
    err = NoDoubleBackward(node.name(), deps, (g._data.shape, g._data.dtype))
    return _tensor_cls[0]._make(g._data, err, 0, None)


def _nodes_leading_to(capture, starts):
    """Nodes from which some capture target can be reached (for autograd.grad pruning)."""
    targets = {n for n, _ in capture}
    needed: set = set()
    state: dict = {}
    for start in starts:
        stack = [start]
        while stack:
            n = stack[-1]
            st = state.get(n)
            if st is None:
                state[n] = 1
                for e in n.next_functions:
                    if e is not None and e[0] not in state:
                        stack.append(e[0])
                continue
            stack.pop()
            if st == 1:
                state[n] = 2
                if n in targets or any(e is not None and e[0] in needed for e in n.next_functions):
                    needed.add(n)
    return needed
