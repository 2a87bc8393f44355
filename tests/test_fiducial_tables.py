"""The emulated late-time engines' fiducial tables (theory/latetime_batch.py): computed once from
the fiducial CAMB run and kept on disk; read back bit for bit in a later process, which then
needs no CAMB run at all for points inside the tables (the interpolator, and a suppression
grid's, are asked for only for a row that leaves them)."""
from __future__ import annotations

import numpy as np
import pytest

from numass.theory import latetime_batch as lb
from numass.theory import reference as rf
from numass.theory.limber_batch import TABLE_KEYS
from numass.theory.table_cache import CACHE_ENV


def _grid():
    def interp(k, z):
        k, z = np.broadcast_arrays(np.asarray(k, float), np.asarray(z, float))
        return np.exp(-0.3 * (k / 0.05) ** 2 / (1 + (k / 0.05) ** 2) / (1 + z / 50))
    return [(0.0, None), (1.0, interp)]


def _no_camb():
    raise AssertionError("the fiducial CAMB run was asked for")


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty cache folder and no tables in this process."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "tables"))
    monkeypatch.setattr(lb, "_FIDUCIAL", {})
    return monkeypatch


def test_the_tables_are_read_back_exactly_without_camb(fresh, tmp_path):
    first = lb._fiducial_tables()
    s_first = first.table.suppression("synthetic", _grid).all
    assert {p.name.split("-")[1] for p in (tmp_path / "tables").glob("*.npz")} == {"limber",
                                                                                 "synthetic"}
    fresh.setattr(lb, "_FIDUCIAL", {})  # a new process: only the disk
    fresh.setattr(rf, "fiducial_reference", _no_camb)
    again = lb._fiducial_tables()
    for k in TABLE_KEYS:
        np.testing.assert_array_equal(getattr(again.table, k), getattr(first.table, k), err_msg=k)
    np.testing.assert_array_equal(again.pk_lin0, first.pk_lin0)
    radii = np.log(np.geomspace(4.0, 30.0, 7))
    np.testing.assert_array_equal(again.sigma_spline(radii), first.sigma_spline(radii))
    np.testing.assert_array_equal(again.table.suppression("synthetic", _no_camb).all, s_first)
    with pytest.raises(AssertionError, match="CAMB run was asked for"):
        again.table.pk  # noqa: B018 - the lazy interpolator: fetched only on first need


@pytest.mark.slow
def test_an_engine_on_tables_read_back_gives_the_same_spectra(fresh):
    """ΛsCDM through the emulated engine on freshly computed tables, then on the same tables read
    back from disk with the CAMB run forbidden: identical spectra and σ8."""
    from numass.backends import make_backend

    p = {"ombh2": np.array([0.0224, 0.0223]), "omch2": np.array([0.119, 0.121]),
         "theta_MC_100": np.array([1.041, 1.0408]), "logA": np.array([3.045, 3.03]),
         "ns": np.array([0.967, 0.96]), "tau": np.array([0.056, 0.05]),
         "z_dagger": np.array([2.2, 1.8]), "mnu_eff": np.array([-0.05, 0.1])}
    first = make_backend("lscdm-emulator").compute_batch(p)
    fresh.setattr(lb, "_FIDUCIAL", {})
    fresh.setattr(rf, "fiducial_reference", _no_camb)
    again = make_backend("lscdm-emulator").compute_batch(p)
    assert first.ok.all() and again.ok.all()
    for k in ("tt", "ee", "te", "pp"):
        np.testing.assert_array_equal(getattr(again.spectra, k), getattr(first.spectra, k))
    np.testing.assert_array_equal(again.derived["sigma8"], first.derived["sigma8"])
