"""numass forecast: noise formulas, the Fisher and Gauss-Newton machinery on Asimov mocks, and
its validation against today's data (0.052 eV) and Allison et al. 2015 (docs/forecast.md)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from numass.errors import InputError
from numass.forecast import noise, validate
from numass.forecast.engine import (
    Hypothesis,
    Problem,
    fisher,
    gauss_newton,
    hessian_chi2,
    marginal_sigmas,
    residuals,
)
from numass.forecast.run import make_hypothesis, profile_sigma, truth_mocks
from numass.forecast.specs import parse_combination
from numass.forecast.truths import TRUTH_FLOOR, embedded_truths, truths_from_summary

PLANCK = "planck+planck_tau+desi_final"
S4_CV = "s4+s4_lensing+litebird_tau+desi_final"
S4_TODAY = "s4+s4_lensing+planck_tau+desi_final"
needs_pyfisher = pytest.mark.skipif(noise.pyfisher_data_dir() is None,
                                    reason="pyfisher (the 'forecast' extra) is not installed")


def test_white_noise_and_beam():
    # at ell = 0 the noise is the map depth squared; the beam gives e^1 where l(l+1) sigma_b^2 = 1
    n0 = noise.white_noise_cl(np.array([0.0]), 10.0, 5.0)[0]
    assert n0 == pytest.approx((10.0 * noise.ARCMIN) ** 2, rel=1e-12)
    sigma_b = 5.0 * noise.ARCMIN / np.sqrt(8 * np.log(2))
    ell = (-1 + np.sqrt(1 + 4 / sigma_b ** 2)) / 2
    assert noise.white_noise_cl(np.array([ell]), 10.0, 5.0)[0] / n0 == pytest.approx(np.e)


def test_gaussian_covariances():
    ell = np.array([10.0, 100.0])
    cov = noise.cmb_block_cov(np.array([5.0, 5.0]), np.array([1.0, 1.0]), np.array([2.0, 2.0]),
                              np.array([1.0, 1.0]), np.array([0.5, 0.5]), ell, 0.5)
    assert cov[1, 0, 0] == pytest.approx(2 * 36 / (201 * 0.5))
    assert cov[1, 1, 1] == pytest.approx((1 + 6 * 2.5) / (201 * 0.5))
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    # flat bandpowers of a flat spectrum: the variance of the bin's mode-weighted mean
    edges, b = noise.bandpower_matrix(40, 99, 20)
    assert list(edges) == [40, 60, 80, 100]
    e = np.arange(40, 100.0)
    var = noise.bandpower_variance(e, np.ones(60), np.zeros(60), 1.0, b)
    assert var[0] == pytest.approx(np.sum(2 / (2 * e[:20] + 1)) / 400)


@needs_pyfisher
def test_lensing_noise_reads_the_minimum_variance_column():
    path = noise.pyfisher_data_dir() / "so_v3_1_deproj0_goal_fsky0p4_it.dat"
    table = np.loadtxt(path)
    row = table[np.searchsorted(table[:, 0], 500)]
    assert noise.lensing_noise_kappa(path.name, np.array([row[0]]))[0] == row[7]
    assert 1e-9 < row[7] < 1e-6  # a kappa noise (C_L^kk ~ 1e-8 at L = 500), not a phi noise


def test_combinations_are_checked():
    assert parse_combination(PLANCK) == ("planck", "planck_tau", "desi_final")
    for bad in ("planck+nope", "planck+so", "planck+planck_tau+litebird_tau", "euclid", "+"):
        with pytest.raises(InputError):
            parse_combination(bad)


def test_profile_sigma_of_a_parabola():
    off = np.array([-0.04, -0.02, 0.02, 0.04])
    prof = profile_sigma(off, (off / 0.02) ** 2 * np.where(off < 0, 1.0, 0.25))
    assert prof["lower"] == pytest.approx(0.02) and prof["upper"] == pytest.approx(0.04)


@pytest.fixture(scope="module")
def floor():
    """ΛCDM at the floor, its mocks for the Planck-like combination and the Fisher matrix."""
    lcdm = make_hypothesis("lcdm")
    truth = embedded_truths()[TRUTH_FLOOR][1]
    exps = parse_combination(PLANCK)
    mocks = truth_mocks(lcdm, truth, exps)
    x0 = lcdm.point(truth)
    return lcdm, mocks, x0, exps, fisher(lcdm, mocks, x0, {PLANCK: exps})[PLANCK]


def test_mock_of_the_truth_has_zero_chi2(floor):
    lcdm, mocks, x0, _, _ = floor
    r = residuals(lcdm, mocks, x0[None])
    assert sum(float(np.sum(v ** 2)) for v in r.values()) == pytest.approx(0.0, abs=1e-20)


def test_fisher_equals_the_hessian_of_the_mock_chi2(floor):
    lcdm, mocks, x0, exps, f = floor

    def chi2(pts):
        r = residuals(lcdm, mocks, pts)
        return sum(np.sum(r[e] ** 2, axis=1) for e in exps)

    h = hessian_chi2(chi2, x0, 0.5 * lcdm.widths)
    s_j, s_h = marginal_sigmas(f, lcdm.names), marginal_sigmas(h, lcdm.names)
    for n in lcdm.names:
        assert s_h[n] == pytest.approx(s_j[n], rel=0.05), n


def test_gauss_newton_finds_the_truth_and_the_fisher_curvature(floor):
    lcdm, mocks, x0, exps, f = floor
    sig = np.array(list(marginal_sigmas(f, lcdm.names).values()))
    start = Problem(lcdm.clip(x0 + 2 * sig * np.array([1, -1, 1, -1, 1, -1, 1])), exps,
                    np.ones(len(x0), dtype=bool))
    fixed = np.ones(len(x0), dtype=bool)
    m = lcdm.names.index("mnu_eff")
    fixed[m] = False
    x1 = x0.copy()
    x1[m] += sig[m]
    prof = Problem(x1, exps, fixed)  # Σmν,eff held 1 Fisher σ off: Δχ² ≈ 1
    gauss_newton(lcdm, mocks, [start, prof])
    assert start.chi2 < 1e-3
    assert np.all(np.abs(start.x - x0) < 0.05 * sig)
    assert prof.chi2 == pytest.approx(1.0, abs=0.15)


def test_lcdm_rejects_the_w0wa_truth_with_a_mirage_below_zero():
    w0wa_truth = embedded_truths()["w0wa"]
    exps = parse_combination(PLANCK)
    mocks = truth_mocks(Hypothesis("truth", "w0wa"), w0wa_truth[1], exps)
    lcdm, w0wa = make_hypothesis("lcdm"), make_hypothesis("w0wa")
    fits = [Problem(h.point(w0wa_truth[1]), exps, np.ones(len(h.names), dtype=bool))
            for h in (lcdm, w0wa)]
    gauss_newton(lcdm, mocks, fits[:1])
    gauss_newton(w0wa, mocks, fits[1:])
    assert fits[1].chi2 < 1e-6  # the true model fits its own mock
    assert 1.0 < fits[0].chi2 < 100.0
    assert fits[0].x[lcdm.names.index("mnu_eff")] < 0.0  # the negative-mass mirage


def test_truths_from_a_comparison_summary(tmp_path):
    best = {"ombh2": 0.0225, "omch2": 0.12, "theta_MC_100": 1.041, "mnu_eff": -0.2,
            "logA": 3.05, "ns": 0.97, "tau": 0.06, "w": -0.7, "wa": -1.0}
    (tmp_path / "summary.json").write_text(json.dumps({"hypotheses": {"w0wa": {"bestfit": best},
                                                                      "lcdm": {"status": "x"}}}))
    truths = truths_from_summary(tmp_path)
    assert truths["w0wa"] == ("w0wa", best)
    assert truths["lcdm"] == embedded_truths()["lcdm"]
    with pytest.raises(InputError):
        truths_from_summary(tmp_path / "nowhere")


@needs_pyfisher
def test_allison_2015_cmb_s4_plus_desi():
    """Published: CMB-S4 + DESI σ(Σmν) = 15-19 meV with a cosmic-variance-limited τ, ~26 meV
    with today's τ (arXiv:1509.07471). Here: S4 (1 uK-arcmin, 1', f_sky 0.4, ell 30-3000,
    no foregrounds) + S4 lensing (pyfisher N_L) + DESI final (DR2 x 3/5) + σ(τ) = 0.002 or
    Planck lowE's 0.0086, ΛCDM at Σmν = 0.0588 eV; Allison et al. add Planck at low and
    intermediate ell, use DESI's forecast BAO and ~0.01 for today's τ."""
    lcdm = make_hypothesis("lcdm")
    truth = embedded_truths()[TRUTH_FLOOR][1]
    combos = {c: parse_combination(c) for c in (S4_CV, S4_TODAY)}
    mocks = truth_mocks(lcdm, truth, sorted({e for v in combos.values() for e in v}))
    f = fisher(lcdm, mocks, lcdm.point(truth), combos)
    cv = marginal_sigmas(f[S4_CV], lcdm.names)["mnu_eff"]
    today = marginal_sigmas(f[S4_TODAY], lcdm.names)["mnu_eff"]
    lo, hi = validate.ALLISON_S4_DESI_CV_TAU
    assert lo <= cv <= hi
    assert today == pytest.approx(validate.ALLISON_S4_DESI_TODAY_TAU, rel=0.2)
    assert today > cv


def test_today_fisher_matches_the_measured_width(data_dir):
    """The Fisher σ(Σmν,eff) of today's full likelihoods at the ΛCDM best fit is within 20% of
    the posterior width that `numass compare --data full` measured (0.052 eV)."""
    sigma = validate.today_sigma_mnu(data_dir)["sigmas"]["mnu_eff"]
    assert sigma == pytest.approx(validate.MEASURED_SIGMA_MNU_FULL, rel=0.2)


def test_missing_pyfisher_says_how_to_install_it(monkeypatch):
    from numass.errors import DataError

    monkeypatch.setattr(noise, "pyfisher_data_dir", lambda: None)
    with pytest.raises(DataError, match=r"\.\[forecast\]"):
        noise.lensing_noise_kappa("s4_noise.dat", np.array([100.0]))
