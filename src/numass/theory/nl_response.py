"""The response of the nonlinear matter power to its linear amplitude, n = ∂ ln P_nl / ∂ ln P_lin,
for carrying lensing to a target whose growth differs by more than a few per cent.

Measured once per process from the fiducial CAMB run and one with A_s 10% higher; the target's
power becomes P_ref g² exp[weight (n − 1) ln g²] (g the growth ratio). What it leaves out and
the weight the w0wa transfer uses (one half): docs/emulator.md.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.interpolate import RectBivariateSpline

from numass.theory import reference as rf
from numass.theory.limber_batch import k_range

_STEP = 0.1  # relative change of A_s
_K = np.geomspace(1e-4, 1e3, 400)


@lru_cache(maxsize=1)
def response():
    """n(k, z) − 1 of the fiducial model: a callable f(k, z) (arrays of one shape)."""
    fid = rf.fiducial_reference()
    up = rf.run_reference({**rf.FIDUCIAL_EARLY, "As": rf.FIDUCIAL_EARLY["As"] * (1 + _STEP)},
                          rf.FIDUCIAL_H0)
    z = np.sort(rf.Z_PK)
    k = np.clip(_K, k_range(fid.pk.kmin)[0], _K[-1])
    n = np.log(up.pk.P(z, k) / fid.pk.P(z, k)) / np.log1p(_STEP)
    spline = RectBivariateSpline(z, np.log(k), n - 1.0, kx=1, ky=3)

    def n_minus_1(kk, zz):
        kk, zz = np.broadcast_arrays(np.asarray(kk, dtype=float), np.asarray(zz, dtype=float))
        return spline(np.clip(zz, z[0], z[-1]), np.log(np.clip(kk, k[0], k[-1])), grid=False)

    return n_minus_1


def _response_grid() -> list:
    """n − 1 as a grid of one for SuppressionTables: exp(n − 1) at both ends."""
    f = response()
    entry = (lambda k, z: np.exp(f(k, z)))
    return [(0.0, entry), (1.0, entry)]


def limber_rows(table, nodes, gsq: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """∫ g² P exp[weight (n − 1) ln g²] (× the nodes' weights) over the nodes of every row,
    (n, len(L_GRID)); ``gsq`` (n, NZ − 1) the squared growth ratio at the nodes."""
    stab = table.suppression("nl_response", _response_grid)
    return table.suppressed(nodes, stab, nodes.weight * gsq, weight * np.log(gsq),
                            np.zeros(len(gsq)))
