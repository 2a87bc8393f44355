"""Points per second on the full likelihoods: the per-point Cobaya path against the batched
path (BatchPosterior) at n = 1, 100, 1000, 10 000, for lcdm, w0wa, lscdm and nu_interacting.

    python benchmarks/bench_batch.py [--sizes 1,100,1000,10000] [--models lcdm,w0wa] [--per-point 50]

Points are drawn around each model's reference point (inside the emulator's box). Every figure
is measured in this one run; the last column is batched / per-point. Skips (exit 0) when the
public data (NUMASS_DATA_DIR) are absent.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

FULL = ["desi-dr2-bao", "planck2018-plik-lite-TTTEEE", "planck2018-lowl-TT", "tau-prior",
        "act-dr6-lensing"]


def points(info, names, n, seed=0):
    from numass.inference.pipeline import _refs, _widths

    refs, widths = _refs(info), _widths(info)
    rng = np.random.default_rng(seed)
    return np.array([[refs[k] + widths[k] * rng.standard_normal() for k in names]
                     for _ in range(n)])


def rate(func, n: int) -> float:
    t = time.perf_counter()
    func()
    return n / (time.perf_counter() - t)


def bench_model(model: str, sizes: list[int], n_point: int, data_dir: str) -> list[str]:
    from cobaya.model import get_model

    from numass.inference.posterior import BatchPosterior
    from numass.inference.setup import build_info

    info = build_info(model, FULL, backend="emulator-box" if model in ("lcdm", "w0wa") else None,
                      data_dir=data_dir)
    post = BatchPosterior(info, data_dir=data_dir, backend_options={})
    cmodel = get_model(info)
    x = points(info, post.names, max(sizes + [n_point]))
    post(x[:2])  # warm up both paths (imports, caches)
    cmodel.logpost(dict(zip(post.names, x[0])))
    per_point = rate(lambda: [cmodel.logpost(dict(zip(post.names, r))) for r in x[:n_point]],
                     n_point)
    lines = [f"{model:15s} backend {post.backend_name:24s} per-point {per_point:9.1f} /s"]
    for n in sizes:
        r = rate(lambda n=n: post(x[:n]), n)
        lines.append(f"{'':15s} batched n = {n:6d}: {r:9.1f} /s   x{r / per_point:7.2f}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,100,1000,10000")
    ap.add_argument("--models", default="lcdm,w0wa,lscdm,nu_interacting")
    ap.add_argument("--per-point", type=int, default=50, help="points for the per-point path")
    args = ap.parse_args(argv)
    data_dir = os.environ.get("NUMASS_DATA_DIR")
    if not data_dir or not os.path.isdir(data_dir):
        print("bench_batch: skipped (set NUMASS_DATA_DIR to the public data sets)")
        return 0
    from threadpoolctl import threadpool_limits

    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"bench_batch: full likelihoods ({', '.join(FULL)}); load {os.getloadavg()[0]:.1f}")
    with threadpool_limits(1, user_api="blas"):
        for model in args.models.split(","):
            print("\n".join(bench_model(model, sizes, args.per_point, data_dir)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
