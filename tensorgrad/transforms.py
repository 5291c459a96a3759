"""Image transforms with torchvision.transforms' names: Compose, ToTensor, Normalize, Lambda.

ToTensor and Normalize work on one sample (H×W or H×W×C image, C×H×W tensor) and on a whole batch
(N×H×W uint8 array → N×1×H×W; N×C×H×W tensor): `batch_call(x)` applies the batch form, which the
MNIST datasets use to transform a DataLoader batch in one NumPy pass.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda"]


def _arr(x):
    if isinstance(x, Tensor):
        return x._data
    if backend.is_array(x):
        return x
    if hasattr(x, "__array__"):  # PIL images and the like
        return np.asarray(x)
    raise TypeError(f"expected a tensor, a NumPy array or an image, got {type(x).__name__}")


def _wrap(a):
    return Tensor._make(a, None, 0, None)


class Compose:
    """Applies transforms in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    @property
    def supports_batch(self):
        return all(getattr(t, "supports_batch", False) for t in self.transforms)

    def batch_call(self, x):
        for t in self.transforms:
            x = t.batch_call(x)
        return x

    def __repr__(self):
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


def _to_float(a):
    xp = backend.xp_of(a)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)  # as torchvision: img.float().div(255)
    if a.dtype.kind == "f":
        return a.astype(np.float32, copy=False)
    if a.dtype.kind in "iub":
        return xp.asarray(a, dtype=np.float32)
    raise TypeError(f"ToTensor: unsupported dtype {a.dtype}")


class ToTensor:
    """H×W or H×W×C image/array (uint8 0..255 → [0, 1]; floats kept) → float32 C×H×W tensor.

    Batch form (`batch_call`): N×H×W → N×1×H×W, N×H×W×C → N×C×H×W.
    """
    supports_batch = True

    def __call__(self, pic):
        a = _arr(pic)
        if a.ndim == 2:
            a = a[None]
        elif a.ndim == 3:
            a = a.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor: pic should be 2 or 3 dimensional, got {a.ndim} dimensions "
                             f"(use batch_call for a batch)")
        return _wrap(backend.xp_of(a).ascontiguousarray(_to_float(a)))

    def batch_call(self, pics):
        a = _arr(pics)
        if a.ndim == 3:
            a = a[:, None]
        elif a.ndim == 4:
            a = a.transpose(0, 3, 1, 2)
        else:
            raise ValueError(f"ToTensor.batch_call: expected N×H×W or N×H×W×C, got shape {a.shape}")
        return _wrap(backend.xp_of(a).ascontiguousarray(_to_float(a)))

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean[c]) / std[c] per channel of a float C×H×W tensor, or N×C×H×W with batch_call."""
    supports_batch = True

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = tuple(mean), tuple(std), inplace
        if any(s == 0 for s in self.std):
            raise ValueError(f"std evaluated to zero after conversion to float32, leading to division by "
                             f"zero (std={self.std})")

    def _apply(self, t, lead):
        if not isinstance(t, Tensor):
            raise TypeError(f"Normalize: input should be a tensor, got {type(t).__name__}")
        a = t._data
        if a.dtype.kind != "f":
            raise TypeError(f"Normalize: input tensor should be a float tensor, got {t.dtype}")
        if a.ndim < 3:
            raise ValueError(f"Normalize: expected tensor of size (..., C, H, W), got {tuple(a.shape)}")
        c = a.shape[-3]
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise ValueError(f"Normalize: mean/std of length {len(self.mean)}/{len(self.std)} for {c} channels")
        xp = backend.xp_of(a)
        mean = xp.asarray(self.mean, dtype=a.dtype).reshape(-1, 1, 1)
        inv = (1 / xp.asarray(self.std, dtype=a.dtype)).reshape(-1, 1, 1)
        if self.inplace:
            a -= mean
            a *= inv
            return t
        return _wrap((a - mean) * inv)

    def __call__(self, tensor):
        return self._apply(tensor, False)

    def batch_call(self, tensor):
        return self._apply(tensor, True)

    def __repr__(self):
        return f"Normalize(mean={list(self.mean)}, std={list(self.std)})"


class Lambda:
    """Wraps a user function as a transform (per sample only)."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)

    def __repr__(self):
        return "Lambda()"
