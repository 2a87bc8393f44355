"""Hypothesis 6, `nu_interacting`: physical Σmν in the expansion, free-streaming suppression of
clustering scaled by alpha_fs. Limits: alpha_fs = 1 is ΛCDM + Σmν (checked against the CAMB
backend at the issue's targets); alpha_fs = 0 removes the ~8 f_ν suppression."""
from __future__ import annotations

import numpy as np
import pytest

from numass.errors import InputError
from numass.theory.free_streaming import free_streaming_suppression
from numass.theory.nu_interacting import NuInteractingBackend

from conftest import FIDUCIAL, SPECTRA_LIKELIHOODS, need_dataset, spectra_errors

POINT = {k: v for k, v in FIDUCIAL.items()}  # Σmν = 0.06 eV, H0 = 67.32


@pytest.fixture(scope="module")
def runs():
    """alpha_fs = 1, 0.5, 0 (one CAMB reference run, cached) and the CAMB backend itself."""
    from numass.theory.camb_backend import CambBackend

    out = {a: NuInteractingBackend().compute({**POINT, "alpha_fs": a}) for a in (1.0, 0.5, 0.0)}
    out["camb"] = CambBackend().compute(POINT)
    return out


def _f_nu(products):
    om = products.derived["omnuh2"]
    return om / (POINT["ombh2"] + POINT["omch2"] + om)


def test_alpha_one_is_lcdm_with_mass(runs):
    """The issue's validation targets: C_L^φφ within 1% for 8 <= L <= 1250, lensed TT/TE/EE
    within 0.2 σ_CV for 30 <= ℓ <= 2508 (measured: 8e-5 and <= 0.006)."""
    e, t = runs[1.0].spectra, runs["camb"].spectra
    L = np.arange(8, 1251)
    assert np.max(np.abs(e.pp[L] / t.pp[L] - 1)) < 1e-3
    ell = np.arange(30, 2509)
    cv = np.sqrt(2.0 / (2 * ell + 1))
    s_te = np.sqrt((t.te[ell] ** 2 + t.tt[ell] * t.ee[ell]) / (2 * ell + 1))
    assert np.max(np.abs(e.tt[ell] - t.tt[ell]) / (t.tt[ell] * cv)) < 0.02
    assert np.max(np.abs(e.ee[ell] - t.ee[ell]) / (t.ee[ell] * cv)) < 0.02
    assert np.max(np.abs(e.te[ell] - t.te[ell]) / s_te) < 0.02
    d = runs[1.0].derived
    assert d["sigma8"] == pytest.approx(runs["camb"].derived["sigma8"], rel=1e-4)
    assert d["H0"] == pytest.approx(POINT["H0"], rel=1e-12) and d["alpha_fs"] == 1.0
    assert runs[1.0].background.DM(1.0) == pytest.approx(runs["camb"].background.DM(1.0),
                                                         rel=2e-4)


@pytest.mark.parametrize("lik_id,folder", SPECTRA_LIKELIHOODS)
def test_alpha_one_chi2_matches_camb(runs, data_dir, lik_id, folder):
    from numass.likelihoods import get_likelihood

    need_dataset(data_dir, folder)
    lik = get_likelihood(lik_id, data_dir=data_dir)
    assert abs(lik.chi2(runs[1.0]) - lik.chi2(runs["camb"])) < 0.5


def test_no_free_streaming_raises_lensing_by_the_suppression(runs):
    """alpha_fs = 0 over 1: C_L^φφ up by ≈ the free-streaming suppression of P(k) (8 f_ν at
    z = 0 on small scales; less where the lensing kernel weights higher z and larger scales).
    Measured: 6.7 f_ν at L = 300-1000 for 0.06 eV."""
    f_nu = _f_nu(runs[1.0])
    pp1, pph, pp0 = (runs[a].spectra.pp for a in (1.0, 0.5, 0.0))
    L = np.array([300, 600, 1000])
    gain = (pp0[L] / pp1[L] - 1) / f_nu
    assert np.all((gain > 5.0) & (gain < 9.0)), gain
    # monotonic in alpha_fs and (the factor is S^(alpha - 1)) geometric: half the log at 0.5
    Ls = np.arange(8, 2001)
    assert np.all(pp0[Ls] > pph[Ls]) and np.all(pph[Ls] > pp1[Ls])
    np.testing.assert_allclose(np.log(pph[Ls] / pp1[Ls]), 0.5 * np.log(pp0[Ls] / pp1[Ls]),
                               rtol=0.02)
    # larger scales (low L) are less suppressed by free streaming, so gain less
    assert pp0[10] / pp1[10] < pp0[1000] / pp1[1000]
    # more clustering: higher sigma8; the primary spectra only through the lensing smoothing
    assert runs[0.0].derived["sigma8"] > runs[0.5].derived["sigma8"] > runs[1.0].derived["sigma8"]
    ell = np.arange(30, 2509)
    assert np.max(np.abs(runs[0.0].spectra.tt[ell] / runs[1.0].spectra.tt[ell] - 1)) < 0.01
    # the background does not see alpha_fs
    assert runs[0.0].background.DM(2.0) == runs[1.0].background.DM(2.0)


def test_suppression_limits(runs):
    from numass.theory.reference import _REF_CACHE

    ref = next(r for r in reversed(_REF_CACHE.values())
               if r.params["mnu"] == POINT["mnu"] and r.params["H0"] == POINT["H0"])
    S = free_streaming_suppression(ref)["interp"]
    f_nu = _f_nu(runs[1.0])
    assert S(1e-4, 0.0) == pytest.approx(1.0, abs=1e-3)  # above the free-streaming scale
    assert 7.0 < (1 - S(1.0, 0.0)) / f_nu < 9.5  # ΔP/P ≈ -8 f_ν (Lesgourgues & Pastor)
    k = np.geomspace(1e-3, 1.0, 30)
    assert np.all(np.diff(S(k, 0.0)) < 1e-4)  # deeper with k
    assert np.all(S(k[10:], 3.0) > S(k[10:], 0.0))  # and it grows with time


def test_background_only_needs_no_boltzmann_code():
    from numass.theory.background import compute_background

    out = NuInteractingBackend().compute({**POINT, "alpha_fs": 0.3}, frozenset({"background"}))
    assert out.spectra is None and out.derived["alpha_fs"] == 0.3
    bg = compute_background({k: POINT[k] for k in ("H0", "ombh2", "omch2", "mnu", "nnu")})
    assert out.background.DM(1.5) == pytest.approx(bg.DM(1.5), rel=1e-12)


def test_bad_input():
    from numass.backends import compute_point, make_backend

    for bad in (-0.1, float("nan"), "x"):
        with pytest.raises(InputError, match="alpha_fs"):
            NuInteractingBackend().compute({**POINT, "alpha_fs": bad}, frozenset({"background"}))
    with pytest.raises(InputError, match="does not know"):
        NuInteractingBackend().compute({**POINT, "w": -0.9}, frozenset({"background"}))
    with pytest.raises(InputError, match="does not know"):
        NuInteractingBackend().compute({**POINT, "z_dagger": 2.0}, frozenset({"background"}))
    with pytest.raises(InputError, match="cannot be negative"):
        NuInteractingBackend().compute({**POINT, "mnu": -0.1}, frozenset({"background"}))
    with pytest.raises(InputError, match="physical neutrino mass"):
        compute_point("nu_interacting", "background", {"mnu_eff": -0.05})
    with pytest.raises(InputError, match="no w, wa"):
        compute_point("nu_interacting", "background", {"wa": 0.2})
    with pytest.raises(InputError, match="does not know"):
        make_backend("nu_interacting").compute({**POINT, "z_dagger": 2.0})


def test_model_and_backend_choice():
    from numass.inference.setup import build_info
    from numass.models import get_model

    m = get_model("nu_interacting")
    prior = {p.name: p.prior for p in m.params}
    assert prior["mnu_eff"] == ("uniform", 0.0, 0.5)
    assert prior["alpha_fs"] == ("uniform", 0.0, 1.0)
    # with CMB spectra the default is the engine on the emulator (it ships with numass)
    assert m.resolve_backend(None, need_spectra=True) == "nu_interacting-emulator"
    assert m.resolve_backend("camb", need_spectra=True) == "nu_interacting"
    assert m.resolve_backend(None, need_spectra=False) == "background"
    info = build_info("nu_interacting", ["desi-dr2-bao", "cmb-compressed"])
    assert info["theory"]["numass"]["backend"] == "background"
    assert "alpha_fs" not in info["params"]  # the background does not see it
    assert info["params"]["mnu_eff"]["prior"] == {"min": 0.0, "max": 0.5}


@pytest.fixture(scope="module")
def emulated_pairs():
    """The model through its CAMB engine and through the emulator-based one, at points of the
    region the fits explore (α_fs from 0 to 1, Σmν up to 0.4 eV)."""
    from numass.backends import make_backend

    base = {"ombh2": 0.02240, "omch2": 0.1190, "theta_MC_100": 1.04100, "logA": 3.045,
            "ns": 0.967, "tau": 0.056, "A_L": 1.0, "A_lens": 1.0}
    need = frozenset({"spectra", "background"})
    camb_b, emu_b = make_backend("nu_interacting"), make_backend("nu_interacting-emulator")
    out = []
    for q in ({"mnu_eff": 0.1, "alpha_fs": 0.0}, {"mnu_eff": 0.25, "alpha_fs": 0.5},
              {"mnu_eff": 0.4, "alpha_fs": 0.2, "omch2": 0.121}):
        p = {**base, **q}
        out.append((q, camb_b.compute(p, need), emu_b.compute(p, need)))
    return out


@pytest.mark.slow
def test_emulated_engine_matches_the_camb_engine(emulated_pairs):
    """Measured (docs/latetime.md): TT 0.058 σ_CV, C_L^φφ 0.16%, σ8 0.1%."""
    for q, c, e in emulated_pairs:
        tt, pp = spectra_errors(c, e)
        assert tt < 0.08 and pp < 0.003, (q, tt, pp)
        assert e.derived["sigma8"] == pytest.approx(c.derived["sigma8"], rel=2e-3), q
        assert e.derived["A_L_eff"] > 1.02  # no free streaming: more lensing


@pytest.mark.slow
@pytest.mark.parametrize("lik_id,folder", SPECTRA_LIKELIHOODS)
def test_emulated_engine_chi2(emulated_pairs, data_dir, lik_id, folder):
    """|Δχ²| against the CAMB engine: measured up to 0.19 (plik_lite), 0.17 (PR4), 0.15 (ACT)."""
    from numass.likelihoods import get_likelihood

    need_dataset(data_dir, folder)
    lik = get_likelihood(lik_id, data_dir=data_dir)
    for q, c, e in emulated_pairs:
        assert abs(lik.chi2(e) - lik.chi2(c)) < 0.4, (lik_id, q)
