"""What a theory backend hands to likelihoods.

Conventions (shared by every backend and likelihood):
- ``Spectra``: ``ell`` = 0..lmax; ``tt, te, ee, bb`` are lensed D_ell = l(l+1)C_l/2pi in muK^2;
  ``pp`` is CAMB's lensing convention [L(L+1)]^2 C_L^phiphi / 2pi (dimensionless).
- ``Background``: anything with H(z) [km/s/Mpc], DM(z), DH(z), DV(z) [Mpc], ``rdrag`` [Mpc] and
  ``theta_star`` (100 theta_*, as CAMB's derived parameter ``thetastar``).
- ``params``: the cosmological input parameters, named as in CAMB (H0, ombh2, omch2, mnu, tau, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import constants as sc

from numass.errors import InputError

C_KM_S = sc.c / 1e3  # the speed of light in km/s: D_H = c / H
SPECTRA_KEYS = ("tt", "te", "ee", "bb", "pp")
# names of the arrays in the npz layout that `numass chi2 --spectra` reads and `numass theory` writes
NPZ_NAMES = {"tt": "DlTT", "te": "DlTE", "ee": "DlEE", "bb": "DlBB", "pp": "clpp_L2"}


@dataclass
class SpectraArrays:
    """``ell`` and the spectra on it: of one point (Spectra) or, with a leading axis of points,
    of a batch (theory.batch.BatchSpectra)."""

    ell: np.ndarray
    tt: np.ndarray
    te: np.ndarray
    ee: np.ndarray
    bb: np.ndarray
    pp: np.ndarray

    @property
    def lmax(self) -> int:
        return int(self.ell[-1])


class Spectra(SpectraArrays):
    def validate(self, source: str = "spectra") -> Spectra:
        """Check shapes and values; raise InputError naming the offending array."""
        ell = np.asarray(self.ell)
        if ell.ndim != 1 or len(ell) < 3 or ell[0] != 0 or np.any(np.diff(ell) != 1):
            raise InputError(f"{source}: 'ell' must be the integers 0, 1, ..., lmax")
        for key in SPECTRA_KEYS:
            arr = np.asarray(getattr(self, key))
            name = NPZ_NAMES[key]
            if arr.shape != ell.shape:
                raise InputError(f"{source}: '{name}' has shape {arr.shape}, expected {ell.shape} "
                                 f"(one value per ell = 0..{int(ell[-1])})")
            if not np.all(np.isfinite(arr[2:])):
                raise InputError(f"{source}: '{name}' contains NaN or infinite values")
        return self


@runtime_checkable
class Background(Protocol):
    rdrag: float
    theta_star: float

    def H(self, z): ...

    def DM(self, z): ...

    def DH(self, z): ...

    def DV(self, z): ...


class Distances:
    """DH = c / H and DV = (z DM² DH)^(1/3) from a background's own H(z) and DM(z)."""

    def DH(self, z):
        return C_KM_S / self.H(z)

    def DV(self, z):
        z = np.asarray(z, dtype=float)
        return np.cbrt(z * self.DM(z) ** 2 * self.DH(z))


@dataclass
class TheoryProducts:
    """Everything a backend computed at one parameter point."""

    params: dict[str, float]
    spectra: Spectra | None = None
    background: Background | None = None
    derived: dict[str, float] = field(default_factory=dict)

    def need_spectra(self, who: str) -> Spectra:
        if self.spectra is None:
            raise InputError(f"likelihood '{who}' needs CMB spectra but the theory provided none")
        return self.spectra

    def need_background(self, who: str) -> Background:
        if self.background is None:
            raise InputError(f"likelihood '{who}' needs the background expansion but the theory "
                             f"provided none")
        return self.background

    def need_param(self, name: str, who: str) -> float:
        if name not in self.params:
            raise InputError(f"likelihood '{who}' needs the parameter '{name}'")
        return float(self.params[name])
