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
        out.append([r["quantity"], f"{r['published']} ({c['authors']}, {c['arxiv']}, "
                                   f"{c['where']})",
                    r["published_data"], r["numass"], r["numass_data"],
                    "; ".join(r["differences"]) or "–"])
    return out


def render_html(summary: dict, table) -> str:
    """The section's HTML; ``table(head, rows, table_id)`` draws the table."""
    body = rows(summary)
    if not body:
        return ""
    return ("<h2 id='published'>numass beside the published numbers</h2>"
            f"<p class='small'>{html.escape(INTRO)}</p>" + table(HEAD, body, "published-table"))


def render_md(summary: dict, table) -> list[str]:
    """The section's Markdown lines; ``table(head, rows)`` draws the table."""
    body = rows(summary)
    if not body:
        return []
    return ["## numass beside the published numbers", "", INTRO, "", table(HEAD, body), ""]
