"""The CAMB check of one comparison job (its own task, after the posterior; state in camb.json).

The job's emulator best fit and its profile points at both oscillation floors (Σmν,eff held at
the floor) are re-evaluated with the exact backend (``camb``; the CAMB late-time engines
``lscdm`` and ``nu_interacting`` for the emulated ones) and refined by ``Settings.camb_steps``
Newton steps (inference.camb_refine: about d + 2 CAMB calls per optimum for one step, in
parallel over the task's cores). The collector then builds χ²_min, Δχ², ΔAIC and the profile
tensions from the CAMB values and keeps the emulator's beside them. With ``Settings.verify`` N,
N thinned posterior samples are importance-reweighted with CAMB (inference.reweight).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from numass.compare.plan import CHECK_SETTINGS, Job, Settings
from numass.errors import InputError, NumassError
from numass.inference.results import read_summary, weighted_draws
from numass.stats import FLOORS, profile_sigma

# the emulated backends and the exact ones they stand for
EXACT_BACKEND = {"emulator": "camb", "emulator-box": "camb", "lscdm-emulator": "lscdm",
                 "nu_interacting-emulator": "nu_interacting"}
CAMB_CHECK_CHOICES = ("hypotheses", "all", "none")


def exact_backend(job: Job) -> str | None:
    """The exact backend of a job that runs on an emulated one (None: already exact)."""
    return EXACT_BACKEND.get(job.backend or "")


def wants_camb_check(job: Job, settings: Settings) -> bool:
    """Whether the job gets a CAMB check: an emulated job that runs, among the jobs
    ``settings.camb_check`` names ('hypotheses', 'all' or 'none')."""
    if settings.camb_check not in CAMB_CHECK_CHOICES:
        raise InputError(f"camb_check '{settings.camb_check}': use one of "
                         f"{', '.join(CAMB_CHECK_CHOICES)}")
    if job.skip or job.same_as or exact_backend(job) is None or settings.camb_check == "none":
        return False
    return settings.camb_check == "all" or job.kind == "hypothesis"


def camb_fingerprint(job: Job, settings: Settings) -> str:
    """The posterior's fingerprint and the check's own settings: changing --verify reruns the
    check, not the chain."""
    check = {k: v for k, v in asdict(settings).items() if k in CHECK_SETTINGS}
    text = json.dumps([job.fingerprint(settings), check], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _infos(job: Job, approx_backend: str, exact: str, data_dir) -> tuple[dict, dict]:
    from numass.inference.setup import build_info

    kw = {"data_dir": data_dir, "likelihood_options": job.likelihood_options or None,
          "param_overrides": job.param_overrides or None}
    return (build_info(job.model, job.datasets, backend=approx_backend, **kw),
            build_info(job.model, job.datasets, backend=exact, **kw))


def _targets(summary: dict, info: dict, approx,
             names: list[str]) -> dict[str, tuple[np.ndarray, tuple[int, ...], float]]:
    """{'bestfit' | floor label: (emulator optimum as an array, held indices, emulator chi2)};
    a profile point the summary does not hold is found again on the emulator."""
    from numass.inference.bestfit import profile_at
    from numass.inference.results import proposal_widths

    mass = summary.get("mass_param", "mnu_eff")
    bf = summary["bestfit"]
    out: dict[str, tuple[np.ndarray, tuple[int, ...], float]] = {
        "bestfit": (np.array([bf[n] for n in names]), (), bf["chi2"])}
    if mass not in names:
        return out
    for label, floor in FLOORS.items():
        prof = (summary.get("profiles") or {}).get(label) or {}
        point = prof.get("point")
        if point is None:
            fit = profile_at(info, mass, floor, bf, proposal_widths(info))
            point, prof = {**fit, mass: floor}, {"chi2": fit["chi2"]}
        x = np.array([point.get(n, floor if n == mass else bf[n]) for n in names], float)
        x[names.index(mass)] = floor
        out[label] = (x, (names.index(mass),), prof["chi2"])
    return out


def _point_entry(r, names: list[str], x0: np.ndarray, chi2_emulator: float, scale) -> dict:
    entry = {"chi2_emulator": chi2_emulator, "n_camb_calls": r.n_calls, "status": r.status}
    if r.record is None:
        entry.update(chi2_camb=None, status=r.status + "; the emulator's values are kept")
        return entry
    entry.update(
        chi2_camb=r.record["chi2"], chi2_camb_by_likelihood=r.record["chi2_by_likelihood"],
        chi2_camb_at_emulator_optimum=r.start_record["chi2"],
        params_camb=dict(zip(names, map(float, r.x))),
        max_shift_in_widths=float(np.max(np.abs(r.x - x0) / scale)) if len(x0) else 0.0)
    if r.steps:
        entry["steps"] = r.steps
    return entry


def run_camb_check(job: Job, settings: Settings, data_dir, folder: Path,
                   approx_backend: str | None, workers: int = 1, say=None) -> dict:
    """camb.json's content for the finished posterior in ``folder`` (see the module text)."""
    from numass.inference.camb_refine import ExactPool, refine
    from numass.inference.posterior import CobayaPosterior
    from numass.inference.results import proposal_widths

    exact = exact_backend(job)
    if approx_backend is None or exact is None:
        raise InputError(f"{job.name}: backend '{job.backend}' is not an emulated one; the CAMB "
                         f"check compares an emulated job with its exact backend")
    say = say or (lambda msg: None)
    summary = read_summary(Path(folder) / "summary.json")
    info_a, info_x = _infos(job, approx_backend, exact, data_dir)
    approx = CobayaPosterior.from_info(info_a)
    names = approx.names
    if names != CobayaPosterior.from_info(info_x).names:
        raise NumassError(f"{job.name}: the {exact_backend(job)} model samples other parameters "
                          f"than the {approx_backend} model; no CAMB check")
    widths = proposal_widths(info_a)
    scale = np.array([widths[n] for n in names])
    lo, hi = approx.bounds.T

    def f_approx(x):
        lp = float(approx(np.asarray(x, dtype=float)[None, :])[0])
        return -lp if math.isfinite(lp) else math.inf

    t0 = time.time()
    points = {}
    with ExactPool(info_x, workers) as pool:
        say(f"CAMB check with {exact_backend(job)} ({pool.workers} process(es), "
            f"{settings.camb_steps} Newton step(s) per optimum)")
        for key, (x0, held, chi2_e) in _targets(summary, info_a, approx, names).items():
            r = refine(lambda xs: pool.evaluate(names, xs), f_approx, x0, scale, lo, hi,
                       held=held, steps=settings.camb_steps)
            points[key] = _point_entry(r, names, x0, chi2_e, scale)
            c = points[key]["chi2_camb"]
            say(f"{key}: chi2 emulator {chi2_e:.3f}, CAMB "
                f"{'failed' if c is None else f'{c:.3f}'} ({r.status})")
        n_calls = pool.n_calls
    wall = time.time() - t0
    out = {"exact_backend": exact_backend(job), "approx_backend": approx_backend,
           "camb_steps": settings.camb_steps, "workers": workers, "points": points,
           "n_camb_calls": n_calls, "camb_seconds": round(wall, 1),
           "seconds_per_camb_call": round(wall * max(1, workers) / max(1, n_calls), 2)}
    if settings.verify:
        out["verify"] = run_verify(job, summary, folder, info_a, info_x, settings, workers, say)
    return out


def run_verify(job: Job, summary: dict, folder: Path, info_a: dict, info_x: dict,
               settings: Settings, workers: int, say) -> dict:
    """``settings.verify`` thinned posterior samples importance-reweighted with CAMB."""
    from numass.inference.camb_refine import ExactPool
    from numass.inference.reweight import reweight_samples

    say(f"--verify: {settings.verify} posterior samples reweighted with {exact_backend(job)}")
    ignore = 0.0 if weighted_draws(summary.get("sampler")) else None
    with ExactPool(info_x, workers) as pool:
        return reweight_samples(folder, info_a, n=settings.verify, seed=settings.seed,
                                exact=lambda names, xs: [r["logpost"]
                                                         for r in pool.evaluate(names, xs)],
                                ignore_rows=ignore, progress=say)


# ---------------------------------------------------------------- into the comparison's summary

def chi2_of(by_likelihood: dict, exclude: tuple[str, ...] = ()) -> float:
    return float(sum(v for k, v in by_likelihood.items() if k not in exclude))


def apply_camb(entry: dict, summary: dict, state: dict | None) -> dict:
    """The entry with the CAMB check's values: ``camb_check`` (status, per optimum the emulator's
    and CAMB's chi2 and their difference), ``bestfit.chi2_camb``, and each floor's ``profile``
    tension from the CAMB optima (the emulator's kept as ``profile_emulator``). Where the check
    is absent or failed at an optimum, the emulator's values stay and the status says so."""
    if state is None:
        return entry
    check = {k: state[k] for k in ("status", "exact_backend", "camb_steps", "n_camb_calls",
                                   "seconds_per_camb_call", "verify") if k in state}
    entry = {**entry, "camb_check": check}
    points = state.get("points") or {}
    check["points"] = {k: {**{f: p.get(f) for f in ("chi2_emulator", "chi2_camb",
                                                     "chi2_camb_at_emulator_optimum", "status")},
                           "camb_minus_emulator": (None if p.get("chi2_camb") is None
                                                   else p["chi2_camb"] - p["chi2_emulator"])}
                       for k, p in points.items()}
    bf = points.get("bestfit") or {}
    if state.get("status") != "ok" or bf.get("chi2_camb") is None:
        return entry
    entry["bestfit"] = {**entry["bestfit"], "chi2_camb": bf["chi2_camb"],
                        "chi2_camb_by_likelihood": bf["chi2_camb_by_likelihood"],
                        "params_camb": bf["params_camb"]}
    mass = summary.get("mass_param", "mnu_eff")
    best_mass = bf["params_camb"].get(mass)
    tensions = {}
    for label, t in entry["tension_sigma"].items():
        p = points.get(label) or {}
        t = {**t}
        if p.get("chi2_camb") is not None and best_mass is not None:
            t["profile_emulator"] = t["profile"]
            t["profile"] = profile_sigma(bf["chi2_camb"], p["chi2_camb"], best_mass,
                                         FLOORS[label])
            t["profile_from"] = "camb"
        tensions[label] = t
    entry["tension_sigma"] = tensions
    return entry


__all__ = [
    "CAMB_CHECK_CHOICES",
    "EXACT_BACKEND",
    "apply_camb",
    "camb_fingerprint",
    "chi2_of",
    "exact_backend",
    "run_camb_check",
    "wants_camb_check",
]
