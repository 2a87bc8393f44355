"""ACT DR6 CMB-lensing likelihood (baseline: 10 band powers of C_L^kk over L = 40-763).

Madhavacheril et al. 2024 (arXiv:2304.05203), Qu et al. 2024 (arXiv:2304.05202); files as packaged
for candl (candl_data ``ACT_DR6_Lens_v0``). C_L^kk = [L(L+1)]^2 C_L^pp / 4 = pp * 2pi/4.

- ``lens_and_cmb`` (use with primary CMB): covariance ``*_lens_and_CMB`` and the linear correction
  M_kk.kk + M_TT.TT + M_TE.TE + M_EE.EE + M_BB.BB - fid, with the response windows
  ``lens_delta_windows_phicmb/window_i.txt`` (columns L, TT, TE, EE, BB, kk; CMB as lensed D_ell in
  muK^2) and ``fiducial_correction.txt``, exactly as candl's ``ResponseFunctionM`` (the v0 data
  have no normalisation-correction ``NormCorr`` step).
- ``lens_only``: covariance ``*_lens_only`` and no correction (CMB dependence marginalised).

Band windows ``windows/kk_window_functions.txt``: rows L = 2..2999, one column per bin.
"""
from __future__ import annotations

import numpy as np

from numass.data.store import load_text
from numass.errors import DataError
from numass.likelihoods._batch import batch_size, loglike_rows, nuisance_rows
from numass.likelihoods.base import Likelihood
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

DATASET = "act_dr6_lensing_v0"
NBINS = 10
LMIN = 2  # windows start at L = 2
COVARIANCE = {"lens_and_cmb": "ACT_DR6_kk_cov_lens_and_CMB.txt",
              "lens_only": "ACT_DR6_kk_cov_lens_only.txt"}
IDS = {"lens_and_cmb": "act-dr6-lensing", "lens_only": "act-dr6-lensing-lensonly"}
# columns of the response windows after the L column
RESPONSE_COLUMNS = ("tt", "te", "ee", "bb", "kk")


def load_model(variant: str, data_dir=None) -> BandpowerModel:
    data = load_shaped(DATASET, "ACT_DR6_kk_bdp.txt", data_dir, (NBINS,))
    cov = load_shaped(DATASET, COVARIANCE[variant], data_dir, (NBINS, NBINS))
    rel = "windows/kk_window_functions.txt"
    win = load_text(DATASET, rel, data_dir, ndmin=2)
    if win.shape[1] != NBINS + 1:
        raise DataError(DATASET, rel, f"has {win.shape[1]} columns, expected {NBINS + 1}")
    band = make_window("kk", win[:, 0], win[:, 1:], LMIN, int(win[:, 0].max()), DATASET, rel)
    correction, fid = [], None
    if variant == "lens_and_cmb":
        folder = "lens_delta_windows_phicmb"
        paths = [f"{folder}/window_{b}.txt" for b in range(NBINS)]
        ells, w = load_bin_windows(DATASET, paths, len(RESPONSE_COLUMNS), data_dir)
        correction = [make_window(k, ells, w[:, :, i], LMIN, int(ells.max()), DATASET, folder)
                      for i, k in enumerate(RESPONSE_COLUMNS)]
        fid = load_shaped(DATASET, "fiducial_correction.txt", data_dir, (NBINS,))
    inv_cov = inverse_covariance(cov, DATASET, COVARIANCE[variant])
    return BandpowerModel(data, inv_cov, band, correction, fid)


class ACTDR6Lensing(Likelihood):
    """ACT DR6 lensing (v0 baseline); variant 'lens_and_cmb' (with primary CMB) or 'lens_only'."""

    dataset = DATASET
    requires = frozenset({"spectra"})
    lmax = 2999
    nuisance = ()

    def __init__(self, data_dir=None, variant: str = "lens_and_cmb", **options):
        who = "ACTDR6Lensing"
        check_no_options(options, who, "data_dir, variant")
        check_variant(variant, COVARIANCE, who)
        super().__init__(data_dir=data_dir, variant=variant)
        self.variant = variant
        self.id = IDS[variant]
        self.model = load_model(variant, data_dir)
        self.lmax = self.model.lmax

    def theory_bandpowers(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None
                          ) -> np.ndarray:
        finite_nuisance(self.nuisance_values(nuisance), self.id)
        return self.model.model(spectra_arrays(theory, self.model.keys, self.lmax, self.id))

    def loglike(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None) -> float:
        return -0.5 * self.model.chi2(self.theory_bandpowers(theory, nuisance))

    def loglike_batch(self, theory: BatchProducts, nuisance=None) -> np.ndarray:
        n = batch_size(theory, self.id)
        valid = np.asarray(theory.ok) & finite_nuisance_rows(nuisance_rows(self, nuisance, n))
        with np.errstate(all="ignore"):  # rows with non-finite spectra are masked below
            arrays = spectra_rows_arrays(theory, self.model, n, self.id)
            model, finite = self.model.model_rows(arrays, kk_from_pp=True)
            chi2 = self.model.chi2_rows(model)
        return loglike_rows(chi2, valid & finite)
