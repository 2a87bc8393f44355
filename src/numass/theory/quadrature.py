"""The background's two quadratures: where in ln a its integrals (chi, r_s, CAMB's cosmomc_theta)
are evaluated, for the same integrands.

- 'exact' (``GRID``): Simpson on fixed grids (6001 points in ln a from 1e-9 to 1 for chi and r_s,
  cubic Hermite in between; 4001 each side of a* for cosmomc_theta); the distance grids are kept
  for the late-time engines.
- 'fast' (``PANELS``): a few panels of 8 Gauss-Legendre nodes in ln a, edges where the integrand
  changes character; within ~1e-8 of 'exact', ~100x less arithmetic.

Why the panels are exact enough, the neutrino table's cell mean, and LsCDM's trapezoid rule
(its Euler-Maclaurin term added to the panels): docs/batch.md, "One background, two quadratures".
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from numass.errors import InputError
from numass.theory import neutrinos as nu
from numass.theory.densities import Densities, take_rows
from numass.theory.products import C_KM_S

# grid in ln a for chi and r_s (Simpson, cubic Hermite in between): 1e-9 to 1
LNA = np.linspace(np.log(1e-9), 0.0, 6001)
_A_GRID = np.exp(LNA)
THETA_STEPS = 4001  # grid points of each cosmomc_theta integral
_LNA_THETA = np.log(1e-8)  # lower end of cosmomc_theta's sound horizon (as CAMB)
_LNA_MIN = np.log(1e-9)  # lower end of the panels' r_s (as the grid's)

_GL8 = np.polynomial.legendre.leggauss(8)
# fixed panel edges in ln a: every ~1.5-3 in the radiation era (singularities ~pi away), every
# ~0.5-1 in the matter and dark-energy eras (singularities ~1 away, ~pi/3 at their equality)
EARLY_EDGES = (-18.0, -15.0, -12.5, -10.5, -9.0, -8.0)
LATE_EDGES = (-6.0, -5.0, -4.0, -3.0, -2.25, -1.5, -1.0, -0.5)
# LsCDM: edges at these multiples of the tanh's pole distance either side of the switch
_SWITCH_STEPS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
_FD_STEP = 1e-3  # central differences for the trapezoid's Euler-Maclaurin term


def blocks(n: int, size: int) -> list[slice]:
    """Rows in blocks: keeps the (rows, nodes) temporaries in cache."""
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def hermite_rows(x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation on the LNA grid from values y and exact derivatives dy
    (n, len(LNA)) at x (q,) shared or (n, q) per row -> (n, q): ~h^4 where linear would leave
    ~1e-5."""
    step = LNA[1] - LNA[0]
    x = np.broadcast_to(x, (y.shape[0], np.shape(x)[-1]))
    i = np.clip(((x - LNA[0]) / step).astype(int), 0, y.shape[1] - 2)
    t = (x - LNA[i]) / step
    h00, h10 = (1 + 2 * t) * (1 - t) ** 2, t * (1 - t) ** 2
    h01, h11 = t**2 * (3 - 2 * t), t**2 * (t - 1)
    take = np.take_along_axis
    return (h00 * take(y, i, 1) + h10 * step * take(dy, i, 1) + h01 * take(y, i + 1, 1)
            + h11 * step * take(dy, i + 1, 1))


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


def _rule_weights(m: int, rule: str) -> np.ndarray:
    """Quadrature weights for unit spacing: Simpson (m odd) or trapezoid."""
    w = np.ones(m)
    if rule == "simpson":
        w[1:-1:2], w[2:-1:2] = 4.0, 2.0
        return w / 3.0
    w[[0, -1]] = 0.5
    return w


def _theta_parts(d: Densities, x: np.ndarray, sound: bool, ratio_of_log=None) -> tuple:
    """What CAMB's cosmomc_theta integrates at ln a = x (n, m), 1/H aside: (H^2 without dark
    energy, the dark-energy shape, c / (100 a) [times the sound speed / c if ``sound``])."""
    pre = C_KM_S * np.exp(-x) / 100.0
    if sound:
        pre = pre / np.sqrt(3 * (1 + 3e4 * np.exp(x) * d.ombh2[:, None]))
    return d.not_de(x, ratio_of_log), d.de_shape(x), pre


class ThetaMC:
    """CAMB's cosmomc_theta of a block of rows as a function of h, on the fixed grids: the
    parts of H^2 that do not depend on h are tabulated once, so each Newton iteration costs a
    square root and two weighted sums. ``__call__``: (theta_MC, d theta_MC / dh or None)."""

    def __init__(self, d: Densities, rule: str = "simpson"):
        self.m1 = d.not_de(np.zeros(1))[:, 0]
        self.grids = self.tables(d, np.log(d.astar_mc()), rule)

    def tables(self, d: Densities, lna_s: np.ndarray, rule: str) -> list[tuple]:
        """(not_de, de_shape, prefactor, step) of the sound horizon's and D_M's grids."""
        early = np.linspace(np.full_like(lna_s, _LNA_THETA), lna_s, THETA_STEPS, axis=-1)
        late = np.linspace(lna_s, np.zeros_like(lna_s), THETA_STEPS, axis=-1)
        self.w = _rule_weights(THETA_STEPS, rule)
        return [(*_theta_parts(d, lna, sound), lna[:, 1] - lna[:, 0])
                for lna, sound in ((early, True), (late, False))]

    def sums(self, f: np.ndarray, g: np.ndarray | None, step, rows, h: np.ndarray) -> tuple:
        """(the integral of f, -h times that of g) over each row's grid."""
        return f @ self.w * step[rows], g @ self.w * (-h * step[rows]) if g is not None else None

    def integrals(self, h: np.ndarray, rows=slice(None), slope: bool = True) -> list[tuple]:
        """(integral, its h-derivative or None) over each of the grids at h."""
        odeh2 = (h**2 - self.m1[rows])[:, None]
        out = []
        for not_de, shape, pre, step in self.grids:
            inv_h2 = 1.0 / (not_de[rows] + odeh2 * shape[rows])
            f = pre[rows] * np.sqrt(inv_h2)
            out.append(self.sums(f, f * shape[rows] * inv_h2 if slope else None, step, rows, h))
        return out

    def __call__(self, h: np.ndarray, rows=slice(None), slope: bool = True):
        (rs, drs), (dm, ddm) = self.integrals(h, rows, slope)
        return rs / dm, (drs * dm - rs * ddm) / dm**2 if slope else None


class GridQuadrature:
    """'exact': Simpson on the fixed grids; keeps chi(ln a) and its derivative on LNA."""

    name, block, theta_mc = "exact", 16, ThetaMC

    def early(self, bg) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(r_s(z*), r_s(z_drag), D_M(z*), rows whose H is positive and finite)."""
        n = len(bg.h)
        bg.chi_grid, bg.dchi_grid = np.empty((n, len(LNA))), np.empty((n, len(LNA)))
        rstar, rdrag, good = np.empty(n), np.empty(n), np.empty(n, dtype=bool)
        for rows in blocks(n, self.block):
            d = take_rows(bg.dens, rows)
            hubble = 100.0 * np.sqrt(d.not_de(LNA) + bg.odeh2[rows, None] * d.de_shape(LNA))
            good[rows] = np.all(np.isfinite(hubble) & (hubble > 0), axis=1)
            hubble[~good[rows]] = 1.0
            f = C_KM_S / (_A_GRID * hubble)
            step = LNA[1] - LNA[0]
            cum = cumulative_simpson_rows(f, step)
            bg.chi_grid[rows] = cum[:, -1:] - cum
            bg.dchi_grid[rows] = -f
            R = 0.75 * d.ombh2[:, None] / d.ogh2[:, None] * _A_GRID
            fs = f / np.sqrt(3.0 * (1.0 + R))
            rs = cumulative_simpson_rows(fs, step)
            rs += fs[:, :1]  # the radiation era below a_min: r_s ~ a, int = value at a_min
            lna_rec = -np.log1p(np.stack([bg.zstar[rows], bg.zdrag[rows]], axis=1))
            r = hermite_rows(lna_rec, rs, fs)
            rstar[rows], rdrag[rows] = r[:, 0], r[:, 1]
        dm_star = self.DM_at(bg, -np.log1p(bg.zstar)[:, None])[:, 0]
        return rstar, rdrag, dm_star, good

    def DM_at(self, bg, lna: np.ndarray) -> np.ndarray:
        return hermite_rows(lna, bg.chi_grid, bg.dchi_grid)


def _cell_mean_table() -> CubicSpline:
    """A cubic spline through g_i + (g_{i+1} - 2 g_i + g_{i-1}) / 12, g = the neutrino table's
    ln(rho/rho_massless): the local mean of its linear interpolation (which exceeds a convex g by
    g'' (u - u_i)(u_{i+1} - u) / 2, mean g'' du^2 / 12), without the kinks every 0.0144 in ln y.
    The fine grids average the interpolation's periodic error out; a few Gauss-Legendre nodes
    would sample it (~2e-8 in r_s) instead."""
    g = nu.LOG_RATIO
    mean = g.copy()
    mean[1:-1] += (g[2:] - 2 * g[1:-1] + g[:-2]) / 12
    return CubicSpline(nu.LOGY, mean)


_CELL_MEAN = _cell_mean_table()


def rho_ratio_smooth(logy: np.ndarray) -> np.ndarray:
    """neutrinos.rho_ratio_log with the table's cell-mean spline in place of its linear
    interpolation: what the panels' integrands use (H(z) itself keeps the interpolation)."""
    return nu.rho_ratio_log(logy, lambda u: _CELL_MEAN(np.clip(u, nu.LOGY[0], nu.LOGY[-1])))


def _switch_edges(d: Densities) -> list[np.ndarray]:
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

    def __init__(self, ends: list[np.ndarray], fixed=()):
        n = len(ends[0])
        end_cols = np.column_stack([np.broadcast_to(e, (n,)) for e in ends])
        lo, hi = end_cols.min(axis=1, keepdims=True), end_cols.max(axis=1, keepdims=True)
        extra = [np.clip(np.broadcast_to(f, (n,))[:, None], lo, hi) for f in fixed]
        cols = np.concatenate([end_cols, *extra], axis=1)
        order = np.argsort(cols, axis=1, kind="stable")
        edges = np.take_along_axis(cols, order, axis=1)
        self.rank = np.argsort(order, axis=1)[:, :len(ends)]  # where each end went
        t, w = _GL8
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


class PanelThetaMC(ThetaMC):
    """ThetaMC on Gauss-Legendre nodes, their weights in the prefactor."""

    def tables(self, d: Densities, lna_s: np.ndarray, rule: str) -> list[tuple]:
        early = Panels([np.full_like(lna_s, _LNA_THETA), lna_s], EARLY_EDGES)
        late = Panels([lna_s, np.zeros_like(lna_s)], (*LATE_EDGES, *_switch_edges(d)))
        out = []
        for panels, lo, hi, sound in ((early, _LNA_THETA + 0 * lna_s, lna_s, True),
                                      (late, lna_s, 0 * lna_s, False)):
            x, w = panels.x, panels.w
            if rule == "trapezoid":  # the grid rule's own error, part of its definition
                xc, wc = _trapezoid_correction(lo, hi, THETA_STEPS)
                x, w = np.concatenate([x, xc], axis=1), np.concatenate([w, wc], axis=1)
            not_de, shape, pre = _theta_parts(d, x, sound, rho_ratio_smooth)
            out.append((not_de, shape, pre * w, None))
        return out

    def sums(self, f: np.ndarray, g: np.ndarray | None, step, rows, h: np.ndarray) -> tuple:
        return np.sum(f, axis=1), -h * np.sum(g, axis=1) if g is not None else None


class PanelDistance(PanelThetaMC):
    """D_M to ln a = ``lna_end`` (n,) of each row as a function of h, on the late panels: the
    interface of ThetaMC (h, rows, slope) -> (D_M, d D_M / dh or None) for a Newton solve."""

    def __init__(self, d: Densities, lna_end: np.ndarray):
        self.m1 = d.not_de(np.zeros(1))[:, 0]
        late = Panels([lna_end, np.zeros_like(lna_end)], (*LATE_EDGES, *_switch_edges(d)))
        not_de, shape, pre = _theta_parts(d, late.x, False, rho_ratio_smooth)
        self.grids = [(not_de, shape, pre * late.w, None)]

    def __call__(self, h: np.ndarray, rows=slice(None), slope: bool = True):
        return self.integrals(h, rows, slope)[0]


class PanelQuadrature:
    """'fast': Gauss-Legendre panels; D_M integrated at the redshifts asked for."""

    name, block, theta_mc = "fast", 128, PanelThetaMC

    def early(self, bg) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(r_s(z*), r_s(z_drag), D_M(z*), rows where all three are finite)."""
        n = len(bg.h)
        lna_rec = [-np.log1p(bg.zstar), -np.log1p(bg.zdrag)]
        r = self._integral(bg, [np.full(n, _LNA_MIN), *lna_rec], EARLY_EDGES, sound=True)
        f_min = self._integrand(bg, np.full((n, 1), _LNA_MIN), sound=True)[:, 0]
        rstar, rdrag = r[:, 1] + f_min, r[:, 2] + f_min  # + the tail below a_min
        dm_star = -self._integral(bg, [np.zeros(n), lna_rec[0]],
                                  (*LATE_EDGES, *_switch_edges(bg.dens)))[:, 1]
        return rstar, rdrag, dm_star, np.isfinite(rstar) & np.isfinite(rdrag) & np.isfinite(dm_star)

    def DM_at(self, bg, lna: np.ndarray) -> np.ndarray:
        n = len(bg.h)
        ends = [np.zeros(n), *np.broadcast_to(lna, (n, np.shape(lna)[-1])).T]
        return -self._integral(bg, ends, (*LATE_EDGES, *_switch_edges(bg.dens)))[:, 1:]

    def _integrand(self, bg, lna: np.ndarray, sound: bool = False, rows=slice(None)):
        """c / (a H) in Mpc per unit ln a, times the sound speed / c if ``sound``; (n, m)."""
        hubble = 100.0 * np.sqrt(bg.h2_at(lna, rows, rho_ratio_smooth))
        f = C_KM_S / (np.exp(lna) * hubble)
        if sound:
            d = bg.dens
            R = 0.75 * (d.ombh2 / d.ogh2)[rows, None] * np.exp(lna)
            f = f / np.sqrt(3.0 * (1.0 + R))
        return f

    def _integral(self, bg, ends: list[np.ndarray], fixed, sound: bool = False) -> np.ndarray:
        """Integrals of the integrand from ends[0] to each end, block by block: (n, len(ends))."""
        n = len(ends[0])
        out = np.empty((n, len(ends)))
        for rows in blocks(n, self.block):
            panels = Panels([np.broadcast_to(e, (n,))[rows] for e in ends],
                            [np.broadcast_to(f, (n,))[rows] for f in fixed])
            out[rows] = panels.cumulative(self._integrand(bg, panels.x, sound, rows))
        return out


GRID, PANELS = GridQuadrature(), PanelQuadrature()
QUADRATURES = {q.name: q for q in (PANELS, GRID)}


def quadrature_of(accuracy: str):
    """The quadrature named ``accuracy`` ('fast' or 'exact')."""
    if accuracy not in QUADRATURES:
        raise InputError(f"batch accuracy '{accuracy}': use one of {', '.join(QUADRATURES)}")
    return QUADRATURES[accuracy]
