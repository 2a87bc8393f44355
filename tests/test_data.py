"""The data layer: registry completeness, sha256 checks, clear errors, offline fetch, precedence."""
import shutil
import time
from pathlib import Path

import pytest

from numass.data import fetch as fetch_mod
from numass.data.commands import cmd_list, cmd_verify
from numass.data.registry import datasets, get_dataset
from numass.data.store import ENV_VAR, data_dir, dataset_file, load_text, status
from numass.errors import DataError, InputError


def test_registry_entries_are_complete():
    sets = datasets()
    assert set(sets) == {"desi_bao_dr2", "desi_bao_dr1", "planck2018_lite", "planck_pr4_lensing",
                         "act_dr6_lensing_v0", "act_dr6_lensing_v1", "spt3g_2018_lensing"}
    for ds in sets.values():
        assert ds.citation and ds.description and ds.files
        for f in ds.files:
            assert len(f.sha256) == 64 and f.url.startswith("https://")
    with pytest.raises(InputError, match="unknown data set"):
        get_dataset("nope")


def test_registry_covers_every_shared_file(data_dir):
    sums = (data_dir / "SHA256SUMS").read_text().splitlines()
    listed = {}
    for line in sums:
        sha, path = line.split(maxsplit=1)
        parts = Path(path).parts
        parts = parts[1:] if parts[0] == "." else parts
        if len(parts) >= 2:
            listed[(parts[0], "/".join(parts[1:]))] = sha
    registry = {(ds.id, f.path): f.sha256 for ds in datasets().values() for f in ds.files}
    assert registry == listed


def test_real_data_verifies(data_dir, capsys):
    assert cmd_verify(None, data_dir) == 0
    assert "OK" in capsys.readouterr().out
    assert all(status(i, data_dir)["state"] == "present" for i in datasets())


def _copy(data_dir, tmp_path, folder):
    shutil.copytree(data_dir / folder, tmp_path / folder)
    for p in (tmp_path / folder).rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    return tmp_path / folder


def test_truncated_file_is_named(data_dir, tmp_path):
    folder = _copy(data_dir, tmp_path, "desi_bao_dr2")
    target = folder / "desi_gaussian_bao_ALL_GCcomb_cov.txt"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(DataError) as err:
        load_text("desi_bao_dr2", "desi_gaussian_bao_ALL_GCcomb_cov.txt", tmp_path)
    msg = str(err.value)
    assert "desi_bao_dr2" in msg and "desi_gaussian_bao_ALL_GCcomb_cov.txt" in msg
    assert "truncated" in msg and "numass data fetch desi_bao_dr2" in msg
    assert status("desi_bao_dr2", tmp_path)["corrupt"] == ["desi_gaussian_bao_ALL_GCcomb_cov.txt"]


def test_one_changed_byte_is_corrupt(data_dir, tmp_path, capsys):
    folder = _copy(data_dir, tmp_path, "desi_bao_dr2")
    target = folder / "desi_gaussian_bao_ALL_GCcomb_mean.txt"
    raw = bytearray(target.read_bytes())
    raw[-3] = ord("9") if raw[-3] != ord("9") else ord("8")
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt"):
        dataset_file("desi_bao_dr2", "desi_gaussian_bao_ALL_GCcomb_mean.txt", tmp_path)
    assert cmd_verify(["desi_bao_dr2"], tmp_path) == 1
    assert "corrupt: desi_gaussian_bao_ALL_GCcomb_mean.txt" in capsys.readouterr().out


def test_missing_file_and_missing_dataset(data_dir, tmp_path):
    folder = _copy(data_dir, tmp_path, "desi_bao_dr2")
    (folder / "desi_gaussian_bao_ALL_GCcomb_cov.txt").unlink()
    with pytest.raises(DataError, match="missing"):
        dataset_file("desi_bao_dr2", "desi_gaussian_bao_ALL_GCcomb_cov.txt", tmp_path)
    assert status("desi_bao_dr2", tmp_path)["state"] == "incomplete"
    with pytest.raises(DataError, match="desi_bao_dr1.*not found"):
        dataset_file("desi_bao_dr1", "desi_2024_gaussian_bao_ALL_GCcomb_cov.txt", tmp_path)


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert data_dir(tmp_path / "cli") == tmp_path / "cli"
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv(ENV_VAR)
    assert "numass" in str(data_dir())


def test_fetch_offline_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_mod, "host_reachable", lambda url, timeout=3.0: False)
    t0 = time.time()
    with pytest.raises(DataError) as err:
        fetch_mod.fetch("desi_bao_dr2", tmp_path, progress=lambda m: None)
    assert time.time() - t0 < 5
    msg = str(err.value)
    assert str(tmp_path / "desi_bao_dr2") in msg
    assert "https://raw.githubusercontent.com/CobayaSampler/bao_data/" in msg


def test_host_reachable_gives_up_quickly():
    t0 = time.time()
    assert fetch_mod.host_reachable("https://127.0.0.1:1/x", timeout=1.0) is False
    assert time.time() - t0 < 3


def test_fetch_skips_intact_data(data_dir):
    assert fetch_mod.fetch("desi_bao_dr2", data_dir, progress=lambda m: None) == []


def test_cmd_list(tmp_path, capsys):
    assert cmd_list(tmp_path) == 0
    out = capsys.readouterr().out
    assert "desi_bao_dr2" in out and "missing" in out and "arXiv:2503.14738" in out
