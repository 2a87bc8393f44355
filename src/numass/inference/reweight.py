"""The emulator's posterior against CAMB's: importance reweighting of a thinned emulator chain.

Each kept sample i of an emulator chain gets the weight w_i exp(ln L_CAMB - ln L_emu) (the same
Cobaya model with backend 'camb' instead of 'emulator'); means and standard deviations of every
sampled parameter under both weightings are compared in units of the emulator posterior's sigma
(target: |shift of the mean| < 0.1 sigma, sigma within 5%), with the effective sample size
ESS = (sum w)^2 / sum w^2 of the reweighted set.

    numass emulator reweight --chains DIR [--n 300]   (DIR: an `numass run --backend emulator` output)
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from numass.inference.results import load_chains, read_summary
from numass.inference.setup import build_info
from numass.stats import kish_ess


def reweight(run_dir: str | Path, n: int = 300, seed: int = 0, progress=print,
             model: str | None = None, datasets: list[str] | None = None) -> dict:
    """`numass emulator reweight`: an emulator run's chains reweighted with CAMB, one point
    after the other in this process."""
    from cobaya.model import get_model
    run_dir = Path(run_dir)
    if model is None or datasets is None:  # from the finished run's summary
        summary = read_summary(run_dir / "summary.json")
        model, datasets = model or summary["model"], datasets or summary["datasets"]
    exact_model = get_model(build_info(model, datasets, backend="camb"))

    def exact(names, xs):
        return [float(exact_model.logpost(dict(zip(names, row)))) for row in xs]

    return reweight_samples(run_dir, build_info(model, datasets, backend="emulator"), n=n,
                            seed=seed, exact=exact, progress=progress)


def thin(samples, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, draw counts): ``n`` draws with probability ~ weight; distinct rows keep
    their draw counts as weights."""
    rng = np.random.default_rng(seed)
    w_all = samples.weights / samples.weights.sum()
    return np.unique(rng.choice(len(w_all), size=n, replace=True, p=w_all), return_counts=True)


def reweight_samples(run_dir: str | Path, approx_info: dict, n: int, seed: int, exact,
                     ignore_rows: float | None = None, progress=print) -> dict:
    """The chains in ``run_dir`` (made with ``approx_info``'s backend) thinned to ``n`` draws and
    reweighted by exp(ln P_exact - ln P_approx); ``exact(names, rows) -> [ln P]`` evaluates the
    exact posterior (in parallel if it likes). ``ignore_rows``: burn-in (None: BURN_IN)."""
    from cobaya.model import get_model
    samples = load_chains(run_dir, **({} if ignore_rows is None else {"ignore_rows": ignore_rows}))
    approx = get_model(approx_info)
    names = list(approx.parameterization.sampled_params())
    keep, counts = thin(samples, n, seed)
    x = samples.samples[keep][:, [samples.index[k] for k in names]]
    t0 = time.time()
    logp_approx = np.array([float(approx.logpost(dict(zip(names, row)))) for row in x])
    progress(f"[numass] {len(x)} distinct samples: the exact posterior at each")
    logp_exact = np.array(exact(names, x), dtype=float)
    return reweight_table(names, x, counts, logp_exact - logp_approx, time.time() - t0)


def reweight_table(names: list[str], x: np.ndarray, counts: np.ndarray, d: np.ndarray,
                   seconds: float) -> dict:
    """Means and sigmas of each parameter under the draw counts and under the counts times
    exp(d) (d = ln P_exact - ln P_approx per row), the shift in sigma, and the ESS."""
    ok = np.isfinite(d)
    wr = np.zeros(len(d))
    if ok.any():
        wr[ok] = counts[ok] * np.exp(d[ok] - d[ok].max())
    ess = kish_ess(wr) if ok.any() else 0.0
    rows = {}
    for j, k in enumerate(names):
        m0 = np.average(x[:, j], weights=counts)
        s0 = math.sqrt(np.average((x[:, j] - m0) ** 2, weights=counts))
        if not ok.any():
            continue
        m1 = np.average(x[:, j], weights=wr)
        s1 = math.sqrt(np.average((x[:, j] - m1) ** 2, weights=wr))
        rows[k] = {"mean_emulator": m0, "mean_camb": m1, "sigma_emulator": s0, "sigma_camb": s1,
                   "shift_in_sigma": (m1 - m0) / s0 if s0 > 0 else 0.0,
                   "sigma_ratio": s1 / s0 if s0 > 0 else 1.0}
    return {"n": int(counts.sum()), "n_distinct": len(x), "ess": ess,
            "n_nonfinite": int((~ok).sum()),
            "delta_logpost": {"mean": float(np.mean(d[ok])) if ok.any() else None,
                              "std": float(np.std(d[ok])) if ok.any() else None},
            "params": rows, "seconds": round(seconds, 1)}


def format_table(r: dict) -> str:
    lines = [(f"importance reweighting of {r['n']} emulator-chain samples with CAMB: ESS = "
             f"{r['ess']:.0f}; ln L_CAMB - ln L_emu = {r['delta_logpost']['mean']:+.3f} +- "
             f"{r['delta_logpost']['std']:.3f}"),
             (f"{'parameter':<14}{'mean emu':>12}{'mean CAMB':>12}{'shift/sigma':>12}"
             f"{'sigma ratio':>12}")]
    for k, v in r["params"].items():
        lines.append(f"{k:<14}{v['mean_emulator']:>12.5g}{v['mean_camb']:>12.5g}"
                     f"{v['shift_in_sigma']:>12.3f}{v['sigma_ratio']:>12.3f}")
    return "\n".join(lines)
