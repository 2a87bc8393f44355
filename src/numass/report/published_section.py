"""The report's "numass beside the published numbers" section, drawn from the summary's
``published`` block (numass.compare.published) alone, as HTML and as Markdown."""
from __future__ import annotations

import html

HEAD = ["quantity", "published (paper, where)", "its data", "numass", "numass's data",
        "what differs"]
INTRO = ("Each row puts a published number next to numass's on its nearest data combination; "
         "the last column says what differs between the two. Published numbers are quoted from "
         "the papers (arXiv id and place given); a number the stored copy of a paper does not "
         "hold is said to be missing rather than quoted second hand.")


def rows(summary: dict) -> list[list[str]]:
    """One table row per published result (empty when the summary has no such block)."""
    out = []
    for r in (summary.get("published") or {}).get("rows", []):
        c = r["citation"]
        out.append([r["quantity"], (f"{r['published']} ({c['authors']}, {c['arxiv']}, "
                                    f"{c['where']})"),
                    r["published_data"], r["numass"], r["numass_data"],
                    "; ".join(r["differences"]) or "–"])
    return out


W0WA_HEAD = ["(w0, wa) prior", "w0", "wa", "area", "ln Z (w0wa)", "ln B vs ΛCDM", "from"]
W0WA_TITLE = "The w0wa prior and what it does to ln Z"


def _num(v, fmt: str) -> str:
    return "–" if v is None else fmt.format(v)


def w0wa_rows(summary: dict) -> list[list[str]]:
    """One row per (w0, wa) prior range of the summary's published.w0wa_prior block."""
    block = (summary.get("published") or {}).get("w0wa_prior") or {}
    out = []
    for r in block.get("rows", []):
        wa = f"[{r['wa'][0]:g}, {r['wa'][1]:g}]"
        if r.get("w_sum_max") is not None:
            wa += f", w0 + wa < {r['w_sum_max']:g}"
        if r.get("band"):
            b = r["band"]
            wa += f", wa + {b['tilt']:g} w0 ≤ {b['max']:g} where w0 > {b['w_above']:g}"
        out.append([r["label"], f"[{r['w'][0]:g}, {r['w'][1]:g}]", wa, f"{r['area']:.3g}",
                    _num(r["ln_evidence"], "{:.2f}"), _num(r["ln_bayes_factor_vs_lcdm"], "{:+.2f}")
                    + (f" (shift {r['ln_shift']:+.2f})" if r["ln_shift"] else ""), r["source"]])
    return out


def w0wa_note(summary: dict) -> str:
    block = (summary.get("published") or {}).get("w0wa_prior") or {}
    return f"{block['flat_prior_rule']}. This is {block['valid']}." if block else ""


def render_html(summary: dict, table) -> str:
    """The section's HTML; ``table(head, rows, table_id)`` draws the table."""
    body = rows(summary)
    if not body:
        return ""
    out = ("<h2 id='published'>numass beside the published numbers</h2>"
           f"<p class='small'>{html.escape(INTRO)}</p>" + table(HEAD, body, "published-table"))
    if w0wa_rows(summary):
        out += (f"<h3 id='w0wa-prior'>{html.escape(W0WA_TITLE)}</h3>"
                + table(W0WA_HEAD, w0wa_rows(summary), "w0wa-prior-table")
                + f"<p class='small'>{html.escape(w0wa_note(summary))}</p>")
    return out


def render_md(summary: dict, table) -> list[str]:
    """The section's Markdown lines; ``table(head, rows)`` draws the table."""
    body = rows(summary)
    if not body:
        return []
    out = ["## numass beside the published numbers", "", INTRO, "", table(HEAD, body), ""]
    if w0wa_rows(summary):
        out += [f"### {W0WA_TITLE}", "", table(W0WA_HEAD, w0wa_rows(summary)), "",
                w0wa_note(summary), ""]
    return out
