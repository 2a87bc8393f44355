"""The comparison on nautilus: which jobs it samples, the tail by the evidence ratio (against a
Gaussian whose tail mass is analytic), chain readers without burn-in for nested chains, and the
convergence record in the collected summary."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from numass.compare.plan import Settings, plan
from numass.errors import InputError
from numass.inference.nested import run_nautilus, sampling_box
from numass.inference.posterior import BatchResult, Prior1D
from numass.inference.tail import TailSettings, resolve_tails, tail_evidence
from numass.stats import (
    evidence_ratio_tension,
    format_bayes,
    sigma_of_tail,
    summarize_1d,
    tension_fields,
)


class TailGaussian:
    """A correlated 3-d Gaussian likelihood on a flat prior [-12, 12]^3 (duck-types
    BatchPosterior). x0's marginal is N(mean0, sd0), so P(x0 >= mean0 + k sd0) = norm.sf(k),
    up to the prior's truncation (beyond 8 sd0: < 1e-15)."""

    backend_name, likelihoods, derived_names = "analytic", {"gauss": None}, []

    def __init__(self):
        self.mean = np.array([0.3, -0.5, 1.0])
        sd = np.array([1.0, 0.7, 1.3])
        corr = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])
        self.cov = corr * np.outer(sd, sd)
        self.priors = [Prior1D(f"x{i}", "uniform", -12.0, 12.0) for i in range(3)]
        self.names = [p.name for p in self.priors]
        self.ndim = 3
        self.bounds = np.array([p.bounds for p in self.priors])

    def logprior(self, x):
        return sum(p.logpdf(np.atleast_2d(x)[:, i]) for i, p in enumerate(self.priors))

    def evaluate(self, x):
        x = np.atleast_2d(x)
        d = x - self.mean
        ll = -0.5 * np.einsum("ij,jk,ik->i", d, np.linalg.inv(self.cov), d)
        lp = self.logprior(x)
        return BatchResult(logpost=lp + ll, logprior=lp, loglikes={"gauss": ll}, derived={})


@pytest.fixture(scope="module")
def gaussian_tail(tmp_path_factory):
    post = TailGaussian()
    out = tmp_path_factory.mktemp("tail")
    box = sampling_box(post)
    main = run_nautilus(post, box, out, n_live=300, n_eff=1500, n_networks=1, seed=3, say=None)
    return post, out, box, main


@pytest.mark.parametrize("k", [4.0, 4.8])
def test_evidence_ratio_gives_an_analytic_gaussian_tail(gaussian_tail, k):
    """P(x0 >= mean + k sd) at 4 and 4.8 sigma (one-sided), where the main run has no sample:
    the ratio of the cut run's Z to the full Z is within its quoted error and 0.1 sigma."""
    post, out, box, main = gaussian_tail
    floor = post.mean[0] + k * math.sqrt(post.cov[0, 0])
    w, x0 = main["weights"], main["points"][:, 0]
    assert w[x0 >= floor].sum() * main["n_eff"] < 1  # the samples cannot count it
    run = tail_evidence(post, box, "x0", floor, out / f"tail_{k}", n_live=300, n_eff=400,
                        seed=4)
    t = evidence_ratio_tension({}, run["ln_evidence"], run["ln_evidence_err"],
                               main["ln_evidence"], main["ln_evidence_err"])
    p_true = norm.sf(k)
    assert abs(t["ln_p_above"] - math.log(p_true)) < 3 * t["ln_p_above_err"]
    assert abs(t["sigma"] - sigma_of_tail(p_true)) < 0.1
    assert t["method"] == "evidence-ratio" and 0 < t["sigma_err"] < 0.1


def test_resolve_tails_replaces_only_unresolved_floors(gaussian_tail, tmp_path):
    post, _, box, main = gaussian_tail
    x0, w = main["points"][:, 0], main["weights"]
    floors = {"near": float(post.mean[0]), "far": float(post.mean[0] + 4.5)}
    summary = {**_fields(x0, w, floors), "ln_evidence": main["ln_evidence"],
               "ln_evidence_err": main["ln_evidence_err"]}
    runs = resolve_tails(post, summary, box, floors, tmp_path, "x0",
                         TailSettings(min_ess=100, n_live=300, n_eff=400), seed=5)
    assert list(runs) == ["far"]  # half the mass lies above 'near': counted
    assert summary["tension_bayes"]["near"]["method"] == "counted"
    far = summary["tension_bayes"]["far"]
    assert far["method"] == "evidence-ratio" and summary["tension_sigma"]["far"] == far["sigma"]
    assert abs(far["sigma"] - sigma_of_tail(norm.sf(4.5))) < 0.1
    # beyond the box: no run, recorded as far beyond 5 sigma
    assert tail_evidence(post, box, "x0", 13.0, tmp_path / "none") is None


def _fields(x, w, floors):
    from numass.stats import bayes_tension

    b = {k: bayes_tension(x, w, f) for k, f in floors.items()}
    return {"tension_sigma": {k: v.sigma for k, v in b.items()},
            "tension_bayes": {k: v.to_dict() for k, v in b.items()},
            "tension_sigma_extrapolated": [k for k, v in b.items() if v.extrapolated]}


def test_evidence_ratio_statistics_and_printing():
    t = evidence_ratio_tension({"ess": 1e4}, math.log(1e-4) - 3.0, 0.05, -3.0, 0.05)
    assert t["p_above"] == pytest.approx(1e-4)
    assert t["ln_p_above_err"] == pytest.approx(math.hypot(0.05, 0.05))
    assert t["sigma"] == pytest.approx(norm.isf(0.5e-4)) and t["ess"] == 1e4
    assert not t["beyond_cap"]
    deep = evidence_ratio_tension({}, -40.0, 0.05, -3.0, 0.05)
    assert deep["beyond_cap"] and deep["sigma"] > 5
    assert format_bayes({"bayes": deep["sigma"], "bayes_beyond_cap": True}) == "> 5"
    assert format_bayes({"bayes": 3.456}) == "3.46"
    assert format_bayes({"bayes": 3.456, "bayes_extrapolated": True}) == "≈3.46"
    assert format_bayes({"bayes": None}) == "–"


# ---------------------------------------------------------------- planning: which sampler

def test_batched_jobs_use_nautilus_and_need_no_evidence_task(monkeypatch):
    from numass.compare.executor import pending_tasks
    from numass.compare.tasks import job_sampler, needs_evidence_task, resolved_backend

    auto = Settings()
    embedded = {j.name: j for j in plan("embedded", check_data=False)}
    assert resolved_backend(embedded["lcdm"], auto) == "background"
    assert resolved_backend(embedded["lscdm"], auto) == "lscdm-background"
    full = {j.name: j for j in plan("full", use_emulator=True, check_data=False)}
    for name in ("lcdm", "w0wa", "lensing_amplitude", "tau", "lscdm", "nu_interacting",
                 "tau_low", "AL_TT", "lensing_spt"):
        assert job_sampler(full[name], auto) == "nautilus", name
        assert not needs_evidence_task(full[name], auto)
    assert resolved_backend(full["lscdm"], auto) == "lscdm-emulator"
    mcmc = Settings(sampler="mcmc")
    assert job_sampler(full["lcdm"], mcmc) == "mcmc" and needs_evidence_task(full["lcdm"], mcmc)
    import numass.compare.plan as cmp

    real = cmp._backend_for
    monkeypatch.setattr(cmp, "_backend_for", lambda model, *a: None if model == "nu_interacting"
                        else real(model, *a))
    camb = {j.name: j for j in plan("full", use_emulator=True, check_data=False,
                                    allow_camb=True)}["nu_interacting"]
    camb.backend = "camb"
    assert job_sampler(camb, auto) == "mcmc" and needs_evidence_task(camb, auto)
    with pytest.raises(InputError, match="no batched path"):
        job_sampler(camb, Settings(sampler="nautilus"))
    with pytest.raises(InputError, match="sampler 'hmc'"):
        job_sampler(camb, Settings(sampler="hmc"))
    tasks = pending_tasks([j for j in embedded.values() if not j.skip], _nowhere(), auto,
                          say=lambda _: None)
    assert {part for _, part in tasks} == {"posterior"}
    # slowest first: the late-time engines (3-4x the emulator's cost a point) lead the queue,
    # the prior variant (z† in [1, 10], its floors in the tail) ahead of its hypothesis
    runnable = [j for j in full.values() if not j.skip and not j.same_as]
    order = [(j.name, part) for j, part in pending_tasks(runnable, _nowhere(), auto,
                                                         say=lambda _: None)]
    assert [n for n, _ in order[:3]] == ["lscdm_wide", "lscdm", "nu_interacting"]
    emb = [j for j in embedded.values() if not j.skip and not j.same_as]
    assert pending_tasks(emb, _nowhere(), auto, say=lambda _: None)[0][0].name == "lscdm_wide"
    assert order.index(("lcdm", "posterior")) < order.index(("lcdm", "camb"))


def _nowhere():
    from pathlib import Path

    return Path("/nonexistent-numass-folder")


def test_quick_and_default_nested_settings():
    from numass.compare.tasks import nested_settings

    (default, tail), (quick, _) = (nested_settings(Settings()),
                                   nested_settings(Settings.make(quick=True)))
    assert default.n_eff >= 10_000 and quick.n_eff == 1000
    assert 1 / math.sqrt(default.n_eff) <= Settings().lnz_err_max
    assert tail.min_ess == 1000 and quick.n_live < default.n_live


# ---------------------------------------------------------------- reading nested chains

def _nested_folder(folder, sampler, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    (folder / "chains").mkdir(parents=True)
    x = rng.normal(size=(n, 2))
    x[: int(0.3 * n), 0] += 10.0  # the rows a 30% burn-in would drop
    w = rng.uniform(0.1, 1.0, n)
    np.savetxt(folder / "chains" / "numass.1.txt", np.column_stack([w, np.ones(n), x]))
    (folder / "chains" / "numass.paramnames").write_text("mnu_eff\tm\nH0\tH\n")
    (folder / "summary.json").write_text(json.dumps({"sampler": sampler}))
    return x, w


def test_chain_readers_keep_every_nested_row_and_drop_mcmc_burn_in(tmp_path):
    from numass.compare.tasks import chain_samples
    from numass.inference.results import burn_in, load_chains, run_sampler

    x, w = _nested_folder(tmp_path / "nested", "nautilus")
    s = load_chains(tmp_path / "nested")
    assert s.numrows == len(x) and s.mean("mnu_eff") == pytest.approx(np.average(x[:, 0],
                                                                                 weights=w))
    samples, _ = chain_samples(tmp_path / "nested", ["mnu_eff"])
    assert len(samples) == len(x)
    _nested_folder(tmp_path / "mcmc", "mcmc")
    assert load_chains(tmp_path / "mcmc").numrows == 700 and burn_in(tmp_path / "mcmc") == 0.3
    # without a summary: the nautilus settings file beside the chains says which sampler
    _nested_folder(tmp_path / "bare", "nautilus")
    (tmp_path / "bare" / "summary.json").unlink()
    (tmp_path / "bare" / "chains" / "nautilus_settings.json").write_text("{}")
    assert run_sampler(tmp_path / "bare") == "nautilus" and burn_in(tmp_path / "bare") == 0.0


# ---------------------------------------------------------------- collecting nautilus jobs

def test_collect_reads_nested_evidence_and_convergence(tmp_path):
    from numass.compare.collect import collect, format_table
    from numass.compare.tasks import job_sampler
    from numass.likelihoods import EMBEDDED

    settings = Settings.make(quick=True)
    jobs = plan("embedded", check_data=False)
    rng = np.random.default_rng(1)
    n_eff = {"lcdm": 2500.0, "w0wa": 900.0}  # w0wa misses the quick criterion (2000)
    for j in jobs:
        if j.skip or j.same_as:
            continue
        assert job_sampler(j, settings) == "nautilus"
        _write_nested_job(tmp_path / j.name, j, settings, rng, n_eff.get(j.name, 3000.0))
    s = collect(jobs, tmp_path, settings, "embedded", list(EMBEDDED), wall=1.0)
    lcdm, w0wa = s["hypotheses"]["lcdm"], s["hypotheses"]["w0wa"]
    assert lcdm["sampler"] == "nautilus" and lcdm["evidence"]["method"] == "nautilus"
    assert lcdm["ln_evidence"] == pytest.approx(-24.0)
    assert lcdm["convergence"]["met"] and not w0wa["convergence"]["met"]
    assert w0wa["delta_aic"] == pytest.approx(w0wa["delta_chi2"] + 4)  # w, wa: k from summary
    assert any(w.startswith("w0wa: convergence criterion missed") for w in s["warnings"])
    table = format_table(s)
    assert "ok*" in table and "missed: w0wa" in table


def _write_nested_job(folder, job, settings, rng, n_eff):
    names = ["ombh2", "omch2", "H0", "mnu_eff"] + {"w0wa": ["w", "wa"],
                                                   "lscdm": ["z_dagger"]}.get(job.model, [])
    (folder / "chains").mkdir(parents=True)
    x = rng.normal(size=(500, len(names)))
    w = rng.uniform(0.1, 1.0, 500)
    np.savetxt(folder / "chains" / "numass.1.txt", np.column_stack([w, np.ones(500), x]))
    (folder / "chains" / "numass.paramnames").write_text("".join(f"{n}\t{n}\n" for n in names))
    mnu = x[:, names.index("mnu_eff")] * 0.1 - 0.1
    chi2 = 10.0 - len(names)
    summary = {"model": job.model, "datasets": job.datasets, "backend": "background",
               "sampler": "nautilus", "sampled_params": names, "mnu_eff": summarize_1d(mnu, w),
               "params": {}, "bestfit": {"chi2": chi2, "mnu_eff": -0.1},
               **tension_fields(mnu, w, chi2, -0.1, {"normal_ordering": chi2 + 9,
                                                     "inverted_ordering": chi2 + 16}),
               "rminus1": None, "converged": True, "n_eff": n_eff, "ln_evidence": -24.0,
               "ln_evidence_err": 1 / math.sqrt(n_eff), "n_samples": 500}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "job.json").write_text(json.dumps({"name": job.name, "status": "ok",
                                                 "fingerprint": job.fingerprint(settings)}))
    from numass.compare.tasks import write_task_manifest

    write_task_manifest(job, "posterior", folder.parent, settings)
