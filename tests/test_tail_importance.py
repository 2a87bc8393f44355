"""The tail mass Z(mass >= floor) / Z by importance sampling of the cut region
(inference/importance.py): against posteriors whose tail mass is analytic, a Gaussian and a
curved ('banana') one whose conditional mean bends with the mass, where only the profile anchor
makes the proposal fit; and the fallback to the nested run where it does not."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from numass.inference.importance import TAIL_IS_MIN_ESS, CutGaussian, tail_importance
from numass.inference.posterior import BatchResult, Prior1D
from numass.inference.tail import TailSettings, importance_tail, resolve_tails
from numass.stats import bayes_tension, sigma_of_tail


class Curved:
    """x0 ~ N(0, 1); x1 = b x0^2 + N(0, 0.5^2); x2.. = x1_residual / 2 + N(0, 1): x0's marginal
    is exactly N(0, 1) (so P(x0 >= k) = norm.sf(k)) while the other coordinates' conditional mean
    bends with x0 (b = 0 is a plain Gaussian). Flat prior [-30, 30]^d; the likelihood is
    normalised, so Z = 60^-d exactly (up to the box's truncation, < 1e-100)."""

    backend_name, likelihoods, derived_names = "analytic", {"g": None}, []

    def __init__(self, b: float = 0.4, d: int = 6):
        self.b, self.ndim = b, d
        self.priors = [Prior1D(f"x{i}", "uniform", -30.0, 30.0) for i in range(d)]
        self.names = [p.name for p in self.priors]
        self.bounds = np.array([p.bounds for p in self.priors])
        self.ln_z = -d * math.log(60.0)

    def logprior(self, x):
        return sum(p.logpdf(np.atleast_2d(x)[:, i]) for i, p in enumerate(self.priors))

    def evaluate(self, x):
        x = np.atleast_2d(x)
        y = x[:, 1] - self.b * x[:, 0] ** 2
        r = x[:, 2:] - 0.5 * y[:, None]
        ll = (-0.5 * x[:, 0] ** 2 - 2.0 * y ** 2 - 0.5 * np.sum(r * r, axis=1)
              - 0.5 * self.ndim * math.log(2 * math.pi) - math.log(0.5))
        lp = self.logprior(x)
        return BatchResult(logpost=lp + ll, logprior=lp, loglikes={"g": ll}, derived={})

    def draw(self, n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        m, y = rng.standard_normal(n), 0.5 * rng.standard_normal(n)
        r = 0.5 * y[:, None] + rng.standard_normal((n, self.ndim - 2))
        return np.column_stack([m, y + self.b * m ** 2, r])

    def profile_point(self, floor: float) -> dict:
        return {"x0": floor, "x1": self.b * floor ** 2, **{n: 0.0 for n in self.names[2:]}}

    def box(self) -> dict:
        return {n: (-30.0, 30.0) for n in self.names}


def _ln_p(post, run) -> tuple[float, float]:
    return run["ln_evidence"] - post.ln_z, run["ln_evidence_err"]


@pytest.mark.parametrize("b", [0.0, 0.4])
@pytest.mark.parametrize("k", [3.0, 4.5, 6.0])
def test_importance_tail_matches_the_analytic_tail(b, k):
    post = Curved(b=b)
    x = post.draw(20_000)
    run = tail_importance(post, post.box(), "x0", k, x, np.ones(len(x)),
                          anchor=post.profile_point(k), seed=1)
    ln_p, err = _ln_p(post, run)
    assert run["ess"] >= TAIL_IS_MIN_ESS and 0 < err < 0.05
    assert abs(ln_p - math.log(norm.sf(k))) < 4 * err + 0.01
    assert abs(sigma_of_tail(math.exp(ln_p)) - sigma_of_tail(norm.sf(k))) < 0.02


def test_without_the_profile_anchor_a_curved_tail_is_flagged_not_trusted():
    """The linear extrapolation of the posterior misses the bent tail: few effective draws, so
    the caller must not use the estimate (it falls back to the nested run)."""
    post = Curved(b=0.4)
    x = post.draw(20_000)
    run = tail_importance(post, post.box(), "x0", 4.5, x, np.ones(len(x)), anchor=None, seed=1)
    assert run["ess"] < TAIL_IS_MIN_ESS


def test_a_short_last_round_is_topped_up_to_min_ess():
    """Rounds of 300 draws give ~150 effective: one top-up from the last proposal brings the
    ESS to min_ess, and the tail is still the analytic one."""
    post = Curved(b=0.0)
    x = post.draw(20_000)
    run = tail_importance(post, post.box(), "x0", 3.0, x, np.ones(len(x)),
                          anchor=post.profile_point(3.0), seed=2, draws=300, min_ess=400)
    assert run["n_calls"] > 2 * 300 and run["ess"] >= 380
    ln_p, err = _ln_p(post, run)
    assert abs(ln_p - math.log(norm.sf(3.0))) < 4 * err + 0.01


def test_cut_gaussian_is_normalised_and_cut():
    g = CutGaussian(np.array([0.2, -0.1]), np.array([[1.0, 0.6], [0.6, 2.0]]), 0, 1.5, 4.0)
    x = g.sample(5000, np.random.default_rng(0))
    assert x[:, 0].min() >= 1.5 and x[:, 0].max() <= 4.0
    a, c = np.linspace(1.5, 4.0, 401), np.linspace(-9.0, 9.0, 601)
    grid = np.array(np.meshgrid(a, c, indexing="ij")).reshape(2, -1).T
    density = np.exp(g.logpdf(grid)).reshape(len(a), len(c))
    assert np.trapezoid(np.trapezoid(density, c, axis=1), a) == pytest.approx(1.0, abs=1e-4)


def test_beyond_the_box_there_is_no_run():
    post = Curved()
    x = post.draw(1000)
    assert tail_importance(post, post.box(), "x0", 31.0, x, np.ones(len(x))) is None


def test_importance_tail_is_kept_and_read_back(tmp_path, monkeypatch):
    post = Curved(b=0.0, d=4)
    x = post.draw(5000)
    args = (post, post.box(), "x0", 4.0, tmp_path, (x, np.ones(len(x))),
            post.profile_point(4.0), 3, True)
    first = importance_tail(*args)

    def fail(*a, **k):
        raise AssertionError("recomputed")

    monkeypatch.setattr("numass.inference.tail.tail_importance", fail)
    assert importance_tail(*args) == first


def _summary(post, x, floors):
    b = {k: bayes_tension(x[:, 0], np.ones(len(x)), f) for k, f in floors.items()}
    return {"tension_sigma": {k: v.sigma for k, v in b.items()},
            "tension_bayes": {k: v.to_dict() for k, v in b.items()},
            "tension_sigma_extrapolated": [], "ln_evidence": post.ln_z, "ln_evidence_err": 0.0,
            "profiles": {k: {"chi2": 1.0, "point": post.profile_point(f)}
                         for k, f in floors.items()}}


def test_resolve_tails_takes_the_importance_route_where_it_fits(tmp_path):
    post = Curved(b=0.4, d=4)
    x = post.draw(10_000)
    floors = {"near": 0.0, "far": 4.2}
    summary = _summary(post, x, floors)
    summary["tension_sigma_lower_bound"] = ["far"]  # what the counted figure had been
    runs = resolve_tails(post, summary, post.box(), floors, tmp_path, "x0",
                         TailSettings(min_ess=100), seed=2, posterior=(x, np.ones(len(x))))
    assert list(runs) == ["far"] and runs["far"]["method"] == "importance"
    assert summary["tension_sigma_lower_bound"] == []  # the evidence ratio is no bound
    far = summary["tension_bayes"]["far"]
    assert far["tail_method"] == "importance" and far["method"] == "evidence-ratio"
    assert abs(far["sigma"] - sigma_of_tail(norm.sf(4.2))) < 0.02


@pytest.mark.slow
def test_resolve_tails_falls_back_to_the_nested_run(tmp_path):
    """No profile point (the constrained fit failed): the curved tail's proposal does not fit,
    and the nested run on the cut prior gives the tail instead."""
    post = Curved(b=0.4, d=3)
    x = post.draw(10_000)
    floors = {"far": 4.0}
    summary = _summary(post, x, floors)
    summary["profiles"]["far"]["chi2"] = math.nan
    runs = resolve_tails(post, summary, post.box(), floors, tmp_path, "x0",
                         TailSettings(min_ess=100, n_live=300, n_eff=400, n_networks=1), seed=2,
                         posterior=(x, np.ones(len(x))))
    assert runs["far"]["method"] == "nested"
    far = summary["tension_bayes"]["far"]
    assert far["tail_method"] == "nested"
    assert abs(far["sigma"] - sigma_of_tail(norm.sf(4.0))) < 0.1


@pytest.mark.slow
def test_two_nested_tails_run_side_by_side_with_the_same_results(tmp_path, monkeypatch):
    """Two floors that need nested runs: in two forked processes, each writing its own folder,
    with the same records as one after the other (same seeds)."""
    import numass.inference.tail as tail_module

    post = Curved(b=0.0, d=3)
    x = post.draw(10_000)
    floors = {"far": 3.6, "farther": 4.0}
    settings = TailSettings(min_ess=100, n_live=300, n_eff=400, n_networks=1)
    side = resolve_tails(post, _summary(post, x, floors), post.box(), floors, tmp_path / "a",
                         "x0", settings, seed=2)
    monkeypatch.setattr(tail_module.os, "cpu_count", lambda: 1)
    one = resolve_tails(post, _summary(post, x, floors), post.box(), floors, tmp_path / "b",
                        "x0", settings, seed=2)
    assert side == one and {r["method"] for r in side.values()} == {"nested"}
    assert all((tmp_path / "a" / f"tail_{k}").is_dir() for k in floors)


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_a_failure_in_a_forked_tail_run_reaches_the_command(tmp_path, monkeypatch, error):
    """A Ctrl-C or an error inside one of the side-by-side tail runs is raised in the parent
    (the task then fails or stops with its status), never swallowed as a finished tail."""
    import numass.inference.tail as tail_module

    def failing(post, box, mass_param, floor, out, **kw):
        if floor > 3.8:
            raise error("in the forked tail run")
        return {"ln_evidence": -1.0, "ln_evidence_err": 0.1, "n_eff": 400, "n_calls": 1,
                "finished": True}

    monkeypatch.setattr(tail_module, "tail_evidence", failing)
    post = Curved(b=0.0, d=3)
    x = post.draw(10_000)
    floors = {"far": 3.6, "farther": 4.0}
    with pytest.raises(error, match="forked tail run"):
        resolve_tails(post, _summary(post, x, floors), post.box(), floors, tmp_path, "x0",
                      TailSettings(min_ess=100), seed=2)
