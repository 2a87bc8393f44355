"""CMB-lensing likelihoods (Planck PR4, ACT DR6 v0, SPT-3G 2018).

Validation:
- Planck PR4 against the check values of the official planck_PR4_lensing package's tests
  (chi^2 = 8.705 MV with A_planck = 1, 8.368 CMB-marginalised, at its CAMB cosmology) and against
  Cobaya's CosmoMC-dataset reader (CMBlikes) pointed at the same .dataset files;
- ACT and SPT against candl's LensLike on the candl yaml files in the data directory, at two
  cosmologies and at non-default nuisance values.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from numass.errors import DataError, InputError
from numass.likelihoods import get_likelihood
from numass.likelihoods.act_dr6_lensing import ACTDR6Lensing
from numass.likelihoods.lensing_common import pp_to_kk
from numass.likelihoods.planck_pr4_lensing import PlanckPR4Lensing
from numass.likelihoods.spt3g_lensing import SPT3GLensing
from numass.theory.products import Spectra, TheoryProducts

from conftest import FIDUCIAL, camb_spectra, need_dataset

PR4, ACT, SPT = "planck_pr4_lensing", "act_dr6_lensing_v0", "spt3g_2018_lensing"
TOL = 0.05  # |delta chi^2| allowed against published values
TOL_CODE = 1e-4  # against a reference code run on identical spectra (same algorithm)

# CAMB settings of planck_PR4_lensing/planckpr4lensing/tests/tests_pr4lensing.py
PR4_TEST_COSMO = dict(ombh2=0.022274, omch2=0.11913, cosmomc_theta=0.01040867, As=0.2132755716e-8,
                      ns=0.96597, tau=0.0639)
PR4_PUBLISHED = {"mv": 8.705, "mv_marged": 8.368}
PR4_DATASETS = {
    "mv": "pp_consext8_npipe_smicaed_TiPi_jTP_pre30T_kfilt_rdn0cov_PS1.dataset",
    "mv_marged": "pp_consext8_npipe_smicaed_TiPi_jTP_pre30T_kfilt_rdn0cov_PS1_CMBmarged.dataset",
    "polonly": "PP_consext8_npipe_smicaed_Ponly_kfilt_rdn0cov.dataset",
}
CANDL_YAML = {
    ("act", "lens_and_cmb"): f"{ACT}/ACT_DR6_KK_lens_and_CMB.yaml",
    ("act", "lens_only"): f"{ACT}/ACT_DR6_KK_lens_only.yaml",
    ("spt", "lens_and_cmb"): f"{SPT}/SPT3G_2018_PP_lens_and_CMB.yaml",
    ("spt", "lens_only"): f"{SPT}/SPT3G_2018_PP_lens_only.yaml",
}
CLASSES = {"act": ACTDR6Lensing, "spt": SPT3GLensing}


def theory_of(spectra: Spectra) -> TheoryProducts:
    return TheoryProducts(params=dict(FIDUCIAL), spectra=spectra)


@pytest.fixture(scope="module")
def pr4_spectra():
    """The official package's test spectra: lensed total D_ell (muK^2) and pp to L = 2500."""
    import camb

    lmax = 2500
    pars = camb.set_params(**PR4_TEST_COSMO, lens_potential_accuracy=1, lmax=lmax,
                           halofit_version="mead")
    res = camb.get_results(pars)
    cls = res.get_total_cls(lmax, CMB_unit="muK")
    pp = res.get_lens_potential_cls(lmax)[:, 0]
    return Spectra(ell=np.arange(lmax + 1), tt=cls[:, 0], ee=cls[:, 1], bb=cls[:, 2],
                   te=cls[:, 3], pp=pp)


@pytest.fixture(scope="module")
def other_spectra():
    """A second cosmology, far enough from the fiducial to move every correction term."""
    return camb_spectra(As=2.3e-9, omch2=0.115)


@pytest.fixture(scope="module")
def pr4_dir(data_dir):
    need_dataset(data_dir, PR4)
    return data_dir


# ---------------------------------------------------------------- Planck PR4


@pytest.mark.parametrize("variant", ["mv", "mv_marged"])
def test_pr4_published_check_values(pr4_dir, pr4_spectra, variant):
    lik = PlanckPR4Lensing(data_dir=pr4_dir, variant=variant)
    chi2 = lik.chi2(theory_of(pr4_spectra), {"A_planck": 1.0})
    assert abs(chi2 - PR4_PUBLISHED[variant]) <= TOL, (variant, chi2)


@pytest.mark.parametrize("variant", list(PR4_DATASETS))
@pytest.mark.parametrize("a_planck", [1.0, 1.01])
def test_pr4_matches_cobaya_cmblikes(pr4_dir, pr4_spectra, variant, a_planck):
    cmblikes = pytest.importorskip("cobaya.likelihoods.base_classes.cmblikes")

    class Ref(cmblikes.CMBlikes):
        install_options = {}

    ref = Ref({"dataset_file": str(pr4_dir / PR4 / PR4_DATASETS[variant])})
    cls = {k: getattr(pr4_spectra, k) for k in ("tt", "te", "ee", "bb", "pp")}
    expected = -2.0 * ref.log_likelihood(cls, A_planck=a_planck)
    lik = PlanckPR4Lensing(data_dir=pr4_dir, variant=variant)
    got = lik.chi2(theory_of(pr4_spectra), {"A_planck": a_planck})
    assert abs(got - expected) <= TOL_CODE, (variant, a_planck, got, expected)


def test_pr4_calibration_enters_only_mv(pr4_dir, fiducial_spectra):
    th = theory_of(fiducial_spectra)
    mv = PlanckPR4Lensing(data_dir=pr4_dir, variant="mv")
    assert [p.name for p in mv.nuisance] == ["A_planck"]
    assert mv.nuisance[0].prior == ("gauss", 1.0, 0.0025)
    assert abs(mv.chi2(th, {"A_planck": 1.01}) - mv.chi2(th)) > 0.1
    for variant in ("mv_marged", "polonly"):
        lik = PlanckPR4Lensing(data_dir=pr4_dir, variant=variant)
        assert lik.nuisance == ()
        assert lik.chi2(th, {"A_planck": 1.01}) == lik.chi2(th)
    assert mv.lmax == 2500
    assert PlanckPR4Lensing(data_dir=pr4_dir, variant="polonly").lmax == 400


# ---------------------------------------------------------------- ACT and SPT vs candl


def candl_dl(spectra: Spectra, lmax: int) -> dict:
    s = slice(2, lmax + 1)
    return {"TT": spectra.tt[s], "TE": spectra.te[s], "EE": spectra.ee[s], "BB": spectra.bb[s],
            "pp": spectra.pp[s], "kk": pp_to_kk(spectra.pp)[s]}


@pytest.fixture(scope="module")
def candl_likes(data_dir):
    candl = pytest.importorskip("candl")
    out = {}
    for key, rel in CANDL_YAML.items():
        path = data_dir / rel
        if not path.is_file():
            continue
        out[key] = candl.LensLike(str(path))
    return out


@pytest.mark.parametrize("cosmo", ["fiducial", "other"])
@pytest.mark.parametrize("exp,variant,nuis", [
    ("act", "lens_and_cmb", {}),
    ("act", "lens_only", {}),
    ("spt", "lens_and_cmb", {"A_fg": 1.0}),
    ("spt", "lens_and_cmb", {"A_fg": 1.8}),
    ("spt", "lens_only", {"A_fg": 0.4}),
])
def test_matches_candl(data_dir, candl_likes, fiducial_spectra, other_spectra, cosmo, exp, variant,
                       nuis):
    need_dataset(data_dir, ACT if exp == "act" else SPT)
    ref = candl_likes[(exp, variant)]
    spectra = fiducial_spectra if cosmo == "fiducial" else other_spectra
    params = {"Dl": candl_dl(spectra, ref.ell_max), **nuis}
    expected = float(ref.chi_square(params))
    assert abs(expected + 2.0 * float(ref.log_like(params))) < 1e-8  # no prior terms in candl
    lik = CLASSES[exp](data_dir=data_dir, variant=variant)
    got = lik.chi2(theory_of(spectra), nuis)
    assert abs(got - expected) <= TOL_CODE, (exp, variant, cosmo, nuis, got, expected)


def test_spt_foreground_nuisance(data_dir, fiducial_spectra):
    need_dataset(data_dir, SPT)
    lik = get_likelihood("spt3g-2018-lensing", data_dir=data_dir)
    assert lik.variant == "lens_and_cmb"
    assert [p.name for p in lik.nuisance] == ["A_fg"]
    th = theory_of(fiducial_spectra)
    assert lik.chi2(th) == lik.chi2(th, {"A_fg": 1.0})
    assert lik.chi2(th, {"A_fg": 0.0}) != lik.chi2(th)


def test_corrections_vanish_near_their_fiducial(data_dir, fiducial_spectra):
    """At a Planck-like cosmology M.C - fid is small against the band powers (units check: the
    CMB enters as D_ell in muK^2, the lensing spectrum as pp or kk)."""
    need_dataset(data_dir, ACT)
    need_dataset(data_dir, SPT)
    for lik in (ACTDR6Lensing(data_dir=data_dir), SPT3GLensing(data_dir=data_dir)):
        m = lik.model
        arrays = {k: (pp_to_kk(fiducial_spectra.pp) if k == "kk" else getattr(fiducial_spectra, k))
                  for k in m.keys}
        corr = m.model(arrays, {"A_fg": 0.0}) - m.band.apply(arrays[m.band.key])
        assert np.all(np.abs(corr) < 0.05 * np.abs(m.data)), (lik.id, corr / m.data)


# ---------------------------------------------------------------- interface and bad input


@pytest.mark.parametrize("lik_id,lmax", [
    ("planck-pr4-lensing", 2500), ("planck-pr4-lensing-marged", 2500),
    ("planck-pr4-lensing-polonly", 400), ("act-dr6-lensing", 2999),
    ("act-dr6-lensing-lensonly", 763), ("spt3g-2018-lensing", 2001),
])
def test_registry_and_runtime(data_dir, fiducial_spectra, lik_id, lmax):
    need_dataset(data_dir, lik_dataset(lik_id))
    lik = get_likelihood(lik_id, data_dir=data_dir)
    assert lik.id == lik_id and lik.requires == frozenset({"spectra"})
    assert lik.lmax == lmax
    th = theory_of(fiducial_spectra)
    assert np.isfinite(lik.loglike(th))
    n = 50
    t0 = time.perf_counter()
    for _ in range(n):
        lik.loglike(th)
    assert (time.perf_counter() - t0) / n < 0.02  # ~0.1 ms measured; generous for slow CI


def lik_dataset(lik_id: str) -> str:
    return PR4 if lik_id.startswith("planck") else ACT if lik_id.startswith("act") else SPT


@pytest.mark.parametrize("klass,folder", [(PlanckPR4Lensing, PR4), (ACTDR6Lensing, ACT),
                                          (SPT3GLensing, SPT)])
def test_bad_input(data_dir, fiducial_spectra, klass, folder):
    need_dataset(data_dir, folder)
    with pytest.raises(InputError, match="unknown variant"):
        klass(data_dir=data_dir, variant="nope")
    with pytest.raises(InputError, match="unknown option"):
        klass(data_dir=data_dir, colour="blue")
    lik = klass(data_dir=data_dir)
    short = Spectra(*(np.asarray(getattr(fiducial_spectra, f.name))[:301]
                      for f in dataclasses.fields(Spectra)))
    with pytest.raises(InputError, match="up to L"):
        lik.loglike(theory_of(short))
    pp = np.array(fiducial_spectra.pp, dtype=float)
    pp[100] = np.nan
    with pytest.raises(InputError, match="NaN"):
        lik.loglike(theory_of(dataclasses.replace(fiducial_spectra, pp=pp)))
    tt = np.array(fiducial_spectra.tt, dtype=float)  # the default variants all correct with TT
    tt[1500] = np.inf
    with pytest.raises(InputError, match="NaN"):
        lik.loglike(theory_of(dataclasses.replace(fiducial_spectra, tt=tt)))
    with pytest.raises(InputError, match="needs CMB spectra"):
        lik.loglike(TheoryProducts(params={}))
    if lik.nuisance:
        with pytest.raises(InputError, match="finite"):
            lik.loglike(theory_of(fiducial_spectra), {lik.nuisance[0].name: float("nan")})


@pytest.mark.parametrize("klass", [PlanckPR4Lensing, ACTDR6Lensing, SPT3GLensing])
def test_missing_data_names_dataset(tmp_path, klass):
    with pytest.raises(DataError, match=klass.dataset):
        klass(data_dir=tmp_path)


def test_corrupt_covariance_is_data_error(data_dir, tmp_path):
    """A data folder whose covariance has the wrong shape: DataError naming the file."""
    src = need_dataset(data_dir, SPT)
    dst = tmp_path / SPT
    dst.mkdir()
    for item in src.iterdir():
        (dst / item.name).symlink_to(item)
    (dst / "spt3g_2018_pp_cov.txt").unlink()
    np.savetxt(dst / "spt3g_2018_pp_cov.txt", np.eye(3))
    with pytest.raises(DataError, match="spt3g_2018_pp_cov.txt"):
        SPT3GLensing(data_dir=tmp_path)
