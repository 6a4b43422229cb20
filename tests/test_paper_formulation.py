"""The paper's complex-FFT, first-row formulation ≡ circlearn's first-column circulant (twins)."""

import numpy as np
import pytest
import torch

from circlearn import reference as ref
from circlearn.nn import CirculantLinear, PaperCirculant
from circlearn.nn import functional as F
from circlearn.nn.paper import paper_circulant_matmul


@pytest.mark.parametrize("n", [1, 2, 3, 8, 13])
def test_reference_paper_form_equals_circulant_matvec(n, rng):
    w = rng.standard_normal(n)
    x = rng.standard_normal((3, n))
    expected = ref.circulant(ref.transpose_vector(w)) @ x.T  # first row w
    np.testing.assert_allclose(ref.paper_circulant_matvec(w, x), expected.T, rtol=1e-12,
                               atol=1e-12)
    row = np.array([w[(j - 0) % n] for j in range(n)])  # y_0 = Σ_j w[j] x_j
    np.testing.assert_allclose(ref.paper_circulant_matvec(w, x)[:, 0], x @ row, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("n", [1, 4, 13])
def test_torch_paper_form_equals_reference_in_float64(n, rng):
    w = rng.standard_normal((2, n))
    x = rng.standard_normal((5, 2, n))
    got = paper_circulant_matmul(torch.tensor(x), torch.tensor(w))
    assert got.dtype == torch.float64
    for b in range(2):
        np.testing.assert_allclose(got[:, b].numpy(), ref.paper_circulant_matvec(w[b], x[:, b]),
                                   rtol=1e-12, atol=1e-12)
    c = torch.roll(torch.tensor(w).flip(-1), 1, dims=-1)  # first columns
    torch.testing.assert_close(got, F.circulant_matmul(torch.tensor(x), c))


@pytest.mark.parametrize("shape", [(8, 8), (6, 16), (16, 5)], ids=str)
@pytest.mark.parametrize("diagonal", ["learned", "sign", None])
def test_paper_layer_equals_circulant_linear_in_float64(shape, diagonal):
    torch.manual_seed(0)
    layer = CirculantLinear(*shape, diagonal=diagonal, dtype=torch.float64)
    x = torch.randn(4, shape[0], dtype=torch.float64)
    torch.testing.assert_close(PaperCirculant(layer)(x), layer(x), rtol=1e-12, atol=1e-12)


def test_paper_layer_refuses_factor_chains():
    with pytest.raises(ValueError, match="n_factors=2"):
        PaperCirculant(CirculantLinear(4, 4, n_factors=2))
