"""Profile likelihoods: `numass profile --model M --param P`.

At each value of P the other sampled parameters are minimised: on a batched backend every value
together (bestfit.newton_profile); else value by value by restarted Nelder-Mead on the Cobaya
model (bestfit.nelder_mead_fit). The values are visited outwards from the global best fit, and each
minimisation starts from its neighbour's best fit (and from the global best fit; the better
result is kept), so a profile follows its valley instead of restarting from scratch.
Output: chi2(P), Delta chi2 = chi2(P) - chi2_min, the 68%/95% intervals where Delta chi2 crosses
1 and 3.84 (linear interpolation between grid points), a JSON and a PNG.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from numass.errors import InputError
from numass.fileio import atomic_write_json
from numass.inference.bestfit import nelder_mead_fit, newton_fit, newton_profile, proposal_covmat
from numass.inference.pipeline import choose_sampler
from numass.inference.posterior import BatchPosterior, CobayaPosterior
from numass.inference.results import proposal_refs, proposal_widths
from numass.inference.setup import build_info
from numass.stats import FLOORS


def parse_values(values: str | None, range_: str | None) -> list[float] | None:
    """'--values a,b,c' or '--range lo,hi,n' -> sorted list; None when neither is given."""
    if values and range_:
        raise InputError("give --values or --range, not both")
    try:
        if values:
            out = sorted({float(v) for v in values.split(",") if v.strip()})
            if not out:
                raise ValueError
            return out
        if range_:
            lo, hi, count = range_.split(",")
            n = int(count)
            if n < 2 or float(hi) <= float(lo):
                raise ValueError
            return [float(v) for v in np.linspace(float(lo), float(hi), n)]
    except ValueError:
        raise InputError("--values wants numbers 'a,b,c'; --range wants 'lo,hi,n' with lo < hi "
                         "and n >= 2") from None
    return None


def _crossings(x: np.ndarray, d: np.ndarray, level: float) -> list[float | None]:
    """Lower and upper values where the profile crosses ``level`` (None: not within the grid)."""
    i0 = int(np.argmin(d))
    lo = hi = None
    for i in range(i0, 0, -1):
        if d[i - 1] >= level > d[i] or d[i - 1] > level >= d[i]:
            lo = float(np.interp(level, [d[i], d[i - 1]], [x[i], x[i - 1]]))
            break
    for i in range(i0, len(x) - 1):
        if d[i + 1] >= level > d[i] or d[i + 1] > level >= d[i]:
            hi = float(np.interp(level, [d[i], d[i + 1]], [x[i], x[i + 1]]))
            break
    return [lo, hi]


def _default_values(post, bf: dict, widths: dict, param: str, n: int) -> list[float]:
    """``n`` values over best fit ± 3 sigma (Hessian; 5 proposal widths without one)."""
    cov = proposal_covmat(post, bf, widths)
    names = post.names
    sd = math.sqrt(cov[names.index(param), names.index(param)]) if cov is not None \
        else 5 * widths[param]
    return list(np.linspace(bf[param] - 3 * sd, bf[param] + 3 * sd, n))


def _visit_order(values: list[float], centre: float) -> list[int]:
    """Indices outwards from the value nearest ``centre``, alternating up and down."""
    i0 = int(np.argmin([abs(v - centre) for v in values]))
    order = [i0] + [i for pair in zip(range(i0 + 1, len(values)), range(i0 - 1, -1, -1))
                    for i in pair]
    return order + [i for i in range(len(values)) if i not in order]


def _profile_points(info, param, values, bf, widths, progress) -> dict[int, dict]:
    """{index: {value, chi2, point}}: the best fit at each value, started from its neighbour's."""
    others_w = {k: v for k, v in widths.items() if k != param}
    results: dict[int, dict] = {}
    for n_done, i in enumerate(_visit_order(values, bf[param]), 1):
        v = values[i]
        m = CobayaPosterior.from_info({**info, "params": {**info["params"], param: float(v)}})
        sampled = m.names
        starts = [{k: bf[k] for k in sampled}]
        for j in (i - 1, i + 1):
            if j in results:
                starts.insert(0, {k: results[j]["point"][k] for k in sampled})
        res = nelder_mead_fit(m, starts, others_w)
        results[i] = {"value": float(v), "chi2": res["chi2"],
                      "point": {k: res[k] for k in sampled}}
        progress(f"[numass] {n_done}/{len(values)}: {param} = {v:.5g}: chi2 = {res['chi2']:.3f}")
    return results


def _profile_summary(model, param, datasets, info, bf, values, results, t0) -> dict:
    x = np.array(values)
    chi2 = np.array([results[i]["chi2"] for i in range(len(values))])
    chi2_min = min(float(chi2.min()), bf["chi2"])
    d = chi2 - chi2_min
    summary = {
        "model": model, "param": param, "datasets": datasets,
        "backend": info["theory"]["numass"]["backend"],
        "bestfit": {k: v for k, v in bf.items() if k != "logpost"},
        "chi2_min": chi2_min,
        "points": [{"value": results[i]["value"], "chi2": results[i]["chi2"],
                    "delta_chi2": float(d[i]), "bestfit": results[i]["point"]}
                   for i in range(len(values))],
        "interval68": _crossings(x, d, 1.0),
        "interval95": _crossings(x, d, 3.84),
        "definitions": {"delta_chi2": "chi2(param fixed) - min(global best fit, grid)",
                        "interval68": "Delta chi2 = 1 crossings (None: outside the grid)",
                        "interval95": "Delta chi2 = 3.84 crossings"},
        "wall_seconds": round(time.time() - t0, 1),
    }
    if param == "mnu_eff":
        summary["delta_chi2_at_floors"] = {
            k: float(np.interp(f, x, d)) if x[0] <= f <= x[-1] else None
            for k, f in FLOORS.items()}
    return summary


def profile_likelihood(model: str, param: str, datasets: list[str],
                       values: list[float] | None = None, out: str | Path = "numass-profile",
                       backend: str | None = None, data_dir=None, n_default: int = 15,
                       progress=print, plot=None, sampler: str | None = "mcmc",
                       param_overrides: dict | None = None) -> dict:
    """Profile of ``param`` in ``model`` on ``datasets``; writes out/profile_<param>.json and,
    with ``plot(summary, path) -> path`` (numass.report.plots.profile_plot), the figure.

    ``sampler`` 'nautilus' (or 'auto' on a batched backend): every value minimised together on
    batches (bestfit.newton_profile); 'mcmc': Cobaya's model, Nelder-Mead value by value.
    ``param_overrides`` (--fix, --prior) go to build_info and into the summary.
    """
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = build_info(model, datasets, backend=backend, data_dir=data_dir,
                      param_overrides=param_overrides)
    widths = proposal_widths(info)
    if param not in widths:
        raise InputError(f"'{param}' is not a sampled parameter of model '{model}' on "
                         f"{', '.join(datasets)}; sampled: {', '.join(widths)}")
    prior = info["params"][param]["prior"]
    lo_p, hi_p = ((prior.get("min", -math.inf), prior.get("max", math.inf))
                  if isinstance(prior, dict) else prior)
    if choose_sampler(sampler, info["theory"]["numass"]["backend"]) == "nautilus":
        bf, values, results = batched_profile_points(info, param, values, (lo_p, hi_p),
                                                     n_default, data_dir, progress)
        return _finish(model, param, datasets, info, bf, values, results, out, plot, t0,
                       param_overrides)
    post = CobayaPosterior.from_info(info)
    progress(f"[numass] profile of {param} in {model} on {', '.join(datasets)}: global best fit")
    bf = nelder_mead_fit(post, [proposal_refs(info)], widths)
    if values is None:
        values = _default_values(post, bf, widths, param, n_default)
    outside = [v for v in values if not lo_p <= v <= hi_p]
    if outside:
        raise InputError(f"{param} values {outside} are outside its prior [{lo_p}, {hi_p}]")
    values = sorted(values)
    results = _profile_points(info, param, values, bf, widths, progress)
    return _finish(model, param, datasets, info, bf, values, results, out, plot, t0,
                   param_overrides)


def batched_profile_points(info: dict, param: str, values, prior_range, n_default: int,
                           data_dir, progress):
    """(best fit, sorted values, {index: {'value', 'chi2', 'point'}}) of a profile, every value
    minimised together (bestfit.newton_profile). Without ``values``: best fit +- 3 sigma (its
    Hessian), ``n_default`` values."""
    post = BatchPosterior(info, data_dir=data_dir, backend_options={})
    widths = proposal_widths(info)
    progress(f"[numass] profile of {param}: global best fit (batched)")
    bf = newton_fit(post, proposal_refs(info), widths)
    if values is None:
        cov = bf.get("covariance")
        sd = math.sqrt(cov[post.names.index(param)][post.names.index(param)]) if cov \
            else 5 * widths[param]
        values = list(np.linspace(bf[param] - 3 * sd, bf[param] + 3 * sd, n_default))
    lo, hi = prior_range
    outside = [v for v in values if not lo <= v <= hi]
    if outside:
        raise InputError(f"{param} values {outside} are outside its prior [{lo}, {hi}]")
    values = sorted(float(v) for v in values)
    progress(f"[numass] profile of {param}: {len(values)} values minimised together")
    fits = newton_profile(post, param, values, bf, widths)
    others = [n for n in post.names if n != param]
    results = {i: {"value": v, "chi2": r["chi2"], "point": {k: r[k] for k in others}}
               for i, (v, r) in enumerate(zip(values, fits))}
    bf = {k: v for k, v in bf.items() if k not in ("covariance", "n_calls")}
    return bf, values, results


def _finish(model, param, datasets, info, bf, values, results, out, plot, t0,
            param_overrides=None) -> dict:
    """Intervals, floors, JSON and plot from the grid's best fits (``results`` by index)."""
    summary = _profile_summary(model, param, datasets, info, bf, values, results, t0)
    if param_overrides:
        summary["param_overrides"] = param_overrides
    stem = out / f"profile_{param}"
    if plot is not None:
        summary["plot"] = str(plot(summary, stem.with_suffix(".png")))
    atomic_write_json(stem.with_suffix(".json"), summary)  # last: never half a file
    return summary


def format_profile(s: dict) -> str:
    lines = [f"numass profile: {s['param']} in {s['model']} on {', '.join(s['datasets'])}",
             (f"  global best fit: {s['param']} = {s['bestfit'][s['param']]:.5g}, "
             f"chi2 = {s['bestfit']['chi2']:.3f}")]
    for p in s["points"]:
        lines.append(f"  {s['param']} = {p['value']:+.5g}   chi2 = {p['chi2']:.3f}   "
                     f"Δchi2 = {p['delta_chi2']:.3f}")
    fmt = (lambda v: "–" if v is None else f"{v:+.4g}")
    lines.append(f"  68% (Δχ² = 1): [{fmt(s['interval68'][0])}, {fmt(s['interval68'][1])}]; "
                 f"95% (Δχ² = 3.84): [{fmt(s['interval95'][0])}, {fmt(s['interval95'][1])}]")
    return "\n".join(lines)
