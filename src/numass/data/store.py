"""Where data sets live, and loading their files with errors that name the data set and the fix.

(Skeleton interface; the data-layer work fills in verification against the registry's sha256.)
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from numass.errors import DataError

ENV_VAR = "NUMASS_DATA_DIR"


def data_dir(override: str | Path | None = None) -> Path:
    """--data-dir, else $NUMASS_DATA_DIR, else the user cache directory."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("numass")) / "data"


def dataset_dir(dataset: str, data_dir_override: str | Path | None = None) -> Path:
    """The folder of ``dataset``; DataError if it is absent."""
    folder = data_dir(data_dir_override) / dataset
    if not folder.is_dir():
        raise DataError(dataset, None, f"not found in the data directory {folder.parent}")
    return folder


def dataset_file(dataset: str, relpath: str, data_dir_override: str | Path | None = None) -> Path:
    path = dataset_dir(dataset, data_dir_override) / relpath
    if not path.is_file():
        raise DataError(dataset, relpath, f"missing (looked in {path.parent})")
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
