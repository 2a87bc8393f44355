"""The posterior on a BatchPosterior, by importance sampling or nested sampling (nautilus): the
default sampler's steps.

A best fit (bestfit.newton_fit, batched), the sampling box around it, the posterior and ln Z
(importance sampling or nested.run_nautilus) written as GetDist chains at out/chains/numass, the best fit refined from
the best sample, profiles at the oscillation floors (bestfit.newton_profile, all floors in one
batch), and the tails the samples do not resolve by the evidence ratio (tail.py). In place of
R-1 the summary gives n_eff and ln Z with its error ('rminus1' is null).

With ``NestedSettings.importance`` (--sampler auto, the default) the posterior and ln Z come
first from importance sampling around the best fit (importance.posterior_importance: batched
calls and no network training, where nautilus's bounds cost most of a run), and nautilus runs
only where that does not cover the posterior: a best fit on prior edges in two or more
parameters (a corner), a proposal whose draws do not settle on their own moments after a few
refitted rounds (a curved or multimodal posterior), Pareto k̂ above 0.7, or fewer effective
draws than n_eff after the top-ups. A posterior cut by one prior edge (Σmν >= 0, z† <= 3) is
importance-sampled: the draws beyond the edge weigh nothing, and the refitted rounds move the
proposal to the cut posterior's moments.
Importance sampling cannot see a mode the proposal never reaches.
summary.json says which served ('sampler') and why ('importance').
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from numass.errors import InputError
from numass.inference import say
from numass.inference.bestfit import newton_fit, newton_profile, saddle_free_covariance
from numass.inference.importance import PARETO_K_MAX, posterior_importance
from numass.inference.nested import (
    N_EFF,
    N_LIVE,
    TruncatedPrior,
    edge_weight,
    run_nautilus,
    sampling_box,
    write_getdist_chain,
)
from numass.inference.overrides import fixed_value
from numass.inference.posterior import BatchPosterior
from numass.inference.results import CHAIN_ROOT, proposal_refs, proposal_widths
from numass.inference.summary import posterior_fields
from numass.inference.tail import TailSettings, resolve_tails
from numass.stats import FLOORS

# σ (the proposal's) between a best fit and a prior edge within which the posterior's peak is
# cut there: two such parameters make a corner (w0wa's best fit, 2.4σ from w = 1 and ~2.6σ
# from wa = -3, is importance-sampled within 3% of nautilus's σ; the interaction model's, at
# Σmν = 0 and α_fs = 0, is not)
CORNER_CLEARANCE = 1.0


@dataclass(frozen=True)
class NestedSettings:
    """nautilus's settings for a run: live points, the effective samples it runs to, its
    networks per bound, and a cap on likelihood calls; ``importance``: try importance sampling
    around the best fit first, nautilus only where it does not cover the posterior."""

    n_live: int = N_LIVE
    n_eff: int = N_EFF
    # one network per bound, as the comparison: training the networks is most of a run's CPU on
    # cheap likelihoods (numass run on the embedded data: 37 s with four, 21 s with one)
    n_networks: int = 1
    n_like_max: float = float("inf")
    importance: bool = False


def importance_first(sampler: str | None) -> bool:
    """The automatic sampler choice tries importance sampling around the best fit first: it
    serves where its diagnostics pass (Pareto k̂ <= 0.7 and the ESS asked for; the same n_eff as
    nautilus's), nautilus runs where they fail; an explicit nautilus (or MCMC) keeps its own."""
    return sampler in (None, "auto")


def _latex(info: dict) -> dict:
    return {n: v["latex"] for n, v in info["params"].items()
            if isinstance(v, dict) and "latex" in v}


def run_nested_analysis(info: dict, model: str, datasets: list[str], out: Path, t0: float,
                        resume: bool, seed: int | None, progress, plot, mass_param: str,
                        data_dir=None, settings: NestedSettings | None = None,
                        tail: TailSettings | None = None) -> dict:
    """Best fit, nautilus, profiles; returns the summary (the caller writes summary.json).
    ``tail``: resolve the Bayesian tension of a floor with fewer than tail.min_ess effective
    samples above it by the evidence ratio (None: no tail runs)."""
    settings = settings or NestedSettings()
    post = BatchPosterior(info, data_dir=data_dir, backend_options={})  # the box is the prior
    fixed_mass = None if mass_param in post.names else fixed_value(info["params"].get(mass_param))
    if mass_param not in post.names and fixed_mass is None:
        raise InputError(f"model {model} has no sampled {mass_param} parameter")
    widths, refs = proposal_widths(info), proposal_refs(info)
    say(progress, "[numass] 1/4 best fit (batched Newton) and the sampling box")
    bf = newton_fit(post, refs, widths, seed=seed or 0)
    box = sampling_box(post, bf)
    stages = {"best_fit": time.time() - t0}
    res, record = (_importance_run(post, bf, box, settings.n_eff, seed, progress, widths)
                   if settings.importance else (None, None))
    if res is None:
        say(progress, f"[numass] 2/4 nested sampling (nautilus; checkpoint in {out / 'chains'})")
        res = run_nautilus(post, box, out, n_live=settings.n_live, n_eff=settings.n_eff,
                           seed=seed, resume=resume, say=progress,
                           n_like_max=settings.n_like_max, n_networks=settings.n_networks)
    root = write_getdist_chain(out / CHAIN_ROOT, post, res, _latex(info))
    stages["importance" if res.get("sampler") == "importance" else "nested"] = \
        time.time() - t0 - sum(stages.values())
    say(progress, "[numass] 3/4 best fit refined from the best sample" +
        (", profiles at the floors" if fixed_mass is None else ""))
    top = res["points"][int(np.argmax(res["loglike"]))]
    # from the best sample (the sampler may have found a better optimum) and the first fit; not
    # from the first fit's random starts again (the same seed's: their steps would repeat)
    bf = newton_fit(post, refs, widths, seed=seed or 0, n_starts=0, n_candidates=0,
                    extra_starts=[dict(zip(post.names, top)), bf])
    # --fix of the mass: nothing to profile or measure against the floors
    profiles = (dict(zip(FLOORS, newton_profile(post, mass_param, list(FLOORS.values()), bf,
                                                  widths)))
                if fixed_mass is None else None)
    summary = _nested_summary(model, datasets, post, res, bf, profiles, mass_param, root,
                              fixed_mass)
    stages["profiles"] = time.time() - t0 - sum(stages.values())
    if record is not None:
        summary["importance"] = record
    if record is None or record["fallback"]:
        summary["nautilus"] = {"n_live": settings.n_live, "n_eff_target": settings.n_eff,
                               "n_networks": settings.n_networks}
    if tail is not None and fixed_mass is None:
        resolve_tails(post, summary, box, dict(FLOORS), out, mass_param, tail, seed=seed,
                      resume=resume, say=progress, posterior=(res["points"], res["weights"]))
        stages["tails"] = time.time() - t0 - sum(stages.values())
    if summary.get("warning"):
        say(progress, f"[numass] warning: {summary['warning']}")
    say(progress, "[numass] 4/4 summary and plots")
    if plot is not None:
        from getdist import loadMCSamples

        samples = loadMCSamples(str(root), settings={"ignore_rows": 0})
        summary["triangle_plot"] = str(plot(
            samples, out / "triangle.png",
            params=[n for n in [mass_param, *post.names] if n in post.names]))
    summary["wall_seconds"] = round(time.time() - t0, 1)
    stages["plots"] = max(summary["wall_seconds"] - sum(stages.values()), 0.0)
    summary["stage_seconds"] = {k: round(v, 1) for k, v in stages.items()}
    return summary


def _importance_run(post, bf: dict, box: dict, n_eff: int, seed, progress, widths: dict):
    """(run_nautilus's result dict, or None where nautilus must run; summary.json's
    'importance' record: ESS, k̂, ln Z's error, calls and 'fallback', why it did not serve).
    The proposal's covariance: the inverse Hessian at the best fit, else its saddle-free
    regularisation (bestfit.saddle_free_covariance)."""
    cov = bf.get("covariance")
    cov = saddle_free_covariance(post, bf, widths, box) if cov is None else np.asarray(cov)
    if cov is None:
        say(progress, "[numass] no Hessian at the best fit for importance sampling: nautilus")
        return None, {"fallback": "no finite Hessian at the best fit"}
    centre = np.array([bf[n] for n in post.names])
    corner = prior_corner(post, centre, cov)
    if corner is not None:
        say(progress, f"[numass] {corner}: nautilus rather than importance sampling")
        return None, {"fallback": corner}
    say(progress, "[numass] 2/4 importance sampling around the best fit (Student-t)")
    lo, hi = (np.array([box[n][i] for n in post.names]) for i in (0, 1))
    try:
        run = posterior_importance(post, centre, cov, lo, hi, n_eff, seed=seed)
    except np.linalg.LinAlgError as exc:
        say(progress, f"[numass] importance sampling: no proposal ({exc}); nautilus instead")
        return None, {"fallback": f"no proposal: {exc}"}
    record = {"ess": run["ess"], "pareto_k": run["pareto_k"], "pareto_k_max": PARETO_K_MAX,
              "ess_target": n_eff, "ln_evidence": run["ln_evidence"],
              "ln_evidence_err": run["ln_evidence_err"], "draws": run["draws"],
              "n_calls": run["n_calls"], "proposal": run["proposal"],
              "fallback": run["fallback"]}
    say(progress, f"[numass] importance sampling: ESS {run['ess']:.0f} of {run['draws']} draws, "
                  f"Pareto k̂ {run['pareto_k']:.2f}, ln Z = {run['ln_evidence']:.2f} ± "
                  f"{run['ln_evidence_err']:.2f}"
                  + (f"; nautilus instead ({run['fallback']})" if run["fallback"] else ""))
    if run["fallback"]:
        return None, record
    return _importance_result(post, box, run), record


def prior_corner(post, centre: np.ndarray, cov: np.ndarray) -> str | None:
    """Why importance sampling does not suit: the best fit lies within CORNER_CLEARANCE of the
    proposal's σ of prior edges in two or more parameters. The posterior is then cut in two
    directions, and its mass runs into the corner along their degeneracy (the interaction
    model's Σmν >= 0 and α_fs >= 0: larger masses where the free streaming is switched off),
    which no Student-t follows: there, with k̂ and the ESS passing, σ(Σmν,eff) came out 3-8% low
    against nautilus over five seeds. A single cut edge is adapted to (posterior_importance).
    None when fewer than two parameters are near an edge."""
    sd = np.sqrt(np.diag(cov))
    near = [f"{name} {min(x - lo, hi - x) / s:.1f}σ from {lo if x - lo < hi - x else hi:g}"
            for name, x, s, (lo, hi) in zip(post.names, centre, sd, post.bounds)
            if not min(x - lo, hi - x) / s >= CORNER_CLEARANCE]
    if len(near) < 2:
        return None
    return (f"the best fit lies near prior edges in {len(near)} parameters ({', '.join(near)}): "
            f"the posterior has a corner")


def _importance_result(post, box: dict, run: dict) -> dict:
    """run_nautilus's result dict from posterior_importance's weighted draws (weights below
    e^-40 of the largest dropped, as nautilus's)."""
    keep = np.isfinite(run["log_w"]) & (run["log_w"] > np.max(run["log_w"]) - 40)
    w = np.exp(run["log_w"][keep] - np.max(run["log_w"]))
    w /= w.sum()
    points = run["x"][keep]
    return {"points": points, "weights": w, "loglike": run["loglike"][keep],
            "derived": {k: v[keep] for k, v in run["derived"].items()},
            "ln_evidence": run["ln_evidence"], "ln_evidence_err": run["ln_evidence_err"],
            "ln_prior_mass_of_box": TruncatedPrior(post, box).ln_mass, "n_eff": run["ess"],
            "n_calls": run["n_calls"], "edge_weight": edge_weight(post, points, w, box),
            "box": {k: [float(a), float(b)] for k, (a, b) in box.items()},
            "finished": True, "sampler": "importance"}


def _nested_summary(model, datasets, post, res, bf, profiles, mass_param, root,
                    fixed_mass=None) -> dict:
    """summary.json of a nested run: the posterior fields every sampler writes, with the
    keys of weighted draws ('sampler': 'nautilus' or 'importance', which every chain reader
    branches on: results.burn_in)."""
    columns = {n: res["points"][:, i] for i, n in enumerate(post.names)} | res["derived"]
    summary = {
        "model": model, "datasets": datasets, "backend": post.backend_name,
        "sampler": res.get("sampler", "nautilus"),
        **posterior_fields(post.names, columns, res["weights"], bf, profiles, mass_param,
                           fixed_mass),
        "rminus1": None, "converged": bool(res["finished"]),
        "n_eff": res["n_eff"], "ln_evidence": res["ln_evidence"],
        "ln_evidence_err": res["ln_evidence_err"],
        "ln_prior_mass_of_box": res["ln_prior_mass_of_box"], "sampling_box": res["box"],
        "box_edge_weight": res["edge_weight"],
        "n_samples": len(res["weights"]), "n_calls": res["n_calls"],
        "n_theory_failures": None,
        "chains": str(root),
    }
    edges = {k: v for k, v in res["edge_weight"].items() if v > 1e-3}
    if edges:
        summary["warning"] = (f"posterior weight at the sampling box's edge: {edges}; the box "
                              f"cut the posterior")
    return summary
