"""One summary.json schema for both samplers: round trips, checks on write and on read."""
import json
import math

import pytest

from numass.errors import InputError
from numass.inference.results import RunResult, read_summary, write_summary
from numass.inference.summary_schema import summary_problems


def _posterior(mean):
    return {"mean": mean, "std": 0.1, "median": mean, "lower68": mean - 0.1,
            "upper68": mean + 0.1, "upper95": mean + 0.2}


def _common():
    floors = {"normal_ordering": 0.0588, "inverted_ordering": 0.099}
    return {
        "model": "lcdm", "datasets": ["desi-dr2-bao", "cmb-compressed"], "backend": "background",
        "params": {"H0": _posterior(68.0)},
        "bestfit": {"H0": 68.1, "mnu_eff": -0.1, "chi2": 12.5,
                    "chi2_by_likelihood": {"desi-dr2-bao": 10.0, "cmb-compressed": 2.5}},
        "mnu_eff": _posterior(-0.12),
        "tension_sigma": {"normal_ordering": 2.4, "inverted_ordering": 2.9},
        "tension_sigma_profile": {"normal_ordering": 2.2, "inverted_ordering": math.nan},
        "tension_sigma_lower_bound": [], "tension_sigma_extrapolated": ["inverted_ordering"],
        "tension_bayes": {"normal_ordering": {"sigma": 2.4}, "inverted_ordering": {"sigma": 2.9}},
        "tension_definitions": {"tension_sigma": "Bayesian"},
        "profiles": {"normal_ordering": {"mnu_eff": 0.0588, "chi2": 17.3}},
        "floors_eV": floors, "converged": True, "n_samples": 1766,
        "wall_seconds": 27.4, "chains": "/x/chains/numass"}


def mcmc_summary():
    return {**_common(), "rminus1": 0.008, "n_theory_failures": 3, "mass_param": "mnu",
            "triangle_plot": "/x/triangle.png", "param_overrides": {"fix": {"tau": 0.05}},
            "sampler": "mcmc", "quick": True}


def nautilus_summary():
    return {**_common(), "sampler": "nautilus", "sampled_params": ["H0", "mnu_eff"],
            "rminus1": None, "n_theory_failures": None, "n_eff": 1074.2, "ln_evidence": -24.6,
            "ln_evidence_err": 0.03, "ln_prior_mass_of_box": -7.0,
            "sampling_box": {"H0": [60.0, 76.0], "mnu_eff": [-0.6, 0.4]},
            "box_edge_weight": {"H0": 0.0, "mnu_eff": 0.002}, "n_calls": 7900,
            "nautilus": {"n_live": 200, "n_eff_target": 1000, "n_networks": 1},
            "stage_seconds": {"best_fit": 0.4, "nested": 18.5},
            "warning": "posterior weight at the sampling box's edge", "extra_key": [1, 2]}


def _same(a, b):
    """Equal, NaN equal to NaN (json round trips keep it)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("make", [mcmc_summary, nautilus_summary])
def test_round_trip(tmp_path, make):
    d = make()
    write_summary(tmp_path / "summary.json", d)
    assert _same(json.loads((tmp_path / "summary.json").read_text()), d)
    r = RunResult.from_json(tmp_path / "summary.json")
    assert _same(r.to_dict(), d)
    r.to_json(tmp_path / "again.json")
    assert _same(json.loads((tmp_path / "again.json").read_text()), d)
    assert r.sampler == d["sampler"] and r.tensions["inverted_ordering"].bayes_extrapolated


def test_typed_nautilus_fields():
    r = RunResult.from_dict(nautilus_summary())
    assert r.rminus1 is None and r.n_theory_failures is None
    assert r.n_eff == 1074.2 and r.n_calls == 7900 and r.sampling_box["H0"] == [60.0, 76.0]
    assert r.nautilus["n_live"] == 200 and r.stage_seconds["nested"] == 18.5
    assert r.extra == {"extra_key": [1, 2]} and r.quick is None
    m = RunResult.from_dict(mcmc_summary())
    assert m.quick is True and m.mass_param == "mnu" and m.extra == {}


def test_fixed_mass_without_tensions(tmp_path):
    d = {**nautilus_summary(), "tension_sigma": {}, "tension_sigma_profile": {}, "profiles": {}}
    for k in ("tension_sigma_lower_bound", "tension_sigma_extrapolated", "tension_bayes"):
        del d[k]
    write_summary(tmp_path / "summary.json", d)
    assert RunResult.from_json(tmp_path / "summary.json").tensions == {}


@pytest.mark.parametrize("key, value, words", [
    ("n_samples", "many", "'n_samples' should be an integer"),
    ("rminus1", "small", "'rminus1' should be a number"),
    ("mnu_eff", {**_posterior(0.1), "std": math.nan}, "'mnu_eff'"),
    ("bestfit", {"H0": 68.0, "chi2": math.inf}, "'bestfit'"),
    ("sampler", "emcee", "'sampler' should be 'mcmc', 'nautilus' or 'importance'"),
    ("datasets", "desi", "'datasets' should be a list of strings"),
])
def test_invalid_file_is_refused_naming_the_field(tmp_path, key, value, words):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({**mcmc_summary(), key: value}))
    with pytest.raises(InputError, match=str(path)) as err:
        RunResult.from_json(path)
    assert words in str(err.value)
    with pytest.raises(InputError, match=words.replace("(", r"\(")):
        write_summary(tmp_path / "other.json", {**mcmc_summary(), key: value})
    assert not (tmp_path / "other.json").exists()


def test_missing_keys(tmp_path):
    d = mcmc_summary()
    del d["bestfit"]
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(d))
    with pytest.raises(InputError, match="'bestfit' should be present"):
        read_summary(path)
    old = {k: v for k, v in mcmc_summary().items() if k not in ("n_theory_failures", "sampler")}
    assert summary_problems(old, written=False) == []  # an older folder still reads
    assert [k for k, _ in summary_problems(old, written=True)] == ["sampler", "n_theory_failures"]
    n = nautilus_summary()
    del n["n_eff"]
    assert [k for k, _ in summary_problems(n, written=True)] == ["n_eff"]


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        RunResult.from_json(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="bad.json: the run's summary is not valid JSON"):
        RunResult.from_json(tmp_path / "bad.json")
