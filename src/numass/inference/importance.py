"""Importance sampling of a LogPosterior: ln Z = ln E_q[ P(x) / q(x) ], x ~ q, with one core
(``log_weights``, ``estimate``, and PSIS's diagnostic ``pareto_khat``) under its three uses.

For a proposal q that covers the posterior, the mean of the weights w = P / q over n draws is an
unbiased estimate of the evidence Z (P = likelihood x normalised prior, so Z is normalised to the
full prior, as nested sampling's is). Its error in ln Z is the delta-method spread of the mean
weight, sqrt(var(w) / n) / mean(w) = sqrt(1/ESS - 1/n), with ESS = (sum w)^2 / sum w^2 (Kish's
effective sample size); few effective draws mean q misses part of the posterior and the error
itself is unreliable.

- ``importance_evidence``: ln Z of a whole posterior (an MCMC job's, where the full likelihoods
  make dynesty's ~10^5 calls too slow) from a Student-t fitted to its chain and widened, so that
  q's tails are heavier than the posterior's: a few thousand calls.
- ``tail_importance``: Z(mass >= floor), the evidence of the part of the prior above an
  oscillation floor, for the tail mass P(m >= floor | data) = Z_cut / Z (tail.py). A nested run
  on the cut prior would explore the whole box again (~20 000 calls and a minute of network
  training), but the main run already knows the posterior's shape, and the profile at the floor
  knows where the tail's mass sits. q is a mixture of Gaussians cut at the floor on the mass
  (exact normalisation: each component's mass above the floor is a 1-d normal tail): round 0 is
  the posterior's covariance, inflated, centred so that its conditional mean at the floor is the
  profile point (the constrained best fit, which follows curved degeneracies a linear
  extrapolation of the posterior would miss), plus a wider defensive component that bounds the
  weights; the next round adds a component fitted to round 0's weighted draws. The estimate is
  the last round's. Points outside the sampling box count as zero likelihood, as in the main
  nested run, so both evidences integrate the same region.
- ``posterior_importance``: the whole posterior and its ln Z around a best fit (the default
  posterior, in place of nautilus, whose network training dominates a run): a Student-t from the
  Hessian, refitted to each round's weighted draws until a round's draws agree with the
  moments its proposal was built from (adaptive importance sampling: a skewed posterior, one cut
  by a prior edge, a Hessian that misjudges a degeneracy). Whether the draws can be trusted is
  decided by that agreement, Kish's ESS and k̂, the shape of a generalized Pareto fitted to the largest
  weights (Vehtari et al., Pareto smoothed importance sampling): the ESS alone is computed from
  the weights drawn so far and cannot see a tail the proposal undersamples, while k̂ > 0.7 says
  the weights' distribution is so heavy-tailed that the mean of n draws is not yet reliable.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp
from scipy.stats import truncnorm

from numass.errors import NumassError
from numass.stats import kish_ess

# draws per round, rounds, and the effective draws below which a tail estimate is not trusted
TAIL_DRAWS = 4000
TAIL_ROUNDS = 2
TAIL_IS_MIN_ESS = 400
# covariance inflation of the main component (a slightly wider q keeps the weights bounded at a
# small cost: ~50% efficiency for a Gaussian in 8-d) and of the defensive one, and its share
INFLATE = 1.2
DEFENSIVE_INFLATE = 2.0
DEFENSIVE_SHARE = 0.2
# the whole-posterior proposal: Student-t degrees of freedom, and its covariance = IS_SCALE^2 x
# the chain's
IS_DF = 4.0
IS_SCALE = 1.3
# the posterior by importance sampling (posterior_importance): the Student-t's degrees
# of freedom, the pilot round's draws, the main round's least draws per effective sample still
# missing, the top-ups where the ESS falls short (each at most MORE_DRAWS_CAP x the main round),
# and PSIS's threshold on k̂ (Vehtari et al. 2024)
POSTERIOR_DF = 5.0
PILOT_DRAWS = 1000
DRAWS_PER_NEFF = 1.5
MORE_DRAWS_CAP = 4
TOP_UPS = 3
PARETO_K_MAX = 0.7
# adaptation before the main round: rounds of PILOT_DRAWS x 2^r (r = 0, 1, ...: their moments
# sharpen as the rounds grow), each from a Student-t refitted to the previous round's weighted
# draws, until a round's draws agree with the moments its proposal was fitted to (means within
# SETTLE_SHIFT σ, standard deviations within a factor e^SETTLE_STRETCH) with k̂ <= PARETO_K_MAX;
# at most ADAPT_ROUNDS. The effective draws below which a round's moments are too rough to refit
# to (per dimension; the last proposal is widened by WIDEN instead).
ADAPT_ROUNDS = 4
SETTLE_SHIFT = 0.2
SETTLE_STRETCH = 0.2
ADAPT_MIN_ESS = 3
WIDEN = 2.0
# where all draws' moments have moved from those of the proposal that drew most of them, the
# whole adaptation runs again from them, once (SETTLE_ATTEMPTS = 2)
SETTLE_ATTEMPTS = 2
# a settled proposal with fewer effective draws than this share does not serve: nautilus needs
# ~4 calls an effective sample, importance sampling would need more than 12
MIN_EFFICIENCY = 0.08


def log_weights(post, x: np.ndarray, logq: np.ndarray, lo: np.ndarray | None = None,
                hi: np.ndarray | None = None, progress=None, every: int = 0):
    """(ln w = ln P - ln q, ln L, {derived name: values}) at the draws ``x`` (n, d); -inf (NaN
    for the derived) where P is zero or a draw lies outside the box [lo, hi]. With
    ``progress``, evaluated in batches of ``every`` draws and ``progress(draws so far)`` called
    after each."""
    logpost, loglike = np.full(len(x), -np.inf), np.full(len(x), -np.inf)
    derived = {k: np.full(len(x), np.nan) for k in getattr(post, "derived_names", ())}
    inside = np.ones(len(x), dtype=bool) if lo is None else np.all((x >= lo) & (x <= hi), axis=1)
    rows = np.flatnonzero(inside)
    step = every if progress is not None and every > 0 else max(len(rows), 1)
    for start in range(0, len(rows), step):
        idx = rows[start:start + step]
        r = post.evaluate(x[idx])
        logpost[idx] = r.logpost
        with np.errstate(invalid="ignore"):  # -inf - -inf outside the prior: masked here
            loglike[idx] = np.where(np.isfinite(r.logpost), r.logpost - r.logprior, -np.inf)
        for k, v in r.derived.items():
            if k in derived:
                derived[k][idx] = v
        if progress is not None:
            progress(start + len(idx))
    return np.where(np.isfinite(logpost), logpost - logq, -np.inf), loglike, derived


def estimate(log_w: np.ndarray) -> dict:
    """{'ln_evidence', 'ln_evidence_err', 'ess', 'draws'} of the log-weights of n draws."""
    n = len(log_w)
    if not np.isfinite(log_w).any():
        return {"ln_evidence": -math.inf, "ln_evidence_err": math.inf, "ess": 0.0, "draws": n}
    ln_z = float(logsumexp(log_w) - math.log(n))
    ess = kish_ess(np.exp(log_w - np.max(log_w)))
    return {"ln_evidence": ln_z, "ln_evidence_err": math.sqrt(max(1 / ess - 1 / n, 0.0)),
            "ess": ess, "draws": n}


def importance_evidence(post, samples: np.ndarray, weights: np.ndarray | None = None,
                        n: int = 4000, seed: int = 0, df: float = IS_DF, scale: float = IS_SCALE,
                        progress=None, progress_every: int = 500) -> dict:
    """ln Z of ``post`` (a LogPosterior) by importance sampling from a Student-t fitted to its
    chain: ``samples`` (m, d) in ``post.names``' order, ``weights`` theirs. A warning is added
    when the effective draws are below n / 20."""
    from scipy.stats import multivariate_t

    names = list(post.names)
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    if samples.shape[1] != len(names):
        raise NumassError(f"importance evidence: samples have {samples.shape[1]} columns, the "
                          f"model samples {len(names)} parameters ({', '.join(names)})")
    w = np.ones(len(samples)) if weights is None else np.asarray(weights, dtype=float)
    if len(samples) < 10 * len(names):
        raise NumassError(f"importance evidence: {len(samples)} chain samples are too few to "
                          f"fit a proposal in {len(names)} dimensions")
    mean = np.average(samples, axis=0, weights=w)
    cov = np.atleast_2d(np.cov(samples.T, aweights=w)) * scale ** 2
    # multivariate_t's shape matrix is cov (df - 2) / df for a covariance cov
    q = multivariate_t(loc=mean, shape=cov * (df - 2) / df, df=df, seed=seed)
    x = np.atleast_2d(q.rvs(size=n))
    log = logging.getLogger("numass")
    level = log.level
    log.setLevel(logging.ERROR)  # failures in q's far tails are expected
    try:
        log_w, loglike, _ = log_weights(post, x, q.logpdf(x), progress=progress,
                                        every=progress_every)
    finally:
        log.setLevel(level)
    if not np.any(np.isfinite(log_w)):
        raise NumassError("importance evidence: every proposal draw has zero posterior")
    est = estimate(log_w)
    best = int(np.argmax(loglike))
    out = {"method": "importance", "ln_evidence": est["ln_evidence"],
           "ln_evidence_err": est["ln_evidence_err"], "n_calls": n, "ess": est["ess"],
           "proposal": {"dist": "student-t", "df": df, "scale": scale,
                        "chain_samples": len(samples)},
           "seed": seed, "params": names, "max_loglike": float(loglike[best]),
           "max_loglike_point": dict(zip(names, map(float, x[best]))),
           "zero_posterior_fraction": float(np.mean(~np.isfinite(log_w)))}
    if est["ess"] < n / 20:
        out["warning"] = (f"importance sampling: effective sample size {est['ess']:.0f} of {n} "
                          f"draws; the proposal misses part of the posterior, the error is "
                          f"unreliable")
    return out


def pareto_khat(log_w: np.ndarray) -> float:
    """PSIS's diagnostic k̂ (Vehtari, Simpson, Gelman, Yao & Gabry 2024, arXiv:1507.02646) of
    the log-weights of n draws: the shape of a generalized Pareto fitted to the M = min(n/5,
    3 sqrt(n)) largest weights' excesses over the next one (Zhang & Stephens 2009's estimator,
    with PSIS's weak prior pulling it towards 0.5 by 10 pseudo-draws). The weights' variance is
    finite for k < 0.5 and their mean's for k < 1; above 0.7 the mean of n draws converges too
    slowly to be trusted whatever the ESS says, since the draws have not yet met the weights
    that dominate it. inf when fewer than 5 tail draws have a weight."""
    log_w = np.asarray(log_w, dtype=float)
    n = len(log_w)
    m = int(min(n / 5, 3 * math.sqrt(n)))
    finite = np.sort(log_w[np.isfinite(log_w)])
    if m < 5 or len(finite) <= m:
        return math.inf
    top = finite[-1]
    x = np.exp(finite[-m:] - top) - math.exp(finite[-m - 1] - top)
    if x[-1] <= 0:  # the M largest weights are equal: no tail at all
        return -math.inf
    return _gpd_shape(x)


def _gpd_shape(x: np.ndarray) -> float:
    """Zhang & Stephens (2009) posterior-mean estimate of a generalized Pareto's shape from its
    sorted excesses ``x`` (ascending, positive), over a grid of theta = -shape / scale, with
    PSIS's prior (shape -> (M shape + 5) / (M + 10))."""
    m = len(x)
    grid = 30 + int(math.sqrt(m))
    j = np.arange(1, grid + 1, dtype=float)
    quartile = x[max(int(m / 4 + 0.5) - 1, 0)]
    theta = 1 / x[-1] + (1 - np.sqrt(grid / (j - 0.5))) / (3 * quartile)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = np.mean(np.log1p(-theta[:, None] * x), axis=1)
        profile = m * (np.log(-theta / shape) - shape - 1)
    ok = np.isfinite(profile)
    post = np.exp(profile[ok] - logsumexp(profile[ok]))
    shape_hat = float(np.mean(np.log1p(-np.sum(theta[ok] * post) * x)))
    return (m * shape_hat + 10 * 0.5) / (m + 10)


@dataclass
class StudentMixture:
    """A mixture of multivariate Student-t's with one df: [(share, mean, covariance)], held in
    coordinates divided by the first component's standard deviations (the parameters' scales
    differ by 10^4, which scipy's positive-definiteness test would read as singular)."""

    parts: list[tuple[float, np.ndarray, np.ndarray]]
    df: float

    def __post_init__(self):
        from scipy.stats import multivariate_t

        self.unit = np.sqrt(np.diag(self.parts[0][2]))
        u = np.outer(self.unit, self.unit)
        # multivariate_t's shape matrix is cov (df - 2) / df for a covariance cov
        self.dists = [multivariate_t(loc=m / self.unit, shape=c / u * (self.df - 2) / self.df,
                                     df=self.df) for _, m, c in self.parts]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        d = len(self.unit)
        counts = rng.multinomial(n, [w for w, _, _ in self.parts])
        return np.vstack([np.reshape(q.rvs(size=c, random_state=rng), (c, d))
                          for q, c in zip(self.dists, counts) if c]) * self.unit

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        y = x / self.unit
        return logsumexp([math.log(w) + np.atleast_1d(q.logpdf(y))
                          for (w, _, _), q in zip(self.parts, self.dists)], axis=0) \
            - np.sum(np.log(self.unit))


def _draw_round(post, q: StudentMixture, n: int, rng, lo, hi) -> dict:
    x = q.sample(n, rng)
    log_w, loglike, derived = log_weights(post, x, q.logpdf(x), lo, hi)
    return {"x": x, "log_w": log_w, "loglike": loglike, "derived": derived}


def _joined(a: dict, b: dict) -> dict:
    return {"x": np.vstack([a["x"], b["x"]]), "log_w": np.concatenate([a["log_w"], b["log_w"]]),
            "loglike": np.concatenate([a["loglike"], b["loglike"]]),
            "derived": {k: np.concatenate([v, b["derived"][k]]) for k, v in a["derived"].items()}}


def _proposal(pilot: StudentMixture, mean: np.ndarray, cov: np.ndarray,
              scale: float) -> StudentMixture:
    """A Student-t with moments (mean, cov x scale^2), and the pilot's proposal as a defensive
    share that bounds the weights where the moments (a few hundred effective draws) are off."""
    return StudentMixture([(1 - DEFENSIVE_SHARE, mean, scale ** 2 * cov),
                           *[(DEFENSIVE_SHARE * s, m, c) for s, m, c in pilot.parts]], pilot.df)


def _refitted(pilot: StudentMixture, draws: dict, scale: float) -> tuple[StudentMixture, tuple]:
    """The next round's proposal, fitted to the draws' weighted moments, and those moments (the
    pilot and its moments where they are not positive definite)."""
    w = np.exp(draws["log_w"] - np.max(draws["log_w"]))
    mean, cov = weighted_moments(draws["x"], w)
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return pilot, (pilot.parts[0][1], pilot.parts[0][2] / scale ** 2)
    return _proposal(pilot, mean, cov, scale), (mean, cov)


def moments_moved(draws: dict, fit: tuple, names: list[str]) -> str | None:
    """How the draws' weighted moments lie away from ``fit`` = (mean, covariance), the moments
    the proposal that drew them was built from: a mean more than SETTLE_SHIFT σ off, or a
    standard deviation off by more than a factor e^SETTLE_STRETCH; None when they agree."""
    mean, cov = weighted_moments(draws["x"], np.exp(draws["log_w"] - np.max(draws["log_w"])))
    sd, sd_fit = np.sqrt(np.diag(cov)), np.sqrt(np.diag(fit[1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.abs(mean - fit[0]) / sd
        stretch = np.abs(np.log(sd / sd_fit))
    i, j = int(np.nanargmax(shift)), int(np.nanargmax(stretch))
    if not shift[i] <= SETTLE_SHIFT:
        return f"{names[i]}'s mean lies {shift[i]:.2f}σ from the proposal's"
    if not stretch[j] <= SETTLE_STRETCH:
        return f"{names[j]}'s σ is {sd[j] / sd_fit[j]:.2f} x the proposal's"
    return None


def unsettled(draws: dict, fit: tuple, names: list[str]) -> str | None:
    """Why the proposal that drew ``draws`` does not yet match the posterior: k̂ above
    PARETO_K_MAX, else ``moments_moved``; None when it matches."""
    k = pareto_khat(draws["log_w"])
    if not k <= PARETO_K_MAX:
        return f"Pareto k̂ = {k:.2f} > {PARETO_K_MAX}"
    return moments_moved(draws, fit, names)


def _adapted(post, pilot: StudentMixture, q: StudentMixture, fit: tuple, run: dict,
             scale: float, rng, lo, hi) -> tuple[dict, StudentMixture, tuple, int, int, str | None]:
    """(the last round's draws, its proposal and the moments that was fitted to, the
    adaptation rounds drawn, their draws, why it is still unsettled or None): rounds refitted
    to the previous round's draws, from ``run`` (drawn by ``q``, fitted to ``fit``), until one
    settles or two in a row have less than half the best round's share of effective draws
    (the refits are not converging: a curved or multimodal posterior)."""
    names = list(post.names)
    why, rounds, calls, best, strikes = unsettled(run, fit, names), 0, 0, 0.0, 0
    while why is not None and rounds < ADAPT_ROUNDS:
        ess = estimate(run["log_w"])["ess"]
        strikes = strikes + 1 if ess / len(run["log_w"]) < best / 2 else 0
        best = max(best, ess / len(run["log_w"]))
        if strikes == 2:
            return run, q, fit, rounds, calls, f"the refitted rounds do not converge ({why})"
        if ess > ADAPT_MIN_ESS * len(fit[0]):
            q, fit = _refitted(pilot, run, scale)
        else:  # too few effective draws for moments: the last proposal, wider
            fit = (fit[0], WIDEN ** 2 * fit[1])
            q = _proposal(pilot, *fit, scale)
        run = _draw_round(post, q, PILOT_DRAWS * 2 ** rounds, rng, lo, hi)
        rounds, calls = rounds + 1, calls + len(run["x"])
        why = unsettled(run, fit, names)
    return run, q, fit, rounds, calls, why


def _main_round(post, q: StudentMixture, run: dict, n_eff: int, rng, lo, hi) -> tuple[dict, int]:
    """(the settled round ``run`` with the main round's draws from its proposal ``q`` joined,
    the draws added): as many as ``run``'s efficiency says the missing ESS needs (at least
    DRAWS_PER_NEFF per missing effective draw, and at least ``run``'s draws), then up to
    TOP_UPS top-ups where the ESS still falls short (not where the main round's efficiency
    fell below MIN_EFFICIENCY)."""
    est = estimate(run["log_w"])
    efficiency = est["ess"] / len(run["log_w"])
    # at least as many as the settled round: its k̂ passed because the adaptation stopped
    # there (the first round that passed), the main round's were not chosen
    n = max(math.ceil((n_eff - est["ess"]) * max(DRAWS_PER_NEFF, 1 / efficiency)),
            len(run["log_w"]))
    main = _draw_round(post, q, n, rng, lo, hi)
    run, calls = _joined(run, main), n
    gain = estimate(main["log_w"])["ess"] / n  # the main round's efficiency
    for _ in range(TOP_UPS):
        est = estimate(run["log_w"])
        if est["ess"] >= n_eff or gain < MIN_EFFICIENCY \
                or not pareto_khat(run["log_w"]) <= PARETO_K_MAX:
            break
        more = min(MORE_DRAWS_CAP * n, math.ceil(1.2 * (n_eff - est["ess"]) / gain))
        run, calls = _joined(run, _draw_round(post, q, more, rng, lo, hi)), calls + more
    return run, calls


def posterior_importance(post, centre: np.ndarray, cov: np.ndarray, lo: np.ndarray,
                         hi: np.ndarray, n_eff: int, seed: int | None = None,
                         df: float = POSTERIOR_DF, scale: float = IS_SCALE) -> dict:
    """The posterior of ``post`` within the box [lo, hi] and its ln Z (normalised to the full
    prior: draws outside the box weigh nothing, as nautilus integrates the box) by importance
    sampling around a best fit ``centre`` with the inverse Hessian ``cov`` there.

    A pilot round (PILOT_DRAWS from a Student-t, covariance cov x scale^2) checks the best fit's
    moments against the draws' (``unsettled``). Where they disagree (a skewed or cut posterior,
    a Hessian that misjudges a degeneracy) or k̂ is high, adaptation rounds refit the
    Student-t to the last round's draws until a round settles (at most ADAPT_ROUNDS, else
    nautilus; so too where the settled round has fewer than MIN_EFFICIENCY of its draws
    effective). The settled round's draws are kept (each draw's weight is P over the proposal
    that drew it, so rounds pool into one estimate) and the main round adds draws from the same
    proposal (``_main_round``). Where all draws' moments then lie away from the proposal's (a
    pilot that settled by chance), the adaptation runs once more from all of them
    (SETTLE_ATTEMPTS); where their k̂ exceeds PARETO_K_MAX, nautilus. Returns {'x', 'log_w', 'loglike', 'derived', 'ln_evidence',
    'ln_evidence_err', 'ess', 'draws', 'pareto_k', 'n_calls', 'proposal', 'fallback'}:
    'fallback' is None where the draws serve (k̂ <= PARETO_K_MAX, ESS >= n_eff, all draws'
    moments where the proposal's are), else why not (the caller runs nautilus)."""
    rng = np.random.default_rng(seed)
    pilot = q = StudentMixture([(1.0, np.asarray(centre, float), np.asarray(cov, float)
                                 * scale ** 2)], df)
    fit = (pilot.parts[0][1], pilot.parts[0][2] / scale ** 2)
    run = _draw_round(post, pilot, PILOT_DRAWS, rng, lo, hi)
    calls, adapt, names = PILOT_DRAWS, 0, list(post.names)
    for attempt in range(SETTLE_ATTEMPTS):
        run, q, fit, rounds, spent, why = _adapted(post, pilot, q, fit, run, scale, rng, lo, hi)
        adapt, calls = adapt + rounds, calls + spent
        efficiency = estimate(run["log_w"])["ess"] / len(run["log_w"])
        if why is None and efficiency < MIN_EFFICIENCY:
            why = f"{efficiency:.1%} of the settled round's draws effective"
        if why is not None:
            return _verdict(run, calls, q, adapt, n_eff, f"after {adapt} adaptation rounds: {why}",
                            {"df": df, "scale": scale})
        run, spent = _main_round(post, q, run, n_eff, rng, lo, hi)
        calls += spent
        if not pareto_khat(run["log_w"]) <= PARETO_K_MAX:  # heavy tails: _verdict says so
            moved = None
            break
        moved = moments_moved(run, fit, names)
        if moved is None:
            break
    fallback = None if moved is None else \
        f"the draws moved from the moments of the proposal ({moved})"
    return _verdict(run, calls, q, adapt, n_eff, fallback, {"df": df, "scale": scale})


def _verdict(run: dict, calls: int, q: StudentMixture, adapt: int, n_eff: int,
             why: str | None, settings: dict) -> dict:
    """posterior_importance's result: the draws, their estimate, and 'fallback', ``why`` or
    else the first of k̂ above PARETO_K_MAX and an ESS short of ``n_eff`` (None: they serve)."""
    est, k = estimate(run["log_w"]), pareto_khat(run["log_w"])
    if why is None and not k <= PARETO_K_MAX:
        why = (f"Pareto k̂ = {k:.2f} > {PARETO_K_MAX}: the proposal's tails are lighter than the "
               f"posterior's")
    elif why is None and est["ess"] < n_eff:
        why = f"effective sample size {est['ess']:.0f} < {n_eff} after {est['draws']} draws"
    return {**run, **est, "pareto_k": k, "n_calls": calls, "fallback": why,
            "proposal": {"dist": "student-t mixture", **settings, "pilot_draws": PILOT_DRAWS,
                         "adaptation_rounds": adapt, "components": len(q.parts)}}


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


def tail_importance(post, box: dict, mass_param: str, floor: float, points: np.ndarray,
                    weights: np.ndarray, anchor: dict | None = None, seed: int | None = None,
                    draws: int = TAIL_DRAWS, rounds: int = TAIL_ROUNDS,
                    min_ess: float = 0.0) -> dict | None:
    """ln Z of ``post`` over ``box`` with the mass at or above ``floor`` (normalised to the full
    prior, like run_nautilus's ln Z) by importance sampling: {'ln_evidence', 'ln_evidence_err',
    'ess', 'draws', 'n_calls', 'rounds'}; None when the floor lies at or beyond the box's upper
    edge. ``points``/``weights``: the main run's posterior; ``anchor``: the profile point at the
    floor ({param: value}), or None. Where the last round has fewer than ``min_ess`` effective
    draws, it is topped up once from its proposal (at most MORE_DRAWS_CAP x ``draws``)."""
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
    parts, calls, est, log_w = base, 0, {}, np.empty(0)
    for r in range(rounds):
        x = _mixture_sample(parts, draws, rng)
        log_w, _, _ = log_weights(post, x, _mixture_logpdf(parts, x), lo, hi)
        calls += len(x)
        est = estimate(log_w)
        if r + 1 < rounds and est["ess"] > 2 * len(names):
            m_fit, c_fit = weighted_moments(x, np.exp(log_w - np.max(log_w)))
            try:
                fitted = CutGaussian(m_fit, INFLATE ** 2 * c_fit, k, max(floor, lo[k]), hi[k])
            except np.linalg.LinAlgError:
                continue  # a degenerate fit: keep round 0's proposal
            parts = [(0.6, fitted), (0.2, base[0][1]), (0.2, base[1][1])]
    if 0 < est["ess"] < min_ess:
        x = _mixture_sample(parts, min(MORE_DRAWS_CAP * draws,
                                       math.ceil(draws * (1.2 * min_ess / est["ess"] - 1))), rng)
        more, _, _ = log_weights(post, x, _mixture_logpdf(parts, x), lo, hi)
        calls += len(x)
        est = estimate(np.concatenate([log_w, more]))
    return {**est, "n_calls": calls, "rounds": rounds, "method": "importance"}


__all__ = [
    "PARETO_K_MAX",
    "TAIL_DRAWS",
    "TAIL_IS_MIN_ESS",
    "TAIL_ROUNDS",
    "CutGaussian",
    "estimate",
    "importance_evidence",
    "log_weights",
    "moments_moved",
    "pareto_khat",
    "posterior_importance",
    "round0_proposal",
    "tail_importance",
]
