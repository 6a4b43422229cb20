"""Experiments: the paper's figures, and fig-structures beyond them, as named runs over seeds.

``circlearn experiment NAME --scale quick|medium|paper --seeds N`` trains every variant of a
figure with seeds ``0 … N−1`` and writes its evidence (``results.json``, ``table.md``,
``figure.png``). The package, bottom up:

- :mod:`~circlearn.experiments.stats`: spread over seeds, paired t-intervals, verdicts;
- :mod:`~circlearn.experiments.baselines`: the class-prior and linear-on-means predictors;
- :mod:`~circlearn.experiments.report`: aggregates, comparisons, provenance, ``table.md``;
- :mod:`~circlearn.experiments.structures`: fig-structures' variants and budgets;
- :mod:`~circlearn.experiments.runner`: one training run, its test GAP, the baselines;
- :mod:`~circlearn.experiments.registry`: the figures, the scales, :func:`reproduce`;
- :mod:`~circlearn.experiments.cli`: the command line (only :mod:`circlearn.cli` imports it).
"""

from circlearn.experiments.registry import (BEYOND_PAPER, EXPERIMENTS, SCALES, Experiment,
                                            Variant, data_layout, experiment_configs, reproduce)

__all__ = ["EXPERIMENTS", "BEYOND_PAPER", "SCALES", "Experiment", "Variant", "reproduce",
           "experiment_configs", "data_layout"]
