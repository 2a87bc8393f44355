"""The batched background with far less arithmetic per point: Gauss-Legendre panels in ln a.

Same physics and definitions as theory/background.py (and background_batch.py, the exact batched
path): the same densities, the same neutrino density table (evaluated only at the quadrature
nodes; H(z) with the same interpolation), the same z*, z_drag fits, the same r_s convention (integral from
a = 1e-9 plus the radiation-era tail below it), the same cosmomc_theta definition. Only the
quadrature differs: instead of 6001 + 8002 grid points a point, each integral is a sum over a
few panels of Gauss-Legendre nodes in ln a, with panel edges where the integrand changes
character (the redshifts asked for, z*, z_drag, the sign switch of LsCDM's Lambda). The
integrands are smooth in ln a (their nearest complex singularities sit ~1 away, ~pi/3 at dark
energy-matter equality), so 8 nodes a panel of width <= 1-2.5 are exact to ~1e-12, once the
neutrino table's linear interpolation (kinks every 0.0144 in ln y, which a few nodes would
sample rather than average) is replaced in the integrands by its cell mean (rho_ratio_smooth).
docs/batch.md gives the measured agreement with the per-point code.

LsCDM's per-point cosmomc_theta uses the trapezoid rule on 4001 points, whose error (~1e-6) is
part of its definition: it is added here as the Euler-Maclaurin term s^2/12 (f'(b) - f'(a)),
with f' by central differences written as four extra weighted nodes.
"""
from __future__ import annotations

import numpy as np

from scipy.interpolate import CubicSpline

from numass.theory import neutrinos as nu
from numass.theory.background import C_KM_S
from numass.theory.background_batch import (THETA_STEPS, BatchDensities, BatchDistances,
                                            astar_mc, recombination_fit,
                                            solve_h, take_rows, z_array)

_GL8 = np.polynomial.legendre.leggauss(8)
_LNA_MIN = np.log(1e-9)  # lower end of r_s (as the per-point ln a grid)
_LNA_THETA = np.log(1e-8)  # lower end of cosmomc_theta's sound horizon (as CAMB)
# fixed panel edges in ln a: every ~1.5-3 in the radiation era (singularities ~pi away), every
# ~0.5-1 in the matter and dark-energy eras (singularities ~1 away, ~pi/3 at their equality)
EARLY_EDGES = (-18.0, -15.0, -12.5, -10.5, -9.0, -8.0)
LATE_EDGES = (-6.0, -5.0, -4.0, -3.0, -2.25, -1.5, -1.0, -0.5)
# LsCDM: edges at these multiples of the tanh's pole distance either side of the switch
_SWITCH_STEPS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
_FD_STEP = 1e-3  # central differences for the trapezoid's Euler-Maclaurin term
_BLOCK = 128


def _cell_mean_table() -> CubicSpline:
    """A cubic spline through g_i + (g_{i+1} - 2 g_i + g_{i-1}) / 12, g = the neutrino table's
    ln(rho/rho_massless): the local mean of its linear interpolation (which exceeds a convex g by
    g'' (u - u_i)(u_{i+1} - u) / 2, mean g'' du^2 / 12), without the kinks every 0.0144 in ln y.
    The per-point code's fine grids average the interpolation's periodic error out; a few
    Gauss-Legendre nodes would sample it (~2e-8 in r_s) instead."""
    g = nu.LOG_RATIO
    mean = g.copy()
    mean[1:-1] += (g[2:] - 2 * g[1:-1] + g[:-2]) / 12
    return CubicSpline(nu.LOGY, mean)


_CELL_MEAN = _cell_mean_table()


def rho_ratio_smooth(logy: np.ndarray) -> np.ndarray:
    """background_batch.rho_ratio_log with the table's cell-mean spline in place of its linear
    interpolation: what the integrands use (H(z) itself keeps the per-point interpolation)."""
    out = np.exp(_CELL_MEAN(np.clip(logy, nu.LOGY[0], nu.LOGY[-1])))
    low, high = logy < nu.LOGY[0], logy > nu.LOGY[-1]
    if low.any():
        out[low] = 1.0
    if high.any():
        out[high] = nu.NR_COEF * np.exp(logy[high])
    return out


def _switch_edges(d: BatchDensities) -> list[np.ndarray]:
    """ln a edges graded around LsCDM's sign switch (none for CPL dark energy)."""
    if d.de_kind != "lscdm":
        return []
    centre = -np.log1p(d.z_dagger)
    pole = np.pi / (2 * d.eta * (1 + d.z_dagger))  # tanh's poles, imaginary distance in ln a
    return [centre + s * pole for s in _SWITCH_STEPS] + [
        centre - s * pole for s in _SWITCH_STEPS[1:]]


class Panels:
    """Gauss-Legendre nodes (n, m) and weights of the panels between per-row points.

    ``ends`` are columns (n,) of ln a; ``fixed`` more edges (scalars or (n,)) that are kept only
    inside each row's span of ``ends``. ``cumulative(values)`` returns the integral from the first
    end to each end (signed, (n, len(ends))) of a function given at the nodes."""

    def __init__(self, ends: list[np.ndarray], fixed=(), rule=_GL8):
        n = len(ends[0])
        ends = np.column_stack([np.broadcast_to(e, (n,)) for e in ends])
        lo, hi = ends.min(axis=1, keepdims=True), ends.max(axis=1, keepdims=True)
        extra = [np.clip(np.broadcast_to(f, (n,))[:, None], lo, hi) for f in fixed]
        cols = np.concatenate([ends, *extra], axis=1)
        order = np.argsort(cols, axis=1, kind="stable")
        edges = np.take_along_axis(cols, order, axis=1)
        self.rank = np.argsort(order, axis=1)[:, :ends.shape[1]]  # where each end went
        t, w = rule
        mid = 0.5 * (edges[:, 1:] + edges[:, :-1])
        half = 0.5 * (edges[:, 1:] - edges[:, :-1])
        self.shape = (n, edges.shape[1] - 1, len(t))
        self.x = (mid[:, :, None] + half[:, :, None] * t).reshape(n, -1)
        self.w = (half[:, :, None] * w).reshape(n, -1)

    def cumulative(self, values: np.ndarray) -> np.ndarray:
        per_panel = (values * self.w).reshape(self.shape).sum(axis=2)
        cum = np.zeros((per_panel.shape[0], per_panel.shape[1] + 1))
        np.cumsum(per_panel, axis=1, out=cum[:, 1:])
        at = np.take_along_axis(cum, self.rank, axis=1)
        return at - at[:, :1]


def _trapezoid_correction(lo: np.ndarray, hi: np.ndarray, steps: int):
    """Nodes (n, 4) and weights giving s^2/12 (f'(hi) - f'(lo)), s = (hi - lo)/(steps - 1)."""
    c = ((hi - lo) / (steps - 1)) ** 2 / 12 / (2 * _FD_STEP)
    x = np.column_stack([hi + _FD_STEP, hi - _FD_STEP, lo + _FD_STEP, lo - _FD_STEP])
    return x, np.column_stack([c, -c, -c, c])


class FastThetaMC:
    """cosmomc_theta(h) of a block of rows on Gauss-Legendre nodes; the same call signature as
    background_batch.ThetaMC, so the same bracket check and Newton iterations drive it."""

    def __init__(self, d: BatchDensities, rule: str = "simpson"):
        lna_s = np.log(astar_mc(d))
        switch = _switch_edges(d)
        early = Panels([np.full_like(lna_s, _LNA_THETA), lna_s], EARLY_EDGES)
        late = Panels([lna_s, np.zeros_like(lna_s)], (*LATE_EDGES, *switch))
        self.m1 = d.not_de(np.zeros(1))[:, 0]
        self.grids = []
        for panels, lo, hi, sound in ((early, _LNA_THETA + 0 * lna_s, lna_s, True),
                                      (late, lna_s, 0 * lna_s, False)):
            x, w = panels.x, panels.w
            if rule == "trapezoid":  # the per-point rule's own error, part of its definition
                xc, wc = _trapezoid_correction(lo, hi, THETA_STEPS)
                x, w = np.concatenate([x, xc], axis=1), np.concatenate([w, wc], axis=1)
            pre = C_KM_S * np.exp(-x) / 100.0
            if sound:
                pre = pre / np.sqrt(3 * (1 + 3e4 * np.exp(x) * d.ombh2[:, None]))
            self.grids.append((d.not_de(x, rho_ratio_smooth), d.de_shape(x), pre * w))

    def __call__(self, h: np.ndarray, rows=slice(None), slope: bool = True):
        odeh2 = (h**2 - self.m1[rows])[:, None]
        out = []
        for not_de, shape, pre_w in self.grids:
            inv_h2 = 1.0 / (not_de[rows] + odeh2 * shape[rows])
            f = pre_w[rows] * np.sqrt(inv_h2)
            df = -h * np.sum(f * shape[rows] * inv_h2, axis=1) if slope else None
            out.append((np.sum(f, axis=1), df))
        (rs, drs), (dm, ddm) = out
        return rs / dm, (drs * dm - rs * ddm) / dm**2 if slope else None


def _blocks(n: int):
    return [slice(i, min(i + _BLOCK, n)) for i in range(0, n, _BLOCK)]


def theta_mc_fast(d: BatchDensities, h: np.ndarray, rule: str = "simpson") -> np.ndarray:
    """cosmomc_theta of every row at h (n,)."""
    out = np.empty(len(h))
    with np.errstate(invalid="ignore", divide="ignore"):
        for rows in _blocks(len(h)):
            out[rows] = FastThetaMC(take_rows(d, rows), rule)(h[rows], slope=False)[0]
    return out


def solve_h_fast(d: BatchDensities, target: np.ndarray, h_start: np.ndarray,
                 h_range: tuple[float, float], rule: str = "simpson"):
    """background_batch.solve_h on the Gauss-Legendre cosmomc_theta: (h, solved)."""
    return solve_h(d, target, h_start, h_range, rule, theta_mc=FastThetaMC, block=_BLOCK)


class FastBackground(BatchDistances):
    """background_batch.BatchBackground's interface (H, DM, DH, DV of a 1-d z -> (n, nz); rdrag,
    theta_star, zstar, zdrag, rstar, DM_star, omnuh2, omegam, h: (n,)) on Gauss-Legendre panels.
    D_M at the redshifts asked for is integrated when asked (panels split at them), and kept."""

    def __init__(self, d: BatchDensities, h: np.ndarray, ok: np.ndarray):
        self.dens, self.h = d, np.where(ok, h, np.nan)
        h_safe = np.where(ok, h, 0.7)
        self.odeh2 = h_safe**2 - d.not_de(np.zeros(1))[:, 0]
        ok = ok & (self.odeh2 > 0)
        self.omnuh2 = d.omnuh2()
        self.zstar = recombination_fit("zstar", d.ombh2, d.omch2, d.m_eff, d.nnu)
        self.zdrag = recombination_fit("zdrag", d.ombh2, d.omch2, d.m_eff, d.nnu)
        self._cache: dict[bytes, np.ndarray] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            lna_rec = [-np.log1p(self.zstar), -np.log1p(self.zdrag)]
            r = self._integral([np.full(len(h), _LNA_MIN), *lna_rec], EARLY_EDGES, sound=True)
            f_min = self._integrand(np.full((len(h), 1), _LNA_MIN), sound=True)[:, 0]
            self.rstar, self.rdrag = r[:, 1] + f_min, r[:, 2] + f_min  # + the tail below a_min
            self.DM_star = -self._integral([np.zeros(len(h)), lna_rec[0]],
                                           (*LATE_EDGES, *_switch_edges(d)))[:, 1]
        ok &= np.isfinite(self.rstar) & np.isfinite(self.rdrag) & np.isfinite(self.DM_star)
        self.ok = ok
        self.omegam = (d.ombh2 + d.omch2 + self.omnuh2) / h_safe**2
        self.theta_star = 100.0 * self.rstar / self.DM_star
        for name in ("omnuh2", "omegam", "zstar", "zdrag", "rstar", "rdrag", "DM_star",
                     "theta_star"):
            setattr(self, name, np.where(ok, getattr(self, name), np.nan))

    def h2_at(self, lna: np.ndarray, rows=slice(None), ratio_of_log=None) -> np.ndarray:
        d = self.dens if rows == slice(None) else take_rows(self.dens, rows)
        return d.not_de(lna, ratio_of_log) + self.odeh2[rows, None] * d.de_shape(lna)

    def _integrand(self, lna: np.ndarray, sound: bool = False, rows=slice(None)) -> np.ndarray:
        """c / (a H) in Mpc per unit ln a, times the sound speed / c if ``sound``; (n, m)."""
        hubble = 100.0 * np.sqrt(self.h2_at(lna, rows, rho_ratio_smooth))
        f = C_KM_S / (np.exp(lna) * hubble)
        if sound:
            d = self.dens
            R = 0.75 * (d.ombh2 / d.ogh2)[rows, None] * np.exp(lna)
            f = f / np.sqrt(3.0 * (1.0 + R))
        return f

    def _integral(self, ends: list[np.ndarray], fixed, sound: bool = False) -> np.ndarray:
        """Integrals of the integrand from ends[0] to each end, block by block: (n, len(ends))."""
        n = len(ends[0])
        out = np.empty((n, len(ends)))
        for rows in _blocks(n):
            panels = Panels([np.broadcast_to(e, (n,))[rows] for e in ends],
                            [np.broadcast_to(f, (n,))[rows] for f in fixed])
            out[rows] = panels.cumulative(self._integrand(panels.x, sound, rows))
        return out

    def _chi(self, z: np.ndarray) -> np.ndarray:
        key = z.tobytes()
        if key not in self._cache:
            n = len(self.h)
            ends = [np.zeros(n), *(np.full(n, x) for x in -np.log1p(z))]
            d = self.dens
            with np.errstate(invalid="ignore", divide="ignore"):
                chi = -self._integral(ends, (*LATE_EDGES, *_switch_edges(d)))[:, 1:]
            self._cache[key] = np.where(self.ok[:, None], chi, np.nan)
        return self._cache[key]

    def DM(self, z) -> np.ndarray:
        return self._chi(z_array(z)).copy()
