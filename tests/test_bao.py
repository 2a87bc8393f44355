"""DESI BAO (likelihoods/bao.py): the embedded DR2 table (data/embedded.py) against the data files, the chi^2 against Cobaya's own DESI
BAO likelihood on the same CAMB background, numass's background against CAMB's, options, errors."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from numass.data import embedded
from numass.errors import DataError, InputError
from numass.likelihoods import get_likelihood
from numass.likelihoods.bao import DesiBAO
from numass.theory.background import compute_background
from numass.theory.products import TheoryProducts

from conftest import need_dataset

C_KM_S = 299792.458
DR2 = ("desi_bao_dr2", "desi_gaussian_bao_ALL_GCcomb_mean.txt",
       "desi_gaussian_bao_ALL_GCcomb_cov.txt")
DR1 = ("desi_bao_dr1", "desi_2024_gaussian_bao_ALL_GCcomb_mean.txt",
       "desi_2024_gaussian_bao_ALL_GCcomb_cov.txt")
TOL_CHI2 = 0.05

# the two validation cosmologies: LCDM near the DESI+CMB best fit, and a w0wa point
COSMOLOGIES = {
    "lcdm": dict(H0=68.5, ombh2=0.0222, omch2=0.119, mnu=0.06, w=-1.0, wa=0.0),
    "w0wa": dict(H0=68.5, ombh2=0.0222, omch2=0.119, mnu=0.06, w=-0.8, wa=-0.6),
}
FIXED = dict(As=2.1e-9, ns=0.965, tau=0.054)


def _env_data_dir() -> Path | None:
    d = os.environ.get("NUMASS_DATA_DIR")
    return Path(d) if d and Path(d).is_dir() else None


def _read_mean(path: Path):
    rows = [ln.split() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    z, value = (np.array([float(r[i]) for r in rows]) for i in (0, 1))
    return z, value, [r[2] for r in rows]


def _write_bao_files(folder: Path, z, value, quantity, cov) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "mean.txt", "w") as f:
        f.write("# [z] [value at z] [quantity]\n")
        f.writelines(f"{zz:.8f} {float(v)!r} {q}\n" for zz, v, q in zip(z, value, quantity))
    np.savetxt(folder / "cov.txt", cov)


def _bao(theory_bg, lik) -> float:
    return lik.chi2(TheoryProducts(params={}, background=theory_bg))


class CambBackground:
    """numass's Background protocol from a CAMBdata object, evaluated at once at the redshifts the
    likelihoods use (Cobaya may recompute the same CAMBdata object in place later)."""

    def __init__(self, results, zs):
        zs = np.unique(np.round(np.asarray(zs, dtype=float), 6))
        self._H = dict(zip(zs, np.atleast_1d(results.hubble_parameter(zs))))
        self._DM = dict(zip(zs, np.atleast_1d(results.comoving_radial_distance(zs))))  # flat
        derived = results.get_derived_params()
        self.rdrag, self.theta_star = derived["rdrag"], derived["thetastar"]

    def _at(self, table, z):
        return table[round(float(z), 6)]

    def H(self, z):
        return self._at(self._H, z)

    def DM(self, z):
        return self._at(self._DM, z)

    def DH(self, z):
        return C_KM_S / self.H(z)

    def DV(self, z):
        return np.cbrt(z * self.DM(z) ** 2 * self.DH(z))


@pytest.fixture(scope="module")
def validation(tmp_path_factory):
    """Cobaya's DESI BAO likelihoods (bao.desi_dr2; bao.desi_2024_bao_all for DR1) with CAMB at
    the two cosmologies: {cosmology: {"cobaya": {name: chi2}, "camb_bg": CambBackground}}.

    'embedded' always runs (the embedded DR2 table written to files); 'dr2', 'dr1' and 'nolrg1'
    (DR2 without the z = 0.51 rows, written by this test) need the data directory."""
    from cobaya.likelihoods.bao.desi_2024_bao_all import desi_2024_bao_all
    from cobaya.likelihoods.bao.desi_dr2 import desi_dr2
    from cobaya.model import get_model

    # Cobaya's classes reading the files given below (no cobaya-install'ed bao_data package)
    class LocalDesiDR2(desi_dr2):
        install_options = {}

    class LocalDesiDR1(desi_2024_bao_all):
        install_options = {}

    tmp = tmp_path_factory.mktemp("cobaya_bao")
    z, quantity, value, cov, _ = embedded.desi_dr2_bao_table()
    _write_bao_files(tmp / "embedded", z, value, quantity, cov)
    files = {"embedded": (tmp / "embedded", "mean.txt", "cov.txt")}
    d = _env_data_dir()
    if d is not None and (d / DR2[0]).is_dir() and (d / DR1[0]).is_dir():
        files["dr2"] = (d / DR2[0], DR2[1], DR2[2])
        files["dr1"] = (d / DR1[0], DR1[1], DR1[2])
        zf, vf, qf = _read_mean(d / DR2[0] / DR2[1])
        keep = np.abs(zf - 0.51) > 1e-6
        covf = np.loadtxt(d / DR2[0] / DR2[2])[np.ix_(keep, keep)]
        qkeep = [q for q, k in zip(qf, keep) if k]
        _write_bao_files(tmp / "nolrg1", zf[keep], vf[keep], qkeep, covf)
        files["nolrg1"] = (tmp / "nolrg1", "mean.txt", "cov.txt")
    zs = set()
    for folder, mean, _ in files.values():
        zs.update(_read_mean(Path(folder) / mean)[0])

    info = {
        "likelihood": {name: {"class": LocalDesiDR1 if name == "dr1" else LocalDesiDR2,
                              "path": str(folder), "measurements_file": mean,
                              "cov_file": covname, "rs_fid": 1}
                       for name, (folder, mean, covname) in files.items()},
        "theory": {"camb": {"extra_args": {"dark_energy_model": "ppf"}}},
        "params": {**FIXED, **{k: {"prior": {"min": lo, "max": hi}} for k, lo, hi in (
            ("H0", 50, 90), ("ombh2", 0.015, 0.03), ("omch2", 0.08, 0.16), ("mnu", 0.0, 1.0),
            ("w", -2.0, 0.0), ("wa", -3.0, 2.0))}},
    }
    model = get_model(info)
    model.add_requirements({"CAMBdata": None})
    out = {}
    for cname, point in COSMOLOGIES.items():
        loglikes = model.loglikes(point, as_dict=True, return_derived=False)
        results = model.provider.get_CAMBdata()
        out[cname] = {"cobaya": {k: -2.0 * float(v) for k, v in loglikes.items()},
                      "camb_bg": CambBackground(results, sorted(zs))}
    return out


def _numass_lik(name: str, data_dir: Path | None, tmp_path: Path):
    if name == "embedded":
        lik = DesiBAO(data_dir=tmp_path, release="dr2")  # empty data dir: embedded table
        assert lik.source == "embedded"
        return lik
    lik = {"dr2": lambda: DesiBAO(data_dir=data_dir, release="dr2"),
           "dr1": lambda: DesiBAO(data_dir=data_dir, release="dr1"),
           "nolrg1": lambda: get_likelihood("desi-dr2-bao-nolrg1", data_dir)}[name]()
    assert lik.source == "file"
    return lik


# --- the embedded table -------------------------------------------------------------------------

def test_embedded_table_matches_data_files(data_dir):
    folder = need_dataset(data_dir, DR2[0])
    zf, vf, qf = _read_mean(folder / DR2[1])
    covf = np.loadtxt(folder / DR2[2])
    ze, qe, ve, cove, _ = embedded.desi_dr2_bao_table()
    # same redshift sequence and the same (z, quantity) rows; within the Lya bin the file lists
    # D_H before D_M, the paper's table D_M first, so rows are matched by (z, quantity)
    np.testing.assert_array_equal(np.round(ze, 6), np.round(zf, 6))
    key_f = [(round(float(z), 6), q) for z, q in zip(zf, qf)]
    key_e = [(round(float(z), 6), q) for z, q in zip(ze, qe)]
    assert sorted(key_f) == sorted(key_e) and len(set(key_e)) == len(key_e)
    perm = [key_f.index(k) for k in key_e]  # file row of each embedded row
    vf, covf = vf[perm], covf[np.ix_(perm, perm)]
    # the paper prints values and sigmas to 3 decimals, correlations to 3 decimals
    off = [(k, ve[i], vf[i]) for i, k in enumerate(key_e) if abs(ve[i] - vf[i]) > 0.0005 + 1e-9]
    assert not off, f"embedded value vs data file beyond the printed precision: {off}"
    sig_e, sig_f = np.sqrt(np.diag(cove)), np.sqrt(np.diag(covf))
    off = [(k, sig_e[i], sig_f[i]) for i, k in enumerate(key_e)
           if abs(sig_e[i] - sig_f[i]) > 0.0005 + 1e-9]
    assert not off, f"embedded sigma vs data file beyond the printed precision: {off}"
    corr_e, corr_f = cove / np.outer(sig_e, sig_e), covf / np.outer(sig_f, sig_f)
    assert np.max(np.abs(corr_e - corr_f)) <= 0.0005 + 1e-9


def test_dr2_uses_file_when_present_and_embedded_otherwise(data_dir, tmp_path):
    need_dataset(data_dir, DR2[0])
    from_file = DesiBAO(data_dir=data_dir)
    fallback = DesiBAO(data_dir=tmp_path)
    assert (from_file.source, fallback.source) == ("file", "embedded")
    bg = compute_background(COSMOLOGIES["lcdm"])
    # the rounding of the published table moves chi^2 by far less than 0.05
    assert abs(_bao(bg, from_file) - _bao(bg, fallback)) < TOL_CHI2


# --- validation against Cobaya's DESI BAO likelihood --------------------------------------------

@pytest.mark.parametrize("cosmo", list(COSMOLOGIES))
def test_embedded_chi2_matches_cobaya(validation, cosmo, tmp_path):
    v = validation[cosmo]
    ours = _bao(v["camb_bg"], _numass_lik("embedded", None, tmp_path))
    print(f"\nembedded {cosmo}: numass {ours:.8f} Cobaya {v['cobaya']['embedded']:.8f} "
          f"|dchi2| {abs(ours - v['cobaya']['embedded']):.1e}")
    assert abs(ours - v["cobaya"]["embedded"]) <= TOL_CHI2, (ours, v["cobaya"]["embedded"])


@pytest.mark.parametrize("cosmo", list(COSMOLOGIES))
@pytest.mark.parametrize("name", ["dr2", "dr1", "nolrg1"])
def test_file_chi2_matches_cobaya(validation, data_dir, name, cosmo, tmp_path):
    need_dataset(data_dir, DR2[0]), need_dataset(data_dir, DR1[0])
    v = validation[cosmo]
    ours = _bao(v["camb_bg"], _numass_lik(name, data_dir, tmp_path))
    print(f"\n{name} {cosmo}: numass {ours:.8f} Cobaya {v['cobaya'][name]:.8f} "
          f"|dchi2| {abs(ours - v['cobaya'][name]):.1e}")
    assert abs(ours - v["cobaya"][name]) <= TOL_CHI2, (ours, v["cobaya"][name])


@pytest.mark.parametrize("cosmo", list(COSMOLOGIES))
def test_own_background_chi2_matches_camb_background(validation, cosmo, tmp_path):
    """numass's own background code against CAMB's, through the DR2 (embedded) chi^2."""
    lik = _numass_lik("embedded", None, tmp_path)
    ours = _bao(compute_background(COSMOLOGIES[cosmo]), lik)
    camb = _bao(validation[cosmo]["camb_bg"], lik)
    print(f"\nown background {cosmo}: |dchi2| vs CAMB background {abs(ours - camb):.1e}")
    assert abs(ours - camb) <= TOL_CHI2, (ours, camb)


@pytest.mark.parametrize("name", ["dr2", "dr1"])
def test_own_background_chi2_matches_camb_background_files(validation, data_dir, name, tmp_path):
    need_dataset(data_dir, DR1[0] if name == "dr1" else DR2[0])
    lik = _numass_lik(name, data_dir, tmp_path)
    for cosmo, point in COSMOLOGIES.items():
        ours = _bao(compute_background(point), lik)
        camb = _bao(validation[cosmo]["camb_bg"], lik)
        assert abs(ours - camb) <= TOL_CHI2, (cosmo, ours, camb)


# --- options --------------------------------------------------------------------------------------

def _check_drop_lrg1(full, cut):
    keep = ~np.isclose(full.z, 0.51)
    assert len(full.z) == 13 and np.count_nonzero(~keep) == 2
    assert not np.any(np.isclose(cut.z, 0.51))
    np.testing.assert_array_equal(cut.z, full.z[keep])
    np.testing.assert_array_equal(cut.value, full.value[keep])
    assert cut.quantity == [q for q, k in zip(full.quantity, keep) if k]
    np.testing.assert_array_equal(cut.cov, full.cov[np.ix_(keep, keep)])


def test_drop_lrg1_embedded(tmp_path):
    _check_drop_lrg1(DesiBAO(data_dir=tmp_path), DesiBAO(data_dir=tmp_path, drop_lrg1=True))


def test_drop_lrg1_file(data_dir):
    need_dataset(data_dir, DR2[0])
    cut = get_likelihood("desi-dr2-bao-nolrg1", data_dir)
    assert cut.id == "desi-dr2-bao-nolrg1" and cut.source == "file"
    _check_drop_lrg1(DesiBAO(data_dir=data_dir), cut)


def test_dr1_without_data_dir_is_data_error(tmp_path):
    with pytest.raises(DataError) as err:
        get_likelihood("desi-dr1-bao", data_dir=tmp_path)
    assert "desi_bao_dr1" in str(err.value)


def test_non_finite_background_is_theory_error(tmp_path):
    from numass.errors import TheoryError

    class NaNBackground:
        rdrag, theta_star = float("nan"), 1.04

        def H(self, z):
            return np.full(np.shape(z), 70.0)

        DM = DV = DH = H

    with pytest.raises(TheoryError):
        DesiBAO(data_dir=tmp_path).chi2(TheoryProducts(params={}, background=NaNBackground()))


def test_embedded_covariance_helper_and_citation():
    cov = embedded.desi_dr2_bao_covariance()
    assert cov.shape == (13, 13) and np.allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    assert "2503.14738" in embedded.DESI_DR2_BAO_CITATION


def test_unknown_release_and_option_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="dr3"):
        DesiBAO(data_dir=tmp_path, release="dr3")
    with pytest.raises(InputError, match="bogus"):
        DesiBAO(data_dir=tmp_path, bogus=True)
    with pytest.raises(InputError):
        get_likelihood("desi-dr2-bao", tmp_path, tracer="LRG")


@pytest.mark.parametrize("which", [1, 2])  # the mean file, the covariance file
def test_corrupt_file_is_data_error_naming_it(data_dir, tmp_path, which):
    need_dataset(data_dir, DR2[0])
    shutil.copytree(data_dir / DR2[0], tmp_path / DR2[0])
    (tmp_path / DR2[0] / DR2[which]).write_text("garbage\nnot numbers at all\n")
    with pytest.raises(DataError) as err:
        DesiBAO(data_dir=tmp_path)
    assert DR2[which] in str(err.value) and err.value.file == DR2[which]
