"""The compressed CMB likelihood DESI uses with BAO: a Gaussian in (theta_*, omega_b, omega_bc).

It carries the early-universe information of the CMB (the acoustic angle and the physical
densities) without spectra, so that it combines with BAO through the background alone.
omega_bc = omega_b + omega_c excludes neutrinos. Numbers: numass.data.embedded.
"""
from __future__ import annotations

import numpy as np

from numass.data import embedded
from numass.errors import InputError
from numass.likelihoods.base import Likelihood
from numass.theory.products import TheoryProducts


class CompressedCMB(Likelihood):
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
        r = np.array([bg.theta_star / 100.0, ombh2, ombh2 + omch2]) - self.mean
        return -0.5 * float(r @ self.inv_cov @ r)
