"""``numass forecast``: σ(Σmν) per combination of future experiments, and the discrimination
matrix of the six hypotheses (each true in turn, each fitted to the truth's Asimov mock).

Conventions: a mock's data vector is the truth's prediction (no noise), so the truth's own
chi^2 is 0 and the best fit of hypothesis H to truth T's mock gives Δχ²_min(T, H); its
significance is sqrt(Δχ²) (the Asimov median significance of Cowan et al. 2011,
arXiv:1007.1727, exact for one extra parameter).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from numass.compare.hypotheses import HYPOTHESIS, TAU_FLAT
from numass.errors import InputError
from numass.fileio import atomic_write_json
from numass.forecast.engine import Hypothesis, Problem, fisher, gauss_newton, marginal_sigmas
from numass.forecast.mocks import build_mock
from numass.forecast.specs import DEFAULT_COMBINATIONS, EXPERIMENTS, parse_combination, spec_rows
from numass.forecast.truths import (
    EMBEDDED_LABEL,
    NO_FLOOR,
    TRUTH_FLOOR,
    TRUTH_KEYS,
    embedded_truths,
    truths_from_summary,
)

HYPOTHESIS_KEYS = ("lcdm", "lensing_amplitude", "tau", "w0wa", "lscdm", "nu_interacting")
PROFILE_STEPS = (-2.0, -1.0, 1.0, 2.0)  # Σmν,eff offsets of the Asimov profile, in Fisher σ


def make_hypothesis(key: str) -> Hypothesis:
    """The forecast's version of a comparison hypothesis. The τ hypothesis is ΛCDM with τ flat
    in its reionization bounds and without any τ measurement (it says that measurement is what
    misleads)."""
    if key == "tau":
        return Hypothesis(key, "lcdm", bounds_override={"tau": TAU_FLAT}, drops_tau=True)
    return Hypothesis(key, HYPOTHESIS[key].model)


def hypothesis_experiments(hyp: Hypothesis, exps: tuple[str, ...]) -> tuple[str, ...]:
    if hyp.drops_tau:
        return tuple(e for e in exps if EXPERIMENTS[e].kind != "tau")
    return exps


def truth_mocks(truth_hyp: Hypothesis, point: dict, experiments, data_dir=None) -> dict:
    """Every experiment's synthetic likelihood with the truth's prediction as its data."""
    products = truth_hyp.products(truth_hyp.point(point))
    if not products.ok[0]:
        raise InputError(f"the truth {truth_hyp.key} {point} is outside its theory's range")
    return {e: build_mock(EXPERIMENTS[e], products, data_dir) for e in experiments}


def sigma_of(delta_chi2: float) -> float:
    return math.sqrt(max(delta_chi2, 0.0)) if math.isfinite(delta_chi2) else float("inf")


def profile_sigma(offsets: np.ndarray, dchi2: np.ndarray) -> dict:
    """Where the Asimov profile crosses Δχ² = 1 on each side: a parabola through (0, 0) and
    the side's two grid points (offsets in eV from the truth)."""
    out = {}
    for side, name in ((-1, "lower"), (1, "upper")):
        sel = np.sign(offsets) == side
        x, y = np.abs(offsets[sel]), dchi2[sel]
        a, b = np.linalg.solve(np.array([[x[0] ** 2, x[0]], [x[1] ** 2, x[1]]]), y)
        roots = np.roots([a, b, -1.0])
        pos = [float(r.real) for r in roots if abs(r.imag) < 1e-12 and r.real > 0]
        out[name] = min(pos) if pos else float("nan")
    out["mean"] = 0.5 * (out["lower"] + out["upper"])
    return out


def mass_forecast(combos: dict, data_dir=None, say=print) -> dict:
    """σ(Σmν) at the floor truth (Fisher and Asimov profile), σ(w0), σ(wa) in w0wa there."""
    truth = embedded_truths()[TRUTH_FLOOR][1]
    union = sorted({e for exps in combos.values() for e in exps})
    lcdm = make_hypothesis("lcdm")
    mocks = truth_mocks(lcdm, truth, union, data_dir)
    x0 = lcdm.point(truth)
    fish = fisher(lcdm, mocks, x0, combos)
    sig = {c: marginal_sigmas(f, lcdm.names) for c, f in fish.items()}
    m = lcdm.names.index("mnu_eff")
    problems, keys = [], []
    for c, exps in combos.items():
        for k in PROFILE_STEPS:
            x = x0.copy()
            x[m] += k * sig[c]["mnu_eff"]
            free = np.ones(len(x), dtype=bool)
            free[m] = False
            problems.append(Problem(x, exps, free))
            keys.append((c, k))
    gauss_newton(lcdm, mocks, problems)
    out = {}
    for c in combos:
        rows = [(k * sig[c]["mnu_eff"], p.chi2) for (cc, k), p in zip(keys, problems) if cc == c]
        off, d2 = np.array(rows).T
        prof = profile_sigma(off, d2)
        out[c] = {"fisher": sig[c]["mnu_eff"], "profile": prof,
                  "profile_points": [{"offset_eV": float(o), "delta_chi2": float(v)}
                                     for o, v in rows],
                  "tau": sig[c]["tau"]}
        say(f"[numass forecast] σ(Σmν) {c}: Fisher {1e3 * sig[c]['mnu_eff']:.1f} meV, profile "
            f"-{1e3 * prof['lower']:.1f}/+{1e3 * prof['upper']:.1f} meV")
    w0wa = make_hypothesis("w0wa")
    fw = fisher(w0wa, mocks, w0wa.point(truth), combos)
    for c, f in fw.items():
        s = marginal_sigmas(f, w0wa.names)
        out[c]["w0wa"] = {"mnu_eff": s["mnu_eff"], "w0": s["w"], "wa": s["wa"]}
    return out


def fit_starts(hyp: Hypothesis, point: dict, own: dict | None) -> list[np.ndarray]:
    """Where a fit of ``hyp`` to the truth ``point`` starts: the truth's shared parameters with
    the ΛCDM values of the others, and (when it differs) the same with the hypothesis's own
    extension parameters at its best fit on today's data, so that a fit does not stop in a
    local minimum next to ΛCDM."""
    starts = [hyp.point(point)]
    if own:
        extra = {n: v for n, v in own.items() if n not in point}
        alt = hyp.point({**point, **extra})
        if extra and not np.allclose(alt, starts[0]):
            starts.append(alt)
    return starts


def fit_hypothesis(hyp: Hypothesis, mocks: dict, point: dict, own: dict | None,
                   combos: dict) -> dict:
    """The best fit of ``hyp`` to the mocks on each combination (the lowest of its starts)."""
    starts = fit_starts(hyp, point, own)
    problems = [[Problem(x.copy(), hypothesis_experiments(hyp, exps),
                         np.ones(len(hyp.names), dtype=bool)) for x in starts]
                for exps in combos.values()]
    gauss_newton(hyp, mocks, [p for row in problems for p in row])
    out = {}
    for c, row in zip(combos, problems):
        p = min(row, key=lambda q: q.chi2)
        out[c] = {"delta_chi2": p.chi2, "sigma": sigma_of(p.chi2),
                  "mnu_eff": float(p.x[hyp.names.index("mnu_eff")]),
                  "iterations": p.iterations, "starts": len(row),
                  "bestfit": {n: float(v) for n, v in zip(hyp.names, p.x)}}
    return out


def discriminate(truths: dict, hyp_keys, combos: dict, data_dir=None, say=print,
                 own_fits: dict | None = None) -> dict:
    """discrimination[truth][hypothesis][combination] = Δχ²_min, σ, the fit's Σmν,eff.
    ``own_fits``: hypothesis -> its best-fit point on today's data (a second start)."""
    union = sorted({e for exps in combos.values() for e in exps})
    hyps = {k: make_hypothesis(k) for k in hyp_keys}
    theory: dict[str, Hypothesis] = {}
    out = {}
    for tkey, (model, point) in truths.items():
        t0 = time.time()
        th = theory.setdefault(model, Hypothesis(f"truth:{model}", model))
        mocks = truth_mocks(th, point, union, data_dir)
        out[tkey] = {hkey: fit_hypothesis(hyp, mocks, point, (own_fits or {}).get(hkey),
                                          combos)
                     for hkey, hyp in hyps.items()}
        say(f"[numass forecast] truth {tkey}: {len(hyps)} hypotheses fitted on "
            f"{len(combos)} combinations ({time.time() - t0:.0f} s)")
    return out


def mirages(disc: dict, sigma_mnu: dict) -> dict:
    """The Σmν,eff that ΛCDM infers when w0wa or ΛsCDM is true, how far below the floor (in
    units of the Fisher σ(Σmν)), and the significance at which ΛCDM is rejected."""
    out = {}
    for tkey in ("w0wa", "lscdm"):
        if tkey not in disc or "lcdm" not in disc[tkey]:
            continue
        out[tkey] = {c: {"mnu_eff_inferred": r["mnu_eff"],
                         "below_floor_sigma": (NO_FLOOR - r["mnu_eff"]) / sigma_mnu[c]["fisher"],
                         "lcdm_rejected_sigma": r["sigma"]}
                     for c, r in disc[tkey]["lcdm"].items()}
    return out


CLAIM = ("closing claim: Euclid + CMB-S4 + DESI final separate w0wa from a low Σmν (the Euclid "
         "shear linearised about the ΛCDM floor: a Fisher approximation)")


def closing_claim(disc: dict, mass: dict) -> dict:
    """The claim as a measured row, for every combination with CMB-S4 and DESI final (with and
    without Euclid): the significance at which ΛCDM + Σmν,eff is rejected when w0wa is true, and
    the Σmν,eff it would infer (the low mass that w0wa can masquerade as)."""
    rows = {}
    for c, r in (disc.get("w0wa", {}).get("lcdm") or {}).items():
        ids = c.split("+")
        if "s4" in ids and "desi_final" in ids:
            rows[c] = {"with_euclid": "euclid_spec" in ids or "euclid_shear" in ids,
                       "lcdm_rejected_sigma": r["sigma"], "mnu_eff_inferred": r["mnu_eff"],
                       "below_floor_sigma": (NO_FLOOR - r["mnu_eff"]) / mass[c]["fisher"]}
    return {"claim": CLAIM, "rows": rows}


def tau_separation(truths: dict, mass: dict) -> dict:
    """The τ explanation changes a parameter, not the model: how many Fisher σ(τ) of each
    combination separate its truth's τ from the ΛCDM best fit's."""
    if "tau" not in truths or "lcdm" not in truths:
        return {}
    dtau = abs(truths["tau"][1]["tau"] - truths["lcdm"][1]["tau"])
    return {c: {"delta_tau": dtau, "sigma_tau": m["tau"], "sigma": dtau / m["tau"]}
            for c, m in mass.items()}


def validation(mass: dict, data_dir=None) -> dict:
    """Today's Fisher σ(Σmν,eff) vs the measured 0.052 eV (needs the data directory), CMB-S4 +
    DESI against Allison et al. 2015 and Euclid + Planck against Euclid Collaboration 2024, where
    those combinations were run."""
    from numass.errors import DataError
    from numass.forecast import validate as v

    out = {}
    try:
        today = v.today_sigma_mnu(data_dir)["sigmas"]["mnu_eff"]
        out["today_full_data"] = {"fisher": today, "measured": v.MEASURED_SIGMA_MNU_FULL,
                                  "ratio": today / v.MEASURED_SIGMA_MNU_FULL}
    except (DataError, InputError) as exc:
        out["today_full_data"] = {"skipped": str(exc)}
    for c, ref in (("s4+s4_lensing+litebird_tau+desi_final", v.ALLISON_S4_DESI_CV_TAU),
                   ("s4+s4_lensing+planck_tau+desi_final", v.ALLISON_S4_DESI_TODAY_TAU)):
        if c in mass:
            out[c] = {"fisher": mass[c]["fisher"], "allison2015": ref}
    if v.EUCLID_PLANCK in mass:
        out[v.EUCLID_PLANCK] = {"fisher": mass[v.EUCLID_PLANCK]["fisher"],
                                "euclid2024": v.EUCLID_PLANCK_SIGMA_MNU,
                                "setup": v.EUCLID_PLANCK_SETUP}
    return out


def run_forecast(out: str | Path, combinations=None, truth_keys=None, hypothesis_keys=None,
                 truths_from=None, data_dir=None, say=print) -> dict:
    """The whole forecast: summary.json in ``out`` (returned as a dict)."""
    t0 = time.time()
    names = list(combinations or DEFAULT_COMBINATIONS)
    combos = {c: parse_combination(c) for c in names}
    all_truths = truths_from_summary(truths_from) if truths_from else embedded_truths()
    truth_keys = list(truth_keys or TRUTH_KEYS)
    hyp_keys = list(hypothesis_keys or HYPOTHESIS_KEYS)
    for k in truth_keys:
        if k not in all_truths:
            raise InputError(f"unknown truth '{k}'; known: {', '.join(all_truths)}")
    for k in hyp_keys:
        if k not in HYPOTHESIS_KEYS:
            raise InputError(f"unknown hypothesis '{k}'; known: {', '.join(HYPOTHESIS_KEYS)}")
    mass = mass_forecast(combos, data_dir, say)
    disc = discriminate({k: all_truths[k] for k in truth_keys}, hyp_keys, combos, data_dir, say,
                        own_fits={k: v[1] for k, v in all_truths.items()})
    summary = {
        "numass_forecast": 1,
        "combinations": {c: list(e) for c, e in combos.items()},
        "experiments": spec_rows(),
        "truths": {k: {"model": all_truths[k][0], "params": all_truths[k][1]}
                   for k in truth_keys},
        "truths_source": str(truths_from) if truths_from else EMBEDDED_LABEL,
        "truths_origin": {k: "embedded" if all_truths[k] == embedded_truths()[k]
                          else str(truths_from) for k in truth_keys},
        "sigma_mnu": {c: v["fisher"] for c, v in mass.items()},
        "sigma_mnu_detail": mass,
        "discrimination": {t: {h: {c: {"delta_chi2": r["delta_chi2"], "sigma": r["sigma"]}
                                   for c, r in hv.items()} for h, hv in tv.items()}
                           for t, tv in disc.items()},
        "fits": disc,
        "mirage": mirages(disc, mass),
        "closing_claim": closing_claim(disc, mass),
        "tau_separation": tau_separation({k: all_truths[k] for k in truth_keys}, mass),
        "validation": validation(mass, data_dir),
        "conventions": {"sigma": "sqrt(Δχ²_min) of the hypothesis fitted to the truth's "
                                 "Asimov mock (Cowan et al. 2011, arXiv:1007.1727)",
                        "sigma_mnu": f"Fisher σ(Σmν) in eV at ΛCDM with Σmν = {NO_FLOOR} eV",
                        "tau_hypothesis": "ΛCDM, τ flat in [0.04, 0.12], fitted without the "
                                          "τ measurement of the combination"},
        "not_built": {e["id"]: e["status"] for e in spec_rows() if e["status"] != "built"},
        "wall_seconds": round(time.time() - t0, 1),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "summary.json", summary)
    return summary
