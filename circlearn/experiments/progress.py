"""Where a long experiment stands: a line per finished run, then the overall progress.

After every run, :class:`Progress` logs the run (variant, seed, validate GAP, its wall time,
whether it was reused) and a line with the runs done, the time elapsed and an estimate of
the time left (the time per trained run so far, times the runs left; runs reused from an
earlier invocation cost almost nothing and do not count). It also samples the load average
at the start, after half the runs and at the end, which ``results.json`` records beside the
measured wall time.
"""

from __future__ import annotations

import time

from circlearn.experiments.provenance import load_average

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """A duration for people to read.

    >>> format_duration(7.4), format_duration(200), format_duration(7384)
    ('7 s', '3 min 20 s', '2 h 03 min')
    """
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """The progress of ``total`` runs of experiment ``name``, logged through ``log``."""

    def __init__(self, name: str, total: int, *, log=print, clock=time.perf_counter):
        self.name, self.total, self.log, self.clock = name, total, log, clock
        self.start = clock()
        self.done = self.trained = 0
        self.load = {"start": load_average(), "middle": None, "end": None}

    def run_done(self, variant: str, seed: int, run: dict, reused: bool) -> None:
        """Log one finished run and the overall line (sampling the load at half way)."""
        self.done += 1
        self.trained += not reused
        how = f"reused, trained in {format_duration(run['seconds'])}" if reused else \
            format_duration(run["seconds"])
        self.log(f"[{self.name}] {variant} seed {seed}: GAP {run['gap']:.4f} ({how})")
        if self.load["middle"] is None and 2 * self.done >= self.total:
            self.load["middle"] = load_average()
        self.log(self.line())

    def line(self) -> str:
        """``[name] 4/18 runs done, 2 min 10 s elapsed, about 7 min 35 s left``."""
        elapsed = self.clock() - self.start
        left = self.total - self.done
        if not left:
            eta = "finished"
        elif self.trained:
            eta = f"about {format_duration(elapsed / self.trained * left)} left"
        else:
            eta = "time left known after the first trained run"
        return (f"[{self.name}] {self.done}/{self.total} runs done, "
                f"{format_duration(elapsed)} elapsed, {eta}")

    def finish(self) -> dict:
        """The measured wall time (seconds) and the three load-average samples."""
        self.load["end"] = load_average()
        return {"wall_seconds": round(self.clock() - self.start, 1), "load_average": self.load}
