"""The edge check (numass.compare.prior_edges) on synthetic chains: a posterior cut where its
density is still high is caught, one that has fallen off is not; each edge is labelled as the
model's prior or a limit of the theory; the full run's w0wa chain (cut at w0 = -0.2) is caught;
MCMC burn-in dropped and nested-sampling chains read whole; the verdict and report words."""
from __future__ import annotations

import json

import numpy as np
import pytest

from numass.compare.hypotheses import PRIOR_VARIANTS
from numass.compare.plan import plan
from numass.compare.prior_edges import (
    EDGE_DENSITY,
    N_BINS,
    chain_prior_bounded,
    describe,
    edge_densities,
    edge_findings,
    edge_flags,
)
from numass.compare.verdicts import DEFINITIONS, beside_prior_variant, verdict
from numass.emulator import design
from numass.errors import InputError
from numass.inference.results import NESTED_MARKER

RNG = np.random.default_rng(3)
# what every run's summary.json holds at least (summary_schema: a reader's required keys)
READABLE_SUMMARY = {"model": "w0wa", "datasets": ["desi-dr2-bao"],
                    "mnu_eff": dict.fromkeys(("mean", "std", "median", "lower68", "upper68",
                                              "upper95"), 0.0),
                    "bestfit": {"chi2": 1.0}, "tension_sigma": {}, "tension_sigma_profile": {}}


# the full run's w0wa job (Σmν,eff free): posterior weight in the seven 0.1-wide bins of w0 that
# end at -0.2, where the emulator's box stops it
W0WA_BINS = (0.092, 0.128, 0.155, 0.167, 0.155, 0.128, 0.104)


def truncated_gaussian(n: int, mean: float, sd: float, lo: float, hi: float) -> np.ndarray:
    x = RNG.normal(mean, sd, 4 * n)
    return x[(x >= lo) & (x <= hi)][:n]


def test_a_cut_posterior_is_caught_and_one_that_has_fallen_off_is_not():
    n = 100_000
    cut = truncated_gaussian(n, 0.0, 1.0, -5.0, 0.5)  # cut half a sigma above its peak
    inside = RNG.normal(0.0, 1.0, n)  # a Gaussian well inside [-5, 5]
    ranges = {"x": (-5.0, 0.5), "y": (-5.0, 5.0)}
    flags = edge_flags({"x": cut, "y": inside}, np.ones(n), ranges, {"x": (-10.0, 10.0)})
    assert [(f["param"], f["side"], f["edge"]) for f in flags] == [("x", "hi", 0.5)]
    # the outermost bin of [-5, 0.5] holds the Gaussian's density at ~0.45σ: ~0.9 of the peak
    assert flags[0]["density"] == pytest.approx(np.exp(-0.5 * 0.41 ** 2), abs=0.05)
    assert flags[0]["kind"] == "sampling"  # neither the prior's edge nor the emulator's box
    lo, hi = edge_densities(inside, np.ones(n), -5.0, 5.0)
    assert lo < 1e-3 and hi < 1e-3
    # a wider range lets the same density fall off before the edge: not flagged
    assert edge_flags({"y": inside}, np.ones(n), {"y": (-3.5, 3.5)}, {}) == []
    # an unbounded range has no edge
    assert edge_flags({"y": inside}, np.ones(n), {"y": (None, None)}, {}) == []


def test_weights_count_not_rows():
    x = np.array([2.99, 2.0, 2.0, 2.0])
    # one row in four at the edge; its bin against the peak's 9: 1/9 flagged, 0.5/9 not
    assert edge_flags({"z": x}, np.array([1.0, 3.0, 3.0, 3.0]), {"z": (1.0, 3.0)}, {})
    assert not edge_flags({"z": x}, np.array([0.5, 3.0, 3.0, 3.0]), {"z": (1.0, 3.0)}, {})


def test_edges_are_labelled_by_what_put_them_there():
    n = 50_000
    mnu = np.abs(RNG.normal(0.0, 0.05, n))  # a physical mass piled at 0
    z = RNG.uniform(1.5, 3.0, n)  # ΛsCDM's z†, flat up to its stated edge 3
    tau = truncated_gaussian(n, 0.05, 0.03, 0.02, 0.12)  # τ cut at the emulator's 0.02
    flags = edge_flags({"mnu_eff": mnu, "z_dagger": z, "tau": tau}, np.ones(n),
                       {"mnu_eff": (0.0, 0.5), "z_dagger": (1.0, 3.0), "tau": (0.02, 0.12)},
                       {"mnu_eff": (0.0, 0.5), "z_dagger": (1.0, 3.0), "tau": (0.01, 0.8)},
                       emulated=True)
    got = {(f["param"], f["side"]): (f["kind"], f["why"]) for f in flags}
    assert got[("mnu_eff", "lo")] == ("prior", got[("mnu_eff", "lo")][1])
    assert got[("mnu_eff", "lo")][1].startswith("physical: Σmν ≥ 0")
    assert got[("z_dagger", "hi")][0] == "prior" and "stated prior" in got[("z_dagger", "hi")][1]
    assert got[("tau", "lo")] == ("theory", "the emulator's box (numass.emulator.design)")
    assert ("z_dagger", "lo") not in got and ("mnu_eff", "hi") not in got
    # an edge the prior and the emulator's box share is the model's choice
    flat = edge_flags({"tau": RNG.uniform(0.04, 0.12, n)}, np.ones(n), {"tau": (0.04, 0.12)},
                      {"tau": (0.04, 0.12)}, emulated=True)
    assert {f["side"]: f["kind"] for f in flat} == {"lo": "prior", "hi": "prior"}
    assert "also the emulator box's edge" in next(f for f in flat if f["side"] == "hi")["why"]
    text = describe(flags)
    assert text.startswith("truncated by a limit of the theory, not the model's prior: τ cut "
                           "at 0.02 by the emulator's box")
    assert "prior-bounded: Σmν,eff at its prior edge 0" in text


def test_bad_input_is_refused():
    with pytest.raises(InputError, match="one length"):
        edge_densities(np.ones(3), np.ones(4), 0.0, 1.0)
    with pytest.raises(InputError, match="lo < hi"):
        edge_densities(np.ones(3), np.ones(3), 1.0, 1.0)
    with pytest.raises(InputError, match="no weight"):
        edge_densities(np.ones(3), np.zeros(3), 0.0, 1.0)


def _write_chain(folder, columns: dict, ranges: dict, weights=None, nested: bool = False,
                 summary: dict | None = None) -> None:
    chains = folder / "chains"
    chains.mkdir(parents=True)
    x = np.column_stack(list(columns.values()))
    n = len(x)
    w = np.ones(n) if weights is None else weights
    np.savetxt(chains / "numass.1.txt", np.column_stack([w, np.ones(n), x]))
    (chains / "numass.paramnames").write_text("".join(f"{k}\t{k}\n" for k in columns))
    (chains / "numass.ranges").write_text("".join(f"{k}\t{a}\t{b}\n"
                                                  for k, (a, b) in ranges.items()))
    if nested:
        (folder / NESTED_MARKER).write_text("{}")
    if summary is not None:  # the keys a reader of summary.json requires, and the test's
        (folder / "summary.json").write_text(json.dumps({**READABLE_SUMMARY, **summary}))


def w0wa_chain(n_per_bin: int = 4000):
    """(w0, weights) with the full run's w0 bin weights above -0.9, the rest (7.1%) falling off
    towards the box's lower edge -1.6, cut at -0.2."""
    rest = 1.0 - sum(W0WA_BINS)
    lows = np.linspace(-1.6, -0.9, 7)
    tail = np.array([0.002, 0.006, 0.01, 0.015, 0.018, 0.02]) * rest / 0.071
    edges = list(zip(lows[:-1], lows[1:], tail)) + [
        (-0.9 + 0.1 * i, -0.8 + 0.1 * i, b) for i, b in enumerate(W0WA_BINS)]
    x = np.concatenate([RNG.uniform(a, b, n_per_bin) for a, b, _ in edges])
    w = np.concatenate([np.full(n_per_bin, m / n_per_bin) for _, _, m in edges])
    return x, w


def test_the_full_runs_w0wa_chain_is_caught_at_the_emulator_box(tmp_path):
    w0, weights = w0wa_chain()
    n = len(w0)
    wa = np.clip(-2.2 - 1.5 * (w0 + 0.6) + RNG.normal(0, 0.3, n), -3.0, 1.0)
    wa = np.minimum(wa, design.W_SUM_MAX - 0.05 - w0)
    mnu = RNG.normal(-0.02, 0.09, n)
    box = {"w": list(design.BOX["w"]), "wa": list(design.BOX["wa"]), "mnu_eff": [-0.5, 0.5]}
    _write_chain(tmp_path / "w0wa", {"w": w0, "wa": wa, "mnu_eff": mnu},
                 {"w": (-3, 1), "wa": (-3, 2), "mnu_eff": (-0.5, 0.5)}, weights, nested=True,
                 summary={"backend": "emulator", "sampler": "nautilus", "sampling_box": box})
    flags = chain_prior_bounded(tmp_path / "w0wa")
    cut = [f for f in flags if f["param"] == "w"]
    assert [(f["side"], f["edge"], f["kind"]) for f in cut] == [("hi", -0.2, "theory")]
    assert cut[0]["density"] == pytest.approx(0.104 / 0.167, abs=0.06)
    # the mass next to the edge is small: a rule on mass (10% within 2% of the width) missed it
    band = 0.02 * (design.BOX["w"][1] - design.BOX["w"][0])
    assert weights[w0 > -0.2 - band].sum() / weights.sum() < 0.05
    # the report: an error for the headline hypothesis, not a footnote
    ok = {"status": "ok", "prior_bounded": flags}
    found = edge_findings({"hypotheses": {"w0wa": ok}, "variants": {}})
    assert len(found["errors"]) == 1 and found["errors"][0].startswith(
        "w0wa: truncated by a limit of the theory, not the model's prior: w0 cut at -0.2 by "
        "the emulator's box")
    # the same flags on a variant are a warning
    found = edge_findings({"hypotheses": {}, "variants": {"no_lrg1": ok}})
    assert not found["errors"] and found["warnings"][0].startswith("no_lrg1: truncated")


@pytest.mark.skipif(not hasattr(design, "TILT"), reason="the emulator serves no band beyond "
                                                        "its box")
@pytest.mark.parametrize("gap, flagged", [(0.1, True), (0.9, False)])
def test_beyond_the_box_the_transfers_band_is_a_limit_of_the_theory(tmp_path, gap, flagged):
    n = 60_000
    w0 = RNG.normal(-0.3, 0.25, n)
    # along wa + TILT w0 = TILT_MAX - gap, spread by 0.1 (cut at the band where it reaches it)
    wa = design.TILT_MAX - gap - design.TILT * w0 + RNG.normal(0.0, 0.1, n)
    top = np.where(w0 > design.BOX["w"][1], design.TILT_MAX - design.TILT * w0, np.inf)
    keep = (w0 > -1.6) & (w0 <= design.W0_MAX) & (wa >= -3.0) & (wa <= np.minimum(top, 1.0)) \
        & (w0 + wa < design.W_SUM_MAX)
    box = {"w": list(design.SERVED_BOX["w"]), "wa": list(design.BOX["wa"])}
    _write_chain(tmp_path / "w0wa", {"w": w0[keep], "wa": wa[keep]}, {"w": (-3, 1), "wa": (-3, 2)},
                 nested=True, summary={"backend": "emulator", "sampling_box": box})
    band = [f for f in chain_prior_bounded(tmp_path / "w0wa") if f["param"] == "wa+tilt*w"]
    assert bool(band) == flagged
    if flagged:
        assert (band[0]["side"], band[0]["edge"], band[0]["kind"]) == ("hi", design.TILT_MAX,
                                                                        "theory")
        assert "late-time transfer" in describe(band)


def test_the_chain_reader_drops_mcmc_burn_in_but_not_nested_rows(tmp_path):
    # the first 30% of rows sit at z = 3 (burn-in of an MCMC chain), the rest in the middle
    n = 4000
    z = np.where(np.arange(n) < 0.3 * n, 2.995, RNG.normal(2.0, 0.2, n))
    mnu = RNG.normal(0.0, 0.05, n)
    ranges = {"z_dagger": (1, 3), "mnu_eff": (-0.5, 0.5)}
    _write_chain(tmp_path / "mcmc", {"z_dagger": z, "mnu_eff": mnu}, ranges)
    assert chain_prior_bounded(tmp_path / "mcmc") == []
    _write_chain(tmp_path / "nested", {"z_dagger": z, "mnu_eff": mnu}, ranges, nested=True)
    flags = chain_prior_bounded(tmp_path / "nested")
    assert [(f["param"], f["edge"], f["kind"]) for f in flags] == [("z_dagger", 3.0, "prior")]
    assert flags[0]["density"] == 1.0  # 30% of the rows in the last of 30 bins: the peak


def test_an_mcmc_chain_on_the_emulator_without_fallback_is_checked_against_its_box(tmp_path):
    n = 20_000
    a_l = truncated_gaussian(n, 1.75, 0.1, 0.5, 1.8)
    _write_chain(tmp_path / "job", {"A_L": a_l}, {"A_L": (0.2, 3.0)},
                 summary={"backend": "emulator-box"})
    flags = chain_prior_bounded(tmp_path / "job")
    assert [(f["side"], f["edge"], f["kind"]) for f in flags] == [("hi", 1.8, "theory")]
    # with CAMB behind the emulator the range is the prior's: nothing cut
    _write_chain(tmp_path / "camb", {"A_L": a_l}, {"A_L": (0.2, 3.0)},
                 summary={"backend": "emulator"})
    assert chain_prior_bounded(tmp_path / "camb") == []
    assert N_BINS == 30 and EDGE_DENSITY == 0.10


def _entry(bayes: float, flags=None) -> dict:
    t = {"bayes": bayes, "profile": bayes}
    return {"status": "ok", "label": "ΛsCDM with z† ∈ [1, 10]",
            "tension_sigma": {"normal_ordering": t, "inverted_ordering": t},
            "mnu_eff": {"mean": 0.04, "std": 0.09}, "delta_aic": 2.0,
            "prior_bounded": flags or []}


def test_the_verdict_never_calls_a_prior_bounded_shift_a_resolution_alone():
    flags = [{"param": "z_dagger", "side": "hi", "edge": 3.0, "density": 0.93, "kind": "prior",
              "why": "the hypothesis's stated prior on z†"}]
    assert describe(flags) == ("prior-bounded: z† at its prior edge 3 (density in the outermost "
                               "bin 93% of the peak; the hypothesis's stated prior on z†)")
    # flags written by the former rule still read
    assert describe([{"param": "z_dagger", "edge": 3.0, "mass": 0.31}]).startswith(
        "prior-bounded: z† at its prior edge 3 (31% of the mass next to it)")
    text = verdict("lscdm", _entry(0.8, flags))
    assert text.startswith("removes the tension, prior-bounded: z† at its prior edge 3")
    assert verdict("lscdm", _entry(0.8)).startswith("removes the tension (0.8σ")
    assert verdict("lscdm", _entry(1.5, flags)).startswith("relieves the tension, prior-bounded")
    assert "; prior-bounded: z†" in verdict("lscdm", _entry(2.5, flags))
    assert "prior-bounded" in verdict("lcdm", _entry(2.5, flags))
    assert f"{EDGE_DENSITY:.0%}" in DEFINITIONS["prior_bounded"]
    wide = beside_prior_variant(PRIOR_VARIANTS[0], _entry(2.4))
    assert wide.startswith("; with z† ∈ [1, 10] (lscdm_wide): Σmν,eff = +0.040 ± 0.090 eV")
    changed = beside_prior_variant(PRIOR_VARIANTS[0], _entry(2.4), default=_entry(0.8))
    assert changed.startswith("; prior-dependent: with z† ∈ [1, 10] (lscdm_wide) it does not "
                              "remove the tension: Σmν,eff")
    assert "prior-dependent" not in beside_prior_variant(PRIOR_VARIANTS[0], _entry(0.9),
                                                         default=_entry(0.8))
    assert "not run (error: x)" in beside_prior_variant(PRIOR_VARIANTS[0],
                                                        {"status": "error: x"})


@pytest.mark.parametrize("data", ["embedded", "full"])
def test_the_wide_z_dagger_variant_is_planned_beside_lscdm(data):
    jobs = {j.name: j for j in plan(data, use_emulator=True, check_data=False)}
    wide, default = jobs["lscdm_wide"], jobs["lscdm"]
    assert wide.kind == "variant" and wide.evidence and wide.hypothesis == "lscdm"
    assert wide.param_overrides == {"z_dagger": {"prior": {"min": 1.0, "max": 10.0}}}
    assert (wide.model, wide.datasets, wide.backend) == (default.model, default.datasets,
                                                         default.backend)
    assert not wide.same_as and not wide.skip
