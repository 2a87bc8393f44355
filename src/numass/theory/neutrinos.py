"""Energy density of massive relic neutrinos (Fermi-Dirac), in CAMB's conventions.

CAMB gives each massive eigenstate a degeneracy g = N_std/3 (N_std = 3.044) and treats it as one
thermal species at temperature g^{1/4} T_nu, T_nu = (4/11)^{1/3} T_CMB: its relativistic density is
then g times one species', and its number density g^{3/4} times (hence CAMB's
omnuh2 = mnu/94.07 * g^{3/4}). numass uses the same, so both codes share one physical model.
"""
from __future__ import annotations

import numpy as np

N_STD = 3.044  # standard-model N_eff (CAMB's default and standard_neutrino_neff)
KB_EV = 8.617333262e-5  # Boltzmann constant, eV/K

# F(y) = int_0^inf x^2 sqrt(x^2 + y^2) / (e^x + 1) dx, normalised by F(0) = 7 pi^4 / 120
_X = np.linspace(1e-6, 60.0, 24001)
_W = np.full_like(_X, _X[1] - _X[0])  # Simpson weights on an even number of intervals
_W[1:-1:2] *= 4.0 / 3.0
_W[2:-1:2] *= 2.0 / 3.0
_W[[0, -1]] *= 1.0 / 3.0
_F0 = 7.0 * np.pi**4 / 120.0
LOGY = np.linspace(np.log(1e-5), np.log(1e5), 1601)


def _rho_ratio_exact(y: np.ndarray) -> np.ndarray:
    x = _X[None, :]
    integrand = x**2 * np.sqrt(x**2 + y[:, None] ** 2) / (np.exp(x) + 1.0)
    return integrand @ _W / _F0


LOG_RATIO = np.log(np.concatenate([_rho_ratio_exact(np.exp(chunk))
                                    for chunk in np.array_split(LOGY, 16)]))
# non-relativistic limit: F(y) -> y * int x^2/(e^x+1) dx = y * 3 zeta(3)/2
NR_COEF = 1.5 * 1.2020569031595942 / _F0


def rho_ratio_log(logy: np.ndarray, interpolate=None) -> np.ndarray:
    """rho(m, T) / rho(0, T) for one Fermi-Dirac species at y = m / (k_B T) = exp(logy): the
    table, interpolated linearly in ln y (or by ``interpolate``(ln y) inside its range); taking
    ln y so that a shared ln a grid needs no logarithm per element."""
    out = np.exp(np.interp(logy, LOGY, LOG_RATIO) if interpolate is None else interpolate(logy))
    low, high = logy < LOGY[0], logy > LOGY[-1]
    if low.any():
        out[low] = 1.0
    if high.any():
        out[high] = NR_COEF * np.exp(logy[high])
    return out

