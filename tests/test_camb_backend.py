"""CambBackend: identical to direct CAMB with the documented settings; the cache; A_L vs A_lens;
w0wa through PPF; failures -> TheoryError; bad input -> InputError; the npz writer; the parameter
normalisation of backend.py. Five CAMB spectra runs at lmax 1500 (~1 s each)."""
from __future__ import annotations

import math

import camb
import numpy as np
import pytest

from numass.chi2 import read_spectra_npz
from numass.errors import InputError, TheoryError
from numass.theory.backend import normalise_params
from numass.theory.camb_backend import CambBackend
from numass.theory.products import SPECTRA_KEYS

LMAX = 1500
P = {"H0": 67.36, "ombh2": 0.02237, "omch2": 0.12, "mnu": 0.06, "tau": 0.0544, "As": 2.1e-9,
     "ns": 0.9649}
W0WA = {"w": -0.75, "wa": -0.9}  # w(a) = w + wa (1 - a) crosses -1 at a ~ 0.72
BG = frozenset({"background"})
Z = np.array([0.0, 0.3, 0.51, 1.0, 2.33])


def _direct_pars(**extra):
    """CAMB set up by hand with the settings the CambBackend docstring states."""
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=P["H0"], ombh2=P["ombh2"], omch2=P["omch2"], mnu=P["mnu"], nnu=3.044,
                       num_massive_neutrinos=1, tau=P["tau"], TCMB=2.7255, **extra)
    pars.InitPower.set_params(As=P["As"], ns=P["ns"])
    pars.WantTensors = False
    return pars


@pytest.fixture(scope="module")
def direct():
    pars = _direct_pars()
    pars.set_for_lmax(LMAX, lens_potential_accuracy=1, lens_output_margin=1250)
    pars.set_matter_power(redshifts=[0.0], kmax=2.0)
    pars.NonLinear = camb.model.NonLinear_lens
    pars.NonLinearModel.set_params(halofit_version="mead2016")
    res = camb.get_results(pars)
    return {"lensed": res.get_lensed_scalar_cls(CMB_unit="muK", lmax=LMAX),
            "unlensed": res.get_unlensed_scalar_cls(CMB_unit="muK", lmax=LMAX),
            "pp": res.get_lens_potential_cls(lmax=LMAX)[:, 0], "sigma8": res.get_sigma8_0(),
            "derived": res.get_derived_params(), "results": res, "omnuh2": pars.omnuh2}


@pytest.fixture(scope="module")
def runs():
    """All the backend calls of this module in a fixed order, with CAMB's run counter after each."""
    b = CambBackend(lmax=LMAX)
    out, calls = {}, {}
    for name, params, need in [("fid", P, None), ("again", dict(P), None),
                               ("alens", {**P, "A_lens": 1.3}, None),
                               ("AL", {**P, "A_L": 1.2}, None),
                               ("AL_alens", {**P, "A_L": 1.2, "A_lens": 0.7}, None),
                               ("fid_again", P, None),  # still in the 2-entry cache
                               ("AL0", {**P, "A_L": 0.0}, None),
                               ("w0wa", {**P, **W0WA}, None),
                               ("bg", P, BG), ("bg_tau", {**P, "tau": 0.07}, BG)]:
        out[name] = b.compute(params) if need is None else b.compute(params, need)
        calls[name] = b.n_camb_calls
    return out, calls, b


def test_matches_direct_camb_exactly(runs, direct):
    fid = runs[0]["fid"]
    s = fid.spectra
    assert np.array_equal(s.ell, np.arange(LMAX + 1))
    for i, key in enumerate(("tt", "ee", "bb", "te")):  # CAMB's column order
        assert np.array_equal(getattr(s, key), direct["lensed"][:, i]), key
    assert np.array_equal(s.pp, direct["pp"])
    d, ref = fid.derived, direct["derived"]
    assert (d["rdrag"], d["zdrag"], d["zstar"]) == (ref["rdrag"], ref["zdrag"], ref["zstar"])
    assert d["theta_star"] == ref["thetastar"] and fid.background.theta_star == ref["thetastar"]
    assert d["sigma8"] == direct["sigma8"] and d["omnuh2"] == direct["omnuh2"]
    om = (P["ombh2"] + P["omch2"] + direct["omnuh2"]) / (P["H0"] / 100) ** 2
    assert d["omegam"] == pytest.approx(om, rel=1e-14)
    assert d["S8"] == pytest.approx(d["sigma8"] * math.sqrt(om / 0.3), rel=1e-14)
    assert 0.78 < d["sigma8"] < 0.84 and 1.040 < d["theta_star"] < 1.043  # Planck-like point
    r = direct["results"]
    assert np.array_equal(fid.background.DM(Z), r.comoving_radial_distance(Z))
    assert np.array_equal(fid.background.H(Z), r.hubble_parameter(Z))
    np.testing.assert_allclose(fid.background.DH(Z), 299792.458 / r.hubble_parameter(Z), rtol=1e-15)
    dv = np.cbrt(Z * r.comoving_radial_distance(Z) ** 2 * 299792.458 / r.hubble_parameter(Z))
    np.testing.assert_allclose(fid.background.DV(Z), dv, rtol=1e-14)
    assert float(fid.background.DM(1.0)) == float(r.comoving_radial_distance(1.0))  # scalars too


def test_cache_counts_camb_runs(runs):
    calls = runs[1]
    assert calls["fid"] == 1
    assert calls["again"] == 1 and calls["alens"] == 1  # same point, or only A_lens: no run
    assert calls["AL"] == 2 and calls["AL_alens"] == 2  # A_L is a CAMB input
    assert calls["fid_again"] == 2  # the last two runs stay cached (the mirror needs two)
    assert calls["AL0"] == 3 and calls["w0wa"] == 4
    assert calls["bg"] == 5  # background only: a separate (fast) run
    assert calls["bg_tau"] == 5  # tau does not enter the background: no run


def test_A_lens_scales_pp_only(runs):
    r = runs[0]
    fid, alens = r["fid"].spectra, r["alens"].spectra
    np.testing.assert_allclose(alens.pp, 1.3 * fid.pp, rtol=1e-15, atol=0)
    for key in ("tt", "te", "ee", "bb"):
        assert np.array_equal(getattr(alens, key), getattr(fid, key)), key
    assert np.array_equal(r["again"].spectra.pp, fid.pp)  # the cache was not scaled in place
    np.testing.assert_allclose(r["AL_alens"].spectra.pp, 0.7 * r["AL"].spectra.pp, rtol=1e-15)


def _contrast(tt: np.ndarray) -> float:
    """The acoustic peak near ell 1126 over the mean of the troughs near 1018 and 1314."""
    return tt[1080:1200].max() / (0.5 * (tt[950:1080].min() + tt[1250:1380].min()))


def test_A_L_smooths_the_primary_spectra_and_leaves_pp(runs, direct):
    r = runs[0]
    fid, al = r["fid"].spectra, r["AL"].spectra
    c1, c12 = _contrast(fid.tt), _contrast(al.tt)
    print(f"\nTT peak/trough contrast near ell 1100-1300: A_L=1: {c1:.5f}, A_L=1.2: {c12:.5f}")
    assert c12 < c1 - 0.005  # more smoothing, flatter peaks
    assert np.all(al.bb[200:1000] > 1.15 * fid.bb[200:1000])  # lensing B modes ~ A_L
    # the reconstruction spectrum is the physical one (CAMB's Alens factor is divided out)
    np.testing.assert_allclose(al.pp[2:], fid.pp[2:], rtol=1e-13)
    assert r["AL"].derived["rdrag"] == r["fid"].derived["rdrag"]
    # A_L = 0: the primary spectra are the unlensed ones, pp is still the physical spectrum
    al0 = r["AL0"].spectra
    for i, key in enumerate(("tt", "ee", "bb", "te")):
        assert np.array_equal(getattr(al0, key), direct["unlensed"][:, i]), key
    assert np.all(al0.bb == 0) and np.array_equal(al0.pp, fid.pp)


def test_w0wa_ppf_with_crossing(runs):
    r, _, b = runs
    w, fid = r["w0wa"], r["fid"]
    pars = b.camb_params(normalise_params({**P, **W0WA}), frozenset({"spectra"}))
    assert type(pars.DarkEnergy).__name__ == "DarkEnergyPPF"
    assert type(b.camb_params(normalise_params(P), BG).DarkEnergy).__name__ == "DarkEnergyFluid"
    for key in SPECTRA_KEYS:
        assert np.all(np.isfinite(getattr(w.spectra, key)[2:])), key
    assert (w.derived["w"], w.derived["wa"]) == (W0WA["w"], W0WA["wa"])
    ref = camb.get_background(camb.set_params(H0=P["H0"], ombh2=P["ombh2"], omch2=P["omch2"],
                                              mnu=P["mnu"], nnu=3.044, dark_energy_model="ppf",
                                              **W0WA))
    np.testing.assert_allclose(w.background.DM(Z), ref.comoving_radial_distance(Z), rtol=1e-10)
    assert abs(float(w.background.DM(1.0)) / float(fid.background.DM(1.0)) - 1) > 5e-3
    # phantom today (w0 < -1, wa > 0: crossing the other way) also runs
    ph = CambBackend(lmax=LMAX).compute({**P, "w": -1.2, "wa": 0.5}, BG)
    assert np.all(np.isfinite(ph.background.H(Z))) and ph.derived["w"] == -1.2


def test_cosmomc_theta_and_logA(runs):
    """theta_MC_100 and logA spellings: H0 solved by CAMB with w(a) set first; As = e^logA/1e10."""
    b = CambBackend(lmax=LMAX)
    point = {k: v for k, v in P.items() if k not in ("H0", "As")}
    out = b.compute({**point, "theta_MC_100": 1.04092, "logA": 3.044, **W0WA}, BG)
    ref = camb.set_params(cosmomc_theta=0.0104092, ombh2=P["ombh2"], omch2=P["omch2"],
                          mnu=P["mnu"], nnu=3.044, dark_energy_model="ppf", **W0WA)
    assert out.derived["H0"] == pytest.approx(ref.H0, rel=1e-9)
    assert out.derived["As"] == pytest.approx(math.exp(3.044) * 1e-10, rel=1e-15)
    same = b.compute({**point, "cosmomc_theta": 0.0104092, "logA": 3.044, **W0WA}, BG)
    assert same.derived["H0"] == out.derived["H0"] and b.n_camb_calls == 1


def test_three_degenerate_states(direct):
    out = CambBackend(lmax=LMAX).compute({**P, "nu_states": 3}, BG)
    ref = camb.set_params(H0=P["H0"], ombh2=P["ombh2"], omch2=P["omch2"], mnu=P["mnu"],
                          nnu=3.044, num_massive_neutrinos=3)
    assert out.derived["omnuh2"] == pytest.approx(ref.omnuh2, rel=1e-12)
    rdrag = camb.get_background(ref).get_derived_params()["rdrag"]
    assert out.derived["rdrag"] == pytest.approx(rdrag, rel=1e-12)
    assert out.derived["rdrag"] != direct["derived"]["rdrag"]  # a different model from nu_states=1


def test_background_only_skips_the_perturbations(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("get_results called for a background-only request")

    monkeypatch.setattr(camb, "get_results", refuse)
    out = CambBackend(lmax=LMAX).compute(P, BG)
    assert out.spectra is None and "sigma8" not in out.derived
    ref = camb.get_background(_direct_pars())
    assert np.array_equal(out.background.DM(Z), ref.comoving_radial_distance(Z))
    assert out.derived["rdrag"] == ref.get_derived_params()["rdrag"]


@pytest.mark.parametrize("bad", [{"ombh2": -1.0}, {"omch2": -0.5}, {"cosmomc_theta": 0.5}],
                         ids=["ombh2=-1", "omch2<0", "theta_absurd"])
def test_camb_failure_is_theory_error(bad):
    b = CambBackend(lmax=LMAX)
    params = {**P, **bad}
    if "cosmomc_theta" in bad:
        params.pop("H0")
    with pytest.raises(TheoryError, match="CAMB failed at") as info:
        b.compute(params, BG)
    assert not isinstance(info.value, InputError)
    assert b.compute(P, BG).derived["H0"] == P["H0"]  # the failure was not cached


def test_any_exception_inside_camb_and_nonfinite_output(monkeypatch):
    b = CambBackend(lmax=LMAX)

    def boom(pars):
        raise RuntimeError("segfault-like")

    monkeypatch.setattr(camb, "get_background", boom)
    with pytest.raises(TheoryError, match="RuntimeError"):
        b.compute(P, BG)

    class NaNResults:
        def get_derived_params(self):
            return {"rdrag": float("nan"), "thetastar": 1.04, "zstar": 1090.0, "zdrag": 1060.0}

    monkeypatch.setattr(camb, "get_background", lambda pars: NaNResults())
    with pytest.raises(TheoryError, match="non-finite"):
        b.compute(P, BG)


@pytest.mark.parametrize("bad, match", [
    ({"Omega_b": 0.05}, "Omega_b.*ombh2"), ({"H0": float("nan")}, "H0"), ({"mnu": "heavy"}, "mnu"),
    ({"mnu": -0.1}, "mnu_eff"), ({"logA": 3.0}, "logA"), ({"theta_MC_100": 1.04}, "H0"),
    ({"nu_states": 2}, "nu_states"), ({"A_lens": -1.0}, "A_lens"), ({"ombh2": None}, "ombh2"),
], ids=["unknown", "nan", "string", "negative_mnu", "As_and_logA", "H0_and_theta", "nu_states",
        "negative_A_lens", "None"])
def test_bad_input_is_input_error_without_running_camb(bad, match):
    b = CambBackend(lmax=LMAX)
    with pytest.raises(InputError, match=match):
        b.compute({**P, **bad}, BG)
    assert b.n_camb_calls == 0


def test_bad_options_and_requests():
    with pytest.raises(InputError, match="accuracy"):
        CambBackend(accuracy="ultra")
    with pytest.raises(InputError, match="missing.*omch2"):
        CambBackend().compute({"H0": 67.0, "ombh2": 0.022}, BG)
    with pytest.raises(InputError, match="matter_power"):
        CambBackend().compute(P, frozenset({"matter_power"}))
    assert CambBackend(accuracy="high").lens_potential_accuracy == 4
    assert CambBackend(accuracy="high", lens_potential_accuracy=2).lens_potential_accuracy == 2
    assert CambBackend(lmax=2508, lens_lmax=3000).ell_max == 3000


def test_normalise_params():
    p = normalise_params({"theta_MC_100": 1.041, "ombh2": 0.0224, "omch2": 0.12, "logA": 3.0})
    assert "H0" not in p and p["cosmomc_theta"] == pytest.approx(0.01041, rel=1e-15)
    assert p["As"] == pytest.approx(math.exp(3.0) * 1e-10, rel=1e-15) and "logA" not in p
    assert (p["mnu"], p["nnu"], p["nu_states"], p["w"], p["wa"], p["A_L"], p["A_lens"]) == \
        (0.06, 3.044, 1, -1.0, 0.0, 1.0, 1.0)


def test_npz_round_trip(runs, tmp_path):
    from numass.chi2 import products_to_npz_dict, write_theory_npz

    prod = runs[0]["alens"]
    path = write_theory_npz(prod, tmp_path / "sub" / "theory.npz")
    back = read_spectra_npz(path)
    for key in SPECTRA_KEYS:
        assert np.array_equal(getattr(back, key), getattr(prod.spectra, key)), key
    with np.load(path) as f:
        assert f["z"][0] == 0.0 and f["z"][-1] == 4.0 and len(f["z"]) == 401
        for name in ("H", "DM", "DH", "DV"):
            assert np.array_equal(f[name], getattr(prod.background, name)(f["z"])), name
        for name in ("rdrag", "theta_star", "sigma8", "S8"):
            assert f[name].shape == () and float(f[name]) == prod.derived[name], name
        assert float(f["param_A_lens"]) == 1.3 and float(f["param_H0"]) == P["H0"]
    bg_only = products_to_npz_dict(runs[0]["bg"], z_grid=[0.5, 1.0])
    assert "DlTT" not in bg_only and list(bg_only["z"]) == [0.5, 1.0]
    with pytest.raises(InputError, match="z_grid"):
        products_to_npz_dict(prod, z_grid=[[0.5]])
    assert write_theory_npz(runs[0]["bg"], tmp_path / "noext").name == "noext.npz"
