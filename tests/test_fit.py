"""`numass fit --model M` (the `numass run` machinery for every model) and `numass theory` for the
late-time models lscdm and nu_interacting (spectra and background in the common npz layout)."""
from __future__ import annotations

import numpy as np
import pytest

from numass.chi2 import read_spectra_npz
from numass.cli import main


@pytest.fixture(autouse=True)
def fresh_numass_logger():
    """cli installs its stderr handler once; under capsys each test has its own stderr."""
    import logging

    log = logging.getLogger("numass")
    saved = log.handlers[:]
    log.handlers.clear()
    yield
    log.handlers[:] = saved


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def fake_analysis(monkeypatch):
    """Replace the sampler run by a recorder: the test checks what `numass fit` asks for."""
    from numass.inference import pipeline

    calls = []

    def run_analysis(**kwargs):
        calls.append(kwargs)
        return {"fake": True}

    monkeypatch.setattr(pipeline, "run_analysis", run_analysis)
    monkeypatch.setattr(pipeline, "format_summary", lambda s: "summary")
    return calls


@pytest.mark.parametrize("model", ["lcdm", "w0wa", "AL_Alens", "AL", "Alens", "lscdm",
                                   "nu_interacting"])
def test_fit_passes_the_model_to_the_run_machinery(capsys, fake_analysis, model, tmp_path,
                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)  # `numass fit` makes its default folder in the working directory
    rc, out, err = _run(capsys, "fit", "--model", model)
    assert rc == 0, err
    (kw,) = fake_analysis
    assert kw["model"] == model and kw["out"] == f"numass-fit-{model}"
    assert kw["datasets"] == ["desi-dr2-bao", "cmb-compressed"] and kw["backend"] is None
    assert kw["resume"] is True and "summary" in out


def test_old_model_name_is_read_with_a_notice(capsys, fake_analysis, tmp_path, monkeypatch):
    """'alens' (A_L + A_lens) became 'AL_Alens': it differed from 'Alens' by case only."""
    import logging

    monkeypatch.chdir(tmp_path)
    # pytest (>= 9) hangs its capture handlers on the non-propagating numass logger once the test
    # runs; without them cli installs its own, on this test's stderr, as on a terminal
    logging.getLogger("numass").handlers.clear()
    rc, _, err = _run(capsys, "fit", "--model", "alens")
    assert rc == 0, err
    (kw,) = fake_analysis
    assert kw["model"] == "AL_Alens" and kw["out"] == "numass-fit-AL_Alens"
    assert err.count("[numass] model 'alens' is now called 'AL_Alens'") == 1


def test_get_model_reads_the_old_name_with_a_notice(caplog, monkeypatch):
    import logging

    from numass.models import MODELS, get_model

    log = logging.getLogger("numass")  # cli stops it propagating; caplog listens at the root
    monkeypatch.setattr(log, "propagate", True)
    monkeypatch.setattr(log, "handlers", [])
    with caplog.at_level(logging.WARNING, logger="numass.models"):
        assert get_model("alens") is MODELS["AL_Alens"]
        assert get_model("Alens") is MODELS["Alens"]  # the other model, silently
    assert caplog.messages == ["model 'alens' is now called 'AL_Alens'"]


def test_fit_options(capsys, fake_analysis, tmp_path):
    rc, _, err = _run(capsys, "fit", "--model", "lscdm", "--data", "desi-dr2-bao,cmb-compressed",
                      "--backend", "lscdm-background", "--out", str(tmp_path / "o"),
                      "--rminus1", "0.05", "--seed", "3", "--restart")
    assert rc == 0, err
    (kw,) = fake_analysis
    assert kw["backend"] == "lscdm-background" and kw["out"] == str(tmp_path / "o")
    assert kw["rminus1"] == 0.05 and kw["seed"] == 3 and kw["resume"] is False


def test_fit_errors(capsys, fake_analysis, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the refused fit has made its default folder by then
    with pytest.raises(SystemExit):  # --model is required
        main(["fit"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:  # argparse checks the choice and lists them
        main(["fit", "--model", "lscmd"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "invalid choice: 'lscmd'" in err and "'lscdm'" in err
    assert not fake_analysis
    rc, _, err = _run(capsys, "fit", "--model", "lscdm", "--data", "desi-dr9-bao")
    assert rc == 2 and "desi-dr9-bao" in err


def test_fit_backend_that_cannot_compute_the_model(capsys, tmp_path):
    rc, _, err = _run(capsys, "fit", "--model", "lscdm", "--backend", "emulator",
                      "--out", str(tmp_path))
    assert rc == 2 and "cannot be computed by backend 'emulator'" in err
    assert "Traceback" not in err


def test_theory_lscdm_background_npz(capsys, tmp_path):
    path = tmp_path / "ls.npz"
    rc, _, err = _run(capsys, "theory", "--model", "lscdm", "--backend", "background",
                      "--param", "z_dagger=1.8", "--param", "mnu_eff=-0.05", "--out", str(path))
    assert rc == 0, err
    with np.load(path) as f:
        assert {"z", "H", "DM", "DH", "DV", "rdrag", "theta_star"} <= set(f.files)
        assert float(f["param_z_dagger"]) == 1.8 and float(f["z_dagger"]) == 1.8
        assert float(f["eta_lscdm"]) == 10.0 and "ell" not in f.files
        H, z = f["H"], f["z"]
    # the sign switch: H drops across z† relative to a smooth LCDM-like trend
    from numass.parameters import FIDUCIAL
    from numass.theory.background import compute_background

    lcdm = compute_background({k: FIDUCIAL[k] for k in ("H0", "ombh2", "omch2", "nnu")}
                              | {"mnu": -0.05})
    assert np.allclose(H[z < 1.2], lcdm.H(z[z < 1.2]), rtol=1e-6)  # tanh tail < 1e-5
    assert np.all(H[z > 2.1] < lcdm.H(z[z > 2.1]))


@pytest.mark.parametrize("model,params", [
    ("lscdm", ["z_dagger=2.0", "mnu_eff=0.06"]),
    ("nu_interacting", ["alpha_fs=0", "mnu_eff=0.1"]),
])
def test_theory_late_time_models_write_spectra(capsys, tmp_path, model, params):
    """The default backend ('camb') means the model's CAMB-based engine; the npz reads back as
    spectra (the `numass chi2 --spectra` layout) with the background on the z grid."""
    path = tmp_path / f"{model}.npz"
    argv = ["theory", "--model", model, "--out", str(path)]
    for item in params:
        argv += ["--param", item]
    rc, out, err = _run(capsys, *argv)
    assert rc == 0, err
    s = read_spectra_npz(path)
    assert s.lmax == 3000 and np.all(s.tt[2:] > 0) and np.all(s.pp[2:] > 0)
    with np.load(path) as f:
        assert {"z", "H", "DM", "sigma8", "S8", "rdrag", "theta_star"} <= set(f.files)
        assert 0.6 < float(f["sigma8"]) < 1.0
        assert "param_w" not in f.files  # the model's own dark energy, no w/wa
    assert "sigma8" in out
