"""The compressed CMB likelihood (theta_*, omega_b, omega_bc): its quadratic form, its errors, and
a published DESI DR2 + CMB LCDM fit reproduced with numass's own background."""
from __future__ import annotations

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


def test_desi_dr2_plus_compressed_cmb_reproduces_published_lcdm(tmp_path):
    """Best fit of DESI DR2 BAO (embedded table) + the compressed CMB likelihood over (H0, omega_b,
    omega_c) at Sigma m_nu = 0.06 eV, with numass's own background, against DESI DR2's published
    LCDM 'DESI+CMB' result (arXiv:2503.14738, Table V: H0 = 68.17 +- 0.28 km/s/Mpc,
    Omega_m = 0.3027 +- 0.0036). The published CMB is the full Planck (+ACT lensing) likelihood;
    numass's CMB part here is the compressed (theta_*, omega_b, omega_bc) one, which carries the
    same background information, so agreement within the published 1 sigma is the test."""
    bao = get_likelihood("desi-dr2-bao", data_dir=tmp_path)  # empty: the embedded table
    assert bao.source == "embedded"
    cmb = get_likelihood("cmb-compressed")
    x0, scale = np.array([68.0, 0.0222, 0.118]), np.array([1.0, 1e-4, 1e-3])

    def chi2(u):
        x = x0 + u * scale
        p = dict(H0=x[0], ombh2=x[1], omch2=x[2], mnu=0.06)
        theory = TheoryProducts(params=p, background=compute_background(p))
        return bao.chi2(theory) + cmb.chi2(theory)

    res = minimize(chi2, np.zeros(3), method="Nelder-Mead",
                   options=dict(xatol=1e-4, fatol=1e-6, maxiter=3000))
    assert res.success
    H0, ombh2, omch2 = x0 + res.x * scale
    omegam = compute_background(dict(H0=H0, ombh2=ombh2, omch2=omch2, mnu=0.06)).omegam
    assert abs(H0 - 68.17) <= 0.28, H0
    assert abs(omegam - 0.3027) <= 0.0036, omegam
