"""The command line: `numass chi2` and `numass theory` through numass.cli.main (exit codes, output,
clear errors on stderr). `numass run` is covered by test_run.py."""
from __future__ import annotations

import json

import numpy as np
import pytest

from numass.chi2 import read_spectra_npz
from numass.cli import main
from numass.likelihoods import get_likelihood
from numass.likelihoods.act_dr6_lensing import DATASET as ACT_FOLDER
from numass.likelihoods.plik_lite import DATASET as PLIK_FOLDER
from numass.parameters import FIDUCIAL
from numass.theory.background import compute_background
from numass.theory.products import Spectra, TheoryProducts

from conftest import need_dataset

SPECTRA_NAMES = ("DlTT", "DlTE", "DlEE", "DlBB", "clpp_L2")


def _write_spectra(path, spectra: Spectra, **replace):
    """The documented npz layout, written by hand (not through numass's writer)."""
    arrays = {"ell": spectra.ell, "DlTT": spectra.tt, "DlTE": spectra.te, "DlEE": spectra.ee,
              "DlBB": spectra.bb, "clpp_L2": spectra.pp}
    arrays.update(replace)
    np.savez(path, **arrays)
    return path


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_clear_error(rc, err, *fragments):
    assert rc == 2
    assert "numass: error:" in err and "Traceback" not in err
    for f in fragments:
        assert f in err, (f, err)


# --- numass chi2 ----------------------------------------------------------------------------------

def test_chi2_json_background_data_set(capsys):
    rc, out, err = _run(capsys, "chi2", "--data", "desi-dr2-bao", "--param", "H0=68", "--json")
    assert rc == 0, err
    table = json.loads(out)
    assert list(table) == ["desi-dr2-bao"] and np.isfinite(table["desi-dr2-bao"])
    # the same number from the library: fiducial parameters with H0 = 68
    point = {k: FIDUCIAL[k] for k in ("ombh2", "omch2", "mnu", "nnu", "nu_states", "w", "wa")}
    point["H0"] = 68.0
    theory = TheoryProducts(params=point, background=compute_background(point))
    assert table["desi-dr2-bao"] == pytest.approx(get_likelihood("desi-dr2-bao").chi2(theory),
                                                  rel=1e-9)


def test_chi2_plik_lite_on_spectra_file_matches_library(capsys, data_dir, fiducial_spectra,
                                                        tmp_path):
    need_dataset(data_dir, PLIK_FOLDER)
    path = _write_spectra(tmp_path / "F.npz", fiducial_spectra)
    lik_id = "planck2018-plik-lite-TTTEEE"
    rc, out, err = _run(capsys, "chi2", "--data", lik_id, "--spectra", str(path), "--json",
                        "--data-dir", str(data_dir))
    assert rc == 0, err
    direct = get_likelihood(lik_id, data_dir).chi2(
        TheoryProducts(params=dict(FIDUCIAL), spectra=fiducial_spectra))
    assert json.loads(out)[lik_id] == pytest.approx(direct, rel=1e-10, abs=1e-8)
    # the plain-text table carries the same number
    rc, out, _ = _run(capsys, "chi2", "--data", lik_id, "--spectra", str(path),
                      "--data-dir", str(data_dir))
    assert rc == 0 and lik_id in out and f"{direct:.4f}" in out


def test_chi2_unknown_id(capsys):
    rc, _, err = _run(capsys, "chi2", "--data", "desi-dr9-bao", "--json")
    _assert_clear_error(rc, err, "unknown data set id 'desi-dr9-bao'", "desi-dr2-bao")


def test_chi2_unknown_param_name(capsys):
    rc, _, err = _run(capsys, "chi2", "--data", "desi-dr2-bao", "--param", "Hubble=70")
    _assert_clear_error(rc, err, "Hubble", "H0")


@pytest.mark.parametrize("item, fragment", [("H0", "NAME=VALUE"), ("=68", "NAME=VALUE"),
                                            ("H0=fast", "not a number")])
def test_chi2_malformed_param(capsys, item, fragment):
    rc, _, err = _run(capsys, "chi2", "--data", "desi-dr2-bao", "--param", item)
    _assert_clear_error(rc, err, fragment)


def test_chi2_bad_spectra_files(capsys, data_dir, fiducial_spectra, tmp_path):
    need_dataset(data_dir, PLIK_FOLDER)
    nan_tt = fiducial_spectra.tt.copy()
    nan_tt[100] = np.nan
    cases = {
        "short.npz": (dict(DlTT=fiducial_spectra.tt[:-10]), ["DlTT", "shape"]),
        "nan.npz": (dict(DlTT=nan_tt), ["DlTT", "NaN"]),
    }
    for name, (replace, fragments) in cases.items():
        path = _write_spectra(tmp_path / name, fiducial_spectra, **replace)
        rc, _, err = _run(capsys, "chi2", "--data", "planck2018-plik-lite-TTTEEE", "--spectra",
                          str(path), "--data-dir", str(data_dir))
        _assert_clear_error(rc, err, name, *fragments)
    # a file lacking an array, and a file that does not exist
    np.savez(tmp_path / "partial.npz", ell=fiducial_spectra.ell, DlTT=fiducial_spectra.tt)
    for name, fragment in (("partial.npz", "clpp_L2"), ("absent.npz", "does not exist")):
        rc, _, err = _run(capsys, "chi2", "--data", "planck2018-plik-lite-TTTEEE", "--spectra",
                          str(tmp_path / name), "--data-dir", str(data_dir))
        _assert_clear_error(rc, err, name, fragment)


def test_chi2_spectra_likelihood_without_spectra(capsys, data_dir):
    need_dataset(data_dir, PLIK_FOLDER)
    rc, _, err = _run(capsys, "chi2", "--data", "desi-dr2-bao,planck2018-plik-lite-TTTEEE",
                      "--data-dir", str(data_dir))
    _assert_clear_error(rc, err, "planck2018-plik-lite-TTTEEE", "--spectra")


def test_missing_data_set_is_clear(capsys, tmp_path):
    rc, _, err = _run(capsys, "chi2", "--data", "desi-dr1-bao", "--data-dir", str(tmp_path))
    _assert_clear_error(rc, err, "desi_bao_dr1", "Fix:")


def test_no_command_prints_help(capsys):
    rc, out, _ = _run(capsys)
    assert rc == 2 and "chi2" in out and "theory" in out


# --- numass theory --------------------------------------------------------------------------------

def test_theory_background_writes_distances(capsys, tmp_path):
    out_path = tmp_path / "X.npz"
    rc, out, err = _run(capsys, "theory", "--model", "lcdm", "--backend", "background",
                        "--param", "mnu_eff=-0.1", "--out", str(out_path))
    assert rc == 0, err
    assert str(out_path) in out
    with np.load(out_path) as f:
        for key in ("z", "H", "DM", "DH", "DV", "rdrag", "theta_star"):
            assert key in f, key
            assert np.all(np.isfinite(f[key])), key
        z, H, DM, DH, DV = (f[k] for k in ("z", "H", "DM", "DH", "DV"))
        rdrag, theta_star = float(f["rdrag"]), float(f["theta_star"])
    assert z[0] == 0.0 and np.all(np.diff(z) > 0)
    assert H[0] == pytest.approx(FIDUCIAL["H0"], rel=1e-6)
    np.testing.assert_allclose(DH, 299792.458 / H, rtol=1e-9)
    np.testing.assert_allclose(DV[1:], np.cbrt(z[1:] * DM[1:] ** 2 * DH[1:]), rtol=1e-9)
    assert 140 < rdrag < 155 and 1.02 < theta_star < 1.06


@pytest.fixture(scope="module")
def camb_theory_file(tmp_path_factory):
    """`numass theory --backend camb` at the defaults, once (a few seconds)."""
    path = tmp_path_factory.mktemp("cli_camb") / "T.npz"
    assert main(["theory", "--backend", "camb", "--out", str(path)]) == 0
    return path


def test_theory_camb_writes_spectra(camb_theory_file):
    with np.load(camb_theory_file) as f:
        for key in ("ell", *SPECTRA_NAMES):
            assert key in f, key
        ell, tt = f["ell"], f["DlTT"]
        assert all(f[k].shape == ell.shape for k in SPECTRA_NAMES)
    assert ell[0] == 0 and ell[-1] >= 2999
    assert 5000 < tt[220] < 6500  # the first acoustic peak, muK^2
    read_spectra_npz(camb_theory_file)  # valid in the layout `numass chi2` reads


def test_theory_camb_round_trips_through_chi2(capsys, camb_theory_file, data_dir):
    need_dataset(data_dir, ACT_FOLDER)
    lik_id = "act-dr6-lensing"
    rc, out, err = _run(capsys, "chi2", "--data", lik_id, "--spectra", str(camb_theory_file),
                        "--json", "--data-dir", str(data_dir))
    assert rc == 0, err
    got = json.loads(out)[lik_id]
    direct = get_likelihood(lik_id, data_dir).chi2(
        TheoryProducts(params=dict(FIDUCIAL), spectra=read_spectra_npz(camb_theory_file)))
    assert np.isfinite(got) and got == pytest.approx(direct, rel=1e-10, abs=1e-8)
    # a Planck-like LCDM point fits ACT DR6 lensing well (19 bandpowers in the baseline)
    assert got < 60
