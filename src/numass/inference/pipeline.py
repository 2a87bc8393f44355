"""One complete analysis of one model on one data combination: best fit, MCMC, profile, summary.

This is what `numass run` (and later `numass fit`/`compare`) executes. Order matters for speed:
a best fit first, then a Hessian proposal covariance from it, so that the chain starts in the
right place with the right shape and reaches R-1 < 0.01 quickly.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from numass.analysis.tension import FLOORS, summarize_1d, tension_fields
from numass.errors import InputError, NumassError
from numass.inference.optimize import best_fit, hessian_covmat
from numass.inference.setup import build_info

log = logging.getLogger("numass")

EMBEDDED_DATASETS = ["desi-dr2-bao", "cmb-compressed"]
CHAIN_NAME = "chains/numass"


def _widths(info: dict) -> dict:
    return {n: v["proposal"] for n, v in info["params"].items()
            if isinstance(v, dict) and "proposal" in v}


def _refs(info: dict) -> dict:
    return {n: v["ref"]["loc"] for n, v in info["params"].items()
            if isinstance(v, dict) and "ref" in v}


def _say(progress, msg: str) -> None:
    if progress:
        progress(msg)


def profile_at(info: dict, param: str, value: float, start: dict, widths: dict) -> dict:
    """Best fit with ``param`` fixed at ``value``."""
    from cobaya.model import get_model

    fixed_info = {**info, "params": {**info["params"], param: value}}
    model = get_model(fixed_info)
    start = {k: v for k, v in start.items() if k in model.parameterization.sampled_params()}
    return best_fit(model, [start], widths)


def _write_covmat(path: Path, names: list[str], cov) -> None:
    path.write_text("# " + " ".join(names) + "\n"
                    + "\n".join(" ".join(f"{c:.10e}" for c in row) for row in cov) + "\n")


def single_threaded_blas(func):
    """Run ``func`` with BLAS single-threaded: a chain evaluates one point at a time, and
    multi-threaded BLAS on its small matrices (plik_lite's covariance, the emulator's linear
    maps) costs more than it saves (measured: 13 ms vs 7 ms per full-likelihood point on 2
    loaded cores). OpenMP (CAMB) keeps its threads."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            return func(*args, **kwargs)
    return wrapper


@single_threaded_blas
def run_analysis(model: str = "lcdm", datasets: list[str] | None = None,
                 out: str | Path = "numass-out", backend: str | None = None,
                 data_dir: str | Path | None = None, resume: bool = True,
                 rminus1: float = 0.01, max_samples: int = 200000, seed: int | None = None,
                 progress=print, plots: bool = True, fixed: dict | None = None,
                 likelihood_options: dict | None = None, param_overrides: dict | None = None,
                 mass_param: str = "mnu_eff", mcmc_options: dict | None = None,
                 sampler: str | None = "mcmc", nested_options: dict | None = None) -> dict:
    """Run the analysis and write ``out/summary.json``, the chains and a triangle plot.

    ``fixed``, ``likelihood_options`` and ``param_overrides`` go to ``build_info`` unchanged
    (fixed backend inputs; per-likelihood options such as a tau prior's mean and width; a
    parameter fixed or given another prior). ``mass_param`` is the neutrino-mass parameter whose
    posterior, tension and profiles are summarised (``mnu_eff``; a model may sample another
    name). ``mcmc_options`` are extra Cobaya ``mcmc`` settings (e.g. ``Rminus1_cl_stop``).
    ``sampler``: 'mcmc' (Cobaya), 'nautilus' (nested sampling on batches, nested_pipeline.py;
    ``nested_options`` go to nested.run_nautilus) or None / 'auto' (nautilus where the backend
    is batched and MPI is not in use).
    """
    import cobaya
    from cobaya import mpi
    from cobaya.log import LoggedError
    from cobaya.model import get_model

    t0 = time.time()
    datasets = datasets or EMBEDDED_DATASETS
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = build_info(model, datasets, backend=backend, data_dir=data_dir, fixed=fixed,
                      likelihood_options=likelihood_options, param_overrides=param_overrides)
    widths, refs = _widths(info), _refs(info)
    names = [n for n in info["params"] if n in widths]

    _say(progress, f"[numass] model {model} on {', '.join(datasets)} "
                   f"(backend {info['theory']['numass']['backend']}); sampling {', '.join(names)}")
    from numass.inference.nested_pipeline import choose_sampler, run_nested_analysis

    if choose_sampler(sampler, info["theory"]["numass"]["backend"]) == "nautilus":
        return run_nested_analysis(info, model, datasets, out, t0, resume, seed, progress, plots,
                                   mass_param, data_dir=data_dir, nested_options=nested_options)
    cmodel = get_model(info)
    covmat_file = out / "proposal.covmat"
    bf = None
    if not (resume and covmat_file.exists()) and mpi.is_main_process():
        _say(progress, "[numass] 1/4 best fit (to start the chain and shape its proposal)")
        bf = best_fit(cmodel, [refs], widths)
        # finite differences over a fraction of the proposal widths; strongly degenerate
        # posteriors (w0wa on background data) need the smaller steps to stay positive definite
        for rel_step in (0.5, 0.1, 0.03):
            cov = hessian_covmat(cmodel, bf, widths, rel_step=rel_step)
            if cov is not None:
                break
        if cov is None:
            cov = np.diag([widths[n] ** 2 for n in names])
        _write_covmat(covmat_file, names, cov)
    mpi.sync_processes()  # under MPI every chain waits for the proposal written by rank 0
    _say(progress, f"[numass] 2/4 MCMC to R-1 < {rminus1} (Cobaya; progress below; chains in "
                   f"{out / 'chains'})")
    info["sampler"] = {"mcmc": {"Rminus1_stop": rminus1, "Rminus1_cl_stop": 0.05,
                                "covmat": str(covmat_file), "max_samples": max_samples,
                                "learn_every": "20d", "output_every": "5s", "max_tries": "1000d",
                                **({"seed": seed} if seed is not None else {}),
                                **(mcmc_options or {})}}
    info["output"] = str(out / CHAIN_NAME)
    info["resume"] = resume
    info["force"] = not resume  # --restart: overwrite the earlier chains
    try:
        updated_info, sampler = cobaya.run(info)
    except LoggedError as exc:
        if "not compatible" in str(exc):
            raise InputError(f"the chains in {out / 'chains'} were made with other settings "
                             f"(model, data or sampler); use --restart to overwrite them, or "
                             f"another --out folder") from None
        raise NumassError(f"Cobaya stopped: {exc}") from None
    products = sampler.products(skip_samples=0.3, to_getdist=True)  # all chains, on rank 0
    if not mpi.is_main_process():
        return {}
    samples = products["sample"]
    rminus1_reached = float(getattr(sampler, "Rminus1_last", math.nan))

    _say(progress, "[numass] 3/4 best fit refined from the chain's best points, and profiles at "
                   "the oscillation floors")
    loglikes = -samples.loglikes
    top = np.argsort(-loglikes)[:2]
    starts = [dict(zip(names, samples.samples[i, [samples.index[n] for n in names]])) for i in top]
    if bf is not None:
        starts.append({n: bf[n] for n in names})
    bf = best_fit(cmodel, starts, widths)
    w = samples.weights
    mnu = samples.samples[:, samples.index[mass_param]] if mass_param in samples.index else None
    if mnu is None:
        raise InputError(f"model {model} has no sampled {mass_param} parameter")
    profiles = {}
    for label, floor in FLOORS.items():
        prof = profile_at(info, mass_param, floor, bf, widths)
        profiles[label] = {mass_param: floor, "chi2": prof["chi2"]}

    _say(progress, "[numass] 4/4 summary and plots")
    summary = {
        "model": model,
        "datasets": datasets,
        "backend": info["theory"]["numass"]["backend"],
        "mnu_eff": summarize_1d(mnu, w),
        **({"mass_param": mass_param} if mass_param != "mnu_eff" else {}),
        "params": {n: summarize_1d(samples.samples[:, samples.index[n]], w)
                   for n in samples.index if n != mass_param and not n.startswith("chi2")
                   and not n.startswith("minuslogprior")},
        "bestfit": {k: v for k, v in bf.items() if k != "logpost"},
        **tension_fields(mnu, w, bf["chi2"], bf[mass_param],
                         {k: p["chi2"] for k, p in profiles.items()}),
        "profiles": profiles,
        "floors_eV": FLOORS,
        "rminus1": rminus1_reached,
        "converged": bool(rminus1_reached < rminus1) if math.isfinite(rminus1_reached) else False,
        "n_samples": int(samples.numrows),
        "n_theory_failures": int(getattr(cmodel.theory["numass"], "n_failures", 0)),
        "wall_seconds": round(time.time() - t0, 1),
        "chains": str(out / CHAIN_NAME),
    }
    if plots:
        from numass.report.plots import triangle_plot

        summary["triangle_plot"] = str(triangle_plot(samples, out / "triangle.png",
                                                     params=[mass_param, *[n for n in names if n != mass_param]]))
    summary["wall_seconds"] = round(time.time() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def format_summary(s: dict) -> str:
    m = s["mnu_eff"]
    tp = s["tension_sigma_profile"]
    lines = [
        f"numass: {s['model']} on {', '.join(s['datasets'])}",
        f"  Sigma m_nu,eff = {m['mean']:+.3f} ± {m['std']:.3f} eV (mean ± std); "
        f"68%: [{m['lower68']:+.3f}, {m['upper68']:+.3f}]; 95% upper: {m['upper95']:+.3f} eV",
        f"  best fit: Sigma m_nu,eff = {s['bestfit']['mnu_eff']:+.3f} eV, chi2 = {s['bestfit']['chi2']:.2f}",
        *(f"  tension with the {name.replace('_', '-')} floor ({floor} eV): "
          f"{_bayes_text(s, name)} (Bayesian), {tp[name]:.2f} sigma (profile)"
          for name, floor in FLOORS.items()),
    ]
    if s.get("sampler") == "nautilus":
        from numass.inference.nested_pipeline import format_nested_line

        lines.append(format_nested_line(s))
    else:
        lines.append(f"  R-1 = {s['rminus1']:.4f}, {s['n_samples']} samples, "
                     f"{s['wall_seconds']:.0f} s")
    return "\n".join(lines)


def _bayes_text(s: dict, floor: str) -> str:
    """The Bayesian figure, marked when extrapolated (with the bound the samples support)."""
    sigma = s["tension_sigma"][floor]
    detail = s.get("tension_bayes", {}).get(floor)
    if detail and detail.get("extrapolated"):
        return (f"~{sigma:.2f} sigma, extrapolated ({detail['method']} fit: "
                f"{detail['ess_above']:.1f} effective samples above the floor; the samples alone "
                f"give >= {detail['sigma_bound']:.2f} sigma at 95%)")
    return f"{sigma:.2f} sigma"
