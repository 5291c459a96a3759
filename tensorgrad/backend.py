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


def _keep_freed_memory_in_the_heap() -> bool:
    """Ask glibc's malloc to serve large arrays from its heap and keep freed memory there.

    By default glibc maps every block over 32 MiB (less before its threshold adapts) straight
    from the kernel and unmaps it on free, so each training step's large temporaries (im2col
    columns, activations at batch 256) are page-faulted in afresh: a 42 MiB copy takes 3x as
    long as into reused memory. Raising the mmap and trim thresholds to 1 GiB lets freed blocks
    be reused. The cost: memory freed by a step stays with the process, as PyTorch's caching
    allocators keep theirs. Set TENSORGRAD_MALLOC_TUNING=0 to leave malloc alone."""
    import os
    import sys
    if os.environ.get("TENSORGRAD_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt  # glibc only; musl has no mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    mmap_ok = bool(mallopt(m_mmap_threshold, 1 << 30))  # each on its own: report what took effect
    trim_ok = bool(mallopt(m_trim_threshold, 1 << 30))
    return mmap_ok and trim_ok


MALLOC_TUNED = _keep_freed_memory_in_the_heap()


def cupy():
    """The CuPy module, or a RuntimeError saying why CUDA cannot be used."""
    reason = cuda_unavailable_reason()
    if reason:
        raise RuntimeError(f"CUDA is not available: {reason}")
    return _cupy


def set_float32_matmul_compute(precision: str) -> bool:
    """Point CuPy's cuBLAS float32 matmuls at PyTorch's precision level: 'highest' full float32,
    'high' TF32 tensor cores, 'medium' bfloat16. Returns whether CuPy took it (without CuPy there is
    nothing to set: NumPy's BLAS has one float32 precision)."""
    if cuda_unavailable_reason() is not None:  # CuPy checks the GPU's compute capability
        return False
    try:
        from cupy._core import _routines_linalg as rl  # CuPy's compute-type switch (cupy._core.set_compute_type)
        kind = {"highest": rl.COMPUTE_TYPE_FP32, "high": rl.COMPUTE_TYPE_TF32,
                "medium": rl.COMPUTE_TYPE_BF16}[precision]
        rl.set_compute_type(np.float32, kind)
    except (ImportError, AttributeError, ValueError):  # no switch in this CuPy, or a GPU without TF32/bfloat16
        return False
    return True


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
    if arr.__class__ is np.ndarray or isinstance(arr, np.ndarray):  # subclasses too (np.memmap)
        return CPU
    return _cuda_device(arr.device.id)


def plain_array(arr):
    """A NumPy subclass instance (np.memmap, np.matrix, ...) as a base ndarray sharing its memory:
    tensors hold only base ndarrays (or CuPy arrays), which the fast paths test by class."""
    if arr.__class__ is not np.ndarray and isinstance(arr, np.ndarray):
        return arr.view(np.ndarray)
    return arr


def xp_of(arr):
    """The array module (numpy or cupy) that owns `arr`."""
    return np if arr.__class__ is np.ndarray else _cupy


def is_view_of(arr, src) -> bool:
    """Whether `arr`, the result of a view op on `src`, aliases `src`'s memory (not a fresh copy).

    NumPy sets ``base`` on every view (slicing, reshape, as_strided, ndarray(buffer=)). CuPy
    leaves ``base`` None on arrays built from a memory pointer, which is how its as_strided
    makes its views, so there the allocation behind the two memory pointers is compared: views
    keep their source's allocation (``.data.mem``), copies get a new one."""
    if arr.base is not None:
        return True
    if arr.__class__ is np.ndarray or src.__class__ is np.ndarray:
        return False
    mem = getattr(getattr(arr, "data", None), "mem", None)  # NumPy scalars: a memoryview, no .mem
    return mem is not None and mem is getattr(getattr(src, "data", None), "mem", None)


def writable_diagonal(arr, offset: int, d1: int, d2: int):
    """arr's diagonal as a view that can be written through (NumPy hands out a read-only one)."""
    view = arr.diagonal(offset, d1, d2)
    if view.__class__ is np.ndarray and arr.flags.writeable:
        view.setflags(write=True)
    return view


def sliding_view(arr, shape, strides):
    """A read-only strided view of `arr` (windows, im2col): CuPy's as_strided has no `writeable`."""
    if arr.__class__ is np.ndarray:
        return np.lib.stride_tricks.as_strided(arr, shape, strides, writeable=False)
    return _cupy.lib.stride_tricks.as_strided(arr, shape, strides)


def repeat_pairs(a):
    """(..., W) -> (..., 2W), each element twice in a row (a 2-wide tile's columns). On the CPU one
    widening multiply does it: an element's bits times (1 + 2**bits) in a twice-as-wide integer
    are two copies side by side, much cheaper than NumPy's element-wise repeat."""
    wide = {1: np.uint16, 2: np.uint32, 4: np.uint64}.get(a.dtype.itemsize)
    if a.__class__ is not np.ndarray or wide is None:
        return xp_of(a).repeat(a, 2, axis=-1)
    cols = np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}").astype(wide)
    cols *= wide(1 + (1 << (8 * a.dtype.itemsize)))
    return cols.view(a.dtype).reshape(a.shape[:-1] + (2 * a.shape[-1],))


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


def column_budget(arr) -> int:
    """Bytes of im2col columns a convolution materialises at a time for `arr`'s device: on the
    CPU a chunk of the batch whose columns stay in cache; on a GPU the whole batch at once."""
    return (16 << 20) if arr.__class__ is np.ndarray else (1 << 30)


_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def row_windows(arr) -> bool:
    """Whether stride-1 convolutions on `arr`'s device take their windows as whole image rows
    (ops/conv.py): on the CPU copies of long contiguous runs beat copies of short window rows
    by 2x; on a GPU both are one gather kernel, and the row path's finiteness checks would sync."""
    return arr.__class__ is np.ndarray


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


def zero_where(cond, x):
    """0 where `cond`, else `x` (also where `x` is inf or NaN): where_or_zero with the condition
    inverted, at the same cost (relu's backward masks where y <= 0, so a NaN y passes, as PyTorch)."""
    if x.__class__ is np.ndarray and x.dtype.kind == "f" and x.flags.c_contiguous and cond.shape == x.shape:
        ints = _SAME_SIZE_INT[x.dtype.itemsize]
        bits = np.subtract(cond, 1, dtype=ints, out=np.empty(x.shape, ints))  # True -> 0, False -> -1 (all ones)
        np.bitwise_and(bits, x.view(ints), out=bits)
        return bits.view(x.dtype)
    return xp_of(x).where(cond, x.dtype.type(0), x)


def logaddexp_accumulate(arr, axis: int):
    """log(cumsum(exp(arr))) along axis, without overflow or underflow: NumPy's
    logaddexp.accumulate; CuPy has no ufunc accumulate, so there a log-space Hillis-Steele scan
    (log2 n logaddexp passes, each exact, however far below the slice's maximum an entry is)."""
    if arr.__class__ is np.ndarray:
        return np.logaddexp.accumulate(arr, axis=axis)
    return log_scan(cupy(), arr, axis)


def log_scan(xp, arr, axis: int):
    """The Hillis-Steele scan of logaddexp_accumulate, with array module xp (tested on NumPy)."""
    y = xp.moveaxis(arr.copy(), axis, -1)
    n, k = y.shape[-1], 1
    while k < n:
        y[..., k:] = xp.logaddexp(y[..., k:], y[..., :-k].copy())
        k *= 2
    return xp.moveaxis(y, -1, axis)


def special_function(name: str, numpy_fn):
    """A special function for an array's device: `numpy_fn` (our NumPy code) on the CPU,
    cupyx.scipy.special's `name` on CUDA."""
    def fn(arr):
        if arr.__class__ is np.ndarray:
            return numpy_fn(arr)
        import cupyx.scipy.special as sp
        return getattr(sp, name)(arr).astype(arr.dtype, copy=False)  # (float16 computes in float32)
    return fn


def argsort_stable(arr, axis: int):
    """Indices sorting `arr` along `axis`, equal values in their order, NaN last (CuPy's sort is
    always stable and takes no kind='stable')."""
    return arr.argsort(axis=axis, kind="stable") if arr.__class__ is np.ndarray else arr.argsort(axis=axis)


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


def to_device(arr, device: Device, copy: bool = False, non_blocking: bool = False):
    """Copy `arr` to `device` (the one explicit transfer path); no copy when already there.

    non_blocking: a pinned host array is copied to the GPU asynchronously on the current stream
    (later work on that stream sees the data); any other copy is synchronous, as in PyTorch."""
    arr = plain_array(arr)
    if device.type == "cpu":
        if arr.__class__ is np.ndarray:
            return arr.copy() if copy else arr
        return arr.get()
    cp = cupy()
    idx = _check_cuda_index(device)
    if arr.__class__ is not np.ndarray and arr.device.id == idx and not copy:
        return arr
    with cp.cuda.Device(idx):
        if non_blocking and arr.__class__ is np.ndarray and is_pinned(arr):
            return _copy_async(cp, arr)
        return cp.array(arr, copy=True)


_inflight: list = []  # (event, pinned host array) of asynchronous uploads not yet known to be done


def _copy_async(cp, host):
    out = cp.empty(host.shape, host.dtype)
    stream = cp.cuda.get_current_stream()
    out.set(host, stream=stream)
    # the pinned buffer must outlive the copy: keep it until the copy's event has fired
    event = stream.record()
    _inflight[:] = [(e, h) for e, h in _inflight if not e.done]
    _inflight.append((event, host))
    return out


def pin_memory(arr):
    """A copy of host array `arr` in page-locked (pinned) memory, which the GPU reads directly,
    so that uploads from it can run asynchronously. Needs a usable CUDA device."""
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"pin_memory(): pinned memory needs a usable CUDA device: {reason}")
    if arr.__class__ is not np.ndarray:
        raise RuntimeError(f"pin_memory(): only CPU tensors can be pinned, got one on {device_of(arr)}")
    if arr.nbytes == 0:
        return np.empty(arr.shape, arr.dtype)
    mem = cupy().cuda.alloc_pinned_memory(arr.nbytes)
    out = np.frombuffer(mem, arr.dtype, arr.size).reshape(arr.shape)  # holds `mem` alive as its base
    out[...] = arr
    return out


def is_pinned(arr) -> bool:
    """Whether host array `arr` lives in page-locked memory registered with CUDA."""
    if arr.__class__ is not np.ndarray or arr.nbytes == 0 or cuda_unavailable_reason() is not None:
        return False
    cp = cupy()
    try:
        attrs = cp.cuda.runtime.pointerGetAttributes(arr.ctypes.data)
    except cp.cuda.runtime.CUDARuntimeError:
        return False
    return attrs.type == 1  # cudaMemoryTypeHost


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
_DEFAULT_SEED = 67280421310721  # the seed of a torch.Generator() that was never seeded
_UINT64 = (1 << 64) - 1
_STATE_MAGIC = b"tensorgrad.Generator\x001"  # leads every CPU state; a torch state or stray bytes lack it


def _seed_value(seed, op: str) -> int:
    """A seed as torch takes it: an int in [-2**63, 2**64 - 1]; negatives wrap to uint64 (-1 -> 2**64 - 1)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if not -(1 << 63) <= seed <= _UINT64:
        raise ValueError(f"{op}: seed {seed} is out of range; valid seeds are -2**63 .. 2**64 - 1")
    return seed & _UINT64


def _nondeterministic_seed() -> int:
    import os
    return int.from_bytes(os.urandom(8), "little")


class Generator:
    """A random number generator on one device, with torch.Generator's API.

    CPU: a NumPy Generator (PCG64); CUDA: a CuPy RandomState (cuRAND) made on the generator's device.
    Pass it as ``generator=`` to rand/randn/randint/randperm/normal, Tensor.uniform_/normal_, nn.init
    and the data utilities: draws from it leave the global generators' streams untouched.

    Beside the seed it keeps a Philox offset for the counter-based draws (dropout masks, see
    tensorgrad/fused/dropout.py): philox_draw() hands out (seed, offset) and moves the offset past
    the counters used, as PyTorch's CUDA generators do, so the same seed gives the same masks
    again (and the same masks on the CPU and on CUDA with the CPU's "philox" mask mode).
    """

    __slots__ = ("_device", "_seed", "_impl", "_philox_offset")

    def __init__(self, device="cpu"):
        # a bare 'cuda' gets the current index; without CUDA this raises, saying why CUDA is unusable
        self._device = normalize_device(as_device(device))
        self._impl = None
        self._reseed(_DEFAULT_SEED)

    @property
    def device(self) -> Device:
        return self._device

    def __repr__(self):
        return f"Generator(device='{self._device}', initial_seed={self._seed})"

    def _reseed(self, seed: int) -> None:
        if self._device.type == "cpu":
            self._impl = np.random.default_rng(seed)
        else:
            cp = cupy()
            with cp.cuda.Device(self._device.index):  # cuRAND generators belong to the device current at creation
                if self._impl is None:
                    self._impl = cp.random.RandomState(seed)
                else:
                    self._impl.seed(seed)
        self._seed = seed
        self._philox_offset = 0  # a new seed starts the counter-based stream afresh

    def philox_draw(self, n_counters: int) -> tuple[int, int]:
        """(seed, offset) for a Philox draw of `n_counters` counters; the next draw starts after them.

        A caller evaluates Philox at counters (k, offset) for k < n_counters under key seed, so
        successive draws never reuse a counter. Nothing runs on the device: safe to call while
        kernels are in flight."""
        n = int(n_counters)
        if n < 0:
            raise ValueError(f"Generator.philox_draw(): n_counters must be >= 0, got {n}")
        offset = self._philox_offset
        self._philox_offset = (offset + n) & _UINT64
        return self._seed, offset

    def philox_offset(self) -> int:
        """Where the next Philox draw starts (0 after manual_seed / seed)."""
        return self._philox_offset

    def manual_seed(self, seed) -> "Generator":
        """Seed the generator; returns self, so ``Generator().manual_seed(0)`` can be passed directly."""
        self._reseed(_seed_value(seed, "Generator.manual_seed()"))
        return self

    def seed(self) -> int:
        """Reseed from OS entropy and return the new seed."""
        seed = _nondeterministic_seed()
        self._reseed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed the current stream started from."""
        return self._seed

    def _no_cuda_state(self, op: str):
        return NotImplementedError(
            f"Generator.{op}(): not supported for a CUDA generator ({self._device}): CuPy's cuRAND-backed "
            f"RandomState does not expose its position in the stream. Use manual_seed() to restart a CUDA "
            f"stream reproducibly, or a CPU generator where a state must be saved")

    def get_state(self):
        """The generator's state as a 1-D uint8 CPU Tensor (tensorgrad's own encoding, not torch's)."""
        if self._device.type != "cpu":
            raise self._no_cuda_state("get_state")
        import json
        import zlib
        from .tensor import Tensor
        body = json.dumps({"seed": self._seed, "bit_generator": self._impl.bit_generator.state,
                           "philox_offset": self._philox_offset},
                          sort_keys=True, separators=(",", ":")).encode()
        data = _STATE_MAGIC + zlib.crc32(body).to_bytes(4, "little") + body
        return Tensor._make(np.frombuffer(data, dtype=np.uint8).copy(), None, 0, None)

    def set_state(self, new_state) -> "Generator":
        """Restore a state from get_state() (of this or another CPU Generator); returns self."""
        if self._device.type != "cpu":
            raise self._no_cuda_state("set_state")
        from .tensor import Tensor
        if not isinstance(new_state, Tensor) or new_state._data.dtype != np.uint8 or new_state.dim() != 1:
            got = (f"a {new_state.dtype} Tensor of shape {list(new_state.shape)}" if isinstance(new_state, Tensor)
                   else type(new_state).__name__)
            raise TypeError(f"Generator.set_state(): expected a 1-D uint8 Tensor returned by "
                            f"Generator.get_state() or tensorgrad.get_rng_state(), got {got}")
        self._seed, self._impl, self._philox_offset = _decode_state(to_device(new_state._data, CPU).tobytes())
        return self

    def clone_state(self) -> "Generator":
        """A new generator on the same device, at the same point of the same stream."""
        g = Generator(self._device)
        return g.set_state(self.get_state())


def _decode_state(data: bytes):
    """(seed, NumPy Generator at the saved state, Philox offset) from get_state()'s bytes, or a
    RuntimeError saying why not. States saved before the offset existed load with offset 0."""
    import json
    import zlib

    def bad(why):
        return RuntimeError(f"Generator.set_state(): invalid generator state ({why}); pass a tensor "
                            f"returned by a tensorgrad CPU Generator's get_state() or tensorgrad.get_rng_state() "
                            f"(states of torch or other libraries are not interchangeable)")

    head = len(_STATE_MAGIC) + 4
    if len(data) < head or not data.startswith(_STATE_MAGIC):
        raise bad(f"{len(data)} bytes without tensorgrad's header")
    crc, body = int.from_bytes(data[len(_STATE_MAGIC):head], "little"), data[head:]
    if zlib.crc32(body) != crc:
        raise bad("checksum mismatch: the bytes were modified or truncated")
    try:
        payload = json.loads(body)
        seed, state = payload["seed"], payload["bit_generator"]
        offset = payload.get("philox_offset", 0)
        if (state["bit_generator"] != "PCG64" or not _is_uint64(seed) or not _is_uint64(offset)):
            raise ValueError(f"bit generator {state['bit_generator']!r}, seed {seed!r}, philox_offset {offset!r}")
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state  # NumPy validates the fields
    except (ValueError, TypeError, KeyError) as e:
        raise bad(f"unreadable payload: {e}") from None
    return seed, rng, offset


def _is_uint64(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _UINT64


default_generator = Generator("cpu")
default_generator.seed()  # the global stream starts unpredictable, as torch's does; initial_seed() tells it
_cuda_defaults: dict = {}  # device index -> that device's default Generator, made on first use
_seed_state = {"seed": None}  # the last manual_seed(), from which CUDA defaults made later are seeded


def manual_seed(seed) -> Generator:
    """Seed the CPU generator and every CUDA device's generator (device i gets seed + i)."""
    seed = _seed_value(int(seed), "manual_seed()")
    _seed_state["seed"] = seed
    default_generator._reseed(seed)
    for i, g in _cuda_defaults.items():  # reseed in place: references to them stay valid
        g._reseed((seed + i) & _UINT64)
    return default_generator


def seed() -> int:
    """Seed every device's default generator from OS entropy; return the seed."""
    s = _nondeterministic_seed()
    manual_seed(s)
    return s


def manual_seed_cuda(seed, index: int | None = None) -> None:
    cp = cupy()
    seed = _seed_value(int(seed), "cuda.manual_seed()")
    idxs = range(cp.cuda.runtime.getDeviceCount()) if index is None else [index]
    for i in idxs:
        default_generator_for(_cuda_device(i))._reseed((seed + i) & _UINT64)


def default_generator_for(device: Device) -> Generator:
    """The global Generator of a (normalized) device."""
    if device.type == "cpu":
        return default_generator
    g = _cuda_defaults.get(device.index)
    if g is None:
        g = Generator(_cuda_device(device.index))
        s = _seed_state["seed"]
        g._reseed(_nondeterministic_seed() if s is None else (s + device.index) & _UINT64)
        _cuda_defaults[device.index] = g
    return g


def philox_draw(device: Device, n_counters: int) -> tuple[int, int]:
    """(seed, offset) from `device`'s default generator for a Philox draw of n_counters counters
    (dropout): a host-side bookkeeping step, no device work and no synchronization."""
    return default_generator_for(device).philox_draw(n_counters)


def generator_for(device: Device):
    """The raw default generator: NumPy Generator on the CPU, a CuPy RandomState on a CUDA device."""
    return default_generator_for(device)._impl


def _engine(device: Device, generator, op: str):
    """The NumPy/CuPy generator to draw from: `generator`'s if given (checked), else the device default."""
    if generator is None:
        return default_generator_for(device)._impl
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a tensorgrad.Generator or None, got "
                        f"{type(generator).__module__}.{type(generator).__qualname__}")
    if generator._device != device:
        # CUDA too compares the index: a cuRAND generator only draws on the device it was made on
        raise RuntimeError(f"{op}: generator is on {generator._device} but the tensor is requested on {device}; "
                           f"pass a generator created with Generator(device='{device}')")
    return generator._impl


def host_rng(generator, op: str):
    """The NumPy Generator behind a CPU Generator (None: the global one) for index draws on the host.

    A raw numpy.random.Generator is passed through (the data utilities took one before tg.Generator).
    """
    if generator is None:
        return default_generator._impl
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, Generator) and generator._device.type == "cpu":
        return generator._impl
    got = (f"a Generator on {generator._device}" if isinstance(generator, Generator)
           else f"{type(generator).__module__}.{type(generator).__qualname__}")
    raise TypeError(f"{op}: generator must be a CPU tensorgrad.Generator (Generator() or "
                    f"Generator(device='cpu')), a numpy.random.Generator, or None for the global generator; "
                    f"got {got}")


def random_uniform(device: Device, shape, np_dtype, generator=None, op: str = "rand()"):
    """Uniform [0, 1) samples in a floating dtype."""
    g = _engine(device, generator, op)
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


def random_normal(device: Device, shape, np_dtype, generator=None, op: str = "randn()"):
    """Standard normal samples in a floating dtype."""
    g = _engine(device, generator, op)
    wide = np.float32 if np_dtype == np.float16 else np_dtype  # neither generator draws float16
    return g.standard_normal(shape, dtype=wide).astype(np_dtype, copy=False)


def random_integers(device: Device, low: int, high: int, shape, np_dtype, generator=None, op: str = "randint()"):
    """Integers uniform in [low, high)."""
    g = _engine(device, generator, op)
    if device.type == "cpu":
        return g.integers(low, high, size=shape, dtype=np.int64).astype(np_dtype, copy=False)
    return g.randint(low, high, size=shape, dtype=np.int64).astype(np_dtype, copy=False)


def random_permutation(device: Device, n: int, generator=None, op: str = "randperm()"):
    g = _engine(device, generator, op)
    return g.permutation(n).astype(np.int64, copy=False)
