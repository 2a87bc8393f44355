"""numass components inside a plain Cobaya YAML, and build_info's Cobaya model."""
from pathlib import Path

import pytest

from numass.backends import make_backend
from numass.likelihoods import get_likelihood

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cobaya_bao_compressed.yaml"
POINT = {"H0": 68.5, "ombh2": 0.0222, "omch2": 0.119, "mnu_eff": 0.0}


def test_cobaya_yaml_uses_numass_components():
    from cobaya.model import get_model
    from cobaya.yaml import yaml_load_file

    info = yaml_load_file(str(EXAMPLE))
    info.pop("sampler")
    model = get_model(info)
    res = model.logposterior(POINT, as_dict=True)
    products = make_backend("background").compute(POINT, frozenset({"background"}))
    for lik_id in ("desi-dr2-bao", "cmb-compressed"):
        key = "numass.inference.cobaya_glue.numass_" + lik_id.replace("-", "_")
        expected = get_likelihood(lik_id).loglike(products)
        assert res["loglikes"][key] == pytest.approx(expected, rel=1e-12)
    assert res["derived"]["rdrag"] == pytest.approx(products.derived["rdrag"], rel=1e-12)


def test_build_info_model_applies_nuisance_priors_once(data_dir):
    from cobaya.model import get_model

    from numass.inference.setup import build_info

    info = build_info("lcdm", ["planck2018-plik-lite-TT", "planck2018-lowl-TT", "tau-prior"])
    assert info["params"]["A_planck"]["prior"] == {"dist": "norm", "loc": 1.0, "scale": 0.0025}
    # with CMB spectra the default is the shipped emulator, sending points outside its box to CAMB
    assert info["theory"]["numass"]["backend"] == "emulator"
    assert info["theory"]["numass"]["backend_options"] == {"fallback": "camb"}
    assert build_info("lcdm", ["planck2018-lowl-TT"], backend="camb")["theory"]["numass"][
        "backend"] == "camb"
    assert "theta_MC_100" in info["params"] and "H0" not in info["params"] or \
        info["params"]["H0"] == {"derived": True}
    model = get_model(info)  # parameters resolve between theory and likelihoods
    assert set(model.parameterization.sampled_params()) >= {"A_planck", "logA", "tau", "mnu_eff"}


def test_theory_failure_is_minus_infinity():
    from cobaya.model import get_model

    from numass.inference.setup import build_info

    info = build_info("lcdm", ["desi-dr2-bao", "cmb-compressed"])
    model = get_model(info)
    # omch2 so large that no dark energy is left: the background refuses, the sampler gets -inf
    bad = {"ombh2": 0.0224, "omch2": 0.9, "mnu_eff": 0.0, "H0": 45.0}
    assert model.logpost(bad) == -float("inf")
    assert model.theory["numass"].n_failures >= 1
