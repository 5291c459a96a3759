"""tensorgrad.linalg: torch.linalg on NumPy or CuPy, batched over leading dims and differentiable.

basic.py: norms, inv, det/slogdet, solve, cholesky, solve_triangular and their _ex forms (errors
as an int32 info per matrix); decomp.py: qr, eigh, svd and what is built on them (pinv,
matrix_rank, lstsq); lu.py: LU (lu_factor, lu_factor_ex, lu, lu_solve, lu_unpack); matfn.py: matrix_power,
matrix_exp, cross, vecdot, multi_dot, householder_product, cond, vander, tensorinv, tensorsolve,
diagonal, matmul. legacy.py holds torch's top-level names (torch.det, torch.cholesky_solve, ...),
exported by tensorgrad itself.
"""
from .basic import *  # noqa: F401,F403
from .basic import __all__ as _basic
from .decomp import *  # noqa: F401,F403
from .decomp import __all__ as _decomp
from .lu import *  # noqa: F401,F403
from .lu import __all__ as _lu
from .matfn import *  # noqa: F401,F403
from .matfn import __all__ as _matfn

__all__ = _basic + _decomp + _lu + _matfn
