"""The free-streaming suppression of massive neutrinos, S(k, z) = P_lin / P_lin,nofs, from a
reference CAMB run's own transfer functions (no second Boltzmann run).

The sub-horizon growth equation of δ_cb is solved per k from z = 1200 twice: with CAMB's δ_ν/δ_cb
(free streaming) and with δ_ν = (1 + w_ν) δ_cb (neutrinos following the CDM); S is the squared
ratio of the total matter contrasts, in which the equation's approximations cancel to first
order (docs/latetime.md, "How S is computed", with the limits measured). The emulated engine
takes S from fiducial runs on a grid of Σmν (MNU_GRID), ln S linear in Σmν; that grid's
tables are kept on disk between runs (table_cache: verified, keyed by CAMB's version and this
code).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.integrate import solve_ivp
from scipy.interpolate import CubicSpline, RectBivariateSpline

from numass.errors import TheoryError
from numass.theory.reference import FIDUCIAL_EARLY, FIDUCIAL_H0, run_reference
from numass.theory.table_cache import cached_arrays, code_key


def _nonrel_density(bg, lna: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ρ_ν − 3P_ν) a³ of the massive states in ω h² units (→ ω_ν today), = d(ρ a⁴)/dln a / a,
    and their equation of state w_ν = P_ν/ρ_ν, at ln a (1-d) of a background of one row."""
    eps = 1e-4
    f = bg.dens.massive_nu(lna)[0]
    df = (bg.dens.massive_nu(lna + eps)[0] - bg.dens.massive_nu(lna - eps)[0]) / (2 * eps)
    return df / np.exp(lna), (f - df) / (3.0 * f)


def free_streaming_suppression(ref) -> dict:
    """S(k, z) = P_lin(fs) / P_lin(no fs) on the reference's transfer grid (cached on ``ref``):
    a dict with k [1/Mpc], z (as the transfer grid), S (nk, nz) and ``interp`` f(k, z) -> S."""
    if "fs_suppression" not in ref.cache:
        lna, k, S = suppression_table(ref)
        ref.cache["fs_suppression"] = {"k": k, "z": np.expm1(-lna), "S": S,
                                       "interp": suppression_interp(lna, k, S)}
    return ref.cache["fs_suppression"]


def suppression_table(ref) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ln a ascending, k [1/Mpc], S (nk, n_a)) of the reference's transfer grid."""
    tr = ref.transfer
    bg = ref.background.rows
    k, z = tr["k"], tr["z"]
    order = np.argsort(-np.log1p(z))  # ascending ln a
    lna = -np.log1p(z[order])
    ombh2, omch2 = ref.params["ombh2"], ref.params["omch2"]
    ocb = ombh2 + omch2
    dcb = (omch2 * tr["cdm"] + ombh2 * tr["b"])[:, order] / ocb
    dnu = tr["nu"][:, order]
    if bg.dens.n_massive[0] == 0 or not np.any(dnu):
        S = np.ones_like(dcb)
    else:
        # background coefficients on a fine grid, splined (the ODE right-hand side is then cheap)
        xf = np.linspace(lna[0], 0.0, 3001)
        af = np.exp(xf)
        h2 = bg.h2_at(xf)[0]
        fric = 2.0 + 0.5 * np.gradient(np.log(h2), xf)
        o_cb = ocb / af**3 / h2
        w_nr, w_nu = _nonrel_density(bg, xf)
        o_nu = w_nr / af**3 / h2
        # without free streaming the neutrinos follow the CDM adiabatically,
        # δ_ν/(1 + w_ν) = δ_cb, which CAMB's δ_ν also does on super-horizon scales: S -> 1 there
        c_fric, c_cb, c_nu, c_follow = (CubicSpline(xf, v) for v in (fric, o_cb, o_nu, 1 + w_nu))
        # δ_ν/δ_cb from CAMB (free streaming), and the initial δ_cb, δ_cb' at the first redshift
        ratio = CubicSpline(lna, dnu / dcb, axis=1)
        cb = CubicSpline(lna, dcb, axis=1)
        d0, dp0 = cb(lna[0]), cb(lna[0], 1)
        nk = len(k)
        y0 = np.concatenate([np.ones(nk), dp0 / d0, np.ones(nk), dp0 / d0])

        def rhs(x, y):
            d_fs, v_fs, d_no, v_no = y.reshape(4, nk)
            fr, a_cb, a_nu = c_fric(x), c_cb(x), c_nu(x)
            acc_fs = -fr * v_fs + 1.5 * (a_cb + a_nu * ratio(x)) * d_fs
            acc_no = -fr * v_no + 1.5 * (a_cb + a_nu * c_follow(x)) * d_no
            return np.concatenate([v_fs, acc_fs, v_no, acc_no])

        sol = solve_ivp(rhs, (lna[0], 0.0), y0, method="DOP853", rtol=1e-6, atol=1e-9,
                        t_eval=lna)
        if not sol.success:
            raise TheoryError(f"free-streaming growth integration failed: {sol.message}")
        y = sol.y.reshape(4, nk, -1)
        w_nr, w_nu = (v[None, :] for v in _nonrel_density(bg, lna))
        d_m_fs = (ocb * y[0] + w_nr * ratio(lna) * y[0]) / (ocb + w_nr)
        d_m_no = (ocb * y[2] + w_nr * (1 + w_nu) * y[2]) / (ocb + w_nr)
        S = (d_m_fs / d_m_no) ** 2
    if not np.all(np.isfinite(S)) or np.any(S <= 0):
        raise TheoryError("non-finite free-streaming suppression")
    return lna, k, S


def suppression_interp(lna: np.ndarray, k: np.ndarray, S: np.ndarray):
    """f(k, z) -> S, bicubic in (ln a, ln k) on suppression_table's grid, flat beyond it."""
    spline = RectBivariateSpline(lna, np.log(k), np.log(S).T, kx=3, ky=3)
    lnk_lo, lnk_hi = np.log(k[0]), np.log(k[-1])

    def interp(kk, zz):
        kk, zz = np.broadcast_arrays(np.asarray(kk, dtype=float), np.asarray(zz, dtype=float))
        x = np.clip(-np.log1p(zz), lna[0], 0.0)  # beyond z = 1200 (no lensing there): S(1200)
        lk = np.clip(np.log(kk), lnk_lo, lnk_hi)  # S is flat beyond both ends of the k range
        return np.exp(spline.ev(x.ravel(), lk.ravel())).reshape(kk.shape)

    return interp


MNU_GRID = (0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)


def _grid_tables() -> dict[str, np.ndarray]:
    tables = {}
    for i, m in enumerate(MNU_GRID):
        if m:
            ref = run_reference({**FIDUCIAL_EARLY, "mnu": m}, FIDUCIAL_H0)
            tables[f"lna_{i}"], tables[f"k_{i}"], tables[f"S_{i}"] = suppression_table(ref)
    return tables


@lru_cache(maxsize=1)
def suppression_on_grid() -> list:
    """[(mnu, S interp, None at mnu = 0)] from fiducial CAMB runs at MNU_GRID (once a process;
    the tables kept on disk between runs, table_cache)."""
    import sys

    from numass import parameters
    from numass.theory import backend, background, camb_backend, densities, reference

    key = {"grid": MNU_GRID, "early": FIDUCIAL_EARLY, "H0": FIDUCIAL_H0,
           **code_key([sys.modules[__name__], reference, camb_backend, backend, background,
                       densities, parameters])}
    t = cached_arrays("free-streaming", key, _grid_tables)
    return [(m, suppression_interp(t[f"lna_{i}"], t[f"k_{i}"], t[f"S_{i}"]) if m else None)
            for i, m in enumerate(MNU_GRID)]
