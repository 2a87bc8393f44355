"""numass beside the published numbers: each published result (value, interval, data, citation
with the place in the paper), numass's number on its nearest data combination, and what differs.

The published figures are embedded data, in one table (``PUBLISHED``), each taken from the paper
itself (the stored arXiv pages; where a number was not in the part of the paper we could read,
the row says so instead of quoting it second hand). ``published_block(summary)`` builds the
summary's ``published`` block from the comparison summary alone, so the report can be redrawn.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np

from numass.compare.prior_edges import SUM_NAME, limit_flags
from numass.compare.prior_edges import describe as describe_prior_bounded
from numass.emulator import design
from numass.stats import sigma_mark


@dataclass(frozen=True)
class Citation:
    authors: str
    arxiv: str
    where: str  # the place in the paper the number is read from


@dataclass(frozen=True)
class Published:
    key: str
    quantity: str
    value: str  # as the paper prints it
    data: str  # the paper's data combination
    citation: Citation
    numass_from: str  # the summary entry: 'hypotheses.lcdm', 'variants.positive_mass' …
    reader: str  # how numass's number is read: a key of READERS
    bao: str = "DESI DR2"
    cmb: str = ""  # the paper's CMB, for the differences
    supernovae: str | None = None
    neutrinos: str = ""
    notes: tuple[str, ...] = ()


DESI_DR2_NU = Citation("DESI Collaboration, Elbers et al. 2025", "arXiv:2503.14744", "abstract")
ELBERS_2024 = Citation("Elbers, Frenk, Jenkins, Li & Pascoli 2024", "arXiv:2407.10965", "abstract")
KIBRIS_2026 = Citation("Kıbrıs, Elbers, Akarsu & Di Valentino 2026", "arXiv:2605.21456",
                       "abstract")
JHAVERI_2025 = Citation("Jhaveri, Karwal & Hu 2025", "arXiv:2504.21813", "abstract")
SAILER_2025 = Citation("Sailer, Farren, Ferraro & White 2025", "arXiv:2504.16932", "abstract")
# the stored copies of this abstract have its inline mathematics stripped: the statement (two
# bounds, the baseline and ACT's CMB combination, 95%, Σmν ≥ 0) was checked there, the digits not
GARCIA_QUINTERO_2025 = Citation("DESI Collaboration, Garcia-Quintero et al. 2025",
                                "arXiv:2504.18464",
                                "abstract (the stored copies strip its digits; the statement "
                                "was checked there, the two values were not)")

DESI_CMB = ("Planck PR4 CamSpec TT/TE/EE, Planck low-ℓ TT and EE, Planck PR4 + ACT DR6 lensing "
            "(the abstract: 'CMB data from Planck and ACT')")
NOT_STORED = ("the stored copy of the paper holds its abstract and opening only; the posterior's "
              "peak, interval and the Σmν,eff prior are in its body and are not quoted here")

PUBLISHED = (
    Published("desi_dr2_lcdm_mnu_eff", "ΛCDM, Σmν,eff (negative values allowed)",
              f"'3σ tension' with the oscillation floor; peak and interval not quoted: {NOT_STORED}",
              "DESI DR2 BAO + CMB", DESI_DR2_NU, "hypotheses.lcdm", "posterior", cmb=DESI_CMB,
              neutrinos="three degenerate states; Σmν,eff extends the mass-dependent neutrino "
                        "energy density to negative values (Elbers et al. 2024)"),
    Published("desi_dr2_lcdm_bound", "ΛCDM, Σmν ≥ 0: 95% upper limit",
              "Σmν < 0.0642 eV (95%), σ(Σmν) = 0.020 eV; Feldman–Cousins < 0.053 eV",
              "DESI DR2 BAO + CMB", DESI_DR2_NU, "variants.positive_mass", "upper95",
              cmb=DESI_CMB, neutrinos="three degenerate states"),
    Published("garcia_quintero2025_bound_pr4_act", "ΛCDM, Σmν ≥ 0: 95% upper limit, the "
              "paper's baseline CMB", "Σmν < 0.061 eV (95%)",
              "DESI DR2 BAO + Planck PR4 + ACT DR6", GARCIA_QUINTERO_2025,
              "variants.positive_mass", "upper95", cmb="Planck PR4 + ACT DR6 (the paper's "
                                                        "baseline combination)",
              notes=(("beside the ACT-combination row: the CMB likelihood choice alone moves "
                      "the bound by 0.016 eV"),)),
    Published("garcia_quintero2025_bound_act", "ΛCDM, Σmν ≥ 0: 95% upper limit, ACT's CMB "
              "combination", "Σmν < 0.077 eV (95%)",
              "DESI DR2 BAO + the CMB likelihood combination ACT DR6 chose",
              GARCIA_QUINTERO_2025, "variants.positive_mass", "upper95",
              cmb="the CMB likelihood combination chosen by ACT DR6"),
    Published("elbers2024_lcdm", "ΛCDM, tension with the oscillation floor",
              "2.8–3.3σ", "DESI DR1 BAO + Planck + ACT", ELBERS_2024, "variants.desi_dr1",
              "tension", bao="DESI DR1", cmb="Planck + ACT (abstract)",
              neutrinos="Σmν,eff extended to negative values (this paper's definition)"),
    Published("elbers2024_w0wa", "w0waCDM, Σmν,eff",
              "Σmν,eff = 0.06 +0.15 −0.10 eV (68%)", "DESI DR1 BAO + Planck + ACT", ELBERS_2024,
              "hypotheses.w0wa", "posterior", bao="DESI DR1", cmb="Planck + ACT (abstract)",
              neutrinos="Σmν,eff extended to negative values (this paper's definition)"),
    Published("kibris2026_lcdm", "ΛCDM, Σmν,eff (with supernovae)",
              "Σmν,eff = −0.075 +0.039 −0.053 eV (68%)",
              "DESI DR2 BAO + CMB + DES-Dovekie supernovae", KIBRIS_2026, "hypotheses.lcdm",
              "posterior", cmb="CMB (abstract; the likelihoods are listed in the paper's body)",
              supernovae="DES-Dovekie", neutrinos="Σmν,eff (Elbers et al. 2024)"),
    Published("kibris2026_lscdm", "ΛsCDM, Σmν,eff (with supernovae)",
              "Σmν,eff = 0.055 ± 0.050 eV (68%); z† > 2.4 (95%)",
              "DESI DR2 BAO + CMB + DES-Dovekie supernovae", KIBRIS_2026, "hypotheses.lscdm",
              "posterior_wide", cmb="CMB (abstract; the likelihoods are listed in the paper's "
                                    "body)", supernovae="DES-Dovekie",
              neutrinos="Σmν,eff (Elbers et al. 2024)",
              notes=(("the paper's z† prior is in its body, not in the stored copy; its z† > 2.4 "
                      "(95%) is a one-sided bound, i.e. the posterior leans on the upper edge "
                      "as numass's does"),)),
    Published("jhaveri2025_tau", "ΛCDM, τ without the low-ℓ EE (and lensing) τ constraint",
              "τ = 0.091 ± 0.011, and no neutrino tension at Σmν = 0.06 eV",
              "DESI BAO + CMB without CMB lensing and the low-ℓ EE τ measurement", JHAVERI_2025,
              "hypotheses.tau", "tau", cmb="CMB without low-ℓ EE and CMB lensing"),
    Published("sailer2025_tau", "ΛCDM, τ from DESI + high-ℓ CMB + lensing",
              "τ = 0.090 ± 0.012; τ ≈ 0.09 resolves the neutrino-mass preference",
              "DESI BAO + high-ℓ CMB + CMB lensing (no low-ℓ polarization)", SAILER_2025,
              "hypotheses.tau", "tau", cmb="high-ℓ CMB + CMB lensing, no low-ℓ polarization"),
)


def _get(summary: dict, path: str) -> dict | None:
    section, name = path.split(".")
    return (summary.get(section) or {}).get(name)


def _tension(e: dict) -> str:
    no = e["tension_sigma"]["normal_ordering"]
    return f"{sigma_mark(no)}{no['bayes']:.2f}σ Bayesian, {no['profile']:.2f}σ profile"


def _posterior(e: dict, summary: dict) -> str:
    m = e["mnu_eff"]
    text = (f"Σmν,eff = {m['mean']:+.3f} ± {m['std']:.3f} eV (mean ± std; 68%: "
            f"[{m['lower68']:+.3f}, {m['upper68']:+.3f}]); tension {_tension(e)}")
    bounded = describe_prior_bounded(e.get("prior_bounded") or [])
    return text + (f"; {bounded}" if bounded else "")


def _posterior_wide(e: dict, summary: dict) -> str:
    """ΛsCDM at its default prior and, beside it, its prior variant(s)."""
    text = _posterior(e, summary)
    for key, v in summary.get("variants", {}).items():
        if v.get("prior_variant_of") and v["status"] == "ok" and key.startswith("lscdm"):
            text += f". {v['label']}: {_posterior(v, summary)}"
    return text


def _upper95(e: dict, summary: dict) -> str:
    m = e["mnu_eff"]
    return f"Σmν < {m['upper95']:.3f} eV (95%); {m['mean']:.3f} ± {m['std']:.3f} eV"


def _tau(e: dict, summary: dict) -> str:
    tau = (e.get("params") or {}).get("tau")
    text = (f"τ = {tau['mean']:.3f} ± {tau['std']:.3f} (flat prior, no τ likelihood); "
            if tau else "")
    text += f"{_posterior(e, summary)}"
    ladder = e.get("ladder") or {}
    base, wmap = ladder.get("planck2018_lowE"), ladder.get("wmap9")
    if base and wmap and base["status"] == wmap["status"] == "ok":
        t0 = base["tension_sigma"]["normal_ordering"]["profile"]
        t1 = wmap["tension_sigma"]["normal_ordering"]["profile"]
        direction = "lowers" if t1 < t0 else "does not lower"
        text += (f". τ ladder: the WMAP9-like prior (τ = 0.089 ± 0.014) {direction} the profile "
                 f"tension ({t0:.2f}σ with lowE alone → {t1:.2f}σ)")
    return text


READERS = {"posterior": _posterior, "posterior_wide": _posterior_wide, "upper95": _upper95,
           "tension": lambda e, s: _tension(e), "tau": _tau}


def _numass_data(datasets: list[str]) -> str:
    return " + ".join(datasets) if datasets else "–"


def differences(p: Published, datasets: list[str]) -> list[str]:
    """What separates numass's data and model from the paper's, per point."""
    out = []
    ours_bao = ("DESI DR1" if "desi-dr1-bao" in datasets else "DESI DR2"
                if any(d.startswith("desi-dr2") for d in datasets) else "none")
    if ours_bao != p.bao:
        out.append(f"BAO: numass {ours_bao}, the paper {p.bao}")
    if "desi-dr2-bao-nolrg1" in datasets:
        out.append("BAO: numass drops the LRG 0.4 < z < 0.6 bin")
    if "cmb-compressed" in datasets:
        out.append(f"CMB: numass uses the compressed CMB likelihood (θ*, ω_b, ω_bc; "
                   f"arXiv:2503.14738 App. A), no spectra and no lensing, so the mass acts only "
                   f"through the expansion history; the paper: {p.cmb}")
    elif any(d.startswith("planck2018-plik-lite") for d in datasets):
        lensing = [d for d in datasets if "lensing" in d]
        tau = ("a Gaussian τ prior (Planck 2018 lowE alone) in place of low-ℓ EE"
               if "tau-prior" in datasets else "no τ likelihood (flat τ prior)")
        out.append(f"CMB: numass Planck 2018 plik_lite + low-ℓ TT with {tau}, lensing "
                   f"{', '.join(lensing) or 'none'}; the paper: {p.cmb}")
    if p.supernovae:
        out.append(f"supernovae: the paper adds {p.supernovae}; numass uses none")
    out.append("neutrinos: numass one massive and two massless states (CAMB's default), "
               "Σmν,eff extended to negative values as in Elbers et al. 2024"
               + (f"; the paper: {p.neutrinos}" if p.neutrinos else ""))
    return out + list(p.notes)


def published_row(p: Published, summary: dict) -> dict:
    """One row: the paper's number and citation, numass's on its data, the differences."""
    e = _get(summary, p.numass_from)
    row = {"key": p.key, "quantity": p.quantity, "published": p.value,
           "published_data": p.data, "citation": asdict(p.citation), "numass_from": p.numass_from}
    if not e or e.get("status") != "ok":
        why = e["status"] if e else "not planned"
        row.update({"numass": f"not available ({why})", "numass_data": "–",
                    "differences": []})
        return row
    datasets = e.get("datasets") or summary["data"]["datasets"]
    diffs = differences(p, datasets)
    prior = (summary.get("priors") or {}).get(e.get("folder", ""), {}).get("mnu_eff")
    if prior and "min" in prior:
        diffs.append(f"prior: numass samples the mass flat on [{prior['min']:g}, "
                     f"{prior['max']:g}] eV")
    row.update({"numass": READERS[p.reader](e, summary), "numass_data": _numass_data(datasets),
                "differences": diffs})
    return row


def published_block(summary: dict) -> dict:
    """The summary's ``published`` block: {rows: [...], note, w0wa_prior}."""
    return {"rows": [published_row(p, summary) for p in PUBLISHED],
            "note": "published numbers read from each paper's stored arXiv page (the place is "
                    "given per row); numass's from this comparison, on its data",
            "w0wa_prior": w0wa_prior_block(summary)}


# ---------------------------------------------------------------- the w0wa prior and ln Z

DESI_DR2_BAO = Citation("DESI Collaboration 2025 (DR2 Results II)", "arXiv:2503.14738",
                        "its w0waCDM priors (flat); not in the part of the paper stored here")
DESI_W0WA_PRIOR = {"w": (-3.0, 1.0), "wa": (-3.0, 2.0)}


def area_below_sum(w: tuple, wa: tuple, sum_max: float = math.inf) -> float:
    """Area of the rectangle w × wa with w + wa < sum_max (exact: the integral over w of a
    clipped linear function, done piecewise between its kinks)."""
    (w0, w1), (a0, a1) = w, wa
    if sum_max == math.inf:
        return (w1 - w0) * (a1 - a0)
    kinks = sorted({w0, w1, *(min(max(k, w0), w1) for k in (sum_max - a1, sum_max - a0))})

    def height(x):
        return min(max(sum_max - x - a0, 0.0), a1 - a0)

    return sum(0.5 * (height(a) + height(b)) * (b - a) for a, b in itertools.pairwise(kinks))


def region_area(w: tuple, wa: tuple, sum_max: float = math.inf, band: tuple | None = None,
                n: int = 200_000) -> float:
    """Area of {w in w, wa in wa, w + wa < sum_max, and where w > band[0]: wa <= band[2] -
    band[1] w} (``band``: (w_from, tilt, cap), the region the late-time transfer serves beyond
    the box), by the midpoint rule on ``n`` cells (the boundary is piecewise linear with one
    step: error ~ 1/n)."""
    x = w[0] + (np.arange(n) + 0.5) * (w[1] - w[0]) / n
    top = np.minimum(wa[1], sum_max - x)
    if band is not None:
        top = np.where(x > band[0], np.minimum(top, band[2] - band[1] * x), top)
    return float(np.clip(top - wa[0], 0.0, None).sum() * (w[1] - w[0]) / n)


def _model_w0wa_prior(summary: dict) -> dict:
    """numass's w0wa prior ranges: as the job's Cobaya received them, else the model's."""
    pri = (summary.get("priors") or {}).get("w0wa") or {}
    if all(isinstance(pri.get(k), dict) and "min" in pri[k] for k in ("w", "wa")):
        return {k: (float(pri[k]["min"]), float(pri[k]["max"])) for k in ("w", "wa")}
    from numass.models import MODELS

    return {p.name: tuple(p.prior[1:]) for p in MODELS["w0wa"].params if p.name in ("w", "wa")}


def _served(prior: dict, backend: str) -> tuple[dict, float, tuple | None] | None:
    """The part of the prior numass's theory computes (the emulator's box as served, its w0 + wa
    cut, and beyond the training box the late-time transfer's band), or None where the backend
    has no box."""
    if "emulator" not in backend:
        return None
    box = getattr(design, "SERVED_BOX", design.BOX)
    band = ((design.BOX["w"][1], design.TILT, design.TILT_MAX)
            if hasattr(design, "TILT") and box["w"][1] > design.BOX["w"][1] else None)
    return ({k: (max(prior[k][0], box[k][0]), min(prior[k][1], box[k][1])) for k in prior},
            design.W_SUM_MAX, band)


def _range_row(label, ranges, cut, volume, v_numass, e, source, band=None) -> dict:
    shift = math.log(v_numass / volume)
    lnz, lnb = e.get("ln_evidence"), e.get("ln_bayes_factor_vs_lcdm")
    return {"label": label, "w": list(ranges["w"]), "wa": list(ranges["wa"]),
            "w_sum_max": None if cut == math.inf else cut,
            "band": None if band is None else {"w_above": band[0], "tilt": band[1],
                                               "max": band[2]},
            "area": round(volume, 4),
            "ln_shift": round(shift, 4),
            "ln_evidence": None if lnz is None else round(lnz + shift, 3),
            "ln_bayes_factor_vs_lcdm": None if lnb is None else round(lnb + shift, 3),
            "source": source}


def w0wa_prior_block(summary: dict) -> dict | None:
    """numass's w0wa prior beside DESI DR2's, with the ln Z and ln B each flat prior would give:
    ln Z' = ln Z + ln(V / V'), V the (w0, wa) prior area numass's ln Z is normalised to; exact
    when the likelihood is negligible outside the region numass's theory computes, which the
    block says is not so while the edge check finds the posterior cut there."""
    e = (summary.get("hypotheses") or {}).get("w0wa")
    if not e or e.get("status") != "ok":
        return None
    prior = _model_w0wa_prior(summary)
    v = area_below_sum(prior["w"], prior["wa"])
    rows = [_range_row("numass's model prior (ln Z is normalised to it)", prior, math.inf, v,
                       v, e, "numass.models (w0wa)"),
            _range_row("DESI DR2's prior", DESI_W0WA_PRIOR, math.inf,
                       area_below_sum(DESI_W0WA_PRIOR["w"], DESI_W0WA_PRIOR["wa"]), v, e,
                       f"{DESI_DR2_BAO.authors}, {DESI_DR2_BAO.arxiv}")]
    served = _served(prior, str(e.get("backend") or ""))
    if served:
        box, cut, band = served
        rows.append(_range_row("the region numass's theory computes, taken as the prior", box,
                               cut, region_area(box["w"], box["wa"], cut, band), v, e,
                               "numass.emulator.design (the emulator's box as served and its "
                               "cuts)", band))
    cut_here = [f for f in limit_flags(e.get("prior_bounded") or [])
                if f["param"] in ("w", "wa", SUM_NAME)]
    if cut_here:
        valid = (f"not valid for this run: {describe_prior_bounded(cut_here)}. The likelihood "
                 f"is not negligible beyond numass's range; numass takes it as zero there, so "
                 f"its ln Z and ln B (and the DESI-range values) are lower bounds, and the "
                 f"last row is not the model's evidence")
    else:
        valid = ("valid when the likelihood is negligible outside the region numass's theory "
                 "computes; the edge check finds no w0, wa or w0 + wa edge cutting this run's "
                 "posterior")
    return {"rows": rows, "valid": valid, "flat_prior_rule": (
        "For flat priors ln Z changes by the log of the prior-volume ratio: ln Z' = ln Z + "
        "ln(V / V'), V the (w0, wa) area ln Z is normalised to, V' the other range's; ΛCDM's "
        "ln Z does not change, so ln B moves by the same amount")}
