"""Normalization and embedding: batch_norm, layer_norm, rms_norm, group_norm, local_response_norm,
embedding (torch.nn.functional's).

batch_norm is one op (BatchNorm) each way, over the fused NumPy/CuPy math of
tensorgrad/fused/batchnorm.py: the per-channel statistics and y = x * scale + shift forward, two
per-channel sums and one elementwise pass backward; under create_graph its backward is written
with tensor ops, so double backward works. In training mode it also updates the running
statistics in place, without grad, as PyTorch does: the mean with momentum, the variance with the
*unbiased* batch variance.

layer_norm, rms_norm, group_norm and local_response_norm are composed of differentiable tensor ops (mean, var with
correction=0, rsqrt, reshape, arithmetic), so their gradients and double backward come from those ops.

embedding is one op: forward picks rows of the weight, backward scatter-adds the gradient into a
zero weight-shaped tensor (repeated indices accumulate) and leaves the padding_idx row at zero.
"""
from __future__ import annotations

import numpy as np

from .. import autocast_mode as _autocast
from .. import device_checks, dtypes
from ..autograd import grad_mode
from ..backend import xp_of
from ..autograd.function import Op, check_same_device
from ..fused import batchnorm as fused_bn
from ..tensor import Tensor
from ._util import check_tensor
from .elementwise import rsqrt
from .index import IndexGrad
from .index import pad
from .reduce import mean, var
from .shape import narrow, reshape


def _float_input(op: str, input) -> Tensor:
    check_tensor(op, input)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}(): expected a floating point input, got {input.dtype}")
    return input


def _check_numel(name: str, t, n: int) -> None:
    if t is not None and t.numel() != n:
        raise RuntimeError(f"{name} should contain {n} elements not {t.numel()}")


# ---------------------------------------------------------------- batch_norm
def _const(arr) -> Tensor:
    return Tensor._make(arr, None, 0, None)


class BatchNorm(Op):
    """batch_norm of an (N, C, *) input in one op each way (tensorgrad/fused/batchnorm.py).

    Inputs (x, weight or None, bias or None). Training: the batch statistics; eval: `running`,
    the (mean, var) arrays. Keeps x and weight (saved tensors) and the per-channel mean and invstd
    (ctx_arrays), never x_hat. The backward is one fused pass over the data plus two reductions;
    under create_graph it is the same derivative written with tensor ops (double backward)."""

    save_inputs = (0, 1)

    def __init__(self, training: bool, eps: float, out_dtype, running=None):
        self.training, self.eps, self.out_dtype, self.running = training, eps, out_dtype, running
        self.batch_var = None

    def forward(self, x, weight, bias):
        x3 = fused_bn.as3d(x)
        if self.training:
            y, m, v, invstd, self.exact = fused_bn.batch_norm_train_forward(x3, weight, bias, self.eps,
                                                                             self.out_dtype)
            self.batch_var = v  # read (and dropped) by batch_norm for the running statistics
        else:
            acc = fused_bn.acc_dtype(self.out_dtype)
            m = self.running[0].astype(acc)  # a copy: the buffers may change before backward
            y, invstd = fused_bn.batch_norm_eval_forward(x3, m, self.running[1], weight, bias, self.eps,
                                                         self.out_dtype)
            self.running = None
        self.ctx_arrays = (m, invstd)
        return y.reshape(x.shape)

    def backward(self, grad):
        x, weight = self.saved_tensors
        m, invstd = self.saved_arrays
        need = self.needs_input_grad
        if grad_mode.is_grad_enabled():  # create_graph: the same derivative from differentiable ops
            return _batch_norm_backward_composed(x, weight, grad, self.training, m, invstd, self.eps, need)
        xd, gd = x._data, grad._data
        w = None if weight is None else weight._data
        x3, g3 = fused_bn.as3d(xd), fused_bn.as3d(gd)
        if self.training:
            dx, dw, db = fused_bn.batch_norm_train_backward(g3, x3, m, invstd, w, self.exact, need[0])
        else:
            dx, dw, db = fused_bn.batch_norm_eval_backward(g3, x3, m, invstd, w, need)
        return (_const(dx.reshape(xd.shape)) if need[0] else None, _const(dw) if need[1] else None,
                _const(db) if need[2] else None)


BatchNormBackward0 = BatchNorm
NativeBatchNormBackward0 = BatchNorm  # PyTorch's grad_fn name


def _batch_norm_backward_composed(x, weight, grad, training, m, invstd, eps, need):
    """dx, dweight, dbias of batch_norm as tensor ops (recorded under create_graph)."""
    shape = x._data.shape
    c = shape[1]
    dims = (0,) + tuple(range(2, len(shape)))
    stat_shape = (1, c) + (1,) * (len(shape) - 2)
    if x._data.dtype == np.float16:  # the math in float32, as the forward
        x = x.to(dtypes.float32)
    if grad._data.dtype == np.float16:
        grad = grad.to(dtypes.float32)
    if training:
        n = x.numel() // c
        mu = mean(x, dims, True)
        inv = rsqrt(var(x, dims, keepdim=True, correction=0) + eps)
    else:
        mu = _const(m.reshape(stat_shape))
        inv = _const(invstd.reshape(stat_shape))
    xhat = (x - mu) * inv
    sum_g = grad.sum(dims, keepdim=True)
    sum_gxh = (grad * xhat).sum(dims, keepdim=True)
    dx = None
    if need[0]:
        dx = ((grad - sum_g / n - xhat * (sum_gxh / n)) if training else grad) * inv
        if weight is not None:
            dx = dx * reshape(weight, stat_shape)
    dw = reshape(sum_gxh, (c,)) if need[1] else None
    db = reshape(sum_g, (c,)) if need[2] else None
    return dx, dw, db


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-05):
    """Normalize over every dim but dim 1 (channels) of an (N, C, *) input.

    training: with the batch statistics (biased variance); running_mean/running_var, when given,
    are updated in place: r = (1 - momentum) * r + momentum * stat (unbiased variance).
    Otherwise with running_mean/running_var. One op (BatchNorm) each way.
    """
    _float_input("batch_norm", input)
    shape = input._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"batch_norm(): expected an input with 2 or more dimensions (N, C, *), got "
                           f"shape {list(shape)}")
    c = shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_numel(name, t, c)
    params = [t for t in (weight, bias) if t is not None]
    for t in params:
        check_tensor("batch_norm", t, "weight" if t is weight else "bias")
    stats = [t for t in (running_mean, running_var) if t is not None]
    if stats:
        check_same_device("batch_norm", [input._data] + [t._data for t in stats])
    if training:
        n = input.numel() // c
        if n == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"torch.Size({list(shape)})")
        out_dtype = _bn_out_dtype(input, params)
        op = BatchNorm(True, eps, out_dtype)
        out = op(input, _flat(weight), _flat(bias))
        if running_mean is not None or running_var is not None:
            m, v = op.ctx_arrays[0], op.batch_var
            with grad_mode.no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(
                        _const(m.reshape(running_mean._data.shape).astype(running_mean._data.dtype)),
                        alpha=momentum)
                if running_var is not None:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        unbiased = v * (n / (n - 1) if n > 1 else float("nan"))
                    running_var.mul_(1 - momentum).add_(
                        _const(unbiased.reshape(running_var._data.shape).astype(running_var._data.dtype)),
                        alpha=momentum)
        op.batch_var = None
        return out
    if running_mean is None:
        raise RuntimeError("running_mean must be defined in evaluation mode")
    if running_var is None:
        raise RuntimeError("running_var must be defined in evaluation mode")
    out_dtype = _bn_out_dtype(input, params + stats)
    op = BatchNorm(False, eps, out_dtype, (running_mean._data.reshape(c), running_var._data.reshape(c)))
    return op(input, _flat(weight), _flat(bias))


def _bn_out_dtype(input, others):
    """PyTorch's mixed precision: a float16 input with float32 parameters and statistics (autocast's
    conv output into a float32 BatchNorm) stays float16; other mixes promote, as composed ops would."""
    dt = input._data.dtype
    if dt == np.float16 and others and all(t._data.dtype in (np.float16, np.float32) for t in others):
        return dt  # (in training and eval alike, whatever mix of the two the parameters and stats are)
    return np.result_type(dt, *[t._data.dtype for t in others])


def _flat(t):
    """A per-channel parameter as a (C,) tensor (a differentiable reshape when it is not 1-D)."""
    return t if t is None or t._data.ndim == 1 else reshape(t, (t._data.size,))


# ---------------------------------------------------------------- layer_norm
def _widen_half(input, *params):
    """float16 data normalized in float32, as PyTorch's norm kernels accumulate: in float16 the
    backward through rsqrt(var + eps) overflows to inf. Returns the tensors to compute with and the
    dtype to give the output (float16, also with float32 parameters, as PyTorch), or None."""
    if input._data.dtype != np.float16 or any(p is not None and p._data.dtype == np.float64 for p in params):
        return input, params, None

    def up(t):
        return t if t is None or t._data.dtype != np.float16 else t.to(dtypes.float32)
    return up(input), tuple(up(p) for p in params), dtypes.float16


def _normalized_dims(input, normalized_shape, **params) -> tuple:
    """The trailing dims that normalized_shape names, after PyTorch's checks of the input's shape and
    of each parameter's (which must be normalized_shape itself)."""
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    shape = input._data.shape
    k = len(normalized_shape)
    if k == 0 or len(shape) < k or tuple(shape[len(shape) - k:]) != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
                           f"{list(shape)}")
    for name, t in params.items():
        if t is not None and tuple(t.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                               f"shape {list(t.shape)} and normalized_shape = {list(normalized_shape)}")
    return tuple(range(len(shape) - k, len(shape)))


@_autocast.policy(cuda="float32")
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalize over the last len(normalized_shape) dims, then scale by weight and shift by bias."""
    _float_input("layer_norm", input)
    dims = _normalized_dims(input, normalized_shape, weight=weight, bias=bias)
    input, (weight, bias), back = _widen_half(input, weight, bias)
    m = mean(input, dims, True)
    v = var(input, dims, keepdim=True, correction=0)
    out = (input - m) * rsqrt(v + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out if back is None else out.to(back)


# ---------------------------------------------------------------- rms_norm
@_autocast.policy(cuda="float32")
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2 over the last len(normalized_shape) dims) + eps), times weight.

    eps=None is the machine epsilon of the dtype the math runs in (float32 for float16 input, which
    is widened as in layer_norm), as PyTorch's default."""
    _float_input("rms_norm", input)
    dims = _normalized_dims(input, normalized_shape, weight=weight)
    x, (weight,), back = _widen_half(input, weight)
    if eps is None:
        eps = float(np.finfo(x._data.dtype).eps)
    out = x * rsqrt(mean(x * x, dims, True) + eps)
    if weight is not None:
        out = out * weight
    return out if back is None else out.to(back)


# ---------------------------------------------------------------- instance_norm
@_autocast.policy(cuda="native", cpu="native")  # one kernel in PyTorch
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalize each (sample, channel) of an (N, C, *) input over its remaining dims (group_norm
    with one group per channel); with running stats, update them in place by the mean over the
    batch of each instance's mean and unbiased variance (PyTorch's rule). use_input_stats=False
    normalizes with the running stats instead."""
    _float_input("instance_norm", input)
    shape = input._data.shape
    if len(shape) < 3:
        raise ValueError(f"instance_norm(): expected an (N, C, *) input with at least one spatial dim, got shape "
                         f"{list(shape)}")
    c = shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_numel(name, t, c)
    stat_shape = (1, c) + (1,) * (len(shape) - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("Expected running_mean and running_var to be defined when use_input_stats is false")
        x, (weight, bias), back = _widen_half(input, weight, bias)
        out = (x - reshape(running_mean, stat_shape)) * rsqrt(reshape(running_var, stat_shape) + eps)
        if weight is not None:
            out = out * reshape(weight, stat_shape)
        out = out + reshape(bias, stat_shape) if bias is not None else out
        return out if back is None else out.to(back)
    if running_mean is not None and running_var is not None:
        from ..autograd import grad_mode
        dims = tuple(range(2, len(shape)))
        with grad_mode.no_grad():
            x = input.detach()
            running_mean.mul_(1 - momentum).add_(mean(x, dims).mean(0) * momentum)
            running_var.mul_(1 - momentum).add_(var(x, dims, correction=1).mean(0) * momentum)
    return group_norm(input, c, weight, bias, eps)


# ---------------------------------------------------------------- group_norm
@_autocast.policy(cuda="float32")
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Split the channels of an (N, C, *) input into num_groups groups and normalize each group over
    its channels and the remaining dims; then a per-channel scale and shift."""
    _float_input("group_norm", input)
    shape = input._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {len(shape)}")
    c = shape[1]
    if num_groups <= 0 or c % num_groups != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got "
                           f"input of shape {list(shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in "
                               f"input, but got {name} of shape {list(t.shape)} and input of shape {list(shape)}")
    n = shape[0]
    input, (weight, bias), back = _widen_half(input, weight, bias)
    g = reshape(input, (n, num_groups, -1))
    m = mean(g, (2,), True)
    v = var(g, (2,), keepdim=True, correction=0)
    out = reshape((g - m) * rsqrt(v + eps), shape)
    stat_shape = (1, c) + (1,) * (len(shape) - 2)
    if weight is not None:
        out = out * reshape(weight, stat_shape)
    if bias is not None:
        out = out + reshape(bias, stat_shape)
    return out if back is None else out.to(back)


# ---------------------------------------------------------------- local_response_norm
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha/size * sum of x^2 over a window of `size` channels)^beta, on (N, C, *) input.

    The window of channel c spans c - size//2 .. c + (size-1)//2, zero outside the channels (PyTorch's
    padding); the sum is `size` shifted slices of the padded squares, each a differentiable narrow."""
    _float_input("local_response_norm", input)
    nd = input.dim()
    if nd < 3:
        raise ValueError(f"local_response_norm(): expected 3D or higher dimensionality input (N, C, *) "
                         f"(got {nd} dimensions, shape {list(input.shape)})")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = pad(input * input, (0, 0) * (nd - 2) + (size // 2, (size - 1) // 2))
    window = narrow(sq, 1, 0, c)
    for s in range(1, size):
        window = window + narrow(sq, 1, s, c)
    return input / (window * (alpha / size) + k) ** beta


# ---------------------------------------------------------------- embedding
class Embedding(Op):
    """out = weight[idx]; backward: zeros with the gradient rows added at idx, except padding_idx."""

    def __init__(self, idx, padding_idx):
        self.padding_idx = padding_idx
        self.ctx_arrays = (idx,)

    def forward(self, weight):
        self.w_shape = weight.shape
        return weight[self.ctx_arrays[0]]

    def backward(self, grad):
        (idx,) = self.saved_arrays
        if self.padding_idx is not None:
            keep = (idx != self.padding_idx).astype(grad._data.dtype)[..., None]
            grad = grad * Tensor._make(keep, None, 0, None)
        return IndexGrad((Ellipsis,), (0,), (idx,), self.w_shape)(grad)


EmbeddingBackward0 = Embedding  # PyTorch's grad_fn name


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of `weight` (num_embeddings, embedding_dim) at the integer positions `input` (any shape).
    With max_norm, the rows looked up whose norm_type-norm exceeds max_norm are first rescaled IN
    PLACE in weight to that norm (torch's embedding_renorm_, not recorded), then looked up."""
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding(scale_grad_by_freq=True / sparse=True) is not supported by "
                                  "tensorgrad")
    check_tensor("embedding", input)
    check_tensor("embedding", weight, "weight")
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    idx = input._data
    if idx.dtype not in (np.dtype(np.int64), np.dtype(np.int32)):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar "
                           f"types: Long, Int; but got {input.dtype} instead (while checking arguments for "
                           f"embedding)")
    check_same_device("embedding", [weight._data, idx])
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= num:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num + padding_idx
    if idx.size:
        on_device = idx.__class__ is not np.ndarray
        if on_device and num == 0:  # every index is out of range, and there is no row to clamp to
            raise IndexError(f"index out of range in self: index {int(idx.reshape(-1)[0])} for an "
                             f"embedding table of 0 rows")
        # on CUDA deferred (no synchronization), the indices clamped meanwhile to stay in the table
        device_checks.check_value((idx < 0) | (idx >= num), idx, lambda v: IndexError(
            f"index out of range in self: index {v} for an embedding table of {num} rows"), "embedding()")
        if on_device:
            idx = device_checks.clamp_index(idx, num)
    if max_norm is not None:
        _embedding_renorm_(weight, idx, max_norm, norm_type)
    return Embedding(idx.astype(np.int64, copy=False), padding_idx)(weight)


def _embedding_renorm_(weight, idx, max_norm, norm_type) -> None:
    """weight[r] *= max_norm / (norm + 1e-7) for each distinct looked-up row r whose norm exceeds
    max_norm, in place and unrecorded (torch's no-grad embedding_renorm_; its version bumps, so a
    graph that saved the old weight refuses to backward through it)."""
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)):
        raise TypeError(f"embedding(): max_norm must be a number, got {type(max_norm).__name__}")
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)):
        raise TypeError(f"embedding(): norm_type must be a number, got {type(norm_type).__name__}")
    if not weight.dtype.is_floating_point:
        raise RuntimeError(f"embedding(): max_norm renormalizes the weight in place and needs a floating point "
                           f"weight, got {weight.dtype}")
    if idx.size == 0:
        return
    xp = xp_of(idx)
    rows = xp.unique(idx.reshape(-1))
    w = weight._data[rows]
    if norm_type == float("inf"):
        norms = xp.abs(w).max(axis=1)
    elif norm_type == 0:
        norms = (w != 0).sum(axis=1).astype(w.dtype)
    else:
        norms = (xp.abs(w) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    over = norms > max_norm
    scale = xp.where(over, max_norm / (norms + 1e-7), 1).astype(w.dtype)
    with grad_mode.no_grad():  # through a recorded tensor op, so the version counter moves as torch's
        weight.index_copy_(0, Tensor._make(rows[over], None, 0, None),
                           Tensor._make(w[over] * scale[over][:, None], None, 0, None))


__all__ = ["instance_norm", "batch_norm", "layer_norm", "rms_norm", "group_norm", "local_response_norm",
           "embedding"]
