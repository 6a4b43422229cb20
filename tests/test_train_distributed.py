"""Two gloo processes equal one process on the same global batch.

The model is the video-level MoE without context gating: no frame sampling (per-rank
generators would draw different frames) and no batch norm (per-rank statistics), so DDP's
averaged gradient must equal one process's gradient of the loss averaged over both ranks'
batches, step after step. The reference replays exactly the batches each rank read
(``YT8MLoader(rank=r, world_size=2)``) concatenated, with the library's objective.
"""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest
import torch
import torch.multiprocessing as mp

from circlearn.data import samples
from circlearn.data.datasets import LoaderConfig, YT8MLoader
from circlearn.models import VideoClassifier, preset_config
from circlearn.training import TrainConfig, train
from circlearn.training.checkpoint import load_checkpoint
from circlearn.training.objective import (
    clip_gradients,
    cross_entropy_on_probabilities,
    staircase_learning_rate,
)

VIDEO = samples.path("yt8m") / "video"
STEPS, BATCH = 6, 16
# Adam divides by sqrt(v): where a gradient is ~0, float32 summation-order noise (the
# all-reduce adds in another order) moves a weight by up to ~lr·1e-3 after a few steps.
TOL = {"rtol": 1e-4, "atol": 2e-5}


def _config(run_dir) -> TrainConfig:
    model = preset_config("moe", feature_names=("mean_rgb", "mean_audio"),
                          feature_sizes=(128, 16), num_classes=50)
    return TrainConfig(train_data=str(VIDEO / "train*.tfrecord"),
                       eval_data=str(VIDEO / "validate00.tfrecord"), run_dir=str(run_dir),
                       model=model, preset="moe", frame_level=False, batch_size=BATCH,
                       max_steps=STEPS, num_epochs=1, base_learning_rate=1e-2,
                       learning_rate_decay=0.5, learning_rate_decay_examples=64,
                       eval_every_steps=STEPS, device="cpu", progress=False,
                       log_every_steps=0, tensorboard=False)


def _worker(rank: int, world: int, port: int, run_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(_config(run_dir))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(sys.platform == "win32", reason="gloo on localhost")
def test_two_gloo_processes_equal_one_process_on_the_global_batch(tmp_path):
    run_dir = tmp_path / "ddp"
    mp.start_processes(_worker, args=(2, _free_port(), str(run_dir)), nprocs=2, join=True,
                       start_method="spawn")
    cfg = _config(tmp_path / "ref")
    torch.manual_seed(cfg.seed)
    model = VideoClassifier(cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.base_learning_rate, eps=cfg.adam_epsilon)
    lcfg = LoaderConfig(batch_size=BATCH, frame_level=False, feature_names=("mean_rgb", "mean_audio"),
                        feature_sizes=(128, 16), num_classes=50, seed=cfg.seed, drop_last=True)
    ranks = [iter(YT8MLoader(cfg.train_data, lcfg, rank=r, world_size=2)) for r in range(2)]
    for step in range(STEPS):
        parts = [next(it) for it in ranks]
        x = torch.cat([p.features for p in parts])  # (2B, D): the global batch
        y = torch.cat([p.labels for p in parts])
        lr = staircase_learning_rate(cfg.base_learning_rate, cfg.learning_rate_decay,
                                     cfg.learning_rate_decay_examples, step * 2 * BATCH)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = cross_entropy_on_probabilities(model(x), y) + model.regularization_loss()
        opt.zero_grad()
        loss.backward()
        clip_gradients(model.parameters(), cfg.clip_gradient_norm, cfg.clip_mode)
        opt.step()
    state = load_checkpoint(run_dir / "checkpoints" / f"step-{STEPS:09d}.pt")
    assert state["examples"] == STEPS * 2 * BATCH
    for name, value in model.state_dict().items():
        torch.testing.assert_close(state["model"][name], value, **TOL)
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [STEPS]  # rank 0 alone wrote, once
    assert not (tmp_path / "ref").exists()
