"""linalg ops (to be written)."""
from __future__ import annotations


# ---- not yet implemented (TODO: replace each stub with the real op)


def matmul(*args, **kwargs):
    raise NotImplementedError("matmul is not implemented yet")


def mm(*args, **kwargs):
    raise NotImplementedError("mm is not implemented yet")


def bmm(*args, **kwargs):
    raise NotImplementedError("bmm is not implemented yet")


def dot(*args, **kwargs):
    raise NotImplementedError("dot is not implemented yet")


def outer(*args, **kwargs):
    raise NotImplementedError("outer is not implemented yet")


__all__ = ['matmul', 'mm', 'bmm', 'dot', 'outer']
