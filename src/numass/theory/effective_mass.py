"""Sigma m_nu,eff: the neutrino mass sum extended to negative values, around any backend.

Definition (parameter ``mnu_eff``, eV, either sign):

- mnu_eff >= 0: the ordinary sum of masses. The wrapped backend is called with mnu = mnu_eff
  and its products are returned unchanged (same arrays, same background object), so numass
  reproduces the backend exactly there. The mass splitting is the backend's ``nu_states``
  (1 = one massive eigenstate + massless ones, CAMB's default; 3 = three degenerate, as DESI).
- mnu_eff < 0, backend with ``supports_negative_mnu`` (numass's own background code): mnu =
  mnu_eff is passed through and the backend implements the negative-mass physics itself.
- mnu_eff < 0, any other backend (CAMB, emulators): the observable-level mirror ("symmetric
  extension", docs/physics.md, e.g. arXiv:2603.13208)

      X(mnu_eff) = 2 X(0) - X(|mnu_eff|)

  for every product X: each spectrum array (TT, TE, EE, BB, pp), every derived scalar (sigma8,
  S8, rdrag, theta_star, H0, omegam, omnuh2 ...), and the background (MirroredBackground: H, DM,
  DH, DV as functions, rdrag and theta_star as numbers). Two backend evaluations at the same
  other parameters; the m = 0 one is cached, so a chain that moves only mnu_eff pays one.

What is held fixed between X(0) and X(|m|) is exactly the other parameters the user samples:
H0 or theta_MC (then H0 is a derived product and mirrors like the others), omega_b, omega_c,
A_s (or logA), n_s, tau, w, wa. omega_c is the CDM density alone; the neutrino density is not
part of it, so omega_m = omega_b + omega_c + omega_nu moves with the mass.

Relation to Elbers et al. 2024 (arXiv:2407.10965; used by DESI DR2, arXiv:2503.14744): they
define Sigma m_nu,eff inside the Boltzmann code, "allowing for negative energy densities": for
a negative value the neutrinos' energy density, pressure and perturbations are those of massless
neutrinos minus the mass-induced excess at |m|, i.e. rho_nu(-m) = 2 rho_nu(0) - rho_nu(m), so the
late-time neutrino density omega_nu ~ Sigma m_nu,eff / 93 eV turns negative and the suppression
of clustering (and of CMB lensing) becomes an enhancement. Both extensions coincide with the
physical model at m >= 0, are continuous with a continuous first derivative at 0 and agree to
first order in m; they differ at O(m^2), because observables are non-linear in the densities.
Measured (tests/test_effective_mass.py, H0 fixed): the shifts of DM(z=1) and r_drag at
mnu_eff = -0.1 eV differ between the two by 0.5% and 0.9% of the shift. One mirror artefact to
know: a product that moves by a shift in ell (acoustic peaks when theta_* changes) mirrors into
a slightly sharpened, not shifted, spectrum (second order; small when theta_MC is held fixed).
"""
from __future__ import annotations

import numbers

import numpy as np

from numass.errors import InputError
from numass.theory.backend import NEEDS, Backend, check_need
from numass.theory.products import SPECTRA_KEYS, Spectra, TheoryProducts

BACKGROUND_SCALARS = ("rdrag", "theta_star", "zstar", "zdrag")


class MirroredBackground:
    """2 b0 - b1 for the functions H, DM, DH, DV and for the scalars both backgrounds have
    (those named in ``scalars``; background.MirroredBackground names more)."""

    scalars = BACKGROUND_SCALARS

    def __init__(self, b0, b1):
        self._b0, self._b1 = b0, b1
        for name in self.scalars:
            if hasattr(b0, name) and hasattr(b1, name):
                setattr(self, name, 2 * getattr(b0, name) - getattr(b1, name))

    def H(self, z):
        return 2 * self._b0.H(z) - self._b1.H(z)

    def DM(self, z):
        return 2 * self._b0.DM(z) - self._b1.DM(z)

    def DH(self, z):
        return 2 * self._b0.DH(z) - self._b1.DH(z)

    def DV(self, z):
        return 2 * self._b0.DV(z) - self._b1.DV(z)


def _is_scalar(v) -> bool:
    return isinstance(v, numbers.Real) or (isinstance(v, np.ndarray) and v.ndim == 0)


def mirror_products(p0: TheoryProducts, p1: TheoryProducts, params: dict) -> TheoryProducts:
    """2 p0 - p1 for every product (p0 at m = 0, p1 at m = |Sigma m_nu,eff|)."""
    spectra = None
    if p0.spectra is not None and p1.spectra is not None:
        if not np.array_equal(p0.spectra.ell, p1.spectra.ell):
            raise InputError("cannot mirror spectra computed on different multipole ranges")
        spectra = Spectra(ell=p0.spectra.ell,
                          **{k: 2 * getattr(p0.spectra, k) - getattr(p1.spectra, k)
                             for k in SPECTRA_KEYS})
    background = None
    if p0.background is not None and p1.background is not None:
        background = MirroredBackground(p0.background, p1.background)
    derived = {k: 2 * v - p1.derived[k] for k, v in p0.derived.items()
               if k in p1.derived and _is_scalar(v) and _is_scalar(p1.derived[k])}
    return TheoryProducts(params=dict(params), spectra=spectra, background=background,
                          derived=derived)


class EffectiveMass(Backend):
    """Wraps a backend so that it accepts ``mnu_eff`` of either sign (see the module docstring).

    Without ``mnu_eff`` the call goes to the wrapped backend untouched. ``mnu`` and ``mnu_eff``
    together are an InputError.
    """

    supports_negative_mnu = True

    def __init__(self, backend: Backend):
        self.inner = backend
        self.name = backend.name
        self._zero_key = None
        self._zero: TheoryProducts | None = None

    def param_names(self):
        return (*self.inner.param_names(), "mnu_eff")

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        need = check_need(need)
        if "mnu_eff" not in params:
            return self.inner.compute(params, need)
        if "mnu" in params:
            raise InputError("give either 'mnu' (the sum of masses, >= 0) or 'mnu_eff' (the "
                             "effective mass, either sign), not both")
        m = _as_float(params["mnu_eff"])
        base = {k: v for k, v in params.items() if k != "mnu_eff"}
        if m >= 0 or self.inner.supports_negative_mnu:
            inner = self.inner.compute({**base, "mnu": m}, need)
            out = TheoryProducts(params=dict(params), spectra=inner.spectra,
                                 background=inner.background, derived=dict(inner.derived))
        else:
            out = mirror_products(self._at_zero(base, need),
                                  self.inner.compute({**base, "mnu": -m}, need), params)
        out.derived["mnu_eff"] = m
        return out

    def compute_batch(self, params: dict, need: frozenset[str] = NEEDS):
        """Batched: the inner backend's compute_batch, mirrored row by row where needed
        (theory/effective_mass_batch.py)."""
        from numass.theory.effective_mass_batch import effective_mass_batch

        return effective_mass_batch(self, params, check_need(need))

    def _at_zero(self, base: dict, need: frozenset[str]) -> TheoryProducts:
        """The m = 0 evaluation, cached on the other parameters and the request."""
        key = (tuple(sorted(base.items())), need)
        if key != self._zero_key:
            self._zero = self.inner.compute({**base, "mnu": 0.0}, need)
            self._zero_key = key
        return self._zero


def _as_float(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError(f"parameter 'mnu_eff' = {v!r} is not a number") from None
    if not np.isfinite(x):
        raise InputError(f"parameter 'mnu_eff' = {v!r} is not a finite number")
    return x
