"""Tensor creation: tensor/as_tensor/from_numpy, filled tensors, ranges, random, DLPack."""
from __future__ import annotations

import numbers

import numpy as np

from . import backend, dtypes
from .tensor import Tensor


def _device(device):
    return backend.CPU if device is None else backend.normalize_device(backend.as_device(device))


def _np_dtype(dtype, default=None):
    if dtype is None:
        return (default or dtypes.get_default_dtype()).np
    return dtypes.as_dtype(dtype).np


def _shape(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, (bool, np.bool_)):
            if isinstance(s, Tensor) and s._data.size == 1 and s._data.dtype.kind in "iu":
                continue
            raise TypeError(f"{op}(): argument 'size' must be a tuple of ints, but found element of type "
                            f"{type(s).__name__} in {list(size)}")
        if s < 0:
            raise RuntimeError(f"{op}(): Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _leaf(arr, requires_grad=False):
    t = Tensor._make(backend.plain_array(arr), None, 0, None)
    if requires_grad:
        t.requires_grad = True
    return t


def _infer_dtype(data):
    """PyTorch's inference for tensor() data (torch/csrc/utils/tensor_new.cpp, infer_scalar_type).

    NumPy arrays and scalars give their own dtype, tensors theirs, Python bool -> bool, int ->
    int64, float -> the default dtype; a sequence gives promote_types over its items (an empty
    one gives the default dtype).
    """
    if isinstance(data, (np.generic, np.ndarray)) or backend.is_array(data):
        return dtypes.from_numpy_dtype(data.dtype)
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, bool):
        return dtypes.bool_
    if isinstance(data, numbers.Integral):
        return dtypes.int64
    if isinstance(data, numbers.Real):
        return dtypes.get_default_dtype()
    if isinstance(data, (list, tuple)):
        return _infer_sequence(data)
    if isinstance(data, numbers.Complex):
        raise TypeError("tensor(): complex numbers are not supported by tensorgrad")
    raise TypeError(f"tensor(): could not infer dtype of {type(data).__name__}")


def _infer_sequence(seq):
    default = dtypes.get_default_dtype()
    promote = dtypes.promote_types
    out = None
    stack = [seq]
    while stack:
        x = stack.pop()
        if not len(x):
            out = default if out is None else promote(out, default)
            continue
        for item in x:
            cls = item.__class__
            if cls is float:
                d = default
            elif cls is int:
                d = dtypes.int64
            elif cls is bool:
                d = dtypes.bool_
            elif cls is list or cls is tuple:
                stack.append(item)
                continue
            else:
                d = _infer_dtype(item)
            if d is not out:
                out = d if out is None else promote(out, d)
    return out


def _unwrap(data):
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unwrap(x) for x in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor that owns a copy of `data` (nested lists, scalars, NumPy/CuPy arrays, tensors).

    Tensors and arrays stay on their own device unless `device` says otherwise (no silent copy).
    """
    if device is None and isinstance(data, Tensor):
        device = data.device
    elif device is None and backend.is_array(data):
        device = backend.device_of(data)
    dev = _device(device)
    if isinstance(data, Tensor):
        arr = data._data
        np_dt = _np_dtype(dtype, data.dtype)
        arr = backend.to_device(arr, dev, copy=True).astype(np_dt, copy=False)
        return _leaf(arr, requires_grad)
    if backend.is_array(data):
        if dtype is None:
            dtypes.from_numpy_dtype(data.dtype)  # rejects unsupported dtypes clearly
        np_dt = data.dtype if dtype is None else _np_dtype(dtype)
        arr = backend.to_device(data, dev, copy=True).astype(np_dt, copy=False)
        return _leaf(arr, requires_grad)
    np_dt = _np_dtype(dtype, _infer_dtype(data) if dtype is None else None) if dtype is not None \
        else _infer_dtype(data).np
    try:
        arr = backend.asarray_on(_unwrap(data), dev, np_dt)
    except ValueError as e:
        raise ValueError(f"tensor(): could not build a tensor from the data ({e}); nested lists must be "
                         f"rectangular") from None
    if dev.type == "cpu" and (arr.base is not None or not arr.flags.writeable):
        arr = arr.copy()
    return _leaf(arr, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a NumPy/CuPy array or tensor when no conversion is needed."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device is not None or dtype is not None) else data
    if backend.is_array(data):
        dev = _device(device) if device is not None else backend.device_of(data)
        if backend.device_of(data) == dev and (dtype is None or dtypes.as_dtype(dtype).np == data.dtype):
            dtypes.from_numpy_dtype(data.dtype)
            return _leaf(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray):
    """A CPU tensor sharing memory with `ndarray` (writes through either are seen by both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy(): expected np.ndarray (got {type(ndarray).__name__})")
    dtypes.from_numpy_dtype(ndarray.dtype)
    return _leaf(ndarray)


def from_dlpack(ext):
    """Zero-copy import of anything with ``__dlpack__`` (NumPy, CuPy, PyTorch tensors)."""
    dev_type, dev_id = ext.__dlpack_device__()
    if dev_type == 1:  # kDLCPU
        arr = np.from_dlpack(ext)
    elif dev_type == 2:  # kDLCUDA
        arr = backend.cupy().from_dlpack(ext)
    else:
        raise RuntimeError(f"from_dlpack: unsupported DLPack device type {dev_type}; tensorgrad takes CPU (1) "
                           f"and CUDA (2) memory")
    dtypes.from_numpy_dtype(arr.dtype)
    return _leaf(arr)


def _filled(op, size, fill, dtype, device, requires_grad, default=None):
    shape = _shape(size, op)
    dev = _device(device)
    xp = backend.xp_for(dev)
    with backend.device_context(dev):
        arr = xp.full(shape, fill, dtype=_np_dtype(dtype, default))
    return _leaf(arr, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _filled("zeros", size, 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _filled("ones", size, 1, dtype, device, requires_grad)


def empty(*size, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False, memory_format=None):
    shape = _shape(size, "empty")
    _fmt_check(memory_format, "empty()", None)
    dev = _device(device)
    xp = backend.xp_for(dev)
    with backend.device_context(dev):
        arr = xp.empty(shape, dtype=_np_dtype(dtype))
    return _leaf(arr, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = _infer_dtype(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled("full", (size,) if isinstance(size, (tuple, list)) else (size,), fill_value, dtype,
                   device, requires_grad)


def _fmt_check(memory_format, op, input):
    """memory_format= is accepted (tensors are always C order); only its type and rank are checked."""
    if memory_format is not None:
        from .memory_format import check
        check(memory_format, op, input.dim() if input is not None else None)


def _like(fn, input, *args, dtype=None, device=None, requires_grad=False):
    return fn(*args, dtype=input.dtype if dtype is None else dtype,
              device=input.device if device is None else device, requires_grad=requires_grad)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    _fmt_check(memory_format, "zeros_like()", input)
    return _like(zeros, input, input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    _fmt_check(memory_format, "ones_like()", input)
    return _like(ones, input, input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    _fmt_check(memory_format, "empty_like()", input)
    return _like(empty, input, input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    _fmt_check(memory_format, "full_like()", input)
    return full(input.shape, fill_value, dtype=input.dtype if dtype is None else dtype,
                device=input.device if device is None else device, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start_v, end_v, step_v = vals
    if step_v == 0:
        raise RuntimeError("arange(): step must be nonzero")
    if (end_v - start_v) * step_v < 0:
        raise RuntimeError(f"arange(): upper bound and lower bound inconsistent with step sign: start={start_v}, "
                           f"end={end_v}, step={step_v}")
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in vals)
        dtype = dtypes.int64 if is_int else dtypes.get_default_dtype()
    dev = _device(device)
    xp = backend.xp_for(dev)
    with backend.device_context(dev):
        arr = xp.arange(*vals, dtype=np.float64 if dtypes.as_dtype(dtype).is_floating_point else None)
        arr = arr.astype(_np_dtype(dtype), copy=False)
    return _leaf(arr, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError(f"linspace(): number of steps must be non-negative, got {steps}")
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))
    dev = _device(device)
    xp = backend.xp_for(dev)
    with backend.device_context(dev):
        arr = _linspace_array(xp, start, end, int(steps), _np_dtype(dtype))
    return _leaf(arr, requires_grad)


def _fma64(a, b, c):
    """a + b * c rounded once, in float64 (error-free product and sum, then one rounding): PyTorch's
    CPU kernel contracts its linspace to a fused multiply-add."""
    def split(v):
        t = 134217729.0 * v  # 2**27 + 1: Dekker's split into two 26-bit halves
        hi = t - (t - v)
        return hi, v - hi
    p = b * c
    (bh, bl), (ch, cl) = split(b), split(c)
    p_err = ((bh * ch - p) + bh * cl + bl * ch) + bl * cl
    r = a + p
    bv = r - a
    s_err = (a - (r - bv)) + (p - bv)
    return r + (s_err + p_err)


def _linspace_array(xp, start, end, n: int, dtype):
    """PyTorch's linspace, value for value: step = (end - start) / (n - 1) in the output dtype, the
    first half counted up from start and the second half down from end, so both ends are exact."""
    if n == 1:
        return xp.full(1, start, dtype=dtype)
    i = xp.arange(n, dtype=np.float64)
    from_end = xp.arange(n - 1, -1, -1, dtype=np.float64)
    first_half = i < n // 2
    if dtype == np.float16:  # every operation rounds to half, as c10::Half's operators
        h = np.float16
        s, e = h(start), h(end)
        step = (h(e - s) / h(n - 1)).astype(h)
        up = (s + (step * i.astype(h)).astype(h)).astype(h)
        down = (e - (step * from_end.astype(h)).astype(h)).astype(h)
        return xp.where(first_half, up, down)
    if dtype == np.float32:  # float32 operands; a float32 product is exact in float64, so one rounding
        s, e = np.float32(start), np.float32(end)
        step = np.float64((e - s) / np.float32(n - 1))
        up, down = np.float64(s) + step * i, np.float64(e) - step * from_end
        return xp.where(first_half, up, down).astype(dtype)
    # float64; integer dtypes truncate start and end first, count in float64 and truncate again
    s, e = (float(start), float(end)) if dtype == np.float64 else (float(int(start)), float(int(end)))
    step = (e - s) / (n - 1)
    out = xp.where(first_half, _fma64(s, step, i), _fma64(e, -step, from_end))
    return out if dtype == np.float64 else out.astype(dtype)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    for name, v in (("n", n), ("m", m)):
        if v is None:
            continue
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"eye(): argument '{name}' must be int, not {type(v).__name__}")
        if v < 0:
            raise RuntimeError(f"eye(): {name} must be greater or equal to 0, got {v}")
    dev = _device(device)
    xp = backend.xp_for(dev)
    with backend.device_context(dev):
        arr = xp.eye(n, n if m is None else m, dtype=_np_dtype(dtype))
    return _leaf(arr, requires_grad)


# ---------------------------------------------------------------- random
# (tensorgrad.Generator and tensorgrad.default_generator live in backend, with the NumPy/CuPy generators)
def manual_seed(seed):
    """Seed the CPU generator and every CUDA device's generator; returns tensorgrad.default_generator."""
    return backend.manual_seed(seed)


def seed():
    """Seed every device's default generator from OS entropy; returns the 64-bit seed."""
    return backend.seed()


def initial_seed():
    """The seed of the default CPU generator (tensorgrad.default_generator)."""
    return backend.default_generator.initial_seed()


def get_rng_state():
    """The default CPU generator's state as a uint8 Tensor (for set_rng_state)."""
    return backend.default_generator.get_state()


def set_rng_state(new_state):
    """Restore the default CPU generator's state from get_rng_state()."""
    backend.default_generator.set_state(new_state)


def _random(op, size, dtype, device, requires_grad, sample, generator=None):
    shape = _shape(size, op)
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if not dt.is_floating_point:
        raise RuntimeError(f"{op}(): expected a floating-point dtype, got {dt}")
    dev = _device(device)
    with backend.device_context(dev):
        arr = sample(dev, shape, dt.np, generator, op=f"{op}()")
    return _leaf(arr, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    return _random("rand", size, dtype, device, requires_grad, backend.random_uniform, generator)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    return _random("randn", size, dtype, device, requires_grad, backend.random_normal, generator)


def rand_like(input, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    _fmt_check(memory_format, "rand_like()", input)
    return _random("rand_like", (input.shape,), input.dtype if dtype is None else dtype,
                   input.device if device is None else device, requires_grad, backend.random_uniform, generator)


def randn_like(input, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    _fmt_check(memory_format, "randn_like()", input)
    return _random("randn_like", (input.shape,), input.dtype if dtype is None else dtype,
                   input.device if device is None else device, requires_grad, backend.random_normal, generator)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint(): expected randint(high, size) or randint(low, high, size)")
    if high <= low:
        raise RuntimeError(f"randint(): expected low < high, got low={low}, high={high}")
    shape = _shape(tuple(size), "randint")
    dev = _device(device)
    with backend.device_context(dev):
        arr = backend.random_integers(dev, int(low), int(high), shape, _np_dtype(dtype, dtypes.int64), generator)
    return _leaf(arr, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None):
    dev = _device(device)
    with backend.device_context(dev):
        arr = backend.random_permutation(dev, int(n), generator).astype(_np_dtype(dtype, dtypes.int64), copy=False)
    return _leaf(arr)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """normal(mean, std, size) with numbers, or elementwise with tensor mean and/or std."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        like = mean if isinstance(mean, Tensor) else std
        shape = like.shape if size is None else size
        if isinstance(mean, Tensor) and isinstance(std, Tensor):
            from .ops.arithmetic import add
            shape = add(mean.detach() * 0, std.detach() * 0).shape
        z = _random("normal", (shape,), like.dtype, like.device, False, backend.random_normal, generator)
        out = z * std + mean
        return out.detach()
    if size is None:
        raise TypeError("normal(): with number mean and std, size is required")
    z = _random("normal", (size,), dtype, device, False, backend.random_normal, generator)
    out = _leaf((z * std + mean)._data, requires_grad)
    return out


def _size_keyword(fn):
    """PyTorch also takes the shape as size= (zeros(size=(2, 3)))."""
    import functools

    @functools.wraps(fn)
    def wrapper(*size, **kwargs):
        if "size" in kwargs:
            if size:
                raise TypeError(f"{fn.__name__}() got the shape both positionally and as size=")
            size = (kwargs.pop("size"),)
        return fn(*size, **kwargs)
    return wrapper


zeros, ones, empty, rand, randn = (_size_keyword(f) for f in (zeros, ones, empty, rand, randn))


def bernoulli(input, *, generator=None):
    """0/1 draws with probabilities `input` (a floating tensor in [0, 1]); same shape, dtype and device."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' must be Tensor, not {type(input).__name__}")
    return _leaf(_bernoulli_mask("bernoulli()", input.shape, input, input.dtype, input.device, generator))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Category indices drawn from the rows of `input`, non-negative finite weights (not all zero;
    they need not sum to 1): int64 of shape (num_samples,) for a 1-D input, (rows, num_samples)
    for a 2-D one. With replacement each draw inverts the row's cumulative weights; without, a
    row's draws are distinct and in the order drawn (exponential races: the categories with the
    smallest E / w, E ~ Exp(1), the Efraimidis-Spirakis scheme). Drawn on the input's device
    from its generator; invalid weights raise at the next read of a value on CUDA, as PyTorch."""
    from . import device_checks
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' must be Tensor, not {type(input).__name__}")
    w = input._data
    if w.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    if w.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got shape {list(w.shape)}")
    n_cat = w.shape[-1]
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
        raise TypeError(f"multinomial(): num_samples must be an int, got {type(num_samples).__name__}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if n_cat == 0:
        raise RuntimeError("multinomial(): the input has no categories (its last dim is 0)")
    if not replacement and num_samples > n_cat:
        raise RuntimeError(f"cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                           f"(n_sample={num_samples}, {n_cat} categories)")
    xp = backend.xp_of(w)
    dev = input.device
    with backend.device_context(dev):
        rows = w.reshape(-1, n_cat).astype(np.float64)
        r = rows.shape[0]
        device_checks.check((rows < 0) | ~xp.isfinite(rows), lambda: RuntimeError(
            "multinomial(): probability tensor contains either `inf`, `nan` or element < 0"), "multinomial()")
        device_checks.check(rows.sum(axis=1) <= 0, lambda: RuntimeError(
            "multinomial(): invalid multinomial distribution (sum of probabilities <= 0)"), "multinomial()")
        u = backend.random_uniform(dev, (r, num_samples if replacement else n_cat), np.float64, generator,
                                   op="multinomial()")
        if replacement:
            # one search over all rows at once: row i's cumulative weights, scaled to [0, 1], plus i
            cdf = xp.cumsum(rows, axis=1)
            cdf = cdf / cdf[:, -1:] + xp.arange(r, dtype=np.float64)[:, None]
            at = u + xp.arange(r, dtype=np.float64)[:, None]
            idx = xp.searchsorted(cdf.reshape(-1), at.reshape(-1), side="right").reshape(r, num_samples)
            idx = xp.clip(idx - xp.arange(r)[:, None] * n_cat, 0, n_cat - 1)
        else:
            device_checks.check((rows > 0).sum(axis=1) < num_samples, lambda: RuntimeError(
                "multinomial(): invalid multinomial distribution (with replacement=False, not enough "
                "non-negative category to sample)"), "multinomial()")
            with np.errstate(divide="ignore"):
                race = -xp.log1p(-u) / rows       # Exp(1) / w; a zero weight never finishes (inf)
            idx = backend.argsort_stable(race, 1)[:, :num_samples]
        idx = idx.astype(np.int64, copy=False)
    return _leaf(idx.reshape(num_samples) if w.ndim == 1 else idx)


def _bernoulli_mask(op, shape, p, dtype, device, generator):
    """An array of 0/1 in `dtype`, each 1 with probability p (a number or a Tensor broadcasting to shape)."""
    if isinstance(p, Tensor):
        if not p.dtype.is_floating_point:
            raise RuntimeError(f"{op}: expected a floating-point probability tensor, got {p.dtype}")
        if p.device != device:
            raise RuntimeError(f"{op}: probabilities are on {p.device} but the tensor is on {device}")
        prob = p._data
        xp = backend.xp_of(prob)
        ok = bool(xp.all((prob >= 0) & (prob <= 1)))  # also false for NaN
    else:
        prob = float(p)
        ok = 0.0 <= prob <= 1.0
    if not ok:
        raise RuntimeError(f"{op}: probabilities must be in [0, 1]")
    wide = prob.dtype if isinstance(prob, np.ndarray) or backend.is_array(prob) else np.float64
    dev = _device(device)
    with backend.device_context(dev):
        u = backend.random_uniform(dev, tuple(shape), wide, generator, op=op)
        return (u < prob).astype(dtypes.as_dtype(dtype).np)
