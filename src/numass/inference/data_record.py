"""The data a run's results were computed on, recorded beside them, and the change in words.

A run's folder holds data_sources.json (the data set ids and each one's source: the embedded
table, or the registry's files with their sha256; likelihoods.sources). Resuming on other data
is refused, never mixed; ``source_change`` says what changed, for `numass run` here and for
`numass compare`'s run record (compare.run).
"""
from __future__ import annotations

from pathlib import Path

from numass.errors import InputError

DATA_RECORD = "data_sources.json"  # what the folder's results were computed on


def _source_text(src: dict) -> str:
    source = src.get("source")
    if source == "files":
        return f"the files in {src.get('folder')}"
    if source == "embedded":
        return "the embedded table"
    return str(source)


def source_change(old: dict, new: dict) -> str | None:
    """'the embedded table → the files in desi_bao_dr2', or which files changed (sha256), or
    None when the two sources are the same."""
    if old == new:
        return None
    if old.get("source") == new.get("source") == "files":
        changed = sorted(f for f in set(old.get("files", {})) | set(new.get("files", {}))
                         if old.get("files", {}).get(f) != new.get("files", {}).get(f))
        return f"{_source_text(new)}: {', '.join(changed) or 'the folder'} changed (sha256)"
    return f"{_source_text(old)} → {_source_text(new)}"


def prepared_folder(out, datasets: list[str], data_dir, resume: bool) -> Path:
    """The output folder, made, and checked against the data its earlier results were computed
    on (out/data_sources.json): resuming on other data is refused, never mixed."""
    from cobaya import mpi

    from numass.fileio import atomic_write_json, read_json
    from numass.likelihoods.sources import data_sources

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not mpi.is_main_process():
        return out
    sources = data_sources(datasets, data_dir)
    record = {"datasets": sorted(datasets), "sources": sources}
    old = read_json(out / DATA_RECORD)
    if resume and old is not None and old != record:
        what = [f"{i}: {source_change(old['sources'].get(i, {}), src)}"
                for i, src in sources.items() if old.get("sources", {}).get(i) != src]
        what = what or [f"data sets {', '.join(old.get('datasets', []))} -> {', '.join(datasets)}"]
        raise InputError(f"{out} holds results computed on other data ({'; '.join(what)}); use "
                         f"--restart to discard them, or another --out folder")
    atomic_write_json(out / DATA_RECORD, record)
    return out
