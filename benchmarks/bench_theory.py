"""Seconds per theory evaluation, measured in one run on this machine, and what they imply.

    python benchmarks/bench_theory.py [--camb-points 3]

Prints: numass's own background vs CAMB's background-only path vs CAMB with spectra (the
settings numass uses for Planck/ACT/PR4), per-likelihood costs where the data directory is
available, and the ratios between them.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from numass.backends import make_backend
from numass.errors import DataError
from numass.likelihoods import get_likelihood


def per_call(fn, n: int) -> float:
    fn()  # warm-up (imports, tables)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--camb-points", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)

    def point():
        return {"H0": 67 + rng.normal(0, 1), "ombh2": 0.0224, "omch2": 0.12 + rng.normal(0, 0.002),
                "mnu_eff": rng.uniform(-0.2, 0.2), "logA": 3.05, "ns": 0.965, "tau": 0.055}

    bg = make_backend("background")
    bg_only = frozenset({"background"})
    t_own = per_call(lambda: bg.compute({k: v for k, v in point().items()
                                         if k in ("H0", "ombh2", "omch2", "mnu_eff")}, bg_only), 200)
    camb = make_backend("camb")
    t_camb_bg = per_call(lambda: camb.compute({**point(), "mnu_eff": 0.06}, bg_only), 20)
    t_camb = per_call(lambda: camb.compute({**point(), "mnu_eff": 0.06},
                                           frozenset({"spectra", "background"})), args.camb_points)
    t_camb_neg = per_call(lambda: camb.compute({**point(), "mnu_eff": -0.1},
                                               frozenset({"spectra", "background"})), args.camb_points)
    products = camb.compute({**point(), "mnu_eff": 0.06}, frozenset({"spectra", "background"}))
    print(f"numass background (own code)      : {t_own * 1e3:8.2f} ms / point")
    print(f"CAMB background only              : {t_camb_bg * 1e3:8.2f} ms / point "
          f"(x{t_camb_bg / t_own:.1f} numass)")
    print(f"CAMB spectra, mnu_eff >= 0        : {t_camb:8.2f} s / point "
          f"(x{t_camb / t_own:.0f} numass background)")
    print(f"CAMB spectra, mnu_eff < 0 (mirror): {t_camb_neg:8.2f} s / point (two CAMB runs, the "
          f"m = 0 one cached while only mnu_eff moves)")
    for lik_id in ("desi-dr2-bao", "cmb-compressed", "planck2018-plik-lite-TTTEEE",
                   "act-dr6-lensing", "planck-pr4-lensing"):
        try:
            lik = get_likelihood(lik_id)
        except DataError as exc:  # data set absent: say so and go on
            print(f"{lik_id:<34}: skipped ({exc.__class__.__name__})")
            continue
        t = per_call(lambda lik=lik: lik.loglike(products), 200)
        print(f"{lik_id:<34}: {t * 1e3:8.3f} ms / call")
    n_chain = 30000
    print(f"\na converged full-likelihood chain needs ~{n_chain} evaluations: "
          f"~{n_chain * t_camb / 3600:.0f} h with CAMB on one core, "
          f"~{n_chain * t_own / 60:.1f} min for the background-only (embedded) analysis")


if __name__ == "__main__":
    main()
