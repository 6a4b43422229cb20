"""The derived evidence of a results dict: p-values, Holm's verdicts per family, flatness.

- A **family** is the comparisons of one figure on one split and one metric:
  ``comparisons`` (GAP on validate, the primary split, as in the paper),
  ``comparisons_test`` (GAP on test, the check), the same two for Hit@1
  (``comparisons_hit_at_one``, ``comparisons_hit_at_one_test``), and the
  variants' ``vs_linear_means`` (validate). :func:`with_holm` gives each comparison of a
  family its ``verdict_holm`` (:func:`circlearn.experiments.stats.holm_verdicts`).
- The **stopping rule's bookkeeping**: each variant's ``plateau_gain`` and ``plateau`` from
  its mean validate curve (:func:`circlearn.experiments.stats.plateau_gain`), and the
  top-level ``stopping`` (:func:`stopping`: the rule, the budget, which variants are flat).

:func:`complete` adds whatever of these a results dict lacks, computed from its stored
per-seed runs (the same functions on the same numbers as when the experiment ran), so the
report of a ``results.json`` written before these fields existed shows them too; without
runs to compute them from, p-values and ``verdict_holm`` are ``None``.
:func:`plateau_warnings` names the variants whose curve has not flattened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from circlearn.experiments.stats import (
    BETTER,
    DEFAULT_MARGIN,
    PLATEAU_THRESHOLD,
    STOPPING_RULE,
    holm_verdicts,
    is_plateau,
    p_values,
    plateau_gain,
)

__all__ = ["SPLITS", "PRIMARY_SPLIT", "paired_values", "with_holm", "plateau_fields",
           "stopping", "complete", "plateau_warnings"]

#: The comparison families of a results dict: ``(key, split, per-run field)``.
SPLITS = (("comparisons", "validate", "gap"), ("comparisons_test", "test", "test_gap"),
          ("comparisons_hit_at_one", "validate", "hit_at_one"),
          ("comparisons_hit_at_one_test", "test", "test_hit_at_one"))
PRIMARY_SPLIT = "validate"
#: ``train`` fields that make up the budget and the learning-rate schedule.
BUDGET_FIELDS = ("num_epochs", "max_steps", "batch_size", "eval_every_steps",
                 "base_learning_rate", "learning_rate_decay", "learning_rate_decay_examples")


def paired_values(variants: Sequence[Mapping], a: str, b: str, key: str = "gap"
                  ) -> tuple[list[float], list[float]] | None:
    """The per-seed ``key`` of variants ``a`` and ``b`` over their common seeds (sorted):
    ``(a_values, b_values)``; ``None`` without a common seed or with a missing value."""
    by_name = {v["name"]: v for v in variants}
    ra = {r["seed"]: r.get(key) for r in by_name[a].get("runs", [])}
    rb = {r["seed"]: r.get(key) for r in by_name[b].get("runs", [])}
    seeds = sorted(set(ra) & set(rb))
    if not seeds or any(ra[s] is None or rb[s] is None for s in seeds):
        return None
    return [ra[s] for s in seeds], [rb[s] for s in seeds]


def with_holm(family: Sequence[Mapping]) -> list[dict]:
    """Copies of one family's comparisons, each with its ``verdict_holm``."""
    return [{**c, "verdict_holm": v} for c, v in zip(family, holm_verdicts(family))]


def _holm_if_known(family: Sequence[Mapping]) -> list[dict]:
    """:func:`with_holm`, unless a comparison with an interval lacks its p-values (a results
    dict without runs to compute them from): then ``verdict_holm`` is ``None`` throughout."""
    if all(c.get("ci95") is None or c.get("p_holds") is not None for c in family):
        return with_holm([{**c, "p_holds": c.get("p_holds"), "p_fails": c.get("p_fails")}
                          for c in family])
    return [{**c, "verdict_holm": None} for c in family]


def plateau_fields(curve: Sequence[Mapping]) -> dict:
    """``{plateau_gain, plateau}`` of a mean curve (``[{epoch, gap, …}]``)."""
    gain = plateau_gain([point["gap"] for point in curve])
    return {"plateau_gain": gain, "plateau": is_plateau(gain)}


def stopping(results: Mapping) -> dict:
    """The top-level ``stopping`` entry: the rule, the budget and schedule every variant
    trained with (from ``train``, and the steps the runs took), and the flat variants."""
    train = results.get("train") or {}
    steps = [v["steps"] for v in results["variants"] if v.get("steps") is not None]
    budget = {"epochs": results.get("epochs"), "steps": max(steps) if steps else None,
              **{k: train[k] for k in BUDGET_FIELDS if k in train and k != "num_epochs"}}
    flat = [v["name"] for v in results["variants"] if v.get("plateau")]
    return {"rule": STOPPING_RULE, "threshold": PLATEAU_THRESHOLD,
            "window": "mean validate curve over seeds: mean of the last 20 % of evaluations "
                      "(rounded down, at least 2) minus the mean of as many before; no gain "
                      "(not flat) below 4 evaluations",
            "budget": budget, "flat": flat,
            "not_flat": [v["name"] for v in results["variants"] if v["name"] not in flat],
            "converged": len(flat) == len(results["variants"])}


def _p_filled(c: Mapping, variants: Sequence[Mapping], key: str) -> dict:
    """``c`` with ``p_holds`` and ``p_fails`` computed from the runs when it lacks them."""
    if "p_holds" in c and "p_fails" in c:
        return dict(c)
    pair = paired_values(variants, c["a"], c["b"], key)
    p = (None, None) if pair is None else p_values(
        c["claim"], [y - x for x, y in zip(*pair)],
        DEFAULT_MARGIN if c.get("margin") is None else c["margin"])
    return {**c, "p_holds": p[0], "p_fails": p[1]}


def _complete_variants(variants: Sequence[Mapping], baselines: Mapping | None) -> list[dict]:
    """Plateau fields, and the p-values and Holm verdicts of ``vs_linear_means``."""
    out = []
    for v in variants:
        v = dict(v)
        if "plateau_gain" not in v and v.get("curve"):
            v.update(plateau_fields(v["curve"]))
        vs = v.get("vs_linear_means")
        if vs is not None and "p_holds" not in vs and baselines and v.get("runs"):
            d = [r["gap"] - baselines["linear_means"] for r in v["runs"]]
            vs = {**vs, **dict(zip(("p_holds", "p_fails"), p_values(BETTER, d)))}
        v["vs_linear_means"] = vs
        out.append(v)
    family = [v["vs_linear_means"] for v in out if v["vs_linear_means"] is not None]
    if family and any("verdict_holm" not in c for c in family):
        adjusted = iter(_holm_if_known(family))
        for v in out:
            if v["vs_linear_means"] is not None:
                v["vs_linear_means"] = next(adjusted)
    return out


def complete(results: Mapping) -> dict:
    """A copy of ``results`` with every derived field it lacks: per comparison ``p_holds``,
    ``p_fails`` and ``verdict_holm``; per variant ``plateau_gain`` and ``plateau``; top level
    ``primary_split`` and ``stopping`` (placed after ``protocol``). Fields present are kept."""
    out = dict(results)
    out["variants"] = _complete_variants(results["variants"], results.get("baselines"))
    for key, _, field in SPLITS:
        family = [_p_filled(c, out["variants"], field) for c in results.get(key) or []]
        if any("verdict_holm" not in c for c in family):
            family = _holm_if_known(family)
        if key in results:
            out[key] = family
    extra = {k: v for k, v in (("primary_split", PRIMARY_SPLIT), ("stopping", None))
             if k not in out}
    if "stopping" in extra:
        extra["stopping"] = stopping(out)
    if not extra:
        return out
    keys = list(out)
    at = keys.index("protocol") + 1 if "protocol" in keys else len(keys)
    return {**{k: out[k] for k in keys[:at]}, **extra, **{k: out[k] for k in keys[at:]}}


def plateau_warnings(results: Mapping) -> list[str]:
    """One line per variant whose mean validate curve has not flattened."""
    lines = []
    for v in results["variants"]:
        if not v.get("plateau"):
            gain = v.get("plateau_gain")
            why = (f"plateau gain {gain:+.4f} ≥ {PLATEAU_THRESHOLD}" if gain is not None
                   else f"{len(v.get('curve') or [])} evaluations, fewer than 4")
            lines.append(f"[{results['experiment']}] warning: {v['name']} has not flattened "
                         f"({why}; rule: {STOPPING_RULE})")
    return lines
