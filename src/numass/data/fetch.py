"""Download data sets from their official sources with pooch, size- and sha256-checked.

Offline (no route to a source host), fetching stops at once and says which files to download
from where, and into which folder to put them, instead of hanging on retries.
"""
from __future__ import annotations

import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from numass.data.registry import DataSet, datasets, get_dataset
from numass.data.store import check_file, data_dir
from numass.errors import DataError


def host_reachable(url: str, timeout: float = 3.0) -> bool:
    """Can we resolve the URL's host and open a TCP connection to it within ``timeout`` s?

    The whole probe runs in a daemon thread because a DNS lookup ignores socket timeouts and
    can hang for a long time on a machine without network.
    """
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    result = []

    def probe():
        try:
            with socket.create_connection((parsed.hostname, port), timeout=timeout):
                result.append(True)
        except (OSError, ValueError):
            pass

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result)


def manual_instructions(ds: DataSet, folder: Path, files=None) -> str:
    """What to download (URLs) and where to put it (the exact target folder)."""
    files = ds.files if files is None else files
    lines = [(f"download these files of '{ds.id}' ({ds.source}) into {folder}/ keeping their "
              f"relative paths, then run `numass data verify {ds.id}`:")]
    lines += [f"  {folder / f.path}  <-  {f.url}" for f in files]
    return "\n".join(lines)


def files_to_fetch(ds: DataSet, folder: Path) -> list:
    """Registered files that are missing, truncated or corrupt in ``folder``."""
    return [f for f in ds.files if check_file(folder / f.path, f)[0] != "ok"]


def fetch(dataset_id: str, override: str | Path | None = None, progress=print,
          timeout: float = 3.0) -> list[Path]:
    """Download what is missing or damaged of ``dataset_id`` (or "all"); return paths written.

    Raises DataError at once when the source host cannot be reached (offline), listing the
    URLs and the target folder, and DataError naming the file when a download fails.
    """
    ids = list(datasets()) if dataset_id == "all" else [get_dataset(dataset_id).id]
    root = data_dir(override)
    plan = []
    for i in ids:
        ds = get_dataset(i)
        todo = files_to_fetch(ds, root / ds.id)
        if todo:
            plan.append((ds, todo))
        else:
            progress(f"{ds.id}: all {len(ds.files)} files present and intact")
    if not plan:
        return []
    hosts = {urlparse(f.url).hostname: f.url for _, todo in plan for f in todo}
    offline = [h for h, url in hosts.items() if not host_reachable(url, timeout)]
    if offline:
        how = "\n".join(manual_instructions(ds, root / ds.id, todo) for ds, todo in plan)
        raise DataError(plan[0][0].id if len(plan) == 1 else "all", None,
                        f"cannot reach {', '.join(offline)} (offline?)", fix=how)
    written = []
    for ds, todo in plan:
        written += _download(ds, todo, root / ds.id, progress)
    return written


def _download(ds: DataSet, todo, folder: Path, progress) -> list[Path]:
    import pooch

    written = []
    for n, f in enumerate(todo, 1):
        target = folder / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # a damaged copy: replace it rather than trust it
            target.unlink()
        progress(f"{ds.id}: [{n}/{len(todo)}] {f.path}")
        try:
            pooch.retrieve(f.url, known_hash=f"sha256:{f.sha256}", fname=target.name,
                           path=target.parent, progressbar=False)
        except Exception as exc:  # noqa: BLE001 - network, HTTP or checksum: name file and fix
            raise DataError(ds.id, f.path, f"download failed ({type(exc).__name__}: {exc})",
                            fix=manual_instructions(ds, folder, [f])) from None
        written.append(target)
    return written
