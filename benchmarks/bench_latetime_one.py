"""Per-point time of the emulated late-time engines: ``compute`` as a batch of one (this source
tree) and, in a subprocess on another source tree, the per-point code it replaced.

    python benchmarks/bench_latetime_one.py [--old-src /work/wt-head/src] [--points 20]

Prints ms per call of 'lscdm-emulator' and 'nu_interacting-emulator' (spectra + background, the
Cobaya per-point path) for both trees. The first call of each backend (CAMB's fiducial runs, the
lensing response, the tables) is a warm-up, not timed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

NEED = frozenset({"spectra", "background"})
BACKENDS = ("lscdm-emulator", "nu_interacting-emulator")


def points(name: str, n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        p = {"theta_MC_100": 1.0410 + 3e-4 * rng.standard_normal(), "ombh2": 0.02237,
             "omch2": 0.12 + 0.001 * rng.standard_normal(), "logA": 3.044, "ns": 0.965,
             "tau": 0.055, "mnu_eff": rng.uniform(0.0, 0.3)}
        extra = ({"z_dagger": rng.uniform(1.6, 3.0)} if name.startswith("lscdm")
                 else {"alpha_fs": rng.uniform(0.0, 1.0)})
        yield {**p, **extra}


def ms_per_call(name: str, n: int) -> float:
    from numass.backends import make_backend

    backend = make_backend(name)
    pts = list(points(name, n + 1))
    backend.compute(pts[0], NEED)  # warm-up
    t0 = time.perf_counter()
    for p in pts[1:]:
        backend.compute(p, NEED)
    return 1e3 * (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-src", default="/work/wt-head/src",
                    help="the source tree of the per-point code to compare with")
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--this-tree-only", action="store_true",
                    help="print this tree's times as JSON (what the subprocess runs)")
    args = ap.parse_args()
    new = {name: ms_per_call(name, args.points) for name in BACKENDS}
    if args.this_tree_only:
        print(json.dumps(new))
        return
    run = subprocess.run([sys.executable, __file__, "--this-tree-only", "--points",
                          str(args.points)], env={**os.environ, "PYTHONPATH": args.old_src},
                         capture_output=True, text=True, check=True)
    old = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"{'backend':26s} {'old per point':>14s} {'batch of one':>14s}")
    for name in BACKENDS:
        print(f"{name:26s} {old[name]:11.1f} ms {new[name]:11.1f} ms")


if __name__ == "__main__":
    main()
