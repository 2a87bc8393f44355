"""The posterior mass above an oscillation floor by the evidence ratio, for tails the samples do
not resolve.

Counting samples resolves a tail only down to ~1 / n_eff: at 4σ (p ≈ 6e-5) even 10 000
effective samples put fewer than one above the floor. The ratio of two evidences does not have
that limit:

    P(m >= floor | data) = Z(m >= floor) / Z,

where Z(m >= floor) integrates the same likelihood and prior over the part of the prior above
the floor. numass gets it from a second nautilus run on the first run's sampling box with the
mass's lower edge moved up to the floor; nested.run_nautilus adds the box's prior mass back, so
both evidences are normalised to the same (full) prior and their ratio is the tail mass itself,
however small. Its error is the two runs' ln Z errors in quadrature (numass.stats
.evidence_ratio_tension). tests/test_compare_nested.py checks it on a Gaussian whose tail is
analytic.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from numass.fileio import atomic_write_json, read_json
from numass.inference.importance import TAIL_DRAWS, TAIL_IS_MIN_ESS, tail_importance
from numass.inference.nested import run_nautilus
from numass.processes import die_with_parent
from numass.stats import SIGMA_PRINT_CAP, TAIL_RESOLVED_ESS, evidence_ratio_tension

# the live points and effective samples of a tail run: ln Z to 1/sqrt(n_eff) needs few effective
# samples (400 -> 0.05); the live points set how well the bounds follow the cut posterior
TAIL_N_LIVE = 500
TAIL_N_EFF = 400
# the sigma recorded when the floor lies beyond the sampling box (best fit + 20 Hessian sigma):
# the tail is far beyond SIGMA_PRINT_CAP and is printed as such
OUTSIDE_BOX_SIGMA = 20.0


@dataclass(frozen=True)
class TailSettings:
    """When and how a nested run's tails are resolved by the evidence ratio: floors with fewer
    than ``min_ess`` effective samples above them, by importance sampling where its proposal
    fits, else by a nautilus run on the cut prior with these settings."""

    min_ess: float = TAIL_RESOLVED_ESS
    n_live: int = TAIL_N_LIVE
    n_eff: int = TAIL_N_EFF
    n_networks: int = 1


def tail_evidence(post, box: dict, mass_param: str, floor: float, out: str | Path,
                  n_live: int = TAIL_N_LIVE, n_eff: int = TAIL_N_EFF, seed: int | None = None,
                  resume: bool = True, say=None, n_networks: int = 1) -> dict | None:
    """ln Z of ``post`` over ``box`` with the mass cut at ``floor`` (normalised to the full
    prior): {'ln_evidence', 'ln_evidence_err', 'n_eff', 'n_calls', 'finished'}; None when the
    floor lies at or beyond the box's upper edge."""
    lo, hi = box[mass_param]
    if floor >= hi:
        return None
    cut = {**box, mass_param: (max(lo, floor), hi)}
    res = run_nautilus(post, cut, out, n_live=n_live, n_eff=n_eff, seed=seed, resume=resume,
                       say=say, n_networks=n_networks)
    return {k: res[k] for k in ("ln_evidence", "ln_evidence_err", "n_eff", "n_calls", "finished")}


def importance_tail(post, box: dict, mass_param: str, floor: float, folder: Path,
                    posterior: tuple[np.ndarray, np.ndarray], anchor: dict | None,
                    seed: int | None, resume: bool, draws: int = TAIL_DRAWS,
                    min_ess: float = 0.0) -> dict | None:
    """tail_importance's record (``draws`` a round, topped up towards ``min_ess`` effective
    draws), kept in folder/importance.json (a rerun reads it back)."""
    path = folder / "importance.json"
    key = {"floor": floor, "seed": seed, "box": {k: list(v) for k, v in box.items()},
           "draws": draws, "min_ess": min_ess}
    saved = read_json(path) if resume else None  # None: missing or unreadable
    if isinstance(saved, dict) and saved.get("key") == key:
        return saved["result"]
    run = tail_importance(post, box, mass_param, floor, *posterior, anchor=anchor, seed=seed,
                          draws=draws, min_ess=min_ess)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"key": key, "result": run}, indent=1)
    return run


def importance_route(post, box, mass_param, label, floor, out, posterior, anchor, seed,
                     resume, say, n_eff: int = TAIL_N_EFF) -> dict | None | str:
    """Z(mass >= floor) by importance sampling: its record where its proposal fits (as many
    effective draws as the nested tail run would run to, ``n_eff``, at most TAIL_IS_MIN_ESS;
    TAIL_DRAWS a round at TAIL_N_EFF, in proportion otherwise, and one top-up where the last
    round falls short), None beyond the box, NESTED where the nested run on the cut prior must
    give it."""
    if posterior is None:
        return NESTED
    need = min(n_eff, TAIL_IS_MIN_ESS)
    run = importance_tail(post, box, mass_param, floor, out / f"tail_{label}", posterior,
                          anchor, seed, resume, draws=round(TAIL_DRAWS * need / TAIL_N_EFF),
                          min_ess=need)
    if run is None or run["ess"] >= need:
        return run
    if say:
        say(f"[numass] tail above {floor} eV: importance sampling had {run['ess']:.0f} "
            f"effective draws (< {need}); nested run on the cut prior instead")
    return NESTED


NESTED = "nested"
_FORKED: list = []  # what the forked tail runs read: (post, box, mass_param, out, settings, ...)


def _nested_tail(label: str, floor: float) -> dict | None:
    post, box, mass_param, out, settings, seed, resume, say = _FORKED[0]
    run = tail_evidence(post, box, mass_param, floor, out / f"tail_{label}",
                        n_live=settings.n_live, n_eff=settings.n_eff, seed=seed, resume=resume,
                        say=say, n_networks=settings.n_networks)
    return None if run is None else {**run, "method": "nested"}


def nested_tails(post, box, mass_param, floors: dict, out: Path, settings: TailSettings,
                 seed, resume, say) -> dict:
    """{label: the nested run's record} for each floor: side by side in forked processes when
    there are two or more and more than one core (each run writes its own folder; the same
    seeds, so the same results as one after the other), else here."""
    _FORKED[:] = [(post, box, mass_param, out, settings, seed, resume, say)]
    try:
        if len(floors) < 2 or (os.cpu_count() or 1) < 2 or \
                "fork" not in multiprocessing.get_all_start_methods():
            return {label: _nested_tail(label, floor) for label, floor in floors.items()}
        with cf.ProcessPoolExecutor(min(len(floors), os.cpu_count() or 1),
                                    mp_context=multiprocessing.get_context("fork"),
                                    initializer=die_with_parent) as pool:
            futures = {label: pool.submit(_nested_tail, label, floor)
                       for label, floor in floors.items()}
            return {label: f.result() for label, f in futures.items()}
    finally:
        _FORKED.clear()


def _profile_point(summary: dict, label: str) -> dict | None:
    """The profile's constrained best fit at a floor, when it was found (finite chi2)."""
    profile = summary.get("profiles", {}).get(label, {})
    point = profile.get("point") or {}
    values = [profile.get("chi2", math.nan), *point.values()]
    return point if point and all(math.isfinite(v) for v in values) else None


def resolve_tails(post, summary: dict, box: dict, floors: dict, out: Path, mass_param: str,
                  settings: TailSettings = TailSettings(), seed: int | None = None,
                  resume: bool = True, say=None, posterior=None) -> dict:
    """Replace, in a nested run's ``summary``, the Bayesian tension of each floor with fewer than
    ``settings.min_ess`` effective samples above it by the evidence ratio (tail runs in
    out/tail_<floor>).
    ``posterior``: the main run's (points, weights), for the importance route (None: nested
    runs only). Returns {floor label: the tail run's record}."""
    runs: dict = {}
    for label, floor in floors.items():
        counted = summary["tension_bayes"][label]
        if counted["ess_above"] is not None and counted["ess_above"] >= settings.min_ess:
            continue
        if say:
            say(f"[numass] tail above the {label.replace('_', '-')} floor: "
                f"{counted['ess_above']:.1f} effective samples there; evidence ratio "
                f"Z(mass >= {floor} eV) / Z")
        anchor = _profile_point(summary, label)
        runs[label] = importance_route(post, box, mass_param, label, floor, out, posterior,
                                       {**anchor, mass_param: floor} if anchor else None, seed,
                                       resume, say, n_eff=settings.n_eff)
    runs.update(nested_tails(post, box, mass_param,
                             {k: floors[k] for k, v in runs.items() if v == NESTED}, out,
                             settings, seed, resume, say))
    for label, run in runs.items():
        counted = summary["tension_bayes"][label]
        if run is None:
            t = {**counted, "sigma": OUTSIDE_BOX_SIGMA, "method": "evidence-ratio",
                 "extrapolated": False, "beyond_cap": True, "p_above": 0.0,
                 "note": f"the floor lies beyond the sampling box (best fit + 20 Hessian σ): "
                         f"far beyond {SIGMA_PRINT_CAP:g}σ"}
        else:
            t = evidence_ratio_tension(counted, run["ln_evidence"], run["ln_evidence_err"],
                                       summary["ln_evidence"], summary["ln_evidence_err"])
            t["tail_method"] = run.get("method", "nested")
        runs[label] = run or {}
        summary["tension_bayes"][label] = t
        summary["tension_sigma"][label] = t["sigma"]
        for flags in ("tension_sigma_extrapolated", "tension_sigma_lower_bound"):
            summary[flags] = [k for k in summary.get(flags, []) if k != label]
    if runs:
        summary["tail_runs"] = runs
    return runs


__all__ = ["TAIL_N_EFF", "TAIL_N_LIVE", "TailSettings", "resolve_tails", "tail_evidence"]
