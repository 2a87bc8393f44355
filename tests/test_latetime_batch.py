"""compute_batch of 'lscdm-emulator' and 'nu_interacting-emulator' (theory/latetime_batch.py)
against the generic Backend.compute_batch loop over their per-point compute (each a batch of
one): every row is computed as it would be alone.

The fiducial CAMB products the engines read (P(k, z), σ_R, the linear P(k), the lensing
response, the free-streaming suppression on the Σmν grid) are replaced by smooth synthetic ones
with the same interfaces, so the test runs in seconds without CAMB; both paths read the same
objects, so what is compared is the batched arithmetic. The synthetic P(k, z) has BAO-like
wiggles (5% at k ~ 0.1/Mpc) and a k^-3 tail, as curved as CAMB's.

Tolerances (relative), and why:
- background, H0, H0_ref, derived scalars of the background: 1e-9 (theta_MC -> H0 and the
  reference's D_M(z*) match: brentq stops within 1e-10 in h and 1e-7 in H0_ref, Newton at the
  root);
- C_L^φφ and the lensed spectra (relative to each row's largest value), σ8, S8, A_L_eff: 2e-7.
  The Limber integrals read P from a table quadratic in ln χ with a first-order correction in
  the node offset (limber_batch.py): the integrals within 1e-6 of fitpack at every node
  (measured 1.6e-7 here, test_limber_table_against_fitpack); C_L^φφ, a ratio of two of them,
  within 1e-6 at each L (PP_RTOL; measured 2.4e-7 at the highest L) and 2e-7 of each row's
  largest value; ln S from a coarser table of the same kind; σ8 through a cubic spline of σ_R in
  ln R (~1e-9).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import RectBivariateSpline

from numass.backends import make_backend
from numass.errors import InputError, TheoryError
from numass.theory import free_streaming as fs
from numass.theory import latetime_batch as lb
from numass.theory import reference as rf
from numass.theory.backend import Backend
from numass.theory.background import compute_background

BOTH = frozenset({"spectra", "background"})
DESI_Z = np.array([0.295, 0.51, 0.934, 1.484, 2.33, 4.0])
BG_RTOL, SPECTRA_RTOL, PP_RTOL = 1e-9, 2e-7, 1e-6
SPECTRA_DERIVED = ("sigma8", "S8", "A_L_eff")


class _Pk(RectBivariateSpline):
    """A P(k, z) interpolator with CAMB's interface (spline of ln P in z, ln k)."""

    def P(self, z, k, grid=False):
        return np.exp(self(z, np.log(k), grid=grid))


def _ln_p(z, lnk):
    k = np.exp(lnk)
    shape = np.log(2e4 * (k / 0.02) / (1 + (k / 0.02) ** 2) ** 2 + 1e-3 * k**-1.0)
    wiggle = 0.05 * np.sin(150 * k) * np.exp(-((k / 0.25) ** 2))
    return shape + wiggle - 2 * np.log1p(z) + 0.1 * np.log1p(z) * np.tanh(k)


def _suppression(m):
    def interp(k, z):
        k, z = np.broadcast_arrays(np.asarray(k, float), np.asarray(z, float))
        return np.exp(-8 * m / 13.0 * (k / 0.05) ** 2 / (1 + (k / 0.05) ** 2) / (1 + z / 50))
    return interp


@pytest.fixture(scope="module")
def synthetic():
    mp = pytest.MonkeyPatch()
    zs = rf.Z_PK
    lnk = np.linspace(np.log(1e-5), np.log(1e3), 500)
    pk = _Pk(zs, lnk, _ln_p(zs[:, None], lnk[None, :]))
    pk.kmin = float(np.exp(lnk[0]))
    k_lin = np.geomspace(1e-4, 10, 400)
    fid = rf.Reference(params=dict(rf.FIDUCIAL_EARLY, H0=rf.FIDUCIAL_H0),
                       background=compute_background({**{k: rf.FIDUCIAL_EARLY[k] for k in (
                           "ombh2", "omch2", "mnu")}, "H0": rf.FIDUCIAL_H0}),
                       unlensed=None, pp=np.ones(4251), pk=pk,
                       sigma_R=lambda R: 0.81 * (float(R) / 11.9) ** -0.7 / (1 + 0.01 * float(R)),
                       pk_lin0=(k_lin, np.exp(_ln_p(0.0, np.log(k_lin)))))
    edges = np.unique(np.geomspace(2, 4251, 25).astype(int))
    ell = np.arange(3001)
    lensed = np.stack([1e3 + 5e3 * np.exp(-ell / 800), 20 + 10 * np.sin(ell / 50) ** 2,
                       np.zeros(3001), 50 * np.cos(ell / 60)], axis=1)
    lensed[:2] = 0
    resp = np.random.default_rng(1).normal(0, 1, (len(edges) - 1, 1, 4)) * lensed[None] * 1e-2
    mp.setattr(rf, "fiducial_reference", lambda: fid)
    # the engines' tables from this synthetic run, neither this process's earlier nor the disk's
    mp.setattr(lb, "_FIDUCIAL", {})
    mp.setattr(lb, "cached_arrays", lambda name, key, compute: compute())
    mp.setitem(rf._RESPONSE, 3000, {"edges": edges, "resp": resp, "lensed": lensed})
    grid = [(m, _suppression(m) if m else None) for m in fs.MNU_GRID]
    mp.setattr(lb, "suppression_on_grid", lambda: grid)
    yield fid
    mp.undo()


def _base(n, rng):
    return {"theta_MC_100": rng.uniform(1.0400, 1.0420, n), "ombh2": rng.uniform(0.0220, 0.0228, n),
            "omch2": rng.uniform(0.115, 0.125, n), "logA": rng.uniform(3.0, 3.1, n),
            "ns": rng.uniform(0.95, 0.98, n), "tau": rng.uniform(0.04, 0.08, n)}


def _compare(backend, params):
    out = backend.compute_batch(params, BOTH)
    ref = Backend.compute_batch(backend, params, BOTH)
    np.testing.assert_array_equal(out.ok, ref.ok)
    ok = ref.ok
    for name in ("H", "DM", "DH", "DV"):
        got, want = getattr(out.background, name)(DESI_Z), getattr(ref.background, name)(DESI_Z)
        np.testing.assert_allclose(got[ok], want[ok], rtol=BG_RTOL, err_msg=name)
        assert np.all(np.isnan(got[~ok])), name
    for name in ("rdrag", "theta_star"):
        np.testing.assert_allclose(getattr(out.background, name)[ok],
                                   getattr(ref.background, name)[ok], rtol=BG_RTOL)
    assert set(out.derived) == set(ref.derived)
    for name, want in ref.derived.items():
        rtol = SPECTRA_RTOL if name in SPECTRA_DERIVED else BG_RTOL
        np.testing.assert_allclose(out.derived[name][ok], want[ok], rtol=rtol, err_msg=name)
        assert np.all(np.isnan(out.derived[name][~ok])), name
    worst = {}
    for name in ("tt", "te", "ee", "pp"):
        got, want = getattr(out.spectra, name)[ok], getattr(ref.spectra, name)[ok]
        scale = np.max(np.abs(want), axis=1, keepdims=True)
        worst[name] = float(np.max(np.abs(got - want) / scale))
        assert worst[name] < SPECTRA_RTOL, (name, worst[name])
        assert np.all(np.isnan(getattr(out.spectra, name)[~ok]))
    pp_rel = np.abs(out.spectra.pp[ok][:, 2:] / ref.spectra.pp[ok][:, 2:] - 1)
    assert np.max(pp_rel) < PP_RTOL, np.max(pp_rel)
    return out, ref


def test_lscdm_emulator_batch_matches_per_point(synthetic):
    rng = np.random.default_rng(4)
    n = 9
    p = _base(n, rng) | {"mnu_eff": rng.uniform(0.0, 0.3, n),
                         "z_dagger": np.array([1.0, 1.4, 1.8, 2.2, 2.6, 3.0, 4.5, 8.0, 2.0])}
    p["mnu_eff"][1] = -0.12  # the mirror: two batches
    p["A_L"] = np.where(np.arange(n) == 3, 1.2, 1.0)
    p["ombh2"][6] = np.nan  # a non-finite parameter: that row only
    p["omch2"][7] = 0.20  # outside the emulator's box
    out, _ = _compare(make_backend("lscdm-emulator"), p)
    # row 0: no H0 in ΛsCDM's bracket gives this theta_MC with z† = 1 (refused per point too)
    assert list(np.flatnonzero(~out.ok)) == [0, 6, 7]
    # the engine did change C_L^φφ (not just the emulator's): R(L) far from 1 at z† = 1
    assert abs(out.derived["A_L_eff"][1] - 1) > 1e-3


def test_nu_interacting_emulator_batch_matches_per_point(synthetic):
    rng = np.random.default_rng(5)
    n = 10
    p = _base(n, rng) | {"mnu_eff": np.array([0.02, 0.06, 0.1, 0.25, 0.45, 0.6, 0.0, 0.3,
                                              0.2, 0.15]),
                         "alpha_fs": np.array([0.0, 0.3, 0.6, 1.0, 0.8, 0.1, 0.5, 0.0, 0.4,
                                               -0.2])}
    p["logA"][8] = np.nan
    p["ns"][7] = 1.05  # outside the emulator's box
    out, _ = _compare(make_backend("nu_interacting-emulator"), p)
    assert list(np.flatnonzero(~out.ok)) == [7, 8, 9]  # NaN, out of box, alpha_fs < 0
    assert np.isnan(out.derived["A_L_eff"][3]) and np.isnan(out.derived["A_L_eff"][6])
    assert abs(out.derived["A_L_eff"][4] - 1) > 1e-3


def test_batch_input_errors(synthetic):
    b = make_backend("lscdm-emulator")
    with pytest.raises(InputError, match="z_dagger"):
        b.compute_batch({"H0": [67.0, 68.0], "ombh2": 0.0224, "omch2": 0.12}, BOTH)
    with pytest.raises(InputError, match="does not know"):
        b.compute_batch({"H0": [67.0], "ombh2": 0.0224, "omch2": 0.12, "z_dagger": 2.0,
                         "w": -0.9}, BOTH)
    with pytest.raises(InputError, match="different lengths"):
        make_backend("nu_interacting-emulator").compute_batch(
            {"H0": [67.0, 68.0], "ombh2": [0.0224] * 3, "omch2": 0.12}, BOTH)


def test_point_errors_name_the_cause(synthetic):
    """A per-point call is a batch of one; a failed point still says why."""
    b = make_backend("lscdm-emulator")
    early = {"theta_MC_100": 1.0409, "ombh2": 0.0224, "omch2": 0.12, "tau": 0.055, "logA": 3.04,
             "ns": 0.965, "mnu_eff": 0.06}
    p = {**early, "z_dagger": 2.0}
    with pytest.raises(InputError, match="'z_dagger' must be a positive number"):
        b.compute({**p, "z_dagger": -1.0}, BOTH)
    with pytest.raises(InputError, match="'ns' = nan is not a finite number"):
        b.compute({**p, "ns": float("nan")}, BOTH)
    with pytest.raises(TheoryError, match="ns = 1.05 is outside the emulator's box"):
        b.compute({**p, "ns": 1.05}, BOTH)
    nu = make_backend("nu_interacting-emulator")
    with pytest.raises(InputError, match="alpha_fs = -0.2"):
        nu.compute({**early, "alpha_fs": -0.2}, BOTH)
    with pytest.raises(TheoryError, match="ns = 1.05 is outside the emulator's box"):
        nu.compute({**early, "alpha_fs": 0.5, "ns": 1.05}, BOTH)


def test_limber_table_against_fitpack(synthetic, monkeypatch):
    """The table's integrals against the spline evaluated at every node (the per-point way),
    inside the table and for a row pushed outside its ln χ range (which takes the exact path)."""
    from numass.theory import limber_batch as lb
    from numass.theory.background import compute_background_batch

    bg = compute_background_batch({"H0": np.array([60.0, 67.0, 75.0]),
                                   "ombh2": np.full(3, 0.0224), "omch2": np.full(3, 0.12),
                                   "mnu": np.array([0.0, 0.06, 0.3])}, accuracy="exact")
    monkeypatch.setattr(lb, "_W_RANGE", (-0.1, 0.1))  # H0 = 60 and 75 leave it at low z
    table = lb.LimberTable(synthetic.pk, synthetic.background)
    nodes = lb.Nodes(bg, bg.zstar, np.full(3, 0.14))
    exact = np.array([nodes.weight[r] @ lb.exact_power(synthetic.pk, nodes, r, lb.L_GRID)
                      for r in range(3)])
    inside = table.locate(nodes)[0]
    assert list(inside) == [False, True, False]
    got = table.integrals(nodes)
    np.testing.assert_allclose(got, exact, rtol=1e-6)
    np.testing.assert_allclose(got[~inside], exact[~inside], rtol=1e-13)
    elements = table.elements(nodes, slice(0, 3))
    np.testing.assert_allclose(np.einsum("rj,rjl->rl", nodes.weight, elements), got, rtol=1e-12)


@pytest.mark.parametrize("name, extra", [("lscdm-emulator", {"z_dagger": [1.5, 2.5, 3.5]}),
                                         ("nu_interacting-emulator",
                                          {"alpha_fs": [0.0, 0.5, -1.0]})])
def test_background_only_batch(synthetic, name, extra):
    """Without spectra the engines are their backgrounds: the same rows and numbers."""
    rng = np.random.default_rng(6)
    p = _base(3, rng) | {"mnu_eff": np.array([0.06, -0.1, 0.2]) if name.startswith("lscdm")
                         else np.array([0.06, 0.1, 0.2])} | {k: np.array(v) for k, v in
                                                             extra.items()}
    b, need = make_backend(name), frozenset({"background"})
    out, ref = b.compute_batch(p, need), Backend.compute_batch(b, p, need)
    np.testing.assert_array_equal(out.ok, ref.ok)
    assert out.spectra is None
    ok = ref.ok
    # background-only batches use the fast Gauss-Legendre background (validated to 1e-7 of the
    # per-point grids, tests/test_theory_batch.py)
    np.testing.assert_allclose(out.background.DM(DESI_Z)[ok], ref.background.DM(DESI_Z)[ok],
                               rtol=1e-7)
    assert set(out.derived) == set(ref.derived)
    for k, v in ref.derived.items():
        np.testing.assert_allclose(out.derived[k][ok], v[ok], rtol=1e-7, err_msg=k)
