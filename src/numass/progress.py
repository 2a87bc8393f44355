"""Progress of long steps: one live line per running step on a terminal (a rich progress bar:
the step, its convergence measure against the target, the estimated time left, the time spent),
one plain line every ~30 s elsewhere (CI, a pipe); and the redirection of a step's logs (the
samplers' own included) into its log file.

The time left is extrapolated from the measure's history, assuming the measure falls as a power
of the time spent in the step (R-1 of an MCMC falls roughly as 1/sqrt(samples)): a straight line
in log-log through the last few points, followed to the target.
"""
from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Self

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

TOTAL = "total"  # the row that sums up the others: always shown last
PLAIN_EVERY = 30.0  # seconds between plain progress lines without a terminal
_FIT_POINTS = 6  # the last points of the measure's history that the time-left fit uses


def fraction_done(first: float, current: float, target: float) -> float:
    """How far a measure falling from ``first`` towards ``target`` has come, in log: 0..1."""
    if not (first > 0 and current > 0 and target > 0) or not math.isfinite(first):
        return 0.0
    if first <= target or current <= target:
        return 1.0
    return min(1.0, max(0.0, math.log(first / current) / math.log(first / target)))


def remaining_seconds(history: list[tuple[float, float]], target: float) -> float | None:
    """Seconds until the measure reaches ``target``, from [(seconds into the step, measure)]: a
    least-squares line in (log t, log measure) through the last points; None while it does not
    fall (or fewer than two usable points)."""
    pts = [(t, v) for t, v in history if t > 0 and v > 0 and math.isfinite(v)][-_FIT_POINTS:]
    if len(pts) < 2:
        return None
    x = [math.log(t) for t, _ in pts]
    y = [math.log(v) for _, v in pts]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxx = sum((a - mx) ** 2 for a in x)
    if sxx == 0:
        return None
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sxx
    if slope >= 0:
        return None
    t_now, v_now = pts[-1]
    if v_now <= target:
        return 0.0
    return t_now * ((v_now / target) ** (-1.0 / slope) - 1.0)


def mcmc_distance(rminus1: float, rminus1_bounds: float, stop: float, bounds_stop: float) -> float:
    """How far an MCMC is from stopping, as one number that reaches 1 at the stop: R-1 of the
    means over its stop, and once the means pass it, also R-1 of the bounds over theirs."""
    means = rminus1 / stop
    if not math.isfinite(rminus1_bounds):
        return means
    return max(means, rminus1_bounds / bounds_stop)


def mcmc_status(rminus1: float, rminus1_bounds: float, stop: float, bounds_stop: float,
                n_samples: int) -> str:
    """'R-1 = 0.08 (stop 0.01)[, bounds 0.2 (stop 0.05)], 1200 samples'."""
    if not math.isfinite(rminus1):
        return f"R-1 not yet measured, {n_samples} samples"
    text = f"R-1 = {rminus1:.3g} (stop {stop:g})"
    if math.isfinite(rminus1_bounds):
        text += f", of the bounds {rminus1_bounds:.3g} (stop {bounds_stop:g})"
    return text + f", {n_samples} samples"


def format_seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


@dataclass
class Row:
    """One step's progress: its stage, and the measure's history since the stage began."""
    label: str
    stage: str = "starting"
    measure_name: str = "R-1"
    target: float | None = None
    started: float = field(default_factory=time.time)
    stage_started: float = field(default_factory=time.time)
    history: list[tuple[float, float]] = field(default_factory=list)
    detail: str | None = None  # how the measure is shown, when the caller says

    def set_stage(self, stage: str, now: float) -> None:
        if stage != self.stage:
            self.stage, self.stage_started, self.history, self.detail = stage, now, [], None

    def add(self, value: float, target: float, now: float) -> None:
        self.target = target
        self.history.append((now - self.stage_started, value))

    def fraction(self) -> float:
        finite = [v for _, v in self.history if math.isfinite(v)]
        if not finite or self.target is None:
            return 0.0
        return fraction_done(finite[0], finite[-1], self.target)

    def status(self) -> str:
        """'MCMC, R-1 = 0.084 (target 0.01), ~3 min left'."""
        if not self.history or self.target is None:
            return self.stage + (f", {self.detail}" if self.detail else "")
        value = self.history[-1][1]
        shown = "not yet measured" if not math.isfinite(value) else f"{value:.3g}"
        text = f"{self.stage}, " + (self.detail or f"{self.measure_name} = {shown} "
                                                   f"(target {self.target:g})")
        left = remaining_seconds(self.history, self.target)
        return text + (f", ~{format_seconds(left)} left" if left is not None else "")

    def line(self, now: float) -> str:
        return f"{self.label}: {self.status()}, {format_seconds(now - self.started)} elapsed"


class ProgressDisplay:
    """Rows of progress (one per running step): live bars on a terminal, else a plain line
    (all rows) on a stage change and at most every ``every`` seconds; ``note`` prints a message
    above them. Use as a context manager; the methods are thread-safe."""

    def __init__(self, stream=None, live: bool | None = None, every: float = PLAIN_EVERY,
                 clock=time.time):
        self.stream = stream or sys.__stderr__ or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.every, self.clock = every, clock
        self.rows: dict[str, Row] = {}
        self._tasks: dict[str, TaskID] = {}
        self._last_plain = -math.inf
        self._lock = threading.RLock()
        self._bars: Progress | None = None

    def __enter__(self) -> Self:
        if self.live:
            self._bars = Progress(TextColumn("{task.description}"), BarColumn(bar_width=20),
                                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                  console=Console(file=self.stream), redirect_stdout=False,
                                  redirect_stderr=False, refresh_per_second=2)
            self._bars.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def update(self, key: str, label: str | None = None, stage: str | None = None,
               value: float | None = None, target: float | None = None,
               detail: str | None = None) -> None:
        """Create or update row ``key``: a new stage, and/or a new value of its measure
        (``detail``: how to show it, instead of 'R-1 = value (target ...)')."""
        with self._lock:
            now = self.clock()
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = Row(label or key, started=now, stage_started=now)
            new_stage = stage is not None and stage != row.stage
            if stage is not None:
                row.set_stage(stage, now)
            if value is not None and target is not None:
                row.add(value, target, now)
            if detail is not None or value is not None:
                row.detail = detail
            self._show(key, row, force_plain=new_stage)

    def remove(self, key: str) -> None:
        with self._lock:
            self.rows.pop(key, None)
            task = self._tasks.pop(key, None)
            if task is not None and self._bars is not None:
                self._bars.remove_task(task)

    def note(self, message: str) -> None:
        """A message printed once, above the live rows."""
        with self._lock:
            if self._bars is not None:
                self._bars.console.print(message, markup=False, highlight=False)
            else:
                self.stream.write(message + "\n")
                self.stream.flush()

    def _add_task(self, bars: Progress, key: str, row: Row) -> None:
        """A bar for a new row, above the total's (which is moved down)."""
        total = self._tasks.pop(TOTAL, None) if key != TOTAL else None
        if total is not None:
            bars.remove_task(total)
        self._tasks[key] = bars.add_task(row.label, total=1.0, status=row.status())
        if total is not None:
            t = self.rows[TOTAL]
            self._tasks[TOTAL] = bars.add_task(t.label, total=1.0, status=t.status())

    def _show(self, key: str, row: Row, force_plain: bool) -> None:
        if self._bars is not None:
            if key not in self._tasks:
                self._add_task(self._bars, key, row)
            # below 1: a finished bar would stop its clock while the step still runs
            self._bars.update(self._tasks[key], completed=min(row.fraction(), 0.99),
                              status=row.status())
            return
        now = self.clock()
        if force_plain or now - self._last_plain >= self.every:
            self._last_plain = now
            rows = sorted(self.rows.items(), key=lambda kv: kv[0] == TOTAL)
            self.stream.write("[numass] " + " | ".join(r.line(now) for _, r in rows) + "\n")
            self.stream.flush()


@contextlib.contextmanager
def logs_to(logfile, logger_name: str = "numass"):
    """stdout, stderr, the samplers' (root) and numass's log records -> ``logfile``."""
    root = logging.getLogger()
    log = logging.getLogger(logger_name)
    handlers_before = list(root.handlers)
    own_handlers = list(log.handlers)
    for h in own_handlers:
        log.removeHandler(h)
    file_handler = logging.StreamHandler(logfile)
    file_handler.setFormatter(logging.Formatter("[numass] %(message)s"))
    log.addHandler(file_handler)
    try:
        with contextlib.redirect_stdout(logfile), contextlib.redirect_stderr(logfile):
            yield
    finally:
        for h in list(root.handlers):  # Cobaya's handler on the log file: detach it
            if h not in handlers_before:
                root.removeHandler(h)
        log.removeHandler(file_handler)
        for h in own_handlers:
            log.addHandler(h)
