"""Provenance, the clean-tree rule for stored results, safe run reuse and progress lines
(``circlearn.experiments.provenance``, ``.reuse``, ``.progress``), on tiny experiments."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

import circlearn.experiments.runner as runner
from circlearn.cli import main
from circlearn.data import samples
from circlearn.data.tfrecord import read_records, write_records
from circlearn.experiments import EXPERIMENTS, reproduce
from circlearn.experiments.progress import Progress
from circlearn.experiments.provenance import check_tree, git_state

TINY = dict(seeds=1, epochs=1, baselines=False,
            model_overrides={"hidden_size": 8, "n_bagging": 1, "iterations": 4},
            train_overrides={"max_steps": 2, "eval_every_steps": 2, "batch_size": 50,
                             "tensorboard": False})
NAMES = [v.name for v in EXPERIMENTS["fig-dc-cd"].variants]


def _git(root, *args) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git checkout with a committed file and a data_samples/results folder."""
    root = tmp_path / "repo"
    (root / "data_samples" / "results").mkdir(parents=True)
    (root / "data_samples" / "results" / "README.md").write_text("stored\n")
    (root / "code.py").write_text("x = 1\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "start")
    return root


def test_stored_results_need_a_clean_tree_or_allow_dirty(repo):
    head = _git(repo, "rev-parse", "HEAD")
    stored = repo / "data_samples" / "results" / "quick" / "fig-x"
    assert check_tree(repo, stored) == {"commit": head, "dirty": False}
    (repo / "new_file.py").write_text("untracked files do not count\n")
    assert check_tree(repo, stored)["dirty"] is False
    (repo / "code.py").write_text("x = 2\n")
    with pytest.raises(ValueError, match="uncommitted changes.*--allow-dirty"):
        check_tree(repo, stored)
    with pytest.raises(ValueError, match="uncommitted changes"):  # a path that resolves there
        check_tree(repo, repo / "elsewhere" / ".." / "data_samples" / "results" / "x")
    diff = subprocess.run(["git", "diff", "HEAD"], cwd=repo, capture_output=True).stdout
    assert check_tree(repo, stored, allow_dirty=True) == {
        "commit": head, "dirty": True, "diff_sha256": hashlib.sha256(diff).hexdigest()}
    # outside the stored results nothing is refused; the state is recorded as it is
    assert check_tree(repo, repo / "runs" / "x") == {"commit": head, "dirty": True}
    assert check_tree(None, stored) == {"commit": None, "dirty": None}  # not a checkout


def test_reproduce_refuses_before_any_work(repo, monkeypatch):
    (repo / "code.py").write_text("x = 2\n")
    monkeypatch.setattr(runner, "repository_root", lambda: repo)
    out = repo / "data_samples" / "results" / "quick" / "fig-dc-cd"
    with pytest.raises(ValueError, match="--allow-dirty"):
        reproduce("fig-dc-cd", "quick", out, log=lambda m: None, **TINY)
    assert not out.exists()


def test_head_moving_during_a_run_is_warned(repo):
    start = git_state(repo)
    (repo / "code.py").write_text("x = 3\n")
    _git(repo, "commit", "-qam", "moved")
    lines, prov = [], {}
    runner._check_head(repo, start, prov, lines.append)
    assert prov["commit_end"] == _git(repo, "rev-parse", "HEAD") != start["commit"]
    assert len(lines) == 1 and "HEAD moved during the run" in lines[0]
    runner._check_head(repo, git_state(repo), {}, lines.append)
    assert len(lines) == 1


def test_cli_passes_allow_dirty_and_the_command_line(tmp_path, monkeypatch):
    import circlearn.experiments as ex

    seen = {}

    def fake(name, scale, out, **kw):
        seen.update(kw)
        raise ValueError("stop here")

    monkeypatch.setattr(ex, "reproduce", fake)
    argv = ["experiment", "fig-dc-cd", "--allow-dirty", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert seen["allow_dirty"] is True and seen["command"] == ["circlearn", *argv]
    assert main(argv[:2] + argv[3:]) == 2 and seen["allow_dirty"] is False


def test_progress_lines_and_a_rerun_reuses_finished_runs(tmp_path):
    out, lines = tmp_path / "out", []
    first = reproduce("fig-dc-cd", "quick", out, log=lines.append, **TINY)
    done = [line for line in lines if " runs done, " in line]
    assert done[0].startswith("[fig-dc-cd] 0/3 runs done, ")
    assert "1/3 runs done" in done[1] and " elapsed, about " in done[1] and " left" in done[1]
    assert done[-1].startswith("[fig-dc-cd] 3/3 runs done, ") and done[-1].endswith("finished")
    assert [line.split(":")[0] for line in lines if ": GAP " in line] == \
        [f"[fig-dc-cd] {name} seed 0" for name in NAMES]
    prov = first["provenance"]
    assert prov["reused"] == [] and prov["data_draw"] == 0 and prov["command"] is None
    assert set(prov["versions"]) == {"python", "numpy", "torch"} and "dirty" in prov
    assert not prov["commit"] or "+" not in prov["commit"]
    assert [len(prov["load_average"][k]) for k in ("start", "middle", "end")] == [3, 3, 3]
    assert first["wall_seconds"] > 0
    assert first["data"]["train"] == "frame/train*.tfrecord"
    assert first["data"]["sizes_from"] == "dataset.json"

    lines.clear()
    again = reproduce("fig-dc-cd", "quick", out, log=lines.append, **TINY)
    assert again["provenance"]["reused"] == [
        {"variant": name, "seed": 0, "copied": False, "source": f"runs/{name}/seed0"}
        for name in NAMES]
    assert sum("seed 0: GAP" in line and "(reused, trained in " in line for line in lines) == 3
    assert not any(line.startswith("retraining") for line in lines)
    for ours, theirs in zip(again["variants"], first["variants"]):
        assert ours["runs"] == theirs["runs"]


def _flip_one_feature_byte(path) -> None:
    """Change the last byte of the first record (a frame feature byte: the frame lists close
    the payload) and rewrite the file with valid CRCs: same file size and record count."""
    payloads = list(read_records(path))
    first = bytearray(payloads[0])
    first[-1] ^= 0x01
    payloads[0] = bytes(first)
    size = path.stat().st_size
    write_records(path, payloads, compression=None)
    assert path.stat().st_size == size and len(list(read_records(path))) == len(payloads)


def test_reuse_is_refused_when_the_data_bytes_change_but_not_the_counts(tmp_path):
    data = tmp_path / "set"
    shutil.copytree(samples.path("yt8m"), data)
    out, lines = tmp_path / "out", []
    first = reproduce("fig-dc-cd", "quick", out, data=str(data), log=lines.append, **TINY)
    _flip_one_feature_byte(data / "frame" / "train0000.tfrecord")
    again = reproduce("fig-dc-cd", "quick", out, data=str(data), log=lines.append, **TINY)
    assert again["provenance"]["data_sha256"] != first["provenance"]["data_sha256"]
    assert again["provenance"]["reused"] == []
    retrained = [line for line in lines if line.startswith("retraining ")]
    assert len(retrained) == 3 and all("its data differ" in line for line in retrained)


def test_reuse_is_refused_without_the_record_or_with_another_configuration(tmp_path):
    out, lines = tmp_path / "out", []
    reproduce("fig-dc-cd", "quick", out, log=lambda m: None, **TINY)
    (out / "runs" / NAMES[0] / "seed0" / "experiment.json").unlink()
    again = reproduce("fig-dc-cd", "quick", out, log=lines.append, **TINY)
    assert [r["variant"] for r in again["provenance"]["reused"]] == NAMES[1:]
    assert [line for line in lines if line.startswith("retraining ")] == [
        f"retraining {out}/runs/{NAMES[0]}/seed0: it has no experiment.json recording the hash "
        f"of its data"]
    lines.clear()
    changed = {**TINY, "train_overrides": {**TINY["train_overrides"], "batch_norm_momentum": 0.3}}
    again = reproduce("fig-dc-cd", "quick", out, log=lines.append, **changed)
    assert again["provenance"]["reused"] == []
    retrained = [line for line in lines if line.startswith("retraining ")]
    assert len(retrained) == 3
    assert all(x.endswith("its configuration differs in batch_norm_momentum") for x in retrained)


def test_a_run_copied_from_another_experiment_is_listed_with_its_source(tmp_path):
    reproduce("fig-dc-cd", "quick", tmp_path / "a", log=lambda m: None, **TINY)
    run = f"runs/{NAMES[0]}/seed0"
    shutil.copytree(tmp_path / "a" / run, tmp_path / "b" / run)
    for _ in range(2):  # the source is kept after the first reuse
        reused = reproduce("fig-dc-cd", "quick", tmp_path / "b", log=lambda m: None,
                           **TINY)["provenance"]["reused"]
        assert reused[0] == {"variant": NAMES[0], "seed": 0, "copied": True,
                             "source": f"../a/{run}", "experiment": "fig-dc-cd"}
    assert [r["copied"] for r in reused] == [True, False, False]


def test_progress_estimates_the_time_left_from_trained_runs():
    lines, now = [], [0.0]
    progress = Progress("fig-x", 4, log=lines.append, clock=lambda: now[0])
    now[0] = 10.0
    progress.run_done("a", 0, {"gap": 0.5, "seconds": 10.0}, reused=False)
    assert lines == ["[fig-x] a seed 0: GAP 0.5000 (10 s)",
                     "[fig-x] 1/4 runs done, 10 s elapsed, about 30 s left"]
    assert progress.load["middle"] is None
    now[0] = 11.0
    progress.run_done("b", 0, {"gap": 0.25, "seconds": 80.0}, reused=True)
    assert lines[2:] == ["[fig-x] b seed 0: GAP 0.2500 (reused, trained in 1 min 20 s)",
                         "[fig-x] 2/4 runs done, 11 s elapsed, about 22 s left"]
    assert progress.load["middle"] is not None  # sampled after half the runs
    timing = progress.finish()
    assert timing["wall_seconds"] == 11.0 and set(timing["load_average"]) == {
        "start", "middle", "end"}


@pytest.mark.parametrize("step,record,run,total", [
    (None, {}, {"steps": 10, "seconds": 10.0, "seconds_before": 0.0}, 10.0),  # fresh
    (5, {}, {"steps": 10, "seconds": 30.0, "seconds_before": 20.0}, 30.0),  # killed, resumed
    (5, {"seconds": 7.0}, {"steps": 10, "seconds": 10.0, "seconds_before": 0.0}, 17.0),  # old
    (10, {"seconds": 30.0}, {"steps": 10, "seconds": 31.0, "seconds_before": 30.5}, 30.0),
    (10, {}, {"steps": 10, "seconds": 25.0, "seconds_before": 24.9}, 25.0),  # parent killed
])
def test_a_runs_seconds_span_every_session(tmp_path, step, record, run, total):
    import json

    from circlearn.experiments.reuse import RECORD, RunState, finish_run

    (tmp_path / RECORD).write_text(json.dumps(record))
    reused = finish_run(RunState(tmp_path, step), run)
    assert reused == (step == run["steps"]) and run["seconds"] == total
    assert "seconds_before" not in run  # not a results.json field
    saved = json.loads((tmp_path / RECORD).read_text())
    assert saved.get("seconds") == (record.get("seconds") if reused else total)
