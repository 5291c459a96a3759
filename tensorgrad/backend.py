"""The one place that knows NumPy from CuPy.

Everything device-specific goes through here: the optional CuPy import and the
reason it is unusable, `Device`, the array module of an array, transfers
between devices, and the per-device random generators.
"""
from __future__ import annotations

import numpy as np

try:  # CuPy is optional: a CPU-only install never imports it successfully.
    import cupy as _cupy
    _CUPY_IMPORT_ERROR = None
except Exception as e:  # ImportError, or a broken CUDA install raising on import
    _cupy = None
    _CUPY_IMPORT_ERROR = e

_cuda_reason_cache: list = []


def cupy():
    """The CuPy module, or a RuntimeError saying why CUDA cannot be used."""
    reason = cuda_unavailable_reason()
    if reason:
        raise RuntimeError(f"CUDA is not available: {reason}")
    return _cupy


def cuda_unavailable_reason() -> str | None:
    """None when a CUDA device can be used, else a sentence saying why not."""
    if _cuda_reason_cache:
        return _cuda_reason_cache[0]
    if _cupy is None:
        reason = ("CuPy is not installed (install tensorgrad with the cuda12 or cuda13 extra, "
                  f"e.g. pip install 'tensorgrad-autodiff[cuda13]'); import error: {_CUPY_IMPORT_ERROR}")
    else:
        try:
            n = _cupy.cuda.runtime.getDeviceCount()
            reason = None if n > 0 else "CuPy found no CUDA device (getDeviceCount() == 0)"
        except Exception as e:  # no driver, driver too old, no device node
            reason = f"CuPy is installed but the CUDA driver or device cannot be used: {e}"
    _cuda_reason_cache.append(reason)
    return reason


def cuda_device_count() -> int:
    return 0 if cuda_unavailable_reason() else _cupy.cuda.runtime.getDeviceCount()


class Device:
    """A device, printed like ``device(type='cuda', index=0)``; ``str()`` gives 'cuda:0'."""

    __slots__ = ("type", "index")

    def __init__(self, type_or_str="cpu", index=None):
        if isinstance(type_or_str, Device):
            type_or_str, index = type_or_str.type, type_or_str.index
        elif isinstance(type_or_str, int) and not isinstance(type_or_str, bool):
            type_or_str, index = "cuda", type_or_str
        if not isinstance(type_or_str, str):
            raise TypeError(f"device: expected a string like 'cpu', 'cuda' or 'cuda:1', got {type_or_str!r}")
        kind, _, idx = type_or_str.partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"device: unknown device type {kind!r}; expected 'cpu', 'cuda' or 'cuda:N'")
        if idx:
            if index is not None:
                raise RuntimeError(f"device: index given twice in {type_or_str!r} and index={index}")
            if not idx.isdigit():
                raise RuntimeError(f"device: invalid device string {type_or_str!r}; expected 'cuda:N'")
            index = int(idx)
        if kind == "cpu" and index not in (None, 0):
            raise RuntimeError(f"device: the cpu device has no index {index}")
        self.type = kind
        self.index = None if kind == "cpu" else index

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, Device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = Device("cpu")
_cuda_devices: dict = {}


def _cuda_device(i: int) -> Device:
    d = _cuda_devices.get(i)
    if d is None:
        d = _cuda_devices[i] = Device("cuda", i)
    return d


def as_device(d) -> Device:
    if d.__class__ is Device:
        return d
    return Device(d)


def device_of(arr) -> Device:
    if arr.__class__ is np.ndarray:
        return CPU
    return _cuda_device(arr.device.id)


def xp_of(arr):
    """The array module (numpy or cupy) that owns `arr`."""
    return np if arr.__class__ is np.ndarray else _cupy


def broadcast_to(arr, shape):
    """A read-only broadcast view of `arr` (NumPy's broadcast_to is Python-level and slow on tiny arrays)."""
    if arr.__class__ is not np.ndarray:
        return _cupy.broadcast_to(arr, shape)
    if not arr.flags.c_contiguous or len(shape) < arr.ndim:
        return np.broadcast_to(arr, shape)
    lead = len(shape) - arr.ndim
    strides = [0] * lead
    for n, st, want in zip(arr.shape, arr.strides, shape[lead:]):
        if n != want:
            if n != 1:
                return np.broadcast_to(arr, shape)  # let NumPy raise its error
            st = 0
        strides.append(st)
    out = np.ndarray(shape, arr.dtype, arr, 0, tuple(strides))
    out.flags.writeable = False
    return out


def ones_like(arr):
    """Ones of `arr`'s shape, dtype and device (np.ones_like is Python-level and slow on tiny arrays)."""
    if arr.__class__ is np.ndarray:
        return np.ones(arr.shape, arr.dtype)
    return _cupy.ones_like(arr)


_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def where_or_zero(cond, x):
    """`x` where `cond`, else 0, even where `x` is inf or NaN (relu's backward).

    NumPy's where is branchy and 3x slower than arithmetic on a random mask, so on the CPU a
    contiguous float array is masked bitwise instead: the mask becomes all-ones or all-zeros
    integers (-True == -1) and is ANDed with the float's bits, giving exactly x or +0.0."""
    if x.__class__ is np.ndarray and x.dtype.kind == "f" and x.flags.c_contiguous and cond.shape == x.shape:
        ints = _SAME_SIZE_INT[x.dtype.itemsize]
        bits = np.negative(cond, dtype=ints, out=np.empty(x.shape, ints))  # out=: stays an array when 0-d
        np.bitwise_and(bits, x.view(ints), out=bits)
        return bits.view(x.dtype)
    return xp_of(x).where(cond, x, x.dtype.type(0))


def xp_for(device: Device):
    return np if device.type == "cpu" else cupy()


def is_array(x) -> bool:
    return isinstance(x, np.ndarray) or (_cupy is not None and isinstance(x, _cupy.ndarray))


def _check_cuda_index(device: Device) -> int:
    cp = cupy()
    idx = cp.cuda.runtime.getDevice() if device.index is None else device.index
    n = cp.cuda.runtime.getDeviceCount()
    if not 0 <= idx < n:
        raise RuntimeError(f"CUDA device {idx} does not exist: {n} device(s) visible (valid: cuda:0..cuda:{n - 1})")
    return idx


def normalize_device(device: Device) -> Device:
    """Give a bare 'cuda' its current index, checking that CUDA is usable."""
    if device.type == "cpu":
        return CPU
    return _cuda_device(_check_cuda_index(device))


def to_device(arr, device: Device, copy: bool = False):
    """Copy `arr` to `device` (the one explicit transfer path); no copy when already there."""
    if device.type == "cpu":
        if arr.__class__ is np.ndarray:
            return arr.copy() if copy else arr
        return arr.get()
    cp = cupy()
    idx = _check_cuda_index(device)
    if arr.__class__ is not np.ndarray and arr.device.id == idx and not copy:
        return arr
    with cp.cuda.Device(idx):
        return cp.array(arr, copy=True)


def asarray_on(data, device: Device, np_dtype=None):
    """An array on `device` from nested lists, scalars or arrays (for tensor())."""
    if device.type == "cpu":
        if _cupy is not None and isinstance(data, _cupy.ndarray):
            data = data.get()
        return np.asarray(data, dtype=np_dtype)
    cp = cupy()
    with cp.cuda.Device(_check_cuda_index(device)):
        return cp.asarray(data, dtype=np_dtype)


def device_context(device: Device):
    """A context manager making `device` current for CuPy allocations (no-op on CPU)."""
    if device.type == "cpu":
        return _NullContext
    return cupy().cuda.Device(device.index)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


_NullContext = _Null()


# ---------------------------------------------------------------- random generators
_cpu_gen = [np.random.default_rng()]
_cuda_gens: dict = {}
_seed_state = {"seed": None}


def manual_seed(seed: int) -> None:
    """Seed the CPU generator and every CUDA device's generator."""
    seed = int(seed)
    _seed_state["seed"] = seed
    _cpu_gen[0] = np.random.default_rng(seed)
    _cuda_gens.clear()  # recreated lazily from the stored seed


def manual_seed_cuda(seed: int, index: int | None = None) -> None:
    cp = cupy()
    idxs = range(cp.cuda.runtime.getDeviceCount()) if index is None else [index]
    for i in idxs:
        with cp.cuda.Device(i):
            _cuda_gens[i] = cp.random.RandomState(int(seed) + i)


def generator_for(device: Device):
    """NumPy Generator on the CPU, a CuPy RandomState on a CUDA device."""
    if device.type == "cpu":
        return _cpu_gen[0]
    g = _cuda_gens.get(device.index)
    if g is None:
        cp = cupy()
        with cp.cuda.Device(device.index):
            seed = _seed_state["seed"]
            g = _cuda_gens[device.index] = (cp.random.RandomState(seed + device.index)
                                            if seed is not None else cp.random.RandomState())
    return g


def random_uniform(device: Device, shape, np_dtype):
    """Uniform [0, 1) samples in a floating dtype."""
    g = generator_for(device)
    half = np_dtype == np.float16
    if device.type == "cpu":
        u = g.random(shape, dtype=np.float32 if half else np_dtype)
    else:
        u = g.random_sample(shape, dtype=np.float32 if half else np_dtype)
    if half:
        # keep 11 random bits: every value is exact in float16, so none rounds up to 1.0
        xp = np if device.type == "cpu" else _cupy
        u = xp.floor(u * 2048.0) * (1.0 / 2048.0)
        return u.astype(np.float16)
    return u


def random_normal(device: Device, shape, np_dtype):
    """Standard normal samples in a floating dtype."""
    g = generator_for(device)
    wide = np.float32 if np_dtype == np.float16 else np_dtype  # neither generator draws float16
    return g.standard_normal(shape, dtype=wide).astype(np_dtype, copy=False)


def random_integers(device: Device, low: int, high: int, shape, np_dtype):
    """Integers uniform in [low, high)."""
    g = generator_for(device)
    if device.type == "cpu":
        return g.integers(low, high, size=shape, dtype=np.int64).astype(np_dtype, copy=False)
    return g.randint(low, high, size=shape, dtype=np.int64).astype(np_dtype, copy=False)


def random_permutation(device: Device, n: int):
    g = generator_for(device)
    return g.permutation(n).astype(np.int64, copy=False)
