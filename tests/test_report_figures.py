"""The comparison report's figures, drawn side by side in forked workers
(report.compare_report._drawn_all): every figure comes back in order, and one that fails is a
reason next to the others, never a lost report."""
from __future__ import annotations

import functools
import os
from pathlib import Path

from numass.report import compare_report


def _draw(path: Path) -> Path:
    path.write_text(str(os.getpid()))
    return path


def _fail(path: Path) -> Path:
    raise ValueError(f"no contours for {path.name}")


def test_figures_come_back_in_order_and_a_failure_is_only_a_reason(tmp_path):
    steps = [("a", functools.partial(_draw, tmp_path / "a.png")),
             ("b", functools.partial(_fail, tmp_path / "b.png")),
             ("c", functools.partial(_draw, tmp_path / "c.png"))]
    drawn = compare_report._drawn_all(steps)
    assert drawn == [(tmp_path / "a.png", None), (None, "no contours for b.png"),
                     (tmp_path / "c.png", None)]
    assert (tmp_path / "a.png").exists() and (tmp_path / "c.png").exists()
    if (os.cpu_count() or 1) > 1:  # drawn in workers, not here
        assert (tmp_path / "a.png").read_text() != str(os.getpid())


def test_one_core_draws_them_here(tmp_path, monkeypatch):
    monkeypatch.setattr(compare_report.os, "cpu_count", lambda: 1)
    steps = [("a", functools.partial(_draw, tmp_path / "a.png")),
             ("b", functools.partial(_fail, tmp_path / "b.png"))]
    assert compare_report._drawn_all(steps) == [(tmp_path / "a.png", None),
                                                (None, "no contours for b.png")]
    assert (tmp_path / "a.png").read_text() == str(os.getpid())
