"""numass's own background (theory/background.py) at n parameter points at once.

The same physics, grids and quadratures as the per-point code, with a leading axis of length n:
the densities are arrays (n,), H^2(a) on the shared ln a grids is (n, m), the distance and sound
horizon integrals are cumulative Simpson sums along the grid axis, and theta_MC -> H0 is solved
for all points together by Newton iterations on the same discretised theta_MC(h) (its exact
derivative on the grid), to |dh| < 1e-13 where the per-point brentq stops at 1e-10. Results
agree with the per-point code to rounding where the arithmetic is identical (tests/
test_theory_batch.py).

Dark energy: CPL w0, wa (``de="cpl"``) or the sign-switching Lambda of LsCDM (``de="lscdm"``,
theory/lscdm.py). A point whose parameters the per-point code would refuse, or where a solver
fails, gets ok = False (its rows hold NaN); nothing here raises for one point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numass.errors import InputError
from numass.theory import neutrinos as nu
from numass.theory.background import (LNA, NU_PER_GAMMA, C_KM_S, NNU_RANGE, omega_gamma)
from numass.theory.recombination_fit import fit_coefficients, design_matrix

# a point standing in for rows that failed, so that the arithmetic on them stays finite
SAFE_VALUES = {"ombh2": 0.0224, "omch2": 0.12, "mnu": 0.06, "nnu": nu.N_STD, "nu_states": 1.0,
         "w": -1.0, "wa": 0.0, "TCMB": 2.7255, "z_dagger": 2.0, "eta_lscdm": 10.0}
THETA_STEPS = 4001  # grid points of each cosmomc_theta integral (as background.theta_mc_of)
_NEWTON_TOL = 1e-8  # |dh| after which one more Newton step is exact to ~1e-14
_NEWTON_MAX = 30
_BLOCK = 16  # rows per block of the (rows, grid) arrays: keeps the temporaries in cache


@dataclass
class BatchDensities:
    """background.Densities with every field an array (n,); ``de_kind`` 'cpl' or 'lscdm'."""

    ombh2: np.ndarray
    omch2: np.ndarray
    ogh2: np.ndarray
    n_massless: np.ndarray
    rel: np.ndarray  # relativistic omega h^2 of all massive states (0 without any)
    sign: np.ndarray
    y0: np.ndarray
    m_eff: np.ndarray  # signed sum of the masses, as the z*, z_drag fit takes it
    nnu: np.ndarray
    w0: np.ndarray
    wa: np.ndarray
    z_dagger: np.ndarray
    eta: np.ndarray
    de_kind: str = "cpl"

    def massive_nu(self, lna: np.ndarray, ratio_of_log=None) -> np.ndarray:
        """omega_nu h^2 (a) a^4 of the massive states, (n, m) for ln a of shape (m,) or (n, m);
        ``ratio_of_log`` the density ratio as a function of ln y (default: rho_ratio_log)."""
        ratio = (ratio_of_log or rho_ratio_log)(np.log(np.maximum(self.y0, 1e-300))[:, None] + lna)
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
            zd, eta = self.z_dagger[:, None], self.eta[:, None]
            return np.tanh(eta * (zd - np.expm1(-lna))) / np.tanh(eta * zd)
        if np.all(self.w0 == -1.0) and np.all(self.wa == 0.0):  # Lambda: exactly 1
            return np.ones(np.broadcast_shapes(self.w0[:, None].shape, np.shape(lna)))
        w0, wa = self.w0[:, None], self.wa[:, None]
        return np.exp(-3 * (1 + w0 + wa) * lna - 3 * wa * (-np.expm1(lna)))

    def omnuh2(self) -> np.ndarray:
        """Matter-like omega_nu h^2 today (as background.BackgroundResult.omnuh2)."""
        return self.sign * self.rel * nu.nr_density_per_relativistic(self.y0)


def rho_ratio_log(logy: np.ndarray) -> np.ndarray:
    """neutrinos.rho_ratio at y = exp(logy) (the same table and interpolation), taking ln y so
    that a shared ln a grid needs no logarithm per element."""
    out = np.exp(np.interp(logy, nu.LOGY, nu.LOG_RATIO))
    low, high = logy < nu.LOGY[0], logy > nu.LOGY[-1]
    if low.any():
        out[low] = 1.0
    if high.any():
        out[high] = nu.NR_COEF * np.exp(logy[high])
    return out


def cumulative_simpson_rows(f: np.ndarray, dx: float) -> np.ndarray:
    """scipy.integrate.cumulative_simpson(f, dx=dx, initial=0, axis=-1) for an odd number of
    equally spaced points, the same interval formulas (each interval from the three points of
    its pair) without scipy's general-case overhead."""
    f0, f1, f2 = f[:, :-2:2], f[:, 1:-1:2], f[:, 2::2]
    c = dx / 3
    sub = np.empty((f.shape[0], f.shape[1] - 1))
    sub[:, 0::2] = c * (5 * f0 / 4 + 2 * f1 - f2 / 4)
    sub[:, 1::2] = c * (5 * f2 / 4 + 2 * f1 - f0 / 4)
    out = np.empty(f.shape)
    out[:, 0] = 0.0
    np.cumsum(sub, axis=1, out=out[:, 1:])
    return out


def _fill_safe(p: dict[str, np.ndarray], ok: np.ndarray) -> dict[str, np.ndarray]:
    """Parameters with the failed rows replaced by a harmless point."""
    return {k: np.where(ok, v, SAFE_VALUES.get(k, 0.0)) if k in SAFE_VALUES else v for k, v in p.items()}


def valid_rows(p: dict[str, np.ndarray], de: str = "cpl") -> np.ndarray:
    """bool (n,): rows the per-point background accepts (background._check_params, lscdm's)."""
    ok = np.ones(len(p["ombh2"]), dtype=bool)
    for v in p.values():
        ok &= np.isfinite(v)
    ok &= (p["ombh2"] > 0) & (p["omch2"] > 0)
    ok &= np.isin(p.get("nu_states", 1.0), (1.0, 3.0))
    nnu = p.get("nnu", nu.N_STD)
    if de == "lscdm":  # lscdm.compute_lscdm_background's checks
        ok &= np.abs(nnu - 3.044) <= 1e-9
        ok &= (p["z_dagger"] > 0) & (p.get("eta_lscdm", 10.0) > 0)
    else:
        ok &= (NNU_RANGE[0] <= nnu) & (nnu <= NNU_RANGE[1])
        ok &= np.abs(p.get("TCMB", 2.7255) - 2.7255) <= 1e-4
    return ok


def batch_densities(p: dict[str, np.ndarray], de: str = "cpl") -> BatchDensities:
    """The densities of valid rows (as background.densities_of; neutrinos.massive_states)."""
    n = len(p["ombh2"])
    full = {k: np.broadcast_to(np.asarray(p.get(k, v), dtype=float), (n,)) for k, v in SAFE_VALUES.items()}
    mnu, nnu, states = full["mnu"], full["nnu"], full["nu_states"]
    m_abs = np.abs(mnu)
    massive = m_abs != 0
    g = np.where(massive, np.minimum(nu.N_STD / 3.0, nnu / states), 0.0)
    n_massive = np.where(massive, states, 0.0)
    n_massless = np.where(massive, np.maximum(nnu - states * g, 0.0), nnu)
    m_state = np.where(massive, m_abs / states, 0.0)
    t_eff0 = np.where(massive, g**0.25 * (4.0 / 11.0) ** (1.0 / 3.0) * full["TCMB"], 1.0)
    ogh2 = omega_gamma(full["TCMB"])
    sign = np.where(mnu < 0, -1.0, 1.0)
    return BatchDensities(
        ombh2=full["ombh2"], omch2=full["omch2"], ogh2=ogh2, n_massless=n_massless,
        rel=n_massive * g * NU_PER_GAMMA * ogh2, sign=sign, y0=m_state / (nu.KB_EV * t_eff0),
        m_eff=sign * m_state * n_massive, nnu=nnu, w0=full["w"], wa=full["wa"],
        z_dagger=full["z_dagger"], eta=full["eta_lscdm"], de_kind=de)


def recombination_fit(name: str, ombh2, omch2, m, nnu) -> np.ndarray:
    """recombination_fit.z_star_fit / z_drag_fit for arrays, mirrored for m < 0."""
    coef = fit_coefficients()[name]
    at_abs = design_matrix(ombh2, omch2, np.abs(m), nnu) @ coef
    at_zero = design_matrix(ombh2, omch2, np.zeros_like(m), nnu) @ coef
    return np.where(m >= 0, at_abs, 2 * at_zero - at_abs)


def astar_mc(d: BatchDensities) -> np.ndarray:
    """Hu & Sugiyama's 1/(1 + z*) of cosmomc_theta (background.astar_mc), (n,)."""
    ombh2, omdmh2 = d.ombh2, d.omch2 + d.omnuh2()
    zstar = 1048 * (1 + 0.00124 * ombh2**-0.738) * (
        1 + (0.0783 * ombh2**-0.238 / (1 + 39.5 * ombh2**0.763))
        * (omdmh2 + ombh2) ** (0.560 / (1 + 21.1 * ombh2**1.81)))
    return 1 / (1 + zstar)


def _rule_weights(m: int, rule: str) -> np.ndarray:
    """Quadrature weights for unit spacing: Simpson (m odd) or trapezoid."""
    w = np.ones(m)
    if rule == "simpson":
        w[1:-1:2], w[2:-1:2] = 4.0, 2.0
        return w / 3.0
    w[[0, -1]] = 0.5
    return w


class ThetaMC:
    """CAMB's cosmomc_theta of n points as a function of h (background.theta_mc_of, and lscdm's
    with ``rule='trapezoid'``) for one block of rows: the parts of H^2 that do not depend on h
    are tabulated once, so each Newton iteration costs a square root and two dot products."""

    def __init__(self, d: BatchDensities, rule: str = "simpson"):
        lna_s = np.log(astar_mc(d))
        early = np.linspace(np.full_like(lna_s, np.log(1e-8)), lna_s, THETA_STEPS, axis=-1)
        late = np.linspace(lna_s, np.zeros_like(lna_s), THETA_STEPS, axis=-1)
        self.m1 = d.not_de(np.zeros(1))[:, 0]
        self.grids = []
        for lna, sound in ((early, True), (late, False)):
            pre = C_KM_S * np.exp(-lna) / 100.0
            if sound:
                pre = pre / np.sqrt(3 * (1 + 3e4 * np.exp(lna) * d.ombh2[:, None]))
            self.grids.append((d.not_de(lna), d.de_shape(lna), pre, lna[:, 1] - lna[:, 0]))
        self.w = _rule_weights(THETA_STEPS, rule)

    def __call__(self, h: np.ndarray, rows=slice(None), slope: bool = True):
        """(theta_MC, d theta_MC / dh) at h (one per row of ``rows``; the slope None unless
        asked for)."""
        odeh2 = (h**2 - self.m1[rows])[:, None]
        out = []
        for not_de, shape, pre, step in self.grids:
            inv_h2 = 1.0 / (not_de[rows] + odeh2 * shape[rows])
            f = pre[rows] * np.sqrt(inv_h2)
            df = (f * shape[rows] * inv_h2) @ self.w * (-h * step[rows]) if slope else None
            out.append((f @ self.w * step[rows], df))
        (rs, drs), (dm, ddm) = out
        return rs / dm, (drs * dm - rs * ddm) / dm**2 if slope else None


def theta_mc_batch(d: BatchDensities, h: np.ndarray, rule: str = "simpson") -> np.ndarray:
    """cosmomc_theta of every row at h (n,), block by block."""
    out = np.empty(len(h))
    for rows in _blocks(len(h)):
        out[rows] = ThetaMC(take_rows(d, rows), rule)(h[rows], slope=False)[0]
    return out


def solve_h(d: BatchDensities, target: np.ndarray, h_start: np.ndarray,
            h_range: tuple[float, float], rule: str = "simpson",
            theta_mc=None, block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """h with theta_MC(h) = target for every row (Newton, block by block); returns (h, solved),
    solved False where brentq on h_range would fail (no sign change, NaN at an end) or Newton
    did not converge. ``theta_mc``: the class computing theta_MC (default ThetaMC, the
    per-point grids; background_fast.FastThetaMC for Gauss-Legendre panels), ``block`` its
    rows per block."""
    theta_mc = theta_mc or ThetaMC
    h = np.clip(np.asarray(h_start, dtype=float).copy(), *h_range)
    solved = np.zeros(len(h), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for rows in _blocks(len(h), block):
            theta = theta_mc(take_rows(d, rows), rule)
            h[rows], solved[rows] = newton_rows(theta, target[rows], h[rows], h_range)
    return h, solved


def newton_rows(theta: ThetaMC, target: np.ndarray, h: np.ndarray, h_range: tuple[float, float]):
    lo, hi = h_range
    active = np.isfinite(h) & np.isfinite(target) & _bracketed(theta, target, h_range)
    done = np.zeros(len(h), dtype=bool)
    for _ in range(_NEWTON_MAX):
        idx = np.flatnonzero(active & ~done)
        if len(idx) == 0:
            break
        th, dth = theta(h[idx], idx)
        new = np.clip(h[idx] - (th - target[idx]) / dth, lo, hi)
        bad = ~np.isfinite(new)
        # quadratic convergence: a step below 1e-7 leaves an error ~1e-14
        done[idx[np.abs(new - h[idx]) < _NEWTON_TOL]] = True
        h[idx] = np.where(bad, np.nan, new)
        active[idx[bad]] = False
    return h, done & active & (h > lo) & (h < hi)


def _bracketed(theta: ThetaMC, target: np.ndarray, h_range: tuple[float, float]) -> np.ndarray:
    """Rows where brentq (the per-point solver) accepts the bracket: theta_MC finite at both
    ends and on opposite sides of the target (NaN at an end is a failure there too)."""
    n = len(target)
    f_lo = theta(np.full(n, h_range[0]), slope=False)[0] - target
    f_hi = theta(np.full(n, h_range[1]), slope=False)[0] - target
    return np.isfinite(f_lo) & np.isfinite(f_hi) & (f_lo * f_hi <= 0)


def _blocks(n: int, size: int | None = None):
    size = size or _BLOCK
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def hermite_rows(x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """background._hermite for n rows: x (m,) shared or (n, m) per row -> (n, m)."""
    step = LNA[1] - LNA[0]
    x = np.broadcast_to(x, (y.shape[0], np.shape(x)[-1]))
    i = np.clip(((x - LNA[0]) / step).astype(int), 0, len(LNA) - 2)
    t = (x - LNA[i]) / step
    h00, h10 = (1 + 2 * t) * (1 - t) ** 2, t * (1 - t) ** 2
    h01, h11 = t**2 * (3 - 2 * t), t**2 * (t - 1)
    take = np.take_along_axis
    return (h00 * take(y, i, 1) + h10 * step * take(dy, i, 1) + h01 * take(y, i + 1, 1)
            + h11 * step * take(dy, i + 1, 1))



class BatchDistances:
    """H, D_H, D_V of n points from ``h2_at(ln a)`` and ``DM(z)`` (each subclass's own), NaN
    where ``ok`` is False; r_s is kept at z* and z_drag only."""

    def H(self, z) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            out = 100.0 * np.sqrt(self.h2_at(-np.log1p(z_array(z))))
        return np.where(self.ok[:, None], out, np.nan)

    def DH(self, z) -> np.ndarray:
        return C_KM_S / self.H(z)

    def DV(self, z) -> np.ndarray:
        z = z_array(z)
        return np.cbrt(z * self.DM(z) ** 2 * self.DH(z))

    def rs(self, z) -> np.ndarray:
        """Not kept for arbitrary z: r_s at z* and z_drag are rstar and rdrag."""
        raise NotImplementedError("the batched background keeps r_s at z* and z_drag only")


class BatchBackground(BatchDistances):
    """H, DM, DH, DV (1-d z -> (n, nz)), rdrag, theta_star, zstar, zdrag, rstar, DM_star,
    omnuh2, omegam, h (all (n,)) of n points: background.BackgroundResult row by row, with
    ``ok`` False (and NaN) where the per-point code raises TheoryError."""

    def __init__(self, d: BatchDensities, h: np.ndarray, ok: np.ndarray):
        n = len(h)
        self.dens, self.h = d, np.where(ok, h, np.nan)
        h_safe = np.where(ok, h, 0.7)
        self.odeh2 = h_safe**2 - d.not_de(np.zeros(1))[:, 0]
        ok = ok & (self.odeh2 > 0)
        self.chi_grid = np.empty((n, len(LNA)))
        self.dchi_grid = np.empty((n, len(LNA)))
        self.omnuh2 = d.omnuh2()
        self.zstar = recombination_fit("zstar", d.ombh2, d.omch2, d.m_eff, d.nnu)
        self.zdrag = recombination_fit("zdrag", d.ombh2, d.omch2, d.m_eff, d.nnu)
        self.rstar, self.rdrag = np.empty(n), np.empty(n)
        with np.errstate(invalid="ignore", divide="ignore"):
            for rows in _blocks(n):
                ok[rows] &= self._integrate(rows)
        self.ok = ok
        self.omegam = (d.ombh2 + d.omch2 + self.omnuh2) / h_safe**2
        self.DM_star = self._rowwise(self.DM_at, self.zstar)
        self.theta_star = 100.0 * self.rstar / self.DM_star
        for name in ("omnuh2", "omegam", "zstar", "zdrag", "rstar", "rdrag", "DM_star",
                     "theta_star"):
            setattr(self, name, np.where(ok, getattr(self, name), np.nan))

    def h2_at(self, lna: np.ndarray) -> np.ndarray:
        return self.dens.not_de(lna) + self.odeh2[:, None] * self.dens.de_shape(lna)

    def _integrate(self, rows: slice) -> np.ndarray:
        """chi(a) and r_s(a) on the ln a grid for a block of rows (as BackgroundResult)."""
        d = take_rows(self.dens, rows)
        a = _A_GRID
        hubble = 100.0 * np.sqrt(d.not_de(LNA) + self.odeh2[rows, None] * d.de_shape(LNA))
        good = np.all(np.isfinite(hubble) & (hubble > 0), axis=1)
        hubble[~good] = 1.0
        f = C_KM_S / (a * hubble)
        step = LNA[1] - LNA[0]
        cum = cumulative_simpson_rows(f, step)
        self.chi_grid[rows] = cum[:, -1:] - cum
        self.dchi_grid[rows] = -f
        R = 0.75 * d.ombh2[:, None] / d.ogh2[:, None] * a
        fs = f / np.sqrt(3.0 * (1.0 + R))
        rs = cumulative_simpson_rows(fs, step)
        rs += fs[:, :1]
        lna_rec = -np.log1p(np.stack([self.zstar[rows], self.zdrag[rows]], axis=1))
        r = hermite_rows(lna_rec, rs, fs)
        self.rstar[rows], self.rdrag[rows] = r[:, 0], r[:, 1]
        return good

    def _rowwise(self, fn, z_per_row: np.ndarray) -> np.ndarray:
        return fn(-np.log1p(z_per_row)[:, None])[:, 0]

    def DM_at(self, lna: np.ndarray) -> np.ndarray:
        return hermite_rows(lna, self.chi_grid, self.dchi_grid)

    def DM(self, z) -> np.ndarray:
        out = self.DM_at(-np.log1p(z_array(z)))
        return np.where(self.ok[:, None], out, np.nan)


_A_GRID = np.exp(LNA)


def z_array(z) -> np.ndarray:
    return np.atleast_1d(np.asarray(z, dtype=float)).ravel()


def take_rows(d: BatchDensities, rows) -> BatchDensities:
    return BatchDensities(**{k: (v[rows] if isinstance(v, np.ndarray) else v)
                             for k, v in d.__dict__.items()})


ACCURACY = ("fast", "exact")


def compute_background_batch(p: dict[str, np.ndarray], de: str = "cpl",
                             h_range: tuple[float, float] = (0.2, 1.5),
                             h_start: np.ndarray | None = None, accuracy: str = "fast"):
    """The background at n points: ``p`` maps CAMB names (H0 or cosmomc_theta, ombh2, omch2,
    mnu of either sign, nnu, nu_states, w, wa, TCMB; z_dagger, eta_lscdm with de='lscdm') to
    arrays (n,). ``ok`` False where background.compute_background would raise.

    ``accuracy``: 'fast' (Gauss-Legendre panels, background_fast.py; within ~1e-8 of the
    per-point code, docs/batch.md) or 'exact' (the per-point grids: equal to rounding)."""
    from numass.theory import background_fast as fast

    check_accuracy(accuracy)
    ok = valid_rows(p, de)
    p = _fill_safe(p, ok)
    d = batch_densities(p, de)
    if "cosmomc_theta" in p:
        start = np.full(len(ok), 0.68) if h_start is None else h_start
        target = np.where(ok, p["cosmomc_theta"], np.nan)
        solve = fast.solve_h_fast if accuracy == "fast" else solve_h
        h, converged = solve(d, target, start, h_range, "simpson" if de == "cpl" else "trapezoid")
        ok &= converged
    else:
        h = p["H0"] / 100.0
    ok &= (h > 0.1) & (h < 2.0)
    result = fast.FastBackground if accuracy == "fast" else BatchBackground
    return result(d, np.where(ok, h, 0.7), ok)


def check_accuracy(accuracy: str) -> None:
    if accuracy not in ACCURACY:
        raise InputError(f"batch accuracy '{accuracy}': use one of {', '.join(ACCURACY)}")
