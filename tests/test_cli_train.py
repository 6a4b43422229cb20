"""``circlearn train | eval | predict | export | experiment``: end to end and user errors
(one line, exit code 2, no traceback)."""

from __future__ import annotations

import json
import shutil
import sys
import types

import pytest

from circlearn.cli import COMMANDS, main
from circlearn.data import samples
from circlearn.training.predict import read_predictions

DATA = samples.path("yt8m")
FRAME = DATA / "frame"
TINY = ["--feature-sizes", "128,16", "--num-classes", "50", "--dbof-cluster-size", "16",
        "--hidden-size", "16", "--n-bagging", "1", "--iterations", "5", "--max-frames", "50",
        "--batch-size", "50", "--no-progress", "--no-tensorboard", "--log-every-steps", "0",
        "--device", "cpu"]


def _train_args(run_dir, *extra):
    return ["train", "--train-dir", str(run_dir), "--model", "dbof-fc-circulant",
            "--train_data_pattern", str(FRAME / "train0000.tfrecord"),
            "--eval-data-pattern", str(FRAME / "validate0000.tfrecord"), *TINY, *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    assert main(_train_args(run_dir, "--max-steps", "4", "--eval-every-steps", "4")) == 0
    return run_dir


def _user_error(capsys, argv, pattern):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "Traceback" not in err[0]
    assert pattern in err[0], err[0]


def test_eval_prints_the_metrics(trained, capsys):
    assert main(["eval", "--train_dir", str(trained), "--eval-data-pattern",
                 str(FRAME / "validate0000.tfrecord"), "--device", "cpu"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["step"] == 4 and 0 <= row["gap"] <= 1 and row["num_examples"] == 150


def test_predict_writes_kaggle_csv(trained, tmp_path):
    out = tmp_path / "p.csv"
    assert main(["predict", "--train-dir", str(trained), "--input_data_pattern",
                 str(FRAME / "test0001.tfrecord"), "--output-file", str(out),
                 "--vocabulary", str(DATA / "vocabulary.csv"), "--device", "cpu"]) == 0
    rows = read_predictions(out)
    assert len(rows) == 100 and all(len(p) == 20 for p in rows.values())
    assert out.read_text().splitlines()[0] == "VideoId,LabelConfidencePairs,LabelNames"


def test_export_reports_size(trained, capsys):
    assert main(["export", "--train-dir", str(trained), "--max-batch", "8"]) == 0
    out = capsys.readouterr().out
    assert "MB" in out and (trained / "export" / "model.torchscript.pt").is_file()


@pytest.mark.parametrize("pattern,message", [
    ("/nonexistent/dir/train*.tfrecord", "no file matches '/nonexistent/dir/train*.tfrecord'"),
    (str(FRAME / "nothing*.tfrecord"), "no file matches"),
])
def test_missing_data_is_one_line(tmp_path, capsys, pattern, message):
    argv = _train_args(tmp_path / "r")
    argv[argv.index("--train_data_pattern") + 1] = pattern
    _user_error(capsys, argv, message)
    assert not (tmp_path / "r").exists()  # nothing written for a run that cannot start


@pytest.mark.parametrize("option,value,message", [
    ("--feature-sizes", "1024,128", "wrong feature dimension for 'rgb'"),
    ("--num-classes", "10", "outside [0, 10)"),
])
def test_sizes_inconsistent_with_data(tmp_path, capsys, option, value, message):
    argv = _train_args(tmp_path / "r", "--max-steps", "1")
    argv[argv.index(option) + 1] = value
    _user_error(capsys, argv, message)


def test_checkpoint_inconsistent_with_data(trained, tmp_path, capsys):
    # A checkpoint trained on 144-d frames against data with other sizes.
    other = samples.path("yt8m_2017") / "frame"
    _user_error(capsys, ["eval", "--train-dir", str(trained), "--eval-data-pattern",
                         str(other / "*.tfrecord"), "--device", "cpu"],
                "wrong feature dimension")


def test_vocabulary_inconsistent_with_checkpoint(trained, tmp_path, capsys):
    vocab = samples.path("yt8m_2017") / "vocabulary.csv"  # 20 classes, the model has 50
    _user_error(capsys, ["predict", "--train-dir", str(trained), "--input-data-pattern",
                         str(FRAME / "test0000.tfrecord"), "--output-file",
                         str(tmp_path / "p.csv"), "--vocabulary", str(vocab)],
                "but the model has 50")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_unwritable_run_dir(capsys):
    _user_error(capsys, _train_args("/proc/circlearn-run"), "cannot create run directory")


def test_resume_with_other_options_is_refused(trained, capsys):
    _user_error(capsys, _train_args(trained, "--max-steps", "8", "--base-learning-rate", "0.1"),
                "base_learning_rate (was 0.0002, now 0.1)")


def test_not_a_run_directory(tmp_path, capsys):
    _user_error(capsys, ["export", "--train-dir", str(tmp_path)], "config.json not found")


def test_unknown_experiment_scale_data(tmp_path, capsys):
    _user_error(capsys, ["experiment", "fig-layers", "--scale", "paper", "--out",
                         str(tmp_path)], "--scale paper needs --data")


def _command_raising(monkeypatch, exc: Exception) -> str:
    """Register a command ``boom`` whose run raises ``exc``; returns its name."""
    module = types.ModuleType("circlearn_test_boom")
    module.configure_parser = lambda parser: None

    def run(args):
        raise exc
    module.run = run
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(COMMANDS, "boom", (module.__name__, "raises"))
    return "boom"


def test_internal_key_error_keeps_its_traceback(monkeypatch):
    with pytest.raises(KeyError, match="pooling"):
        main([_command_raising(monkeypatch, KeyError("pooling"))])


def test_user_error_of_a_command_is_one_line(monkeypatch, capsys):
    _user_error(capsys, [_command_raising(monkeypatch, ValueError("unknown thing 'x'"))],
                "circlearn boom: error: unknown thing 'x'")


def test_world_size_without_rank(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    _user_error(capsys, _train_args(tmp_path / "run"), "WORLD_SIZE=2 but RANK is not set")


def _follow(run_dir, timeout="2"):
    return ["eval", "--train-dir", str(run_dir), "--eval-data-pattern",
            str(FRAME / "validate0000.tfrecord"), "--device", "cpu", "--follow",
            "--poll-seconds", "0.05", "--follow-timeout", timeout]


@pytest.mark.parametrize("config_text", [None, "{", "[]"])
def test_follow_needs_the_run_config(trained, tmp_path, capsys, config_text):
    run_dir = tmp_path / "run"
    shutil.copytree(trained / "checkpoints", run_dir / "checkpoints")
    if config_text is not None:
        (run_dir / "config.json").write_text(config_text)
    _user_error(capsys, _follow(run_dir), str(run_dir / "config.json"))


def test_follow_waits_for_training_to_start(tmp_path, capsys):
    assert main(_follow(tmp_path / "not-yet", timeout="0.2")) == 0
    assert capsys.readouterr().out == ""
