"""`numass run` end to end on the embedded data: convergence, summary, plot, Ctrl-C and resume."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from numass.cli import main

SUMMARY_KEYS = {"model", "datasets", "mnu_eff", "bestfit", "tension_sigma", "rminus1",
                "n_samples", "wall_seconds"}


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    env_before = os.environ.pop("NUMASS_DATA_DIR", None)  # the default job needs no data dir
    try:
        assert main(["run", "--out", str(out), "--seed", "11", "--sampler", "mcmc"]) == 0
    finally:
        if env_before is not None:
            os.environ["NUMASS_DATA_DIR"] = env_before
    return out, json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_summary_contents(embedded_run):
    out, s = embedded_run
    assert SUMMARY_KEYS <= set(s)
    assert s["model"] == "lcdm" and s["datasets"] == ["desi-dr2-bao", "cmb-compressed"]
    assert set(s["mnu_eff"]) >= {"mean", "std", "median", "lower68", "upper68", "upper95"}
    assert set(s["tension_sigma"]) == {"normal_ordering", "inverted_ordering"}
    assert s["rminus1"] < 0.01 and s["converged"]
    assert s["n_samples"] > 1000
    assert "chi2" in s["bestfit"] and "mnu_eff" in s["bestfit"]
    assert (out / "triangle.png").stat().st_size > 10_000
    assert s["wall_seconds"] > 0  # the time itself is a benchmark figure (README), not a test


@pytest.mark.slow
def test_physics_of_the_embedded_result(embedded_run):
    """DESI DR2 BAO + compressed CMB, background only: the preference for Sigma m_nu,eff < 0
    (published full-CMB analyses: peak near -0.1 eV, 2.5-3 sigma below the 0.059 eV floor).
    The bounds are wide enough that no tuning could hit them by accident, tight enough that a
    sign error or a broken likelihood fails."""
    _, s = embedded_run
    m = s["mnu_eff"]
    assert -0.3 < m["mean"] < 0.0 and 0.03 < m["std"] < 0.2
    assert m["lower68"] < m["median"] < m["upper68"] < m["upper95"]
    t = s["tension_sigma"]
    assert 1.0 < t["normal_ordering"] < t["inverted_ordering"] < 5.0
    p = s["tension_sigma_profile"]
    assert 1.0 < p["normal_ordering"] < p["inverted_ordering"]
    # the best fit sits near the posterior peak and fits the 13 + 3 data points well
    assert abs(s["bestfit"]["mnu_eff"] - m["median"]) < m["std"]
    assert s["bestfit"]["chi2"] < 25


@pytest.mark.slow
def test_chains_readable_by_getdist(embedded_run):
    from getdist import loadMCSamples

    out, s = embedded_run
    samples = loadMCSamples(str(out / "chains" / "numass"), settings={"ignore_rows": 0.3})
    mean = samples.mean("mnu_eff")
    assert abs(mean - s["mnu_eff"]["mean"]) < 0.2 * s["mnu_eff"]["std"]


@pytest.mark.slow
def test_rerun_resumes_instead_of_restarting(embedded_run, monkeypatch):
    out, s = embedded_run
    monkeypatch.delenv("NUMASS_DATA_DIR", raising=False)  # the run's own (embedded) data
    t0 = time.time()
    assert main(["run", "--out", str(out), "--seed", "11", "--sampler", "mcmc"]) == 0
    s2 = json.loads((out / "summary.json").read_text())
    assert s2["n_samples"] == s["n_samples"]  # nothing resampled: the chain had converged
    assert time.time() - t0 < 60


def _ctrl_c_as_in_a_terminal():
    """In the child: SIGINT's default action, also when pytest itself runs with SIGINT ignored
    (a background job), so that Python turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


RESULT_KEYS = ("mnu_eff", "params", "bestfit", "tension_sigma", "tension_sigma_profile",
               "ln_evidence", "n_eff", "n_samples", "n_calls")


@pytest.mark.slow
def test_ctrl_c_stops_nautilus_and_the_rerun_gives_the_same_numbers(tmp_path, monkeypatch):
    """Ctrl-C during nested sampling (the default sampler; --quick would try importance sampling
    first, over in seconds) ends with status 130 and a checkpoint from which the rerun reaches
    exactly the numbers of an uninterrupted run."""
    env = {k: v for k, v in os.environ.items() if k != "NUMASS_DATA_DIR"}
    # the reruns below run in this process: on the same (embedded) data as the interrupted run
    monkeypatch.delenv("NUMASS_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no user data directory
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    quick = ["run", "--quick", "--sampler", "nautilus", "--seed", "7", "--out"]
    run = [sys.executable, "-m", "numass.cli", *quick]
    proc = subprocess.Popen(run + [str(cut)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, preexec_fn=_ctrl_c_as_in_a_terminal)
    ckpt = cut / "chains" / "nautilus.hdf5"
    deadline = time.time() + 300
    while time.time() < deadline and not ckpt.exists() and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)  # a few batches on: the interrupt lands mid-sampling
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output[-2000:]
    assert "interrupted" in output and not (cut / "summary.json").exists()
    assert main([*quick, str(cut)]) == 0
    assert main([*quick, str(whole)]) == 0
    resumed, reference = (json.loads((d / "summary.json").read_text()) for d in (cut, whole))
    assert resumed["quick"] is True
    assert {k: resumed[k] for k in RESULT_KEYS} == {k: reference[k] for k in RESULT_KEYS}


@pytest.mark.slow
def test_ctrl_c_keeps_chains_and_resume_finishes(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMASS_DATA_DIR", raising=False)  # the rerun: the same (embedded) data
    out = tmp_path / "interrupted"
    chain = out / "chains" / "numass.1.txt"
    env = {k: v for k, v in os.environ.items() if k != "NUMASS_DATA_DIR"}
    proc = subprocess.Popen([sys.executable, "-m", "numass.cli", "run", "--out", str(out),
                             "--seed", "5", "--sampler", "mcmc"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env,
                            preexec_fn=_ctrl_c_as_in_a_terminal)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.5)
        if chain.exists() and chain.read_text().count("\n") > 200:
            break
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output[-2000:]
    assert "interrupted" in output
    rows_before = np.loadtxt(chain).shape[0]
    assert rows_before > 100
    assert main(["run", "--out", str(out), "--seed", "5", "--sampler", "mcmc"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["converged"]
    assert np.loadtxt(chain).shape[0] >= rows_before  # resumed: the old rows are kept


def test_bad_model_and_data_ids_are_clear(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:  # argparse checks the choice and lists them
        main(["run", "--out", str(tmp_path), "--model", "nonsense"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nonsense'" in err and "'nu_interacting'" in err
    assert main(["run", "--out", str(tmp_path), "--data", "desi-dr2-bao,nope"]) == 2
    assert "unknown data set id 'nope'" in capsys.readouterr().err
