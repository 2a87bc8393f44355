"""Planck 2018 plik_lite and low-ell TT bins: validated against Cobaya's native plik_lite and
an independent loop over the low-ell data files (planck-lite-py's algorithm, Prince & Dunkley 2019)."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from numass.errors import DataError, InputError
from numass.likelihoods import get_likelihood
from numass.likelihoods.lowl_tt import LowlTT
from numass.likelihoods.plik_lite import PlikLite
from numass.theory.products import TheoryProducts

from conftest import FIDUCIAL, need_dataset

FOLDER = "planck2018_lite"
CALS = (1.0, 1.003)


@pytest.fixture(scope="module")
def lite_dir(data_dir):
    need_dataset(data_dir, FOLDER)
    return data_dir


@pytest.fixture(scope="module")
def theory(fiducial_spectra):
    return TheoryProducts(params=dict(FIDUCIAL), spectra=fiducial_spectra)


def cobaya_plik(tmp_path, data_dir, use_cl: str):
    """Cobaya's native plik_lite, read from a .dataset file pointing at the shared data."""
    from cobaya.likelihoods.base_classes.planck_pliklite import PlanckPlikLite

    class Ref(PlanckPlikLite):
        install_options = {}

    d = data_dir / FOLDER / "planck2018_plik_lite"
    text = "\n".join([
        f"use_cl = {use_cl}", f"data = {d / 'cl_cmb_plik_v22.dat'}",
        f"cov_file_binary = {d / 'c_matrix_plik_v22.dat'}", f"blmin = {d / 'blmin.dat'}",
        f"blmax = {d / 'blmax.dat'}", f"weights = {d / 'bweight.dat'}",
        "nbintt = 215", "nbinte = 199", "nbinee = 199", "lmax = 2508",
        "bin_lmin_offset = 30", "calibration_param = A_planck", ""])
    path = tmp_path / f"plik_lite_{use_cl.replace(' ', '')}.dataset"
    path.write_text(text)
    ref = Ref.__new__(Ref)  # skip Cobaya's component machinery: only the data reading is needed
    ref.load_dataset_file(str(path))
    return ref


@pytest.mark.parametrize("use,use_cl", [("TTTEEE", "tt te ee"), ("TT", "tt"), ("TE", "te"),
                                        ("EE", "ee")])
def test_plik_lite_matches_cobaya(lite_dir, theory, tmp_path, use, use_cl):
    ref = cobaya_plik(tmp_path, lite_dir, use_cl)
    lik = get_likelihood(f"planck2018-plik-lite-{use}", data_dir=lite_dir)
    sp = theory.spectra
    for cal in CALS:
        expected = ref.get_chi_squared(0, sp.tt, sp.te, sp.ee, A_planck=cal)
        got = lik.chi2(theory, {"A_planck": cal})
        assert abs(got - expected) <= 1e-8, (use, cal, got, expected)  # measured ~1e-13
        assert abs(got - expected) <= 0.05
    # a fiducial Planck-like model is a good fit: chi^2 per bin near 1
    nbin = len(lik.x_data)
    assert 0.7 * nbin < lik.chi2(theory) < 1.4 * nbin


def test_plik_lite_calibration_and_defaults(lite_dir, theory):
    lik = PlikLite(data_dir=lite_dir, use="TT")
    assert lik.requires == {"spectra"} and lik.lmax == 2508
    assert [p.name for p in lik.nuisance] == ["A_planck"]
    assert lik.nuisance[0].prior == ("gauss", 1.0, 0.0025)
    assert lik.chi2(theory) == pytest.approx(lik.chi2(theory, {"A_planck": 1.0}), abs=0)
    # dividing the model by A^2 is the same as scaling the spectra by 1/A^2
    cal = 1.01
    scaled = dataclasses.replace(theory.spectra, tt=theory.spectra.tt / cal**2)
    assert lik.chi2(theory, {"A_planck": cal}) == pytest.approx(
        lik.chi2(TheoryProducts(params={}, spectra=scaled)), rel=1e-12)


def lowl_reference_chi2(folder, dl_tt, cal):
    """Straight loop over the file format: bins [plmin+blmin, plmin+blmax], weights on C_ell."""
    data = np.loadtxt(folder / "CTT_bin_low_ell_2018.dat")
    plmin = int(np.loadtxt(folder / "plmin_low_ell.dat"))
    blmin = np.loadtxt(folder / "blmin_low_ell.dat").astype(int)
    blmax = np.loadtxt(folder / "blmax_low_ell.dat").astype(int)
    w = np.loadtxt(folder / "bweight_low_ell.dat")
    chi2 = 0.0
    for b in range(len(data)):
        model = 0.0
        for j in range(blmin[b], blmax[b] + 1):
            ell = j + plmin
            model += w[j] * dl_tt[ell] * 2 * np.pi / (ell * (ell + 1))
        chi2 += ((data[b, 1] - model / cal**2) / data[b, 2]) ** 2
    return chi2


def test_lowl_tt_against_file_loop(lite_dir, theory):
    lik = get_likelihood("planck2018-lowl-TT", data_dir=lite_dir)
    assert isinstance(lik, LowlTT) and lik.requires == {"spectra"}
    folder = lite_dir / FOLDER / "planck2018_low_ell"
    for cal in CALS:
        expected = lowl_reference_chi2(folder, theory.spectra.tt, cal)
        assert lik.chi2(theory, {"A_planck": cal}) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    chi2 = lik.chi2(theory)
    assert 0.1 < chi2 < 6.0  # two bins, Planck-like model: O(2)
    boosted = dataclasses.replace(theory.spectra, tt=1.2 * theory.spectra.tt)
    assert lik.chi2(TheoryProducts(params={}, spectra=boosted)) > chi2 + 1.0


def test_short_and_nan_spectra_rejected(lite_dir, theory):
    lik = PlikLite(data_dir=lite_dir)
    sp = theory.spectra
    short = dataclasses.replace(sp, **{k: getattr(sp, k)[:2001] for k in
                                       ("ell", "tt", "te", "ee", "bb", "pp")})
    with pytest.raises(InputError, match="2508"):
        lik.chi2(TheoryProducts(params={}, spectra=short))
    for key in ("tt", "te", "ee"):
        bad = getattr(sp, key).copy()
        bad[1000] = np.nan
        with pytest.raises(InputError, match="NaN"):
            lik.chi2(TheoryProducts(params={}, spectra=dataclasses.replace(sp, **{key: bad})))
    with pytest.raises(InputError, match="spectra"):
        lik.chi2(TheoryProducts(params={}))
    with pytest.raises(InputError, match="A_planck"):
        lik.chi2(theory, {"A_planck": float("nan")})
    bad = sp.tt.copy()
    bad[10] = np.inf
    with pytest.raises(InputError, match="NaN"):
        LowlTT(data_dir=lite_dir).chi2(TheoryProducts(params={}, spectra=dataclasses.replace(sp, tt=bad)))


def test_unknown_options_rejected(lite_dir):
    with pytest.raises(InputError, match="use"):
        PlikLite(data_dir=lite_dir, use="TTEE")
    with pytest.raises(InputError, match="unknown option"):
        PlikLite(data_dir=lite_dir, lmax=3000)
    with pytest.raises(InputError, match="unknown option"):
        LowlTT(data_dir=lite_dir, use="TT")


def test_corrupt_or_missing_files_give_data_error(lite_dir, tmp_path):
    src = lite_dir / FOLDER
    dst = tmp_path / FOLDER
    for f in src.rglob("*"):  # plain copies: the shared data are read-only
        if f.is_file():
            (dst / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst / f.relative_to(src))
    cov = dst / "planck2018_plik_lite" / "c_matrix_plik_v22.dat"
    cov.write_bytes(cov.read_bytes()[:100_000])
    with pytest.raises(DataError, match="c_matrix_plik_v22.dat") as err:
        PlikLite(data_dir=tmp_path)
    assert "truncated" in str(err.value) and FOLDER in str(err.value)
    lowl = dst / "planck2018_low_ell" / "CTT_bin_low_ell_2018.dat"
    lowl.unlink()
    with pytest.raises(DataError, match="CTT_bin_low_ell_2018.dat"):
        LowlTT(data_dir=tmp_path)
    with pytest.raises(DataError, match=FOLDER):
        PlikLite(data_dir=tmp_path / "nowhere")
