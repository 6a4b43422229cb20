"""Experiments: the paper's figures, and fig-structures beyond them, as named runs over seeds.

``circlearn experiment NAME --scale quick|medium|paper --seeds N`` (or :func:`reproduce`)
trains every variant of a figure with seeds ``0 … N−1`` into ``runs/<variant>/seed<k>/``;
variants with the same seed see the same data order, so their differences are paired. It
writes the evidence into the output folder: ``results.json`` (every run, mean ± std per
variant, baselines, the figure's claims as paired comparisons with verdicts, provenance),
``table.md`` and ``figure.png``. The package, bottom up:

- :mod:`~circlearn.experiments.stats`: spread over seeds, paired t-intervals, verdicts,
  p-values and Holm's correction, the plateau gain of a curve;
- :mod:`~circlearn.experiments.evidence`: Holm's families, plateau and stopping fields of a
  results dict (also derived for an older ``results.json`` from its runs);
- :mod:`~circlearn.experiments.baselines`: the class-prior and linear-on-means predictors;
- :mod:`~circlearn.experiments.structures`: fig-structures' variants and FC budgets;
- :mod:`~circlearn.experiments.report`: aggregates, comparisons, the markdown tables, the
  files of an output folder;
- :mod:`~circlearn.experiments.provenance`: commit, clean-tree check, command, versions,
  data hash and draw;
- :mod:`~circlearn.experiments.reuse` and :mod:`~circlearn.experiments.progress`: which run
  directories a rerun may continue or reuse; the per-run and overall progress lines;
- :mod:`~circlearn.experiments.registry`: the figures (:data:`EXPERIMENTS`,
  :data:`BEYOND_PAPER`), the scales (:data:`SCALES`), each run's configuration;
- :mod:`~circlearn.experiments.runner`: :func:`reproduce`, one run, the baselines' cache;
- :mod:`~circlearn.experiments.cli`: the command line (only :mod:`circlearn.cli` imports it).
"""

from circlearn.experiments.registry import (
                                            BEYOND_PAPER,
                                            EXPERIMENTS,
                                            SCALES,
                                            Experiment,
                                            Variant,
                                            data_layout,
                                            experiment_configs,
)
from circlearn.experiments.runner import reproduce

__all__ = ["EXPERIMENTS", "BEYOND_PAPER", "SCALES", "Experiment", "Variant", "reproduce",
           "experiment_configs", "data_layout"]
