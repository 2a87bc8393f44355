"""Gaussian tau prior: the cited baseline, named priors, batches, normalisation, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from numass.errors import InputError
from numass.likelihoods import get_likelihood
from numass.likelihoods.tau_prior import DEFAULT_PRIOR, TAU_PRIORS, TauPrior
from numass.theory.batch import BatchProducts
from numass.theory.products import TheoryProducts


def at(tau):
    return TheoryProducts(params={"tau": tau})


def test_baseline_is_planck2018_lowE_alone():
    """Planck 2018 VI (arXiv:1807.06209) Sect. 2.2.3: tau = 0.0506 +- 0.0086 (68%, lowE)."""
    assert DEFAULT_PRIOR == "planck2018-lowE"
    mean, sigma, cite = TAU_PRIORS[DEFAULT_PRIOR]
    assert (mean, sigma) == (0.0506, 0.0086)
    assert "1807.06209" in cite and "Sect. 2.2.3" in cite and "lowE alone" in cite
    lik = get_likelihood("tau-prior")
    assert (lik.mean, lik.sigma) == (0.0506, 0.0086)
    assert lik.requires == {"params"} and lik.nuisance == ()
    assert lik.chi2(at(0.0506)) == 0.0
    assert lik.chi2(at(0.0506 + 0.0086)) == pytest.approx(1.0, rel=1e-12)
    assert lik.chi2(at(0.0506 - 2 * 0.0086)) == pytest.approx(4.0, rel=1e-12)
    assert lik.loglike(at(0.07)) == pytest.approx(-0.5 * ((0.07 - 0.0506) / 0.0086) ** 2)


def test_named_and_explicit_priors():
    assert set(TAU_PRIORS) >= {"planck2018-lowE", "planck2018-TTTEEE-lowE-lensing", "planck-pr4"}
    # the former baseline, the TT,TE,EE+lowE+lensing posterior (Table 2), kept for comparison
    assert TAU_PRIORS["planck2018-TTTEEE-lowE-lensing"][:2] == (0.0544, 0.0073)
    assert TAU_PRIORS["planck-pr4"][:2] == (0.058, 0.006)
    assert all("arXiv:" in cite for *_, cite in TAU_PRIORS.values())
    pr4 = TauPrior(prior="planck-pr4")
    assert pr4.chi2(at(0.064)) == pytest.approx(1.0, rel=1e-12)
    joint = TauPrior(prior="planck2018-TTTEEE-lowE-lensing")
    assert joint.chi2(at(0.0544 - 0.0073)) == pytest.approx(1.0, rel=1e-12)
    wide = TauPrior(mean=0.09, sigma=0.02)
    assert wide.chi2(at(0.05)) == pytest.approx(4.0, rel=1e-12)
    assert TauPrior(sigma=0.0172).sigma == 0.0172 and TauPrior(sigma=0.0172).mean == 0.0506


def test_batch_matches_points_and_fails_rows():
    lik = TauPrior()
    tau = np.array([0.03, 0.0506, np.nan, 0.09, np.inf, 0.06])
    ok = np.array([True, True, True, True, True, False])
    batch = BatchProducts(params={"tau": tau, "H0": np.full(6, 67.0)}, ok=ok)
    got = lik.loglike_batch(batch)
    assert got.shape == (6,)
    for i in (0, 1, 3):
        assert got[i] == pytest.approx(lik.loglike(at(tau[i])), rel=1e-14, abs=0)
    assert np.all(np.isneginf(got[[2, 4, 5]]))
    # the generic looping version agrees wherever it returns a value
    from numass.likelihoods.base import Likelihood

    generic = Likelihood.loglike_batch(lik, batch)
    np.testing.assert_allclose(got, generic, rtol=1e-14)
    with pytest.raises(InputError, match="tau"):
        lik.loglike_batch(BatchProducts(params={"H0": np.ones(2)}, ok=np.ones(2, bool)))


@pytest.mark.parametrize("prior,lo,hi", [("planck2018-lowE", 0.01, 0.8),
                                         ("planck-pr4", 0.01, 0.8),
                                         ("planck2018-lowE", 0.04, 0.12),
                                         ("planck2018-lowE", 0.09, 0.2)])
def test_log_normalisation_is_the_integral(prior, lo, hi):
    lik = TauPrior(prior=prior)
    numeric, _ = quad(lambda t: math.exp(lik.loglike(at(t))), lo, hi, points=[lik.mean],
                      epsabs=0, epsrel=1e-12, limit=200)
    assert lik.log_normalisation(lo, hi) == pytest.approx(math.log(numeric), abs=1e-9)
    # inside a range many sigma wide it is the full Gaussian's sqrt(2 pi) sigma
    if lo <= lik.mean - 4 * lik.sigma and hi >= lik.mean + 6 * lik.sigma:
        full = math.log(math.sqrt(2 * math.pi) * lik.sigma)
        assert lik.log_normalisation(lo, hi) == pytest.approx(full, abs=1e-4)
    with pytest.raises(InputError):
        lik.log_normalisation(hi, lo)


@pytest.mark.parametrize("kwargs", [dict(sigma=0.0), dict(sigma=-0.01), dict(sigma=float("nan")),
                                    dict(mean=float("inf")), dict(mean="abc"),
                                    dict(prior="wmap9"), dict(width=0.01)])
def test_bad_options(kwargs):
    with pytest.raises(InputError):
        TauPrior(**kwargs)


def test_bad_theory():
    lik = TauPrior()
    with pytest.raises(InputError, match="tau"):
        lik.chi2(TheoryProducts(params={"H0": 67.0}))
    with pytest.raises(InputError, match="tau"):
        lik.chi2(at(float("nan")))
