"""torch.nn.utils.parametrize: express a parameter or buffer as a function of other tensors.

``register_parametrization(module, "weight", P())`` moves the tensor to
``module.parametrizations.weight.original`` (a ParametrizationList, itself a ModuleList of the
registered parametrizations) and makes ``module.weight`` a property that evaluates ``P()(original)``
on every access. Properties live on classes, so, as torch does, the module's class is swapped for
a generated subclass (``ParametrizedLinear`` for a Linear) that holds the property; the original
class comes back when the last parametrization is removed. Assigning ``module.weight = X`` calls
the parametrizations' ``right_inverse`` (last first) and stores the result in ``original``.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import contextmanager

from ...autograd import grad_mode
from ...tensor import Tensor
from ..containers import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

_cache_enabled = 0
_cache: dict = {}


@contextmanager
def cached():
    """Within this context each parametrized tensor is computed once, on first access, and reused
    (for example when a weight is used several times per forward, as in an RNN)."""
    global _cache_enabled, _cache
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache = {}


def _register_parameter_or_buffer(module, name: str, x) -> None:
    if isinstance(x, Parameter):
        module.register_parameter(name, x)
    else:
        module.register_buffer(name, x)


def _set_data(dst, src) -> None:
    """dst takes src's values, shape and memory, keeping its identity (torch's ``dst.set_(src)``):
    an optimizer holding `dst` keeps working. Counts as an in-place change of `dst`."""
    if dst is src:
        return
    dst._data = src._data
    dst._vc[0] += 1


def _check_result(what: str, x, dtype, shape, tail: str = "") -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{what} must return a tensor. Got {type(x).__name__}.")
    if x.dtype != dtype:
        raise ValueError(f"{what} may not change the dtype of the tensor{tail}.\n"
                         f"unparametrized dtype: {dtype}\nparametrized dtype: {x.dtype}")
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{what} may not change the shape of the tensor{tail}.\n"
                         f"unparametrized shape: {tuple(shape)}\nparametrized shape: {tuple(x.shape)}")


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order; holds the unparametrized tensor as
    ``original`` (or ``original0``, ``original1``, ... when the first right_inverse returns several)."""

    def __init__(self, modules, original, unsafe: bool = False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        original_shape, original_dtype = tuple(original.shape), original.dtype
        # what to store: right_inverse of the current value, innermost parametrization last
        with grad_mode.no_grad():
            new = original
            for module in reversed(self):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass  # no right inverse: taken to be the identity
        if not isinstance(new, (Tensor, Sequence)):
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                             f"Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if original.dtype != new.dtype:
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                                 f"original.dtype: {original.dtype}\nright_inverse(original).dtype: {new.dtype}")
            # the same tensor object stays registered: an optimizer built before keeps working
            with grad_mode.no_grad():
                _set_data(original, new)
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, originali in enumerate(new):
                if not isinstance(originali, Tensor):
                    raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors "
                                     f"(list, tuple...). Got element {i} of the sequence with type "
                                     f"{type(originali).__name__}.")
                # new tensors: the caller must hand them to the optimizer (as in torch)
                if isinstance(original, Parameter):
                    originali = Parameter(originali.detach(), original.requires_grad)
                else:
                    originali = originali.detach().requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", originali)
        if not self.unsafe:
            _check_result("A parametrization", self(), original_dtype, original_shape,
                          ", unless the `unsafe` flag is enabled")

    def right_inverse(self, value) -> None:
        """Store in ``original`` the tensor(s) that the parametrizations map to `value`."""
        with grad_mode.no_grad():
            for module in reversed(self):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"The tensor returned by `right_inverse` has dtype {value.dtype} while "
                                     f"`original` has dtype {self.original.dtype}")
                _set_data(self.original, value)
            else:
                if not isinstance(value, Sequence) or len(value) != self.ntensors:
                    raise ValueError(f"'right_inverse' must return a sequence of tensors of length "
                                     f"{self.ntensors}. Got {type(value).__name__}"
                                     + (f" of length {len(value)}" if isinstance(value, Sequence) else ""))
                for i, tensor in enumerate(value):
                    original_i = getattr(self, f"original{i}")
                    if not isinstance(tensor, Tensor):
                        raise ValueError(f"`right_inverse` must return a sequence of tensors. "
                                         f"Got element {i} of type {type(tensor).__name__}")
                    if original_i.dtype != tensor.dtype:
                        raise ValueError(f"Tensor {i} returned by `right_inverse` has dtype {tensor.dtype} "
                                         f"while `original{i}` has dtype {original_i.dtype}")
                    _set_data(original_i, tensor)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _inject_new_class(module) -> None:
    """Swap the module's class for a fresh subclass that can hold this instance's properties."""
    cls = module.__class__

    def default_deepcopy(self, memo):
        obj = memo.get(id(self))
        if obj is not None:
            return obj
        replica = self.__new__(self.__class__)
        memo[id(self)] = replica
        replica.__dict__ = copy.deepcopy(self.__dict__, memo)
        return replica

    def getstate(self):
        raise RuntimeError("Serialization of parametrized modules is only supported through state_dict(). "
                           "See: https://pytorch.org/tutorials/beginner/saving_loading_models.html"
                           "#saving-loading-a-general-checkpoint-for-inference-and-or-resuming-training")

    dct = {"__getstate__": getstate}
    if not hasattr(cls, "__deepcopy__"):  # pickling is refused, so deepcopy needs its own path
        dct["__deepcopy__"] = default_deepcopy
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), dct)


def _inject_property(module, tensor_name: str) -> None:
    def get_parametrized(self):
        parametrization = self.parametrizations[tensor_name]
        if not _cache_enabled:
            return parametrization()
        key = (id(self), tensor_name)
        tensor = _cache.get(key)
        if tensor is None:
            tensor = _cache[key] = parametrization()
        return tensor

    def set_original(self, value) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


def is_parametrized(module, tensor_name: str | None = None) -> bool:
    """Whether `module` has any parametrization (or one on `tensor_name`)."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def type_before_parametrizations(module) -> type:
    """The module's class as it was before parametrizations were registered."""
    return module.__class__.__bases__[0] if is_parametrized(module) else type(module)


def register_parametrization(module, tensor_name: str, parametrization, *, unsafe: bool = False):
    """Make ``module.<tensor_name>`` the result of ``parametrization`` applied to the stored tensor
    (or to the output of the parametrizations already registered on it); returns the module.

    With ``unsafe=False`` the parametrization must keep the tensor's shape and dtype (checked now).
    """
    if not isinstance(module, Module):
        raise TypeError(f"register_parametrization(): expected an nn.Module, got {type(module).__name__}")
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization(): the parametrization must be an nn.Module, got "
                        f"{type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            tail = ", unless the `unsafe` flag is enabled"
            _check_result("Registering a parametrization", x, y.dtype, y.shape, tail)
            if hasattr(parametrization, "right_inverse"):
                try:
                    z = parametrization.right_inverse(x)
                except NotImplementedError:
                    pass
                else:
                    _check_result("parametrization.right_inverse", z, y.dtype, y.shape, tail)
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe |= unsafe  # once unsafe, always unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(f"register_parametrization(): '{tensor_name}' of {type(module).__name__} is None; "
                             f"only a tensor can be parametrized")
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = plist
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element "
                         f"with name '{tensor_name}'")
    return module


def remove_parametrizations(module, tensor_name: str, leave_parametrized: bool = True):
    """Remove every parametrization of ``module.<tensor_name>``; the tensor becomes a plain
    parameter/buffer again, holding the parametrized value (``leave_parametrized=True``) or the
    stored ``original``. Returns the module."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with grad_mode.no_grad():
                t = getattr(module, tensor_name)
                _set_data(original, t)  # keeps the object, so optimizers still see it
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
                             "parametrized in terms of a sequence of tensors.")
        with grad_mode.no_grad():
            t = getattr(module, tensor_name)
        first = plist.original0
        original = Parameter(t.detach(), first.requires_grad) if isinstance(first, Parameter) \
            else t.detach().requires_grad_(first.requires_grad)
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):  # the last one: back to the original class
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


__all__ = ["cached", "is_parametrized", "register_parametrization", "remove_parametrizations",
           "type_before_parametrizations", "ParametrizationList"]
