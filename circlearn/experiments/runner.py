"""Running an experiment: every (seed, variant) run trained, resumed or reused, then reported.

:func:`reproduce` checks the source tree (:func:`~circlearn.experiments.provenance.check_tree`),
resolves a figure's configurations (:mod:`~circlearn.experiments.registry`), trains each run
with :func:`~circlearn.experiments.runs.run_one` (a finished run directory is reused, an
unfinished one resumed, when its configuration and data match:
:mod:`~circlearn.experiments.reuse`), logs the progress (:mod:`~circlearn.experiments.progress`),
computes or reuses the baselines, and writes the report (:mod:`~circlearn.experiments.report`).
Runs go in two phases: first those trained from their configuration, then those that start
from another run of the same seed (fig-compress's projections,
:func:`~circlearn.experiments.compression.compress_one`). The tasks and
:func:`compute_baselines` are top-level so that worker processes (``jobs > 1``) can run them.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from circlearn.experiments import compression, scaling, structures
from circlearn.experiments.adapt import data_sizes, settings_text
from circlearn.experiments.baselines import LINEAR_PROTOCOL, FittedBaselines, current_protocol
from circlearn.experiments.evidence import complete, plateau_warnings
from circlearn.experiments.progress import Progress
from circlearn.experiments.provenance import check_tree, data_paths, git_state, provenance, repository_root
from circlearn.experiments.registry import (
    SCALES,
    data_layout,
    experiment_configs,
    figure_epochs,
    get_experiment,
)
from circlearn.experiments.report import comparisons, summarize_variant, write_report
from circlearn.experiments.reuse import finish_run, prepare_run, reuse_entry
from circlearn.experiments.runs import final_test_gap, final_test_metrics, read_curve, run_one
from circlearn.training.distributed import current_rank

__all__ = ["reproduce", "read_curve", "final_test_metrics", "final_test_gap", "run_one",
           "compute_baselines",
           "cached_baselines"]


def compute_baselines(layout) -> dict:
    """Validate and test baselines of ``layout`` (fitted once on its training split)."""
    tick = time.perf_counter()
    fitted = FittedBaselines(layout.pattern("train"), feature_sizes=layout.feature_sizes,
                             num_classes=layout.num_classes, feature_names=layout.feature_names)
    scores = fitted.scores(layout.pattern("validate"))
    saved = {"protocol": LINEAR_PROTOCOL, "l2": fitted.l2, "validate": scores["gap"],
             "test": None, "validate_hit_at_one": scores["hit_at_one"], "test_hit_at_one": None}
    if layout.has_split("test") and layout.test_labels is not None:
        scores = fitted.scores(layout.pattern("test"), layout.test_labels)
        saved["test"], saved["test_hit_at_one"] = scores["gap"], scores["hit_at_one"]
    saved["seconds"] = round(time.perf_counter() - tick, 1)
    return saved


def cached_baselines(out: Path, data_hash: str) -> dict | None:
    """``out/baselines.json`` when it was computed on these data with this protocol."""
    path = out / "baselines.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("data_sha256") == data_hash and current_protocol(saved) and \
                "validate_hit_at_one" in saved:  # older caches lack Hit@1: recomputed
            return saved
    return None


def _known_baselines(out: Path, layout, data_hash: str) -> dict | None:
    """Baselines already computed on these data with this protocol: ``out/baselines.json``,
    else the ones the generator recorded in ``dataset.json``; ``None`` if neither."""
    base = cached_baselines(out, data_hash)
    recorded = layout.baselines or {}
    if base is None and recorded.get("validate") and (
            recorded.get("test") or not layout.test_labels) and current_protocol(recorded):
        # computed by the generator with the same function (experiments.baselines) on these files
        base = {"protocol": LINEAR_PROTOCOL, "validate": recorded["validate"],
                "test": recorded.get("test"), "seconds": 0.0,
                "source": os.path.relpath(layout.source, layout.root)}
    return base


def _keep_baselines(out: Path, computed: dict, data_hash: str, log) -> dict:
    """Save ``computed`` to ``out/baselines.json`` at once (a later interruption keeps it)."""
    computed["data_sha256"] = data_hash
    (out / "baselines.json").write_text(json.dumps(computed, indent=1) + "\n")
    log(f"baselines: {computed['validate']} ({computed['seconds']:.0f} s)")
    return computed


def _data_files(layout) -> list:
    """The files whose bytes the provenance hashes: every split's records, the test labels."""
    splits = [s for s in ("train", "validate", "test") if layout.has_split(s)]
    return [f for s in splits for f in layout.files(s)] + (
        [layout.test_labels] if layout.test_labels else [])


def reproduce(name: str, scale: str = "quick", out: str | Path = "runs/experiment", *,
              seeds: int | None = None, data: str | None = None, epochs: int | None = None,
              model_overrides: dict | None = None, train_overrides: dict | None = None,
              baselines: bool = True, threads: int | None = None, jobs: int | None = None,
              latency=None, allow_dirty: bool = False, command: Sequence[str] | None = None,
              variants: Sequence[str] | None = None, log=print) -> dict:
    """Train every variant with seeds ``0 … seeds−1``; write ``results.json``, ``table.md``
    and ``figure.png`` into ``out``; return the results dict.

    Curves are on ``validate`` (as in the paper); the final table is also given on ``test``
    when ``test_labels.csv`` holds its labels, and each figure's claims
    (:attr:`~circlearn.experiments.Experiment.claims`) are judged on both
    (:mod:`~circlearn.experiments.stats`). ``out`` also holds ``baselines.json`` (cached per
    data hash) and the run directories: rerunning resumes unfinished runs and reuses finished
    ones whose configuration and data bytes match (:mod:`~circlearn.experiments.reuse`),
    listed in ``provenance.reused``. Under ``torchrun`` every variant trains on all processes
    and rank 0 writes the files.

    When ``out`` is under the repository's ``data_samples/results/`` (the stored results), a
    checkout with uncommitted changes raises ``ValueError`` before anything runs, unless
    ``allow_dirty`` (then ``provenance`` records ``dirty`` and the diff's ``diff_sha256``).
    ``command``: the command line recorded in ``provenance`` (the CLI passes its argv).
    ``variants``: train only these variants, compare only the claims between them
    (:func:`~circlearn.experiments.registry.select_variants`; ``protocol`` names the ones left
    out).

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
                          allow_dirty=allow_dirty, command=command, variants=variants,
                          log=log)
    finally:
        torch.set_num_threads(previous)


def _reproduce(name, scale, out, *, seeds, data, epochs, model_overrides, train_overrides,
               baselines, threads, jobs, latency, allow_dirty, command, variants, log) -> dict:
    root = repository_root()
    code = check_tree(root, out, allow_dirty)  # refuses before any work
    exp = get_experiment(name, variants)
    layout = data_layout(scale, data, log=log)
    n_seeds = SCALES[scale]["seeds"] if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    per_seed = [experiment_configs(name, scale, out, seed=s, epochs=epochs, layout=layout,
                                   model_overrides=model_overrides,
                                   train_overrides=train_overrides, variants=variants)
                for s in range(n_seeds)]
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(seed, variant, cfg) for seed, configs in enumerate(per_seed)
             for variant, cfg in zip(exp.variants, configs)]
    progress = Progress(name, len(tasks), log=log)
    prov = provenance(_data_files(layout), layout, code=code, command=command)
    base = _known_baselines(out, layout, prov["data_sha256"]) if baselines else None
    labels_csv = str(layout.test_labels) \
        if layout.test_labels is not None and layout.has_split("test") else None
    runs, base, prov["reused"] = _train(
        exp, tasks, layout, out, prov["data_sha256"], base, compute=baselines and base is None,
        labels_csv=labels_csv, threads=threads, jobs=jobs, progress=progress, log=log)
    all_data_epochs = figure_epochs(exp, scale, epochs)  # whichever variants are selected
    variants = _variants(name, exp, per_seed[0], runs, base, latency, all_data_epochs)
    timing = progress.finish()
    prov["load_average"] = timing["load_average"]
    _check_head(root, code, prov, log)
    given = {"model": dict(model_overrides or {}), "train": dict(train_overrides or {})}
    results = complete(_results(exp, scale, n_seeds, layout, per_seed[0][0], labels_csv, base,
                                variants, prov, timing["wall_seconds"], jobs, given,
                                all_data_epochs))
    for line in plateau_warnings(results):  # written all the same, marked ✗ in table.md
        log(line)
    if current_rank() == 0:  # under torchrun, rank 0 writes
        write_report(results, out)
    return results


def _check_head(root, code: dict, prov: dict, log) -> None:
    """Warn (and record ``commit_end``) when the checkout's HEAD moved during the run."""
    end = git_state(root)["commit"]
    if code["commit"] is not None and end != code["commit"]:
        prov["commit_end"] = end
        log(f"warning: HEAD moved during the run ({code['commit'][:12]} -> {str(end)[:12]}); "
            f"results.json records the commit at the start")


def _train(exp, tasks, layout, out, data_hash, base, *, compute, labels_csv, threads, jobs,
           progress, log) -> tuple[dict[str, list[dict]], dict | None, list[dict]]:
    """Train (or reuse) every ``(seed, variant, config)`` of ``tasks``, ``jobs`` at a time;
    return each variant's runs (by seed), the baselines (computed too when ``compute``) and
    the reused runs (``provenance.reused``)."""
    test_pattern = layout.pattern("test")
    runs: dict[str, list[dict]] = {v.name: [] for v in exp.variants}
    writer = current_rank() == 0
    states = [prepare_run(cfg.to_dict(), data_hash, log=log, writer=writer)
              for _, _, cfg in tasks]
    reused: dict[int, dict] = {}
    log(progress.line())

    def record(i, run):
        seed, variant, _ = tasks[i]
        if finish_run(states[i], run, writer=writer):
            reused[i] = reuse_entry(states[i], variant.name, seed, out)
        runs[variant.name].append({"seed": seed, **run})
        progress.run_done(variant.name, seed, run, i in reused)

    work = _work(tasks, test_pattern, labels_csv, threads)
    for k, phase in enumerate(_phases(tasks)):  # phase 1 starts from phase 0's runs
        if jobs == 1:
            if compute and k == 0:
                base = _keep_baselines(out, compute_baselines(layout), data_hash, log)
            for i in phase:
                fn, args = work[i]
                record(i, fn(*args))
        else:
            base = _in_workers({i: work[i] for i in phase}, layout, out, data_hash, record,
                               compute=compute and k == 0, jobs=jobs, log=log) or base
    if base is not None and "data_sha256" not in base:  # recorded in dataset.json
        _keep_baselines(out, base, data_hash, log)
    for v in runs.values():
        v.sort(key=lambda r: r["seed"])
    return runs, base, [reused[i] for i in sorted(reused)]


def _phases(tasks) -> list[list[int]]:
    """Task indices in the order they may run: first every run trained from its
    configuration, then the runs that start from another run of the same seed (fig-compress's
    projected and fine-tuned ones, :class:`~circlearn.experiments.compression.Stage`)."""
    later = [i for i, (_, v, _) in enumerate(tasks) if v.stage is not None and v.stage.source]
    first = [i for i in range(len(tasks)) if i not in set(later)]
    return [p for p in (first, later) if p]


def _work(tasks, test_pattern, labels_csv, threads) -> dict[int, tuple]:
    """Per task index, ``(function, arguments)``: :func:`run_one`, or for a run that starts
    from another (its ``stage.source``) :func:`~circlearn.experiments.compression.compress_one`
    given that run's directory."""
    dirs = {(seed, v.name): cfg.run_dir for seed, v, cfg in tasks}
    work = {}
    for i, (seed, v, cfg) in enumerate(tasks):
        if v.stage is not None and v.stage.source:
            epochs = 0 if v.stage.kind == "projected" else cfg.num_epochs
            work[i] = (compression.compress_one, (cfg.to_dict(), dirs[seed, v.stage.source],
                                                  epochs, test_pattern, labels_csv, threads or 0))
        else:
            work[i] = (run_one, (cfg.to_dict(), test_pattern, labels_csv, threads or 0))
    return work


def _in_workers(work, layout, out, data_hash, record, *, compute, jobs, log) -> dict | None:
    """Run ``work`` (index → ``(function, arguments)``) in ``jobs`` worker processes, calling
    ``record(index, run)`` as each finishes; return the baselines when ``compute`` (one more
    task), else ``None``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    base = None
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        pending = pool.submit(compute_baselines, layout) if compute else None
        futures = {pool.submit(fn, *args): i for i, (fn, args) in work.items()}
        for future in as_completed(futures):
            result = future.result()
            if pending is not None and pending.done():
                base, pending = _keep_baselines(out, pending.result(), data_hash, log), None
            record(futures[future], result)
        if pending is not None:
            base = _keep_baselines(out, pending.result(), data_hash, log)
    return base


def _variants(name, exp, configs, runs, base, latency, epochs) -> list[dict]:
    """Each variant's ``results.json`` entry: its model, sizes (fig-structures: FC details and
    batch-1 latency) and the aggregates of its runs."""
    from circlearn.models import VideoClassifier, count_parameters

    variants = []
    for variant, cfg in zip(exp.variants, configs):
        params = count_parameters(VideoClassifier(cfg.model, device="meta"))
        info = {"name": variant.name, "preset": variant.preset, "label": variant.label,
                "overrides": dict(variant.overrides), "params": params,
                "model_mb": round(4 * params / 1e6, 4), "model": cfg.model.to_dict()}
        if name == structures.NAME:  # kind, FC parameters, batch-1 latency
            info.update(structures.variant_details(variant.name, cfg.model))
            if latency is not None:
                info["latency_ms_batch1"] = latency(cfg.model, cfg.max_frames)
        if variant.stage is not None:  # fig-compress: stage, source, epochs trained
            info.update(compression.variant_details(variant.stage, epochs))
        if variant.train_fraction is not None:  # fig-scaling: the subset's size
            info.update(scaling.variant_details(variant.train_fraction, cfg.train_data))
            info["epochs"] = cfg.num_epochs
        variants.append(summarize_variant(info, runs[variant.name],
                                          base["validate"] if base else None))
    return variants


def _results(exp, scale, n_seeds, layout, first, labels_csv, base, variants, prov,
             wall_seconds, jobs, given, epochs) -> dict:
    """The ``results.json`` dict (format: ``README.md`` §6 and §7 of the design notes;
    ``sizes``: the width rule's result on these data; ``overrides``: the model and training
    fields given for every variant, e.g. by ``--set``)."""
    protocol, usual = SCALES[scale]["protocol"], figure_epochs(exp, scale)
    if given["model"] or given["train"]:
        protocol += (f"; set for every variant (--set): "
                     f"{settings_text(given['model'], given['train'])}")
    if epochs != usual:
        protocol += f"; this run: {epochs} epochs instead of {usual} (--epochs)"
    if exp.name == scaling.NAME:
        protocol += (f"; each training fraction f runs {epochs}/f epochs, the same steps "
                     f"as {epochs} epochs over all the data")
    if exp.name == compression.NAME:
        n = compression.fine_tune_epochs(epochs)
        protocol += (f"; fine-tuning after the projection: N = ceil({epochs}/4) = {n} epochs "
                     f"with the same settings, learning-rate schedule restarted; from scratch: "
                     f"{epochs} + {n} = {epochs + n} epochs (the same steps)")
    left_out = [v.name for v in get_experiment(exp.name).variants if v not in exp.variants]
    if left_out:
        protocol += f"; variants left out (--variants): {', '.join(left_out)}"
    test = layout.pattern("test") if labels_csv is not None else None
    return {
        "experiment": exp.name, "title": exp.title, "scale": scale,
        "seeds": list(range(n_seeds)), "epochs": epochs,
        "synthetic": layout.generator_version is not None, "protocol": protocol,
        "data": data_paths(layout, layout.pattern("train"), first.eval_data, test),
        "train": {k: v for k, v in first.to_dict().items()
                  if k not in ("model", "preset", "run_dir", "train_data", "eval_data", "seed")},
        "baselines": base["validate"] if base else None,
        "baselines_test": base["test"] if base else None,
        "baseline_protocol": base["protocol"] if base else None,
        "baselines_source": (base.get("source") or "computed by circlearn.experiments.baselines")
        if base else None,
        "baselines_hit_at_one": base.get("validate_hit_at_one") if base else None,
        "baselines_hit_at_one_test": base.get("test_hit_at_one") if base else None,
        "variants_left_out": left_out,
        "sizes": data_sizes(SCALES[scale], layout).given(given["model"], given["train"]).to_dict(),
        "overrides": given,
        "comparisons": comparisons(exp.claims, variants),
        "comparisons_test": comparisons(exp.claims, variants, "test_gap"),
        "comparisons_hit_at_one": comparisons(exp.claims, variants, "hit_at_one"),
        "comparisons_hit_at_one_test": comparisons(exp.claims, variants, "test_hit_at_one"),
        "provenance": prov,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "jobs": jobs},
        "wall_seconds": wall_seconds, "variants": variants}
