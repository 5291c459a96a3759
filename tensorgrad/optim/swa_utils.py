"""Stochastic Weight Averaging and EMA, as torch.optim.swa_utils: AveragedModel (a running average
of a model's weights), SWALR (anneal the learning rate to a constant SWA rate), update_bn
(recompute BatchNorm statistics for the averaged weights) and the averaging functions."""
from __future__ import annotations

import itertools
import math
from copy import deepcopy

from ..autograd import grad_mode
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from .lr_scheduler import LRScheduler, _format_param

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


# ------------------------------------------------------------------ averaging functions
# avg_fn(averaged, current, num_averaged) returns the new average of one tensor;
# multi_avg_fn(averaged_list, current_list, num_averaged) updates a list of them in place.
def get_ema_multi_avg_fn(decay=0.999):
    """Exponential moving average, in place: ema <- decay * ema + (1 - decay) * current."""
    def ema_update(ema_param_list, current_param_list, _num_averaged):
        with grad_mode.no_grad():
            for ema, cur in zip(ema_param_list, current_param_list):
                if ema.is_floating_point():
                    ema.lerp_(cur, 1 - decay)
                else:  # integer buffers: computed in floating point, truncated back on copy
                    ema.copy_(ema * decay + cur * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """Equal-weight running mean, in place: avg <- avg + (current - avg) / (num_averaged + 1)."""
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        with grad_mode.no_grad():
            for avg, cur in zip(averaged_param_list, current_param_list):
                avg.copy_(avg + (cur - avg) / (num_averaged + 1))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


# ------------------------------------------------------------------ AveragedModel
class AveragedModel(Module):
    """A deep copy of `model` whose weights are the average of the weights it is shown.

    ``update_parameters(model)`` folds in the model's current weights: the first call copies
    them, later ones apply `multi_avg_fn` (lists of same device and dtype, in place) or `avg_fn`
    (one tensor at a time, returning the new value; at most one of the two); with neither, the
    equal-weight SWA mean.
    Buffers are averaged too when `use_buffers`, else copied from the model as they are.
    ``n_averaged`` (an int64 buffer) counts the updates. Calling it runs the averaged copy.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:  # torch's exception type
            raise AssertionError("AveragedModel(): only one of avg_fn and multi_avg_fn should be provided")
        from .. import creation, dtypes
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", creation.tensor(0, dtype=dtypes.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, model):
        if self.use_buffers:
            return (list(itertools.chain(self.module.parameters(), self.module.buffers())),
                    list(itertools.chain(model.parameters(), model.buffers())))
        return list(self.parameters()), list(model.parameters())

    def update_parameters(self, model):
        ours, theirs = self._averaged_tensors(model)
        if len(ours) != len(theirs):
            what = "parameters and buffers" if self.use_buffers else "parameters"
            raise ValueError(f"AveragedModel.update_parameters(): the model has {len(theirs)} {what} but the "
                             f"averaged copy has {len(ours)}; pass a model of the same architecture")
        with grad_mode.no_grad():
            avg = [p.detach() for p in ours]
            cur = [p.detach().to(a.device) for p, a in zip(theirs, avg)]
            for i, (a, c) in enumerate(zip(avg, cur)):
                if tuple(a.shape) != tuple(c.shape):
                    raise ValueError(f"AveragedModel.update_parameters(): tensor {i} of the model has shape "
                                     f"{list(c.shape)} but the averaged copy's has shape {list(a.shape)}")
            if int(self.n_averaged.item()) == 0:
                for a, c in zip(avg, cur):
                    a.copy_(c)
            elif self.avg_fn is not None:
                for a, c in zip(avg, cur):
                    a.copy_(self.avg_fn(a, c, self.n_averaged.to(a.device)))
            else:
                fn = self.multi_avg_fn or get_swa_multi_avg_fn()
                groups: dict = {}  # the lists a multi_avg_fn gets share a device and a dtype
                for a, c in zip(avg, cur):
                    lists = groups.setdefault((str(a.device), str(a.dtype)), ([], []))
                    lists[0].append(a)
                    lists[1].append(c)
                for a_list, c_list in groups.values():
                    fn(a_list, c_list, self.n_averaged.to(a_list[0].device))
            if not self.use_buffers:  # keep the buffers in step with the model's
                for b_ours, b_theirs in zip(self.module.buffers(), model.buffers()):
                    b_ours.detach().copy_(b_theirs.detach().to(b_ours.device))
            self.n_averaged.add_(1)


def update_bn(loader, model, device=None):
    """One pass over `loader` in train mode to recompute every BatchNorm's running statistics as
    an equal-weight average over the batches (momentum None), then restore momenta and mode.
    A batch that is a list or tuple contributes its first element (the inputs)."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


# ------------------------------------------------------------------ SWALR
class SWALR(LRScheduler):
    """Anneal each group's lr from its value to `swa_lr` over `anneal_epochs` steps (cosine or
    linear), then hold it there. Written in the chained form: each step recovers the lr it would
    have started from and moves it one step further, so it composes with other schedulers."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        swa_lrs = _format_param("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        """The lr the previous step started from, given it moved lr = swa_lr * alpha + lr0 * (1 - alpha)."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / span)))
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / span)))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev_lrs)]
