"""Layer benchmark: CirculantLinear vs nn.Linear vs the paper's complex-FFT formulation.

Run ``circlearn bench layers`` (headline cases of the core issue) or with ``--sweep`` for
the n × batch grid of structured.md §5.5 (``--device cuda`` on a GPU, ``--tf32`` to let the
dense baseline use TF32); ``python -m circlearn.bench.layers`` takes the same options plus
``--threads``. Results go to ``benchmarks/results/`` (:mod:`circlearn.bench.results`). The
paper's formulation is :class:`circlearn.nn.PaperCirculant`, a tested twin of the layer.

Every variant is checked against the others before it is timed, so a fast wrong answer
cannot produce a number.

:func:`time_layers` times the bare products instead (dense ``x @ W.T`` against
:func:`circlearn.nn.functional.circulant_matmul`, forward or a training step): the rows that
notebook 05 prints and :func:`circlearn.plotting.perf.plot_timings` draws;
:func:`layer_rounds` times the layers themselves (``nn.Linear`` against ``CirculantLinear``
on one of the paper's shapes, every round kept for spread bars). All use the one timer,
:mod:`circlearn.bench.timing`.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable, Sequence

import torch
from torch import nn

from circlearn.bench.results import machine_info, write_results
from circlearn.bench.timing import copy_bandwidth_gbs, time_fn, time_rounds
from circlearn.nn import CirculantLinear, PaperCirculant
from circlearn.nn.functional import circulant_matmul

__all__ = ["PaperCirculant", "run", "layer_case", "HEADLINE", "time_layers", "layer_rounds"]


def _step(module: nn.Module, x: torch.Tensor, backward: bool, grad_y: torch.Tensor | None = None):
    """One timed call. Backward takes a dense upstream gradient ``grad_y``, as in training
    (a ``.sum()`` loss would hand every variant a stride-0 expanded gradient instead)."""
    if backward:
        def fn():
            module.zero_grad(set_to_none=True)
            x.grad = None
            module(x).backward(grad_y)
    else:
        def fn():
            with torch.no_grad():
                module(x)
    return fn


def layer_case(n_in: int, n_out: int, batch: int, backward: bool, *, device: str = "cpu",
               diagonal: str | None = "learned", with_paper: bool = True, repeats: int = 7,
               copy_gbs: float | None = None, compile: bool = False) -> dict:
    """Time dense, circulant (and paper) on one shape, interleaved; return one result row.

    ``compile`` adds the circulant layer under ``torch.compile`` (on CUDA with
    ``mode="reduce-overhead"``, i.e. CUDA graphs), checked against the eager layer first.
    """
    torch.manual_seed(0)
    circ = CirculantLinear(n_in, n_out, bias=True, diagonal=diagonal, device=device)
    dense = nn.Linear(n_in, n_out, device=device)
    paper = PaperCirculant(circ).to(device) if with_paper else None
    x = torch.randn(batch, n_in, device=device, requires_grad=backward)
    grad_y = torch.randn(batch, n_out, device=device) if backward else None
    # Correctness before speed: the three agree on this input.
    with torch.no_grad():
        ref = x @ circ.dense().T + circ.bias
        torch.testing.assert_close(circ(x), ref, rtol=1e-4, atol=1e-4 * math.sqrt(n_in))
        if paper is not None:
            torch.testing.assert_close(paper(x), ref, rtol=1e-4, atol=1e-4 * math.sqrt(n_in))
    if not backward:
        circ.eval()
    variants = {"dense": dense, "circulant": circ}
    if paper is not None:
        variants["paper"] = paper
    if compile:
        mode = "reduce-overhead" if device.startswith("cuda") else "default"
        compiled = torch.compile(circ, mode=mode)
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), circ(x), rtol=1e-4, atol=1e-4 * math.sqrt(n_in))
        variants["compiled"] = compiled
    times = {name: [] for name in variants}
    # Interleave rounds so machine noise hits every variant alike.
    for _ in range(3):
        for name, module in variants.items():
            times[name].append(time_fn(_step(module, x, backward, grad_y), device=device, warmup=2,
                                       repeats=max(1, repeats // 3), min_time=0.05))
    med = {name: sorted(ts)[len(ts) // 2] for name, ts in times.items()}
    blocks = circ.blocks
    # Modelled traffic of the eager rfft chain (structured.md §5.1): 24 n bytes per row and
    # block forward, about 3x that forward+backward.
    traffic = batch * blocks * 24 * n_in * (3 if backward else 1)
    row = {
        "n_in": n_in, "n_out": n_out, "batch": batch, "pass": "fwd+bwd" if backward else "fwd",
        "dense_ms": med["dense"] * 1e3, "circulant_ms": med["circulant"] * 1e3,
        "speedup_vs_dense": med["dense"] / med["circulant"],
    }
    if paper is not None:
        row["paper_ms"] = med["paper"] * 1e3
        row["speedup_vs_paper"] = med["paper"] / med["circulant"]
    if compile:
        row["compiled_ms"] = med["compiled"] * 1e3
        row["compiled_vs_eager"] = med["circulant"] / med["compiled"]
    row["circ_GB_per_s"] = traffic / med["circulant"] / 1e9
    if copy_gbs is not None:
        row["copy_GB_per_s"] = copy_gbs
    return row


def time_layers(ns: Sequence[int], batch: int = 64, repeats: int = 7,
                dtype: torch.dtype = torch.float32, device: str = "cpu",
                generator: torch.Generator | None = None, backward: bool = False) -> list[dict]:
    """Median seconds of ``x @ W.T`` (dense) and ``circulant_matmul(x, c)`` for ``x (batch, n)``.

    Returns one row per ``n``: ``{"n", "dense_s", "fft_s", "ratio", "dense_times",
    "fft_times"}`` with ``ratio = dense_s / fft_s`` (> 1: the FFT path is faster) and every
    round's seconds in the ``*_times`` lists. One warm-up call each first;
    the two variants alternate in ``repeats`` rounds
    (:func:`circlearn.bench.timing.time_rounds`).

    ``backward=True`` times a training step instead: the forward, then ``y.backward(g)`` with a
    dense random upstream gradient ``g (batch, n)`` (the gradient a real loss sends; the
    ``y.sum().backward()`` shortcut sends a stride-0 tensor of ones, which FFT and BLAS
    kernels treat unrepresentatively), computing the gradients of ``x`` and of the weight.
    """
    if repeats < 1 or batch < 1:
        raise ValueError(f"repeats and batch must be >= 1, got {repeats}, {batch}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    rows = []
    for n in ns:
        x = torch.randn(batch, n, generator=g, dtype=dtype).to(device)   # (B, n)
        c = torch.randn(n, generator=g, dtype=dtype).to(device)          # (n,)
        w = torch.randn(n, n, generator=g, dtype=dtype).to(device)       # (n, n)
        if backward:
            grad = torch.randn(batch, n, generator=g, dtype=dtype).to(device)   # (B, n) dense
            for t in (x, c, w):
                t.requires_grad_(True)
            fns = {"dense": lambda x=x, w=w, grad=grad: _backward_step(
                       lambda: x @ w.T, grad, (x, w)),
                   "fft": lambda x=x, c=c, grad=grad: _backward_step(
                       lambda: circulant_matmul(x, c), grad, (x, c))}
        else:
            fns = {"dense": lambda x=x, w=w: x @ w.T,
                   "fft": lambda x=x, c=c: circulant_matmul(x, c)}
        times = time_rounds(fns, repeats, device=device)
        dense_s, fft_s = statistics.median(times["dense"]), statistics.median(times["fft"])
        rows.append({"n": int(n), "dense_s": dense_s, "fft_s": fft_s, "ratio": dense_s / fft_s,
                     "dense_times": times["dense"], "fft_times": times["fft"]})
    return rows


def layer_rounds(n_in: int, n_out: int, batch: int, backward: bool, rounds: int = 15, *,
                 diagonal: str | None = "learned", device: str = "cpu",
                 seed: int = 0) -> dict:
    """Seconds per round of ``nn.Linear(n_in, n_out)`` and ``CirculantLinear`` on one shape.

    The layers themselves, as a model calls them (bias, the diagonal, the fast path; in eval
    mode without grad for a forward), checked against each other first and then timed in
    ``rounds`` interleaved rounds (:func:`circlearn.bench.timing.time_rounds`). A training
    step is the forward and ``backward(g)`` with a dense random ``g`` (:func:`_step`).
    Returns ``{"n_in", "n_out", "batch", "pass", "nn.Linear": [s…], "CirculantLinear": [s…]}``:
    every round, so a figure can draw the spread (:func:`circlearn.plotting.perf.plot_layer_rounds`).
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    circ = CirculantLinear(n_in, n_out, diagonal=diagonal, device=device)
    dense = nn.Linear(n_in, n_out, device=device)
    x = torch.randn(batch, n_in, generator=gen).to(device).requires_grad_(backward)
    grad_y = torch.randn(batch, n_out, generator=gen).to(device) if backward else None
    with torch.no_grad():  # a fast wrong answer must not produce a number
        torch.testing.assert_close(circ(x), x @ circ.dense().T + circ.bias, rtol=1e-4,
                                   atol=1e-4 * math.sqrt(n_in))
    for module in (circ, dense):
        module.train(backward)
    times = time_rounds({"nn.Linear": _step(dense, x, backward, grad_y),
                         "CirculantLinear": _step(circ, x, backward, grad_y)},
                        rounds, device=device, warmup=2)
    return {"n_in": n_in, "n_out": n_out, "batch": batch,
            "pass": "fwd+bwd" if backward else "fwd", **times}


def _backward_step(forward: Callable[[], torch.Tensor], grad: torch.Tensor,
                   leaves: Sequence[torch.Tensor]) -> None:
    """One training step of :func:`time_layers`: clear the leaves' grads, forward, backward(grad)."""
    for t in leaves:
        t.grad = None
    forward().backward(grad)


HEADLINE = [  # (n_in, n_out, batch, backward): the core issue's targets
    (8192, 8192, 256, True),
    (8192, 8192, 1, False),
    (1024, 8192, 1200, True),
]


def run(quick: bool = False, out_dir=None, device: str = "cpu", sweep: bool = False,
        threads: int | None = None, tf32: bool = False, compile: bool = False) -> list[dict]:
    if threads is not None:
        torch.set_num_threads(threads)
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = tf32
    copy_gbs = copy_bandwidth_gbs(device)
    if sweep:
        ns = [1024, 4096] if quick else [1024, 4096, 8192, 16384]
        batches = [1, 32] if quick else [1, 8, 32, 128, 512, 1024]
        cases = [(n, n, b, bw) for n in ns for b in batches for bw in (False, True)]
    else:
        cases = [(1024, 1024, 32, True)] if quick else HEADLINE
    rows = []
    for n_in, n_out, batch, backward in cases:
        if device == "cpu" and n_in >= 16384 and batch >= 512 and backward:
            continue  # a dense 16384² fwd+bwd at batch ≥ 512 takes minutes on 2 cores
        row = layer_case(n_in, n_out, batch, backward, device=device, copy_gbs=copy_gbs,
                         repeats=3 if quick else 7, compile=compile)
        rows.append(row)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
              flush=True)
    info = machine_info(device)
    notes = (f"float32, learned diagonal, medians of interleaved rounds; dense = nn.Linear"
             f"{' (TF32 on)' if tf32 else ''}; circ_GB_per_s uses the modelled traffic of "
             f"structured.md §5.1 (24·n bytes per row and block forward, ×3 fwd+bwd); measured "
             f"copy bandwidth {copy_gbs:.1f} GB/s; {info['torch_threads']} threads"
             + ("; compiled = torch.compile(CirculantLinear)"
                + (", mode reduce-overhead (CUDA graphs)" if device.startswith("cuda") else "")
                if compile else "") + ".")
    name = ("layers-sweep" if sweep else "layers") + ("-tf32" if tf32 else "") + \
        ("-compile" if compile else "")
    if device == "cpu":
        name += f"-{torch.get_num_threads()}threads"
    if not quick:
        path = write_results(name, rows, device=device, notes=notes, out_dir=out_dir)
        print(f"wrote {path}")
        if sweep:
            from circlearn.plotting.perf import plot_layer_sweep

            label = info.get("gpu") or "CPU"
            fig = plot_layer_sweep(rows, title=f"{label}{' TF32' if tf32 else ''}:")
            fig.savefig(path.with_suffix(".png"))
            print(f"wrote {path.with_suffix('.png')} (solid: vs dense, dashed: vs paper)")
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--tf32", action="store_true")
    p.add_argument("--compile", action="store_true",
                   help="also time the circulant layer under torch.compile (CUDA graphs on GPU)")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    run(quick=a.quick, out_dir=a.out, device=a.device, sweep=a.sweep, threads=a.threads,
        tf32=a.tf32, compile=a.compile)


if __name__ == "__main__":
    main()
