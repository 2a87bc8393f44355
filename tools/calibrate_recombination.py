"""Calibrate numass's fit of z* and z_drag on CAMB's recombination (Recfast, CAMB defaults).

Draws a Latin-hypercube design over (omega_b, omega_c, Sigma m_nu, N_eff) with a recorded seed,
runs camb.get_background at each point on both cores (H0 plays no role in z*, z_drag; YHe follows
CAMB's BBN consistency, as numass assumes), least-squares fits the polynomial of
numass.theory.recombination_fit.design_matrix, checks it on a second, independent design (its
own seed) and writes the coefficients, the box, the seeds and both sets of residuals to
src/numass/theory/recombination_fit.json.

    python tools/calibrate_recombination.py
"""
from __future__ import annotations

import json
import sys
from multiprocessing import Pool
from pathlib import Path

import camb
import numpy as np
from scipy.stats import qmc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from numass.theory.recombination_fit import DEGREE, design_matrix

SEED, CHECK_SEED = 20261124, 20261125
N_POINTS, N_CHECK = 1600, 400
BOX = {"ombh2": (0.019, 0.026), "omch2": (0.09, 0.15), "mnu": (0.0, 0.6), "nnu": (2.5, 3.8)}
OUT = ROOT / "src" / "numass" / "theory" / "recombination_fit.json"


def camb_redshifts(point) -> tuple[float, float]:
    ombh2, omch2, mnu, nnu = (float(x) for x in point)
    pars = camb.set_params(H0=67.5, ombh2=ombh2, omch2=omch2, mnu=mnu, nnu=nnu,
                           num_massive_neutrinos=1)
    d = camb.get_background(pars).get_derived_params()
    return d["zstar"], d["zdrag"]


def design(n: int, seed: int) -> np.ndarray:
    unit = qmc.LatinHypercube(d=len(BOX), seed=seed).random(n)
    lo = np.array([v[0] for v in BOX.values()])
    hi = np.array([v[1] for v in BOX.values()])
    return lo + unit * (hi - lo)


def main() -> None:
    pts, check = design(N_POINTS, SEED), design(N_CHECK, CHECK_SEED)
    with Pool(2) as pool:
        z = np.array(pool.map(camb_redshifts, pts, chunksize=50))
        zc = np.array(pool.map(camb_redshifts, check, chunksize=50))
    X, Xc = design_matrix(*pts.T), design_matrix(*check.T)
    out = {"box": BOX, "degree": DEGREE, "seed": SEED, "n_points": N_POINTS,
           "check_seed": CHECK_SEED, "n_check": N_CHECK, "camb_version": camb.__version__,
           "camb_settings": "camb.set_params(H0=67.5, num_massive_neutrinos=1), BBN YHe, "
                            "TCMB=2.7255, get_background derived zstar, zdrag"}
    for i, name in enumerate(("zstar", "zdrag")):
        coef, *_ = np.linalg.lstsq(X, z[:, i], rcond=None)
        fit_res, check_res = X @ coef - z[:, i], Xc @ coef - zc[:, i]
        out[name] = {"coef": coef.tolist(),
                     "max_abs_residual": float(np.max(np.abs(fit_res))),
                     "rms_residual": float(np.sqrt(np.mean(fit_res**2))),
                     "check_max_abs_residual": float(np.max(np.abs(check_res))),
                     "check_rms_residual": float(np.sqrt(np.mean(check_res**2)))}
        print(f"{name}: fit max |dz| {out[name]['max_abs_residual']:.4f} "
              f"rms {out[name]['rms_residual']:.4f}; fresh points max |dz| "
              f"{out[name]['check_max_abs_residual']:.4f} rms {out[name]['check_rms_residual']:.4f}")
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
