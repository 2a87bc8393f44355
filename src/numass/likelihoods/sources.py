"""Where each data set's numbers come from, recorded with every result built on them.

A likelihood reads either its files in the data directory or, for DESI DR2 BAO when the folder is
absent, the published table embedded in numass. Results computed on one source must never be
mixed with results on another: run folders and comparison tasks record ``data_sources`` and a
rerun on other data is refused.
"""
from __future__ import annotations

import importlib

from numass.data.store import data_dir as resolve_data_dir
from numass.likelihoods import LIKELIHOODS
from numass.likelihoods.bao import FILES as BAO_FILES


def data_folder(lik_id: str) -> tuple[str | None, bool]:
    """(data set folder a likelihood reads, whether it has an embedded fallback)."""
    module, cls, options = LIKELIHOODS[lik_id]
    klass = getattr(importlib.import_module(module), cls)
    if cls == "DesiBAO":
        release = options.get("release", "dr2")
        return BAO_FILES[release][0], release == "dr2"
    return getattr(klass, "dataset", None), False


def data_sources(datasets, data_dir: str | None = None) -> dict[str, dict]:
    """{id: where its numbers come from}: {"source": "embedded"} (a table inside numass, e.g.
    DESI DR2 when the data directory lacks it), {"source": "files", "folder", "files": {path:
    sha256 or "missing"}} (the registry's files in the data directory) or {"source": "absent"}
    (no folder: its jobs do not run). Part of each finished task's manifest: a rerun on other
    data is refused, never mixed with these results."""
    from numass.data.registry import datasets as registry
    from numass.fileio import sha256_file

    root = resolve_data_dir(data_dir)
    out: dict[str, dict] = {}
    for i in sorted(set(datasets)):
        folder, embedded_fallback = data_folder(i)
        if folder is None or (embedded_fallback and not (root / folder).is_dir()):
            out[i] = {"source": "embedded"}
            continue
        if not (root / folder).is_dir():  # its jobs are skipped (missing_data)
            out[i] = {"source": "absent", "folder": folder}
            continue
        files = [f.path for f in registry()[folder].files] if folder in registry() else []
        out[i] = {"source": "files", "folder": folder,
                  "files": {f: sha256_file(root / folder / f) if (root / folder / f).is_file()
                            else "missing" for f in files}}
    return out



__all__ = ["data_folder", "data_sources"]
