"""The comparison report: DIR/report.html and its Markdown twin DIR/report.md, with figures in
DIR/figures/ (linked relatively, so the folder is self-contained and can be moved or served).

Everything shown is read from the comparison summary (DIR/summary.json) and the chains in
DIR/<job>/chains; nothing is computed here that the summary does not also hold, except the
plots themselves. What the report shows (its tables, figures and notes) is gathered once by
``report_context``; two Jinja2 templates shipped with the package (templates/compare_report.html.j2
and compare_report.md.j2, their building blocks in macros.{html,md}.j2) draw it as HTML and as
Markdown.
"""
from __future__ import annotations

import concurrent.futures as cf
import functools
import html
import json
import logging
import math
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

from numass.compare.hypotheses import HYPOTHESIS_TABLE
from numass.compare.prior_edges import describe as describe_prior_bounded
from numass.compare.prior_edges import edge_findings
from numass.compare.provenance import data_rows
from numass.inference.importance import PARETO_K_MAX, TAIL_IS_MIN_ESS
from numass.inference.results import load_chains
from numass.processes import die_with_parent
from numass.report import published_section
from numass.report.camb_table import (
    CAMB_HEAD,
    CAMB_NOTE,
    VERIFY_HEAD,
    VERIFY_NOTE,
    camb_rows,
    verify_rows,
)
from numass.report.plots import FIGURE_SETTINGS
from numass.stats import FLOORS, format_bayes, weighted_quantile

log = logging.getLogger("numass")

# legend colours and texts, from the hypotheses' table
COLORS = {h.key: h.color for h in HYPOTHESIS_TABLE}
SHORT = {h.key: h.short for h in HYPOTHESIS_TABLE}
LATEX_SHORT = {h.key: h.latex for h in HYPOTHESIS_TABLE}


# ---------------------------------------------------------------- figures

def _load(out: Path, folder: str):
    return load_chains(out / folder, smooth_scale_1D=0.3, **FIGURE_SETTINGS)


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def posterior_overlay(summary: dict, out: Path, path: Path) -> Path | None:
    """1-d Σmν,eff posteriors of every hypothesis that ran, with the oscillation floors."""
    from getdist import plots

    samples, labels, colors = [], [], []
    for name, e in summary["hypotheses"].items():
        if e["status"] != "ok":
            continue
        try:
            samples.append(_load(out, e["folder"]))
        except Exception as exc:  # noqa: BLE001 - a missing chain: plot the others
            log.warning("no chain for %s: %s", name, exc)
            continue
        labels.append(LATEX_SHORT[name])
        colors.append(COLORS[name])
    if not samples:
        return None
    g = plots.get_single_plotter(width_inch=6.5)
    g.settings.legend_fontsize = 10
    g.plot_1d(samples, "mnu_eff", colors=colors, normalized=False, ls=["-"] * len(samples),
              lws=[1.8] * len(samples))
    ax = g.get_axes()
    for label, floor in FLOORS.items():
        ax.axvline(floor, color="k" if label == "normal_ordering" else "grey",
                   ls="--" if label == "normal_ordering" else ":", lw=1)
    ax.axvline(0.0, color="0.7", lw=0.8)
    ax.set_xlabel(r"$\Sigma m_{\nu,\rm eff}$ [eV]  (dashed: 0.0588 eV NO floor; dotted: 0.099 eV IO floor)")
    g.add_legend(labels, colored_text=True, legend_loc="upper left")
    g.export(str(path))
    return path


def triangle_vs_lcdm(summary: dict, out: Path, name: str, path: Path,
                     max_params: int = 6) -> Path | None:
    """Triangle of the hypothesis (over ΛCDM) on Σmν,eff, its own parameters and the shared
    parameters whose mean moved by more than 0.5 of ΛCDM's σ."""
    from getdist import plots

    e, ref = summary["hypotheses"][name], summary["hypotheses"]["lcdm"]
    if e["status"] != "ok":
        return None
    s = _load(out, e["folder"])
    params = ["mnu_eff"]
    ref_s = None
    if ref["status"] == "ok":
        ref_s = _load(out, ref["folder"])
    own = [p.name for p in s.paramNames.names if not p.isDerived and p.name != "mnu_eff"]
    ref_names = {p.name for p in ref_s.paramNames.names} if ref_s is not None else set()
    params += [p for p in own if p not in ref_names]
    moved = []
    if ref_s is not None:
        for p in own:
            if p in ref_names and p not in params:
                m0, s0 = ref_s.mean(p), ref_s.std(p)
                if s0 > 0 and abs(s.mean(p) - m0) / s0 > 0.5:
                    moved.append((abs(s.mean(p) - m0) / s0, p))
    params += [p for _, p in sorted(moved, reverse=True)]
    params = params[:max_params]
    if len(params) < 2:  # nothing else moves: add the best-constrained shared parameter
        params += [p for p in own if p not in params][:1]
    g = plots.get_subplot_plotter(width_inch=6.5)
    roots = [s] + ([ref_s] if ref_s is not None else [])
    legend = [LATEX_SHORT[name]] + ([LATEX_SHORT["lcdm"]] if ref_s is not None else [])
    # axes that hold both posteriors (GetDist would take the first one's range only)
    limits = {}
    for p in params:
        lo, hi = [], []
        for r in roots:
            if p in r.index:
                a, b = weighted_quantile(r.samples[:, r.index[p]], r.weights, [0.001, 0.999])
                lo.append(float(a))
                hi.append(float(b))
        if lo:
            limits[p] = (min(lo), max(hi))
    g.triangle_plot(roots, params, filled=True, legend_labels=legend, param_limits=limits,
                    contour_colors=[COLORS[name], COLORS["lcdm"]][:len(roots)])
    col = 0
    for row in range(len(params)):
        ax = g.subplots[row, col]
        if ax is not None:
            ax.axvline(FLOORS["normal_ordering"], color="k", ls="--", lw=1)
    g.export(str(path))
    return path


def tension_bars(summary: dict, path: Path) -> Path | None:
    """Bayesian and profile tension with the normal-ordering floor for every hypothesis,
    variant and τ rung that ran (horizontal bars; the inverted-ordering values as ticks)."""
    rows = []
    for name, e in summary["hypotheses"].items():
        if e["status"] == "ok":
            rows.append((f"{SHORT[name]}", e, COLORS[name]))
    for name, e in summary["hypotheses"]["tau"].get("ladder", {}).items():
        if e["status"] == "ok":
            rows.append((f"τ ladder: {name}", e, COLORS["tau"]))
    for name, e in summary["variants"].items():
        if e["status"] == "ok":
            rows.append((f"variant: {name}", e, "0.45"))
    if not rows:
        return None
    plt = _mpl()
    n = len(rows)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * n + 1.4))
    y = list(range(n))[::-1]
    h = 0.38
    for yi, (label, e, color) in zip(y, rows):
        t = e["tension_sigma"]
        ax.barh(yi + h / 2, t["normal_ordering"]["bayes"], height=h, color=color, alpha=0.9,
                label="Bayesian" if yi == y[0] else None)
        ax.barh(yi - h / 2, t["normal_ordering"]["profile"], height=h, color=color, alpha=0.45,
                hatch="//", edgecolor="white", label="profile likelihood" if yi == y[0] else None)
        ax.plot([t["inverted_ordering"]["bayes"]], [yi + h / 2], marker="|", color="k", ms=10,
                label="Bayesian, inverted ordering" if yi == y[0] else None)
        ax.text(t["normal_ordering"]["bayes"] + 0.05, yi + h / 2,
                format_bayes(t["normal_ordering"], 1),
                va="center", fontsize=7)
    ax.set_yticks(y)
    ax.set_yticklabels([r[0] for r in rows], fontsize=8)
    for x in (1, 2, 3):
        ax.axvline(x, color="0.8", lw=0.8, zorder=0)
    ax.set_xlabel("tension with the normal-ordering floor Σmν = 0.0588 eV [σ]")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_xlim(0, max(4.0, max(max(r[1]["tension_sigma"]["inverted_ordering"]["bayes"],
                                    r[1]["tension_sigma"]["normal_ordering"]["profile"])
                                for r in rows) + 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _drawn(make: Callable[[], Path | None]) -> tuple[Path | None, str | None]:
    """(the figure's path, None), or (None, why) where drawing it failed: a figure that fails
    must not lose the report."""
    try:
        return make(), None
    except Exception as exc:  # noqa: BLE001 - any failure of one figure
        return None, str(exc)


def _drawn_all(steps: list[tuple[str, Callable[[], Path | None]]]) -> list:
    """Each step's _drawn, side by side in forked processes where there are cores to spare
    (each figure is its own file; GetDist's 2-d densities are most of a report's time)."""
    cores = min(len(steps), os.cpu_count() or 1, 4)
    if cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [_drawn(make) for _, make in steps]
    with cf.ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("fork"),
                                initializer=die_with_parent) as pool:
        return list(pool.map(_drawn, [make for _, make in steps]))


def make_figures(summary: dict, out: Path) -> dict:
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    figs = {}
    steps: list[tuple[str, Callable[[], Path | None]]] = [
        ("posteriors", functools.partial(posterior_overlay, summary, out,
                                         figdir / "mnu_posteriors.png")),
        ("tension_bars", functools.partial(tension_bars, summary, figdir / "tension_bars.png"))]
    for name, e in summary["hypotheses"].items():
        if name != "lcdm" and e["status"] == "ok":
            steps.append((f"triangle_{name}", functools.partial(
                triangle_vs_lcdm, summary, out, name, figdir / f"triangle_{name}.png")))
    if summary["hypotheses"]["lcdm"]["status"] == "ok":
        folder = summary["hypotheses"]["lcdm"]["folder"]
        if (out / folder / "triangle.png").exists():
            figs["triangle_lcdm"] = f"{folder}/triangle.png"
    for (key, _), (path, failed) in zip(steps, _drawn_all(steps)):
        if failed is not None:
            log.warning("figure %s failed: %s", key, failed)
        if path is not None:
            figs[key] = str(Path(path).relative_to(out))
    return figs


# ---------------------------------------------------------------- tables (shared by HTML and MD)

def _f(x, fmt="{:+.3f}", none="–"):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return none
    return fmt.format(x)


def _sigma(t: dict) -> str:
    """'Bayes / profile' for one floor; '≈' marks a Bayesian figure extrapolated from a fit to
    the marginal (the lower bound the chain's samples support follows in brackets), '≥' one
    that is a bound."""
    bound = (f" (≥{t['bayes_bound']:.2f})" if t.get("bayes_extrapolated")
             and t.get("bayes_bound") is not None else "")
    if t.get("bayes_err") is not None and not t.get("bayes_beyond_cap"):
        bound = f" ± {max(t['bayes_err'], 0.005):.2f}"  # the evidence ratio's error (≥ 0.01)
    return f"{format_bayes(t)}{bound} / {_f(t['profile'], '{:.2f}')}"


def _status(e: dict) -> str:
    """'ok', or 'ok; NOT converged (criterion)' when the job missed its convergence criterion."""
    conv = e.get("convergence") or {}
    if e["status"] != "ok" or conv.get("met", True):
        return e["status"]
    return f"ok; NOT converged ({conv['criterion']})"


def verdict_entries(summary: dict) -> list[tuple[str, dict]]:
    """(row label, entry) of the verdict table: each hypothesis, followed by its prior
    variants (e.g. ΛsCDM with the wide z† prior), which are weighed like hypotheses."""
    out = []
    for name, e in summary["hypotheses"].items():
        out.append((SHORT[name], e))
        out += [(v["label"], v) for v in summary["variants"].values()
                if v.get("prior_variant_of") == name]
    return out


def verdict_rows(summary: dict) -> list[list[str]]:
    rows = []
    for label, e in verdict_entries(summary):
        m, t = e.get("mnu_eff"), e["tension_sigma"]
        no, io = t["normal_ordering"], t["inverted_ordering"]
        rows.append([
            label,
            _status(e),
            (f"{m['mean']:+.3f} ± {m['std']:.3f}" if m else "–"),
            (f"[{m['lower68']:+.3f}, {m['upper68']:+.3f}]" if m else "–"),
            (_f(m["upper95"]) if m else "–"),
            _sigma(no),
            _sigma(io),
            _f(e.get("delta_chi2"), "{:+.2f}"),
            _f(e.get("delta_aic"), "{:+.2f}"),
            (f"{e['ln_evidence']:.2f} ± {e['ln_evidence_err']:.2f}"
             if e.get("ln_evidence") is not None else "–"),
            (f"{e['ln_bayes_factor_vs_lcdm']:+.2f} ± {e['ln_bayes_factor_err']:.2f}"
             if e.get("ln_bayes_factor_vs_lcdm") is not None else "–"),
            e.get("verdict", "") if e["status"] == "ok" else "not tested",
        ])
    return rows


VERDICT_HEAD = ["hypothesis", "status", "Σmν,eff mean ± std [eV]", "68% interval [eV]",
                "95% upper [eV]", "tension NO: Bayes / profile [σ]",
                "tension IO: Bayes / profile [σ]", "Δχ² vs ΛCDM", "ΔAIC", "ln Z ± err",
                "ln B vs ΛCDM", "verdict"]


def _entry_rows(entries: dict, with_params: bool = True) -> list[list[str]]:
    rows = []
    for name, e in entries.items():
        m, t = e.get("mnu_eff"), e["tension_sigma"]
        params = "; ".join([f"{p} = {v['mean']:.4g} ± {v['std']:.2g}"
                            for p, v in (e.get("params") or {}).items()]
                           + ([describe_prior_bounded(e["prior_bounded"])]
                              if e.get("prior_bounded") else []))
        rows.append([name, e.get("label", ""), e["status"],
                     (f"{m['mean']:+.3f} ± {m['std']:.3f}" if m else "–"),
                     (_f(m["upper95"]) if m else "–"),
                     _sigma(t["normal_ordering"]),
                     _sigma(t["inverted_ordering"]),
                     params or "–"] if with_params else [])
    return rows


ENTRY_HEAD = ["name", "what", "status", "Σmν,eff [eV]", "95% upper [eV]",
              "NO: Bayes / profile [σ]", "IO: Bayes / profile [σ]", "other parameters"]


def claims_rows(summary: dict) -> list[list[str]]:
    return [[c["claim"], c["measured"], c["verdict"], c["rule"]] for c in summary["claims"]]


CLAIMS_HEAD = ["the review says", "numass measures", "verdict", "rule (fixed in advance)"]


def settings_rows(summary: dict) -> list[list[str]]:
    s = summary["settings"]
    return [*nested_rows(summary),
            ["MCMC stop", (f"Gelman-Rubin R−1 < {s['rminus1']} on the means and < "
                           f"{s['rminus1_cl']} on the 95% bounds; at most {s['max_samples']} samples; "
                           f"seed {s['seed']}; first 30% of each chain dropped")],
            ["evidence of MCMC jobs", (f"dynesty static, {s['nlive']} live points, stop at "
                                       f"Δln Z < {s['dlogz']}, multi-ellipsoid bounds, uniform "
                                       f"sampling; seed {s['seed']}")],
            ["quick settings", "yes (fast, not for publication)" if s["quick"] else "no"],
            ["wall time", f"{summary['wall_seconds']:.0f} s"]]


def _importance_row(drawn: dict, fallbacks: dict) -> list[list[str]]:
    """--quick's importance sampling: the jobs it served, and those where nautilus ran (why)."""
    if not drawn and not fallbacks:
        return []
    why = "; ".join(f"{n}: {w}" for n, w in fallbacks.items())
    return [["importance sampling (--quick)",
             (f"{len(drawn)} job(s) from a Student-t around the best fit, refitted on a pilot "
              f"round (posterior and ln Z, no network training); convergence: ESS ≥ n_eff and "
              f"Pareto k̂ ≤ {PARETO_K_MAX}, else nautilus"
              + (f" (ran for {len(fallbacks)} job(s): {why})" if fallbacks else ""))]]


def nested_rows(summary: dict) -> list[list[str]]:
    """The sampler's settings and each job's convergence, where any job used nautilus or
    (--quick) importance sampling."""
    s = summary["settings"]
    entries = {**summary["hypotheses"], **summary["variants"],
               **{f"tau_{k}": v for k, v in summary["hypotheses"]["tau"].get("ladder", {}).items()}}
    nested = {n: e for n, e in entries.items() if e.get("sampler") == "nautilus"}
    drawn = {n: e for n, e in entries.items() if e.get("sampler") == "importance"}
    fallbacks = {n: e["evidence"]["importance"]["fallback"] for n, e in nested.items()
                 if (e.get("evidence") or {}).get("importance", {}).get("fallback")}
    if not (nested or drawn) or "n_eff" not in s:
        return []
    missed = [n for n, e in {**nested, **drawn}.items() if not e["convergence"]["met"]]
    return [*_importance_row(drawn, fallbacks),
            *([["posterior sampler", (f"nautilus (batched theory) for {len(nested)} job(s), "
                                      f"{s['n_live']} live points, {s['n_networks']} network(s), "
                                      f"seed {s['seed']}; posterior and ln Z in one run")]]
              if nested else []),
            ["convergence criterion", f"n_eff ≥ {s['n_eff']} and σ(ln Z) ≤ {s['lnz_err_max']:g}; "
                                      + (f"missed by {', '.join(missed)}" if missed
                                         else "met by every nautilus job" if not drawn
                                         else "met by every job")],
            ["Bayesian tails", (f"counted where ≥ {s['tail_min_ess']:g} effective samples lie "
                                f"above the floor, else P = Z(Σmν,eff ≥ floor) / Z, the cut "
                                f"region's Z by importance sampling (a proposal from the "
                                f"posterior and the profile point at the floor; trusted with "
                                f"≥ {TAIL_IS_MIN_ESS} effective draws), else by a second nautilus "
                                f"run on the prior cut at the floor ({s['tail_n_live']} live "
                                f"points, n_eff {s['tail_n_eff']}); beyond 5σ printed '> 5'")]]


# ---------------------------------------------------------------- the report's content

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;
     color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}
th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f0f0f0}
tr.not-ok td{color:#777;background:#fafafa}
td.agrees{background:#e3f4e3}td.disagrees{background:#f8e0e0}td.partly{background:#fff4d6}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figure img{max-width:560px;border:1px solid #ddd}
figcaption{font-size:.8em;color:#555;max-width:560px}
code{background:#f4f4f4;padding:0 .2em}
.small{font-size:.8em;color:#555}
#edge-errors{border:2px solid #c00;background:#fdecea;padding:.4em .8em;margin:.8em 0}
"""

DATA_HEAD = ["data set", "citation", "jobs that used it"]
PRIORS_HEAD = ["job", "parameter", "prior (Cobaya)"]
JOBS_HEAD = ["job", "model", "data", "backend", "run"]
EDGE_ERROR_HEAD = ("Error: a headline hypothesis's posterior is cut by a limit of numass's "
                   "theory, not by the model's prior")
EDGE_CHOICE_HEAD = "Posteriors at the model's own prior edges (the hypotheses' choice)"


def _tbl(head, rows, table_id=None, row_classes=None, cell_class=None) -> dict:
    """A table as the templates draw it: cells as text, optional row and cell classes (HTML)."""
    rows = [[str(c) for c in row] for row in rows]
    cells = ([[cell_class(i, j, c) for j, c in enumerate(row)] for i, row in enumerate(rows)]
             if cell_class else None)
    return {"id": table_id, "head": [str(h) for h in head], "rows": rows,
            "row_classes": row_classes, "cell_classes": cells}


def _ok_classes(entries) -> list[str]:
    return ["" if e["status"] == "ok" else "not-ok" for e in entries]


def _edges(summary: dict) -> dict:
    return {**edge_findings(summary), "error_head": EDGE_ERROR_HEAD,
            "choice_head": EDGE_CHOICE_HEAD}


def _figures(summary: dict, figs: dict) -> dict:
    """The figures with their captions: each {src, caption, alt, md_caption}; 'triangles' those
    the HTML shows under "Parameters that move", 'markdown' those report.md embeds."""
    def fig(key, caption, alt, md_caption):
        return {"key": key, "src": figs.get(key), "caption": caption, "alt": alt,
                "md_caption": md_caption}

    posteriors = fig("posteriors", "1-d marginal posteriors of Σmν,eff (GetDist) for every "
                     "hypothesis that ran; floors dashed (NO) and dotted (IO).",
                     "posterior overlay", "Σmν,eff posteriors")
    bars = fig("tension_bars", "Tension with the normal-ordering floor per hypothesis, τ rung "
               "and variant: solid = Bayesian, hatched = profile likelihood; ticks = Bayesian "
               "with the inverted-ordering floor.", "tension bars", "tension bars")
    triangles = [fig("triangle_lcdm", "ΛCDM + Σmν,eff (the reference).", "triangle lcdm",
                     "ΛCDM triangle")] if figs.get("triangle_lcdm") else []
    triangles += [fig(f"triangle_{name}", f"{SHORT[name]} (coloured) over ΛCDM (blue): Σmν,eff, "
                      f"the hypothesis's own parameters and the shared parameters whose mean "
                      f"moved by > 0.5σ.", f"triangle {name}", f"{SHORT[name]} over ΛCDM")
                  for name in summary["hypotheses"] if name != "lcdm" and f"triangle_{name}" in figs]
    markdown = [f for f in [posteriors, bars, *triangles] if f["src"]]
    return {"posteriors": posteriors, "tension_bars": bars, "triangles": triangles,
            "markdown": markdown}


def _provenance(summary: dict) -> dict:
    """Data with citations, every job's priors, settings, versions, jobs and how to reproduce."""
    data = summary["data"]
    priors = [[job, p, json.dumps(v)] for job, pri in summary["priors"].items()
              for p, v in pri.items()]
    jobs = [[n, j["model"], ", ".join(j["datasets"]), j.get("backend") or "model default",
             j.get("skip") and "skipped" or (f"same as {j['same_as']}" if j.get("same_as") else "run")]
            for n, j in summary["jobs"].items()]
    return {"data": _tbl(DATA_HEAD, data_rows(summary), "data-table"),
            "priors": _tbl(PRIORS_HEAD, priors, "priors-table"),
            "settings": _tbl(["setting", "value"], settings_rows(summary), "settings-table"),
            "software": _tbl(["package", "version"], [[k, v] for k, v in
                                                      summary["software"].items()], "software-table"),
            "jobs": _tbl(JOBS_HEAD, jobs, "jobs-table"),
            "reproduce_data": (data["label"] if data["label"] != "custom"
                               else ",".join(data["datasets"]))}


def report_context(summary: dict, figs: dict) -> dict:
    """Everything the report shows, computed once: both templates (HTML and Markdown) draw it."""
    data = summary["data"]
    ladder = summary["hypotheses"]["tau"].get("ladder", {})
    camb, verify = camb_rows(summary), verify_rows(summary)
    return {
        "data_label": data["label"], "datasets": ", ".join(data["datasets"]), "floors": FLOORS,
        "quick": bool(summary["settings"].get("quick")), "edges": _edges(summary),
        "verdict": _tbl(VERDICT_HEAD, verdict_rows(summary), "verdict-table",
                        _ok_classes(e for _, e in verdict_entries(summary))),
        "warnings": summary.get("warnings") or [],
        "definitions": list(summary["definitions"].items()),
        "camb": {"note": CAMB_NOTE, "table": _tbl(CAMB_HEAD, camb, "camb-table")} if camb else None,
        "verify": ({"note": VERIFY_NOTE, "table": _tbl(VERIFY_HEAD, verify, "verify-table")}
                   if verify else None),
        "figures": _figures(summary, figs),
        "variants": _tbl(ENTRY_HEAD, _entry_rows(summary["variants"]), "variants-table",
                         _ok_classes(summary["variants"].values())),
        "tau_ladder": _tbl(ENTRY_HEAD, _entry_rows(ladder), "tau-ladder-table",
                           _ok_classes(ladder.values())),
        "claims": _tbl(CLAIMS_HEAD, claims_rows(summary), "claims-table",
                       cell_class=lambda i, j, c: c.split()[0] if j == 2 and c else ""),
        **_provenance(summary)}


# ---------------------------------------------------------------- the two templates

@functools.cache
def _template(name: str):
    """templates/<name>.j2 (package data: compare_report.{html,md}, their macros.{html,md}),
    with the filters both formats use."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("numass.report", "templates"),
                             autoescape=False, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["esc"] = lambda x: html.escape(str(x))  # HTML: every text escaped explicitly
    env.filters["mdcell"] = lambda x: str(x).replace("|", "\\|").replace("\n", " ")
    return env.get_template(f"{name}.j2")


def _table(head, rows, table_id=None, row_classes=None, cell_class=None) -> str:
    """An HTML table (the template's macro; published_section draws its tables with it)."""
    return _template("macros.html").module.table(_tbl(head, rows, table_id, row_classes, cell_class))


def _md_table(head, rows) -> str:
    """A Markdown table (the template's macro; published_section draws its tables with it)."""
    return _template("macros.md").module.table(_tbl(head, rows))


def _edges_md(summary: dict) -> list[str]:
    """The edge check's findings as Markdown lines: errors first, then warnings, prior edges."""
    return _template("macros.md").module.edges(_edges(summary)).split("\n")[:-1]


def render_html(summary: dict, figs: dict) -> str:
    return _template("compare_report.html").render(report=report_context(summary, figs), css=CSS,
                                    published=published_section.render_html(summary, _table))


def render_md(summary: dict, figs: dict) -> str:
    lines = published_section.render_md(summary, _md_table)
    return _template("compare_report.md").render(report=report_context(summary, figs),
                                  published="".join(x + "\n" for x in lines))


def write_report(summary: dict, out: str | Path) -> dict:
    """Figures, report.html and report.md in ``out``; returns {figure key: relative path}."""
    out = Path(out)
    figs = make_figures(summary, out)
    (out / "report.html").write_text(render_html(summary, figs), encoding="utf-8")
    (out / "report.md").write_text(render_md(summary, figs), encoding="utf-8")
    return figs
