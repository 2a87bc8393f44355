"""Calibrate numass's fit of z* and z_drag on CAMB's recombination (Recfast, CAMB defaults).

Draws a Latin-hypercube design over omega_b, omega_c and Sigma m_nu (seed recorded), runs
camb.get_background at each point (H0 plays no role in z*, z_drag), least-squares fits a cubic
polynomial in (ln omega_b, ln omega_c, Sigma m_nu) and writes the coefficients with the design
and the fit residuals to src/numass/theory/recombination_fit.json.

    python tools/calibrate_recombination.py
"""
from __future__ import annotations

import json
from pathlib import Path

import camb
import numpy as np
from scipy.stats import qmc

SEED = 20261124
N_POINTS = 600
BOX = {"ombh2": (0.019, 0.026), "omch2": (0.09, 0.15), "mnu": (0.0, 0.6)}
OUT = Path(__file__).resolve().parents[1] / "src" / "numass" / "theory" / "recombination_fit.json"


def camb_redshifts(ombh2: float, omch2: float, mnu: float) -> tuple[float, float]:
    pars = camb.set_params(H0=67.5, ombh2=ombh2, omch2=omch2, mnu=mnu, nnu=3.044,
                           num_massive_neutrinos=1)
    d = camb.get_background(pars).get_derived_params()
    return d["zstar"], d["zdrag"]


def main() -> None:
    import sys

    sys.path.insert(0, str(OUT.parents[2]))
    from numass.theory.recombination_fit import design_matrix

    unit = qmc.LatinHypercube(d=3, seed=SEED).random(N_POINTS)
    lo = np.array([v[0] for v in BOX.values()])
    hi = np.array([v[1] for v in BOX.values()])
    pts = lo + unit * (hi - lo)
    z = np.array([camb_redshifts(*p) for p in pts])
    X = design_matrix(pts[:, 0], pts[:, 1], pts[:, 2])
    out = {"box": BOX, "seed": SEED, "n_points": N_POINTS, "camb_version": camb.__version__}
    for i, name in enumerate(("zstar", "zdrag")):
        coef, *_ = np.linalg.lstsq(X, z[:, i], rcond=None)
        resid = X @ coef - z[:, i]
        out[name] = {"coef": coef.tolist(), "max_abs_residual": float(np.max(np.abs(resid))),
                     "rms_residual": float(np.sqrt(np.mean(resid**2)))}
        print(f"{name}: max |residual| = {np.max(np.abs(resid)):.4f}, rms = {np.sqrt(np.mean(resid**2)):.4f}")
    OUT.write_text(json.dumps(out, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
