"""Planck 2018 low-ell TT (l = 2-29) compressed into two Gaussian bins (Prince & Dunkley 2019).

The Commander low-ell TT likelihood is approximated by two independent Gaussian band powers,
l = 2-15 and l = 16-29 (arXiv:1909.05869, data repackaged in planck-lite-py). Each model band
power is sum_l w_l C_l over the bin, with the released weights; as in planck-lite-py, where the
two bins are appended to plik_lite's TT vector, the model is divided by A_planck^2 (so the same
calibration nuisance is shared with PlikLite).

chi^2 = sum_b ((X_b - X_b^model / A_planck^2) / sigma_b)^2
"""
from __future__ import annotations

import numpy as np

from numass.data.store import load_text
from numass.errors import DataError, InputError
from numass.likelihoods._batch import (
    batch_size,
    calibration_rows,
    finite_rows,
    loglike_rows,
    nuisance_rows,
    spectra_rows,
)
from numass.likelihoods.base import Likelihood
from numass.likelihoods.plik_lite import A_PLANCK, binning_matrix, calibration, spectrum_slice
from numass.theory.batch import BatchProducts
from numass.theory.products import TheoryProducts

DATASET = "planck2018_lite"
SUBDIR = "planck2018_low_ell"
LMIN, LMAX = 2, 29
NBIN = 2


class LowlTT(Likelihood):
    """Two Gaussian low-ell TT bins; nuisance A_planck (shared with PlikLite)."""

    dataset = DATASET
    requires = frozenset({"spectra"})
    lmax = LMAX
    nuisance = (A_PLANCK,)

    def __init__(self, data_dir=None, **options):
        if options:
            raise InputError(f"LowlTT: unknown option(s) {sorted(options)}; it takes only data_dir")
        super().__init__(data_dir=data_dir)
        self.id = self.id or "planck2018-lowl-TT"
        rel = lambda name: f"{SUBDIR}/{name}"
        data = load_text(DATASET, rel("CTT_bin_low_ell_2018.dat"), data_dir, ndmin=2)
        # bin edges are stored relative to the first multipole (plmin_low_ell.dat = 2)
        plmin = int(load_text(DATASET, rel("plmin_low_ell.dat"), data_dir, ndmin=1)[0])
        blmin = load_text(DATASET, rel("blmin_low_ell.dat"), data_dir, ndmin=1).astype(int) + plmin
        blmax = load_text(DATASET, rel("blmax_low_ell.dat"), data_dir, ndmin=1).astype(int) + plmin
        weights = load_text(DATASET, rel("bweight_low_ell.dat"), data_dir, ndmin=1)
        if data.shape != (NBIN, 3) or len(blmin) != NBIN or len(blmax) != NBIN:
            raise DataError(DATASET, rel("CTT_bin_low_ell_2018.dat"),
                            f"expected {NBIN} bins of (ell, C_ell, sigma), got shape {data.shape}")
        if plmin != LMIN or blmin[0] != LMIN or blmax[-1] != LMAX or len(weights) < LMAX - LMIN + 1:
            raise DataError(DATASET, rel("blmin/blmax/bweight_low_ell.dat"),
                            f"bins do not cover ell = {LMIN}..{LMAX}")
        if np.any(data[:, 2] <= 0):
            raise DataError(DATASET, rel("CTT_bin_low_ell_2018.dat"), "non-positive errors")
        self.bin_ell, self.x_data, self.sigma = data[:, 0], data[:, 1], data[:, 2]
        self._binning = binning_matrix(blmin, blmax, weights, LMIN, LMAX)

    def binned_theory(self, theory: TheoryProducts) -> np.ndarray:
        spectra = theory.need_spectra(self.id)
        return self._binning @ spectrum_slice(spectra, "tt", LMIN, LMAX, self.id)

    def loglike(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None) -> float:
        cal = calibration(self.nuisance_values(nuisance), self.id)
        pulls = (self.x_data - self.binned_theory(theory) / cal**2) / self.sigma
        return -0.5 * float(pulls @ pulls)

    def loglike_batch(self, theory: BatchProducts, nuisance=None) -> np.ndarray:
        n = batch_size(theory, self.id)
        cal, cal_ok = calibration_rows(nuisance_rows(self, nuisance, n)["A_planck"])
        dl = spectra_rows(theory, "tt", LMIN, LMAX, n, self.id)
        with np.errstate(all="ignore"):  # rows with non-finite spectra are masked below
            pulls = (self.x_data - (dl @ self._binning.T) / cal[:, None] ** 2) / self.sigma
            chi2 = np.einsum("ij,ij->i", pulls, pulls)
        return loglike_rows(chi2, np.asarray(theory.ok) & cal_ok & finite_rows(dl))
