"""Best fits and profiles on a LogPosterior (posterior.py), by one of two strategies.

- ``newton_fit`` / ``newton_profile``: damped Newton steps on many starts in lockstep, for
  posteriors evaluated in batches (BatchPosterior: nautilus's path). Each iteration evaluates,
  as one batch for all starts together, the finite-difference stencil of gradient and Hessian
  (1 + d + d^2 points a start: the centre, +-h along each axis and the diagonal pairs, whose
  sums give the mixed second derivatives) and then a line search along the Newton direction (a
  handful of step lengths, again one batch). On the near-Gaussian posteriors of these fits
  Newton converges in a few iterations, so a best fit costs a few hundred to a few thousand
  evaluations in ~10 batched calls, and a 12-point profile, started from the best fit's
  conditional optimum (Gaussian approximation), is the same machinery run on 12 starts at once
  with the profiled parameter held fixed in each. Near a prior edge the stencil's centre is
  moved inside (the quadratic model is built there and used at the point), so no stencil point
  leaves the prior; where the posterior still fails inside, the start's step size shrinks.
  Negative curvature (far from the optimum) is handled by taking |eigenvalues| (a saddle-free
  step).
- ``nelder_mead_fit``: restarted Nelder-Mead, one point at a time, for posteriors whose theory
  is a Boltzmann code (CobayaPosterior with CAMB: the MCMC path). It needs no gradients, so it
  copes with the code's small numerical noise; restarting from several points guards against
  stopping on a ridge.

Both work in coordinates scaled by the proposal widths and return ``describe``'s dict.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from numass.errors import InputError
from numass.inference.posterior import CobayaPosterior

STEPS = np.array([1.0, 0.5, 0.25, 0.1, 0.03])  # line-search fractions of the Newton step
MAX_STEP = 20.0  # longest step, in proposal widths (a trust region far from the optimum)


def stencil_offsets(free: np.ndarray, h: float) -> np.ndarray:
    """(m, d) offsets: 0, +-h e_i, and h (e_i + e_j), -h (e_i + e_j) for i < j (free axes)."""
    d = len(free)
    axes = np.flatnonzero(free)
    rows = [np.zeros(d)]
    for i in axes:
        for s in (1.0, -1.0):
            e = np.zeros(d)
            e[i] = s * h
            rows.append(e)
    for a, i in enumerate(axes):
        for j in axes[a + 1:]:
            for s in (1.0, -1.0):
                e = np.zeros(d)
                e[i] = e[j] = s * h
                rows.append(e)
    return np.array(rows)


def quadratic_model(f: np.ndarray, free: np.ndarray, h: float):
    """Gradient and Hessian (over the free axes) from the stencil values ``f`` (m,)."""
    k = int(free.sum())
    f0 = f[0]
    fp, fm = f[1:2 * k + 1:2], f[2:2 * k + 1:2]
    g = (fp - fm) / (2 * h)
    hess = np.diag((fp - 2 * f0 + fm) / h ** 2)
    pos = 2 * k + 1
    for i in range(k):
        for j in range(i + 1, k):
            fpp, fmm = f[pos], f[pos + 1]
            pos += 2
            hess[i, j] = hess[j, i] = (fpp + fmm - fp[i] - fm[i] - fp[j] - fm[j] + 2 * f0) \
                / (2 * h ** 2)
    return g, hess


def newton_direction(g: np.ndarray, hess: np.ndarray) -> np.ndarray:
    """-|H|^-1 g with eigenvalues floored (saddle-free), capped at MAX_STEP."""
    lam, vec = np.linalg.eigh(hess)
    lam = np.maximum(np.abs(lam), 1e-6 * max(np.abs(lam).max(), 1e-12))
    step = -vec @ ((vec.T @ g) / lam)
    norm = np.linalg.norm(step)
    return step * (MAX_STEP / norm) if norm > MAX_STEP else step


class Objective:
    """-ln posterior in scaled coordinates y = (x - centre) / scale, inf outside the prior."""

    def __init__(self, post, centre: np.ndarray, scale: np.ndarray):
        self.post, self.centre, self.scale = post, centre, scale
        b = post.bounds
        self.lo, self.hi = (b[:, 0] - centre) / scale, (b[:, 1] - centre) / scale
        self.n_calls = 0

    def __call__(self, y: np.ndarray) -> np.ndarray:
        self.n_calls += len(y)
        lp = self.post(self.centre + y * self.scale)
        return np.where(np.isfinite(lp), -lp, np.inf)

    def clip(self, y: np.ndarray, margin: float = 0.0) -> np.ndarray:
        return np.clip(y, self.lo + margin, self.hi - margin)


# newton_fit's starts that are dropped (``prune``): one within SAME_START widths of an earlier
# start on every axis (the same basin: it would retrace that start's refinement), or one that
# has converged on the coarse stencil WORSE_START above the best start's -ln P (Δχ² 2: the finer
# stencils gain ~0.001 in χ², so it cannot become the best fit). Measured on the full data:
# ΛCDM's four starts meet in one optimum (2050 -> 1003 calls), ΛsCDM with z† in [1, 10] has two
# optima 26 apart in χ² (3799 -> 2485 calls); the best fits agree to 3e-8 in χ².
SAME_START = 0.1
WORSE_START = 1.0


def _pruned(y: np.ndarray, f: np.ndarray, hs: np.ndarray, h: float) -> np.ndarray:
    """The starts not worth refining further (see SAME_START, WORSE_START)."""
    out = np.zeros(len(f), dtype=bool)
    for a in range(1, len(f)):
        # the same basin as an earlier start still running: the earlier one goes on (by index,
        # not by value, so that last-bit differences between runs never change the survivor)
        kept = np.flatnonzero(~out[:a])
        near = np.all(np.abs(y[kept] - y[a]) < SAME_START, axis=1)
        out[a] = near.any() or (hs[a] < h and f[a] > f.min() + WORSE_START)
    return out


def newton_lockstep(obj: Objective, y0: np.ndarray, free: np.ndarray, h: float = 0.3,
                    max_iter: int = 40, tol: float = 1e-5, h_min: float = 0.03,
                    prune: bool = False):
    """Minimise obj from every row of y0 (k, d), moving only the ``free`` axes.

    A start is converged when the predicted gain of its Newton step is below ``tol`` with a
    stencil step of ``h_min``: the step starts at ``h`` and is divided by 3 at each apparent
    convergence, since the posteriors' third derivatives bias a wide stencil's gradient (LCDM on
    the embedded data: with h = 0.3 widths Newton stops 0.0015 in chi2 above the optimum).
    ``prune`` (the starts of one minimisation, not a profile's rows): starts that cannot end
    as the best one are stopped (_pruned).

    Returns (y (k, d), f (k,), hess (k, kf, kf) at the last stencil, converged (k,)).
    """
    k, _ = y0.shape
    y, f = y0.copy(), obj(y0)
    hs = np.full(k, h)
    done = np.zeros(k, dtype=bool)
    nf = int(free.sum())
    hess_out = np.full((k, nf, nf), np.nan)
    if nf == 0:
        return y, f, hess_out, np.ones(k, dtype=bool)
    for _ in range(max_iter):
        active = np.flatnonzero(~done)
        if len(active) == 0:
            break
        # stencil centres moved inside the prior by one step on every free axis
        centres = np.array([np.where(free, obj.clip(y[a], 1.01 * hs[a]), y[a]) for a in active])
        offs = [stencil_offsets(free, hs[a]) for a in active]
        pts = np.vstack([c + o for c, o in zip(centres, offs)])
        vals = obj(pts)
        cand, owner, dirs = [], [], {}
        pos = 0
        for a, c, o in zip(active, centres, offs):
            fa = vals[pos:pos + len(o)]
            pos += len(o)
            if not np.all(np.isfinite(fa)):
                hs[a] /= 3
                done[a] = hs[a] < h_min * 0.999
                continue
            g, hess = quadratic_model(fa, free, hs[a])
            g = g + hess @ (y[a, free] - c[free])  # the model's gradient at the point itself
            hess_out[a] = hess
            step = newton_direction(g, hess)
            if -g @ step / 2 < tol:  # predicted gain below tol: converged, or a finer stencil
                hs[a] /= 3
                done[a] = hs[a] < h_min * 0.999
                continue
            dirs[a] = step
            for s in STEPS:
                t = y[a].copy()
                t[free] += s * step
                cand.append(obj.clip(t))
                owner.append(a)
        if not cand:
            continue
        cand_y, cand_owner = np.array(cand), np.array(owner)
        fc = obj(cand_y)
        for a in dirs:
            mine = np.flatnonzero(cand_owner == a)
            best = mine[np.argmin(fc[mine])]
            if fc[best] < f[a] - 1e-12:
                y[a], f[a] = cand_y[best], fc[best]
            else:  # no step helps: a finer stencil, or stop
                hs[a] /= 3
                done[a] = hs[a] < h_min * 0.999
        if prune:
            done |= _pruned(y, f, hs, h)
    return y, f, hess_out, done


def describe(post, x) -> dict:
    """The point (an array in ``post.names``' order, or a dict) as numass's best-fit dict:
    parameters, derived, chi2 by likelihood, logpost."""
    if isinstance(x, dict):
        x = np.array([x[n] for n in post.names], dtype=float)
    r = post.evaluate(x[None, :])
    chi2s = {k: float(-2 * v[0]) for k, v in r.loglikes.items()}
    out: dict[str, float | dict[str, float]] = {n: float(v) for n, v in zip(post.names, x)}
    out.update({k: float(v[0]) for k, v in r.derived.items()})
    out["chi2_by_likelihood"] = chi2s
    out["chi2"] = float(sum(chi2s.values()))
    out["logpost"] = float(r.logpost[0])
    return out


def newton_fit(post, refs: dict, widths: dict, n_starts: int = 4, n_candidates: int = 64,
                   seed: int = 0, extra_starts: list[dict] | None = None) -> dict:
    """Best fit from many starts: ``n_candidates`` draws around ``refs`` (+-3 widths) evaluated
    together, the best ``n_starts`` (and ``extra_starts``) refined by lockstep Newton.

    Returns describe()'s dict plus 'covariance' (the inverse Hessian at the best fit, the
    sampled parameters' order; None when not positive definite) and 'n_calls'.
    """
    missing = [n for n in post.names if n not in refs or n not in widths]
    if missing:
        raise InputError(f"best fit: no start or width for {', '.join(missing)}")
    centre = np.array([refs[n] for n in post.names], dtype=float)
    scale = np.array([widths[n] for n in post.names], dtype=float)
    obj = Objective(post, centre, scale)
    rng = np.random.default_rng(seed)
    cand = obj.clip(np.vstack([np.zeros(len(centre)),
                               3 * rng.standard_normal((n_candidates, len(centre)))]))
    for s in extra_starts or ():
        cand = np.vstack([cand, (np.array([s[n] for n in post.names]) - centre) / scale])
    fc = obj(cand)
    order = np.argsort(fc)[:n_starts + len(extra_starts or ())]
    order = order[np.isfinite(fc[order])]
    if len(order) == 0:
        raise InputError("best fit: the posterior is zero at every start; check the priors "
                         "and the reference point")
    free = np.ones(len(centre), dtype=bool)
    y, f, _, _ = newton_lockstep(obj, cand[order], free, prune=True)
    best = y[int(np.argmin(f))]
    # the Hessian at the best fit with the proposal-sized step (as hessian_covmat)
    _, _, hess, _ = newton_lockstep(obj, best[None, :], free, h=0.5, max_iter=1, tol=np.inf,
                                    h_min=0.5)
    cov = covariance_from_hessian(hess[0])
    out = describe(post, centre + best * scale)
    out["covariance"] = None if cov is None else (cov * np.outer(scale, scale)).tolist()
    out["n_calls"] = obj.n_calls
    return out


def saddle_free_covariance(post, point: dict, widths: dict, box: dict) -> np.ndarray | None:
    """A proposal covariance at ``point`` where the inverse Hessian is not one (a best fit on a
    prior edge, a direction the data barely constrain): newton_fit's proposal-sized stencil,
    the Hessian's eigenvalues taken as |lambda| (saddle-free) and floored at the curvature of a
    flat posterior across the widest side of ``box`` (12 / width^2), then inverted. None where
    the stencil fails."""
    centre = np.array([point[n] for n in post.names], dtype=float)
    scale = np.array([widths[n] for n in post.names], dtype=float)
    free = np.ones(len(centre), dtype=bool)
    _, _, hess, _ = newton_lockstep(Objective(post, centre, scale), np.zeros((1, len(centre))),
                                    free, h=0.5, max_iter=1, tol=np.inf, h_min=0.5)
    if not np.all(np.isfinite(hess[0])):
        return None
    widest = max((box[n][1] - box[n][0]) / s for n, s in zip(post.names, scale))
    lam, vec = np.linalg.eigh(hess[0])
    cov = (vec / np.maximum(np.abs(lam), 12 / widest ** 2)) @ vec.T
    return cov * np.outer(scale, scale)


def newton_profile(post, param: str, values, bestfit: dict, widths: dict) -> list[dict]:
    """Best fits with ``param`` fixed at each of ``values``, all minimised together.

    Each start is the best fit moved along the Gaussian conditional optimum (from the best fit's
    covariance), then refined by lockstep Newton over the other parameters. Returns one
    describe() dict per value, in the order of ``values``.
    """
    if param not in post.names:
        raise InputError(f"'{param}' is not a sampled parameter; sampled: {', '.join(post.names)}")
    values = np.atleast_1d(np.asarray(values, dtype=float))
    p = post.names.index(param)
    centre = np.array([bestfit[n] for n in post.names], dtype=float)
    scale = np.array([widths[n] for n in post.names], dtype=float)
    obj = Objective(post, centre, scale)
    y0 = np.zeros((len(values), len(centre)))
    y0[:, p] = (values - centre[p]) / scale[p]
    free = np.ones(len(centre), dtype=bool)
    free[p] = False
    y0 = _profile_starts(obj, y0, p, bestfit.get("covariance"), scale, free)
    y, _, _, _ = newton_lockstep(obj, y0, free)
    return [describe(post, centre + row * scale) for row in y]


# fractions of the Gaussian conditional shift tried as a profile's start (the full shift can
# leave the sampling box along a strong degeneracy, e.g. Σmν,eff with w0 in w0wa)
_SHIFT_FRACTIONS = (1.0, 0.5, 0.25, 0.0)


def _profile_starts(obj, y0: np.ndarray, p: int, cov, scale: np.ndarray,
                    free: np.ndarray) -> np.ndarray:
    """Per value, the start with the lowest -ln P among the best fit moved along the Gaussian
    conditional optimum (cov[:, p] / cov[p, p]) by each of _SHIFT_FRACTIONS (all evaluated in
    one batch); without a covariance, the best fit with only the profiled parameter moved."""
    if cov is None:
        return obj.clip(y0)
    cov = np.asarray(cov) / np.outer(scale, scale)
    shift = np.outer(y0[:, p], cov[:, p] / cov[p, p]) * free
    tries = np.array([obj.clip(y0 + f * shift) for f in _SHIFT_FRACTIONS])  # (nf, nv, d)
    tries[:, :, p] = y0[:, p]
    vals = obj(tries.reshape(-1, y0.shape[1])).reshape(tries.shape[:2])
    return tries[np.argmin(vals, axis=0), np.arange(y0.shape[0])]


def _neg_logpost(post, scale, centre):
    def f(x):
        lp = float(post((centre + x * scale)[None, :])[0])
        return 1e30 if not np.isfinite(lp) else -lp

    return f


def nelder_mead_fit(post, starts: list[dict], widths: dict, max_evals: int = 4000) -> dict:
    """Minimise -log posterior from each start by restarted Nelder-Mead; return the best as
    describe()'s dict: the sampled parameters, derived, ``chi2`` (= -2 sum of log-likelihoods
    at the point, priors excluded, as Cobaya's minimiser reports it), ``chi2_by_likelihood`` and
    ``logpost``."""
    names = list(post.names)
    scale = np.array([widths[n] for n in names])
    best = None
    for start in starts:
        centre = np.array([start[n] for n in names], dtype=float)
        f = _neg_logpost(post, scale, centre)
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
    if best is None:
        raise InputError("nelder_mead_fit needs at least one start point")
    return describe(post, best[1])


# finite-difference steps for the Hessian, as fractions of the proposal widths, tried in turn:
# strongly degenerate posteriors (w0wa on background data) need the smaller steps to stay
# positive definite
HESSIAN_REL_STEPS = (0.5, 0.1, 0.03)


def proposal_covmat(post, point: dict, widths: dict) -> np.ndarray | None:
    """The inverse Hessian at ``point`` from the first step of HESSIAN_REL_STEPS that gives a
    positive-definite one; None when none does."""
    for rel_step in HESSIAN_REL_STEPS:
        cov = hessian_covmat(post, point, widths, rel_step=rel_step)
        if cov is not None:
            return cov
    return None


def hessian_covmat(post, point: dict, widths: dict, rel_step: float = 0.5) -> np.ndarray | None:
    """Inverse of the finite-difference Hessian of -log posterior, point by point (the
    noise-tolerant step of a Boltzmann code's posterior): a proposal covariance.

    Returns None when the Hessian is not positive definite (then the caller falls back to a
    diagonal proposal and Cobaya learns the covariance as it goes).
    """
    names = list(post.names)
    h = np.array([widths[n] * rel_step for n in names])
    x0 = np.array([point[n] for n in names])

    def f(x):
        lp = float(post(x[None, :])[0])
        return -lp if np.isfinite(lp) else np.nan

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


def profile_at(info: dict, param: str, value: float, start: dict, widths: dict) -> dict:
    """Nelder-Mead best fit of the Cobaya model of ``info`` with ``param`` fixed at ``value``
    (the MCMC path's profile point)."""
    post = CobayaPosterior.from_info({**info, "params": {**info["params"], param: value}})
    return nelder_mead_fit(post, [{k: start[k] for k in post.names}], widths)
