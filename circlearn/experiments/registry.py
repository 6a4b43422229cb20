"""The paper's three experiments as named, runnable recipes, over seeds (``paper.md`` §4–5).

=================== ========================================================================
``fig-dc-cd``        Figure A: compact FC after DBoF with a learned diagonal (the paper's
                     "DC") vs a fixed random ±1 diagonal ("CD" of Cheng et al.)
``fig-embeddings``   Figure B: dense vs compact (circulant) FC after DBoF, NetVLAD and NetFV
``fig-layers``       Figure C: DBoF video only; dense vs compact FC vs compact DBoF embedding
                     vs compact MoE (the last also drops context gating and L2)
=================== ========================================================================

Beyond the paper (:data:`BEYOND_PAPER`, same runner, seeds and statistics):
``fig-structures`` replaces the FC after DBoF and NetVLAD by dense, a thin dense FC, circulant
(1, 2, 4 factors), Toeplitz and low-rank FCs at equal and larger budgets
(:mod:`circlearn.experiments.structures`).

**Seeds.** ``reproduce(..., seeds=n)`` trains every variant with seeds ``0 … n−1`` into
``runs/<variant>/seed<k>/``. The seed sets ``TrainConfig.seed`` (initialisation, data order,
training frame sampling) and the fixed-sign diagonals (``sign_seed = 1000·k``); variants with
the same seed read the same data order, so their differences are paired. The evaluation
sampler stays fixed (``eval_seed = 0``). Each figure's claims (:attr:`Experiment.claims`) are
judged by :mod:`circlearn.experiments.stats` (paired t-interval, verdict) on validate and on test.

**Scales** (one hyperparameter protocol per scale, the same for every variant of a figure;
stated in ``results.json`` as ``protocol``):

- ``quick``: the bundled **synthetic** data (``data_samples/yt8m``: rgb 128 + audio 16, 50
  classes, 1000 train / 300 validate / 200 test videos); DBoF 256/128, NetVLAD/NetFV 16/8
  clusters, FC 64, 2 bags of 15 frames; batch 32, Adam 1e-2 without decay, batch-norm
  momentum 0.2 (measured over 3 seeds: with 0.05 NetVLAD's last three epochs swung by 0.09
  GAP and it ended at 0.560 ± 0.055, with 0.2 at 0.635 ± 0.010;
  ``benchmarks/results/protocol_sweep-quick.md``), 10 epochs (7 for ``fig-layers``, as the
  paper's figure); 3 seeds, one process (``make demo``).
- ``medium``: the real feature sizes on the **synthetic** ``cached_dataset("medium")``
  (generated once into the cache): DBoF 1024/512, NetVLAD 32/16, NetFV 16/8 clusters, FC 64
  (the DBoF FC 1024→64 keeps the paper's ratio 16), 1 bag of 30 frames, batch 64, Adam 3e-3
  without decay, batch-norm momentum 0.1 (measured: ``benchmarks/results/
  protocol_sweep-medium.md``), 300 frames, 5 epochs; 3 seeds, 2 worker processes of one
  thread each.
- ``paper``: the paper's presets and hyperparameters (``paper.md`` §3.6, §3.8), ``--data``
  pointing at the YouTube-8M 2018 frame-level folder; 3 seeds unless ``--seeds`` says less.

``--data`` reads the feature sizes and class count from the data
(:func:`circlearn.data.layout.resolve_data`). Curves are on ``validate`` (as in the paper);
the final table is also given on ``test`` when ``test_labels.csv`` holds its labels.

Output (``--out DIR``): ``results.json`` (format: ``README.md`` §6 of the design notes;
:mod:`circlearn.experiments.report`), ``table.md``, ``figure.png`` (mean curves with a band
of ± one standard deviation over seeds, baselines as horizontal lines, beside the paper's
digitized panel), ``baselines.json`` (cached per data hash) and the run directories.
Rerunning resumes unfinished runs and reuses finished ones. Under ``torchrun`` every variant
trains on all processes and rank 0 writes the files.

The command line (``circlearn experiment NAME``) is :mod:`circlearn.experiments.cli`.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from circlearn.experiments import structures
from circlearn.experiments.baselines import LINEAR_PROTOCOL, current_protocol
from circlearn.experiments.report import comparisons, provenance, summarize_variant, write_report
from circlearn.experiments.runner import cached_baselines, compute_baselines, run_one
from circlearn.experiments.stats import BETTER, NO_WORSE
from circlearn.training.distributed import current_rank

__all__ = ["EXPERIMENTS", "BEYOND_PAPER", "SCALES", "Experiment", "Variant", "reproduce",
           "experiment_configs", "data_layout"]


@dataclass(frozen=True)
class Variant:
    """One curve of a figure: a unique ``name``, its base ``preset`` and model ``overrides``."""

    name: str
    preset: str
    label: str
    overrides: dict = field(default_factory=dict)


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
    # Figure A with three curves (issue 13): the paper's learned D on the input, Cheng et
    # al.'s fixed ±1 D on the input, and the authors' code, which applies its fixed signs
    # after the circulant (y = D'C x; with the batch norm that follows, a plain circulant).
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

#: Experiments beyond the paper's figures (issue 13); ``EXPERIMENTS`` lists the paper's panels.
BEYOND_PAPER: dict[str, Experiment] = {
    structures.NAME: Experiment(
        structures.NAME, "FC after pooling: dense, thin, circulant, Toeplitz, low rank",
        tuple(Variant(f"{p}-{suffix}", p, f"{p} {label}", dict(over))
              for p in structures.POOLINGS for suffix, label, _, over in structures.KINDS), 10,
        tuple((f"{p}-dense", f"{p}-{suffix}", NO_WORSE)
              for p in structures.POOLINGS for suffix, *_ in structures.KINDS[1:]))}


def _experiment(name: str) -> Experiment:
    found = EXPERIMENTS.get(name) or BEYOND_PAPER.get(name)
    if found is None:
        raise ValueError(f"unknown experiment {name!r}; valid: "
                         f"{', '.join([*EXPERIMENTS, *BEYOND_PAPER])}")
    return found


#: Per scale: data, model overrides (clusters per pooling; audio gets half), TrainConfig
#: fields, epochs (``None``: the figure's), default seeds, CPU threads per run (``None``:
#: torch's default), runs at the same time (``jobs``: medium uses both cores of a 2-core
#: machine with one process each) and the protocol in words. The small CPU scales use one thread: on a shared
#: 2-core machine (load ≈ 9) a quick run took 6.2 s with 1 thread and 36.3 s with 2.
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
        "data": "synth:medium", "seeds": 3, "epochs": 5, "threads": 1, "jobs": 2,
        "clusters": {"dbof": 1024, "netvlad": 32, "netfv": 16},
        "model": {"hidden_size": 64, "n_bagging": 1, "iterations": 30},
        "train": {"batch_size": 64, "base_learning_rate": 3e-3, "learning_rate_decay": 1.0,
                  "batch_norm_momentum": 0.1, "max_frames": 300, "eval_batch_size": 500,
                  "checkpoint_every_steps": 0, "keep_checkpoints": 1, "device": "cpu"},
        "protocol": "one setting for every variant: Adam 3e-3 without decay, batch 64, "
                    "batch-norm momentum 0.1, 5 epochs (780 steps), final epoch reported "
                    "(chosen over Adam 1e-3/1e-2 and momentum 0.01 on the dense models' "
                    "validate GAP, seed 0: benchmarks/results/protocol_sweep-medium.md; with "
                    "momentum 0.01 the running statistics lag so far that the validate GAP "
                    "of NetVLAD and NetFV is below 0.1 for two epochs)",
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


def experiment_configs(name: str, scale: str = "quick", out: str | Path = "runs/experiment", *,
                       seed: int = 0, data: str | None = None, epochs: int | None = None,
                       model_overrides: dict | None = None,
                       train_overrides: dict | None = None, layout=None) -> list:
    """The :class:`~circlearn.training.TrainConfig` of every variant for one ``seed``
    (``run_dir`` = ``out/runs/<variant>/seed<seed>``)."""
    from circlearn.models import preset_config
    from circlearn.training import TrainConfig

    exp = _experiment(name)
    layout = layout or data_layout(scale, data)
    spec = SCALES[scale]
    sizes = {"feature_names": layout.feature_names, "feature_sizes": layout.feature_sizes,
             "num_classes": layout.num_classes}
    configs = []
    for variant in exp.variants:
        base = preset_config(variant.preset)
        overrides = {**sizes, **spec["model"], "sign_seed": 1000 * seed}
        if spec["clusters"] is not None:
            k = spec["clusters"][base.pooling]
            overrides["cluster_sizes"] = tuple([k] + [k // 2] * (len(base.streams) - 1))
        overrides.update(variant.overrides)
        overrides.update(model_overrides or {})
        overrides = structures.resolve_budget(variant.preset, overrides)  # thin / rank budgets
        model = preset_config(variant.preset, **overrides)
        fields = {**spec["train"], "num_epochs": epochs or spec["epochs"] or exp.epochs,
                  "seed": seed, **(train_overrides or {})}
        configs.append(TrainConfig(
            train_data=layout.pattern("train"), eval_data=layout.pattern("validate"),
            run_dir=str(Path(out) / "runs" / variant.name / f"seed{seed}"), model=model,
            preset=variant.preset, progress=False, log_every_steps=0, **fields))
    return configs


def _shown(path: str | Path) -> str:
    """``path`` relative to the working directory when inside it (portable results)."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def reproduce(name: str, scale: str = "quick", out: str | Path = "runs/experiment", *,
              seeds: int | None = None, data: str | None = None, epochs: int | None = None,
              model_overrides: dict | None = None, train_overrides: dict | None = None,
              baselines: bool = True, threads: int | None = None, jobs: int | None = None,
              latency=None, log=print) -> dict:
    """Train every variant with seeds ``0 … seeds−1``; write ``results.json``, ``table.md``
    and ``figure.png`` into ``out``; return the results dict.

    ``threads``: torch CPU threads per run (default: the scale's; restored after).
    ``jobs``: runs trained at the same time in worker processes (default: the scale's; the
    baselines are one more task); the results do not depend on it (each run is a function
    of its configuration).
    ``latency``: ``latency(model_config, frames) -> ms``, the batch-1 latency recorded per
    variant of fig-structures (the command line passes
    :func:`circlearn.bench.models.batch1_latency_ms`; without it the table shows ``nan``).
    """
    jobs = SCALES.get(scale, {}).get("jobs", 1) if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    threads = SCALES.get(scale, {}).get("threads") if threads is None else threads
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _reproduce(name, scale, Path(out), seeds=seeds, data=data, epochs=epochs,
                          model_overrides=model_overrides, train_overrides=train_overrides,
                          baselines=baselines, threads=threads, jobs=jobs, latency=latency,
                          log=log)
    finally:
        torch.set_num_threads(previous)


def _reproduce(name, scale, out, *, seeds, data, epochs, model_overrides, train_overrides,
               baselines, threads, jobs, latency, log) -> dict:
    from circlearn.models import VideoClassifier, count_parameters

    exp = _experiment(name)
    layout = data_layout(scale, data, log=log)
    n_seeds = SCALES[scale]["seeds"] if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    per_seed = [experiment_configs(name, scale, out, seed=s, epochs=epochs, layout=layout,
                                   model_overrides=model_overrides,
                                   train_overrides=train_overrides) for s in range(n_seeds)]
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    splits = [s for s in ("train", "validate", "test") if layout.has_split(s)]
    files = [f for s in splits for f in layout.files(s)] + (
        [layout.test_labels] if layout.test_labels else [])
    prov = provenance(files, layout.generator_version)
    base = cached_baselines(out, prov["data_sha256"]) if baselines else None
    recorded = layout.baselines or {}
    if baselines and base is None and recorded.get("validate") and (
            recorded.get("test") or not layout.test_labels) and current_protocol(recorded):
        # computed by the generator with the same function (circlearn.experiments.baselines) on these files
        base = {"protocol": LINEAR_PROTOCOL, "validate": recorded["validate"],
                "test": recorded.get("test"), "source": _shown(layout.source), "seconds": 0.0}
    labels_csv = str(layout.test_labels) \
        if layout.test_labels is not None and "test" in splits else None
    test_pattern = layout.pattern("test")
    tasks = [(seed, variant, cfg) for seed, configs in enumerate(per_seed)
             for variant, cfg in zip(exp.variants, configs)]
    runs: dict[str, list[dict]] = {v.name: [] for v in exp.variants}

    def record(seed, variant, run):
        runs[variant.name].append({"seed": seed, **run})
        log(f"[{name}] {variant.name} seed {seed}: GAP {run['gap']:.4f} ({run['seconds']:.0f} s)")

    def keep(computed: dict) -> dict:  # saved at once: a later interruption keeps it
        computed["data_sha256"] = prov["data_sha256"]
        (out / "baselines.json").write_text(json.dumps(computed, indent=1) + "\n")
        log(f"baselines: {computed['validate']} ({computed['seconds']:.0f} s)")
        return computed

    if jobs == 1:
        if baselines and base is None:
            base = keep(compute_baselines(layout))
        for seed, variant, cfg in tasks:
            record(seed, variant, run_one(cfg.to_dict(), test_pattern, labels_csv))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            pending = pool.submit(compute_baselines, layout) \
                if baselines and base is None else None
            futures = [(seed, variant, pool.submit(run_one, cfg.to_dict(), test_pattern,
                                                   labels_csv, threads or 0))
                       for seed, variant, cfg in tasks]
            for seed, variant, future in futures:
                result = future.result()
                if pending is not None and pending.done():
                    base, pending = keep(pending.result()), None
                record(seed, variant, result)
            if pending is not None:
                base = keep(pending.result())
    if base is not None and "data_sha256" not in base:  # recorded in dataset.json
        keep(base)
    for v in runs.values():
        v.sort(key=lambda r: r["seed"])
    variants = []
    for variant, cfg in zip(exp.variants, per_seed[0]):
        params = count_parameters(VideoClassifier(cfg.model, device="meta"))
        info = {"name": variant.name, "preset": variant.preset, "label": variant.label,
                "overrides": dict(variant.overrides), "params": params,
                "model_mb": round(4 * params / 1e6, 4), "model": cfg.model.to_dict()}
        if name == structures.NAME:  # kind, FC parameters, batch-1 latency
            info.update(structures.variant_details(variant.name, cfg.model))
            if latency is not None:
                info["latency_ms_batch1"] = latency(cfg.model, cfg.max_frames)
        variants.append(summarize_variant(info, runs[variant.name],
                                          base["validate"] if base else None))
    first = per_seed[0][0]
    protocol, usual = SCALES[scale]["protocol"], SCALES[scale]["epochs"] or exp.epochs
    if first.num_epochs != usual:
        protocol += f"; this run: {first.num_epochs} epochs instead of {usual} (--epochs)"
    results = {
        "experiment": name, "title": exp.title, "scale": scale, "seeds": list(range(n_seeds)),
        "epochs": first.num_epochs, "synthetic": layout.generator_version is not None,
        "protocol": protocol,
        "data": {"root": _shown(layout.root), "train": _shown(first.train_data),
                 "eval": _shown(first.eval_data), "sizes_from": _shown(layout.source),
                 "test": _shown(test_pattern) if labels_csv is not None else None},
        "train": {k: v for k, v in first.to_dict().items()
                  if k not in ("model", "preset", "run_dir", "train_data", "eval_data", "seed")},
        "baselines": base["validate"] if base else None,
        "baselines_test": base["test"] if base else None,
        "baseline_protocol": base["protocol"] if base else None,
        "baselines_source": (base.get("source") or "computed by circlearn.experiments.baselines") if base
        else None,
        "comparisons": comparisons(exp.claims, variants),
        "comparisons_test": comparisons(exp.claims, variants, "test_gap"),
        "provenance": prov,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "wall_seconds": round(time.perf_counter() - start, 1), "variants": variants}
    if current_rank() == 0:  # under torchrun, rank 0 writes
        write_report(results, out)
    return results
