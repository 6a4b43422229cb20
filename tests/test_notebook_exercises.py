"""Every self-checked exercise of the series rejects a wrong answer.

A check cell that accepts whatever the learner writes teaches nothing, and nbval cannot tell:
it only sees the worked solution pass. Here each notebook's code runs in-process, cell by cell
in order (IPython magics dropped, ``nbval-skip`` cells skipped, the parameters cell followed by
the CI-sized overrides of :data:`SMALL`). At each exercise a deliberately wrong answer
(:data:`WRONG`, one per exercise) replaces the worked solution, and its check cell must raise
``AssertionError``; then the worked solution runs, and the same check must pass.

Scope: every notebook of the series.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["00_setup_and_map", "01_circulant_matrices", "02_fft_diagonalisation",
             "03_diagonal_circulant_products", "04_torch_circulant_layers",
             "05_speed_and_memory", "06_youtube8m_features", "07_aggregation_dbof_netvlad_netfv",
             "08_training_compact_models", "09_reproducing_paper_figures", "10_real_sequences"]

#: CI-sized parameters, appended to a notebook's parameters cell (papermill's way).
SMALL = {
    "02_fft_diagonalisation": "SIZES = [16, 64]",
    "03_diagonal_circulant_products": "KS = [1, 3]\nFIT_STEPS = 5",
    "05_speed_and_memory": "SIZES = [64, 128]\nBATCH = 4\nROUNDS = 2",
    "08_training_compact_models": "EPOCHS = 1",
}

#: (notebook, exercise number) → a plausible wrong answer, and the mistake it makes.
WRONG = {
    ("00_setup_and_map", 4): "c_row = np.array([1.0, 2.0, 3.0, 4.0])  # the column, not the row",
    ("00_setup_and_map", 5): "fc_dense = 8192 * 512\nfc_circ = 8192  # the diagonal forgotten",
    ("01_circulant_matrices", 3): "eig_P = np.ones(N)  # roots of unity, but not all of them",
    ("01_circulant_matrices", 4): "c_row = np.arange(1.0, N + 1)  # the first column again",
    ("02_fft_diagonalisation", 3): "c_zero = c - c.mean()\nvanishing = N // 2  # not the mean",
    ("02_fft_diagonalisation", 4): "n_cross = 64  # a crossing, not the first one",
    ("03_diagonal_circulant_products", 3): "blocks_2500 = 2500 // 1000  # floor, not ceil\n"
                                           "last_rows_2500 = 500",
    ("03_diagonal_circulant_products", 4): "c_sym = ref.nearest_circulant(gauss)  # not symmetrised",
    ("04_torch_circulant_layers", 3): '''
class ScratchDiagCirculant(torch.autograd.Function):
    # forward right, backward forgets the diagonal in dL/dx
    @staticmethod
    def forward(ctx, x, c, d):
        ctx.save_for_backward(x, c, d)
        return torch.fft.irfft(torch.fft.rfft(x * d) * torch.fft.rfft(c), n=c.shape[-1])

    @staticmethod
    def backward(ctx, g):
        x, c, d = ctx.saved_tensors
        n = c.shape[-1]
        G = torch.fft.rfft(g)
        gz = torch.fft.irfft(G * torch.fft.rfft(c).conj(), n=n)
        corr = (G * torch.fft.rfft(x * d).conj()).reshape(-1, n // 2 + 1).sum(0)
        return gz, torch.fft.irfft(corr, n=n), (gz * x).reshape(-1, n).sum(0)
''',
    ("04_torch_circulant_layers", 4): "ok_odd = True\nbins_13 = 13 // 2  # bin 0 forgotten",
    ("04_torch_circulant_layers", 5): 'params_sign = ["bias", "c", "d"]\nbuffers_sign = []\n'
                                      "d_trained = True\nd_saved = True  # signs taken as trained",
    ("05_speed_and_memory", 4): "dense_mib = 4 * 1024 * 8192 / 2**20\n"
                                "circ_kib = 4 * 8 * 1024 / 2**10  # the diagonal forgotten",
    ("05_speed_and_memory", 5): "n_gib = 8192  # 256 MiB, not 1 GiB",
    ("06_youtube8m_features", 4): "max_err = 2 / 255  # the rounding only, offset forgotten",
    ("06_youtube8m_features", 5): "closest_byte = 128  # (0 + 2) * 255/4 = 127.5 rounded up",
    ("07_aggregation_dbof_netvlad_netfv", 3): 'dbof_avg = DBoF(FEATURES, CLUSTERS, pooling="average")'
                                              ".eval()\navg_invariant = False",
    ("07_aggregation_dbof_netvlad_netfv", 4): 'n_compact = count_parameters(from_preset(\n'
        '    "dbof-video", embedding="circulant", fc="circulant",\n'
        '    classifier_layer="circulant-plain", device="meta"))  # context gating kept',
    ("08_training_compact_models", 5): "saved_fc = (2048 + 128) * HIDDEN - (2048 + 128)  # the diagonal forgotten",
    ("08_training_compact_models", 6): """
from circlearn.experiments.stats import NO_WORSE, paired_t_interval, verdict
by_seed = {v["name"]: [r["gap"] for r in sorted(v["runs"], key=lambda r: r["seed"])] for v in stored["variants"]}
_, ci_netvlad = paired_t_interval(by_seed["netvlad-fc-circulant"], by_seed["netvlad"])  # dense minus compact
verdict_netvlad = verdict(NO_WORSE, ci_netvlad, margin=0.01)
""",
    ("08_training_compact_models", 7): "gap_raised = (1 / 1 + 2 / 2 + 3 / 3 + 4 / 4) / 4  # ranked positives, not M",
    ("09_reproducing_paper_figures", 5): """
from circlearn.experiments.stats import NO_WORSE, compare
layers = {v["preset"]: [run["gap"] for run in v["runs"]]
          for v in results["quick", "fig-layers"]["variants"]}
moe = compare("dbof-video-moe-circulant", layers["dbof-video-moe-circulant"], "dbof-video",
              layers["dbof-video"], NO_WORSE, margin=0.01)  # dense minus compact
""",
    ("09_reproducing_paper_figures", 6): """
learned = PAPER_CURVES["fig-dc-cd"]["dbof-fc-circulant"][1][-1]
fixed = PAPER_CURVES["fig-dc-cd"]["dbof-fc-circulant-sign-output"][1][-1]
paper_lo, paper_hi = learned - fixed - 0.001, learned - fixed + 0.001  # one value's error only
ours = next(c for c in results["quick", "fig-dc-cd"]["comparisons"]
            if c["a"] == "dbof-fc-circulant-sign-output")["ci95"]
below = ours[1] < paper_lo
""",
    ("10_real_sequences", 3): """
runs = {v["name"]: {run["seed"]: run["hit_at_one"] for run in v["runs"]}
        for v in results["spoken-digits", "fig-embeddings"]["variants"]}
seeds = sorted(runs["netvlad"])
diff, ci = paired_t_interval([runs["netvlad-fc-circulant"][s] for s in seeds],
                             [runs["netvlad"][s] for s in seeds])  # dense minus compact
""",
    ("10_real_sequences", 4): "n_saved = 128 * 64 - 128  # the diagonal forgotten",
}


def _source(cell) -> str:
    """The cell's code with IPython magics (``%matplotlib``, ``%timeit``) dropped."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in cell.source.splitlines())


def exercises(nb) -> dict[int, tuple[int, int]]:
    """``{exercise number: (index of the worked solution, index of the check)}``."""
    start = next(i for i, c in enumerate(nb.cells) if "## Summary / Exercises" in c.source)
    found = {}
    for i in range(start + 1, len(nb.cells)):
        m = re.match(r"\*\*Exercise (\d+)\.\*\*", nb.cells[i].source)
        if nb.cells[i].cell_type == "markdown" and m:
            found[int(m.group(1))] = (i + 1, i + 2)
    return found


@contextlib.contextmanager
def _global_state():
    """Restore what a notebook sets globally (threads, determinism, print options)."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    printoptions, rng = np.get_printoptions(), torch.get_rng_state()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        np.set_printoptions(**printoptions)
        torch.set_rng_state(rng)
        plt.close("all")


def _run(code: str, ns: dict, name: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, name, "exec"), ns)


def test_every_exercise_has_a_wrong_answer():
    found = {(stem, k) for stem in NOTEBOOKS
             for k in exercises(nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", 4))}
    assert found == set(WRONG), f"missing: {found - set(WRONG)}; stale: {set(WRONG) - found}"


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_checks_reject_the_wrong_answer_and_accept_the_solution(stem):
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    by_solution = {sol: (k, check) for k, (sol, check) in exercises(nb).items()}
    ns: dict = {"__name__": f"notebook_{stem}"}
    accepted = []
    with _global_state():
        for i, cell in enumerate(nb.cells):
            tags = cell.get("metadata", {}).get("tags", [])
            if cell.cell_type != "code" or "nbval-skip" in tags:
                continue
            code = _source(cell) + ("\n" + SMALL.get(stem, "") if "parameters" in tags else "")
            if i in by_solution:
                k, check = by_solution[i]
                _run(WRONG[stem, k], ns, f"{stem} exercise {k}, wrong answer")
                try:
                    _run(_source(nb.cells[check]), ns, f"{stem} exercise {k}, check")
                except AssertionError:
                    pass
                else:
                    accepted.append(k)
            _run(code, ns, f"{stem} cell {i}")
    assert not accepted, f"{stem}: the checks of exercises {accepted} accept a wrong answer"
