"""Gaussian prior on the reionization optical depth tau, in place of a low-ell EE likelihood.

chi^2 = ((tau - mean) / sigma)^2. The CMB at ell > 30 fixes A_s exp(-2 tau), so this prior is
what pins A_s, and with it the predicted lensing that drives the neutrino-mass constraint.
"""
from __future__ import annotations

import math

import numpy as np

from numass.errors import InputError
from numass.likelihoods._batch import batch_size, loglike_rows, nuisance_rows, param_rows
from numass.likelihoods.base import Likelihood
from numass.theory.batch import BatchProducts
from numass.theory.products import TheoryProducts

# name -> (mean, sigma, citation)
TAU_PRIORS: dict[str, tuple[float, float, str]] = {
    "planck2018-lowE": (0.0544, 0.0073,
                        "Planck 2018 VI, arXiv:1807.06209 (TT,TE,EE+lowE+lensing, Table 2)"),
    "planck-pr4": (0.058, 0.006,
                   "Planck PR4 (NPIPE), HiLLiPoP + LoLLiPoP: Tristram et al. 2024, A&A 682, A37, "
                   "arXiv:2309.10034 (rounded; the PR4 reionisation analysis, A&A 700, A26 "
                   "(2025), finds 0.0576 +- 0.0060)"),
}
DEFAULT_PRIOR = "planck2018-lowE"


def _checked(value, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"TauPrior: {what} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise InputError(f"TauPrior: {what} must be finite, got {out}")
    return out


class TauPrior(Likelihood):
    """Gaussian tau prior: a named one from TAU_PRIORS, or explicit ``mean`` and ``sigma``.

    ``TauPrior()`` is Planck 2018 lowE, tau = 0.0544 +- 0.0073. Explicit ``mean``/``sigma``
    override the named prior's values one by one.
    """

    dataset = None
    requires = frozenset({"params"})
    params_needed = ("tau",)

    def __init__(self, data_dir=None, mean: float | None = None, sigma: float | None = None,
                 prior: str = DEFAULT_PRIOR, **options):
        if options:
            raise InputError(f"TauPrior: unknown option(s) {sorted(options)}; "
                             f"known: mean, sigma, prior")
        if prior not in TAU_PRIORS:
            raise InputError(f"TauPrior: unknown prior '{prior}'; known: {', '.join(TAU_PRIORS)}")
        base_mean, base_sigma, self.citation = TAU_PRIORS[prior]
        self.mean = _checked(base_mean if mean is None else mean, "mean")
        self.sigma = _checked(base_sigma if sigma is None else sigma, "sigma")
        if self.sigma <= 0:
            raise InputError(f"TauPrior: sigma must be > 0, got {self.sigma}")
        if mean is not None or sigma is not None:
            self.citation = f"user-defined ({self.mean} +- {self.sigma})"
        super().__init__(data_dir=data_dir, mean=self.mean, sigma=self.sigma, prior=prior)
        self.id = self.id or "tau-prior"

    def loglike(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None) -> float:
        tau = theory.need_param("tau", self.id)
        if not math.isfinite(tau):
            raise InputError(f"{self.id}: tau must be finite, got {tau}")
        return -0.5 * ((tau - self.mean) / self.sigma) ** 2

    def loglike_batch(self, theory: BatchProducts, nuisance=None) -> np.ndarray:
        n = batch_size(theory, self.id)
        nuisance_rows(self, nuisance, n)  # shape check only: the prior has no nuisance
        tau = param_rows(theory, "tau", n, self.id)
        chi2 = ((tau - self.mean) / self.sigma) ** 2
        return loglike_rows(chi2, np.asarray(theory.ok) & np.isfinite(tau))
