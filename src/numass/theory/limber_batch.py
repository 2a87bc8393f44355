"""Growth factors and Limber integrals of the late-time engines, for n points at once.

``growth_rows``: the scale-independent linear growth D(z) of CDM+baryons by fixed-step RK4 in
ln a from a = 0.01, the points on a second axis. ``Nodes``: the Limber integrals' redshift nodes,
C_L^κκ = ∫ dχ [3/2 Ω_m H0² (1+z) χ (χ* − χ)/χ*]² P((L+½)/χ, z) / χ². ``carried_growth``: both,
for the rows any engine (CAMB or emulated) carries from reference to target. ``exact_power``: a
CAMB P(k, z) spline at every (node, L), the CAMB engine's integrals. ``LimberTable``: the emulated
engines' integrals over the fiducial P(k, z), tabulated once on the fiducial nodes and on a
grid of offsets w = ln χ − ln χ̄ (quadratic in w, first order in the nodes' offset in
ln(1 + z)): an integral is a sparse matrix times the table (docs/batch.md; agreement with
fitpack in tests/test_latetime_batch.py). Points whose w leaves the table go through fitpack.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import sparse
from scipy.interpolate import CubicSpline

from numass.theory.products import C_KM_S
from numass.theory.quadrature import blocks
from numass.theory.reference import K_EXTRAP, Z_PK

A_GROWTH_INIT = 1e-2  # growth starts in matter domination, where target and reference agree
# RK4 steps in ln a from a = 0.01: 400 keep D(z) within 1.5e-7 of 1200 steps on ΛsCDM
# histories with the sharpest switch (eta = 10 at z† = 1.5, 2.5, 6), far inside the engines'
# 1e-3 error against CAMB, at a third of the cost (the growth was ~30% of an emulated ΛsCDM point)
GROWTH_STEPS = 400
Z_MIN = 1e-3  # the Limber integrals' first node (below it the lensing kernel is negligible)
NZ = 300  # redshift nodes of the emulated engines' Limber integrals (one dropped at z*)
# the L of the emulated engines' Limber ratio (a coarser grid than the CAMB engine's 90 L: the
# ratio is smooth in L)
L_GRID = np.unique(np.geomspace(2, 3000, 40).astype(int))
_W_RANGE = (-0.3, 0.3)  # ln χ offsets the table covers (H0 from ~50 to ~90 at low z)
_DW = 0.004
_DW_S = 0.03  # ln S is smooth in k: a coarser grid for the free-streaming tables
_BLOCK = 16  # rows per block of the per-element products
_SPLINE_BLOCK = 64  # rows per block of the growth's splines


def rk4_growth(fr, src, h: float, n_steps: int, start):
    """y'' = -fr y' + src y from y = y' = ``start`` by classical RK4 with step ``h``, the
    coefficients tabulated at every step's start, midpoint and end (indices 2i, 2i+1, 2i+2 on
    their first axis). ``start`` an array (one growth history per entry); returns y at the
    n_steps + 1 step ends (leading axis)."""
    y = np.array(start, dtype=float)
    dp = y.copy()
    d = np.empty((n_steps + 1,) + y.shape)
    d[0] = y
    for i in range(n_steps):
        f0, s0 = fr[2 * i], src[2 * i]
        f1, s1 = fr[2 * i + 1], src[2 * i + 1]
        f2, s2 = fr[2 * i + 2], src[2 * i + 2]
        k1y, k1p = dp, -f0 * dp + s0 * y
        y2, p2 = y + 0.5 * h * k1y, dp + 0.5 * h * k1p
        k2y, k2p = p2, -f1 * p2 + s1 * y2
        y3, p3 = y + 0.5 * h * k2y, dp + 0.5 * h * k2p
        k3y, k3p = p3, -f1 * p3 + s1 * y3
        y4, p4 = y + h * k3y, dp + h * k3p
        k4y, k4p = p4, -f2 * p4 + s2 * y4
        y = y + h / 6 * (k1y + 2 * k2y + 2 * k3y + k4y)
        dp = dp + h / 6 * (k1p + 2 * k2p + 2 * k3p + k4p)
        d[i + 1] = y
    return d


def growth_rows(hubble, omega_cb: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The growth D(z) of n backgrounds (module docstring): ``hubble(z)`` returns H [km/s/Mpc]
    (n, len(z)) for a 1-d z; omega_cb = ω_b + ω_c (n,); returns D (n, len(z))."""
    x0 = np.log(A_GROWTH_INIT)
    n = GROWTH_STEPS
    x = np.linspace(x0, 0.0, 2 * n + 1)
    h = x[2] - x[0]
    ln_h = np.log(hubble(np.expm1(-x)))
    fr, src = np.empty((len(x), len(ln_h))), np.empty((len(x), len(ln_h)))
    for rows in blocks(len(ln_h), _SPLINE_BLOCK):  # splines of cache-sized blocks of rows
        lnH = CubicSpline(x, ln_h[rows], axis=1)
        fr[:, rows] = (2.0 + lnH.derivative()(x)).T
        src[:, rows] = (1.5 * omega_cb[rows, None] * np.exp(-3 * x)
                        / (np.exp(lnH(x)) / 100.0) ** 2).T
    d = rk4_growth(fr, src, h, n, np.full(fr.shape[1], A_GROWTH_INIT))
    z = np.asarray(z, dtype=float)
    xs = np.clip(-np.log1p(z), x0, 0.0)  # before a = 0.01 target and reference coincide
    out = np.empty((d.shape[1], len(xs)))
    for rows in blocks(d.shape[1], _SPLINE_BLOCK):
        out[rows] = CubicSpline(x[::2], d[:, rows], axis=0)(xs).T
    return np.where(-np.log1p(z) < x0, 1.0 / (1.0 + z), out)


def spline_rows(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """CubicSpline(x, y[r]) evaluated at xq[r] for every row r (y (n, m), xq (n, q))."""
    c = CubicSpline(x, y, axis=1).c  # (4, m - 1, n)
    idx = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, len(x) - 2)
    dx = xq - x[idx]
    rows = np.arange(len(y))[:, None]
    out = c[0, idx, rows]
    for k in range(1, 4):
        out = out * dx + c[k, idx, rows]
    return out


class Nodes:
    """The Limber nodes of n points, ``nz`` - 1 each (the last, χ = χ*, where the kernel
    vanishes, dropped): z (n, nz-1), x = ln(1 + z), the integration weights (kernel × dχ/dx ×
    trapezoid × dx, without P) and ln χ. ``bg``: DM_at(ln a) and h2_at(ln a) per row."""

    def __init__(self, bg, zstar: np.ndarray, omega_m: np.ndarray, nz: int = NZ):
        x = np.linspace(np.log1p(Z_MIN), np.log1p(zstar), nz, axis=1)
        self.x = x[:, :-1]
        self.z = np.expm1(x)[:, :-1]
        lna = -np.log1p(self.z)
        chi = bg.DM_at(lna)
        chistar = bg.DM_at(-np.log1p(zstar)[:, None])
        dchi_dx = C_KM_S / (100.0 * np.sqrt(bg.h2_at(lna))) * (1.0 + self.z)
        pref = 1.5 * omega_m[:, None] * (100.0 / C_KM_S) ** 2
        kern = (pref * (1.0 + self.z) * (chistar - chi) / chistar) ** 2
        trap = np.ones(nz - 1)
        trap[[0, -1]] = 0.5
        self.weight = kern * dchi_dx * trap * (x[:, 1] - x[:, 0])[:, None]
        self.ln_chi = np.log(chi)


def carried_growth(target, ref, ocb: np.ndarray, zstar: np.ndarray, omega_m: np.ndarray,
                   nz: int = NZ) -> tuple:
    """What a late-time engine needs of n rows carried from reference to target backgrounds
    (each with H(z), DM_at and h2_at per row; one z* and Ω_m per row, ocb = ω_b + ω_c): their
    growth on Z_PK (D_target, D_ref), the Limber nodes of both, and the squared growth ratio at
    the target's nodes."""
    g = growth_rows(lambda z: np.vstack([target.H(z), ref.H(z)]), np.concatenate([ocb, ocb]), Z_PK)
    g_t, g_r = g[:len(ocb)], g[len(ocb):]
    nodes_t, nodes_r = Nodes(target, zstar, omega_m, nz), Nodes(ref, zstar, omega_m, nz)
    gsq = spline_rows(np.log1p(Z_PK), (g_t / g_r) ** 2, np.log1p(nodes_t.z))
    return g_t, g_r, nodes_t, nodes_r, gsq


def k_range(kmin: float) -> tuple[float, float]:
    """The k [1/Mpc] a CAMB P(k, z) interpolator with smallest k ``kmin`` is evaluated on."""
    return kmin * 1.0001, K_EXTRAP * 0.999


def node_k(nodes: Nodes, r: int, L: np.ndarray, kmin: float) -> np.ndarray:
    """k = (L + ½)/χ at row r's nodes (nz-1, len(L)), clipped to the spline's range."""
    return np.clip((L[None, :] + 0.5) / np.exp(nodes.ln_chi[r])[:, None], *k_range(kmin))


def exact_power(pk, nodes: Nodes, r: int, L: np.ndarray, pk_factor=None) -> np.ndarray:
    """P (× pk_factor(k, z)) at row r's nodes and every L by the fitpack spline ``pk`` itself,
    (nz-1, len(L))."""
    k = node_k(nodes, r, L, pk.kmin)
    zz = np.broadcast_to(nodes.z[r][:, None], k.shape)
    p = pk.P(zz.ravel(), k.ravel(), grid=False).reshape(k.shape)
    return p if pk_factor is None else p * pk_factor(k, zz)


def quadratic_weights(w: np.ndarray, grid: np.ndarray, step: float) -> tuple:
    """(inside, middle index i, Lagrange weights (…, 3) of grid[i-1], grid[i], grid[i+1]) of the
    offsets ``w`` (rows, nodes) on the even ``grid``: a row with an offset off the grid is not
    inside."""
    s = (w - grid[0]) / step
    inside = np.all((s >= 0) & (s <= len(grid) - 1), axis=1)
    i = np.clip(np.rint(s).astype(int), 1, len(grid) - 2)
    t = s - i
    return inside, i, np.stack([0.5 * t * (t - 1), (1 - t) * (1 + t), 0.5 * t * (t + 1)], axis=-1)


def quadratic_sum(out, f, off: int, k0, lagrange, delta, weight=None):
    """``out`` plus a table ``f`` at every (node, L) of some rows: quadratic in w (Lagrange weights
    of the rows k0 - 1, k0, k0 + 1 of f), first order in the node offset ``delta`` (the
    x-derivatives ``off`` rows further on), each term times ``weight`` if given."""
    for step in (-1, 0, 1):
        k, lw = k0 + step, lagrange[..., step + 1, None]
        out = out + (lw if weight is None else weight * lw) * (f[k] + delta * f[k + off])
    return out


# the arrays that make a LimberTable (LimberTable.arrays, LimberTable.from_arrays)
TABLE_KEYS = ("x", "z", "ln_chi", "w", "ln_l", "u_clip", "flat")


def tabulate_power(pk, fid_bg) -> dict[str, np.ndarray]:
    """The arrays of a LimberTable of the CAMB interpolator ``pk`` and the fiducial background
    (the nodes z̄_j, ln χ̄_j, the w grid, ln(L + ½), the ln k clip, and P, ∂P/∂x flattened)."""
    zstar = float(fid_bg.zstar)
    x = np.linspace(np.log1p(Z_MIN), np.log1p(zstar), NZ)[:-1]
    z = np.expm1(x)
    t = {"x": x, "z": z, "ln_chi": np.log(np.asarray(fid_bg.DM(z), dtype=float)),
         "w": np.arange(_W_RANGE[0], _W_RANGE[1] + _DW / 2, _DW), "ln_l": np.log(L_GRID + 0.5),
         "u_clip": np.log(np.array(k_range(pk.kmin)))}
    p = np.empty((len(x), len(t["w"]), len(L_GRID)))
    dp = np.empty_like(p)
    for j, zj in enumerate(z):
        u = _u_at(t["ln_l"], t["ln_chi"], t["u_clip"], j, t["w"][:, None])
        uniq, inv = np.unique(u, return_inverse=True)
        lnp = pk(zj, uniq, grid=True)[0][inv].reshape(u.shape)
        slope = pk(zj, uniq, dx=1, grid=True)[0][inv].reshape(u.shape)
        p[j] = np.exp(lnp)
        dp[j] = p[j] * slope * (1.0 + zj)  # ∂P/∂x = P (1 + z) ∂lnP/∂z
    t["flat"] = np.concatenate([p.reshape(-1, len(L_GRID)), dp.reshape(-1, len(L_GRID))])
    return t


def _u_at(ln_l, ln_chi, clip, j, w):
    """ln k (clipped to ``clip``, as exact_power clips k) at node j, offset w, every L."""
    return np.clip(ln_l - ln_chi[j] - w, *clip)


class LimberTable:
    """The fiducial P(k, z) (a CAMB interpolator, reference.fiducial_reference().pk) on the
    fiducial nodes z̄_j and the w grid, and ∂P/∂x at fixed k (see the module docstring).

    ``LimberTable(pk, fid_bg)`` tabulates; ``from_arrays`` rebuilds one from its ``arrays()``
    (kept on disk by the engines), the interpolator then asked of ``pk_source`` only when a row
    leaves the table. ``store(name, compute)`` keeps a suppression table's arrays the same way
    (default: computed in this process)."""

    def __init__(self, pk, fid_bg):
        self._setup(tabulate_power(pk, fid_bg), lambda: pk)

    @classmethod
    def from_arrays(cls, arrays: dict, pk_source: Callable[[], Any],
                    store: Callable | None = None) -> LimberTable:
        table = cls.__new__(cls)
        table._setup(arrays, pk_source, store)
        return table

    def _setup(self, arrays: dict, pk_source: Callable[[], Any], store: Callable | None = None):
        self.x, self.z, self.ln_chi, self.w, self.ln_l, u_clip, self.flat = (
            np.asarray(arrays[k]) for k in TABLE_KEYS)
        self.u_clip = (float(u_clip[0]), float(u_clip[1]))
        self._offset = len(self.x) * len(self.w)
        self._pk_source, self._pk = pk_source, None
        self._store = store or (lambda name, compute: compute())
        self._suppressions: dict = {}

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(getattr(self, k)) for k in TABLE_KEYS}

    @property
    def pk(self):
        """The fiducial CAMB interpolator (for rows outside the table), fetched on first need."""
        if self._pk is None:
            self._pk = self._pk_source()
        return self._pk

    def suppression(self, name: str, grid) -> SuppressionTables:
        """SuppressionTables of the grid ``grid()`` on this table, built once per ``name`` (its
        arrays through ``store``; ``grid()`` itself called only where they are computed or a
        row leaves the table)."""
        if name not in self._suppressions:
            arrays = self._store(name, lambda: tabulate_suppression(self, grid()))
            self._suppressions[name] = SuppressionTables(self, arrays, grid)
        return self._suppressions[name]

    def u_at(self, j, w):
        """ln k (clipped as exact_power clips k) at node j, offset w, every L."""
        return _u_at(self.ln_l, self.ln_chi, self.u_clip, j, w)

    def locate(self, nodes: Nodes, rows: slice = slice(None), w=None, dw: float = _DW):
        """(in table, middle index i, quadratic weights of w_(i-1), w_i, w_(i+1), δ) of every
        node of ``rows`` on the w grid ``w`` (default: the table's) of step ``dw``: rows whose
        offsets leave the grid are out of the table."""
        inside, i, lagrange = quadratic_weights(nodes.ln_chi[rows] - self.ln_chi[None, :],
                                                self.w if w is None else w, dw)
        return inside, i, lagrange, nodes.x[rows] - self.x[None, :]

    def integrals(self, nodes: Nodes, factor: np.ndarray | None = None) -> np.ndarray:
        """∫ weight × factor(z) × P over the nodes, (n, len(L_GRID)), ``factor`` (n, NZ-1)
        (e.g. the squared growth ratio) or None."""
        c = nodes.weight if factor is None else nodes.weight * factor
        inside, i, lagrange, delta = self.locate(nodes)
        out = np.empty((len(c), len(L_GRID)))
        if inside.any():
            out[inside] = self._matrix(c[inside], i[inside], lagrange[inside],
                                       delta[inside]) @ self.flat
        for r in np.flatnonzero(~inside):
            out[r] = np.einsum("j,jl->l", c[r], exact_power(self.pk, nodes, int(r), L_GRID))
        return out

    def suppressed(self, nodes: Nodes, stab: SuppressionTables, c: np.ndarray,
                   exponent: np.ndarray, mnu: np.ndarray) -> np.ndarray:
        """∫ c × P × S^exponent over the nodes of every row, (n, len(L_GRID)), element by
        element in blocks of rows: ``c`` (n, NZ-1) the nodes' weights (× a factor), ``exponent``
        (n, 1 or NZ-1), ``mnu`` (n,) each row's place on the SuppressionTables' grid."""
        out = np.empty((len(c), len(L_GRID)))
        for rows in blocks(len(c), _BLOCK):
            f = self.elements(nodes, rows)
            f *= np.exp(exponent[rows][:, :, None] * stab.elements(nodes, rows, mnu[rows]))
            out[rows] = np.einsum("rj,rjl->rl", c[rows], f)
        return out

    def _matrix(self, c, i, lagrange, delta):
        """Sparse (rows, table rows): P and ∂P/∂x at the three w around each node."""
        n, m = c.shape
        base = (np.arange(m)[None, :] * len(self.w) + i)[..., None] + np.arange(-1, 2)
        cols = np.concatenate([base, base + self._offset], axis=2)
        weight = c[..., None] * lagrange
        data = np.concatenate([weight, weight * delta[..., None]], axis=2)
        indptr = np.arange(0, n * m * 6 + 1, m * 6)
        return sparse.csr_matrix((data.ravel(), cols.ravel(), indptr),
                                 shape=(n, self.flat.shape[0]))

    def elements(self, nodes: Nodes, rows: slice) -> np.ndarray:
        """P at every (node, L) of ``rows``, (r, NZ-1, len(L_GRID)), from the table (exact
        fitpack for rows outside it)."""
        inside, i, lagrange, delta = self.locate(nodes, rows)
        k0 = np.arange(len(self.x))[None, :] * len(self.w) + i
        p = quadratic_sum(np.zeros((*k0.shape, len(L_GRID))), self.flat, self._offset, k0,
                          lagrange, delta[..., None])
        for r in np.flatnonzero(~inside):
            p[r] = exact_power(self.pk, nodes, rows.start + r, L_GRID)
        return p


def tabulate_suppression(table: LimberTable, grid: list) -> dict[str, np.ndarray]:
    """The arrays of SuppressionTables: the grid's masses, and per mass ln S and its
    x-derivative at fixed k on the table's nodes and a coarser w grid (ln S is smooth in k)."""
    w_s = np.arange(_W_RANGE[0], _W_RANGE[1] + _DW_S / 2, _DW_S)
    shape = (len(table.x), len(w_s), len(L_GRID))
    eps = 1e-4  # central differences in x = ln(1 + z)
    tables = []
    for _, interp in grid:
        ln_s, slope = np.zeros(shape), np.zeros(shape)
        if interp is not None:
            for j, xj in enumerate(table.x):
                k = np.exp(table.u_at(j, w_s[:, None]))
                ln_s[j] = np.log(interp(k, np.full(k.shape, np.expm1(xj))))
                slope[j] = (np.log(interp(k, np.full(k.shape, np.expm1(xj + eps))))
                            - np.log(interp(k, np.full(k.shape, np.expm1(xj - eps))))) / (
                                2 * eps)
        tables.append(np.concatenate([ln_s.reshape(-1, len(L_GRID)),
                                      slope.reshape(-1, len(L_GRID))]))
    return {"masses": np.array([m for m, _ in grid], dtype=float), "w": w_s,
            "all": np.concatenate(tables)}


class SuppressionTables:
    """ln S(k, z) of each Σmν of a grid (free_streaming.py's, or nl_response's n − 1 as a grid
    of one; ``grid()`` gives its interpolators f(k, z) -> S, None for no suppression) and its
    x-derivative at fixed k, on the table's nodes and a coarser w grid, quadratic in w as the P
    table, from ``tabulate_suppression``'s arrays; ``grid()`` is called only for a row that
    leaves the table."""

    def __init__(self, table: LimberTable, arrays: dict, grid: Callable[[], list]):
        self.masses, self.w, self.all = (np.asarray(arrays[k]) for k in ("masses", "w", "all"))
        self.size = len(self.all) // len(self.masses)
        self.table, self._grid_source = table, grid
        self._grid: list | None = None

    @property
    def grid(self) -> list:
        """The grid's interpolators, fetched on first need."""
        if self._grid is None:
            self._grid = self._grid_source()
        return self._grid

    def weights(self, mnu: np.ndarray):
        """(lower grid index, weight of the upper): ln S linear in Σmν between grid points."""
        j = np.clip(np.searchsorted(self.masses, mnu) - 1, 0, len(self.masses) - 2)
        return j, (mnu - self.masses[j]) / (self.masses[j + 1] - self.masses[j])

    def elements(self, nodes: Nodes, rows: slice, mnu: np.ndarray) -> np.ndarray:
        """ln S at every (node, L) of ``rows`` (Σmν of those rows in ``mnu``)."""
        inside, i, lagrange, delta = self.table.locate(nodes, rows, self.w, _DW_S)
        g, tm = self.weights(mnu)
        k0 = np.arange(i.shape[1])[None, :] * len(self.w) + i + (g * self.size)[:, None]
        off = self.size // 2  # the x-derivative table follows each mass's ln S table
        tm = tm[:, None, None]
        out = np.zeros((*k0.shape, len(L_GRID)))
        for mass_weight, k_mass in ((1 - tm, k0), (tm, k0 + self.size)):
            out = quadratic_sum(out, self.all, off, k_mass, lagrange, delta[..., None],
                                mass_weight)
        for r in np.flatnonzero(~inside):
            out[r] = self.exact(nodes, rows.start + r, g[r], float(tm[r, 0, 0]))
        return out

    def exact(self, nodes: Nodes, r: int, g: int, tm: float) -> np.ndarray:
        k = node_k(nodes, r, L_GRID, self.table.pk.kmin)
        z = np.broadcast_to(nodes.z[r][:, None], k.shape)
        (_, f0), (_, f1) = self.grid[g], self.grid[g + 1]
        a = np.log(f0(k, z)) if f0 is not None else 0.0
        return (1 - tm) * a + tm * np.log(f1(k, z))
