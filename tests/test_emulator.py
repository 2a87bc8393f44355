"""The emulator: accuracy against stored CAMB spectra at points never used in training (issue 4's
tolerances), the backend's behaviour (box, fallback, mirror, errors), and the pipeline's pieces
(design, chunked resumable generation, pack/unpack, deterministic training) on fake spectra."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from numass.backends import make_backend
from numass.emulator import design, generate, network, targets
from numass.emulator.backend import EmulatorBackend
from numass.errors import InputError, TheoryError
from numass.validation.emulator import cv_errors

CHECK = Path(__file__).with_name("data") / "emulator_check.npz"
NEED = frozenset({"spectra", "background"})


@pytest.fixture(scope="module")
def stored():
    return dict(np.load(CHECK))


@pytest.fixture(scope="module")
def emu():
    return network.Emulator()


def test_stored_points_are_fresh(stored, emu):
    """The stored CAMB points come from a seed the training packs never used."""
    assert int(stored["seed"]) not in {101, 102, 103}
    assert all(str(int(stored["seed"])) not in p for p in emu.meta["packs"])


def test_spectra_within_cosmic_variance_tolerances(stored, emu):
    pred = emu.predict(stored["x"])
    ref = {k: stored[k].astype(float) for k in targets.SPECTRA}
    err = cv_errors(pred["tt"], pred["te"], pred["ee"], pred["pp"], ref)
    # TT over 2 <= ell <= 2508; TE/EE over 30 <= ell <= 2508 (below 30 no numass likelihood uses
    # polarization, see docs/emulator.md); |dC| < 0.05 sigma_CV; pp < 0.3% for 8 <= L <= 1250
    assert np.all(err["tt"] < 0.05), err["tt"]
    sel = (targets.ELL >= 30) & (targets.ELL <= 2508)
    nu = 2 * targets.ELL[sel] + 1
    for k, sig in (("ee", ref["ee"][:, sel] * np.sqrt(2 / nu)),
                   ("te", np.sqrt((ref["te"][:, sel] ** 2 + ref["tt"][:, sel] * ref["ee"][:, sel]) / nu))):
        e = np.abs(pred[k][:, sel] - ref[k][:, sel]) / sig
        assert np.all(e.max(axis=1) < 0.05), (k, e.max(axis=1))
    assert np.all(err["pp"] < 0.003), err["pp"]
    np.testing.assert_allclose(pred["sigma8"], stored["sigma8"], rtol=3e-3)


def test_backend_matches_stored_camb_and_exact_theta(stored):
    b = EmulatorBackend()
    for row, h0 in zip(stored["x"], stored["H0"]):
        p = design.as_params(row)
        out = b.compute(p, NEED)
        # H0 from theta_MC: emulated, then one Newton step on numass's exact theta_MC(H0)
        assert out.derived["H0"] == pytest.approx(h0, rel=5e-5)
        assert out.spectra.ell[-1] == targets.LMAX and out.spectra.tt[:2].sum() == 0
        assert np.all(out.spectra.bb == 0)


def test_A_lens_scales_pp_only_and_H0_input():
    b = EmulatorBackend()
    p = {**design.as_params((design.LOW + design.HIGH) / 2), "w": -1.0, "wa": 0.0}
    one = b.compute(p, NEED)
    half = b.compute({**p, "A_lens": 0.5}, NEED)
    np.testing.assert_allclose(half.spectra.pp, 0.5 * one.spectra.pp)
    np.testing.assert_array_equal(half.spectra.tt, one.spectra.tt)
    # the same point given by H0 instead of theta_MC
    q = {k: v for k, v in p.items() if k != "theta_MC_100"} | {"H0": one.derived["H0"]}
    again = b.compute(q, NEED)
    np.testing.assert_allclose(again.spectra.tt[2:], one.spectra.tt[2:], rtol=2e-5)


def test_outside_the_box_is_refused_or_sent_to_camb(monkeypatch):
    b = EmulatorBackend()
    p = design.as_params((design.LOW + design.HIGH) / 2)
    with pytest.raises(TheoryError, match="tau = 0.3 is outside the emulator's box"):
        b.compute({**p, "tau": 0.3}, NEED)
    with pytest.raises(TheoryError, match="w0 \\+ wa"):
        b.compute({**p, "w": -0.3, "wa": 0.0}, NEED)
    with pytest.raises(InputError, match="nnu"):
        b.compute({**p, "nnu": 3.5}, NEED)
    fb = EmulatorBackend(fallback="camb")
    calls = []
    monkeypatch.setattr(fb, "_camb_compute", lambda params, need: calls.append(params) or "camb")
    assert fb.compute({**p, "tau": 0.3}, NEED) == "camb" and len(calls) == 1
    with pytest.raises(InputError):
        EmulatorBackend(fallback="class")


def test_emulator_box_backend_makes_the_box_part_of_the_prior():
    """'emulator-box' (numass compare --quick): outside the box -inf, no CAMB; 'emulator' (the
    default with CMB spectra) sends the same point to CAMB."""
    from cobaya.model import get_model

    from numass.inference.setup import build_info

    point = {"ombh2": 0.0224, "omch2": 0.119, "H0": 68.0, "mnu_eff": 0.05, "w": -0.3, "wa": 0.0}
    boxed = build_info("w0wa", ["desi-dr2-bao"], backend="emulator-box")
    assert boxed["theory"]["numass"]["backend"] == "emulator"
    assert boxed["theory"]["numass"]["backend_options"] == {}
    assert get_model(boxed).logposterior(point).logpost == -np.inf
    exact = build_info("w0wa", ["desi-dr2-bao"], backend="emulator")
    assert exact["theory"]["numass"]["backend_options"] == {"fallback": "camb"}
    assert np.isfinite(get_model(exact).logposterior(point).logpost)
    with pytest.raises(InputError, match="emulator-box"):
        build_info("lscdm", ["desi-dr2-bao"], backend="emulator-box")


def test_effective_mass_mirror_through_the_emulator():
    b = make_backend("emulator")
    base = {k: v for k, v in design.as_params((design.LOW + design.HIGH) / 2).items()
            if k != "mnu"} | {"w": -1.0, "wa": 0.0}
    at = {m: b.compute({**base, "mnu_eff": m}, NEED) for m in (-0.1, 0.0, 0.1)}
    np.testing.assert_allclose(at[-0.1].spectra.pp, 2 * at[0.0].spectra.pp - at[0.1].spectra.pp)
    # a negative mass gives more lensing power, a positive one less
    L = slice(100, 1000)
    assert np.all(at[-0.1].spectra.pp[L] > at[0.0].spectra.pp[L])
    assert np.all(at[0.1].spectra.pp[L] < at[0.0].spectra.pp[L])


def test_missing_weights_are_a_clear_error(tmp_path):
    from numass.errors import DataError

    with pytest.raises(DataError, match="emulator weights not found"):
        network.Emulator(tmp_path / "none.npz")


def test_weights_small_and_documented(emu):
    assert network.DEFAULT_WEIGHTS.stat().st_size < 20e6
    assert emu.params == design.PARAMS and emu.meta["n_train"] > 3000


def fake_point(row):
    """Smooth stand-in for CAMB (the pipeline test must not spend minutes in CAMB)."""
    ell = targets.ELL
    amp = np.exp(row[3] - 3.0)
    tt = amp * 1000 * (1 + 0.1 * np.sin(ell / 50 * row[2])) * (ell / 100.0) ** (row[4] - 1)
    ee = amp * 10 * (1 + 0.5 * np.cos(ell / 60)) ** 2 + 1e-3
    te = 0.3 * np.sqrt(tt * ee) * np.sin(ell / 80)
    pp = amp * 1e-7 * (1 - row[6]) / (1 + (ell / 60.0) ** 2)
    out = {"ok": bool(row[5] < 0.11), "tt": tt, "te": te, "ee": ee, "pp": pp}
    out.update({k: 0.8 + row[0] for k in generate.DERIVED})
    return out if out["ok"] else {"ok": False, "error": "fake failure"}


def test_generation_is_chunked_resumable_and_packs(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "camb_point", fake_point)
    monkeypatch.setattr(generate, "CHUNK", 4)
    out = tmp_path / "gen"
    generate.run(10, seed=7, out=out, workers=1, time_limit=None)
    chunks = sorted(out.glob("chunk_*.npz"))
    assert len(chunks) == 3
    mtimes = [c.stat().st_mtime_ns for c in chunks]
    chunks[-1].unlink()  # an interrupted run: the next one redoes only the missing chunk
    generate.run(10, seed=7, out=out, workers=1, time_limit=None)
    assert [c.stat().st_mtime_ns for c in sorted(out.glob("chunk_*.npz"))][:2] == mtimes[:2]
    with pytest.raises(SystemExit, match="another design"):
        generate.run(10, seed=8, out=out, workers=1, time_limit=None)
    data = generate.load_chunks(out)
    x = design.latin_hypercube(10, 7)
    np.testing.assert_array_equal(data["x"], x)
    assert data["ok"].sum() == sum(fake_point(r)["ok"] for r in x)
    generate.pack(out, str(tmp_path / "p"), rank=400)
    back = generate.unpack(str(tmp_path / "p"))
    ok = data["ok"]
    for k in targets.SPECTRA:
        np.testing.assert_allclose(back[k], data[k][ok], rtol=2e-5, atol=1e-12)


def test_training_is_deterministic_and_fits_a_polynomial_exactly(tmp_path):
    """Targets that are polynomials in the parameters are reproduced at fresh points (degree 2
    here to keep the test fast; the shipped emulator uses 4)."""
    from numass.emulator import train

    rng = np.random.default_rng(3)
    x = design.latin_hypercube(300, 11)
    F = network.features(2 * (x - design.LOW) / (design.HIGH - design.LOW) - 1, 2)
    comps = {k: rng.normal(size=(3, len(targets.ELL))) for k in targets.SPECTRA}
    coef = {k: rng.normal(size=(60, 3)) for k in targets.SPECTRA}
    c_der = rng.normal(size=(30, 2)) * 1e-2
    ys = {k: F[:, :60] @ coef[k] @ comps[k] for k in targets.SPECTRA}
    ys["derived"] = F[:, :30] @ c_der
    arr = train.fit(x, ys, degree=2, n_components=3, ridge=1e-14)
    np.testing.assert_array_equal(arr["W"], train.fit(x, ys, 2, 3, 1e-14)["W"])
    path = tmp_path / "w.npz"
    np.savez(path, meta=json.dumps({}), **arr)
    emu = network.Emulator(path)
    xt = design.latin_hypercube(20, 12)
    Ft = network.features(emu.scale_inputs(xt), 2)
    out = emu.outputs(xt)
    np.testing.assert_allclose(out[:, -2:], Ft[:, :30] @ c_der, atol=1e-8)
    for i, k in enumerate(targets.SPECTRA):
        mean, basis, _ = emu.pca[k]
        np.testing.assert_allclose(out[:, 3 * i:3 * i + 3] @ basis + mean,
                                   Ft[:, :60] @ coef[k] @ comps[k], rtol=1e-4, atol=1e-4)
