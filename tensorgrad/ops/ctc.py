"""F.ctc_loss: the connectionist temporal classification loss as one op (CTC), the forward-backward
algorithm in log space, vectorized over the batch with a loop over time."""
from __future__ import annotations

import numpy as np

from .. import autocast_mode as _autocast
from .. import device_checks
from ..autograd.function import Op
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor
from .loss import _check_reduction, _float_input


# ---------------------------------------------------------------- ctc_loss
def _ctc_shift(a, k, xp):
    """a (N, L) shifted right by k along L, -inf filling the first k positions."""
    out = xp.full_like(a, -np.inf)
    out[:, k:] = a[:, :a.shape[1] - k]
    return out


class CTC(Op):
    """-log p(target | log_probs) per sample, summed over all alignments (Graves et al., 2006).

    The extended label sequence l' puts a blank before, between and after the S targets (L = 2S+1
    states). Forward: log_alpha over time, each state fed by itself, the state before, and the one
    two before when that skips a blank between two different labels. Backward: log_beta, the same
    recursion run backwards, then PyTorch's gradient formula exp(lp) - exp(log(sum of alpha*beta over
    the states of class c) + nll - lp): the gradient with respect to the logits of a log_softmax,
    which is what PyTorch returns for log_probs too (the two differ by exp(lp), which log_softmax's
    backward removes). Steps past a sample's input length get a zero gradient."""

    save_inputs = (0,)

    def __init__(self, ext, in_len, tgt_len, blank, zero_infinity):
        self.ext, self.in_len, self.tgt_len = ext, in_len, tgt_len  # (N, L) labels; host int arrays (N,)
        self.blank, self.zero_infinity = blank, zero_infinity

    def _skip(self, xp):
        """(N, L): state s may be entered from s-2 (a label, different from the label two before)."""
        ext = self.ext
        skip = xp.zeros(ext.shape, dtype=bool)
        skip[:, 2:] = (ext[:, 2:] != self.blank) & (ext[:, 2:] != ext[:, :-2])
        return skip

    def forward(self, lp):
        xp = xp_of(lp)
        t_max, n = lp.shape[0], lp.shape[1]
        rows = xp.arange(n)[:, None]
        emit = lp[:, rows, self.ext]  # (T, N, L): log_prob of each state's label at each step
        skip = self._skip(xp)
        alpha = xp.full(emit.shape, -np.inf, dtype=lp.dtype)
        alpha[0, :, 0] = emit[0, :, 0]
        if emit.shape[2] > 1:  # all targets empty: the blank state alone
            alpha[0, :, 1] = xp.where(xp.asarray(self.tgt_len) > 0, emit[0, :, 1], -np.inf)
        with np.errstate(invalid="ignore"):  # logaddexp(-inf, -inf) is -inf, as wanted
            for t in range(1, t_max):
                a = alpha[t - 1]
                into = xp.logaddexp(a, _ctc_shift(a, 1, xp))
                into = xp.where(skip, xp.logaddexp(into, _ctc_shift(a, 2, xp)), into)
                alpha[t] = into + emit[t]
        last = xp.asarray(np.maximum(self.in_len - 1, 0))
        end = xp.asarray(2 * self.tgt_len)
        at_end = alpha[last, xp.arange(n)]  # (N, L): alpha at each sample's last step
        ll = xp.logaddexp(at_end[xp.arange(n), end],
                          xp.where(end > 0, at_end[xp.arange(n), xp.maximum(end - 1, 0)], -np.inf))
        # no input steps: the empty alignment, probability 1 for an empty target and 0 otherwise
        ll = xp.where(xp.asarray(self.in_len) == 0, xp.where(end == 0, 0.0, -np.inf), ll)
        nll = -ll
        if self.zero_infinity:
            nll = xp.where(xp.isinf(nll), 0, nll)
        self.ctx_arrays = (alpha, -ll)
        return nll.astype(lp.dtype)

    def backward(self, grad):
        (lp_t,) = self.saved_tensors
        alpha, nll = self.saved_arrays
        lp = lp_t._data
        xp = xp_of(lp)
        t_max, n, c = lp.shape
        rows = xp.arange(n)[:, None]
        emit = lp[:, rows, self.ext]
        skip = self._skip(xp)
        n_states = self.ext.shape[1]
        in_len, end = xp.asarray(self.in_len), xp.asarray(2 * self.tgt_len)
        states = xp.arange(n_states)[None, :]
        final = (states == end[:, None]) | ((states == end[:, None] - 1) & (end[:, None] > 0))
        beta = xp.full(emit.shape, -np.inf, dtype=lp.dtype)
        nxt = xp.full((n, n_states), -np.inf, dtype=lp.dtype)
        with np.errstate(invalid="ignore"):
            for t in range(t_max - 1, -1, -1):
                back = xp.logaddexp(nxt, _ctc_shift(nxt[:, ::-1], 1, xp)[:, ::-1])  # from s and s+1
                skip_in = xp.zeros_like(skip)
                skip_in[:, :-2] = skip[:, 2:]  # s+2 may be entered from s
                back = xp.where(skip_in, xp.logaddexp(back, _ctc_shift(nxt[:, ::-1], 2, xp)[:, ::-1]), back)
                start = xp.where(final, emit[t], -np.inf)  # each sample's last step starts the recursion
                cur = xp.where((t == in_len - 1)[:, None], start, back + emit[t])
                beta[t] = xp.where((t < in_len)[:, None], cur, -np.inf)
                nxt = beta[t]
            ab = alpha + beta  # (T, N, L); states of the same class summed in log space below
            top = ab.max(axis=2, keepdims=True)
            top = xp.where(xp.isfinite(top), top, 0)
            onehot = (self.ext[:, :, None] == xp.arange(c)[None, None, :]).astype(lp.dtype)  # (N, L, C)
            summed = xp.einsum("tnl,nlc->tnc", xp.exp(ab - top), onehot)
            with np.errstate(divide="ignore", over="ignore"):
                lcab = xp.log(summed) + top
                g = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
        valid = (xp.arange(t_max)[:, None] < in_len[None, :])[:, :, None]
        if self.zero_infinity:
            valid = valid & ~xp.isinf(nll)[None, :, None]
        g = xp.where(valid, g, 0).astype(lp.dtype)
        return _CTCGrad(g)(grad, lp_t)


class _CTCGrad(Op):
    """grad (N,) times the (T, N, C) gradient of each sample's loss. Its own derivative with respect to
    log_probs is not implemented (nor is it in PyTorch): double backward through ctc_loss raises."""

    def __init__(self, g):
        self.ctx_arrays = (g,)

    def forward(self, grad, lp):
        return self.ctx_arrays[0] * grad[None, :, None]

    def backward(self, gg):
        if self.needs_input_grad[1]:
            raise NotImplementedError("ctc_loss: double backward (the derivative of ctc_loss's gradient with "
                                      "respect to log_probs) is not implemented, as in PyTorch")
        (g,) = self.saved_arrays
        return (gg * Tensor._make(g, None, 0, None)).sum((0, 2)), None


def _lengths(name, lengths, n):
    """input_lengths / target_lengths (a tensor, a sequence or a number) as a host int64 array (N,)."""
    if isinstance(lengths, Tensor):
        arr = np.asarray(lengths.detach().cpu().numpy())
    else:
        arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss(): {name} must be integers, got {arr.dtype}")
    arr = arr.astype(np.int64).reshape(-1)
    if arr.size != n:
        raise RuntimeError(f"ctc_loss(): {name} must be of size batch_size ({n}), got {arr.size} entries")
    return arr


@_autocast.policy(cuda="float32", cpu="float32")  # on PyTorch's float32 lists for both
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss. log_probs (T, N, C) (log_softmax outputs) or unbatched
    (T, C); targets padded (N, S) or concatenated (sum(target_lengths),) class indices, never `blank`;
    input_lengths and target_lengths (N,). reduction 'mean' divides each loss by its target length and
    averages over the batch; zero_infinity zeroes impossible alignments' losses and gradients."""
    _check_reduction("ctc_loss", reduction)
    _float_input("ctc_loss", log_probs, "log_probs")
    check_tensor("ctc_loss", targets, "targets")
    unbatched = log_probs.dim() == 2
    if log_probs.dim() not in (2, 3):
        raise RuntimeError(f"ctc_loss(): Expected 3-dimensional tensor (T, N, C) (or 2-dimensional, unbatched), "
                           f"but got {log_probs.dim()}-dimensional tensor for argument #1 'log_probs'")
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    t_max, n, c = lp.shape
    if not 0 <= blank < c:
        raise RuntimeError(f"ctc_loss(): blank must be in label range [0, {c}), got blank={blank}")
    in_len = _lengths("input_lengths", input_lengths, n)
    tgt_len = _lengths("target_lengths", target_lengths, n)
    if (in_len > t_max).any() or (in_len < 0).any():
        bad = in_len[(in_len > t_max) | (in_len < 0)][0]
        raise RuntimeError(f"ctc_loss(): Expected input_lengths to have value at most {t_max} (and at least 0), "
                           f"but got value {bad}")
    if (tgt_len < 0).any():
        raise RuntimeError(f"ctc_loss(): target_lengths must be non-negative, got {tgt_len[tgt_len < 0][0]}")
    tg_arr = targets._data
    xp = xp_of(lp._data)
    s_max = int(tgt_len.max()) if n else 0
    if unbatched or tg_arr.ndim == 1:  # concatenated: sample k's targets start after the ones before
        if tg_arr.ndim != 1 or tg_arr.shape[0] != int(tgt_len.sum()):
            raise RuntimeError(f"ctc_loss(): Expected tensor to have size {int(tgt_len.sum())} at dimension 0 "
                               f"(concatenated targets hold sum(target_lengths) entries), got targets of shape "
                               f"{list(tg_arr.shape)}")
        starts = np.concatenate([[0], np.cumsum(tgt_len)[:-1]])
        pos = starts[:, None] + np.arange(s_max)[None, :]
        pos = np.minimum(pos, max(tg_arr.shape[0] - 1, 0))
        padded = tg_arr[xp.asarray(pos)] if tg_arr.shape[0] else xp.zeros((n, s_max), dtype=np.int64)
    else:
        if tg_arr.ndim != 2 or tg_arr.shape[0] != n or tg_arr.shape[1] < s_max:
            raise RuntimeError(f"ctc_loss(): Expected tensor to have size at least {s_max} at dimension 1, but "
                               f"got targets of shape {list(tg_arr.shape)} (padded targets are (N={n}, S))")
        padded = tg_arr[:, :s_max]
    padded = padded.astype(np.int64)
    inside = xp.asarray(np.arange(s_max)[None, :] < tgt_len[:, None])
    padded = xp.where(inside, padded, blank)  # padding past each target length reads the blank
    bad = (padded < 0) | (padded >= c)  # checked on the device, read at the next sync (no sync here)
    device_checks.check_value(bad, padded, lambda v: RuntimeError(
        f"ctc_loss(): targets must be class indices in [0, {c}), got {v}"), "ctc_loss()")
    padded = device_checks.clamp_index(padded, c)
    ext = xp.full((n, 2 * s_max + 1), blank, dtype=np.int64)
    ext[:, 1::2] = padded
    loss = CTC(ext, in_len, tgt_len, blank, zero_infinity)(lp)
    if reduction == "mean":
        div = Tensor._make(xp.asarray(np.maximum(tgt_len, 1), dtype=lp._data.dtype), None, 0, None)
        return (loss / div).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.reshape(()) if unbatched else loss


__all__ = ["ctc_loss"]
