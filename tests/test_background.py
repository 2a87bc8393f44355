"""numass's own background (theory/background.py) against CAMB's; the two Sigma m_nu,eff < 0
extensions (Elbers et al. sign flip and the observable mirror); continuity at m = 0; the z*,
z_drag fit; speed; bad input. CAMB background-only runs cost ~6 ms each."""
from __future__ import annotations

import camb
import numpy as np
import pytest

from numass.errors import InputError, TheoryError
from numass.theory.background import compute_background
from numass.theory.products import Background
from numass.theory.recombination_fit import calibration_box, redshift_fit

from conftest import mirror_background

TOL = 2e-4
C_KM_S = 299792.458
Z = np.array([0.02, 0.1, 0.295, 0.51, 0.706, 0.934, 1.321, 1.484, 2.0, 2.33, 2.99])
BASE = {"H0": 67.36, "ombh2": 0.02237, "omch2": 0.12, "mnu": 0.06}
POINTS = {
    "lcdm": BASE,
    "mnu0": {**BASE, "mnu": 0.0},
    "mnu0.3": {**BASE, "mnu": 0.3},
    "mnu0.5": {**BASE, "mnu": 0.5},
    "mnu0.5_3states": {**BASE, "mnu": 0.5, "nu_states": 3},
    "w0wa_-0.7_-1": {**BASE, "w": -0.7, "wa": -1.0},
    "w0wa_-1.2_0.5": {**BASE, "w": -1.2, "wa": 0.5},
    "nnu3.6": {**BASE, "mnu": 0.1, "nnu": 3.6},
    "nnu2.6_3states": {**BASE, "mnu": 0.2, "nnu": 2.6, "nu_states": 3},
    "corner_low": {"H0": 60.0, "ombh2": 0.0195, "omch2": 0.095, "mnu": 0.0},
    "corner_high": {"H0": 75.0, "ombh2": 0.0255, "omch2": 0.145, "mnu": 0.55, "w": -0.9, "wa": -0.5},
}
THETA_POINTS = {
    "lcdm": {"cosmomc_theta": 0.0104092, "ombh2": 0.02237, "omch2": 0.12, "mnu": 0.06},
    "mnu0.5_3states": {"cosmomc_theta": 0.0104092, "ombh2": 0.02237, "omch2": 0.12, "mnu": 0.5,
                       "nu_states": 3},
    "corner": {"cosmomc_theta": 0.01040, "ombh2": 0.020, "omch2": 0.14, "mnu": 0.0},
    "w0wa": {"cosmomc_theta": 0.0104092, "ombh2": 0.02237, "omch2": 0.12, "mnu": 0.06,
             "w": -0.7, "wa": -1.0},
    "nnu3.5": {"cosmomc_theta": 0.010409, "ombh2": 0.0224, "omch2": 0.12, "mnu": 0.1, "nnu": 3.5},
}
QUANTITIES = ("H", "DM", "DH", "DV", "rdrag", "theta_star")


def camb_background(p: dict) -> dict:
    """CAMB's background (no spectra) with numass's neutrino and dark-energy settings."""
    kw = {k: p[k] for k in ("H0", "cosmomc_theta") if k in p}
    if "w" in p or "wa" in p:  # with the cosmology, so that theta_MC -> H0 sees w(a)
        kw.update(dark_energy_model="ppf", w=p.get("w", -1.0), wa=p.get("wa", 0.0))
    pars = camb.set_params(ombh2=p["ombh2"], omch2=p["omch2"], mnu=p["mnu"],
                           nnu=p.get("nnu", 3.044),
                           num_massive_neutrinos=int(p.get("nu_states", 1)), **kw)
    res = camb.get_background(pars)
    d = res.get_derived_params()
    H = res.hubble_parameter(Z)
    DM = res.comoving_radial_distance(Z)  # flat
    DH = C_KM_S / H
    return {"H": H, "DM": DM, "DH": DH, "DV": np.cbrt(Z * DM**2 * DH), "rdrag": d["rdrag"],
            "theta_star": d["thetastar"], "zstar": d["zstar"], "zdrag": d["zdrag"], "H0": pars.H0}


def numass_background(p: dict, mirror: bool = False) -> dict:
    b = mirror_background(p) if mirror else compute_background(p)
    return {"H": b.H(Z), "DM": b.DM(Z), "DH": b.DH(Z), "DV": b.DV(Z), "rdrag": b.rdrag,
            "theta_star": b.theta_star, "zstar": b.zstar, "zdrag": b.zdrag, "H0": 100 * b.h}


def max_rel(a: dict, b: dict, keys=QUANTITIES) -> dict:
    return {k: float(np.max(np.abs(np.asarray(a[k]) / np.asarray(b[k]) - 1))) for k in keys}


@pytest.fixture(scope="module")
def camb_refs():
    return {name: camb_background(p) for name, p in POINTS.items()}


@pytest.mark.parametrize("name", list(POINTS))
def test_background_matches_camb(name, camb_refs):
    dev = max_rel(numass_background(POINTS[name]), camb_refs[name])
    print(f"\n{name}: " + ", ".join(f"{k} {v:.1e}" for k, v in dev.items()))
    bad = {k: v for k, v in dev.items() if not v <= TOL}
    assert not bad, f"relative deviation from CAMB above {TOL}: {bad}"


def test_sound_horizon_and_theta_meet_the_1e4_target(camb_refs):
    """The calibration target: r_d and theta_* within 1e-4 of CAMB at every test point."""
    worst = {k: max(max_rel(numass_background(POINTS[n]), camb_refs[n], (k,))[k] for n in POINTS)
             for k in ("rdrag", "theta_star")}
    print(f"\nworst over {len(POINTS)} points: {worst}")
    assert max(worst.values()) <= 1e-4, worst


@pytest.mark.parametrize("name", list(THETA_POINTS))
def test_cosmomc_theta_to_H0_matches_camb(name):
    p = THETA_POINTS[name]
    ours, ref = numass_background(p), camb_background(p)
    rel = ours["H0"] / ref["H0"] - 1
    print(f"\n{name}: H0 numass {ours['H0']:.5f}, CAMB {ref['H0']:.5f}, rel {rel:.1e}")
    assert abs(rel) <= 1e-4
    dev = max_rel(ours, ref)
    assert max(dev.values()) <= TOL, dev


def test_result_is_a_background_with_its_attributes():
    b = compute_background(BASE)
    assert isinstance(b, Background)
    for name in ("rdrag", "zdrag", "zstar", "rstar", "theta_star", "DM_star", "omegam", "h",
                 "omnuh2"):
        assert np.isfinite(getattr(b, name)), name
    assert b.theta_star == pytest.approx(100 * b.rstar / b.DM_star, rel=1e-12)
    assert b.omnuh2 == pytest.approx(camb.set_params(H0=67.36, mnu=0.06).omnuh2, rel=2e-4)
    z = np.array([0.5, 1.0])
    np.testing.assert_allclose(b.DV(z), np.cbrt(z * b.DM(z) ** 2 * b.DH(z)), rtol=1e-12)
    np.testing.assert_allclose(b.DH(z), C_KM_S / b.H(z), rtol=1e-12)
    assert np.shape(b.H(z)) == (2,) and np.ndim(b.DM(0.5)) == 0


# ---------------------------------------------------------------------------------------------
# Sigma m_nu,eff < 0
# ---------------------------------------------------------------------------------------------
NEG_BASE = {k: v for k, v in BASE.items() if k != "mnu"}


@pytest.mark.parametrize("extra", [{}, {"nu_states": 3}, {"w": -0.7, "wa": -1.0},
                                   {"cosmomc_theta": 0.0104092}],
                         ids=["H0", "3states", "w0wa", "theta"])
def test_mirror_matches_camb_mirror(extra):
    p = {**NEG_BASE, **extra}
    if "cosmomc_theta" in p:
        p.pop("H0")
    m = 0.2
    ref0, ref1 = camb_background({**p, "mnu": 0.0}), camb_background({**p, "mnu": m})
    camb_mirror = {k: 2 * np.asarray(ref0[k]) - np.asarray(ref1[k]) for k in (*QUANTITIES, "H0")}
    ours = numass_background({**p, "mnu": -m}, mirror=True)
    dev = max_rel(ours, camb_mirror, (*QUANTITIES, "H0"))
    print(f"\nmirror at -{m} {extra}: " + ", ".join(f"{k} {v:.1e}" for k, v in dev.items()))
    assert max(dev.values()) <= TOL, dev
    assert max(max_rel(ours, ref0).values()) > 1e-3  # a real shift, not the m = 0 background


def test_elbers_density_is_the_sign_flipped_mass_dependent_part():
    """rho_nu(a; -m) = 2 rho_nu(a; 0) - rho_nu(a; m) at fixed omega_b, omega_c, H0: H^2 obeys
    the same relation wherever the dark energy is the same (it is, up to the flatness
    constant, which the relation also carries), so check it on H^2 directly."""
    a = np.array([1e-6, 1e-4, 1e-3, 0.1, 0.5, 1.0])
    z = 1 / a - 1
    for m in (0.05, 0.3):
        h2 = {s: compute_background({**NEG_BASE, "mnu": s}).H(z) ** 2 for s in (-m, 0.0, m)}
        np.testing.assert_allclose(h2[-m], 2 * h2[0.0] - h2[m], rtol=1e-10)
    neg = compute_background({**NEG_BASE, "mnu": -0.1})
    assert neg.omnuh2 == pytest.approx(-compute_background({**NEG_BASE, "mnu": 0.1}).omnuh2)
    assert neg.omegam < compute_background({**NEG_BASE, "mnu": 0.0}).omegam


def _four(b) -> np.ndarray:
    return np.array([float(b.H(0.5)), float(b.DM(1.0)), float(b.DV(0.51)), b.rdrag, b.theta_star])


FOUR = ("H(0.5)", "DM(1)", "DV(0.51)", "rdrag", "theta_star")


def test_elbers_vs_mirror_difference():
    """The two extensions agree to first order in m; measured differences (reported):
    ~1e-5 at -0.1 eV and ~1-2e-4 at -0.3 eV (H, D_M, D_V, theta_*), r_d much less."""
    diff = {}
    for m in (0.1, 0.2, 0.3):
        elbers = _four(compute_background({**NEG_BASE, "mnu": -m}))
        mirror = _four(mirror_background({**NEG_BASE, "mnu": -m}))
        shift = mirror / _four(compute_background({**NEG_BASE, "mnu": 0.0})) - 1
        diff[m] = elbers / mirror - 1
        print(f"\nmnu_eff = -{m}: Elbers/mirror - 1 = "
              + ", ".join(f"{n} {d:+.2e}" for n, d in zip(FOUR, diff[m]))
              + " | mirror's shift from m = 0: " + ", ".join(f"{s:+.2e}" for s in shift))
        assert np.all(np.abs(diff[m]) < 0.1 * np.abs(shift))  # small next to the mass effect
        assert np.all(np.abs(diff[m]) > 1e-9)  # but they are different definitions
    assert np.max(np.abs(diff[0.1])) < 5e-5 and np.max(np.abs(diff[0.3])) < 4e-4
    ratio = np.abs(diff[0.2] / diff[0.1])  # second order in m: ~4x (r_d: at least that)
    print(f"\n|d(-0.2)/d(-0.1)| = {ratio}")
    assert np.all(ratio > 3.2)


@pytest.mark.parametrize("mirror", [False, True], ids=["elbers", "mirror"])
@pytest.mark.parametrize("extra", [{}, {"nu_states": 3}, {"cosmomc_theta": 0.0104092}],
                         ids=["H0", "3states", "theta"])
def test_continuous_first_derivative_at_zero(mirror, extra):
    p = {**NEG_BASE, **extra}
    if "cosmomc_theta" in p:
        p.pop("H0")

    def at(m):
        return _four(mirror_background({**p, "mnu": m}) if mirror
                     else compute_background({**p, "mnu": m}))

    x0 = at(0.0)
    for m in (1e-7, -1e-7):  # continuity
        np.testing.assert_allclose(at(m), x0, rtol=1e-9)
    for eps in (1e-3, 2e-3):  # one-sided slopes agree
        right = (at(eps) - x0) / eps
        left = (x0 - at(-eps)) / eps
        rel = np.abs(left / right - 1)
        assert np.all(np.abs(right * eps / x0) > 1e-8)  # the quotients measure a real slope
        assert np.all(rel < 5e-4), rel


# ---------------------------------------------------------------------------------------------
# the z*, z_drag fit
# ---------------------------------------------------------------------------------------------
def test_recombination_fit_reproduces_camb_at_fresh_points():
    box = calibration_box()
    rng = np.random.default_rng(7)  # not the calibration seeds: fresh points in the box
    worst = [0.0, 0.0]
    for _ in range(6):
        ob, oc, m, nnu = (rng.uniform(*box[k]) for k in ("ombh2", "omch2", "mnu", "nnu"))
        ref = camb_background({"H0": 67.5, "ombh2": ob, "omch2": oc, "mnu": m, "nnu": nnu})
        dz = (redshift_fit("zstar", ob, oc, m, nnu) - ref["zstar"],
              redshift_fit("zdrag", ob, oc, m, nnu) - ref["zdrag"])
        worst = [max(worst[0], abs(dz[0])), max(worst[1], abs(dz[1]))]
    print(f"\nrecombination fit: max |dz*| = {worst[0]:.4f}, max |dz_drag| = {worst[1]:.4f}")
    assert worst[0] < 0.01 and worst[1] < 0.06


def test_recombination_fit_mirror_at_negative_mass():
    for name in ("zstar", "zdrag"):
        z0, z1 = (float(redshift_fit(name, 0.0224, 0.12, m)) for m in (0.0, 0.2))
        assert float(redshift_fit(name, 0.0224, 0.12, -0.2)) == pytest.approx(2 * z0 - z1,
                                                                             rel=1e-14)
        assert z1 != z0


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, match", [
    ({**BASE, "omegab": 0.05}, "omegab"),
    ({**BASE, "omk": 0.01}, "omk"),
    ({k: v for k, v in BASE.items() if k != "ombh2"}, "ombh2"),
    ({**BASE, "cosmomc_theta": 0.0104}, "H0 or cosmomc_theta"),
    ({**BASE, "omch2": -0.1}, "omch2"),
    ({**BASE, "omch2": float("nan")}, "omch2"),
    ({**BASE, "mnu": float("inf")}, "mnu"),
    ({**BASE, "w": "minus one"}, "'w'"),
    ({**BASE, "nnu": 5.0}, "nnu"),
    ({**BASE, "nu_states": 2}, "nu_states"),
    ({**BASE, "YHe": 0.26}, "YHe"),
    ({**BASE, "TCMB": 2.0}, "TCMB"),
    ({k: v for k, v in BASE.items() if k != "H0"}, "H0"),
], ids=["unknown", "omk", "no_ombh2", "H0_and_theta", "omch2<0", "omch2_nan", "mnu_inf", "w_str",
        "nnu_range", "nu_states", "YHe", "TCMB", "no_H0"])
def test_bad_input_is_input_error(params, match):
    with pytest.raises(InputError, match=match):
        compute_background(params)


def test_defaults_and_flat_omk_are_accepted():
    b = compute_background({**BASE, "nnu": 3.044, "omk": 0.0, "nu_states": 1, "TCMB": 2.7255,
                            "w": -1.0, "wa": 0.0})
    assert b.rdrag == compute_background(BASE).rdrag


def test_unphysical_point_is_theory_error():
    with pytest.raises(TheoryError):
        compute_background({**BASE, "H0": 20.0, "omch2": 0.3})  # no room for dark energy
    with pytest.raises(TheoryError):
        compute_background({**THETA_POINTS["lcdm"], "cosmomc_theta": 0.5})  # no H0 reaches it
