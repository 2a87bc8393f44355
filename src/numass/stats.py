"""Tension of a Sigma m_nu,eff result with the neutrino-oscillation floors (docs/physics.md).

Two measures, always labelled:
- Bayesian: p = posterior mass of Sigma m_nu,eff above the floor, turned into the two-sided
  Gaussian-equivalent significance sigma = Phi^-1(1 - p/2) (p = 0.0455 -> 2 sigma). A chain
  resolves a tail only down to ~1/ESS (its effective sample size, not its number of rows): when
  fewer than MIN_TAIL_ESS effective samples lie above the floor, p is extrapolated from a
  Gaussian (or, if the marginal is significantly skewed, skew-normal) fit to the marginal and
  marked as such, with the lower bound the samples alone support beside it.
- Profile (frequentist): sigma = sqrt(chi2(floor) - chi2_min), where chi2(floor) is the best fit with
  Sigma m_nu,eff fixed at the floor; 0 when the unconstrained best fit already sits above it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2, norm, skewnorm

# lower limits on the sum of masses from the measured mass splittings [eV]
FLOORS = {"normal_ordering": 0.0588, "inverted_ordering": 0.099}


# a tail mass counted from samples is used when the tail holds at least this many effective
# samples (relative error 1/sqrt(25) = 20%, i.e. ~0.07 sigma at 3 sigma); below it the counted
# figure is noise and the tail is extrapolated from a fit to the marginal
MIN_TAIL_ESS = 25.0
# confidence of the lower bound on sigma quoted beside an extrapolated figure
BOUND_CONFIDENCE = 0.95


def _weights(samples: np.ndarray, weights) -> np.ndarray:
    return np.ones_like(samples) if weights is None else np.asarray(weights, dtype=float)


def integrated_autocorr_time(x: np.ndarray, window: float = 5.0) -> float:
    """Integrated autocorrelation time of a sequence (FFT autocorrelation, Sokal's adaptive
    window: the smallest M with M >= window * tau(M))."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 4 or np.ptp(x) == 0:
        return 1.0
    y = x - x.mean()
    f = np.fft.rfft(y, n=2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n]
    acf /= acf[0]
    taus = 2.0 * np.cumsum(acf) - 1.0
    m = np.arange(n)
    ok = m >= window * taus
    M = int(np.argmax(ok)) if np.any(ok) else n - 1
    return float(max(taus[M], 1.0))


def effective_sample_size(samples: np.ndarray, weights=None) -> float:
    """Effective number of independent samples of a chain, for estimates of posterior
    probabilities.

    Integer weights are MCMC multiplicities (Cobaya/GetDist chains store a repeated point once
    with its count): the chain's steps are restored and their number divided by the integrated
    autocorrelation time of ``samples``. Non-integer weights are importance or nested-sampling
    weights of (nearly) independent draws: Kish's (sum w)^2 / sum w^2.
    """
    x = np.asarray(samples, dtype=float)
    w = _weights(x, weights)
    if np.all(w == np.round(w)) and np.all(w >= 0):
        steps = np.repeat(x, w.astype(int))
        return float(len(steps) / integrated_autocorr_time(steps))
    return kish_ess(w)


def kish_ess(weights: np.ndarray) -> float:
    """Kish's effective sample size of independent weighted draws: (sum w)^2 / sum w^2."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w * w))


def sigma_of_tail(p_above: float) -> float:
    """Two-sided Gaussian-equivalent sigma of a one-sided tail mass (p = 0.0455/2 -> 2 sigma);
    inf for p = 0."""
    return float(norm.isf(p_above / 2.0)) if p_above > 0 else math.inf


def fitted_tail(samples: np.ndarray, weights, floor: float, ess: float) -> tuple[float, str]:
    """P(x >= floor) from a fit to the weighted marginal: a Gaussian (mean, sd), or a
    skew-normal matched to the first three moments when the sample skewness differs from zero
    by more than twice its standard error sqrt(6 / ess). Returns (p, 'gaussian'|'skew-normal')."""
    x = np.asarray(samples, dtype=float)
    w = _weights(x, weights)
    mean = float(np.average(x, weights=w))
    sd = float(np.sqrt(np.average((x - mean) ** 2, weights=w)))
    skew = float(np.average(((x - mean) / sd) ** 3, weights=w))
    if abs(skew) <= 2.0 * math.sqrt(6.0 / max(ess, 1.0)):
        return float(norm.sf(floor, loc=mean, scale=sd)), "gaussian"
    # method of moments for the skew-normal (its skewness is bounded by ~0.995)
    g = min(abs(skew), 0.99) ** (2.0 / 3.0)
    delta = math.copysign(math.sqrt(math.pi / 2 * g / (g + ((4 - math.pi) / 2) ** (2 / 3))), skew)
    alpha = delta / math.sqrt(1 - delta**2)
    scale = sd / math.sqrt(1 - 2 * delta**2 / math.pi)
    loc = mean - scale * delta * math.sqrt(2 / math.pi)
    return float(skewnorm.sf(floor, alpha, loc=loc, scale=scale)), "skew-normal"


@dataclass(frozen=True)
class BayesTension:
    """The Bayesian tension with one floor, and how it was obtained.

    ``sigma`` is the figure to print. ``method`` 'counted' means the posterior mass above the
    floor was counted from the samples (enough effective samples lie there); 'gaussian' or
    'skew-normal' means it was extrapolated from that fit to the marginal (``extrapolated``).
    ``sigma_bound`` is a lower bound on sigma at BOUND_CONFIDENCE from the samples alone (the
    Poisson upper limit on the effective count above the floor): what the chain can vouch for.
    ``lower_bound`` is true only when ``sigma`` itself is that bound (method 'bound': the fit's
    tail was heavier than the samples allow, so the fit is set aside).
    """

    sigma: float
    p_above: float
    method: str
    extrapolated: bool
    p_counted: float
    ess: float
    ess_above: float
    sigma_counted: float
    sigma_bound: float
    lower_bound: bool = False

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(self).items()}


def bayes_tension(samples: np.ndarray, weights, floor: float,
                  ess: float | None = None) -> BayesTension:
    """Posterior mass of ``samples`` above ``floor`` as a two-sided Gaussian-equivalent sigma,
    counted when the tail holds >= MIN_TAIL_ESS effective samples, else extrapolated from a fit
    to the marginal (see fitted_tail). ``ess``: the chain's effective sample size if known
    (else estimated by effective_sample_size)."""
    x = np.asarray(samples, dtype=float)
    w = _weights(x, weights)
    ess = effective_sample_size(x, w) if ess is None else float(ess)
    p_counted = float(np.sum(w[x >= floor]) / np.sum(w))
    ess_above = p_counted * ess
    # one-sided Poisson upper limit on the effective count above the floor
    k_up = 0.5 * chi2.ppf(BOUND_CONFIDENCE, 2.0 * (math.floor(ess_above) + 1.0))
    sigma_bound = sigma_of_tail(min(k_up / ess, 1.0))
    if ess_above >= MIN_TAIL_ESS:
        p, method = p_counted, "counted"
    else:
        p, method = fitted_tail(x, w, floor, ess)
    common: dict[str, Any] = dict(p_counted=p_counted, ess=ess, ess_above=ess_above,
                                  sigma_counted=sigma_of_tail(p_counted), sigma_bound=sigma_bound)
    if method != "counted" and sigma_of_tail(p) < sigma_bound:
        # the fit puts more mass above the floor than the samples allow (at 95%): the samples
        # win, and what they support is a bound
        p_up = min(k_up / ess, 1.0)
        return BayesTension(sigma=sigma_bound, p_above=p_up, method="bound", extrapolated=False,
                            lower_bound=True, **common)
    return BayesTension(sigma=sigma_of_tail(p), p_above=p, method=method,
                        extrapolated=method != "counted", **common)


def bayes_sigma(samples: np.ndarray, weights: np.ndarray | None, floor: float) -> float:
    """The Bayesian tension's figure (``bayes_tension(...).sigma``)."""
    return bayes_tension(samples, weights, floor).sigma


# the counted tail is trusted from this many effective samples above the floor; below it a
# comparison computes the tail by the evidence ratio. 1000, not the ~100 that Poisson counting
# alone would suggest: nautilus's coverage of a curved tail varies from run to run by more than
# its n_eff says (full-data ΛsCDM with z† in [1, 10], two runs: counted IO tails 2.54σ and 2.34σ
# from 112 and 193 effective samples; the evidence ratio from either run's posterior:
# 2.468 and 2.469 ± 0.013σ)
TAIL_RESOLVED_ESS = 1000.0
# beyond this the Bayesian figure is printed as "> 5 sigma" (the stated resolution)
SIGMA_PRINT_CAP = 5.0


def evidence_ratio_tension(counted: dict, ln_z_cut: float, ln_z_cut_err: float, ln_z: float,
                           ln_z_err: float) -> dict:
    """The Bayesian tension from P(mass >= floor) = Z_cut / Z, where Z_cut integrates the same
    likelihood and prior over mass >= floor only (importance sampling of the cut region or a
    second nested run on the prior cut at the floor, normalised to the full prior) and Z over the whole prior: exact in the tail, however
    few posterior samples lie there. ``counted`` is bayes_tension's record (kept beside it).

    The error of ln p is the two ln Z errors in quadrature (independent runs); ``sigma_err`` is
    half the sigma range that +- that error spans. ``beyond_cap``: sigma > SIGMA_PRINT_CAP."""
    ln_p = min(ln_z_cut - ln_z, 0.0)
    err = math.hypot(ln_z_cut_err, ln_z_err)
    p = math.exp(ln_p)
    sigma = sigma_of_tail(p)
    lo, hi = sigma_of_tail(min(math.exp(ln_p + err), 1.0)), sigma_of_tail(math.exp(ln_p - err))
    return {**counted, "sigma": sigma, "p_above": p, "method": "evidence-ratio",
            "extrapolated": False, "lower_bound": False, "ln_p_above": ln_p,
            "ln_p_above_err": err, "sigma_err": (hi - lo) / 2.0,
            "ln_evidence_cut": ln_z_cut, "ln_evidence_cut_err": ln_z_cut_err,
            "beyond_cap": bool(sigma > SIGMA_PRINT_CAP)}


def format_bayes(t: dict, digits: int = 2) -> str:
    """The printed Bayesian figure of a summary's tension entry: '> 5' beyond SIGMA_PRINT_CAP,
    else the value with its sigma_mark ('≈' extrapolated, '≥' a bound, '' counted or from the
    evidence ratio); '–' when there is none."""
    value = t.get("bayes")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if t.get("bayes_beyond_cap") or (isinstance(value, float) and math.isinf(value)):
        return f"> {SIGMA_PRINT_CAP:g}"
    return f"{sigma_mark(t)}{value:.{digits}f}"


def sigma_mark(t: dict) -> str:
    """The prefix a printed Bayesian figure carries, from a summary's tension entry: '≥' for a
    bound, '≈' for a tail extrapolated from a fit to the marginal, '' for a counted one."""
    if t.get("bayes_lower_bound"):
        return "≥"
    return "≈" if t.get("bayes_extrapolated") else ""


TENSION_DEFINITIONS = {
    "tension_sigma": "Bayesian: posterior mass of mnu_eff above the floor as a two-sided "
                     "Gaussian-equivalent sigma; counted from the samples when at least "
                     f"{MIN_TAIL_ESS:g} effective samples lie above the floor, else extrapolated "
                     "from a Gaussian (skew-normal if significantly skewed) fit to the marginal "
                     "(listed in tension_sigma_extrapolated; tension_bayes gives the method, the "
                     "counted figure, the effective sample size and the 95% lower bound the "
                     "samples alone support)",
    "tension_sigma_profile": "profile likelihood: sqrt(chi2(mnu_eff=floor) - chi2_min)"}


def tension_fields(mass: np.ndarray, weights, chi2_min: float, best_mass: float,
                   chi2_at_floor: dict[str, float]) -> dict:
    """The tension entries of a run's summary: Bayesian (bayes_tension) and profile (from the
    best fit and the best fits at each floor, ``chi2_at_floor`` keyed like FLOORS)."""
    bayes = {k: bayes_tension(mass, weights, f) for k, f in FLOORS.items()}
    return {
        "tension_sigma": {k: b.sigma for k, b in bayes.items()},
        "tension_sigma_profile": {k: profile_sigma(chi2_min, chi2_at_floor[k], best_mass, f)
                                  for k, f in FLOORS.items()},
        "tension_sigma_lower_bound": [k for k, b in bayes.items() if b.lower_bound],
        "tension_sigma_extrapolated": [k for k, b in bayes.items() if b.extrapolated],
        "tension_bayes": {k: b.to_dict() for k, b in bayes.items()},
        "tension_definitions": TENSION_DEFINITIONS,
    }


def profile_sigma(chi2_min: float, chi2_at_floor: float, best_mnu: float, floor: float) -> float:
    """sqrt(Delta chi2) when the best fit is below the floor, else 0; NaN (not measured, never
    an infinite tension) when the constrained fit found no finite chi2."""
    if best_mnu >= floor:
        return 0.0
    if not math.isfinite(chi2_at_floor):
        return math.nan
    return float(math.sqrt(max(chi2_at_floor - chi2_min, 0.0)))


def weighted_quantile(x: np.ndarray, w: np.ndarray, q) -> np.ndarray:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    cw = (cw - 0.5 * w[order]) / cw[-1]
    return np.interp(q, cw, x[order])


def summarize_1d(x: np.ndarray, w: np.ndarray | None = None) -> dict:
    """mean, std, median, equal-tailed 68% interval and one-tailed 95% upper limit."""
    x = np.asarray(x, dtype=float)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float)
    mean = float(np.average(x, weights=w))
    std = float(math.sqrt(np.average((x - mean) ** 2, weights=w)))
    lo, med, hi, up95 = weighted_quantile(x, w, [0.15865, 0.5, 0.84135, 0.95])
    return {"mean": mean, "std": std, "median": float(med), "lower68": float(lo),
            "upper68": float(hi), "upper95": float(up95)}
