"""torch.nn.parallel: DataParallel and DistributedDataParallel, for one device in one process.

Both wrap a module as `.module` (so state_dict keys get the "module." prefix, as torch's do) and their
forward calls it. With one process there is no gradient to average across ranks, and tensorgrad drives
one GPU, so neither splits the batch: the result is what torch computes with a single replica.
"""
from __future__ import annotations

import contextlib

from .. import cuda
from .. import distributed as dist
from ..tensor import Tensor
from .module import Module


def _to_device(obj, device):
    """Inputs moved to the replica's device, recursing into tuples, lists and dicts (torch's scatter)."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(_to_device(o, device) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, _to_device(v, device)) for k, v in obj.items())
    return obj


def _device_index(d, who: str) -> int:
    if isinstance(d, int):
        return d
    s = str(d)
    if s == "cuda":
        return 0
    if s.startswith("cuda:"):
        return int(s[5:])
    raise ValueError(f"{who}: device_ids must be CUDA device indices or 'cuda:N' devices, got {d!r}")


class DataParallel(Module):
    """Calls `module` on the inputs. Without CUDA (device_ids=[]) that is all torch does too; with CUDA,
    inputs go to cuda:device_ids[0], where the module's parameters must already be, and the output is
    on `output_device` (default device_ids[0]). Only the first device is used: tensorgrad runs one replica."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel(): module must be a tensorgrad nn.Module, got {type(module).__name__}")
        self.module = module
        self.dim = dim
        if not cuda.is_available():
            self.device_ids, self.output_device = [], None
            return
        if device_ids is None:
            device_ids = list(range(cuda.device_count()))
        self.device_ids = [_device_index(d, "DataParallel()") for d in device_ids]
        if output_device is None:
            output_device = self.device_ids[0] if self.device_ids else None
        self.output_device = None if output_device is None else _device_index(output_device, "DataParallel()")

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        src = f"cuda:{self.device_ids[0]}"
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            if str(t.device) != src:
                raise RuntimeError(f"DataParallel(): module must have its parameters and buffers on device {src} "
                                   f"(device_ids[0]) but found one of them on device: {t.device}")
        out = self.module(*_to_device(inputs, src), **_to_device(kwargs, src))
        return _to_device(out, f"cuda:{self.output_device}")


class DistributedDataParallel(Module):
    """Calls `module`; needs an initialized (one-process) group, as torch does. With one rank the gradient
    all-reduce is the identity, so training matches the bare module exactly; `no_sync()` is accepted."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False, **kwargs):
        super().__init__()
        dist._world(process_group)  # torch's ValueError without init_process_group
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel(): module must be a tensorgrad nn.Module, "
                            f"got {type(module).__name__}")
        if not any(p.requires_grad for p in module.parameters()):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        devices = {str(p.device) for p in module.parameters()}
        if device_ids is not None and devices == {"cpu"}:
            raise ValueError(f"DistributedDataParallel device_ids and output_device arguments only work with "
                             f"single-device/multiple-device GPU modules, but got device_ids {list(device_ids)}, "
                             f"output_device {output_device}, and module parameters on {sorted(devices)}: "
                             f"for a CPU module pass device_ids=None")
        self.module = module
        self.device_ids = None if device_ids is None else [_device_index(d, "DistributedDataParallel()")
                                                           for d in device_ids]
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.process_group = process_group if process_group is not None else dist.group.WORLD
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Skip the gradient all-reduce inside the block (gradients accumulate locally, as in torch)."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    @contextlib.contextmanager
    def join(self, divide_by_initial_world_size=True, enable=True, throw_on_early_termination=False):
        """Uneven inputs across ranks cannot happen with one rank: nothing to do."""
        yield

    def register_comm_hook(self, state, hook):
        raise NotImplementedError("DistributedDataParallel.register_comm_hook(): tensorgrad runs one process, "
                                  "so there is no gradient communication to hook")


__all__ = ["DataParallel", "DistributedDataParallel"]
