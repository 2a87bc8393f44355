"""Vectorised ``compute_batch`` of the background-only backends ('background' and
'lscdm-background'): the checks of their per-point ``compute`` turned into a per-row ``ok``
(a row the per-point call refuses with InputError or TheoryError gets ok = False), names and
shapes checked for the whole batch (InputError), then one batched background: the fast one
(Gauss-Legendre, theory/background_fast.py) unless the backend's ``batch_accuracy`` attribute
is 'exact' (the per-point grids)."""
from __future__ import annotations

import numpy as np

from numass.errors import InputError
from numass.theory.backend import check_need
from numass.theory.background_batch import BatchBackground, compute_background_batch
from numass.theory.batch import BatchProducts, broadcast_params
from numass.theory.parameters import DEFAULTS, to_camb_names

SPECTRA_ONLY = ("tau", "As", "logA", "ns", "A_L", "A_lens")
BACKGROUND_DERIVED = ("omegam", "rdrag", "theta_star", "zdrag", "zstar")


def checked_arrays(backend, params: dict, need, spectra_hint: str) -> dict[str, np.ndarray]:
    """Arrays (n,) of known parameters; InputError for spectra in ``need``, unknown names, wrong
    shapes, or both H0 and a theta given."""
    need = check_need(need)
    if "spectra" in need:
        raise InputError(f"the '{backend.name}' backend computes no CMB spectra; {spectra_hint}")
    unknown = sorted(set(params) - set(backend.param_names()))
    if unknown:
        raise InputError(f"backend '{backend.name}' does not know the parameter(s) {unknown}; "
                         f"it takes: {', '.join(sorted(backend.param_names()))}")
    p = to_camb_names(broadcast_params(params))
    for k in SPECTRA_ONLY:
        p.pop(k, None)
    return p


def _refused(p: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Rows the per-point backends refuse for values the batched background does not see."""
    bad = np.zeros(n, dtype=bool)
    if "omk" in p:
        bad |= p.pop("omk") != 0.0
    if "YHe" in p:  # the per-point code refuses any given helium fraction
        p.pop("YHe")
        bad[:] = True
    return bad


def background_products(params: dict, p: dict, bg: BatchBackground, extra: dict) -> BatchProducts:
    derived = {"H0": bg.h * 100, **{k: getattr(bg, k) for k in BACKGROUND_DERIVED}, **extra}
    ok = bg.ok.copy()
    for v in derived.values():
        ok &= np.isfinite(v)
    derived = {k: np.where(ok, v, np.nan) for k, v in derived.items()}
    bg.ok = ok
    return BatchProducts(params=broadcast_params(params), ok=ok, background=bg, derived=derived)


def batch_accuracy(backend) -> str:
    """'fast' (the default) or 'exact': which batched background a backend uses."""
    return getattr(backend, "batch_accuracy", "fast")


def background_batch(backend, params: dict, need) -> BatchProducts:
    """BackgroundBackend.compute_batch."""
    p = checked_arrays(backend, params, need, "use --backend camb for data sets that need them")
    n = len(next(iter(p.values())))
    if "H0" not in p and "cosmomc_theta" not in p:
        raise InputError("the background needs 'H0' or 'cosmomc_theta'")
    refused = _refused(p, n)
    bg = compute_background_batch(p, accuracy=batch_accuracy(backend))
    bg.ok &= ~refused
    return background_products(params, p, bg, {})


def lscdm_background_batch(backend, params: dict, need) -> BatchProducts:
    """LsCDMBackgroundBackend.compute_batch (z_dagger, eta_lscdm in the derived too)."""
    p = checked_arrays(backend, params, need, "use the 'lscdm' backend (late-time engine) for "
                                              "data sets that need them")
    n = len(next(iter(p.values())))
    if "z_dagger" not in p:
        raise InputError("the ΛsCDM background needs 'z_dagger' (the redshift of the sign switch)")
    if "H0" not in p and "cosmomc_theta" not in p:
        raise InputError("the background needs 'H0' or 'cosmomc_theta'")
    p.setdefault("eta_lscdm", np.full(n, 10.0))
    refused = _refused(p, n)
    bg = compute_background_batch(p, de="lscdm", h_range=(0.3, 1.5),
                                  accuracy=batch_accuracy(backend))
    bg.ok &= ~refused
    return background_products(params, p, bg, {"z_dagger": p["z_dagger"],
                                                "eta_lscdm": p["eta_lscdm"]})


def normalise_arrays(params: dict) -> dict[str, np.ndarray]:
    """backend.normalise_params for arrays: the name checks raise InputError for the batch; the
    value checks are left to ``refused_rows``."""
    p = to_camb_names(broadcast_params(params))
    if "H0" not in p and "cosmomc_theta" not in p:
        raise InputError("give exactly one of 'H0', 'cosmomc_theta', 'theta_MC_100'")
    missing = [k for k in ("ombh2", "omch2") if k not in p]
    if missing:
        raise InputError(f"missing cosmological parameter(s): {', '.join(missing)}")
    n = len(p["ombh2"])
    return {**{k: np.full(n, float(v)) for k, v in DEFAULTS.items()}, **p}
