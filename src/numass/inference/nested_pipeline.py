"""`numass run/fit --sampler nautilus`: the analysis of pipeline.run_analysis on batches.

Same steps and the same summary.json fields as the MCMC path: a best fit (batched Newton,
batch_optimize), the posterior (nautilus, nested.py) written as GetDist chains at
out/chains/numass, profiles at the oscillation floors, the triangle plot. In place of R-1 the
summary gives the nested sampler's n_eff and ln Z with its error ('rminus1' is null). The layout
is the one schema of both samplers (summary_schema.SCHEMA); pipeline.run_analysis writes it with
results.write_summary, which checks it first.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from numass.errors import InputError
from numass.inference.nested import N_EFF, N_LIVE
from numass.inference.overrides import fixed_value
from numass.inference.results import CHAIN_ROOT, proposal_refs, proposal_widths
from numass.stats import FLOORS, TENSION_DEFINITIONS, summarize_1d, tension_fields


def _say(progress, msg: str) -> None:
    if progress:
        progress(msg)


def choose_sampler(sampler: str | None, backend: str) -> str:
    """'nautilus' where the backend has a batched path and MPI is not in use, else 'mcmc';
    an explicit choice is kept (nautilus on an unbatched backend is an InputError)."""
    from numass.inference.batch_posterior import batched_backend

    if sampler not in (None, "auto", "mcmc", "nautilus"):
        raise InputError(f"unknown sampler '{sampler}'; use nautilus or mcmc")
    if sampler == "nautilus" and not batched_backend(backend):
        raise InputError(f"backend '{backend}' has no batched path: use --sampler mcmc")
    if sampler in ("mcmc", "nautilus"):
        return sampler
    from cobaya import mpi

    return "nautilus" if batched_backend(backend) and mpi.size() <= 1 else "mcmc"


def _latex(info: dict) -> dict:
    return {n: v["latex"] for n, v in info["params"].items()
            if isinstance(v, dict) and "latex" in v}


def run_nested_analysis(info: dict, model: str, datasets: list[str], out: Path, t0: float,
                        resume: bool, seed: int | None, progress, plot,
                        mass_param: str, data_dir=None, nested_options: dict | None = None) -> dict:
    """Best fit, nautilus, profiles; returns the summary (the caller writes summary.json).
    ``nested_options`` go to nested.run_nautilus,
    except 'tail' ({'min_ess', and tail_evidence's options}, or absent: no tail runs): the
    Bayesian tension of a floor with fewer than min_ess effective samples above it then comes
    from the evidence ratio (nested_tail.resolve_tails)."""
    from numass.inference.batch_optimize import batch_best_fit, batch_profile
    from numass.inference.batch_posterior import BatchPosterior
    from numass.inference.nested import run_nautilus, sampling_box, write_getdist_chain
    options = dict(nested_options or {})
    tail = options.pop("tail", None)
    post = BatchPosterior(info, data_dir=data_dir, backend_options={})  # the box is the prior
    fixed_mass = None if mass_param in post.names else fixed_value(info["params"].get(mass_param))
    if mass_param not in post.names and fixed_mass is None:
        raise InputError(f"model {model} has no sampled {mass_param} parameter")
    widths, refs = proposal_widths(info), proposal_refs(info)
    _say(progress, "[numass] 1/4 best fit (batched Newton) and the sampling box")
    bf = batch_best_fit(post, refs, widths, seed=seed or 0)
    box = sampling_box(post, bf)
    stages = {"best_fit": time.time() - t0}
    _say(progress, f"[numass] 2/4 nested sampling (nautilus; checkpoint in {out / 'chains'})")
    res = run_nautilus(post, box, out, seed=seed, resume=resume, say=progress, **options)
    root = write_getdist_chain(out / CHAIN_ROOT, post, res, _latex(info))
    stages["nested"] = time.time() - t0 - sum(stages.values())
    _say(progress, "[numass] 3/4 best fit refined from the best sample" +
         (", profiles at the floors" if fixed_mass is None else ""))
    top = res["points"][int(np.argmax(res["loglike"]))]
    bf = batch_best_fit(post, refs, widths, seed=seed or 0, n_starts=2,
                        extra_starts=[dict(zip(post.names, top)), bf])
    # --fix of the mass: nothing to profile or measure against the floors
    profiles = (batch_profile(post, mass_param, list(FLOORS.values()), bf, widths)
                if fixed_mass is None else None)
    summary = _nested_summary(model, datasets, post, res, bf, profiles, mass_param, root,
                              fixed_mass)
    stages["profiles"] = time.time() - t0 - sum(stages.values())
    summary["nautilus"] = {"n_live": options.get("n_live", N_LIVE),
                           "n_eff_target": options.get("n_eff", N_EFF),
                           "n_networks": options.get("n_networks", 4)}
    if tail is not None and fixed_mass is None:
        from numass.inference.nested_tail import resolve_tails

        tail = dict(tail)
        resolve_tails(post, summary, box, dict(FLOORS), out, mass_param,
                      min_ess=tail.pop("min_ess"), seed=seed, resume=resume, say=progress,
                      posterior=(res["points"], res["weights"]), **tail)
        stages["tails"] = time.time() - t0 - sum(stages.values())
    if summary.get("warning"):
        _say(progress, f"[numass] warning: {summary['warning']}")
    _say(progress, "[numass] 4/4 summary and plots")
    if plot is not None:
        from getdist import loadMCSamples

        samples = loadMCSamples(str(root), settings={"ignore_rows": 0})
        summary["triangle_plot"] = str(plot(
            samples, out / "triangle.png",
            params=[n for n in [mass_param, *post.names] if n in post.names]))
    summary["wall_seconds"] = round(time.time() - t0, 1)
    stages["plots"] = max(summary["wall_seconds"] - sum(stages.values()), 0.0)
    summary["stage_seconds"] = {k: round(v, 1) for k, v in stages.items()}
    return summary  # run_analysis writes it, last


def _mass_fields(post, res, bf, profiles, mass_param, fixed_mass) -> dict:
    """The mass's summary, tensions and profiles; with the mass fixed (--fix), a point mass and
    no tension (as the MCMC path reports it)."""
    if fixed_mass is not None:
        return {"mnu_eff": dict(mean=fixed_mass, std=0.0, median=fixed_mass, lower68=fixed_mass,
                                upper68=fixed_mass, upper95=fixed_mass),
                "tension_sigma": {}, "tension_sigma_profile": {},
                "tension_definitions": TENSION_DEFINITIONS, "profiles": {}}
    w, mnu = res["weights"], res["points"][:, post.names.index(mass_param)]
    floors = list(FLOORS.items())
    return {"mnu_eff": summarize_1d(mnu, w),
            **tension_fields(mnu, w, bf["chi2"], bf[mass_param],
                             {k: p["chi2"] for (k, _), p in zip(floors, profiles)}),
            "profiles": {k: {mass_param: f, "chi2": p["chi2"],
                             "point": {n: p[n] for n in post.names if n in p}}
                         for (k, f), p in zip(floors, profiles)}}


def _nested_summary(model, datasets, post, res, bf, profiles, mass_param, root,
                    fixed_mass=None) -> dict:
    """summary.json of a nested run (the MCMC path's layout, summary_schema.SCHEMA, with the
    nautilus keys; 'sampler': 'nautilus', which every chain reader branches on: results.burn_in)."""
    w, x = res["weights"], res["points"]
    columns = {n: x[:, i] for i, n in enumerate(post.names)} | res["derived"]
    summary = {
        "model": model, "datasets": datasets, "backend": post.backend_name,
        "sampler": "nautilus", "sampled_params": list(post.names),
        **({"mass_param": mass_param} if mass_param != "mnu_eff" else {}),
        "params": {n: summarize_1d(v, w) for n, v in columns.items()
                   if n != mass_param and np.all(np.isfinite(v))},
        "bestfit": {k: v for k, v in bf.items() if k not in ("logpost", "covariance", "n_calls")},
        **_mass_fields(post, res, bf, profiles, mass_param, fixed_mass),
        "floors_eV": dict(FLOORS),
        "rminus1": None, "converged": bool(res["finished"]),
        "n_eff": res["n_eff"], "ln_evidence": res["ln_evidence"],
        "ln_evidence_err": res["ln_evidence_err"],
        "ln_prior_mass_of_box": res["ln_prior_mass_of_box"], "sampling_box": res["box"],
        "box_edge_weight": res["edge_weight"],
        "n_samples": int(len(w)), "n_calls": res["n_calls"],
        "n_theory_failures": None,
        "chains": str(root),
    }
    edges = {k: v for k, v in res["edge_weight"].items() if v > 1e-3}
    if edges:
        summary["warning"] = (f"posterior weight at the sampling box's edge: {edges}; the box "
                              f"cut the posterior")
    return summary


def batched_profile_points(info: dict, param: str, values, prior_range, n_default: int,
                           data_dir, progress):
    """(best fit, sorted values, {index: {'value', 'chi2', 'point'}}) of a profile, every value
    minimised together (batch_optimize.batch_profile). Without ``values``: best fit +- 3 sigma
    (its Hessian), ``n_default`` values."""
    from numass.inference.batch_optimize import batch_best_fit, batch_profile
    from numass.inference.batch_posterior import BatchPosterior
    post = BatchPosterior(info, data_dir=data_dir, backend_options={})
    widths = proposal_widths(info)
    progress(f"[numass] profile of {param}: global best fit (batched)")
    bf = batch_best_fit(post, proposal_refs(info), widths)
    if values is None:
        cov = bf.get("covariance")
        sd = math.sqrt(cov[post.names.index(param)][post.names.index(param)]) if cov \
            else 5 * widths[param]
        values = list(np.linspace(bf[param] - 3 * sd, bf[param] + 3 * sd, n_default))
    lo, hi = prior_range
    outside = [v for v in values if not lo <= v <= hi]
    if outside:
        raise InputError(f"{param} values {outside} are outside its prior [{lo}, {hi}]")
    values = sorted(float(v) for v in values)
    progress(f"[numass] profile of {param}: {len(values)} values minimised together")
    fits = batch_profile(post, param, values, bf, widths)
    others = [n for n in post.names if n != param]
    results = {i: {"value": v, "chi2": r["chi2"], "point": {k: r[k] for k in others}}
               for i, (v, r) in enumerate(zip(values, fits))}
    bf = {k: v for k, v in bf.items() if k not in ("covariance", "n_calls")}
    return bf, values, results


def format_nested_line(s: dict) -> str:
    return (f"  nautilus: n_eff = {s['n_eff']:.0f}, ln Z = {s['ln_evidence']:.2f} ± "
            f"{s['ln_evidence_err']:.2f}, {s['n_samples']} samples, {s['wall_seconds']:.0f} s")


__all__ = ["choose_sampler", "run_nested_analysis", "format_nested_line"]
