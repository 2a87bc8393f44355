"""Turn (model, data set ids, backend) into a Cobaya input dictionary."""
from __future__ import annotations

from pathlib import Path

from numass.errors import InputError
from numass.inference.cobaya_glue import NumassTheory, likelihood_component
from numass.inference.overrides import apply_override
from numass.likelihoods import get_likelihood
from numass.models import Param, get_model, sampled_params

TAU = Param("tau", ("uniform", 0.01, 0.8), 0.055, 0.006, r"\tau_{\rm reio}")
# fixed physics: the CAMB defaults, stated so every backend uses the same
DEFAULT_FIXED = {"nnu": 3.044, "nu_states": 1}


def nuisance_block(nuisance) -> dict:
    kind = nuisance.prior[0]
    if kind == "fixed":
        return {"value": nuisance.default, "latex": nuisance.latex}
    if kind == "gauss":
        _, mean, sd = nuisance.prior
        prior, width = {"dist": "norm", "loc": mean, "scale": sd}, sd
    elif kind == "uniform":
        _, lo, hi = nuisance.prior
        prior, width = {"min": lo, "max": hi}, (hi - lo) / 20
    else:
        raise InputError(f"nuisance '{nuisance.name}': unknown prior kind '{kind}'")
    return {"prior": prior, "ref": {"dist": "norm", "loc": nuisance.default, "scale": width / 2},
            "proposal": width / 2, "latex": nuisance.latex}


def build_info(model_name: str, dataset_ids: list[str], backend: str | None = None,
               data_dir: str | Path | None = None, fixed: dict | None = None,
               likelihood_options: dict | None = None, param_overrides: dict | None = None) -> dict:
    """Cobaya info for sampling ``model_name`` on the given likelihood ids.

    ``param_overrides`` maps a parameter name to a value (fix it) or to any Cobaya parameter
    block; a block with a prior is laid over the model's own (inference.overrides).
    """
    model = get_model(model_name)
    likelihood_options = likelihood_options or {}
    liks = {i: get_likelihood(i, data_dir, **likelihood_options.get(i, {})) for i in dataset_ids}
    need_spectra = any("spectra" in lik.requires for lik in liks.values())
    # the model's own backend for these data (lcdm, w0wa ...: 'camb' with spectra, else numass's
    # 'background'; lscdm: 'lscdm' / 'lscdm-background'; nu_interacting: 'nu_interacting' /
    # 'background'); an explicit 'camb' or 'background' maps to the model's equivalent
    backend = model.resolve_backend(backend, need_spectra)
    if need_spectra and backend in ("background", "lscdm-background"):
        raise InputError(f"backend '{backend}' computes no CMB spectra, which "
                         f"{', '.join(i for i, lik in liks.items() if 'spectra' in lik.requires)} "
                         f"need")
    params = sampled_params(model, need_spectra)
    if not need_spectra and any("tau" in lik.params_needed for lik in liks.values()):
        params.append(TAU)
    info_params: dict = {p.name: p.cobaya() for p in params}
    for lik in liks.values():
        for nuis in lik.nuisance:
            info_params.setdefault(nuis.name, nuisance_block(nuis))
    derived = [d for d in (*model.derived, *(model.derived_spectra if need_spectra else ()))
               if d not in info_params]
    for d in derived:
        info_params[d] = {"derived": True}
    for name, value in (param_overrides or {}).items():
        if name not in info_params:
            raise InputError(f"unknown parameter '{name}' for model '{model_name}' on "
                             f"{','.join(dataset_ids)}; its parameters: "
                             f"{', '.join(n for n in info_params if n not in derived)}")
        info_params[name] = apply_override(name, info_params[name], value)
    cosmo_inputs = [p.name for p in params]
    # 'emulator': points outside its box go to CAMB (slow, exact); 'emulator-box': they get
    # -inf, i.e. the box is part of the prior (fast; the posterior is cut at the box's edges)
    options = {}
    if backend == "emulator":
        options = {"fallback": "camb"}
    elif backend == "emulator-box":
        backend = "emulator"
    theory = {"numass": {"external": NumassTheory, "backend": backend, "backend_options": options,
                         "fixed": {**DEFAULT_FIXED, **model.fixed, **(fixed or {})},
                         "input": cosmo_inputs, "derived": derived}}
    likelihood = {i: {"external": likelihood_component(i), "lik_id": i,
                      "data_dir": str(data_dir) if data_dir else None,
                      "options": likelihood_options.get(i, {})} for i in dataset_ids}
    return {"theory": theory, "likelihood": likelihood, "params": info_params}
