"""The data layer: registry completeness, size/sha256 checks, clear errors, fetch, precedence, CLI."""
import argparse
import dataclasses
import functools
import http.server
import shutil
import threading
import time
from pathlib import Path

import pytest

from numass.data import fetch as fetch_mod
from numass.data import store
from numass.data.commands import add_data_parser, cmd_fetch, cmd_list, cmd_verify
from numass.data.registry import datasets, get_dataset
from numass.data.store import ENV_VAR, data_dir, dataset_file, load_text, status, verify
from numass.errors import DataError, InputError

DESI = "desi_bao_dr2"
COV = "desi_gaussian_bao_ALL_GCcomb_cov.txt"
MEAN = "desi_gaussian_bao_ALL_GCcomb_mean.txt"
ALL_IDS = {"desi_bao_dr2", "desi_bao_dr1", "planck2018_lite", "planck_pr4_lensing",
           "act_dr6_lensing_v0", "act_dr6_lensing_v1", "spt3g_2018_lensing"}


def _copy(data_dir, tmp_path, folder=DESI):
    """A writable copy of one data set folder under tmp_path (the shared copy is read-only)."""
    shutil.copytree(data_dir / folder, tmp_path / folder)
    for p in (tmp_path / folder).rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    return tmp_path / folder


# --- registry -------------------------------------------------------------------------------

def test_registry_entries_are_complete():
    sets = datasets()
    assert set(sets) == ALL_IDS
    for ds in sets.values():
        assert ds.citation and "arXiv:" in ds.citation and ds.description and ds.source
        for f in ds.files:
            assert len(f.sha256) == 64 and f.size > 0
            assert f.url.startswith("https://raw.githubusercontent.com/") and f.url.endswith(f.path)
    assert "PARTIAL" in sets["act_dr6_lensing_v1"].description and sets["act_dr6_lensing_v1"].partial
    with pytest.raises(InputError, match="unknown data set 'nope'"):
        get_dataset("nope")


def test_registry_urls_are_pinned():
    # Official source repositories, each at a release tag or a 40-hex commit, never a branch.
    expected = {"desi_bao_dr2": "CobayaSampler/bao_data/v2.6/desi_bao_dr2/",
                "desi_bao_dr1": "CobayaSampler/bao_data/v2.6/",
                "planck2018_lite": "heatherprince/planck-lite-py/",
                "planck_pr4_lensing": "carronj/planck_PR4_lensing/",
                "act_dr6_lensing_v0": "Lbalkenhol/candl_data/",
                "act_dr6_lensing_v1": "Lbalkenhol/candl_data/",
                "spt3g_2018_lensing": "Lbalkenhol/candl_data/"}
    for ds in datasets().values():
        for f in ds.files:
            assert expected[ds.id] in f.url
            assert "/master/" not in f.url and "/main/" not in f.url


def test_registry_covers_every_shared_file(data_dir):
    listed = {}
    for line in (data_dir / "SHA256SUMS").read_text().splitlines():
        sha, path = line.split(maxsplit=1)
        parts = Path(path).parts
        parts = parts[1:] if parts[0] == "." else parts
        if len(parts) >= 2:  # every file but SHA256SUMS itself
            listed[(parts[0], "/".join(parts[1:]))] = sha
    registry = {(ds.id, f.path): f.sha256 for ds in datasets().values() for f in ds.files}
    assert registry == listed


# --- verification on the real data and on damaged copies -------------------------------------

def test_real_data_verifies(data_dir, capsys):
    assert cmd_verify(None, data_dir) == 0
    out = capsys.readouterr().out
    assert out.count(": OK (") == len(ALL_IDS)
    assert all(st["state"] == "present" for st in verify(None, data_dir).values())


def test_truncated_file_is_named(data_dir, tmp_path):
    target = _copy(data_dir, tmp_path) / COV
    size = target.stat().st_size
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(DataError) as err:
        load_text(DESI, COV, tmp_path)
    msg = str(err.value)
    assert err.value.dataset == DESI and err.value.file == COV
    assert DESI in msg and COV in msg
    assert f"truncated (100 bytes, expected {size})" in msg
    assert f"numass data fetch {DESI}" in msg and get_dataset(DESI).file(COV).url in msg
    st = status(DESI, tmp_path)
    assert st["state"] == "corrupt" and st["corrupt"] == [COV]


def test_one_changed_byte_is_corrupt(data_dir, tmp_path, capsys):
    target = _copy(data_dir, tmp_path) / MEAN
    raw = bytearray(target.read_bytes())
    raw[-3] = ord("9") if raw[-3] != ord("9") else ord("8")  # same size, other content
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"corrupt \(sha256 [0-9a-f]{64}, expected "
                                        + get_dataset(DESI).file(MEAN).sha256):
        dataset_file(DESI, MEAN, tmp_path)
    assert cmd_verify([DESI], tmp_path) == 1
    out = capsys.readouterr().out
    assert f"{DESI}: CORRUPT" in out and f"corrupt: {MEAN} (corrupt: sha256" in out
    assert f"fix: numass data fetch {DESI}" in out


def test_missing_file_and_missing_dataset(data_dir, tmp_path, capsys):
    (_copy(data_dir, tmp_path) / COV).unlink()
    with pytest.raises(DataError, match=f"'{DESI}', file '{COV}': missing"):
        dataset_file(DESI, COV, tmp_path)
    assert status(DESI, tmp_path)["state"] == "partial"
    assert status(DESI, tmp_path)["missing"] == [COV]
    with pytest.raises(DataError, match="desi_bao_dr1.*not found"):
        dataset_file("desi_bao_dr1", "desi_2024_gaussian_bao_ALL_GCcomb_cov.txt", tmp_path)
    # Named explicitly, an absent data set fails verify; by default it is skipped.
    assert cmd_verify(["desi_bao_dr1"], tmp_path) == 1
    assert cmd_verify(None, tmp_path) == 1  # desi_bao_dr2 is partial
    out = capsys.readouterr().out
    assert f"missing: {COV}" in out and "desi_bao_dr1: not present (skipped)" in out


def test_unregistered_file_only_has_to_exist(data_dir, tmp_path):
    folder = _copy(data_dir, tmp_path)
    (folder / "notes.txt").write_text("1 2 3\n")
    assert dataset_file(DESI, "notes.txt", tmp_path) == folder / "notes.txt"
    with pytest.raises(DataError, match="missing"):
        dataset_file(DESI, "other.txt", tmp_path)


def test_load_text_keeps_data_errors_for_unreadable_files(tmp_path):
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "bad.txt").write_text("1 2\n3 x\n")
    with pytest.raises(DataError, match="unreadable"):
        load_text("scratch", "bad.txt", tmp_path)


def test_hash_is_cached_per_size_and_mtime(data_dir, tmp_path, monkeypatch):
    target = _copy(data_dir, tmp_path) / MEAN
    calls = []
    real = store.sha256_of
    monkeypatch.setattr(store, "sha256_of", lambda p: calls.append(p) or real(p))
    for _ in range(3):
        dataset_file(DESI, MEAN, tmp_path)
    assert len(calls) == 1
    raw = bytearray(target.read_bytes())
    raw[-3] = ord("9") if raw[-3] != ord("9") else ord("8")
    target.write_bytes(bytes(raw))  # rewritten: new mtime, so it is hashed again
    with pytest.raises(DataError, match="corrupt"):
        dataset_file(DESI, MEAN, tmp_path)
    assert len(calls) == 2


# --- data directory ---------------------------------------------------------------------------

def test_data_dir_precedence(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / "cache" / app))
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert data_dir(tmp_path / "cli") == tmp_path / "cli"
    assert data_dir(str(tmp_path / "cli")) == tmp_path / "cli"
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv(ENV_VAR)
    assert data_dir() == tmp_path / "cache" / "numass" / "data"


# --- fetching ---------------------------------------------------------------------------------

def test_fetch_offline_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_mod, "host_reachable", lambda url, timeout=3.0: False)
    t0 = time.time()
    with pytest.raises(DataError) as err:
        fetch_mod.fetch(DESI, tmp_path, progress=lambda m: None)
    assert time.time() - t0 < 5
    msg = str(err.value)
    assert "cannot reach raw.githubusercontent.com" in msg
    assert f"into {tmp_path / DESI}/" in msg
    for f in get_dataset(DESI).files:
        assert f.url in msg
    assert not (tmp_path / DESI).exists()


def test_fetch_all_offline_lists_every_data_set(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_mod, "host_reachable", lambda url, timeout=3.0: False)
    with pytest.raises(DataError) as err:
        cmd_fetch(None, True, tmp_path)
    msg = str(err.value)
    for ds in datasets().values():
        assert f"into {tmp_path / ds.id}/" in msg and ds.files[0].url in msg


def test_host_reachable_gives_up_quickly():
    t0 = time.time()
    assert fetch_mod.host_reachable("https://127.0.0.1:1/x", timeout=1.0) is False
    assert fetch_mod.host_reachable("https://nonexistent.invalid/x", timeout=1.0) is False
    assert time.time() - t0 < 3


def test_fetch_skips_intact_data(data_dir):
    assert fetch_mod.fetch(DESI, data_dir, progress=lambda m: None) == []


@pytest.fixture
def local_source(data_dir, tmp_path):
    """The DESI DR2 folder served over HTTP on localhost, standing in for GitHub."""
    served = _copy(data_dir, tmp_path / "upstream")
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    ds = get_dataset(DESI)
    local = dataclasses.replace(ds, files=tuple(
        dataclasses.replace(f, url=f"{base}/{f.path}") for f in ds.files))
    yield local, served
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_fetch_downloads_verifies_and_repairs(local_source, tmp_path, monkeypatch):
    local, served = local_source
    monkeypatch.setattr(fetch_mod, "get_dataset", lambda i: local)
    dest = tmp_path / "dest"
    written = fetch_mod.fetch(DESI, dest, progress=lambda m: None)
    assert len(written) == len(local.files)
    assert status(DESI, dest)["state"] == "present"
    # A damaged file is fetched again, and only that one.
    (dest / DESI / COV).write_text("0\n")
    assert fetch_mod.fetch(DESI, dest, progress=lambda m: None) == [dest / DESI / COV]
    assert status(DESI, dest)["state"] == "present"
    # Upstream serving different bytes: refused, naming the file.
    (served / MEAN).write_text("1 2 3\n")
    (dest / DESI / MEAN).unlink()
    with pytest.raises(DataError, match=f"file '{MEAN}': download failed"):
        fetch_mod.fetch(DESI, dest, progress=lambda m: None)


# --- commands ---------------------------------------------------------------------------------

def test_cmd_list(data_dir, tmp_path, capsys):
    assert cmd_list(tmp_path) == 0
    out = capsys.readouterr().out
    assert f"data directory: {tmp_path}" in out
    assert "desi_bao_dr2" in out and "missing" in out and "arXiv:2503.14738" in out
    _copy(data_dir, tmp_path)
    (tmp_path / DESI / COV).unlink()
    cmd_list(tmp_path)
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith(DESI))
    assert line.split()[:3] == [DESI, "partial", "16"]
    assert "partial data set: upstream dAL_dC" in out


def test_cmd_fetch_input_errors(tmp_path):
    with pytest.raises(InputError, match="--all"):
        cmd_fetch([], False, tmp_path)
    with pytest.raises(InputError, match="unknown data set 'bogus'"):
        cmd_fetch(["bogus"], False, tmp_path)


def test_data_parser_dispatch(data_dir, capsys):
    parser = argparse.ArgumentParser()
    add_data_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "verify", DESI, "--data-dir", str(data_dir)])
    assert args.ids == [DESI] and args.func(args) == 0
    assert f"{DESI}: OK" in capsys.readouterr().out
    args = parser.parse_args(["data", "list", "--data-dir", str(data_dir)])
    assert args.func(args) == 0
    args = parser.parse_args(["data", "fetch", "--all", "--data-dir", str(data_dir)])
    assert args.all and args.ids == []
