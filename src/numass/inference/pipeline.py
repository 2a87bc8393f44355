"""One complete analysis of one model on one data combination: best fit, posterior, profiles at
the oscillation floors, summary.json.

This is what `numass run`, `numass fit` and each comparison job execute. The sampler is chosen
by the backend: nautilus (nested_analysis.py) wherever the theory has a batched path and MPI is
off, else Cobaya's MCMC (mcmc_analysis.py). Both return the summary's fields, written here as
one RunResult (results.py: checked against summary_schema.SCHEMA, then written atomically).
"""
from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import replace
from pathlib import Path

from cobaya import mpi
from threadpoolctl import threadpool_limits

from numass.errors import InputError
from numass.inference import say
from numass.inference.data_record import prepared_folder
from numass.inference.mcmc_analysis import run_mcmc_analysis
from numass.inference.nested_analysis import NestedSettings, importance_first, run_nested_analysis
from numass.inference.overrides import fixed_value
from numass.inference.posterior import batched_backend
from numass.inference.results import RunResult, proposal_widths, weighted_draws
from numass.inference.setup import build_info
from numass.inference.tail import TailSettings
from numass.likelihoods import EMBEDDED
from numass.stats import FLOORS

EMBEDDED_DATASETS = list(EMBEDDED)


# --quick on run/fit: compare --quick's sampler settings (a fast look, not for publication)
QUICK_NESTED = NestedSettings(n_live=200, n_eff=1000)
QUICK_RMINUS1, QUICK_RMINUS1_CL = 0.1, 0.5  # R-1 of the means and of the 95% bounds


def quick_options(quick: bool, sampler: str | None = None) -> dict:
    """run_analysis's sampler settings, --quick's or the full ones (and the record of it in
    summary.json); an explicit ``sampler`` 'nautilus' keeps nautilus (no importance sampling
    first)."""
    nested = replace(QUICK_NESTED if quick else NestedSettings(),
                     importance=importance_first(sampler))
    return {"nested": nested, "record": {"quick": quick},
            "mcmc_options": {"Rminus1_cl_stop": QUICK_RMINUS1_CL} if quick else None}


def choose_sampler(sampler: str | None, backend: str) -> str:
    """'nautilus' where the backend has a batched path and MPI is not in use, else 'mcmc';
    an explicit choice is kept (nautilus on an unbatched backend is an InputError)."""
    if sampler not in (None, "auto", "mcmc", "nautilus"):
        raise InputError(f"unknown sampler '{sampler}'; use nautilus or mcmc")
    if sampler == "nautilus" and not batched_backend(backend):
        raise InputError(f"backend '{backend}' has no batched path: use --sampler mcmc")
    if sampler in ("mcmc", "nautilus"):
        return sampler
    return "nautilus" if batched_backend(backend) and mpi.size() <= 1 else "mcmc"


def output_lock(out: str | Path):
    """One writer per output folder (fileio.FolderLock), taken by MPI rank 0 only: the ranks of
    one `mpirun` share the folder, each writing its own chain."""
    from numass.fileio import FolderLock

    return FolderLock(out) if mpi.is_main_process() else contextlib.nullcontext()


def single_threaded_blas(func):
    """Run ``func`` with BLAS single-threaded: a chain evaluates one point at a time, and
    multi-threaded BLAS on its small matrices (plik_lite's covariance, the emulator's linear
    maps) costs more than it saves (measured: 13 ms vs 7 ms per full-likelihood point on 2
    loaded cores). OpenMP (CAMB) keeps its threads."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with threadpool_limits(1, user_api="blas"):
            return func(*args, **kwargs)
    return wrapper


@single_threaded_blas
def run_analysis(model: str = "lcdm", datasets: list[str] | None = None,
                 out: str | Path = "numass-out", backend: str | None = None,
                 data_dir: str | Path | None = None, resume: bool = True,
                 rminus1: float = 0.01, max_samples: int = 200000, seed: int | None = None,
                 progress=print, plot=None, fixed: dict | None = None,
                 likelihood_options: dict | None = None, param_overrides: dict | None = None,
                 mass_param: str = "mnu_eff", mcmc_options: dict | None = None,
                 sampler: str | None = "mcmc", nested: NestedSettings | None = None,
                 tail: TailSettings | None = None, convergence=None,
                 record: dict | None = None) -> dict:
    """Run the analysis and write ``out/summary.json`` (summary_schema.SCHEMA) and the chains.

    ``plot(samples, path, params) -> path`` draws the triangle plot (numass.report.plots
    .triangle_plot; None: no plot). ``fixed``, ``likelihood_options`` and ``param_overrides`` go
    to ``build_info`` unchanged (fixed backend inputs; per-likelihood options such as a tau
    prior's mean and width; a parameter fixed or given another prior). ``mass_param`` is the
    neutrino-mass parameter whose posterior, tension and profiles are summarised (``mnu_eff``; a
    model may sample another name). ``sampler``: 'mcmc' (Cobaya; ``mcmc_options`` are extra
    Cobaya ``mcmc`` settings, ``convergence(rminus1, rminus1_bounds, n_accepted)`` is called at
    each convergence check), 'nautilus' (nested sampling on batches, with ``nested``'s settings
    and, with ``tail``, the unresolved tails by the evidence ratio) or None / 'auto' (nautilus
    where the backend is batched and MPI is off). ``record``: extra fields for summary.json
    (the CLI's {'quick': True})."""
    t0 = time.time()
    datasets = datasets or EMBEDDED_DATASETS
    out = prepared_folder(out, datasets, data_dir, resume)
    info = build_info(model, datasets, backend=backend, data_dir=data_dir, fixed=fixed,
                      likelihood_options=likelihood_options, param_overrides=param_overrides)
    names = list(proposal_widths(info))
    if mass_param not in names and fixed_value(info["params"].get(mass_param)) is None:
        raise InputError(f"model {model} has no sampled {mass_param} parameter")
    say(progress, f"[numass] model {model} on {', '.join(datasets)} "
                  f"(backend {info['theory']['numass']['backend']}); sampling {', '.join(names)}")
    if choose_sampler(sampler, info["theory"]["numass"]["backend"]) == "nautilus":
        summary = run_nested_analysis(info, model, datasets, out, t0, resume, seed, progress,
                                      plot, mass_param, data_dir=data_dir, settings=nested,
                                      tail=tail)
    else:
        summary = run_mcmc_analysis(info, model, datasets, out, t0, resume, seed, progress,
                                    plot, mass_param, rminus1, max_samples, convergence,
                                    mcmc_options)
        if not summary:  # an MPI rank other than 0: rank 0 writes
            return {}
    summary.update({"param_overrides": param_overrides} if param_overrides else {},
                   **(record or {}))
    result = RunResult.from_dict(summary)
    result.to_json(out / "summary.json")  # checked, atomic; last: its presence means finished
    return result.to_dict()


def format_nested_line(s: dict) -> str:
    k = (f", Pareto k {s['importance']['pareto_k']:.2f}" if s["sampler"] == "importance"
         else "")
    return (f"  {s['sampler']}: n_eff = {s['n_eff']:.0f}{k}, ln Z = {s['ln_evidence']:.2f} ± "
            f"{s['ln_evidence_err']:.2f}, {s['n_samples']} samples, {s['wall_seconds']:.0f} s")


def format_summary(s: dict) -> str:
    m = s["mnu_eff"]
    t, tp = s["tension_sigma"], s["tension_sigma_profile"]
    head = f"numass: {s['model']} on {', '.join(s['datasets'])}"
    end = (format_nested_line(s) if weighted_draws(s.get("sampler")) else
           f"  R-1 = {s['rminus1']:.4f}, {s['n_samples']} samples, {s['wall_seconds']:.0f} s")
    if not t:  # the mass was fixed (--fix): nothing to measure
        return "\n".join([head, (f"  Sigma m_nu,eff fixed at {m['mean']:+.3f} eV; best fit "
                                f"chi2 = {s['bestfit']['chi2']:.2f}"), end])
    lines = [
        head,
        (f"  Sigma m_nu,eff = {m['mean']:+.3f} ± {m['std']:.3f} eV (mean ± std); "
        f"68%: [{m['lower68']:+.3f}, {m['upper68']:+.3f}]; 95% upper: {m['upper95']:+.3f} eV"),
        f"  best fit: Sigma m_nu,eff = {s['bestfit']['mnu_eff']:+.3f} eV, chi2 = {s['bestfit']['chi2']:.2f}",
        *(f"  tension with the {name.replace('_', '-')} floor ({floor} eV): "
          f"{_bayes_text(s, name)} (Bayesian), {tp[name]:.2f} sigma (profile)"
          for name, floor in FLOORS.items()),
        end,
    ]
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
