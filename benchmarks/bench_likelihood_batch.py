"""Batched vs per-point likelihoods, measured in one run on this machine.

    python benchmarks/bench_likelihood_batch.py [--n 1000] [--repeat 3] [--ids a,b,...]

For every likelihood id whose data are present: the time per point of ``loglike`` called on each
of n points in turn, and of one ``loglike_batch`` call on batches of 1, 100 and 1000 of the same
points, and their ratios (per-point time / batched time per point). The theory products are
computed once, before timing (emulator spectra; the BAO distances tabulated at the measured
redshifts), so that the times are the likelihoods' own and not the theory backend's. Each time is
the best of ``--repeat`` runs (the machine is shared); the batched repeats use other rows of the
n points each time, and batches of 100 or more start with the caches flushed, so that, like the
per-point loop over all n points (120 MB of spectra), they find no products in cache.
On a loaded machine set OPENBLAS_NUM_THREADS=1: BLAS threads competing with other processes make
every time noisy.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from numass.backends import make_backend
from numass.errors import DataError
from numass.likelihoods import get_likelihood, likelihood_ids
from numass.theory.batch import BatchProducts, broadcast_params
from numass.theory.products import TheoryProducts

SIZES = (1, 100, 1000)
BAO_IDS = ("desi-dr2-bao", "desi-dr1-bao")


def sample_params(n: int, seed: int) -> dict[str, np.ndarray]:
    """LCDM + Sigma m_nu,eff of either sign around Planck 2018."""
    rng = np.random.default_rng(seed)
    return {"theta_MC_100": 1.04092 + 3e-4 * rng.standard_normal(n),
            "ombh2": 0.02237 + 1.5e-4 * rng.standard_normal(n),
            "omch2": 0.120 + 1.2e-3 * rng.standard_normal(n),
            "logA": 3.044 + 0.014 * rng.standard_normal(n),
            "ns": 0.965 + 0.004 * rng.standard_normal(n),
            "tau": 0.054 + 0.007 * rng.standard_normal(n),
            "mnu_eff": rng.uniform(-0.3, 0.3, n)}


class TableBackground:
    """Distances tabulated at a fixed set of redshifts: (n, nz) tables looked up by z, so a
    likelihood's time excludes the background computation. ``row`` gives the per-point view."""

    def __init__(self, z: np.ndarray, tables: dict[str, np.ndarray], rdrag, theta_star):
        self.z, self.tables = z, tables
        self.rdrag, self.theta_star = rdrag, theta_star

    def _get(self, name: str, z):
        return self.tables[name][..., np.searchsorted(self.z, z)]

    def H(self, z):
        return self._get("H", z)

    def DM(self, z):
        return self._get("DM", z)

    def DH(self, z):
        return self._get("DH", z)

    def DV(self, z):
        return self._get("DV", z)

    def row(self, i: int) -> TableBackground:
        return TableBackground(self.z, {k: v[i] for k, v in self.tables.items()},
                               float(self.rdrag[i]), float(self.theta_star[i]))


def tabulated(batch: BatchProducts, data_dir) -> TableBackground:
    """The batch's background at every redshift the BAO likelihoods read."""
    zs = []
    for lik_id in BAO_IDS:
        try:
            zs.append(get_likelihood(lik_id, data_dir).z)
        except DataError:
            pass
    z = np.unique(np.concatenate(zs))
    bg = batch.background
    return TableBackground(z, {k: getattr(bg, k)(z) for k in ("H", "DM", "DH", "DV")},
                           np.asarray(bg.rdrag), np.asarray(bg.theta_star))


def make_products(n: int, data_dir) -> tuple[BatchProducts, list[TheoryProducts]]:
    """n emulator points, as one batch and as per-point products sharing the same numbers."""
    params = broadcast_params(sample_params(n, 7))
    backend = make_backend("emulator")
    points = [backend.compute({k: float(v[i]) for k, v in params.items()}) for i in range(n)]
    if not all(p is not None for p in points):
        raise SystemExit("a benchmark point failed; change the seed")
    batch = BatchProducts.from_points(params, points)
    batch.background = tabulated(batch, data_dir)
    singles = [TheoryProducts(params=p.params, spectra=p.spectra, derived=p.derived,
                              background=batch.background.row(i)) for i, p in enumerate(points)]
    return batch, singles


def subset(batch: BatchProducts, rows: slice) -> BatchProducts:
    """Rows of a batch (views)."""
    sp, bg = batch.spectra, batch.background
    spectra = type(sp)(ell=sp.ell, **{k: getattr(sp, k)[rows] for k in ("tt", "te", "ee", "bb",
                                                                            "pp")})
    background = TableBackground(bg.z, {k: v[rows] for k, v in bg.tables.items()},
                                 bg.rdrag[rows], bg.theta_star[rows])
    return BatchProducts(params={k: v[rows] for k, v in batch.params.items()},
                         ok=batch.ok[rows], spectra=spectra, background=background,
                         derived={k: v[rows] for k, v in batch.derived.items()})


_EVICT = np.zeros(16_000_000)  # 128 MB, more than the caches hold


def best_time(calls, evict: bool = False) -> float:
    """The shortest of the timed calls; with ``evict``, each starts with the caches flushed."""
    best = np.inf
    for call in calls:
        if evict:
            _EVICT[:] += 1.0
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    return best


def max_chi2_difference(lik, batch, singles, rows, m: int = 100) -> float:
    """max |chi^2 batched - chi^2 per point| over the first m points (the timed calls agree)."""
    batched = lik.loglike_batch(subset(batch, slice(0, m)), {k: np.array([r[k] for r in rows[:m]])
                                                   for k in rows[0]})
    single = np.array([lik.loglike(s, r) for s, r in zip(singles[:m], rows[:m])])
    return float(np.max(np.abs(2 * batched - 2 * single)))


def bench_one(lik, batch, singles, nuisance, repeat: int) -> tuple[float, list[float], float]:
    """(seconds per point of the per-point loop, [seconds per point of a batch of m for SIZES],
    max |delta chi^2| between the two)."""
    n = len(singles)
    rows = [{k: float(v[i]) for k, v in nuisance.items()} for i in range(n)]
    agree = max_chi2_difference(lik, batch, singles, rows)
    loop = lambda: [lik.loglike(s, r) for s, r in zip(singles, rows)]
    per_point = best_time([loop] * repeat) / n
    batched = []
    for m in SIZES:
        # each repeat on other rows, so that none finds its products still in cache
        starts = [(r * m) % (n - m + 1) for r in range(1, repeat + 1)]
        calls = [lambda rows=slice(a, a + m): lik.loglike_batch(
            subset(batch, rows), {k: v[rows] for k, v in nuisance.items()}) for a in starts]
        # a batch of 100 (12 MB of spectra) could otherwise still be in cache from earlier
        # calls: flush it, as the per-point loop over n points (120 MB) finds nothing cached
        batched.append(best_time(calls, evict=m >= 100) / m)
    return per_point, batched, agree


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info()
                     if i["user_api"] == "blas") or "none found"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=max(SIZES), help="points (>= 1000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ids", default=None, help="comma-separated ids (default: all with data)")
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    if a.n < max(SIZES):
        ap.error(f"--n must be at least {max(SIZES)}")
    print(f"BLAS threads: {blas_threads()}")
    t0 = time.perf_counter()
    batch, singles = make_products(a.n, a.data_dir)
    print(f"theory products for {a.n} emulator points: {time.perf_counter() - t0:.1f} s "
          f"(not part of the times below)")
    rng = np.random.default_rng(3)
    nuisance = {"A_planck": rng.normal(1.0, 0.0025, a.n), "A_fg": rng.normal(1.0, 0.3, a.n)}
    print(f"{'id':30s} {'loglike':>10s} " + " ".join(f"{'batch n=' + str(m):>12s}" for m in SIZES)
          + "   ratio per-point/batch at n = " + ", ".join(map(str, SIZES)) + "   max|dchi2|")
    print(f"{'':30s} {'us/point':>10s} " + " ".join(f"{'us/point':>12s}" for _ in SIZES))
    for lik_id in a.ids.split(",") if a.ids else likelihood_ids():
        try:
            lik = get_likelihood(lik_id, a.data_dir)
        except DataError:
            print(f"{lik_id:30s} skipped: data not present")
            continue
        per_point, batched, agree = bench_one(lik, batch, singles, nuisance, a.repeat)
        ratios = ", ".join(f"{per_point / b:7.1f}x" for b in batched)
        print(f"{lik_id:30s} {1e6 * per_point:10.1f} "
              + " ".join(f"{1e6 * b:12.2f}" for b in batched) + f"   {ratios}   {agree:.1e}")


if __name__ == "__main__":
    main()
