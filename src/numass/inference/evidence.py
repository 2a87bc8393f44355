"""Bayesian evidence of an MCMC job by nested sampling (dynesty), on the Cobaya model its chains use.

The default sampler, nautilus (nested.py), gives ln Z together with the posterior. A job sampled
by Cobaya's MCMC (a backend with no batched path: CAMB) gets its evidence from a separate run:
this one for the background-only fits, whose millisecond likelihoods let a static dynesty run
with multi-ellipsoid bounds and uniform sampling inside them converge in 10-60 s with a few
hundred live points, or importance sampling from the finished chain (importance.py) where the
full likelihoods make 10^5 calls too slow. dynesty returns ln Z with a numerical error (the
spread of the nested-sampling volume estimates, sqrt(H / n_live)), quoted beside ln Z.

The prior is Cobaya's: each sampled parameter's 1-d prior (uniform or Gaussian) enters through
its inverse CDF, so ln Z is normalised to exactly the prior the chains sample.

Speed: the priors are wide (omega_b in [0.005, 0.1] where the data pin it to 1e-4), so most of a
nested-sampling run would be spent shrinking from the prior onto the likelihood (the run's length
grows with the information H = ln(prior volume / posterior volume); unrestricted, w0wa takes
~170 000 calls). ``bounds`` restricts the sampling to a box that holds all of the likelihood (e.g.
the best fit +- 20 Hessian sigma): the prior truncated to the box is sampled, and
ln Z = ln Z_box + sum_i ln P_i(box_i), exact as long as the likelihood outside the box is
negligible. The result reports the posterior weight found next to box edges that are not prior
edges ('edge_weight'); a value above ~1e-3 means the box was too small. Gaussian "priors"
written as likelihoods (the tau prior) are not normalised by Cobaya; callers that compare such
runs add the normalisation (compare.plan, Job.ln_evidence_offset). Points where the theory fails
get ln L = -1e300 (zero likelihood), as they get -inf in the chains.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from numass.errors import NumassError

# Volume enlargement of dynesty's bounding ellipsoids (fixed, instead of dynesty's bootstrap
# estimate): on the curved w0wa posterior the bootstrap asks for huge enlargements and uniform
# sampling inside them wastes most calls (slice sampling, which needs no enclosing bound, gives
# the same ln Z with 2.3x the calls: w0wa on the embedded data, -27.15 +- 0.29 vs -27.12 +- 0.29).
ENLARGE = 1.5


def _box_transform(names: list[str], pdfs: list, bounds: dict):
    """(transform of the unit cube onto the prior inside ``bounds``, CDF of the box's lower and
    upper edges, ln of the box's prior mass)."""
    # the box in CDF space: u in [0, 1] -> cdf_lo + u (cdf_hi - cdf_lo) -> ppf
    cdf_lo = np.array([float(pdf.cdf(bounds[n][0])) if n in bounds else 0.0
                       for n, pdf in zip(names, pdfs)])
    cdf_hi = np.array([float(pdf.cdf(bounds[n][1])) if n in bounds else 1.0
                       for n, pdf in zip(names, pdfs)])
    if np.any(cdf_hi <= cdf_lo):
        raise NumassError("an evidence box has no prior mass: "
                          + ", ".join(n for n, a, b in zip(names, cdf_lo, cdf_hi) if b <= a))
    ln_mass = float(np.sum(np.log(cdf_hi - cdf_lo)))
    uniform = [pdf.dist.name == "uniform" for pdf in pdfs]
    lo = np.array([float(pdf.ppf(a)) if u else 0.0 for pdf, u, a in zip(pdfs, uniform, cdf_lo)])
    width = np.array([float(pdf.ppf(b)) - float(pdf.ppf(a)) if u else 0.0
                      for pdf, u, a, b in zip(pdfs, uniform, cdf_lo, cdf_hi)])
    others = [i for i, u in enumerate(uniform) if not u]

    def transform(u):
        x = lo + u * width  # uniform priors: exact and fast
        for i in others:
            x[i] = pdfs[i].ppf(cdf_lo[i] + u[i] * (cdf_hi[i] - cdf_lo[i]))
        return x

    return transform, cdf_lo, cdf_hi, ln_mass


def _edge_weight(samples, weights, box_lo, box_hi, cdf_lo, cdf_hi) -> float:
    """Posterior weight next to a box edge that cuts the prior (1% of the box's width)."""
    edge = 0.0
    for i in range(samples.shape[1]):
        tol = 0.01 * (box_hi[i] - box_lo[i])
        if cdf_lo[i] > 0:
            edge = max(edge, float(np.sum(weights[samples[:, i] < box_lo[i] + tol])))
        if cdf_hi[i] < 1:
            edge = max(edge, float(np.sum(weights[samples[:, i] > box_hi[i] - tol])))
    return edge


def log_evidence(model, nlive: int = 300, dlogz: float = 0.1, seed: int = 0,
                 maxcall: int | None = 400_000, bounds: dict | None = None,
                 keep_samples: bool = False, progress=None, progress_every: int = 2000) -> dict:
    """Nested-sampling evidence of a Cobaya model, normalised to its full prior.

    ``bounds`` = {param: (lo, hi)}: sample only inside this box (see the module docstring).
    ``progress(n_calls)`` is called every ``progress_every`` likelihood calls.
    Returns {'ln_evidence', 'ln_evidence_err', 'information', 'n_calls', 'nlive', 'dlogz',
    'seed', 'params', 'box', 'ln_prior_mass_of_box', 'edge_weight', 'max_loglike',
    'max_loglike_point', 'posterior_mean', 'posterior_cov'}; with ``keep_samples`` also
    'samples' and 'weights' (numpy arrays).
    """
    import dynesty

    prior = model.prior
    if getattr(prior, "external", None):
        raise NumassError("nested sampling here supports only independent 1-d priors")
    names = list(model.parameterization.sampled_params())
    pdfs = list(prior.pdf)
    bounds = bounds or {}
    unknown = set(bounds) - set(names)
    if unknown:
        raise NumassError(f"bounds for parameters that are not sampled: {sorted(unknown)}")
    transform, cdf_lo, cdf_hi, ln_mass = _box_transform(names, pdfs, bounds)

    calls = [0]

    def loglike(x):
        calls[0] += 1
        if progress is not None and calls[0] % progress_every == 0:
            progress(calls[0])
        value = model.loglike(dict(zip(names, x)), return_derived=False)
        value = float(np.sum(value))
        return value if math.isfinite(value) else -1e300

    # the theory logs a warning per failed point; nested sampling visits the prior's corners,
    # where failures are expected: keep the log quiet while it runs
    log = logging.getLogger("numass")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        sampler = dynesty.NestedSampler(loglike, transform, len(names), nlive=nlive,
                                        bound="multi", sample="unif", bootstrap=0,
                                        enlarge=ENLARGE, rstate=np.random.default_rng(seed))
        sampler.run_nested(dlogz=dlogz, maxcall=maxcall, print_progress=False)
    finally:
        log.setLevel(level)
    res = sampler.results
    weights = np.exp(res.logwt - res.logz[-1])
    weights /= weights.sum()
    samples = np.asarray(res.samples)
    mean = np.average(samples, axis=0, weights=weights)
    cov = np.atleast_2d(np.cov(samples.T, aweights=weights))
    best = samples[int(np.argmax(res.logl))]
    box_lo, box_hi = transform(np.zeros(len(names))), transform(np.ones(len(names)))
    edge = _edge_weight(samples, weights, box_lo, box_hi, cdf_lo, cdf_hi)
    out = {"ln_evidence": float(res.logz[-1]) + ln_mass, "ln_evidence_err": float(res.logzerr[-1]),
           "ln_evidence_box": float(res.logz[-1]), "ln_prior_mass_of_box": ln_mass,
           "box": {n: [float(a), float(b)] for n, a, b in zip(names, box_lo, box_hi)},
           "edge_weight": edge,
           "information": float(res.information[-1]), "n_calls": int(np.sum(res.ncall)),
           "nlive": nlive, "dlogz": dlogz, "seed": seed, "params": names,
           "max_loglike": float(np.max(res.logl)),
           "max_loglike_point": dict(zip(names, map(float, best))),
           "posterior_mean": dict(zip(names, map(float, mean))),
           "posterior_cov": cov.tolist()}
    if maxcall is not None and out["n_calls"] >= maxcall:
        out["warning"] = f"stopped at maxcall = {maxcall} before dlogz = {dlogz} was reached"
    if keep_samples:
        out["samples"], out["weights"] = samples, weights
    return out
