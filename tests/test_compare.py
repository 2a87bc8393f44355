"""`numass compare`, `numass profile`, nested-sampling evidence and the comparison report.

Most tests use a small fixture comparison (synthetic Gaussian chains written in GetDist's format,
a few hundred rows each) so that the report, its figures and the browser check take seconds.
One slower test runs `numass compare --quick` end to end on the embedded data, interrupts it
with Ctrl-C and resumes it.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from numass.compare.collect import collect
from numass.compare.hypotheses import HYPOTHESES
from numass.compare.plan import Job, Settings, plan
from numass.compare.tasks import execute, job_done, write_task_manifest
from numass.errors import InputError, NumassError
from numass.likelihoods import EMBEDDED
from numass.stats import FLOORS, bayes_sigma, summarize_1d

HYPOTHESIS_KEYS = {"mnu_eff", "tension_sigma", "delta_chi2", "delta_aic", "ln_evidence",
                   "ln_evidence_err", "bestfit", "status"}


# ---------------------------------------------------------------- planning (no runs)

def test_plan_embedded_marks_spectra_hypotheses_not_constrained():
    jobs = {j.name: j for j in plan("embedded", check_data=False)}
    assert set(HYPOTHESES) <= set(jobs)
    for name in ("lensing_amplitude", "tau"):
        assert jobs[name].skip and jobs[name].skip.startswith("not constrained")
        assert "background-only" in jobs[name].skip
    assert all(j.skip for n, j in jobs.items() if n.startswith("tau_"))
    for name in ("lcdm", "w0wa", "lscdm", "nu_interacting"):
        assert not jobs[name].skip and jobs[name].evidence
    assert jobs["no_lrg1"].datasets == ["desi-dr2-bao-nolrg1", "cmb-compressed"]
    assert jobs["desi_dr1"].datasets == ["desi-dr1-bao", "cmb-compressed"]
    assert jobs["positive_mass"].param_overrides["mnu_eff"]["prior"]["min"] == 0.0
    # on background data nu_interacting is exactly LCDM with Sigma m_nu >= 0: run once
    assert jobs["positive_mass"].same_as == "nu_interacting"
    assert not any(n.startswith(("AL_", "lensing_")) for n in jobs if n != "lensing_amplitude")


def test_plan_full_defines_every_decisive_test_without_running():
    jobs = {j.name: j for j in plan("full", use_emulator=False, check_data=False)}
    base = jobs["lcdm"].datasets
    assert jobs["lensing_amplitude"].model == "AL_Alens" and not jobs["lensing_amplitude"].skip
    # (a) A_L from TT-only vs TE+EE-only, no lensing reconstruction
    assert "planck2018-plik-lite-TT" in jobs["AL_TT"].datasets
    assert "planck2018-plik-lite-TEEE" in jobs["AL_TEEE"].datasets
    for name in ("AL_TT", "AL_TEEE"):
        assert jobs[name].model == "AL"
        assert not any("lensing" in d for d in jobs[name].datasets)
    # (b), (e) each lensing set alone and together; ACT alone is the baseline itself
    assert "planck-pr4-lensing-polonly" in jobs["lensing_pr4_polonly"].datasets
    assert "planck-pr4-lensing" in jobs["lensing_pr4_mv"].datasets
    assert {"planck-pr4-lensing", "act-dr6-lensing", "spt3g-2018-lensing"} <= set(
        jobs["lensing_all"].datasets)
    assert jobs["lensing_act"].same_as == "lcdm"
    # (c) tau ladder: Gaussian rungs through the tau-prior options, a flat rung without it
    assert jobs["tau_planck2018_lowE"].same_as == "lcdm"
    assert jobs["tau_planck_pr4"].likelihood_options == {"tau-prior": {"prior": "planck-pr4"}}
    # the baseline is tau-prior's default (Planck 2018 lowE alone, 0.0506 +- 0.0086); the wide
    # and shifted rungs are that baseline moved by its own sigma
    assert jobs["tau_low"].likelihood_options["tau-prior"] == {"mean": 0.042, "sigma": 0.0086}
    assert jobs["tau_high"].likelihood_options["tau-prior"] == {"mean": 0.0678, "sigma": 0.0086}
    assert jobs["tau_wide"].likelihood_options["tau-prior"] == {"mean": 0.0506, "sigma": 0.0172}
    assert jobs["tau_planck2018_joint"].likelihood_options == {
        "tau-prior": {"prior": "planck2018-TTTEEE-lowE-lensing"}}
    assert "tau-prior" not in jobs["tau"].datasets and jobs["tau"].evidence
    assert jobs["tau"].param_overrides["tau"]["prior"]["min"] == pytest.approx(0.04)
    assert jobs["tau_flat"].same_as == "tau"
    # the Gaussian tau prior is normalised in ln Z (range 0.79, sigma 0.0086; the mass outside
    # [0.01, 0.8] is 1e-6, below this tolerance)
    assert jobs["lcdm"].ln_evidence_offset == pytest.approx(
        math.log(0.79) - math.log(math.sqrt(2 * math.pi) * 0.0086), abs=1e-5)
    assert jobs["tau_planck_pr4"].ln_evidence_offset == pytest.approx(
        math.log(0.79) - math.log(math.sqrt(2 * math.pi) * 0.006), abs=1e-5)
    assert jobs["tau"].ln_evidence_offset == 0.0
    # (d) drop the LRG bin
    assert jobs["no_lrg1"].datasets[0] == "desi-dr2-bao-nolrg1" and jobs["no_lrg1"].datasets[1:] == base[1:]
    assert all(j.backend is None for j in jobs.values())


def test_plan_full_uses_the_emulator_where_the_model_allows():
    jobs = {j.name: j for j in plan("full", use_emulator=True, check_data=False)}
    for name in ("lcdm", "lensing_amplitude", "w0wa", "AL_TT", "lensing_all"):
        assert jobs[name].backend == "emulator"
    # ΛsCDM and the interaction model: their late-time engines with the emulator as reference
    assert jobs["lscdm"].backend == "lscdm-emulator"
    assert jobs["nu_interacting"].backend == "nu_interacting-emulator"


def test_jobs_whose_data_are_absent_are_skipped_with_the_fetch_command(tmp_path):
    jobs = {j.name: j for j in plan("embedded", data_dir=str(tmp_path))}  # an empty data dir
    assert not jobs["lcdm"].skip  # the embedded DR2 table and compressed CMB need no files
    assert jobs["desi_dr1"].skip.startswith("not run: data set(s) desi_bao_dr1")
    assert "numass data fetch desi_bao_dr1" in jobs["desi_dr1"].skip
    full = {j.name: j for j in plan("full", use_emulator=False, data_dir=str(tmp_path))}
    assert "planck2018_lite" in full["lcdm"].skip


def test_only_selects_jobs_and_runs_a_twin_itself():
    from numass.compare.plan import select
    from numass.errors import InputError

    jobs = {j.name: j for j in select(plan("embedded", check_data=False),
                                      ["lcdm", "positive_mass"])}
    assert not jobs["lcdm"].skip and not jobs["positive_mass"].skip
    assert jobs["positive_mass"].same_as is None  # nu_interacting is not selected
    assert jobs["w0wa"].skip == "not run: not selected (--only)"
    assert jobs["tau"].skip.startswith("not constrained")  # a reason of its own is kept
    with pytest.raises(InputError, match="unknown job"):
        select(plan("embedded", check_data=False), ["nope"])


def test_full_data_is_one_list_for_the_cli_and_the_comparison():
    from numass.likelihoods import FULL, resolve_data

    assert resolve_data("full") == ("full", list(FULL))
    assert resolve_data(None) == resolve_data("embedded") == ("embedded", list(EMBEDDED))


def test_plik_lite_teee_is_the_te_ee_block_of_the_full_covariance(data_dir):
    """The TE+EE-only likelihood keeps the TE-EE correlations (not TE and EE added)."""
    from conftest import need_dataset

    need_dataset(data_dir, "planck2018_lite")
    from numass.likelihoods import get_likelihood

    teee = get_likelihood("planck2018-plik-lite-TEEE", data_dir)
    te = get_likelihood("planck2018-plik-lite-TE", data_dir)
    ee = get_likelihood("planck2018-plik-lite-EE", data_dir)
    assert teee.spectra_used == ("te", "ee")
    assert np.allclose(teee.x_data, np.concatenate([te.x_data, ee.x_data]))
    r = np.random.default_rng(1).normal(size=len(teee.x_data))
    w = teee._whiten @ r
    split = np.sum((te._whiten @ r[:199]) ** 2) + np.sum((ee._whiten @ r[199:]) ** 2)
    assert not np.isclose(w @ w, split, rtol=1e-3)  # correlated blocks


# ---------------------------------------------------------------- evidence

def _toy_model(sigma=(0.1, 0.2), prior=((-1.0, 1.0), (-2.0, 2.0))):
    from cobaya.model import get_model

    def gauss(x, y):  # a normalised 2-d Gaussian: Z = 1 / prior volume
        return float(-0.5 * ((x / sigma[0]) ** 2 + (y / sigma[1]) ** 2)
                     - math.log(2 * math.pi * sigma[0] * sigma[1]))

    info = {"likelihood": {"toy": {"external": gauss}},
            "params": {"x": {"prior": {"min": prior[0][0], "max": prior[0][1]}},
                       "y": {"prior": {"min": prior[1][0], "max": prior[1][1]}}}}
    volume = (prior[0][1] - prior[0][0]) * (prior[1][1] - prior[1][0])
    return get_model(info), -math.log(volume)


def test_log_evidence_matches_the_analytic_value_with_and_without_a_box():
    from numass.inference.evidence import log_evidence

    model, exact = _toy_model()
    full = log_evidence(model, nlive=150, dlogz=0.1, seed=3)
    boxed = log_evidence(model, nlive=150, dlogz=0.1, seed=3,
                         bounds={"x": (-0.8, 0.8), "y": (-1.5, 1.5)})
    for ev in (full, boxed):
        assert abs(ev["ln_evidence"] - exact) < 4 * ev["ln_evidence_err"] + 0.05
        assert ev["ln_evidence_err"] < 0.3
    assert boxed["n_calls"] < full["n_calls"]
    assert boxed["ln_prior_mass_of_box"] == pytest.approx(math.log(0.8 * 0.75))
    assert boxed["edge_weight"] < 1e-3
    # a box that cuts the likelihood is detected
    cut = log_evidence(model, nlive=80, dlogz=0.5, seed=3, bounds={"x": (-0.05, 0.05)})
    assert cut["edge_weight"] > 1e-3



def test_importance_evidence_matches_the_analytic_value_and_flags_a_poor_proposal():
    import numpy as np

    from numass.inference.importance import importance_evidence
    from numass.inference.posterior import CobayaPosterior

    model, exact = _toy_model()
    model = CobayaPosterior(model)
    post = np.random.default_rng(5).normal(0.0, [0.1, 0.2], size=(2000, 2))
    ev = importance_evidence(model, post, n=2000, seed=4)
    assert ev["method"] == "importance" and ev["n_calls"] == 2000
    assert 0 < ev["ln_evidence_err"] < 0.05
    assert abs(ev["ln_evidence"] - exact) < 4 * ev["ln_evidence_err"]
    assert ev["ess"] > 1000 and "warning" not in ev
    # a chain stuck in a corner far from the peak: few effective draws, said so
    stuck = np.random.default_rng(6).normal([0.5, 1.0], [0.01, 0.01], size=(500, 2))
    poor = importance_evidence(model, stuck, n=500, seed=4)
    assert poor["ess"] < 25 and "warning" in poor
    with pytest.raises(NumassError, match="too few"):
        importance_evidence(model, post[:5], n=100)


def test_full_data_evidence_by_importance_sampling_waits_for_the_chain(monkeypatch):
    from numass.compare.executor import _waits_for_chain
    from numass.compare.tasks import evidence_method, theory_backend

    jobs = {j.name: j for j in plan("full", use_emulator=True, check_data=False)}
    auto = Settings()
    assert jobs["lcdm"].backend == "emulator"
    # default: CAMB outside the emulator's box; --quick: the box is part of the prior
    assert theory_backend(jobs["lcdm"], auto) == "emulator"
    assert theory_backend(jobs["lcdm"], Settings.make(quick=True)) == "emulator-box"
    assert evidence_method(jobs["lcdm"], auto) == "importance"
    assert evidence_method(jobs["lcdm"], Settings(evidence_method="dynesty")) == "dynesty"
    embedded = {j.name: j for j in plan("embedded", check_data=False)}
    assert evidence_method(embedded["lcdm"], auto) == "dynesty"
    lcdm = jobs["lcdm"]
    assert not _waits_for_chain((lcdm, "posterior"), auto)
    assert _waits_for_chain((lcdm, "evidence"), auto)
    assert not _waits_for_chain((lcdm, "evidence"), Settings(evidence_method="dynesty"))
    # a model the emulator does not serve would run CAMB at every point: skipped, with the way out
    assert not jobs["lscdm"].skip and not jobs["nu_interacting"].skip
    import numass.compare.plan as cmp

    real = cmp._backend_for
    monkeypatch.setattr(cmp, "_backend_for", lambda model, *a: None if model == "nu_interacting"
                        else real(model, *a))
    jobs = {j.name: j for j in plan("full", use_emulator=True, check_data=False)}
    assert jobs["nu_interacting"].backend is None and "--allow-camb" in jobs["nu_interacting"].skip
    allowed = {j.name: j for j in plan("full", use_emulator=True, check_data=False,
                                       allow_camb=True)}
    assert not allowed["nu_interacting"].skip
    with pytest.raises(InputError, match="evidence method"):
        evidence_method(lcdm, Settings(evidence_method="laplace"))


# ---------------------------------------------------------------- a fixture comparison

EXTRA = {"w0wa": {"w": (-0.5, 0.2), "wa": (-1.4, 0.6)}, "lscdm": {"z_dagger": (2.2, 0.4)}}
MNU = {"lcdm": (-0.14, 0.09), "w0wa": (-0.01, 0.13), "lscdm": (-0.05, 0.1),
       "no_lrg1": (-0.09, 0.1), "desi_dr1": (-0.02, 0.11), "positive_mass": (0.03, 0.025),
       "lscdm_wide": (-0.12, 0.09)}
CHI2 = {"lcdm": 10.4, "w0wa": 7.0, "lscdm": 9.1, "no_lrg1": 8.0, "desi_dr1": 9.0,
        "positive_mass": 14.0, "lscdm_wide": 10.2}
LNZ = {"lcdm": (-24.7, 0.23), "w0wa": (-27.1, 0.29), "lscdm": (-25.5, 0.25),
       "lscdm_wide": (-25.9, 0.25)}


def _write_job(folder: Path, job: Job, settings: Settings, rng) -> None:
    (folder / "chains").mkdir(parents=True)
    base = {"ombh2": (0.0222, 0.00014), "omch2": (0.119, 0.0012), "H0": (69.0, 0.9),
            "mnu_eff": MNU[job.name]}
    params = {**base, **EXTRA.get(job.model, {})}
    names = list(params)
    n = 800
    x = np.column_stack([rng.normal(m, s, n) for m, s in params.values()])
    if job.name == "positive_mass":
        x[:, 3] = np.abs(x[:, 3])
    chi2 = CHI2[job.name] + rng.chisquare(len(names), n)
    np.savetxt(folder / "chains" / "numass.1.txt", np.column_stack([np.ones(n), chi2 / 2, x]))
    latex = {"ombh2": r"\Omega_b h^2", "omch2": r"\Omega_c h^2", "H0": "H_0",
             "mnu_eff": r"\Sigma m_{\nu,\rm eff}", "w": "w_0", "wa": "w_a", "z_dagger": r"z_\dagger"}
    (folder / "chains" / "numass.paramnames").write_text(
        "".join(f"{p}\t{latex[p]}\n" for p in names))
    (folder / "proposal.covmat").write_text("# " + " ".join(names) + "\n")
    mnu = x[:, 3]
    bf = {p: float(np.mean(x[:, i])) for i, p in enumerate(names)}
    bf["chi2"] = CHI2[job.name]
    bf["chi2_by_likelihood"] = {"desi-dr2-bao": CHI2[job.name] - 1.0, "cmb-compressed": 1.0}
    summary = {"model": job.model, "datasets": job.datasets, "backend": "background",
               "mnu_eff": summarize_1d(mnu),
               "params": {p: summarize_1d(x[:, i]) for i, p in enumerate(names) if p != "mnu_eff"},
               "bestfit": bf,
               "tension_sigma": {k: bayes_sigma(mnu, None, f) for k, f in FLOORS.items()},
               "tension_sigma_profile": {k: max(0.0, (f - bf["mnu_eff"]) / MNU[job.name][1])
                                         for k, f in FLOORS.items()},
               "rminus1": 0.004, "converged": True, "n_samples": n}
    (folder / "summary.json").write_text(json.dumps(summary))
    state = {"name": job.name, "fingerprint": job.fingerprint(settings), "status": "ok",
             "wall_seconds": 1.0}
    (folder / "job.json").write_text(json.dumps(state))
    write_task_manifest(job, "posterior", folder.parent, settings)
    if job.evidence:
        ev = {**state, "part": "evidence", "ln_evidence": LNZ[job.name][0],
              "ln_evidence_err": LNZ[job.name][1], "n_calls": 10000, "nlive": 60, "dlogz": 0.5}
        (folder / "evidence.json").write_text(json.dumps(ev))
        write_task_manifest(job, "evidence", folder.parent, settings)


@pytest.fixture(scope="module")
def fixture_comparison(tmp_path_factory):
    from numass.report.compare_report import write_report

    out = tmp_path_factory.mktemp("compare")
    settings = Settings.make(quick=True)
    jobs = plan("embedded", check_data=False)
    rng = np.random.default_rng(7)
    for j in jobs:
        if j.skip or j.same_as:
            continue
        if j.name == "nu_interacting":  # a failed hypothesis must show, not vanish
            (out / j.name).mkdir()
            (out / j.name / "job.json").write_text(json.dumps({
                "name": j.name, "fingerprint": j.fingerprint(settings),
                "status": "error: ValueError: synthetic failure"}))
            continue
        _write_job(out / j.name, j, settings, rng)
    summary = collect(jobs, out, settings, "embedded", list(EMBEDDED), wall=12.0)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    figs = write_report(summary, out)
    return out, summary, figs


def test_summary_layout_is_the_issues(fixture_comparison):
    out, s, _ = fixture_comparison
    s = json.loads((out / "summary.json").read_text())  # what is on disk, JSON round trip
    assert list(s["hypotheses"]) == list(HYPOTHESES)
    for name, e in s["hypotheses"].items():
        assert HYPOTHESIS_KEYS <= set(e), name
        assert set(e["tension_sigma"]) == {"normal_ordering", "inverted_ordering"}
        for t in e["tension_sigma"].values():
            assert set(t) == {"bayes", "profile"}
    assert "ladder" in s["hypotheses"]["tau"]
    assert set(s["hypotheses"]["tau"]["ladder"]) >= {"planck2018_lowE", "planck_pr4", "low",
                                                      "flat"}
    for name in ("no_lrg1", "desi_dr1"):
        v = s["variants"][name]
        assert v["status"] == "ok" and "mnu_eff" in v and "tension_sigma" in v
    # the same sampling problem as nu_interacting (failed in this fixture): its status follows
    assert s["variants"]["positive_mass"]["status"] == s["hypotheses"]["nu_interacting"]["status"]


def test_statuses_numbers_and_model_comparison(fixture_comparison):
    _, s, _ = fixture_comparison
    H = s["hypotheses"]
    assert H["lcdm"]["status"] == "ok" and H["lcdm"]["delta_chi2"] == 0.0
    for name in ("lensing_amplitude", "tau"):
        assert H[name]["status"].startswith("not constrained") and H[name]["mnu_eff"] is None
        assert H[name]["ln_evidence"] is None
    assert H["nu_interacting"]["status"] == "error: ValueError: synthetic failure"
    w = H["w0wa"]
    assert w["delta_chi2"] == pytest.approx(7.0 - 10.4)
    assert w["delta_aic"] == pytest.approx(7.0 - 10.4 + 2 * 2)  # two more parameters
    assert w["ln_bayes_factor_vs_lcdm"] == pytest.approx(-27.1 + 24.7)
    assert w["ln_bayes_factor_err"] == pytest.approx(math.hypot(0.29, 0.23))
    assert H["lscdm"]["delta_aic"] == pytest.approx(9.1 - 10.4 + 2)
    assert H["lcdm"]["params"]["H0"]["mean"] == pytest.approx(69.0, abs=0.2)


def test_claims_table_is_filled_from_the_numbers(fixture_comparison):
    _, s, _ = fixture_comparison
    claims = s["claims"]
    assert len(claims) == 7
    verdicts = [c["verdict"] for c in claims]
    assert set(verdicts) <= {"agrees", "disagrees", "partly", "not testable on these data"}
    # A_L and tau cannot be tested on background data; the others are measured
    assert verdicts[1] == verdicts[2] == "not testable on these data"
    assert verdicts[0] in ("agrees", "partly", "disagrees")
    assert "−0.1" in claims[0]["measured"] or "-0.1" in claims[0]["measured"]
    # fixture w0wa: mean -0.01 eV (not positive) but its 68% upper edge is above the floor
    assert verdicts[4] == "partly"
    for c in claims:
        assert c["rule"]


def test_report_files_and_figures(fixture_comparison):
    out, s, figs = fixture_comparison
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    assert 'id="verdict-table"' in html and 'id="claims-table"' in html
    for key in ("posteriors", "tension_bars", "triangle_w0wa", "triangle_lscdm"):
        assert key in figs
        path = out / figs[key]
        assert path.is_file() and not Path(figs[key]).is_absolute()
        assert f'src="{figs[key]}"' in html and f"]({figs[key]})" in md
        img = _image(path)
        assert img.shape[0] > 200 and img.shape[1] > 300
        assert img[..., :3].std() > 0.05, f"{key} is blank"
    assert "not constrained" in html and "synthetic failure" in html
    assert "dynesty" in html and "cobaya" in html
    assert "| hypothesis |" in md
    # the wide-z† variant beside ΛsCDM in the verdict table; the published numbers section
    assert "ΛsCDM with z† ∈ [1, 10]" in md and "with z† ∈ [1, 10] (lscdm_wide)" in md
    assert "id='published'" in html and "## numass beside the published numbers" in md
    assert len(s["published"]["rows"]) >= 6


def test_report_command_rerenders_a_finished_folder(fixture_comparison, tmp_path, capsys):
    """`numass report DIR` on a copy of the finished folder, with report.html and report.md
    removed, writes them again: the same text (figures redrawn under the same names)."""
    import shutil

    from numass.cli import main

    out, _, _ = fixture_comparison
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for name in ("report.html", "report.md"):
        (copy / name).unlink()
    assert main(["report", str(copy)]) == 0, capsys.readouterr().err
    for name in ("report.html", "report.md"):
        again = (copy / name).read_text().replace(str(copy), str(out))
        assert again == (out / name).read_text(), name


def _image(path):
    import matplotlib.image as mpimg

    return mpimg.imread(str(path))


def _chromium() -> str | None:
    for name in (os.environ.get("NUMASS_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def test_report_renders_in_headless_chromium(fixture_comparison, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary (Debian: apt-get install chromium; .ci/run installs it "
                    "when apt-get is available)")
    out, _, _ = fixture_comparison
    url = (out / "report.html").resolve().as_uri()
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu",
              "--disable-background-networking", "--disable-dev-shm-usage",
              f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    assert 'id="verdict-table"' in page and 'id="claims-table"' in page
    for label in ("ΛCDM", "w0wa", "ΛsCDM", "A_L + A_lens", "not constrained"):
        assert label in page
    assert page.count("<img") >= 4
    shot = tmp_path / "report.png"
    r = subprocess.run(common + ["--hide-scrollbars", "--window-size=1280,2400",
                                 f"--screenshot={shot}", url],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    img = _image(shot)
    assert img.shape[0] >= 2000 and img.shape[1] >= 1200
    rgb = img[..., :3]
    assert rgb.std() > 0.05  # not a blank page
    # the figures loaded: a large fraction of the page is neither white nor text grey
    coloured = np.mean(np.ptp(rgb, axis=-1) > 0.2)
    assert coloured > 0.005


# ---------------------------------------------------------------- one job, failures, resume

def test_a_failing_job_is_recorded_and_the_rerun_retries_it(tmp_path):
    settings = Settings.make(quick=True)
    job = Job("broken", "hypothesis", "a model that does not exist", "no_such_model",
              list(EMBEDDED), hypothesis="lscdm")
    state = execute(job, tmp_path, settings)
    assert state["status"].startswith("error: InputError") and "no_such_model" in state["status"]
    assert (tmp_path / "broken" / "traceback_posterior.txt").is_file()
    ev = execute(job, tmp_path, settings, part="evidence")
    assert ev["status"].startswith("error: InputError")
    assert not job_done(job, tmp_path, settings)  # errors are retried, not kept


# ---------------------------------------------------------------- profile

def test_profile_command_on_embedded_data(tmp_path, capsys):
    from numass.cli import main

    env_before = os.environ.pop("NUMASS_DATA_DIR", None)
    try:
        assert main(["profile", "--model", "lcdm", "--param", "mnu_eff",
                     "--values=-0.3,-0.14,0.0,0.0588", "--out", str(tmp_path)]) == 0
    finally:
        if env_before is not None:
            os.environ["NUMASS_DATA_DIR"] = env_before
    s = json.loads((tmp_path / "profile_mnu_eff.json").read_text())
    d = {p["value"]: p["delta_chi2"] for p in s["points"]}
    assert min(d.values()) >= 0 and d[-0.14] < 0.5  # the minimum is near -0.14 eV
    # the embedded data put the normal-ordering floor ~2.2 sigma out: Delta chi2 ~ 4.8
    assert 3.0 < d[0.0588] < 7.0 and d[0.0] < d[0.0588]
    assert s["delta_chi2_at_floors"]["normal_ordering"] == pytest.approx(d[0.0588])
    assert (tmp_path / "profile_mnu_eff.png").stat().st_size > 10_000
    assert "Δchi2" in capsys.readouterr().out


def test_profile_rejects_bad_input(tmp_path):
    from numass.cli import main

    assert main(["profile", "--param", "mnu_eff", "--values", "1.5", "--out",
                 str(tmp_path)]) == 2  # outside the prior
    assert main(["profile", "--param", "nope", "--values", "0", "--out", str(tmp_path)]) == 2
    assert main(["profile", "--param", "mnu_eff", "--range", "0,1", "--out",
                 str(tmp_path)]) == 2


# ---------------------------------------------------------------- end to end (slow)

@pytest.mark.slow
def test_compare_quick_end_to_end_with_ctrl_c_and_resume(tmp_path):
    """`numass compare --quick` on the embedded data: interrupted after the first finished job,
    then resumed; the finished job is kept, the rest completes, the report renders."""
    out = tmp_path / "cmp"
    env = {k: v for k, v in os.environ.items() if k != "NUMASS_DATA_DIR"}
    env["MPLBACKEND"] = "Agg"
    cmd = [sys.executable, "-m", "numass.cli", "compare", "--quick", "--out", str(out)]
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    while time.time() - t0 < 240:
        done = [p.parent.name for p in out.glob("*/manifest_posterior.json")]
        if done or proc.poll() is not None:
            break
        time.sleep(0.5)
    assert done, "no job finished"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    log_1, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, log_1[-3000:]
    s1 = json.loads((out / "summary.json").read_text())
    first = done[0]
    entry = s1["hypotheses"].get(first) or s1["variants"].get(first)
    assert entry["status"] == "ok"
    kept = (out / first / "job.json").stat().st_mtime

    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (out / first / "job.json").stat().st_mtime == kept  # not rerun
    said = r.stdout + r.stderr  # progress notes go to stderr, the table to stdout
    assert "already finished" in said and first in said
    s = json.loads((out / "summary.json").read_text())
    H = s["hypotheses"]
    for name in ("lcdm", "w0wa", "lscdm", "nu_interacting"):
        assert H[name]["status"] == "ok", (name, H[name]["status"])
        assert H[name]["ln_evidence"] is not None and H[name]["ln_evidence_err"] < 1.0
    assert H["lensing_amplitude"]["status"].startswith("not constrained")
    assert H["tau"]["status"].startswith("not constrained")
    m = H["lcdm"]["mnu_eff"]
    assert -0.3 < m["mean"] < 0.0 and H["lcdm"]["tension_sigma"]["normal_ordering"]["bayes"] > 1.0
    assert H["w0wa"]["mnu_eff"]["mean"] > m["mean"]  # dark energy relaxes the mass
    assert H["nu_interacting"]["mnu_eff"]["lower68"] >= 0.0  # physical mass
    for v in ("no_lrg1", "positive_mass"):
        assert s["variants"][v]["status"] == "ok"
    # DR1 has no embedded table: on a machine without the data files it is skipped, saying so
    assert s["variants"]["desi_dr1"]["status"].startswith("not run: data set(s) desi_bao_dr1")
    assert (out / "report.html").stat().st_size > 5000


def test_claim_rules_and_verdict_definitions_are_built_from_their_thresholds():
    from numass.compare.claims import CLAIMS, TauClaim
    from numass.compare.verdicts import DEFINITIONS, JEFFREYS_SCALE, strength

    assert len({c.claim for c in CLAIMS}) == len(CLAIMS) == 7
    assert "within 0.3σ of 2.2σ" in TauClaim().rule
    moved = TauClaim(target_sigma=2.0, tolerance_sigma=0.5)
    assert "within 0.5σ of 2σ" in moved.rule and "2.2σ" not in moved.rule
    assert "2.5-5 moderate" in DEFINITIONS["ln_evidence"]
    assert [strength(x) for x in (0.5, -1.5, 3.0, 6.0)] == [
        "inconclusive", "weak evidence against", "moderate evidence for", "strong evidence for"]
    assert JEFFREYS_SCALE[0] == (1.0, "inconclusive")


def test_the_hypotheses_table_is_what_plan_and_report_read():
    from numass.compare.hypotheses import HYPOTHESIS_TABLE
    from numass.report.compare_report import COLORS, LATEX_SHORT

    jobs = {j.name: j for j in plan("embedded", check_data=False)}
    for h in HYPOTHESIS_TABLE:
        assert jobs[h.key].model == h.model and jobs[h.key].label == h.label
        assert COLORS[h.key] == h.color and LATEX_SHORT[h.key] == h.latex
    assert HYPOTHESES == tuple(h.key for h in HYPOTHESIS_TABLE)


def _mpi_ready() -> str | None:
    """Why the MPI executor cannot be tried here (None: it can)."""
    if shutil.which("mpiexec") is None:
        return "no mpiexec on PATH"
    r = subprocess.run([sys.executable, "-c", "from mpi4py import MPI"], capture_output=True,
                       check=False)
    return None if r.returncode == 0 else "mpi4py or its MPI library is missing"


@pytest.mark.slow
@pytest.mark.skipif(_mpi_ready() is not None, reason=str(_mpi_ready()))
def test_compare_with_the_mpi_executor_on_two_worker_ranks(tmp_path):
    """Two jobs over two worker ranks (mpiexec -n 3: rank 0 plans and collects)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NUMASS_DATA_DIR", "COBAYA_NOMPI")}
    env["MPLBACKEND"] = "Agg"
    out = tmp_path / "mpi"
    r = subprocess.run(["mpiexec", "-n", "3", sys.executable, "-m", "mpi4py.futures", "-m",
                        "numass.cli", "compare", "--quick", "--executor", "mpi", "--only",
                        "no_lrg1,positive_mass", "--out", str(out)],
                       env=env, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    s = json.loads((out / "summary.json").read_text())
    for name in ("no_lrg1", "positive_mass"):
        assert s["variants"][name]["status"] == "ok"
    assert s["variants"]["positive_mass"]["mnu_eff"]["lower68"] >= 0.0
    assert s["hypotheses"]["lcdm"]["status"] == "not run: not selected (--only)"


def test_a_stopping_run_starts_no_further_task(tmp_path):
    """After Ctrl-C, a pool slot freed by a stopped task must not start the next queued one
    (seen on a full comparison: a new nested run began while the others stopped)."""
    from numass.compare import executor
    from numass.compare.plan import Settings, plan

    job = plan("embedded")[0]
    executor._STOPPING.set()
    try:
        state = executor.run_isolated(job, tmp_path, Settings.make(quick=True), None, "posterior")
    finally:
        executor._STOPPING.clear()
    assert state == {"status": "interrupted"}
    assert not executor._LIVE and not (tmp_path / job.name).exists()
