"""numass beside the published numbers (numass.compare.published, report.published_section):
every row cites its paper and place, reads numass's number from the summary, and states what
differs between the two data combinations."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from numass.compare.plan import plan
from numass.compare.provenance import citations, data_rows
from numass.compare.published import (
    DESI_W0WA_PRIOR,
    PUBLISHED,
    area_below_sum,
    differences,
    published_block,
    region_area,
    w0wa_prior_block,
)
from numass.emulator import design
from numass.likelihoods import resolve_data
from numass.report import published_section
from numass.report.compare_report import _edges_md, _md_table

PAPERS = {"arXiv:2503.14744", "arXiv:2407.10965", "arXiv:2605.21456", "arXiv:2504.21813",
          "arXiv:2504.16932", "arXiv:2504.18464"}
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
    # the CMB likelihood choice moves the Σmν ≥ 0 bound (Garcia-Quintero et al. 2025)
    assert values["garcia_quintero2025_bound_pr4_act"] == "Σmν < 0.061 eV (95%)"
    assert values["garcia_quintero2025_bound_act"] == "Σmν < 0.077 eV (95%)"
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


W0WA_CUT = [{"param": "w", "side": "hi", "edge": -0.2, "density": 0.62, "kind": "theory",
             "why": "the emulator's box (numass.emulator.design)"}]


def test_the_prior_area_below_a_sum_cut_is_exact():
    assert area_below_sum((-3.0, 1.0), (-3.0, 2.0)) == 20.0
    assert area_below_sum((0.0, 1.0), (0.0, 1.0), 1.0) == pytest.approx(0.5)
    assert area_below_sum((0.0, 1.0), (0.0, 1.0), 0.5) == pytest.approx(0.125)
    assert area_below_sum((0.0, 1.0), (0.0, 1.0), -1.0) == 0.0
    # the emulator's box: 1.4 x 4 less the corner w0 + wa >= -0.7 (its area 1.12)
    assert area_below_sum((-1.6, -0.2), (-3.0, 1.0), -0.7) == pytest.approx(4.48)
    assert region_area((-1.6, -0.2), (-3.0, 1.0), -0.7) == pytest.approx(4.48, abs=1e-4)
    # beyond w0 = -0.2 only wa + 2.7 w0 <= -2 up to w0 = 0.35: the strip's area is
    # 0.55 - 1.35 (0.35² - 0.2²) = 0.438625
    assert region_area((-1.6, 0.35), (-3.0, 1.0), -0.7, (-0.2, 2.7, -2.0)) == pytest.approx(
        4.48 + 0.438625, abs=1e-4)


def _w0wa_summary(flags) -> dict:
    s = summary(FULL)
    s["priors"]["w0wa"] = {"w": {"min": -3.0, "max": 1.0}, "wa": {"min": -3.0, "max": 2.0}}
    s["hypotheses"]["w0wa"].update({"ln_evidence": -342.46, "ln_bayes_factor_vs_lcdm": -2.88,
                                    "backend": "emulator", "prior_bounded": flags})
    return s


def test_the_w0wa_prior_is_stated_beside_desi_and_its_ln_z_shift_shown():
    block = w0wa_prior_block(_w0wa_summary(W0WA_CUT))
    rows = {r["label"].split(" (")[0]: r for r in block["rows"]}
    ours, desi = rows["numass's model prior"], rows["DESI DR2's prior"]
    assert (ours["w"], ours["wa"]) == ([-3.0, 1.0], [-3.0, 2.0])
    assert (desi["w"], desi["wa"]) == (list(DESI_W0WA_PRIOR["w"]), list(DESI_W0WA_PRIOR["wa"]))
    assert "arXiv:2503.14738" in desi["source"]
    # the same flat ranges: the same ln Z and ln B
    assert desi["ln_shift"] == 0 and desi["ln_evidence"] == -342.46
    # the region the theory computes, taken as the prior: ln Z rises by ln(20 / its area)
    box = next(r for r in block["rows"] if r["w_sum_max"] is not None)
    band = box["band"] and (box["band"]["w_above"], box["band"]["tilt"], box["band"]["max"])
    area = region_area(tuple(box["w"]), tuple(box["wa"]), design.W_SUM_MAX, band or None)
    assert box["w"][1] == getattr(design, "SERVED_BOX", design.BOX)["w"][1]
    assert box["ln_shift"] == pytest.approx(np.log(20.0 / area), abs=1e-4)
    assert box["ln_bayes_factor_vs_lcdm"] == pytest.approx(-2.88 + np.log(20.0 / area), abs=1e-3)
    # while the posterior is cut by the box the shift is said not to hold
    assert block["valid"].startswith("not valid for this run: truncated by a limit of the theory")
    assert "lower bounds" in block["valid"]
    clean = w0wa_prior_block(_w0wa_summary([]))
    assert clean["valid"].startswith("valid when the likelihood is negligible")
    # and the report shows it
    s = _w0wa_summary(W0WA_CUT)
    s["published"] = published_block(s)
    text = "\n".join(published_section.render_md(s, _md_table))
    assert "### The w0wa prior and what it does to ln Z" in text
    assert "| DESI DR2's prior | [-3, 1] | [-3, 2] | 20 | -342.46 | -2.88 |" in text
    assert "not valid for this run" in text
    # a w0wa job that did not run: no block
    assert w0wa_prior_block(summary(FULL) | {"hypotheses": {}}) is None


@pytest.mark.parametrize("data", ["embedded", "full"])
def test_every_data_set_a_job_uses_is_cited(data):
    jobs = plan(data, use_emulator=True, check_data=False)
    ids = sorted({d for j in jobs for d in j.datasets})
    assert {"desi-dr2-bao", "desi-dr1-bao"} & set(ids)  # the data the anomaly rests on
    cites = citations(ids)
    for i in ids:
        assert "arXiv:" in cites[i], (i, cites[i])
    assert "2503.14738" in cites["desi-dr2-bao"]
    if "desi-dr1-bao" in ids:
        assert "2404.03002" in cites["desi-dr1-bao"]
    # the report's Data section: every id any job used, with its citation and its jobs, also
    # from a summary written before the DESI citations were recorded
    s = {"data": {"citations": {k: v for k, v in cites.items() if not k.startswith("desi")}},
         "jobs": {j.name: {"datasets": j.datasets, "skip": j.skip} for j in jobs}}
    rows = {r[0]: r for r in data_rows(s)}
    used = {d for j in jobs if not j.skip for d in j.datasets}
    assert used <= set(rows)
    for i in used:
        assert "arXiv:" in rows[i][1] and rows[i][2] != "–"
    assert "lcdm" in rows["desi-dr2-bao"][2].split(", ")


def test_an_unknown_data_set_is_said_to_have_no_citation():
    assert citations(["not-a-data-set"]) == {"not-a-data-set": "no citation: not a numass data "
                                                                "set id"}


def test_a_theory_limit_in_a_headline_job_is_an_error_at_the_top_of_the_report():
    s = _w0wa_summary(W0WA_CUT)
    s["hypotheses"]["lscdm"]["status"] = "ok"
    lines = _edges_md(s)
    assert lines[0].startswith("> **Error: a headline hypothesis's posterior is cut")
    assert any(x.startswith("> - w0wa: truncated by a limit of the theory") for x in lines)
    # ΛsCDM's z† at 3 is the hypothesis's choice, stated as such, not an error
    choice = next(x for x in lines if x.startswith("- lscdm:"))
    assert choice.startswith("- lscdm: prior-bounded: z† at its prior edge 3")
    assert "hypotheses' choice" in next(x for x in lines if x.startswith("**Posteriors at"))
    # without a limit: no error and no warning, the prior edge alone
    plain = _edges_md(summary(FULL))
    assert plain[0] == "**Posteriors at the model's own prior edges (the hypotheses' choice)**"
    assert [x[:8] for x in plain if x.startswith("- ")] == ["- lscdm:"]
