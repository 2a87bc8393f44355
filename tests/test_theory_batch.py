"""Vectorised compute_batch of the theory backends against their per-point compute.

The reference is the generic Backend.compute_batch, which calls each backend's (EffectiveMass-
wrapped) per-point ``compute`` in a loop. Each comparison runs twice: with the fast batched
background (Gauss-Legendre panels, the default; every product within FAST_RTOL = 1e-7, issue
12's target, measured maxima ~3e-8: docs/batch.md) and with ``batch_accuracy = 'exact'`` (the
per-point grids), whose tolerances, relative, are:

- 1e-12 where the arithmetic is the same up to the order of floating-point operations (H0 given;
  the emulator's one Newton step; the spectra, relative to each row's largest value);
- 1e-9 where theta_MC -> H0 is solved (the per-point background is a batch of one on the exact
  quadrature; the emulator's per-point call solves on its own).
"""
from __future__ import annotations

import numpy as np
import pytest

from numass.backends import make_backend
from numass.emulator import design, targets
from numass.emulator.backend import load_emulator
from numass.errors import InputError
from numass.theory.backend import Backend

DESI_Z = np.array([0.295, 0.51, 0.706, 0.934, 1.321, 1.484, 2.33])
BACKGROUND = frozenset({"background"})
BOTH = frozenset({"spectra", "background"})
N = 14
FAST_RTOL = 1e-7
ACCURACIES = pytest.mark.parametrize("accuracy", ["fast", "exact"])


def _backend(name: str, accuracy: str):
    """make_backend(name) with the given batched background."""
    backend = make_backend(name)
    backend.inner.batch_accuracy = accuracy
    return backend


def _rtol(accuracy: str, exact_rtol: float) -> float:
    return FAST_RTOL if accuracy == "fast" else exact_rtol


def _planck_like(rng, n: int = N) -> dict[str, np.ndarray]:
    """Posterior-region points, mnu_eff of both signs (the last ones near the box's edges)."""
    p = {"theta_MC_100": rng.uniform(1.0395, 1.0425, n), "ombh2": rng.uniform(0.0218, 0.0230, n),
         "omch2": rng.uniform(0.112, 0.128, n), "mnu_eff": rng.uniform(-0.3, 0.3, n),
         "logA": rng.uniform(2.95, 3.15, n), "ns": rng.uniform(0.94, 0.99, n),
         "tau": rng.uniform(0.03, 0.1, n)}
    p["ombh2"][-1], p["omch2"][-2], p["mnu_eff"][-3] = 0.02141, 0.1299, -0.599
    p["theta_MC_100"][-4], p["ns"][-5] = 1.04349, 0.9302
    return p


def _compare(backend, params, need, rtol: float, spectra_rtol: float = 1e-12):
    """Batched vs per-point: the same ok rows, and every product within rtol there."""
    out = backend.compute_batch(params, need)
    ref = Backend.compute_batch(backend, params, need)
    np.testing.assert_array_equal(out.ok, ref.ok)
    ok = ref.ok
    assert ok.sum() >= 2, "too few valid points to compare"
    z = np.concatenate([DESI_Z, [float(np.nanmean(ref.derived["zstar"]))]])
    for name in ("H", "DM", "DH", "DV"):
        got, want = getattr(out.background, name)(z), getattr(ref.background, name)(z)
        np.testing.assert_allclose(got[ok], want[ok], rtol=rtol, err_msg=name)
        assert np.all(np.isnan(got[~ok])), name
    for name in ("rdrag", "theta_star"):
        np.testing.assert_allclose(getattr(out.background, name)[ok],
                                   getattr(ref.background, name)[ok], rtol=rtol, err_msg=name)
    assert set(out.derived) == set(ref.derived)
    for name, want in ref.derived.items():
        np.testing.assert_allclose(out.derived[name][ok], want[ok], rtol=rtol, atol=1e-300,
                                   err_msg=name)
    if "spectra" in need:
        for name in ("tt", "te", "ee", "bb", "pp"):
            got, want = getattr(out.spectra, name)[ok], getattr(ref.spectra, name)[ok]
            scale = np.max(np.abs(want), axis=1, keepdims=True) + 1e-300
            assert np.max(np.abs(got - want) / scale) < spectra_rtol, name
        for i in np.flatnonzero(ok)[:2]:  # the per-point view of a row
            assert out.point(i).spectra.tt[100] == out.spectra.tt[i, 100]
    return out


@ACCURACIES
def test_background_from_theta_and_h0(accuracy):
    rng = np.random.default_rng(3)
    p = {k: v for k, v in _planck_like(rng).items() if k in ("theta_MC_100", "ombh2", "omch2",
                                                            "mnu_eff")}
    p["w"], p["wa"] = rng.uniform(-1.3, -0.6, N), rng.uniform(-1.5, 0.3, N)
    p["ombh2"][2] = np.nan  # a non-finite parameter: that row only
    p["nnu"] = np.where(np.arange(N) == 4, 4.5, 3.044)  # outside the z* fit's range: refused
    out = _compare(_backend("background", accuracy), p, BACKGROUND, _rtol(accuracy, 1e-9))
    assert not out.ok[2] and not out.ok[4] and out.ok.sum() == N - 2
    h0 = {k: v for k, v in p.items() if k != "theta_MC_100"} | {"H0": rng.uniform(55, 80, N)}
    _compare(_backend("background", accuracy), h0, BACKGROUND, _rtol(accuracy, 1e-12))


@ACCURACIES
def test_lscdm_background_matches_including_refused_brackets(accuracy):
    rng = np.random.default_rng(5)
    p = {k: v for k, v in _planck_like(rng).items() if k in ("theta_MC_100", "ombh2", "omch2",
                                                            "mnu_eff", "tau")}
    p["z_dagger"] = rng.uniform(1.0, 3.0, N)  # low z_dagger: some rows where brentq fails
    out = _compare(_backend("lscdm-background", accuracy), p, BACKGROUND, _rtol(accuracy, 1e-9))
    assert "z_dagger" in out.derived and not out.ok.all()  # rows brentq refuses, refused here


@ACCURACIES
def test_emulator_lcdm_both_signs_and_lensing_amplitudes(accuracy):
    rng = np.random.default_rng(7)
    p = _planck_like(rng)
    p["A_L"], p["A_lens"] = rng.uniform(0.7, 1.4, N), rng.uniform(0.8, 1.2, N)
    p["ns"][0] = 1.01  # outside the box
    p["mnu_eff"][1] = 0.65  # outside the box (and its mirror at -0.65 too)
    p["tau"][6] = np.nan
    out = _compare(_backend("emulator", accuracy), p, BOTH, _rtol(accuracy, 1e-12))
    assert not out.ok[[0, 1, 6]].any() and out.ok.sum() == N - 3
    assert np.all(np.isnan(out.spectra.tt[0])) and np.isnan(out.derived["sigma8"][0])
    assert (p["mnu_eff"][out.ok] < 0).any() and (p["mnu_eff"][out.ok] > 0).any()


@ACCURACIES
def test_emulator_w0wa_and_h0_given(accuracy):
    rng = np.random.default_rng(11)
    p = _planck_like(rng)
    p["w"], p["wa"] = rng.uniform(-1.2, -0.5, N), rng.uniform(-1.5, -0.2, N)
    p["w"][3], p["wa"][3] = -0.6, -0.05  # w0 + wa >= -0.7: outside the box
    out = _compare(_backend("emulator", accuracy), p, BOTH, _rtol(accuracy, 1e-12))
    assert not out.ok[3]
    h0 = {k: v for k, v in p.items() if k != "theta_MC_100"}
    h0["H0"] = rng.uniform(64, 70, N)
    h0["w"], h0["wa"] = np.full(N, -1.0), np.zeros(N)
    _compare(_backend("emulator", accuracy), h0, BACKGROUND, _rtol(accuracy, 1e-12))


def test_emulator_predict_batched_equals_rows_and_the_plain_formula():
    emu = load_emulator()
    x = design.latin_hypercube(40, seed=2, shrink=0.9)
    batch = emu.predict(x)
    one = emu.predict(x[17])
    out_all = emu.outputs(x)
    plain = {}
    for i, k in enumerate(targets.SPECTRA):  # the reconstruction written out, all rows at once
        mean, basis, tol = emu.pca[k]
        plain[k] = (out_all[:, i * emu.K:(i + 1) * emu.K] @ basis + mean) * tol
    plain = targets.from_targets(plain)
    for k in targets.SPECTRA:  # relative to each row's largest value (TE crosses zero)
        scale = np.max(np.abs(plain[k]), axis=1, keepdims=True)
        assert np.max(np.abs(batch[k] - plain[k]) / scale) < 1e-12, k
        assert np.max(np.abs(one[k][0] - batch[k][17]) / scale[17]) < 1e-12, k
    np.testing.assert_allclose(batch["sigma8"], np.exp(out_all[:, -2]), rtol=1e-14)


@pytest.mark.parametrize("params, match", [
    ({"H0": np.ones((2, 2)) * 67, "ombh2": 0.0224, "omch2": 0.12}, "shape"),
    ({"H0": [67.0, 68.0], "ombh2": [0.0224] * 3, "omch2": 0.12}, "different lengths"),
    ({"H0": [67.0], "ombh2": [0.0224], "omch2": [0.12], "bogus": [1.0]}, "bogus"),
    ({"H0": [67.0], "ombh2": [0.0224], "omch2": [0.12], "mnu": [0.06], "mnu_eff": [0.1]},
     "not both"),
])
@pytest.mark.parametrize("name, need", [("background", BACKGROUND), ("emulator", BOTH)])
def test_bad_shapes_and_names_raise(name, need, params, match):
    with pytest.raises(InputError, match=match):
        make_backend(name).compute_batch(params, need)


def test_background_backend_refuses_spectra():
    with pytest.raises(InputError, match="no CMB spectra"):
        make_backend("background").compute_batch({"H0": [67.0], "ombh2": [0.0224],
                                                  "omch2": [0.12]}, BOTH)


def test_unknown_batch_accuracy_raises():
    with pytest.raises(InputError, match="batch accuracy 'rough'"):
        _backend("background", "rough").compute_batch({"H0": [67.0], "ombh2": [0.0224],
                                                       "omch2": [0.12]}, BACKGROUND)


def test_cell_mean_neutrino_table_keeps_the_interpolation_average():
    """The integrands' smooth neutrino density has the same integral over the table's range as
    its linear interpolation (to ~1e-12 relative), while differing from it pointwise by ~1e-5:
    a test that fails if the g''/12 correction had the wrong sign or size."""
    from numass.theory import neutrinos as nu
    from numass.theory.neutrinos import rho_ratio_log
    from numass.theory.quadrature import rho_ratio_smooth

    u = np.linspace(np.log(0.01), np.log(100.0), 400_001)  # ~28 000 points a table cell
    linear, smooth = rho_ratio_log(u), rho_ratio_smooth(u)
    assert 1e-7 < np.max(np.abs(smooth / linear - 1)) < 1e-4
    assert abs(np.trapezoid(smooth, u) / np.trapezoid(linear, u) - 1) < 1e-10
    assert np.all(rho_ratio_smooth(np.array([nu.LOGY[0] - 1, nu.LOGY[-1] + 1]))
                  == rho_ratio_log(np.array([nu.LOGY[0] - 1, nu.LOGY[-1] + 1])))
