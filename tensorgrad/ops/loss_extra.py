"""More of torch.nn.functional's losses and distances: kl_div, cosine_similarity,
pairwise_distance, pdist, cosine_embedding_loss, margin_ranking_loss, triplet_margin_loss,
triplet_margin_with_distance_loss, soft_margin_loss, hinge_embedding_loss, poisson_nll_loss,
gaussian_nll_loss, multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss. Each is
composed of differentiable ops with PyTorch's formulas (and its epsilons), so gradients, also with
respect to targets, come from those ops; integer targets become constant masks. ctc_loss is in ctc.py.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import autocast_mode as _autocast
from .. import device_checks
from ..autograd import grad_mode
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor
from .activation import relu, softplus
from .arithmetic import clamp_min, minimum, where
from .elementwise import exp, log
from .index import gather, index_select
from .loss import _check_reduction, _float_input, _legacy, _reduce


def _reduction(op, size_average, reduce, reduction, allowed=("none", "mean", "sum")):
    reduction = _legacy(size_average, reduce, reduction)
    if reduction not in allowed:
        raise ValueError(f"{op}(): {reduction!r} is not a valid value for reduction; use "
                         f"{', '.join(repr(a) for a in allowed)}")
    return reduction


def _xlogx(t):
    """t * log(t), 0 where t is 0, with a finite gradient there (log of a safe stand-in)."""
    pos = t > 0
    return t * log(where(pos, t, t.new_ones(())))


# ---------------------------------------------------------------- distances
@_autocast.policy(cuda="float32")
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along dim, x1 and x2 broadcast."""
    _float_input("cosine_similarity", x1, "x1")
    _float_input("cosine_similarity", x2, "x2")
    n1 = clamp_min((x1 * x1).sum(dim, keepdim=True).sqrt(), eps)
    n2 = clamp_min((x2 * x2).sum(dim, keepdim=True).sqrt(), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    _float_input("pairwise_distance", x1, "x1")
    _float_input("pairwise_distance", x2, "x2")
    return (x1 - x2 + eps).norm(p, dim=-1, keepdim=keepdim)


def pdist(input, p=2):
    """||input[i] - input[j]||_p for every pair of rows i < j of an (N, M) input, in row-major order
    (the upper triangle of cdist(input, input)): N * (N - 1) / 2 distances."""
    _float_input("pdist", input)
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D (input of shape "
                           f"{list(input.shape)}; pdist takes (N, M): N rows of M features)")
    if p < 0:
        raise RuntimeError(f"pdist only supports non-negative p values, got p={p}")
    xp = xp_of(input._data)
    i, j = np.triu_indices(input.shape[0], 1)
    rows = [Tensor._make(xp.asarray(k, dtype=np.int64), None, 0, None) for k in (i, j)]
    diff = index_select(input, 0, rows[0]) - index_select(input, 0, rows[1])
    if p == 0:  # a count of differing entries: its gradient is zero, not absent (PyTorch's)
        return diff.norm(0, dim=-1) + (diff * 0).sum(-1)
    return diff.norm(p, dim=-1)


# ---------------------------------------------------------------- divergences and likelihoods
@_autocast.policy(cuda="float32", cpu="float32")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: target * (log target - input) (input holds log-probabilities;
    with log_target the target does too). reduction 'batchmean' divides the sum by the batch size,
    which is the true KL divergence; 'mean' averages over all elements (PyTorch warns about it)."""
    reduction = _reduction("kl_div", size_average, reduce, reduction, ("none", "batchmean", "mean", "sum"))
    _float_input("kl_div", input)
    _float_input("kl_div", target, "target")
    if log_target:
        loss = exp(target) * (target - input)
    else:
        loss = _xlogx(target) - target * input
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() else loss.sum()
    return _reduce(loss, reduction)


@_autocast.policy(cuda="float32", cpu="float32")
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(input) - target * input (log_input), or input - target * log(input + eps); with `full`, the
    Stirling term target * log(target) - target + log(2 pi target) / 2 where target > 1."""
    reduction = _reduction("poisson_nll_loss", size_average, reduce, reduction)
    _float_input("poisson_nll_loss", input)
    loss = exp(input) - target * input if log_input else input - target * log(input + eps)
    if full:
        big = target > 1
        safe = where(big, target, target.new_ones(()))
        stirling = safe * log(safe) - safe + log(safe * (2 * math.pi)) * 0.5
        loss = loss + where(big, stirling, target.new_zeros(()))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """(log(max(var, eps)) + (input - target)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 with `full`);
    var of input's shape, or with one dim fewer or a last dim of 1 (one variance per sample), or a number."""
    _check_reduction("gaussian_nll_loss", reduction)
    _float_input("gaussian_nll_loss", input)
    if not hasattr(var, "shape"):  # one number for every element
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.new_full(tuple(input.shape), float(var))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError(f"var is of incorrect size: input {list(input.shape)}, var {list(var.shape)}; var "
                             f"has input's shape, or one dim fewer, or a last dim of size 1")
    if bool((var < 0).any()):  # reads the device, as PyTorch's check does
        raise ValueError("var has negative entry/entries")
    var = var.clone()
    with grad_mode.no_grad():  # clamped for the value only: the gradient passes as if unclamped (PyTorch)
        var.clamp_(min=eps)
    loss = (log(var) + (input - target) ** 2 / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- margin and embedding losses
@_autocast.policy(cuda="float32", cpu="float32")
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin), target +1 or -1."""
    reduction = _reduction("margin_ranking_loss", size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, target: "
                           f"{tuple(target.shape)} ")
    return _reduce(relu(-target * (input1 - input2) + margin), reduction)


@_autocast.policy(cuda="float32", cpu="float32")
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """input where target is 1, max(0, margin - input) where it is -1."""
    reduction = _reduction("hinge_embedding_loss", size_average, reduce, reduction)
    zeros = input.new_zeros(())
    loss = where(target != 1, relu(margin - input), zeros) + where(target != -1, input, zeros)
    return _reduce(loss, reduction)


@_autocast.policy(cuda="float32", cpu="float32")
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), target +1 or -1."""
    reduction = _reduction("soft_margin_loss", size_average, reduce, reduction)
    return _reduce(softplus(-target * input), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(target log sigmoid(input) + (1 - target) log sigmoid(-input)), averaged over the classes (dim 1)."""
    reduction = _reduction("multilabel_soft_margin_loss", size_average, reduce, reduction)
    loss = target * softplus(-input) + (1 - target) * softplus(input)
    if weight is not None:
        loss = loss * weight
    loss = loss.mean(-1) if input.dim() else loss
    return _reduce(loss, reduction)


_EPSILON = 1e-12


@_autocast.policy(cuda="float32", cpu="float32")
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(input1, input2) where target is 1, max(0, cos - margin) where it is -1."""
    reduction = _reduction("cosine_embedding_loss", size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() not in (1, 2):
        raise RuntimeError(f"cosine_embedding_loss(): 1D target tensor expects 2D input tensors (or 0D target "
                           f"and 1D inputs), but got inputs of sizes {tuple(input1.shape)} and "
                           f"{tuple(input2.shape)}")
    d = input1.dim() - 1
    prod = (input1 * input2).sum(d)
    m1 = (input1 * input1).sum(d) + _EPSILON
    m2 = (input2 * input2).sum(d) + _EPSILON
    cos = prod / (m1 * m2).sqrt()
    zeros = cos.new_zeros(())
    loss = where(target == 1, 1 - cos, zeros) + where(target == -1, clamp_min(cos - margin, 0), zeros)
    return _reduce(loss, reduction)


@_autocast.policy(cuda="float32", cpu="float32")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d the pairwise p-distance; with
    `swap`, d(anchor, negative) is replaced by d(positive, negative) where that is smaller."""
    reduction = _reduction("triplet_margin_loss", size_average, reduce, reduction)
    if not (anchor.dim() == positive.dim() == negative.dim()):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.dim()}D, positive {positive.dim()}D, and negative "
                           f"{negative.dim()}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_swap = pairwise_distance(positive, negative, p, eps)
        d_neg = where(d_swap < d_neg, d_swap, d_neg)
    return _reduce(clamp_min(d_pos - d_neg + margin, 0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d = distance_function (default
    pairwise_distance); with `swap`, d(anchor, negative) is replaced by d(positive, negative) where that
    is smaller."""
    _check_reduction("triplet_margin_with_distance_loss", reduction)
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss(): margin must be greater than 0, got {margin}")
    if not (anchor.dim() == positive.dim() == negative.dim()):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.dim()}D, positive {positive.dim()}D, and negative "
                           f"{negative.dim()}D inputs")
    dist = pairwise_distance if distance_function is None else distance_function
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce(clamp_min(margin + d_pos - d_neg, 0), reduction)


# ---------------------------------------------------------------- multi-class margin losses
def _class_targets(op, input, target, target_shape):
    """The int64 target array after PyTorch's checks; `target_shape` the shape it must have."""
    check_tensor(op, target, "target")
    if target._data.dtype != np.int64:
        raise RuntimeError(f"{op}(): expected scalar type Long but found {target.dtype} (target of shape "
                           f"{list(target.shape)}); pass class indices as int64")
    if tuple(target.shape) != target_shape:
        raise RuntimeError(f"{op}(): inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}; expected target of shape {list(target_shape)}")
    return target._data


def _const(arr) -> Tensor:
    return Tensor._make(arr, None, 0, None)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """sum over classes i != y of weight[y] * max(0, margin - x[y] + x[i])^p, divided by the number of
    classes C; input (N, C) or (C,), target (N,) (or one class index for a (C,) input), p 1 or 2."""
    reduction = _reduction("multi_margin_loss", size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss(): only p == 1 and p == 2 supported, got p={p}")
    _float_input("multi_margin_loss", input)
    if input.dim() not in (1, 2) or input.shape[-1] == 0:
        raise RuntimeError(f"multi_margin_loss(): Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    c = input.shape[-1]
    x = input if input.dim() == 2 else input.unsqueeze(0)
    n = x.shape[0]
    if input.dim() == 2 or target.dim() != 0:  # an unbatched input takes target () or (1,)
        if target.dim() > 1 or target.numel() != n:
            raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of "
                               f"input samples (batch size). Expected target size [{n}], but got "
                               f"{list(target.shape)}. Input has shape {list(input.shape)}.")
    t = _class_targets("multi_margin_loss", input, target, tuple(target.shape)).reshape(n, 1)
    if weight is not None and (weight.dim() != 1 or weight.numel() != c):
        raise RuntimeError(f"multi_margin_loss(): inconsistent weight size, expected {c} but got "
                           f"{list(weight.shape)}")
    t = _checked_classes("multi_margin_loss", t, c, 0)
    z = relu(margin - gather(x, 1, _const(t)) + x)  # (N, C): the margin violation of each class
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * index_select(weight, 0, _const(t.reshape(n))).unsqueeze(1)
    xp = xp_of(t)
    others = (xp.arange(c)[None, :] != t).astype(z._data.dtype)  # the target class itself is no violation
    loss = (z * _const(others)).sum(1) / c
    if input.dim() == 1:
        loss = loss.reshape(tuple(target.shape))
    return _reduce(loss, reduction)


def _checked_classes(op, t, c, low):
    """t with every entry in [low, c) (PyTorch's error otherwise; on CUDA checked without
    synchronizing, the values clamped meanwhile so indexing stays in bounds)."""
    device_checks.check_value((t < low) | (t >= c), t, lambda v: RuntimeError(
        f"{op}(): target out of range: got class {v} for input with {c} classes (valid: {low} to {c - 1})"), op)
    return xp_of(t).clip(t, low, c - 1)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])), divided by the
    number of classes C; target holds class indices (input's shape), read up to its first -1."""
    reduction = _reduction("multilabel_margin_loss", size_average, reduce, reduction)
    _float_input("multilabel_margin_loss", input)
    if input.dim() not in (1, 2) or input.shape[-1] == 0:
        raise RuntimeError(f"multilabel_margin_loss(): Expected non-empty vector or matrix with optional 0-dim "
                           f"batch size, but got: {list(input.shape)}")
    c = input.shape[-1]
    t = _class_targets("multilabel_margin_loss", input, target, tuple(input.shape)).reshape(-1, c)
    x = input.reshape(-1, c)
    xp = xp_of(t)
    t = _checked_classes("multilabel_margin_loss", t, c, -1)
    valid = xp.cumprod(t != -1, axis=1).astype(bool)  # the entries before the first -1
    # is_target[n, i]: class i is among sample n's (valid) targets
    is_target = ((t[:, :, None] == xp.arange(c)[None, None, :]) & valid[:, :, None]).any(1)
    x_t = gather(x, 1, _const(xp.where(valid, t, 0)))  # (N, C): x at each target entry
    pairs = (valid[:, :, None] & ~is_target[:, None, :]).astype(x._data.dtype)  # (target j, non-target i)
    loss = (relu(1 - x_t.unsqueeze(2) + x.unsqueeze(1)) * _const(pairs)).sum((1, 2)) / c
    if input.dim() == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)



__all__ = ["cosine_similarity", "pairwise_distance", "pdist", "multi_margin_loss", "multilabel_margin_loss",
           "triplet_margin_with_distance_loss", "kl_div", "poisson_nll_loss", "gaussian_nll_loss",
           "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
           "cosine_embedding_loss", "triplet_margin_loss"]
