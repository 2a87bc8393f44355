"""The compressed CMB likelihood DESI uses with BAO: a Gaussian in (theta_*, omega_b, omega_bc).

It carries the early-universe information of the CMB (the acoustic angle and the physical
densities) without spectra, so that it combines with BAO through the background alone.
chi^2 = r^T C^-1 r, r = (theta_* - mean, omega_b - mean, omega_b + omega_c - mean), where
theta_* = r_s(z*)/D_M(z*) in radians (CAMB's derived ``thetastar``/100; the Background carries
100 theta_*) and omega_bc = ombh2 + omch2 excludes the neutrinos. Numbers and citation:
numass.data.embedded (DESI DR2, arXiv:2503.14738, Appendix A).
"""
from __future__ import annotations

import numpy as np

from numass.data import embedded
from numass.errors import InputError, TheoryError
from numass.likelihoods._batch import (
    batch_size,
    loglike_rows,
    nuisance_rows,
    param_rows,
    quadratic_chi2,
    row_vector,
)
from numass.likelihoods.base import Likelihood
from numass.theory.batch import BatchProducts
from numass.theory.products import TheoryProducts


class CompressedCMB(Likelihood):
    """Gaussian in (theta_*, omega_b, omega_bc) as published by DESI DR2 (embedded; no files)."""

    requires = frozenset({"background", "params"})
    params_needed = ("ombh2", "omch2")

    def __init__(self, data_dir=None, **options):
        if options:
            raise InputError(f"cmb-compressed takes no options, got {sorted(options)}")
        super().__init__(data_dir)
        self.mean = embedded.CMB_COMPRESSED_MEAN
        self.inv_cov = np.linalg.inv(embedded.CMB_COMPRESSED_COV)

    def loglike(self, theory: TheoryProducts, nuisance=None) -> float:
        who = self.id or "cmb-compressed"
        bg = theory.need_background(who)
        ombh2 = theory.need_param("ombh2", who)
        omch2 = theory.need_param("omch2", who)
        r = np.array([float(bg.theta_star) / 100.0, ombh2, ombh2 + omch2]) - self.mean
        if not np.all(np.isfinite(r)):
            raise TheoryError(f"{who}: non-finite theta_*, omega_b or omega_c")
        return -0.5 * float(r @ self.inv_cov @ r)

    def loglike_batch(self, theory: BatchProducts, nuisance=None) -> np.ndarray:
        who = self.id or "cmb-compressed"
        n = batch_size(theory, who)
        nuisance_rows(self, nuisance, n)  # shape check only: no nuisance parameters
        if theory.background is None:
            raise InputError(f"likelihood '{who}' needs the background expansion but the theory "
                             f"provided none")
        theta = row_vector(theory.background.theta_star, n, "background theta_star", who)
        ombh2 = param_rows(theory, "ombh2", n, who)
        omch2 = param_rows(theory, "omch2", n, who)
        r = np.column_stack([theta / 100.0, ombh2, ombh2 + omch2]) - self.mean
        valid = np.asarray(theory.ok) & np.all(np.isfinite(r), axis=1)
        return loglike_rows(quadratic_chi2(np.where(valid[:, None], r, 0.0), self.inv_cov), valid)
