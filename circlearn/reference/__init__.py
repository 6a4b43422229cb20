r"""NumPy/SciPy float64 references for the structured maps: the math, readable, doctested.

Every torch layer in :mod:`circlearn.nn` is tested against these functions. Modules, lower
ones first (``rectangular`` builds on ``square``; the others stand alone):

- :mod:`~circlearn.reference.square`: square circulants (first-column convention
  ``C[i, j] = c[(i - j) mod n]``), FFT products, eigenvalues, solve/inverse, the paper's
  first-row twin, diagonal-circulant products, the nearest circulant;
- :mod:`~circlearn.reference.rectangular`: the paper's rectangular rule (``ceil(out / in)``
  square blocks, stacked and truncated), parameter counts, the nearest block circulant, and
  the authors' signs after the circulant (``diagonal="sign-output"``);
- :mod:`~circlearn.reference.toeplitz`: Toeplitz maps (``in + out - 1`` values);
- :mod:`~circlearn.reference.low_rank`: ``U V^T`` maps and the truncated SVD.

Weights follow ``torch.nn.Linear``: shape ``(out, in)``, ``y = x @ W.T`` on row vectors. Every
public name is importable from here, e.g. ``from circlearn.reference import circulant``.
"""

from circlearn.reference.low_rank import (
    low_rank_matrix,
    low_rank_matvec,
    low_rank_parameter_count,
    nearest_low_rank,
)
from circlearn.reference.rectangular import (
    nearest_block_circulant,
    num_blocks,
    parameter_count,
    rectangular_matrix,
    rectangular_matvec,
    sign_output_matrix,
    sign_output_matvec,
)
from circlearn.reference.square import (
    circulant,
    circulant_inverse,
    circulant_matvec,
    circulant_product,
    diag_circulant,
    diag_circulant_chain,
    diag_circulant_matvec,
    eigenvalues,
    nearest_circulant,
    paper_circulant_matvec,
    solve,
    transpose_vector,
    wrapped_diagonal_means,
)
from circlearn.reference.toeplitz import (
    nearest_toeplitz,
    toeplitz,
    toeplitz_matvec,
    toeplitz_parameter_count,
)

__all__ = [
    # circulant
    "circulant",
    "circulant_matvec",
    "eigenvalues",
    "circulant_product",
    "transpose_vector",
    "paper_circulant_matvec",
    "circulant_inverse",
    "solve",
    "diag_circulant",
    "diag_circulant_chain",
    "diag_circulant_matvec",
    "nearest_circulant",
    "wrapped_diagonal_means",
    # rectangular
    "num_blocks",
    "rectangular_matrix",
    "rectangular_matvec",
    "parameter_count",
    "nearest_block_circulant",
    "sign_output_matrix",
    "sign_output_matvec",
    # toeplitz
    "toeplitz",
    "toeplitz_matvec",
    "nearest_toeplitz",
    "toeplitz_parameter_count",
    # low_rank
    "low_rank_matrix",
    "low_rank_matvec",
    "nearest_low_rank",
    "low_rank_parameter_count",
]
