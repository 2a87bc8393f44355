"""numass's own background cosmology: H(z), distances, sound horizons, theta_*, for n points.

The physics is densities.py's, the integrals quadrature.py's ('exact' or 'fast'); z* and z_drag
come from a fit calibrated on CAMB's recombination (recombination_fit.py), the sound horizon is
integrated here, and theta_MC -> H0 is solved for all points together by Newton on the
quadrature's own theta_MC(h) and its exact derivative (|dh| ~ 1e-13). Against CAMB 2.0.5
(tests/test_background.py): H, distances ~1e-10; r_d, theta_* ~2e-6 (< 7e-5 with three
degenerate states); H0 from cosmomc_theta ~1e-5. docs/physics.md, docs/batch.md.

One implementation: ``compute_background_batch`` (arrays (n,) in, ``BackgroundRows`` out, ok =
False where a point cannot be computed); ``compute_background`` is a batch of one that raises
instead (InputError for what the background cannot honour, TheoryError for a point without a
solution).
"""
from __future__ import annotations

import copy

import numpy as np

from numass.errors import InputError, TheoryError
from numass.theory.batch import RowBackground
from numass.theory.densities import (
    SAFE_VALUES,
    Densities,
    batch_densities,
    check_names,
    lambda_shape,
    row_checks,
    take_rows,
    valid_rows,
)
from numass.theory.effective_mass import BACKGROUND_SCALARS
from numass.theory.products import Distances
from numass.theory.quadrature import GRID, blocks, quadrature_of

_NEWTON_TOL = 1e-8  # |dh| after which one more Newton step is exact to ~1e-14
_NEWTON_MAX = 30
H_RANGE = {"cpl": (0.2, 1.5), "lscdm": (0.3, 1.5)}  # where theta_MC -> h is looked for


def theta_mc(d: Densities, h: np.ndarray, rule: str = "simpson",
             accuracy: str = "exact") -> np.ndarray:
    """CAMB's cosmomc_theta of every row at h (n,)."""
    quad = quadrature_of(accuracy)
    out = np.empty(len(h))
    with np.errstate(invalid="ignore", divide="ignore"):
        for rows in blocks(len(h), quad.block):
            out[rows] = quad.theta_mc(take_rows(d, rows), rule)(h[rows], slope=False)[0]
    return out


def solve_h(d: Densities, target: np.ndarray, h_start: np.ndarray,
            h_range: tuple[float, float], rule: str = "simpson",
            accuracy: str = "exact") -> tuple[np.ndarray, np.ndarray]:
    """h with theta_MC(h) = target for every row (Newton, block by block); returns (h, solved),
    solved False where theta_MC - target has no sign change on h_range (or is NaN at an end)
    or Newton did not converge."""
    quad = quadrature_of(accuracy)
    h = np.clip(np.asarray(h_start, dtype=float).copy(), *h_range)
    solved = np.zeros(len(h), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for rows in blocks(len(h), quad.block):
            theta = quad.theta_mc(take_rows(d, rows), rule)
            h[rows], solved[rows] = newton_rows(theta, target[rows], h[rows], h_range)
    return h, solved


def newton_rows(theta, target: np.ndarray, h: np.ndarray, h_range: tuple[float, float]):
    """h with theta(h) = target per row, by Newton from h inside h_range; ``theta(h, rows,
    slope)`` -> (value, d value / dh) as ThetaMC. Returns (h, solved): solved False where
    theta - target has no sign change on h_range (or is NaN at an end) or Newton did not
    converge."""
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


def _bracketed(theta, target: np.ndarray, h_range: tuple[float, float]) -> np.ndarray:
    """Rows with theta_MC finite at both ends of h_range and on opposite sides of the target."""
    n = len(target)
    f_lo = theta(np.full(n, h_range[0]), slope=False)[0] - target
    f_hi = theta(np.full(n, h_range[1]), slope=False)[0] - target
    return np.isfinite(f_lo) & np.isfinite(f_hi) & (f_lo * f_hi <= 0)


def z_array(z) -> np.ndarray:
    return np.atleast_1d(np.asarray(z, dtype=float)).ravel()


class BackgroundRows(Distances):
    """The background of n points: H, DM, DH, DV (1-d z -> (n, nz)); rdrag, theta_star, zstar,
    zdrag, rstar, DM_star, omnuh2, omegam, h (all (n,)); ``ok`` False (and NaN) where a point
    has no background (no room for dark energy, H^2 <= 0 somewhere, a failed integral).
    ``accuracy`` names the quadrature; DM_at(ln a) and h2_at(ln a) give (n, m) per row."""

    def __init__(self, d: Densities, h: np.ndarray, ok: np.ndarray, accuracy: str = "exact"):
        self.quadrature = quadrature_of(accuracy)
        self.dens, self.h = d, np.where(ok, h, np.nan)
        self.h_given = h  # H0/100 or theta_MC's solution (NaN: none), even where not ok
        h_safe = np.where(ok, h, 0.7)
        self.odeh2 = h_safe**2 - d.not_de(np.zeros(1))[:, 0]  # flatness today
        ok = ok & (self.odeh2 > 0)
        self.omnuh2 = d.omnuh2()
        self.zstar, self.zdrag = d.recombination()
        self._dm: dict[bytes, np.ndarray] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            self.rstar, self.rdrag, self.DM_star, good = self.quadrature.early(self)
        self.ok = ok = ok & good
        self.omegam = (d.ombh2 + d.omch2 + self.omnuh2) / h_safe**2
        self.theta_star = 100.0 * self.rstar / self.DM_star
        for name in ("omnuh2", "omegam", "zstar", "zdrag", "rstar", "rdrag", "DM_star",
                     "theta_star"):
            setattr(self, name, np.where(ok, getattr(self, name), np.nan))

    def take(self, idx: np.ndarray) -> BackgroundRows:
        """Rows ``idx`` (sorted, unique) of this background, as they are (nothing recomputed)."""
        if len(idx) == len(self.h):
            return self
        out = copy.copy(self)
        out.dens, out._dm = take_rows(self.dens, idx), {}
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray) and value.shape[:1] == self.h.shape:
                setattr(out, name, value[idx])
        return out

    def h2_at(self, lna: np.ndarray, rows=slice(None), ratio_of_log=None) -> np.ndarray:
        """H^2 / (100 km/s/Mpc)^2 of ``rows`` at ln a."""
        d = self.dens if rows == slice(None) else take_rows(self.dens, rows)
        return d.not_de(lna, ratio_of_log) + self.odeh2[rows, None] * d.de_shape(lna)

    def DM_at(self, lna: np.ndarray) -> np.ndarray:
        return self.quadrature.DM_at(self, lna)

    def H(self, z) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            out = 100.0 * np.sqrt(self.h2_at(-np.log1p(z_array(z))))
        return np.where(self.ok[:, None], out, np.nan)

    def DM(self, z) -> np.ndarray:
        z = z_array(z)
        key = z.tobytes()
        if key not in self._dm:
            if len(self._dm) >= 16:  # a long-lived background asked at ever new redshifts
                self._dm.clear()
            with np.errstate(invalid="ignore", divide="ignore"):
                out = self.DM_at(-np.log1p(z))
            self._dm[key] = np.where(self.ok[:, None], out, np.nan)
        return self._dm[key].copy()


def compute_background_batch(p: dict[str, np.ndarray], de: str = "cpl",
                             accuracy: str = "fast",
                             theta_accuracy: str | None = None) -> BackgroundRows:
    """The background at n points: ``p`` maps CAMB names to arrays (n,) (densities.ALLOWED;
    LSCDM_ALLOWED with de='lscdm'); InputError for names the background cannot take, ok =
    False for the rows it cannot compute. ``accuracy``: the quadrature, 'fast' (within ~1e-8
    of 'exact', docs/batch.md) or 'exact'; ``theta_accuracy`` that of the cosmomc_theta -> H0
    solve (default: the same; the late-time engines solve on 'fast', ~10x cheaper, and keep the
    'exact' distance grids they read)."""
    quadrature_of(accuracy)
    check_names(p, de)
    ok = valid_rows(p, de)
    p = {k: np.where(ok, v, SAFE_VALUES[k]) if k in SAFE_VALUES else v for k, v in p.items()}
    d = batch_densities(p, de)
    if "cosmomc_theta" in p:
        target = np.where(ok, p["cosmomc_theta"], np.nan)
        h, converged = solve_h(d, target, np.full(len(ok), 0.68), H_RANGE[de],
                               "simpson" if de == "cpl" else "trapezoid",
                               theta_accuracy or accuracy)
        h = np.where(converged, h, np.nan)
    else:
        h = p["H0"] / 100.0
    ok &= (h > 0.1) & (h < 2.0)
    return BackgroundRows(d, h, ok, accuracy)


# ---------------------------------------------------------------------------------------------
# one point: a batch of one
# ---------------------------------------------------------------------------------------------
def _point_arrays(params: dict, de: str = "cpl") -> dict:
    """A point's parameters (None values dropped) as arrays (1,); InputError naming the first
    check the point fails."""
    params = {k: v for k, v in params.items() if v is not None}
    check_names(params, de)
    p = {}
    for k, v in params.items():
        try:
            p[k] = np.array([float(v)])
        except (TypeError, ValueError):
            raise InputError(f"background parameter '{k}' must be a finite number, got "
                             f"{v!r}") from None
    with np.errstate(invalid="ignore"):
        for passed, why in row_checks(p, de):
            if not np.all(passed):
                raise InputError(f"{why} (at {params})")
    return p


class BackgroundPoint(RowBackground):
    """compute_background's result: the background of one point (row 0 of a batch of one,
    ``rows``), with its scalars as floats."""

    def __init__(self, rows: BackgroundRows):
        super().__init__(rows, 0)
        self.rows = rows
        self.h, self.omegam, self.omnuh2 = (float(v[0]) for v in (rows.h, rows.omegam,
                                                                   rows.omnuh2))
        self.zstar, self.zdrag = float(rows.zstar[0]), float(rows.zdrag[0])
        self.rstar, self.DM_star = float(rows.rstar[0]), float(rows.DM_star[0])
        if rows.dens.de_kind == "lscdm":
            self.z_dagger, self.eta = float(rows.dens.z_dagger[0]), float(rows.dens.eta[0])
            self.omega_lambda_s0 = float(rows.odeh2[0]) / self.h**2

    def Lambda_ratio(self, z):
        """LsCDM's Λ(z) / Λ_s0."""
        return lambda_shape(z, self.z_dagger, self.eta)


def compute_background(params: dict, de: str = "cpl") -> BackgroundPoint:
    """The background at ``params`` (CAMB names; mnu < 0 is Sigma m_nu,eff < 0; de='lscdm' for
    LsCDM's sign-switching Λ, with z_dagger and eta_lscdm): the exact quadrature."""
    rows = compute_background_batch(_point_arrays(params, de), de, accuracy=GRID.name)
    if not rows.ok[0]:
        raise TheoryError(f"no background at {params}: {_why_no_background(rows, de)}")
    return BackgroundPoint(rows)


def _why_no_background(rows: BackgroundRows, de: str) -> str:
    """Why a point that passed the input checks has no background."""
    h = rows.h_given[0]
    if not np.isfinite(h):
        lo, hi = H_RANGE[de]
        return f"no H0 in [{100 * lo:g}, {100 * hi:g}] gives this cosmomc_theta"
    if not 0.1 < h < 2.0:
        return f"H0 = {100 * h:g} km/s/Mpc is outside [10, 200]"
    if h**2 <= rows.dens.not_de(np.zeros(1))[0, 0]:
        return (f"no room for dark energy: matter and radiation exceed the critical density at "
                f"H0 = {100 * h:.2f}")
    return "H(z) is not positive and finite over the history"


def background_derived(bg) -> dict:
    """H0, Ω_m and the recombination scalars of a background: arrays (n,) of BackgroundRows,
    floats of a BackgroundPoint."""
    return {"H0": bg.h * 100, "omegam": bg.omegam,
            **{k: getattr(bg, k) for k in BACKGROUND_SCALARS}}


def theta_mc_at(params: dict, h: float) -> float:
    """CAMB's cosmomc_theta of ``params`` (densities; H0/theta ignored) at H0 = 100 h."""
    p = _point_arrays({**{k: v for k, v in params.items() if k not in ("H0", "cosmomc_theta")},
                      "H0": 100.0 * h})
    return float(theta_mc(batch_densities(p), np.array([h]))[0])
