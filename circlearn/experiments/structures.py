r"""``fig-structures``: circulant against other structures at the same budget.

The FC after pooling (DBoF and NetVLAD, both streams) is replaced by, per pooling:

==================== =========================================================================
variant              FC after pooling
==================== =========================================================================
``dense``            ``nn.Linear`` (the reference)
``thin``             a dense FC with a smaller ``hidden_size`` ``h`` so that its weights match
                     the circulant FC's count: ``h = max(1, round(P_circ / Σ_s in_s))``
                     (``h = 2`` whenever ``in_s >= hidden``: the circulant FC has ``2 · in_s``
                     weights). The classifier then reads ``h`` features per stream instead of
                     ``hidden_size``.
``circulant-k1/2/4`` ``CirculantLinear`` with a learned diagonal and 1, 2, 4 factors
``toeplitz``         ``ToeplitzLinear`` (``in + out − 1`` weights)
``low-rank-x1/4/16`` ``LowRankLinear`` with ``m`` = 1, 4, 16 times the circulant FC's count:
                     one rank for every stream, ``r = max(1, round(m · P_circ / Σ_s (in_s +
                     out)))``, capped per layer at ``min(in, out)`` (so the budget is met
                     within half a rank's worth of weights: ``Σ_s (in_s + out) / 2``)
==================== =========================================================================

``P_circ`` is the trainable parameter count of the one-factor circulant FCs of both streams
(``2 · in_s`` each). At the paper's DBoF shapes (8192 → 512 and 4096 → 512) the equal-budget
rank is ``round(24576 / 13312) = 2``; at the quick scale's (256 → 64, 128 → 64) it is
``round(768 / 512) = 2`` (half to even).

Initialization: every FC's represented weight entries have standard deviation
``1/√hidden`` (the paper's rule for the FC, ``paper.md`` §2.4): dense and thin ``N(0,
1/hidden)`` (the thin FC with its own, smaller ``hidden``); circulant ``c, d ~ N(0,
1/hidden)`` (the paper's); Toeplitz ``t ~ N(0, 1/hidden)``; low rank ``U, V ~ N(0, s²)`` with
``rank · s⁴ = 1/hidden``. Batch norm follows every FC.

The medium figure leaves out ``circulant-k2`` and ``low-rank-x4`` (``--variants``), each between
two kept variants of its kind, to fit its budget (``benchmarks/fig_structures_cost.py``).

Its table is :func:`circlearn.experiments.report.format_table`, its figure
:func:`circlearn.plotting.structures.plot_structures`; the batch-1 latency of each variant is
measured by the function that :func:`~circlearn.experiments.reproduce` is given (the command
line passes :func:`circlearn.bench.models.batch1_latency_ms`).
"""

from __future__ import annotations

import torch

__all__ = ["NAME", "POOLINGS", "KINDS", "resolve_budget", "fc_parameters", "variant_details"]

#: The experiment's name in :data:`circlearn.experiments.BEYOND_PAPER`.
NAME = "fig-structures"
POOLINGS = ("dbof", "netvlad")
#: (suffix, label, kind, overrides); ``thin_fc`` and ``rank_budget`` are resolved per data.
KINDS = (
    ("dense", "dense", "dense", {}),
    ("thin", "thin dense (circulant's count)", "thin", {"thin_fc": 1}),
    ("circulant-k1", "circulant, 1 factor", "circulant", {"fc": "circulant", "n_factors": 1}),
    ("circulant-k2", "circulant, 2 factors", "circulant", {"fc": "circulant", "n_factors": 2}),
    ("circulant-k4", "circulant, 4 factors", "circulant", {"fc": "circulant", "n_factors": 4}),
    ("toeplitz", "Toeplitz", "toeplitz", {"fc": "toeplitz"}),
    ("low-rank-x1", "low rank, 1x circulant's count", "low-rank",
     {"fc": "low-rank", "rank_budget": 1}),
    ("low-rank-x4", "low rank, 4x", "low-rank", {"fc": "low-rank", "rank_budget": 4}),
    ("low-rank-x16", "low rank, 16x", "low-rank", {"fc": "low-rank", "rank_budget": 16}),
)
_KIND_OF = {f"{p}-{suffix}": kind for p in POOLINGS for suffix, _, kind, _ in KINDS}


def fc_parameters(model: torch.nn.Module) -> int:
    """Trainable parameters of the FCs after pooling (``model.fc.<stream>.linear``)."""
    return sum(p.numel() for fc in model.fc.values() for p in fc.linear.parameters()
               if p.requires_grad)


def resolve_budget(preset: str, overrides: dict) -> dict:
    """Replace ``thin_fc`` / ``rank_budget`` by the ``hidden_size`` / ``rank`` they mean
    (module docstring) for ``preset`` with the other ``overrides``; other keys pass through.

    >>> resolve_budget("dbof", {"fc": "low-rank", "rank_budget": 1})["rank"]   # paper shapes
    2
    >>> resolve_budget("dbof", {"thin_fc": 1})["hidden_size"]
    2
    """
    from circlearn.models import VideoClassifier, preset_config

    overrides = dict(overrides)
    thin, budget = overrides.pop("thin_fc", None), overrides.pop("rank_budget", None)
    if thin is None and budget is None:
        return overrides
    ref = {k: v for k, v in overrides.items() if k not in ("fc", "n_factors", "rank")}
    model = VideoClassifier(preset_config(preset, **ref, fc="circulant", n_factors=1),
                            device="meta")
    p_circ = fc_parameters(model)
    ins = [fc.linear.in_features for fc in model.fc.values()]
    if thin is not None:
        overrides["hidden_size"] = max(1, round(thin * p_circ / sum(ins)))
    if budget is not None:
        hidden = model.config.hidden_size
        overrides["rank"] = max(1, round(budget * p_circ / sum(i + hidden for i in ins)))
    return overrides


def variant_details(name: str, config) -> dict:
    """``kind``, ``fc_params``, ``hidden_size``, the low-rank FCs' ranks as built (after the
    ``min(in, out)`` cap; ``"a/b"`` when the streams differ), ``n_factors`` and ``fc``."""
    from circlearn.models import VideoClassifier

    model = VideoClassifier(config, device="meta")
    ranks = sorted({fc.linear.rank for fc in model.fc.values() if hasattr(fc.linear, "rank")})
    return {"kind": _KIND_OF.get(name, "dense"), "fc_params": fc_parameters(model),
            "hidden_size": config.hidden_size, "rank": "/".join(map(str, ranks)) or None,
            "n_factors": config.n_factors, "fc": config.fc}
