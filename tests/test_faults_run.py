"""Faults of the single-run commands (run, fit, profile, theory, chi2, emulator validate): a
fixed mass on every sampler, one writer per folder, OS errors as one line, numeric options
checked, clear messages for other settings and incomplete spectra, the validated range, the
emulator's verdict."""
import errno
import json
import os

import numpy as np
import pytest

from numass.chi2 import read_spectra_npz
from numass.cli import main
from numass.fileio import FolderLock


@pytest.fixture(autouse=True)
def embedded_only(monkeypatch):
    """These runs use the embedded data; no data directory is needed."""
    monkeypatch.delenv("NUMASS_DATA_DIR", raising=False)


@pytest.fixture(scope="module")
def fixed_mass_run(tmp_path_factory):
    """`numass run --quick --fix mnu_eff=0.06` on the default sampler (--quick: importance
    sampling around the best fit, which covers this Gaussian-like posterior)."""
    out = tmp_path_factory.mktemp("fixed")
    old = os.environ.pop("NUMASS_DATA_DIR", None)
    try:
        code = main(["run", "--quick", "--fix", "mnu_eff=0.06", "--seed", "2", "--out", str(out)])
    finally:
        if old is not None:
            os.environ["NUMASS_DATA_DIR"] = old
    return code, out, json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_fix_of_the_mass_on_the_default_sampler(fixed_mass_run):
    code, out, s = fixed_mass_run
    assert code == 0 and s["sampler"] == "importance"
    assert s["mnu_eff"]["mean"] == 0.06 and s["mnu_eff"]["std"] == 0.0
    assert s["tension_sigma"] == {} and s["profiles"] == {}
    assert "mnu_eff" not in s["sampled_params"] and set(s["params"]) >= {"H0", "omch2"}
    assert s["param_overrides"] == {"mnu_eff": 0.06}
    assert s["quick"] is True and s["importance"]["fallback"] is None
    assert s["n_eff"] >= 1000 and s["importance"]["pareto_k"] <= 0.7
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


@pytest.mark.slow
def test_fit_and_profile_take_fix_on_the_default_sampler(tmp_path, capsys):
    assert main(["fit", "--model", "w0wa", "--quick", "--fix", "mnu_eff=0.06", "--seed", "3",
                 "--out", str(tmp_path / "fit")]) == 0
    s = json.loads((tmp_path / "fit" / "summary.json").read_text())
    assert s["mnu_eff"]["std"] == 0.0 and {"w", "wa"} <= set(s["params"])
    assert main(["profile", "--model", "w0wa", "--param", "w", "--fix", "mnu_eff=0.06",
                 "--values=-1.2,-1.0,-0.8", "--out", str(tmp_path / "prof")]) == 0
    p = json.loads((tmp_path / "prof" / "profile_w.json").read_text())
    assert p["param_overrides"] == {"mnu_eff": 0.06} and len(p["points"]) == 3
    assert "mnu_eff" not in p["points"][0]["bestfit"]


@pytest.mark.slow
def test_mcmc_on_a_default_sampler_folder_names_numass_options(fixed_mass_run, capsys):
    """Cobaya's refusal names its own -f/--force and -r/--resume; numass has --restart."""
    _, out, _ = fixed_mass_run
    assert main(["run", "--sampler", "mcmc", "--quick", "--fix", "mnu_eff=0.06",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("numass: error:") and "--restart" in err and "another --out" in err
    assert "--force" not in err and "--resume" not in err and "'-f'" not in err


@pytest.mark.parametrize("command", [["run"], ["fit", "--model", "lcdm"],
                                     ["profile", "--param", "mnu_eff"]])
def test_a_second_writer_to_the_same_folder_is_refused(tmp_path, capsys, command):
    with FolderLock(tmp_path):
        assert main([*command, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "another numass command is writing to" in err and "Traceback" not in err
    assert not (tmp_path / "summary.json").exists()


def test_out_naming_a_file_is_one_line_with_status_1(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("not a folder")
    assert main(["run", "--quick", "--out", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("numass: error:") and str(target) in err and len(err.splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("code,text", [(errno.ENOSPC, "No space left on device"),
                                       (errno.EROFS, "Read-only file system")])
def test_a_failed_summary_write_leaves_no_half_file(tmp_path, capsys, monkeypatch, code, text):
    """A full disk or a read-only folder while summary.json is written (simulated: running as
    root makes chmod ineffective): status 1, one line, and no summary.json, empty or partial."""
    real_replace = os.replace

    def failing_replace(src, dst):  # the write of summary.json fails, the others succeed
        if os.path.basename(dst) == "summary.json":
            raise OSError(code, text, str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr("numass.fileio.os.replace", failing_replace)
    out = tmp_path / "out"
    assert main(["run", "--quick", "--seed", "4", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"numass: error: {out / 'summary.json'}: {text}"
    assert not (out / "summary.json").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert (out / "triangle.png").is_file()  # summary.json is written last


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_output_folder(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(["run", "--quick", "--out", str(out)]) == 1
    finally:
        out.chmod(0o755)
    assert "Permission denied" in capsys.readouterr().err


def test_hdf5_write_failure_is_one_line(monkeypatch, capsys):
    from numass import cli

    def full_disk(args):
        raise RuntimeError("Can't decrement id ref count (file write failed: time = Thu, "
                           "errno = 28, error message = 'No space left on device')")

    monkeypatch.setattr(cli, "cmd_theory", full_disk)
    monkeypatch.setattr(cli, "_add_theory", _theory_parser(full_disk))
    assert main(["theory", "--out", "x.npz"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("numass: error: a file write failed") and "No space left" in err

    def other(args):
        raise RuntimeError("a programming error")

    monkeypatch.setattr(cli, "_add_theory", _theory_parser(other))
    with pytest.raises(RuntimeError, match="programming error"):
        main(["theory", "--out", "x.npz"])


def _theory_parser(func):
    def add(sub):
        p = sub.add_parser("theory")
        p.add_argument("--out")
        p.set_defaults(func=func)
    return add


@pytest.mark.parametrize("argv", [
    ["run", "--rminus1", "-1"], ["run", "--rminus1", "0"], ["fit", "--model", "lcdm",
                                                           "--rminus1", "nan"],
    ["emulator", "validate", "--n", "0"], ["emulator", "validate", "--n", "-5"],
    ["emulator", "validate", "--workers", "0"], ["emulator", "validate", "--n-chi2", "-1"],
    ["emulator", "validate", "--n", "2.5"]])
def test_numeric_options_are_checked(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "must be" in err or "is not an integer" in err or "is not a number" in err


def test_spectra_missing_an_array_are_named(tmp_path):
    """What `numass chi2 --spectra` reads (its likelihoods need the data directory)."""
    from numass.errors import InputError

    path = tmp_path / "partial.npz"
    np.savez(path, ell=np.arange(3001), DlTT=np.ones(3001), DlTE=np.ones(3001),
             DlBB=np.ones(3001), clpp_L2=np.ones(3001))
    with pytest.raises(InputError, match=r"lacks the arrays \['DlEE'\]") as exc:
        read_spectra_npz(path)
    assert "zip archive" not in str(exc.value)


def test_theory_outside_the_validated_range_warns(tmp_path, capsys):
    out = tmp_path / "point.npz"
    assert main(["theory", "--backend", "background", "--param", "mnu_eff=-5",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: mnu_eff = -5 lies outside [-0.5, 0.5]" in err and "validated" in err
    assert out.is_file()
    assert main(["theory", "--backend", "background", "--param", "mnu_eff=-0.1",
                 "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_chi2_outside_the_validated_range_warns(capsys):
    assert main(["chi2", "--data", "desi-dr2-bao", "--param", "mnu=-5"]) == 0
    err = capsys.readouterr().err
    assert "warning: mnu = -5 lies outside [-0.5, 0.5]" in err
    assert main(["chi2", "--data", "desi-dr2-bao", "--param", "mnu=0.06", "--param", "H0=68"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_emulator_verdict_per_target_and_status():
    from numass.validation.emulator import Report

    good = Report(n=3, errors={"tt": np.array([0.01, 0.02, 0.03])},
                  chi2={"act": np.array([0.01, 0.05])})
    assert good.missed() == [] and good.table().splitlines()[-1].startswith("verdict: PASS")
    bad = Report(n=3, errors={"tt": np.array([0.01, 0.02, 0.06]), "pp": np.array([1e-4] * 3)},
                 chi2={"act": np.array([0.2, 0.05])})
    table = bad.table()
    assert bad.missed() == ["TT |dC|/sCV l>=30", "|dchi2| act"]
    assert table.splitlines()[-1].startswith("verdict: FAIL (2 of 3 targets missed")
    assert [line.split()[-1] for line in table.splitlines()[2:5]] == ["FAIL", "PASS", "FAIL"]
    # TE/EE below l = 30 are shown, not judged: no likelihood uses them
    info = Report(n=2, errors={"ee_all": np.array([0.2, 0.1]), "ee": np.array([0.01, 0.02])},
                  chi2={})
    assert info.missed() == [] and "info" in info.table().splitlines()[2]
    assert info.verdict().startswith("verdict: PASS (all 1 targets")


def test_emulator_validate_exits_1_when_a_target_is_missed(capsys):
    """Two fresh CAMB points (a few seconds): the verdict line decides the exit status."""
    pytest.importorskip("camb")
    code = main(["emulator", "validate", "--n", "2", "--n-chi2", "0", "--workers", "1"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("verdict: ")
    assert code == (0 if last.startswith("verdict: PASS") else 1)


def test_a_run_folder_refuses_other_data(tmp_path, data_dir):
    """Results on the embedded DESI DR2 table and on the data files are never mixed in one
    folder: the rerun on other data (or on changed files) is refused, --restart starts afresh."""
    import shutil

    from numass.errors import InputError
    from numass.inference.data_record import prepared_folder

    files = tmp_path / "data"
    shutil.copytree(data_dir / "desi_bao_dr2", files / "desi_bao_dr2")
    empty, out = tmp_path / "empty", tmp_path / "out"
    empty.mkdir()
    ids = ["desi-dr2-bao", "cmb-compressed"]
    prepared_folder(out, ids, str(empty), resume=True)  # the embedded table
    prepared_folder(out, ids, str(empty), resume=True)  # the same data: fine
    with pytest.raises(InputError, match="the embedded table → the files in desi_bao_dr2"):
        prepared_folder(out, ids, str(files), resume=True)
    prepared_folder(out, ids, str(files), resume=False)  # --restart
    victim = min(p for p in (files / "desi_bao_dr2").rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"\n")
    with pytest.raises(InputError, match="changed"):
        prepared_folder(out, ids, str(files), resume=True)
