"""An emulator optimum made exact: re-evaluated with CAMB and moved by a few CAMB steps.

The emulator's optimum x_E (a best fit, or a profile point with the mass held fixed) is close to
the exact optimum, and the difference δ(x) = f_exact(x) − f_emulator(x) (f = −ln posterior)
varies slowly across the posterior. So the exact objective near x_E is the emulator's plus a
linear term, and a Newton step built from the emulator's Hessian H_E (finite differences on the
emulator: cheap) and the exact gradient g = g_E + ∇δ reaches the exact optimum in one step when
H_E is right, in two when it is close. ∇δ comes from one-sided differences of δ (the emulator's
value at the same points is subtracted, so the curvature of f cancels and only δ's own, small,
curvature is left): d exact calls plus the centre, d + 1 in all, evaluated together in parallel;
the step's end point is one more call (two when it has to be halved). One step therefore costs
d + 2 exact calls. A further step starts near the optimum, where the gradient is small and the
one-sided error (δ's curvature times the step) would dominate it: it uses central differences,
2d + 1 calls.

A parameter at a prior edge whose gradient pushes outwards stays on the edge (z† = 3 in ΛsCDM,
Σmν = 0 in the interaction model); held parameters (the profiled mass) never move. A step is
at most ``MAX_STEP`` proposal widths per parameter and is kept only when the exact objective
went down. A failed exact call at the start is reported as such (the caller keeps the
emulator's values); a failed gradient point falls back to the emulator's gradient there.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
from dataclasses import dataclass, field
from typing import Self

import numpy as np

from numass.inference.bestfit import describe, quadratic_model, stencil_offsets
from numass.inference.posterior import CobayaPosterior

MAX_STEP = 2.0  # longest step per parameter, in proposal widths
HESSIAN_STEP = 0.3  # emulator Hessian stencil, in proposal widths
EDGE_TOL = 0.01  # a parameter this close to a prior edge (in widths) is on it
MIN_CURVATURE = 1e-2  # eigenvalue floor of the scaled Hessian (σ at most 10 widths)


@dataclass
class Refined:
    """The outcome at one optimum: the final point and its exact record (None when the exact
    code failed at the start), the record at the emulator optimum, calls used, status text."""
    x: np.ndarray
    record: dict | None
    start_record: dict | None
    n_calls: int
    status: str
    steps: list[dict] = field(default_factory=list)


def objective(record: dict | None) -> float:
    """−ln posterior of an exact record (inf when the exact code failed there)."""
    if not record or not math.isfinite(record.get("logpost", -math.inf)):
        return math.inf
    return -record["logpost"]


def scaled_hessian(f_approx, x0: np.ndarray, scale: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray, free: np.ndarray, h: float = HESSIAN_STEP) -> np.ndarray:
    """Hessian of ``f_approx`` over the ``free`` axes in width units (stencil of
    bestfit.newton_fit), its centre moved inside the prior by up to ``h`` widths; positive
    definite (eigenvalues floored at MIN_CURVATURE; a non-finite entry -> the identity's)."""
    centre = np.clip(x0, lo + h * scale, hi - h * scale)
    centre = np.where(lo + h * scale > hi - h * scale, x0, centre)  # a box narrower than 2h
    offsets = stencil_offsets(free, h)
    f = np.array([f_approx(centre + o * scale) for o in offsets])
    _, hess = quadratic_model(f, free, h)
    if not np.all(np.isfinite(hess)):
        bad = ~np.isfinite(hess)
        hess[bad] = 0.0
        hess[np.diag(bad.any(axis=0))] = 1.0
    hess = 0.5 * (hess + hess.T)
    w, v = np.linalg.eigh(hess)
    return (v * np.maximum(w, MIN_CURVATURE)) @ v.T


def _gradient_offsets(x, scale, lo, hi, free, hess, central: bool) -> np.ndarray:
    """Per free axis, a step of half the conditional σ (≤ 1 width): one-sided, pointing into
    the prior (d rows), or ``central`` where both sides are inside (then a second row)."""
    h = np.clip(0.5 / np.sqrt(np.diag(hess)), 0.05, 1.0) * scale[free]
    rows = []
    for k, i in enumerate(np.flatnonzero(free)):
        e = np.zeros(len(x))
        e[i] = h[k] if x[i] + h[k] <= hi[i] else -h[k]
        rows.append(e)
        if central and lo[i] <= x[i] - e[i] <= hi[i]:
            rows.append(-e)
    return np.array(rows)


def _exact_gradient(x, f_x, exact_vals, approx_vals, offsets, f_approx, scale,
                    free) -> tuple[np.ndarray, int]:
    """Gradient (width units, free axes) of the exact objective: the emulator's (central
    differences) plus δ's (from the offsets: central where an axis has two, else one-sided);
    where an exact call failed, δ's part is left out."""
    axes = np.flatnonzero(free)
    delta = np.array(exact_vals) - np.array(approx_vals)
    delta_x = f_x - f_approx(x)
    g = np.zeros(len(axes))
    n_failed = 0
    for k, i in enumerate(axes):
        rows = np.flatnonzero(offsets[:, i] != 0)
        h = abs(offsets[rows[0], i])
        e = np.zeros(len(x))
        e[i] = 0.5 * h
        g_e = (f_approx(x + e) - f_approx(x - e)) / h
        if not math.isfinite(g_e):
            g_e = (approx_vals[rows[0]] - f_approx(x)) / offsets[rows[0], i]
        if len(rows) == 2:
            d_delta = (delta[rows[0]] - delta[rows[1]]) / (2 * offsets[rows[0], i])
        else:
            d_delta = (delta[rows[0]] - delta_x) / offsets[rows[0], i]
        if not math.isfinite(d_delta):
            d_delta, n_failed = 0.0, n_failed + 1
        g[k] = (g_e + d_delta) * scale[i]
    return g, n_failed


def newton_step(g: np.ndarray, hess: np.ndarray, x: np.ndarray, scale: np.ndarray,
                lo: np.ndarray, hi: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The step (parameter units) −H⁻¹g over the free axes not pinned to an edge by their
    gradient, each component at most MAX_STEP widths, the end clipped into the prior."""
    axes = np.flatnonzero(free)
    tol = EDGE_TOL * scale[axes]
    pinned = ((x[axes] - lo[axes] < tol) & (g > 0)) | ((hi[axes] - x[axes] < tol) & (g < 0))
    move = ~pinned
    du = np.zeros(len(axes))
    if move.any():
        du[move] = -np.linalg.solve(hess[np.ix_(move, move)], g[move])
    du = np.clip(du, -MAX_STEP, MAX_STEP)
    dx = np.zeros(len(x))
    dx[axes] = du * scale[axes]
    return np.clip(x + dx, lo, hi) - x


def refine(exact, f_approx, x0, scale, lo, hi, held=(), steps: int = 1) -> Refined:
    """The exact objective at the emulator optimum ``x0`` and after ``steps`` Newton steps.

    ``exact(points) -> [record | None]`` evaluates a list of points (in parallel); a record has
    'logpost' (and whatever the caller wants back, e.g. chi2). ``f_approx(x)`` is the emulator's
    −ln posterior. ``held``: indices of parameters that stay fixed."""
    x0, scale = np.asarray(x0, float), np.asarray(scale, float)
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    free = np.ones(len(x0), dtype=bool)
    free[list(held)] = False
    if steps < 1 or not free.any():
        start = exact([x0])[0]
        return Refined(x0, start, start, 1, _start_status(start, "re-evaluated, no step"))
    hess = scaled_hessian(f_approx, x0, scale, lo, hi, free)
    x, record, n_calls = x0, None, 0
    start, history = None, []
    for k in range(steps):
        # later steps start near the optimum, where the gradient is small: central differences
        offsets = _gradient_offsets(x, scale, lo, hi, free, hess, central=k > 0)
        points = [x + o for o in offsets] + ([x] if record is None else [])
        results = exact(points)
        n_calls += len(points)
        if record is None:
            record = start = results[-1]
            if not math.isfinite(objective(start)):
                return Refined(x0, None, None, n_calls, _start_status(start, ""))
        f_x = objective(record)
        approx = [f_approx(p) for p in points[:len(offsets)]]
        g, n_failed = _exact_gradient(x, f_x, [objective(r) for r in results[:len(offsets)]],
                                      approx, offsets, f_approx, scale, free)
        dx = newton_step(g, hess, x, scale, lo, hi, free)
        x, record, used, entry = _take_step(exact, x, dx, record)
        n_calls += used
        history.append({**entry, "gradient_points_failed": n_failed})
        if not entry["accepted"]:
            break
    gain = objective(start) - objective(record)
    return Refined(x, record, start, n_calls,
                   f"refined: {sum(e['accepted'] for e in history)} of {len(history)} Newton "
                   f"step(s) kept, {n_calls} exact calls, −ln P lowered by {gain:.3f}", history)


def _take_step(exact, x, dx, record) -> tuple[np.ndarray, dict, int, dict]:
    """Try x + dx, then x + dx/2; keep the first that lowers the exact objective."""
    f_x = objective(record)
    for used, frac in enumerate((1.0, 0.5), 1):
        trial = exact([x + frac * dx])[0]
        if objective(trial) < f_x:
            return x + frac * dx, trial, used, {"accepted": True, "fraction": frac,
                                                "objective": objective(trial)}
    return x, record, 2, {"accepted": False, "fraction": 0.0, "objective": f_x}


def _start_status(record: dict | None, ok_text: str) -> str:
    if math.isfinite(objective(record)):
        return ok_text
    why = (record or {}).get("error", "the exact theory failed (-inf)")
    return f"exact evaluation failed at the emulator optimum: {why}"


# ---------------------------------------------------------------- exact calls in parallel

_MODEL: list = []  # the worker process's exact posterior (a CobayaPosterior)


def _init_worker(info: dict, threads: int) -> None:
    from cobaya.model import get_model
    from threadpoolctl import threadpool_limits

    from numass.processes import die_with_parent

    die_with_parent()  # no orphan computing on after a kill -9 of the task that owns the pool
    threadpool_limits(threads)  # the workers share the cores (CAMB's OpenMP included)
    _MODEL[:] = [CobayaPosterior(get_model(info))]


def exact_record(point: dict) -> dict:
    """logpost, chi2 and chi2 per likelihood of the worker's model at ``point``, or the error."""
    try:
        rec = describe(_MODEL[0], point)
    except Exception as exc:  # noqa: BLE001 - a failed point is reported, not fatal
        return {"logpost": -math.inf, "error": f"{type(exc).__name__}: {exc}"}
    if not math.isfinite(rec["logpost"]):
        rec["error"] = "the exact theory failed or left the prior (-inf)"
    return rec


class ExactPool:
    """``workers`` processes, each with the exact model of ``info``; ``evaluate(names, xs)``
    returns exact_record for each point, in order. One worker: in this process."""

    def __init__(self, info: dict, workers: int = 1):
        self.workers = max(1, int(workers))
        self.n_calls = 0
        if self.workers == 1:
            _MODEL[:] = [_build(info)]
            self.pool = None
        else:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self.pool = cf.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(method),
                initializer=_init_worker, initargs=(info, 1))

    def evaluate(self, names: list[str], xs) -> list[dict]:
        points = [dict(zip(names, map(float, x))) for x in xs]
        self.n_calls += len(points)
        if self.pool is None:
            return [exact_record(p) for p in points]
        return list(self.pool.map(exact_record, points))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _build(info: dict) -> CobayaPosterior:
    return CobayaPosterior.from_info(info)


__all__ = ["ExactPool", "Refined", "exact_record", "newton_step", "objective", "refine",
           "scaled_hessian"]
