"""Gaussian tau prior: values, named published priors, bad input."""
from __future__ import annotations

import pytest

from numass.errors import InputError
from numass.likelihoods import get_likelihood
from numass.likelihoods.tau_prior import TAU_PRIORS, TauPrior
from numass.theory.products import TheoryProducts


def at(tau):
    return TheoryProducts(params={"tau": tau})


def test_default_is_planck2018_lowE():
    lik = get_likelihood("tau-prior")
    assert (lik.mean, lik.sigma) == (0.0544, 0.0073)
    assert lik.requires == {"params"} and lik.nuisance == ()
    assert lik.chi2(at(0.0544)) == 0.0
    assert lik.chi2(at(0.0544 + 0.0073)) == pytest.approx(1.0, rel=1e-12)
    assert lik.chi2(at(0.0544 - 2 * 0.0073)) == pytest.approx(4.0, rel=1e-12)
    assert lik.loglike(at(0.07)) == pytest.approx(-0.5 * ((0.07 - 0.0544) / 0.0073) ** 2)


def test_named_and_explicit_priors():
    assert set(TAU_PRIORS) >= {"planck2018-lowE", "planck-pr4"}
    assert TAU_PRIORS["planck2018-lowE"][:2] == (0.0544, 0.0073)
    assert TAU_PRIORS["planck-pr4"][:2] == (0.058, 0.006)
    assert all("arXiv:" in cite for *_, cite in TAU_PRIORS.values())
    pr4 = TauPrior(prior="planck-pr4")
    assert pr4.chi2(at(0.064)) == pytest.approx(1.0, rel=1e-12)
    wide = TauPrior(mean=0.09, sigma=0.02)
    assert wide.chi2(at(0.05)) == pytest.approx(4.0, rel=1e-12)
    assert TauPrior(sigma=0.0146).sigma == 0.0146 and TauPrior(sigma=0.0146).mean == 0.0544


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
