"""numass's own background cosmology: H(z), distances, sound horizons, theta_*.

Flat FLRW with photons, massless and massive neutrinos (Fermi-Dirac, CAMB's conventions, see
neutrinos.py), baryons, CDM and CPL dark energy w(a) = w0 + wa (1 - a), Omega_DE fixed by
flatness today. Parameters are named as in CAMB. It agrees with CAMB to < 2e-4 (tests).

Sigma m_nu,eff < 0 (``mnu`` < 0): following Elbers et al. 2024 (arXiv:2407.10965), used by DESI
DR2 (arXiv:2503.14744), the mass-dependent part of the neutrino energy density changes sign:
rho_nu(-m) = 2 rho_nu(0) - rho_nu(m) at every a. What is held fixed is whatever else is given:
omega_b, omega_c (CDM alone; neutrinos are never part of omch2) and H0 (or theta_MC).

The redshifts of last scattering (z*) and of the baryon drag (z_drag) need a recombination
calculation; numass takes them from a smooth fit calibrated on CAMB's own (recombination_fit.py),
and integrates the sound horizon itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import constants as sc
from scipy.optimize import brentq

from numass.errors import InputError, TheoryError
from numass.theory import neutrinos as nu
from numass.theory.recombination_fit import z_drag_fit, z_star_fit

C_KM_S = sc.c / 1e3
MPC_M = 3.0856775814913673e22
_RHO_CRIT_100 = 3 * (1e5 / MPC_M) ** 2 / (8 * np.pi * sc.G)  # kg/m^3 per h^2
_A_RAD = 4 * sc.Stefan_Boltzmann / sc.c  # J/m^3/K^4
_NU_PER_GAMMA = 7.0 / 8.0 * (4.0 / 11.0) ** (4.0 / 3.0)  # one neutrino species / photons


def omega_gamma(TCMB: float) -> float:
    """Omega_gamma h^2."""
    return _A_RAD * TCMB**4 / sc.c**2 / _RHO_CRIT_100


ALLOWED = ("H0", "cosmomc_theta", "ombh2", "omch2", "mnu", "nnu", "nu_states", "w", "wa", "TCMB",
           "omk", "YHe")
# grid in ln a for the integrals: 1e-9 to 1, fine enough for 1e-6 relative accuracy
_LNA = np.linspace(np.log(1e-9), 0.0, 6001)


@dataclass
class _Densities:
    """omega_i h^2 (physical densities) of each component, as functions of a."""

    ombh2: float
    omch2: float
    ogh2: float
    n_massless: float
    n_massive: int
    g: float
    m_state: float
    sign: float  # +1, or -1 for Sigma m_nu,eff < 0 (Elbers et al.)
    y0: float  # m_state / (k_B T_eff,0)
    w0: float
    wa: float
    odeh2: float = 0.0

    def massive_nu(self, a):
        """omega_nu h^2 (a) a^4 of the massive states, with the Sigma m_nu,eff sign extension."""
        if self.n_massive == 0:
            return np.zeros_like(np.asarray(a, dtype=float))
        rel = self.n_massive * self.g * _NU_PER_GAMMA * self.ogh2
        ratio = nu.rho_ratio(self.y0 * np.asarray(a, dtype=float))
        return rel * (1.0 + self.sign * (ratio - 1.0))

    def de(self, a):
        a = np.asarray(a, dtype=float)
        return self.odeh2 * a ** (-3 * (1 + self.w0 + self.wa)) * np.exp(-3 * self.wa * (1 - a))

    def h2(self, a):
        """H^2 / (100 km/s/Mpc)^2."""
        a = np.asarray(a, dtype=float)
        rad = self.ogh2 * (1.0 + _NU_PER_GAMMA * self.n_massless) + self.massive_nu(a)
        return (self.ombh2 + self.omch2) / a**3 + rad / a**4 + self.de(a)


def _densities(p: dict) -> _Densities:
    TCMB = float(p.get("TCMB", 2.7255))
    mnu = float(p.get("mnu", 0.06))
    nnu = float(p.get("nnu", nu.N_STD))
    nu_states = int(p.get("nu_states", 1))
    try:
        n_massive, g, m_state, n_massless = nu.massive_states(abs(mnu), nnu, nu_states)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    t_eff0 = g**0.25 * (4.0 / 11.0) ** (1.0 / 3.0) * TCMB if n_massive else 1.0
    return _Densities(ombh2=float(p["ombh2"]), omch2=float(p["omch2"]), ogh2=omega_gamma(TCMB),
                      n_massless=n_massless, n_massive=n_massive, g=g, m_state=m_state,
                      sign=-1.0 if mnu < 0 else 1.0, y0=m_state / (nu.KB_EV * t_eff0),
                      w0=float(p.get("w", -1.0)), wa=float(p.get("wa", 0.0)))


class BackgroundResult:
    """H(z), DM, DH, DV and the early-universe scales at one parameter point."""

    def __init__(self, dens: _Densities, h: float):
        self.h = h
        self._d = dens
        dens.odeh2 = h**2 - float(dens.h2(1.0))  # flatness today (odeh2 was 0 above)
        if dens.odeh2 <= 0:
            raise TheoryError(f"no room for dark energy: matter+radiation exceed the critical "
                             f"density for H0 = {100 * h:.2f}")
        a = np.exp(_LNA)
        hubble = 100.0 * np.sqrt(dens.h2(a))  # km/s/Mpc
        if not np.all(np.isfinite(hubble)) or np.any(hubble <= 0):
            raise TheoryError("H(z) is not positive over the history for these parameters")
        # comoving distance chi(a) = int_a^1 c da' / (a'^2 H); trapezoid in ln a, accumulated
        f = C_KM_S / (a * hubble)
        step = _LNA[1] - _LNA[0]
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * step)])
        self._chi_lna = cum[-1] - cum  # chi from a to today
        # sound horizon r_s(a) = int_0^a c_s da' / (a'^2 H)
        R = 0.75 * dens.ombh2 / dens.ogh2 * a
        fs = f / np.sqrt(3.0 * (1.0 + R))
        self._rs_lna = np.concatenate([[0.0], np.cumsum(0.5 * (fs[1:] + fs[:-1]) * step)])
        self._rs_lna += fs[0]  # the radiation era below a_min: r_s ~ a, int = value at a_min
        self.omnuh2 = self._omnuh2_today()
        self.omegam = (dens.ombh2 + dens.omch2 + self.omnuh2) / h**2
        zs, zd = self._recombination()
        self.zstar, self.zdrag = zs, zd
        self.rstar = self.rs(zs)
        self.rdrag = self.rs(zd)
        self.DM_star = float(self.DM(zs))
        self.theta_star = 100.0 * self.rstar / self.DM_star

    def _omnuh2_today(self) -> float:
        """Non-relativistic-equivalent omega_nu h^2 (as CAMB's omnuh2: the matter-like part)."""
        d = self._d
        if d.n_massive == 0:
            return 0.0
        # as CAMB's omnuh2 = Sigma m_nu / 94.07 * g^{3/4}: the non-relativistic limit
        rel = d.n_massive * d.g * _NU_PER_GAMMA * d.ogh2
        return d.sign * rel * nu.nr_density_per_relativistic(d.y0)

    def _recombination(self):
        d = self._d
        m_eff = d.sign * d.m_state * d.n_massive
        args = (d.ombh2, d.omch2)
        return z_star_fit(*args, m_eff), z_drag_fit(*args, m_eff)

    def _lna(self, z):
        return -np.log1p(np.asarray(z, dtype=float))

    def H(self, z):
        a = 1.0 / (1.0 + np.asarray(z, dtype=float))
        return 100.0 * np.sqrt(self._d.h2(a))

    def DM(self, z):
        return np.interp(self._lna(z), _LNA, self._chi_lna)

    def DH(self, z):
        return C_KM_S / self.H(z)

    def DV(self, z):
        z = np.asarray(z, dtype=float)
        return np.cbrt(z * self.DM(z) ** 2 * self.DH(z))

    def rs(self, z) -> float:
        return float(np.interp(self._lna(z), _LNA, self._rs_lna))


def _theta_mc(dens: _Densities, h: float) -> float:
    """CAMB's cosmomc_theta: Hu & Sugiyama's z* fit, the approximate sound speed
    R = 3e4 a omega_b, and the full H(a), as CAMB computes it (100 theta_MC / 100)."""
    ombh2, omdmh2 = dens.ombh2, dens.omch2 + _omnuh2_of(dens)
    zstar = 1048 * (1 + 0.00124 * ombh2**-0.738) * (
        1 + (0.0783 * ombh2**-0.238 / (1 + 39.5 * ombh2**0.763))
        * (omdmh2 + ombh2) ** (0.560 / (1 + 21.1 * ombh2**1.81)))
    astar = 1 / (1 + zstar)
    d = _Densities(**{**dens.__dict__})
    d.odeh2 = h**2 - float(d.h2(1.0))
    lna = np.linspace(np.log(1e-8), np.log(astar), 4001)
    a = np.exp(lna)
    hub = 100.0 * np.sqrt(d.h2(a))
    step = lna[1] - lna[0]
    fs = C_KM_S / (a * hub) / np.sqrt(3 * (1 + 3e4 * a * ombh2))
    rs = np.sum(0.5 * (fs[1:] + fs[:-1])) * step  # from a = 1e-8, as CAMB integrates
    lna_late = np.linspace(np.log(astar), 0.0, 4001)
    a2 = np.exp(lna_late)
    f2 = C_KM_S / (a2 * 100.0 * np.sqrt(d.h2(a2)))
    dm = np.sum(0.5 * (f2[1:] + f2[:-1])) * (lna_late[1] - lna_late[0])
    return rs / dm


def _omnuh2_of(d: _Densities) -> float:
    if d.n_massive == 0:
        return 0.0
    return d.sign * d.n_massive * d.g * _NU_PER_GAMMA * d.ogh2 * nu.nr_density_per_relativistic(d.y0)


def compute_background(params: dict) -> BackgroundResult:
    """The background at ``params`` (named as in CAMB; mnu < 0 is Sigma m_nu,eff < 0)."""
    unknown = set(params) - set(ALLOWED)
    if unknown:
        raise InputError(f"unknown background parameter(s) {sorted(unknown)}; allowed: "
                         f"{', '.join(ALLOWED)}")
    if float(params.get("omk", 0.0)) != 0.0:
        raise InputError("numass's background is flat only (omk = 0)")
    for key in ("ombh2", "omch2"):
        if key not in params:
            raise InputError(f"the background needs '{key}'")
        if not np.isfinite(float(params[key])) or float(params[key]) <= 0:
            raise InputError(f"'{key}' must be positive, got {params[key]}")
    if abs(float(params.get("nnu", nu.N_STD)) - nu.N_STD) > 1e-9:
        raise InputError("numass's own background (its z*, z_drag calibration) assumes "
                         f"nnu = {nu.N_STD}; use the camb backend to vary N_eff")
    dens = _densities(params)
    if "H0" in params and "cosmomc_theta" in params:
        raise InputError("give H0 or cosmomc_theta, not both")
    if "cosmomc_theta" in params:
        target = float(params["cosmomc_theta"])
        try:
            h = brentq(lambda hh: _theta_mc(dens, hh) - target, 0.2, 1.5, xtol=1e-10)
        except ValueError:
            raise TheoryError(f"no H0 in [20, 150] gives cosmomc_theta = {target}") from None
    elif "H0" in params:
        h = float(params["H0"]) / 100.0
    else:
        raise InputError("the background needs 'H0' or 'cosmomc_theta'")
    if not 0.1 < h < 2.0:
        raise TheoryError(f"H0 = {100 * h} km/s/Mpc is outside [10, 200]")
    return BackgroundResult(dens, h)


def mirror_background(params: dict) -> "MirroredBackground":
    """The observable-level mirror of DESIGN.md 2(b): X(-m) = 2 X(0) - X(m) for every X."""
    m = float(params.get("mnu", 0.0))
    if m >= 0:
        return compute_background(params)
    return MirroredBackground(compute_background({**params, "mnu": 0.0}),
                              compute_background({**params, "mnu": -m}))


class MirroredBackground:
    """2 b0 - b1 for every function and scalar of two backgrounds (any Background objects)."""

    def __init__(self, b0, b1):
        self._b0, self._b1 = b0, b1
        for name in ("rdrag", "theta_star", "zstar", "zdrag", "rstar", "DM_star", "omegam",
                     "omnuh2", "h"):
            if hasattr(b0, name) and hasattr(b1, name):  # scalars both backgrounds have
                setattr(self, name, 2 * getattr(b0, name) - getattr(b1, name))

    def H(self, z):
        return 2 * self._b0.H(z) - self._b1.H(z)

    def DM(self, z):
        return 2 * self._b0.DM(z) - self._b1.DM(z)

    def DH(self, z):
        return 2 * self._b0.DH(z) - self._b1.DH(z)

    def DV(self, z):
        return 2 * self._b0.DV(z) - self._b1.DV(z)
