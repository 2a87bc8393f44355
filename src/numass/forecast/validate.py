"""Validation of the forecast machinery against today's data and a published forecast.

``today_sigma_mnu``: the Fisher matrix of today's full likelihoods (DESI DR2 BAO + plik_lite
TTTEEE + low-ell TT + τ prior + ACT DR6 lensing) at numass's ΛCDM best fit, as half the
central-difference Hessian of their chi^2 (the same ``engine.hessian_chi2`` that is checked
against J^T J on the mocks), to compare with the measured posterior width 0.052 eV
(docs/compare.md, `numass compare --data full`).
"""
from __future__ import annotations

import numpy as np

from numass.forecast.engine import hessian_chi2, marginal_sigmas
from numass.forecast.truths import EMBEDDED_TRUTHS

MEASURED_SIGMA_MNU_FULL = 0.052  # eV, ΛCDM + Σmν,eff on --data full (docs/compare.md)
A_PLANCK_BESTFIT = 1.000326  # plik_lite's calibration at the same best fit
# Allison et al. 2015 (arXiv:1509.07471): CMB-S4 + DESI σ(Σmν) with a cosmic-variance-limited τ
# (15-19 meV, depending on the lowest multipole), and with today's τ (about 26 meV)
ALLISON_S4_DESI_CV_TAU = (0.015, 0.019)
ALLISON_S4_DESI_TODAY_TAU = 0.026
# Euclid Collaboration: Archidiacono et al. 2024 (arXiv:2405.06047, A&A 693, A58): Euclid's
# primary probes + Planck, ΛCDM + Σmν at 60 meV: σ(Σmν) = 23 meV
EUCLID_PLANCK = "planck+planck_tau+euclid_spec+euclid_shear"
EUCLID_PLANCK_SIGMA_MNU = 0.023
EUCLID_PLANCK_SETUP = (
    "there: the photometric 3x2pt (shear, galaxy clustering and their cross-correlation) with "
    "intrinsic alignments and photo-z nuisances, the full spectroscopic P(k) (MCMC and Fisher), "
    "Planck's likelihood; here: shear alone (ell <= 1500, no IA), spectroscopic D_M, D_H, "
    "f sigma8 compressed, a Planck-like TT/TE/EE (33 uK-arcmin, f_sky 0.6) + lowE tau")


def today_sigma_mnu(data_dir=None, step: float = 0.5) -> dict:
    """σ(Σmν,eff) and every marginal σ from the Hessian of today's chi^2 at the best fit."""
    from numass.inference.posterior import BatchPosterior
    from numass.likelihoods import FULL
    from numass.models import get_model, sampled_params

    post = BatchPosterior.build("lcdm", list(FULL), data_dir=data_dir, backend="emulator-box")
    best = {**EMBEDDED_TRUTHS["lcdm"][1], "A_planck": A_PLANCK_BESTFIT}
    widths = {p.name: p.proposal for p in sampled_params(get_model("lcdm"), True)}
    x = np.array([best[n] for n in post.names])
    h = step * np.array([widths.get(n, 0.0025) for n in post.names])
    fisher = hessian_chi2(lambda pts: -2.0 * post(pts), x, h)
    return {"names": post.names, "sigmas": marginal_sigmas(fisher, post.names),
            "fisher": fisher.tolist()}
