"""CambBackend: identical to a direct CAMB run with the documented settings, its cache, A_L vs
A_lens, w0wa (PPF), and errors. Four CAMB spectra runs at lmax 2000 (~1.5 s each) in all."""
from __future__ import annotations

import camb
import numpy as np
import pytest

from numass.backends import make_backend
from numass.chi2 import read_spectra_npz
from numass.errors import InputError, TheoryError
from numass.theory.backend import normalise_params
from numass.theory.background import compute_background
from numass.theory.camb_backend import CambBackend
from numass.theory.products import SPECTRA_KEYS

LMAX = 2000
P = {"H0": 67.36, "ombh2": 0.02237, "omch2": 0.12, "mnu": 0.06, "tau": 0.0544, "As": 2.1e-9,
     "ns": 0.9649}
W0WA = {"w": -0.7, "wa": -1.0}  # w(a) crosses -1 at a = 0.7
BG = frozenset({"background"})


@pytest.fixture(scope="module")
def runs():
    """Every backend call of this module, in a fixed order, with CAMB's call counter after each."""
    b = CambBackend(lmax=LMAX)
    out, calls = {}, {}
    for name, params, need in [
        ("fid", P, None),
        ("again", dict(P), None),
        ("alens", {**P, "A_lens": 1.3}, None),
        ("AL", {**P, "A_L": 1.2}, None),
        ("AL_alens", {**P, "A_L": 1.2, "A_lens": 0.8}, None),
        ("w0wa", {**P, **W0WA}, None),
        ("bg_only", P, BG),
    ]:
        out[name] = b.compute(params) if need is None else b.compute(params, need)
        calls[name] = b.n_camb_calls
    out["calls"] = calls
    out["backend"] = b
    return out


@pytest.fixture(scope="module")
def direct():
    """A direct CAMB run with the settings camb_backend.py documents, written out independently."""
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=P["H0"], ombh2=P["ombh2"], omch2=P["omch2"], mnu=P["mnu"], nnu=3.044,
                       num_massive_neutrinos=1, tau=P["tau"], Alens=1.0, TCMB=2.7255)
    pars.InitPower.set_params(As=P["As"], ns=P["ns"])
    pars.set_for_lmax(LMAX, lens_potential_accuracy=1, lens_output_margin=1250)
    pars.set_matter_power(redshifts=[0.0], kmax=2.0)
    pars.NonLinear = camb.model.NonLinear_lens
    pars.NonLinearModel.set_params(halofit_version="mead2016")
    pars.WantTensors = False
    res = camb.get_results(pars)
    return {"lensed": res.get_lensed_scalar_cls(CMB_unit="muK", lmax=LMAX),
            "pp": res.get_lens_potential_cls(lmax=LMAX)[:, 0],
            "derived": res.get_derived_params(), "results": res}


@pytest.mark.slow
def test_matches_direct_camb_exactly(runs, direct):
    s = runs["fid"].spectra
    assert np.array_equal(s.ell, np.arange(LMAX + 1)) and s.lmax == LMAX
    for i, key in enumerate(("tt", "ee", "bb", "te")):  # CAMB's column order
        assert np.array_equal(getattr(s, key), direct["lensed"][:, i]), key
    assert np.array_equal(s.pp, direct["pp"])
    d = runs["fid"].derived
    assert d["rdrag"] == direct["derived"]["rdrag"]
    assert d["theta_star"] == direct["derived"]["thetastar"]
    z = np.array([0.3, 0.51, 1.0, 2.33])
    assert np.array_equal(runs["fid"].background.DM(z), direct["results"].comoving_radial_distance(z))
    assert np.array_equal(runs["fid"].background.H(z), direct["results"].hubble_parameter(z))
    # physically sane: first acoustic peak near ell 220 at ~5700 muK^2
    assert 200 < np.argmax(s.tt[:400]) < 240 and 5000 < s.tt[:400].max() < 6500


@pytest.mark.slow
def test_cache(runs):
    c = runs["calls"]
    assert c["fid"] == 1
    assert c["again"] == 1  # same point: no rerun
    assert c["alens"] == 1  # only A_lens changed: no rerun
    assert c["AL"] == 2  # A_L is a CAMB input: rerun
    assert c["AL_alens"] == 2
    assert c["w0wa"] == 3
    assert c["bg_only"] == 4  # a different request is a different cache entry


@pytest.mark.slow
def test_A_lens_scales_pp_only(runs):
    fid, alens = runs["fid"].spectra, runs["alens"].spectra
    np.testing.assert_allclose(alens.pp, 1.3 * fid.pp, rtol=1e-15, atol=0)
    for key in ("tt", "te", "ee", "bb"):
        assert np.array_equal(getattr(alens, key), getattr(fid, key)), key
    # the cached arrays were not scaled in place: the fiducial products are unchanged
    assert np.array_equal(runs["again"].spectra.pp, fid.pp)
    np.testing.assert_allclose(runs["AL_alens"].spectra.pp, 0.8 * runs["AL"].spectra.pp, rtol=1e-15)


def _peak_trough_contrast(tt: np.ndarray) -> float:
    """Acoustic peak near ell 1126 over the mean of the troughs near ell 1018 and 1314."""
    return tt[1080:1200].max() / (0.5 * (tt[950:1080].min() + tt[1250:1380].min()))


@pytest.mark.slow
def test_A_L_smooths_the_peaks(runs):
    fid, al = runs["fid"].spectra, runs["AL"].spectra
    c1, c12 = _peak_trough_contrast(fid.tt), _peak_trough_contrast(al.tt)
    print(f"\nTT peak/trough contrast ell 1000-1500: A_L=1 {c1:.5f}, A_L=1.2 {c12:.5f}")
    assert c12 < c1 - 0.005  # measured ~0.013 lower
    # the background and the unlensed physics are untouched
    assert runs["AL"].derived["rdrag"] == runs["fid"].derived["rdrag"]
    np.testing.assert_allclose(al.tt[2:30], fid.tt[2:30], rtol=2e-3)


@pytest.mark.slow
def test_A_L_leaves_the_reconstruction_spectrum(runs):
    np.testing.assert_allclose(runs["AL"].spectra.pp, runs["fid"].spectra.pp, rtol=1e-3)


@pytest.mark.slow
def test_w0wa_crossing_runs(runs):
    w, fid = runs["w0wa"], runs["fid"]
    b = runs["backend"]
    pars = b.camb_params(normalise_params({**P, **W0WA}), frozenset({"spectra", "background"}))
    assert type(pars.DarkEnergy).__name__ == "DarkEnergyPPF"
    for key in SPECTRA_KEYS:
        assert np.all(np.isfinite(getattr(w.spectra, key)[2:])), key
    assert w.derived["H0"] == P["H0"] and w.derived["w"] == -0.7 and w.derived["wa"] == -1.0
    # the expansion differs from LCDM's and agrees with numass's own background
    assert abs(float(w.background.DM(1.0)) / float(fid.background.DM(1.0)) - 1) > 1e-2
    ours = compute_background({k: P[k] for k in ("H0", "ombh2", "omch2", "mnu")} | W0WA)
    for z in (0.3, 1.0, 2.33):
        assert float(ours.DM(z)) == pytest.approx(float(w.background.DM(z)), rel=2e-4)
    assert ours.rdrag == pytest.approx(w.derived["rdrag"], rel=2e-4)
    # late-time ISW: low-ell TT moves
    assert abs(w.spectra.tt[2:10].mean() / fid.spectra.tt[2:10].mean() - 1) > 1e-3


def test_cosmomc_theta_with_w0wa_uses_w_of_a():
    theta = {k: v for k, v in P.items() if k != "H0"} | {"cosmomc_theta": 0.0104092} | W0WA
    got = CambBackend(lmax=LMAX).compute(theta, BG).derived["H0"]
    pars = camb.set_params(cosmomc_theta=0.0104092, ombh2=P["ombh2"], omch2=P["omch2"],
                           mnu=P["mnu"], nnu=3.044, num_massive_neutrinos=1,
                           dark_energy_model="ppf", w=-0.7, wa=-1.0)
    assert got == pytest.approx(pars.H0, rel=1e-6)


def test_cosmomc_theta_lcdm_matches_camb():
    theta = {k: v for k, v in P.items() if k != "H0"} | {"theta_MC_100": 1.04092}
    got = CambBackend(lmax=LMAX).compute(theta, BG).derived["H0"]
    pars = camb.set_params(cosmomc_theta=0.0104092, ombh2=P["ombh2"], omch2=P["omch2"],
                           mnu=P["mnu"], nnu=3.044, num_massive_neutrinos=1)
    assert got == pytest.approx(pars.H0, rel=1e-9)


@pytest.mark.parametrize("bad", [{"ombh2": -0.1}, {"omch2": -0.1}, {"cosmomc_theta": 0.5}],
                         ids=["ombh2<0", "omch2<0", "theta_absurd"])
def test_failing_point_is_theory_error(bad):
    b = CambBackend(lmax=LMAX)
    params = {**P, **bad}
    if "cosmomc_theta" in bad:
        params.pop("H0")
    with pytest.raises(TheoryError) as info:
        b.compute(params, BG)
    assert not isinstance(info.value, InputError)
    # the failure is not cached: the next good point runs normally
    assert b.compute(P, BG).derived["H0"] == P["H0"]


@pytest.mark.parametrize("bad", [{"Omega_b": 0.05}, {"H0": float("nan")}, {"mnu": "heavy"}],
                         ids=["unknown", "nan", "not_a_number"])
def test_bad_input_is_input_error_without_running_camb(bad):
    b = CambBackend(lmax=LMAX)
    with pytest.raises(InputError):
        b.compute({**P, **bad}, BG)
    with pytest.raises(InputError):
        make_backend("camb", lmax=LMAX).compute({**P, **bad}, BG)
    assert b.n_camb_calls == 0


def test_negative_mnu_is_refused_by_camb_backend():
    with pytest.raises(InputError):
        make_backend("camb", lmax=LMAX).compute({**P, "mnu": -0.1}, BG)


def test_unknown_backend_is_input_error():
    with pytest.raises(InputError, match="camb"):
        make_backend("class")


@pytest.mark.slow
def test_npz_round_trip(runs, tmp_path):
    from numass.chi2 import write_theory_npz

    path = write_theory_npz(runs["alens"], tmp_path / "theory.npz")
    back = read_spectra_npz(path)
    for key in SPECTRA_KEYS:
        assert np.array_equal(getattr(back, key), getattr(runs["alens"].spectra, key)), key
    with np.load(path) as f:
        assert float(f["rdrag"]) == runs["alens"].derived["rdrag"]
        assert np.array_equal(f["DM"], runs["alens"].background.DM(f["z"]))
        assert float(f["param_A_lens"]) == 1.3
