"""Loss functions with PyTorch's signatures and semantics (``torch.nn.functional``).

``cross_entropy`` is one fused, numerically stable op: its forward computes the log-softmax and
the negative log-likelihood together, and its backward is the single expression
``grad * (softmax(x) * sum(q) - q)`` where ``q`` holds the per-class weights of the target
(one-hot times class weight, label smoothing, or probability targets). The backward is written
with tensor ops, so second derivatives work. ``nll_loss`` is the same op without the softmax.
The elementwise losses are compositions of differentiable tensor ops.

``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``. A weighted mean divides by the sum
of the weights of the non-ignored targets, as PyTorch does.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.function import Op
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


# ---------------------------------------------------------------- cross entropy / nll (one fused op)
class _ClassLoss(Op):
    """loss[pos] = -sum_c q[pos, c] * z[pos, c], z = log_softmax(x) (``softmax=True``) or x itself.

    Inputs: x, and (probability targets only) the float target tensor. ``q`` is built in
    forward from the target; ``scale`` is 1/denominator for reduction='mean'.
    """

    save_inputs = (0,)

    def __init__(self, class_dim, reduction, softmax, index_target, weight, ignore_index, smoothing):
        self.class_dim, self.reduction, self.softmax = class_dim, reduction, softmax
        self.index_target, self.weight, self.ignore_index = index_target, weight, ignore_index
        self.smoothing = smoothing

    def _q_index(self, x, target):
        xp = xp_of(x)
        cd, n_cls = self.class_dim, x.shape[self.class_dim]
        valid = target != self.ignore_index
        safe = xp.where(valid, target, 0)
        w = self.weight
        shape = [1] * x.ndim
        shape[cd] = n_cls
        onehot = xp.expand_dims(safe, cd) == xp.arange(n_cls).reshape(shape)
        validk = xp.expand_dims(valid, cd)
        q = onehot.astype(x.dtype) * validk
        wt = (w[safe] if w is not None else xp.ones(safe.shape, x.dtype)) * valid  # weight of each target
        if w is not None:
            q = q * w.reshape(shape)
        eps = self.smoothing
        if eps > 0:
            wc = w.reshape(shape) if w is not None else x.dtype.type(1)
            q = q * x.dtype.type(1 - eps) + validk * wc * x.dtype.type(eps / n_cls)
        denom = wt.sum()
        return q.astype(x.dtype, copy=False), denom

    def _q_prob(self, x, t):
        cd, n_cls = self.class_dim, x.shape[self.class_dim]
        eps = self.smoothing
        if eps > 0:
            t = t * x.dtype.type(1 - eps) + x.dtype.type(eps / n_cls)
        if self.weight is not None:
            shape = [1] * x.ndim
            shape[cd] = n_cls
            t = t * self.weight.reshape(shape)
        n_pos = x.size // n_cls if n_cls else 0
        return t, n_pos

    def forward(self, x, target):
        xp = xp_of(x)
        cd = self.class_dim
        if self.softmax:
            if x.size:
                m = x.max(axis=cd, keepdims=True)
                z = x - xp.where(xp.isinf(m), x.dtype.type(math.nan), m)
                z = z - xp.log(xp.exp(z).sum(axis=cd, keepdims=True))
            else:
                z = x
        else:
            z = x
        q, denom = self._q_index(x, target) if self.index_target else self._q_prob(x, target)
        with np.errstate(invalid="ignore", divide="ignore"):
            prod = q * z
            if self.index_target:  # a gather, as in PyTorch: other classes' -inf log-probs give no nan
                prod = xp.where(q == 0, x.dtype.type(0), prod)
            loss = -prod.sum(axis=cd)
            if self.reduction == "none":
                self.scale = None
                return xp.asarray(loss, dtype=x.dtype)
            total = loss.sum()
            if self.reduction == "sum":
                self.scale = None
                return xp.asarray(total, dtype=x.dtype)
            denom = x.dtype.type(denom)
            # every target ignored: the loss is nan (0/0) but, as in PyTorch, the gradient is 0
            self.scale = x.dtype.type(1) / denom if denom != 0 else x.dtype.type(0)
            return xp.asarray(total / denom if denom != 0 else x.dtype.type(math.nan), dtype=x.dtype)

    def _q_tensor(self, target):
        """q as a tensor: a constant for index targets, a differentiable function of a prob target."""
        x = self.saved_tensors[0]
        if self.index_target:
            q, _ = self._q_index(x._data, target)
            return _const(q)
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
        (x,) = self.saved_tensors[:1]
        cd = self.class_dim
        target = self.target_value()
        q = self._q_tensor(target)
        if self.reduction == "none":
            g = grad.unsqueeze(cd)
        else:
            g = grad if self.scale is None else grad * self.scale
        gx = None
        if self.needs_input_grad[0]:
            if self.softmax:
                from .reduce import softmax
                gx = g * (softmax(x, cd) * q.sum(cd, keepdim=True) - q)
            else:
                gx = -(g * q)
        gt = None
        if len(self.needs_input_grad) > 1 and self.needs_input_grad[1]:
            from .reduce import log_softmax
            z = log_softmax(x, cd) if self.softmax else x
            coef = 1 - self.smoothing
            if self.weight is not None:
                shape = [1] * x._data.ndim
                shape[cd] = x._data.shape[cd]
                z = z * _const(self.weight.reshape(shape))
            gt = -(g * z) * coef
        return (gx, gt) if len(self.needs_input_grad) > 1 else (gx, None)


class _IndexClassLoss(_ClassLoss):
    """Class-index targets: the target array is a constant kept on the op (int, no grad)."""

    def __call__(self, x, target):
        self._target = target._data
        return super().__call__(x, target)

    def target_value(self):
        return self._target


class _ProbClassLoss(_ClassLoss):
    save_inputs = (0, 1)

    def target_value(self):
        return self.saved_tensors[1]


def _check_target_dtype(op, target):
    dt = target._data.dtype
    if dt != np.int64 and dt != np.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_TNAMES.get(dt.name, dt.name)}")


def _class_args(op, input, target, weight, ignore_index):
    """Validate input, target and weight; returns (class dim, number of classes, weight array or None)."""
    _float_input(op, input)
    check_tensor(op, target, "target")
    x = input._data
    if x.ndim == 0:
        raise ValueError(f"{op}(): input must have at least 1 dimension (the classes); got a 0-d tensor")
    cd = 0 if x.ndim == 1 else 1
    n_cls = x.shape[cd]
    w = None
    if weight is not None:
        check_tensor(op, weight, "weight")
        if weight._data.ndim != 1 or weight._data.shape[0] != n_cls:
            raise RuntimeError(f"{op}(): weight tensor should be defined either for all {n_cls} classes or "
                               f"no classes but got weight tensor of shape: {list(weight._data.shape)}")
        w = weight._data.astype(x.dtype, copy=False)
    return cd, n_cls, w


def _check_index_target(op, x, t, cd, n_cls, ignore_index):
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
    bad = (t != ignore_index) & ((t < 0) | (t >= n_cls))
    if bool(bad.any()):
        v = int(t[bad].reshape(-1)[0])
        raise IndexError(f"{op}(): Target {v} is out of bounds. Valid class indices are 0 to {n_cls - 1} "
                         f"(or ignore_index={ignore_index}); input shape {list(x.shape)}, target shape "
                         f"{list(t.shape)}")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C) or (N, C, d1, ...) or (C,)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    cd, n_cls, w = _class_args("nll_loss", input, target, weight, ignore_index)
    _check_target_dtype("nll_loss", target)
    _check_index_target("nll_loss", input._data, target._data, cd, n_cls, ignore_index)
    return _IndexClassLoss(cd, reduction, False, True, w, ignore_index, 0.0)(input, target)


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
        return _ProbClassLoss(cd, reduction, True, False, w, ignore_index, float(label_smoothing))(input, target)
    if t.dtype.kind == "f":
        raise RuntimeError(f"cross_entropy(): a floating point target holds class probabilities and must "
                           f"have the input's shape {list(x.shape)}, got {list(t.shape)}; for class "
                           f"indices pass an int64 (Long) target")
    _check_target_dtype("cross_entropy", target)
    _check_index_target("cross_entropy", x, t, cd, n_cls, ignore_index)
    return _IndexClassLoss(cd, reduction, True, True, w, ignore_index, float(label_smoothing))(input, target)


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


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("mse_loss", reduction)
    d = _pair("mse_loss", input, target)
    return _weighted(d * d, input, weight, reduction, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("l1_loss", reduction)
    return _weighted(_pair("l1_loss", input, target).abs(), input, weight, reduction, True)


def _where(cond, a, b):
    from .arithmetic import where
    return where(cond, a, b)


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


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as in PyTorch."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction("binary_cross_entropy", reduction)
    _float_input("binary_cross_entropy", input)
    check_tensor("binary_cross_entropy", target, "target")
    _same_size("binary_cross_entropy", input, target)
    xa = input._data
    if bool(((xa < 0) | (xa > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
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
