"""Files a run can trust: atomic writes, checksums, manifests, one writer per output folder.

A result file is written to a temporary file in the same folder and renamed over the target
(``os.replace`` is atomic on POSIX): a kill, Ctrl-C or full disk leaves either the old file or the
new one, never half of one. A finished unit of work (a task of a comparison, a run) records a
manifest, written last: the sha256 of each of its files and what it was computed from (data ids
and their source, settings, numass version). A reader verifies the manifest before it trusts the
files; a mismatch means the work is recomputed or refused, never used.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from numass.errors import InputError, NumassError

MANIFEST = "manifest.json"
LOCK_FILE = ".numass.lock"


class ManifestError(NumassError):
    """Finished work whose files do not match its manifest (damaged, edited or incomplete)."""


def _json_default(o: Any) -> Any:
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """JSON (numbers numpy gives as floats, anything else as its str) written atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=_json_default))


def read_json(path: str | Path) -> Any:
    """A JSON file's content; None when it is missing or unreadable (unfinished work)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: str | Path, files: Iterable[str | Path], meta: dict | None = None,
                   name: str = MANIFEST) -> Path:
    """folder/<name>: {'files': {path relative to folder: sha256}, **meta}, written last and
    atomically, so that its presence means every listed file was complete when it was written.
    ``files``: absolute paths, paths relative to the working directory that lie in ``folder``
    (e.g. out/job/summary.json), or paths relative to ``folder``."""
    folder = Path(folder)
    home = folder.resolve()
    listed = {}
    for f in files:
        p = Path(f).absolute()  # a path that names the folder (relative to the working dir)...
        if not p.resolve().is_relative_to(home):
            p = home / f  # ...or one relative to the folder
        listed[p.resolve().relative_to(home).as_posix()] = sha256_file(p)
    return atomic_write_json(folder / name, {"files": listed, **(meta or {})})


def read_manifest(folder: str | Path, name: str = MANIFEST) -> dict | None:
    """The manifest's content; None when there is none (unfinished work)."""
    path = Path(folder) / name
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path} cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ManifestError(f"{path} is not a numass manifest (no 'files' table)")
    return manifest


def verify_manifest(folder: str | Path, name: str = MANIFEST, expect: dict | None = None) -> dict:
    """The manifest of ``folder`` after checking every file's sha256 and each ``expect`` key;
    ManifestError naming the first file or key that differs, or the missing manifest."""
    folder = Path(folder)
    manifest = read_manifest(folder, name)
    if manifest is None:
        raise ManifestError(f"{folder / name} is missing: the work in {folder} did not finish")
    for rel, digest in manifest["files"].items():
        path = folder / rel
        if not path.is_file():
            raise ManifestError(f"{path} is missing (listed in {folder / name})")
        if sha256_file(path) != digest:
            raise ManifestError(f"{path} differs from the file that was written (sha256 "
                                f"mismatch with {folder / name}): damaged or edited")
    for key, value in (expect or {}).items():
        if manifest.get(key) != value:
            raise ManifestError(f"{folder / name}: '{key}' is {manifest.get(key)!r}, this run "
                                f"has {value!r}")
    return manifest


class FolderLock:
    """One writer per output folder: an exclusive lock on folder/.numass.lock, held for the
    command's life. The operating system releases it when the process ends, however it ends
    (kill -9 included), so a stale lock never blocks a rerun."""

    def __init__(self, folder: str | Path, command: str = "numass"):
        from filelock import FileLock, Timeout

        self.folder, self.command, self._timeout = Path(folder), command, Timeout
        self._lock = FileLock(str(self.folder / LOCK_FILE), timeout=0)

    def __enter__(self) -> Self:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except self._timeout:
            raise InputError(f"another numass command is writing to {self.folder} (it holds "
                             f"{self.folder / LOCK_FILE}); wait for it to end, stop it, or use "
                             f"another --out folder") from None
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


__all__ = ["MANIFEST", "FolderLock", "ManifestError", "atomic_write_bytes", "atomic_write_json",
           "atomic_write_text", "read_json", "read_manifest", "sha256_file", "verify_manifest",
           "write_manifest"]
