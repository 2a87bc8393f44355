"""Synthetic (Asimov) likelihoods: each experiment as a whitened residual vector.

A mock is built from the truth's theory products: its data vector is the truth's prediction (no
noise) and its Gaussian covariance C is evaluated at the truth. ``residual(products)`` returns
L^-1 (model - data) for every row (n, m), L the Cholesky factor of C, so chi^2 = |residual|^2 and
the chi^2 of independent experiments add by concatenating their residuals. Rows where the theory
failed are NaN.
"""
from __future__ import annotations

import numpy as np

from numass.errors import InputError
from numass.forecast.euclid_spec import EuclidSpecMock
from numass.forecast.noise import (
    bandpower_matrix,
    bandpower_variance,
    cl_to_dl,
    cmb_block_cov,
    lensing_noise_kappa,
    nan_failed,
    pp_to_kappa,
    white_noise_cl,
    whiten_blocks,
)
from numass.forecast.shear import EuclidShearMock
from numass.forecast.specs import Experiment
from numass.theory.batch import BatchProducts


class CmbPrimaryMock:
    """Lensed TT/TE/EE at lmin..lmax, white noise with a Gaussian beam, f_sky; the per-ell
    3 x 3 Gaussian covariance (no correlation between multipoles)."""

    def __init__(self, exp: Experiment, truth: BatchProducts):
        s = exp.spec
        self.sel = slice(s["lmin"], s["lmax"] + 1)
        ell = np.arange(s["lmin"], s["lmax"] + 1, dtype=float)
        if truth.spectra is None or truth.spectra.lmax < s["lmax"]:
            raise InputError(f"{exp.id}: the truth's spectra do not reach ell = {s['lmax']}")
        self.data = self._vector(truth)[0]
        ntt = cl_to_dl(ell, white_noise_cl(ell, s["noise_T_uKarcmin"], s["beam_arcmin"]))
        nee = cl_to_dl(ell, white_noise_cl(ell, np.sqrt(2) * s["noise_T_uKarcmin"],
                                           s["beam_arcmin"]))
        tt, te, ee = self.data.reshape(-1, 3).T
        cov = cmb_block_cov(tt, te, ee, ntt, nee, ell, s["fsky"])
        self.linv = np.linalg.inv(np.linalg.cholesky(cov))  # (n_ell, 3, 3)

    def _vector(self, p: BatchProducts) -> np.ndarray:
        sp = p.spectra
        assert sp is not None  # the CMB experiments' products hold spectra
        return np.stack([sp.tt[:, self.sel], sp.te[:, self.sel], sp.ee[:, self.sel]],
                        axis=-1).reshape(p.n, -1)

    def residual(self, p: BatchProducts) -> np.ndarray:
        return whiten_blocks(self.linv, (self._vector(p) - self.data).reshape(p.n, -1, 3), p.ok)


class LensingMock:
    """C_L^kappakappa bandpowers over Lmin..Lmax with pyfisher's minimum-variance N_L and the
    Gaussian bandpower variance (bins independent)."""

    def __init__(self, exp: Experiment, truth: BatchProducts):
        s = exp.spec
        self.sel = slice(s["Lmin"], s["Lmax"] + 1)
        self.ell = np.arange(s["Lmin"], s["Lmax"] + 1, dtype=float)
        _, self.b = bandpower_matrix(s["Lmin"], s["Lmax"], s["bin_width"])
        kappa = self._kappa(truth)[0]
        self.data = self.b @ kappa
        noise = lensing_noise_kappa(s["noise_file"], self.ell)
        self.sigma = np.sqrt(bandpower_variance(self.ell, kappa, noise, s["fsky"], self.b))

    def _kappa(self, p: BatchProducts) -> np.ndarray:
        assert p.spectra is not None  # the lensing experiments' products hold spectra
        return pp_to_kappa(self.ell, p.spectra.pp[:, self.sel])

    def residual(self, p: BatchProducts) -> np.ndarray:
        return nan_failed(p.ok, (self._kappa(p) @ self.b.T - self.data) / self.sigma)


class BaoMock:
    """DESI's D_V/r_d, D_M/r_d, D_H/r_d at DR2's redshifts, DR2's covariance times cov_scale."""

    def __init__(self, exp: Experiment, truth: BatchProducts, data_dir=None):
        from numass.likelihoods.bao import DesiBAO

        self.lik = DesiBAO(data_dir, release="dr2")
        self.data = self.lik.theory_rows(truth, truth.n)[0]
        self.whiten = self.lik._whiten / np.sqrt(exp.spec["cov_scale"])

    def residual(self, p: BatchProducts) -> np.ndarray:
        r = self.lik.theory_rows(p, p.n) - self.data
        return nan_failed(p.ok, r @ self.whiten.T)


class TauMock:
    """A Gaussian measurement of the optical depth."""

    def __init__(self, exp: Experiment, truth: BatchProducts):
        self.sigma = exp.spec["sigma_tau"]
        self.data = float(truth.params["tau"][0])

    def residual(self, p: BatchProducts) -> np.ndarray:
        return nan_failed(p.ok, ((np.asarray(p.params["tau"], dtype=float) - self.data)
                             / self.sigma)[:, None])


MOCKS = {"cmb": CmbPrimaryMock, "lensing": LensingMock, "bao": BaoMock, "tau": TauMock,
         "euclid_spec": EuclidSpecMock, "euclid_shear": EuclidShearMock}


def build_mock(exp: Experiment, truth: BatchProducts, data_dir=None):
    """The synthetic likelihood of ``exp`` with the truth's (one-row) products as data."""
    if not exp.built or exp.kind not in MOCKS:
        raise InputError(f"experiment '{exp.id}' has no synthetic likelihood ({exp.status})")
    if exp.kind == "bao":
        return BaoMock(exp, truth, data_dir)
    return MOCKS[exp.kind](exp, truth)
