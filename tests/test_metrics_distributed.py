"""EvaluationMetrics under torch.distributed (gloo, 2 processes on 127.0.0.1) equals one process
over all the data, on every rank, bitwise, when told to gather (``distributed=True``, as
training's context says); not told, it keeps each process's data even inside a process group."""

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
        metrics = EvaluationMetrics(N_CLASSES, TOP_K, distributed=True)
        local = EvaluationMetrics(N_CLASSES, TOP_K)  # a process group, but not told to gather
        for start, stop in SHARDS[rank]:
            # Tensors on one rank, NumPy on the other: both are accepted.
            if rank == 0:
                metrics.accumulate(torch.from_numpy(scores[start:stop]),
                                   torch.from_numpy(labels[start:stop]))
            else:
                metrics.accumulate(scores[start:stop], labels[start:stop])
            local.accumulate(scores[start:stop], labels[start:stop])
        results[rank] = metrics.compute()
        results[f"local{rank}"] = local.compute()
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


@pytest.mark.parametrize("rank", [0, 1])
def test_process_group_without_distributed_keeps_local_data(distributed_results, rank):
    scores, labels = make_data()
    shard = EvaluationMetrics(N_CLASSES, TOP_K)
    for start, stop in SHARDS[rank]:
        shard.accumulate(scores[start:stop], labels[start:stop])
    assert distributed_results[f"local{rank}"] == shard.compute()


# In this process: a gloo group of one, started by the test (not by circlearn).

@pytest.fixture
def outside_process_group():
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0,
                            world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.fixture
def gathers(monkeypatch) -> list:
    """Every call of ``EvaluationMetrics._gather`` (the collective) is recorded."""
    calls = []
    original = EvaluationMetrics._gather

    def spy(self, *args):
        calls.append(self)
        return original(self, *args)

    monkeypatch.setattr(EvaluationMetrics, "_gather", spy)
    return calls


def _filled(**kwargs) -> EvaluationMetrics:
    scores, labels = make_data()
    metrics = EvaluationMetrics(N_CLASSES, TOP_K, **kwargs)
    metrics.accumulate(scores, labels)
    return metrics


def test_outside_group_is_not_gathered_by_default(outside_process_group, gathers):
    single = _filled().compute()
    assert gathers == []
    assert single == _filled(distributed=True).compute()  # a group of one: the same values
    assert len(gathers) == 1


def test_evaluate_gathers_when_its_context_says_so(outside_process_group, gathers):
    from circlearn.data.batch import Batch
    from circlearn.training.distributed import DistContext
    from circlearn.training.evaluation import evaluate

    class Fixed(torch.nn.Module):  # row i of the scores for the video whose feature is [i]
        config = type("Config", (), {"num_classes": N_CLASSES})()

        def forward(self, features):
            return probs[features[:, 0].long()]

    scores, labels = make_data()
    probs = torch.sigmoid(torch.from_numpy(scores))
    batch = Batch(ids=[str(i) for i in range(N_VIDEOS)], labels=torch.from_numpy(labels).float(),
                  features=torch.arange(N_VIDEOS, dtype=torch.float32)[:, None])
    alone = evaluate(Fixed(), [batch], top_k=TOP_K)  # no context: this process only
    assert gathers == []
    # A context of two ranks over the group of one (a stand-in): the metrics are gathered.
    told = evaluate(Fixed(), [batch], top_k=TOP_K, ctx=DistContext(rank=0, world_size=2))
    assert len(gathers) == 1 and told == alone


def test_distributed_without_a_process_group_is_an_error():
    with pytest.raises(RuntimeError, match="none is initialised"):
        _filled(distributed=True).compute()


def test_group_without_distributed_is_refused():
    with pytest.raises(ValueError, match="group is only used with distributed=True"):
        EvaluationMetrics(N_CLASSES, TOP_K, group=object())
