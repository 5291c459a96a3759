"""Lazy modules (torch.nn.LazyLinear, LazyConv*d): parameters whose shapes are set by the first
forward. UninitializedParameter holds the place; LazyModuleMixin materializes the parameters from
the first input, initializes them as the plain module would, and turns the module into it."""
from __future__ import annotations

from .. import creation
from ..autograd import grad_mode
from .parameter import Parameter

_UNINIT = ("Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
           "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
           "`forward` to initialize the parameters before accessing their attributes.")


class UninitializedParameter(Parameter):
    """A lazy module's parameter before its shape is known (torch.nn.UninitializedParameter): it
    holds no values (its shape raises) until materialize(shape) gives it memory IN PLACE and makes
    it a plain Parameter, the same object, so references to it (hooks, a dict) stay valid. Its
    device and dtype follow Module.to() meanwhile, as torch's do."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return Parameter.__new__(cls, creation.empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad=True, device=None, dtype=None):  # everything happens in __new__
        pass

    def materialize(self, shape, device=None, dtype=None) -> None:
        data = creation.empty(tuple(shape), device=self.device if device is None else device,
                              dtype=self.dtype if dtype is None else dtype)
        self._data = data._data
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_UNINIT)

    def size(self, dim=None):
        raise RuntimeError(_UNINIT)

    def numel(self):
        raise RuntimeError(_UNINIT)

    def __repr__(self):
        return "<UninitializedParameter>"

    def __deepcopy__(self, memo):
        return memo.setdefault(id(self), UninitializedParameter(self._requires_grad, self.device, self.dtype))


class LazyModuleMixin:
    """torch's LazyModuleMixin: the module's parameters are UninitializedParameters until its first
    forward, where initialize_parameters(input) infers their shapes and reset_parameters() fills
    them; then the module becomes `cls_to_become` (LazyLinear -> Linear). load_state_dict before
    that materializes them with the checkpoint's shapes instead. Build optimizers after a first
    forward (a dry run): before it the parameters have no values to optimize."""

    cls_to_become = None

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def _infer_parameters(self, input) -> None:
        if self.has_uninitialized_params():
            with grad_mode.no_grad():
                self.initialize_parameters(input)
        if self.has_uninitialized_params():
            raise RuntimeError(f"{self._get_name()}: module {self._get_name()} has not been fully initialized")
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def forward(self, *args, **kwargs):
        self._infer_parameters(args[0] if args else next(iter(kwargs.values()), None))
        return self.forward(*args, **kwargs)  # the forward of cls_to_become, which self is now

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for name, p in self._parameters.items():  # keep them recognisable as uninitialized
            if isinstance(p, UninitializedParameter):
                destination[prefix + name] = p

    def _load_from_state_dict(self, state_dict, prefix, strict, missing_keys, unexpected_keys, error_msgs):
        for name, p in self._parameters.items():
            value = state_dict.get(prefix + name)
            if isinstance(p, UninitializedParameter) and value is not None and not isinstance(
                    value, UninitializedParameter):
                p.materialize(tuple(value.shape))
        if not self.has_uninitialized_params():
            self._on_materialized()
        super()._load_from_state_dict(state_dict, prefix, strict, missing_keys, unexpected_keys, error_msgs)

    def _on_materialized(self) -> None:
        """Set the inferred sizes (in_features, ...) from the parameters' shapes."""
