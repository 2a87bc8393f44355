"""Planck PR4 (NPIPE) CMB-lensing likelihood, 9 band powers of C_L^pp over L = 8-400.

Carron, Mirmelstein & Lewis 2022 (arXiv:2206.07773); data and CosmoMC-style .dataset files from
github.com/carronj/planck_PR4_lensing. Variants (as the .dataset files define them):

- ``mv``: minimum-variance (temperature + polarisation) reconstruction, for use WITH primary CMB.
  Model = W.pp + [M_TT.TT + M_EE.EE + M_TE.TE + M_PP.pp - fid], the linear correction for the
  dependence of the reconstruction on the true CMB spectra. The CMB spectra in the correction are
  divided by A_planck^2 (the calibration of the Planck maps), so A_planck is a nuisance here.
- ``mv_marged``: same band powers with the CMB dependence marginalised into the covariance
  (``*_CMBmarged``), for use WITHOUT primary CMB; its correction keeps only the pp term and
  there is no calibration parameter.
- ``polonly``: polarisation-only reconstruction (``PP_..._Ponly``): windows and covariance only, no
  correction; its calibration parameter multiplies no CMB spectrum, so it has no nuisance.

Spectra: ``pp`` = [L(L+1)]^2 C_L^pp/2pi, CMB lensed D_ell in muK^2, read at L = 2..2500 at most.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from numass.data.store import load_text
from numass.errors import DataError, InputError
from numass.likelihoods._batch import batch_size, calibration_rows, loglike_rows, nuisance_rows
from numass.likelihoods.base import Likelihood, Nuisance
from numass.likelihoods.lensing_common import (
    BandpowerModel,
    check_no_options,
    check_variant,
    finite_nuisance,
    finite_nuisance_rows,
    inverse_covariance,
    load_bin_windows,
    load_shaped,
    make_window,
    spectra_arrays,
    spectra_rows_arrays,
)
from numass.theory.batch import BatchProducts
from numass.theory.products import TheoryProducts

DATASET = "planck_pr4_lensing"
NBINS = 9
CL_LMIN, CL_LMAX = 2, 2500  # cl_lmin / cl_lmax of the .dataset files
A_PLANCK = Nuisance("A_planck", 1.0, ("gauss", 1.0, 0.0025), r"y_{\rm cal}")

_MV = "pp_consext8_npipe_smicaed_TiPi_jTP_pre30T_kfilt_rdn0cov_PS1"
_POL = "PP_consext8_npipe_smicaed_Ponly_kfilt_rdn0cov"
# file roots per variant: band powers, band windows, covariance, correction (windows, their
# column order, fiducial correction) or None
VARIANTS: dict[str, dict[str, Any]] = {
    "mv": dict(bandpowers=f"{_MV}_bandpowers.dat", window=f"{_MV}_window",
               cov=f"{_MV}_cov.dat", corr_window=f"{_MV}_lens_delta_window",
               corr_order=("tt", "ee", "te", "pp"),
               corr_fid=f"{_MV}_lensing_fiducial_correction.dat", calibrated=True),
    "mv_marged": dict(bandpowers=f"{_MV}_bandpowers.dat", window=f"{_MV}_window",
                      cov=f"{_MV}_CMBmarged_cov.dat",
                      corr_window=f"{_MV}_CMBmarged_lens_delta_window", corr_order=("pp",),
                      corr_fid=f"{_MV}_CMBmarged_lensing_fiducial_correction.dat",
                      calibrated=False),
    "polonly": dict(bandpowers=f"{_POL}_bandpowers.dat", window=f"{_POL}_window",
                    cov=f"{_POL}_cov.dat", corr_window=None, corr_order=(), corr_fid=None,
                    calibrated=False),
}
BANDPOWER_COLUMN = 4  # bin L_min L_max L_av PP Error Ahat
IDS = {"mv": "planck-pr4-lensing", "mv_marged": "planck-pr4-lensing-marged",
       "polonly": "planck-pr4-lensing-polonly"}


def _windows(folder: str, ncol: int, data_dir) -> tuple[np.ndarray, np.ndarray]:
    """window1.dat .. window9.dat of ``folder`` -> (ells, weights[nL, nbins, ncol])."""
    paths = [f"{folder}/window{b}.dat" for b in range(1, NBINS + 1)]
    return load_bin_windows(DATASET, paths, ncol, data_dir)


def _binned_column(relpath: str, column: int, data_dir) -> np.ndarray:
    """A per-bin file (first column: bin number 1..9) -> the values of ``column``, in bin order."""
    arr = load_text(DATASET, relpath, data_dir, ndmin=2)
    bins = arr[:, 0].astype(int)
    if arr.shape[1] <= column or sorted(bins) != list(range(1, NBINS + 1)):
        raise DataError(DATASET, relpath, f"expected bins 1..{NBINS} with at least {column + 1} "
                        f"columns, got shape {arr.shape}")
    return arr[np.argsort(bins), column]


def load_model(variant: str, data_dir=None) -> BandpowerModel:
    spec = VARIANTS[variant]
    data = _binned_column(spec["bandpowers"], BANDPOWER_COLUMN, data_dir)
    cov = load_shaped(DATASET, spec["cov"], data_dir, (NBINS, NBINS))
    ells, w = _windows(spec["window"], 1, data_dir)
    band = make_window("pp", ells, w[:, :, 0], CL_LMIN, CL_LMAX, DATASET, spec["window"])
    correction, fid = [], None
    if spec["corr_window"]:
        folder, order = spec["corr_window"], spec["corr_order"]
        ells, w = _windows(folder, len(order), data_dir)
        correction = [make_window(k, ells, w[:, :, i], CL_LMIN, CL_LMAX, DATASET, folder)
                      for i, k in enumerate(order)]
        fid = _binned_column(spec["corr_fid"], 1, data_dir)
    inv_cov = inverse_covariance(cov, DATASET, spec["cov"])
    return BandpowerModel(data, inv_cov, band, correction, fid)


class PlanckPR4Lensing(Likelihood):
    """Planck PR4 lensing; ``variant`` in 'mv' (with primary CMB), 'mv_marged', 'polonly'."""

    dataset = DATASET
    requires = frozenset({"spectra"})
    lmax = CL_LMAX

    def __init__(self, data_dir=None, variant: str = "mv", **options):
        who = "PlanckPR4Lensing"
        check_no_options(options, who, "data_dir, variant")
        check_variant(variant, VARIANTS, who)
        super().__init__(data_dir=data_dir, variant=variant)
        self.variant = variant
        self.id = IDS[variant]
        self.calibrated = VARIANTS[variant]["calibrated"]
        self.nuisance = (A_PLANCK,) if self.calibrated else ()
        self.model = load_model(variant, data_dir)
        self.lmax = self.model.lmax

    def theory_bandpowers(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None
                          ) -> np.ndarray:
        nuis = finite_nuisance(self.nuisance_values(nuisance), self.id)
        arrays = spectra_arrays(theory, self.model.keys, self.lmax, self.id)
        scale = 1.0
        if self.calibrated:
            cal = nuis["A_planck"]
            if cal <= 0:
                raise InputError(f"{self.id}: A_planck must be positive, got {cal}")
            scale = cal ** -2
        return self.model.model(arrays, cmb_scale=scale)

    def loglike(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None) -> float:
        return -0.5 * self.model.chi2(self.theory_bandpowers(theory, nuisance))

    def loglike_batch(self, theory: BatchProducts, nuisance=None) -> np.ndarray:
        n = batch_size(theory, self.id)
        nuis = nuisance_rows(self, nuisance, n)
        valid = np.asarray(theory.ok) & finite_nuisance_rows(nuis)
        scale = None
        if self.calibrated:
            cal, cal_ok = calibration_rows(nuis["A_planck"])
            valid &= cal_ok
            scale = cal ** -2
        with np.errstate(all="ignore"):  # rows with non-finite spectra are masked below
            arrays = spectra_rows_arrays(theory, self.model, n, self.id)
            model, finite = self.model.model_rows(arrays, cmb_scale=scale, kk_from_pp=True)
            chi2 = self.model.chi2_rows(model)
        return loglike_rows(chi2, valid & finite)
