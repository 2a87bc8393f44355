"""Emulator vs CAMB, measured in one run on this machine.

    python benchmarks/bench_emulator.py [--camb-points 3] [--chain] [--out DIR]

Prints seconds per theory evaluation (lensed spectra + C_L^phiphi + background + sigma8) for
CAMB and for the emulator, and their ratio; with --chain, also the wall time of the LCDM +
Sigma m_nu,eff chain on DESI DR2 + plik_lite TTTEEE + low-ell TT + tau prior + ACT DR6 lensing
with the emulator to R-1 < 0.01 (needs the data directory).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from numass.backends import make_backend

NEED = frozenset({"spectra", "background"})


def points(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield {"theta_MC_100": 1.0409 + 3e-4 * rng.standard_normal(), "ombh2": 0.02237,
               "omch2": 0.12 + 0.001 * rng.standard_normal(), "mnu": rng.uniform(0, 0.3),
               "logA": 3.044, "ns": 0.965, "tau": 0.055}


def seconds_per_call(backend, n: int, seed: int) -> float:
    pts = list(points(n + 1, seed))
    backend.compute(pts[0], NEED)  # warm-up: imports, weights, tables
    t0 = time.perf_counter()
    for p in pts[1:]:
        backend.compute(p, NEED)
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--camb-points", type=int, default=3)
    ap.add_argument("--emulator-points", type=int, default=300)
    ap.add_argument("--chain", action="store_true", help="also time the full-likelihood chain")
    ap.add_argument("--out", default=None, help="chain output folder (default: a temporary one)")
    a = ap.parse_args()
    t_camb = seconds_per_call(make_backend("camb"), a.camb_points, 1)
    t_emu = seconds_per_call(make_backend("emulator"), a.emulator_points, 2)
    print(f"CAMB      {t_camb:10.4f} s per evaluation ({a.camb_points} points)")
    print(f"emulator  {t_emu:10.6f} s per evaluation ({a.emulator_points} points)")
    print(f"ratio     {t_camb / t_emu:10.0f} x")
    if a.chain:
        from numass.inference.pipeline import run_analysis
        from numass.likelihoods import FULL as FULL_DATASETS

        out = a.out or tempfile.mkdtemp(prefix="numass-bench-")
        t0 = time.time()
        s = run_analysis(model="lcdm", datasets=FULL_DATASETS, out=out, backend="emulator",
                         resume=False, progress=lambda m: None)
        print(f"chain     {time.time() - t0:10.1f} s wall to R-1 = {s['rminus1']:.4f} "
              f"({s['n_samples']} samples; {', '.join(FULL_DATASETS)}); "
              f"mnu_eff = {s['mnu_eff']['mean']:.3f} +- {s['mnu_eff']['std']:.3f} eV; in {out}")


if __name__ == "__main__":
    main()
