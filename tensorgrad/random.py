"""tensorgrad.random: torch.random's names. fork_rng runs a block with the generators' states saved
and restores them afterwards, so the block's draws leave the outer streams where they were."""
from __future__ import annotations

import contextlib

from .creation import get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from . import cuda

__all__ = ["fork_rng", "get_rng_state", "set_rng_state", "manual_seed", "seed", "initial_seed"]


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Save the CPU generator's state and that of the given CUDA devices (all of them when devices
    is None), run the block, restore them."""
    if not enabled:
        yield
        return
    if device_type != "cuda":
        raise RuntimeError(f"{_caller}: device_type {device_type!r} is not supported; tensorgrad's "
                           f"accelerator is 'cuda'")
    if devices is None:
        devices = list(range(cuda.device_count())) if cuda.is_available() else []
    cpu_state = get_rng_state()
    device_states = [cuda.get_rng_state(d) for d in devices]
    try:
        yield
    finally:
        set_rng_state(cpu_state)
        for d, state in zip(devices, device_states):
            cuda.set_rng_state(state, d)
