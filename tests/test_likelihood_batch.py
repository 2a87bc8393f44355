"""Batched likelihoods: ``loglike_batch`` equals the per-point ``loglike`` (and the generic loop of
the base class) to 1e-8 in chi^2 for every registered id, gives -inf for a failed or non-finite
row without stopping the batch, and raises InputError for arrays of the wrong shape."""
from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

from numass.backends import make_backend
from numass.emulator import design
from numass.errors import InputError
from numass.likelihoods import LIKELIHOODS, get_likelihood
from numass.likelihoods.base import Likelihood
from numass.theory.batch import BatchProducts

from conftest import need_dataset

CHI2_TOL = 1e-8
# Planck 2018 TT,TE,EE+lowE centres and 1-sigma widths (arXiv:1807.06209, Table 2)
CENTRE = dict(ombh2=(0.02237, 0.00015), omch2=(0.1200, 0.0012), theta_MC_100=(1.04092, 0.00031),
              logA=(3.044, 0.014), ns=(0.9649, 0.0042), tau=(0.0544, 0.0073))
NAN_ROW, OUT_OF_BOX_ROW = 0, 1  # rows the backend fails on (ok = False)


def _posterior_points(rng, n: int) -> dict[str, np.ndarray]:
    """LCDM + Sigma m_nu,eff of either sign, each parameter within +-4 sigma of Planck's."""
    pts = {k: np.clip(m + s * rng.uniform(-4, 4, n), *design.BOX[k])
           for k, (m, s) in CENTRE.items()}
    pts["mnu_eff"] = rng.uniform(-0.35, 0.35, n)
    pts.update(w=np.full(n, -1.0), wa=np.zeros(n), A_L=np.ones(n))
    return pts


def _edge_points(rng) -> dict[str, np.ndarray]:
    """Points at the emulator box's faces (each parameter at a low or high edge in turn), with
    w0wa and A_L at their extremes and |Sigma m_nu,eff| up to 0.55 eV."""
    low, high = design.LOW + 1e-4 * (design.HIGH - design.LOW), design.HIGH - 1e-4 * (
        design.HIGH - design.LOW)
    rows = []
    for j, name in enumerate(("ombh2", "omch2", "theta_MC_100", "logA", "ns", "tau")):
        for edge in (low, high):
            row = {k: CENTRE[k][0] for k in CENTRE}
            row[name] = edge[j]
            rows.append(row)
    extremes = [dict(w=-1.55, wa=0.8, A_L=0.55), dict(w=-0.25, wa=-2.9, A_L=1.75)]
    for i, row in enumerate(rows):
        row.update(extremes[i % 2] if i < 4 else dict(w=-1.0, wa=0.0, A_L=1.0))
        row["mnu_eff"] = (0.55 if i % 2 else -0.55) * rng.uniform(0.2, 1.0)
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


@pytest.fixture(scope="module")
def batch() -> tuple[BatchProducts, dict[str, np.ndarray]]:
    """About 20 emulator points (posterior region, box edges, two that fail) and nuisance values
    that vary per row."""
    rng = np.random.default_rng(12)
    post, edge = _posterior_points(rng, 8), _edge_points(rng)
    params = {k: np.concatenate([post[k], edge[k]]) for k in post}
    params["tau"][NAN_ROW] = np.nan
    params["theta_MC_100"][OUT_OF_BOX_ROW] = 1.02
    theory = make_backend("emulator").compute_batch(params)
    n = theory.n
    nuisance = {"A_planck": rng.normal(1.0, 0.005, n), "A_fg": rng.uniform(0.0, 2.0, n)}
    return theory, nuisance


def _data_folder(lik_id: str) -> str | None:
    """The data set folder a likelihood needs (None: embedded data)."""
    module, cls, options = LIKELIHOODS[lik_id]
    mod = importlib.import_module(module)
    if cls == "DesiBAO":
        return None if options["release"] == "dr2" else mod.FILES[options["release"]][0]
    return getattr(mod, cls).dataset


@pytest.fixture(scope="module", params=list(LIKELIHOODS))
def lik(request) -> Likelihood:
    folder = _data_folder(request.param)
    data_dir = None
    if folder is not None:
        data_dir = request.getfixturevalue("data_dir")
        need_dataset(data_dir, folder)
    return get_likelihood(request.param, data_dir)


def _row_nuisance(nuisance: dict, i: int) -> dict[str, float]:
    return {k: float(v[i]) for k, v in nuisance.items()}


def test_batch_equals_per_point_and_generic_loop(lik, batch):
    theory, nuisance = batch
    got = lik.loglike_batch(theory, nuisance)
    assert got.shape == (theory.n,)
    ok = np.flatnonzero(theory.ok)
    assert not theory.ok[NAN_ROW] and not theory.ok[OUT_OF_BOX_ROW]
    assert len(ok) >= theory.n - 2
    signs = np.sign(theory.params["mnu_eff"][ok])
    assert {-1.0, 1.0} <= set(signs)  # both signs of Sigma m_nu,eff compared
    for i in ok:
        ref = lik.loglike(theory.point(i), _row_nuisance(nuisance, i))
        assert abs(-2 * got[i] + 2 * ref) <= CHI2_TOL, (lik.id, i, got[i], ref)
    assert np.all(got[~theory.ok] == -np.inf)
    generic = Likelihood.loglike_batch(lik, theory, nuisance)
    np.testing.assert_allclose(-2 * got, -2 * generic, rtol=0, atol=CHI2_TOL)


def test_batch_with_default_and_scalar_nuisance(lik, batch):
    theory, _ = batch
    i = int(np.flatnonzero(theory.ok)[0])
    default = lik.loglike_batch(theory)
    scalar = lik.loglike_batch(theory, {p.name: 1.001 for p in lik.nuisance})
    assert abs(-2 * default[i] + 2 * lik.loglike(theory.point(i))) <= CHI2_TOL
    ref = lik.loglike(theory.point(i), {p.name: 1.001 for p in lik.nuisance})
    assert abs(-2 * scalar[i] + 2 * ref) <= CHI2_TOL


class _SpoiledBackground:
    """A batched background whose row ``bad`` is NaN (distances, r_d and theta_*)."""

    def __init__(self, bg, bad: int):
        self._bg, self._bad = bg, bad
        self.rdrag, self.theta_star = bg.rdrag.copy(), bg.theta_star.copy()
        self.rdrag[bad] = self.theta_star[bad] = np.nan

    def _spoil(self, out):
        out = np.array(out)
        out[self._bad] = np.nan
        return out

    def H(self, z):
        return self._spoil(self._bg.H(z))

    def DM(self, z):
        return self._spoil(self._bg.DM(z))

    def DH(self, z):
        return self._spoil(self._bg.DH(z))

    def DV(self, z):
        return self._spoil(self._bg.DV(z))


def _spoiled(theory: BatchProducts, bad: int) -> BatchProducts:
    """The same batch with row ``bad`` non-finite in every product and parameter."""
    spectra = theory.spectra
    arrays = {k: getattr(spectra, k).copy() for k in ("tt", "te", "ee", "bb", "pp")}
    for a in arrays.values():  # at ell = 25 (low-ell TT) and 100 (all others)
        a[bad, [25, 100]] = np.inf if bad % 2 else np.nan
    params = {k: v.copy() for k, v in theory.params.items()}
    for v in params.values():
        v[bad] = np.nan
    return dataclasses.replace(theory, params=params,
                               spectra=dataclasses.replace(spectra, **arrays),
                               background=_SpoiledBackground(theory.background, bad))


def test_failed_and_nonfinite_rows_give_minus_inf(lik, batch):
    theory, nuisance = batch
    good = np.flatnonzero(theory.ok)
    ref = lik.loglike_batch(theory, nuisance)
    bad_theory, failed, bad_nuis = good[0], good[1], good[2]
    spoiled = _spoiled(theory, bad_theory)
    spoiled.ok = theory.ok.copy()
    spoiled.ok[failed] = False
    nuis = {k: v.copy() for k, v in nuisance.items()}
    for v in nuis.values():
        v[bad_nuis] = np.nan
    got = lik.loglike_batch(spoiled, nuis)
    expect_inf = {bad_theory, failed} | ({bad_nuis} if lik.nuisance else set())
    for i in good:
        if i in expect_inf:
            assert got[i] == -np.inf, (lik.id, i)
        else:
            assert got[i] == pytest.approx(ref[i], abs=CHI2_TOL), (lik.id, i)
    if any(p.name == "A_planck" for p in lik.nuisance):
        zero = lik.loglike_batch(theory, {**nuisance, "A_planck": np.where(
            np.arange(theory.n) == good[3], 0.0, nuisance["A_planck"])})
        assert zero[good[3]] == -np.inf and np.isfinite(zero[good[4]])


def test_wrong_shapes_raise_input_error(lik, batch):
    theory, nuisance = batch
    n = theory.n
    with pytest.raises(InputError, match=rf"\({n},\)"):
        lik.loglike_batch(theory, {**nuisance, "A_planck": np.ones(n - 1)})
    with pytest.raises(InputError, match="BatchProducts"):
        lik.loglike_batch(theory.point(int(np.flatnonzero(theory.ok)[0])))
    with pytest.raises(InputError, match="theory.ok"):
        lik.loglike_batch(dataclasses.replace(theory, ok=theory.ok.astype(float)))
    if "spectra" in lik.requires:
        sp = theory.spectra
        short = dataclasses.replace(sp, **{k: getattr(sp, k)[:-1] for k in ("tt", "te", "ee",
                                                                             "bb", "pp")})
        with pytest.raises(InputError, match=r"\(n, lmax\+1\)"):
            lik.loglike_batch(dataclasses.replace(theory, spectra=short))
        low = dataclasses.replace(sp, ell=sp.ell[:20], **{k: getattr(sp, k)[:, :20] for k in
                                                          ("tt", "te", "ee", "bb", "pp")})
        with pytest.raises(InputError, match="needs"):
            lik.loglike_batch(dataclasses.replace(theory, spectra=low))
        with pytest.raises(InputError, match="spectra"):
            lik.loglike_batch(dataclasses.replace(theory, spectra=None))
    if "params" in lik.requires:
        params = {k: np.append(v, 0.0) for k, v in theory.params.items()}
        with pytest.raises(InputError, match="shape"):
            lik.loglike_batch(dataclasses.replace(theory, params=params))
    if "background" in lik.requires:
        with pytest.raises(InputError, match="background"):
            lik.loglike_batch(dataclasses.replace(theory, background=None))


def test_wrong_background_shape_raises(batch):
    theory, _ = batch

    class Transposed(_SpoiledBackground):
        def _spoil(self, out):
            return np.asarray(out).T

    bad = dataclasses.replace(theory, background=Transposed(theory.background, 0))
    with pytest.raises(InputError, match=r"\(n, len\(z\)\)"):
        get_likelihood("desi-dr2-bao").loglike_batch(bad)
