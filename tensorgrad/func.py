"""tensorgrad.func: function transforms with torch.func's names and calling conventions.

These are built on the tape (``autograd.grad`` with ``create_graph``), not on a functorch-style
interpreter stack:

  * ``grad``/``grad_and_value``/``vjp`` differentiate a fresh alias of each input; when a transform
    runs inside another differentiating transform (or an input already requires grad) the
    gradients keep their graph, so ``grad(grad(f))``, ``hessian`` and MAML meta-gradients work.
    At the outermost level, with no input requiring grad, results come back detached, as torch's.
    (A tensor captured by closure is not an input: differentiate through it only from inside a
    transform, or pass it as an argument.)
  * ``jacrev`` and ``jacfwd`` both use reverse mode: one backward pass per output element.
  * ``vmap`` is a Python loop over the batch dimension followed by ``stack``: correct (nesting,
    ``in_dims`` tuples and ``None``, gradients through it) but not fast, and random ops inside it are
    not detected under ``randomness='error'``.
  * ``functional_call`` swaps tensors into a module's parameter/buffer slots for one call.
"""
from __future__ import annotations

import contextlib

__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jacrev", "jacfwd", "hessian", "vmap",
           "stack_module_state"]

_level = [0]  # how many differentiating transforms are currently running (see module docstring)


# ------------------------------------------------------------------ pytrees (tuples, lists, dicts)
def _flatten(tree):
    """(leaves, spec): the leaves of nested tuples/lists/dicts and how to rebuild them."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for x in tree:
            lv, sp = _flatten(x)
            leaves += lv
            specs.append(sp)
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for x in tree.values():
            lv, sp = _flatten(x)
            leaves += lv
            specs.append(sp)
        return leaves, (dict, (list(tree.keys()), specs))
    return [tree], None


def _unflatten(leaves, spec):
    it = iter(leaves)

    def build(sp):
        if sp is None:
            return next(it)
        kind, sub = sp
        if kind is dict:
            keys, specs = sub
            return {k: build(s) for k, s in zip(keys, specs)}
        items = [build(s) for s in sub]
        return kind(items) if kind in (tuple, list) else kind(*items)  # namedtuples take fields
    return build(spec)


def _is_tensor(x):
    from .tensor import Tensor
    return isinstance(x, Tensor)


@contextlib.contextmanager
def _transform():
    """Mark a differentiating transform as running, with grad mode on (as torch.func does)."""
    from .autograd import enable_grad
    _level[0] += 1
    try:
        with enable_grad():
            yield
    finally:
        _level[0] -= 1


def _keeps_graph(args) -> bool:
    """Whether results must stay differentiable: nested in a transform, or fed by an outer graph."""
    return _level[0] > 0 or any(_is_tensor(x) and x.requires_grad for x in _flatten(args)[0])


def _fresh(x):
    """An input to differentiate with respect to: an alias if it is part of an outer graph (so the
    result stays connected to it), otherwise a new leaf."""
    if not _is_tensor(x):
        raise TypeError(f"grad(): expected the differentiated argument to contain only Tensors, got "
                        f"{type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"grad(): only floating point Tensors can be differentiated, got {x.dtype}")
    return x.view_as(x) if x.requires_grad else x.detach().requires_grad_(True)


def _finish(tree, keep):
    if keep:
        return tree
    leaves, spec = _flatten(tree)
    return _unflatten([x.detach() if _is_tensor(x) else x for x in leaves], spec)


def _autograd_grads(outputs, inputs, grad_outputs, keep):
    """d(outputs)/d(inputs), zeros for inputs the outputs do not depend on."""
    from .autograd import grad as ag_grad
    from .creation import zeros_like
    live = [o for o in outputs if o.requires_grad]
    gos = [g for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not live:
        return [zeros_like(x) for x in inputs]
    gs = ag_grad(live, inputs, gos, retain_graph=True, create_graph=keep, allow_unused=True)
    return [zeros_like(x) if g is None else g for g, x in zip(gs, inputs)]


def _check_argnums(argnums, n, fn):
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    if not nums or not all(isinstance(a, int) for a in nums):
        raise RuntimeError(f"{fn}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    out = []
    for a in nums:
        if not -n <= a < n:
            raise RuntimeError(f"{fn}: Got argnums={argnums!r}, but only {n} positional inputs")
        out.append(a % n)
    return out


def _prepare(args, argnums, fn):
    """Replace the differentiated arguments by fresh aliases; return (new args, per-argnum trees)."""
    nums = _check_argnums(argnums, len(args), fn)
    args = list(args)
    diff = []
    for a in nums:
        leaves, spec = _flatten(args[a])
        args[a] = _unflatten([_fresh(x) for x in leaves], spec)
        diff.append(args[a])
    return tuple(args), diff


def _split_aux(out, has_aux, fn):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{fn}(f, ...)(*args): output of function f should be a tuple: (output, aux) "
                           f"if has_aux is True")
    return out


# ------------------------------------------------------------------ grad, grad_and_value, vjp
def grad_and_value(func, argnums=0, has_aux=False):
    """Like ``grad`` but the wrapped function returns ``(gradients, value)`` (``(g, (value, aux))``
    with ``has_aux``)."""
    def wrapper(*args, **kwargs):
        keep = _keeps_graph((args, kwargs))
        with _transform():
            new_args, diff = _prepare(args, argnums, "grad_and_value(f)(*args)")
            out, aux = _split_aux(func(*new_args, **kwargs), has_aux, "grad_and_value")
            if not _is_tensor(out) or out.numel() != 1:
                what = f"tensor with {out.dim()} dims" if _is_tensor(out) else type(out).__name__
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, "
                                   f"got {what}. Maybe you wanted to use the vjp or jacrev APIs instead?")
            leaves, specs = zip(*[_flatten(d) for d in diff])
            flat = [x for lv in leaves for x in lv]
            gs = _autograd_grads([out], flat, [None], keep)
        trees, i = [], 0
        for lv, sp in zip(leaves, specs):
            trees.append(_unflatten(gs[i:i + len(lv)], sp))
            i += len(lv)
        g = tuple(trees) if isinstance(argnums, tuple) else trees[0]
        g, out = _finish((g, out), keep)
        return (g, (out, _finish(aux, keep))) if has_aux else (g, out)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """``torch.func.grad``: a function returning the gradient of scalar-valued `func` with respect
    to the argument(s) `argnums` (pytrees of Tensors allowed), plus ``aux`` if `has_aux`."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """``torch.func.vjp``: ``(output, vjp_fn)`` (plus ``aux``); ``vjp_fn(cotangents)`` returns a
    tuple with one gradient (pytree) per primal and may be called repeatedly."""
    keep = _keeps_graph(primals)
    with _transform():
        new_primals, diff = _prepare(primals, tuple(range(len(primals))), "vjp(f, *primals)")
        out, aux = _split_aux(func(*new_primals), has_aux, "vjp")
    out_leaves, out_spec = _flatten(out)
    if not all(_is_tensor(o) for o in out_leaves):
        raise RuntimeError("vjp(f, *primals): Expected f to be a function that has only Tensors as outputs")

    def vjp_fn(cotangents):
        ct_leaves, _ = _flatten(cotangents)
        if len(ct_leaves) != len(out_leaves):
            raise RuntimeError(f"vjp_fn: Expected cotangents with the structure of the output "
                               f"({len(out_leaves)} tensors), got {len(ct_leaves)}")
        for i, (c, o) in enumerate(zip(ct_leaves, out_leaves)):
            if not _is_tensor(c) or tuple(c.shape) != tuple(o.shape):
                got = list(c.shape) if _is_tensor(c) else type(c).__name__
                raise RuntimeError(f"vjp_fn: Mismatch in shape: cotangent {i} is {got} but output {i} has "
                                   f"shape {list(o.shape)}")
        keep_now = keep or _keeps_graph(cotangents)
        with _transform():
            leaves, specs = zip(*[_flatten(d) for d in diff])
            flat = [x for lv in leaves for x in lv]
            gs = _autograd_grads(out_leaves, flat, ct_leaves, keep_now)
        trees, i = [], 0
        for lv, sp in zip(leaves, specs):
            trees.append(_unflatten(gs[i:i + len(lv)], sp))
            i += len(lv)
        return _finish(tuple(trees), keep_now)

    res = (_finish(out, keep), vjp_fn)
    return res + (_finish(aux, keep),) if has_aux else res


# ------------------------------------------------------------------ jacobians
def _jac(func, argnums, has_aux, name):
    import tensorgrad as tg

    def wrapper(*args, **kwargs):
        keep = _keeps_graph((args, kwargs))
        with _transform():
            new_args, diff = _prepare(args, argnums, f"{name}(f)(*args)")
            out, aux = _split_aux(func(*new_args, **kwargs), has_aux, name)
            out_leaves, out_spec = _flatten(out)
            if not all(_is_tensor(o) for o in out_leaves):
                raise RuntimeError(f"{name}(f)(*args): Expected f to return Tensors, got "
                                   f"{[type(o).__name__ for o in out_leaves]}")
            in_leaves, in_specs = zip(*[_flatten(d) for d in diff])
            flat_in = [x for lv in in_leaves for x in lv]
            per_out = []
            for o in out_leaves:
                rows = []  # rows[k][j]: d o.flatten()[k] / d flat_in[j]
                flat_o = o.reshape(-1)
                for k in range(flat_o.numel()):
                    rows.append(_autograd_grads([flat_o[k]], flat_in, [None], True))
                blocks = []
                for j, x in enumerate(flat_in):
                    if rows:
                        b = tg.stack([r[j] for r in rows]).reshape(tuple(o.shape) + tuple(x.shape))
                    else:
                        b = tg.zeros(tuple(o.shape) + tuple(x.shape), dtype=x.dtype, device=x.device)
                    blocks.append(b)
                trees, i = [], 0
                for lv, sp in zip(in_leaves, in_specs):
                    trees.append(_unflatten(blocks[i:i + len(lv)], sp))
                    i += len(lv)
                per_out.append(tuple(trees) if isinstance(argnums, tuple) else trees[0])
        res = _finish(_unflatten(per_out, out_spec), keep)
        return (res, _finish(aux, keep)) if has_aux else res
    return wrapper


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """``torch.func.jacrev``: the Jacobian of `func` with respect to argument(s) `argnums`; for an
    output of shape O and an input of shape I the block has shape O + I (outputs and inputs may be
    pytrees). One backward pass per output element; `chunk_size` is accepted and ignored."""
    return _jac(func, argnums, has_aux, "jacrev")


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """``torch.func.jacfwd``: same result as ``jacrev``. tensorgrad has no forward-mode AD, so this
    is computed in reverse mode too (fine for the small Jacobians it is used for)."""
    return _jac(func, argnums, has_aux, "jacfwd")


def hessian(func, argnums=0):
    """``torch.func.hessian``: ``jacfwd(jacrev(func, argnums), argnums)``."""
    return jacfwd(jacrev(func, argnums), argnums)


# ------------------------------------------------------------------ vmap
def _check_dim(dim, ndim, what):
    if not isinstance(dim, int) or not -ndim <= dim < max(ndim, 1) or ndim == 0:
        raise ValueError(f"vmap: Got {what}={dim!r} for a Tensor with {ndim} dims; {what} must be an int "
                         f"in [{-ndim}, {ndim}) (or None to not map over this input)")
    return dim % ndim


def _leaf_dims(arg, dims, i):
    """in_dims for each leaf of argument i: an int/None broadcasts over the argument's pytree."""
    leaves, spec = _flatten(arg)
    if dims is None or isinstance(dims, int):
        return leaves, [dims] * len(leaves)
    dleaves, dspec = _flatten(dims)
    if len(dleaves) != len(leaves):
        raise ValueError(f"vmap: in_dims is not compatible with the structure of input {i}: "
                         f"{len(dleaves)} in_dims for {len(leaves)} leaves")
    return leaves, dleaves


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``torch.func.vmap``: map `func` over a batch dimension of its inputs.

    Implemented as a loop: `func` runs once per batch index on the sliced inputs and the outputs are
    stacked along `out_dims`. Correct (nestable, differentiable) but not fast. ``in_dims`` is an
    int, None, or a tuple with one entry (int/None/pytree) per positional argument; keyword
    arguments are not mapped. ``randomness='same'`` replays the random state for every index.
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"vmap: Only allowed values for randomness are 'error', 'different', or 'same'. "
                           f"Got {randomness}")

    def wrapper(*args, **kwargs):
        import tensorgrad as tg
        if isinstance(in_dims, tuple):
            if len(in_dims) != len(args):
                raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with "
                                 f"the structure of `inputs`: {len(in_dims)} in_dims for {len(args)} "
                                 f"positional inputs")
            per_arg = in_dims
        elif in_dims is None or isinstance(in_dims, int):
            per_arg = (in_dims,) * len(args)
        else:
            raise ValueError(f"vmap: in_dims must be an int, None or a tuple, got {type(in_dims).__name__}")
        plan, size = [], None  # plan[i] = (leaves, dims, spec) of argument i
        for i, (a, d) in enumerate(zip(args, per_arg)):
            leaves, dims = _leaf_dims(a, d, i)
            norm = []
            for x, dd in zip(leaves, dims):
                if dd is None:
                    norm.append(None)
                    continue
                if not _is_tensor(x):
                    raise ValueError(f"vmap: Got in_dim={dd} for an input but the input is of type "
                                     f"{type(x).__name__}. We cannot vmap over non-Tensor arguments, please "
                                     f"use None as the respective in_dim")
                dd = _check_dim(dd, x.dim(), "in_dim")
                if size is not None and x.shape[dd] != size:
                    raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                                     f"dimension, got sizes {size} and {x.shape[dd]} for the mapped dimension")
                size = x.shape[dd]
                norm.append(dd)
            plan.append((leaves, norm, _flatten(a)[1]))
        if size is None:
            raise ValueError("vmap(f)(*inputs): at least one input must be a Tensor with a non-None in_dim")
        if size == 0:  # an empty batch: one call on a zero sample gives the outputs' structure and shapes
            zero = [_unflatten([x if d is None else tg.zeros(x.shape[:d] + x.shape[d + 1:], dtype=x.dtype,
                                                              device=x.device) for x, d in zip(lv, dims)], spec)
                    for lv, dims, spec in plan]
            return _stack_outputs([func(*zero, **kwargs)], out_dims, empty=True)
        state = tg.get_rng_state() if randomness == "same" else None
        results = []
        for b in range(size):
            if state is not None:
                tg.set_rng_state(state)
            sliced = [_unflatten([x if d is None else x.select(d, b) for x, d in zip(lv, dims)], spec)
                      for lv, dims, spec in plan]
            results.append(func(*sliced, **kwargs))
        return _stack_outputs(results, out_dims)
    return wrapper


def _stack_outputs(results, out_dims, empty=False):
    """Stack each output over the batch at its out_dim; empty: results holds one call on a zero
    sample, and each output comes back with a batch dim of size 0."""
    import tensorgrad as tg
    first, spec = _flatten(results[0])
    columns = [_flatten(r)[0] for r in results]
    if isinstance(out_dims, int):
        dims = [out_dims] * len(first)
    else:
        dims, _ = _flatten(tuple(out_dims) if isinstance(out_dims, list) else out_dims)
        if len(dims) != len(first):
            raise ValueError(f"vmap: out_dims is not compatible with the structure of the outputs: "
                             f"{len(dims)} out_dims for {len(first)} outputs")
    out = []
    for j, d in enumerate(dims):
        items = [c[j] for c in columns]
        if not all(_is_tensor(t) for t in items):
            items = [t if _is_tensor(t) else tg.tensor(t) for t in items]  # Python numbers from f
        if d is None:
            out.append(items[0])
            continue
        stacked = tg.stack(items, dim=_check_dim(d, items[0].dim() + 1, "out_dim"))
        out.append(stacked.narrow(_check_dim(d, items[0].dim() + 1, "out_dim"), 0, 0).detach() if empty else stacked)
    return _unflatten(out, spec)


# ------------------------------------------------------------------ modules
def _resolve(module, name):
    """(owning submodule, attribute name) for a dotted name like 'layer.0.weight'."""
    *path, leaf = name.split(".")
    mod = module
    for p in path:
        sub = mod._modules.get(p) if hasattr(mod, "_modules") else None
        if sub is None:
            raise AttributeError(f"functional_call: {type(module).__name__} has no submodule '{p}' "
                                 f"(while resolving '{name}')")
        mod = sub
    return mod, leaf


def _swap(mod, leaf, value):
    """Put `value` in the slot `leaf` of `mod` without the Parameter type check; return an undo."""
    for store in ("_parameters", "_buffers"):
        d = mod.__dict__[store]
        if leaf in d:
            old = d[leaf]
            d[leaf] = value
            return lambda: d.__setitem__(leaf, old)
    missing = object()
    old = mod.__dict__.get(leaf, missing)
    object.__setattr__(mod, leaf, value)
    return lambda: object.__delattr__(mod, leaf) if old is missing else object.__setattr__(mod, leaf, old)


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True,
                    strict=False):
    """``torch.func.functional_call``: call `module` with the given tensors in place of its
    parameters and buffers (a dict, or a tuple/list of dicts with distinct keys). The module is
    restored afterwards, even if the call raises, and gradients flow to the given tensors."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        dicts = (dicts,)
    merged = {}
    for d in dicts:
        for k, v in d.items():
            if k in merged:
                raise ValueError(f"functional_call got multiple values for keys ['{k}'], which are used "
                                 f"in more than one of the parameter and buffer dicts")
            merged[k] = v
    named = list(module.named_parameters(remove_duplicate=False)) + \
        list(module.named_buffers(remove_duplicate=False))
    if tie_weights:  # a tensor given for one name of a tied weight applies to all its names
        by_id = {}
        for n, t in named:
            by_id.setdefault(id(t), []).append(n)
        for names in by_id.values():
            given = [n for n in names if n in merged]
            if len({id(merged[n]) for n in given}) > 1:
                raise ValueError(f"functional_call got multiple values for keys {given}, which are tied. "
                                 f"Consider using tie_weights=False")
            for n in names:
                if given and n not in merged:
                    merged[n] = merged[given[0]]
    if strict:
        known = {n for n, _ in named}
        missing = sorted(known - set(merged))
        unexpected = sorted(set(merged) - known)
        if missing or unexpected:
            lines = [f"Error(s) in reparametrizing for {type(module).__name__}:"]
            if unexpected:
                lines.append("\tUnexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected) + ".")
            if missing:
                lines.append("\tMissing key(s): " + ", ".join(f"'{k}'" for k in missing) + ".")
            raise RuntimeError("\n".join(lines))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    undo = []
    try:
        for name, value in merged.items():
            undo.append(_swap(*_resolve(module, name), value))
        return module(*args, **(kwargs or {}))
    finally:
        for u in reversed(undo):
            u()


def stack_module_state(models):
    """``torch.func.stack_module_state``: (params, buffers) dicts whose entries stack the models'
    tensors along a new leading dim (params as new leaves requiring grad), for vmap ensembling."""
    import tensorgrad as tg
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if any(m.training != models[0].training for m in models):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    names = [n for n, _ in models[0].named_parameters()]
    params = {}
    for n in names:
        ps = [dict(m.named_parameters())[n] for m in models]
        params[n] = tg.stack([p.detach() for p in ps]).requires_grad_(ps[0].requires_grad)
    buffers = {n: tg.stack([dict(m.named_buffers())[n] for m in models]) for n, _ in models[0].named_buffers()}
    return params, buffers
