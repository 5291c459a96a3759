"""tensorgrad.cuda: is CUDA usable, which device is current, memory statistics, and checks.

Memory comes from CuPy's default memory pool, a caching allocator like PyTorch's:
memory_allocated() is what live arrays hold (the pool's used bytes), memory_reserved() what
the pool holds from the driver (used plus cached), empty_cache() gives the cached blocks back.
CuPy keeps no peak, so importing this module installs an allocator that calls the pool's malloc
and raises a per-device peak after each allocation (only an allocation can raise it).

Without CUDA the memory statistics are 0 and empty_cache() does nothing, as in PyTorch; the
functions that need a device raise a RuntimeError saying why CUDA is unavailable.
"""
from __future__ import annotations

from . import backend, device_checks


def is_available() -> bool:
    """True when CuPy imports and sees a CUDA device with a working driver."""
    return backend.cuda_unavailable_reason() is None


def unavailable_reason() -> str | None:
    """Why CUDA can't be used here (no CuPy / no driver / no device), or None."""
    return backend.cuda_unavailable_reason()


def device_count() -> int:
    return backend.cuda_device_count()


def current_device() -> int:
    return backend.cupy().cuda.runtime.getDevice()


def set_device(device) -> None:
    d = backend.normalize_device(backend.as_device(device))
    backend.cupy().cuda.runtime.setDevice(d.index)


def synchronize(device=None) -> None:
    """Wait for the device's queued work, then raise any check that ops deferred (see
    set_eager_checks)."""
    cp = backend.cupy()
    if device is None:
        cp.cuda.Device().synchronize()
    else:
        d = backend.normalize_device(backend.as_device(device))
        cp.cuda.Device(d.index).synchronize()
    device_checks.flush()


def manual_seed(seed: int) -> None:
    """Seed the current device's generator (tensorgrad.manual_seed seeds all devices). Without a
    usable GPU it does nothing (after checking the seed), as in PyTorch, so seed-everything code
    runs on any machine."""
    if not is_available():
        backend._seed_value(seed, "cuda.manual_seed()")
        return
    backend.manual_seed_cuda(seed, current_device())


def manual_seed_all(seed: int) -> None:
    """Seed every device's generator; nothing to seed without a usable GPU (as in PyTorch)."""
    if not is_available():
        backend._seed_value(seed, "cuda.manual_seed_all()")
        return
    backend.manual_seed_cuda(seed)


def _generator(device, op: str):
    d = backend.normalize_device(backend.as_device("cuda" if device is None else
                                                  (f"cuda:{device}" if isinstance(device, int) else device)))
    if d.type != "cuda":
        raise ValueError(f"{op}: expected a CUDA device, got {d}")
    return backend.default_generator_for(d)


def get_rng_state(device="cuda"):
    """The device's default generator state as a uint8 Tensor (for set_rng_state)."""
    return _generator(device, "cuda.get_rng_state()").get_state()


def set_rng_state(new_state, device="cuda") -> None:
    _generator(device, "cuda.set_rng_state()").set_state(new_state)


def get_rng_state_all() -> list:
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    for i, state in enumerate(new_states):
        set_rng_state(state, i)


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: tensorgrad has no bfloat16 (NumPy and CuPy lack its arithmetic); scripts that check
    this before choosing bfloat16 pick float16 or float32 instead."""
    return False


class device:
    """Context manager making a CUDA device current: ``with tensorgrad.cuda.device(1): ...``."""

    def __init__(self, device):
        self._device = backend.normalize_device(backend.as_device(device))
        self._ctx = None

    def __enter__(self):
        self._ctx = backend.device_context(self._device)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


# ---------------------------------------------------------------- deferred checks
def set_eager_checks(enabled: bool) -> None:
    """Debugging switch for checks that need a value from device data (index out of bounds,
    integer division by zero, class targets out of range...).

    Off (the default): on CUDA such a check runs on the device without synchronizing and is
    read at the next point that reads a value anyway (item(), tolist(), printing, .cpu(),
    synchronize()), raising there with a note naming the op it came from. On: every such check
    synchronizes and raises at the failing call, as on the CPU. The environment variable
    TENSORGRAD_EAGER_CHECKS=1 turns it on at import. Checks already pending are evaluated when
    it is turned on."""
    device_checks.set_eager(enabled)


def eager_checks() -> bool:
    """Whether CUDA checks synchronize at the failing call (see set_eager_checks)."""
    return device_checks.is_eager()


# ---------------------------------------------------------------- memory
_peak: dict = {}      # device id -> highest used_bytes seen right after an allocation
_seen: set = set()    # devices the tracking allocator has allocated on


def _install_peak_tracking() -> bool:
    """Route CuPy's allocations through the default pool's malloc plus a peak update. Leaves a
    user-installed allocator alone (then max_memory_allocated is only as fresh as the last
    memory query). No CUDA call is made here: safe on a machine without a GPU."""
    cp = backend._cupy
    if cp is None:
        return False
    pool = cp.get_default_memory_pool()
    malloc = pool.malloc
    used = pool.used_bytes
    peak, seen = _peak, _seen

    def tracking_malloc(size):
        mem = malloc(size)
        d = mem.device_id
        u = used()  # the current device's pool: the one malloc just served
        if u > peak.get(d, 0):
            peak[d] = u
        if d not in seen:
            seen.add(d)
        return mem

    current = cp.cuda.get_allocator()
    if current == malloc:
        cp.cuda.set_allocator(tracking_malloc)
        return True
    return getattr(current, "__name__", "") == "tracking_malloc"


_PEAK_TRACKED = _install_peak_tracking()


def _device_index(device, op: str):
    """The CUDA index `device` names (None: the current one), or None without CUDA."""
    if backend.cuda_unavailable_reason() is not None:
        return None
    if device is None:
        return backend.cupy().cuda.runtime.getDevice()
    d = backend.as_device(device)
    if d.type != "cuda":
        raise ValueError(f"tensorgrad.cuda.{op}(): expected a CUDA device (an index, 'cuda:N' or "
                         f"tensorgrad.device('cuda', N)), got {d}")
    return backend.normalize_device(d).index


def _pool_query(index: int, what: str) -> int:
    cp = backend.cupy()
    with cp.cuda.Device(index):
        return getattr(cp.get_default_memory_pool(), what)()


def memory_allocated(device=None) -> int:
    """Bytes held by live arrays on `device` (an index, 'cuda:N', a tensorgrad.device; default
    the current device), as CuPy's pool counts them (rounded up to its 512-byte blocks). 0
    without CUDA, as in PyTorch."""
    i = _device_index(device, "memory_allocated")
    return 0 if i is None else _pool_query(i, "used_bytes")


def memory_reserved(device=None) -> int:
    """Bytes the memory pool holds from the driver on `device`: allocated plus cached for reuse."""
    i = _device_index(device, "memory_reserved")
    return 0 if i is None else _pool_query(i, "total_bytes")


def max_memory_allocated(device=None) -> int:
    """The highest memory_allocated(device) since the program started or since the last
    reset_peak_memory_stats(device). 0 without CUDA."""
    i = _device_index(device, "max_memory_allocated")
    if i is None:
        return 0
    now = _pool_query(i, "used_bytes")  # also covers an allocator installed after ours
    peak = max(_peak.get(i, 0), now)
    _peak[i] = peak
    return peak


def reset_peak_memory_stats(device=None) -> None:
    """Start max_memory_allocated(device) afresh from what is allocated now."""
    reason = backend.cuda_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"tensorgrad.cuda.reset_peak_memory_stats(): CUDA is not available: {reason}")
    i = _device_index(device, "reset_peak_memory_stats")
    _peak[i] = _pool_query(i, "used_bytes")


def empty_cache() -> None:
    """Give the cached, unused blocks of the device memory pool (on every device allocated on)
    and of the pinned host memory pool back to the driver; live arrays are untouched. Does
    nothing without CUDA, as in PyTorch."""
    if backend.cuda_unavailable_reason() is not None:
        return
    cp = backend.cupy()
    pool = cp.get_default_memory_pool()
    for i in sorted(_seen | {cp.cuda.runtime.getDevice()}):
        with cp.cuda.Device(i):
            pool.free_all_blocks()
    cp.get_default_pinned_memory_pool().free_all_blocks()
