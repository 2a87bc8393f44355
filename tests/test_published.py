"""numass beside the published numbers (numass.compare.published, report.published_section):
every row cites its paper and place, reads numass's number from the summary, and states what
differs between the two data combinations."""
from __future__ import annotations

import copy

import pytest

from numass.compare.published import PUBLISHED, differences, published_block
from numass.likelihoods import resolve_data
from numass.report import published_section
from numass.report.compare_report import _md_table

PAPERS = {"arXiv:2503.14744", "arXiv:2407.10965", "arXiv:2605.21456", "arXiv:2504.21813",
          "arXiv:2504.16932"}
EMBEDDED = ["desi-dr2-bao", "cmb-compressed"]
FULL = resolve_data("full")[1]


def _entry(mean, std, bayes, datasets, **extra) -> dict:
    t = {"bayes": bayes, "profile": bayes - 0.3}
    return {"status": "ok", "label": extra.pop("label", "x"), "datasets": datasets,
            "mnu_eff": {"mean": mean, "std": std, "lower68": mean - std, "upper68": mean + std,
                        "upper95": mean + 1.64 * std},
            "tension_sigma": {"normal_ordering": t, "inverted_ordering": t}, **extra}


def summary(datasets=EMBEDDED) -> dict:
    dr1 = ["desi-dr1-bao" if d == "desi-dr2-bao" else d for d in datasets]
    lscdm_bounded = [{"param": "z_dagger", "edge": 3.0, "mass": 0.27}]
    return {
        "data": {"label": "embedded", "datasets": datasets},
        "priors": {"lcdm": {"mnu_eff": {"min": -0.5, "max": 0.5}}},
        "hypotheses": {
            "lcdm": _entry(-0.140, 0.087, 2.49, datasets, folder="lcdm"),
            "w0wa": _entry(-0.011, 0.132, 1.02, datasets),
            "lscdm": _entry(0.041, 0.092, 0.81, datasets, prior_bounded=lscdm_bounded),
            "tau": {"status": "not constrained: background-only"},
        },
        "variants": {
            "positive_mass": _entry(0.038, 0.032, 1.22, datasets),
            "desi_dr1": _entry(-0.163, 0.107, 2.36, dr1),
            "lscdm_wide": _entry(-0.100, 0.090, 2.30, datasets, prior_variant_of="lscdm",
                                 label="ΛsCDM with z† ∈ [1, 10]"),
        },
    }


def test_every_row_cites_a_paper_and_the_place_of_its_number():
    assert {p.citation.arxiv for p in PUBLISHED} == PAPERS
    for p in PUBLISHED:
        assert p.citation.where and p.citation.authors and p.value and p.data
    keys = [p.key for p in PUBLISHED]
    assert len(keys) == len(set(keys))
    values = {p.key: p.value for p in PUBLISHED}
    assert "0.0642" in values["desi_dr2_lcdm_bound"]
    assert "0.055 ± 0.050" in values["kibris2026_lscdm"]
    # a number the stored copy does not hold is said to be missing, not typed in
    assert "not quoted" in values["desi_dr2_lcdm_mnu_eff"]


def test_rows_read_numass_numbers_from_the_summary():
    rows = {r["key"]: r for r in published_block(summary())["rows"]}
    assert len(rows) == len(PUBLISHED)
    assert "Σmν,eff = -0.140 ± 0.087 eV" in rows["desi_dr2_lcdm_mnu_eff"]["numass"]
    assert "2.49σ Bayesian" in rows["desi_dr2_lcdm_mnu_eff"]["numass"]
    assert rows["desi_dr2_lcdm_bound"]["numass"].startswith("Σmν < 0.090 eV (95%)")
    assert "2.36σ Bayesian" in rows["elbers2024_lcdm"]["numass"]
    lscdm = rows["kibris2026_lscdm"]["numass"]
    assert "prior-bounded: z† at its prior edge 3" in lscdm
    assert "ΛsCDM with z† ∈ [1, 10]: Σmν,eff = -0.100 ± 0.090 eV" in lscdm
    # a hypothesis that did not run gives no number, and says why
    assert rows["sailer2025_tau"]["numass"] == "not available (not constrained: background-only)"
    assert any("flat on [-0.5, 0.5] eV" in d for d in rows["desi_dr2_lcdm_mnu_eff"]["differences"])
    # the summary alone: changing its number changes the row
    s = copy.deepcopy(summary())
    s["hypotheses"]["lcdm"]["mnu_eff"]["mean"] = -0.2
    again = {r["key"]: r for r in published_block(s)["rows"]}
    assert "Σmν,eff = -0.200" in again["desi_dr2_lcdm_mnu_eff"]["numass"]


def _by_key(key):
    return next(p for p in PUBLISHED if p.key == key)


def test_the_data_differences_follow_numass_data():
    emb = differences(_by_key("desi_dr2_lcdm_mnu_eff"), EMBEDDED)
    assert any(d.startswith("CMB: numass uses the compressed CMB likelihood") for d in emb)
    full = differences(_by_key("desi_dr2_lcdm_mnu_eff"), FULL)
    cmb = next(d for d in full if d.startswith("CMB:"))
    assert "plik_lite" in cmb and "act-dr6-lensing" in cmb and "τ prior" in cmb
    # DR1 papers against numass's DR2 runs, but not against its DR1 variant
    assert "BAO: numass DESI DR2, the paper DESI DR1" in differences(_by_key("elbers2024_w0wa"),
                                                                    EMBEDDED)
    dr1 = ["desi-dr1-bao", "cmb-compressed"]
    assert not any(d.startswith("BAO") for d in differences(_by_key("elbers2024_lcdm"), dr1))
    assert any("DES-Dovekie" in d for d in differences(_by_key("kibris2026_lcdm"), FULL))
    assert not any("supernovae" in d for d in differences(_by_key("desi_dr2_lcdm_bound"), FULL))
    flat_tau = [d for d in FULL if d != "tau-prior"]
    assert "no τ likelihood" in next(d for d in differences(_by_key("sailer2025_tau"), flat_tau)
                                      if d.startswith("CMB:"))


@pytest.mark.parametrize("datasets", [EMBEDDED, FULL])
def test_the_report_section_is_drawn_from_the_block(datasets):
    s = summary(datasets)
    s["published"] = published_block(s)
    lines = published_section.render_md(s, _md_table)
    assert lines[0] == "## numass beside the published numbers"
    table = "\n".join(lines)
    assert table.count("arXiv:") >= len(PUBLISHED)
    html = published_section.render_html(s, lambda head, rows, tid: f"<table id={tid}>{rows}")
    assert "id='published'" in html and "published-table" in html
    assert published_section.render_md({"published": {"rows": []}}, _md_table) == []
