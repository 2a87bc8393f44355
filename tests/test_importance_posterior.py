"""--quick's posterior by importance sampling around the best fit (importance.posterior_importance,
nested_analysis._importance_run): on a Gaussian, whose ln Z is analytic, the estimate must agree
within its error; on a curved ('banana') posterior the Student-t's tails are too light, and
PSIS's Pareto k̂ (or moments that do not settle) must send the job to nautilus; a start off
the mean and a posterior cut at a prior edge are adapted to, a corner of two edges goes to
nautilus; the k̂ estimator itself against draws of known
shape; and the one top-up of draws when the effective sample size falls short."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import genpareto
from test_tail_importance import Curved

from numass.inference import importance
from numass.inference.importance import PARETO_K_MAX, pareto_khat, posterior_importance
from numass.inference.nested_analysis import _importance_run


class _Callable(Curved):
    """Curved as a full LogPosterior (the best-fit machinery calls it)."""

    def __call__(self, x):
        return self.evaluate(x).logpost


def _mode_covariance(d: int) -> np.ndarray:
    """The inverse Hessian of Curved at its mode (exact for b = 0): x0 ~ N(0, 1),
    x1 ~ N(0, 1/4), x2.. = x1 / 2 + N(0, 1)."""
    cov = np.eye(d)
    cov[1, 1] = 0.25
    cov[1, 2:] = cov[2:, 1] = 0.125
    cov[2:, 2:] += 0.0625
    return cov


def _run(post, d, n_eff=1000, seed=1, cov_factor=1.0):
    lo, hi = post.bounds.T
    return posterior_importance(post, np.zeros(d), cov_factor * _mode_covariance(d), lo, hi,
                                n_eff, seed=seed)


@pytest.mark.parametrize("shape", [-0.2, 0.5, 1.0])
def test_pareto_khat_recovers_a_generalized_paretos_shape(shape):
    """k̂ of draws whose upper tail is a generalized Pareto of known shape (M = 3 sqrt(n) = 600
    tail draws: the estimate's spread is ~(1 + k) / sqrt(M) < 0.1)."""
    log_w = np.log(genpareto(c=shape).rvs(size=40_000, random_state=3))
    assert pareto_khat(log_w) == pytest.approx(shape, abs=0.2)


def test_pareto_khat_of_equal_or_too_few_weights():
    assert pareto_khat(np.zeros(1000)) == -math.inf
    assert pareto_khat(np.array([0.0, 1.0, -np.inf])) == math.inf


@pytest.mark.parametrize("seed,cov_factor", [(1, 1.0), (2, 1.0), (3, 0.5), (4, 2.0)])
def test_gaussian_ln_z_and_moments_within_their_errors(seed, cov_factor):
    """A 6-d Gaussian: ln Z = -6 ln 60 exactly; the pilot round corrects a Hessian that is off by
    a factor 2 either way."""
    post = Curved(b=0.0, d=6)
    run = _run(post, 6, seed=seed, cov_factor=cov_factor)
    assert run["fallback"] is None and run["ess"] >= 1000
    assert run["pareto_k"] <= PARETO_K_MAX
    assert abs(run["ln_evidence"] - post.ln_z) < 4 * run["ln_evidence_err"] + 0.005
    w = np.exp(run["log_w"] - np.max(run["log_w"]))
    mean = np.average(run["x"], axis=0, weights=w)
    sd = np.sqrt(np.average((run["x"] - mean) ** 2, axis=0, weights=w))
    assert np.all(np.abs(mean) / np.sqrt(np.diag(_mode_covariance(6))) < 0.15)
    assert sd[0] == pytest.approx(1.0, rel=0.1) and sd[1] == pytest.approx(0.5, rel=0.1)


def test_a_banana_falls_back_on_pareto_k_or_unsettled_moments():
    """x1 bends with x0^2: a Student-t around the mode has tails too light along the curve, and
    refitting it to its draws does not settle. Over six seeds every run falls back and says
    why (k̂, or moments that keep moving): the ln Z these draws would give is off by up to
    0.15, by several times its quoted error."""
    post = Curved(b=1.0, d=6)
    runs = [_run(post, 6, seed=seed) for seed in range(1, 7)]
    assert all(r["fallback"] is not None for r in runs)
    assert all(any(why in r["fallback"] for why in ("Pareto k̂", "the proposal's",
                                                    "do not converge")) for r in runs)
    assert sum("Pareto k̂" in r["fallback"] for r in runs) >= 4


def test_a_skewed_start_is_adapted_and_serves():
    """A Hessian off by a factor 3 in σ and a best fit 1σ off the mean: the pilot's draws say
    so, adaptation rounds refit the proposal until its draws settle, and the estimate is right."""
    post = Curved(b=0.0, d=6)
    lo, hi = post.bounds.T
    centre = np.full(6, 1.0)
    run = posterior_importance(post, centre, _mode_covariance(6) / 9, lo, hi, 1000, seed=5)
    assert run["proposal"]["adaptation_rounds"] >= 1 and run["fallback"] is None
    assert abs(run["ln_evidence"] - post.ln_z) < 4 * run["ln_evidence_err"] + 0.005
    # the settled round's draws count towards the ESS: only the earlier rounds' are spent
    assert run["n_calls"] - run["draws"] == importance.PILOT_DRAWS * 2 ** (
        run["proposal"]["adaptation_rounds"] - 1)


def test_short_ess_draws_more_once(monkeypatch):
    """A main round of n_eff draws in 20-d gives ~half the ESS asked for, with k̂ in bounds: one
    top-up from the same proposal of as many draws as the ESS says are missing (no second
    round), and the criterion holds."""
    monkeypatch.setattr(importance, "DRAWS_PER_NEFF", 1)
    post = Curved(b=0.0, d=20)
    run = _run(post, 20)
    assert run["draws"] > 1000 and run["n_calls"] == run["draws"]
    assert run["fallback"] is None and run["ess"] >= 1000
    assert abs(run["ln_evidence"] - post.ln_z) < 4 * run["ln_evidence_err"] + 0.005


def _bestfit(post, d: int, cov) -> dict:
    return {**dict(zip(post.names, np.zeros(d))), "covariance": cov}


def test_importance_run_gives_the_nested_result_or_says_why_not():
    """nested_analysis's step: run_nautilus's result dict where the draws serve (and summary.json's
    record), else None with the reason nautilus runs instead."""
    post = Curved(b=0.0, d=6)
    box = post.box()
    res, record = _importance_run(post, _bestfit(post, 6, _mode_covariance(6).tolist()), box,
                                  1000, 1, None, {})
    assert record["fallback"] is None and res["sampler"] == "importance"
    assert res["weights"].sum() == pytest.approx(1.0) and len(res["points"]) == len(res["loglike"])
    assert res["ln_prior_mass_of_box"] == pytest.approx(0.0)
    assert res["n_eff"] == record["ess"] >= 1000 and record["n_calls"] == res["n_calls"]
    assert json.loads(json.dumps(record)) == record  # summary.json's record as it is
    bent = Curved(b=1.0, d=6)
    res, record = _importance_run(bent, _bestfit(bent, 6, _mode_covariance(6).tolist()), box,
                                  1000, 1, None, {})
    assert res is None and "Pareto" in record["fallback"]


def test_a_posterior_cut_at_a_prior_edge_is_served_with_its_half():
    """A best fit on a prior edge (the box cuts x0 at the mode, as Σmν >= 0 cuts a mass whose
    peak is at zero): the Hessian's Student-t misplaces the mean, adaptation moves it, and the
    draws give the half-normal's moments and half the evidence (draws outside the box weigh
    nothing)."""
    post = Curved(b=0.0, d=6)
    box = {**post.box(), post.names[0]: (0.0, 30.0)}
    res, record = _importance_run(post, _bestfit(post, 6, _mode_covariance(6).tolist()), box,
                                  2000, 3, None, {})
    assert record["fallback"] is None and record["proposal"]["adaptation_rounds"] >= 1
    assert abs(res["ln_evidence"] - (post.ln_z - math.log(2))) < 4 * res["ln_evidence_err"] + 0.01
    mean = np.average(res["points"][:, 0], weights=res["weights"])
    sd = math.sqrt(np.average((res["points"][:, 0] - mean) ** 2, weights=res["weights"]))
    assert mean == pytest.approx(math.sqrt(2 / math.pi), abs=0.05)
    assert sd == pytest.approx(math.sqrt(1 - 2 / math.pi), rel=0.05)


def test_a_best_fit_in_a_prior_corner_goes_to_nautilus():
    """A best fit on the prior's edges in two parameters (x0 0.5σ and x1 0.4σ below 30): the
    posterior has a corner no Student-t follows; importance sampling is not tried and the
    record names both edges. One edge alone is adapted to (the test above)."""
    post = Curved(b=0.0, d=6)
    bf = _bestfit(post, 6, _mode_covariance(6).tolist())
    bf[post.names[0]], bf[post.names[1]] = 29.5, 29.8
    res, record = _importance_run(post, bf, post.box(), 1000, 1, None, {})
    assert res is None and "prior edges in 2 parameters" in record["fallback"]
    assert f"{post.names[0]} 0.5σ from 30" in record["fallback"]
    bf[post.names[1]] = 0.0  # one edge: importance sampling is tried
    _, record = _importance_run(post, bf, post.box(), 1000, 1, None, {})
    assert "corner" not in (record["fallback"] or "") and record["n_calls"] > 0


def test_no_positive_definite_hessian_gets_a_saddle_free_proposal():
    """A best fit whose Hessian is not positive definite (here: none given) gets the
    stencil's saddle-free covariance, and the draws still serve."""
    post = _Callable(b=0.0, d=6)
    widths = dict.fromkeys(post.names, 0.5)
    res, record = _importance_run(post, _bestfit(post, 6, None), post.box(), 1000, 1, None,
                                  widths)
    assert record["fallback"] is None
    assert abs(res["ln_evidence"] - post.ln_z) < 4 * res["ln_evidence_err"] + 0.005


def test_an_importance_summary_must_hold_its_record():
    """summary.json of an importance-sampled run: 'sampler' 'importance' is valid, and its
    record is among the keys it always writes (as nautilus's settings are for nautilus)."""
    from numass.inference.summary_schema import summary_problems

    missing = {k for k, _ in summary_problems({"sampler": "importance"}, written=True)}
    assert {"importance", "n_eff", "ln_evidence", "sampling_box"} <= missing
    assert "nautilus" not in missing and "sampler" not in missing
