"""Gaussian prior on the reionization optical depth tau, in place of a low-ell EE likelihood.

chi^2 = ((tau - mean) / sigma)^2. The CMB at ell > 30 fixes A_s exp(-2 tau), so this prior is
what pins A_s, and with it the predicted lensing that drives the neutrino-mass constraint.

The default stands for Planck's low-ell EE likelihood alone (docs/tau.md): the full data already
hold the high-ell spectra (plik_lite), so a tau from a fit that includes them would count those
spectra twice.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from numass.errors import InputError
from numass.likelihoods._batch import batch_size, loglike_rows, nuisance_rows, param_rows
from numass.likelihoods.base import Likelihood
from numass.theory.batch import BatchProducts
from numass.theory.products import TheoryProducts

# name -> (mean, sigma, citation)
TAU_PRIORS: dict[str, tuple[float, float, str]] = {
    "planck2018-lowE": (
        0.0506, 0.0086,
        ("Planck 2018 VI, arXiv:1807.06209, Sect. 2.2.3: lowE alone (SimAll EE, 2 <= ell <= 29, "
         "with the Commander low-ell TT likelihood; ln(10^10 A_s) and tau varied, the other "
         "parameters fixed to a fiducial base-LCDM model), 68%; quoted symmetric")),
    "planck2018-TTTEEE-lowE-lensing": (
        0.0544, 0.0073,
        ("Planck 2018 VI, arXiv:1807.06209, Table 2, TT,TE,EE+lowE+lensing posterior (numass's "
         "baseline before issue 16; it holds the high-ell spectra, so beside plik_lite it counts "
         "them twice)")),
    "planck-pr4": (
        0.058, 0.006,
        ("Planck PR4 (NPIPE), HiLLiPoP + LoLLiPoP: Tristram et al. 2024, A&A 682, A37, "
         "arXiv:2309.10034 (rounded; the PR4 reionisation analysis, Ilic et al. 2025, A&A 700, "
         "A26, arXiv:2504.13254, finds 0.0576 +- 0.0060); not low-ell polarization alone")),
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

    ``TauPrior()`` is Planck 2018 lowE alone, tau = 0.0506 +- 0.0086. Explicit ``mean``/``sigma``
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

    def log_normalisation(self, lo: float, hi: float) -> float:
        """ln of the integral of exp(loglike) over lo <= tau <= hi (exact, through the normal
        CDF): what makes this unnormalised likelihood a proper prior on a bounded tau range."""
        if not hi > lo:
            raise InputError(f"TauPrior: empty tau range [{lo}, {hi}]")
        a, b = (lo - self.mean) / self.sigma, (hi - self.mean) / self.sigma
        # the mass between a and b, from the tail it lies in (no cancellation far out)
        mass = ndtr(b) - ndtr(a) if a < 0 else ndtr(-a) - ndtr(-b)
        if not mass > 0:
            raise InputError(f"TauPrior: no prior mass in [{lo}, {hi}] (mean {self.mean}, "
                             f"sigma {self.sigma})")
        return math.log(math.sqrt(2 * math.pi) * self.sigma) + math.log(mass)
