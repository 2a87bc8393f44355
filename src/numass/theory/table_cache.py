"""Tables computed once from fixed fiducial CAMB runs, kept on disk between runs.

The emulated late-time engines need a few shapes that do not depend on the sampled point: the
free-streaming suppression on a grid of Σmν (nine CAMB runs, ~13 s of a 2-core machine's time
in every process that builds the interaction model's engine), the lensed spectra's response
to C_L^φφ, and the fiducial run's Limber table, σ_R and suppression tables (latetime_batch:
~2 s of CAMB and tabulation in every process of an emulated ΛsCDM, interaction or w0wa job).
They are deterministic functions of the CAMB version and of numass's own code, so a
table is stored under a key that holds both: the CAMB version and the sha256 of the source
files that compute it (any edit of them is a new key, never a stale table).

A table is trusted only after it is verified: the file holds its key and the sha256 of its
arrays, both checked on reading; a table that fails (damaged, truncated, another key) is
recomputed and written again, atomically (a temporary file renamed over the target, so two
processes computing the same table at once leave one whole file). A cache folder that cannot be
written only costs the recomputation. The folder: $NUMASS_CACHE_DIR, else the user cache
directory's numass/tables.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from numass.fileio import atomic_write_bytes

CACHE_ENV = "NUMASS_CACHE_DIR"
_KEY, _DIGEST = "__key__", "__sha256__"
log = logging.getLogger("numass")


def cache_dir() -> Path:
    """$NUMASS_CACHE_DIR, else the user cache directory's numass/tables."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("numass")) / "tables"


def source_digest(paths: Iterable[str | Path]) -> str:
    """sha256 of the files' bytes, in the order given: the code a table was computed by."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()


def code_key(modules: Iterable) -> dict:
    """What a table computed by these modules' code with CAMB depends on besides its inputs:
    {'camb': CAMB's version, 'code': source_digest of the modules' files}."""
    import camb

    return {"camb": camb.__version__,
            "code": source_digest(m.__file__ for m in modules if m.__file__)}


def _arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _read_verified(path: Path, key_text: str) -> dict[str, np.ndarray] | None:
    """The arrays of ``path`` when its key and checksum hold; None otherwise (missing files
    included)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            stored = {k: f[k] for k in f.files}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # truncated, not an npz
        log.warning("cached table %s unreadable (%s): recomputed", path, exc)
        return None
    key, digest = stored.pop(_KEY, None), stored.pop(_DIGEST, None)
    if key is None or digest is None or str(key) != key_text \
            or str(digest) != _arrays_digest(stored):
        log.warning("cached table %s does not match its key or checksum: recomputed", path)
        return None
    return stored


def cached_arrays(name: str, key: dict,
                  compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, from the cache when a verified table of this ``name`` and ``key``
    (JSON-able: what the table depends on) is there, else computed and stored."""
    key_text = json.dumps({"table": name, **key}, sort_keys=True)
    path = cache_dir() / f"{name}-{hashlib.sha256(key_text.encode()).hexdigest()[:16]}.npz"
    arrays = _read_verified(path, key_text)
    if arrays is not None:
        return arrays
    arrays = {k: np.asarray(v) for k, v in compute().items()}
    payload: dict[str, Any] = {**arrays, _KEY: np.array(key_text),
                               _DIGEST: np.array(_arrays_digest(arrays))}
    buffer = io.BytesIO()
    np.savez(buffer, **payload)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:  # a read-only or full cache folder: the run goes on
        log.warning("could not keep the table %s in %s: %s", name, path.parent, exc)
    return arrays


__all__ = ["CACHE_ENV", "cache_dir", "cached_arrays", "code_key", "source_digest"]
