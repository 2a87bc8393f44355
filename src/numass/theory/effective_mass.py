"""Sigma m_nu,eff: the neutrino mass sum extended to negative values, around any backend.

Definition. For Sigma m_nu,eff >= 0 it is the ordinary sum of masses (``mnu``), passed to the
backend unchanged, so numass reproduces the backend exactly. Below zero, two extensions exist:

(a) Elbers et al. 2024 (arXiv:2407.10965), used by DESI DR2 (arXiv:2503.14744): the
    mass-dependent part of the neutrino energy density changes sign, rho_nu(-m) = 2 rho_nu(0) -
    rho_nu(m), in the background and in the clustering ("negative energy densities"). numass's
    own background code implements this exactly (theory/background.py), so the 'background'
    backend passes negative masses straight through.
(b) the observable-level mirror (symmetric extension, e.g. arXiv:2603.13208):
    X(-m) = 2 X(0) - X(m) for every product X (each spectrum, the background functions, every
    derived scalar), from two evaluations of the backend at the same other parameters. Any
    Boltzmann code or emulator supports it; numass uses it for CAMB, which refuses m < 0.

Both are continuous at 0 with a continuous first derivative, and they agree to first order in m;
numass's tests measure how far apart they are where both can be computed (the background).

What is held fixed: every other parameter the user gives, whatever they are (H0 or theta_MC,
omega_b, omega_c = the CDM density alone, A_s, n_s, tau ...). With theta_MC fixed, H0 is derived and
mirrors like any other product.
"""
from __future__ import annotations

import numpy as np

from numass.errors import InputError
from numass.theory.backend import NEEDS, Backend
from numass.theory.products import SPECTRA_KEYS, Spectra, TheoryProducts


def mirror_products(p0: TheoryProducts, p1: TheoryProducts, params: dict) -> TheoryProducts:
    """2 * p0 - p1 for every product (p0 at m = 0, p1 at m = |Sigma m_nu,eff|)."""
    from numass.theory.background import MirroredBackground

    spectra = None
    if p0.spectra is not None and p1.spectra is not None:
        spectra = Spectra(ell=p0.spectra.ell, **{k: 2 * getattr(p0.spectra, k) - getattr(p1.spectra, k)
                                                 for k in SPECTRA_KEYS})
    background = None
    if p0.background is not None and p1.background is not None:
        background = MirroredBackground(p0.background, p1.background)
    derived = {k: 2 * v - p1.derived[k] for k, v in p0.derived.items()
               if k in p1.derived and np.isscalar(v)}
    return TheoryProducts(params=dict(params), spectra=spectra, background=background,
                          derived=derived)


class EffectiveMass(Backend):
    """Wraps a backend so that it accepts ``mnu_eff`` of either sign (see the module docstring)."""

    supports_negative_mnu = True

    def __init__(self, backend: Backend):
        self.inner = backend
        self.name = backend.name
        self._zero_key = None
        self._zero = None

    def param_names(self):
        return (*self.inner.param_names(), "mnu_eff")

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        if "mnu_eff" not in params:
            return self.inner.compute(params, need)
        if "mnu" in params:
            raise InputError("give either 'mnu' (>= 0) or 'mnu_eff' (any sign), not both")
        m = float(params["mnu_eff"])
        base = {k: v for k, v in params.items() if k != "mnu_eff"}
        if m >= 0 or self.inner.supports_negative_mnu:
            out = self.inner.compute({**base, "mnu": m}, need)
        else:
            out = mirror_products(self._at_zero(base, need),
                                  self.inner.compute({**base, "mnu": -m}, need), params)
        out.params = dict(params)
        out.derived["mnu_eff"] = m
        return out

    def _at_zero(self, base: dict, need: frozenset[str]) -> TheoryProducts:
        """The m = 0 evaluation, cached: a chain moving only mnu_eff does not redo it."""
        key = (tuple(sorted(base.items())), frozenset(need))
        if key != self._zero_key:
            self._zero = self.inner.compute({**base, "mnu": 0.0}, need)
            self._zero_key = key
        return self._zero
