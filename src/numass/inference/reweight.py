"""The emulator's posterior against CAMB's: importance reweighting of a thinned emulator chain.

Each kept sample i of an emulator chain gets the weight w_i exp(ln L_CAMB - ln L_emu) (the same
Cobaya model with backend 'camb' instead of 'emulator'); means and standard deviations of every
sampled parameter under both weightings are compared in units of the emulator posterior's sigma
(target: |shift of the mean| < 0.1 sigma, sigma within 5%), with the effective sample size
ESS = (sum w)^2 / sum w^2 of the reweighted set.

    numass emulator reweight --chains DIR [--n 300]   (DIR: an `numass run --backend emulator` output)
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from numass.inference.results import load_chains
from numass.inference.setup import build_info


def reweight(run_dir: str | Path, n: int = 300, seed: int = 0, progress=print,
             model: str | None = None, datasets: list[str] | None = None) -> dict:
    from cobaya.model import get_model
    run_dir = Path(run_dir)
    if model is None or datasets is None:  # from the finished run's summary
        summary = json.loads((run_dir / "summary.json").read_text())
        model, datasets = model or summary["model"], datasets or summary["datasets"]
    samples = load_chains(run_dir)
    infos = {b: build_info(model, datasets, backend=b)
             for b in ("emulator", "camb")}
    names = [k for k, v in infos["camb"]["params"].items()
             if isinstance(v, dict) and "prior" in v]
    idx = [samples.index[k] for k in names]
    rng = np.random.default_rng(seed)
    w_all = samples.weights / samples.weights.sum()
    # thin: n draws with probability ~ weight; distinct rows keep their draw counts as weights
    keep, counts = np.unique(rng.choice(len(w_all), size=n, replace=True, p=w_all),
                             return_counts=True)
    x = samples.samples[keep][:, idx]
    logl = {}
    t0 = time.time()
    for b, info in infos.items():
        model = get_model(info)
        vals = []
        for j, row in enumerate(x):
            lp = model.logpost(dict(zip(names, row)))
            vals.append(float(lp))
            if b == "camb" and (j + 1) % 25 == 0:
                progress(f"[numass] CAMB at {j + 1}/{len(x)} samples ({time.time() - t0:.0f} s)")
        logl[b] = np.array(vals)
    d = logl["camb"] - logl["emulator"]
    ok = np.isfinite(d)
    wr = np.zeros(len(d))
    wr[ok] = counts[ok] * np.exp(d[ok] - d[ok].max())
    ess = float(wr.sum() ** 2 / np.sum(wr**2))
    rows = {}
    for j, k in enumerate(names):
        m0 = np.average(x[:, j], weights=counts)
        s0 = math.sqrt(np.average((x[:, j] - m0) ** 2, weights=counts))
        m1 = np.average(x[:, j], weights=wr)
        s1 = math.sqrt(np.average((x[:, j] - m1) ** 2, weights=wr))
        rows[k] = {"mean_emulator": m0, "mean_camb": m1, "sigma_emulator": s0, "sigma_camb": s1,
                   "shift_in_sigma": (m1 - m0) / s0, "sigma_ratio": s1 / s0}
    return {"n": int(counts.sum()), "n_distinct": int(len(x)), "ess": ess, "n_nonfinite": int((~ok).sum()),
            "delta_logpost": {"mean": float(np.mean(d[ok])), "std": float(np.std(d[ok]))},
            "params": rows, "seconds": round(time.time() - t0, 1)}


def format_table(r: dict) -> str:
    lines = [f"importance reweighting of {r['n']} emulator-chain samples with CAMB: ESS = "
             f"{r['ess']:.0f}; ln L_CAMB - ln L_emu = {r['delta_logpost']['mean']:+.3f} +- "
             f"{r['delta_logpost']['std']:.3f}",
             f"{'parameter':<14}{'mean emu':>12}{'mean CAMB':>12}{'shift/sigma':>12}"
             f"{'sigma ratio':>12}"]
    for k, v in r["params"].items():
        lines.append(f"{k:<14}{v['mean_emulator']:>12.5g}{v['mean_camb']:>12.5g}"
                     f"{v['shift_in_sigma']:>12.3f}{v['sigma_ratio']:>12.3f}")
    return "\n".join(lines)
