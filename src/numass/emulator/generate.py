"""Training spectra from CAMB over a design: parallel over cores, resumable in chunks.

    python -m numass.emulator.generate run --n 4000 --seed 1 --out DIR [--workers N]
                                           [--time-limit SECONDS] [--shrink 1.0]
    python -m numass.emulator.generate pack --out DIR --dest FILE_PREFIX [--rank K]

``run`` writes DIR/design.npz (the design, its seed and the box) and one DIR/chunk_NNNNN.npz per
``CHUNK`` design rows (float64 spectra on ell = 2..3000 from numass's CambBackend, the derived
scalars, and an ``ok`` mask: a point where CAMB fails is kept as failed, not retried). Existing
chunks are skipped, so an interrupted run resumes where it stopped; --time-limit stops cleanly
after the chunk in progress. ``pack`` compresses a directory of chunks for transport: per
spectrum, the SVD of the tolerance-whitened targets (targets.py) truncated to K components, in
float32, with the largest reconstruction error recorded (in units of the tolerance).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from numass.emulator import design, targets

CHUNK = 32
DERIVED = ("sigma8", "H0", "theta_star", "rdrag", "zstar", "zdrag")


def camb_point(row: np.ndarray) -> dict:
    """One design row through numass's CAMB backend (settings exactly as in analyses)."""
    from numass.errors import TheoryError
    from numass.theory.camb_backend import CambBackend

    backend = CambBackend(lmax=targets.LMAX, cache_size=1)
    try:
        prod = backend.compute(design.as_params(row), frozenset({"spectra", "background"}))
    except TheoryError as exc:
        return {"ok": False, "error": str(exc)}
    s, sl = prod.spectra, slice(targets.LMIN, targets.LMAX + 1)
    assert s is not None  # requested above
    out = {"ok": True, "tt": s.tt[sl], "te": s.te[sl], "ee": s.ee[sl], "pp": s.pp[sl]}
    out.update({k: float(prod.derived[k]) for k in DERIVED})
    return out


def _chunk_arrays(results: list[dict]) -> dict[str, np.ndarray]:
    n, nl = len(results), len(targets.ELL)
    arr: dict[str, np.ndarray] = {k: np.full((n, nl), np.nan) for k in targets.SPECTRA}
    arr.update({k: np.full(n, np.nan) for k in DERIVED})
    arr["ok"] = np.array([r["ok"] for r in results])
    for i, r in enumerate(results):
        if r["ok"]:
            for k in (*targets.SPECTRA, *DERIVED):
                arr[k][i] = r[k]
    return arr


def run(n: int, seed: int, out: Path, workers: int, time_limit: float | None,
        shrink: float = 1.0) -> int:
    """Generate (or resume) the design's chunks; returns the number of points done."""
    out.mkdir(parents=True, exist_ok=True)
    dfile = out / "design.npz"
    if dfile.exists():
        d = np.load(dfile)
        if int(d["seed"]) != seed or len(d["x"]) != n or float(d["shrink"]) != shrink:
            raise SystemExit(f"{dfile} holds another design (seed {int(d['seed'])}, "
                             f"n {len(d['x'])}); use another --out")
        x = d["x"]
    else:
        x = design.latin_hypercube(n, seed, shrink)
        np.savez(dfile, x=x, seed=seed, shrink=shrink, params=np.array(design.PARAMS),
                 low=design.LOW, high=design.HIGH)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from multiprocessing import get_context

    start, done = time.time(), 0
    todo = [i for i in range(0, n, CHUNK) if not (out / f"chunk_{i // CHUNK:05d}.npz").exists()]
    done = (n // CHUNK + (n % CHUNK > 0) - len(todo)) * CHUNK
    with get_context("fork").Pool(workers) as pool:
        for i in todo:
            if time_limit is not None and time.time() - start > time_limit:
                print(f"time limit reached after {done} points", flush=True)
                break
            rows = x[i:i + CHUNK]
            arr = _chunk_arrays(pool.map(camb_point, list(rows), chunksize=1))
            tmp = out / f".chunk_{i // CHUNK:05d}.npz"
            np.savez(tmp, x=rows, index=np.arange(i, i + len(rows)),
                     **arr)  # type: ignore[arg-type]  # numpy's stub: **arr might be allow_pickle
            tmp.replace(out / f"chunk_{i // CHUNK:05d}.npz")  # atomic: a chunk is whole or absent
            done += len(rows)
            rate = done / max(time.time() - start, 1e-9)
            print(f"{done}/{n} points ({int(arr['ok'].sum())}/{len(rows)} ok in this chunk, "
                  f"{rate:.2f} points/s)", flush=True)
    return done


def load_chunks(out: Path) -> dict[str, np.ndarray]:
    """All finished chunks of a directory, concatenated (failed points included, see 'ok')."""
    files = sorted(out.glob("chunk_*.npz"))
    if not files:
        raise SystemExit(f"no chunks in {out}")
    parts = [dict(np.load(f)) for f in files]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def pack(out: Path, dest: str, rank: int) -> None:
    """SVD-compress the chunks of ``out`` into dest_<spectrum>.npz files and dest_meta.npz."""
    data = load_chunks(out)
    ok = data["ok"]
    t = targets.to_targets(*(data[k][ok] for k in targets.SPECTRA))
    meta = {k: data[k][ok] for k in ("x", "index", *DERIVED)}
    np.savez(f"{dest}_meta.npz", **meta, n_failed=int((~ok).sum()))
    for k in targets.SPECTRA:
        tol = targets.tolerance(k)
        y = t[k] / tol
        mean = y.mean(axis=0)
        u, s, vt = np.linalg.svd(y - mean, full_matrices=False)
        r = min(rank, len(s))
        coef = u[:, :r] * s[:r]
        err = np.abs(coef @ vt[:r] + mean - y).max()
        np.savez(f"{dest}_{k}.npz", mean=mean.astype(np.float32), basis=vt[:r].astype(np.float32),
                 coef=coef.astype(np.float32), tol=tol, max_err=err)
        print(f"{k}: {r} components, largest reconstruction error {err:.2e} tolerance", flush=True)


def unpack(prefix: str) -> dict[str, np.ndarray]:
    """The spectra and derived scalars a pack() wrote (float32-accurate reconstruction)."""
    out = dict(np.load(f"{prefix}_meta.npz"))
    t = {}
    for k in targets.SPECTRA:
        z = np.load(f"{prefix}_{k}.npz")
        y = z["coef"].astype(float) @ z["basis"].astype(float) + z["mean"]
        t[k] = y * z["tol"]
    out.update(targets.from_targets(t))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m numass.emulator.generate")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--n", type=int, required=True)
    r.add_argument("--seed", type=int, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--workers", type=int, default=os.cpu_count())
    r.add_argument("--time-limit", type=float, default=None)
    r.add_argument("--shrink", type=float, default=1.0)
    p = sub.add_parser("pack")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--dest", required=True)
    p.add_argument("--rank", type=int, default=400)
    a = ap.parse_args(argv)
    if a.cmd == "run":
        run(a.n, a.seed, a.out, a.workers, a.time_limit, a.shrink)
    else:
        pack(a.out, a.dest, a.rank)
    return 0


if __name__ == "__main__":
    sys.exit(main())
