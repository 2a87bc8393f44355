"""Tension of a Sigma m_nu,eff result with the neutrino-oscillation floors (docs/physics.md).

Two measures, always labelled:
- Bayesian: p = posterior mass of Sigma m_nu,eff above the floor, turned into the two-sided
  Gaussian-equivalent significance sigma = Phi^-1(1 - p/2) (p = 0.0455 -> 2 sigma).
- Profile (frequentist): sigma = sqrt(chi2(floor) - chi2_min), where chi2(floor) is the best fit with
  Sigma m_nu,eff fixed at the floor; 0 when the unconstrained best fit already sits above it.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

# lower limits on the sum of masses from the measured splittings (docs/physics.md)
FLOORS = {"normal_ordering": 0.0588, "inverted_ordering": 0.099}


def bayes_sigma(samples: np.ndarray, weights: np.ndarray | None, floor: float) -> float:
    """Two-sided Gaussian-equivalent sigma of the posterior mass above ``floor``."""
    samples = np.asarray(samples, dtype=float)
    w = np.ones_like(samples) if weights is None else np.asarray(weights, dtype=float)
    p_above = float(np.sum(w[samples >= floor]) / np.sum(w))
    # a finite chain cannot resolve tails below ~1/N: cap at the resolution instead of infinity
    p_above = max(p_above, 1.0 / (2.0 * len(samples)))
    return float(norm.isf(p_above / 2.0))


def profile_sigma(chi2_min: float, chi2_at_floor: float, best_mnu: float, floor: float) -> float:
    """sqrt(Delta chi2) when the best fit is below the floor, else 0."""
    if best_mnu >= floor:
        return 0.0
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
