"""Posteriors cut off at an edge of the range they were sampled in: the check every job of a
comparison gets.

The question is whether the marginal density has fallen off before the edge. For each sampled
parameter the weighted samples are binned in ``N_BINS`` bins over the range the chain was drawn
in (nautilus: the job's ``sampling_box`` in summary.json; MCMC: the prior, cut to the emulator's
box when the emulator has no CAMB fallback); when the outermost bin holds more than
``EDGE_DENSITY`` of the highest bin's weight, the edge is flagged. (A mass-in-a-narrow-band rule
misses a posterior that is still broad where it is cut: the full run's w0wa chain stopped at
w0 = -0.2 with its density at ~60% of the peak, and only 1.2% of its mass within 2% of the edge.)

Each flagged edge says what put it there (``kind``):

- ``prior``: the model's own prior, i.e. the hypothesis's choice. Some of these are physical
  (Σmν ≥ 0 in the interaction model, α_fs in [0, 1], τ's reionization floor), some a stated
  range (ΛsCDM's z† ∈ [1, 3]). The posterior there is the prior's doing, and is reported so.
- ``theory``: a limit of numass's theory, not of the model: the emulator's training box
  (numass.emulator.design.BOX) and its w0 + wa < W_SUM_MAX cut. The posterior beyond it is
  unknown, so every number of the job describes a truncated posterior: an error for a headline
  hypothesis.
- ``sampling``: nautilus's sampling box (best fit ± 20σ of the Hessian) inside the prior: the box
  was too small, equally an error.

The chains are read by ``numass.inference.results.load_chains``, the one reader every part of
numass uses (MCMC chains lose their first 30%, nested-sampling chains nothing).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from numass.emulator import design
from numass.errors import InputError
from numass.inference.results import load_chains, read_summary

N_BINS = 30  # bins of the weighted histogram over the sampled range
EDGE_DENSITY = 0.10  # outermost bin / highest bin above this: the edge cuts the posterior
LIMIT_KINDS = ("theory", "sampling")  # edges that are not the model's prior
SUM_NAME = "w+wa"  # the emulator's w0 + wa < W_SUM_MAX cut, checked as a parameter
BAND_NAME = "wa+tilt*w"  # beyond the box in w0, the transfer's band wa + TILT w0 <= TILT_MAX
BAND_MIN_WEIGHT = 0.05  # the band is checked where at least this much weight lies beyond the box

# plain-text names for the verdict text (the parameter's own name where absent)
PLAIN_NAMES = {"z_dagger": "z†", "mnu_eff": "Σmν,eff", "alpha_fs": "α_fs", "tau": "τ",
               "w": "w0", "wa": "wa", "A_L": "A_L", "A_lens": "A_lens", "H0": "H0",
               "ombh2": "ω_b", "omch2": "ω_c", "ns": "n_s", "logA": "ln(10¹⁰ A_s)",
               "theta_MC_100": "100θ_MC", SUM_NAME: "w0 + wa",
               BAND_NAME: f"wa + {getattr(design, 'TILT', 0):g} w0 (w0 beyond the box)"}

# why a model puts a prior edge where it does: (parameter, side) -> text; the physical ones say so
PRIOR_EDGE_WHY = {
    ("mnu_eff", "lo"): "physical: Σmν ≥ 0",  # an edge at 0 only where the mass is physical
    ("alpha_fs", "lo"): "physical: α_fs ≥ 0 (no free streaming at all)",
    ("alpha_fs", "hi"): "physical: α_fs ≤ 1 (interactions only remove free streaming)",
    ("tau", "lo"): "physical: the reionization floor of τ",
    ("tau", "hi"): "the hypothesis's stated upper bound on τ",
    ("z_dagger", "lo"): "the hypothesis's stated prior on z†",
    ("z_dagger", "hi"): "the hypothesis's stated prior on z†",
}


def edge_densities(x: np.ndarray, weights: np.ndarray, lo: float, hi: float,
                   bins: int = N_BINS) -> tuple[float, float]:
    """(weight of the lowest bin, weight of the highest bin), each relative to the heaviest bin,
    of a ``bins``-bin weighted histogram of ``x`` over [lo, hi] (samples outside are dropped)."""
    x, w = np.asarray(x, float), np.asarray(weights, float)
    if x.shape != w.shape or x.ndim != 1 or not len(x):
        raise InputError(f"edge_densities: samples and weights must be 1-d arrays of one "
                         f"length; got shapes {x.shape} and {w.shape}")
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise InputError(f"edge_densities: the range [{lo}, {hi}] must be finite with lo < hi")
    h, _ = np.histogram(x, bins=bins, range=(lo, hi), weights=w)
    peak = h.max()
    if not peak > 0:
        raise InputError("edge_densities: no weight inside the range")
    return float(h[0] / peak), float(h[-1] / peak)


def _same(a: float | None, b: float | None, width: float) -> bool:
    return a is not None and b is not None and math.isfinite(a) and math.isfinite(b) and \
        abs(a - b) <= 1e-6 * width


def _emulator_boxes() -> tuple[dict, ...]:
    """The emulator's training box and, where the emulator serves more than it (w0 beyond the
    box by a transfer), the served box: an edge of either is a limit of the theory."""
    return (design.BOX, getattr(design, "SERVED_BOX", design.BOX))


def edge_source(param: str, side: str, value: float, prior: tuple, emulated: bool,
                width: float) -> tuple[str, str]:
    """(kind, why) of the edge ``value`` on ``side`` ('lo'/'hi') of the sampled range of
    ``param``: the model's prior first (an edge the prior and the emulator's box share is the
    model's choice), then the emulator's box (when ``emulated``), else the sampling box."""
    i = 0 if side == "lo" else 1
    on_box = emulated and any(param in box and _same(value, box[param][i], width)
                              for box in _emulator_boxes())
    if _same(value, prior[i], width):
        why = PRIOR_EDGE_WHY.get((param, side), "the model's prior")
        if param == "mnu_eff" and side == "lo" and value != 0:
            why = "the model's prior"
        return "prior", why + (" (also the emulator box's edge)" if on_box else "")
    if on_box:
        return "theory", "the emulator's box (numass.emulator.design)"
    if param == SUM_NAME:
        return "theory", f"the emulator's w0 + wa < {design.W_SUM_MAX:g} cut"
    if param == BAND_NAME:
        return "theory", "the band the emulator's late-time transfer serves beyond the box"
    return "sampling", "nautilus's sampling box (best fit ± 20σ of the Hessian)"


def edge_flags(columns: dict[str, np.ndarray], weights: np.ndarray,
               sampled: dict[str, tuple[float, float]], priors: dict[str, tuple],
               emulated: bool = False, threshold: float = EDGE_DENSITY) -> list[dict]:
    """[{param, side, edge, density, kind, why}] for each edge of each parameter's sampled range
    in ``sampled`` where the outermost bin's weight exceeds ``threshold`` of the peak bin's.
    ``priors``: each parameter's prior (lo, hi) (None where unbounded); ``emulated``: the
    emulator's box was part of the sampled range."""
    out = []
    for name, x in columns.items():
        lo, hi = sampled.get(name, (None, None))
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
            continue  # an unbounded range has no edge
        prior = priors.get(name, (None, None))
        for side, value, density in zip(("lo", "hi"), (lo, hi),
                                        edge_densities(x, weights, lo, hi)):
            if density <= threshold or (name in (SUM_NAME, BAND_NAME) and side == "lo"):
                continue  # a combination's lower end is a corner of the box, not an edge
            kind, why = edge_source(name, side, value, prior, emulated, hi - lo)
            out.append({"param": name, "side": side, "edge": float(value),
                        "density": round(density, 3), "kind": kind, "why": why})
    return out


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def sampled_ranges(summary: dict, priors: dict[str, tuple]) -> tuple[dict, bool]:
    """({param: (lo, hi)} the chain was drawn in, whether the emulator's box was part of it),
    from the job's summary.json: nautilus's ``sampling_box``, else the prior, cut to the
    emulator's box for the 'emulator-box' backend (the emulator without CAMB fallback)."""
    backend = str(summary.get("backend") or "")
    if summary.get("sampling_box"):
        box = {k: (float(a), float(b)) for k, (a, b) in summary["sampling_box"].items()}
        return box, "emulator" in backend
    emulated = backend == "emulator-box"
    out = {}
    for n, (lo, hi) in priors.items():
        served = _emulator_boxes()[-1]
        if emulated and n in served:
            blo, bhi = served[n]
            lo, hi = max(lo, blo) if lo is not None else blo, min(hi, bhi) if hi is not None else bhi
        out[n] = (lo, hi)
    return out, emulated


def chain_prior_bounded(folder: str | Path, threshold: float = EDGE_DENSITY) -> list[dict]:
    """``edge_flags`` for the sampled parameters of the chains in ``folder``, with the sampled
    range from the job's summary.json and the prior from the ranges the chains carry (Cobaya's,
    or the nested sampler's .ranges file); w0 + wa is checked against the emulator's cut."""
    folder = Path(folder)
    s = load_chains(folder)
    summary = read_summary(folder / "summary.json") if (folder / "summary.json").exists() else {}
    columns, priors = {}, {}
    for p in s.paramNames.names:
        if p.isDerived:
            continue
        columns[p.name] = s.samples[:, s.index[p.name]]
        priors[p.name] = (_finite(s.ranges.getLower(p.name)), _finite(s.ranges.getUpper(p.name)))
    sampled, emulated = sampled_ranges(summary, priors)
    if emulated and "w" in columns and "wa" in columns and "w" in sampled and "wa" in sampled:
        columns[SUM_NAME] = columns["w"] + columns["wa"]
        sampled[SUM_NAME] = (sampled["w"][0] + sampled["wa"][0], design.W_SUM_MAX)
        priors[SUM_NAME] = (None, None)
        flags = edge_flags(columns, s.weights, sampled, priors, emulated, threshold)
        return flags + _band_flags(columns["w"], columns["wa"], s.weights, sampled["wa"][0],
                                   threshold)
    return edge_flags(columns, s.weights, sampled, priors, emulated, threshold)


def _band_flags(w: np.ndarray, wa: np.ndarray, weights: np.ndarray, wa_lo: float,
                threshold: float) -> list[dict]:
    """The edge check on wa + TILT w0 among the samples beyond the box in w0, where the late-time
    transfer serves only wa + TILT w0 <= TILT_MAX (none where the emulator has no such band, or
    too little weight lies beyond the box to tell)."""
    tilt, cap = getattr(design, "TILT", None), getattr(design, "TILT_MAX", None)
    w_edge = design.BOX["w"][1]
    beyond = w > w_edge
    if tilt is None or cap is None or weights[beyond].sum() < BAND_MIN_WEIGHT * weights.sum():
        return []
    combo = wa[beyond] + tilt * w[beyond]
    lo = wa_lo + tilt * w_edge
    if not lo < cap:
        return []
    return edge_flags({BAND_NAME: combo}, weights[beyond], {BAND_NAME: (lo, cap)},
                      {BAND_NAME: (None, None)}, True, threshold)


def describe(flags: list[dict]) -> str:
    """'prior-bounded: z† at its prior edge 3 (…)' and/or 'truncated by a limit of the theory:
    w0 cut at -0.2 by the emulator's training box (…)', or ''. Flags written before the density
    rule ({param, edge, mass}) are read as prior edges."""
    prior, limit = [], []
    for f in flags:
        name = PLAIN_NAMES.get(f["param"], f["param"])
        if "density" in f:
            at = f"density in the outermost bin {f['density']:.0%} of the peak"
        else:
            at = f"{f['mass']:.0%} of the mass next to it"
        if f.get("kind", "prior") in LIMIT_KINDS:
            limit.append(f"{name} cut at {f['edge']:g} by {f['why']} ({at})")
        else:
            why = f"; {f['why']}" if f.get("why") else ""
            prior.append(f"{name} at its prior edge {f['edge']:g} ({at}{why})")
    parts = ([f"truncated by a limit of the theory, not the model's prior: {'; '.join(limit)}"]
             if limit else []) + ([f"prior-bounded: {'; '.join(prior)}"] if prior else [])
    return "; ".join(parts)


def limit_flags(flags: list[dict]) -> list[dict]:
    """The flags whose edge is a limit of the theory or of the sampling, not the model's prior."""
    return [f for f in flags if f.get("kind") in LIMIT_KINDS]


def edge_findings(summary: dict) -> dict:
    """The report's edge findings from a comparison summary: {'errors': [...] (a headline
    hypothesis cut by a limit), 'warnings': [...] (a τ rung or variant cut by a limit),
    'choices': [...] (posteriors at the model's own prior edges, the hypotheses' choice)}."""
    entries = [(k, e, True) for k, e in summary.get("hypotheses", {}).items()]
    entries += [(f"tau_{k}", e, False)
                for k, e in (summary.get("hypotheses", {}).get("tau", {}).get("ladder") or {})
                .items()]
    entries += [(k, e, False) for k, e in summary.get("variants", {}).items()]
    out: dict[str, list[str]] = {"errors": [], "warnings": [], "choices": []}
    for key, e, headline in entries:
        if e.get("status") != "ok" or e.get("same_as"):
            continue
        flags = e.get("prior_bounded") or []
        limits = limit_flags(flags)
        if limits:
            text = (f"{key}: {describe(limits)}; every number of this job (Σmν,eff, tensions, "
                    f"ln Z) describes the posterior cut there, not the model's")
            out["errors" if headline else "warnings"].append(text)
        choices = [f for f in flags if f not in limits]
        if choices:
            out["choices"].append(f"{key}: {describe(choices)}")
        if e.get("prior_bounded_status"):
            out["warnings"].append(f"{key}: edge check {e['prior_bounded_status']}")
    return out


DEFINITION = (f"each sampled parameter's weighted posterior is binned in {N_BINS} bins over the "
              f"range it was sampled in; where the outermost bin holds more than "
              f"{EDGE_DENSITY:.0%} of the highest bin's weight the edge cuts the posterior and is "
              f"flagged (prior_bounded: {{param, side, edge, density, kind, why}}). kind 'prior': "
              f"the model's own prior (physical, e.g. Σmν ≥ 0, or the hypothesis's stated range, "
              f"e.g. z† ≤ 3), and a verdict that relies on it says so; kind 'theory' (the "
              f"emulator's box) or 'sampling' (nautilus's box): a limit of numass, not of the "
              f"model, an error for a headline hypothesis")
