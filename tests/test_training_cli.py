"""The train/eval/predict/export options are generated from TrainConfig/ModelConfig:
parsing only, no training."""

from __future__ import annotations

import argparse
import dataclasses
import re

import pytest

from circlearn.config import field_docs
from circlearn.deploy import cli as dcli
from circlearn.models import ModelConfig, preset_config
from circlearn.training import TrainConfig
from circlearn.training import cli as tcli


def _parse(configure, argv):
    p = argparse.ArgumentParser(prog="circlearn train")
    configure(p)
    return p, p.parse_args(argv)


REQUIRED = ["--train-dir", "runs/x", "--train-data-pattern", "a*.tfrecord"]


def test_defaults_are_trainconfig_defaults():
    """The command line's defaults are the dataclass's (they used to be retyped by hand)."""
    _, args = _parse(tcli.configure_train_parser, REQUIRED)
    cfg = tcli.train_config_from_args(args)
    expected = TrainConfig(train_data="a*.tfrecord", run_dir="runs/x", preset="dbof",
                           model=preset_config("dbof"))
    assert cfg == expected


def test_every_field_has_an_option_with_its_docstring_help():
    p, _ = _parse(tcli.configure_train_parser, REQUIRED)
    by_dest = {a.dest: a for a in p._actions if a.help != argparse.SUPPRESS}
    for cls, prefix, skip in ((TrainConfig, "", {"model", "frame_level"}),
                              (ModelConfig, "model_", set())):
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name in skip:
                continue
            action = by_dest[prefix + f.name]
            first_word = re.search(r"\w+", docs[f.name])[0]
            assert first_word in action.help, (f.name, action.help)


def test_values_reach_the_configs():
    _, args = _parse(tcli.configure_train_parser, REQUIRED + [
        "--model", "dbof-fc-circulant", "--feature-sizes", "128,16", "--num-classes", "50",
        "--adam-betas", "0.8,0.99", "--no-tensorboard", "--bf16", "--data-augmentation",
        "false", "--fc", "circulant-sign", "--no-context-gating", "--clip-mode", "global"])
    cfg = tcli.train_config_from_args(args)
    assert cfg.model.feature_sizes == (128, 16) and cfg.model.num_classes == 50
    assert cfg.model.fc == "circulant-sign" and cfg.model.context_gating is False
    assert cfg.adam_betas == (0.8, 0.99) and cfg.tensorboard is False and cfg.bf16 is True
    assert cfg.data_augmentation is False and cfg.clip_mode == "global"
    assert cfg.preset == "dbof-fc-circulant"
    assert cfg.model.embedding == preset_config("dbof-fc-circulant").embedding  # kept


@pytest.mark.parametrize("argv,field,value", [
    (["--train_dir", "runs/y"], "run_dir", "runs/y"),
    (["--fc_hidden_size", "32"], "model.hidden_size", 32),
    (["--moe_num_mixtures", "2"], "model.num_mixtures", 2),
    (["--num_readers", "3"], "num_workers", 3),
    (["--preset", "netvlad"], "preset", "netvlad"),
    (["--base_learning_rate", "0.1"], "base_learning_rate", 0.1),
    (["--n-factors", "2"], "model.n_factors", 2),
])
def test_starter_code_names_are_aliases(argv, field, value):
    _, args = _parse(tcli.configure_train_parser, REQUIRED + argv)
    cfg = tcli.train_config_from_args(args)
    obj = cfg
    for part in field.split("."):
        obj = getattr(obj, part)
    assert obj == value


@pytest.mark.parametrize("old", ["--k-factor", "--k_factor"])
def test_k_factor_still_works_with_a_deprecation_note(old, capsys):
    _, args = _parse(tcli.configure_train_parser, REQUIRED + [old, "3"])
    assert tcli.train_config_from_args(args).model.n_factors == 3
    err = capsys.readouterr().err
    assert f"{old} is deprecated; use --n-factors" in err


def test_bad_choice_names_the_valid_ones(capsys):
    p = argparse.ArgumentParser(prog="circlearn train")
    tcli.configure_train_parser(p)
    with pytest.raises(SystemExit):
        p.parse_args(REQUIRED + ["--device", "tpu"])
    assert "choose from 'auto', 'cpu', 'cuda'" in capsys.readouterr().err


@pytest.mark.parametrize("configure,argv,expected", [
    (tcli.configure_eval_parser, ["--eval-data-pattern", "v*"],
     {"eval_batch_size": 1024, "device": "auto", "top_k": 20, "num_workers": 0}),
    (tcli.configure_predict_parser, ["--input-data-pattern", "t*", "--output-file", "p.csv"],
     {"eval_batch_size": 512, "device": "auto", "top_k": 20}),
    (dcli.configure_parser, [], {"max_batch": 512, "output": None, "checkpoint": None}),
])
def test_eval_predict_export_defaults(configure, argv, expected):
    _, args = _parse(configure, ["--train-dir", "runs/x", *argv])
    assert args.run_dir == "runs/x"
    assert {k: getattr(args, k) for k in expected} == expected


#: Every option `circlearn train` accepted before the options were generated.
OLD_TRAIN_OPTIONS = {
    "--feature-names": "rgb,audio", "--feature-sizes": "128,16", "--use-features": "rgb,audio",
    "--num-classes": "50", "--cluster-sizes": "16,8", "--hidden-size": "8", "--fc_hidden_size": "8",
    "--num-mixtures": "2", "--moe_num_mixtures": "2", "--iterations": "5", "--n-bagging": "1",
    "--eval-sampling": "all", "--eval-seed": "1", "--dbof-cluster-size": "16",
    "--batch-size": "8", "--num-epochs": "1", "--max-steps": "2", "--max-frames": "50",
    "--base-learning-rate": "0.1", "--learning-rate-decay": "0.5",
    "--learning-rate-decay-examples": "10", "--clip-gradient-norm": "2", "--clip-mode": "none",
    "--regularization-penalty": "0", "--batch-norm-momentum": "0.1",
    "--data-augmentation": "true", "--shuffle-buffer": "4", "--seed": "3",
    "--eval-every-steps": "1", "--eval-batch-size": "4", "--checkpoint-every-steps": "0",
    "--keep-checkpoints": "1", "--top-k": "5", "--num-workers": "1", "--num_readers": "1",
    "--device": "cpu", "--log-every-steps": "0",
}
OLD_TRAIN_FLAGS = ["--bf16", "--compile", "--sync-batch-norm", "--no-progress", "--no_progress",
                   "--no-tensorboard", "--start-new-model", "--data-augmentation"]


@pytest.mark.parametrize("option,value", sorted(OLD_TRAIN_OPTIONS.items()))
def test_old_train_options_still_parse(option, value):
    _, args = _parse(tcli.configure_train_parser, REQUIRED + ["--model", "dbof", option, value])
    tcli.train_config_from_args(args)  # builds (and validates) the configs


@pytest.mark.parametrize("flag", OLD_TRAIN_FLAGS)
def test_old_train_flags_still_parse(flag):
    _, args = _parse(tcli.configure_train_parser, REQUIRED + [flag])
    cfg = tcli.train_config_from_args(args)
    expected = {"--bf16": ("bf16", True), "--compile": ("compile", True),
                "--sync-batch-norm": ("sync_batch_norm", True),
                "--no-progress": ("progress", False), "--no_progress": ("progress", False),
                "--no-tensorboard": ("tensorboard", False),
                "--data-augmentation": ("data_augmentation", True)}.get(flag)
    if expected:
        assert getattr(cfg, expected[0]) is expected[1]
    else:
        assert args.start_new_model is True
