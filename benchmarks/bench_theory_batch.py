"""Per-point vs batched theory, time per point, measured in one run on this machine.

    python benchmarks/bench_theory_batch.py [--sizes 1,100,1000] [--backends emulator,...]

For each backend (as numass.backends.make_backend builds it, with the Sigma m_nu,eff wrapper):
the per-point path (``compute`` at each point, timed on up to --per-point points; its cost per
point does not depend on n) against ``compute_batch`` on n points at once, and their ratio, for
the fast batched background (the default) and, for the vectorised backends, the exact one
(``batch_accuracy = 'exact'``). The batch times include D_M, D_H, D_V at the seven DESI DR2
redshifts (the fast background integrates D_M when it is asked for).
Points: a Planck-like posterior region, mnu_eff of both signs; BLAS limited to one thread, as
numass's chains run.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from numass.backends import make_backend

SPECTRA = frozenset({"spectra", "background"})
BACKGROUND = frozenset({"background"})
# backend -> (extra parameters and their ranges, need)
CASES = {
    "background": ({}, BACKGROUND),
    "lscdm-background": ({"z_dagger": (1.8, 3.0)}, BACKGROUND),
    "emulator": ({}, SPECTRA),
    "emulator w0wa": ({"w": (-0.9, -0.6), "wa": (-1.2, -0.4)}, SPECTRA),
    "lscdm-emulator": ({"z_dagger": (1.8, 3.0)}, SPECTRA),
    "nu_interacting-emulator": ({"alpha_fs": (0.0, 2.0)}, SPECTRA),
}
VECTORISED = ("background", "lscdm-background", "emulator")
DESI_Z = np.array([0.295, 0.51, 0.706, 0.934, 1.321, 1.484, 2.33])


def points(n: int, extra: dict, rng, positive: bool) -> dict[str, np.ndarray]:
    p = {"theta_MC_100": rng.uniform(1.0405, 1.0415, n), "ombh2": rng.uniform(0.0221, 0.0227, n),
         "omch2": rng.uniform(0.117, 0.122, n), "logA": rng.uniform(3.02, 3.07, n),
         "ns": rng.uniform(0.955, 0.975, n), "tau": rng.uniform(0.045, 0.065, n),
         "mnu_eff": rng.uniform(0.0 if positive else -0.2, 0.2, n)}
    p.update({k: rng.uniform(lo, hi, n) for k, (lo, hi) in extra.items()})
    return p


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(label: str, sizes: list[int], n_single: int, rng) -> None:
    extra, need = CASES[label]
    backend = make_backend(label.split()[0])
    positive = label.startswith("nu_interacting")  # a physical mass there
    p = points(max(max(sizes), n_single), extra, rng, positive)
    backend.compute_batch({k: v[:2] for k, v in p.items()}, need)  # warm-up: tables, caches
    backend.compute({k: float(v[0]) for k, v in p.items()}, need)

    def one_by_one():
        for i in range(n_single):
            backend.compute({k: float(v[i]) for k, v in p.items()}, need)

    t_point = best_of(one_by_one, 2) / n_single
    print(f"{label:24s} per-point {t_point * 1e3:8.3f} ms / point")
    if "spectra" in need:
        print(f"{'':24s} {agreement(backend, {k: v[:n_single] for k, v in p.items()}, need)}")
    accuracies = ("fast", "exact") if backend.name in VECTORISED else ("generic loop",)
    for accuracy in accuracies:
        if backend.name in VECTORISED:
            backend.inner.batch_accuracy = accuracy
        for n in sizes:
            sub = {k: v[:n] for k, v in p.items()}

            def batch(sub=sub):
                bg = backend.compute_batch(sub, need).background
                for name in ("DM", "DH", "DV"):
                    getattr(bg, name)(DESI_Z)

            t_batch = best_of(batch, 3 if n < 1000 else 2) / n
            print(f"{'':24s} {accuracy:5s} n = {n:5d}: {t_batch * 1e3:8.3f} ms / point   "
                  f"x{t_point / t_batch:6.1f} the per-point path")


def agreement(backend, p: dict, need) -> str:
    """Largest differences of compute_batch from the per-point compute on the same points."""
    batch = backend.compute_batch(p, need)
    pp, tt = [], []
    for i in np.flatnonzero(batch.ok):
        one = backend.compute({k: float(v[i]) for k, v in p.items()}, need).spectra
        pp.append(np.max(np.abs(batch.spectra.pp[i, 2:] / one.pp[2:] - 1)))
        tt.append(np.max(np.abs(batch.spectra.tt[i] - one.tt)) / np.max(one.tt))
    return (f"batch vs per point ({len(pp)} points): max |dC_L^pp / C_L^pp| {max(pp):.1e}, "
            f"max |dTT| / max TT {max(tt):.1e}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,100,1000")
    ap.add_argument("--backends", default=",".join(CASES))
    ap.add_argument("--per-point", type=int, default=30, help="points timed one by one")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(12)
    with threadpool_limits(1):
        for label in args.backends.split(","):
            bench(label, sizes, args.per_point, rng)


if __name__ == "__main__":
    main()
