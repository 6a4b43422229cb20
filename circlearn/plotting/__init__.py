"""Figure functions used by the notebooks, the experiments and the benchmarks.

Notebooks call these instead of carrying long plotting code (style.md §4.3). Submodules:
``circlearn.plotting.paper`` (the paper's figures: validation GAP vs epochs per variant, the
digitized curves), ``circlearn.plotting.structures`` (fig-structures: GAP against the FC's
parameters), ``circlearn.plotting.compress`` (fig-compress), ``circlearn.plotting.pareto``
(size against GAP and latency with the Pareto front), ``circlearn.plotting.algebra``
(circulant algebra lessons), ``circlearn.plotting.perf`` (speed and memory) and
``circlearn.plotting.data`` (YouTube-8M features and label statistics);
``circlearn.plotting.files`` writes the figures' PNG files (palette images, small enough to
store). matplotlib is imported by the submodules only.
"""
