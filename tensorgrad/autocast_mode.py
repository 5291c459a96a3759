"""Automatic mixed precision: the autocast context and the per-op casting policies.

Inside ``autocast(device_type)`` an op that carries a policy casts its floating tensor arguments on
that device type before it runs, as PyTorch's autocast does:

- "lower":   to the region's dtype (float16): matmul, linear, convolutions, attention.
- "float32": float16 arguments to float32: losses, and on CUDA also softmax, exp, log, sum, norms...
- "promote": every floating argument to the widest dtype among them.
- "banned":  raises (binary_cross_entropy on CUDA: unsafe in float16; use the with_logits form).
- "native":  no cast, but nothing inside autocasts (ops that are one kernel in PyTorch but composed
             of autocasting ops here, e.g. avg_pool2d's sum).

As in PyTorch, an op with a policy runs its body with autocast off, so its inner calls do not cast
again (tensordot's mm stays in the promoted dtype).

float64 tensors are never cast, and ops without a policy run on what they get (ReLU, pooling,
dropout, batch_norm). The casts are ordinary differentiable ops, so each gradient comes back in
its parameter's own dtype (float32 master weights, float16 compute). A leaf that requires grad
(a parameter) is cast once per region and the cast reused while its version is unchanged.

The lists follow PyTorch's documented CUDA and CPU op lists, for the ops tensorgrad has; CPU
autocast defaults to bfloat16 in PyTorch, which NumPy lacks, so tensorgrad asks for float16 there.
Backward passes never autocast: the engine suspends it (autocast_suspended).
"""
from __future__ import annotations

import functools
import threading
import warnings

import numpy as np

_DEVICE_TYPES = ("cuda", "cpu")
_active_regions = 0  # enabled regions entered in any thread: the ops' fast path reads only this


class _State(threading.local):
    def __init__(self):
        self.dtype = {"cuda": None, "cpu": None}  # the enabled region's dtype per device type, or None
        self.cache = {}  # id(leaf) -> (leaf, version, dtype, cast)
        self.cache_enabled = True
        self.depth = 0  # nesting of autocast regions (enabled or not), to clear the cache at the last exit
        self.suspended = 0


_state = _State()


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether autocast is on for `device_type` in this thread (PyTorch's torch.is_autocast_enabled)."""
    _check_device_type("is_autocast_enabled", device_type)
    return _state.dtype[device_type] is not None and not _state.suspended


def get_autocast_dtype(device_type: str):
    """The dtype autocast casts to on `device_type` (float16 where no region sets one)."""
    from . import dtypes
    _check_device_type("get_autocast_dtype", device_type)
    dt = _state.dtype[device_type]
    return dtypes.float16 if dt is None else dtypes.as_dtype(dt)


def _check_device_type(op, device_type):
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"{op}: device_type must be 'cuda' or 'cpu', got {device_type!r}")


class autocast:
    """PyTorch's ``autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: a context
    manager and a decorator. ``dtype`` defaults to float16; float16 is the only lower precision
    (NumPy and CuPy have no bfloat16)."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        from . import dtypes
        _check_device_type("autocast", device_type)
        if dtype is not None:
            try:
                ok = dtypes.as_dtype(dtype) is dtypes.float16
            except TypeError:
                ok = False
            if not ok:
                name = getattr(dtype, "name", None) or str(dtype)
                raise RuntimeError(
                    f"autocast({device_type!r}): dtype {name} is not supported; tensorgrad autocasts to "
                    f"float16 only (NumPy and CuPy have no bfloat16): pass dtype=tensorgrad.float16")
        elif enabled and device_type == "cpu":
            raise RuntimeError(
                "autocast('cpu'): PyTorch's default CPU dtype is bfloat16, which tensorgrad lacks (NumPy has "
                "no bfloat16); pass dtype=tensorgrad.float16 explicitly (and scale the loss with a GradScaler)")
        if enabled and device_type == "cuda":
            from . import cuda
            if not cuda.is_available():
                warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling",
                              stacklevel=2)
                enabled = False
        self.device_type = device_type
        self.fast_dtype = np.dtype(np.float16)
        self.enabled = bool(enabled)
        self.cache_enabled = True if cache_enabled is None else bool(cache_enabled)

    def __enter__(self):
        global _active_regions
        self._prev = _state.dtype[self.device_type]
        self._prev_cache = _state.cache_enabled
        _state.dtype[self.device_type] = self.fast_dtype if self.enabled else None
        _state.cache_enabled = self.cache_enabled
        _state.depth += 1
        if self.enabled:
            _active_regions += 1
        return self

    def __exit__(self, *exc):
        global _active_regions
        _state.dtype[self.device_type] = self._prev
        _state.cache_enabled = self._prev_cache
        _state.depth -= 1
        if self.enabled:
            _active_regions -= 1
        if _state.depth == 0:
            _state.cache.clear()  # casts of parameters live as long as the outermost region
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self.enabled, self.cache_enabled):
                return fn(*args, **kwargs)
        return wrapper


class autocast_suspended:
    """Turns autocast off for what runs inside (the backward pass; custom_fwd's cast_inputs)."""

    def __enter__(self):
        _state.suspended += 1

    def __exit__(self, *exc):
        _state.suspended -= 1
        return False


def is_active() -> bool:
    """Whether any op could autocast now, in this thread (a fused path that casts nothing checks this)."""
    return bool(_active_regions) and not _state.suspended and any(_state.dtype.values())


def snapshot():
    """This thread's autocast settings, for a recomputation to run under them (utils.checkpoint)."""
    if _state.suspended:
        return {k: None for k in _state.dtype}, _state.cache_enabled
    return dict(_state.dtype), _state.cache_enabled


class restored:
    """Runs the block under a snapshot's autocast settings, even inside a backward pass."""

    def __init__(self, snap):
        self.snap = snap

    def __enter__(self):
        global _active_regions
        self.prev = (dict(_state.dtype), _state.cache_enabled, _state.suspended, _state.cache)
        dtypes, _state.cache_enabled = self.snap
        _state.cache = {}  # the forward's cached casts belong to the forward's graph
        _state.dtype.update(dtypes)
        _state.suspended = 0
        _state.depth += 1
        _active_regions += 1

    def __exit__(self, *exc):
        global _active_regions
        dtypes, _state.cache_enabled, _state.suspended, _state.cache = self.prev
        _state.dtype.update(dtypes)
        _state.depth -= 1
        _active_regions -= 1
        if _state.depth == 0:
            _state.cache.clear()
        return False


# ---------------------------------------------------------------- the per-op policies
def policy(*, cuda=None, cpu=None):
    """Decorate an op function with its autocast policy per device type ("lower", "float32",
    "promote" or "banned"; None: the op runs on what it gets)."""
    policies = {"cuda": cuda, "cpu": cpu}

    def decorate(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            if not _active_regions:  # no region anywhere: one global read
                return fn(*args, **kwargs)
            return _autocast_call(fn, policies, args, kwargs)
        op.autocast_policy = policies
        return op
    return decorate


def _autocast_call(fn, policies, args, kwargs):
    from .tensor import Tensor
    if _state.suspended:
        return fn(*args, **kwargs)
    first = next((a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)), None)
    if first is None:
        return fn(*args, **kwargs)
    device_type = "cuda" if first.is_cuda else "cpu"
    fast = _state.dtype[device_type]
    kind = policies[device_type]
    if fast is None:
        return fn(*args, **kwargs)
    if kind is None or kind == "native":  # "native": one op in PyTorch, so nothing inside it autocasts
        if kind is None:
            return fn(*args, **kwargs)
        with autocast_suspended():
            return fn(*args, **kwargs)
    if kind == "banned":
        raise RuntimeError(
            f"{fn.__name__} is unsafe to autocast (float16 may not represent its result). Use "
            f"binary_cross_entropy_with_logits (nn.BCEWithLogitsLoss), which is safe to autocast, or run it "
            f"outside the region on float32 inputs")
    if kind == "lower":
        target = fast
    elif kind == "float32":
        target = np.dtype(np.float32)
    else:  # promote: the widest floating dtype among the arguments (none floating: nothing to cast)
        floats = [a._data.dtype for a in (*args, *kwargs.values())
                  if isinstance(a, Tensor) and a._data.dtype.kind == "f"]
        if not floats:
            with autocast_suspended():
                return fn(*args, **kwargs)
        target = max(floats, key=lambda d: d.itemsize)

    def cast(a):
        if not isinstance(a, Tensor):
            return a
        dt = a._data.dtype
        if dt.kind != "f" or dt == target or dt == np.float64 or a.is_cuda != (device_type == "cuda"):
            return a
        return _cached_cast(a, target)
    args, kwargs = [cast(a) for a in args], {k: cast(v) for k, v in kwargs.items()}
    with autocast_suspended():  # as PyTorch's wrappers: the op's own inner calls do not autocast again
        return fn(*args, **kwargs)


def _cached_cast(t, dtype):
    from .autograd.grad_mode import is_grad_enabled
    from .ops.convert import to
    # only casts that are recorded: one made under no_grad would cut a later use off from the graph
    if not (t.requires_grad and t.is_leaf and _state.cache_enabled and is_grad_enabled()):
        return to(t, None, dtype, False, False)
    hit = _state.cache.get(id(t))
    if hit is not None and hit[0] is t and hit[1] == t._version and hit[2] == dtype:
        return hit[3]
    out = to(t, None, dtype, False, False)
    _state.cache[id(t)] = (t, t._version, dtype, out)
    return out


def custom_fwd(fwd=None, *, device_type="cuda", cast_inputs=None):
    """PyTorch's torch.amp.custom_fwd for a custom Function's forward: with cast_inputs, floating
    tensor arguments are cast to it and the forward runs with autocast off."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def forward(*args, **kwargs):
        if cast_inputs is None or not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        from .tensor import Tensor

        def cast(a):  # as PyTorch: floating tensors on device_type but float64, inside containers too
            if isinstance(a, Tensor):
                on_device = a.is_cuda == (device_type == "cuda")
                eligible = a.is_floating_point() and a._data.dtype != np.float64 and on_device
                return a.to(cast_inputs) if eligible else a
            if isinstance(a, (list, tuple)):
                return type(a)(cast(v) for v in a)
            if isinstance(a, dict):
                return {k: cast(v) for k, v in a.items()}
            return a
        with autocast_suspended():
            return fwd(*[cast(a) for a in args], **{k: cast(v) for k, v in kwargs.items()})
    return forward


def custom_bwd(bwd=None, *, device_type="cuda"):
    """PyTorch's torch.amp.custom_bwd: the backward runs as its forward did (here: without autocast,
    as every backward does)."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd


__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "custom_fwd", "custom_bwd"]
