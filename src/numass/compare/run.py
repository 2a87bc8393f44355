"""Running a comparison: the public entry point ``run_comparison`` and its result."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cobaya.model  # noqa: F401 - imported once here, so that forked task processes start at once

from numass.compare.collect import collect
from numass.compare.executor import run_tasks
from numass.compare.plan import Job, Settings, apply_overrides, plan, select
from numass.compare.tasks import job_sampler
from numass.likelihoods import resolve_data


def json_default(o):
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


@dataclass
class ComparisonResult:
    """A finished (or interrupted) comparison: its folder and DIR/summary.json's content."""
    out: Path
    summary: dict

    @property
    def wall_seconds(self) -> float:
        return self.summary["wall_seconds"]

    def failed(self) -> list[str]:
        """The hypotheses whose run failed (status 'error: ...')."""
        return [n for n, e in self.summary["hypotheses"].items()
                if e["status"].startswith("error")]

    def write(self) -> None:
        (self.out / "summary.json").write_text(
            json.dumps(self.summary, indent=2, default=json_default))

    @classmethod
    def read(cls, out: str | Path) -> "ComparisonResult":
        out = Path(out)
        return cls(out, json.loads((out / "summary.json").read_text()))


def run_comparison(data: str | None = "embedded", out: str | Path = "numass-compare",
                   quick: bool = False, data_dir: str | None = None, workers: int | None = None,
                   settings: Settings | None = None, say=print, jobs: list[Job] | None = None,
                   only: list[str] | None = None, allow_camb: bool = False,
                   executor: str = "local", plot=None, board=None,
                   param_overrides: dict | None = None) -> ComparisonResult:
    """Plan, run (resuming) and collect the comparison; write DIR/summary.json.

    ``plot`` draws the ΛCDM job's triangle plot (numass.report.plots.triangle_plot); ``board``
    (a progress.ProgressDisplay) shows the running tasks; ``param_overrides`` (--fix, --prior)
    apply to every job whose model has the parameter (plan.apply_overrides)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings or Settings.make(quick=quick)
    jobs = jobs if jobs is not None else plan(data, data_dir=data_dir, allow_camb=allow_camb)
    if only:
        jobs = select(jobs, only)
    if param_overrides:
        jobs = apply_overrides(jobs, param_overrides)
    for j in jobs:  # an impossible --sampler is an error before anything runs
        if not j.skip:
            job_sampler(j, settings)
    data_label, base = resolve_data(data)
    workers = workers or min(2, os.cpu_count() or 1)
    t0 = time.time()
    say(f"[numass compare] {data_label} data ({', '.join(base)}); {len(jobs)} jobs; output in "
        f"{out}{'; quick settings' if settings.quick else ''}")
    result = ComparisonResult(out, {})
    try:
        run_tasks(jobs, out, settings, data_dir=data_dir, workers=workers, say=say,
                  executor=executor, plot=plot, board=board)
    finally:  # even on Ctrl-C: what has finished is collected
        result.summary = collect(jobs, out, settings, data_label, base, wall=time.time() - t0)
        result.write()
    return result


__all__ = ["ComparisonResult", "json_default", "run_comparison"]
