"""nn.Parameter: a leaf Tensor that a Module registers as one of its parameters."""
from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: a leaf, ``requires_grad=True`` by default.

    ``Parameter(t)`` shares ``t``'s memory (and version counter), like ``torch.nn.Parameter``.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): expected a tensorgrad Tensor as data, got {type(data).__name__}")
        self = object.__new__(cls)
        Tensor._init_from(self, data._data, False)
        self._vc = data._vc
        if requires_grad:
            self.requires_grad = True
        return self

    def __init__(self, data=None, requires_grad=True):  # everything happens in __new__
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        data = Tensor._make(self._data.copy(), None, 0, None)
        result = Parameter(data, self._requires_grad)
        if self._grad is not None:
            result._grad = self._grad._detached_copy()
        memo[id(self)] = result
        return result


__all__ = ["Parameter"]
