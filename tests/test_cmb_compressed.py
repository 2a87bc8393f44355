"""The compressed CMB likelihood (theta_*, omega_b, omega_bc): its quadratic form, its errors, and
a published DESI DR2 + CMB LCDM fit reproduced with numass's own background."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from numass.data import embedded
from numass.errors import InputError
from numass.likelihoods import get_likelihood
from numass.likelihoods.cmb_compressed import CompressedCMB
from numass.theory.background import compute_background
from numass.theory.products import TheoryProducts

# the published Gaussian (DESI DR2, arXiv:2503.14738, Appendix A), typed again here so that a
# typo in either copy shows: mean (theta_*, omega_b, omega_bc) and covariance
PUBLISHED_MEAN = np.array([0.01041, 0.02223, 0.14208])
PUBLISHED_COV = 1e-9 * np.array([[0.006621, 0.12444, -1.1929],
                                 [0.12444, 21.344, -94.001],
                                 [-1.1929, -94.001, 1488.4]])


class StubBackground:
    """Only what the compressed likelihood reads: theta_star (= 100 theta_*)."""

    def __init__(self, theta):
        self.theta_star = 100.0 * theta
        self.rdrag = 147.0

    def H(self, z):
        raise AssertionError("not needed")

    DM = DH = DV = H


def _theory(theta, ombh2, ombch2):
    return TheoryProducts(params={"ombh2": ombh2, "omch2": ombch2 - ombh2},
                          background=StubBackground(theta))


def test_embedded_numbers_are_the_published_ones():
    np.testing.assert_array_equal(embedded.CMB_COMPRESSED_MEAN, PUBLISHED_MEAN)
    np.testing.assert_allclose(embedded.CMB_COMPRESSED_COV, PUBLISHED_COV, rtol=0, atol=1e-20)


def test_chi2_zero_at_the_mean():
    lik = get_likelihood("cmb-compressed")
    assert lik.chi2(_theory(*PUBLISHED_MEAN)) == pytest.approx(0.0, abs=1e-10)


def test_chi2_is_the_quadratic_form_at_displaced_points():
    lik = CompressedCMB()
    sig = np.sqrt(np.diag(PUBLISHED_COV))
    chol = np.linalg.cholesky(PUBLISHED_COV)
    for shift in ([1.0, 0.0, 0.0], [0.0, -2.0, 0.0], [0.5, 1.0, -1.5], [3.0, -1.0, 2.0]):
        delta = np.array(shift) * sig
        expected = float(delta @ np.linalg.solve(PUBLISHED_COV, delta))
        assert lik.chi2(_theory(*(PUBLISHED_MEAN + delta))) == pytest.approx(expected, rel=1e-6)
    # a unit step along a whitened direction is chi^2 = 1 whatever the correlations
    for k in range(3):
        assert lik.chi2(_theory(*(PUBLISHED_MEAN + chol[:, k]))) == pytest.approx(1.0, rel=1e-6)


def test_missing_inputs_and_options_are_input_errors():
    lik = CompressedCMB()
    stub = StubBackground(PUBLISHED_MEAN[0])
    with pytest.raises(InputError, match="omch2"):
        lik.chi2(TheoryProducts(params={"ombh2": 0.0222}, background=stub))
    with pytest.raises(InputError, match="ombh2"):
        lik.chi2(TheoryProducts(params={"omch2": 0.12}, background=stub))
    with pytest.raises(InputError, match="background"):
        lik.chi2(TheoryProducts(params={"ombh2": 0.0222, "omch2": 0.12}))
    with pytest.raises(InputError):
        CompressedCMB(release="dr1")


# The same Gaussian unrounded, as in DESI's released chain configuration for the DR2 BAO papers
# (CMB_standard_compression_PR4: thetastar, ombh2, ombch2); the paper's printed numbers must be
# its rounding, and the rounding must not matter (< 0.15 sigma, chi^2 change < 0.05).
UNROUNDED_MEAN = np.array([0.01041027, 0.02223208, 0.14207901])
UNROUNDED_COV = np.array([[6.62099420e-12, 1.24442058e-10, -1.19287532e-09],
                          [1.24442058e-10, 2.13441666e-08, -9.40008323e-08],
                          [-1.19287532e-09, -9.40008323e-08, 1.48841714e-06]])


def test_published_numbers_are_the_rounded_unrounded_ones():
    for printed, exact in zip(PUBLISHED_MEAN, UNROUNDED_MEAN):
        assert abs(printed - exact) <= 0.5e-5 + 1e-12  # printed to 5 decimals
    np.testing.assert_allclose(PUBLISHED_COV, UNROUNDED_COV, rtol=5e-5)
    shift = PUBLISHED_MEAN - UNROUNDED_MEAN
    assert float(shift @ np.linalg.solve(UNROUNDED_COV, shift)) < 0.05
    assert np.all(np.abs(shift) / np.sqrt(np.diag(UNROUNDED_COV)) < 0.15)


@pytest.fixture(scope="module")
def camb_point():
    """CAMB's own theta_* at a Planck-like point (with a neutrino mass: omega_bc excludes it)."""
    import camb

    p = dict(H0=66.0, ombh2=0.0223, omch2=0.1195, mnu=0.2)  # chi^2 ~ 5 from the mean
    pars = camb.set_params(**p, nnu=3.044, num_massive_neutrinos=1)
    return p, camb.get_background(pars).get_derived_params()["thetastar"]


def test_chi2_matches_an_independent_evaluation_with_camb(camb_point):
    """numass's chi^2 (own background) against a direct evaluation of the published Gaussian on
    CAMB's thetastar / 100, ombh2 and ombh2 + omch2 (no neutrinos)."""
    p, thetastar = camb_point
    x = np.array([thetastar / 100.0, p["ombh2"], p["ombh2"] + p["omch2"]]) - PUBLISHED_MEAN
    independent = float(x @ np.linalg.inv(PUBLISHED_COV) @ x)
    ours = CompressedCMB().chi2(TheoryProducts(params=p, background=compute_background(p)))
    print(f"\ncompressed CMB: numass {ours:.5f}, independent (CAMB theta_*) {independent:.5f}")
    assert independent > 1.0  # a point that is off the mean, so the comparison means something
    assert abs(ours - independent) <= 0.05


@pytest.mark.parametrize("bao_source", ["embedded", "file"])
def test_desi_dr2_plus_compressed_cmb_reproduces_published_lcdm(bao_source, tmp_path):
    """Best fit of DESI DR2 BAO + the compressed CMB likelihood over (H0, omega_b, omega_c) at
    Sigma m_nu = 0.06 eV (one massive state), with numass's own background, against DESI DR2's
    published LCDM 'DESI+CMB' result (arXiv:2503.14738, Table V: H0 = 68.17 +- 0.28 km/s/Mpc,
    Omega_m = 0.3027 +- 0.0036). That CMB is the full Planck (+ACT lensing) likelihood, not this
    compression, so the two need not coincide; numass gets H0 = 68.35, Omega_m = 0.3006, i.e.
    0.6 sigma from the published means: the test allows 0.75 sigma."""
    import os

    if bao_source == "file":
        env = os.environ.get("NUMASS_DATA_DIR")
        if not env or not (Path(env) / "desi_bao_dr2").is_dir():
            pytest.skip("needs NUMASS_DATA_DIR with desi_bao_dr2")
        bao = get_likelihood("desi-dr2-bao", data_dir=env)
    else:
        bao = get_likelihood("desi-dr2-bao", data_dir=tmp_path)  # empty: the embedded table
    assert bao.source == bao_source
    cmb = get_likelihood("cmb-compressed")
    x0, scale = np.array([68.0, 0.0222, 0.118]), np.array([1.0, 1e-4, 1e-3])

    def chi2(u):
        x = x0 + u * scale
        p = dict(H0=x[0], ombh2=x[1], omch2=x[2], mnu=0.06)
        theory = TheoryProducts(params=p, background=compute_background(p))
        return bao.chi2(theory) + cmb.chi2(theory)

    res = minimize(chi2, np.zeros(3), method="Nelder-Mead",
                   options=dict(xatol=1e-5, fatol=1e-8, maxiter=4000))
    assert res.success
    H0, ombh2, omch2 = x0 + res.x * scale
    omegam = compute_background(dict(H0=H0, ombh2=ombh2, omch2=omch2, mnu=0.06)).omegam
    print(f"\nDESI DR2 ({bao_source}) + compressed CMB: chi2_min {res.fun:.3f}, H0 {H0:.3f} "
          f"({(H0 - 68.17) / 0.28:+.2f} sigma), Omega_m {omegam:.4f} "
          f"({(omegam - 0.3027) / 0.0036:+.2f} sigma), ombh2 {ombh2:.5f}, omch2 {omch2:.5f}")
    assert abs(H0 - 68.17) <= 0.75 * 0.28, H0
    assert abs(omegam - 0.3027) <= 0.75 * 0.0036, omegam
