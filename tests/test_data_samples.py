"""The committed data_samples/ equal a regeneration with the commands in their README."""

from __future__ import annotations

import shlex

import pytest

from circlearn.cli import main
from circlearn.data import samples


def regenerate_commands():
    readme = (samples.path() / "README.md").read_text()
    return [line.split() for line in readme.splitlines() if line.startswith("circlearn data synth")]


def test_readme_lists_both_sets():
    names = [cmd[cmd.index("--out") + 1] for cmd in regenerate_commands()]
    assert names == ["data_samples/yt8m", "data_samples/yt8m_2017"]


@pytest.mark.parametrize("index", [0, 1])
def test_committed_files_equal_regeneration(tmp_path, index):
    cmd = regenerate_commands()[index]
    out_pos = cmd.index("--out") + 1
    name = cmd[out_pos].split("/", 1)[1]
    cmd[out_pos] = str(tmp_path / name)
    assert main(cmd[1:]) == 0, shlex.join(cmd)
    committed = samples.path(name)
    got = sorted(p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*") if p.is_file())
    want = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert got == want
    for rel in want:
        assert (committed / rel).read_bytes() == (tmp_path / name / rel).read_bytes(), rel


def test_total_size_under_10mb():
    total = sum(p.stat().st_size for p in samples.path().rglob("*") if p.is_file())
    assert total <= 10 * 2**20


def test_path_env_override(tmp_path, monkeypatch):
    (tmp_path / "mine").mkdir()
    monkeypatch.setenv(samples.ENV_VAR, str(tmp_path))
    assert samples.path("mine") == tmp_path / "mine"
    with pytest.raises(FileNotFoundError, match="no data sample 'absent'"):
        samples.path("absent")


def test_info_reads_dataset_json():
    meta = samples.info("yt8m")
    assert meta["feature_sizes"] == [128, 16] and meta["num_classes"] == 50
    assert meta["splits"]["train"]["videos"] == 1000
