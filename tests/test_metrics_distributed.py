"""EvaluationMetrics under torch.distributed (gloo, 2 processes on 127.0.0.1) equals one process
over all the data, on every rank, bitwise."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from circlearn.metrics import EvaluationMetrics

N_VIDEOS, N_CLASSES, TOP_K = 230, 300, 20
# Uneven shards and batch sizes; rank 1's last batch is a single video.
SHARDS = {0: [(0, 64), (64, 150)], 1: [(150, 229), (229, 230)]}


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """Scores rounded to 0.05 so ties occur at every boundary (the order-free tie rule is what
    makes the gathered result exact)."""
    rng = np.random.default_rng(42)
    labels = rng.random((N_VIDEOS, N_CLASSES)) < 0.01
    scores = np.round((rng.standard_normal((N_VIDEOS, N_CLASSES)) + 2 * labels) * 20) / 20
    return scores.astype(np.float32), labels


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        scores, labels = make_data()
        metrics = EvaluationMetrics(N_CLASSES, TOP_K)
        for start, stop in SHARDS[rank]:
            # Tensors on one rank, NumPy on the other: both are accepted.
            if rank == 0:
                metrics.accumulate(torch.from_numpy(scores[start:stop]),
                                   torch.from_numpy(labels[start:stop]))
            else:
                metrics.accumulate(scores[start:stop], labels[start:stop])
        results[rank] = metrics.compute()
        dist.barrier()  # no rank tears gloo down while the other still has traffic in flight
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def distributed_results() -> dict:
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        results = manager.dict()
        mp.start_processes(_worker, args=(2, _free_port(), results), nprocs=2, join=True,
                           start_method="spawn")
        return dict(results)


@pytest.mark.parametrize("rank", [0, 1])
def test_gloo_two_processes_equal_one_process(distributed_results, rank):
    scores, labels = make_data()
    single = EvaluationMetrics(N_CLASSES, TOP_K)
    single.accumulate(scores, labels)
    assert distributed_results[rank] == single.compute()


def test_ranks_agree(distributed_results):
    assert distributed_results[0] == distributed_results[1]
