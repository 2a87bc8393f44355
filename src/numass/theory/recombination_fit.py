"""z* and z_drag as smooth functions of (omega_b, omega_c, Sigma m_nu, N_eff), calibrated on CAMB.

CAMB gets them from a full recombination calculation (Recfast, helium from BBN consistency);
numass's own background needs them at ~1 ms a point, so it uses a cubic polynomial in
(ln omega_b, ln omega_c, Sigma m_nu, N_eff) fitted to CAMB (one massive eigenstate) over
omega_b in [0.019, 0.026], omega_c in [0.09, 0.15], Sigma m_nu in [0, 0.6] eV, N_eff in
[2.5, 3.8], T_CMB = 2.7255 K. tools/calibrate_recombination.py made the coefficients (JSON next
to this file, with its seeds and residuals): |dz*| < 0.003 and |dz_drag| < 0.05 on fresh points,
i.e. < 5e-5 in r_s. (CAMB's own z_drag scatters at the 0.03 level: its root finding.)

Negative Sigma m_nu,eff is mirrored, z(-m) = 2 z(0) - z(m), which keeps both continuous with a
continuous first derivative at m = 0 (and is what the Elbers et al. sign flip of the
mass-dependent neutrino density gives to first order in m).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from numass.theory.monomials import monomials

_FILE = Path(__file__).with_name("recombination_fit.json")
_REF = (0.0224, 0.12, 3.044)  # expansion point: omega_b, omega_c, N_eff
DEGREE = 3


def design_matrix(ombh2, omch2, mnu, nnu=3.044) -> np.ndarray:
    """All monomials of degree <= DEGREE in (ln(omb/0.0224), ln(omc/0.12), mnu, nnu - 3.044)."""
    ombh2, omch2, mnu, nnu = np.broadcast_arrays(*(np.asarray(x, dtype=float)
                                                   for x in (ombh2, omch2, mnu, nnu)))
    v = np.stack([np.log(ombh2 / _REF[0]), np.log(omch2 / _REF[1]), mnu, nnu - _REF[2]], axis=-1)
    return monomials(v.reshape(-1, 4), DEGREE).reshape(*v.shape[:-1], -1)


@lru_cache(maxsize=1)
def fit_coefficients() -> dict:
    data = json.loads(_FILE.read_text())
    if data.get("degree") != DEGREE:
        raise RuntimeError(f"{_FILE.name} was fitted with degree {data.get('degree')}, the code "
                           f"expects {DEGREE}: rerun tools/calibrate_recombination.py")
    return {k: np.array(data[k]["coef"]) for k in ("zstar", "zdrag")}


def calibration_box() -> dict:
    """The parameter ranges the fit was calibrated on."""
    return {k: tuple(v) for k, v in json.loads(_FILE.read_text())["box"].items()}


def redshift_fit(name: str, ombh2, omch2, mnu, nnu=3.044):
    """The fit ``name`` ('zstar' or 'zdrag') at scalars or arrays; mirrored for mnu < 0,
    z(-m) = 2 z(0) - z(m), the sign flip of the neutrinos' mass-dependent density to first
    order in m."""
    coef = fit_coefficients()[name]
    at_abs = design_matrix(ombh2, omch2, np.abs(mnu), nnu) @ coef
    at_zero = design_matrix(ombh2, omch2, np.zeros_like(mnu), nnu) @ coef
    return np.where(np.asarray(mnu) >= 0, at_abs, 2 * at_zero - at_abs)

