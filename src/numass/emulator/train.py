"""Fit the emulator to CAMB training packs (generate.py) and write weights.npz.

    python -m numass.emulator.train --packs .emu/s101/s101 .emu/s102/s102 .emu/s103/s103
                                    [--out weights.npz] [--degree 4] [--components 48]
                                    [--ridge 1e-6] [--holdout 400]

Per spectrum (TT, TE, EE, pp): PCA of the tolerance-whitened targets (targets.py) over the
training points, K components; then one ridge-regularised least-squares fit of all K coefficients
(and of ln sigma8 and H0/100) on the monomials of the box-scaled parameters up to --degree.
Training points outside the box (emulator.design.in_box) are dropped. ``--holdout`` points, drawn
with a fixed seed, are left out of the fit and their errors are printed and stored in ``meta``.
Deterministic: the same packs give the same weights.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from numass.emulator import design, network, targets
from numass.emulator.generate import unpack


def load_training(prefixes: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Design rows and targets (spectra whitened by the tolerance; derived) of all packs."""
    xs: list[np.ndarray] = []
    ys: dict[str, list[np.ndarray]] = {k: [] for k in (*targets.SPECTRA, "derived")}
    for pre in prefixes:
        d = unpack(pre)
        t = targets.to_targets(*(d[k] for k in targets.SPECTRA))
        xs.append(d["x"])
        for k in targets.SPECTRA:
            ys[k].append(t[k] / targets.tolerance(k))
        ys["derived"].append(np.column_stack([np.log(d["sigma8"]), d["H0"] / 100.0]))
    return np.vstack(xs), {k: np.vstack(v) for k, v in ys.items()}


def max_errors(pred: dict, truth: dict) -> dict[str, np.ndarray]:
    """Per point, the largest error in tolerance units: TT, TE, EE over 30 <= ell <= 2508 and
    over 2 <= ell <= 2508 ('_all'), pp over 8 <= L <= 1250."""
    ell = targets.ELL
    hi, lo30, pp = ell <= 2508, (ell >= 30) & (ell <= 2508), (ell >= 8) & (ell <= 1250)
    out = {}
    for k in ("tt", "te", "ee"):
        e = np.abs(pred[k] - truth[k])
        out[k], out[k + "_all"] = e[:, lo30].max(1), e[:, hi].max(1)
    out["pp"] = np.abs(pred["pp"] - truth["pp"])[:, pp].max(1)
    return out


def pca_basis(y: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, top principal directions as rows) of the rows of y, from the eigenvectors of the
    smaller of the Gram and covariance matrices (an SVD of the full matrix is much slower with
    threaded BLAS on a busy machine)."""
    mean = y.mean(axis=0)
    yc = y - mean
    if len(yc) <= yc.shape[1]:
        w, u = np.linalg.eigh(yc @ yc.T)
        top = np.argsort(w)[::-1][:n_components]
        basis = (u[:, top].T @ yc) / np.sqrt(np.maximum(w[top], 1e-300))[:, None]
    else:
        w, v = np.linalg.eigh(yc.T @ yc)
        basis = v[:, np.argsort(w)[::-1][:n_components]].T
    return mean, basis


def fit(x: np.ndarray, y: dict, degree: int, n_components: int, ridge: float) -> dict:
    """The weights arrays for training rows x and targets y."""
    u = 2.0 * (x - design.LOW) / (design.HIGH - design.LOW) - 1.0
    F = network.features(u, degree)
    arrays: dict[str, np.ndarray | int] = {}  # the weights file's arrays and its sizes
    columns = []
    for k in targets.SPECTRA:
        mean, basis = pca_basis(y[k], n_components)
        columns.append((y[k] - mean) @ basis.T)
        arrays.update({f"{k}.mean": mean.astype(np.float32), f"{k}.basis": basis.astype(np.float32),
                       f"{k}.tol": targets.tolerance(k)})
    columns.append(y["derived"])
    Y = np.hstack(columns)
    A = F.T @ F
    W = np.linalg.solve(A + ridge * np.trace(A) / len(A) * np.eye(len(A)), F.T @ Y)
    arrays.update({"W": W, "degree": degree, "n_components": n_components,
                   "params": np.array(design.PARAMS), "low": design.LOW, "high": design.HIGH})
    return arrays


def train(prefixes: list[str], out: Path, degree: int = 4, n_components: int = 48,
          ridge: float = 1e-9, holdout: int = 400, seed: int = 0) -> dict:
    t0 = time.time()
    x, y = load_training(prefixes)
    keep = design.in_box(x)
    x, y = x[keep], {k: v[keep] for k, v in y.items()}
    order = np.random.default_rng(seed).permutation(len(x))
    ho, tr = order[:holdout], order[holdout:]
    arrays = fit(x[tr], {k: v[tr] for k, v in y.items()}, degree, n_components, ridge)
    meta: dict[str, Any] = {"packs": [str(p) for p in prefixes], "n_train": len(tr),
                            "n_holdout": len(ho), "holdout_seed": seed, "degree": degree,
                            "n_components": n_components, "ridge": ridge}
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, meta=json.dumps(meta), **arrays)
    if holdout:
        emu = network.Emulator(tmp)
        u_pred = emu.outputs(x[ho])
        pred = {}
        for i, k in enumerate(targets.SPECTRA):
            mean, basis, _ = emu.pca[k]
            pred[k] = u_pred[:, i * emu.K:(i + 1) * emu.K] @ basis + mean
        errs = max_errors(pred, {k: y[k][ho] for k in targets.SPECTRA})
        d = u_pred[:, -2:] - y["derived"][ho]
        meta["holdout"] = {k: {"median": float(np.median(v)), "p99": float(np.percentile(v, 99)),
                               "pass_fraction": float(np.mean(v < 1))} for k, v in errs.items()}
        meta["holdout"]["sigma8_rel_max"] = float(np.abs(np.expm1(d[:, 0])).max())
        meta["holdout"]["H0_rel_max"] = float(np.abs(d[:, 1] / y["derived"][ho, 1]).max())
        np.savez_compressed(tmp, meta=json.dumps(meta), **arrays)
        for k, v in meta["holdout"].items():
            print(f"  held out ({len(ho)} points, whole box) {k}: {v}", flush=True)
    tmp.replace(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) from {len(tr)} training points in "
          f"{time.time() - t0:.0f} s", flush=True)
    return meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m numass.emulator.train")
    ap.add_argument("--packs", nargs="+", required=True)
    ap.add_argument("--out", type=Path, default=network.DEFAULT_WEIGHTS)
    ap.add_argument("--degree", type=int, default=4)
    ap.add_argument("--components", type=int, default=48)
    ap.add_argument("--ridge", type=float, default=1e-9)
    ap.add_argument("--holdout", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    train(a.packs, a.out, a.degree, a.components, a.ridge, a.holdout, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
