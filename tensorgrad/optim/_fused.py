"""Optimizer updates, fused: NumPy references and their CUDA twins.

torch.optim's single-tensor SGD and Adam/AdamW math, step by step. On the CPU the references run
as a few in-place NumPy passes per parameter; on CUDA one kernel of kernels/optim.cu does the
whole update of a parameter in one pass, and ``*_update_many`` updates all the parameters that
share a device, dtype and step in one launch (a table of their addresses goes to the device in
one copy; no copy comes back). The optimizers (sgd.py, adam.py) keep the state and the step
count and call ``*_update_many`` once per parameter group.

Arrays: the parameter `p`, its gradient `g` and the state buffers, all of p's shape and dtype;
the buffers and `p` are updated in place.
"""
from __future__ import annotations

import numpy as np

from .. import backend, kernels
from .optimizer import _lerp_

_THREADS = 256
_MAX_BLOCKS = 65536


# ---------------------------------------------------------------- NumPy references
def _sgd_ref(p, g, buf, lr, momentum, dampening, weight_decay, first, nesterov, maximize):
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if buf is not None:
        if first:
            buf[...] = g
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    p -= lr * g


def _adam_ref(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step_size, bc2_sqrt, decoupled, maximize):
    xp = backend.xp_of(p)
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    _lerp_(m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * (g * g)
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
    denom = xp.sqrt(v if vmax is None else vmax) / bc2_sqrt
    denom += eps
    p += (-step_size) * m / denom


# ---------------------------------------------------------------- dispatch
def _on_gpu(p) -> bool:
    return p.__class__ is not np.ndarray and p.dtype.name in kernels.kernel_dtypes("optim")


def _kernel_ready(p, *state) -> bool:
    """Whether the kernels can update p in place: on CUDA, in a kernel dtype, and p and its state
    C-contiguous (the kernels index flat memory). Otherwise the reference's array ops, which take
    any layout (a transposed parameter, say), update them: more launches, same math."""
    return _on_gpu(p) and all(a is None or a.flags.c_contiguous for a in (p,) + state)


def _kernel_arrays(function: str, arrays):
    """The arrays as the kernels take them: the gradient C-contiguous in p's shape (a copy where it
    is not: it is only read), the rest C-contiguous already (updated in place: no copy can stand in)."""
    p, g = arrays[0], arrays[1]
    if not g.flags.c_contiguous or g.shape != p.shape:
        g = backend.xp_of(g).ascontiguousarray(backend.broadcast_to(g, p.shape))
    arrays = (p, g) + tuple(arrays[2:])
    if any(not a.flags.c_contiguous for a in arrays):
        raise ValueError(f"optim.{function}: parameters and optimizer state must be C-contiguous on CUDA, got "
                         f"strides {[a.strides for a in arrays]} for shape {p.shape}")
    return arrays


def _launch(function: str, arrays, scalars):
    arrays = _kernel_arrays(function, arrays)
    p = arrays[0]
    n = p.size
    if n == 0:
        return
    with p.device:
        k = kernels.get_kernel("optim", function, p.dtype, p.device.id)
        blocks = min((n + _THREADS - 1) // _THREADS, _MAX_BLOCKS)
        k((blocks,), (_THREADS,), (*arrays, np.int64(n), *scalars))


def _acc(p):
    """The kernels' math dtype for p: float64 for float64, else float32 (float16 is computed in float)."""
    return np.float64 if p.dtype == np.float64 else np.float32


def sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, first, nesterov, maximize) -> None:
    """One SGD step of array `p` with gradient `g`; `buf` the momentum buffer (None without
    momentum), set to the gradient when `first`."""
    if not _kernel_ready(p, buf):
        _sgd_ref(p, g, buf, lr, momentum, dampening, weight_decay, first, nesterov, maximize)
        return
    f, i4 = _acc(p), np.int32
    _launch("sgd_step", (p, g, p if buf is None else buf),
            (f(lr), f(momentum), f(1 - dampening), f(weight_decay), i4(buf is not None), i4(first),
             i4(nesterov), i4(maximize)))


def adam_update(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled, maximize) -> None:
    """One Adam (AdamW when `decoupled`) step of `p` at step number `step` (1 for the first);
    `vmax` the amsgrad maximum (None without amsgrad)."""
    step_size = lr / (1 - beta1 ** step)
    bc2_sqrt = (1 - beta2 ** step) ** 0.5
    if not _kernel_ready(p, m, v, vmax):
        _adam_ref(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step_size, bc2_sqrt, decoupled, maximize)
        return
    f, i4 = _acc(p), np.int32
    _launch("adam_step", (p, g, m, v, v if vmax is None else vmax),
            (f(1 - beta1), f(beta2), f(1 - beta2), f(eps), f(weight_decay), f(1 - lr * weight_decay),
             f(step_size), f(bc2_sqrt), i4(decoupled), i4(vmax is not None), i4(maximize)))


_MULTI_BLOCKS_X = 1024  # blocks per parameter at most; the grid-stride loop covers the rest


def _launch_multi(function: str, items, scalars):
    """One launch of kernels/optim.cu `function` over many parameters: `items` are tuples of
    arrays (p, g, state...) on one device and of one dtype."""
    items = [_kernel_arrays(function, arrays) for arrays in items]
    p0 = items[0][0]
    cp = backend.cupy()
    table = np.array([[a.data.ptr for a in arrays] for arrays in items], dtype=np.int64).reshape(-1)
    sizes = np.array([arrays[0].size for arrays in items], dtype=np.int64)
    if not sizes.any():
        return
    with p0.device:
        meta = cp.asarray(np.concatenate([table, sizes]))  # host to device, asynchronous: no sync
        k = kernels.get_kernel("optim", function, p0.dtype, p0.device.id)
        bx = int(min((sizes.max() + _THREADS - 1) // _THREADS, _MULTI_BLOCKS_X))
        by = min(len(items), 65535)
        k((bx, by), (_THREADS,), (meta[:table.size], meta[table.size:], np.int64(len(items)), *scalars))


def _batches(updates, key):
    """Kernel-ready updates grouped by key(update) (device and dtype included), and the others
    (CPU, or a layout the kernels don't take), which the caller updates one by one."""
    groups, cpu = {}, []
    for u in updates:
        p = u[0]
        if _kernel_ready(p, *(a for a in u[2:] if hasattr(a, "flags"))):
            groups.setdefault((p.device.id, p.dtype.str) + key(u), []).append(u)
        else:
            cpu.append(u)
    return groups, cpu


def sgd_update_many(updates, lr, momentum, dampening, weight_decay, nesterov, maximize) -> None:
    """sgd_update for every (p, g, buf, first) in `updates`: one launch per device, dtype and
    `first` on CUDA."""
    groups, cpu = _batches(updates, lambda u: (u[3], u[2] is None))
    for p, g, buf, first in cpu:
        _sgd_ref(p, g, buf, lr, momentum, dampening, weight_decay, first, nesterov, maximize)
    for group in groups.values():
        if len(group) == 1:
            p, g, buf, first = group[0]
            sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, first, nesterov, maximize)
            continue
        p, _, buf, first = group[0]
        f, i4 = _acc(p), np.int32
        _launch_multi("sgd_step_multi", [(q, g, q if b is None else b) for q, g, b, _ in group],
                      (f(lr), f(momentum), f(1 - dampening), f(weight_decay), i4(buf is not None), i4(first),
                       i4(nesterov), i4(maximize)))


def adam_update_many(updates, lr, beta1, beta2, eps, weight_decay, decoupled, maximize) -> None:
    """adam_update for every (p, g, m, v, vmax, step) in `updates`: one launch per device, dtype
    and step on CUDA."""
    groups, cpu = _batches(updates, lambda u: (u[5], u[4] is None))
    for p, g, m, v, vmax, step in cpu:
        adam_update(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled, maximize)
    for group in groups.values():
        if len(group) == 1:
            p, g, m, v, vmax, step = group[0]
            adam_update(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled, maximize)
            continue
        p, _, _, _, vmax, step = group[0]
        step_size = lr / (1 - beta1 ** step)
        bc2_sqrt = (1 - beta2 ** step) ** 0.5
        f, i4 = _acc(p), np.int32
        _launch_multi("adam_step_multi", [(q, g, m, v, v if vm is None else vm) for q, g, m, v, vm, _ in group],
                      (f(1 - beta1), f(beta2), f(1 - beta2), f(eps), f(weight_decay), f(1 - lr * weight_decay),
                       f(step_size), f(bc2_sqrt), i4(decoupled), i4(vmax is not None), i4(maximize)))

