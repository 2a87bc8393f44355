"""ΛsCDM background (theory/background.py, de="lscdm") against an independent integration of the Friedmann
equation, its limits, and its use by the BAO likelihood and the late-time engine."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import constants as sc
from scipy.integrate import solve_ivp

from numass.errors import InputError, TheoryError
from numass.theory.background import compute_background, lambda_shape
from numass.theory.products import TheoryProducts

from conftest import SPECTRA_LIKELIHOODS, need_dataset, spectra_errors

BASE = dict(H0=70.0, ombh2=0.02238, omch2=0.1201)
Z_BAO = np.array([0.295, 0.51, 0.706, 0.934, 1.321, 1.484, 2.33])


def _omega_r(TCMB=2.7255, neff=3.044):
    """ω_γ (1 + 7/8 (4/11)^{4/3} N_eff), written out independently of numass."""
    rho_gamma = np.pi**2 / 15 * (sc.k * TCMB) ** 4 / (sc.hbar * sc.c) ** 3  # J/m^3
    rho_crit100 = 3 * (1e5 / (sc.parsec * 1e6)) ** 2 / (8 * np.pi * sc.G) * sc.c**2  # J/m^3
    return rho_gamma / rho_crit100 * (1 + 7 / 8 * (4 / 11) ** (4 / 3) * neff)


def _independent(z_dagger, eta=10.0, p=BASE):
    """H(z) and D_M(z) of flat ΛsCDM with massless neutrinos, from the Friedmann equation."""
    h = p["H0"] / 100
    om, orad = p["ombh2"] + p["omch2"], _omega_r()
    olam = h**2 - om - orad

    def H(z):
        lam = olam * np.tanh(eta * (z_dagger - z)) / np.tanh(eta * z_dagger)
        return 100 * np.sqrt(om * (1 + z) ** 3 + orad * (1 + z) ** 4 + lam)

    # dχ/dx = c (1+z) / H in x = ln(1+z); steps well below the switch width 1/η
    sol = solve_ivp(lambda x, y: [sc.c / 1e3 * np.exp(x) / H(np.expm1(x))], (0, np.log(1101.0)),
                    [0.0], rtol=1e-11, atol=1e-8, dense_output=True, method="DOP853",
                    max_step=0.002)
    return H, lambda z: sol.sol(np.log1p(z))[0]


@pytest.mark.parametrize("z_dagger,eta", [(1.8, 10.0), (2.4, 10.0), (1.5, 3.0)])
def test_against_independent_integration(z_dagger, eta):
    bg = compute_background({**BASE, "mnu": 0.0, "z_dagger": z_dagger, "eta_lscdm": eta},
                            "lscdm")
    H, DM = _independent(z_dagger, eta)
    z = np.concatenate([Z_BAO, [z_dagger, 3.0, 10.0, 1000.0]])
    np.testing.assert_allclose(bg.H(z), H(z), rtol=1e-6)
    np.testing.assert_allclose(bg.DM(z), DM(z), rtol=2e-6)


def test_large_z_dagger_is_lcdm():
    p = {**BASE, "mnu": 0.06}
    lcdm = compute_background(p)
    ls = compute_background({**p, "z_dagger": 40.0}, "lscdm")
    z = np.concatenate([Z_BAO, [10.0, lcdm.zstar]])
    np.testing.assert_allclose(ls.DM(z), lcdm.DM(z), rtol=1e-6)
    np.testing.assert_allclose(ls.H(z), lcdm.H(z), rtol=1e-6)
    assert ls.theta_star == pytest.approx(lcdm.theta_star, rel=1e-6)
    assert ls.rdrag == pytest.approx(lcdm.rdrag, rel=1e-8)  # pre-recombination physics kept
    # and with theta_MC given, H0 is solved to the same value as in ΛCDM (θ_MC's sound horizon
    # integral reaches z ~ 1e8, so the switch is moved beyond z*, where Λ is negligible)
    q = {k: v for k, v in p.items() if k != "H0"}
    a = compute_background({**q, "cosmomc_theta": 0.0104})
    b = compute_background({**q, "cosmomc_theta": 0.0104, "z_dagger": 3000.0}, "lscdm")
    # (the ΛsCDM code integrates on its own grid: agreement at the 1e-6 level, 100x inside the
    # 2e-4 accuracy target of the background)
    assert b.h == pytest.approx(a.h, rel=1e-5)


def test_flatness_and_shape():
    bg = compute_background({**BASE, "mnu": 0.06, "z_dagger": 2.0}, "lscdm")
    assert float(bg.H(0.0)) == pytest.approx(BASE["H0"], rel=1e-12)
    assert bg.Lambda_ratio(0.0) == pytest.approx(1.0, abs=1e-14)
    assert bg.Lambda_ratio(2.0) == pytest.approx(0.0, abs=1e-14)
    assert bg.Lambda_ratio(5.0) == pytest.approx(-1.0, rel=1e-9)
    assert 0.6 < bg.omega_lambda_s0 < 0.8
    # sharp limit: η → ∞ is Λ_s0 sgn(z† − z)
    np.testing.assert_allclose(lambda_shape([0.5, 1.9, 2.1, 3.0], 2.0, 1e4), [1, 1, -1, -1])


def test_smooth_in_z_dagger():
    """D_M at BAO redshifts moves smoothly with z† (no jumps from the tanh step or the grid)."""
    zds = np.linspace(1.4, 2.6, 241)  # steps of 0.005, 1/20 of the switch width 1/η
    dm = np.array([compute_background({**BASE, "mnu": 0.06, "z_dagger": zd}, "lscdm").DM(Z_BAO)
                   for zd in zds])
    d1 = np.diff(dm, axis=0)
    d2 = np.diff(dm, n=2, axis=0)
    # consecutive steps change by a small fraction of the largest step: no jumps from the grid
    assert np.all(np.abs(d2) <= 0.25 * np.max(np.abs(d1), axis=0) + 1e-9)
    # a later switch keeps Λ > 0 longer: larger H between the two z†, shorter distances
    assert np.all(d1[:, -1] < 0) and np.all(d1 < 1e-9)


def test_dm_at_bao_redshifts_against_lcdm():
    """At z < z† Λ_s is ΛCDM's; above it the negative Λ lowers H, so D_M(z > z†) grows
    relative to ΛCDM at the same H0."""
    p = {**BASE, "mnu": 0.06}
    ls = compute_background({**p, "z_dagger": 1.7}, "lscdm")
    lc = compute_background(p)
    # below z† only the tanh tail, ~exp(-2η(z† - z)), differs
    np.testing.assert_allclose(ls.DM(Z_BAO[:4]), lc.DM(Z_BAO[:4]), rtol=1e-7)
    assert ls.H(2.33) < lc.H(2.33)
    assert ls.DM(2.33) > lc.DM(2.33)
    assert ls.DM(lc.zstar) > lc.DM(lc.zstar)


def test_desi_bao_chi2(data_dir):
    from numass.likelihoods import get_likelihood

    need_dataset(data_dir, "desi_bao_dr2")
    lik = get_likelihood("desi-dr2-bao", data_dir=data_dir)
    params = {"H0": 68.0, "ombh2": 0.02238, "omch2": 0.1201, "mnu": 0.06}
    lscdm = {**params, "z_dagger": 2.0}
    chi_ls = lik.chi2(TheoryProducts(params=lscdm, background=compute_background(lscdm, "lscdm")))
    chi_lc = lik.chi2(TheoryProducts(params=params, background=compute_background(params)))
    chi_far = lik.chi2(TheoryProducts(params=params, background=compute_background(
        {**params, "z_dagger": 40.0}, "lscdm")))
    assert np.isfinite(chi_ls) and chi_ls != pytest.approx(chi_lc, abs=1e-3)
    assert chi_far == pytest.approx(chi_lc, abs=1e-4)


def test_bad_input():
    with pytest.raises(InputError, match="z_dagger"):
        compute_background(BASE, "lscdm")
    with pytest.raises(InputError):
        compute_background({**BASE, "z_dagger": -1.0}, "lscdm")
    with pytest.raises(InputError):
        compute_background({**BASE, "z_dagger": 2.0, "eta_lscdm": float("nan")}, "lscdm")
    with pytest.raises(InputError, match="unknown"):
        compute_background({**BASE, "z_dagger": 2.0, "w": -0.9}, "lscdm")


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_backend_point_errors_name_the_cause():
    """The backend's per-point call is a batch of one; a failed point still says why."""
    from numass.theory.latetime import LsCDMBackgroundBackend

    b = LsCDMBackgroundBackend()
    with pytest.raises(InputError, match="'z_dagger' must be a positive number"):
        b.compute({**BASE, "z_dagger": -1.0})
    with pytest.raises(InputError, match="'z_dagger' = nan is not a finite number"):
        b.compute({**BASE, "z_dagger": float("nan")})
    with pytest.raises(InputError, match="'eta_lscdm' must be a positive number"):
        b.compute({**BASE, "z_dagger": 2.0, "eta_lscdm": 0.0})
    with pytest.raises(TheoryError, match=r"no H0 in \[30, 150\] gives this cosmomc_theta"):
        b.compute({"cosmomc_theta": 0.5, "ombh2": 0.0224, "omch2": 0.12, "z_dagger": 2.0})
    with pytest.raises(TheoryError, match="no room for dark energy"):
        b.compute({**BASE, "H0": 20.0, "omch2": 0.3, "z_dagger": 2.0})
    with pytest.raises(TheoryError, match="H\\(z\\) is not positive"):
        b.compute({**BASE, "H0": 90.0, "z_dagger": 0.3})


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_too_early_switch_is_a_theory_error():
    """A switch at z† ≲ 1 with a large H0 makes H² < 0 before it: the sampler must get -inf."""
    with pytest.raises(TheoryError):
        compute_background({**BASE, "H0": 90.0, "z_dagger": 0.3}, "lscdm")


def test_lscdm_spectra_through_engine():
    from numass.theory.latetime import LsCDMBackend

    p = {"H0": 69.0, "ombh2": 0.02238, "omch2": 0.1201, "mnu": 0.06, "tau": 0.0543,
         "As": 2.1e-9, "ns": 0.966, "z_dagger": 2.0}
    out = LsCDMBackend().compute(p)
    s = out.spectra.validate("lscdm")
    assert s.lmax == 3000
    assert out.derived["z_dagger"] == 2.0 and out.derived["H0"] == pytest.approx(69.0)
    assert 0.7 < out.derived["sigma8"] < 0.9
    bg_only = LsCDMBackend().compute(p, frozenset({"background"}))
    assert bg_only.spectra is None
    assert bg_only.background.DM(0.5) == pytest.approx(out.background.DM(0.5))
    with pytest.raises(InputError):
        LsCDMBackend().compute({**p, "w": -0.9})


@pytest.fixture(scope="module")
def engine_pairs():
    """ΛsCDM through the CAMB engine and through the emulated engine at points of the posterior
    region (z† from 1.6 to 3, Σmν,eff of both signs)."""
    from numass.backends import make_backend

    base = {"ombh2": 0.02240, "omch2": 0.1190, "theta_MC_100": 1.04100, "logA": 3.045,
            "ns": 0.967, "tau": 0.056, "A_L": 1.0, "A_lens": 1.0, "eta_lscdm": 10.0}
    need = frozenset({"spectra", "background"})
    camb_b, emu_b = make_backend("lscdm"), make_backend("lscdm-emulator")
    out = []
    for q in ({"z_dagger": 1.6, "mnu_eff": 0.06}, {"z_dagger": 2.2, "mnu_eff": -0.1},
              {"z_dagger": 3.0, "mnu_eff": 0.15}):
        p = {**base, **q}
        out.append((q, camb_b.compute(p, need), emu_b.compute(p, need)))
    return out


@pytest.mark.slow
def test_emulated_engine_matches_the_camb_engine(engine_pairs):
    """Tolerances from the measured errors (docs/latetime.md): TT 0.010 σ_CV, C_L^φφ 0.37%,
    σ8 0.2%, H0 exact (same background code)."""
    for q, c, e in engine_pairs:
        tt, pp = spectra_errors(c, e)
        assert tt < 0.03 and pp < 0.005, (q, tt, pp)
        assert e.derived["sigma8"] == pytest.approx(c.derived["sigma8"], rel=3e-3), q
        assert e.derived["H0"] == pytest.approx(c.derived["H0"], rel=1e-9), q
        assert 1.0 < e.derived["A_L_eff"] < 1.1  # ΛsCDM lenses more than its matched ΛCDM


@pytest.mark.slow
@pytest.mark.parametrize("lik_id,folder", SPECTRA_LIKELIHOODS)
def test_emulated_engine_chi2(engine_pairs, data_dir, lik_id, folder):
    """|Δχ²| against the CAMB engine: measured up to 0.65 (PR4 lensing), 0.58 (ACT; both at
    Σmν,eff = −0.1, through the effective-mass mirror), 0.15 (plik_lite); bounded at 0.8."""
    from numass.likelihoods import get_likelihood

    need_dataset(data_dir, folder)
    lik = get_likelihood(lik_id, data_dir=data_dir)
    for q, c, e in engine_pairs:
        assert abs(lik.chi2(e) - lik.chi2(c)) < 0.8, (lik_id, q)


# --- the lscdm model in fits and on the command line ---------------------------------------------

def test_lscdm_model_and_backend_choice():
    from numass.inference.setup import build_info
    from numass.models import get_model

    m = get_model("lscdm")
    zd = next(p for p in m.params if p.name == "z_dagger")
    assert zd.prior == ("uniform", 1.0, 3.0) and m.fixed == {"eta_lscdm": 10.0}
    assert m.resolve_backend(None, need_spectra=False) == "lscdm-background"
    # with CMB spectra the default is the engine on the emulator (it ships with numass)
    assert m.resolve_backend(None, need_spectra=True) == "lscdm-emulator"
    assert m.resolve_backend("camb", need_spectra=True) == "lscdm"  # the engine runs on CAMB
    assert m.resolve_backend("background", need_spectra=False) == "lscdm-background"
    with pytest.raises(InputError, match="cannot be computed by backend 'emulator'"):
        m.resolve_backend("emulator", need_spectra=True)
    lcdm = get_model("lcdm")  # unchanged for the standard models
    assert lcdm.resolve_backend(None, False) == "background"
    assert lcdm.resolve_backend(None, True) == "emulator"  # the shipped CAMB-trained emulator
    assert lcdm.resolve_backend("camb", True) == "camb"
    info = build_info("lscdm", ["desi-dr2-bao", "cmb-compressed"])
    th = info["theory"]["numass"]
    assert th["backend"] == "lscdm-background" and th["fixed"]["eta_lscdm"] == 10.0
    assert th["input"] == ["ombh2", "omch2", "H0", "mnu_eff", "z_dagger"]
    assert info["params"]["z_dagger"]["prior"] == {"min": 1.0, "max": 3.0}
    info = build_info("w0wa", ["desi-dr2-bao", "cmb-compressed"])
    assert info["theory"]["numass"]["backend"] == "background"
    with pytest.raises(InputError, match="cannot be computed"):
        build_info("lscdm", ["desi-dr2-bao"], backend="emulator")


def test_lscdm_background_backend_is_fast_and_native_in_mass():
    """Σmν,eff < 0 on background-only data: the Elbers sign flip, as the ΛCDM background backend
    (z† → ∞ reproduces it); the spectra backend mirrors instead, like CAMB."""
    import time

    from numass.backends import make_backend
    from numass.theory.effective_mass import MirroredBackground

    p = {**BASE, "mnu_eff": -0.1, "nnu": 3.044, "nu_states": 1, "eta_lscdm": 10.0}
    bgb = make_backend("lscdm-background")
    out = bgb.compute({**p, "z_dagger": 2.0}, frozenset({"background"}))
    direct = compute_background({**BASE, "mnu": -0.1, "z_dagger": 2.0}, "lscdm")
    np.testing.assert_allclose(out.background.DM(Z_BAO), direct.DM(Z_BAO), rtol=1e-12)
    assert out.derived["mnu_eff"] == -0.1 and out.derived["theta_star"] == direct.theta_star
    far = bgb.compute({**p, "z_dagger": 40.0}, frozenset({"background"}))
    lcdm = make_backend("background").compute({k: v for k, v in p.items() if k != "eta_lscdm"},
                                              frozenset({"background"}))
    np.testing.assert_allclose(far.background.DM(Z_BAO), lcdm.background.DM(Z_BAO), rtol=1e-6)
    t0 = time.perf_counter()
    for i in range(20):
        bgb.compute({**p, "z_dagger": 2.0 + 0.01 * i}, frozenset({"background"}))
    assert (time.perf_counter() - t0) / 20 < 0.05  # ~2 ms here; a CAMB run would be ~1 s
    with pytest.raises(InputError, match="no CMB spectra"):
        bgb.compute({**p, "z_dagger": 2.0})
    spec = make_backend("lscdm")
    assert not spec.inner.supports_negative_mnu
    mirrored = spec.compute({**p, "z_dagger": 2.0}, frozenset({"background"}))
    assert isinstance(mirrored.background, MirroredBackground)
    b0 = compute_background({**BASE, "mnu": 0.0, "z_dagger": 2.0}, "lscdm")
    b1 = compute_background({**BASE, "mnu": 0.1, "z_dagger": 2.0}, "lscdm")
    np.testing.assert_allclose(mirrored.background.DM(Z_BAO), 2 * b0.DM(Z_BAO) - b1.DM(Z_BAO),
                               rtol=1e-12)


def test_compute_point_lscdm_background():
    from numass.backends import compute_point

    out = compute_point("lscdm", "background", {"z_dagger": 2.2, "mnu_eff": -0.05})
    assert out.spectra is None and out.derived["z_dagger"] == 2.2
    assert out.derived["eta_lscdm"] == 10.0  # the model's fixed value
    with pytest.raises(InputError, match="no w, wa"):
        compute_point("lscdm", "background", {"z_dagger": 2.2, "w": -0.9})
    with pytest.raises(InputError, match="cannot be computed"):
        compute_point("lscdm", "emulator", {"z_dagger": 2.2})
