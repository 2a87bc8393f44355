"""`numass compare` and `numass report` under faults: Ctrl-C, kill -9 (of the command and of a
task's process), damaged results, two commands on one folder, other data, failed tasks, OS
errors. Small: the embedded data, --quick, the ΛCDM job alone (a run takes ~10 s on 2 cores);
one uninterrupted run is the reference that every resumed or recomputed run must equal.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from numass.compare.plan import Settings, plan, select

SHARED_DATA = Path(os.environ.get("NUMASS_DATA_DIR") or "/work/shared/data")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMASS_DATA_DIR"}
    return {**env, "MPLBACKEND": "Agg", **extra}


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "numass.cli", "compare", "--quick", "--only", "lcdm",
            "--out", str(out), *extra]


def _run(out: Path, *extra: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(out, *extra), env=env or _env(), capture_output=True, text=True,
                          timeout=400, check=False)


def _start(out: Path) -> subprocess.Popen:
    """The command in its own session (a terminal's Ctrl-C reaches its whole group), with the
    default SIGINT handler even where pytest runs with SIGINT ignored (a background shell)."""
    return subprocess.Popen(_cmd(out), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _numbers(out: Path) -> dict:
    e = json.loads((out / "summary.json").read_text())["hypotheses"]["lcdm"]
    assert e["status"] == "ok", e["status"]
    return {"mnu_eff": e["mnu_eff"], "tension": e["tension_sigma"],
            "ln_evidence": e["ln_evidence"], "ln_evidence_err": e["ln_evidence_err"],
            "chi2": e["bestfit"]["chi2"]}


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _alive(pid: int) -> bool:
    """Running (a zombie left for a reaper that never comes counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(predicate, what: str, limit: float = 120.0):
    t0 = time.time()
    while time.time() - t0 < limit:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _sampling(out: Path) -> bool:
    """The posterior's sampling has begun (--quick: importance sampling around the best fit;
    nautilus where it does not cover)."""
    try:
        text = (out / "lcdm" / "log.txt").read_text()
    except OSError:
        return False
    return "nested sampling" in text or "importance sampling" in text


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One uninterrupted run (seed 1): the numbers every other run must give."""
    out = tmp_path_factory.mktemp("faults") / "reference"
    r = _run(out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def _copy(reference: Path, tmp_path: Path) -> Path:
    out = tmp_path / "cmp"
    shutil.copytree(reference, out)
    return out


# ---------------------------------------------------------------- Ctrl-C

@pytest.mark.slow
def test_ctrl_c_then_resume_gives_the_uninterrupted_numbers(reference, tmp_path):
    out = tmp_path / "cmp"
    proc = _start(out)
    _wait_for(lambda: _sampling(out), "the sampling to start")
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    log, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, log[-3000:]
    assert not (out / "lcdm" / "manifest_posterior.json").exists()  # not recorded as finished
    status = json.loads((out / "summary.json").read_text())["hypotheses"]["lcdm"]["status"]
    assert status.startswith("not run"), status
    r = _run(out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert _numbers(out) == _numbers(reference)


def test_a_swallowed_ctrl_c_is_never_recorded_as_finished(tmp_path, monkeypatch):
    """scikit-learn's training caught KeyboardInterrupt and carried on: the task must still
    not be kept, and its resume drops the checkpoints written after the interrupt."""
    from numass.compare import tasks

    job = select(plan("embedded"), ["lcdm"])[0]
    folder = tmp_path / job.name

    def swallowing(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            pass
        (folder / "chains").mkdir(parents=True, exist_ok=True)
        (folder / "chains" / "nautilus.hdf5").write_bytes(b"written after the interrupt")
        return {"mnu_eff": {"mean": 0.0, "std": 1.0},
                "tension_sigma": {"normal_ordering": 1.0},
                "tension_sigma_profile": {"normal_ordering": 1.0}}

    monkeypatch.setattr(tasks, "run_posterior", swallowing)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # not ignored
    try:
        tasks.install_interrupt_handler(folder, "posterior")
        with pytest.raises(KeyboardInterrupt):
            tasks.execute(job, tmp_path, Settings.make(quick=True), echo=False)
    finally:
        signal.signal(signal.SIGINT, previous)
        tasks._INTERRUPTED.clear()
    assert not (folder / "job.json").exists() and not (folder / "manifest_posterior.json").exists()
    said = []
    tasks._drop_checkpoints_after_interrupt(folder, "posterior", said.append)
    assert not (folder / "chains" / "nautilus.hdf5").exists() and "afresh" in said[0]
    assert not tasks.interrupt_mark(folder, "posterior").exists()


# ---------------------------------------------------------------- kill -9

@pytest.mark.slow
def test_kill_9_of_a_worker_then_of_the_command(reference, tmp_path):
    out = tmp_path / "cmp"
    # a task's process killed: the task is reported failed, the command ends with status 1
    proc = _start(out)
    worker = _wait_for(lambda: _sampling(out) and _children(proc.pid), "the task's process")[0]
    os.kill(worker, signal.SIGKILL)
    log, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, log[-3000:]
    status = json.loads((out / "summary.json").read_text())["hypotheses"]["lcdm"]["status"]
    assert status == "error: the worker process died (exit code -9)"
    assert "failed: lcdm (see" in log and str(out / "lcdm" / "log.txt") in log
    # the command killed: its task's process follows within seconds, the lock is free
    proc = _start(out)
    worker = _wait_for(lambda: _sampling(out) and _children(proc.pid), "the task's process")[0]
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    _wait_for(lambda: not _alive(worker), "the orphaned task's process to end", limit=5.0)
    # it ended with the command, not by finishing its task (which the rerun must redo)
    assert not (out / "lcdm" / "manifest_posterior.json").exists()
    r = _run(out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "unable to lock" not in r.stdout + r.stderr
    assert _numbers(out) == _numbers(reference)


# ---------------------------------------------------------------- damaged results

@pytest.mark.slow
def test_a_truncated_chain_is_refused_by_report_and_recomputed(reference, tmp_path, capsys):
    from numass.cli import main

    out = _copy(reference, tmp_path)
    chain = out / "lcdm" / "chains" / "numass.1.txt"
    lines = chain.read_text().splitlines(keepends=True)
    chain.write_text("".join(lines[:len(lines) // 2]))  # cut at a line boundary
    assert main(["report", str(out)]) != 0
    err = capsys.readouterr().err
    assert str(chain) in err and err.count("\n") == 1
    r = _run(out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"{chain} differs" in r.stdout + r.stderr and "recomputing" in r.stdout + r.stderr
    assert _numbers(out) == _numbers(reference)
    assert main(["report", str(out)]) == 0


@pytest.mark.slow
def test_an_invalid_task_summary_is_named_and_recomputed(reference, tmp_path):
    from numass.compare.collect import collect
    from numass.compare.executor import pending_tasks
    from numass.likelihoods import EMBEDDED

    out = _copy(reference, tmp_path)
    (out / "lcdm" / "summary.json").write_text('{"mnu_eff": ')
    jobs, settings = select(plan("embedded"), ["lcdm"]), Settings.make(quick=True)
    status = collect(jobs, out, settings, "embedded", list(EMBEDDED))["hypotheses"]["lcdm"]
    assert status["status"].startswith(f"error: {out / 'lcdm' / 'summary.json'} differs")
    said = []
    pending = pending_tasks(jobs, out, settings, say=said.append)
    assert [(j.name, part) for j, part in pending] == [("lcdm", "posterior")]
    assert "summary.json differs" in said[0] and "recomputing" in said[0]
    assert not (out / "lcdm" / "manifest_posterior.json").exists()  # starts afresh


def test_an_os_error_leaves_no_half_written_result(tmp_path, monkeypatch):
    """A full disk while a task records its state: no state, no manifest, no temporary file;
    the task is not finished."""
    from numass import fileio
    from numass.compare import tasks

    job = select(plan("embedded"), ["lcdm"])[0]
    monkeypatch.setattr(tasks, "run_posterior", lambda *a, **k: {
        "mnu_eff": {"mean": 0.0, "std": 1.0}, "tension_sigma": {"normal_ordering": 1.0},
        "tension_sigma_profile": {"normal_ordering": 1.0}})
    real_fsync = os.fsync

    def full_disk(fd):
        if "job.json" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(fileio.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        tasks.execute(job, tmp_path, Settings.make(quick=True), echo=False)
    folder = tmp_path / job.name
    assert not (folder / "job.json").exists() and not (folder / "manifest_posterior.json").exists()
    assert not list(folder.glob(".*.tmp"))
    assert tasks.check_task(job, "posterior", tmp_path, Settings.make(quick=True)) == (None, None)


# ---------------------------------------------------------------- the folder

def test_one_command_per_folder_an_out_file_and_bad_numbers(tmp_path, capsys):
    from numass.cli import main
    from numass.fileio import FolderLock

    out = tmp_path / "cmp"
    with FolderLock(out):
        t0 = time.time()
        r = _run(out)
    assert r.returncode != 0 and "another numass command is writing to" in r.stderr
    assert time.time() - t0 < 60 and not (out / "summary.json").exists()
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    assert main(["compare", "--out", str(a_file)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    for flag, value in (("--jobs", "0"), ("--nlive", "-5"), ("--rminus1", "0"),
                        ("--seed", "-1"), ("--camb-steps", "-1")):
        assert main(["compare", "--out", str(tmp_path / "x"), f"{flag}={value}"]) == 2
        assert flag in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_other_settings_are_refused_naming_them(reference, tmp_path, capsys, monkeypatch):
    from numass.cli import main

    monkeypatch.delenv("NUMASS_DATA_DIR", raising=False)
    out = _copy(reference, tmp_path)
    before = (out / "lcdm" / "manifest_posterior.json").read_bytes()
    assert main(["compare", "--quick", "--only", "lcdm", "--out", str(out), "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert "setting seed 1 → 2" in err and "--restart" in err and err.count("\n") == 1
    assert main(["compare", "--only", "lcdm", "--out", str(out), "--camb-check", "none"]) == 2
    assert "setting quick True → False" in capsys.readouterr().err
    assert (out / "lcdm" / "manifest_posterior.json").read_bytes() == before  # untouched


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "desi_bao_dr2").is_dir(), reason="no DESI DR2 data files")
def test_other_data_is_refused_and_restart_starts_afresh(reference, tmp_path, capsys):
    from numass.cli import main

    out = _copy(reference, tmp_path)
    data = tmp_path / "data"
    shutil.copytree(SHARED_DATA / "desi_bao_dr2", data / "desi_bao_dr2")
    assert main(["compare", "--quick", "--only", "lcdm", "--out", str(out),
                 "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "desi-dr2-bao: the embedded table → the files in desi_bao_dr2" in err and "--restart" in err
    (out / "lcdm" / "keep.txt").write_text("")  # a task folder: removed by --restart
    r = _run(out, "--data-dir", str(data), "--restart")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert not (out / "lcdm" / "keep.txt").exists()
    s = json.loads((out / "summary.json").read_text())
    assert s["data"]["sources"]["desi-dr2-bao"] == "files"
    assert "read from the data files" in s["data"]["label"]
    manifest = json.loads((out / "lcdm" / "manifest_posterior.json").read_text())
    assert manifest["data"]["desi-dr2-bao"]["source"] == "files"


@pytest.mark.skipif(not (SHARED_DATA / "desi_bao_dr2").is_dir(), reason="no DESI DR2 data files")
def test_failed_tasks_give_status_1_and_name_existing_files(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SHARED_DATA / "desi_bao_dr2", data / "desi_bao_dr2")
    for f in (data / "desi_bao_dr2").glob("*mean*"):
        f.write_text(f.read_text() + "corrupt\n")
    out = tmp_path / "cmp"
    r = _run(out, "--data-dir", str(data))
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("[numass] failed:")]
    tb = out / "lcdm" / "traceback_posterior.txt"
    assert len(line) == 1 and f"lcdm (see {tb})" in line[0] and tb.is_file()
    status = json.loads((out / "summary.json").read_text())["hypotheses"]["lcdm"]["status"]
    assert status.startswith("error: DataError")
