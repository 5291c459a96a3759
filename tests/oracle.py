"""Test helpers: float64 gradchecks and forward/backward comparison with PyTorch as the oracle.

    from oracle import check_grad, check_torch, torch, needs_torch
    check_grad(lambda x, y: x * y, [rand(2, 3), rand(3)], device)       # finite differences
    check_torch(lambda m, x, y: m.mul(x, y), [rand(2, 3), rand(3)], device)  # m is tg or torch

`check_torch` calls `fn(module, *tensors)` once with tensorgrad and once with torch, so one
lambda describes the op for both frameworks; it compares outputs (values, dtype, shape) and the
gradients of every floating input for the same random output gradient.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg

try:
    import torch
except Exception:  # pragma: no cover - depends on the machine
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: oracle test skipped "
                                                       "(pip install torch==2.13.0)")
_rng = np.random.default_rng(1234)


def rand(*shape, dtype=np.float64, low=-2.0, high=2.0):
    """Random NumPy array (floats uniform in [low, high), ints in [low, high])."""
    if np.dtype(dtype).kind == "f":
        return _rng.uniform(low, high, size=shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return _rng.random(size=shape) < 0.5
    return _rng.integers(int(low), int(high) + 1, size=shape).astype(dtype)


def noncontig(a: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous (strided) array."""
    buf = np.empty(a.shape + (2,), dtype=a.dtype)
    buf[..., 0] = a
    out = buf[..., 0]
    assert a.ndim == 0 or a.size <= 1 or not out.flags.c_contiguous
    return out


def to_tg(a, device, requires_grad=None):
    t = tg.from_numpy(a) if device == "cpu" else tg.tensor(a, device=device)
    if requires_grad is None:
        requires_grad = a.dtype.kind == "f"
    return t.requires_grad_(requires_grad) if requires_grad else t


def to_np(t):
    return t.detach().cpu().numpy() if t is not None else None


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def check_grad(fn, arrays, device="cpu", grad_inputs=None, double=True, atol=1e-5, rtol=1e-3):
    """gradcheck (and gradgradcheck when `double`) of `fn(*tensors)` in float64 on `device`.

    `grad_inputs`: positions of the inputs to differentiate (default: every float array).
    """
    arrays = [np.asarray(a) for a in arrays]
    if grad_inputs is None:
        grad_inputs = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    ts = [to_tg(a.astype(np.float64) if i in grad_inputs else a, device, requires_grad=i in grad_inputs)
          for i, a in enumerate(arrays)]
    assert tg.autograd.gradcheck(fn, ts, atol=atol, rtol=rtol)
    if double:
        assert tg.autograd.gradgradcheck(fn, ts, atol=atol, rtol=rtol)


def check_torch(fn, arrays, device="cpu", grad_inputs=None, rtol=1e-5, atol=1e-6, backward=True,
                check_dtype=True):
    """Compare fn(tg, *tg_tensors) with fn(torch, *torch_tensors): outputs and input gradients."""
    if torch is None:
        pytest.skip("PyTorch is not installed: oracle test skipped")
    arrays = [np.asarray(a) for a in arrays]
    if grad_inputs is None:
        grad_inputs = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    if not backward:
        grad_inputs = []
    ts = [to_tg(a.copy(), device, requires_grad=i in grad_inputs) for i, a in enumerate(arrays)]
    ps = [torch.tensor(a.copy(), requires_grad=i in grad_inputs) for i, a in enumerate(arrays)]
    out_t = _as_list(fn(tg, *ts))
    out_p = _as_list(fn(torch, *ps))
    assert len(out_t) == len(out_p), f"{len(out_t)} outputs vs torch's {len(out_p)}"
    for k, (a, b) in enumerate(zip(out_t, out_p)):
        assert isinstance(a, tg.Tensor), f"output {k} is {type(a).__name__}, not a Tensor"
        assert tuple(a.shape) == tuple(b.shape), f"output {k}: shape {tuple(a.shape)} vs torch {tuple(b.shape)}"
        if check_dtype:
            assert a.dtype.name == str(b.dtype).replace("torch.", ""), f"output {k}: {a.dtype} vs torch {b.dtype}"
        np.testing.assert_allclose(to_np(a).astype(np.float64) if a.dtype.name != "bool" else to_np(a),
                                   b.detach().numpy().astype(np.float64) if b.dtype != torch.bool else b.numpy(),
                                   rtol=rtol, atol=atol, err_msg=f"forward output {k}", equal_nan=True)
    if not grad_inputs:
        return out_t
    seeds = [rand(*b.shape, dtype=np.float64) if b.is_floating_point() and b.requires_grad else None
             for b in out_p]
    kept = [(a, b, s) for a, b, s in zip(out_t, out_p, seeds) if s is not None]  # outputs torch differentiates
    if not kept:
        return out_t
    tg_outs, p_outs = [a for a, _, _ in kept], [b for _, b, _ in kept]
    tg_seeds = [to_tg(s.astype(to_np(a).dtype), device, False) for a, _, s in kept]
    p_seeds = [torch.tensor(s.astype(b.detach().numpy().dtype)) for _, b, s in kept]
    torch.autograd.backward(p_outs, p_seeds)
    tg.autograd.backward(tg_outs, tg_seeds)
    for i in grad_inputs:
        gp = ps[i].grad
        gt = ts[i].grad
        if gp is None:
            assert gt is None or np.all(to_np(gt) == 0), f"input {i}: tensorgrad has a gradient, torch has none"
            continue
        assert gt is not None, f"input {i}: torch has a gradient, tensorgrad has none"
        assert tuple(gt.shape) == tuple(gp.shape), f"grad of input {i}: shape {tuple(gt.shape)} vs {tuple(gp.shape)}"
        assert gt.dtype.name == str(gp.dtype).replace("torch.", ""), f"grad of input {i}: dtype {gt.dtype} vs {gp.dtype}"
        np.testing.assert_allclose(to_np(gt), gp.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of input {i}",
                                   equal_nan=True)
    return out_t


def on_device(t, device) -> bool:
    """Whether tensor `t` lives on `device` ('cpu' or 'cuda'). As in PyTorch, a tensor made with
    device='cuda' is on 'cuda:N' (N the current device), which is not equal to tg.device('cuda')."""
    want = tg.device(device)
    if want.type == "cuda" and want.index is None:
        want = tg.device("cuda", tg.cuda.current_device())
    return t.device == want
