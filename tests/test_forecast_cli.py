"""`numass forecast` end to end at a small size: summary.json's layout, report.html, bad input."""
from __future__ import annotations

import json

import pytest

from numass.cli import main

COMBO = "planck+planck_tau+desi_final"


def test_forecast_command_small(tmp_path, capsys):
    out = tmp_path / "fc"
    code = main(["forecast", "--experiments", COMBO, "--truths", "lcdm_floor,w0wa",
                 "--hypotheses", "lcdm,w0wa", "--out", str(out)])
    assert code == 0
    s = json.loads((out / "summary.json").read_text())
    assert 0.03 < s["sigma_mnu"][COMBO] < 0.12  # eV, ΛCDM at the floor (Fisher)
    cell = s["discrimination"]["w0wa"]["lcdm"][COMBO]
    assert cell["sigma"] == pytest.approx(cell["delta_chi2"] ** 0.5)
    assert cell["sigma"] > 1.0 and s["discrimination"]["w0wa"]["w0wa"][COMBO]["sigma"] < 1e-3
    assert s["mirage"]["w0wa"][COMBO]["mnu_eff_inferred"] < 0
    assert s["not_built"] == {}
    assert s["truths_origin"] == {"lcdm_floor": "embedded", "w0wa": "embedded"}
    html = (out / "report.html").read_text()
    assert "discrimination.png" in html and "arXiv:1808.07445" in html
    assert (out / "figures" / "discrimination.png").stat().st_size > 1000
    assert "the mirage" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--experiments", "planck+so"],
                                  ["--experiments", "euclid"],
                                  ["--truths", "nope"], ["--hypotheses", "nope"]])
def test_forecast_bad_input_exits_2(tmp_path, args):
    assert main(["forecast", *args, "--out", str(tmp_path / "x")]) == 2


def test_forecast_help_prints_the_table(capsys):
    with pytest.raises(SystemExit):
        main(["forecast", "--help"])
    text = capsys.readouterr().out
    assert "litebird_tau" in text and "arXiv:2202.02773" in text
    assert "euclid_shear" in text and "arXiv:1910.09273" in text

