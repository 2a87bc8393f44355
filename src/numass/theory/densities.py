"""The energy densities of numass's background, for n parameter points at once, and the checks
of what the background can honour.

Flat FLRW with photons, massless and massive neutrinos (Fermi-Dirac, CAMB's conventions, see
neutrinos.py), baryons, CDM and dark energy: CPL w(a) = w0 + wa (1 - a) (``de="cpl"``) or
LsCDM's Lambda that switches sign at z_dagger, Lambda(z) = Lambda_s0 tanh[eta (z_dagger - z)] /
tanh(eta z_dagger) (``de="lscdm"``, Akarsu et al. 2021, arXiv:2108.09239; smoothed form of
arXiv:2307.10899). The dark-energy density today follows from flatness (the background's h).

Sigma m_nu,eff < 0 (``mnu`` < 0), the definition of Elbers et al. 2024 (arXiv:2407.10965), used
by DESI DR2 (arXiv:2503.14744): the part of the massive neutrinos' energy density that depends on
the mass changes sign at every scale factor, rho_nu(a; -m) = 2 rho_nu(a; 0) - rho_nu(a; m), so
N_eff and the early universe are untouched and the late neutrinos add -|m|-like matter (omnuh2
< 0). omega_c is CDM alone: Omega_m = (omch2 + ombh2 + omnuh2)/h^2 moves with mnu.

Every field is an array (n,); functions of ln a return (n, m). A row that fails a check of
``row_checks`` is refused: the batch marks it ok = False, a single point raises InputError
with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import constants as sc

from numass.errors import InputError
from numass.theory import neutrinos as nu
from numass.theory.recombination_fit import redshift_fit

MPC_M = 3.0856775814913673e22
_RHO_CRIT_100 = 3 * (1e5 / MPC_M) ** 2 / (8 * np.pi * sc.G)  # kg/m^3 per h^2
_A_RAD = 4 * sc.Stefan_Boltzmann / sc.c  # J/m^3/K^4
NU_PER_GAMMA = 7.0 / 8.0 * (4.0 / 11.0) ** (4.0 / 3.0)  # one neutrino species / photons
NNU_RANGE = (2.5, 3.8)  # where the z*, z_drag fit is calibrated
# the background's parameters (CAMB names); LsCDM's have z_dagger, eta_lscdm instead of w, wa
ALLOWED = ("H0", "cosmomc_theta", "ombh2", "omch2", "mnu", "nnu", "nu_states", "w", "wa", "TCMB",
           "omk", "YHe")
LSCDM_ALLOWED = (*(k for k in ALLOWED if k not in ("w", "wa")), "z_dagger", "eta_lscdm")
# defaults of what a point may omit; also the point standing in for refused rows, so that the
# arithmetic on them stays finite
SAFE_VALUES = {"ombh2": 0.0224, "omch2": 0.12, "mnu": 0.06, "nnu": nu.N_STD, "nu_states": 1.0,
               "w": -1.0, "wa": 0.0, "TCMB": 2.7255, "z_dagger": 2.0, "eta_lscdm": 10.0}


def omega_gamma(TCMB):
    """Omega_gamma h^2."""
    return _A_RAD * TCMB**4 / sc.c**2 / _RHO_CRIT_100


@dataclass
class Densities:
    """omega_i h^2 of each component of n points; ``de_kind`` 'cpl' or 'lscdm'."""

    ombh2: np.ndarray
    omch2: np.ndarray
    ogh2: np.ndarray
    n_massless: np.ndarray
    n_massive: np.ndarray  # massive eigenstates (0 without any)
    rel: np.ndarray  # their relativistic omega h^2
    sign: np.ndarray  # +1, or -1 for Sigma m_nu,eff < 0
    y0: np.ndarray  # m_state / (k_B T_eff,0)
    m_eff: np.ndarray  # signed sum of the masses, as the z*, z_drag fit takes it
    nnu: np.ndarray
    w0: np.ndarray
    wa: np.ndarray
    z_dagger: np.ndarray
    eta: np.ndarray
    de_kind: str = "cpl"

    def massive_nu(self, lna: np.ndarray, ratio_of_log=None) -> np.ndarray:
        """omega_nu h^2 (a) a^4 of the massive states, (n, m) for ln a of shape (m,) or (n, m);
        ``ratio_of_log`` the density ratio as a function of ln y (default: the table's)."""
        ratio_of_log = ratio_of_log or nu.rho_ratio_log
        ratio = ratio_of_log(np.log(np.maximum(self.y0, 1e-300))[:, None] + lna)
        return self.rel[:, None] * (1.0 + self.sign[:, None] * (ratio - 1.0))

    def not_de(self, lna: np.ndarray, ratio_of_log=None) -> np.ndarray:
        """H^2 / (100 km/s/Mpc)^2 without dark energy, (n, m), at ln a."""
        inv_a3 = np.exp(-3.0 * lna)
        rad = ((self.ogh2 * (1.0 + NU_PER_GAMMA * self.n_massless))[:, None]
               + self.massive_nu(lna, ratio_of_log))
        return inv_a3 * ((self.ombh2 + self.omch2)[:, None] + rad * np.exp(-lna))

    def de_shape(self, lna: np.ndarray) -> np.ndarray:
        """rho_DE(a) / rho_DE(1), (n, m), at ln a."""
        if self.de_kind == "lscdm":
            return lambda_shape(np.expm1(-lna), self.z_dagger[:, None], self.eta[:, None])
        if np.all(self.w0 == -1.0) and np.all(self.wa == 0.0):  # Lambda: exactly 1
            return np.ones(np.broadcast_shapes(self.w0[:, None].shape, np.shape(lna)))
        w0, wa = self.w0[:, None], self.wa[:, None]
        return np.exp(-3 * (1 + w0 + wa) * lna - 3 * wa * (-np.expm1(lna)))

    def omnuh2(self) -> np.ndarray:
        """Matter-like omega_nu h^2 today, as CAMB's omnuh2: the relativistic density times
        the non-relativistic limit of the density ratio, NR_COEF y0."""
        return self.sign * self.rel * (nu.NR_COEF * self.y0)

    def recombination(self) -> tuple[np.ndarray, np.ndarray]:
        """(z*, z_drag) from the fit calibrated on CAMB's recombination (recombination_fit.py)."""
        args = (self.ombh2, self.omch2, self.m_eff, self.nnu)
        return redshift_fit("zstar", *args), redshift_fit("zdrag", *args)

    def astar_mc(self) -> np.ndarray:
        """1 / (1 + z*) of cosmomc_theta: Hu & Sugiyama's z* fit, as CAMB."""
        ombh2, omdmh2 = self.ombh2, self.omch2 + self.omnuh2()
        zstar = 1048 * (1 + 0.00124 * ombh2**-0.738) * (
            1 + (0.0783 * ombh2**-0.238 / (1 + 39.5 * ombh2**0.763))
            * (omdmh2 + ombh2) ** (0.560 / (1 + 21.1 * ombh2**1.81)))
        return 1 / (1 + zstar)


def lambda_shape(z, z_dagger, eta=10.0):
    """LsCDM's Λ(z) / Λ_s0 = tanh[η(z† − z)] / tanh(η z†)."""
    z = np.asarray(z, dtype=float)
    return np.tanh(eta * (z_dagger - z)) / np.tanh(eta * z_dagger)


def batch_densities(p: dict[str, np.ndarray], de: str = "cpl") -> Densities:
    """The densities of arrays (n,) of CAMB-named parameters. Neutrinos as CAMB's set_cosmology:
    each massive state carries N_std/3 of N_eff, unless nnu is too small for that, in which case
    the massive states share all of nnu (and none is left massless)."""
    n = len(p["ombh2"])
    full = {k: np.broadcast_to(np.asarray(p.get(k, v), dtype=float), (n,))
            for k, v in SAFE_VALUES.items()}
    mnu, nnu, states = full["mnu"], full["nnu"], full["nu_states"]
    massive = mnu != 0
    g = np.where(massive, np.minimum(nu.N_STD / 3.0, nnu / states), 0.0)
    n_massive = np.where(massive, states, 0.0)
    n_massless = np.where(massive, np.maximum(nnu - states * g, 0.0), nnu)
    m_state = np.where(massive, np.abs(mnu) / states, 0.0)
    t_eff0 = np.where(massive, g**0.25 * (4.0 / 11.0) ** (1.0 / 3.0) * full["TCMB"], 1.0)
    ogh2 = omega_gamma(full["TCMB"])
    sign = np.where(mnu < 0, -1.0, 1.0)
    return Densities(
        ombh2=full["ombh2"], omch2=full["omch2"], ogh2=ogh2, n_massless=n_massless,
        n_massive=n_massive, rel=n_massive * g * NU_PER_GAMMA * ogh2, sign=sign, y0=m_state / (nu.KB_EV * t_eff0),
        m_eff=sign * m_state * n_massive, nnu=nnu, w0=full["w"], wa=full["wa"],
        z_dagger=full["z_dagger"], eta=full["eta_lscdm"], de_kind=de)


def take_rows(d: Densities, rows) -> Densities:
    return Densities(**{k: (v[rows] if isinstance(v, np.ndarray) else v)
                        for k, v in d.__dict__.items()})


def check_names(names, de: str = "cpl") -> None:
    """InputError for a parameter set the background cannot take at all (whole batch)."""
    allowed = LSCDM_ALLOWED if de == "lscdm" else ALLOWED
    unknown = set(names) - set(allowed)
    if unknown:
        what = "ΛsCDM background" if de == "lscdm" else "background"
        raise InputError(f"unknown {what} parameter(s) {sorted(unknown)}; allowed: "
                         f"{', '.join(allowed)}")
    for key in ("ombh2", "omch2"):
        if key not in names:
            raise InputError(f"the background needs '{key}'")
    if de == "lscdm" and "z_dagger" not in names:
        raise InputError("the ΛsCDM background needs 'z_dagger' (the redshift of the sign switch)")
    if "H0" in names and "cosmomc_theta" in names:
        raise InputError("give H0 or cosmomc_theta, not both")
    if "H0" not in names and "cosmomc_theta" not in names:
        raise InputError("the background needs 'H0' or 'cosmomc_theta'")


def row_checks(p: dict[str, np.ndarray], de: str = "cpl") -> list[tuple[np.ndarray, str]]:
    """Every value check, as (bool (n,): rows that pass, why a row fails): the one list the
    batch turns into ok and a single point into InputError."""
    n = len(p["ombh2"])
    nnu = p.get("nnu", nu.N_STD)
    out = [(np.isfinite(v), f"background parameter '{k}' must be a finite number")
           for k, v in p.items()]
    out += [(p[k] > 0, f"'{k}' must be positive") for k in ("ombh2", "omch2")]
    out.append((np.isin(p.get("nu_states", 1.0), (1.0, 3.0)),
                "nu_states must be 1 (CAMB default: one massive eigenstate) or 3 (degenerate)"))
    if "omk" in p:
        out.append((p["omk"] == 0.0, "numass's background is flat only (omk = 0)"))
    if "YHe" in p:
        out.append((np.zeros(n, dtype=bool), ("numass's own background uses CAMB's BBN-consistent "
                    "helium fraction (its z*, z_drag fit); leave YHe unset or use the camb "
                    "backend")))
    if de == "lscdm":
        out += [(np.abs(nnu - 3.044) <= 1e-9, "numass's ΛsCDM background assumes nnu = 3.044"),
                (p["z_dagger"] > 0, "'z_dagger' must be a positive number"),
                (p.get("eta_lscdm", 10.0) > 0, "'eta_lscdm' must be a positive number")]
        return out
    out.append(((NNU_RANGE[0] <= nnu) & (nnu <= NNU_RANGE[1]),
                (f"nnu is outside [{NNU_RANGE[0]}, {NNU_RANGE[1]}], where numass's z*, z_drag "
                 f"fit is calibrated; use the camb backend")))
    out.append((np.abs(p.get("TCMB", 2.7255) - 2.7255) <= 1e-4, ("numass's own background is "
                "calibrated at TCMB = 2.7255 K; use the camb backend for another CMB temperature")))
    return out


def valid_rows(p: dict[str, np.ndarray], de: str = "cpl") -> np.ndarray:
    """bool (n,): rows that pass every value check."""
    ok = np.ones(len(p["ombh2"]), dtype=bool)
    for passed, _ in row_checks(p, de):
        ok &= passed
    return ok
