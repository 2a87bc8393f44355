"""Where data sets live, and reading their files with errors that name the data set and the fix.

Every file the registry knows is checked against its size and sha256 when first read in a
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


def _cached_sha256(path: Path, st: os.stat_result) -> str:
    # A rewritten file changes size or mtime, so this key never serves a stale hash.
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_of(path)
    return _VERIFIED[key]


def check_file(path: Path, entry=None) -> tuple[str, str]:
    """(state, detail) of one file against its registry entry (a DataFile or None).

    state is 'ok', 'missing', 'truncated' (shorter than registered), or 'corrupt' (other size
    or sha256 mismatch). Files the registry does not know only have to exist.
    """
    if not path.is_file():
        return "missing", f"not found at {path}"
    if entry is None:
        return "ok", ""
    st = path.stat()
    if st.st_size != entry.size:
        state = "truncated" if st.st_size < entry.size else "corrupt"
        return state, f"{st.st_size} bytes, expected {entry.size}"
    found = _cached_sha256(path, st)
    if found != entry.sha256:
        return "corrupt", f"sha256 {found}, expected {entry.sha256}"
    return "ok", ""


def dataset_dir(dataset: str, data_dir_override: str | Path | None = None) -> Path:
    """The folder of ``dataset``; DataError if it is absent."""
    folder = data_dir(data_dir_override) / dataset
    if not folder.is_dir():
        raise DataError(dataset, None, f"not found in the data directory {folder.parent}")
    return folder


def _registry_entry(dataset: str, relpath: str):
    from numass.data.registry import datasets

    sets = datasets()
    return sets[dataset].file(relpath) if dataset in sets else None


def dataset_file(dataset: str, relpath: str, data_dir_override: str | Path | None = None) -> Path:
    """Path of a data set's file, checked against the registry's size and sha256."""
    path = dataset_dir(dataset, data_dir_override) / relpath
    entry = _registry_entry(dataset, relpath)
    state, detail = check_file(path, entry)
    if state == "ok":
        return path
    fix = f"run `numass data fetch {dataset}`"
    if entry is not None:
        fix += f", or download {entry.url} to {path}"
    raise DataError(dataset, relpath, f"{state} ({detail})", fix=fix)


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
    """State of one registered data set in the data directory.

    Returns {'state': 'present'|'partial'|'missing'|'corrupt', 'missing': [paths],
    'corrupt': [paths, truncated ones included], 'problems': {path: detail}, 'folder': str}.
    'partial' means some registered files are missing; 'corrupt' wins over it.
    """
    from numass.data.registry import get_dataset

    ds = get_dataset(dataset)
    folder = data_dir(data_dir_override) / dataset
    missing, corrupt, problems = [], [], {}
    for f in ds.files:
        state, detail = check_file(folder / f.path, f)
        if state == "missing":
            missing.append(f.path)
        elif state != "ok":
            corrupt.append(f.path)
            problems[f.path] = f"{state}: {detail}"
    if corrupt:
        state = "corrupt"
    elif len(missing) == len(ds.files):
        state = "missing"
    elif missing:
        state = "partial"
    else:
        state = "present"
    return {"state": state, "missing": missing, "corrupt": corrupt, "problems": problems,
            "folder": str(folder)}


def verify(ids=None, override: str | Path | None = None) -> dict[str, dict]:
    """status() of each requested data set (default: every registered one), by id."""
    from numass.data.registry import datasets

    if isinstance(ids, str):
        ids = [ids]
    return {i: status(i, override) for i in (ids or list(datasets()))}


def describe_file(path: str | Path) -> str:
    """What a file holds, for an error message: 'an .npz archive', 'a single .npy array', 'a
    text file starting ...', 'a pickle', 'an empty file', 'a folder', 'nothing (no such file)'."""
    path = Path(path)
    if path.is_dir():
        return "a folder"
    if not path.exists():
        return "nothing (no such file)"
    with open(path, "rb") as f:
        head = f.read(200)
    if not head:
        return "an empty file"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (the .npz container)"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array, not an .npz archive of named arrays"
    if head[:1] == b"\x80":
        return "a Python pickle"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data ({path.stat().st_size} bytes)"
    first = text.splitlines()[0][:60] if text.strip() else ""
    return f"a text file starting {first!r}"
