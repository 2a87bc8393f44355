"""Where data sets live, and reading their files with errors that name the data set and the fix.

Every file the registry knows is checked against its sha256 the first time it is read in a
process (cached by path, size and modification time), so a truncated or corrupt file is caught
with a clear DataError rather than a numpy traceback further down.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from numass.errors import DataError

ENV_VAR = "NUMASS_DATA_DIR"
_VERIFIED: dict[tuple[str, int, int], str] = {}


def data_dir(override: str | Path | None = None) -> Path:
    """--data-dir, else $NUMASS_DATA_DIR, else the user cache directory."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("numass")) / "data"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_status(path: Path, expected_sha: str | None) -> str:
    """'ok', 'missing' or 'corrupt' (sha256 mismatch); cached per (path, size, mtime)."""
    if not path.is_file():
        return "missing"
    if expected_sha is None:
        return "ok"
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_of(path)
    return "ok" if _VERIFIED[key] == expected_sha else "corrupt"


def dataset_dir(dataset: str, data_dir_override: str | Path | None = None) -> Path:
    """The folder of ``dataset``; DataError if it is absent."""
    folder = data_dir(data_dir_override) / dataset
    if not folder.is_dir():
        raise DataError(dataset, None, f"not found in the data directory {folder.parent}")
    return folder


def dataset_file(dataset: str, relpath: str, data_dir_override: str | Path | None = None) -> Path:
    """Path of a data set's file, checked against the registry's sha256."""
    from numass.data.registry import datasets

    path = dataset_dir(dataset, data_dir_override) / relpath
    entry = datasets()[dataset].file(relpath) if dataset in datasets() else None
    status = file_status(path, entry.sha256 if entry else None)
    if status == "missing":
        raise DataError(dataset, relpath, f"missing (looked in {path.parent})")
    if status == "corrupt":
        raise DataError(dataset, relpath,
                        f"corrupt or truncated ({path.stat().st_size} bytes; its sha256 "
                        f"{sha256_of(path)[:16]}... is not the registry's {entry.sha256[:16]}...)")
    return path


def load_text(dataset: str, relpath: str, data_dir_override: str | Path | None = None,
              **loadtxt_kwargs) -> np.ndarray:
    """np.loadtxt of a data set's file, with a DataError instead of a numpy traceback."""
    path = dataset_file(dataset, relpath, data_dir_override)
    try:
        arr = np.loadtxt(path, **loadtxt_kwargs)
    except (ValueError, OSError, IndexError) as exc:
        raise DataError(dataset, relpath, f"unreadable ({exc.__class__.__name__}: {exc})") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise DataError(dataset, relpath, "empty or contains non-finite numbers")
    return arr


def status(dataset: str, data_dir_override: str | Path | None = None) -> dict:
    """{'state': present|missing|incomplete|corrupt, 'missing': [...], 'corrupt': [...]}."""
    from numass.data.registry import get_dataset

    ds = get_dataset(dataset)
    folder = data_dir(data_dir_override) / dataset
    missing, corrupt = [], []
    for f in ds.files:
        st = file_status(folder / f.path, f.sha256)
        if st == "missing":
            missing.append(f.path)
        elif st == "corrupt":
            corrupt.append(f.path)
    if corrupt:
        state = "corrupt"
    elif len(missing) == len(ds.files):
        state = "missing"
    elif missing:
        state = "incomplete"
    else:
        state = "present"
    return {"state": state, "missing": missing, "corrupt": corrupt, "folder": str(folder)}
