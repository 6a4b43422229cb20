"""A diagram of the paper's video classifier, with the three places that can be circulant.

The shapes come from a :class:`circlearn.models.ModelConfig` (the presets give the paper's
sizes), so the picture cannot drift from the models the library builds:

    per stream s (rgb F=1024, audio F=128), T sampled frames (T, F)
      embedding   F → K_s per frame        DBoF projection / NetVLAD-NetFV assignment  [1]
      pooling     (T, K_s) → P_s           DBoF: P = K (max over frames); NetVLAD: F·K; NetFV: 2·F·K
      FC          P_s → H                  one FC per stream (H = hidden_size = 512)   [2]
    concat of the streams → S·H
      MoE         S·H → V·(M+1) gates, S·H → V·M experts                               [3]
      context gating V × V (dense MoE only, as in the paper), output: V probabilities

[1]-[3] are the model config's layer kinds ``embedding``, ``fc`` and ``classifier_layer``.

Functions:

- :func:`model_layers`: the weight layers above as rows (place, stream, n_in, n_out, kind);
- :func:`plot_model`: the diagram, circulant-capable boxes highlighted and labelled.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from circlearn import reference as ref
from circlearn.models import ModelConfig

from .algebra import DPI

__all__ = ["model_layers", "plot_model"]

PLACES = ("embedding", "fc", "classifier_layer")


def _pooled_width(cfg: ModelConfig, features: int, clusters: int) -> int:
    """Width of one stream's pooled vector: ``K`` (DBoF), ``F·K`` (NetVLAD), ``2·F·K`` (NetFV)."""
    return {"dbof": clusters, "netvlad": features * clusters,
            "netfv": 2 * features * clusters}[cfg.pooling]


def model_layers(cfg: ModelConfig) -> list[dict]:
    """The weight layers of a frame-level model, in data-flow order.

    Each row: ``{"place", "stream", "n_in", "n_out", "kind"}`` with ``place`` one of
    ``"embedding"``, ``"fc"``, ``"classifier_layer"`` (the three places the paper can make
    circulant) or ``"context_gating"``; ``kind`` is the config's layer kind there
    (``"dense"``, ``"circulant"``, …). Raises ``ValueError`` for video-level models
    (``pooling=None``) or a non-MoE classifier, which have no such diagram.
    """
    if cfg.pooling not in ("dbof", "netvlad", "netfv"):
        raise ValueError(f"model_layers needs a frame-level model (pooling dbof/netvlad/netfv), "
                         f"got pooling={cfg.pooling!r}")
    if cfg.classifier != "moe":
        raise ValueError(f"model_layers draws the MoE classifier, got classifier={cfg.classifier!r}")
    used = cfg.feature_names if cfg.use_features is None else cfg.use_features
    if len(cfg.cluster_sizes) != len(used):
        raise ValueError(f"{len(used)} streams {tuple(used)} but cluster_sizes={cfg.cluster_sizes}")
    rows = []
    for stream, clusters in zip(used, cfg.cluster_sizes):
        features = cfg.feature_sizes[cfg.feature_names.index(stream)]
        rows.append({"place": "embedding", "stream": stream, "n_in": features, "n_out": clusters,
                     "kind": cfg.embedding})
        rows.append({"place": "fc", "stream": stream,
                     "n_in": _pooled_width(cfg, features, clusters), "n_out": cfg.hidden_size,
                     "kind": cfg.fc})
    fused, v, m = cfg.hidden_size * len(used), cfg.num_classes, cfg.num_mixtures
    rows.append({"place": "classifier_layer", "stream": "gates", "n_in": fused,
                 "n_out": v * (m + 1), "kind": cfg.classifier_layer})
    rows.append({"place": "classifier_layer", "stream": "experts", "n_in": fused, "n_out": v * m,
                 "kind": cfg.classifier_layer})
    if cfg.context_gating:
        rows.append({"place": "context_gating", "stream": "probabilities", "n_in": v, "n_out": v,
                     "kind": "dense"})
    return rows


def _box(ax, x, y, w, h, text, highlight=False):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02",
                                facecolor="#fde2c8" if highlight else "#eef0f4",
                                edgecolor="#d9480f" if highlight else "0.4",
                                lw=1.6 if highlight else 0.8))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=7.5)


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 0.8})


def plot_model(cfg: ModelConfig, title: str | None = None):
    """Block diagram of ``cfg`` (streams left to right); the three circulant places are orange.

    Every box that the paper can make circulant (embedding, FC, MoE) is highlighted and
    numbered, with its ``n_in → n_out`` shape and block count at these sizes.
    """
    rows = model_layers(cfg)
    streams = [r for r in rows if r["place"] == "embedding"]
    fcs = [r for r in rows if r["place"] == "fc"]
    gates, experts = [r for r in rows if r["place"] == "classifier_layer"]
    s = len(streams)
    fig, ax = plt.subplots(figsize=(13.0, 1.7 + 1.2 * s), dpi=DPI)
    h, top = 0.8, 1.15 * s
    ys = [top - 1.15 * (i + 1) + 0.2 for i in range(s)]
    pool_name = {"dbof": "max over frames", "netvlad": "NetVLAD residuals",
                 "netfv": "Fisher vector"}[cfg.pooling]
    for y, emb, fc in zip(ys, streams, fcs):
        _box(ax, 0.0, y, 1.5, h, f"{emb['stream']} frames\n(T, {emb['n_in']:,})")
        _box(ax, 1.9, y, 2.2, h, f"[1] embedding\n{emb['n_in']:,} → {emb['n_out']:,}\n"
             f"{_blocks(emb)}", highlight=True)
        _box(ax, 4.5, y, 1.7, h, f"{pool_name}\n→ {fc['n_in']:,}")
        _box(ax, 6.6, y, 2.2, h, f"[2] FC ({fc['stream']})\n{fc['n_in']:,} → {fc['n_out']:,}\n"
             f"{_blocks(fc)}", highlight=True)
        for x0, x1 in ((1.5, 1.9), (4.1, 4.5), (6.2, 6.6)):
            _arrow(ax, x0, y + h / 2, x1, y + h / 2)
    ymid = sum(ys) / s
    _box(ax, 9.2, ymid, 1.0, h, f"concat\n{gates['n_in']:,}")
    for y in ys:
        _arrow(ax, 8.8, y + h / 2, 9.2, ymid + h / 2)
    _box(ax, 10.6, ymid - 0.15, 2.6, h + 0.3,
         f"[3] MoE, M = {cfg.num_mixtures}\ngates {gates['n_in']:,} → {gates['n_out']:,}\n"
         f"experts {experts['n_in']:,} → {experts['n_out']:,}", highlight=True)
    _arrow(ax, 10.2, ymid + h / 2, 10.6, ymid + h / 2)
    x = 13.2
    if cfg.context_gating:
        _box(ax, 13.6, ymid, 1.9, h, f"context gating\n{cfg.num_classes:,} × {cfg.num_classes:,}")
        _arrow(ax, 13.2, ymid + h / 2, 13.6, ymid + h / 2)
        x = 15.5
    _box(ax, x + 0.4, ymid, 1.5, h, f"{cfg.num_classes:,} class\nprobabilities")
    _arrow(ax, x, ymid + h / 2, x + 0.4, ymid + h / 2)
    ax.set_xlim(-0.1, x + 2.0)
    ax.set_ylim(min(ys) - 0.5, top + 0.1)
    ax.axis("off")
    ax.text(0.0, min(ys) - 0.35, "orange [1]-[3]: the layers the paper can make circulant "
            "(model config: embedding, fc, classifier_layer); shapes n_in → n_out",
            fontsize=8, color="#d9480f")
    ax.set_title(title or f"{cfg.pooling} model, {len(streams)} streams, "
                 f"{cfg.num_classes:,} classes", fontsize=10)
    return fig


def _blocks(row: dict) -> str:
    """``"8 blocks of 1024"`` or ``"1 block of 8192, truncated"`` for a circulant at this shape."""
    n_in, n_out = row["n_in"], row["n_out"]
    b = ref.num_blocks(n_in, n_out)
    cut = ", cut" if b * n_in != n_out else ""
    return f"{b} block{'s' if b > 1 else ''} × {n_in:,}{cut}"
