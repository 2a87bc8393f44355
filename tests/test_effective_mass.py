"""EffectiveMass (Sigma m_nu,eff): the wrapper's logic on a cheap analytic backend, then the
observable mirror around real CAMB (3 CAMB runs at lmax 1500), and the native (Elbers et al.)
extension of numass's background code where that module is present."""
from __future__ import annotations

import numpy as np
import pytest

from numass.errors import InputError
from numass.theory.backend import Backend
from numass.theory.batch import BatchProducts
from numass.theory.effective_mass import EffectiveMass, MirroredBackground, _mirror_rows
from numass.theory.products import SPECTRA_KEYS, Spectra, TheoryProducts

Z = np.array([0.3, 0.51, 1.0, 2.33])
BASE = {"H0": 67.36, "ombh2": 0.02237, "omch2": 0.12}
ALL = frozenset({"spectra", "background"})
BG = frozenset({"background"})


# ------------------------------------------------------------------------------------------
# an analytic backend: every product is 1 + a m + b m^2 times a shape, so the mirror
# 2 X(0) - X(|m|) = 1 + a m - b m^2 differs from continuing the formula to m < 0
# ------------------------------------------------------------------------------------------
def _f(m: float, a: float, b: float) -> float:
    return 1.0 + a * m + b * m * m


class ToyBackground:
    def __init__(self, m: float):
        self.m = m
        self.rdrag = 147.0 * _f(m, -0.02, 0.3)
        self.theta_star = 1.0411 * _f(m, 0.01, -0.2)

    def H(self, z):
        return 67.0 * np.sqrt(0.3 * (1 + np.asarray(z, float)) ** 3 + 0.7) * _f(self.m, 0.05, 0.4)

    def DM(self, z):
        return 3000.0 * np.log1p(np.asarray(z, float)) * _f(self.m, -0.04, 0.2)

    def DH(self, z):
        return 299792.458 / self.H(z)

    def DV(self, z):
        z = np.asarray(z, float)
        return np.cbrt(z * self.DM(z) ** 2 * self.DH(z))


class Toy(Backend):
    name = "toy"
    supports_negative_mnu = False
    COEF = {"tt": (-0.2, 0.5), "te": (0.1, -0.4), "ee": (-0.1, 0.3), "bb": (0.3, 0.2),
            "pp": (-0.9, 1.5)}

    def __init__(self):
        self.calls: list[dict] = []

    def param_names(self):
        return ("H0", "ombh2", "omch2", "mnu", "A_lens")

    def compute(self, params, need=ALL):
        self.check_params(params)
        m = float(params["mnu"])
        assert m >= 0 or self.supports_negative_mnu, "negative mass reached a backend refusing it"
        self.calls.append(dict(params))
        ell = np.arange(41)
        shape = 1.0 + np.sin(ell / 5.0) ** 2
        spectra = Spectra(ell=ell, **{k: shape * _f(m, *c) for k, c in self.COEF.items()}) \
            if "spectra" in need else None
        bg = ToyBackground(m)
        derived = {"rdrag": bg.rdrag, "theta_star": bg.theta_star, "H0": float(params["H0"]),
                   "sigma8": 0.81 * _f(m, -0.2, 0.6), "label": "not a number"}
        return TheoryProducts(params=dict(params), spectra=spectra, background=bg, derived=derived)


class NativeToy(Toy):
    supports_negative_mnu = True


@pytest.mark.parametrize("m", [0.0, 0.03, 0.5])
def test_nonnegative_is_the_backend_exactly(m):
    toy = Toy()
    out = EffectiveMass(toy).compute({**BASE, "mnu_eff": m})
    assert toy.calls == [{**BASE, "mnu": m}]
    ref = Toy().compute({**BASE, "mnu": m})
    for k in SPECTRA_KEYS:
        assert np.array_equal(getattr(out.spectra, k), getattr(ref.spectra, k)), k
    for f in ("H", "DM", "DH", "DV"):
        assert np.array_equal(getattr(out.background, f)(Z), getattr(ref.background, f)(Z)), f
    assert (out.background.rdrag, out.background.theta_star) == (ref.background.rdrag,
                                                                 ref.background.theta_star)
    # a batch of one: the derived numbers (a label is not one)
    assert out.derived == {**{k: v for k, v in ref.derived.items() if k != "label"}, "mnu_eff": m}
    assert out.params == {**BASE, "mnu_eff": m}


@pytest.mark.parametrize("m", [-0.02, -0.15, -0.5])
def test_negative_is_the_observable_mirror(m):
    toy = Toy()
    out = EffectiveMass(toy).compute({**BASE, "mnu_eff": m})
    assert sorted(c["mnu"] for c in toy.calls) == [0.0, -m]  # two evaluations, same other params
    assert all({k: v for k, v in c.items() if k != "mnu"} == BASE for c in toy.calls)
    x0, x1 = Toy().compute({**BASE, "mnu": 0.0}), Toy().compute({**BASE, "mnu": -m})
    for k in SPECTRA_KEYS:
        np.testing.assert_allclose(getattr(out.spectra, k),
                                   2 * getattr(x0.spectra, k) - getattr(x1.spectra, k), rtol=1e-14)
        # the mirror flips the quadratic term: it is not the formula continued to m < 0
        a, b = Toy.COEF[k]
        np.testing.assert_allclose(getattr(out.spectra, k) / getattr(x0.spectra, k),
                                   1 + a * m - b * m * m, rtol=1e-12)
    for f in ("H", "DM", "DH", "DV"):
        np.testing.assert_allclose(getattr(out.background, f)(Z),
                                   2 * getattr(x0.background, f)(Z) - getattr(x1.background, f)(Z),
                                   rtol=1e-14)
    for s in ("rdrag", "theta_star"):
        assert getattr(out.background, s) == pytest.approx(
            2 * getattr(x0.background, s) - getattr(x1.background, s), rel=1e-14)
        assert out.derived[s] == pytest.approx(getattr(out.background, s), rel=1e-14)
    assert out.derived["sigma8"] == pytest.approx(0.81 * _f(m, -0.2, -0.6), rel=1e-14)
    assert out.derived["H0"] == BASE["H0"]  # a fixed input mirrors to itself
    assert "label" not in out.derived and out.derived["mnu_eff"] == m
    assert out.params == {**BASE, "mnu_eff": m}


def test_continuity_and_first_derivative_at_zero_toy():
    """One-sided difference quotients at +-eps agree, and X(+-eps) -> X(0)."""
    em, eps = EffectiveMass(Toy()), 0.02
    x = {m: em.compute({**BASE, "mnu_eff": m}) for m in (-eps, 0.0, eps)}
    for k in ("tt", "pp"):
        right = (getattr(x[eps].spectra, k) - getattr(x[0.0].spectra, k)) / eps
        left = (getattr(x[0.0].spectra, k) - getattr(x[-eps].spectra, k)) / eps
        np.testing.assert_allclose(left, right, rtol=1e-10)
        a = Toy.COEF[k][0]  # and both are the analytic derivative up to O(eps)
        np.testing.assert_allclose(right / (1.0 + np.sin(np.arange(41) / 5.0) ** 2), a,
                                   atol=abs(Toy.COEF[k][1]) * eps * 1.0001)


def test_zero_point_cached_per_other_parameters_and_need():
    toy = Toy()
    em = EffectiveMass(toy)
    for m in (-0.1, -0.2, -0.05):
        em.compute({**BASE, "mnu_eff": m})
    zeros = lambda: [c["mnu"] for c in toy.calls].count(0.0)
    assert zeros() == 1 and len(toy.calls) == 4
    em.compute({**BASE, "H0": 70.0, "mnu_eff": -0.1})
    assert zeros() == 2
    out = em.compute({**BASE, "H0": 70.0, "mnu_eff": -0.1}, BG)
    assert zeros() == 3 and out.spectra is None and out.background is not None


def test_native_backend_gets_the_negative_mass():
    toy = NativeToy()
    out = EffectiveMass(toy).compute({**BASE, "mnu_eff": -0.1})
    assert toy.calls == [{**BASE, "mnu": -0.1}]
    assert out.derived["sigma8"] == 0.81 * _f(-0.1, -0.2, 0.6)


def test_input_handling():
    toy = Toy()
    em = EffectiveMass(toy)
    out = em.compute({**BASE, "mnu": 0.06})  # no mnu_eff: untouched pass-through
    assert toy.calls == [{**BASE, "mnu": 0.06}] and "mnu_eff" not in out.derived
    assert set(em.param_names()) == {*toy.param_names(), "mnu_eff"} and em.name == "toy"
    with pytest.raises(InputError, match="not both"):
        em.compute({**BASE, "mnu": 0.06, "mnu_eff": -0.1})
    with pytest.raises(InputError, match="mnu_eff"):
        em.compute({**BASE, "mnu_eff": "light"})
    with pytest.raises(InputError, match="mnu_eff"):
        em.compute({**BASE, "mnu_eff": float("nan")})
    with pytest.raises(InputError, match="Omega_nu"):
        em.compute({**BASE, "Omega_nu": 0.001, "mnu_eff": -0.1})
    with pytest.raises(InputError, match="unknown theory product"):
        em.compute({**BASE, "mnu_eff": -0.1}, frozenset({"pk"}))
    assert len(toy.calls) == 1


def test_mirror_helpers():
    b0, b1 = ToyBackground(0.0), ToyBackground(0.2)
    mb = MirroredBackground(b0, b1)
    assert mb.rdrag == 2 * b0.rdrag - b1.rdrag and not hasattr(mb, "zstar")
    assert np.array_equal(mb.DV(Z), 2 * b0.DV(Z) - b1.DV(Z))
    one = np.ones(1, dtype=bool)
    zero = BatchProducts(params={}, ok=one, derived={"x": np.array([1.0]), "only0": np.ones(1)})
    plus = BatchProducts(params={}, ok=one, derived={"x": np.array([1.5])})
    out = _mirror_rows(plus, zero, np.array([0]), {})
    assert out.derived == {"x": np.array([0.5])} and out.spectra is None and out.background is None


# ------------------------------------------------------------------------------------------
# real CAMB around the mirror: 3 runs (m = 0, 0.1, 0.02) at lmax 1500
# ------------------------------------------------------------------------------------------
M, EPS = 0.1, 0.02
CMB = {**BASE, "tau": 0.0544, "As": 2.1e-9, "ns": 0.9649}


@pytest.fixture(scope="module")
def camb_points():
    from numass.theory.camb_backend import CambBackend

    em = EffectiveMass(CambBackend(lmax=1500))
    out, runs = {}, {}
    for key, m, extra in [(-M, -M, {}), ("alens", -M, {"A_lens": 1.2}), (M, M, {}),
                          (0.0, 0.0, {}), (-EPS, -EPS, {}), (EPS, EPS, {})]:
        out[key] = em.compute({**CMB, **extra, "mnu_eff": m}, ALL)
        runs[key] = em.inner.n_camb_calls
    return out, runs, em


def test_camb_runs_and_A_lens_reuse(camb_points):
    x, runs, em = camb_points
    assert runs == {-M: 2, "alens": 2, M: 2, 0.0: 2, -EPS: 3, EPS: 3}
    np.testing.assert_allclose(x["alens"].spectra.pp, 1.2 * x[-M].spectra.pp, rtol=1e-13)
    assert np.array_equal(x["alens"].spectra.tt, x[-M].spectra.tt)
    # >= 0 is the backend itself: the very arrays CambBackend returns
    ref = em.inner.compute({**CMB, "mnu": M}, ALL)
    for k in SPECTRA_KEYS:
        assert np.array_equal(getattr(x[M].spectra, k), getattr(ref.spectra, k)), k
    assert x[M].derived == {**ref.derived, "mnu_eff": M}


def _contrast(tt):
    """Acoustic peak near ell 1126 over its neighbouring troughs: lower = more lensing smoothing."""
    return tt[1080:1200].max() / (0.5 * (tt[950:1080].min() + tt[1250:1380].min()))


OBSERVABLES = {
    "pp_L100-500": lambda p: float(np.mean(p.spectra.pp[100:501])),
    "TT_smoothing": lambda p: _contrast(p.spectra.tt),
    "DM(1)/rd": lambda p: float(p.background.DM(1.0)) / p.background.rdrag,
    "DV(0.51)/rd": lambda p: float(p.background.DV(0.51)) / p.background.rdrag,
    "sigma8": lambda p: p.derived["sigma8"],
}


@pytest.mark.parametrize("name", list(OBSERVABLES))
def test_camb_negative_moves_opposite_to_positive(camb_points, name):
    x = camb_points[0]
    obs = OBSERVABLES[name]
    x0 = obs(x[0.0])
    up, down = (obs(x[M]) - x0) / x0, (obs(x[-M]) - x0) / x0
    print(f"\n{name}: relative shift at mnu_eff = +{M}: {up:+.3e}, at -{M}: {down:+.3e}")
    assert abs(up) > 1e-4 and up * down < 0
    if name != "TT_smoothing":  # a ratio of extrema is not linear in the spectrum
        assert down == pytest.approx(-up, rel=0.01)
    if name in ("pp_L100-500", "sigma8", "DM(1)/rd"):
        assert up < 0  # mass suppresses lensing and clustering, shortens DM(1)/rd at fixed H0


def test_camb_continuity_and_derivative_at_zero(camb_points):
    """Continuity: X(+-eps) - X(0) is a fraction ~eps/M of the shift at M. Derivative: the
    one-sided difference quotients at +-eps agree to 1e-9 of the change (rounding only: the
    mirror makes them equal analytically) for TT, pp arrays and DM(1), rdrag."""
    x = camb_points[0]
    sel = slice(30, 1501)
    for k in ("tt", "pp"):
        a0 = getattr(x[0.0].spectra, k)[sel]
        big = np.max(np.abs(getattr(x[M].spectra, k)[sel] - a0))
        right = getattr(x[EPS].spectra, k)[sel] - a0
        left = a0 - getattr(x[-EPS].spectra, k)[sel]
        assert np.max(np.abs(right)) < 0.3 * big and np.max(np.abs(left)) < 0.3 * big
        np.testing.assert_allclose(left, right, rtol=0, atol=1e-9 * np.max(np.abs(right)))
    for name, obs in (("DM1", lambda p: float(p.background.DM(1.0))),
                      ("rdrag", lambda p: p.background.rdrag)):
        y0 = obs(x[0.0])
        q_r, q_l = (obs(x[EPS]) - y0) / EPS, (y0 - obs(x[-EPS])) / EPS
        print(f"\n{name}: dX/dm from the right {q_r:.6e}, from the left {q_l:.6e}")
        assert q_l == pytest.approx(q_r, rel=1e-9)
        assert abs(obs(x[EPS]) - y0) < 0.3 * abs(obs(x[M]) - y0)


def test_camb_mirror_vs_native_background():
    """Where numass computes both extensions (the background), they agree to first order:
    the native (Elbers et al.) one-sided derivatives are continuous too, and its shift at
    mnu_eff = -0.1 eV matches CAMB's mirrored shift to a few per cent of the shift."""
    bgmod = pytest.importorskip("numass.theory.background")
    from numass.theory.camb_backend import CambBackend

    native = lambda m: bgmod.compute_background({**BASE, "mnu": m})
    camb_m = EffectiveMass(CambBackend(lmax=1500))
    mirror = lambda m: camb_m.compute({**BASE, "mnu_eff": m}, BG).background
    h = EPS
    for name, obs in (("DM1", lambda b: float(b.DM(1.0))), ("rdrag", lambda b: b.rdrag)):
        y = {m: obs(native(m)) for m in (-2 * h, -h, 0.0, h, 2 * h)}
        # second-order one-sided derivatives (exact for X0 + a m + b m|m|, the native form)
        d_r = (-3 * y[0.0] + 4 * y[h] - y[2 * h]) / (2 * h)
        d_l = (3 * y[0.0] - 4 * y[-h] + y[-2 * h]) / (2 * h)
        scale = abs(y[h] - y[0.0]) / h
        print(f"\nnative {name}: dX/dm right {d_r:.5e}, left {d_l:.5e} (change/eps {scale:.4e})")
        assert abs(d_r - d_l) < 1e-3 * scale
        # the two extensions at -M: compare the shifts from m = 0 (removes code differences)
        s_nat = obs(native(-M)) - obs(native(0.0))
        s_mir = obs(mirror(-M)) - obs(mirror(0.0))
        print(f"{name} shift at -{M} eV: native {s_nat:+.5e}, CAMB mirror {s_mir:+.5e}, "
              f"relative difference {s_nat / s_mir - 1:+.2e}")
        assert s_nat == pytest.approx(s_mir, rel=0.05)
