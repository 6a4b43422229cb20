"""Shared fixtures: seeded RNGs, devices (cpu, plus cuda when present), named tolerances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

DEVICES = ["cpu", pytest.param("cuda", marks=[
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
])]

# Named tolerances per dtype. FFT round-off grows like log(n); float32 tolerances are scaled by
# sqrt(n) in `tol()` to stay meaningful from n = 1 to n = 8192.
TOL = {
    torch.float64: {"rtol": 1e-10, "atol": 1e-12},
    torch.float32: {"rtol": 1e-4, "atol": 2e-6},
    torch.bfloat16: {"rtol": 2e-2, "atol": 2e-2},
    torch.float16: {"rtol": 2e-3, "atol": 2e-3},
}


def tol(dtype: torch.dtype, n: int = 1) -> dict:
    """Tolerance for ``dtype``, scaled with the transform size for float32."""
    t = dict(TOL[dtype])
    if dtype == torch.float32:
        t["atol"] *= max(1.0, n ** 0.5)
    return t


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param
