"""z* and z_drag as smooth functions of (omega_b, omega_c, Sigma m_nu), calibrated on CAMB.

CAMB gets them from a full recombination calculation (Recfast); numass's own background needs
them at ~1 ms a point, so it uses a cubic polynomial in (ln omega_b, ln omega_c, Sigma m_nu)
fitted to CAMB over omega_b in [0.019, 0.026], omega_c in [0.09, 0.15], Sigma m_nu in [0, 0.6] eV
(N_eff = 3.044, T_CMB = 2.7255 K, BBN helium): tools/calibrate_recombination.py made the
coefficients. Residuals are ~1e-3 in z, i.e. < 1e-5 in r_s. Negative Sigma m_nu,eff is mirrored,
z(-m) = 2 z(0) - z(m), which keeps z continuous with a continuous derivative at 0.
"""
from __future__ import annotations

import json
from functools import lru_cache
from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np

_FILE = Path(__file__).with_name("recombination_fit.json")
_REF = (0.0224, 0.12)


def design_matrix(ombh2, omch2, mnu) -> np.ndarray:
    """All monomials of degree <= 3 in (ln(omb/0.0224), ln(omc/0.12), mnu)."""
    v = [np.log(np.asarray(ombh2, float) / _REF[0]), np.log(np.asarray(omch2, float) / _REF[1]),
         np.asarray(mnu, float)]
    cols = [np.ones_like(v[0])]
    for deg in (1, 2, 3):
        for idx in combinations_with_replacement(range(3), deg):
            cols.append(np.prod([v[i] for i in idx], axis=0))
    return np.stack(cols, axis=-1)


@lru_cache(maxsize=1)
def _coefficients() -> dict:
    data = json.loads(_FILE.read_text())
    return {k: np.array(data[k]["coef"]) for k in ("zstar", "zdrag")}


def _evaluate(name: str, ombh2: float, omch2: float, mnu: float) -> float:
    coef = _coefficients()[name]
    if mnu >= 0:
        return float(design_matrix(ombh2, omch2, mnu) @ coef)
    return float(2 * design_matrix(ombh2, omch2, 0.0) @ coef - design_matrix(ombh2, omch2, -mnu) @ coef)


def z_star_fit(ombh2: float, omch2: float, mnu: float) -> float:
    return _evaluate("zstar", ombh2, omch2, mnu)


def z_drag_fit(ombh2: float, omch2: float, mnu: float) -> float:
    return _evaluate("zdrag", ombh2, omch2, mnu)
