"""circlearn.reference against scipy's dense circulant, and its algebraic properties."""

import numpy as np
import pytest
import scipy.linalg
from numpy.testing import assert_allclose

from circlearn import reference as ref

SIZES = [1, 2, 3, 13, 64, 1000, 1024]
F64 = {"rtol": 1e-10, "atol": 1e-10}


@pytest.mark.parametrize("n", SIZES)
def test_circulant_matches_scipy_and_convention(n, rng):
    c = rng.standard_normal(n)
    C = ref.circulant(c)
    assert_allclose(C, scipy.linalg.circulant(c))
    i, j = 2 % n, 1 % n
    assert C[i, j] == c[(i - j) % n]
    assert_allclose(C[:, 0], c)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("batch", [(), (5,), (2, 3)])
def test_matvec_fft_equals_dense(n, batch, rng):
    c = rng.standard_normal(n)
    x = rng.standard_normal((*batch, n))
    assert_allclose(ref.circulant_matvec(c, x), x @ scipy.linalg.circulant(c).T, **F64)


@pytest.mark.parametrize("n", [1, 2, 3, 13, 64])
def test_eigenvalues_are_fft_and_diagonalize(n, rng):
    c = rng.standard_normal(n)
    lam = ref.eigenvalues(c)
    Fm = np.fft.fft(np.eye(n))  # DFT matrix
    # C = F^-1 diag(F c) F
    assert_allclose(np.linalg.inv(Fm) @ np.diag(lam) @ Fm, ref.circulant(c), atol=1e-10)
    k = n // 2
    v = np.exp(2j * np.pi * np.arange(n) * k / n)
    assert_allclose(ref.circulant(c) @ v, lam[k] * v, atol=1e-10)


@pytest.mark.parametrize("n", [2, 3, 13, 64])
def test_circulants_commute_and_product_is_circulant(n, rng):
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    A, B = ref.circulant(a), ref.circulant(b)
    assert_allclose(A @ B, B @ A, atol=1e-10)
    assert_allclose(ref.circulant(ref.circulant_product(a, b)), A @ B, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3, 13, 64])
def test_transpose_is_circulant(n, rng):
    c = rng.standard_normal(n)
    assert_allclose(ref.circulant(ref.transpose_vector(c)), ref.circulant(c).T)


@pytest.mark.parametrize("n", [1, 2, 3, 13, 64])
def test_inverse_is_circulant_and_solve(n, rng):
    c = rng.standard_normal(n) + 3.0 * (np.arange(n) == 0)  # well conditioned
    C = ref.circulant(c)
    assert_allclose(ref.circulant(ref.circulant_inverse(c)), np.linalg.inv(C), atol=1e-10)
    b = rng.standard_normal((4, n))
    assert_allclose(ref.solve(c, b), np.linalg.solve(C, b.T).T, atol=1e-10)


def test_singular_circulant_raises():
    with pytest.raises(ValueError, match="singular"):
        ref.circulant_inverse([1.0, 1.0])
    with pytest.raises(ValueError, match="singular"):
        ref.solve([1.0, 1.0], [1.0, 2.0])


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 3, 13, 64])
def test_diag_circulant_chain_matvec(n, k, rng):
    cs, ds = rng.standard_normal((k, n)), rng.standard_normal((k, n))
    x = rng.standard_normal((4, n))
    dense = np.eye(n)
    for i in range(k):
        dense = scipy.linalg.circulant(cs[i]) @ np.diag(ds[i]) @ dense
    assert_allclose(ref.diag_circulant_chain(cs, ds), dense, **F64)
    assert_allclose(ref.diag_circulant_matvec(cs, ds, x), x @ dense.T, **F64)


@pytest.mark.parametrize("n_in,n_out", [(7, 3), (3, 7), (4, 8), (5, 5), (1024, 8192), (1152, 8192)])
def test_rectangular_rule(n_in, n_out, rng):
    blocks = ref.num_blocks(n_in, n_out)
    cs, ds = rng.standard_normal((blocks, n_in)), rng.standard_normal((blocks, n_in))
    stacked = np.concatenate([scipy.linalg.circulant(cs[b]) * ds[b] for b in range(blocks)])
    W = ref.rectangular_matrix(cs, ds, n_out)
    assert W.shape == (n_out, n_in)
    assert_allclose(W, stacked[:n_out])
    x = rng.standard_normal((3, n_in))
    assert_allclose(ref.rectangular_matvec(cs, ds, x, n_out), x @ W.T, **F64)


def test_rectangular_8192_to_512_is_truncated_block(rng):
    n = 8192
    c, d = rng.standard_normal(n), rng.standard_normal(n)
    x = rng.standard_normal((2, n))
    full = ref.diag_circulant_matvec(c, d, x)
    assert_allclose(ref.rectangular_matvec(c[None], d[None], x, 512), full[:, :512])


@pytest.mark.parametrize("n_in,n_out,diag,k,expected", [
    (8192, 512, "learned", 1, 16384), (1024, 8192, "learned", 1, 16384),
    (128, 4096, "learned", 1, 8192), (65536, 512, "learned", 1, 131072),
    (1024, 19310, None, 1, 19456), (1024, 15448, None, 1, 16384 + 15448),
    (8192, 512, "sign", 1, 8192), (7, 3, "learned", 3, 42),
])
def test_parameter_counts(n_in, n_out, diag, k, expected):
    bias = expected == 16384 + 15448
    assert ref.parameter_count(n_in, n_out, diag, k, bias=bias) == expected


@pytest.mark.parametrize("n", [1, 2, 3, 13, 64])
def test_nearest_circulant_exact_and_orthogonal(n, rng):
    c = rng.standard_normal(n)
    assert_allclose(ref.nearest_circulant(ref.circulant(c)), c, atol=1e-12)
    W = rng.standard_normal((n, n))
    residual = W - ref.circulant(ref.nearest_circulant(W))
    for k in range(n):  # orthogonal to every basis circulant (a cyclic shift)
        basis = ref.circulant(np.eye(n)[k])
        assert abs(np.sum(residual * basis)) < 1e-10


@pytest.mark.parametrize("n_in,n_out", [(7, 3), (3, 7), (4, 8)])
def test_nearest_block_circulant_exact(n_in, n_out, rng):
    cs = rng.standard_normal((ref.num_blocks(n_in, n_out), n_in))
    W = ref.rectangular_matrix(cs, None, n_out)
    got = ref.nearest_block_circulant(W)
    assert_allclose(ref.rectangular_matrix(got, None, n_out), W, atol=1e-12)


@pytest.mark.parametrize("call,match", [
    (lambda: ref.circulant([]), "n = 0"),
    (lambda: ref.circulant(np.ones((2, 2))), "1-D"),
    (lambda: ref.circulant_matvec([1.0, 2.0], [1.0, 2.0, 3.0]), r"\(\.\.\., 2\)"),
    (lambda: ref.nearest_circulant(np.ones((2, 3))), r"square.*\(2, 3\)"),
    (lambda: ref.parameter_count(4, 4, "diag"), "diagonal"),
    (lambda: ref.num_blocks(0, 4), "in_features"),
    (lambda: ref.rectangular_matrix(np.ones((1, 2)), None, 5), "blocks"),
    (lambda: ref.diag_circulant([1.0, 2.0], [1.0]), "same shape"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
