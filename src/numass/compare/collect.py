"""Collecting a comparison: each job's state and summary -> DIR/summary.json (layout in
``collect``), and the verdict table the command line prints.
"""
from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

from numass.compare.camb_check import apply_camb, camb_fingerprint, chi2_of, wants_camb_check
from numass.compare.claims import claims
from numass.compare.hypotheses import HYPOTHESES, HYPOTHESIS, PRIOR_VARIANTS
from numass.compare.plan import Job, Settings
from numass.compare.prior_edges import chain_prior_bounded
from numass.compare.provenance import citations, priors, software_versions
from numass.compare.published import published_block
from numass.compare.tasks import check_task
from numass.compare.verdicts import DEFINITIONS, beside_prior_variant, verdict
from numass.errors import InputError
from numass.fileio import read_json
from numass.inference.results import read_summary, run_sampler, weighted_draws
from numass.stats import FLOORS, format_bayes


def _chi2(summary: dict, exclude: tuple[str, ...] = ()) -> float:
    by = summary["bestfit"].get("chi2_by_likelihood", {})
    if not by:
        return summary["bestfit"]["chi2"]
    return chi2_of(by, exclude)


def _camb_state(src: Job, out: Path, settings: Settings) -> dict | None:
    """camb.json of the job's CAMB check (None: the job gets none), or a status saying why
    there is none yet."""
    if not wants_camb_check(src, settings):
        return None
    state = read_json(out / src.name / "camb.json")
    if state is None or state.get("fingerprint") != camb_fingerprint(src, settings):
        return {"status": "not run (rerun the command to run the CAMB check)"}
    if state.get("status") == "ok" and check_task(src, "camb", out, settings)[0] is None:
        return {"status": _unverified(src, "camb", out, settings)}
    return state


def _unverified(job: Job, part: str, out: Path, settings: Settings) -> str:
    """The status of a task whose state says ok but whose manifest does not verify."""
    damage = check_task(job, part, out, settings)[1]
    return (f"error: {damage}; rerun the command to recompute it" if damage else
            "not run (it did not finish writing its files; rerun the command to run it)")


def _delta_chi2(entry: dict, ref_entry: dict, summary: dict, ref: dict, exclude) -> dict:
    """Δχ² vs ΛCDM from the CAMB best fits when both have one (the emulator's beside it), else
    from the emulator's."""
    emu = _chi2(summary, exclude) - _chi2(ref, exclude)
    camb = [e["bestfit"].get("chi2_camb_by_likelihood") for e in (entry, ref_entry)]
    if all(camb):
        return {"delta_chi2": chi2_of(camb[0], exclude) - chi2_of(camb[1], exclude),
                "delta_chi2_emulator": emu, "delta_chi2_from": "camb"}
    return {"delta_chi2": emu, "delta_chi2_from": entry.get("backend") or "model default"}


def _tension(summary: dict) -> dict:
    """{floor: {bayes, profile, ...}}: 'bayes_extrapolated' where too few effective chain samples
    lie above the floor and the Bayesian figure comes from a fit to the marginal (then
    'bayes_method' names the fit and 'bayes_bound' is the 95% lower bound the samples alone
    support); 'bayes_lower_bound' only where the figure itself is a bound. A tail computed by
    the evidence ratio (bayes_method 'evidence-ratio') carries 'bayes_err' (σ) and
    'bayes_p_above', and 'bayes_beyond_cap' beyond 5σ (printed '> 5')."""
    bound = summary.get("tension_sigma_lower_bound", [])
    details = summary.get("tension_bayes", {})
    out = {}
    for label in FLOORS:
        t = {"bayes": summary["tension_sigma"][label],
             "profile": summary["tension_sigma_profile"][label]}
        if label in bound:
            t["bayes_lower_bound"] = True
        d = details.get(label)
        if d:
            t.update({"bayes_method": d["method"], "bayes_ess": d["ess"],
                      "bayes_counted": d["sigma_counted"], "bayes_bound": d["sigma_bound"]})
            if d["extrapolated"]:
                t["bayes_extrapolated"] = True
            if d["method"] == "evidence-ratio":
                t.update({"bayes_err": d.get("sigma_err"), "bayes_p_above": d.get("p_above"),
                          "bayes_ln_p_err": d.get("ln_p_above_err")})
                if d.get("beyond_cap"):
                    t["bayes_beyond_cap"] = True
        out[label] = t
    return out


def _empty(status: str, label: str, **extra) -> dict:
    return {"label": label, "status": status, "mnu_eff": None,
            "tension_sigma": {label_: {"bayes": None, "profile": None} for label_ in FLOORS},
            "delta_chi2": None, "delta_aic": None, "ln_evidence": None, "ln_evidence_err": None,
            "bestfit": None, **extra}


def _sampled(folder: Path) -> list[str]:
    cov = folder / "proposal.covmat"
    try:
        return cov.read_text().splitlines()[0].lstrip("#").split()
    except (OSError, IndexError):
        return []


def _job_result(job: Job, jobs_by_name: dict, out: Path, settings: Settings) -> tuple[dict, dict | None]:
    """(entry, run summary or None) for one job, following same_as."""
    src = jobs_by_name[job.same_as] if job.same_as else job
    if job.skip:
        return _empty(job.skip, job.label), None
    state = read_json(out / src.name / "job.json")
    if state is None or state.get("fingerprint") != src.fingerprint(settings):
        return _empty("not run (interrupted before it finished; rerun the command to resume)",
                      job.label, folder=src.name), None
    if state["status"] != "ok":
        return _empty(state["status"], job.label, folder=src.name), None
    if check_task(src, "posterior", out, settings)[0] is None:
        return _empty(_unverified(src, "posterior", out, settings), job.label,
                      folder=src.name), None
    try:
        summary = read_summary(out / src.name / "summary.json")
    except InputError as exc:
        return _empty(f"error: {exc}; rerun the command to recompute it", job.label,
                      folder=src.name), None
    summary["sampled_params"] = summary.get("sampled_params") or _sampled(out / src.name)
    entry = {"label": job.label, "status": "ok", "model": job.model, "datasets": job.datasets,
             "folder": src.name, "mnu_eff": summary["mnu_eff"], "tension_sigma": _tension(summary),
             "bestfit": summary["bestfit"], "n_params": len(summary["sampled_params"]),
             "rminus1": summary.get("rminus1"), "converged": summary.get("converged"),
             "n_samples": summary.get("n_samples"), "wall_seconds": state.get("wall_seconds"),
             "backend": summary.get("backend"), "sampler": run_sampler(out / src.name),
             "convergence": convergence(summary, settings)}
    if job.same_as:
        entry["same_as"] = job.same_as
    try:
        entry["prior_bounded"] = chain_prior_bounded(out / src.name)
    except Exception as exc:  # noqa: BLE001 - a diagnostic must not lose the results
        entry["prior_bounded_status"] = f"not checked: {type(exc).__name__}: {exc}"
    poi = {p: summary["params"][p] for p in job.params_of_interest if p in summary["params"]}
    if poi:
        entry["params"] = poi
    entry = apply_camb(entry, summary, _camb_state(src, out, settings))
    if weighted_draws(entry["sampler"]):
        entry.update(_nested_evidence(summary, src))
    elif src.evidence:
        ev = read_json(out / src.name / "evidence.json")
        if ev is None or ev.get("fingerprint") != src.fingerprint(settings):
            entry["evidence_status"] = "not run (interrupted; rerun the command to resume)"
        elif ev["status"] != "ok":
            entry["evidence_status"] = ev["status"]
        elif check_task(src, "evidence", out, settings)[0] is None:
            entry["evidence_status"] = _unverified(src, "evidence", out, settings)
        else:
            entry["evidence_status"] = "ok"
            entry["ln_evidence"], entry["ln_evidence_err"] = ev["ln_evidence"], ev["ln_evidence_err"]
            entry["evidence"] = {k: ev[k] for k in (
                "method", "n_calls", "nlive", "dlogz", "information", "ln_evidence_offset",
                "ln_prior_mass_of_box", "edge_weight", "ess", "wall_seconds", "warning")
                if k in ev}
    return entry, summary


def convergence(summary: dict, settings: Settings) -> dict:
    """The job's convergence criterion, its measured figures and whether it was met: nautilus
    n_eff >= settings.n_eff and sigma(ln Z) <= settings.lnz_err_max; importance sampling
    the same with n_eff its ESS, and Pareto k̂ <= 0.7; MCMC R-1 < settings.rminus1 (Cobaya's
    stop, with its bounds criterion)."""
    if summary.get("sampler") == "importance":
        rec = summary["importance"]
        n_eff, err = summary["n_eff"], summary["ln_evidence_err"]
        met = n_eff >= settings.n_eff and err <= settings.lnz_err_max and \
            rec["pareto_k"] <= rec["pareto_k_max"]
        return {"sampler": "importance",
                "criterion": f"ESS ≥ {settings.n_eff}, σ(ln Z) ≤ {settings.lnz_err_max:g} and "
                             f"Pareto k̂ ≤ {rec['pareto_k_max']:g}",
                "n_eff": n_eff, "ln_evidence_err": err, "pareto_k": rec["pareto_k"],
                "met": bool(met)}
    if summary.get("sampler") == "nautilus":
        n_eff, err = summary.get("n_eff") or 0.0, summary.get("ln_evidence_err") or math.inf
        met = n_eff >= settings.n_eff and err <= settings.lnz_err_max
        return {"sampler": "nautilus", "criterion": f"n_eff ≥ {settings.n_eff} and σ(ln Z) ≤ "
                                                    f"{settings.lnz_err_max:g}",
                "n_eff": n_eff, "ln_evidence_err": err, "met": bool(met)}
    r = summary.get("rminus1")
    return {"sampler": "mcmc", "criterion": f"R−1 < {settings.rminus1:g} (means), < "
                                            f"{settings.rminus1_cl:g} (95% bounds)",
            "rminus1": r, "met": bool(summary.get("converged"))}


def _nested_evidence(summary: dict, job: Job) -> dict:
    """ln Z of a nautilus job (from its posterior run), with the normalisation of Gaussian
    priors written as likelihoods (Job.ln_evidence_offset) added as for the evidence tasks."""
    return {"evidence_status": "ok",
            "ln_evidence": summary["ln_evidence"] + job.ln_evidence_offset,
            "ln_evidence_err": summary["ln_evidence_err"],
            "evidence": {"method": summary.get("sampler") or "nautilus",
                         "n_calls": summary.get("n_calls"),
                         "ess": summary.get("n_eff"), "ln_evidence_offset": job.ln_evidence_offset,
                         "ln_prior_mass_of_box": summary.get("ln_prior_mass_of_box"),
                         **{k: summary[k] for k in ("nautilus", "importance", "tail_runs")
                            if k in summary}}}


def collect(jobs: list[Job], out: Path, settings: Settings, data_label: str, base: list[str],
            wall: float = math.nan) -> dict:
    """DIR/summary.json: hypotheses.{name}.{mnu_eff, tension_sigma.{normal_ordering,
    inverted_ordering}.{bayes, profile}, delta_chi2, delta_aic, ln_evidence, ln_evidence_err,
    bestfit, status}, hypotheses.tau.ladder.{rung}, variants.{name}, claims, settings, software."""
    by_name = {j.name: j for j in jobs}
    results = {j.name: _job_result(j, by_name, out, settings) for j in jobs}
    ref_entry, ref = results.get("lcdm", (None, None))
    hypotheses = {}
    for name in HYPOTHESES:
        if name not in results:
            hypotheses[name] = _empty("not planned", HYPOTHESIS[name].label)
            continue
        entry, summary = results[name]
        entry = _versus_lcdm(name, entry, summary, ref_entry, ref, by_name[name].chi2_exclude)
        entry["model"] = by_name[name].model
        entry["verdict"] = verdict(name, entry)
        hypotheses[name] = entry
    ladder = {j.name[len("tau_"):]: results[j.name][0] for j in jobs if j.kind == "ladder"}
    hypotheses["tau"]["ladder"] = ladder
    variants = {j.name: results[j.name][0] for j in jobs if j.kind == "variant"}
    _weigh_prior_variants(hypotheses, variants, results, ref_entry, ref)
    warnings = []
    for j in jobs:
        e = results[j.name][0]
        conv = e.get("convergence") or {}
        if not conv.get("met", True) and not j.same_as:
            warnings.append(f"{j.name}: convergence criterion missed ({conv['criterion']}): "
                            + ", ".join(f"{k} {v:.3g}" for k, v in conv.items()
                                        if k in ("n_eff", "ln_evidence_err", "rminus1")
                                        and isinstance(v, float)))
        if (e.get("evidence") or {}).get("warning"):
            warnings.append(f"{j.name}: evidence: {e['evidence']['warning']}")
    summary = {
        "numass_compare": 1,
        "data": {"label": data_label, "datasets": base, "citations": citations(
            sorted({d for j in jobs for d in j.datasets}))},
        "hypotheses": hypotheses,
        "variants": variants,
        "warnings": warnings,
        "floors_eV": FLOORS,
        "definitions": DEFINITIONS,
        "settings": asdict(settings),
        "priors": priors(jobs),
        "software": software_versions(),
        "wall_seconds": round(wall, 1),
        "jobs": {j.name: {"kind": j.kind, "model": j.model, "datasets": j.datasets,
                          "backend": j.backend, "skip": j.skip, "same_as": j.same_as,
                          "likelihood_options": j.likelihood_options,
                          "param_overrides": j.param_overrides}
                 for j in jobs},
    }
    summary["claims"] = claims(summary)
    summary["published"] = published_block(summary)
    return summary


def _versus_lcdm(name: str, entry: dict, summary: dict | None, ref_entry: dict | None,
                 ref: dict | None, exclude: tuple[str, ...] = ()) -> dict:
    """The entry with Δχ², ΔAIC and ln B against ΛCDM (None where either is missing)."""
    entry = {"ln_evidence": None, "ln_evidence_err": None, "delta_chi2": None,
             "delta_aic": None, **entry}
    if summary is None or ref is None or ref_entry is None:
        return entry
    entry.update(_delta_chi2(entry, ref_entry, summary, ref, exclude))
    dk = 2 * (len(summary["sampled_params"]) - len(ref["sampled_params"]))
    entry["delta_aic"] = entry["delta_chi2"] + dk
    if "delta_chi2_emulator" in entry:
        entry["delta_aic_emulator"] = entry["delta_chi2_emulator"] + dk
    if (name != "lcdm" and entry.get("ln_evidence") is not None
            and ref_entry.get("ln_evidence") is not None):
        entry["ln_bayes_factor_vs_lcdm"] = entry["ln_evidence"] - ref_entry["ln_evidence"]
        entry["ln_bayes_factor_err"] = math.hypot(entry["ln_evidence_err"],
                                                  ref_entry["ln_evidence_err"])
    if exclude:
        entry["delta_chi2_excludes"] = list(exclude)
    return entry


def _weigh_prior_variants(hypotheses: dict, variants: dict, results: dict, ref_entry,
                          ref) -> None:
    """Each hypothesis's prior variant (e.g. lscdm_wide) weighed against ΛCDM like a
    hypothesis, and named in its hypothesis's verdict."""
    for v in PRIOR_VARIANTS:
        if v.key not in variants:
            continue
        entry = _versus_lcdm(v.key, variants[v.key], results[v.key][1], ref_entry, ref)
        entry["verdict"] = verdict(v.key, entry)
        entry["prior_variant_of"] = v.hypothesis
        variants[v.key] = entry
        h = hypotheses.get(v.hypothesis)
        if h and h["status"] == "ok":
            h["verdict"] += beside_prior_variant(v, entry, h)


def format_table(summary: dict) -> str:
    """The verdict table as plain text (what the CLI prints at the end)."""
    rows = [(f"{'hypothesis':<18} {'status':<8} {'Σmν,eff [eV]':<17} {'NO σ (B/P)':<12} "
            f"{'IO σ (B/P)':<12} {'Δχ²':>7} {'ΔAIC':>7} {'ln Z':>15}")]
    for name, e in summary["hypotheses"].items():
        if e["status"] != "ok":
            rows.append(f"{name:<18} {e['status'][:90]}")
            continue
        m, t = e["mnu_eff"], e["tension_sigma"]
        lnz = (f"{e['ln_evidence']:.2f} ± {e['ln_evidence_err']:.2f}"
               if e.get("ln_evidence") is not None else "-")
        fmt = (lambda x: f"{x:+7.2f}" if x is not None else "      -")
        sig = (lambda s: f"{format_bayes(s)}/{s['profile']:.2f}")
        ok = "ok" if (e.get("convergence") or {}).get("met", True) else "ok*"
        rows.append(f"{name:<18} {ok:<8} {m['mean']:+.3f} ± {m['std']:.3f}   "
                    f"{sig(t['normal_ordering']):<12} {sig(t['inverted_ordering']):<12} "
                    f"{fmt(e['delta_chi2'])} {fmt(e['delta_aic'])} {lnz:>15}")
    missed = [n for n, e in summary["hypotheses"].items()
              if not (e.get("convergence") or {}).get("met", True)]
    if missed:
        rows.append(f"* convergence criterion missed: {', '.join(missed)} (summary.json: "
                    f"hypotheses.<name>.convergence)")
    return "\n".join(rows)


