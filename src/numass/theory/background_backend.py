"""A backend that computes only the background, with numass's own code (no Boltzmann solver).

It serves BAO and the compressed CMB likelihood in about a millisecond a point (far less in a
batch), which is what makes the embedded-data analysis converge in minutes. Negative
Sigma m_nu,eff is native here: the mass-dependent part of the neutrino energy density changes
sign (Elbers et al. 2024). ``lscdm_background_batch`` is the same for LsCDM's background (the
'lscdm-background' backend of theory/latetime.py). Batches use the fast quadrature unless the
backend's ``batch_accuracy`` attribute is 'exact'; a single point, the exact one.
"""
from __future__ import annotations

import numpy as np

from numass.errors import InputError, TheoryError
from numass.theory.backend import Backend, batch_accuracy, check_need
from numass.theory.background import BackgroundRows, compute_background, compute_background_batch
from numass.theory.batch import BatchProducts, broadcast_params
from numass.theory.parameters import BACKEND_PARAMS, to_camb_names
from numass.theory.products import TheoryProducts

ALLOWED = (*BACKEND_PARAMS, "YHe", "omk")
SPECTRA_ONLY = ("tau", "As", "ns", "A_L", "A_lens")  # after to_camb_names (logA -> As)
BACKGROUND_DERIVED = ("omegam", "rdrag", "theta_star", "zdrag", "zstar")
_NO_SPECTRA = "use --backend camb for data sets that need them"


def _background_params(backend, params: dict, need, spectra_hint: str) -> dict:
    """``params`` in CAMB's names without the spectra-only ones; InputError for spectra in
    ``need`` or unknown names."""
    if "spectra" in check_need(need):
        raise InputError(f"the '{backend.name}' backend computes no CMB spectra; {spectra_hint}")
    backend.check_names(params)
    return {k: v for k, v in to_camb_names(params).items() if k not in SPECTRA_ONLY}


def background_products(params: dict, bg: BackgroundRows, extra: dict) -> BatchProducts:
    derived = {"H0": bg.h * 100, **{k: getattr(bg, k) for k in BACKGROUND_DERIVED}, **extra}
    ok = bg.ok.copy()
    for v in derived.values():
        ok &= np.isfinite(v)
    derived = {k: np.where(ok, v, np.nan) for k, v in derived.items()}
    bg.ok = ok
    return BatchProducts(params=broadcast_params(params), ok=ok, background=bg, derived=derived)


class BackgroundBackend(Backend):
    name = "background"
    supports_negative_mnu = True

    def param_names(self):
        return ALLOWED

    def compute(self, params: dict, need: frozenset[str] = frozenset({"background"})) -> TheoryProducts:
        self.check_params(params)
        p = _background_params(self, params, need, _NO_SPECTRA)
        try:
            bg = compute_background(p)
        except InputError:
            raise
        except Exception as exc:  # numerical failure at a point: the sampler gets -inf
            raise TheoryError(f"background failed at {params}: {exc}") from exc
        derived = {"H0": bg.h * 100, **{k: getattr(bg, k) for k in BACKGROUND_DERIVED}}
        if not all(np.isfinite(list(derived.values()))):
            raise TheoryError(f"non-finite background at {params}")
        return TheoryProducts(params=dict(params), background=bg, derived=derived)

    def compute_batch(self, params: dict, need: frozenset[str] = frozenset({"background"})):
        p = _background_params(self, broadcast_params(params), need, _NO_SPECTRA)
        bg = compute_background_batch(p, accuracy=batch_accuracy(self))
        return background_products(params, bg, {})


def lscdm_background_batch(backend, params: dict, need, accuracy: str | None = None
                           ) -> BatchProducts:
    """LsCDMBackgroundBackend.compute_batch (z_dagger, eta_lscdm in the derived too);
    ``accuracy`` the quadrature (default: the backend's batch_accuracy)."""
    p = _background_params(backend, broadcast_params(params), need, "use the 'lscdm' backend "
                           "(late-time engine) for data sets that need them")
    n = len(next(iter(p.values())))
    p.setdefault("eta_lscdm", np.full(n, 10.0))
    bg = compute_background_batch(p, de="lscdm", accuracy=accuracy or batch_accuracy(backend))
    return background_products(params, bg, {"z_dagger": p["z_dagger"],
                                            "eta_lscdm": p["eta_lscdm"]})
