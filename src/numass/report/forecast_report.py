"""``numass forecast``: its command-line options, its runner (cmd_forecast) and its report.

DIR/report.html shows, from DIR/summary.json only: the discrimination matrix as a heatmap (one
panel per combination of experiments), σ(Σmν) per combination as bars (Fisher and Asimov
profile), the ΛCDM "mirage" table and the experiments' table with citations. Figures go to
DIR/figures/ and are linked relatively.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from numass.forecast.specs import help_text
from numass.forecast.truths import NO_FLOOR

HELP = ("which future data decide between the six explanations: σ(Σmν) and the discrimination "
        "matrix on Asimov mocks (docs/forecast.md)")
__all__ = ["HELP", "add_forecast_parser", "cmd_forecast", "format_tables", "help_text",
           "write_forecast_report"]


def add_forecast_parser(sub, make_subparser, add_data_dir) -> None:
    """The ``forecast`` subcommand (the CLI passes its parser helpers)."""
    p = make_subparser(sub, "forecast", HELP, help_text())
    p.add_argument("--experiments", default=None, help="combinations, comma-separated, each "
                   "experiment ids joined by '+', e.g. s4+s4_lensing+litebird_tau+desi_final")
    p.add_argument("--truths", default=None, help="comma-separated truths (default: lcdm_floor "
                   "and the six hypotheses' best fits)")
    p.add_argument("--hypotheses", default=None, help="comma-separated hypotheses fitted to "
                   "each truth (default: all six)")
    p.add_argument("--truths-from", default=None, metavar="DIR", help="a numass compare folder "
                   "whose best fits are the truths (default: the embedded full-data best fits)")
    p.add_argument("--out", default="numass-forecast", help="output folder (default "
                   "./numass-forecast)")
    add_data_dir(p)
    p.set_defaults(func=cmd_forecast)


def cmd_forecast(args) -> int:
    from numass.compare.run import check_out_folder
    from numass.fileio import FolderLock
    from numass.forecast.run import run_forecast

    def split(v):
        return [x.strip() for x in v.split(",") if x.strip()] if v else None

    out = check_out_folder(args.out)
    with FolderLock(out, "numass forecast"):
        summary = run_forecast(out, split(args.experiments), split(args.truths),
                               split(args.hypotheses), args.truths_from, args.data_dir)
        write_forecast_report(summary, out)
    print(format_tables(summary))
    print(f"[numass] wrote {out}/summary.json, {out}/report.html "
          f"({summary['wall_seconds']:.0f} s)")
    return 0


# ---------------------------------------------------------------- tables

def mass_rows(summary: dict) -> list[list[str]]:
    rows = []
    for c, d in summary["sigma_mnu_detail"].items():
        p = d["profile"]
        w = d.get("w0wa", {})
        rows.append([c, f"{1e3 * d['fisher']:.1f}",
                     f"−{1e3 * p['lower']:.1f} / +{1e3 * p['upper']:.1f}",
                     f"{1e3 * w.get('mnu_eff', float('nan')):.1f}",
                     f"{w.get('w0', float('nan')):.3f}", f"{w.get('wa', float('nan')):.3f}"])
    return rows


MASS_HEAD = ["combination", "σ(Σmν) Fisher [meV]", "Asimov profile −/+ [meV]",
             "σ(Σmν) in w0wa [meV]", "σ(w0)", "σ(wa)"]
MIRAGE_HEAD = ["truth", "combination", "Σmν,eff inferred by ΛCDM [eV]",
               f"below the {NO_FLOOR} eV floor [σ]", "ΛCDM rejected at [σ]"]


def mirage_rows(summary: dict) -> list[list[str]]:
    return [[t, c, f"{r['mnu_eff_inferred']:+.3f}", f"{r['below_floor_sigma']:.1f}",
             f"{r['lcdm_rejected_sigma']:.2f}"]
            for t, cv in summary["mirage"].items() for c, r in cv.items()]


CLAIM_HEAD = ["combination", "with Euclid", "ΛCDM rejected when w0wa is true [σ]",
              "Σmν,eff inferred [eV]", f"below the {NO_FLOOR} eV floor [σ]"]


def claim_rows(summary: dict) -> list[list[str]]:
    return [[c, "yes" if r.get("with_euclid") else "no", f"{r['lcdm_rejected_sigma']:.2f}",
             f"{r['mnu_eff_inferred']:+.3f}", f"{r['below_floor_sigma']:.1f}"]
            for c, r in summary["closing_claim"]["rows"].items()]


def matrix_rows(summary: dict, combination: str) -> tuple[list[str], list[list[str]]]:
    disc = summary["discrimination"]
    hyps = list(next(iter(disc.values())))
    return (["truth \\ fitted", *hyps],
            [[t, *(f"{disc[t][h][combination]['sigma']:.1f}" for h in hyps)] for t in disc])


def _text_table(head, rows) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), *(fmt.format(*r) for r in rows)])


def format_tables(summary: dict) -> str:
    parts = [f"σ(Σmν) at ΛCDM with Σmν = {NO_FLOOR} eV:",
             _text_table(MASS_HEAD, mass_rows(summary))]
    for c in summary["combinations"]:
        head, rows = matrix_rows(summary, c)
        parts += [f"\ndiscrimination [σ = sqrt(Δχ²_min)], {c}:", _text_table(head, rows)]
    parts += ["\nthe mirage:", _text_table(MIRAGE_HEAD, mirage_rows(summary))]
    if summary["closing_claim"]["rows"]:
        parts += [f"\n{summary['closing_claim']['claim']}:",
                  _text_table(CLAIM_HEAD, claim_rows(summary))]
    return "\n".join(parts)


# ---------------------------------------------------------------- figures and HTML

def heatmap(summary: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    combos = list(summary["combinations"])
    disc = summary["discrimination"]
    truths, hyps = list(disc), list(next(iter(disc.values())))
    fig, axes = plt.subplots(1, len(combos), figsize=(4.2 * len(combos), 4.4), squeeze=False)
    for k, (ax, c) in enumerate(zip(axes[0], combos)):
        m = np.array([[disc[t][h][c]["sigma"] for h in hyps] for t in truths])
        im = ax.imshow(np.minimum(m, 10.0), vmin=0, vmax=10, cmap="viridis")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7,
                    color="w" if v < 6 else "k")
        ax.set_xticks(range(len(hyps)), hyps, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(truths)), truths if k == 0 else [], fontsize=7)
        ax.set_xlabel("hypothesis fitted", fontsize=7)
        if k == 0:
            ax.set_ylabel("truth", fontsize=7)
        ax.set_title(c.replace("+", " + "), fontsize=7)
    fig.colorbar(im, ax=axes[0].tolist(), label="σ = sqrt(Δχ²_min) (colour capped at 10)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def mass_bars(summary: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    d = summary["sigma_mnu_detail"]
    combos = list(d)
    y = np.arange(len(combos))
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(combos) + 1.2))
    ax.barh(y - 0.2, [1e3 * d[c]["fisher"] for c in combos], 0.4, label="Fisher")
    ax.barh(y + 0.2, [1e3 * d[c]["profile"]["mean"] for c in combos], 0.4,
            label="Asimov profile (mean of −/+)")
    ax.set_yticks(y, [c.replace("+", " + ") for c in combos], fontsize=7)
    ax.set_xlabel("σ(Σmν) [meV] at ΛCDM, Σmν = 0.0588 eV")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _html_table(head, rows) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def write_forecast_report(summary: dict, out: str | Path) -> Path:
    from numass.fileio import atomic_write_text

    out = Path(out)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    heatmap(summary, fig_dir / "discrimination.png")
    mass_bars(summary, fig_dir / "sigma_mnu.png")
    spec = [[e["id"], e["label"], e["spec"], e["citation"], e["status"]]
            for e in summary["experiments"]]
    parts = [
        "<h1>numass forecast</h1>",
        (f"<p>Truths: {html.escape(summary['truths_source'])} (per truth: "
         f"{html.escape(json.dumps(summary.get('truths_origin', {})))}). "
         f"{html.escape(summary['conventions']['sigma'])}. Wall time "
         f"{summary['wall_seconds']:.0f} s.</p>"),
        "<h2>Discrimination matrix</h2>",
        '<img src="figures/discrimination.png" alt="discrimination heatmap">',
        "<h2>σ(Σmν) per combination</h2>",
        '<img src="figures/sigma_mnu.png" alt="sigma(mnu) bars">',
        _html_table(MASS_HEAD, mass_rows(summary)),
        "<h2>The mirage: Σmν,eff inferred by ΛCDM when w0wa or ΛsCDM is true</h2>",
        _html_table(MIRAGE_HEAD, mirage_rows(summary)),
        f"<h2>{html.escape(summary['closing_claim']['claim'])}</h2>",
        _html_table(CLAIM_HEAD, claim_rows(summary)),
        "<h2>Experiments</h2>",
        _html_table(["id", "experiment", "specification", "source", "status"], spec),
    ]
    style = ("<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
             "table{border-collapse:collapse}img{max-width:100%}</style>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>numass forecast</title>"
            f"{style}</head><body>{''.join(parts)}</body></html>")
    return atomic_write_text(out / "report.html", page)
