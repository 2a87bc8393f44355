"""Time per call of the per-point background with theta_MC given (a batch of one since issue 22),
and of the background backend's batched call at n = 1.

    python benchmarks/bench_batch_of_one.py [--calls 200] [--old OTHER/src]

``--old``: the same measurement with another checkout's numass (e.g. the code before the
change), in a subprocess with PYTHONPATH=OTHER/src, printed next to this one.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

POINT = {"cosmomc_theta": 0.0104092, "ombh2": 0.02237, "omch2": 0.12, "mnu": 0.06}


def per_call(fn, calls: int) -> float:
    fn()  # warm-up (imports, tables)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def measure(calls: int) -> str:
    import numass
    from numass.backends import make_backend
    from numass.theory.background import compute_background

    rng = np.random.default_rng(0)
    per_point = per_call(lambda: compute_background(
        {**POINT, "omch2": 0.12 + rng.normal(0, 0.002)}), calls)
    backend = make_backend("background")
    batch = per_call(lambda: backend.compute_batch(
        {"theta_MC_100": [1.04092], "ombh2": [0.02237], "omch2": [0.12 + rng.normal(0, 0.002)],
         "mnu_eff": [0.06]}, frozenset({"background"})), calls)
    return (f"{os.path.dirname(numass.__file__)}:\n"
            f"  compute_background with theta_MC (per point): {1e3 * per_point:7.2f} ms a call\n"
            f"  background backend compute_batch, n = 1:      {1e3 * batch:7.2f} ms a call")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--old", help="another checkout's src folder to measure too")
    args = ap.parse_args()
    if args.old:
        env = {**os.environ, "PYTHONPATH": args.old}
        subprocess.run([sys.executable, __file__, "--calls", str(args.calls)], env=env, check=True)
    print(measure(args.calls))


if __name__ == "__main__":
    main()
