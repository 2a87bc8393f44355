"""The on-disk cache of fiducial tables (theory/table_cache.py): a table is computed once and read
back bit for bit; a damaged, truncated or edited file is recomputed, never used; another key is
another file; a folder that cannot be written costs only the recomputation."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from numass.theory import table_cache
from numass.theory.table_cache import CACHE_ENV, cached_arrays, source_digest


class _Counted:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        rng = np.random.default_rng(self.calls)
        return {"a": rng.standard_normal((3, 4)), "edges": np.arange(5)}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "tables"))
    return tmp_path / "tables"


def test_a_table_is_computed_once_and_read_back_exactly(cache):
    compute = _Counted()
    first = cached_arrays("t", {"x": 1}, compute)
    again = cached_arrays("t", {"x": 1}, compute)
    assert compute.calls == 1 and set(again) == {"a", "edges"}
    assert all(np.array_equal(first[k], again[k]) and first[k].dtype == again[k].dtype
               for k in first)
    cached_arrays("t", {"x": 2}, compute)  # another key: another file, computed
    assert compute.calls == 2 and len(list(cache.glob("t-*.npz"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "edit"])
def test_a_damaged_table_is_recomputed_not_used(cache, caplog, damage):
    compute = _Counted()
    cached_arrays("t", {"x": 1}, compute)
    (path,) = cache.glob("t-*.npz")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"not a table")
    else:  # the arrays changed under the stored checksum
        with np.load(path) as f:
            stored = {k: f[k] for k in f.files}
        stored["a"] = stored["a"] + 1e-12
        np.savez(path, **stored)
    with caplog.at_level(logging.WARNING, logger="numass"):
        again = cached_arrays("t", {"x": 1}, compute)
    assert compute.calls == 2 and "recomputed" in caplog.text
    assert np.array_equal(again["a"], np.random.default_rng(2).standard_normal((3, 4)))
    assert cached_arrays("t", {"x": 1}, compute) and compute.calls == 2  # written again, whole


def test_an_unwritable_cache_folder_costs_only_the_recomputation(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "tables"))  # a folder inside a file: no writes
    compute = _Counted()
    with caplog.at_level(logging.WARNING, logger="numass"):
        out = cached_arrays("t", {"x": 1}, compute)
    assert out["a"].shape == (3, 4) and "could not keep" in caplog.text


def test_the_code_digest_follows_the_files(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("x = 1\n")
    before = source_digest([f])
    f.write_text("x = 2\n")
    assert source_digest([f]) != before


def test_the_cache_folder_is_the_environments_else_the_users(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert table_cache.cache_dir() == tmp_path
    monkeypatch.delenv(CACHE_ENV)
    assert table_cache.cache_dir().parts[-2:] == ("numass", "tables")
