"""numass's own background cosmology: H(z), distances, sound horizons, theta_*.

Flat FLRW with photons, massless and massive neutrinos (Fermi-Dirac, CAMB's conventions, see
neutrinos.py), baryons, CDM and CPL dark energy w(a) = w0 + wa (1 - a), Omega_DE fixed by
flatness today. Parameters are named as in CAMB (H0 or cosmomc_theta, ombh2, omch2, mnu, nnu,
nu_states, w, wa, TCMB). Against CAMB 2.0.5 (tests/test_background.py): H, D_M, D_H, D_V to
~1e-10; r_d and theta_* to ~2e-6 with one massive state (CAMB's own sound-horizon integral sits
2e-6 from the exact one) and < 7e-5 with three degenerate states (the z* fit is calibrated on
one); H0 from cosmomc_theta to ~1e-5.

Sigma m_nu,eff < 0 (``mnu`` < 0), the definition of Elbers et al. 2024 (arXiv:2407.10965), used
by DESI DR2 (arXiv:2503.14744): the part of the massive neutrinos' energy density that depends on
the mass changes sign, at every scale factor:

    rho_nu(a; -m) = 2 rho_nu(a; 0) - rho_nu(a; m),

where rho_nu(a; 0) is the same states' density were they massless (so N_eff and the early,
relativistic universe are untouched, and at late times the neutrinos add -|m|-like matter,
omnuh2 < 0). Held fixed while mnu varies, on either side of 0: omega_b = ombh2, omega_c = omch2
(CDM alone; the neutrinos are never part of omch2, so Omega_m = (omch2 + ombh2 + omnuh2)/h^2
moves with mnu) and either H0 or cosmomc_theta (whichever is given; Omega_DE then follows from
flatness). z* and z_drag are mirrored, z(-m) = 2 z(0) - z(m) (recombination_fit.py), which is
the same sign flip to first order in m. ``mirror_background`` is the other extension, the
observable-level mirror X(-m) = 2 X(0) - X(m) (docs/physics.md); the two agree to first order
in m and differ by up to 1.2e-5 (H), 1.8e-5 (D_M), 2.4e-5 (D_V), 1.1e-5 (theta_*), 1e-7 (r_d)
at -0.1 eV, and ~10x that at -0.3 eV (tests/test_background.py measures it).

The redshifts of last scattering (z*) and of the baryon drag (z_drag) need a recombination
calculation; numass takes them from a smooth fit calibrated on CAMB's own (recombination_fit.py,
helium from BBN consistency as CAMB's default, T_CMB = 2.7255 K), and integrates the sound
horizon itself.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import constants as sc
from scipy.integrate import cumulative_simpson, simpson
from scipy.optimize import brentq

from numass.errors import InputError, TheoryError
from numass.theory import neutrinos as nu
from numass.theory.effective_mass import (BACKGROUND_SCALARS,
                                          MirroredBackground as _MirroredBackground)
from numass.theory.recombination_fit import z_drag_fit, z_star_fit

C_KM_S = sc.c / 1e3
MPC_M = 3.0856775814913673e22
_RHO_CRIT_100 = 3 * (1e5 / MPC_M) ** 2 / (8 * np.pi * sc.G)  # kg/m^3 per h^2
_A_RAD = 4 * sc.Stefan_Boltzmann / sc.c  # J/m^3/K^4
NU_PER_GAMMA = 7.0 / 8.0 * (4.0 / 11.0) ** (4.0 / 3.0)  # one neutrino species / photons


def omega_gamma(TCMB: float) -> float:
    """Omega_gamma h^2."""
    return _A_RAD * TCMB**4 / sc.c**2 / _RHO_CRIT_100


ALLOWED = ("H0", "cosmomc_theta", "ombh2", "omch2", "mnu", "nnu", "nu_states", "w", "wa", "TCMB",
           "omk", "YHe")
# grid in ln a for the integrals (Simpson, cubic Hermite in between): 1e-9 to 1, ~1e-9 relative
LNA = np.linspace(np.log(1e-9), 0.0, 6001)


@dataclass
class Densities:
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
    nnu: float = nu.N_STD

    def massive_nu(self, a):
        """omega_nu h^2 (a) a^4 of the massive states, with the Sigma m_nu,eff sign extension."""
        if self.n_massive == 0:
            return np.zeros_like(np.asarray(a, dtype=float))
        rel = self.n_massive * self.g * NU_PER_GAMMA * self.ogh2
        ratio = nu.rho_ratio(self.y0 * np.asarray(a, dtype=float))
        return rel * (1.0 + self.sign * (ratio - 1.0))

    def de(self, a):
        a = np.asarray(a, dtype=float)
        return self.odeh2 * a ** (-3 * (1 + self.w0 + self.wa)) * np.exp(-3 * self.wa * (1 - a))

    def h2(self, a):
        """H^2 / (100 km/s/Mpc)^2."""
        a = np.asarray(a, dtype=float)
        rad = self.ogh2 * (1.0 + NU_PER_GAMMA * self.n_massless) + self.massive_nu(a)
        return (self.ombh2 + self.omch2) / a**3 + rad / a**4 + self.de(a)


def densities_of(p: dict) -> Densities:
    TCMB = float(p.get("TCMB", 2.7255))
    mnu = float(p.get("mnu", 0.06))
    nnu = float(p.get("nnu", nu.N_STD))
    nu_states = p.get("nu_states", 1)
    if nu_states not in (1, 3):
        raise InputError(f"nu_states must be 1 (CAMB default: one massive eigenstate) or 3 "
                         f"(degenerate), got {nu_states!r}")
    nu_states = int(nu_states)
    try:
        n_massive, g, m_state, n_massless = nu.massive_states(abs(mnu), nnu, nu_states)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    t_eff0 = g**0.25 * (4.0 / 11.0) ** (1.0 / 3.0) * TCMB if n_massive else 1.0
    return Densities(ombh2=float(p["ombh2"]), omch2=float(p["omch2"]), ogh2=omega_gamma(TCMB),
                      n_massless=n_massless, n_massive=n_massive, g=g, m_state=m_state,
                      sign=-1.0 if mnu < 0 else 1.0, y0=m_state / (nu.KB_EV * t_eff0),
                      w0=float(p.get("w", -1.0)), wa=float(p.get("wa", 0.0)), nnu=nnu)


def _hermite(x, y: np.ndarray, dy: np.ndarray):
    """Cubic Hermite interpolation on the LNA grid from values and exact derivatives (the
    integrands), accurate to ~h^4 where linear interpolation would leave ~1e-5 at low z."""
    x = np.asarray(x, dtype=float)
    step = LNA[1] - LNA[0]
    i = np.clip(((x - LNA[0]) / step).astype(int), 0, len(LNA) - 2)
    t = (x - LNA[i]) / step
    h00, h10 = (1 + 2 * t) * (1 - t) ** 2, t * (1 - t) ** 2
    h01, h11 = t**2 * (3 - 2 * t), t**2 * (t - 1)
    return h00 * y[i] + h10 * step * dy[i] + h01 * y[i + 1] + h11 * step * dy[i + 1]


class BackgroundResult:
    """H(z), DM, DH, DV and the early-universe scales at one parameter point."""

    def __init__(self, dens: Densities, h: float):
        self.h = h
        self.dens = dens
        dens.odeh2 = h**2 - float(dens.h2(1.0))  # flatness today (odeh2 was 0 above)
        if dens.odeh2 <= 0:
            raise TheoryError(f"no room for dark energy: matter+radiation exceed the critical "
                             f"density for H0 = {100 * h:.2f}")
        a = np.exp(LNA)
        hubble = 100.0 * np.sqrt(dens.h2(a))  # km/s/Mpc
        if not np.all(np.isfinite(hubble)) or np.any(hubble <= 0):
            raise TheoryError("H(z) is not positive over the history for these parameters")
        # comoving distance chi(a) = int_a^1 c da' / (a'^2 H); trapezoid in ln a, accumulated
        f = C_KM_S / (a * hubble)
        step = LNA[1] - LNA[0]
        cum = cumulative_simpson(f, dx=step, initial=0.0)
        self._chi_lna = cum[-1] - cum  # chi from a to today
        self._dchi_lna = -f
        # sound horizon r_s(a) = int_0^a c_s da' / (a'^2 H)
        R = 0.75 * dens.ombh2 / dens.ogh2 * a
        fs = f / np.sqrt(3.0 * (1.0 + R))
        self._rs_lna = cumulative_simpson(fs, dx=step, initial=0.0)
        self._rs_lna += fs[0]  # the radiation era below a_min: r_s ~ a, int = value at a_min
        self._drs_lna = fs
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
        d = self.dens
        if d.n_massive == 0:
            return 0.0
        # as CAMB's omnuh2 = Sigma m_nu / 94.07 * g^{3/4}: the non-relativistic limit
        rel = d.n_massive * d.g * NU_PER_GAMMA * d.ogh2
        return d.sign * rel * nu.nr_density_per_relativistic(d.y0)

    def _recombination(self):
        d = self.dens
        m_eff = d.sign * d.m_state * d.n_massive
        args = (d.ombh2, d.omch2, m_eff, d.nnu)
        return z_star_fit(*args), z_drag_fit(*args)

    def _lna(self, z):
        return -np.log1p(np.asarray(z, dtype=float))

    def H(self, z):
        a = 1.0 / (1.0 + np.asarray(z, dtype=float))
        return 100.0 * np.sqrt(self.dens.h2(a))

    def DM(self, z):
        return _hermite(self._lna(z), self._chi_lna, self._dchi_lna)

    def DH(self, z):
        return C_KM_S / self.H(z)

    def DV(self, z):
        z = np.asarray(z, dtype=float)
        return np.cbrt(z * self.DM(z) ** 2 * self.DH(z))

    def rs(self, z) -> float:
        return float(_hermite(self._lna(z), self._rs_lna, self._drs_lna))


def theta_mc_of(dens: Densities, h: float, rule: str = "simpson") -> float:
    """CAMB's cosmomc_theta: Hu & Sugiyama's z* fit, the approximate sound speed
    R = 3e4 a omega_b, and the full H(a), as CAMB computes it (100 theta_MC / 100), on 4001
    points in ln a each side of a*. ``rule``: 'simpson', or 'trapezoid' (what ΛsCDM's sharp
    sign switch of Λ is integrated with, lscdm.py)."""
    ombh2 = dens.ombh2
    astar = astar_mc(dens)
    d = dataclasses.replace(dens, odeh2=0.0)
    d.odeh2 = h**2 - float(d.h2(1.0))
    lna = np.linspace(np.log(1e-8), np.log(astar), 4001)  # from a = 1e-8, as CAMB integrates
    a = np.exp(lna)
    fs = C_KM_S / (a * 100.0 * np.sqrt(d.h2(a))) / np.sqrt(3 * (1 + 3e4 * a * ombh2))
    lna_late = np.linspace(np.log(astar), 0.0, 4001)
    a2 = np.exp(lna_late)
    f2 = C_KM_S / (a2 * 100.0 * np.sqrt(d.h2(a2)))
    return _integral(fs, lna[1] - lna[0], rule) / _integral(f2, lna_late[1] - lna_late[0], rule)


def _integral(f: np.ndarray, step: float, rule: str) -> float:
    if rule == "simpson":
        return simpson(f, dx=step)
    return np.sum(0.5 * (f[1:] + f[:-1])) * step


def astar_mc(dens: Densities) -> float:
    """1 / (1 + z*) of cosmomc_theta: Hu & Sugiyama's z* fit, as CAMB."""
    ombh2, omdmh2 = dens.ombh2, dens.omch2 + _omnuh2_of(dens)
    zstar = 1048 * (1 + 0.00124 * ombh2**-0.738) * (
        1 + (0.0783 * ombh2**-0.238 / (1 + 39.5 * ombh2**0.763))
        * (omdmh2 + ombh2) ** (0.560 / (1 + 21.1 * ombh2**1.81)))
    return 1 / (1 + zstar)


def _omnuh2_of(d: Densities) -> float:
    if d.n_massive == 0:
        return 0.0
    return d.sign * d.n_massive * d.g * NU_PER_GAMMA * d.ogh2 * nu.nr_density_per_relativistic(d.y0)


NNU_RANGE = (2.5, 3.8)  # where the z*, z_drag fit is calibrated


def _check_params(params: dict) -> None:
    """InputError for anything numass's background cannot honour (names, values, ranges)."""
    unknown = set(params) - set(ALLOWED)
    if unknown:
        raise InputError(f"unknown background parameter(s) {sorted(unknown)}; allowed: "
                         f"{', '.join(ALLOWED)}")
    for key, value in params.items():
        if key == "nu_states" or value is None:
            continue
        try:
            ok = np.isfinite(float(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"background parameter '{key}' must be a finite number, got {value!r}")
    if float(params.get("omk", 0.0)) != 0.0:
        raise InputError("numass's background is flat only (omk = 0)")
    for key in ("ombh2", "omch2"):
        if key not in params:
            raise InputError(f"the background needs '{key}'")
        if float(params[key]) <= 0:
            raise InputError(f"'{key}' must be positive, got {params[key]}")
    nnu = float(params.get("nnu", nu.N_STD))
    if not NNU_RANGE[0] <= nnu <= NNU_RANGE[1]:
        raise InputError(f"nnu = {nnu} is outside [{NNU_RANGE[0]}, {NNU_RANGE[1]}], where numass's "
                         f"z*, z_drag fit is calibrated; use the camb backend")
    if params.get("YHe") is not None:
        raise InputError("numass's own background uses CAMB's BBN-consistent helium fraction (its "
                         "z*, z_drag fit); leave YHe unset or use the camb backend")
    if abs(float(params.get("TCMB", 2.7255)) - 2.7255) > 1e-4:
        raise InputError("numass's own background is calibrated at TCMB = 2.7255 K; use the camb "
                         "backend for another CMB temperature")
    if params.get("H0") is not None and params.get("cosmomc_theta") is not None:
        raise InputError("give H0 or cosmomc_theta, not both")


def compute_background(params: dict) -> BackgroundResult:
    """The background at ``params`` (named as in CAMB; mnu < 0 is Sigma m_nu,eff < 0)."""
    _check_params(params)
    params = {k: v for k, v in params.items() if v is not None}
    dens = densities_of(params)
    return BackgroundResult(dens, h_from_params(params, theta_mc_of, dens))


def h_from_params(params: dict, theta_mc, dens, h_range=(0.2, 1.5), where: str = "") -> float:
    """h = H0/100: from 'cosmomc_theta' (the root of theta_mc(dens, h) = it in ``h_range``;
    ``where`` ends the no-root message), else from 'H0'; TheoryError outside H0 in (10, 200)."""
    if "cosmomc_theta" in params:
        target = float(params["cosmomc_theta"])
        lo, hi = h_range
        try:
            h = brentq(lambda hh: theta_mc(dens, hh) - target, lo, hi, xtol=1e-10)
        except ValueError:
            raise TheoryError(f"no H0 in [{100 * lo:g}, {100 * hi:g}] gives cosmomc_theta = "
                              f"{target}{where}") from None
    elif "H0" in params:
        h = float(params["H0"]) / 100.0
    else:
        raise InputError("the background needs 'H0' or 'cosmomc_theta'")
    if not 0.1 < h < 2.0:
        raise TheoryError(f"H0 = {100 * h} km/s/Mpc is outside [10, 200]")
    return h


def mirror_background(params: dict) -> "MirroredBackground":
    """The observable-level mirror (docs/physics.md): X(-m) = 2 X(0) - X(m) for every X."""
    m = float(params.get("mnu", 0.0))
    if m >= 0:
        return compute_background(params)
    return MirroredBackground(compute_background({**params, "mnu": 0.0}),
                              compute_background({**params, "mnu": -m}))


class MirroredBackground(_MirroredBackground):
    """2 b0 - b1 for every function and scalar of two backgrounds (any Background objects):
    effective_mass.MirroredBackground, mirroring the own background's other scalars too."""

    scalars = (*BACKGROUND_SCALARS, "rstar", "DM_star", "omegam", "omnuh2", "h")


def theta_mc_at(params: dict, h: float) -> float:
    """CAMB's cosmomc_theta of ``params`` (densities; H0/theta ignored) at H0 = 100 h."""
    _check_params({k: v for k, v in params.items() if k not in ("H0", "cosmomc_theta")})
    dens = densities_of({k: v for k, v in params.items() if v is not None and k != "cosmomc_theta"})
    return theta_mc_of(dens, h)
