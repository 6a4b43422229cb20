r"""Which ONNX form each circulant layer is exported in, from a measured crossover.

The numbers below are copied from :data:`SOURCE`, written by ``python -m
benchmarks.onnx_crossover`` (AMD EPYC, 2 cores, ONNX Runtime 1.32, one thread, 1-minute
load average 3.1 to 4.1 while it ran: a shared machine, so the forms were timed side by
side in interleaved rounds and only their ratios are read here). A test ties every entry
to that file (``tests/test_deploy_lowering.py``).

**Layers** (:data:`CROSSOVER`): ms per call in ONNX Runtime fp32 of the three-``MatMul``
lowering (``"matmul"``, :class:`circlearn.deploy.lowering.MatMulCirculant`), the ``DFT`` export
(``"dft"``) and the dense ``Gemm`` it replaces (``"dense"``, for reference), at the rows of a
batch of 1 and of 32 videos (a per-frame layer sees :data:`FRAMES_PER_VIDEO` rows per video,
a per-video layer one). ``"matmul": None`` where the lowering would store at least as many
floats as the dense weight (not measured, never chosen).

The rule (:func:`choose_form`), per layer ``in → out``:

1. ``"dft"`` when ``in`` is odd (no real four-step split) or when the three-``MatMul`` form
   would store at least as many floats as the dense weight
   (:func:`circlearn.deploy.fourstep.stored_floats` ``>= in · out``): a compact model's file
   must not grow past the dense one;
2. otherwise the winner (:func:`winner`: least geometric mean of the two batch sizes' times)
   of the measured entry of the same place (per frame or per video) whose ``in`` is nearest
   in ``log2``, among those where the lowering was measured.

Measured, the lowering won wherever it was allowed, at both batch sizes against ``DFT``
(``DFT`` was 1.4 to 18 times slower; at ``8192 → 512`` on 32 rows it is even 8 times slower
than the dense ``Gemm``).

**DBoF layout** (:data:`LAYOUT`): whole models at paper size, batch 1, 300 frames —
``dbof-video`` (dense projection) and ``dbof-video-embedding-circulant`` (``DFT`` or
three-``MatMul`` projection) — pooled batch-major and feature-major
(:class:`circlearn.deploy.lowering.FeatureMajorDBoF`), per precision; :func:`choose_layout`
returns the faster one. The ``DFT`` projection was measured batch-major only.
"""

from __future__ import annotations

import math

from circlearn.deploy import fourstep

__all__ = ["SOURCE", "FRAMES_PER_VIDEO", "CROSSOVER", "LAYOUT_MS", "LAYOUT", "winner",
           "choose_form", "choose_layout"]

#: The stored measurement the tables below are copied from (relative to the checkout).
SOURCE = "benchmarks/results/onnx_crossover-amd-epyc-2cores.json"
#: Rows per video of a per-frame layer in the measurement (and in the deploy table).
FRAMES_PER_VIDEO = 300

#: ``(in, out, place)`` → form → ms at (batch 1, batch 32), ONNX Runtime fp32, one thread.
CROSSOVER: dict[tuple[int, int, str], dict[str, tuple[float, float] | None]] = {
    # dbof-video-embedding-circulant's embedding (300 and 9,600 rows)
    (1024, 8192, "frame"): {"matmul": (12.814, 506.794), "dft": (97.967, 3365.546),
                            "dense": (50.655, 2130.262)},
    (128, 1024, "frame"): {"matmul": (0.673, 27.681), "dft": (9.277, 346.221),
                           "dense": (0.846, 28.794)},
    # the DBoF FCs (video; netfv's audio), dbof's and netvlad's audio FC
    (8192, 512, "video"): {"matmul": (0.433, 6.4), "dft": (0.714, 25.682),
                           "dense": (0.886, 3.248)},
    (4096, 512, "video"): {"matmul": (0.24, 0.984), "dft": (0.329, 18.115),
                           "dense": (0.46, 1.749)},
    # netvlad's and netfv's video FC: the lowering would store more than the dense weight
    (65536, 512, "video"): {"matmul": None, "dft": (14.665, 451.583),
                            "dense": (11.637, 37.904)},
    (131072, 512, "video"): {"matmul": None, "dft": (23.302, 1016.745),
                             "dense": (12.152, 69.425)},
    # dbof-video-moe-circulant's gates and experts (plain circulants)
    (512, 19310, "video"): {"matmul": (0.275, 1.835), "dft": (0.587, 16.902),
                            "dense": (2.204, 11.185)},
    (512, 15448, "video"): {"matmul": (0.24, 1.607), "dft": (0.472, 14.194),
                            "dense": (1.743, 9.909)},
    # smaller per-video sizes (the medium and quick FCs)
    (1024, 64, "video"): {"matmul": None, "dft": (0.084, 1.279), "dense": (0.013, 0.061)},
    (256, 64, "video"): {"matmul": (0.023, 0.045), "dft": (0.063, 0.53),
                         "dense": (0.013, 0.029)},
}

#: ``(projection form, precision)`` → ms of the whole model at batch 1 for each layout.
LAYOUT_MS: dict[tuple[str, str], dict[str, float]] = {
    ("dense", "fp32"): {"batch-major": 98.35, "feature-major": 115.3},
    ("dense", "fp16"): {"batch-major": 110.95, "feature-major": 129.95},
    ("dense", "int8"): {"batch-major": 36.47, "feature-major": 31.13},
    ("dft", "fp32"): {"batch-major": 168.06},
    ("dft", "fp16"): {"batch-major": 184.18},
    ("dft", "int8"): {"batch-major": 165.04},
    ("matmul", "fp32"): {"batch-major": 43.49, "feature-major": 27.78},
    ("matmul", "fp16"): {"batch-major": 58.73, "feature-major": 46.28},
    ("matmul", "int8"): {"batch-major": 38.19, "feature-major": 23.38},
}
#: ``(projection form, precision)`` → the faster layout of :data:`LAYOUT_MS`.
LAYOUT = {key: min(ms, key=ms.get) for key, ms in LAYOUT_MS.items()}


def winner(entry: dict) -> str:
    """``"matmul"`` or ``"dft"``: the form of a :data:`CROSSOVER` entry with the least
    geometric mean of its times at batch 1 and 32 (``"dft"`` where the lowering was not
    measured).

    >>> winner(CROSSOVER[(1024, 8192, "frame")]), winner(CROSSOVER[(65536, 512, "video")])
    ('matmul', 'dft')
    """
    if entry["matmul"] is None:
        return "dft"
    return "matmul" if math.prod(entry["matmul"]) < math.prod(entry["dft"]) else "dft"


def choose_form(in_features: int, out_features: int, rows_per_video: int) -> str:
    """The ONNX form of a circulant layer ``in → out`` seeing ``rows_per_video`` rows per
    video (the rule of the module docstring): ``"matmul"`` or ``"dft"``.

    >>> choose_form(1024, 8192, FRAMES_PER_VIDEO), choose_form(65536, 512, 1)
    ('matmul', 'dft')
    """
    split = fourstep.split(in_features)
    if split is None or (fourstep.stored_floats(in_features, out_features, split[0])
                         >= in_features * out_features):
        return "dft"
    place = "frame" if rows_per_video > 1 else "video"
    measured = [(n, entry) for (n, _, p), entry in CROSSOVER.items()
                if p == place and entry["matmul"] is not None]
    _, entry = min(measured, key=lambda m: (abs(math.log2(m[0] / in_features)), -m[0]))
    return winner(entry)


def choose_layout(form: str, precision: str = "fp32") -> str:
    """``"batch-major"`` or ``"feature-major"``: the faster DBoF layout of :data:`LAYOUT` for
    a projection exported as ``form`` (``"dense"``, ``"dft"`` or ``"matmul"``) in
    ``precision``.

    >>> choose_layout("matmul"), choose_layout("dense"), choose_layout("dense", "int8")
    ('feature-major', 'batch-major', 'feature-major')
    """
    if (form, precision) not in LAYOUT:
        raise ValueError(f"no measured layout for a {form!r} projection in {precision!r}")
    return LAYOUT[(form, precision)]
