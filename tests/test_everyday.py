"""Everyday use: --fix/--prior (parsing, what reaches Cobaya and the summary), the help listing
every registered choice, the progress display, and clear errors on unreadable files."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from cobaya.yaml import yaml_load_file

from numass.chi2 import read_spectra_npz
from numass.cli import build_parser, main
from numass.errors import InputError
from numass.inference.overrides import apply_override, parse_overrides, parse_prior
from numass.inference.results import load_chains, proposal_refs, proposal_widths
from numass.inference.setup import build_info
from numass.models import BACKEND_HELP, MODELS
from numass.progress import ProgressDisplay, fraction_done, mcmc_distance, remaining_seconds

EMBEDDED = ["desi-dr2-bao", "cmb-compressed"]


# --- --fix and --prior ----------------------------------------------------------------------------

def test_fix_and_prior_parse_into_cobaya_blocks():
    over = parse_overrides(["omch2=0.12"], ["mnu_eff=-1,1", "H0=gauss:70,2"])
    assert over == {"omch2": 0.12, "mnu_eff": {"prior": {"min": -1.0, "max": 1.0}},
                    "H0": {"prior": {"dist": "norm", "loc": 70.0, "scale": 2.0}}}


@pytest.mark.parametrize("fix, prior, fragment", [
    (["omch2"], [], "expected NAME=VALUE"),
    (["omch2=abc"], [], "not a number"),
    ([], ["mnu_eff=1,-1"], "lower edge must be below"),
    ([], ["mnu_eff=1"], "LO,HI or gauss:MEAN,SD"),
    ([], ["tau=gauss:0.05,0"], "width must be > 0"),
    (["H0=70"], ["H0=60,80"], "both --fix and --prior"),
])
def test_bad_fix_and_prior_are_clear(fix, prior, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_overrides(fix, prior)


def test_a_prior_override_keeps_the_model_block_and_moves_an_excluded_start():
    info = build_info("lcdm", EMBEDDED, param_overrides=parse_prior(["H0=70,80", "mnu_eff=-1,1"]))
    h0, mnu = info["params"]["H0"], info["params"]["mnu_eff"]
    assert h0["prior"] == {"min": 70.0, "max": 80.0} and h0["proposal"] == 0.5
    assert h0["latex"] == "H_0"
    assert proposal_refs(info)["H0"] == 75.0  # 67.5 lies outside [70, 80]: the prior's centre
    assert mnu["prior"] == {"min": -1.0, "max": 1.0} and proposal_refs(info)["mnu_eff"] == 0.0


def test_any_valid_cobaya_block_is_accepted():
    """A bare number as ref (it crashed before), no proposal, a list prior."""
    info = build_info("lcdm", EMBEDDED,
                      param_overrides={"H0": {"prior": [60, 80], "ref": 68.0},
                                       "omch2": {"prior": {"min": 0.1, "max": 0.14},
                                                 "ref": {"dist": "norm", "loc": 0.12,
                                                         "scale": 0.002}}})
    assert proposal_refs(info)["H0"] == 68.0
    assert proposal_widths(info)["H0"] == 0.5  # the model's own proposal is kept under it
    bare = {"prior": {"dist": "norm", "loc": 0.12, "scale": 0.004}}
    assert proposal_widths({"params": {"x": bare}})["x"] == pytest.approx(0.002)
    assert proposal_refs({"params": {"x": bare}})["x"] == 0.12


def test_unknown_and_derived_names_are_errors_listing_the_parameters():
    with pytest.raises(InputError, match="its parameters: ombh2, omch2, H0, mnu_eff"):
        build_info("lcdm", EMBEDDED, param_overrides={"A_L": 1.2})
    with pytest.raises(InputError, match="derived"):
        apply_override("omegam", {"derived": True}, 0.3)


def test_fixed_parameter_stays_fixed_and_prior_reaches_cobaya_and_summary(tmp_path):
    """A short chain (loose R-1, few samples): the fixed parameter is no sampled parameter of
    Cobaya's model and keeps its value; the new prior is the one Cobaya used."""
    from cobaya.model import get_model

    from numass.inference.pipeline import run_analysis

    over = parse_overrides(["omch2=0.118"], ["mnu_eff=-0.8,0.8"])
    info = build_info("lcdm", EMBEDDED, param_overrides=over)
    model = get_model(info)
    assert "omch2" not in model.parameterization.sampled_params()
    assert model.parameterization.constant_params()["omch2"] == 0.118
    lo, hi = model.prior.bounds()[list(model.parameterization.sampled_params()).index("mnu_eff")]
    assert (lo, hi) == (-0.8, 0.8)

    s = run_analysis(datasets=EMBEDDED, out=tmp_path, rminus1=0.5, max_samples=300, seed=3,
                     progress=None, param_overrides=over,
                     mcmc_options={"Rminus1_cl_stop": 0.9})
    assert s["param_overrides"] == over
    assert "omch2" not in s["params"] and "omch2" not in s["bestfit"]
    used = yaml_load_file(str(tmp_path / "chains" / "numass.updated.yaml"))["params"]
    assert used["omch2"] == {"value": 0.118}
    assert used["mnu_eff"]["prior"] == {"min": -0.8, "max": 0.8}


# --- help -----------------------------------------------------------------------------------------

def _help(*argv) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    p = sub.choices[argv[0]]
    return p.format_help()


@pytest.mark.parametrize("command", ["run", "fit", "profile", "theory"])
def test_help_lists_every_registered_model_and_backend(command):
    text = _help(command)
    for name in MODELS:
        assert f"\n  {name} " in text, name
    for name in BACKEND_HELP:
        assert f"\n  {name} " in text, name


def test_backend_list_is_what_the_registry_builds():
    from numass.backends import FACTORIES

    assert set(BACKEND_HELP) == set(FACTORIES) | {"emulator-box"}


def test_a_wrong_choice_names_the_choices(capsys):
    with pytest.raises(SystemExit):
        main(["theory", "--model", "lcmd", "--out", "x.npz"])
    err = capsys.readouterr().err
    assert "invalid choice: 'lcmd'" in err and "nu_interacting" in err


# --- progress -------------------------------------------------------------------------------------

def test_time_left_follows_a_power_law_to_the_target():
    history = [(t, 2.0 / math.sqrt(t)) for t in (10, 20, 40, 80)]  # R-1 = 2 / sqrt(t)
    # 2 / sqrt(t) = 0.01 at t = 40000 s: 39920 s after the last point
    assert remaining_seconds(history, 0.01) == pytest.approx(40000 - 80, rel=1e-9)
    assert remaining_seconds([(10, 0.1), (20, 0.2)], 0.01) is None  # not falling: no estimate
    assert remaining_seconds([(10, math.inf), (20, 0.2)], 0.01) is None
    assert fraction_done(1.0, 0.1, 0.01) == pytest.approx(0.5)
    assert fraction_done(1.0, 0.001, 0.01) == 1.0


def test_mcmc_distance_counts_the_bounds_once_the_means_pass():
    assert mcmc_distance(0.05, math.nan, 0.01, 0.05) == pytest.approx(5.0)
    assert mcmc_distance(0.005, 0.2, 0.01, 0.05) == pytest.approx(4.0)
    assert mcmc_distance(0.005, 0.01, 0.01, 0.05) < 1


def test_plain_progress_prints_on_stage_changes_and_every_30_s():
    clock = [0.0]
    out = io.StringIO()
    with ProgressDisplay(stream=out, live=False, clock=lambda: clock[0]) as d:
        d.update("run", label="lcdm", stage="best fit")
        for t in range(1, 100):
            clock[0] = float(t)
            d.update("run", stage="MCMC", value=1.0 / t, target=0.01)
    lines = out.getvalue().splitlines()
    # best fit (t=0), MCMC (t=1, a new stage), then every 30 s: t = 31, 61, 91
    assert len(lines) == 5, lines
    assert "lcdm: MCMC, R-1 = 0.011 (target 0.01), ~9 s left, 2 min elapsed" in lines[-1]


# --- file errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("content, found", [
    (b"ell DlTT\n2 1000\n", "a text file starting 'ell DlTT'"),
    (b"\x80\x04K\x01.", "a Python pickle"),
    (b"", "an empty file"),
])
def test_a_spectra_file_that_is_no_npz_says_what_was_expected_and_found(tmp_path, content, found):
    path = tmp_path / "spectra.npz"
    path.write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_spectra_npz(path)
    msg = str(exc.value)
    assert "expected an .npz archive" in msg and "'DlTT'" in msg and found in msg
    assert "pickled" not in msg


def test_a_single_npy_array_is_named_as_such(tmp_path):
    path = tmp_path / "spectra.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(InputError, match="a single .npy array, not an .npz archive"):
        read_spectra_npz(path)


def test_missing_or_unreadable_chains_say_what_was_expected(tmp_path):
    with pytest.raises(InputError, match="no chains in .*expected Cobaya's chain files"):
        load_chains(tmp_path)
    (tmp_path / "chains").mkdir()
    (tmp_path / "chains" / "numass.1.txt").write_text("not a chain\n")
    with pytest.raises(InputError, match="cannot read the chains.*a text file starting"):
        load_chains(tmp_path)


def test_report_command_rejects_a_folder_without_a_comparison(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no summary.json" in capsys.readouterr().err
    (tmp_path / "summary.json").write_text(json.dumps({"model": "lcdm"}))
    assert main(["report", str(tmp_path)]) == 2
    assert "not a comparison's summary" in capsys.readouterr().err


def test_compare_rows_read_the_task_logs_progress():
    from numass.compare.executor import _parse_progress

    assert _parse_progress("MCMC, R-1 = 0.52") == ("MCMC", 0.52, None)
    # the call count changes within the stage: it is no new stage (no extra plain line)
    assert _parse_progress("evidence, 4000 likelihood calls") == (
        "evidence", None, "4000 likelihood calls")
    assert _parse_progress("best fit") == ("best fit", None, None)
