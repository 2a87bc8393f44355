"""Running a comparison's tasks: a standard executor hands them out, and each task runs in a
fresh process of its own, so that a crash, a leak or Cobaya's global state stays in one task.

- ``local`` (default): a ``concurrent.futures.ThreadPoolExecutor`` with ``workers`` slots on this
  machine; each slot starts the task's process and waits for it.
- ``mpi``: ``mpi4py.futures.MPIPoolExecutor``: the slots are the MPI ranks (start with
  ``mpiexec -n N+1 python -m mpi4py.futures -m numass.cli compare --executor mpi``), so the
  independent jobs spread over a cluster's nodes; each rank starts the task's process itself.

An importance-sampling evidence task needs its job's chain: it is submitted when the posterior
task finishes. Ctrl-C stops the tasks (an interrupted chain resumes on the next run); SIGTERM
too. A task whose process dies is recorded as an error, and the others go on. A task's process
dies with the command's (kill -9 included): on Linux the kernel sends it SIGKILL
(PR_SET_PDEATHSIG), elsewhere a watchdog thread sees its parent change.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Literal

from threadpoolctl import threadpool_limits

from numass.compare import EXECUTORS
from numass.compare.plan import Job, Settings
from numass.compare.tasks import (
    LOG_FILE,
    MANIFEST_FILE,
    STATE_FILE,
    check_task,
    evidence_method,
    execute,
    forget_task,
    install_interrupt_handler,
    job_parts,
    read_json,
    task_fingerprint,
)
from numass.errors import InputError
from numass.fileio import atomic_write_json
from numass.processes import die_with_parent
from numass.progress import TOTAL


def _task_main(job: Job, out: Path, settings: Settings, data_dir, part: str, threads, plot,
               echo, parent: int | None = None):
    """The body of a task's process."""
    if parent is not None:
        die_with_parent(parent)
    install_interrupt_handler(out / job.name, part)
    # the workers share the cores: BLAS/OpenMP threads inherited from the parent (one per core
    # each) would oversubscribe them (measured: 2 workers x 2 busy threads on 2 cores)
    limits = threadpool_limits(threads) if threads else contextlib.nullcontext()
    try:
        with limits:
            execute(job, out, settings, data_dir, part, plot=plot, echo=echo, threads=threads)
    except KeyboardInterrupt:
        sys.exit(130)


# processes started by this one's slots (stopped on Ctrl-C or an error)
_LIVE: set[BaseProcess] = set()
# set while a run stops: a slot freed by a stopped task must not start the next one
_STOPPING = threading.Event()
# when the run began to stop; a task finishing after it is not kept: its process got the
# SIGINT too (a terminal's Ctrl-C reaches the whole group) and something in it swallowed it
_STOPPED_AT: list[float] = []


def run_isolated(job: Job, out: Path, settings: Settings, data_dir, part: str, threads=None,
                 plot=None, echo: bool = True, *,
                 start_method: Literal["fork", "spawn"] | None = None) -> dict:
    """Run one task in a fresh process and return its state (job.json / evidence.json); a
    process that dies without writing it is recorded as an error."""
    if _STOPPING.is_set():
        return {"status": "interrupted"}
    method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods()
                              else "spawn")
    # one call per literal: typeshed types get_context(str) as a BaseContext, without .Process
    context = (multiprocessing.get_context("fork") if method == "fork"
               else multiprocessing.get_context("spawn"))
    sys.stdout.flush()  # a forked process must not inherit unwritten output
    sys.stderr.flush()
    p = context.Process(
        target=_task_main, args=(job, out, settings, data_dir, part, threads, plot, echo,
                                 os.getpid()),
        name=f"{job.name}-{part}")
    p.start()
    _LIVE.add(p)
    try:
        p.join()
    finally:
        _LIVE.discard(p)
    if p.exitcode in (130, -signal.SIGINT) or (p.exitcode != 0 and _STOPPING.is_set()):
        return {"status": "interrupted"}  # Ctrl-C (or a stop): nothing to record
    state, _ = check_task(job, part, out, settings)
    if state is not None:
        if _STOPPING.is_set() and _finished_after_stop(out / job.name / MANIFEST_FILE[part]):
            forget_task(job, part, out)
            return {"status": "interrupted"}
        return state
    state = read_json(out / job.name / STATE_FILE[part])
    if (state is None or state.get("fingerprint") != task_fingerprint(job, part, settings)
            or state.get("status") == "ok"):  # "ok" without a manifest: it died writing it
        state = {"name": job.name, "part": part,
                 "fingerprint": task_fingerprint(job, part, settings),
                 "spec": job.spec(), "label": job.label,
                 "status": f"error: the worker process died (exit code {p.exitcode})"}
        (out / job.name).mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / job.name / STATE_FILE[part], state, indent=1)
    return state


def _finished_after_stop(manifest: Path) -> bool:
    try:
        return manifest.stat().st_mtime >= (_STOPPED_AT or [0.0])[0]
    except OSError:
        return True


def run_isolated_mpi(*args) -> dict:
    """run_isolated on an MPI rank: a spawned process (no fork of an MPI process), and Cobaya
    told not to join the pool's MPI world (it would wait for the other ranks)."""
    os.environ["COBAYA_NOMPI"] = "1"
    return run_isolated(*args, start_method="spawn")


# rough seconds of a posterior task per theory backend on one core (full data, nautilus;
# measured: the late-time engines cost 3-4x the emulator per point), for the slowest-first order
BACKEND_COST = {"lscdm-emulator": 4.0, "nu_interacting-emulator": 2.5}


def _cost(job: Job, part: str) -> float:
    """Rough relative cost, to start the slowest tasks first (the longest-processing-time
    order, which keeps both cores busy to the end). A prior variant (a parameter's prior
    overridden) counts twice: its wider prior leaves the floors in the posterior's tail,
    resolved by extra runs (embedded ΛsCDM with z† in [1, 10]: 44 s, the slowest job, where it
    had started fourth)."""
    n = len(job.datasets) + 2 * (job.model != "lcdm") + 3 * ("w0wa" in job.model)
    cost = n * BACKEND_COST.get(job.backend or "", 1.0) * (2 if job.param_overrides else 1)
    return cost if part == "posterior" else cost / 3


def latest_progress(folder: Path, part: str) -> str:
    """The last convergence figure a task's log shows (for the heartbeat lines)."""
    try:
        with open(folder / LOG_FILE[part], "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 20000))
            tail = f.read().decode(errors="replace").splitlines()
    except OSError:
        return "starting"
    if part == "camb":
        return "CAMB check"
    for line in reversed(tail):
        if line.startswith("[evidence]") and "likelihood calls" in line:
            return "evidence, " + line.split("]", 1)[1].strip()
        if line.startswith("[evidence] full prior"):
            return "evidence on the full prior"
        if "nautilus:" in line and "likelihood calls" in line:
            return "nested sampling, " + line.split("nautilus:", 1)[1].split(" (")[0].strip()
        if "tail above" in line:
            return "tail by the evidence ratio"
        if "2/4 importance sampling" in line:
            return "importance sampling"
        if "Sampling complete" in line or "has converged" in line:
            return "MCMC done; best fit, profiles"
        if "Convergence of means" in line:
            return "MCMC, R-1 = " + line.split("R-1 =")[1].split()[0]
        if "Sampling!" in line:
            return "MCMC, first steps"
    return ("best fit" if part == "posterior" else "evidence, best fit") if tail else "starting"


def pending_tasks(jobs: list[Job], out: Path, settings: Settings, say=print,
                  sources: dict | None = None) -> list[tuple]:
    """The (job, part) tasks not finished yet, slowest first; says which are kept, and which
    finished ones are damaged (a file differs from its manifest), which start afresh."""
    todo = [j for j in jobs if not j.skip and not j.same_as]
    tasks = [(j, part) for j in todo for part in job_parts(j, settings)]
    done = []
    for j, part in tasks:
        state, damage = check_task(j, part, out, settings, sources)
        if state is not None:
            done.append((j, part))
        elif damage:
            say(f"[numass compare] {_task_name(j, part)}: {damage}; recomputing it")
            forget_task(j, part, out)
    if done:
        names = sorted({j.name for j, _ in done
                        if all((j, p) in done for p in job_parts(j, settings))})
        say(f"[numass compare] already finished in {out}, kept: "
            f"{', '.join(names) or '-'} ({len(done)} task(s))")
    pending = [t for t in tasks if t not in done]
    pending.sort(key=lambda t: -_cost(*t))
    return pending


def _make_executor(kind: str, workers: int):
    if kind == "local":
        return cf.ThreadPoolExecutor(max_workers=workers), run_isolated
    if kind == "mpi":
        try:
            from mpi4py.futures import MPIPoolExecutor  # optional: only this executor needs it
        except Exception as exc:  # noqa: BLE001 - ImportError, or no MPI library (RuntimeError)
            raise InputError(f"--executor mpi needs mpi4py and an MPI library: {exc}") from None
        return MPIPoolExecutor(), run_isolated_mpi
    raise InputError(f"executor '{kind}': use one of {', '.join(EXECUTORS)}")


class _Run:
    """The bookkeeping of one run_tasks call: futures, what runs, progress lines."""

    def __init__(self, pool, fn, out, settings, data_dir, threads, plot, say, n_total,
                 board=None) -> None:
        self.pool, self.fn, self.out, self.settings = pool, fn, out, settings
        self.args = (data_dir,)
        self.threads, self.plot, self.say, self.board = threads, plot, say, board
        self.futures: dict[cf.Future, tuple] = {}
        self.n_total, self.n_done, self.t0 = n_total, 0, time.time()
        self.lock = threading.Lock()

    def submit(self, task) -> None:
        j, part = task
        f = self.pool.submit(self.fn, j, self.out, self.settings, self.args[0], part,
                             self.threads, self.plot, self.board is None)
        with self.lock:
            self.futures[f] = task

    def finished(self, f: cf.Future) -> tuple:
        with self.lock:
            j, part = self.futures.pop(f)
        if self.board is not None:
            self.board.remove(_task_name(j, part))
        state = f.result()
        if state.get("status") != "interrupted":
            self.n_done += 1
            what = _task_name(j, part)
            self.say(f"[numass compare] {self.n_done}/{self.n_total} finished: {what} "
                     f"({state['status'][:120]}), {time.time() - self.t0:.0f} s elapsed")
        return j, part, state

    def heartbeat(self, n_held: int) -> None:
        """One line: each running task's progress, how many wait (queued or for a chain)."""
        with self.lock:
            items = list(self.futures.items())
        running = [t for f, t in items if f.running()]
        self.say("[numass compare] running: " + "; ".join(
            f"{_task_name(j, part)} "
            f"({latest_progress(self.out / j.name, part)})" for j, part in running)
            + f"; {len(items) - len(running) + n_held} waiting; "
              f"{time.time() - self.t0:.0f} s elapsed")


    def show(self, n_held: int) -> None:
        """Update the progress display: a row per running task, and the total."""
        with self.lock:
            items = list(self.futures.items())
        running = [t for f, t in items if f.running()]
        for j, part in running:
            stage, value, detail = _parse_progress(latest_progress(self.out / j.name, part))
            self.board.update(_task_name(j, part), stage=stage, value=value, detail=detail,
                              target=self.settings.rminus1 if value is not None else None)
        self.board.update(TOTAL, label="total", stage=(
            f"{self.n_done}/{self.n_total} tasks finished, {len(running)} running, "
            f"{len(items) - len(running) + n_held} waiting"))


_PART_SUFFIX = {"posterior": "", "evidence": " (evidence)", "camb": " (CAMB check)"}


def _task_name(j: Job, part: str) -> str:
    return j.name + _PART_SUFFIX[part]


def _parse_progress(text: str) -> tuple[str, float | None, str | None]:
    """latest_progress's text -> (stage, R-1 or None, what changes within the stage or None)."""
    if text.startswith("MCMC, R-1 = "):
        try:
            return "MCMC", float(text.split("=", 1)[1]), None
        except ValueError:
            pass
    stage, _, detail = text.partition(", ")
    if stage == "evidence" and detail.endswith("likelihood calls"):
        return stage, None, detail
    return text, None, None


def _waits_for_chain(task, settings: Settings) -> bool:
    """The CAMB check and an importance-sampling evidence start from the finished posterior."""
    j, part = task
    return part == "camb" or (part == "evidence" and evidence_method(j, settings) == "importance")


def _drive(run: _Run, pending: list[tuple], heartbeat: float) -> None:
    """Submit what can start, then the chain-dependent evidence tasks as their chains finish."""
    waiting = [t for t in pending if _waits_for_chain(t, run.settings)
               and (t[0], "posterior") in pending]
    for t in pending:
        if t not in waiting:
            run.submit(t)
    last_beat = time.time()
    while run.futures:
        done, _ = cf.wait(list(run.futures), timeout=5, return_when=cf.FIRST_COMPLETED)
        for f in done:
            j, part, _ = run.finished(f)
            for t in [t for t in waiting if part == "posterior" and t[0] is j]:
                waiting.remove(t)
                run.submit(t)
        if run.board is not None:
            run.show(len(waiting))
        elif time.time() - last_beat > heartbeat:  # a line a minute while the chains run
            last_beat = time.time()
            run.heartbeat(len(waiting))


def _stop_live(interrupted: bool) -> None:
    """Ctrl-C reached the processes too: give them a moment; anything else: stop them. Repeated
    until none is left (a slot may have started one while the first ones stopped)."""
    for _ in range(10):
        live = list(_LIVE)
        if not live:
            return
        for p in live:
            p.join(timeout=10 if interrupted else 0)
            if p.is_alive():
                p.terminate()
                p.join()
        time.sleep(0.2)


def run_tasks(jobs: list[Job], out: Path, settings: Settings, data_dir: str | None = None,
              workers: int = 2, say=print, heartbeat: float = 60.0, executor: str = "local",
              plot=None, board=None, sources: dict | None = None) -> None:
    """Run the tasks not finished yet, ``workers`` at a time (``executor`` 'local'), or over
    the MPI ranks ('mpi'), each in its own process. ``board`` (a progress.ProgressDisplay)
    shows a row per running task instead of the tasks' messages and the heartbeat lines.
    ``sources`` (plan.data_sources): a finished task read from other data is recomputed."""
    pending = pending_tasks(jobs, out, settings, say, sources)
    if not pending:
        return
    workers = max(1, min(workers, len(pending)))
    pool, fn = _make_executor(executor, workers)
    say(f"[numass compare] {len(pending)} task(s) to run, "
        f"{workers if executor == 'local' else 'the MPI ranks'} at a time: "
        f"{', '.join(_task_name(j, part) for j, part in pending)}")
    threads = max(1, (os.cpu_count() or 1) // workers) if executor == "local" else None
    run = _Run(pool, fn, out, settings, data_dir, threads, plot, say, len(pending), board)

    def on_sigterm(signum, frame):  # a kill (e.g. a CI timeout) stops the workers too
        raise SystemExit(128 + signum)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        _drive(run, pending, heartbeat)
    except BaseException as exc:
        _STOPPED_AT[:] = [time.time()]
        _STOPPING.set()  # no queued task starts while the running ones stop
        pool.shutdown(wait=False, cancel_futures=True)
        _stop_live(isinstance(exc, KeyboardInterrupt))
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _STOPPING.clear()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
