"""index ops (to be written)."""
from __future__ import annotations


# ---- not yet implemented (TODO: replace each stub with the real op)


def gather(*args, **kwargs):
    raise NotImplementedError("gather is not implemented yet")


def scatter_add(*args, **kwargs):
    raise NotImplementedError("scatter_add is not implemented yet")


def index_select(*args, **kwargs):
    raise NotImplementedError("index_select is not implemented yet")


def masked_fill(*args, **kwargs):
    raise NotImplementedError("masked_fill is not implemented yet")


def tril(*args, **kwargs):
    raise NotImplementedError("tril is not implemented yet")


def triu(*args, **kwargs):
    raise NotImplementedError("triu is not implemented yet")


def take_along_dim(*args, **kwargs):
    raise NotImplementedError("take_along_dim is not implemented yet")


def getitem(*args, **kwargs):
    raise NotImplementedError("getitem is not implemented yet")


def index_put(*args, **kwargs):
    raise NotImplementedError("index_put is not implemented yet")


__all__ = ['gather', 'scatter_add', 'index_select', 'masked_fill', 'tril', 'triu', 'take_along_dim', 'getitem', 'index_put']
