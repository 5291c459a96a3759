"""Thread-local switch for recording ops: no_grad, enable_grad, set_grad_enabled.

Each is a context manager and a decorator, as in PyTorch: ``@no_grad()``, ``@no_grad`` (no
parentheses) and ``@set_grad_enabled(False)``. A decorated generator function runs each of its
steps in the mode, and the caller's mode is back in force between steps.
"""
from __future__ import annotations

import functools
import inspect
import threading


class _State(threading.local):
    enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled


class _Mode:
    """Plain save/set/restore of the mode (what the decorators run around each call or step)."""

    __slots__ = ("mode", "prev")

    def __init__(self, mode: bool):
        self.mode = mode

    def __enter__(self):
        self.prev = _state.enabled
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False


def _decorate(mode: bool, fn):
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with _Mode(mode):
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with _Mode(mode):
                            gen.close()
                        raise
                    except BaseException as e:
                        with _Mode(mode):
                            response = gen.throw(e)
                    else:
                        with _Mode(mode):
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        prev = _state.enabled
        _state.enabled = mode
        try:
            return fn(*args, **kwargs)
        finally:
            _state.enabled = prev
    return wrapper


class _GradMode:
    """Base for the grad-mode context managers; each also works as a decorator."""

    _mode = True

    def __new__(cls, orig_func=None):
        if orig_func is not None and callable(orig_func):  # used bare: @no_grad
            return _decorate(cls._mode, orig_func)
        return super().__new__(cls)

    def __init__(self, orig_func=None):
        pass

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self._mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, fn):
        return _decorate(self._mode, fn)


class no_grad(_GradMode):
    """Ops inside do not record on the tape; results have ``requires_grad=False``."""

    _mode = False


class inference_mode(_GradMode):
    """PyTorch's inference_mode: ops inside record nothing, as under no_grad (tensorgrad has no
    separate inference tensors). ``inference_mode(False)`` leaves grad mode as it is. Also a
    decorator, bare or called."""

    _mode = False

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # used bare: @inference_mode
            return _decorate(False, mode)
        return object.__new__(cls)

    def __init__(self, mode=True):
        self._on = bool(mode)

    def __enter__(self):
        self._prev = _state.enabled
        if self._on:
            _state.enabled = False
        return self

    def __call__(self, fn):
        return _decorate(False, fn) if self._on else fn


class enable_grad(_GradMode):
    """Re-enables recording inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` is ``no_grad()``; also a plain call that sets the mode."""

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._prev = _state.enabled
        _state.enabled = self._mode  # takes effect when called, as in PyTorch

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, fn):
        _state.enabled = self._prev  # used as a decorator: undo the call-time switch
        return _decorate(self._mode, fn)
