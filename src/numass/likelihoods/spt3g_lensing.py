"""SPT-3G 2018 CMB-lensing likelihood: 12 band powers of C_L^pp over L = 50-2000 (temperature).

Pan et al. 2023 (arXiv:2308.11608); files as packaged for candl (candl_data ``SPT3G_2018_Lens_v0``).
Model (as candl's yaml data model): W.pp + A_fg * template + [sum_k M_k.C_k - fid], with

- ``lens_and_cmb`` (default; use with primary CMB): response windows ``lens_delta_windows_phicmb``
  on pp and TT (lensed D_ell, muK^2) and ``spt3g_2018_pp_lensing_fiducial_correction_phicmb.txt``;
- ``lens_only``: ``lens_delta_windows_phionly`` on pp only and the ``_phionly`` fiducial correction.

Response-window columns: L, TT, TE, EE, BB, pp. The binned foreground template
(``spt3g_2018_lensing_foreground_template.txt``) is scaled by the nuisance ``A_fg``.
Both variants share band powers and covariance.
"""
from __future__ import annotations

import numpy as np

from numass.data.store import load_text
from numass.errors import DataError
from numass.likelihoods._batch import batch_size, loglike_rows, nuisance_rows
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

DATASET = "spt3g_2018_lensing"
NBINS = 12
LMIN = 2
# candl's yaml names the amplitude 'A_fg' and sets no prior on it (its data model only scales the
# template). The Gaussian N(1, 1) here is numass's choice for the inference layer: amplitude 1 is
# the template as estimated by the collaboration; the width allows anything from none to double.
A_FG = Nuisance("A_fg", 1.0, ("gauss", 1.0, 1.0), r"A_{\rm fg}")
# variant -> (response-window folder, spectra the correction uses, fiducial-correction file)
VARIANTS = {
    "lens_and_cmb": ("lens_delta_windows_phicmb", ("pp", "tt"),
                     "spt3g_2018_pp_lensing_fiducial_correction_phicmb.txt"),
    "lens_only": ("lens_delta_windows_phionly", ("pp",),
                  "spt3g_2018_pp_lensing_fiducial_correction_phionly.txt"),
}
RESPONSE_COLUMNS = ("tt", "te", "ee", "bb", "pp")
IDS = {"lens_and_cmb": "spt3g-2018-lensing", "lens_only": "spt3g-2018-lensing-lensonly"}
TEMPLATE = "spt3g_2018_lensing_foreground_template.txt"
COV = "spt3g_2018_pp_cov.txt"


def load_model(variant: str, data_dir=None) -> BandpowerModel:
    folder, modes, fid_file = VARIANTS[variant]
    data = load_shaped(DATASET, "spt3g_2018_pp_bdp.txt", data_dir, (NBINS,))
    cov = load_shaped(DATASET, COV, data_dir, (NBINS, NBINS))
    rel = "windows/pp_window_functions.txt"
    win = load_text(DATASET, rel, data_dir, ndmin=2)
    if win.shape[1] != NBINS + 1:
        raise DataError(DATASET, rel, f"has {win.shape[1]} columns, expected {NBINS + 1}")
    band = make_window("pp", win[:, 0], win[:, 1:], LMIN, int(win[:, 0].max()), DATASET, rel)
    paths = [f"{folder}/window_{b}.txt" for b in range(NBINS)]
    ells, w = load_bin_windows(DATASET, paths, len(RESPONSE_COLUMNS), data_dir)
    correction = [make_window(k, ells, w[:, :, RESPONSE_COLUMNS.index(k)], LMIN, int(ells.max()),
                              DATASET, folder) for k in modes]
    fid = load_shaped(DATASET, fid_file, data_dir, (NBINS,))
    template = load_shaped(DATASET, TEMPLATE, data_dir, (NBINS,), column=1)
    return BandpowerModel(data, inverse_covariance(cov, DATASET, COV), band, correction, fid,
                          templates={A_FG.name: template})


class SPT3GLensing(Likelihood):
    """SPT-3G 2018 lensing; ``variant``: 'lens_and_cmb' (default, with primary CMB), 'lens_only'."""

    id = "spt3g-2018-lensing"
    dataset = DATASET
    requires = frozenset({"spectra"})
    lmax = 2001
    nuisance = (A_FG,)

    def __init__(self, data_dir=None, variant: str = "lens_and_cmb", **options):
        who = "SPT3GLensing"
        check_no_options(options, who, "data_dir, variant")
        check_variant(variant, VARIANTS, who)
        super().__init__(data_dir=data_dir, variant=variant)
        self.variant = variant
        self.id = IDS[variant]
        self.model = load_model(variant, data_dir)
        self.lmax = self.model.lmax

    def theory_bandpowers(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None
                          ) -> np.ndarray:
        nuis = finite_nuisance(self.nuisance_values(nuisance), self.id)
        arrays = spectra_arrays(theory, self.model.keys, self.lmax, self.id)
        return self.model.model(arrays, amplitudes={A_FG.name: nuis[A_FG.name]})

    def loglike(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None) -> float:
        return -0.5 * self.model.chi2(self.theory_bandpowers(theory, nuisance))

    def loglike_batch(self, theory: BatchProducts, nuisance=None) -> np.ndarray:
        n = batch_size(theory, self.id)
        nuis = nuisance_rows(self, nuisance, n)
        valid = np.asarray(theory.ok) & finite_nuisance_rows(nuis)
        with np.errstate(all="ignore"):  # rows with non-finite spectra are masked below
            arrays = spectra_rows_arrays(theory, self.model, n, self.id)
            model, finite = self.model.model_rows(arrays, amplitudes={A_FG.name: nuis[A_FG.name]},
                                                  kk_from_pp=True)
            chi2 = self.model.chi2_rows(model)
        return loglike_rows(chi2, valid & finite)
