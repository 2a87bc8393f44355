"""Download data sets from their official sources with pooch, sha256-checked.

Offline (no route to the source host), fetching stops at once and says which files to download
from where, and into which folder to put them.
"""
from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

from numass.data.registry import DataSet, get_dataset
from numass.data.store import data_dir, file_status
from numass.errors import DataError


def host_reachable(url: str, timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the URL's host (port 443) within ``timeout`` s?"""
    host = urlparse(url).hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def manual_instructions(ds: DataSet, folder: Path, files=None) -> str:
    files = files if files is not None else ds.files
    lines = [f"download these files of '{ds.id}' ({ds.source}) into {folder}/ keeping their "
             f"relative paths, then run `numass data verify {ds.id}`:"]
    lines += [f"  {f.path}  <-  {f.url}" for f in files]
    return "\n".join(lines)


def fetch(dataset_id: str, override: str | Path | None = None, progress=print) -> list[Path]:
    """Download the missing or corrupt files of ``dataset_id``; return the paths written."""
    import pooch

    ds = get_dataset(dataset_id)
    folder = data_dir(override) / ds.id
    todo = [f for f in ds.files if file_status(folder / f.path, f.sha256) != "ok"]
    if not todo:
        progress(f"{ds.id}: all {len(ds.files)} files present and intact")
        return []
    if not host_reachable(todo[0].url):
        raise DataError(ds.id, None, "cannot reach the official source (offline?)",
                        fix=manual_instructions(ds, folder, todo))
    written = []
    for i, f in enumerate(todo, 1):
        target = folder / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        progress(f"{ds.id}: [{i}/{len(todo)}] {f.path}")
        try:
            pooch.retrieve(f.url, known_hash=f"sha256:{f.sha256}", fname=target.name,
                           path=target.parent, progressbar=False)
        except Exception as exc:  # network or checksum failure: say which file and how to fix
            raise DataError(ds.id, f.path, f"download failed ({exc})",
                            fix=manual_instructions(ds, folder, [f])) from None
        written.append(target)
    return written
