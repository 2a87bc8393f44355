"""ΛsCDM: a cosmological constant that switches sign at z = z_dagger (Akarsu et al. 2021,
arXiv:2108.09239; smoothed form of Akarsu et al. 2023, arXiv:2307.10899).

    Λ(z) = Λ_s0 tanh[η (z† − z)] / tanh(η z†),

so Λ(0) = Λ_s0 exactly, Λ → −Λ_s0 / tanh(η z†) ≈ −Λ_s0 well before z†, and η → ∞ is the sharp
switch Λ_s0 sgn(z† − z). Parameters: ``z_dagger`` (z†) and ``eta_lscdm`` (η, default 10);
Λ_s0 is fixed by flatness today. Everything else (photons, neutrinos of either sign of
Sigma m_nu,eff, baryons, CDM, z*, z_drag, r_s) is numass's own background code
(theory/background.py) unchanged: the switch happens at z ≲ a few, so pre-recombination physics,
r_drag and r_* are ΛCDM's; θ* and all distances feel the new H(z).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from numass.errors import InputError
from numass.theory import background as bgmod
from numass.theory.background import (BackgroundResult, densities_of, h_from_params,
                                      theta_mc_of)

ETA_DEFAULT = 10.0
ALLOWED = tuple(k for k in bgmod.ALLOWED if k not in ("w", "wa")) + ("z_dagger", "eta_lscdm")


def lambda_shape(z, z_dagger: float, eta: float = ETA_DEFAULT):
    """Λ(z) / Λ_s0 = tanh[η(z† − z)] / tanh(η z†)."""
    z = np.asarray(z, dtype=float)
    return np.tanh(eta * (z_dagger - z)) / np.tanh(eta * z_dagger)


@dataclass
class _LsDensities(bgmod.Densities):
    """The background's densities with the dark-energy term replaced by the sign-switching Λ."""

    z_dagger: float = 2.0
    eta: float = ETA_DEFAULT

    def de(self, a):
        a = np.asarray(a, dtype=float)
        # odeh2 is omega_Lambda,s0 h^2 (today's value); at a = 1 the shape is exactly 1
        return self.odeh2 * lambda_shape(1.0 / a - 1.0, self.z_dagger, self.eta)


class LsCDMBackground(BackgroundResult):
    """numass's background with Λ(z) of ΛsCDM; same interface and attributes as BackgroundResult."""

    def __init__(self, dens: _LsDensities, h: float):
        self.z_dagger, self.eta = dens.z_dagger, dens.eta
        super().__init__(dens, h)
        self.omega_lambda_s0 = dens.odeh2 / h**2

    def Lambda_ratio(self, z):
        """Λ(z) / Λ_s0."""
        return lambda_shape(z, self.z_dagger, self.eta)


def _theta_mc(dens: _LsDensities, h: float) -> float:
    """CAMB's cosmomc_theta with ΛsCDM's H(a): background.theta_mc_of with the trapezoid rule
    (η = 10 puts ~20 of its 4001 points across the step at z ~ 2)."""
    return theta_mc_of(dens, h, rule="trapezoid")


def compute_lscdm_background(params: dict) -> LsCDMBackground:
    """The ΛsCDM background at ``params`` (named as in CAMB, plus z_dagger and eta_lscdm)."""
    unknown = set(params) - set(ALLOWED)
    if unknown:
        raise InputError(f"unknown ΛsCDM background parameter(s) {sorted(unknown)}; allowed: "
                         f"{', '.join(ALLOWED)}")
    if "z_dagger" not in params:
        raise InputError("the ΛsCDM background needs 'z_dagger' (the redshift of the sign switch)")
    zd = float(params["z_dagger"])
    eta = float(params.get("eta_lscdm", ETA_DEFAULT))
    if not (np.isfinite(zd) and zd > 0):
        raise InputError(f"'z_dagger' must be a positive number, got {params['z_dagger']}")
    if not (np.isfinite(eta) and eta > 0):
        raise InputError(f"'eta_lscdm' must be a positive number, got {params.get('eta_lscdm')}")
    if float(params.get("omk", 0.0)) != 0.0:
        raise InputError("numass's background is flat only (omk = 0)")
    for key in ("ombh2", "omch2"):
        if key not in params:
            raise InputError(f"the background needs '{key}'")
        if not np.isfinite(float(params[key])) or float(params[key]) <= 0:
            raise InputError(f"'{key}' must be positive, got {params[key]}")
    if abs(float(params.get("nnu", 3.044)) - 3.044) > 1e-9:
        raise InputError("numass's own background assumes nnu = 3.044")
    base = densities_of({k: v for k, v in params.items() if k not in ("z_dagger", "eta_lscdm")})
    dens = _LsDensities(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
                        z_dagger=zd, eta=eta)
    if "H0" in params and "cosmomc_theta" in params:
        raise InputError("give H0 or cosmomc_theta, not both")
    h = h_from_params(params, _theta_mc, dens, (0.3, 1.5), f" in ΛsCDM (z_dagger = {zd})")
    return LsCDMBackground(dens, h)
