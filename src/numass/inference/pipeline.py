"""One complete analysis of one model on one data combination: best fit, MCMC, profile, summary.

This is what `numass run` (and later `numass fit`/`compare`) executes. Order matters for speed:
a best fit first, then a Hessian proposal covariance from it, so that the chain starts in the
right place with the right shape and reaches R-1 < 0.01 quickly.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from pathlib import Path

import cobaya
import numpy as np
from cobaya import mpi
from cobaya.log import LoggedError
from cobaya.model import get_model
from threadpoolctl import threadpool_limits

from numass.errors import InputError, NumassError
from numass.inference.nested_pipeline import choose_sampler, format_nested_line, run_nested_analysis
from numass.inference.optimize import best_fit, proposal_covmat
from numass.inference.overrides import fixed_value
from numass.inference.results import (BURN_IN, RMINUS1_BOUNDS_STOP, BestFit, PosteriorSummary,
                                      RunResult, chain_root, proposal_refs, proposal_widths,
                                      write_summary)
from numass.inference.setup import build_info
from numass.likelihoods import EMBEDDED
from numass.stats import FLOORS, TENSION_DEFINITIONS, summarize_1d, tension_fields

log = logging.getLogger("numass")

EMBEDDED_DATASETS = list(EMBEDDED)


# --quick on run/fit: compare --quick's sampler settings (a fast look, not for publication)
QUICK_NESTED = {"n_live": 200, "n_eff": 1000}
QUICK_RMINUS1, QUICK_RMINUS1_CL = 0.1, 0.5  # R-1 of the means and of the 95% bounds


def quick_options(quick: bool) -> dict:
    """run_analysis's sampler settings for --quick (and the record of it in summary.json)."""
    return {"nested_options": QUICK_NESTED if quick else None, "record": {"quick": quick},
            "mcmc_options": {"Rminus1_cl_stop": QUICK_RMINUS1_CL} if quick else None}


def _say(progress, msg: str) -> None:
    if progress:
        progress(msg)


DATA_RECORD = "data_sources.json"  # what the folder's results were computed on


def _source_change(old: dict, new: dict) -> str:
    """'the embedded table -> the files in desi_bao_dr2', or which files changed."""
    def text(src: dict) -> str:
        if src.get("source") == "files":
            return f"the files in {src.get('folder')}"
        return {"embedded": "the embedded table"}.get(src.get("source"), str(src.get("source")))

    if old.get("source") == new.get("source") == "files":
        changed = sorted(f for f in set(old.get("files", {})) | set(new.get("files", {}))
                         if old.get("files", {}).get(f) != new.get("files", {}).get(f))
        return f"{text(new)}: {', '.join(changed) or 'the folder'} changed (sha256)"
    return f"{text(old)} -> {text(new)}"


def prepared_folder(out, datasets: list[str], data_dir, resume: bool) -> Path:
    """The output folder, made, and checked against the data its earlier results were computed
    on (out/data_sources.json: the data set ids and each one's source, the embedded table or the
    files with their sha256): resuming on other data is refused, never mixed."""
    from numass.fileio import atomic_write_json, read_json
    from numass.likelihoods.sources import data_sources

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not mpi.is_main_process():
        return out
    record = {"datasets": sorted(datasets), "sources": data_sources(datasets, data_dir)}
    old = read_json(out / DATA_RECORD)
    if resume and old is not None and old != record:
        what = [f"{i}: {_source_change(old['sources'].get(i, {}), src)}"
                for i, src in record["sources"].items() if old.get("sources", {}).get(i) != src]
        what = what or [f"data sets {', '.join(old.get('datasets', []))} -> {', '.join(datasets)}"]
        raise InputError(f"{out} holds results computed on other data ({'; '.join(what)}); use "
                         f"--restart to discard them, or another --out folder")
    atomic_write_json(out / DATA_RECORD, record)
    return out


def profile_at(info: dict, param: str, value: float, start: dict, widths: dict) -> dict:
    """Best fit with ``param`` fixed at ``value``."""
    fixed_info = {**info, "params": {**info["params"], param: value}}
    model = get_model(fixed_info)
    start = {k: v for k, v in start.items() if k in model.parameterization.sampled_params()}
    return best_fit(model, [start], widths)


def output_lock(out: str | Path):
    """One writer per output folder (fileio.FolderLock), taken by MPI rank 0 only: the ranks of
    one `mpirun` share the folder, each writing its own chain."""
    from numass.fileio import FolderLock

    return FolderLock(out) if mpi.is_main_process() else contextlib.nullcontext()


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
        with threadpool_limits(1, user_api="blas"):
            return func(*args, **kwargs)
    return wrapper


def _proposal(cmodel, refs: dict, widths: dict, names: list[str], path: Path) -> dict:
    """Best fit from the reference point and the Hessian proposal there (written to ``path``;
    the diagonal of the proposal widths when no Hessian is positive definite)."""
    bf = best_fit(cmodel, [refs], widths)
    cov = proposal_covmat(cmodel, bf, widths)
    if cov is None:
        cov = np.diag([widths[n] ** 2 for n in names])
    _write_covmat(path, names, cov)
    return bf


# the convergence listener of the running chain: Cobaya stores (and pickles) its sampler
# settings, so the callback it gets is this module's function, which finds the listener here
_LISTENER: list = []


def _report_convergence(sampler) -> None:
    bounds = sampler.progress["Rminus1_cl"].dropna()  # computed once the means converge
    for listener in _LISTENER:
        listener(float(sampler.Rminus1_last), float(bounds.iloc[-1]) if len(bounds) else math.nan,
                 len(sampler.collection))


def _callback(convergence) -> dict:
    """Cobaya mcmc settings that report R-1 to ``convergence`` (none without one)."""
    _LISTENER.clear()
    if convergence is None:
        return {}
    _LISTENER.append(convergence)
    return {"callback_function": _report_convergence}


def _run_mcmc(info: dict, out: Path, resume: bool):
    """cobaya.run with a clear error for chains made with other settings."""
    info["output"] = str(chain_root(out))
    info["resume"] = resume
    info["force"] = not resume  # --restart: overwrite the earlier chains
    try:
        return cobaya.run(info)
    except LoggedError as exc:
        # Cobaya names its own shell flags (-f/--force, -r/--resume, --allow-changes), which
        # numass does not have: say numass's options instead
        text = str(exc)
        if any(k in text for k in ("not compatible", "--force", "--resume", "--allow-changes",
                                   "Bad column names")):
            raise InputError(f"{out / 'chains'} holds chains made with other settings (model, "
                             f"data, sampler or the other sampler's output): use --restart to "
                             f"overwrite them, or another --out folder") from None
        raise NumassError(f"Cobaya stopped: {text}") from None


def _tensions(info, samples, bf, widths, mass_param):
    """(the summary's tension fields, {floor: profile point}) of the mass parameter (no
    tensions when the mass is fixed)."""
    if mass_param not in samples.index:
        return {"tension_sigma": {}, "tension_sigma_profile": {},
                "tension_definitions": TENSION_DEFINITIONS}, {}
    mnu = samples.samples[:, samples.index[mass_param]]
    profiles = {}
    for label, floor in FLOORS.items():
        prof = profile_at(info, mass_param, floor, bf, widths)
        # the point too: the comparison's CAMB check starts from it
        profiles[label] = {mass_param: floor, "chi2": prof["chi2"],
                           "point": {k: prof[k] for k in widths if k in prof}}
    fields = tension_fields(mnu, samples.weights, bf["chi2"], bf[mass_param],
                            {k: p["chi2"] for k, p in profiles.items()})
    return fields, profiles


def _refined_best_fit(cmodel, samples, names, widths, bf) -> dict:
    """Best fit from the chain's two best points (and the first best fit, when there is one)."""
    loglikes = -samples.loglikes
    top = np.argsort(-loglikes)[:2]
    starts = [dict(zip(names, samples.samples[i, [samples.index[n] for n in names]])) for i in top]
    if bf is not None:
        starts.append({n: bf[n] for n in names})
    return best_fit(cmodel, starts, widths)


def _result(model, datasets, info, cmodel, sampler, samples, bf, tensions, profiles,
            mass_param, rminus1, out, t0) -> RunResult:
    w = samples.weights
    reached = float(getattr(sampler, "Rminus1_last", math.nan))
    params = {n: PosteriorSummary(**summarize_1d(samples.samples[:, samples.index[n]], w))
              for n in samples.index if n != mass_param and not n.startswith("chi2")
              and not n.startswith("minuslogprior")}
    fixed_mass = fixed_value(info["params"][mass_param])
    if fixed_mass is None:
        mass = PosteriorSummary(**summarize_1d(samples.samples[:, samples.index[mass_param]], w))
    else:  # --fix: a point mass
        mass = PosteriorSummary(fixed_mass, 0.0, *[fixed_mass] * 4)
    return RunResult(
        model=model, datasets=datasets, backend=info["theory"]["numass"]["backend"],
        mnu_eff=mass,
        params=params, bestfit=BestFit.from_dict({k: v for k, v in bf.items() if k != "logpost"}),
        tensions=RunResult.tensions_from(tensions),
        tension_definitions=tensions["tension_definitions"], profiles=profiles, floors_eV=FLOORS,
        rminus1=reached,
        converged=bool(reached < rminus1) if math.isfinite(reached) else False,
        n_samples=int(samples.numrows),
        n_theory_failures=int(getattr(cmodel.theory["numass"], "n_failures", 0)),
        wall_seconds=round(time.time() - t0, 1), chains=str(chain_root(out)),
        mass_param=mass_param if mass_param != "mnu_eff" else None)


def _mcmc_settings(rminus1, covmat_file, max_samples, seed, convergence, mcmc_options) -> dict:
    """Cobaya's ``sampler`` block: MCMC to R-1 < rminus1 from the Hessian proposal."""
    return {"mcmc": {"Rminus1_stop": rminus1, "Rminus1_cl_stop": RMINUS1_BOUNDS_STOP,
                     "covmat": str(covmat_file), "max_samples": max_samples,
                     "learn_every": "20d", "output_every": "5s", "max_tries": "1000d",
                     **({"seed": seed} if seed is not None else {}),
                     **_callback(convergence), **(mcmc_options or {})}}


@single_threaded_blas
def run_analysis(model: str = "lcdm", datasets: list[str] | None = None,
                 out: str | Path = "numass-out", backend: str | None = None,
                 data_dir: str | Path | None = None, resume: bool = True,
                 rminus1: float = 0.01, max_samples: int = 200000, seed: int | None = None,
                 progress=print, plot=None, fixed: dict | None = None,
                 likelihood_options: dict | None = None, param_overrides: dict | None = None,
                 mass_param: str = "mnu_eff", mcmc_options: dict | None = None,
                 sampler: str | None = "mcmc", nested_options: dict | None = None,
                 convergence=None, record: dict | None = None) -> dict:
    """Run the analysis and write ``out/summary.json`` (a RunResult) and the chains.

    ``plot(samples, path, params) -> path`` draws the triangle plot (numass.report.plots
    .triangle_plot; None: no plot). ``fixed``, ``likelihood_options`` and ``param_overrides`` go
    to ``build_info`` unchanged (fixed backend inputs; per-likelihood options such as a tau
    prior's mean and width; a parameter fixed or given another prior). ``mass_param`` is the
    neutrino-mass parameter whose posterior, tension and profiles are summarised (``mnu_eff``; a
    model may sample another name). ``mcmc_options`` are extra Cobaya ``mcmc`` settings.
    ``sampler``: 'mcmc' (Cobaya), 'nautilus' (nested sampling on batches, nested_pipeline.py;
    ``nested_options`` go to nested.run_nautilus) or None / 'auto' (nautilus where the backend
    is batched and MPI is off). ``convergence(rminus1, rminus1_bounds, n_accepted)`` is called at
    each convergence check (R-1 of the means inf before the first, of the bounds NaN until the
    means converge). ``record``: extra fields for summary.json (the CLI's {'quick': True})."""
    t0 = time.time()
    datasets = datasets or EMBEDDED_DATASETS
    out = prepared_folder(out, datasets, data_dir, resume)
    info = build_info(model, datasets, backend=backend, data_dir=data_dir, fixed=fixed,
                      likelihood_options=likelihood_options, param_overrides=param_overrides)
    widths, refs = proposal_widths(info), proposal_refs(info)
    names = [n for n in info["params"] if n in widths]
    if mass_param not in names and fixed_value(info["params"].get(mass_param)) is None:
        raise InputError(f"model {model} has no sampled {mass_param} parameter")
    _say(progress, f"[numass] model {model} on {', '.join(datasets)} "
                   f"(backend {info['theory']['numass']['backend']}); sampling {', '.join(names)}")
    if choose_sampler(sampler, info["theory"]["numass"]["backend"]) == "nautilus":
        summary = run_nested_analysis(info, model, datasets, out, t0, resume, seed, progress,
                                      plot, mass_param, data_dir=data_dir,
                                      nested_options=nested_options)
        summary.update({"param_overrides": param_overrides} if param_overrides else {},
                       **(record or {}))
        write_summary(out / "summary.json", summary)  # last: its presence means finished
        return summary
    cmodel = get_model(info)
    covmat_file = out / "proposal.covmat"
    bf = None
    if not (resume and covmat_file.exists()) and mpi.is_main_process():
        _say(progress, "[numass] 1/4 best fit (to start the chain and shape its proposal)")
        bf = _proposal(cmodel, refs, widths, names, covmat_file)
    mpi.sync_processes()  # under MPI every chain waits for the proposal written by rank 0
    _say(progress, f"[numass] 2/4 MCMC to R-1 < {rminus1} (Cobaya; progress below; chains in "
                   f"{out / 'chains'})")
    info["sampler"] = _mcmc_settings(rminus1, covmat_file, max_samples, seed, convergence,
                                     mcmc_options)
    try:
        _, sampler = _run_mcmc(info, out, resume)
    finally:
        _LISTENER.clear()
    products = sampler.products(skip_samples=BURN_IN, to_getdist=True)  # all chains, on rank 0
    if not mpi.is_main_process():
        return {}
    samples = products["sample"]

    _say(progress, "[numass] 3/4 best fit refined from the chain's best points, and profiles at "
                   "the oscillation floors")
    bf = _refined_best_fit(cmodel, samples, names, widths, bf)
    tensions, profiles = _tensions(info, samples, bf, widths, mass_param)
    _say(progress, "[numass] 4/4 summary and plots")
    result = _result(model, datasets, info, cmodel, sampler, samples, bf, tensions, profiles,
                     mass_param, rminus1, out, t0)
    if plot is not None:
        result.triangle_plot = str(plot(
            samples, out / "triangle.png", params=[n for n in [mass_param, *names]
                                                   if n in samples.index]))
    if param_overrides:
        result.param_overrides = param_overrides
    result.sampler = "mcmc"  # chain readers drop the burn-in (results.burn_in)
    result.record(record or {})
    result.wall_seconds = round(time.time() - t0, 1)
    result.to_json(out / "summary.json")  # last: it means finished (checked, atomic)
    return result.to_dict()


def format_summary(s: dict) -> str:
    m = s["mnu_eff"]
    t, tp = s["tension_sigma"], s["tension_sigma_profile"]
    head = f"numass: {s['model']} on {', '.join(s['datasets'])}"
    end = (format_nested_line(s) if s.get("sampler") == "nautilus" else
           f"  R-1 = {s['rminus1']:.4f}, {s['n_samples']} samples, {s['wall_seconds']:.0f} s")
    if not t:  # the mass was fixed (--fix): nothing to measure
        return "\n".join([head, f"  Sigma m_nu,eff fixed at {m['mean']:+.3f} eV; best fit "
                                f"chi2 = {s['bestfit']['chi2']:.2f}", end])
    lines = [
        head,
        f"  Sigma m_nu,eff = {m['mean']:+.3f} ± {m['std']:.3f} eV (mean ± std); "
        f"68%: [{m['lower68']:+.3f}, {m['upper68']:+.3f}]; 95% upper: {m['upper95']:+.3f} eV",
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
