"""Sigma m_nu,eff (EffectiveMass): the wrapper's logic on a cheap analytic backend, then the
observable mirror with real CAMB and the native (Elbers et al.) extension of the background backend."""
from __future__ import annotations

import numpy as np
import pytest

from numass.backends import make_backend
from numass.errors import InputError
from numass.theory.backend import Backend
from numass.theory.background import compute_background
from numass.theory.effective_mass import EffectiveMass
from numass.theory.products import SPECTRA_KEYS, Spectra, TheoryProducts

from conftest import mirror_background

Z = np.array([0.3, 0.51, 1.0, 2.33])
BASE = {"H0": 67.36, "ombh2": 0.02237, "omch2": 0.12}


# ---------------------------------------------------------------------------------------------
# a fake backend: every product a smooth, deliberately non-linear function of mnu, so that the
# mirror 2 X(0) - X(|m|) differs from a naive evaluation X(m) at m < 0
# ---------------------------------------------------------------------------------------------
def _shape(m: float, a: float, b: float) -> float:
    return 1.0 + a * m + b * m**2


class FakeBackground:
    def __init__(self, m: float, h: float):
        self.m, self.h0 = m, h
        self.rdrag = 147.0 * _shape(m, -0.01, 0.03)
        self.theta_star = 1.0411 * _shape(m, -0.02, 0.05)

    def H(self, z):
        z = np.asarray(z, dtype=float)
        return self.h0 * np.sqrt(0.3 * (1 + z) ** 3 + 0.7) * _shape(self.m, 0.04, -0.2)

    def DM(self, z):
        return 3000.0 * np.log1p(np.asarray(z, dtype=float)) * _shape(self.m, -0.03, 0.1)

    def DH(self, z):
        return 299792.458 / self.H(z)

    def DV(self, z):
        z = np.asarray(z, dtype=float)
        return np.cbrt(z * self.DM(z) ** 2 * self.DH(z))


class FakeBackend(Backend):
    """Analytic products; refuses m < 0 as CAMB should; records every call."""

    name = "fake"
    supports_negative_mnu = False

    def __init__(self, lmax: int = 50):
        self.lmax = lmax
        self.calls: list[dict] = []

    def param_names(self):
        return ("H0", "ombh2", "omch2", "mnu", "As")

    def compute(self, params, need=frozenset({"spectra", "background"})):
        self.check_params(params)
        m = float(params.get("mnu", 0.06))
        if m < 0 and not self.supports_negative_mnu:
            raise AssertionError("the wrapper passed a negative mass to a backend that refuses it")
        self.calls.append(dict(params))
        ell = np.arange(self.lmax + 1)
        base = 1.0 + ell / self.lmax
        spectra = Spectra(ell=ell, tt=base * _shape(m, -0.1, 0.4), te=base * _shape(m, 0.2, -0.3),
                          ee=base * _shape(m, -0.05, 0.2), bb=base * _shape(m, 0.01, 0.1),
                          pp=base * _shape(m, -0.3, 0.6)) if "spectra" in need else None
        h = float(params.get("H0", 67.0))
        bg = FakeBackground(m, h)
        derived = {"rdrag": bg.rdrag, "theta_star": bg.theta_star, "H0": h,
                   "sigma8": 0.81 * _shape(m, -0.2, 0.3)}
        return TheoryProducts(params=dict(params), spectra=spectra, background=bg, derived=derived)


class FakeNegativeBackend(FakeBackend):
    supports_negative_mnu = True


def _direct(m: float, need=frozenset({"spectra", "background"})) -> TheoryProducts:
    return FakeBackend().compute({**BASE, "mnu": m}, need)


@pytest.mark.parametrize("m", [0.0, 0.02, 0.06, 0.4])
def test_nonnegative_is_exact_pass_through(m):
    fake = FakeBackend()
    out = EffectiveMass(fake).compute({**BASE, "mnu_eff": m})
    assert fake.calls == [{**BASE, "mnu": m}]  # one call, the mass passed unchanged
    ref = _direct(m)
    for k in SPECTRA_KEYS:
        assert np.array_equal(getattr(out.spectra, k), getattr(ref.spectra, k))
    for f in ("H", "DM", "DH", "DV"):
        assert np.array_equal(getattr(out.background, f)(Z), getattr(ref.background, f)(Z))
    assert out.background.rdrag == ref.background.rdrag
    assert {k: v for k, v in out.derived.items() if k != "mnu_eff"} == ref.derived
    assert out.derived["mnu_eff"] == m
    assert out.params == {**BASE, "mnu_eff": m}


@pytest.mark.parametrize("m", [-0.01, -0.1, -0.35])
def test_negative_is_the_mirror(m):
    out = EffectiveMass(FakeBackend()).compute({**BASE, "mnu_eff": m})
    p0, p1 = _direct(0.0), _direct(-m)
    for k in SPECTRA_KEYS:
        expect = 2 * getattr(p0.spectra, k) - getattr(p1.spectra, k)
        np.testing.assert_allclose(getattr(out.spectra, k), expect, rtol=1e-14, atol=0)
    # and it is not the naive continuation X(m) of the analytic formula
    naive_tt = (1.0 + p0.spectra.ell / 50) * _shape(m, -0.1, 0.4)
    assert not np.allclose(out.spectra.tt, naive_tt, rtol=1e-6)
    for f in ("H", "DM", "DH", "DV"):
        expect = 2 * getattr(p0.background, f)(Z) - getattr(p1.background, f)(Z)
        np.testing.assert_allclose(getattr(out.background, f)(Z), expect, rtol=1e-14)
    for s in ("rdrag", "theta_star"):
        assert getattr(out.background, s) == pytest.approx(
            2 * getattr(p0.background, s) - getattr(p1.background, s), rel=1e-14)
    for k in ("rdrag", "theta_star", "sigma8", "H0"):
        assert out.derived[k] == pytest.approx(2 * p0.derived[k] - p1.derived[k], rel=1e-14)
    assert out.derived["H0"] == BASE["H0"]  # an input held fixed mirrors to itself
    assert out.derived["mnu_eff"] == m
    assert out.params == {**BASE, "mnu_eff": m}


def test_mirror_is_antisymmetric_about_zero():
    em = EffectiveMass(FakeBackend())
    x0 = em.compute({**BASE, "mnu_eff": 0.0}).spectra.pp
    for m in (0.05, 0.2):
        plus = em.compute({**BASE, "mnu_eff": m}).spectra.pp - x0
        minus = em.compute({**BASE, "mnu_eff": -m}).spectra.pp - x0
        np.testing.assert_allclose(minus, -plus, rtol=1e-10, atol=1e-15)


def test_zero_mass_evaluation_is_cached():
    fake = FakeBackend()
    em = EffectiveMass(fake)
    for m in (-0.1, -0.2, -0.05, -0.3):
        em.compute({**BASE, "mnu_eff": m})
    masses = [c["mnu"] for c in fake.calls]
    assert masses.count(0.0) == 1, masses
    assert sorted(m for m in masses if m > 0) == [0.05, 0.1, 0.2, 0.3]
    # another parameter changes: the m = 0 point is recomputed once for the new point
    em.compute({**BASE, "H0": 70.0, "mnu_eff": -0.1})
    em.compute({**BASE, "H0": 70.0, "mnu_eff": -0.2})
    assert [c["mnu"] for c in fake.calls].count(0.0) == 2
    # so does a different request (background only): the cache is keyed on `need`
    out = em.compute({**BASE, "H0": 70.0, "mnu_eff": -0.2}, frozenset({"background"}))
    assert [c["mnu"] for c in fake.calls].count(0.0) == 3
    assert out.spectra is None and out.background is not None


def test_native_negative_backend_is_passed_through():
    fake = FakeNegativeBackend()
    out = EffectiveMass(fake).compute({**BASE, "mnu_eff": -0.1})
    assert fake.calls == [{**BASE, "mnu": -0.1}]
    np.testing.assert_array_equal(out.spectra.tt, (1.0 + np.arange(51) / 50) * _shape(-0.1, -0.1, 0.4))


def test_without_mnu_eff_the_call_is_untouched():
    fake = FakeBackend()
    em = EffectiveMass(fake)
    out = em.compute({**BASE, "mnu": 0.06})
    assert fake.calls == [{**BASE, "mnu": 0.06}]
    assert "mnu_eff" not in out.derived
    assert "mnu_eff" in em.param_names() and "mnu" in em.param_names()


def test_both_mnu_and_mnu_eff_is_input_error():
    fake = FakeBackend()
    with pytest.raises(InputError, match="mnu_eff"):
        EffectiveMass(fake).compute({**BASE, "mnu": 0.06, "mnu_eff": -0.1})
    with pytest.raises(InputError):
        EffectiveMass(fake).compute({**BASE, "mnu": 0.06, "mnu_eff": 0.06})
    assert fake.calls == []


def test_unknown_parameter_reaches_the_inner_check():
    with pytest.raises(InputError, match="nonsense"):
        EffectiveMass(FakeBackend()).compute({**BASE, "nonsense": 1.0, "mnu_eff": 0.1})


# ---------------------------------------------------------------------------------------------
# the background backend: Sigma m_nu,eff < 0 is native (Elbers et al.), >= 0 is compute_background
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("m", [0.0, 0.06, 0.3, -0.1])
def test_background_backend_reproduces_compute_background_exactly(m):
    out = make_backend("background").compute({**BASE, "mnu_eff": m}, frozenset({"background"}))
    ref = compute_background({**BASE, "mnu": m})
    for f in ("H", "DM", "DH", "DV"):
        assert np.array_equal(getattr(out.background, f)(Z), getattr(ref, f)(Z))
    assert out.background.rdrag == ref.rdrag and out.background.theta_star == ref.theta_star
    assert out.derived["rdrag"] == ref.rdrag and out.derived["mnu_eff"] == m


def test_background_backend_negative_is_elbers_not_mirror():
    out = make_backend("background").compute({**BASE, "mnu_eff": -0.3}, frozenset({"background"}))
    mir = mirror_background({**BASE, "mnu": -0.3})
    rel = abs(float(out.background.DM(1.0)) / float(mir.DM(1.0)) - 1)
    assert 1e-6 < rel < 2e-4  # the two extensions differ at second order only


# ---------------------------------------------------------------------------------------------
# real CAMB: the observable mirror (4 CAMB runs at lmax 2000)
# ---------------------------------------------------------------------------------------------
M, EPS = 0.05, 0.005
CMB = {**BASE, "tau": 0.0544, "As": 2.1e-9, "ns": 0.9649}
NEED = frozenset({"spectra", "background"})


@pytest.fixture(scope="module")
def camb_points():
    em = make_backend("camb", lmax=2000)
    out = {}
    for m in (-M, M, -EPS, EPS, 0.0):  # this order reuses CAMB's cache and the m = 0 cache
        out[m] = em.compute({**CMB, "mnu_eff": m}, NEED)
    out["n_camb_calls"] = em.inner.n_camb_calls
    return out


def _pp_mean(products):
    return float(np.mean(products.spectra.pp[100:501]))


def _bao(products):
    bg = products.background
    return float(bg.DM(1.0)) / bg.rdrag


@pytest.mark.slow
def test_camb_run_count(camb_points):
    # m = 0 (for the mirror), 0.05, 0.005; m = 0 again is the wrapper's cached m = 0 point
    assert camb_points["n_camb_calls"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("observable", [_pp_mean, _bao], ids=["pp_L100-500", "DM1_over_rdrag"])
def test_camb_negative_moves_opposite_to_positive(camb_points, observable):
    x0 = observable(camb_points[0.0])
    d_plus = observable(camb_points[M]) - x0
    d_minus = observable(camb_points[-M]) - x0
    print(f"\n{observable.__name__}: X(0) = {x0:.6g}, Delta+ = {d_plus / x0:+.4e}, "
          f"Delta- = {d_minus / x0:+.4e} (relative)")
    assert d_plus < 0  # mass suppresses lensing and shortens DM(1)/rdrag at fixed H0
    assert abs(d_plus / x0) > 1e-4  # a real, measurable shift
    assert np.sign(d_minus) == -np.sign(d_plus)
    assert abs(d_minus) == pytest.approx(abs(d_plus), rel=0.2)


@pytest.mark.slow
def test_camb_continuity_at_zero(camb_points):
    x0 = camb_points[0.0]
    for key in ("tt", "ee", "pp"):
        a0 = getattr(x0.spectra, key)[30:2001]
        big = np.max(np.abs(getattr(camb_points[M].spectra, key)[30:2001] - a0))
        right = getattr(camb_points[EPS].spectra, key)[30:2001] - a0
        left = a0 - getattr(camb_points[-EPS].spectra, key)[30:2001]
        # continuity: the jump at +-eps is a fraction ~eps/M of the shift at M, on both sides
        assert np.max(np.abs(right)) < 0.2 * big and np.max(np.abs(left)) < 0.2 * big
        # first derivative: left and right difference quotients agree
        np.testing.assert_allclose(left, right, rtol=1e-6, atol=1e-9 * np.max(np.abs(a0)))
    for obs in (_pp_mean, _bao):
        d_r = (obs(camb_points[EPS]) - obs(x0)) / EPS
        d_l = (obs(x0) - obs(camb_points[-EPS])) / EPS
        assert d_l == pytest.approx(d_r, rel=1e-6)


@pytest.mark.slow
def test_camb_mirror_agrees_with_native_background(camb_points):
    """DM(1)/rdrag from CAMB's mirror vs numass's own background in the Elbers convention."""
    ours = make_backend("background").compute({**BASE, "mnu_eff": -M}, frozenset({"background"}))
    rel = _bao(ours) / _bao(camb_points[-M]) - 1
    print(f"\nDM(1)/rdrag at mnu_eff = {-M}: background (Elbers) / CAMB mirror - 1 = {rel:.2e}")
    assert abs(rel) < 1e-4


def test_compute_point_background_mnu_eff():
    from numass.backends import compute_point
    from numass.parameters import FIDUCIAL

    out = compute_point("lcdm", "background", {"mnu_eff": -0.1})
    bg_keys = ("H0", "ombh2", "omch2", "nnu", "nu_states", "w", "wa")
    ref = compute_background({**{k: FIDUCIAL[k] for k in bg_keys}, "mnu": -0.1})
    assert out.background.rdrag == ref.rdrag and out.background.theta_star == ref.theta_star
    assert np.array_equal(out.background.DM(Z), ref.DM(Z))
    assert "mnu" not in out.params and out.params["mnu_eff"] == -0.1
    with pytest.raises(InputError, match="w0wa"):
        compute_point("lcdm", "background", {"w": -0.9})
