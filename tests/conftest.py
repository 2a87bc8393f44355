"""Shared fixtures: the data directory (tests that need it skip when absent) and one CAMB spectrum."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from numass.theory.background import compute_background
from numass.theory.effective_mass import BACKGROUND_SCALARS, MirroredBackground
from numass.theory.products import Spectra

# Planck 2018-like LCDM point used as the reference cosmology in validation tests
FIDUCIAL = dict(H0=67.32, ombh2=0.02238, omch2=0.1201, mnu=0.06, nnu=3.044, tau=0.0543,
                As=2.1e-9, ns=0.9660)


@pytest.fixture(scope="session", autouse=True)
def _table_cache(tmp_path_factory):
    """The fiducial tables' disk cache in the session's temporary folder (inherited by the CLI's
    subprocesses): tests never write to the user's cache, and share what one computes."""
    os.environ["NUMASS_CACHE_DIR"] = str(tmp_path_factory.mktemp("numass-tables"))


def _data_dir() -> Path | None:
    d = os.environ.get("NUMASS_DATA_DIR")
    return Path(d) if d and Path(d).is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if d is None:
        pytest.skip("needs the public data sets: set NUMASS_DATA_DIR to a folder holding them "
                    "(`numass data fetch --all`); CI sets it to ../shared/data")
    return d


def need_dataset(data_dir: Path, folder: str) -> Path:
    p = data_dir / folder
    if not p.is_dir():
        pytest.skip(f"data set '{folder}' not in {data_dir}")
    return p


def camb_spectra(lmax: int = 3000, **overrides) -> Spectra:
    """Lensed CAMB spectra in numass's layout at FIDUCIAL (+ overrides)."""
    import camb

    p = {**FIDUCIAL, **overrides}
    pars = camb.set_params(H0=p["H0"], ombh2=p["ombh2"], omch2=p["omch2"], mnu=p["mnu"],
                           nnu=p["nnu"], tau=p["tau"], As=p["As"], ns=p["ns"],
                           lmax=lmax + 500, lens_potential_accuracy=1, WantTensors=False)
    res = camb.get_results(pars)
    cls = res.get_cmb_power_spectra(pars, CMB_unit="muK", raw_cl=False, lmax=lmax)
    lensed, pp = cls["total"], cls["lens_potential"][:, 0]
    ell = np.arange(lmax + 1)
    return Spectra(ell=ell, tt=lensed[:, 0], te=lensed[:, 3], ee=lensed[:, 1], bb=lensed[:, 2], pp=pp)


@pytest.fixture(scope="session")
def fiducial_spectra() -> Spectra:
    return camb_spectra()


# likelihoods that use CMB spectra, with the data folder each needs (for parametrized χ² checks)
SPECTRA_LIKELIHOODS = [
    ("act-dr6-lensing", "act_dr6_lensing_v0"),
    ("planck2018-plik-lite-TTTEEE", "planck2018_lite"),
    ("planck-pr4-lensing", "planck_pr4_lensing"),
]


def spectra_errors(ref, test) -> tuple[float, float]:
    """(max |ΔC_TT|/σ_CV over 30 <= ℓ <= 2508, max relative C_L^φφ error over 8 <= L <= 1250)
    of TheoryProducts ``test`` against ``ref``."""
    import numpy as np

    ell, L = np.arange(30, 2509), np.arange(8, 1251)
    sig = ref.spectra.tt[ell] * np.sqrt(2 / (2 * ell + 1))
    return (float(np.max(np.abs(test.spectra.tt[ell] - ref.spectra.tt[ell]) / sig)),
            float(np.max(np.abs(test.spectra.pp[L] / ref.spectra.pp[L] - 1))))


def mirror_background(params: dict):
    """numass's background under the observable-level mirror X(-m) = 2 X(0) - X(m) of every X
    (docs/physics.md), to measure it against the native sign flip of the mass-dependent density,
    from which it differs at O(m^2)."""
    m = float(params.get("mnu", 0.0))
    if m >= 0:
        return compute_background(params)
    return MirroredBackground(compute_background({**params, "mnu": 0.0}),
                              compute_background({**params, "mnu": -m}),
                              scalars=(*BACKGROUND_SCALARS, "rstar", "DM_star", "omegam",
                                       "omnuh2", "h"))
