"""tensorgrad.utils: data loading (``tensorgrad.utils.data``) and activation checkpointing
(``tensorgrad.utils.checkpoint``)."""
from . import checkpoint, data  # noqa: F401

__all__ = ["checkpoint", "data"]
