"""Best fits and profiles on a Cobaya model: restarted Nelder-Mead in proposal-scaled coordinates.

Nelder-Mead needs no gradients, so it copes with the small numerical noise of Boltzmann codes;
restarting from several points guards against stopping on a ridge.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize


def _neg_logpost(model, names, scale, centre):
    def f(x):
        point = dict(zip(names, centre + x * scale))
        lp = model.logpost(point)
        return 1e30 if not math.isfinite(lp) else -lp

    return f


def best_fit(model, starts: list[dict], widths: dict, max_evals: int = 4000) -> dict:
    """Minimise -log posterior from each start; return the best as a dict.

    The result holds the sampled parameters, ``chi2`` (= -2 sum of log-likelihoods at the point,
    priors excluded, as Cobaya's minimiser reports it), ``chi2_by_likelihood`` and ``logpost``.
    """
    names = list(model.parameterization.sampled_params())
    scale = np.array([widths[n] for n in names])
    best = None
    for start in starts:
        centre = np.array([start[n] for n in names], dtype=float)
        f = _neg_logpost(model, names, scale, centre)
        x = np.zeros(len(names))
        for _ in range(3):  # restart where it stopped: Nelder-Mead's simplex can collapse early
            res = minimize(f, x, method="Nelder-Mead",
                           options={"maxfev": max_evals, "xatol": 1e-4, "fatol": 1e-5,
                                    "adaptive": len(names) > 4})
            converged = np.allclose(res.x, x, atol=1e-3)
            x = res.x
            if converged:
                break
        if best is None or res.fun < best[0]:
            best = (res.fun, centre + x * scale)
    point = dict(zip(names, best[1]))
    return describe_point(model, point)


def describe_point(model, point: dict) -> dict:
    res = model.logposterior(point, as_dict=True)
    loglikes = res.get("loglikes", {})
    out = {k: float(v) for k, v in point.items()}
    out.update({k: float(v) for k, v in res.get("derived", {}).items()})
    out["chi2_by_likelihood"] = {k: float(-2 * v) for k, v in loglikes.items()}
    out["chi2"] = float(sum(out["chi2_by_likelihood"].values()))
    out["logpost"] = float(res["logpost"])
    return out


# finite-difference steps for the Hessian, as fractions of the proposal widths, tried in turn:
# strongly degenerate posteriors (w0wa on background data) need the smaller steps to stay
# positive definite
HESSIAN_REL_STEPS = (0.5, 0.1, 0.03)


def proposal_covmat(model, point: dict, widths: dict) -> np.ndarray | None:
    """The inverse Hessian at ``point`` from the first step of HESSIAN_REL_STEPS that gives a
    positive-definite one; None when none does."""
    for rel_step in HESSIAN_REL_STEPS:
        cov = hessian_covmat(model, point, widths, rel_step=rel_step)
        if cov is not None:
            return cov
    return None


def hessian_covmat(model, point: dict, widths: dict, rel_step: float = 0.5) -> np.ndarray | None:
    """Inverse of the finite-difference Hessian of -log posterior: a proposal covariance.

    Returns None when the Hessian is not positive definite (then the caller falls back to a
    diagonal proposal and Cobaya learns the covariance as it goes).
    """
    names = list(model.parameterization.sampled_params())
    h = np.array([widths[n] * rel_step for n in names])
    x0 = np.array([point[n] for n in names])

    def f(x):
        lp = model.logpost(dict(zip(names, x)))
        return -lp if math.isfinite(lp) else np.nan

    n = len(names)
    f0 = f(x0)
    hess = np.zeros((n, n))
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h[i]
        hess[i, i] = (f(x0 + ei) - 2 * f0 + f(x0 - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(n)
            ej[j] = h[j]
            hess[i, j] = hess[j, i] = (f(x0 + ei + ej) - f(x0 + ei - ej) - f(x0 - ei + ej)
                                       + f(x0 - ei - ej)) / (4 * h[i] * h[j])
    if not np.all(np.isfinite(hess)):
        return None
    return covariance_from_hessian(hess)


def covariance_from_hessian(hess: np.ndarray) -> np.ndarray | None:
    """The inverse of a Hessian of -ln P when it is positive definite, else None."""
    try:
        cov = np.linalg.inv(hess)
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return None
    return cov
