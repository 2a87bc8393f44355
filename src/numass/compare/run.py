"""Running a comparison: the public entry point ``run_comparison`` and its result.

An output folder holds one comparison: DIR/run.json records its data (each data set's source,
with the files' sha256) and settings; a rerun on other data or settings is refused (``restart``
discards the earlier results instead), so results on two sources are never mixed.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cobaya.model  # noqa: F401 - imported once here, so that forked task processes start at once

from numass.compare.collect import collect
from numass.compare.executor import run_tasks
from numass.compare.plan import (
    CHECK_SETTINGS,
    Job,
    Settings,
    apply_overrides,
    data_sources,
    plan,
    select,
)
from numass.compare.tasks import MANIFEST_FILE, STATE_FILE, job_sampler
from numass.errors import InputError
from numass.fileio import atomic_write_json, read_json
from numass.inference.data_record import source_change
from numass.likelihoods import resolve_data

RUN_RECORD = "run.json"
# what a comparison writes at the top of its folder (discarded by restart)
TOP_LEVEL = ("summary.json", "report.html", "report.md", "figures", RUN_RECORD)


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

    def entries(self) -> dict[str, dict]:
        """Every job's entry by job name: the hypotheses, the τ ladder, the variants."""
        entries = {**self.summary.get("variants", {})}
        for name, e in self.summary.get("hypotheses", {}).items():
            entries[name] = e
            entries.update({f"tau_{r}": v for r, v in (e.get("ladder") or {}).items()})
        return entries

    def failed_tasks(self) -> list[tuple[str, str]]:
        """(task, its job's folder) for every task that failed: a posterior (status), an
        evidence task or a CAMB check; a job run once for two entries (same_as) counts once."""
        out, seen = [], set()
        for name, e in self.entries().items():
            folder = e.get("folder") or e.get("same_as") or name
            for task, status in (("", e.get("status")), (" (evidence)", e.get("evidence_status")),
                                 (" (CAMB check)", (e.get("camb_check") or {}).get("status"))):
                if str(status or "").startswith("error") and (folder, task) not in seen:
                    seen.add((folder, task))
                    out.append((folder + task, folder))
        return out

    def write(self) -> None:
        atomic_write_json(self.out / "summary.json", self.summary)

    def verify(self) -> None:
        """Every finished task's files against its manifest (fileio.ManifestError naming the
        first damaged or missing file); a job reported ok must have its posterior's manifest."""
        from numass.fileio import verify_manifest

        folders = {e["folder"] for e in self.entries().values()
                   if e.get("status") == "ok" and e.get("folder")}
        for name in sorted(folders | set(self.summary.get("jobs", {}))):
            folder = self.out / name
            needed = ["posterior"] if name in folders else []
            present = [p for p in MANIFEST_FILE if (folder / MANIFEST_FILE[p]).is_file()]
            for part in dict.fromkeys(needed + present):
                verify_manifest(folder, MANIFEST_FILE[part])

    @classmethod
    def read(cls, out: str | Path) -> ComparisonResult:
        out = Path(out)
        return cls(out, json.loads((out / "summary.json").read_text()))


def check_out_folder(out: str | Path) -> Path:
    """``out`` as a Path; InputError when it exists and is not a folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder: give a folder for the "
                         f"comparison's results")
    return out


def _is_task_folder(folder: Path) -> bool:
    names = [*STATE_FILE.values(), *MANIFEST_FILE.values(), *(
        f"started_{part}.json" for part in STATE_FILE)]
    return folder.is_dir() and any((folder / n).exists() for n in names)


def discard_results(out: Path) -> list[str]:
    """--restart: remove what earlier comparisons wrote in ``out`` (job folders, summary,
    report, run record); anything else in the folder stays. Returns what was removed."""
    removed = []
    for p in sorted(out.iterdir()) if out.is_dir() else []:
        if p.name in TOP_LEVEL or _is_task_folder(p):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
            removed.append(p.name)
    return removed


def _differences(old: dict, new: dict) -> list[str]:
    """What differs between two run records, in words."""
    diffs = []
    if old.get("datasets") != new.get("datasets"):
        diffs.append(f"data {old.get('label')} ({', '.join(old.get('datasets') or [])}) → "
                     f"{new['label']} ({', '.join(new['datasets'])})")
    for i, src in (old.get("data") or {}).items():
        now = new["data"].get(i)
        if now is None or "absent" in (src["source"], now["source"]) or src == now:
            continue  # nothing was computed from an absent data set
        diffs.append(f"{i}: {source_change(src, now)}")
    for key in sorted(set(old.get("settings", {})) | set(new["settings"])):
        a, b = old.get("settings", {}).get(key), new["settings"].get(key)
        if a != b:
            diffs.append(f"setting {key} {a!r} → {b!r}")
    if (old.get("overrides") or {}) != (new.get("overrides") or {}):
        diffs.append(f"--fix/--prior {old.get('overrides') or {}} → {new.get('overrides') or {}}")
    return diffs


def claim_folder(out: Path, record: dict, restart: bool, say=print) -> None:
    """Refuse a folder holding another comparison (other data or settings) unless ``restart``,
    which discards its results; then record this one (DIR/run.json)."""
    old = read_json(out / RUN_RECORD)
    if restart:
        removed = discard_results(out)
        if removed:
            say(f"[numass compare] --restart: discarded the earlier results in {out} "
                f"({', '.join(removed)})")
    elif old is not None:
        diffs = _differences(old, record)
        if diffs:
            raise InputError(f"{out} holds a comparison on other data or settings ("
                             f"{'; '.join(diffs)}); rerun with --restart to discard its "
                             f"results and start afresh, or use another --out folder")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / RUN_RECORD, record)


def run_comparison(data: str | None = "embedded", out: str | Path = "numass-compare",
                   quick: bool = False, data_dir: str | None = None, workers: int | None = None,
                   settings: Settings | None = None, say=print, jobs: list[Job] | None = None,
                   only: list[str] | None = None, allow_camb: bool = False,
                   executor: str = "local", plot=None, board=None,
                   param_overrides: dict | None = None, restart: bool = False) -> ComparisonResult:
    """Plan, run (resuming) and collect the comparison; write DIR/summary.json.

    ``plot`` draws the ΛCDM job's triangle plot (numass.report.plots.triangle_plot); ``board``
    (a progress.ProgressDisplay) shows the running tasks; ``param_overrides`` (--fix, --prior)
    apply to every job whose model has the parameter (plan.apply_overrides). A folder holding
    a comparison on other data or settings is refused unless ``restart`` (claim_folder)."""
    out = check_out_folder(out)
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
    sources = data_sources({d for j in jobs for d in j.datasets}, data_dir)
    from_files = [i for i in base if sources[i]["source"] == "files"]
    if data_label == "embedded" and from_files:  # the label must say what was read
        data_label = f"embedded ids, {', '.join(from_files)} read from the data files"
    claim_folder(out, {"label": data_label, "datasets": base, "data": sources,
                       "settings": {k: v for k, v in settings.__dict__.items()
                                    if k not in CHECK_SETTINGS},
                       "overrides": param_overrides or {}}, restart, say)
    workers = workers or min(2, os.cpu_count() or 1)
    t0 = time.time()
    say(f"[numass compare] {data_label} data ({', '.join(base)}); {len(jobs)} jobs; output in "
        f"{out}{'; quick settings' if settings.quick else ''}")
    result = ComparisonResult(out, {})
    try:
        run_tasks(jobs, out, settings, data_dir=data_dir, workers=workers, say=say,
                  executor=executor, plot=plot, board=board, sources=sources)
    finally:  # even on Ctrl-C: what has finished is collected
        result.summary = collect(jobs, out, settings, data_label, base, wall=time.time() - t0)
        result.summary["data"]["sources"] = {i: src["source"] for i, src in sources.items()}
        result.write()
    return result


__all__ = ["ComparisonResult", "run_comparison"]
