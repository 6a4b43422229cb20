r"""Which ONNX form each circulant layer is exported in, from a measured crossover.

The numbers below are copied from :data:`SOURCE`, written by ``python -m
benchmarks.onnx_crossover`` (AMD EPYC, 2 cores, ONNX Runtime 1.32, one thread; 1-minute load
average 2.2 at the start and 1.2 at the end: a shared machine, so the forms were timed side
by side in interleaved rounds and only their ratios are read here). A test ties every entry
to that file (``tests/test_deploy_lowering.py``).

**Layers** (:data:`CROSSOVER`): ms per call in ONNX Runtime fp32 of the two lowerings of
:class:`circlearn.deploy.lowering.MatMulCirculant` — ``"matmul"`` (three products, stored
mixing blocks) and ``"matmul-fft"`` (the four-step FFT as products, ``O(n)`` stored floats) —
of the ``DFT`` export (``"dft"``) and of the dense ``Gemm`` it replaces (``"dense"``, for
reference), at the rows of a batch of 1 and of 32 videos (a per-frame layer sees
:data:`FRAMES_PER_VIDEO` rows per video, a per-video layer one). ``None``: the form would
store at least as many floats as the dense weight (not measured, never chosen).

The rule (:func:`choose_form`), per layer ``in → out``: among :func:`allowed_forms` (``"dft"``
always; a ``MatMul`` form only for an even ``in`` and where it stores fewer floats than the
dense weight: a compact model's file must not grow past the dense one), the :func:`winner`
(least geometric mean of the two batch sizes' times) of the measured entry of the same place
(per frame or per video) whose ``in`` is nearest in ``log2``. Measured, ``DFT`` lost to the
better ``MatMul`` form at every size and batch, by 1.8 to 12 times; three products win the
per-frame layers, the FFT form the largest FCs. Where the time still goes: the FCs to 64
outputs (medium and quick scales) stay slower than the dense ``Gemm`` at both batch sizes
(1.6 to 13 times), and at batch 32 so do NetVLAD's and NetFV's (2.2 and 3.1 times: a ``Gemm``
on 32 rows reads its weight once).

**DBoF layout** (:data:`LAYOUT_MS`): whole models at paper size, batch 1, 300 frames —
``dbof-video`` (dense projection) and ``dbof-video-embedding-circulant`` (``DFT`` or
three-``MatMul`` projection) — pooled batch-major and feature-major
(:class:`circlearn.deploy.lowering.FeatureMajorDBoF`), per precision; :func:`choose_layout`
returns the faster one (:data:`LAYOUT`). The ``DFT`` projection was measured batch-major only.
"""

from __future__ import annotations

import math

from circlearn.deploy import fourstep

__all__ = ["SOURCE", "FRAMES_PER_VIDEO", "FORMS", "CROSSOVER", "LAYOUT_MS", "LAYOUT",
           "allowed_forms", "winner", "choose_form", "choose_layout"]

#: The stored measurement the tables below are copied from (relative to the checkout).
SOURCE = "benchmarks/results/onnx_crossover-amd-epyc-2cores.json"
#: Rows per video of a per-frame layer in the measurement (and in the deploy table).
FRAMES_PER_VIDEO = 300
#: The compact forms, in the order the rule prefers them on equal time.
FORMS = ("matmul", "matmul-fft", "dft")

#: ``(in, out, place)`` → form → ms at (batch 1, batch 32), ONNX Runtime fp32, one thread.
CROSSOVER: dict[tuple[int, int, str], dict[str, tuple[float, float] | None]] = {
    # dbof-video-embedding-circulant (embedding)
    (1024, 8192, "frame"): {"matmul": (13.513, 464.109), "matmul-fft": (29.77, 993.054),
                            "dft": (100.861, 3281.948), "dense": (55.183, 1863.457)},
    # smaller per-frame size
    (128, 1024, "frame"): {"matmul": (0.782, 25.473), "matmul-fft": (1.648, 75.234),
                           "dft": (9.248, 305.722), "dense": (0.832, 26.297)},
    # dbof(-video)-fc-circulant video FC, netfv audio FC
    (8192, 512, "video"): {"matmul": (0.38, 2.225), "matmul-fft": (0.225, 3.376),
                           "dft": (0.679, 15.855), "dense": (0.633, 3.242)},
    # dbof-fc-circulant, netvlad-fc-circulant audio FC
    (4096, 512, "video"): {"matmul": (0.163, 0.964), "matmul-fft": (0.118, 1.475),
                           "dft": (0.278, 5.939), "dense": (0.233, 1.557)},
    # netvlad-fc-circulant video FC
    (65536, 512, "video"): {"matmul": None, "matmul-fft": (2.362, 56.346),
                            "dft": (9.418, 272.722), "dense": (8.121, 25.924)},
    # netfv-fc-circulant video FC
    (131072, 512, "video"): {"matmul": None, "matmul-fft": (7.995, 156.093),
                             "dft": (22.796, 730.431), "dense": (12.992, 50.066)},
    # dbof-video-moe-circulant gates
    (512, 19310, "video"): {"matmul": (0.3, 1.944), "matmul-fft": (0.275, 3.36),
                            "dft": (0.568, 12.393), "dense": (2.505, 7.413)},
    # dbof-video-moe-circulant experts
    (512, 15448, "video"): {"matmul": (0.223, 1.68), "matmul-fft": (0.221, 2.952),
                            "dft": (0.419, 10.175), "dense": (1.68, 6.045)},
    # medium-scale NetVLAD/NetFV FC
    (32768, 64, "video"): {"matmul": None, "matmul-fft": (0.98, 22.728),
                           "dft": (3.938, 112.829), "dense": (0.538, 1.808)},
    # quick-scale NetVLAD FC
    (2048, 64, "video"): {"matmul": None, "matmul-fft": (0.061, 0.679),
                          "dft": (0.139, 2.716), "dense": (0.021, 0.131)},
    # medium-scale DBoF FC
    (1024, 64, "video"): {"matmul": None, "matmul-fft": (0.049, 0.323),
                          "dft": (0.088, 1.275), "dense": (0.016, 0.073)},
    # quick-scale DBoF FC
    (256, 64, "video"): {"matmul": (0.017, 0.037), "matmul-fft": (0.035, 0.083),
                         "dft": (0.046, 0.307), "dense": (0.011, 0.022)},
}

#: ``(projection form, precision)`` → ms of the whole model at batch 1 for each layout.
LAYOUT_MS: dict[tuple[str, str], dict[str, float]] = {
    ("dense", "fp32"): {"batch-major": 66.25, "feature-major": 77.7},
    ("dense", "fp16"): {"batch-major": 77.29, "feature-major": 87.25},
    ("dense", "int8"): {"batch-major": 24.12, "feature-major": 19.49},
    ("dft", "fp32"): {"batch-major": 113.74},
    ("dft", "fp16"): {"batch-major": 123.75},
    ("dft", "int8"): {"batch-major": 109.15},
    ("matmul", "fp32"): {"batch-major": 28.33, "feature-major": 19.74},
    ("matmul", "fp16"): {"batch-major": 39.24, "feature-major": 30.94},
    ("matmul", "int8"): {"batch-major": 24.58, "feature-major": 16.02},
}
#: ``(projection form, precision)`` → the faster layout of :data:`LAYOUT_MS`.
LAYOUT = {key: min(ms, key=ms.get) for key, ms in LAYOUT_MS.items()}


def allowed_forms(in_features: int, out_features: int) -> tuple[str, ...]:
    """The forms a layer ``in → out`` may take: ``"dft"`` always; ``"matmul"`` and
    ``"matmul-fft"`` for an even ``in`` where they store fewer floats than the dense weight.

    >>> allowed_forms(1024, 8192), allowed_forms(65536, 512), allowed_forms(15, 8)
    (('matmul', 'matmul-fft', 'dft'), ('matmul-fft', 'dft'), ('dft',))
    """
    if fourstep.split(in_features) is None:
        return ("dft",)
    dense = in_features * out_features
    floats = {"matmul": fourstep.stored_floats(in_features, out_features,
                                               fourstep.split(in_features)[0]),
              "matmul-fft": fourstep.stored_floats_fft(
                  in_features, out_features, fourstep.split_fft(in_features, out_features)[0])}
    return (*(form for form, f in floats.items() if f < dense), "dft")


def winner(entry: dict, forms: tuple[str, ...] = FORMS) -> str:
    """The form among ``forms`` with the least geometric mean of a :data:`CROSSOVER` entry's
    times at batch 1 and 32 (forms the entry did not measure are skipped).

    >>> winner(CROSSOVER[(1024, 8192, "frame")]), winner(CROSSOVER[(1024, 8192, "frame")], ("dft",))
    ('matmul', 'dft')
    """
    measured = [f for f in forms if entry.get(f) is not None]
    return min(measured, key=lambda f: math.prod(entry[f]))


def choose_form(in_features: int, out_features: int, rows_per_video: int) -> str:
    """The ONNX form of a circulant layer ``in → out`` seeing ``rows_per_video`` rows per
    video (the rule of the module docstring): ``"matmul"``, ``"matmul-fft"`` or ``"dft"``.

    >>> choose_form(1024, 8192, FRAMES_PER_VIDEO), choose_form(15, 8, 1)
    ('matmul', 'dft')
    """
    forms = allowed_forms(in_features, out_features)
    if forms == ("dft",):
        return "dft"
    place = "frame" if rows_per_video > 1 else "video"
    measured = [(n, entry) for (n, _, p), entry in CROSSOVER.items()
                if p == place and all(entry.get(f) is not None for f in forms)]
    if not measured:
        return "dft"
    _, entry = min(measured, key=lambda m: (abs(math.log2(m[0] / in_features)), -m[0]))
    return winner(entry, forms)


def choose_layout(form: str, precision: str = "fp32") -> str:
    """``"batch-major"`` or ``"feature-major"``: the faster DBoF layout of :data:`LAYOUT` for
    a projection exported as ``form`` (``"dense"``, ``"dft"``, ``"matmul"``; ``"matmul-fft"``,
    not measured as a DBoF projection, takes ``"matmul"``'s: both compute feature-major) in
    ``precision``.

    >>> choose_layout("matmul"), choose_layout("dense"), choose_layout("dense", "int8")
    ('feature-major', 'batch-major', 'feature-major')
    """
    form = "matmul" if form == "matmul-fft" else form
    if (form, precision) not in LAYOUT:
        raise ValueError(f"no measured layout for a {form!r} projection in {precision!r}")
    return LAYOUT[(form, precision)]
