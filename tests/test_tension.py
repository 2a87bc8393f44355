"""Tension metrics and posterior summaries against closed-form Gaussian answers."""
import numpy as np
import pytest
from scipy.stats import norm

from numass.stats import FLOORS, bayes_sigma, profile_sigma, summarize_1d


def test_floors_are_the_oscillation_limits():
    assert FLOORS == {"normal_ordering": 0.0588, "inverted_ordering": 0.099}


@pytest.mark.parametrize("k", [1.0, 2.0, 3.0])
def test_bayes_sigma_of_gaussian_posterior(k):
    # a Gaussian posterior whose mass above the floor is the two-sided k-sigma tail gives k
    mean, sd = -0.1, 0.05
    p = 2 * norm.sf(k)  # two-sided tail probability of k sigma
    floor = norm.isf(p, loc=mean, scale=sd)
    x = np.linspace(mean - 10 * sd, mean + 10 * sd, 400001)
    w = norm.pdf(x, mean, sd)
    assert bayes_sigma(x, w, floor) == pytest.approx(k, abs=2e-3)


def test_bayes_sigma_weights_and_resolution_cap():
    x = np.array([-0.2, -0.1, 0.0, 0.1])
    assert bayes_sigma(x, np.array([1, 1, 1, 1.0]), 0.05) == pytest.approx(norm.isf(0.25 / 2))
    assert bayes_sigma(x, np.array([1, 1, 1, 3.0]), 0.05) == pytest.approx(norm.isf(0.5 / 2))
    # nothing above the floor: capped at the chain's resolution, finite
    assert np.isfinite(bayes_sigma(x, None, 1.0))


def test_profile_sigma():
    assert profile_sigma(10.0, 19.0, -0.1, 0.0588) == pytest.approx(3.0)
    assert profile_sigma(10.0, 19.0, 0.08, 0.0588) == 0.0  # best fit already above the floor
    assert profile_sigma(10.0, 9.99, -0.1, 0.0588) == 0.0  # numerical noise never gives NaN


def test_summarize_1d_gaussian():
    rng = np.random.default_rng(1)
    x = rng.normal(-0.1, 0.05, 400000)
    s = summarize_1d(x)
    assert s["mean"] == pytest.approx(-0.1, abs=5e-4)
    assert s["std"] == pytest.approx(0.05, rel=5e-3)
    assert s["median"] == pytest.approx(-0.1, abs=5e-4)
    assert s["lower68"] == pytest.approx(-0.15, abs=1e-3)
    assert s["upper68"] == pytest.approx(-0.05, abs=1e-3)
    assert s["upper95"] == pytest.approx(-0.1 + 1.6449 * 0.05, abs=1e-3)
