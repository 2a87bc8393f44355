"""Every command shown in README.md, run for real at small sizes (issue 20, item 8).

The commands come from README.md's fenced shell blocks, so a new README command is picked up
automatically; ``COMMANDS`` says how each one is checked:

- ``run``: run it as a user does (``numass ...`` through the installed command, ``python
  benchmarks/...`` with this Python), each in a fresh process, with the options in ``extra``
  appended to shrink it (argparse keeps the last value of a repeated option), in one shared
  folder in README order, and check its exit status and the files it documents;
- ``offline``: a command that needs the network, run in-process with the hosts faked
  unreachable: it must stop with status 2 and a clear message listing each file's URL and the
  target folder;
- ``parse``: a command that cannot run here (MPI): its numass part must still parse;
- ``text``: install commands and the like, checked as text (e.g. against .ci/run), never run.

A README command without an entry fails, and so does an entry for a command the README no longer
shows. Commands that need the public data skip when NUMASS_DATA_DIR is not set (without it the
test points NUMASS_DATA_DIR at an empty folder, so nothing reads the user cache).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from numass.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"
SHELL_FENCES = ("bash", "sh", "shell", "console", "")


# --- the README's commands ------------------------------------------------------------------------

def fenced_commands(text: str) -> list[str]:
    """The commands of the fenced shell blocks, in order, once each: comments dropped, lines
    continued with a backslash joined, ``a && b`` split into ``a`` and ``b``."""
    commands: list[str] = []
    for lang, block in re.findall(r"^```[ \t]*(\w*)[^\n]*\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        if lang not in SHELL_FENCES:
            continue
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            for part in (" ".join(p.split()) for p in line.split("&&")):
                if part and part not in commands:
                    commands.append(part)
    return commands


def inline_commands(text: str) -> list[str]:
    """``numass ...`` written in the prose (inside backticks, outside the fenced blocks)."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    return sorted(set(re.findall(r"`(numass [^`]+)`", prose)))


README_TEXT = README.read_text()
README_COMMANDS = fenced_commands(README_TEXT)


# --- checks used by the table ---------------------------------------------------------------------

def _ci_lines() -> list[list[str]]:
    """.ci/run's commands as words (lines continued with a backslash joined)."""
    return [shlex.split(line, comments=True)
            for line in CI.read_text().replace("\\\n", " ").splitlines()]


def _in_ci(command: str) -> None:
    assert shlex.split(command) in _ci_lines(), f".ci/run does not run `{command}`"


def _ci_installs_the_same(command: str) -> None:
    """.ci/run installs the same extras (it adds only --quiet)."""
    want = shlex.split(command)
    found = [[t for t in ln if t != "--quiet"] for ln in _ci_lines()]
    assert want in found, f".ci/run does not run `{command}` (give or take --quiet)"
    assert "test = [" in (ROOT / "pyproject.toml").read_text()


def _ci_runs_the_test_command(command: str) -> None:
    """.ci/run runs the README's test command (it may add reporting flags after it)."""
    want = shlex.split(command)
    assert any(ln[:len(want)] == want and all(t.startswith("-") for t in ln[len(want):])
               for ln in _ci_lines()), f".ci/run does not run `{command}`"


def _installs_the_numass_command(command: str) -> None:
    assert shlex.split(command) == ["pip", "install", "-e", "."]
    assert 'numass = "numass.cli:main"' in (ROOT / "pyproject.toml").read_text()


def _names_the_data_variable(command: str) -> None:
    from numass.data.store import ENV_VAR

    assert command.split()[1].split("=")[0] == ENV_VAR


def _mpi4py_is_what_the_code_imports(command: str) -> None:
    assert "mpi4py" in (ROOT / "src/numass/compare/executor.py").read_text()


def _summary(folder: str) -> dict:
    return json.loads(Path(folder, "summary.json").read_text())


def _records_overrides(*names: str) -> Callable:
    def check(out: str, folder: str) -> None:
        recorded = _summary(folder).get("param_overrides", {})
        assert set(names) <= set(recorded), recorded
    return check


def _chi2_json(out: str, folder: str) -> None:
    table = json.loads(out.strip().splitlines()[-1])
    assert list(table) == ["desi-dr2-bao"] and np.isfinite(table["desi-dr2-bao"])


def _chi2_table(out: str, folder: str) -> None:
    for lik_id in ("act-dr6-lensing", "planck2018-plik-lite-TTTEEE"):
        assert re.search(rf"^{lik_id}\s+chi2 = [0-9.]+$", out, re.MULTILINE), out


def _spectra_npz(path: str) -> Callable:
    def check(out: str, folder: str) -> None:
        with np.load(path) as f:
            assert {"ell", "DlTT", "DlTE", "DlEE", "DlBB", "clpp_L2"} <= set(f.files)
            assert np.all(np.isfinite(f["DlTT"][2:]))
    return check


def _lists_every_data_set(out: str, folder: str) -> None:
    from numass.data.registry import datasets

    for ds_id in datasets():
        assert ds_id in out


def _help_lists_the_options(out: str, folder: str) -> None:
    assert out.startswith("usage: numass run")
    for option in ("--out", "--data", "--model", "--fix", "--prior", "--sampler", "--restart"):
        assert option in out


def _prints(*fragments: str) -> Callable:
    def check(out: str, folder: str) -> None:
        for f in fragments:
            assert f in out, out
    return check


# --- the table: how each README command is run ----------------------------------------------------

@dataclass(frozen=True)
class Case:
    how: str                          # "run", "offline", "parse" or "text"
    extra: tuple[str, ...] = ()       # appended options that shrink the command
    outputs: tuple[str, ...] = ()     # files it must write, relative to the shared folder
    why: str = ""                     # how it is shrunk, or why it is not run
    data: bool = False                # needs the public data sets
    needs: tuple[str, ...] = ()       # README commands whose outputs it reads
    before: tuple[tuple[str, ...], ...] = ()  # numass argv the test runs first (files it reads)
    check: Callable | None = None     # run: check(stdout, out folder); text: check(command)
    folder: str = ""                  # output folder handed to check
    slow: bool = False
    xfail: str = ""                   # a known bug being fixed elsewhere (strict)


RUN_FILES = ("summary.json", "triangle.png", "chains", "log.txt")
COMPARE_FILES = ("summary.json", "report.html", "report.md")
QUICK = "--quick: nautilus 200 live points, n_eff 1000 (MCMC: R-1 < 0.1, bounds < 0.5)"
QUICK_COMPARE = ("--quick --only lcdm --camb-check none: one hypothesis with compare's quick "
                 "settings, no CAMB check")

def _files(folder: str, names=RUN_FILES) -> tuple[str, ...]:
    return tuple(f"{folder}/{n}" for n in names)


COMMANDS: dict[str, Case] = {
    # -- install and test: text only (they install from the package registry) --
    "python3 -m venv .venv": Case("text", check=_in_ci, why="makes a venv; .ci/run does the same"),
    ". .venv/bin/activate": Case("text", check=_in_ci, why="shell; .ci/run does the same"),
    "pip install -e .": Case("text", check=_installs_the_numass_command,
                             why="installs from the registry; pyproject declares `numass`"),
    "numass run": Case("run", ("--quick",), _files("numass-out"), QUICK, slow=True),
    'pip install -e ".[test]"': Case("text", check=_ci_installs_the_same,
                                     why="installs from the registry; .ci/run does the same"),
    "python -m pytest -q": Case("text", check=_ci_runs_the_test_command,
                                why="the whole suite (this test is part of it); .ci/run runs it"),
    # -- the data --
    "numass data list": Case("run", check=_lists_every_data_set,
                             why="NUMASS_DATA_DIR, or an empty folder when unset"),
    "numass data fetch --all": Case("offline", why="needs the network: run with the host "
                                                   "unreachable (faked), into an empty folder"),
    "numass data fetch desi_bao_dr2": Case("offline", why="as fetch --all"),
    "numass data verify": Case("run", why="NUMASS_DATA_DIR, or an empty folder when unset"),
    "export NUMASS_DATA_DIR=/path/to/data": Case("text", check=_names_the_data_variable,
                                                 why="shell; the variable numass reads"),
    # -- other commands --
    "numass run --data full --out numass-out-full": Case(
        "run", ("--quick",), _files("numass-out-full"), QUICK, data=True, slow=True),
    "numass run --data desi-dr2-bao-nolrg1,cmb-compressed --out numass-out-nolrg1": Case(
        "run", ("--quick",), _files("numass-out-nolrg1"), QUICK, slow=True),
    "numass chi2 --data act-dr6-lensing,planck2018-plik-lite-TTTEEE --spectra my_spectra.npz "
    "--param A_planck=1.0": Case(
        "run", data=True, check=_chi2_table, why="my_spectra.npz written first by `numass theory "
        "--backend emulator`",
        before=(("theory", "--model", "lcdm", "--backend", "emulator", "--out",
                 "my_spectra.npz"),)),
    "numass chi2 --data desi-dr2-bao --param H0=68 --param mnu=0.06 --json": Case(
        "run", check=_chi2_json, why="as shown (< 1 s)"),
    "numass theory --model lcdm --backend camb --param mnu_eff=-0.1 --out point.npz": Case(
        "run", outputs=("point.npz",), check=_spectra_npz("point.npz"),
        why="as shown (two CAMB runs, a few s)"),
    "numass theory --model w0wa --backend emulator --param w=-0.8 --param wa=-0.7 --out emu.npz":
        Case("run", outputs=("emu.npz",), check=_spectra_npz("emu.npz"), why="as shown"),
    "numass emulator validate --n 40": Case(
        "run", ("--n", "2", "--n-chi2", "0"), check=_prints("verdict: PASS"),
        why="2 fresh CAMB points instead of 40, no chi2 check (--n-chi2 0: its known misses "
            "of the 0.1 target, docs/emulator.md, make the command exit 1)", slow=True),
    "numass fit --model lscdm": Case("run", ("--quick",), _files("numass-fit-lscdm"), QUICK,
                                     slow=True),
    "numass compare": Case("run", ("--quick", "--only", "lcdm", "--camb-check", "none"),
                           _files("numass-compare", COMPARE_FILES), QUICK_COMPARE, slow=True),
    "numass compare --quick --out quick-look": Case(
        "run", ("--only", "lcdm", "--camb-check", "none"), _files("quick-look", COMPARE_FILES),
        "--only lcdm --camb-check none: one hypothesis", slow=True),
    "numass compare --data full --out numass-compare-full": Case(
        "run", ("--quick", "--only", "lcdm", "--camb-check", "none"),
        _files("numass-compare-full", COMPARE_FILES),
        QUICK_COMPARE + " (the full run takes 28 min)", data=True, slow=True),
    "numass forecast --out numass-forecast": Case(
        "run", ("--experiments", "s4+s4_lensing+litebird_tau+desi_final", "--truths",
                "lcdm_floor,w0wa", "--hypotheses", "lcdm,w0wa"),
        ("numass-forecast/summary.json", "numass-forecast/report.html"),
        "one combination, two truths, two hypotheses (the default: 6 x 7 x 6, ~4 min)"),
    "numass profile --model lcdm --param mnu_eff --range=-0.35,0.2,12": Case(
        "run", ("--range=-0.35,0.2,3",), ("numass-profile/profile_mnu_eff.json",
                                          "numass-profile/profile_mnu_eff.png"),
        "3 values instead of 12"),
    "numass run --sampler mcmc --out numass-out-mcmc": Case(
        "run", ("--quick", "--seed", "1"), _files("numass-out-mcmc"), QUICK + ", seed 1",
        slow=True),
    "numass fit --model AL --data full --fix mnu_eff=0.06": Case(
        "run", ("--quick",), _files("numass-fit-AL"), QUICK, data=True, slow=True,
        check=_records_overrides("mnu_eff"), folder="numass-fit-AL"),
    "numass run --prior mnu_eff=-1,1 --prior H0=gauss:73,1 --out numass-out-prior": Case(
        "run", ("--quick",), _files("numass-out-prior"), QUICK,
        check=_records_overrides("mnu_eff", "H0"), folder="numass-out-prior", slow=True),
    "numass report numass-compare": Case(
        "run", outputs=("numass-compare/report.html", "numass-compare/report.md"),
        needs=("numass compare",), why="re-renders the folder of `numass compare` above (its "
                                       "report deleted first)", slow=True),
    "numass run --help": Case("run", check=_help_lists_the_options, why="as shown"),
    # -- speed --
    "python benchmarks/bench_theory.py": Case(
        "run", ("--camb-points", "1"), check=_prints("numass background (own code)"),
        why="1 CAMB point per timing instead of 3 (still ~20 s: 20 CAMB backgrounds and 200 "
            "calls of each likelihood)", slow=True),
    "python benchmarks/bench_emulator.py": Case(
        "run", ("--camb-points", "1", "--emulator-points", "20"), check=_prints("ratio"),
        why="1 CAMB point and 20 emulator points instead of 3 and 300", slow=True),
    # -- MPI --
    "sudo apt-get install openmpi-bin libopenmpi-dev": Case(
        "text", why="root and the network: system packages are not installed by tests"),
    "pip install mpi4py": Case("text", check=_mpi4py_is_what_the_code_imports,
                               why="installs from the registry"),
    "mpirun -n 2 numass run --out numass-out-mpi": Case(
        "parse", why="needs an MPI runtime and two processes: its numass part must parse"),
}


# --- running --------------------------------------------------------------------------------------

@dataclass
class Shared:
    path: Path                                    # the one folder every command runs in
    done: dict[str, tuple[int, str, str]]         # README command -> (status, stdout, stderr)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Shared:
    return Shared(tmp_path_factory.mktemp("readme"), {})


@pytest.fixture
def in_shared(shared, monkeypatch) -> Shared:
    """cwd = the shared folder; NUMASS_DATA_DIR = an empty folder unless the data is there."""
    monkeypatch.chdir(shared.path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if not os.environ.get("NUMASS_DATA_DIR"):
        (shared.path / "no-data").mkdir(exist_ok=True)
        monkeypatch.setenv("NUMASS_DATA_DIR", str(shared.path / "no-data"))
    return shared


def _numass(argv: list[str], capsys) -> tuple[int, str, str]:
    """numass in-process (for the offline check, whose network is faked in this process)."""
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse: --help (0) or a rejected option (2)
        rc = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    out, err = capsys.readouterr()
    return rc, out, err


def _numass_script() -> list[str]:
    """The installed `numass` command next to this Python, else ``python -m numass.cli``."""
    script = Path(sys.executable).with_name("numass")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "numass.cli"]


def _subprocess(argv: list[str], folder: Path) -> tuple[int, str, str]:
    """A command in its own process, as a user runs it (a fresh process each: in-process, the
    fork pools of `emulator validate` hang once CAMB's OpenMP has run in the parent)."""
    if argv[0] == "numass":
        argv = _numass_script() + argv[1:]
    else:
        assert argv[0] == "python" and argv[1].startswith("benchmarks/"), argv
        argv = [sys.executable, str(ROOT / argv[1]), *argv[2:]]
    proc = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=600,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


def run_readme(command: str, shared: Shared) -> tuple[int, str, str]:
    """Run a README command once (with the commands it needs first); its status and output."""
    if command in shared.done:
        return shared.done[command]
    case = COMMANDS[command]
    for dep in case.needs:
        assert run_readme(dep, shared)[0] == 0, f"`{command}` needs `{dep}`, which failed"
    for argv in case.before:
        rc, _, err = _subprocess(["numass", *argv], shared.path)
        assert rc == 0, f"preparing `{command}`: numass {' '.join(argv)} failed: {err[-2000:]}"
    for rel in case.outputs:  # a file left by an earlier command must be written again
        if (shared.path / rel).is_file():
            (shared.path / rel).unlink()
    shared.done[command] = _subprocess(shlex.split(command) + list(case.extra), shared.path)
    return shared.done[command]


def _marks(command: str) -> list:
    case = COMMANDS.get(command)
    if case is None:
        return []
    marks = [pytest.mark.slow] if case.slow else []
    if case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
    return marks


def _check_offline(argv: list[str], tmp_path, monkeypatch, capsys) -> None:
    import numass.data.fetch as fetch_mod
    from numass.data.registry import datasets

    def no_download(*args, **kwargs):
        raise AssertionError("offline: nothing may be downloaded")

    monkeypatch.setattr(fetch_mod, "host_reachable", lambda url, timeout=3.0: False)
    monkeypatch.setattr("pooch.retrieve", no_download)
    empty = tmp_path / "data"
    rc, out, err = _numass(argv[1:] + ["--data-dir", str(empty)], capsys)
    assert rc == 2, (rc, out, err)
    assert "numass: error:" in err and "Traceback" not in err
    assert "cannot reach" in err and "offline?" in err
    ids = list(datasets()) if "--all" in argv else [a for a in argv[3:] if not a.startswith("-")]
    for ds_id in ids:
        assert f"into {empty / ds_id}/" in err, ds_id
        for f in datasets()[ds_id].files:
            assert f.url in err
    assert "numass data verify" in err
    assert not any(empty.rglob("*")), "nothing is written offline"


@pytest.mark.parametrize("command", [pytest.param(c, id=c, marks=_marks(c))
                                     for c in README_COMMANDS])
def test_readme_command(command, request, tmp_path, monkeypatch, capsys):
    case = COMMANDS.get(command)
    assert case is not None, (f"README.md shows `{command}`, which has no entry in "
                              f"tests/test_readme.py's COMMANDS: say how to run it small (or why "
                              f"it is checked as text only)")
    if case.data:
        request.getfixturevalue("data_dir")  # skips with the reason when NUMASS_DATA_DIR is unset
    in_shared = request.getfixturevalue("in_shared")  # after data_dir: it may set the variable
    if case.how == "text":
        assert case.why, f"say why `{command}` is not run"
        if case.check:
            case.check(command)
        return
    argv = shlex.split(command)
    if case.how == "parse":
        numass_argv = argv[argv.index("numass") + 1:]
        build_parser().parse_args(numass_argv)  # SystemExit(2) when an option is rejected
        return
    if case.how == "offline":
        _check_offline(argv, tmp_path, monkeypatch, capsys)
        return
    assert case.how == "run", case.how
    rc, out, err = run_readme(command, in_shared)
    assert rc == 0, f"`{command} {' '.join(case.extra)}` exited {rc}:\n{err[-3000:]}"
    for rel in case.outputs:
        assert (in_shared.path / rel).exists(), f"`{command}` did not write {rel}"
    for rel in case.outputs:  # the shrinking option reached the run (README: recorded there)
        if command.startswith(("numass run", "numass fit")) and rel.endswith("/summary.json"):
            assert json.loads((in_shared.path / rel).read_text()).get("quick") is True, rel
    if case.check:
        case.check(out, str(in_shared.path / case.folder))


# --- the table and the README stay in step --------------------------------------------------------

def test_readme_has_commands_and_the_table_no_stale_entries():
    assert "numass run" in README_COMMANDS and len(README_COMMANDS) > 20
    stale = [c for c in COMMANDS if c not in README_COMMANDS]
    assert not stale, f"COMMANDS lists commands README.md no longer shows: {stale}"
    for command, case in COMMANDS.items():
        assert case.how in ("run", "offline", "parse", "text"), command
        if case.how in ("text", "parse", "offline") or case.extra:
            assert case.why, f"say why `{command}` is shrunk or not run"


def test_the_extractor_splits_and_drops_comments():
    text = ("x\n```bash\n# a comment\nnumass run --out a   # what it does\n"
            "a && b \\\n  --c\nnumass run --out a\n```\n```python\nimport numass\n```\n")
    assert fenced_commands(text) == ["numass run --out a", "a", "b --c"]


@pytest.mark.parametrize("command", inline_commands(README_TEXT))
def test_commands_named_in_the_prose_parse(command, capsys):
    """`numass ...` mentioned in a sentence: its options must still be accepted; a bare command
    name (`numass chi2`) must name a command (its --help exits 0)."""
    argv = shlex.split(command)[1:]
    if any(a.startswith("-") and a != "-v" for a in argv):
        build_parser().parse_args(argv)
        return
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*argv, "--help"])
    assert exc.value.code == 0, command
