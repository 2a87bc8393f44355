"""numass forecast's Euclid: the survey model (IST:F bins), the spectroscopic block's covariance
and fσ8, the P(k, z) of every theory path against CAMB, pyccl's C_ℓ against an independent
Limber integral, and the linearised shear against exact evaluations (docs/forecast.md)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from numass.forecast import shear
from numass.forecast.engine import Hypothesis
from numass.forecast.specs import EXPERIMENTS
from numass.forecast.truths import TRUTH_FLOOR, embedded_truths

SHEAR = EXPERIMENTS["euclid_shear"].spec
SPEC = EXPERIMENTS["euclid_spec"].spec
needs_pyccl = pytest.mark.skipif(importlib.util.find_spec("pyccl") is None,
                                 reason="pyccl (the 'forecast' extra) is not installed")


def test_equipopulated_bins_are_istf_bins():
    # IST:F (arXiv:1910.09273), Sect. 3.2: edges {0.001, 0.418, 0.560, 0.678, 0.789, 0.900,
    # 1.019, 1.155, 1.324, 1.576, 2.50}
    istf = [0.001, 0.418, 0.560, 0.678, 0.789, 0.900, 1.019, 1.155, 1.324, 1.576, 2.50]
    assert shear.equipopulated_edges(SHEAR) == pytest.approx(istf, abs=0.015)
    z, nz = shear.bin_nz(SHEAR)
    counts = np.trapezoid(nz, z, axis=1)
    assert np.ptp(counts) / counts.mean() < 0.2  # photo-z scatter blurs the equal split a little
    means = np.trapezoid(nz * z, z, axis=1) / counts
    assert np.all(np.diff(means) > 0)


def test_shear_covariance_of_one_bin_is_knox():
    s = {**SHEAR, "n_bins": 1, "n_bands": 2}
    cl = np.array([[1e-9], [2e-9]])
    linv = shear.band_whitening(cl, s)
    ell, dl = shear.bands(s)
    noise = s["sigma_e"] ** 2 / (s["n_g_arcmin2"] * shear.ARCMIN2_PER_SR)
    var = 2 * (cl[:, 0] + noise) ** 2 / ((2 * ell + 1) * dl * s["fsky"])
    assert 1 / linv[:, 0, 0] ** 2 == pytest.approx(var, rel=1e-12)


def test_spectroscopic_errors_and_fsigma8():
    from numass.forecast.euclid_spec import bin_covariances, spec_observables

    cov = bin_covariances(tuple(sorted(SPEC.items())))
    sig = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    assert np.all((sig[:, :2] > 1e-3) & (sig[:, :2] < 0.02))  # D_M, D_H: 0.1-2%
    assert np.all((sig[:, 2] > 1e-3) & (sig[:, 2] < 0.02))  # fσ8 ~ 0.4
    hyp = Hypothesis("lcdm", "lcdm")
    p = hyp.products(hyp.point(embedded_truths()[TRUTH_FLOOR][1]))
    obs = spec_observables(p, np.array([1.0, 1.65]))[0]
    assert np.all((obs[:, 2] > 0.3) & (obs[:, 2] < 0.5))


@pytest.mark.slow
def test_fsigma8_against_camb():
    """fσ8 from the batched background's growth and the derived σ8 against CAMB's own fσ8
    (velocity of CDM + baryons) at the floor truth: within 1%."""
    import camb

    from numass.forecast.euclid_spec import growth_rate_sigma8
    from numass.forecast.shear_theory import early_params
    from numass.theory.camb_backend import CambBackend

    truth = embedded_truths()[TRUTH_FLOOR][1]
    hyp = Hypothesis("lcdm", "lcdm")
    p = hyp.products(hyp.point(truth))
    z = np.array([1.0, 1.2, 1.4, 1.65])
    ours = growth_rate_sigma8(p, z)[0]
    cp = early_params(truth, truth["mnu_eff"], float(p.derived["H0"][0]))
    pars = CambBackend().camb_params(cp, frozenset())
    pars.set_matter_power(redshifts=z[::-1], kmax=2.0, silent=True)
    pars.WantCls = False
    theirs = camb.get_results(pars).get_fsigma8()[::-1]
    assert ours == pytest.approx(theirs, rel=0.01)


@pytest.fixture(scope="module")
def lcdm_point():
    truth = embedded_truths()[TRUTH_FLOOR][1]
    hyp = Hypothesis("lcdm", "lcdm")
    p = hyp.products(hyp.point(truth))
    from numass.forecast.shear_theory import first_background

    return truth, first_background(p), float(p.derived["H0"][0])


def _camb_direct(cp):
    import camb

    from numass.forecast.shear_theory import CAMB_KMAX, K_PK, Z_PK
    from numass.theory.camb_backend import CambBackend

    pars = CambBackend().camb_params(cp, frozenset())
    pars.set_matter_power(redshifts=Z_PK[::-1], kmax=CAMB_KMAX, nonlinear=True, silent=True)
    pars.NonLinearModel.set_params(halofit_version="mead2016")
    pars.WantCls = False
    pk = camb.get_results(pars).get_matter_power_interpolator(
        nonlinear=True, hubble_units=False, k_hunit=False, extrap_kmax=100.0, silent=True)
    return pk.P(Z_PK, K_PK)


@pytest.mark.slow
@pytest.mark.parametrize("w0wa", [(-1.0, 0.0), (-0.7, -1.0)])
def test_camb_paths_are_camb(lcdm_point, w0wa):
    """ΛCDM and w0wa: P(k, z) is CAMB's own (the plumbing: equal to 1e-6 where k <= kmax)."""
    from numass.forecast.shear_theory import CAMB_KMAX, K_PK, early_params, power_of

    truth, bg, H0 = lcdm_point
    point = {**truth, "w": w0wa[0], "wa": w0wa[1]}
    ours, _ = power_of("w0wa", point, bg, H0)
    cp = {**early_params(truth, truth["mnu_eff"], H0), "w": w0wa[0], "wa": w0wa[1]}
    sel = K_PK <= CAMB_KMAX
    assert ours[:, sel] == pytest.approx(_camb_direct(cp)[:, sel], rel=1e-6)


@pytest.mark.slow
def test_late_time_paths_reduce_to_camb(lcdm_point):
    """ΛsCDM's rescaling with a ΛCDM target (its limit) and the interacting neutrinos at
    α_fs = 1 give CAMB's ΛCDM P(k, z) within 1%; α_fs = 0 removes the free-streaming
    suppression (more power at k = 1/Mpc)."""
    from numass.forecast.shear_theory import K_PK, early_params, power_of

    truth, bg, H0 = lcdm_point
    direct = _camb_direct(early_params(truth, truth["mnu_eff"], H0))
    for model, extra in (("lscdm", {}), ("nu_interacting", {"alpha_fs": 1.0})):
        pk, _ = power_of(model, {**truth, **extra}, bg, H0)
        assert pk == pytest.approx(direct, rel=0.01), model
    no_fs, _ = power_of("nu_interacting", {**truth, "alpha_fs": 0.0}, bg, H0)
    k1 = np.searchsorted(K_PK, 1.0)
    assert 1.01 < no_fs[0, k1] / direct[0, k1] < 1.2


def _numpy_limber(cosmo_h0, omega_m, bg, pk, nz, ell):
    """C_ℓ^{ii} by a direct Limber integral over χ (independent of pyccl)."""
    from scipy.interpolate import RegularGridInterpolator

    from numass.forecast.shear_theory import K_PK, Z_PK

    c = 299792.458
    z = np.linspace(1e-3, 3.9, 1500)
    chi = np.ravel(bg.DM(z))
    interp = RegularGridInterpolator((Z_PK, np.log(K_PK)), np.log(pk))
    zq, n = nz
    out = []
    for d in n:
        nzi = np.interp(z, zq, d)
        nzi /= np.trapezoid(nzi, z)
        pchi = nzi * np.ravel(bg.H(z)) / c  # n(χ) = n(z) dz/dχ
        q = np.array([np.trapezoid(np.where(chi > x, pchi * (chi - x) / chi, 0.0), chi)
                      for x in chi])
        q *= 1.5 * omega_m * (cosmo_h0 / c) ** 2 * chi * (1 + z)
        row = []
        for L in ell:
            k = (L + 0.5) / chi
            pkz = np.exp(interp(np.column_stack([z, np.log(np.clip(k, K_PK[0], K_PK[-1]))])))
            pref = (L - 1) * L * (L + 1) * (L + 2) / (L + 0.5) ** 4
            row.append(pref * np.trapezoid(q ** 2 / chi ** 2 * pkz, chi))
        out.append(row)
    return np.array(out)


@needs_pyccl
@pytest.mark.slow
def test_pyccl_calculator_against_a_direct_limber_integral(lcdm_point):
    from numass.forecast.shear_theory import calculator, power_of, shear_cls

    truth, bg, H0 = lcdm_point
    pk, omnu = power_of("lcdm", truth, bg, H0)
    nz = shear.bin_nz({**SHEAR, "n_bins": 3})
    ell = np.array([20.0, 200.0, 1000.0])
    ours = shear_cls(calculator(truth, bg, H0, pk, omnu), nz, ell)[[0, 3, 5]]
    om = (truth["ombh2"] + truth["omch2"] + omnu) / (H0 / 100) ** 2
    assert ours == pytest.approx(_numpy_limber(H0, om, bg, pk, nz, ell), rel=0.01)


@needs_pyccl
@pytest.mark.slow
def test_linearised_shear_against_exact_one_sigma_away():
    """The linear model at a point ~1σ (of Euclid + a CMB) from x0 in Σmν, ω_c, w0 and wa
    against the exact C_ℓ there: the difference is a small fraction of the covariance."""
    from numass.forecast.shear_theory import exact_shear

    lin = shear.linear_shear(SHEAR)
    x = {**lin.x0, "mnu_eff": lin.x0["mnu_eff"] + 0.03, "omch2": lin.x0["omch2"] + 0.001,
         "w": -0.9, "wa": -0.3}
    hyp = Hypothesis("w0wa", "w0wa")
    exact = exact_shear(hyp, {n: x[n] for n in hyp.names}, shear.bin_nz(SHEAR),
                        shear.bands(SHEAR)[0]).T.ravel()
    linear = lin.predict({n: np.array([x[n]]) for n in hyp.names})[0]
    nb = SHEAR["n_bands"]
    linv = shear.band_whitening(exact.reshape(nb, -1), SHEAR)
    shift = np.einsum("bij,bj->bi", linv, (linear - exact).reshape(nb, -1))
    moved = np.einsum("bij,bj->bi", linv, (exact - lin.mu0).reshape(nb, -1))
    chi2_err, chi2_move = float(np.sum(shift ** 2)), float(np.sum(moved ** 2))
    assert chi2_move > 10.0  # the point is well away from x0 for the shear
    assert chi2_err < 0.5 and chi2_err < 0.01 * chi2_move  # measured: 0.13 of 127


def test_missing_pyccl_says_how_to_install_it(monkeypatch):
    import builtins

    from numass.errors import DataError
    from numass.forecast import shear_theory

    real = builtins.__import__

    def no_pyccl(name, *a, **k):
        if name == "pyccl":
            raise ImportError("no pyccl")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pyccl)
    with pytest.raises(DataError, match=r"\.\[forecast\]"):
        shear_theory.require_pyccl()


@needs_pyccl
@pytest.mark.slow
def test_euclid_plus_planck_against_the_euclid_forecast():
    """Published: Euclid's primary probes + Planck, σ(Σmν) = 23 meV (arXiv:2405.06047). Here:
    shear alone (ℓ <= 1500, no intrinsic alignments, linearised) + the compressed spectroscopic
    block + the Planck-like TT/TE/EE + lowE τ (validate.EUCLID_PLANCK_SETUP): within 25%."""
    from numass.forecast import validate
    from numass.forecast.engine import fisher, marginal_sigmas
    from numass.forecast.run import make_hypothesis, truth_mocks
    from numass.forecast.specs import parse_combination

    lcdm = make_hypothesis("lcdm")
    truth = embedded_truths()[TRUTH_FLOOR][1]
    exps = parse_combination(validate.EUCLID_PLANCK)
    mocks = truth_mocks(lcdm, truth, exps)
    f = fisher(lcdm, mocks, lcdm.point(truth), {"c": exps})["c"]
    sigma = marginal_sigmas(f, lcdm.names)["mnu_eff"]
    assert sigma == pytest.approx(validate.EUCLID_PLANCK_SIGMA_MNU, rel=0.25)


@needs_pyccl
@pytest.mark.slow
def test_each_linear_model_fits_its_own_truth():
    """The shear mock of a truth is the linear model at the truth: ΛsCDM (with its offset at x0)
    and w0wa have χ² = 0 at their own truths, and ΛCDM does not fit the ΛsCDM one."""
    from numass.forecast.engine import residuals
    from numass.forecast.run import make_hypothesis, truth_mocks

    for key in ("lscdm", "w0wa"):
        model, point = embedded_truths()[key]
        hyp = Hypothesis(key, model)
        mocks = truth_mocks(hyp, point, ["euclid_shear"])
        r = residuals(hyp, mocks, hyp.point(point)[None])["euclid_shear"]
        assert float(np.sum(r ** 2)) < 1e-12
    lcdm = make_hypothesis("lcdm")
    r = residuals(lcdm, mocks, lcdm.point(point)[None])["euclid_shear"]
    assert float(np.sum(r ** 2)) > 1e-3
