"""The CAMB check of a comparison: Newton refinement of an emulator optimum with an exact
objective (toy quadratics with known minima), the collector's use of the CAMB χ², the report's
"CAMB − emulator" table, and (slow) one real CAMB re-evaluation."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from numass.compare.camb_check import apply_camb, camb_fingerprint, wants_camb_check
from numass.compare.collect import collect
from numass.compare.plan import Job, Settings
from numass.compare.tasks import write_task_manifest
from numass.inference.camb_refine import refine
from numass.stats import FLOORS

# ---------------------------------------------------------------- refinement on toy problems

A = np.array([[4.0, 1.2, 0.0], [1.2, 2.0, -0.5], [0.0, -0.5, 1.0]])
EXACT_MIN = np.array([0.30, -0.20, 0.10])
EMU_MIN = np.array([0.25, -0.10, 0.02])  # the emulator's optimum, off by ~0.1-0.2 sigma
SCALE = np.full(3, 0.5)
LO, HI = np.full(3, -5.0), np.full(3, 5.0)


def quadratic(centre, a=A, offset=0.0):
    return lambda x: offset + 0.5 * (x - centre) @ a @ (x - centre)


def exact_from(f, calls: list):
    """An ``exact(points)`` evaluator of f that counts its calls."""
    def exact(points):
        calls.extend(points)
        return [{"logpost": -f(np.asarray(p)), "chi2": 2 * f(np.asarray(p))} for p in points]
    return exact


def test_one_newton_step_recovers_the_exact_minimum_when_the_curvature_is_right():
    calls = []
    r = refine(exact_from(quadratic(EXACT_MIN), calls), quadratic(EMU_MIN, offset=0.4),
               EMU_MIN, SCALE, LO, HI, steps=1)
    np.testing.assert_allclose(r.x, EXACT_MIN, atol=1e-6)
    assert r.record["chi2"] == pytest.approx(0.0, abs=1e-9)
    assert r.start_record["chi2"] > 0.01  # the emulator optimum was not the exact one
    assert r.n_calls == len(calls) == 3 + 2  # d + 1 for the gradient, 1 for the step
    assert r.steps[0]["accepted"]


def test_a_second_step_converges_when_the_emulator_curvature_is_off():
    a_emu = np.array([[4.5, 1.1, 0.1], [1.1, 2.2, -0.4], [0.1, -0.4, 0.9]])  # 10-60% off
    f_exact = quadratic(EXACT_MIN)
    one = refine(exact_from(f_exact, []), quadratic(EMU_MIN, a_emu), EMU_MIN, SCALE, LO, HI,
                 steps=1)
    two = refine(exact_from(f_exact, []), quadratic(EMU_MIN, a_emu), EMU_MIN, SCALE, LO, HI,
                 steps=2)
    start = f_exact(EMU_MIN)
    assert f_exact(one.x) < 0.1 * start
    assert f_exact(two.x) < 0.003 * start
    assert two.n_calls == (3 + 2) + (2 * 3 + 1)  # the second step: central differences
    assert np.max(np.abs(two.x - EXACT_MIN) * np.sqrt(np.diag(A))) < 0.05  # in conditional σ


def test_a_parameter_pushed_against_a_prior_edge_stays_on_it_and_the_others_move():
    hi = np.array([5.0, 5.0, 0.0])  # the exact minimum (x2 = 0.1) lies beyond the edge
    x0 = np.array([0.25, -0.10, 0.0])
    r = refine(exact_from(quadratic(EXACT_MIN), []), quadratic(np.array([0.25, -0.1, 0.05])),
               x0, SCALE, LO, hi, steps=1)
    assert r.x[2] == 0.0
    # the conditional minimum of the exact quadratic with x2 = 0
    free = A[:2, :2]
    cond = EXACT_MIN[:2] - np.linalg.solve(free, A[:2, 2] * (0.0 - EXACT_MIN[2]))
    np.testing.assert_allclose(r.x[:2], cond, atol=1e-6)


def test_a_held_parameter_never_moves_and_a_failure_at_the_start_is_reported():
    r = refine(exact_from(quadratic(EXACT_MIN), []), quadratic(EMU_MIN), EMU_MIN, SCALE, LO, HI,
               held=(1,), steps=1)
    assert r.x[1] == EMU_MIN[1]
    assert r.n_calls == 2 + 2

    def failing(points):
        return [{"logpost": -math.inf, "error": "CAMBError: no"} for _ in points]

    bad = refine(failing, quadratic(EMU_MIN), EMU_MIN, SCALE, LO, HI, steps=1)
    assert bad.record is None and "failed" in bad.status and "CAMBError" in bad.status
    again = refine(exact_from(quadratic(EXACT_MIN), []), quadratic(EMU_MIN), EMU_MIN, SCALE, LO,
                   HI, steps=0)
    assert again.n_calls == 1 and np.array_equal(again.x, EMU_MIN)


# ---------------------------------------------------------------- the collector and the report

def _job(name: str, backend: str = "emulator") -> Job:
    return Job(name, "hypothesis", name, "lcdm" if name == "lcdm" else "w0wa",
               ["desi-dr2-bao", "planck2018-plik-lite-TTTEEE"], backend=backend,
               hypothesis=name)


BEST = {"lcdm": (-0.12, 1000.0), "w0wa": (-0.02, 996.0)}  # (mnu_eff, emulator chi2)
CAMB_SHIFT = {"lcdm": 0.30, "w0wa": -0.20}  # CAMB - emulator chi2 at the best fit


def _write(folder, job: Job, settings: Settings) -> None:
    folder.mkdir(parents=True)
    mnu, chi2 = BEST[job.name]
    names = ["omch2", "mnu_eff"] + (["w", "wa"] if job.name == "w0wa" else [])
    (folder / "proposal.covmat").write_text("# " + " ".join(names) + "\n")
    by = {"desi-dr2-bao": 10.0, "planck2018-plik-lite-TTTEEE": chi2 - 10.0}
    summary = {"model": job.model, "datasets": job.datasets, "backend": "emulator",
               "mnu_eff": {"mean": mnu, "std": 0.08, "median": mnu, "lower68": mnu - 0.08,
                           "upper68": mnu + 0.08, "upper95": mnu + 0.13},
               "params": {}, "bestfit": {"omch2": 0.12, "mnu_eff": mnu, "chi2": chi2,
                                         "chi2_by_likelihood": by},
               "tension_sigma": {k: 2.0 for k in FLOORS},
               "tension_sigma_profile": {k: 1.9 for k in FLOORS}, "rminus1": 0.01}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "job.json").write_text(json.dumps({"fingerprint": job.fingerprint(settings),
                                                 "status": "ok"}))
    shift = CAMB_SHIFT[job.name]
    points = {"bestfit": {"chi2_emulator": chi2, "chi2_camb": chi2 + shift,
                          "chi2_camb_by_likelihood": {**by, "desi-dr2-bao": 10.0 + shift},
                          "chi2_camb_at_emulator_optimum": chi2 + shift + 0.05,
                          "params_camb": {"omch2": 0.12, "mnu_eff": mnu}, "status": "refined"}}
    for label in FLOORS:
        points[label] = {"chi2_emulator": chi2 + 4.0, "chi2_camb": chi2 + shift + 4.84,
                         "status": "refined"}
    (folder / "camb.json").write_text(json.dumps({
        "fingerprint": camb_fingerprint(job, settings), "status": "ok", "exact_backend": "camb",
        "camb_steps": 1, "n_camb_calls": 30, "seconds_per_camb_call": 3.0, "points": points}))
    for part in ("posterior", "camb"):  # finished tasks carry their manifests
        write_task_manifest(job, part, folder.parent, settings)


@pytest.fixture()
def checked(tmp_path):
    settings = Settings()
    jobs = [_job("lcdm"), _job("w0wa")]
    for j in jobs:
        _write(tmp_path / j.name, j, settings)
    return collect(jobs, tmp_path, settings, "custom", jobs[0].datasets), tmp_path, settings


def test_the_collector_builds_delta_chi2_and_profiles_from_the_camb_values(checked):
    summary, _, _ = checked
    lcdm, w0wa = summary["hypotheses"]["lcdm"], summary["hypotheses"]["w0wa"]
    assert w0wa["delta_chi2_from"] == "camb"
    assert w0wa["delta_chi2"] == pytest.approx((996.0 - 0.2) - (1000.0 + 0.3))
    assert w0wa["delta_chi2_emulator"] == pytest.approx(-4.0)
    assert w0wa["delta_aic"] == pytest.approx(w0wa["delta_chi2"] + 4)
    assert w0wa["delta_aic_emulator"] == pytest.approx(0.0)
    assert lcdm["bestfit"]["chi2_camb"] == pytest.approx(1000.3)
    assert lcdm["bestfit"]["chi2"] == 1000.0  # the emulator's stays beside it
    no = lcdm["tension_sigma"]["normal_ordering"]
    assert no["profile"] == pytest.approx(2.2) and no["profile_emulator"] == 1.9
    assert no["profile_from"] == "camb"
    pts = lcdm["camb_check"]["points"]
    assert pts["bestfit"]["camb_minus_emulator"] == pytest.approx(0.3)
    assert pts["inverted_ordering"]["camb_minus_emulator"] == pytest.approx(1.14)


def test_without_camb_for_the_reference_the_emulator_values_stay(checked):
    _, out, settings = checked
    (out / "lcdm" / "camb.json").unlink()
    summary = collect([_job("lcdm"), _job("w0wa")], out, settings, "custom",
                      _job("lcdm").datasets)
    lcdm, w0wa = summary["hypotheses"]["lcdm"], summary["hypotheses"]["w0wa"]
    assert w0wa["delta_chi2"] == pytest.approx(-4.0) and w0wa["delta_chi2_from"] == "emulator"
    assert "not run" in lcdm["camb_check"]["status"]
    assert lcdm["tension_sigma"]["normal_ordering"]["profile"] == 1.9


def test_a_failed_camb_point_keeps_the_emulator_profile():
    entry = {"bestfit": {"chi2": 10.0}, "tension_sigma": {k: {"bayes": 2.0, "profile": 1.5}
                                                          for k in FLOORS}}
    state = {"status": "ok", "points": {
        "bestfit": {"chi2_emulator": 10.0, "chi2_camb": 10.2,
                    "chi2_camb_by_likelihood": {"a": 10.2}, "params_camb": {"mnu_eff": -0.1}},
        "normal_ordering": {"chi2_emulator": 12.0, "chi2_camb": None, "status": "failed"},
        "inverted_ordering": {"chi2_emulator": 16.0, "chi2_camb": 16.45}}}
    out = apply_camb(entry, {}, state)
    assert out["tension_sigma"]["normal_ordering"]["profile"] == 1.5
    assert "profile_from" not in out["tension_sigma"]["normal_ordering"]
    assert out["tension_sigma"]["inverted_ordering"]["profile"] == pytest.approx(2.5)
    assert out["camb_check"]["points"]["normal_ordering"]["camb_minus_emulator"] is None


def test_the_report_shows_camb_and_emulator_values(checked):
    from numass.report.camb_table import camb_rows
    from numass.report.compare_report import render_html, render_md

    summary, _, _ = checked
    rows = {r[0]: r for r in camb_rows(summary)}
    assert rows["lcdm"][2:5] == ["1000.00", "1000.30", "+0.30"]
    assert rows["w0wa"][7] == "-4.00 → -4.50"
    assert rows["lcdm"][8] == "1.90 → 2.20"
    md = render_md(summary, {})
    assert "## CAMB − emulator χ²" in md and "| -4.00 → -4.50 |" in md
    assert 'id="camb-table"' in render_html(summary, {})


def test_the_report_shows_the_verify_reweighting(checked):
    """--verify's shifts (inference.reweight.reweight_table) as a table in both formats."""
    import copy

    import numpy as np

    from numass.inference.reweight import reweight_table
    from numass.report.camb_table import verify_rows
    from numass.report.compare_report import render_html, render_md

    summary = copy.deepcopy(checked[0])
    assert verify_rows(summary) == []  # no --verify: no table
    x = np.column_stack([np.linspace(-0.2, 0.0, 20), np.linspace(0.9, 1.1, 20)])
    d = 0.5 * (x[:, 0] + 0.1) / 0.06  # CAMB favours a larger mass: the mean moves up
    table = reweight_table(["mnu_eff", "ns"], x, np.ones(20), d, 1.0)
    summary["hypotheses"]["lcdm"]["camb_check"]["verify"] = table
    (row,) = verify_rows(summary)
    assert row[0] == "lcdm" and row[1] == "20 (20)"
    assert float(row[4]) == pytest.approx(table["params"]["mnu_eff"]["shift_in_sigma"], abs=0.01)
    assert float(row[4]) > 0 and row[5].endswith(("(mnu_eff)", "(ns)"))
    assert "### The posterior reweighted with CAMB" in render_md(summary, {})
    assert 'id="verify-table"' in render_html(summary, {})


def test_which_jobs_get_a_check_and_what_reruns_it():
    s = Settings()
    lcdm = _job("lcdm")
    assert wants_camb_check(lcdm, s)
    assert not wants_camb_check(_job("lcdm", backend=None), s)  # already exact
    variant = Job("no_lrg1", "variant", "x", "lcdm", ["desi-dr2-bao"], backend="emulator")
    assert not wants_camb_check(variant, s)
    assert wants_camb_check(variant, Settings(camb_check="all"))
    assert not wants_camb_check(lcdm, Settings(camb_check="none"))
    # --verify reruns the check, not the posterior
    assert lcdm.fingerprint(Settings(verify=50)) == lcdm.fingerprint(s)
    assert camb_fingerprint(lcdm, Settings(verify=50)) != camb_fingerprint(lcdm, s)


# ---------------------------------------------------------------- real CAMB (slow)

@pytest.mark.slow
def test_camb_pool_reevaluates_a_point_like_the_single_process_model(data_dir):
    from cobaya.model import get_model

    from numass.inference.camb_refine import ExactPool
    from numass.inference.results import proposal_refs
    from numass.inference.setup import build_info

    info = build_info("lcdm", ["desi-dr2-bao", "planck2018-plik-lite-TTTEEE",
                               "planck2018-lowl-TT", "tau-prior"], backend="camb",
                      data_dir=data_dir)
    ref = proposal_refs(info)
    names = list(ref)
    x = np.array([[ref[n] for n in names], [ref[n] + (0.02 if n == "mnu_eff" else 0) for n in names]])
    with ExactPool(info, workers=2) as pool:
        recs = pool.evaluate(names, x)
    single = get_model(info).logpost(dict(zip(names, x[1])))
    assert recs[1]["logpost"] == pytest.approx(single, abs=1e-6)
    assert recs[0]["chi2"] != recs[1]["chi2"]
    assert set(recs[0]["chi2_by_likelihood"]) >= {"desi-dr2-bao", "tau-prior"}


def test_verify_reweighting_recovers_a_known_mean_shift():
    from numass.inference.reweight import reweight_table

    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, (20000, 1))
    d = 0.2 * x[:, 0] - 0.02  # ln N(0.2, 1) - ln N(0, 1): the exact posterior is shifted 0.2σ
    r = reweight_table(["a"], x, np.ones(len(x)), d, 1.0)
    assert r["params"]["a"]["shift_in_sigma"] == pytest.approx(0.2, abs=0.03)
    assert r["params"]["a"]["sigma_ratio"] == pytest.approx(1.0, abs=0.03)
    assert 0.9 * len(x) < r["ess"] < len(x)  # exp(0.2 x) weights lose ~4% of the samples


def test_the_camb_task_waits_for_the_posterior_and_records_its_state(tmp_path, monkeypatch):
    from numass.compare import tasks
    from numass.compare.executor import _waits_for_chain, pending_tasks

    s = Settings()
    lcdm = _job("lcdm")
    assert [part for _, part in pending_tasks([lcdm], tmp_path, s, say=lambda m: None)] == [
        "posterior", "camb"]
    assert _waits_for_chain((lcdm, "camb"), s) and not _waits_for_chain((lcdm, "posterior"), s)
    seen = {}

    def fake(job, settings, data_dir, folder, approx_backend, workers=1, say=None):
        seen.update(approx=approx_backend, workers=workers)
        return {"points": {}, "n_camb_calls": 0}

    monkeypatch.setattr(tasks, "run_camb_check", fake)
    state = tasks.execute(lcdm, tmp_path, s, part="camb", echo=False, threads=3)
    assert state["status"] == "ok" and seen == {"approx": "emulator", "workers": 3}
    assert tasks.task_done(lcdm, "camb", tmp_path, s)
    assert not tasks.task_done(lcdm, "camb", tmp_path, Settings(verify=10))  # reruns the check


def test_a_job_fingerprint_names_its_posterior_method(monkeypatch):
    """A folder of another posterior method is recomputed, never mixed; an explicit sampler's
    folders are unaffected by the automatic choice's method."""
    from numass.compare import plan as plan_module

    lcdm = _job("lcdm")
    quick, full = Settings.make(quick=True), Settings()
    nautilus = Settings(sampler="nautilus")
    before = [lcdm.fingerprint(s) for s in (quick, full, nautilus)]
    monkeypatch.setattr(plan_module, "POSTERIOR_METHOD", "nautilus alone")
    assert lcdm.fingerprint(quick) != before[0] and lcdm.fingerprint(full) != before[1]
    assert lcdm.fingerprint(nautilus) == before[2]
