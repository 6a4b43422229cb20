"""The experiments as named recipes: the paper's figures, the scales, each run's configuration.

=================== ========================================================================
``fig-dc-cd``        Figure A: compact FC after DBoF with a learned diagonal (the paper's
                     "DC") vs a fixed random ±1 diagonal ("CD" of Cheng et al.)
``fig-embeddings``   Figure B: dense vs compact (circulant) FC after DBoF, NetVLAD and NetFV
``fig-layers``       Figure C: DBoF video only; dense vs compact FC vs compact DBoF embedding
                     vs compact MoE (the last also drops context gating and L2)
=================== ========================================================================

Beyond the paper (:data:`BEYOND_PAPER`, same runner, seeds and statistics): ``fig-structures``,
dense, thin, circulant, Toeplitz, low-rank FCs (:mod:`~circlearn.experiments.structures`);
``fig-scaling``, dense and circulant FCs on nested shares of the training shards
(:mod:`~circlearn.experiments.scaling`); ``fig-compress``, a trained dense FC projected and
fine-tuned against the compact model from scratch (:mod:`~circlearn.experiments.compression`).

**Scales** (:data:`SCALES`): one hyperparameter protocol per scale, the same for every variant
of a figure, stated in ``results.json`` as ``protocol`` (how each was chosen:
``data_samples/results/README.md``).

- ``quick``: the bundled **synthetic** data (``data_samples/yt8m``: rgb 128 + audio 16, 50
  classes, 1000 train / 300 validate / 200 test videos); DBoF 256/128, NetVLAD/NetFV 16/8
  clusters, FC 64, 2 bags of 15 frames; batch 32, Adam 1e-2 without decay, batch-norm
  momentum 0.2, 10 epochs (7 for ``fig-layers``, as the paper's figure); 3 seeds, one
  process (``make demo``).
- ``medium``: the real feature sizes on the **synthetic** ``cached_dataset("medium")``
  (generated once into the cache; generator seed 1, a fresh draw: the protocol was chosen on
  ``medium-calibration``, seed 0): DBoF 1024/512 (2048 in ``fig-layers``, so that its
  circulant embedding has two blocks), NetVLAD 32/16, NetFV 16/8 clusters, FC 64 (the DBoF
  FC 1024→64 keeps the paper's ratio 16), 1 bag of 30 frames, batch 64, Adam 3e-3 halved
  every 20,000 examples, batch-norm momentum 0.1, 300 frames, 12 epochs, under which every
  curve of the calibration draw flattened; 3 seeds, 2 worker processes of one thread each.
- ``paper``: the paper's presets and hyperparameters (``paper.md`` §3.6, §3.8), ``--data``
  pointing at the YouTube-8M 2018 frame-level folder; 3 seeds unless ``--seeds`` says less.

``--data`` reads the streams, their sizes and the class count from the data
(:func:`circlearn.data.layout.resolve_data`); every variant gets one pooling branch per
stream, with widths from the documented rule of :mod:`circlearn.experiments.adapt` (on each
scale's own data it gives the widths listed above).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from circlearn.experiments import compression, scaling, structures
from circlearn.experiments.adapt import data_sizes
from circlearn.experiments.stats import BETTER, NO_WORSE

__all__ = ["EXPERIMENTS", "BEYOND_PAPER", "SCALES", "Experiment", "Variant", "get_experiment",
           "select_variants", "figure_epochs", "experiment_configs", "data_layout"]


@dataclass(frozen=True)
class Variant:
    """One curve of a figure: a unique ``name``, its base ``preset`` and model ``overrides``;
    ``train_fraction``: train on that nested fraction of the training shards, for as many
    more epochs as keep the steps equal (:mod:`circlearn.experiments.scaling`); ``stage``:
    how a fig-compress variant is obtained, and its epochs
    (:class:`circlearn.experiments.compression.Stage`)."""

    name: str
    preset: str
    label: str
    overrides: dict = field(default_factory=dict)
    train_fraction: Fraction | None = None
    stage: compression.Stage | None = None


@dataclass(frozen=True)
class Experiment:
    """A paper figure: its variants, epochs and claims ``(a, b, claim)`` about b − a."""

    name: str
    title: str
    variants: tuple[Variant, ...]
    epochs: int
    claims: tuple[tuple[str, str, str], ...] = ()


def _v(preset: str, label: str) -> Variant:
    return Variant(preset, preset, label)


EXPERIMENTS: dict[str, Experiment] = {
    # Figure A with three curves: the paper's learned D on the input, Cheng et al.'s fixed
    # ±1 D on the input, and the authors' code, which applies its fixed signs after the
    # circulant (y = D'C x; with the batch norm that follows, a plain circulant).
    "fig-dc-cd": Experiment("fig-dc-cd", "learned vs fixed-sign diagonal (DBoF, compact FC)", (
        _v("dbof-fc-circulant", "Compact FC, learned D (DC)"),
        _v("dbof-fc-circulant-sign", "Compact FC, fixed ±1 D on the input (CD)"),
        Variant("dbof-fc-circulant-sign-output", "dbof",
                "Compact FC, fixed ±1 D after C (authors' code)",
                {"fc": "circulant-sign-output"})), 10,
        (("dbof-fc-circulant-sign", "dbof-fc-circulant", BETTER),
         ("dbof-fc-circulant-sign-output", "dbof-fc-circulant", BETTER))),
    "fig-embeddings": Experiment("fig-embeddings", "dense vs compact FC per embedding", (
        _v("dbof", "DBoF dense"), _v("dbof-fc-circulant", "DBoF compact"),
        _v("netvlad", "NetVLAD dense"), _v("netvlad-fc-circulant", "NetVLAD compact"),
        _v("netfv", "NetFV dense"), _v("netfv-fc-circulant", "NetFV compact")), 10,
        tuple((p, f"{p}-fc-circulant", NO_WORSE) for p in ("dbof", "netvlad", "netfv"))),
    "fig-layers": Experiment("fig-layers", "compact embedding vs FC vs MoE (video only)", (
        _v("dbof-video", "Dense model"), _v("dbof-video-fc-circulant", "Compact FC"),
        _v("dbof-video-embedding-circulant", "Compact DBoF"),
        _v("dbof-video-moe-circulant", "Compact MoE")), 7,
        tuple(("dbof-video", p, NO_WORSE) for p in (
            "dbof-video-fc-circulant", "dbof-video-embedding-circulant",
            "dbof-video-moe-circulant"))),
}

#: Experiments beyond the paper's figures; ``EXPERIMENTS`` lists the paper's panels.
BEYOND_PAPER: dict[str, Experiment] = {
    structures.NAME: Experiment(
        structures.NAME, "FC after pooling: dense, thin, circulant, Toeplitz, low rank",
        tuple(Variant(f"{p}-{suffix}", p, f"{p} {label}", dict(over))
              for p in structures.POOLINGS for suffix, label, _, over in structures.KINDS), 10,
        tuple((f"{p}-dense", f"{p}-{suffix}", NO_WORSE)
              for p in structures.POOLINGS for suffix, *_ in structures.KINDS[1:])),
    scaling.NAME: Experiment(
        scaling.NAME, "circulant vs dense FC against the number of training videos",
        scaling.variants(Variant), 10, scaling.claims(NO_WORSE)),
    compression.NAME: Experiment(
        compression.NAME, "projected + fine-tuned vs from scratch at equal steps, beyond the "
                          "paper", compression.variants(Variant), 10,
        compression.claims(BETTER)),
}


def get_experiment(name: str, variants: Sequence[str] | None = None) -> Experiment:
    """The experiment called ``name`` (:data:`EXPERIMENTS` or :data:`BEYOND_PAPER`);
    ``variants``: only these (:func:`select_variants`)."""
    found = EXPERIMENTS.get(name) or BEYOND_PAPER.get(name)
    if found is None:
        raise ValueError(f"unknown experiment {name!r}; valid: "
                         f"{', '.join([*EXPERIMENTS, *BEYOND_PAPER])}")
    return found if variants is None else select_variants(found, variants)


def select_variants(exp: Experiment, names: Sequence[str]) -> Experiment:
    """``exp`` with only the variants called ``names`` (kept in the experiment's order) and
    the claims between two kept variants: a cheaper figure that drops curves, its other
    runs and comparisons unchanged (Holm's family shrinks to the claims kept).

    >>> exp = get_experiment("fig-embeddings", ["netvlad", "dbof", "dbof-fc-circulant"])
    >>> [v.name for v in exp.variants], [c[:2] for c in exp.claims]
    (['dbof', 'dbof-fc-circulant', 'netvlad'], [('dbof', 'dbof-fc-circulant')])
    """
    known = [v.name for v in exp.variants]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        what = f"has no variant {', '.join(map(repr, unknown))}" if unknown else \
            "needs at least one variant"
        raise ValueError(f"{exp.name} {what}; valid: {', '.join(known)}")
    chosen = set(names)
    keep = [v for v in exp.variants if v.name in chosen]
    dense = {v.preset: v.name for v in exp.variants if v.stage and v.stage.kind == "dense"}
    missing = [f"{v.name} needs {need}" for v in keep if v.stage is not None
               for need in [v.stage.source or dense.get(v.preset)] if need not in (None, *chosen)]
    if missing:  # fig-compress: a projection's source, or the dense model a panel is drawn by
        raise ValueError(f"{exp.name}: a selected variant needs one left out: "
                         f"{'; '.join(missing)}")
    claims = tuple(c for c in exp.claims if c[0] in chosen and c[1] in chosen)
    return replace(exp, variants=tuple(keep), claims=claims)


def figure_epochs(exp: Experiment, scale: str, epochs: int | None = None) -> int:
    """The epochs of ``exp`` over all the training data: ``epochs`` (``--epochs``), else the
    scale's, else the figure's; fig-scaling's subsets and fig-compress's stages derive theirs
    from it (:func:`experiment_configs`)."""
    return epochs or SCALES[scale]["epochs"] or exp.epochs


#: Per scale: data, model overrides (clusters per pooling; audio gets half;
#: ``figure_clusters`` replaces them for one figure), TrainConfig
#: fields, epochs (``None``: the figure's), default seeds, CPU threads per run (``None``:
#: torch's default), runs at the same time (``jobs``: medium uses both cores of a 2-core
#: machine with one process each) and the protocol in words. The small CPU scales use one
#: thread: on a shared 2-core machine (load ≈ 9) a quick run took 6.2 s with 1 thread and
#: 36.3 s with 2.
SCALES: dict[str, dict] = {
    "quick": {
        "data": "bundled", "seeds": 3, "epochs": None, "threads": 1, "jobs": 1,
        "clusters": {"dbof": 256, "netvlad": 16, "netfv": 16},
        "model": {"hidden_size": 64, "n_bagging": 2, "iterations": 15},
        "train": {"batch_size": 32, "base_learning_rate": 1e-2, "learning_rate_decay": 1.0,
                  "batch_norm_momentum": 0.2, "max_frames": 50, "eval_batch_size": 300,
                  "checkpoint_every_steps": 0, "keep_checkpoints": 1, "device": "cpu"},
        "protocol": "one setting for every variant: Adam 1e-2 without decay, batch 32, "
                    "batch-norm momentum 0.2 (chosen over 0.01/0.05 and learning rates "
                    "1e-3/3e-3 on the dense variants' validate GAP, 3 seeds: "
                    "benchmarks/results/protocol_sweep-quick.md), the figure's epochs, final "
                    "epoch reported (no early stopping, no per-variant tuning)",
    },
    "medium": {
        "data": "synth:medium", "seeds": 3, "epochs": 12, "threads": 1, "jobs": 2,
        "clusters": {"dbof": 1024, "netvlad": 32, "netfv": 16},
        # fig-layers: the circulant DBoF embedding 1024 -> 2048, two square blocks (the
        # paper's has 8); more blocks would not fit the figure in about two hours on two
        # cores at 5 seeds (benchmarks/results/fig_layers_cost-medium.md)
        "figure_clusters": {"fig-layers": {"dbof": 2048}},
        "model": {"hidden_size": 64, "n_bagging": 1, "iterations": 30},
        "train": {"batch_size": 64, "base_learning_rate": 3e-3, "learning_rate_decay": 0.5,
                  "learning_rate_decay_examples": 20_000,
                  "batch_norm_momentum": 0.1, "max_frames": 300, "eval_batch_size": 500,
                  "checkpoint_every_steps": 0, "keep_checkpoints": 1, "device": "cpu"},
        "protocol": "one setting for every variant: Adam 3e-3 halved every 20,000 examples (2 "
                    "epochs), batch 64, batch-norm momentum 0.1, 12 epochs (1,872 steps), "
                    "final epoch reported. The budget and schedule were chosen on the "
                    "calibration draw (medium-calibration, generator seed 0), seed 0, as the "
                    "shortest tried under which every fig-embeddings variant's validate curve "
                    "is flat (plateau gain < 0.003); halving every epoch flattens the curves "
                    "by lowering the learning rate too early (DBoF 0.771 at 8 epochs against "
                    "0.828): benchmarks/results/stopping_sweep-medium.md. Adam 3e-3 and "
                    "momentum 0.1 were chosen before on the dense models' validate GAP "
                    "(benchmarks/results/protocol_sweep-medium.md). The reported draw "
                    "(generator seed 1) was not used for any choice",
    },
    "paper": {
        "data": None, "seeds": 3, "epochs": None, "threads": None, "jobs": 1, "clusters": None,
        "model": {},
        "train": {"data_augmentation": True, "max_frames": 300},
        "protocol": "the paper's: Adam 2e-4 x0.8 per 4M examples, batch 80 per process, "
                    "per-tensor clipping 1.0, half-video augmentation, batch-norm momentum "
                    "0.001",
    },
}


def data_layout(scale: str, data: str | os.PathLike | None = None, log=None):
    """The :class:`~circlearn.data.layout.DataLayout` of ``data``, else the scale's default."""
    from circlearn.data import samples
    from circlearn.data.layout import resolve_data

    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    if data is None:
        source = SCALES[scale]["data"]
        if source is None:
            raise ValueError(f"--scale {scale} needs --data pointing at the YouTube-8M 2018 "
                             f"frame-level folder (train*.tfrecord, validate*.tfrecord)")
        if source == "bundled":
            data = samples.path("yt8m")
        else:
            from circlearn.data.synth import cached_dataset

            data = cached_dataset(source.split(":", 1)[1], log=log)
    return resolve_data(data)


def _variant_budget(name: str, variant: Variant, layout, fields: dict) -> str:
    """The training files of ``variant`` (comma-separated for a subset), setting its epochs
    in ``fields``: fig-scaling's same steps on a nested subset, fig-compress's E, E + N, N."""
    train_data = layout.pattern("train")
    if variant.train_fraction not in (None, 1):
        train_data = ",".join(map(str, scaling.train_files(layout.files("train"),
                                                           variant.train_fraction)))
        fields["num_epochs"] = scaling.scaled_epochs(fields["num_epochs"], variant.train_fraction)
    if variant.stage is not None:
        if fields.get("max_steps") is not None:
            raise ValueError(f"{name} compares equal numbers of epochs; max_steps "
                             f"{fields['max_steps']} would break that: leave it unset")
        fields["num_epochs"] = compression.stage_epochs(variant.stage, fields["num_epochs"])
    return train_data


def experiment_configs(name: str, scale: str = "quick", out: str | Path = "runs/experiment", *,
                       seed: int = 0, data: str | None = None, epochs: int | None = None,
                       model_overrides: dict | None = None,
                       train_overrides: dict | None = None, layout=None,
                       variants: Sequence[str] | None = None) -> list:
    """The :class:`~circlearn.training.TrainConfig` of every variant for one ``seed``
    (``run_dir`` = ``out/runs/<variant>/seed<seed>``).

    The seed sets ``TrainConfig.seed`` (initialisation, data order, training frame sampling)
    and the fixed-sign diagonals (``sign_seed = 1000·seed``); variants with the same seed read
    the same data order, so their differences are paired. The evaluation sampler stays fixed
    (``eval_seed = 0``). ``model_overrides``' ``cluster_sizes`` has one width per stream of
    the data; a variant that keeps fewer streams takes the first ones. ``variants``: only
    these (:func:`select_variants`).
    """
    from circlearn.models import preset_config
    from circlearn.training import TrainConfig

    exp = get_experiment(name, variants)
    layout = layout or data_layout(scale, data)
    spec = SCALES[scale]
    clusters = {**spec["clusters"], **spec.get("figure_clusters", {}).get(name, {})} \
        if spec["clusters"] is not None else None  # a figure's own widths, if the scale has
    widths = data_sizes({**spec, "clusters": clusters}, layout)  # one branch per stream
    model_overrides = dict(model_overrides or {})
    per_stream = model_overrides.pop("cluster_sizes", None)  # given: one width per stream
    if per_stream is not None and len(per_stream) != len(layout.feature_names):
        raise ValueError(f"cluster_sizes {tuple(per_stream)} needs one width per stream of the "
                         f"data {layout.feature_names}")
    sizes = {"feature_names": layout.feature_names, "feature_sizes": layout.feature_sizes,
             "num_classes": layout.num_classes}
    configs = []
    for variant in exp.variants:
        base = preset_config(variant.preset)
        overrides = {**sizes, **spec["model"], "sign_seed": 1000 * seed}
        n = len(layout.feature_names) if base.use_features is None else len(base.use_features)
        if base.use_features is not None:  # e.g. "video only": the data's first stream(s)
            overrides["use_features"] = layout.feature_names[:n]
        overrides["cluster_sizes"] = widths.cluster_sizes(base.pooling, n) \
            if per_stream is None else tuple(per_stream[:n])
        if widths.hidden_size is not None:
            overrides["hidden_size"] = widths.hidden_size
        overrides.update(variant.overrides)
        overrides.update(model_overrides)
        overrides = structures.resolve_budget(variant.preset, overrides)  # thin / rank budgets
        model = preset_config(variant.preset, **overrides)
        fields = {**spec["train"], "num_epochs": figure_epochs(exp, scale, epochs),
                  "seed": seed}
        if widths.max_frames is not None:
            fields["max_frames"] = widths.max_frames
        fields.update(train_overrides or {})
        train_data = _variant_budget(name, variant, layout, fields)
        configs.append(TrainConfig(
            train_data=train_data, eval_data=layout.pattern("validate"),
            run_dir=str(Path(out) / "runs" / variant.name / f"seed{seed}"), model=model,
            preset=variant.preset, progress=False, log_every_steps=0, **fields))
    return configs
