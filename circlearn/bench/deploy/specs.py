"""Which models ``circlearn bench deploy`` measures, and which dense model each compact one faces.

Models (weights drawn at random with seed 0: size and latency do not depend on training):

- ``paper``: :data:`PAPER_PRESETS`, the paper's presets at full size (3,862 classes, rgb 1024
  + audio 128), with their dense counterparts, GAP from the paper's digitized figures; and
  :data:`PAPER_VARIANTS`, circlearn's named variants at that size (no paper GAP);
- every other scale of :data:`circlearn.experiments.SCALES` whose experiment results are
  stored (``<stored>/<scale>/<experiment>/results.json``, or the older
  ``<stored>/<experiment>/`` with its ``scale`` field; ``stored``: ``experiment_results``,
  ``--experiment-results DIR``, by default :data:`EXPERIMENT_RESULTS`, ``data_samples/results``
  under the working directory): the models of those results, with circlearn's measured GAP.
  A scale without stored results is listed in the notes as not measured.
- ``--quick``: two tiny models (``dbof`` and ``dbof-fc-circulant``).

Each compact model is compared with its preset's dense counterpart of the same scale
(:func:`dense_counterpart`, :func:`dense_rows`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["PAPER_PRESETS", "PAPER_VARIANTS", "EXPERIMENT_RESULTS", "dense_counterpart",
           "model_specs", "dense_rows"]

#: Paper presets of the table: each compact preset beside its dense counterpart.
PAPER_PRESETS = ("dbof", "dbof-fc-circulant", "netvlad", "netvlad-fc-circulant", "dbof-video",
                 "dbof-video-embedding-circulant", "dbof-video-fc-circulant",
                 "dbof-video-moe-circulant")
#: circlearn's named variants at paper size, measured beside the presets: name → (base
#: preset, ModelConfig overrides). Not paper presets: the paper reports no GAP for them.
PAPER_VARIANTS = {
    # fully compact video model: circulant embedding, FC and MoE (the MoE of
    # dbof-video-moe-circulant: plain circulant gates and experts, no context gating)
    "dbof-video-all-circulant": ("dbof-video-moe-circulant",
                                 {"embedding": "circulant", "fc": "circulant"}),
}
VARIANT_NOTE = ("dbof-video-all-circulant is a named circlearn variant, not a paper preset: "
                "dbof-video with a circulant embedding, a circulant FC and "
                "dbof-video-moe-circulant's circulant MoE (no context gating); the paper "
                "reports no GAP for it.")
#: Default folder of the stored experiment results, relative: under the working directory.
EXPERIMENT_RESULTS = Path("data_samples") / "results"


def dense_counterpart(preset: str) -> str | None:
    """``dbof-fc-circulant`` → ``dbof``, ``dbof-video-moe-circulant`` → ``dbof-video``."""
    dense = re.sub(r"-(fc|embedding|moe)-circulant(-sign)?$", "", preset)
    return None if dense == preset else dense


def dense_rows(rows: list[dict]) -> dict:
    """``{(scale, preset): row}`` of the plain presets: the rows a compact model is paired with.

    A variant that only shares a preset (fig-structures' ``dbof-low-rank-x16`` is ``dbof``
    with overrides) is not its preset's dense model, so only rows named after their preset
    (``"dbof"``, ``"dbof (quick)"``) count.
    """
    return {(r["scale"], r["preset"]): r for r in rows
            if r["model"].split(" (")[0] == r["preset"]}


def _paper_gap(preset: str) -> float | None:
    from circlearn.plotting.paper import PAPER_CURVES

    for curves in PAPER_CURVES.values():
        if preset in curves:
            values = [v for v in curves[preset][1] if v is not None]
            return values[-1]
    return None


def _stored_results(stored: Path, scale: str) -> list[dict]:
    """The stored results of ``scale``, the paper's figures first, then those beyond it in
    their registry order (a model stored by several figures is named after the first: the
    paper's, not fig-compress's projection of it), unknown experiments last."""
    from circlearn.experiments import BEYOND_PAPER, EXPERIMENTS

    found = sorted((stored / scale).glob("*/results.json"))
    if not found:  # the older layout: <stored>/<experiment>/results.json
        found = [p for p in sorted(stored.glob("*/results.json"))
                 if json.loads(p.read_text()).get("scale") == scale]
    order = {name: i for i, name in enumerate([*EXPERIMENTS, *BEYOND_PAPER])}
    results = [json.loads(p.read_text()) for p in found]
    return sorted(results, key=lambda r: order.get(r.get("experiment"), len(order)))


def _quick_specs() -> list[dict]:
    from circlearn.models import preset_config

    tiny = {"feature_sizes": (32, 8), "num_classes": 10, "hidden_size": 8}
    return [{"name": f"{p} (tiny)", "scale": "tiny", "preset": p, "dense": dense_counterpart(p),
             "config": preset_config(p, cluster_sizes=(32, 16), **tiny).to_dict(),
             "gap": None, "gap_source": None} for p in ("dbof", "dbof-fc-circulant")]


def model_specs(quick: bool = False, *, dedupe: bool = True,
                experiment_results: Path | str | None = None) -> tuple[list[dict], list[str]]:
    """The models to measure and notes on scales left out. ``dedupe``: a model stored by two
    figures (the same normalised configuration) is listed once, under its first name;
    ``dedupe=False`` lists every stored variant (what
    :func:`circlearn.bench.deploy.report.refresh_gaps` looks names up in).
    ``experiment_results``: the stored results' folder (default :data:`EXPERIMENT_RESULTS`)."""
    from circlearn.experiments import SCALES
    from circlearn.models import ModelConfig, preset_config

    if quick:
        return _quick_specs(), []
    specs = [{"name": p, "scale": "paper", "preset": p, "dense": dense_counterpart(p),
              "config": preset_config(p).to_dict(), "gap": _paper_gap(p),
              "gap_source": "paper (digitized, final epoch)"} for p in PAPER_PRESETS]
    specs += [{"name": name, "scale": "paper", "preset": base, "dense": dense_counterpart(base),
               "config": preset_config(base, **overrides).to_dict(), "gap": None,
               "gap_source": None} for name, (base, overrides) in PAPER_VARIANTS.items()]
    stored = Path(EXPERIMENT_RESULTS if experiment_results is None else experiment_results)
    notes, seen = [VARIANT_NOTE], set()
    for scale in SCALES:
        if scale == "paper":
            continue
        results = _stored_results(stored, scale)
        if not results:
            notes.append(f"scale {scale}: no stored experiment results in {stored / scale}/, "
                         f"not measured")
        for res in results:
            for v in res["variants"]:
                # normalised: a file written before a field existed still matches a newer one
                model = ModelConfig.from_dict(v["model"]).to_dict()
                key = (scale, json.dumps(model, sort_keys=True))
                if dedupe and key in seen:
                    continue
                seen.add(key)
                name = v.get("name") or v["preset"]
                specs.append({"name": f"{name} ({scale})", "scale": scale, "preset": v["preset"],
                              "dense": dense_counterpart(v["preset"]), "config": v["model"],
                              "gap": v.get("gap_mean", v.get("gap")), "params": v["params"],
                              "gap_source": f"circlearn {res['experiment']} ({scale})"})
    return specs, notes
