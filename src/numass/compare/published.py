"""numass beside the published numbers: each published result (value, interval, data, citation
with the place in the paper), numass's number on its nearest data combination, and what differs.

The published figures are embedded data, in one table (``PUBLISHED``), each taken from the paper
itself (the stored arXiv pages; where a number was not in the part of the paper we could read,
the row says so instead of quoting it second hand). ``published_block(summary)`` builds the
summary's ``published`` block from the comparison summary alone, so the report can be redrawn.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from numass.compare.prior_edges import describe as describe_prior_bounded
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
              notes=("the paper's z† prior is in its body, not in the stored copy; its z† > 2.4 "
                     "(95%) is a one-sided bound, i.e. the posterior leans on the upper edge "
                     "as numass's does",)),
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
    """The summary's ``published`` block: {rows: [...], note}."""
    return {"rows": [published_row(p, summary) for p in PUBLISHED],
            "note": "published numbers read from each paper's stored arXiv page (the place is "
                    "given per row); numass's from this comparison, on its data"}
