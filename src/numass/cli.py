"""The `numass` command line."""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import textwrap
from pathlib import Path

from numass import __version__
from numass.compare import EXECUTORS
from numass.compare.hypotheses import HYPOTHESES
from numass.errors import InputError, NumassError
from numass.inference import SAMPLERS
from numass.inference.overrides import parse_overrides
from numass.inference.results import RMINUS1_BOUNDS_STOP
from numass.likelihoods import FULL, LIKELIHOODS, parse_ids, resolve_data
from numass.models import BACKEND_HELP, MODELS, get_model, model_name
from numass.progress import ProgressDisplay, logs_to, mcmc_distance, mcmc_status


def _add_sampler(p, what: str = "sampler"):
    p.add_argument("--sampler", choices=["auto", *SAMPLERS], default="auto",
                   help=f"{what}: 'nautilus' (batched), 'mcmc' (Cobaya, point by point); auto "
                        f"(default): nautilus where the theory backend is batched and MPI is "
                        f"not in use")


def _positive(kind, zero_ok: bool = False):
    """An argparse type: a number > 0 (>= 0 with zero_ok); argparse prints the error."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"'{text}' is not {what}") from None
        if not (value >= 0 if zero_ok else value > 0):  # NaN too
            raise argparse.ArgumentTypeError(f"{text}: must be {'>= 0' if zero_ok else '> 0'}")
        return value
    return parse


def _add_data_dir(p):
    p.add_argument("--data-dir", default=None,
                   help="folder holding the public data sets (default: $NUMASS_DATA_DIR, else the "
                        "user cache directory)")


def _choices(title: str, items: dict[str, str]) -> str:
    """An epilog section listing a registry's names, one line each."""
    width = max(map(len, items))
    return title + ":\n" + "\n".join(
        textwrap.fill(f"  {k:<{width}}  {v}", 100, subsequent_indent=" " * (width + 4))
        for k, v in items.items())


def _epilog(*sections: str) -> str:
    return "\n\n".join(sections)


MODELS_HELP = _choices("models (--model)", {k: m.description for k, m in MODELS.items()})
BACKENDS_HELP = _choices("backends (--backend; default: the fastest that serves the data and "
                         "model)", BACKEND_HELP)
DATA_HELP = _choices("data (--data)", {
    "embedded": "DESI DR2 BAO + compressed CMB, no data directory needed (the default)",
    "full": ",".join(FULL),
    "id,id,...": "any of the data set ids listed here:"}) + "\n" + "\n".join(
    f"    {i}" for i in LIKELIHOODS)
# for the sampler option of run/fit/profile (one list with the code that picks the sampler)
SAMPLERS_HELP = _choices("samplers", SAMPLERS)


def _add_model(p, default: str | None = "lcdm") -> None:
    # model_name turns an old name into its new one (with a notice) before the choice is checked
    p.add_argument("--model", default=default, required=default is None, type=model_name,
                   choices=list(MODELS), metavar="MODEL", help="the model (listed below)" +
                   (f"; default {default}" if default else ""))


def _add_backend(p, default: str | None = None) -> None:
    p.add_argument("--backend", default=default, choices=list(BACKEND_HELP), metavar="BACKEND",
                   help="theory backend (listed below, with when to use each)" +
                        (f"; default {default}" if default else ""))


def _add_overrides(p) -> None:
    p.add_argument("--fix", action="append", metavar="NAME=VALUE",
                   help="fix a sampled parameter, e.g. --fix mnu_eff=0.06 (repeatable)")
    p.add_argument("--prior", action="append", metavar="NAME=LO,HI",
                   help="another prior: flat LO,HI or gauss:MEAN,SD, e.g. --prior mnu_eff=-1,1 "
                        "--prior tau=gauss:0.054,0.007 (repeatable)")


def _subparser(sub, name: str, help: str, epilog: str = ""):
    return sub.add_parser(name, help=help, description=help, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


@contextlib.contextmanager
def _progress(args, out: Path, target: float):
    """(say, convergence) for run_analysis: with -v, the messages and Cobaya's log on the
    terminal as before; else one live progress line, and every log in ``out``/log.txt."""
    if args.verbose:
        yield print, None
        return
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.txt"
    with ProgressDisplay() as display, open(log_path, "a") as logfile, logs_to(logfile):
        display.note(f"[numass] the samplers' logs go to {log_path} (-v shows them here)")

        def say(msg: str) -> None:
            print(msg, flush=True)  # into the log
            text = msg.replace("[numass] ", "")
            if text[:4] in ("1/4 ", "2/4 ", "3/4 ", "4/4 "):
                display.update("run", label=args.model, stage=text.split(" (")[0])
            else:
                display.note(msg)

        def convergence(rminus1: float, rminus1_bounds: float, n_accepted: int) -> None:
            display.update("run", value=mcmc_distance(rminus1, rminus1_bounds, target,
                                                      RMINUS1_BOUNDS_STOP), target=1.0,
                           detail=mcmc_status(rminus1, rminus1_bounds, target,
                                              RMINUS1_BOUNDS_STOP, n_accepted))

        yield say, convergence


def _datasets(data: str | None) -> list[str]:
    """The data set ids of --data: 'embedded' (or None), 'full', or comma-separated ids."""
    return resolve_data(data)[1]


def cmd_run(args) -> int:
    from numass.inference import pipeline
    from numass.report.plots import triangle_plot

    overrides = parse_overrides(args.fix, args.prior)
    rminus1 = args.rminus1 or (pipeline.QUICK_RMINUS1 if args.quick else 0.01)
    progress = _progress(args, Path(args.out), rminus1)  # entered inside the folder's lock
    with pipeline.output_lock(args.out), progress as (say, convergence):
        summary = pipeline.run_analysis(
            model=args.model, datasets=_datasets(args.data), out=args.out, backend=args.backend,
            data_dir=args.data_dir, resume=not args.restart, rminus1=rminus1, seed=args.seed,
            plot=triangle_plot, progress=say, convergence=convergence,
            param_overrides=overrides or None, sampler=args.sampler,
            **pipeline.quick_options(args.quick, args.sampler))
    if not summary:  # an MPI rank other than 0: rank 0 reports
        return 0
    print(pipeline.format_summary(summary))
    print(f"[numass] wrote {args.out}/summary.json, {args.out}/triangle.png and the chains")
    return 0


def cmd_fit(args) -> int:
    """`numass fit`: the machinery of `numass run` (best fit, MCMC, profiles at the floors,
    summary, triangle plot) for any model; output in numass-fit-<model> unless --out is given."""
    get_model(args.model)  # an unknown model is a clear error before anything runs
    if args.out is None:
        args.out = f"numass-fit-{args.model}"
    return cmd_run(args)


def cmd_compare(args) -> int:
    import time

    from numass.compare.collect import format_table
    from numass.compare.plan import Settings
    from numass.compare.run import check_out_folder, run_comparison
    from numass.fileio import FolderLock
    from numass.report.compare_report import write_report
    from numass.report.plots import triangle_plot

    _check_compare_numbers(args)
    settings = Settings.make(quick=args.quick, rminus1=args.rminus1, nlive=args.nlive,
                             seed=args.seed, evidence_method=args.evidence,
                             verify=args.verify, camb_check=args.camb_check,
                             camb_steps=args.camb_steps, sampler=args.sampler)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    overrides = parse_overrides(args.fix, args.prior)
    t0 = time.time()
    out = check_out_folder(args.out)
    with FolderLock(out, "numass compare"), contextlib.ExitStack() as stack:
        board = None if args.verbose else stack.enter_context(ProgressDisplay())
        result = run_comparison(data=args.data, out=out, data_dir=args.data_dir,
                                workers=args.jobs, settings=settings, only=only,
                                allow_camb=args.allow_camb, executor=args.executor,
                                plot=triangle_plot, board=board,
                                say=print if board is None else board.note,
                                param_overrides=overrides or None, restart=args.restart)
        stack.close()  # the display ends before the report's lines
        print("[numass compare] writing the report (figures, report.html, report.md)")
        write_report(result.summary, result.out)
        result.summary["report_wall_seconds"] = round(time.time() - t0 - result.wall_seconds, 1)
        result.write()
    print(format_table(result.summary))
    print(f"[numass] wrote {out}/summary.json, {out}/report.html, {out}/report.md "
          f"({result.wall_seconds:.0f} s)")
    failed = result.failed_tasks()
    if failed:
        print("[numass] failed: " + "; ".join(f"{task} (see {hint})" for task, hint in (
            (task, _failure_hint(out / folder)) for task, folder in failed))
              + "; run the same command again to retry them", file=sys.stderr)
        return 1
    return 0


def _failure_hint(folder: Path) -> str:
    """The files that say why a task failed: its tracebacks, else its logs."""
    found = sorted(folder.glob("traceback_*.txt")) or sorted(folder.glob("*log*.txt"))
    return ", ".join(str(p) for p in found) or f"{folder}"


def _check_compare_numbers(args) -> None:
    """InputError for a numeric option of `numass compare` out of its range."""
    for flag, value, low in (("--jobs", args.jobs, 1), ("--nlive", args.nlive, 1),
                             ("--seed", args.seed, 0), ("--verify", args.verify, 0),
                             ("--camb-steps", args.camb_steps, 0)):
        if value is not None and value < low:
            raise InputError(f"{flag} takes a whole number >= {low} (got {value})")
    if args.rminus1 is not None and not args.rminus1 > 0:
        raise InputError(f"--rminus1 takes a number > 0 (got {args.rminus1})")


def cmd_profile(args) -> int:
    from numass.fileio import FolderLock
    from numass.inference.profile import format_profile, parse_values, profile_likelihood
    from numass.report.plots import profile_plot

    datasets = _datasets(args.data)
    values = parse_values(args.values, args.range)
    with FolderLock(args.out):
        summary = profile_likelihood(
            args.model, args.param, list(datasets), values=values,
            out=args.out, backend=args.backend, data_dir=args.data_dir, plot=profile_plot,
            sampler=args.sampler, param_overrides=parse_overrides(args.fix, args.prior) or None)
    print(format_profile(summary))
    print(f"[numass] wrote {args.out}/profile_{args.param}.json and .png")
    return 0


def cmd_report(args) -> int:
    """`numass report DIR`: report.html and report.md again from DIR's summary.json and chains."""
    from numass.compare.run import ComparisonResult
    from numass.fileio import FolderLock, ManifestError
    from numass.report.compare_report import write_report

    folder = Path(args.folder)
    if not (folder / "summary.json").is_file():
        raise InputError(f"{folder} holds no summary.json: expected the output folder of "
                         f"`numass compare`")
    with FolderLock(folder, "numass report"):
        try:
            result = ComparisonResult.read(folder)
        except ValueError as exc:
            raise InputError(f"{folder / 'summary.json'} is not valid JSON: {exc}") from None
        if "hypotheses" not in result.summary:
            raise InputError(f"{folder / 'summary.json'} is not a comparison's summary (no "
                             f"'hypotheses'); `numass report` re-renders `numass compare` "
                             f"folders")
        try:
            result.verify()
        except ManifestError as exc:
            raise InputError(f"{exc}; `numass compare` with the same options recomputes the "
                             f"damaged task") from None
        write_report(result.summary, folder)
    print(f"[numass] wrote {folder}/report.html and {folder}/report.md")
    return 0


def cmd_chi2(args) -> int:
    from numass.chi2 import VALIDATED_AS, chi2_table, outside_validated, parse_assignments

    params = parse_assignments(args.param)
    for warning in outside_validated("w0wa", params, VALIDATED_AS):
        print(f"numass: warning: {warning}", file=sys.stderr)
    table = chi2_table(parse_ids(args.data), args.spectra, params, data_dir=args.data_dir)
    if args.json:
        print(json.dumps(table))
    else:
        width = max(len(k) for k in table)
        for k, v in table.items():
            print(f"{k:<{width}}  chi2 = {v:.4f}")
    return 0


def cmd_theory(args) -> int:
    from numass.backends import compute_point
    from numass.chi2 import outside_validated, parse_assignments, write_theory_npz

    params = parse_assignments(args.param)
    for warning in outside_validated(args.model, params):
        print(f"numass: warning: {warning}", file=sys.stderr)
    products = compute_point(args.model, args.backend, params)
    write_theory_npz(products, args.out)
    d = products.derived
    print(f"[numass] wrote {args.out}: " + ", ".join(
        f"{k} = {d[k]:.6g}" for k in ("H0", "theta_star", "rdrag", "sigma8", "S8") if k in d))
    return 0


def cmd_emulator_validate(args) -> int:
    from numass.validation.emulator import validate

    report = validate(n=args.n, seed=args.seed, workers=args.workers, data_dir=args.data_dir,
                      n_chi2=args.n_chi2, weights=args.weights)
    print(report.table())  # ends with the verdict line
    return 1 if report.missed() else 0


def cmd_emulator_reweight(args) -> int:
    from numass.inference.reweight import format_table, reweight

    result = reweight(args.chains, n=args.n, seed=args.seed, model=args.model,
                      datasets=parse_ids(args.data) if args.data else None)
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


def _add_run_options(p) -> None:
    """run/fit: convergence, --quick, seed, restart."""
    p.add_argument("--rminus1", type=_positive(float), default=None,
                   help="MCMC Gelman-Rubin stop, > 0 (default 0.01; --quick 0.1)")
    p.add_argument("--quick", action="store_true",
                   help="loose convergence (importance sampling around the best fit, nautilus "
                        "where it does not cover the posterior: n_eff >= 1000; MCMC: R-1 < 0.1, "
                        "of the 95%% bounds < 0.5), recorded in summary.json: a fast look")
    p.add_argument("--seed", type=int, default=None, help="random seed of the sampler")
    p.add_argument("--restart", action="store_true", help="discard earlier chains in --out "
                                                           "instead of resuming them")


def _add_run(sub) -> None:
    p = _subparser(sub, "run", "the default analysis: LCDM + Sigma m_nu,eff, MCMC, best fit, "
                               "tension, triangle plot",
                   _epilog(MODELS_HELP, BACKENDS_HELP, DATA_HELP))
    p.add_argument("--out", default="numass-out", help="output folder (default ./numass-out)")
    p.add_argument("--data", default="embedded",
                   help="'embedded' (default: DESI DR2 BAO + compressed CMB, no data directory "
                        "needed), 'full' (" + ",".join(FULL) + "), or a comma-separated "
                        "list of data set ids")
    _add_model(p)
    _add_backend(p)
    _add_overrides(p)
    _add_run_options(p)
    _add_sampler(p)
    _add_data_dir(p)
    p.set_defaults(func=cmd_run)


def _add_fit(sub) -> None:
    p = _subparser(sub, "fit", "fit one model (" + ", ".join(MODELS) + ") to any data "
                               "combination: best fit, MCMC, tension, triangle plot",
                   _epilog(MODELS_HELP, BACKENDS_HELP, DATA_HELP))
    _add_model(p, default=None)
    p.add_argument("--data", default="embedded",
                   help="'embedded' (default: DESI DR2 BAO + compressed CMB), 'full' (" +
                        ",".join(FULL) + "), or a comma-separated list of data set ids")
    _add_backend(p)
    _add_overrides(p)
    p.add_argument("--out", default=None, help="output folder (default ./numass-fit-<model>)")
    _add_run_options(p)
    _add_sampler(p)
    _add_data_dir(p)
    p.set_defaults(func=cmd_fit)


def _add_compare(sub) -> None:
    p = _subparser(sub, "compare", "the six-hypothesis comparison: posteriors, best fits, "
                                   "tensions, evidences, robustness variants, report",
                   _epilog(DATA_HELP))
    _add_overrides(p)
    p.add_argument("--data", default="embedded",
                   help="'embedded' (default: DESI DR2 BAO + compressed CMB), 'full' (" +
                        ",".join(FULL) + "), or a comma-separated list of data set ids")
    p.add_argument("--out", default="numass-compare", help="output folder (default "
                                                           "./numass-compare); a rerun resumes")
    p.add_argument("--restart", action="store_true",
                   help="discard the results already in --out (job folders, summary, report) "
                        "and start afresh; needed when the data or settings differ from theirs")
    p.add_argument("--quick", action="store_true",
                   help="loose convergence (importance sampling around the best fit, else nautilus: "
                        "n_eff >= 1000; MCMC: R-1 < 0.1), CAMB check without Newton steps, the "
                        "emulator's box as part of the prior (no CAMB fallback): a fast look")
    p.add_argument("--evidence", choices=["auto", "dynesty", "importance"], default=None,
                   help="evidence method: nested sampling (dynesty) or importance sampling from "
                        "the converged chain; auto (default): importance with CMB spectra, "
                        "dynesty on background-only data")
    p.add_argument("--sampler", choices=["auto", *SAMPLERS], default="auto",
                   help="posteriors: 'auto' (default) for every job whose backend is batched, "
                        "adaptive importance sampling around the best fit, nautilus where its "
                        "draws do not settle (posterior and ln Z in one run, tails by the "
                        "evidence ratio), MCMC + an evidence task for the others; 'nautilus' "
                        "(an error where a job's backend is not batched); 'mcmc' (Cobaya's MCMC "
                        "throughout)")
    p.add_argument("--allow-camb", action="store_true",
                   help="with CMB spectra, also run the model the emulator does not serve "
                        "(nu_interacting) with CAMB at every point: about a day a chain")
    p.add_argument("--jobs", type=int, default=None,
                   help="analyses run at the same time (default: min(2, cores))")
    p.add_argument("--rminus1", type=float, default=None, help="Gelman-Rubin stop (default 0.01; "
                                                              "--quick 0.1)")
    p.add_argument("--nlive", type=int, default=None, help="nested-sampling live points "
                                                           "(default 200; --quick 50)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 1)")
    p.add_argument("--only", default=None, help="comma-separated job names to run (the "
                                                "hypotheses " + ", ".join(HYPOTHESES) + "; "
                                                "variants such as no_lrg1); the others are "
                                                "reported as not run")
    p.add_argument("--camb-check", choices=["hypotheses", "all", "none"], default=None,
                   help="re-evaluate the emulator's best fit and profile points with CAMB and "
                        "refine them (default: the six hypotheses; 'all' adds the τ rungs and "
                        "variants, about 1 min each on 2 cores)")
    p.add_argument("--camb-steps", type=int, default=None,
                   help="Newton steps with CAMB per optimum (default 1, about d + 2 CAMB calls; "
                        "--quick 0: re-evaluation only)")
    p.add_argument("--verify", type=int, default=None, metavar="N",
                   help="importance-reweight N thinned posterior samples of each checked job "
                        "with CAMB and report each mean's shift in σ (default off; costs "
                        "N × 2-5 s per CAMB point / cores per job)")
    p.add_argument("--executor", choices=list(EXECUTORS), default="local",
                   help="'local' (default): --jobs processes on this machine; 'mpi': the jobs "
                        "spread over the MPI ranks (mpiexec -n N python -m mpi4py.futures -m "
                        "numass.cli compare --executor mpi; needs mpi4py)")
    _add_data_dir(p)
    p.set_defaults(func=cmd_compare)


def _add_profile(sub) -> None:
    p = _subparser(sub, "profile", "profile likelihood of one parameter, with a plot",
                   _epilog(MODELS_HELP, BACKENDS_HELP, DATA_HELP))
    _add_model(p)
    _add_overrides(p)
    p.add_argument("--param", required=True, help="sampled parameter, e.g. mnu_eff")
    p.add_argument("--data", default="embedded", help="'embedded' (default), 'full' or ids")
    p.add_argument("--values", default=None, help="values 'a,b,c' (a negative first value: "
                                                   "--values=-0.2,-0.1,0)")
    p.add_argument("--range", default=None, help="'lo,hi,n': n values from lo to hi, e.g. "
                                                  "--range=-0.3,0.2,11 (default: best fit +- 3 "
                                                  "sigma, 15 values)")
    _add_backend(p)
    p.add_argument("--out", default="numass-profile", help="output folder (default "
                                                           "./numass-profile)")
    _add_sampler(p, "minimiser: 'nautilus' = batched Newton on all values at once, 'mcmc' = "
                    "Cobaya Nelder-Mead value by value")
    _add_data_dir(p)
    p.set_defaults(func=cmd_profile)


def _add_chi2(sub) -> None:
    p = sub.add_parser("chi2", help="chi2 = -2 ln L of data sets on your own spectra")
    p.add_argument("--data", required=True, help="comma-separated data set ids")
    p.add_argument("--spectra", default=None, help=".npz with ell, DlTT, DlTE, DlEE, DlBB, clpp_L2")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="cosmological or nuisance parameter (repeatable); a value outside the "
                        "models' priors (mnu in [-0.5, 0.5] ...) is computed with a warning: "
                        "numass's theory is validated against CAMB only there")
    p.add_argument("--json", action="store_true", help="print one JSON object {id: chi2}")
    _add_data_dir(p)
    p.set_defaults(func=cmd_chi2)


def _add_theory(sub) -> None:
    p = _subparser(sub, "theory", "compute the theory products at one point and write an .npz",
                   _epilog(MODELS_HELP, BACKENDS_HELP))
    _add_model(p)
    _add_backend(p, default="camb")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="a parameter of the model (repeatable); a value outside the model's "
                        "prior is computed with a warning: numass's theory is validated against "
                        "CAMB only there")
    p.add_argument("--out", required=True, help="output .npz")
    p.set_defaults(func=cmd_theory)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="re-render report.html and report.md of a comparison "
                                      "folder from its summary.json and chains (runs nothing)")
    p.add_argument("folder", metavar="DIR", help="the output folder of `numass compare`")
    p.set_defaults(func=cmd_report)


def _add_emulator(sub) -> None:
    p = sub.add_parser("emulator", help="the CAMB-trained emulator")
    esub = p.add_subparsers(dest="emulator_command", metavar="SUBCOMMAND", required=True)
    v = esub.add_parser("validate", help="accuracy table against fresh CAMB runs, a PASS/FAIL "
                                         "verdict per target and overall (exit status 1 when "
                                         "any target is missed)")
    v.add_argument("--n", type=_positive(int), default=40,
                   help="fresh points in the box's core (default 40)")
    v.add_argument("--n-chi2", type=_positive(int, zero_ok=True), default=10,
                   help="points near the LCDM posterior for the chi2 check (default 10; needs data)")
    v.add_argument("--seed", type=int, default=90001, help="design seed (never used in training)")
    v.add_argument("--workers", type=_positive(int), default=None,
                   help="parallel CAMB runs (default: cores)")
    v.add_argument("--weights", default=None, help="weights .npz (default: the shipped ones)")
    _add_data_dir(v)
    v.set_defaults(func=cmd_emulator_validate)
    r = esub.add_parser("reweight", help="importance-reweight an emulator chain with CAMB")
    r.add_argument("--chains", required=True, help="output folder of `numass run --backend emulator`")
    r.add_argument("--n", type=int, default=300, help="samples drawn from the chain (default 300)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--json", default=None, help="also write the result to this JSON file")
    r.add_argument("--model", default=None, type=model_name,
                   help="model of the chain (default: its summary.json)")
    r.add_argument("--data", default=None, help="data set ids of the chain (default: summary.json)")
    r.set_defaults(func=cmd_emulator_reweight)


def _add_forecast(sub) -> None:  # options, --help, cmd_forecast: report.forecast_report
    from numass.report.forecast_report import add_forecast_parser
    add_forecast_parser(sub, _subparser, _add_data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numass", description="Weigh the explanations of the negative neutrino mass "
                                   "preference on public cosmological data.",
        epilog="exit status: 0 done; 1 a file could not be written (full disk, read-only "
               "folder, --out naming a file), a compare task failed, or `emulator validate` "
               "missed a target; 2 bad input, missing or corrupt data, a folder in use or "
               "holding other settings; 130 interrupted (Ctrl-C: the same command resumes)")
    parser.add_argument("--version", action="version", version=f"numass {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _add_run(sub)
    _add_fit(sub)
    _add_compare(sub)
    _add_profile(sub)
    _add_chi2(sub)
    _add_theory(sub)
    _add_report(sub)
    _add_emulator(sub)
    _add_forecast(sub)
    try:
        from numass.data.commands import add_data_parser

        add_data_parser(sub)
    except ImportError:  # pragma: no cover - the data commands ship with the package
        pass
    return parser


def _setup_logging(verbose: bool) -> None:
    """numass's own messages to stderr, once (Cobaya configures its own loggers)."""
    log = logging.getLogger("numass")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[numass] %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    _setup_logging(verbose=False)  # before parsing: an old --model name logs a notice
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\n[numass] interrupted: the chains written so far are kept; run the same command "
              "again to resume", file=sys.stderr)
        return 130
    except NumassError as exc:
        print(f"numass: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as exc:  # a full disk, a read-only folder, --out a file
        line = _write_error(exc)
        if line is None:
            raise
        print(f"numass: error: {line}", file=sys.stderr)
        return 1


def _write_error(exc: Exception) -> str | None:
    """An OSError as '<file>: <strerror>'; HDF5's failed write (h5py raises RuntimeError
    "... file write failed ... errno = 28, error message = 'No space left on device'") as one
    line; None for anything else (a bug: its traceback is wanted)."""
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
    text = str(exc)
    hdf5 = "file write failed" in text or "No space left on device" in text
    return f"a file write failed (HDF5: {text})" if hdf5 else None


if __name__ == "__main__":
    sys.exit(main())
