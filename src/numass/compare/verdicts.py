"""The verdict words of the comparison, from named thresholds (the definitions' text is built
from the same constants, so the rule shown is the rule applied).
"""
from __future__ import annotations

import math

from numass.compare.prior_edges import DEFINITION as PRIOR_BOUNDED_DEFINITION
from numass.compare.prior_edges import PLAIN_NAMES
from numass.compare.prior_edges import describe as describe_prior_bounded
from numass.stats import sigma_mark

# Jeffreys-like scale for |ln B|: (upper edge, word), in increasing order (Kass & Raftery 1995
# use the same edges on 2 ln B, roughly)
JEFFREYS_SCALE = ((1.0, "inconclusive"), (2.5, "weak"), (5.0, "moderate"), (math.inf, "strong"))
# Bayesian normal-ordering tension below which a hypothesis removes / relieves the tension
REMOVES_BELOW_SIGMA = 1.0
RELIEVES_BELOW_SIGMA = 2.0


def _scale_text() -> str:
    """'|ln B| < 1 inconclusive, 1-2.5 weak, 2.5-5 moderate, > 5 strong'."""
    edges = [e for e, _ in JEFFREYS_SCALE]
    words = [w for _, w in JEFFREYS_SCALE]
    parts = [f"|ln B| < {edges[0]:g} {words[0]}"]
    parts += [f"{lo:g}-{hi:g} {w}" for lo, hi, w in zip(edges, edges[1:-1], words[1:-1])]
    parts.append(f"> {edges[-2]:g} {words[-1]}")
    return ", ".join(parts)


DEFINITIONS = {
    "tension_sigma.bayes": "posterior mass of Σmν,eff above the floor, as a two-sided "
                           "Gaussian-equivalent σ (floors: normal ordering 0.0588 eV, inverted "
                           "0.099 eV). Nested-sampling jobs (nautilus): counted from the weighted "
                           "samples when ≥ 1000 (--quick: 100) effective samples lie above the floor, else the "
                           "evidence ratio Z(Σmν,eff ≥ floor) / Z (printed with its error '± …'; "
                           "the cut region's Z by importance sampling from a proposal built from "
                           "the posterior and the profile point at the floor, or by a second "
                           "nested run on the prior cut at the floor where that proposal does "
                           "not fit; bayes_method, tail_runs); beyond 5σ '> 5'. MCMC jobs: "
                           "counted from the chain when ≥ 25 effective samples (the chain's "
                           "effective sample size from its autocorrelation, times the mass "
                           "fraction) lie above the floor; otherwise '≈' (bayes_extrapolated): "
                           "the tail mass of a Gaussian fit to the marginal (skew-normal when its "
                           "skewness is significant), an extrapolation, with bayes_bound the 95% "
                           "lower bound the samples alone support (in brackets in the tables); "
                           "'≥' (bayes_lower_bound) only for a figure that is itself such a bound",
    "tension_sigma.profile": "sqrt(χ²(Σmν,eff = floor) − χ²_min) from best fits (0 when the best "
                             "fit is above the floor)",
    "delta_chi2": "χ²_min(hypothesis) − χ²_min(ΛCDM), on the same likelihoods (for tau, without "
                  "the τ-prior term); negative = better fit",
    "delta_aic": "Δχ² + 2 Δk, k = number of sampled parameters; negative favours the hypothesis",
    "ln_evidence": "ln Z over the sampled parameters' priors (Gaussian τ priors normalised), "
                   "from the nautilus run that gives the posterior (error 1/√n_eff), or for "
                   "MCMC jobs from dynesty nested sampling or importance sampling of the "
                   "converged chain (evidence.method); ln_bayes_factor_vs_lcdm = ln Z − "
                   "ln Z_ΛCDM, positive favours the hypothesis (Jeffreys-like scale: "
                   f"{_scale_text()})",
    "verdict": f"relieves the tension when the Bayesian normal-ordering tension is below "
               f"{RELIEVES_BELOW_SIGMA:g}σ, removes it below {REMOVES_BELOW_SIGMA:g}σ; the fit "
               f"and evidence words follow ΔAIC and ln B; a shift that relies on a "
               f"prior-bounded parameter is called so (\"removes the tension, prior-bounded: "
               f"…\")",
    "prior_bounded": PRIOR_BOUNDED_DEFINITION,
}


def strength(lnb: float) -> str:
    """The Jeffreys-scale word for ln B, with its direction ('moderate evidence for')."""
    a = abs(lnb)
    word = next(w for edge, w in JEFFREYS_SCALE if a < edge)
    if a < JEFFREYS_SCALE[0][0]:
        return word
    return f"{word} evidence {'for' if lnb > 0 else 'against'}"


def tension_word(sigma: float) -> str:
    """'removes', 'relieves' or 'does not remove' for a Bayesian normal-ordering tension."""
    return ("removes" if sigma < REMOVES_BELOW_SIGMA else "relieves"
            if sigma < RELIEVES_BELOW_SIGMA else "does not remove")


def verdict(name: str, e: dict) -> str:
    """One line: what the hypothesis does to the tension, its ΔAIC and ln B."""
    if e["status"] != "ok":
        return "not tested: " + e["status"]
    no = e["tension_sigma"]["normal_ordering"]
    t, mark = no["bayes"], sigma_mark(no)
    how = "Bayesian, extrapolated from a fit to the marginal" if mark == "≈" else "Bayesian"
    what = tension_word(t)
    bounded = describe_prior_bounded(e.get("prior_bounded") or [])
    if name == "lcdm":
        return (f"reference: {mark}{t:.1f}σ below the normal-ordering floor ({how})"
                + (f"; {bounded}" if bounded else ""))
    if bounded and what != "does not remove":
        # the shift is set by where the prior's edge was put: never call it a resolution alone
        text = f"{what} the tension, {bounded} ({mark}{t:.1f}σ {how})"
    else:
        text = f"{what} the tension ({mark}{t:.1f}σ {how})" + (f"; {bounded}" if bounded else "")
    if e.get("delta_aic") is not None:
        text += f"; ΔAIC = {e['delta_aic']:+.1f}"
    if e.get("ln_bayes_factor_vs_lcdm") is not None:
        lnb = e["ln_bayes_factor_vs_lcdm"]
        text += f"; ln B = {lnb:+.2f} ± {e['ln_bayes_factor_err']:.2f} ({strength(lnb)})"
    return text


def beside_prior_variant(variant, e: dict, default: dict | None = None) -> str:
    """'; with z† ∈ [1, 10] (lscdm_wide): Σmν,eff = … eV, 2.3σ Bayesian' for the
    hypothesis's verdict (``variant``: a compare.hypotheses.PriorVariant); 'prior-dependent'
    first when the wider prior changes the verdict word of the ``default`` entry."""
    lo, hi = variant.prior
    where = f"with {PLAIN_NAMES.get(variant.param, variant.param)} ∈ [{lo:g}, {hi:g}] ({variant.key})"
    if e["status"] != "ok":
        return f"; {where}: not run ({e['status']})"
    no, m = e["tension_sigma"]["normal_ordering"], e["mnu_eff"]
    word = tension_word(no["bayes"])
    if default and default.get("status") == "ok" and word != tension_word(
            default["tension_sigma"]["normal_ordering"]["bayes"]):
        where = f"prior-dependent: {where} it {word} the tension"
    text = (f"; {where}: Σmν,eff = {m['mean']:+.3f} ± {m['std']:.3f} eV, "
            f"{sigma_mark(no)}{no['bayes']:.1f}σ Bayesian")
    if e.get("ln_bayes_factor_vs_lcdm") is not None:
        text += f", ln B = {e['ln_bayes_factor_vs_lcdm']:+.1f}"
    bounded = describe_prior_bounded(e.get("prior_bounded") or [])
    return text + (f", still {bounded}" if bounded else "")
