"""torch.compile's place: tensorgrad runs eagerly, so compiling returns the model or function as it
is. Scripts that wrap their model in ``torch.compile`` run unchanged, with eager speed."""
from __future__ import annotations

_BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """torch.compile's signature; returns `model` itself (or, called without it, a decorator that
    does). Arguments are checked as PyTorch checks them, then have no effect."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode not in (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"):
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: default, reduce-overhead, max-autotune, "
                           f"max-autotune-no-cudagraphs")
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise ValueError(f"compile(): backend {backend!r} is not one of {', '.join(_BACKENDS)} (or a callable); "
                         f"tensorgrad runs every backend eagerly")
    if model is None:
        return lambda m: m
    if not callable(model):
        raise RuntimeError("compile(): model must be a callable (a Module or a function), got "
                           f"{type(model).__name__}")
    return model


def is_compiling() -> bool:
    return False


def is_dynamo_compiling() -> bool:
    return False


def disable(fn=None, recursive=True):
    """torch.compiler.disable: a no-op decorator here, since nothing is compiled."""
    return (lambda f: f) if fn is None else fn


def reset() -> None:
    """torch.compiler.reset: nothing is cached, so nothing to clear."""
