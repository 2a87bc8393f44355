"""numass.fileio: atomic writes, manifests and the output-folder lock."""
import json
import multiprocessing as mp
import os

import pytest

from numass.errors import InputError
from numass.fileio import (
    FolderLock,
    ManifestError,
    atomic_write_json,
    atomic_write_text,
    verify_manifest,
    write_manifest,
)


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": 1.5})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1.5}
    assert os.listdir(tmp_path) == ["a.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    atomic_write_text(tmp_path / "a.txt", "old")

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        atomic_write_text(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_manifest_catches_a_damaged_file_and_other_settings(tmp_path):
    (tmp_path / "chain.txt").write_text("1 2 3\n4 5 6\n")
    write_manifest(tmp_path, ["chain.txt"], {"data": "embedded"})
    assert verify_manifest(tmp_path, expect={"data": "embedded"})["data"] == "embedded"
    with pytest.raises(ManifestError, match="'data'"):
        verify_manifest(tmp_path, expect={"data": "files"})
    (tmp_path / "chain.txt").write_text("1 2 3\n")  # cut to half its rows
    with pytest.raises(ManifestError, match="sha256"):
        verify_manifest(tmp_path)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(ManifestError, match="did not finish"):
        verify_manifest(tmp_path)


def test_manifest_takes_paths_relative_to_the_working_directory(tmp_path, monkeypatch):
    """A relative output folder (numass compare's default, numass-compare/) names its files as
    numass-compare/<job>/...: they must not be joined to the folder a second time."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "out" / "job"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    from pathlib import Path
    write_manifest(Path("out/job"), [Path("out/job/a.txt"), "b.txt"])
    assert sorted(verify_manifest(Path("out/job"))["files"]) == ["a.txt", "b.txt"]


def _hold(folder, ready, release):
    with FolderLock(folder):
        ready.set()
        release.wait(10)


def test_second_writer_is_refused_and_a_dead_holder_releases(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(tmp_path, ready, release))
    holder.start()
    assert ready.wait(10)
    with pytest.raises(InputError, match="another numass command"), FolderLock(tmp_path):
        pass
    holder.kill()  # kill -9: the operating system drops the lock
    holder.join()
    with FolderLock(tmp_path):
        pass
