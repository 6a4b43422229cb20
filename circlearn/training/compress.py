r"""From a trained dense run to a compact one: project, re-estimate batch norm, fine-tune.

``circlearn compress --train-dir DENSE_RUN --out RUN --fc circulant|toeplitz|low-rank
[--rank R] [--embedding circulant] [--fine-tune-epochs N]`` (:func:`compress_run`):

1. **Load** the dense run (``DENSE_RUN/config.json`` and its latest checkpoint, or
   ``--checkpoint``). Data paths and training settings come from that ``config.json``;
   command-line options override them.
2. **Project** each chosen dense layer onto its structure, nearest in the Frobenius norm
   (:func:`project_layer`): the per-stream FC (``--fc``) and, with ``--embedding circulant``,
   the per-frame projection (DBoF embedding or NetVLAD/NetFV assignment). Every other tensor
   is copied unchanged.

   - ``toeplitz``: each diagonal's mean (``ToeplitzLinear.from_dense``);
   - ``low-rank``: the truncated SVD of rank ``R`` (``LowRankLinear.from_dense``);
   - ``circulant`` (the model's layer ``W = C · diag(d)``, learned ``d``): the set of such
     products is not a linear space and has no closed-form nearest point, so the projection
     used is onto the subspace ``d = 1``: ``c`` is the Frobenius-nearest block circulant
     (each wrapped diagonal's mean within each square block,
     :func:`circlearn.reference.nearest_block_circulant`) and ``d`` starts at ones, which
     fine-tuning then trains (``CirculantLinear.from_dense(W, diagonal="learned")``).
3. **Re-estimate batch norm** (:func:`reestimate_batch_norm`): the batch norms that follow a
   projected layer (``fc.*.bn`` and the context gating's; with ``--embedding`` every batch
   norm) get their running statistics recomputed, as a plain average over ``--bn-batches``
   training batches in training mode (frames sampled as in training, seeded).
4. **Evaluate** the dense model and the projected one (GAP on ``eval_data``), write the run
   folder with the projected model as its step-0 checkpoint
   (:func:`circlearn.training.loop.start_run`), **fine-tune** it for ``N`` epochs with
   :func:`circlearn.training.train` (``N = 0``: no training) and evaluate again.

``RUN`` is an ordinary run folder (``config.json``, ``metrics.jsonl``, ``checkpoints/``), built
in a temporary folder and renamed into place when everything succeeded, plus
``compress.json`` (source run and checkpoint, projections, sizes, GAPs, seconds). ``eval``,
``predict`` and ``export`` accept it; ``train`` on it continues the fine-tuning.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from circlearn.data.files import atomic_directory, atomic_write
from circlearn.models import VideoClassifier
from circlearn.models.size import count_parameters
from circlearn.nn import CirculantLinear, LowRankLinear, ToeplitzLinear
from circlearn.training.config import TrainConfig
from circlearn.training.evaluation import eval_loader, evaluate, load_model, model_inputs

__all__ = ["FC_KINDS", "EMBEDDING_KINDS", "CompressConfig", "project_layer", "compress_model",
           "reestimate_batch_norm", "compress_run", "format_report"]

FC_KINDS = ("circulant", "toeplitz", "low-rank")
EMBEDDING_KINDS = ("circulant",)


@dataclass(frozen=True)
class CompressConfig:
    """What ``circlearn compress`` does (module docstring).

    Attributes:
        fc: structure of the per-stream FC: ``"circulant"``, ``"toeplitz"`` or ``"low-rank"``.
        rank: rank of a ``"low-rank"`` FC (required for it, refused otherwise).
        embedding: ``"circulant"`` also compresses the per-frame projection; None keeps it.
        fine_tune_epochs: epochs of fine-tuning after the projection (0: none).
        bn_batches: training batches the batch-norm statistics are re-estimated on.
        checkpoint: the dense run's checkpoint (None: latest; ``"best"``, or a path).
    """

    fc: str
    rank: int | None = None
    embedding: str | None = None
    fine_tune_epochs: int = 1
    bn_batches: int = 50
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        if self.fc not in FC_KINDS:
            raise ValueError(f"--fc must be one of {', '.join(FC_KINDS)}, got {self.fc!r}")
        if self.fc == "low-rank" and (self.rank is None or self.rank < 1):
            raise ValueError(f"--fc low-rank needs --rank R >= 1, got {self.rank}")
        if self.fc != "low-rank" and self.rank is not None:
            raise ValueError(f"--rank applies to --fc low-rank only, not --fc {self.fc}")
        if self.embedding not in (None, *EMBEDDING_KINDS):
            raise ValueError(f"--embedding must be circulant, got {self.embedding!r}")
        if self.fine_tune_epochs < 0 or self.bn_batches < 1:
            raise ValueError(f"--fine-tune-epochs must be >= 0 and --bn-batches >= 1, got "
                             f"{self.fine_tune_epochs} and {self.bn_batches}")


def project_layer(layer: nn.Module, kind: str, rank: int | None = None, *,
                  n_factors: int = 1) -> nn.Module:
    """The ``kind`` layer nearest (Frobenius) to a dense ``nn.Linear`` (module docstring);
    a circulant one with ``n_factors > 1`` starts its extra factors as the identity."""
    weight, bias = layer.weight.detach(), None if layer.bias is None else layer.bias.detach()
    if kind == "circulant":
        return CirculantLinear.from_dense(weight, bias, diagonal="learned", n_factors=n_factors)
    if kind == "toeplitz":
        return ToeplitzLinear.from_dense(weight, bias)
    if kind == "low-rank":
        return LowRankLinear.from_dense(weight, rank, bias)
    raise ValueError(f"unknown structure {kind!r}")


def _targets(model: VideoClassifier, cc: CompressConfig) -> dict[str, str]:
    """``{module name: structure}`` of the layers to project; a non-dense one is an error."""
    cfg = model.config
    if not cfg.frame_level:
        raise ValueError("compress needs a frame-level model (a video-level model has no FC)")
    if cfg.fc != "dense":
        raise ValueError(f"--fc {cc.fc}: the run's FC is {cfg.fc!r}, not dense")
    targets = {f"fc.{s}.linear": cc.fc for s in model.fc}
    if cc.embedding is not None:
        if cfg.embedding != "dense":
            raise ValueError(f"--embedding {cc.embedding}: the run's embedding is "
                             f"{cfg.embedding!r}, not dense")
        for s, pool in model.pooling.items():
            name = "projection" if hasattr(pool, "projection") else "assignment"
            targets[f"pooling.{s}.{name}"] = cc.embedding
    return targets


def compress_model(dense: VideoClassifier, cc: CompressConfig) -> VideoClassifier:
    """The compact model: ``dense`` with its chosen layers projected (others copied)."""
    targets = _targets(dense, cc)
    changes = {"fc": cc.fc} if cc.rank is None else {"fc": cc.fc, "rank": cc.rank}
    if cc.embedding is not None:
        changes["embedding"] = cc.embedding
    compact = VideoClassifier(dense.config.replace(**changes))
    state = {k: v for k, v in dense.state_dict().items()
             if not any(k.startswith(f"{t}.") for t in targets)}
    for name, kind in targets.items():
        projected = project_layer(dense.get_submodule(name), kind, cc.rank,
                                  n_factors=dense.config.n_factors)
        state.update({f"{name}.{k}": v for k, v in projected.state_dict().items()})
    compact.load_state_dict(state)
    return compact.eval()


@torch.no_grad()
def reestimate_batch_norm(model: VideoClassifier, batches, names: list[str], *,
                          seed: int = 0) -> int:
    """Recompute the running statistics of the batch norms ``names`` (module names) as the
    plain average over ``batches`` (``momentum=None``), the model in training mode with
    frames sampled from a generator seeded with ``seed``; returns the batches used.

    The other batch norms stay in inference mode meanwhile: they normalize with their own
    running statistics, as at inference, and are left unchanged.
    """
    layers = [model.get_submodule(n) for n in names]
    momenta = [bn.momentum for bn in layers]
    generator = torch.Generator().manual_seed(seed)
    used = 0
    try:
        for bn in layers:
            bn.reset_running_stats()
            bn.momentum = None
        model.train()
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(m is bn for bn in layers):
                m.eval()
        device = next(model.parameters()).device
        for batch in batches:
            model(*model_inputs(batch, device), generator=generator)
            used += 1
    finally:
        for bn, m in zip(layers, momenta):
            bn.momentum = m
        model.eval()
    if used == 0:
        raise ValueError("no training batch to re-estimate the batch-norm statistics on")
    return used


def _following_batch_norms(model: VideoClassifier, cc: CompressConfig) -> list[str]:
    """The batch norms after a projected layer (module docstring, step 3)."""
    prefixes = ("",) if cc.embedding is not None else ("fc.", "context_gating.")
    return [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm1d)
            and n.startswith(prefixes)]


def _bn_batches(config: TrainConfig, count: int):
    for i, batch in enumerate(eval_loader(config.train_data, config,
                                          batch_size=config.batch_size)):
        if i >= count:
            return
        yield batch


def _gap(model: VideoClassifier, config: TrainConfig) -> float:
    return evaluate(model, eval_loader(config.eval_data, config), top_k=config.top_k)["gap"]


def compress_run(dense_dir, out_dir, cc: CompressConfig, overrides: dict | None = None) -> dict:
    """Compress the run ``dense_dir`` into the new run folder ``out_dir`` (module docstring);
    ``overrides``: ``TrainConfig`` fields replacing the dense run's. Returns the report."""
    from circlearn.training import train
    from circlearn.training.loop import start_run

    tick = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValueError(f"--out {out_dir} exists and is not an empty folder")
    dense, config, info = load_model(dense_dir, cc.checkpoint, "cpu")
    compact = compress_model(dense, cc)
    config = TrainConfig.from_dict({**config.to_dict(), **(overrides or {}),
                                    "model": compact.config.to_dict(),
                                    "num_epochs": max(cc.fine_tune_epochs, 1),
                                    "max_steps": None, "run_dir": str(out_dir)})
    if not config.eval_data:
        raise ValueError(f"{dense_dir}/config.json has no eval_data: pass --eval-data-pattern")
    bn = reestimate_batch_norm(compact, _bn_batches(config, cc.bn_batches),
                               _following_batch_norms(compact, cc), seed=config.seed)
    report = {"source": str(dense_dir), "checkpoint": info["path"], "fc": cc.fc,
              "rank": cc.rank, "embedding": cc.embedding, "bn_batches": bn,
              "fine_tune_epochs": cc.fine_tune_epochs,
              "parameters": {"dense": count_parameters(dense), "compact": count_parameters(compact)},
              "gap": {"dense": _gap(dense, config), "projected": _gap(compact, config)}}
    with atomic_directory(out_dir) as tmp:
        work = TrainConfig.from_dict({**config.to_dict(), "run_dir": str(tmp)})
        start_run(work, compact.state_dict())
        if cc.fine_tune_epochs:
            train(work)
            compact, _, _ = load_model(tmp, None, "cpu")
        report["gap"]["fine_tuned"] = _gap(compact, config) if cc.fine_tune_epochs else None
        (tmp / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        report["seconds"] = time.perf_counter() - tick
        with atomic_write(tmp / "compress.json", "w") as f:
            f.write(json.dumps(report, indent=2) + "\n")
    report["run_dir"] = str(out_dir)
    return report


def format_report(report: dict) -> str:
    """The lines ``circlearn compress`` prints: size, GAP before and after, time."""
    p, g = report["parameters"], report["gap"]
    tuned = "not fine-tuned" if g["fine_tuned"] is None else \
        f"after {report['fine_tune_epochs']} fine-tuning epoch(s) {g['fine_tuned']:.4f}"
    return (f"compressed {report['source']} into {report['run_dir']}: FC {report['fc']}"
            + (f" (rank {report['rank']})" if report["rank"] else "")
            + (f", embedding {report['embedding']}" if report["embedding"] else "") + "\n"
            f"parameters {p['dense']:,} → {p['compact']:,} ({p['compact'] / p['dense']:.3f}×, "
            f"fp32 {4 * p['dense'] / 1e6:.2f} MB → {4 * p['compact'] / 1e6:.2f} MB)\n"
            f"GAP dense {g['dense']:.4f}; projected (batch norm re-estimated on "
            f"{report['bn_batches']} batches) {g['projected']:.4f}; {tuned}\n"
            f"{report['seconds']:.1f} s")
