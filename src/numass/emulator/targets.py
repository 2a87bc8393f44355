"""What the networks predict: smooth, well-scaled functions of the spectra, and the tolerance
each multipole is judged by (issue 4's accuracy targets), used to whiten the training loss.

- TT, EE: ln D_ell;  TE: the correlation r_ell = D_TE / sqrt(D_TT D_EE) (bounded, no zero
  crossings to fit in a logarithm);  PP: ln of [L(L+1)]^2 C_L^phiphi / 2pi.
- tolerance per multipole in those units: 0.05 sigma_CV for TT/EE (0.05 sqrt(2/(2l+1)) in ln),
  0.05 / sqrt(2l+1) for r (conservative: sigma_CV(TE) >= sqrt(TT EE / (2l+1))), 0.003 for ln pp.
"""
from __future__ import annotations

import numpy as np

LMIN, LMAX = 2, 3000
ELL = np.arange(LMIN, LMAX + 1)
SPECTRA = ("tt", "te", "ee", "pp")


def tolerance(kind: str) -> np.ndarray:
    if kind in ("tt", "ee"):
        return 0.05 * np.sqrt(2.0 / (2 * ELL + 1))
    if kind == "te":
        return 0.05 / np.sqrt(2 * ELL + 1)
    if kind == "pp":
        return np.full(ELL.shape, 0.003)
    raise KeyError(kind)


def to_targets(tt, te, ee, pp) -> dict[str, np.ndarray]:
    """Spectra on ell = LMIN..LMAX (last axis) -> target arrays."""
    return {"tt": np.log(tt), "te": te / np.sqrt(tt * ee), "ee": np.log(ee), "pp": np.log(pp)}


def from_targets(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of to_targets."""
    tt, ee = np.exp(t["tt"]), np.exp(t["ee"])
    return {"tt": tt, "te": t["te"] * np.sqrt(tt * ee), "ee": ee, "pp": np.exp(t["pp"])}
