"""Figures (GetDist)."""
from __future__ import annotations

from pathlib import Path


def triangle_plot(samples, path: str | Path, params: list[str] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from getdist import plots

    path = Path(path)
    g = plots.get_subplot_plotter(width_inch=7)
    g.triangle_plot([samples], params, filled=True)
    g.export(str(path))
    return path
