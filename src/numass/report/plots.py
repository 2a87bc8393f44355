"""Figures (GetDist)."""
from __future__ import annotations

from pathlib import Path

from numass.stats import FLOORS

FLOOR_STYLE = {"normal_ordering": ("k", "--"), "inverted_ordering": ("grey", ":")}
# GetDist's 2-d densities on 128 fine bins a side instead of 256: a triangle's panel is about an
# inch (~100 pixels) wide, so the contours look the same, and the FFT smoothing that is most of
# a triangle plot's time costs a quarter (a six-parameter triangle of two chains: 8.8 -> 5.3 s)
FIGURE_SETTINGS = {"fine_bins_2D": 128}


def triangle_plot(samples, path: str | Path, params: list[str] | None = None) -> Path:
    """Triangle plot of the chain, with the oscillation floors marked on Sigma m_nu,eff."""
    import matplotlib

    matplotlib.use("Agg")
    from getdist import plots

    path = Path(path)
    samples.updateSettings(FIGURE_SETTINGS)
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


def profile_plot(summary: dict, path: str | Path) -> Path:
    """Delta chi2 of a profile likelihood (``numass profile``), with the 1 and 3.84 levels and,
    for Sigma m_nu,eff, the oscillation floors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    x = [p["value"] for p in summary["points"]]
    d = [p["delta_chi2"] for p in summary["points"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(x, d, "o-", color="C0", ms=4)
    for level, text in ((1.0, "68%"), (3.84, "95%")):
        ax.axhline(level, color="0.6", lw=0.8, ls="-")
        ax.text(x[0], level, f" Δχ² = {level:g} ({text})", va="bottom", fontsize=8, color="0.4")
    if summary["param"] == "mnu_eff":
        for label, floor in FLOORS.items():
            color, style = FLOOR_STYLE[label]
            ax.axvline(floor, color=color, ls=style, lw=1,
                       label=f"{label.replace('_', ' ')} floor ({floor} eV)")
        ax.legend(fontsize=8, frameon=False)
    ax.set_xlabel(summary["param"])
    ax.set_ylabel(r"$\Delta\chi^2$ (profile)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{summary['model']} on {', '.join(summary['datasets'])}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
