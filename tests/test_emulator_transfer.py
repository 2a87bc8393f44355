"""The emulator beyond its box in w0 (emulator/transfer.py): the served region, continuity with
the box at its edge, batch = per point, in-box points untouched, and (slow) fresh CAMB runs in
the new region at the tolerances the emulator promises inside its box (docs/emulator.md)."""
from __future__ import annotations

import numpy as np
import pytest

from numass.emulator import design, targets
from numass.emulator.backend import EmulatorBackend
from numass.emulator.transfer import reference_params
from numass.errors import TheoryError
from numass.theory.backend import normalise_params
from numass.validation.emulator import cv_errors

NEED = frozenset({"spectra", "background"})
BASE = {"ombh2": 0.02237, "omch2": 0.1200, "theta_MC_100": 1.04092, "logA": 3.044, "ns": 0.9649,
        "tau": 0.0544, "mnu": 0.06, "A_L": 1.0}
SL = slice(targets.LMIN, targets.LMAX + 1)


@pytest.fixture(scope="module")
def emu():
    return EmulatorBackend()


def _row(**kw) -> np.ndarray:
    return np.array([{**BASE, **kw}[k] for k in design.PARAMS])


def test_served_region():
    rows = np.array([_row(w=w, wa=wa) for w, wa in [(-0.3, -1.0), (0.1, -2.5), (0.35, -3.0),
                                                    (0.2, -1.2), (0.36, -3.0), (0.1, -1.5)]])
    assert design.by_transfer(rows).tolist() == [False, True, True, False, False, True]
    assert design.in_box(rows).tolist() == [True] + [False] * 5
    ref = design.reference_rows(rows)
    assert np.all(ref[1:, design.PARAMS.index("w")] == design.HIGH[design.PARAMS.index("w")])
    assert np.array_equal(np.delete(ref, 7, axis=1), np.delete(rows, 7, axis=1))
    assert design.SERVED_BOX["w"] == (-1.6, design.W0_MAX) and design.W0_MAX >= 0.2


def test_served_below_the_box_in_wa():
    """wa in [WA_MIN, -3): the reference's wa is the box's edge -3 (w0 clipped as before)."""
    pts = [(-0.5, -4.0), (0.2, -4.5), (-1.6, -5.0), (0.35, -5.0), (-0.5, -5.01), (0.4, -4.0),
           (-0.5, -2.9)]
    rows = np.array([_row(w=w, wa=wa) for w, wa in pts])
    assert design.by_transfer(rows).tolist() == [True] * 4 + [False] * 3
    ref = design.reference_rows(rows)
    iw, iwa = design.PARAMS.index("w"), design.PARAMS.index("wa")
    assert ref[:, iwa].tolist() == [-3.0] * 6 + [-2.9]
    assert ref[:, iw].tolist() == [-0.5, -0.2, -1.6, -0.2, -0.5, -0.2, -0.5]
    assert design.served_w0wa([w for w, _ in pts], [wa for _, wa in pts]).tolist() == \
        [True] * 4 + [False, False, True]
    assert design.SERVED_BOX["wa"] == (design.WA_MIN, 1.0) and design.WA_MIN <= -4.0


def test_continuous_at_the_wa_edge(emu):
    for w in (-0.6, 0.1):
        edge = emu.compute({**BASE, "w": w, "wa": -3.0}, NEED)
        just = emu.compute({**BASE, "w": w, "wa": -3.0 - 1e-7}, NEED)
        for k in ("tt", "te", "ee", "pp"):
            a, b = getattr(edge.spectra, k)[2:], getattr(just.spectra, k)[2:]
            assert np.max(np.abs(a - b)) < 1e-5 * np.max(np.abs(a)), (w, k)
        assert abs(just.derived["sigma8"] / edge.derived["sigma8"] - 1) < 1e-5


def test_continuous_at_the_box_edge_and_same_D_M_star(emu):
    edge = emu.compute({**BASE, "w": -0.2, "wa": -2.0}, NEED)
    just = emu.compute({**BASE, "w": -0.2 + 1e-7, "wa": -2.0}, NEED)
    for k in ("tt", "te", "ee", "pp"):
        a, b = getattr(edge.spectra, k)[2:], getattr(just.spectra, k)[2:]
        assert np.max(np.abs(a - b)) < 1e-5 * np.max(np.abs(a)), k
    assert abs(just.derived["sigma8"] / edge.derived["sigma8"] - 1) < 1e-5
    # the reference (same theta_MC, w0 at the edge) has the target's D_M(z*): no angular mapping
    p = normalise_params({**BASE, "w": 0.3, "wa": -3.0})
    target = emu.compute(p, NEED)
    ref = emu.compute(reference_params(p, emu._design_row(p)), NEED)
    zs = ref.background.zstar
    assert abs(float(ref.background.DM(zs)) / float(target.background.DM(zs)) - 1) < 1e-6
    assert target.derived["H0"] < ref.derived["H0"] - 3  # the late-time change is large


def test_outside_the_band_is_refused(emu):
    with pytest.raises(TheoryError, match="w = 0.2"):
        emu.compute({**BASE, "w": 0.2, "wa": -1.2}, NEED)
    with pytest.raises(TheoryError, match="w = 0.4"):
        emu.compute({**BASE, "w": 0.4, "wa": -3.0}, NEED)


def test_batch_equals_per_point_and_leaves_the_box_untouched(emu):
    pts = [(-0.5, -1.0), (0.05, -2.4), (-0.9, 0.1), (0.3, -2.9), (0.2, -1.2), (-0.2, -2.0),
           (-0.5, -4.0), (0.2, -4.5), (-0.5, -5.5)]
    params = {k: np.full(len(pts), v) for k, v in BASE.items()}
    params["w"], params["wa"] = np.array(pts).T
    out = emu.compute_batch(params, NEED, accuracy="exact")
    assert out.ok.tolist() == [True, True, True, True, False, True, True, True, False]
    inbox = np.array([0, 2, 5])
    moved = (params["w"] > -0.2) | (params["wa"] < -3.0)
    boxed = {**params, "w": np.where(moved, -1.0, params["w"]),
             "wa": np.where(moved, 0.0, params["wa"])}
    alone = emu.compute_batch(boxed, NEED, accuracy="exact")  # the same rows, all in the box
    for k in ("tt", "te", "ee", "pp"):  # bit-identical in the box, whatever the batch holds
        assert np.array_equal(getattr(out.spectra, k)[inbox], getattr(alone.spectra, k)[inbox])
    for k in out.derived:
        assert np.array_equal(out.derived[k][inbox], alone.derived[k][inbox]), k
    for i in (1, 3, 6, 7):
        one = emu.compute({**BASE, "w": pts[i][0], "wa": pts[i][1]}, NEED)
        for k in ("tt", "te", "ee", "pp"):
            a, b = getattr(out.spectra, k)[i][2:], getattr(one.spectra, k)[2:]
            assert np.max(np.abs(a - b)) < 1e-7 * np.max(np.abs(b)), k
        assert abs(out.derived["H0"][i] / one.derived["H0"] - 1) < 1e-8
        assert abs(out.derived["sigma8"][i] / one.derived["sigma8"] - 1) < 2e-6
        # H0 given instead of theta_MC: the same point
        h0 = {**{k: v for k, v in BASE.items() if k != "theta_MC_100"}, "H0": one.derived["H0"]}
        again = emu.compute({**h0, "w": pts[i][0], "wa": pts[i][1]}, NEED)
        assert np.max(np.abs(again.spectra.tt[2:] / one.spectra.tt[2:] - 1)) < 1e-6
    fast = emu.compute_batch(params, NEED)
    assert fast.ok.tolist() == out.ok.tolist()
    np.testing.assert_allclose(fast.derived["H0"][out.ok], out.derived["H0"][out.ok], rtol=1e-7)


CAMB_POINTS = [(0.1, -1.5), (0.3, -2.95), (0.2, -4.2)]


@pytest.mark.slow
@pytest.mark.parametrize("w, wa", CAMB_POINTS)
def test_against_fresh_camb_in_the_new_region(emu, w, wa):
    """Spectra at the box's tolerances (ℓ >= 30; C_L^φφ over 8 <= L <= 1250) and the χ² of the
    CMB likelihoods within 0.3 of CAMB's (the emulator's own in-box |Δχ²| reach ~0.4)."""
    from numass.likelihoods import get_likelihood
    from numass.theory.camb_backend import CambBackend

    point = {**BASE, "w": w, "wa": wa}
    ours = emu.compute(point, NEED)
    exact = {k: v for k, v in point.items() if k != "theta_MC_100"}
    camb = CambBackend(lmax=targets.LMAX).compute({**exact, "H0": ours.derived["H0"]}, NEED)
    arr = {k: getattr(ours.spectra, k)[SL][None] for k in targets.SPECTRA}
    err = cv_errors(arr["tt"], arr["te"], arr["ee"], arr["pp"],
                    {k: getattr(camb.spectra, k)[SL][None] for k in targets.SPECTRA})
    assert err["tt"][0] < 0.05 and err["te"][0] < 0.05 and err["ee"][0] < 0.05, err
    assert err["pp"][0] < 0.003, err["pp"]
    assert abs(ours.derived["sigma8"] / camb.derived["sigma8"] - 1) < 2e-3
    for lik_id, tol in (("planck2018-plik-lite-TTTEEE", 0.3), ("act-dr6-lensing", 0.3),
                        ("planck2018-lowl-TT", 0.3)):
        lik = get_likelihood(lik_id)
        d = lik.chi2(ours) - lik.chi2(camb)
        assert abs(d) < tol, (lik_id, d)


def test_a_wider_wa_prior_is_sampled_to_wa_min_and_its_edge_is_the_priors():
    from numass.compare.prior_edges import edge_source

    assert design.SERVED_BOX["wa"][0] == design.WA_MIN == -5.0
    kind, why = edge_source("wa", "lo", -5.0, (-5.0, 2.0), True, 6.0)
    assert kind == "prior" and "emulator box" in why
    assert edge_source("wa", "lo", -3.0, (-3.0, 2.0), True, 4.0)[0] == "prior"
