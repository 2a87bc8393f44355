"""Tension metrics and posterior summaries against closed-form Gaussian answers."""
import numpy as np
import pytest
from scipy.stats import norm, skewnorm

from numass.stats import (
    FLOORS,
    bayes_sigma,
    bayes_tension,
    effective_sample_size,
    profile_sigma,
    summarize_1d,
)


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


def _ar1(n: int, rho: float, seed: int) -> np.ndarray:
    """A correlated chain with a standard-normal marginal (AR(1): x_i = rho x_{i-1} + noise)."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n) * np.sqrt(1 - rho**2)
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for i in range(1, n):
        x[i] = rho * x[i - 1] + e[i]
    return x


def _collapsed_metropolis(n: int, step: float, seed: int):
    """A Metropolis chain on N(0, 1) stored as Cobaya does: repeated points once, with counts."""
    rng = np.random.default_rng(seed)
    x, pts, counts = 0.0, [0.0], [0]
    for _ in range(n):
        y = x + step * rng.standard_normal()
        if np.log(rng.random()) < 0.5 * (x * x - y * y):
            x = y
            pts.append(x)
            counts.append(1)
        else:
            counts[-1] += 1
    return np.array(pts), np.array(counts, dtype=float)


def test_effective_sample_size_of_correlated_chains():
    n, rho = 60000, 0.9
    expected = n * (1 - rho) / (1 + rho)  # AR(1): tau_int = (1 + rho) / (1 - rho)
    assert effective_sample_size(_ar1(n, rho, 3)) == pytest.approx(expected, rel=0.2)
    assert effective_sample_size(np.random.default_rng(4).standard_normal(20000)) == \
        pytest.approx(20000, rel=0.1)
    # multiplicity weights: the ESS of the chain's steps, not the number of stored rows
    x, w = _collapsed_metropolis(60000, 0.5, 5)
    steps = np.repeat(x, w.astype(int))
    assert effective_sample_size(x, w) == pytest.approx(effective_sample_size(steps), rel=1e-9)
    assert effective_sample_size(x, w) < 0.2 * len(x)
    # importance weights: Kish's formula
    iw = np.array([1.0, 0.5, 0.25, 0.25])
    assert effective_sample_size(np.arange(4.0), iw) == pytest.approx(4.0 / 1.375)


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("truth", [3.0, 3.5, 4.0])
def test_tail_of_a_correlated_chain_is_within_015_sigma(seed, truth):
    # AR(1) chain with a N(0,1) marginal: the posterior mass above the floor is analytic
    x = _ar1(60000, 0.9, seed)
    floor = norm.isf(2 * norm.sf(truth))  # P(x >= floor) = the two-sided tail of `truth` sigma
    t = bayes_tension(x, None, floor)
    # at most a few effective samples up there (ESS ~ 3000): the tail is extrapolated
    assert t.extrapolated and t.method == "gaussian"
    assert abs(t.sigma - truth) < 0.15
    # the bound the samples alone support is never above the truth
    assert t.sigma_bound <= truth
    assert not t.lower_bound


@pytest.mark.parametrize("seed", [21, 22])
def test_tail_of_a_collapsed_metropolis_chain(seed):
    x, w = _collapsed_metropolis(200000, 0.6, seed)
    truth = 3.5
    t = bayes_tension(x, w, norm.isf(2 * norm.sf(truth)))
    assert abs(t.sigma - truth) < 0.15 and t.sigma_bound <= truth


def test_counted_when_the_tail_is_resolved():
    x = _ar1(60000, 0.9, 7)
    floor = 1.0
    t = bayes_tension(x, None, floor)
    p = np.mean(x >= floor)
    assert t.method == "counted" and not t.extrapolated
    assert t.sigma == pytest.approx(norm.isf(p / 2))
    assert abs(t.sigma - norm.isf(norm.sf(1.0) / 2)) < 0.1


def test_skewed_marginal_uses_a_skew_normal_fit():
    a = 4.0
    x = skewnorm.rvs(a, size=40000, random_state=np.random.default_rng(8))
    truth = 3.5
    floor = skewnorm.isf(2 * norm.sf(truth), a)
    t = bayes_tension(x, None, floor)
    assert t.method == "skew-normal"
    assert abs(t.sigma - truth) < 0.15
    # a Gaussian fit would be far off on this marginal
    gauss = norm.isf(norm.sf(floor, x.mean(), x.std()) / 2)
    assert abs(gauss - truth) > 0.3


def test_bayes_sigma_counts_weights():
    x = np.repeat([-0.2, -0.1, 0.0, 0.1], 2000)
    w = np.repeat([1.0, 1.0, 1.0, 3.0], 2000) * (1 + 1e-9)  # importance weights
    assert bayes_sigma(x, w, 0.05) == pytest.approx(norm.isf(0.5 / 2))
    # nothing above the floor: extrapolated, finite
    assert np.isfinite(bayes_sigma(x, None, 1.0))


def test_profile_sigma():
    assert profile_sigma(10.0, 19.0, -0.1, 0.0588) == pytest.approx(3.0)
    assert profile_sigma(10.0, 19.0, 0.08, 0.0588) == 0.0  # best fit already above the floor
    assert profile_sigma(10.0, 9.99, -0.1, 0.0588) == 0.0  # numerical noise never gives NaN
    # a constrained fit that found no finite point is "not measured", not an infinite tension
    assert np.isnan(profile_sigma(10.0, np.inf, -0.1, 0.0588))


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


def test_a_fit_heavier_than_the_samples_allow_gives_the_bound():
    # a marginal with light tails (uniform): the Gaussian fit puts far more mass above the floor
    # than the many samples there allow, so the figure is the samples' 95% bound, marked as such
    x = np.random.default_rng(9).uniform(-1.0, 1.0, 200000)
    t = bayes_tension(x, None, 0.9999)
    assert t.method == "bound" and t.lower_bound and not t.extrapolated
    assert t.sigma == t.sigma_bound
    assert t.sigma <= norm.isf(0.00005 / 2)  # the true tail mass 5e-5: a bound below the truth
