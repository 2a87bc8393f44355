"""Figures (GetDist)."""
from __future__ import annotations

from pathlib import Path

from numass.analysis.tension import FLOORS

FLOOR_STYLE = {"normal_ordering": ("k", "--"), "inverted_ordering": ("grey", ":")}


def triangle_plot(samples, path: str | Path, params: list[str] | None = None) -> Path:
    """Triangle plot of the chain, with the oscillation floors marked on Sigma m_nu,eff."""
    import matplotlib

    matplotlib.use("Agg")
    from getdist import plots

    path = Path(path)
    g = plots.get_subplot_plotter(width_inch=7)
    g.triangle_plot([samples], params, filled=True)
    if params and "mnu_eff" in params:
        col = params.index("mnu_eff")
        for row in range(col, len(params)):
            ax = g.subplots[row, col]
            if ax is None:
                continue
            for label, floor in FLOORS.items():
                color, style = FLOOR_STYLE[label]
                ax.axvline(floor, color=color, ls=style, lw=1,
                           label=f"{label.replace('_', ' ')} floor ({floor} eV)" if row == col else None)
        handles, labels = g.subplots[col, col].get_legend_handles_labels()
        g.fig.legend(handles, labels, loc="upper right", fontsize=9, frameon=False)
    g.export(str(path))
    return path
