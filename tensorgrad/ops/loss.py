"""Loss functions with PyTorch's signatures and semantics (``torch.nn.functional``).

``cross_entropy`` over class indices is one fused, numerically stable op (tensorgrad/fused/loss.py,
kernels/loss.cu): its forward computes the log-softmax and the negative log-likelihood in one
pass, and its backward is the single pass ``grad * (softmax(x) * sum(q) - q)`` where ``q`` holds
the per-class weights of the target (one-hot times class weight, with label smoothing).
``nll_loss`` is the same op without the softmax. Second derivatives compose tensor ops. Class
probability targets are a composed op (the target gets a gradient too). The elementwise losses
are compositions of differentiable tensor ops.

``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``. A weighted mean divides by the sum
of the weights of the non-ignored targets, as PyTorch does.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import autocast_mode as _autocast
from .. import device_checks
from ..autograd.function import Op, check_same_device
from ..fused import loss as fused_loss
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor

_REDUCTIONS = ("mean", "sum", "none")


def _const(arr) -> Tensor:
    if isinstance(arr, np.generic):
        arr = np.asarray(arr)
    return Tensor._make(arr, None, 0, None)


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}(): {reduction!r} is not a valid value for reduction; "
                         f"use 'mean', 'sum' or 'none'")


def _legacy(size_average, reduce, reduction):
    """PyTorch's deprecated size_average/reduce pair, mapped to a reduction (with its warning)."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='mean', 'sum' or "
                  "'none' instead.", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


_TNAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "uint8": "Byte",
           "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}


def _float_input(op, x, name="input"):
    check_tensor(op, x, name)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}(): expected a floating point {name}, got {_TNAMES[x._data.dtype.name]}")


# ---------------------------------------------------------------- cross entropy / nll over class indices
def _rows(x, target):
    """x as (N, C, S) and the target as (N, S): the row layout of the fused kernels."""
    if x.ndim == 1:
        return x.reshape(1, x.shape[0], 1), target.reshape(1, 1)
    n, c = x.shape[:2]
    s = x.size // (n * c) if n * c else math.prod(x.shape[2:])
    return x.reshape(n, c, s), target.reshape(n, s)


def _index_q(x, target, class_dim, weight, ignore_index, smoothing):
    """q, the weight of each class in each position's loss, as an array of x's shape (double backward)."""
    xp = xp_of(x)
    n_cls = x.shape[class_dim]
    shape = [1] * x.ndim
    shape[class_dim] = n_cls
    ok = (target != ignore_index) & (target >= 0) & (target < n_cls)
    onehot = xp.expand_dims(xp.where(ok, target, 0), class_dim) == xp.arange(n_cls).reshape(shape)
    q = onehot * x.dtype.type(1 - smoothing) + x.dtype.type(smoothing / n_cls)
    if weight is not None:
        q = q * weight.reshape(shape)
    return (q * xp.expand_dims(ok, class_dim)).astype(x.dtype, copy=False)


class _IndexClassLoss(Op):
    """cross_entropy (``log_softmax=True``) or nll_loss of class indices: fused/loss.py's kernels.

    The forward keeps, per position, the log-sum-exp and the sum of the target weights q; the
    backward is _IndexClassLossGrad (one fused pass), whose own backward composes tensor ops.
    ``scale`` is 1/(sum of the target weights) for reduction='mean', a 0-d array on x's device
    (0 when every target is ignored: the loss is then NaN but the gradient 0, as in PyTorch).
    """

    save_inputs = (0,)

    def __init__(self, class_dim, reduction, log_softmax, weight, ignore_index, smoothing, target,
                 target_error=None, op_name=None):
        self.class_dim, self.reduction, self.log_softmax = class_dim, reduction, log_softmax
        self.weight, self.ignore_index, self.smoothing = weight, ignore_index, smoothing
        self.target = target.astype(np.int64, copy=False)
        # set when the target check is left to the reduce kernel (CUDA, deferred): the error
        # factory of _check_index_target, and the op's name for the deferred note
        self.target_error, self.op_name = target_error, op_name

    def forward(self, x):
        x3, t2 = _rows(x, self.target)
        loss, wt, lse, sumq = fused_loss.class_loss_forward(x3, t2, self.weight, self.ignore_index,
                                                            self.smoothing, self.log_softmax)
        self.ctx_arrays = (lse, sumq)
        make_error = self.target_error
        self.scale = None
        if self.reduction == "none" and make_error is None:
            return loss.reshape(self.target.shape).astype(x.dtype, copy=False)
        # on CUDA one kernel: the sum, or the mean and the backward's scale (1/denominator, 0 when
        # every target is ignored: the loss is then NaN but the gradient 0), and the target check;
        # all stay on the device (no host sync)
        out, self.scale, bad, bad_value = fused_loss.class_loss_reduce(
            loss, wt, t2, x3.shape[1], self.ignore_index, self.reduction, x.dtype, make_error is not None)
        if make_error is not None:  # the pending check holds the two 0-d arrays and the factory only
            device_checks.check(bad, lambda: make_error(bad_value.item()), self.op_name)
        if self.reduction == "none":
            return loss.reshape(self.target.shape).astype(x.dtype, copy=False)
        return out

    def backward(self, grad):
        (x,) = self.saved_tensors
        return _IndexClassLossGrad(self)(x, grad)


class _IndexClassLossGrad(Op):
    """dx = g * (softmax(x) * sumq - q) in one fused pass (nll_loss: -g * q), from the loss op's
    saved rows; g is the loss's gradient (per position for reduction='none')."""

    save_inputs = (0, 1)

    def __init__(self, loss_op):
        self.loss_op = loss_op
        self.lse, self.sumq = loss_op.saved_arrays

    def forward(self, x, grad):
        op = self.loss_op
        x3, t2 = _rows(x, op.target)
        g = grad.reshape(t2.shape) if op.reduction == "none" else grad
        if op.scale is not None:
            g = g * op.scale
        dx = fused_loss.class_loss_backward(x3, t2, op.weight, self.lse, self.sumq, g, op.ignore_index,
                                            op.smoothing, op.log_softmax)
        return dx.reshape(x.shape)

    def backward(self, gg):
        """Second derivatives, composed: d(dx)/dx = g sumq (s gg - s <s, gg>); d(dx)/dg = <gg, s sumq - q>."""
        op = self.loss_op
        x, grad = self.saved_tensors
        cd, dt = op.class_dim, x._data.dtype
        shape = list(x._data.shape)
        shape[cd] = 1
        sumq = _const(self.sumq.reshape(shape).astype(dt, copy=False))
        q = _const(_index_q(x._data, op.target, cd, op.weight, op.ignore_index, op.smoothing))
        g = grad.unsqueeze(cd) if op.reduction == "none" else grad
        if op.scale is not None:
            g = g * _const(op.scale.astype(dt, copy=False))
        nx, ng = self.needs_input_grad
        if op.log_softmax:
            from .reduce import softmax
            s = softmax(x, cd)
            gx = g * sumq * (s * gg - s * (s * gg).sum(cd, keepdim=True)) if nx else None
            d = s * sumq - q
        else:
            gx, d = None, -q
        gg_ = None
        if ng:
            if op.reduction == "none":
                gg_ = (gg * d).sum(cd)
            else:
                gg_ = (gg * d).sum()
                if op.scale is not None:
                    gg_ = gg_ * _const(op.scale.astype(dt, copy=False))
        return gx, gg_


# ---------------------------------------------------------------- cross entropy over class probabilities
class _ProbClassLoss(Op):
    """loss[pos] = -sum_c q[pos, c] * log_softmax(x)[pos, c], q the (smoothed, weighted) target
    probabilities. The backward is ``grad * (softmax(x) * sum(q) - q)``, written with tensor ops
    (so second derivatives work, and the target gets a gradient too)."""

    save_inputs = (0, 1)

    def __init__(self, class_dim, reduction, weight, smoothing):
        self.class_dim, self.reduction, self.weight, self.smoothing = class_dim, reduction, weight, smoothing

    def _q(self, x, t):
        cd, n_cls = self.class_dim, x.shape[self.class_dim]
        eps = self.smoothing
        if eps > 0:
            t = t * x.dtype.type(1 - eps) + x.dtype.type(eps / n_cls)
        if self.weight is not None:
            shape = [1] * x.ndim
            shape[cd] = n_cls
            t = t * self.weight.reshape(shape)
        return t

    def forward(self, x, target):
        xp = xp_of(x)
        cd = self.class_dim
        if x.size:
            m = x.max(axis=cd, keepdims=True)
            z = x - xp.where(xp.isinf(m), x.dtype.type(math.nan), m)
            z = z - xp.log(xp.exp(z).sum(axis=cd, keepdims=True))
        else:
            z = x
        n_cls = x.shape[cd]
        n_pos = x.size // n_cls if n_cls else 0
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = -(self._q(x, target) * z).sum(axis=cd)
            if self.reduction == "none":
                return xp.asarray(loss, dtype=x.dtype)
            total = loss.sum()
            if self.reduction == "sum":
                return xp.asarray(total, dtype=x.dtype)
            return xp.asarray(total / x.dtype.type(n_pos) if n_pos else x.dtype.type(math.nan), dtype=x.dtype)

    def _q_tensor(self, target):
        x = self.saved_tensors[0]
        n_cls = x._data.shape[self.class_dim]
        eps = self.smoothing
        t = target
        if eps > 0:
            t = t * (1 - eps) + eps / n_cls
        if self.weight is not None:
            shape = [1] * x._data.ndim
            shape[self.class_dim] = n_cls
            t = t * _const(self.weight.reshape(shape))
        return t

    def backward(self, grad):
        x, target = self.saved_tensors
        cd = self.class_dim
        q = self._q_tensor(target)
        if self.reduction == "none":
            g = grad.unsqueeze(cd)
        elif self.reduction == "mean":
            n_pos = x._data.size // x._data.shape[cd] if x._data.shape[cd] else 0
            g = grad / n_pos if n_pos else grad * 0
        else:
            g = grad
        nx, nt = self.needs_input_grad
        gx = gt = None
        if nx:
            from .reduce import softmax
            gx = g * (softmax(x, cd) * q.sum(cd, keepdim=True) - q)
        if nt:
            from .reduce import log_softmax
            z = log_softmax(x, cd)
            if self.weight is not None:
                shape = [1] * x._data.ndim
                shape[cd] = x._data.shape[cd]
                z = z * _const(self.weight.reshape(shape))
            gt = -(g * z) * (1 - self.smoothing)
        return gx, gt


def _check_target_dtype(op, target):
    dt = target._data.dtype
    if dt != np.int64 and dt != np.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_TNAMES.get(dt.name, dt.name)}")


def _class_args(op, input, target, weight, ignore_index):
    """Validate input, target and weight; returns (class dim, number of classes, weight array or None)."""
    _float_input(op, input)
    check_tensor(op, target, "target")
    if weight is not None:
        check_tensor(op, weight, "weight")
    # the target and weight enter the fused op as arrays, not inputs: the op's device check would miss them
    check_same_device(op, [input._data, target._data] + ([weight._data] if weight is not None else []))
    x = input._data
    if x.ndim == 0:
        raise ValueError(f"{op}(): input must have at least 1 dimension (the classes); got a 0-d tensor")
    cd = 0 if x.ndim == 1 else 1
    n_cls = x.shape[cd]
    w = None
    if weight is not None:
        if weight._data.ndim != 1 or weight._data.shape[0] != n_cls:
            raise RuntimeError(f"{op}(): weight tensor should be defined either for all {n_cls} classes or "
                               f"no classes but got weight tensor of shape: {list(weight._data.shape)}")
        w = weight._data.astype(x.dtype, copy=False)
    return cd, n_cls, w


def _check_index_target(op, x, t, cd, n_cls, ignore_index):
    """The target's shape (raised now) and its class range. Returns None when the range is checked
    here (CPU: raised now; CUDA: through device_checks, eager or deferred), or the error factory
    ``make_error(value)`` when the op's reduce kernel is to compute the check's flag and value
    (CUDA kernels, deferred checks: the op registers that one check; see _IndexClassLoss)."""
    if x.ndim == 1:
        if t.ndim != 0:
            raise RuntimeError(f"{op}(): for an unbatched input of shape {list(x.shape)} the target must be "
                               f"0-d (one class index), got shape {list(t.shape)}")
    elif t.ndim == 0 or t.shape[0] != x.shape[0]:
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                         f"({t.shape[0] if t.ndim else 0}).")
    elif x.ndim == 2:
        if t.ndim != 1:
            raise ValueError(f"{op}(): expected target of 1 dimension for input of shape {list(x.shape)}, "
                             f"got target of shape {list(t.shape)}")
    else:
        want = (x.shape[0],) + x.shape[2:]
        if t.shape != want:
            raise RuntimeError(f"{op}(): Expected target size {list(want)}, got {list(t.shape)}")
    # on CUDA checked at the next read of a value (no sync here); the fused op meanwhile gives such
    # a position a NaN loss and no gradient, and reads no memory out of bounds
    shapes = f"input shape {list(x.shape)}, target shape {list(t.shape)}"

    def make_error(v):  # the message holds no array: a pending check keeps none alive
        return IndexError(f"{op}(): Target {v} is out of bounds. Valid class indices are 0 to {n_cls - 1} (or "
                          f"ignore_index={ignore_index}); {shapes}")
    if fused_loss.uses_kernel(x, n_cls) and not device_checks.is_eager():
        return make_error  # deferred: the op's reduce kernel computes the flag and the first bad target
    bad = (t != ignore_index) & ((t < 0) | (t >= n_cls))
    device_checks.check_value(bad, t, make_error, f"{op}()")
    return None


@_autocast.policy(cuda="float32", cpu="float32")
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C) or (N, C, d1, ...) or (C,)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    cd, n_cls, w = _class_args("nll_loss", input, target, weight, ignore_index)
    _check_target_dtype("nll_loss", target)
    make_error = _check_index_target("nll_loss", input._data, target._data, cd, n_cls, ignore_index)
    return _IndexClassLoss(cd, reduction, False, w, ignore_index, 0.0, target._data, make_error, "nll_loss()")(input)


@_autocast.policy(cuda="float32", cpu="float32")
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits ``input`` against class indices or class probabilities ``target``.

    One fused op: log-softmax and NLL in the forward, ``softmax - q`` in the backward.
    """
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy(): label_smoothing must be between 0.0 and 1.0. Got: "
                         f"{label_smoothing}")
    cd, n_cls, w = _class_args("cross_entropy", input, target, weight, ignore_index)
    x, t = input._data, target._data
    if x.shape == t.shape:  # class probabilities
        if t.dtype.kind != "f":
            raise RuntimeError(f"cross_entropy(): expected floating point type for target with class "
                               f"probabilities, got {_TNAMES.get(t.dtype.name, t.dtype.name)}")
        if t.dtype != x.dtype:
            raise RuntimeError(f"cross_entropy(): expected target of the input's dtype "
                               f"{_TNAMES[x.dtype.name]} for class probabilities, got {_TNAMES[t.dtype.name]}")
        return _ProbClassLoss(cd, reduction, w, float(label_smoothing))(input, target)
    if t.dtype.kind == "f":
        raise RuntimeError(f"cross_entropy(): a floating point target holds class probabilities and must "
                           f"have the input's shape {list(x.shape)}, got {list(t.shape)}; for class "
                           f"indices pass an int64 (Long) target")
    _check_target_dtype("cross_entropy", target)
    make_error = _check_index_target("cross_entropy", x, t, cd, n_cls, ignore_index)
    return _IndexClassLoss(cd, reduction, True, w, ignore_index, float(label_smoothing), target._data, make_error,
                           "cross_entropy()")(input)


# ---------------------------------------------------------------- elementwise regression losses
def _pair(op, input, target):
    _float_input(op, input)
    check_tensor(op, target, "target")
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(f"Using a target size ({tuple(target.shape)}) that is different to the input size "
                      f"({tuple(input.shape)}). This will likely lead to incorrect results due to "
                      f"broadcasting. Please ensure they have the same size.", UserWarning, stacklevel=3)
    return input - target


def _weighted(loss, input, weight, reduction, mean_by_weight):
    """PyTorch's optional elementwise weight: same size as input; mse/l1 divide a mean by sum(weight)."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


@_autocast.policy(cuda="float32", cpu="float32")
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("mse_loss", reduction)
    d = _pair("mse_loss", input, target)
    return _weighted(d * d, input, weight, reduction, True)


@_autocast.policy(cuda="float32", cpu="float32")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("l1_loss", reduction)
    return _weighted(_pair("l1_loss", input, target).abs(), input, weight, reduction, True)


def _where(cond, a, b):
    from .arithmetic import where
    return where(cond, a, b)


@_autocast.policy(cuda="float32", cpu="float32")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = _pair("smooth_l1_loss", input, target)
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    loss = _where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return _reduce(loss, reduction)


@_autocast.policy(cuda="float32", cpu="float32")
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _check_reduction("huber_loss", reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = _pair("huber_loss", input, target)
    a = d.abs()
    loss = _where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _weighted(loss, input, weight, reduction, False)


# ---------------------------------------------------------------- binary cross entropy
def _same_size(op, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"Using a target size ({tuple(target.shape)}) that is different to the input size "
                         f"({tuple(input.shape)}) is deprecated. Please ensure they have the same size.")


@_autocast.policy(cuda="banned", cpu="float32")
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as in PyTorch."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy", reduction)
    _float_input("binary_cross_entropy", input)
    check_tensor("binary_cross_entropy", target, "target")
    _same_size("binary_cross_entropy", input, target)
    xa = input._data
    device_checks.check((xa < 0) | (xa > 1), lambda: RuntimeError("all elements of input should be between 0 and 1"),
                        "binary_cross_entropy()")
    from .elementwise import log
    with np.errstate(divide="ignore"):
        lx = log(input).clamp(min=-100)
        l1x = log(1 - input).clamp(min=-100)
    loss = -(target * lx + (1 - target) * l1x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


class _SoftplusNeg(Op):
    """log(1 + exp(-x)), stable for any x; derivative -sigmoid(-x) (differentiable again)."""

    save_inputs = (0,)

    def forward(self, x):
        xp = xp_of(x)
        return xp.asarray(xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x))), dtype=x.dtype)

    def backward(self, grad):
        from .elementwise import sigmoid
        (x,) = self.saved_tensors
        return -(grad * sigmoid(-x))


@_autocast.policy(cuda="float32", cpu="float32")
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE on logits, stable: (1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x))."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    _float_input("binary_cross_entropy_with_logits", input)
    check_tensor("binary_cross_entropy_with_logits", target, "target")
    _same_size("binary_cross_entropy_with_logits", input, target)
    sp = _SoftplusNeg()(input)
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]
