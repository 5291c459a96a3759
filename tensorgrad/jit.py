"""torch.jit's decorators for code that marks functions or modules for TorchScript: tensorgrad runs
eagerly, so script/trace/ignore/unused/export give back what they are given and is_scripting() is
False. Saving a scripted program (jit.save/load) has no equivalent and says so."""
from __future__ import annotations


def script(obj=None, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """@torch.jit.script: the function or module itself (no compilation)."""
    return obj


def trace(func, example_inputs=None, *args, **kwargs):
    """torch.jit.trace: the function or module itself; example_inputs are not run."""
    return func


def ignore(drop=False, **kwargs):
    if callable(drop):  # used bare: @torch.jit.ignore
        return drop
    return lambda fn: fn


def unused(fn):
    return fn


def export(fn):
    return fn


def is_scripting() -> bool:
    return False


def is_tracing() -> bool:
    return False


def annotate(the_type, the_value):
    return the_value


def save(m, f, _extra_files=None):
    raise RuntimeError("jit.save: tensorgrad has no TorchScript programs to save; save the model's state_dict "
                       "with tensorgrad.save(model.state_dict(), f)")


def load(f, map_location=None, _extra_files=None):
    raise RuntimeError("jit.load: tensorgrad cannot load TorchScript programs; rebuild the model in Python and "
                       "load its state_dict with tensorgrad.load")


__all__ = ["script", "trace", "ignore", "unused", "export", "is_scripting", "is_tracing", "annotate", "save", "load"]
