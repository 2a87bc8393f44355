"""The registry of public data sets: id (the folder name), files, official URLs, sha256, citation.

The entries live in registry.json, generated from the data sets' SHA256SUMS by
tools/make_registry.py (hashes are never typed by hand).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from numass.errors import InputError


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the data set's folder
    sha256: str
    size: int  # bytes
    url: str  # official download URL, pinned to a release tag or commit
    url_confirmed: bool  # upstream path confirmed when the registry was generated


@dataclass(frozen=True)
class DataSet:
    id: str
    description: str
    citation: str
    source: str
    files: tuple[DataFile, ...]
    partial: str = ""  # non-empty: upstream files this registry lacks, and why it matters

    def file(self, relpath: str) -> DataFile | None:
        return _file_index(self.id).get(relpath)


@lru_cache(maxsize=1)
def datasets() -> dict[str, DataSet]:
    raw = json.loads(Path(__file__).with_name("registry.json").read_text())
    return {k: DataSet(id=k, description=v["description"], citation=v["citation"],
                       source=v["source"], files=tuple(DataFile(**f) for f in v["files"]),
                       partial=v.get("partial", ""))
            for k, v in raw.items()}


@cache
def _file_index(dataset_id: str) -> dict[str, DataFile]:
    return {f.path: f for f in datasets()[dataset_id].files}


def get_dataset(dataset_id: str) -> DataSet:
    sets = datasets()
    if dataset_id not in sets:
        raise InputError(f"unknown data set '{dataset_id}'; known: {', '.join(sets)}")
    return sets[dataset_id]
