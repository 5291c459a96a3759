"""tensorgrad.backends.mps: Apple's Metal backend, which tensorgrad does not have (scripts that ask
``tg.backends.mps.is_available()`` take their CPU or CUDA branch)."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
