"""The protocol of a real dataset, chosen by k-fold cross-validation on its training split.

The reported split (``validate``) and the check (``test``) are never read. The training
split's records are dealt into ``k`` stratified folds (seed 0); for each fold, every
``fig-embeddings`` variant (DBoF, NetVLAD and NetFV, dense and circulant FC) trains on the
other folds with seed 0 under each candidate learning rate, for ``--max-epochs`` epochs,
evaluated after every epoch on the held-out fold. Everything else is the quick scale's
protocol with the data's widths (:mod:`circlearn.experiments.adapt`), and every frame is
pooled at evaluation (``eval_sampling=all``: the sequences are short), fixed in advance.

The rule, fixed before any number was seen:

1. **learning rate**: the candidate with the highest mean, over the three dense variants, of
   the fold-mean GAP after the last epoch (ties: the smaller rate);
2. **epochs**: with that rate, the smallest ``E >= 5`` at which every variant's fold-mean
   GAP curve up to epoch ``E`` is flat under the stopping rule
   (:func:`circlearn.experiments.stats.plateau_gain` < 0.003), else ``--max-epochs``.

Usage (stores ``benchmarks/results/real_protocol-<name>.{json,md}``)::

    python -m benchmarks.real_protocol --data data/fsdd --name spoken-digits \\
        --out runs/protocol-fsdd --folds 3 --rates 1e-3,3e-3,1e-2 --max-epochs 20
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from circlearn.data.arrays import stratified_split
from circlearn.data.layout import resolve_data
from circlearn.data.tfrecord import read_records, write_records
from circlearn.data.yt8m import read_frame_examples
from circlearn.experiments import experiment_configs
from circlearn.experiments.report import markdown_table
from circlearn.experiments.stats import STOPPING_RULE, is_plateau, plateau_gain
from circlearn.training import train

DENSE = ("dbof", "netvlad", "netfv")
FIXED = {"eval_sampling": "all"}
MIN_EPOCHS = 5


def make_folds(data: Path, out: Path, k: int, seed: int = 0) -> list[Path]:
    """``k`` datasets whose train/validate are the other folds / one fold of ``data``'s
    training split (stratified by first label), with ``data``'s ``dataset.json``."""
    layout = resolve_data(data)
    payloads, labels = [], []
    for path in layout.files("train"):
        payloads += list(read_records(path))
        labels += [ex.labels.tolist() for ex in read_frame_examples(
            path, layout.feature_names, list(layout.feature_sizes), layout.num_classes)]
    n = len(payloads)
    sizes = [n // k + (i < n % k) for i in range(k)]
    folds = stratified_split(labels, sizes, seed)
    dirs = []
    for i, held in enumerate(folds):
        folder = out / "folds" / f"fold{i}"
        if not (folder / "dataset.json").is_file():
            (folder / "frame").mkdir(parents=True, exist_ok=True)
            rest = np.setdiff1d(np.arange(n), held)
            write_records(folder / "frame" / "train0000.tfrecord", [payloads[j] for j in rest])
            write_records(folder / "frame" / "validate0000.tfrecord", [payloads[j] for j in held])
            meta = json.loads(Path(layout.source).read_text())
            meta.pop("baselines", None)
            meta["source"] = {**meta.get("source", {}), "fold": i, "folds": k, "fold_seed": seed}
            (folder / "dataset.json").write_text(json.dumps(meta, indent=1) + "\n")
            shutil.copy(layout.root / "vocabulary.csv", folder / "vocabulary.csv")
        dirs.append(folder)
    return dirs


def _curves(fold: Path, out: Path, rate: float, epochs: int) -> dict[str, dict]:
    """Every fig-embeddings variant trained on one fold: ``{variant: {gap, hit_at_one}}``."""
    configs = experiment_configs("fig-embeddings", "quick", out, seed=0, layout=resolve_data(fold),
                                 epochs=epochs, model_overrides=FIXED, train_overrides={
                                     "base_learning_rate": rate, "tensorboard": False})
    result = {}
    for cfg in configs:
        train(cfg)
        rows = [json.loads(line) for line in (Path(cfg.run_dir) / "metrics.jsonl").read_text()
                .splitlines()]
        result[cfg.preset] = {"gap": [r["gap"] for r in rows],
                              "hit_at_one": [r["hit_at_one"] for r in rows]}
    return result


def first_flat(curve: list[float]) -> int | None:
    for e in range(MIN_EPOCHS, len(curve) + 1):
        if is_plateau(plateau_gain(curve[:e])):
            return e
    return None


def choose(mean: dict[float, dict[str, list[float]]], max_epochs: int) -> dict:
    """The rule of the module docstring on fold-mean GAP curves ``{rate: {variant: curve}}``."""
    score = {r: float(np.mean([c[v][-1] for v in DENSE])) for r, c in mean.items()}
    best = max(sorted(score), key=lambda r: score[r])
    epochs = next((e for e in range(MIN_EPOCHS, max_epochs + 1)
                   if all(is_plateau(plateau_gain(c[:e])) for c in mean[best].values())),
                  max_epochs)
    return {"rate": best, "epochs": epochs, "dense_final_gap": score,
            "converged": all(is_plateau(plateau_gain(c[:epochs])) for c in mean[best].values())}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--name", required=True, help="the dataset's name in the stored files")
    p.add_argument("--out", required=True)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--rates", default="1e-3,3e-3,1e-2")
    p.add_argument("--max-epochs", type=int, default=20)
    p.add_argument("--store", default="benchmarks/results")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out, rates = Path(args.out), [float(r) for r in args.rates.split(",")]
    tick = time.perf_counter()
    folds = make_folds(Path(args.data), out, args.folds)
    per_fold = {r: [_curves(f, out / f"lr{r:g}" / f.name, r, args.max_epochs) for f in folds]
                for r in rates}
    mean = {r: {v: np.mean([f[v]["gap"] for f in runs], axis=0).tolist() for v in runs[0]}
            for r, runs in per_fold.items()}
    hits = {r: {v: np.mean([f[v]["hit_at_one"] for f in runs], axis=0).tolist()
                for v in runs[0]} for r, runs in per_fold.items()}
    chosen = choose(mean, args.max_epochs)
    record = {"data": args.name, "folds": args.folds, "fold_seed": 0, "seed": 0, "rates": rates,
              "max_epochs": args.max_epochs, "fixed": {**FIXED, "scale": "quick"},
              "stopping_rule": STOPPING_RULE, "chosen": chosen, "mean_gap": mean,
              "mean_hit_at_one": hits, "per_fold": per_fold,
              "seconds": round(time.perf_counter() - tick, 1)}
    store = Path(args.store)
    (store / f"real_protocol-{args.name}.json").write_text(json.dumps(record, indent=1) + "\n")
    (store / f"real_protocol-{args.name}.md").write_text(report(record))
    print(report(record))


def report(record: dict) -> str:
    rows = []
    for rate, curves in record["mean_gap"].items():
        for v, c in curves.items():
            flat = first_flat(c)
            rows.append([f"{float(rate):g}", v, " ".join(f"{g:.3f}" for g in c[::2]),
                         f"{record['mean_hit_at_one'][rate][v][-1]:.3f}",
                         f"{plateau_gain(c):+.4f}", "never" if flat is None else str(flat)])
    ch = record["chosen"]
    return "\n".join([
        f"# Protocol of {record['data']}: {record['folds']}-fold cross-validation on train", "",
        f"Seed 0, folds stratified with seed 0, the quick scale's protocol with the data's "
        f"widths and {record['fixed']['eval_sampling']} frames at evaluation; candidates: "
        f"Adam {', '.join(f'{r:g}' for r in record['rates'])}, {record['max_epochs']} epochs. "
        f"Rule: the rate with the best mean final fold-mean GAP of the dense variants, then "
        f"the smallest budget >= {MIN_EPOCHS} epochs at which every variant's fold-mean curve "
        f"is flat ({record['stopping_rule']}). The validate and test splits were not read.",
        "", markdown_table(rows, ["rate", "variant", "fold-mean GAP, every 2nd epoch",
                                  "final Hit@1", "plateau gain (all epochs)", "first flat epoch"],
                           align="llllrr").rstrip("\n"), "",
        f"Dense variants' mean final GAP per rate: "
        + ", ".join(f"{float(r):g}: {g:.4f}" for r, g in ch["dense_final_gap"].items()) + ".",
        f"**Chosen: Adam {ch['rate']:g}, {ch['epochs']} epochs** "
        f"({'every variant flat' if ch['converged'] else 'not every variant flat by then'}). "
        f"{record['seconds']:.0f} s.", ""])


if __name__ == "__main__":
    main()
