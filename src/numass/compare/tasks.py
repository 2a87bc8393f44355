"""One task of a comparison job, run in its own folder: the posterior (``run_analysis``: best
fit, MCMC, profiles; state in job.json) or, for the hypotheses, the evidence (state in
evidence.json). The two are independent, so the evidence can run beside a slow chain.

Every task writes its state file when it finishes, with the job's fingerprint, and then (last,
atomically) its manifest ``manifest_<part>.json``: the sha256 of its chains, summary and state
files, the data it read (embedded table or files, with their sha256), the settings and numass's
version. A rerun keeps a finished task only when its manifest verifies; a damaged one is
recomputed. A task interrupted by Ctrl-C is never recorded as finished. A task that fails
records ``status: "error: ..."`` and its traceback; the others go on.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from cobaya.model import get_model

from numass import __version__
from numass.compare.camb_check import camb_fingerprint, run_camb_check, wants_camb_check
from numass.compare.plan import CHECK_SETTINGS, Job, Settings, data_sources, needs_spectra
from numass.errors import InputError, NumassError
from numass.fileio import (
    ManifestError,
    atomic_write_json,
    atomic_write_text,
    read_json,
    verify_manifest,
    write_manifest,
)
from numass.inference.bestfit import nelder_mead_fit, proposal_covmat
from numass.inference.evidence import log_evidence
from numass.inference.importance import importance_evidence
from numass.inference.nested_analysis import NestedSettings, importance_first
from numass.inference.pipeline import run_analysis
from numass.inference.posterior import CobayaPosterior, batched_backend
from numass.inference.results import chain_root, load_chains, proposal_refs, proposal_widths
from numass.inference.setup import build_info
from numass.inference.tail import TailSettings
from numass.models import get_model as get_numass_model
from numass.progress import logs_to

log = logging.getLogger("numass")

def _progress_printer(name: str, log_name: str = "log.txt", echo: bool = True):
    """A task's messages: to the terminal with ``echo`` (-v; else a progress display shows the
    task), always to the task's log (stdout is redirected there)."""
    def say(msg: str) -> None:
        msg = msg.replace("[numass] ", "").replace("progress below",
                                                   f"progress in {name}/{log_name}")
        streams = {sys.stdout, sys.__stdout__ or sys.stdout} if echo else {sys.stdout}
        for stream in streams:
            stream.write(f"[numass compare] {name}: {msg}\n")
            stream.flush()

    return say


STATE_FILE = {"posterior": "job.json", "evidence": "evidence.json", "camb": "camb.json"}
LOG_FILE = {"posterior": "log.txt", "evidence": "evidence_log.txt", "camb": "camb_log.txt"}


def task_fingerprint(job: Job, part: str, settings: Settings) -> str:
    """The CAMB check has its own (the posterior's and the check's settings)."""
    return camb_fingerprint(job, settings) if part == "camb" else job.fingerprint(settings)


MANIFEST_FILE = {part: f"manifest_{part}.json" for part in STATE_FILE}


def task_files(folder: Path, part: str) -> list[Path]:
    """What a finished task's manifest lists: its state file, and for the posterior its
    summary.json and chain files (not nautilus's checkpoint: nothing reads it once finished)."""
    files = [folder / STATE_FILE[part]]
    if part == "posterior":
        chains = folder / "chains"
        files += [folder / "summary.json"] + sorted(
            p for p in chains.rglob("*") if p.is_file() and p.suffix != ".hdf5"
            and not p.name.startswith("."))
    return files


def manifest_meta(job: Job, part: str, settings: Settings, data_dir) -> dict:
    """What a task was computed from (recorded in its manifest, checked on a rerun)."""
    keep = (lambda k: True) if part == "camb" else (lambda k: k not in CHECK_SETTINGS)
    return {"job": job.name, "task": part, "fingerprint": task_fingerprint(job, part, settings),
            "data": data_sources(job.datasets, data_dir),
            "settings": {k: v for k, v in settings.__dict__.items() if keep(k)},
            "spec": job.spec(), "numass_version": __version__}


def write_task_manifest(job: Job, part: str, out: Path, settings: Settings,
                        data_dir=None) -> Path:
    """A finished task's manifest (written last, atomically: fileio.write_manifest)."""
    folder = out / job.name
    return write_manifest(folder, task_files(folder, part),
                          manifest_meta(job, part, settings, data_dir), name=MANIFEST_FILE[part])


def check_task(job: Job, part: str, out: Path, settings: Settings,
               sources: dict | None = None) -> tuple[dict | None, str | None]:
    """(state, None) for a finished task whose manifest verifies; (None, why) for a finished
    one that is damaged (a listed file differs or is gone, the state or manifest cannot be
    read, or the data differ from ``sources``); (None, None) for one not finished (no
    manifest: stopped before it was written) or failed."""
    folder = out / job.name
    fp = task_fingerprint(job, part, settings)
    state_path = folder / STATE_FILE[part]
    state = read_json(state_path)
    if state is None:
        return None, (f"{state_path} cannot be read" if state_path.is_file()
                      and (folder / MANIFEST_FILE[part]).is_file() else None)
    if state.get("fingerprint") != fp or state.get("status") != "ok":
        return None, None
    if not (folder / MANIFEST_FILE[part]).is_file():
        return None, None  # stopped between its state and its manifest: not finished
    try:
        manifest = verify_manifest(folder, MANIFEST_FILE[part], expect={"fingerprint": fp})
    except ManifestError as exc:
        return None, str(exc)
    if sources is not None:
        changed = [i for i, src in (manifest.get("data") or {}).items()
                   if i in sources and src != sources[i]]
        if changed:
            return None, (f"{folder / MANIFEST_FILE[part]}: data set(s) {', '.join(changed)} "
                          f"were read from another source")
    return state, None


def task_done(job: Job, part: str, out: Path, settings: Settings) -> bool:
    return check_task(job, part, out, settings)[0] is not None


def forget_task(job: Job, part: str, out: Path) -> None:
    """A damaged task starts afresh: no state, manifest or resume mark (its chains are
    overwritten by the new run)."""
    folder = out / job.name
    for name in (STATE_FILE[part], MANIFEST_FILE[part], f"started_{part}.json"):
        (folder / name).unlink(missing_ok=True)


# ---------------------------------------------------------------- Ctrl-C inside a task
# Some libraries catch KeyboardInterrupt and carry on (nautilus's network training did): the
# task's process records the moment of Ctrl-C, so that the task is never recorded as finished
# and its resume drops any checkpoint written after it (trained on a cut-short fit)
_INTERRUPTED: list[float] = []


def interrupt_mark(folder: Path, part: str) -> Path:
    return folder / f"interrupted_{part}.json"


def install_interrupt_handler(folder: Path, part: str) -> None:
    """In a task's process: Ctrl-C marks the task interrupted, then raises KeyboardInterrupt
    (nothing where SIGINT is ignored, as for a command started in the background)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return

    def on_sigint(signum, frame):
        if not _INTERRUPTED:
            _INTERRUPTED.append(time.time())
            try:
                folder.mkdir(parents=True, exist_ok=True)
                atomic_write_json(interrupt_mark(folder, part), {"time": _INTERRUPTED[0]})
            except OSError:
                pass  # the task is still not recorded as finished (_INTERRUPTED)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)


def _drop_checkpoints_after_interrupt(folder: Path, part: str, say) -> None:
    """Resuming a task that Ctrl-C stopped: a nautilus checkpoint written after the interrupt
    may hold a bound whose training the interrupt cut short; drop it (that run starts
    afresh, so the resumed numbers are those of an uninterrupted run)."""
    mark = read_json(interrupt_mark(folder, part))
    if mark is None:
        return
    for ckpt in sorted(folder.rglob("*.hdf5")):
        if ckpt.stat().st_mtime >= mark.get("time", 0.0):
            say(f"{ckpt.relative_to(folder)} was written after the interrupt: starting that "
                f"sampling afresh")
            ckpt.unlink()
    interrupt_mark(folder, part).unlink(missing_ok=True)


def job_parts(job: Job, settings: Settings) -> list[str]:
    """The tasks of a job: the posterior, a separate evidence task (hypotheses sampled by MCMC;
    nautilus gives ln Z with the posterior), the CAMB check."""
    return (["posterior"] + (["evidence"] if needs_evidence_task(job, settings) else [])
            + (["camb"] if wants_camb_check(job, settings) else []))


def job_done(job: Job, out: Path, settings: Settings) -> bool:
    return all(task_done(job, part, out, settings) for part in job_parts(job, settings))


def resolved_backend(job: Job, settings: Settings) -> str:
    """The backend name the job's runs resolve to (the model's default when the job names
    none), as build_info resolves it."""
    backend = theory_backend(job, settings)
    if backend:
        return backend
    try:
        model = get_numass_model(job.model)
    except Exception:  # noqa: BLE001 - a missing model fails in its own job
        return "camb"
    return model.resolve_backend(None, needs_spectra(job.datasets))


def job_sampler(job: Job, settings: Settings) -> str:
    """'nautilus' or 'mcmc' for this job (Settings.sampler): nautilus wherever the job's
    backend has a batched path (with 'auto' or 'nautilus'); InputError for 'nautilus' on a job
    with none, and for an unknown name."""
    if settings.sampler not in ("auto", "nautilus", "mcmc"):
        raise InputError(f"sampler '{settings.sampler}': use auto, nautilus or mcmc")
    if settings.sampler == "mcmc":
        return "mcmc"
    backend = resolved_backend(job, settings)
    if batched_backend(backend):
        return "nautilus"
    if settings.sampler == "nautilus":
        raise InputError(f"--sampler nautilus: job {job.name} uses backend '{backend}', which has "
                         f"no batched path; use --sampler auto (MCMC for that job) or mcmc")
    return "mcmc"


def needs_evidence_task(job: Job, settings: Settings) -> bool:
    """A separate evidence task: for the hypotheses sampled by MCMC (a nautilus run gives ln Z
    with the posterior)."""
    return job.evidence and job_sampler(job, settings) == "mcmc"


def nested_settings(settings: Settings) -> tuple[NestedSettings, TailSettings]:
    """run_analysis's nautilus and tail settings for a comparison job: run to n_eff (which also
    makes sigma(ln Z) = 1/sqrt(n_eff) <= lnz_err_max), and the tails by the evidence ratio.
    With --sampler auto: importance sampling around the best fit first (nautilus where it does
    not cover the posterior)."""
    n_eff = max(settings.n_eff, math.ceil(settings.lnz_err_max ** -2))
    return (NestedSettings(n_live=settings.n_live, n_eff=n_eff, n_networks=settings.n_networks,
                           importance=importance_first(settings.sampler)),
            TailSettings(min_ess=settings.tail_min_ess, n_live=settings.tail_n_live,
                         n_eff=settings.tail_n_eff, n_networks=settings.n_networks))


def execute(job: Job, out: Path, settings: Settings, data_dir: str | None = None,
            part: str = "posterior", plot=None, echo: bool = True,
            threads: int | None = None) -> dict:
    """Run one task of a job in ``out/<job.name>`` (resuming what an interrupted run left) and
    write its state file; a failure is recorded there as ``status: "error: ..."``. ``threads``:
    the cores the task may use (the CAMB check's processes; None: all)."""
    folder = out / job.name
    folder.mkdir(parents=True, exist_ok=True)
    fp = task_fingerprint(job, part, settings)
    started_file = folder / f"started_{part}.json"
    resume = (read_json(started_file) or {}).get("fingerprint") == fp
    say = _progress_printer(job.name, LOG_FILE[part], echo)
    # an earlier state or manifest must not outlive this attempt (a kill leaves none)
    for name in (MANIFEST_FILE[part], STATE_FILE[part]):
        (folder / name).unlink(missing_ok=True)
    if resume:
        _drop_checkpoints_after_interrupt(folder, part, say)
    else:
        interrupt_mark(folder, part).unlink(missing_ok=True)
    atomic_write_json(started_file, {"fingerprint": fp, "spec": job.spec()})
    t0 = time.time()
    state: dict[str, object] = {"name": job.name, "part": part, "fingerprint": fp,
                                "spec": job.spec(), "label": job.label}
    with open(folder / LOG_FILE[part], "a" if resume else "w") as logfile:
        try:
            with logs_to(logfile):
                if part == "posterior":
                    summary = run_posterior(job, settings, data_dir, folder, resume, say, plot)
                    m = summary["mnu_eff"]
                    say(f"posterior done in {time.time() - t0:.0f} s: Σmν,eff = "
                        f"{m['mean']:+.3f} ± {m['std']:.3f} eV, tension (normal ordering) "
                        f"{summary['tension_sigma']['normal_ordering']:.2f}σ Bayesian, "
                        f"{summary['tension_sigma_profile']['normal_ordering']:.2f}σ profile")
                elif part == "camb":
                    state.update(run_camb_check(job, settings, data_dir, folder,
                                                theory_backend(job, settings),
                                                workers=threads or os.cpu_count() or 1, say=say))
                    say(f"CAMB check done in {time.time() - t0:.0f} s")
                else:
                    ev = run_evidence(job, settings, data_dir, say, folder=folder)
                    state.update(ev)
                    say(f"ln Z = {ev['ln_evidence']:.2f} ± {ev['ln_evidence_err']:.2f} "
                        f"({ev['n_calls']} likelihood calls, {time.time() - t0:.0f} s)")
            state["status"] = "ok"
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - one failing task must not stop the others
            state["status"] = f"error: {type(exc).__name__}: {exc}"
            atomic_write_text(folder / f"traceback_{part}.txt", traceback.format_exc())
            say(f"FAILED ({state['status']}); details in {folder / f'traceback_{part}.txt'}")
    if _INTERRUPTED:  # Ctrl-C reached this process and something swallowed it
        raise KeyboardInterrupt
    state["wall_seconds"] = round(time.time() - t0, 1)
    with _sigint_deferred():  # the state and its manifest are written together, or neither
        atomic_write_json(folder / STATE_FILE[part], state, indent=1)
        if state["status"] == "ok":  # last: its presence means every file above is complete
            write_task_manifest(job, part, out, settings, data_dir)
    return state


@contextlib.contextmanager
def _sigint_deferred():
    """Ctrl-C waits until the block ends (then raises as usual)."""
    block = hasattr(signal, "pthread_sigmask")
    if block:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if block:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def run_posterior(job: Job, settings: Settings, data_dir, folder: Path, resume: bool,
                  say, plot=None) -> dict:
    sampler = job_sampler(job, settings)
    nested, tail = nested_settings(settings) if sampler == "nautilus" else (None, None)
    return run_analysis(
        sampler=sampler, nested=nested, tail=tail, model=job.model, datasets=job.datasets, out=folder, backend=theory_backend(job, settings),
        data_dir=data_dir, resume=resume, rminus1=settings.rminus1,
        max_samples=settings.max_samples, seed=settings.seed, progress=say,
        plot=plot if job.name == "lcdm" else None,  # the report draws the others over LCDM
        likelihood_options=job.likelihood_options or None,
        param_overrides=job.param_overrides or None,
        mcmc_options={"Rminus1_cl_stop": settings.rminus1_cl})


def hessian_box(model, info: dict, width: float = 20.0) -> dict:
    """{param: (lo, hi)}: the evidence's sampling box (the prior's edges apply on top).

    Best fit ± ``width`` sigma of the Hessian there; when the Hessian is not positive definite
    (a best fit on a prior edge: Sigma m_nu = 0 in nu_interacting, z_dagger = 3 in lscdm), each
    parameter's own curvature (one-sided at an edge) with twice the width, since it ignores the
    correlations; a parameter with no curvature gets no bound."""
    widths = proposal_widths(info)
    post = CobayaPosterior(model)
    bf = nelder_mead_fit(post, [proposal_refs(info)], widths)
    cov = proposal_covmat(post, bf, widths)
    if cov is not None:
        sd = np.sqrt(np.diag(cov))
        return {n: (bf[n] - width * s, bf[n] + width * s) for n, s in zip(post.names, sd)}
    return _curvature_box(post, bf, widths, width)


def _curvature_box(post, bf: dict, widths: dict, width: float) -> dict:
    """Each parameter's own curvature at ``bf`` (one-sided at a prior edge) -> ± 2 ``width``
    sigma; a parameter with no curvature gets no bound."""
    names = post.names

    def f(x):
        lp = float(post(x[None, :])[0])
        return -lp if np.isfinite(lp) else np.nan

    x0 = np.array([bf[n] for n in names])
    f0 = f(x0)
    box = {}
    for i, n in enumerate(names):
        e = np.zeros(len(names))
        e[i] = 0.1 * widths[n]
        fp, fm = f(x0 + e), f(x0 - e)
        if np.isfinite(fp) and np.isfinite(fm):
            d2 = fp - 2 * f0 + fm
        elif np.isfinite(fp):
            d2 = f(x0 + 2 * e) - 2 * fp + f0
        elif np.isfinite(fm):
            d2 = f(x0 - 2 * e) - 2 * fm + f0
        else:
            continue
        if np.isfinite(d2) and d2 > 0:
            sd = e[i] / np.sqrt(d2)
            box[n] = (bf[n] - 2 * width * sd, bf[n] + 2 * width * sd)
    return box


def theory_backend(job: Job, settings: Settings) -> str | None:
    """The backend the job's runs use: 'emulator-box' when the settings turn CAMB fallback off."""
    if job.backend == "emulator" and not settings.emulator_fallback:
        return "emulator-box"
    return job.backend


def evidence_method(job: Job, settings: Settings) -> str:
    """'dynesty' or 'importance' for this job (see Settings.evidence_method)."""
    if settings.evidence_method not in ("auto", "dynesty", "importance"):
        raise InputError(f"evidence method '{settings.evidence_method}': use auto, dynesty or "
                         f"importance")
    if settings.evidence_method != "auto":
        return settings.evidence_method
    return "importance" if job.backend == "emulator" or needs_spectra(job.datasets) else "dynesty"


def chain_samples(folder: Path, names: list[str]):
    """(samples (m, d) of ``names``, weights) of the job's chains, burn-in removed as in the
    posterior summary (for MCMC chains only: inference.results.burn_in)."""
    root = chain_root(folder)
    if not list(root.parent.glob(root.name + "*.txt")):
        raise NumassError(f"no chains in {root.parent}: the posterior task must finish first")
    s = load_chains(folder)
    return s.samples[:, [s.index[n] for n in names]], s.weights


def run_evidence(job: Job, settings: Settings, data_dir: str | None, say=None,
                 folder: Path | None = None) -> dict:
    """ln Z of the job's model and data. dynesty: inside the box of ``hessian_box`` (prior edges
    apply); on the full prior when there is no box or the posterior reaches the box's edge.
    importance: draws from a Student-t fitted to the job's chain in ``folder``."""
    info = build_info(job.model, job.datasets, backend=theory_backend(job, settings),
                      data_dir=data_dir, likelihood_options=job.likelihood_options or None,
                      param_overrides=job.param_overrides or None)
    model = get_model(info)

    def progress(n):  # into the task's log, where the heartbeat reads it
        print(f"[evidence] {n} likelihood calls", flush=True)

    if evidence_method(job, settings) == "importance":
        if say:
            say(f"evidence by importance sampling ({settings.is_draws} draws from a Student-t "
                f"fitted to the chain)")
        if folder is None:
            raise InputError(f"{job.name}: evidence by importance sampling needs the job's "
                             f"folder (it draws from the job's chain)")
        post = CobayaPosterior(model)
        samples, weights = chain_samples(folder, post.names)
        result = importance_evidence(post, samples, weights, n=settings.is_draws,
                                     seed=settings.seed, progress=progress)
        if "warning" in result:
            log.warning("%s: %s", job.name, result["warning"])
        return _offset(result, job)
    if say:
        say(f"nested sampling for the evidence (dynesty, {settings.nlive} live points)")
    box = hessian_box(model, info)
    ev: dict | None = None
    if box:
        print(f"[evidence] box: {json.dumps({k: [float(a), float(b)] for k, (a, b) in box.items()})}",
              flush=True)
        ev = log_evidence(model, nlive=settings.nlive, dlogz=settings.dlogz, seed=settings.seed,
                          bounds=box, progress=progress)
        if ev["edge_weight"] > 1e-3:
            log.warning("%s: %.1g of the evidence's posterior weight at the box's edge; "
                        "rerunning on the full prior", job.name, ev["edge_weight"])
            ev = None
    if ev is None:
        if say:
            say("evidence on the full prior (no usable box; slower)")
        print("[evidence] full prior", flush=True)
        ev = log_evidence(model, nlive=settings.nlive, dlogz=settings.dlogz, seed=settings.seed,
                          progress=progress)
    ev["method"] = "dynesty"
    return _offset(ev, job)


def _offset(ev: dict, job: Job) -> dict:
    """Add the normalisation of Gaussian priors written as likelihoods (Job.ln_evidence_offset)."""
    ev["ln_evidence_cobaya"] = ev["ln_evidence"]
    ev["ln_evidence_offset"] = job.ln_evidence_offset
    ev["ln_evidence"] += job.ln_evidence_offset
    return ev

