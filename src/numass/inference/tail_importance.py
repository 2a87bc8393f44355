"""Z(mass >= floor) by importance sampling of the cut region: the cheap route to a tail mass.

The tail mass P(m >= floor | data) = Z_cut / Z needs the evidence of the part of the prior above
the floor. A nested run on the cut prior (nested_tail.tail_evidence) gets it from scratch,
exploring the whole box again (~20 000 calls and a minute of network training). But the main run
already knows the posterior's shape, and the profile at the floor knows where the tail's mass
sits, so a proposal q built from them covers the cut posterior closely and

    Z_cut = E_q[ L(x) pi(x) / q(x) ],   x ~ q restricted to m >= floor,

takes a few thousand batched calls. q is a mixture of Gaussians cut at the floor on the mass
(exact normalisation: each component's mass above the floor is a 1-d normal tail): round 0 is
the posterior's covariance, inflated, centred so that its conditional mean at the floor is the
profile point (the constrained best fit, which follows curved degeneracies a linear
extrapolation of the posterior would miss), plus a wider defensive component that bounds the
weights; the next round adds a component fitted to round 0's weighted draws. The estimate is the
last round's; its error is sqrt(1/ESS - 1/N) in ln Z_cut (ESS = Kish's effective sample size
of the weights). With fewer than ``min_ess`` effective draws the proposal did not fit and the
caller runs the nested route instead.

Points outside the sampling box count as zero likelihood, as in the main nested run, so both
evidences integrate the same region.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp
from scipy.stats import truncnorm

from numass.stats import kish_ess

# draws per round, rounds, and the effective draws below which the estimate is not trusted
TAIL_DRAWS = 4000
TAIL_ROUNDS = 2
TAIL_IS_MIN_ESS = 400
# covariance inflation of the main component (a slightly wider q keeps the weights bounded at a
# small cost: ~50% efficiency for a Gaussian in 8-d) and of the defensive one, and its share
INFLATE = 1.2
DEFENSIVE_INFLATE = 2.0
DEFENSIVE_SHARE = 0.2


@dataclass
class CutGaussian:
    """N(mean, cov) restricted to x[k] in [lo, hi] (renormalised)."""

    mean: np.ndarray
    cov: np.ndarray
    k: int
    lo: float
    hi: float

    def __post_init__(self):
        d = len(self.mean)
        self.rest = [i for i in range(d) if i != self.k]
        c = self.cov
        self.sd_k = math.sqrt(c[self.k, self.k])
        self.beta = c[self.rest, self.k] / c[self.k, self.k]
        cond = c[np.ix_(self.rest, self.rest)] - np.outer(self.beta, c[self.k, self.rest])
        self.chol = np.linalg.cholesky(0.5 * (cond + cond.T))
        self.a = (self.lo - self.mean[self.k]) / self.sd_k
        self.b = (self.hi - self.mean[self.k]) / self.sd_k

    def _cond_mean(self, m: np.ndarray) -> np.ndarray:
        return self.mean[self.rest] + np.outer(m - self.mean[self.k], self.beta)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        m = truncnorm.rvs(self.a, self.b, loc=self.mean[self.k], scale=self.sd_k, size=n,
                          random_state=rng)
        x = np.empty((n, len(self.mean)))
        x[:, self.k] = m
        x[:, self.rest] = self._cond_mean(m) + rng.standard_normal((n, len(self.rest))) @ self.chol.T
        return x

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        m = x[:, self.k]
        lp = truncnorm.logpdf(m, self.a, self.b, loc=self.mean[self.k], scale=self.sd_k)
        z = np.linalg.solve(self.chol, (x[:, self.rest] - self._cond_mean(m)).T)
        log_det = np.sum(np.log(np.diag(self.chol)))
        return lp - 0.5 * np.sum(z * z, axis=0) - log_det - 0.5 * len(self.rest) * math.log(2 * math.pi)


def _mixture_logpdf(parts: list[tuple[float, CutGaussian]], x: np.ndarray) -> np.ndarray:
    return logsumexp([math.log(w) + g.logpdf(x) for w, g in parts], axis=0)


def _mixture_sample(parts, n: int, rng) -> np.ndarray:
    counts = rng.multinomial(n, [w for w, _ in parts])
    return np.vstack([g.sample(c, rng) for (_, g), c in zip(parts, counts) if c])


def weighted_moments(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and (population) covariance of the rows of x."""
    return np.average(x, axis=0, weights=w), np.atleast_2d(np.cov(x.T, aweights=w, bias=True))


def round0_proposal(mean, cov, k: int, floor: float, hi: float,
                    anchor: np.ndarray | None) -> list[tuple[float, CutGaussian]]:
    """The first proposal: the posterior's Gaussian, its conditional mean at the floor moved to
    ``anchor`` (the profile point; None: the linear extrapolation), cut at the floor."""
    mean = np.array(mean, dtype=float)
    if anchor is not None:
        rest = [i for i in range(len(mean)) if i != k]
        beta = cov[rest, k] / cov[k, k]
        mean[rest] = np.asarray(anchor)[rest] - beta * (floor - mean[k])
    main = CutGaussian(mean, INFLATE ** 2 * cov, k, floor, hi)
    wide = CutGaussian(mean, DEFENSIVE_INFLATE ** 2 * cov, k, floor, hi)
    return [(1 - DEFENSIVE_SHARE, main), (DEFENSIVE_SHARE, wide)]


def _in_box(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.all((x >= lo) & (x <= hi), axis=1)


def _draw_and_weigh(post, parts, n, rng, lo, hi):
    x = _mixture_sample(parts, n, rng)
    logpost = np.full(len(x), -np.inf)
    inside = _in_box(x, lo, hi)
    if inside.any():
        logpost[inside] = post.evaluate(x[inside]).logpost
    log_w = np.where(np.isfinite(logpost), logpost - _mixture_logpdf(parts, x), -np.inf)
    return x, log_w


def _estimate(log_w: np.ndarray) -> dict:
    n = len(log_w)
    if not np.isfinite(log_w).any():
        return {"ln_evidence": -math.inf, "ln_evidence_err": math.inf, "ess": 0.0, "draws": n}
    ln_z = float(logsumexp(log_w) - math.log(n))
    ess = kish_ess(np.exp(log_w - np.max(log_w)))
    return {"ln_evidence": ln_z, "ln_evidence_err": math.sqrt(max(1 / ess - 1 / n, 0.0)),
            "ess": ess, "draws": n}


def tail_importance(post, box: dict, mass_param: str, floor: float, points: np.ndarray,
                    weights: np.ndarray, anchor: dict | None = None, seed: int | None = None,
                    draws: int = TAIL_DRAWS, rounds: int = TAIL_ROUNDS) -> dict | None:
    """ln Z of ``post`` over ``box`` with the mass at or above ``floor`` (normalised to the full
    prior, like run_nautilus's ln Z) by importance sampling: {'ln_evidence', 'ln_evidence_err',
    'ess', 'draws', 'n_calls', 'rounds'}; None when the floor lies at or beyond the box's upper
    edge. ``points``/``weights``: the main run's posterior; ``anchor``: the profile point at the
    floor ({param: value}), or None."""
    names = list(post.names)
    k = names.index(mass_param)
    lo = np.array([box[n][0] for n in names])
    hi = np.array([box[n][1] for n in names])
    if floor >= hi[k]:
        return None
    rng = np.random.default_rng(seed)
    mean, cov = weighted_moments(points, weights)
    cov = cov + np.diag(1e-12 * np.maximum(np.diag(cov), 1e-300))
    start = None if anchor is None else np.array([anchor.get(n, mean[i])
                                                  for i, n in enumerate(names)])
    base = round0_proposal(mean, cov, k, max(floor, lo[k]), hi[k], start)
    parts, calls, est = base, 0, {}
    for r in range(rounds):
        x, log_w = _draw_and_weigh(post, parts, draws, rng, lo, hi)
        calls += len(x)
        est = _estimate(log_w)
        if r + 1 < rounds and est["ess"] > 2 * len(names):
            m_fit, c_fit = weighted_moments(x, np.exp(log_w - np.max(log_w)))
            try:
                fitted = CutGaussian(m_fit, INFLATE ** 2 * c_fit, k, max(floor, lo[k]), hi[k])
            except np.linalg.LinAlgError:
                continue  # a degenerate fit: keep round 0's proposal
            parts = [(0.6, fitted), (0.2, base[0][1]), (0.2, base[1][1])]
    return {**est, "n_calls": calls, "rounds": rounds, "method": "importance"}


__all__ = ["tail_importance", "CutGaussian", "round0_proposal", "TAIL_DRAWS", "TAIL_ROUNDS",
           "TAIL_IS_MIN_ESS"]
