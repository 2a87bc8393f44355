"""A backend that computes only the background, with numass's own code (no Boltzmann solver).

It serves BAO and the compressed CMB likelihood in about a millisecond a point (far less in a
batch), which is what makes the embedded-data analysis converge in minutes; spectra-only
parameters (tau, As, ns, A_L, A_lens) are accepted and ignored. Negative Sigma m_nu,eff is native
here: the mass-dependent part of the neutrino energy density changes sign (Elbers et al. 2024).
``background_batch`` with de='lscdm' is the same for LsCDM's background (the 'lscdm-background'
backend of theory/latetime.py). Batches use the fast quadrature unless the backend's
``batch_accuracy`` attribute is 'exact'; a single point (a batch of one), the exact one.
"""
from __future__ import annotations

import numpy as np

from numass.errors import InputError
from numass.parameters import BACKEND_PARAMS, SPECTRA_ONLY, to_camb_names
from numass.theory import background as bk
from numass.theory.backend import Backend, batch_accuracy, check_need, one_point
from numass.theory.batch import BatchProducts, broadcast_params
from numass.theory.products import TheoryProducts

ALLOWED = (*BACKEND_PARAMS, "YHe", "omk")


def background_batch(backend, params: dict, need, accuracy: str | None = None,
                     de: str = "cpl") -> BatchProducts:
    """The products of the 'background' backend (``de`` 'cpl'), or of 'lscdm-background' ('lscdm':
    z_dagger, eta_lscdm in the derived too); ``accuracy`` the quadrature (default: the backend's
    batch_accuracy). InputError for spectra in ``need`` or unknown names."""
    if "spectra" in check_need(need):
        hint = ("use --backend camb" if de == "cpl" else
                "use the 'lscdm' backend (late-time engine)")
        raise InputError(f"the '{backend.name}' backend computes no CMB spectra; {hint} for data "
                         f"sets that need them")
    backend.check_names(params)
    arrays = broadcast_params(params)
    p = {k: v for k, v in to_camb_names(arrays).items() if k not in SPECTRA_ONLY}
    bg = bk.compute_background_batch(p, de=de, accuracy=accuracy or batch_accuracy(backend))
    lscdm = {"z_dagger": bg.dens.z_dagger, "eta_lscdm": bg.dens.eta} if de == "lscdm" else {}
    derived = {**bk.background_derived(bg), **lscdm}
    ok = bg.ok & np.all([np.isfinite(v) for v in derived.values()], axis=0)
    return BatchProducts(params=arrays, ok=ok, background=bg, derived=derived).masked(ok)


class BackgroundBackend(Backend):
    """numass's background alone: of CPL dark energy (``de`` 'cpl'), or of ΛsCDM in the
    subclass theory.latetime.LsCDMBackgroundBackend ('lscdm')."""

    name = "background"
    supports_negative_mnu = True
    de, params = "cpl", ALLOWED

    def compute(self, params: dict, need: frozenset[str] = frozenset({"background"})
                ) -> TheoryProducts:
        """A batch of one, on the exact quadrature."""
        self.check_params(params)
        return one_point(lambda p, n: background_batch(self, p, n, "exact", self.de), params,
                         need, self.explain)

    def compute_batch(self, params: dict, need: frozenset[str] = frozenset({"background"})):
        return background_batch(self, params, need, de=self.de)

    def explain(self, params: dict) -> None:
        """Raises why a point has no background (compute_background's specific errors)."""
        bk.compute_background({k: v for k, v in to_camb_names(params).items()
                            if k not in SPECTRA_ONLY}, self.de)
