"""tensorgrad.linalg: torch.linalg on NumPy or CuPy, batched over leading dims and differentiable.

basic.py: norms, inv, det/slogdet, solve, cholesky, solve_triangular; decomp.py: qr, eigh, svd and
what is built on them (pinv, matrix_rank, lstsq); matfn.py: matrix_power, matrix_exp, cross,
vecdot, multi_dot, householder_product.
"""
from .basic import *  # noqa: F401,F403
from .basic import __all__ as _basic
from .decomp import *  # noqa: F401,F403
from .decomp import __all__ as _decomp
from .matfn import *  # noqa: F401,F403
from .matfn import __all__ as _matfn

__all__ = _basic + _decomp + _matfn
