"""torch.nn.modules.<file> names for code that reaches into torch's package layout.

PyTorch users write ``isinstance(m, nn.modules.batchnorm._BatchNorm)`` (to freeze BatchNorm) or
``from torch.nn.modules.loss import _Loss``. tensorgrad's files are split differently (BatchNorm and
InstanceNorm live in nn/normalization.py, MultiheadAttention in nn/transformer.py), so each torch file
name gets a small view module holding the classes of the tensorgrad files that correspond to it. The
classes are the same objects, so isinstance and subclassing behave as with the real ones. Each view is
registered in sys.modules as ``tensorgrad.nn.modules.<name>``, which makes ``import`` of it work too.
"""
from __future__ import annotations

import collections.abc
import itertools
import sys
import types

from . import (activation, containers, conv, dropout, lazy, linear, loss, module, normalization, padding,
               pixel_shuffle, pooling, rnn, sparse, transformer)

# torch file -> tensorgrad files whose classes it holds (plus single extra classes from elsewhere).
_SOURCES = {
    "module": [module],
    "container": [containers],
    "linear": [linear],
    "flatten": [linear],
    "conv": [conv],
    "pooling": [pooling],
    "upsampling": [pooling],
    "batchnorm": [normalization],
    "instancenorm": [normalization],
    "normalization": [normalization],
    "dropout": [dropout],
    "activation": [activation],
    "loss": [loss],
    "distance": [loss],
    "rnn": [rnn],
    "sparse": [sparse],
    "padding": [padding],
    "pixelshuffle": [pixel_shuffle],
    "channelshuffle": [pixel_shuffle],
    "fold": [pixel_shuffle],
    "transformer": [transformer],
    "lazy": [lazy],
}
_EXTRAS = {"activation": {"MultiheadAttention": transformer.MultiheadAttention}}  # torch defines it there


def _defined_in(src):
    """The classes and functions `src` defines (not the names it imports), private bases included."""
    return {k: v for k, v in vars(src).items()
            if not k.startswith("__") and isinstance(v, (type, types.FunctionType))
            and getattr(v, "__module__", None) == src.__name__}


def _view(name: str, namespace: dict) -> types.ModuleType:
    mod = types.ModuleType(f"{__name__}.{name}", f"torch.nn.modules.{name} names, from tensorgrad.nn")
    mod.__dict__.update(namespace)
    sys.modules[mod.__name__] = mod
    return mod


# ---------------------------------------------------------------- torch.nn.modules.utils helpers
def _ntuple(n, name="parse"):
    """A parser that turns a scalar into an n-tuple of it and any iterable into a tuple (conv args)."""
    def parse(x):
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(itertools.repeat(x, n))
    parse.__name__ = name
    return parse


def _reverse_repeat_tuple(t, n):
    """(a, b) -> (b, b, a, a) for n=2: the layout F.pad wants for per-dim padding."""
    return tuple(x for x in reversed(t) for _ in range(n))


def _list_with_default(out_size, defaults):
    if isinstance(out_size, int):
        return out_size
    if len(defaults) <= len(out_size):
        raise ValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [v if v is not None else d for v, d in zip(out_size, defaults[-len(out_size):])]


def consume_prefix_in_state_dict_if_present(state_dict, prefix: str) -> None:
    """Strip `prefix` (e.g. DDP's "module.") from the keys that start with it, in place."""
    for key in list(state_dict.keys()):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for key in list(metadata.keys()):
            if len(key) == 0:
                continue
            if key == prefix.replace(".", "") or key.startswith(prefix):
                metadata[key[len(prefix):]] = metadata.pop(key)


_UTILS = {"_ntuple": _ntuple, "_single": _ntuple(1, "_single"), "_pair": _ntuple(2, "_pair"),
          "_triple": _ntuple(3, "_triple"), "_quadruple": _ntuple(4, "_quadruple"),
          "_reverse_repeat_tuple": _reverse_repeat_tuple, "_list_with_default": _list_with_default,
          "consume_prefix_in_state_dict_if_present": consume_prefix_in_state_dict_if_present}

_views = {}
for _name, _srcs in _SOURCES.items():
    _ns = {}
    for _src in _srcs:
        _ns.update(_defined_in(_src))
    _ns.update(_EXTRAS.get(_name, {}))
    _views[_name] = _view(_name, _ns)
_views["utils"] = _view("utils", _UTILS)
globals().update(_views)

# Every public nn class at the top level too (nn.modules.Linear), as torch.nn.modules exports them.
__all__ = sorted({k for v in _views.values() for k, c in vars(v).items()
                  if isinstance(c, type) and not k.startswith("_") and issubclass(c, module.Module)})
globals().update({k: getattr(_v, k) for _v in _views.values() for k in __all__ if hasattr(_v, k)})
del _name, _srcs, _ns, _src
