"""tensorgrad.utils: data loading utilities (``tensorgrad.utils.data``)."""
from . import data  # noqa: F401  (tensorgrad.utils.data)

__all__ = ["data"]
