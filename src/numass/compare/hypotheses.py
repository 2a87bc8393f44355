"""The six hypotheses, one record each: what the planner, the collector, the report and the
command line read about a hypothesis (no other copy of these labels, colours or models exists).

The data sets a comparison runs on and the τ-prior ladder are here too: they define what each
hypothesis is tested against.
"""
from __future__ import annotations

from dataclasses import dataclass

from numass.likelihoods.tau_prior import DEFAULT_PRIOR as TAU_DEFAULT_PRIOR
from numass.likelihoods.tau_prior import TAU_PRIORS


@dataclass(frozen=True)
class Hypothesis:
    key: str  # the job's folder and the summary's key
    model: str  # numass.models name
    label: str  # one line for tables and the report
    short: str  # legend text
    latex: str  # legend text in matplotlib's mathtext
    color: str
    params_of_interest: tuple[str, ...]  # own parameters shown beside Σmν,eff
    # None: every data set constrains it; else why background-only data cannot ({what}: the data)
    needs_spectra: str | None = None


HYPOTHESIS_TABLE = (
    Hypothesis("lcdm", "lcdm", "ΛCDM + Σmν,eff (the null hypothesis)", "ΛCDM", r"$\Lambda$CDM",
               "#1f77b4", ("H0", "omegam")),
    Hypothesis("lensing_amplitude", "AL_Alens",
               "Lensing amplitude: A_L (smoothing of the primary spectra) and A_lens (lensing "
               "reconstruction)", "A_L + A_lens", r"$A_{\rm L}+A_{\rm lens}$", "#9467bd",
               ("A_L", "A_lens", "H0"),
               needs_spectra="not constrained: A_L and A_lens scale the lensing of the CMB "
                             "spectra and the lensing reconstruction, and these data ({what}) "
                             "are background-only (BAO distances and the compressed CMB)"),
    Hypothesis("tau", "lcdm",
               "Optical depth: Σmν,eff under a ladder of τ priors (entry: flat τ prior bounded by "
               "reionization)", "τ free (flat)", r"$\tau$ free (flat)", "#8c564b", ("tau",),
               needs_spectra="not constrained: the optical depth enters only through the CMB "
                             "spectra (A_s e^-2τ, reionization bump), and these data ({what}) "
                             "are background-only"),
    Hypothesis("w0wa", "w0wa", "w0waCDM + Σmν,eff (CPL dark energy, PPF perturbations)", "w0wa",
               r"$w_0w_a$", "#d62728", ("w", "wa")),
    Hypothesis("lscdm", "lscdm", "ΛsCDM + Σmν,eff (Λ switching sign at z†)", "ΛsCDM",
               r"$\Lambda_{\rm s}$CDM", "#2ca02c", ("z_dagger",)),
    Hypothesis("nu_interacting", "nu_interacting",
               "Dark-sector interaction: physical Σmν ≥ 0 in the expansion, free-streaming "
               "suppression scaled by α_fs", "ν interacting", r"$\nu$ interacting", "#ff7f0e",
               ("alpha_fs",)),
)
HYPOTHESIS = {h.key: h for h in HYPOTHESIS_TABLE}
HYPOTHESES = tuple(HYPOTHESIS)


@dataclass(frozen=True)
class PriorVariant:
    """A hypothesis run again with one parameter's flat prior widened: planned and reported
    beside it, so that a shift driven by where the prior's edge sits is visible."""
    key: str  # the variant's job and summary key
    hypothesis: str
    param: str
    prior: tuple[float, float]
    label: str


# z† -> inf is LCDM, so the default [1, 3] cuts the LCDM-like direction; [1, 10] lets it back
# (tanh(eta z†) with eta = 10 is exact at any z† >= 1; models.Z_DAGGER)
PRIOR_VARIANTS = (
    PriorVariant("lscdm_wide", "lscdm", "z_dagger", (1.0, 10.0),
                 "ΛsCDM with z† ∈ [1, 10] (the default prior is [1, 3])"),
)

LENSING_IDS = ("planck-pr4-lensing", "planck-pr4-lensing-marged", "planck-pr4-lensing-polonly",
               "act-dr6-lensing", "act-dr6-lensing-lensonly", "spt3g-2018-lensing",
               "spt3g-2018-lensing-lensonly")
PRIMARY_IDS = ("planck2018-plik-lite-TTTEEE", "planck2018-plik-lite-TT", "planck2018-plik-lite-TE",
               "planck2018-plik-lite-EE", "planck2018-plik-lite-TEEE", "planck2018-lowl-TT")


# tau sampling prior of the spectra models (models.PRIMORDIAL): needed to normalise the Gaussian
# tau prior, which enters Cobaya as an (unnormalised) likelihood
TAU_SAMPLING_RANGE = (0.01, 0.8)
# Flat rung: tau >= 0.04 is what instantaneous reionization at z = 6 (the end of reionization seen
# in quasar Gunn-Peterson troughs) gives (with helium's second reionization at z = 3.5, CAMB);
# tau <= 0.12 is beyond every measurement since WMAP9 (0.089 +- 0.014) by two of its sigmas.
TAU_FLAT = (0.04, 0.12)
# The baseline rung is tau-prior's default, Planck 2018 lowE alone (0.0506 +- 0.0086); the wide and
# shifted rungs are defined from its mean and sigma, so that they move with it (docs/tau.md):
# one sigma down reaches the reionization floor (0.042 vs 0.04), two up the former high rung
TAU_BASE_MEAN, TAU_BASE_SIGMA = TAU_PRIORS[TAU_DEFAULT_PRIOR][:2]


def _shifted(n_sigma: float, width: float = 1.0) -> dict:
    return {"mean": round(TAU_BASE_MEAN + n_sigma * TAU_BASE_SIGMA, 4),
            "sigma": round(width * TAU_BASE_SIGMA, 4)}


def _pm(options: dict) -> str:
    return f"τ = {options['mean']:.4f} ± {options['sigma']:.4f}"


# name -> (label, tau-prior options or None for the flat rung)
TAU_LADDER = {
    "planck2018_lowE": (f"Planck 2018 lowE alone (the baseline): {_pm(_shifted(0))}",
                        {"prior": "planck2018-lowE"}),
    "planck2018_joint": (("Planck 2018 TT,TE,EE+lowE+lensing posterior (the former baseline; "
                          "counts the high-ℓ spectra twice): τ = 0.0544 ± 0.0073"),
                         {"prior": "planck2018-TTTEEE-lowE-lensing"}),
    "planck_pr4": ("Planck PR4 HiLLiPoP + LoLLiPoP: τ = 0.058 ± 0.006", {"prior": "planck-pr4"}),
    "wide": (f"baseline mean, twice its width: {_pm(_shifted(0, 2))}", _shifted(0, 2)),
    "low": (f"baseline shifted down by its σ, to the reionization floor: {_pm(_shifted(-1))}",
            _shifted(-1)),
    "high": (f"baseline shifted up by twice its σ: {_pm(_shifted(2))}", _shifted(2)),
    "wmap9": ("WMAP9-like: τ = 0.089 ± 0.014", {"mean": 0.089, "sigma": 0.014}),
    "flat": (f"flat τ in [{TAU_FLAT[0]}, {TAU_FLAT[1]}] (reionization bounds)", None),
}
TAU_BASELINE = "planck2018_lowE"
