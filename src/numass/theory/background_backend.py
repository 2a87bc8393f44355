"""A backend that computes only the background, with numass's own code (no Boltzmann solver).

It serves BAO and the compressed CMB likelihood in about a millisecond, which is what makes the
embedded-data analysis converge in minutes. Negative Sigma m_nu,eff is native here: the
mass-dependent part of the neutrino energy density changes sign (Elbers et al. 2024).
"""
from __future__ import annotations

import numpy as np

from numass.errors import InputError, TheoryError
from numass.theory.backend import Backend
from numass.theory.parameters import BACKEND_PARAMS, to_camb_names
from numass.theory.products import TheoryProducts

ALLOWED = (*BACKEND_PARAMS, "YHe", "omk")


class BackgroundBackend(Backend):
    name = "background"
    supports_negative_mnu = True

    def param_names(self):
        return ALLOWED

    def compute(self, params: dict, need: frozenset[str] = frozenset({"background"})) -> TheoryProducts:
        from numass.theory.background import compute_background

        if "spectra" in need:
            raise InputError("the 'background' backend computes no CMB spectra; use --backend camb "
                             "for data sets that need them")
        self.check_params(params)
        p = to_camb_names(params)
        for spectra_only in ("tau", "As", "logA", "ns", "A_L", "A_lens"):
            p.pop(spectra_only, None)
        try:
            bg = compute_background(p)
        except InputError:
            raise
        except Exception as exc:  # numerical failure at a point: the sampler gets -inf
            raise TheoryError(f"background failed at {params}: {exc}") from exc
        derived = {"H0": float(bg.h * 100), "omegam": float(bg.omegam), "rdrag": float(bg.rdrag),
                   "theta_star": float(bg.theta_star), "zdrag": float(bg.zdrag),
                   "zstar": float(bg.zstar)}
        if not all(np.isfinite(list(derived.values()))):
            raise TheoryError(f"non-finite background at {params}")
        return TheoryProducts(params=dict(params), background=bg, derived=derived)

    def compute_batch(self, params: dict, need: frozenset[str] = frozenset({"background"})):
        """Vectorised over points (theory/backends_batch.py)."""
        from numass.theory.backends_batch import background_batch

        return background_batch(self, params, need)
