"""The prior-edge check (numass.compare.prior_edges) on synthetic chains: piled at an edge or
not, weighted, MCMC burn-in dropped and nested-sampling chains read whole; the verdict words."""
from __future__ import annotations

import numpy as np
import pytest

from numass.compare.hypotheses import PRIOR_VARIANTS
from numass.compare.plan import plan
from numass.compare.prior_edges import (EDGE_BAND, PILED_MASS, chain_prior_bounded, describe,
                                        edge_masses, prior_bounded)
from numass.compare.verdicts import DEFINITIONS, beside_prior_variant, verdict
from numass.errors import InputError
from numass.inference.results import NESTED_MARKER

RNG = np.random.default_rng(3)


STEEP = 20.0  # the piled density rises as exp(STEEP (x - hi) / (hi - lo))


def piled_at_upper(n: int, lo: float = 1.0, hi: float = 3.0) -> np.ndarray:
    """Samples of a density rising as exp(STEEP (x - hi) / (hi - lo)) up to the edge hi."""
    k = STEEP / (hi - lo)
    u = RNG.uniform(size=n)
    return hi + np.log(u + (1 - u) * np.exp(-k * (hi - lo))) / k


def test_edge_masses_of_a_uniform_posterior_are_the_band_width():
    x = RNG.uniform(1.0, 3.0, 200_000)
    lo_mass, hi_mass = edge_masses(x, np.ones_like(x), 1.0, 3.0)
    assert lo_mass == pytest.approx(EDGE_BAND, abs=0.002)
    assert hi_mass == pytest.approx(EDGE_BAND, abs=0.002)


def test_piled_posterior_is_flagged_at_its_edge_and_a_central_one_is_not():
    n = 50_000
    z = piled_at_upper(n)
    # the exact mass within the band next to 3
    expected = (1 - np.exp(-STEEP * EDGE_BAND)) / (1 - np.exp(-STEEP))
    central = RNG.normal(0.0, 0.05, n)
    flags = prior_bounded({"z_dagger": z, "mnu_eff": central}, np.ones(n),
                          {"z_dagger": (1.0, 3.0), "mnu_eff": (-0.5, 0.5)})
    assert [(f["param"], f["edge"]) for f in flags] == [("z_dagger", 3.0)]
    assert flags[0]["mass"] == pytest.approx(expected, abs=0.01)
    assert expected > PILED_MASS
    # the same posterior under a prior twice as wide: the band doubles, the pile is at 3, not 5
    wide = prior_bounded({"z_dagger": z}, np.ones(n), {"z_dagger": (1.0, 5.0)})
    assert wide == []
    # a parameter without a finite range (Gaussian prior) has no edge to pile against
    assert prior_bounded({"tau": z}, np.ones(n), {"tau": (None, None)}) == []


def test_weights_count_not_rows():
    # one row in four at the edge: 25% of the rows, but 2/11 or 0.5/9.5 of the weight
    x = np.array([2.99, 2.0, 2.0, 2.0])
    assert prior_bounded({"z": x}, np.array([2.0, 3.0, 3.0, 3.0]), {"z": (1.0, 3.0)})
    assert not prior_bounded({"z": x}, np.array([0.5, 3.0, 3.0, 3.0]), {"z": (1.0, 3.0)})


def test_bad_input_is_refused():
    with pytest.raises(InputError, match="one length"):
        edge_masses(np.ones(3), np.ones(4), 0.0, 1.0)
    with pytest.raises(InputError, match="lo < hi"):
        edge_masses(np.ones(3), np.ones(3), 1.0, 1.0)
    with pytest.raises(InputError, match="sum to zero"):
        edge_masses(np.ones(3), np.zeros(3), 0.0, 1.0)


def _write_chain(folder, z, mnu, nested: bool = False) -> None:
    chains = folder / "chains"
    chains.mkdir(parents=True)
    n = len(z)
    np.savetxt(chains / "numass.1.txt", np.column_stack([np.ones(n), np.ones(n), z, mnu,
                                                         mnu + 1]))
    (chains / "numass.paramnames").write_text("z_dagger\tz_\\dagger\nmnu_eff\tm\nS8*\tS_8\n")
    (chains / "numass.ranges").write_text("z_dagger\t1\t3\nmnu_eff\t-0.5\t0.5\nS8*\t0\t5\n")
    if nested:
        (folder / NESTED_MARKER).write_text("{}")


def test_the_chain_reader_drops_mcmc_burn_in_but_not_nested_rows(tmp_path):
    # the first 30% of rows sit at z = 3 (burn-in of an MCMC chain), the rest in the middle
    n = 4000
    z = np.where(np.arange(n) < 0.3 * n, 2.995, RNG.normal(2.0, 0.2, n))
    mnu = RNG.normal(0.0, 0.05, n)
    _write_chain(tmp_path / "mcmc", z, mnu)
    assert chain_prior_bounded(tmp_path / "mcmc") == []
    _write_chain(tmp_path / "nested", z, mnu, nested=True)
    flags = chain_prior_bounded(tmp_path / "nested")
    assert [(f["param"], f["edge"]) for f in flags] == [("z_dagger", 3.0)]
    assert flags[0]["mass"] == pytest.approx(0.3, abs=0.01)


def _entry(bayes: float, flags=None) -> dict:
    t = {"bayes": bayes, "profile": bayes}
    return {"status": "ok", "label": "ΛsCDM with z† ∈ [1, 10]",
            "tension_sigma": {"normal_ordering": t, "inverted_ordering": t},
            "mnu_eff": {"mean": 0.04, "std": 0.09}, "delta_aic": 2.0,
            "prior_bounded": flags or []}


def test_the_verdict_never_calls_a_prior_bounded_shift_a_resolution_alone():
    flags = [{"param": "z_dagger", "edge": 3.0, "mass": 0.31}]
    assert describe(flags).startswith("prior-bounded: z† piles up at 3 (31% of the mass")
    text = verdict("lscdm", _entry(0.8, flags))
    assert text.startswith("removes the tension, prior-bounded: z† piles up at 3")
    assert verdict("lscdm", _entry(0.8)).startswith("removes the tension (0.8σ")
    assert verdict("lscdm", _entry(1.5, flags)).startswith("relieves the tension, prior-bounded")
    assert "; prior-bounded: z†" in verdict("lscdm", _entry(2.5, flags))
    assert "prior-bounded" in verdict("lcdm", _entry(2.5, flags))
    assert f"{PILED_MASS:.0%}" in DEFINITIONS["prior_bounded"]
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
