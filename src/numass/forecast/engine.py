"""Batched Fisher matrices and Gauss-Newton best fits on synthetic likelihoods.

A ``Hypothesis`` evaluates its theory at many points at once (the backend's ``compute_batch``);
a ``Problem`` is one least-squares fit: a start, the experiments of one combination, the
parameters held fixed. ``gauss_newton`` advances many problems in lockstep: each iteration
computes, as one theory batch for all problems together, the central-difference Jacobian of the
whitened residuals and then a short line search along the Gauss-Newton (Levenberg-damped) step.
On the nearly linear residuals of these mocks it converges in a few iterations.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from numass.backends import make_backend
from numass.errors import InputError
from numass.models import get_model, sampled_params

NEED = frozenset({"spectra", "background"})
FIXED = {"nnu": 3.044, "nu_states": 1}  # as the inference layer's DEFAULT_FIXED
# the value at which each extension parameter reduces to ΛCDM (a fit's start when the truth
# does not have the parameter)
NULL_VALUES = {"w": -1.0, "wa": 0.0, "A_L": 1.0, "A_lens": 1.0, "z_dagger": 3.0,
               "alpha_fs": 1.0}
STEPS = (1.0, 0.5, 0.2, 0.05)  # line-search fractions of the Gauss-Newton step
DAMPING = 1e-4  # Levenberg damping, relative to the diagonal of J^T J
MAX_DAMPING = 10.0  # past it, a fit whose steps all fail stops
CHUNK = 256  # points per theory call


class Hypothesis:
    """A model's theory on (n, d) arrays of its sampled parameters (CMB spectra included)."""

    def __init__(self, key: str, model: str, bounds_override: dict | None = None,
                 drops_tau: bool = False):
        self.key, self.model, self.drops_tau = key, model, drops_tau
        m = get_model(model)
        params = sampled_params(m, need_spectra=True)
        self.names = [p.name for p in params]
        self.widths = np.array([p.proposal for p in params])
        bounds = {p.name: p.prior[1:] for p in params if p.prior[0] == "uniform"}
        bounds.update(bounds_override or {})
        self.bounds = np.array([bounds.get(n, (-np.inf, np.inf)) for n in self.names], float)
        self.fixed = {**FIXED, **m.fixed}
        self.backend_name = m.resolve_backend(None, need_spectra=True)
        self.backend = make_backend(self.backend_name)
        self.n_points = 0

    def products(self, x: np.ndarray):
        x = np.atleast_2d(x)
        self.n_points += len(x)
        cols = {n: x[:, i] for i, n in enumerate(self.names)}
        with np.errstate(all="ignore"):
            return self.backend.compute_batch({**self.fixed, **cols}, NEED)

    def point(self, values: dict) -> np.ndarray:
        """A parameter vector from a dict (missing: the ΛCDM value), clipped into the bounds."""
        missing = [n for n in self.names if n not in values and n not in NULL_VALUES]
        if missing:
            raise InputError(f"{self.key}: no value for {', '.join(missing)}")
        x = np.array([values.get(n, NULL_VALUES.get(n)) for n in self.names], dtype=float)
        return self.clip(x)

    def clip(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.bounds[:, 0], self.bounds[:, 1])


def residuals(hyp: Hypothesis, mocks: dict, x: np.ndarray) -> dict[str, np.ndarray]:
    """experiment id -> whitened residuals (n, m) at the rows of x, in chunks."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in mocks}
    for start in range(0, len(x), CHUNK):
        p = hyp.products(x[start:start + CHUNK])
        for k, mock in mocks.items():
            out[k].append(mock.residual(p))
    return {k: np.vstack(v) for k, v in out.items()}


@dataclass
class Problem:
    """One fit: start x (d,), the experiments whose chi^2 add, the parameters held fixed."""

    x: np.ndarray
    experiments: tuple[str, ...]
    free: np.ndarray
    chi2: float = np.inf
    done: bool = False
    iterations: int = 0
    damping: float = DAMPING  # Levenberg's, raised when no step helps, lowered when one does
    history: list = field(default_factory=list)


def _stack(res: dict, experiments, rows) -> np.ndarray:
    return np.hstack([res[e][rows] for e in experiments])


def _chi2(r: np.ndarray) -> np.ndarray:
    c = np.sum(r * r, axis=-1)
    return np.where(np.isfinite(c), c, np.inf)


def jacobian_points(hyp: Hypothesis, x: np.ndarray, free: np.ndarray, frac: float) -> np.ndarray:
    """(1 + 2 k, d): x, then x +- h_i e_i for each free axis i (h = frac x proposal width),
    the pair moved inside the bounds where x sits near an edge."""
    rows = [x]
    for i in np.flatnonzero(free):
        h = frac * hyp.widths[i]
        lo, hi = hyp.bounds[i]
        c = min(max(x[i], lo + h), hi - h)
        for s in (1.0, -1.0):
            y = x.copy()
            y[i] = c + s * h
            rows.append(y)
    return np.array(rows)


def jacobian(r: np.ndarray, hyp: Hypothesis, free: np.ndarray, frac: float) -> np.ndarray:
    """(m, k) central differences from the residuals of jacobian_points' rows (r: (1+2k, m))."""
    h = frac * hyp.widths[free]
    return ((r[1::2] - r[2::2]) / (2 * h[:, None])).T


def projected_step(a: np.ndarray, b: np.ndarray, x: np.ndarray, bounds: np.ndarray):
    """Solve a step = b by least squares (a parameter no experiment sees has a zero column and
    stays), then again without the axes that sit on a bound and would step out of it."""
    step = np.linalg.lstsq(a, b, rcond=1e-12)[0]
    span = bounds[:, 1] - bounds[:, 0]
    edge = ((x <= bounds[:, 0] + 1e-9 * span) & (step < 0)) | \
        ((x >= bounds[:, 1] - 1e-9 * span) & (step > 0))
    if edge.any():
        keep = ~edge
        step = np.zeros_like(step)
        step[keep] = np.linalg.lstsq(a[np.ix_(keep, keep)], b[keep], rcond=1e-12)[0]
    return step


def gauss_newton(hyp: Hypothesis, mocks: dict, problems: list[Problem], max_iter: int = 12,
                 tol: float = 1e-3, frac: float = 0.1) -> list[Problem]:
    """Minimise each problem's chi^2 in lockstep (see the module docstring); in place."""
    for _ in range(max_iter):
        active = [p for p in problems if not p.done]
        if not active:
            break
        stencils = [jacobian_points(hyp, p.x, p.free, frac) for p in active]
        res = residuals(hyp, mocks, np.vstack(stencils))
        cands, owners, pos = [], [], 0
        for p, st in zip(active, stencils):
            rows = np.arange(pos, pos + len(st))
            pos += len(st)
            r = _stack(res, p.experiments, rows)
            p.chi2 = float(_chi2(r[0]))
            if p.chi2 < tol:  # at the truth (a nested hypothesis): nothing to gain
                p.done = True
                continue
            j = jacobian(r, hyp, p.free, frac)
            if not (np.isfinite(p.chi2) and np.all(np.isfinite(j))):
                p.done = True  # the theory failed at or around the point: stop here
                continue
            a = j.T @ j
            a += p.damping * np.diag(np.diag(a))
            step = projected_step(a, -j.T @ r[0], p.x[p.free], hyp.bounds[p.free])
            for s in STEPS:
                y = p.x.copy()
                y[p.free] += s * step
                cands.append(hyp.clip(y))
                owners.append(p)
        if not cands:
            break
        res = residuals(hyp, mocks, np.array(cands))
        for p in {id(o): o for o in owners}.values():
            mine = [i for i, o in enumerate(owners) if o is p]
            c = _chi2(_stack(res, p.experiments, mine))
            best = int(np.argmin(c))
            p.iterations += 1
            gain = p.chi2 - c[best]
            if gain > 0:
                p.x, p.chi2 = cands[mine[best]], float(c[best])
                p.damping = max(p.damping / 10, DAMPING)
                p.done = gain < tol
            else:  # no step helps: a more cautious (damped) direction, or stop
                p.damping *= 100
                p.done = p.damping > MAX_DAMPING
            p.history.append(p.chi2)
    return problems


def fisher(hyp: Hypothesis, mocks: dict, x: np.ndarray, combinations: dict[str, tuple],
           frac: float = 0.5) -> dict[str, np.ndarray]:
    """Fisher matrix J^T J (d, d) of each combination at x: one batch of 1 + 2d points."""
    free = np.ones(len(x), dtype=bool)
    res = residuals(hyp, mocks, jacobian_points(hyp, x, free, frac))
    out = {}
    for name, exps in combinations.items():
        j = jacobian(_stack(res, exps, slice(None)), hyp, free, frac)
        out[name] = j.T @ j
    return out


def hessian_chi2(chi2_fn, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Half the central-difference Hessian of chi2_fn at x (the Fisher matrix of a likelihood
    that is Gaussian in the parameters): one call on 1 + 2d + 2d(d-1) points."""
    d = len(x)
    rows = [x]
    for i in range(d):
        for s in (1, -1):
            y = x.copy()
            y[i] += s * h[i]
            rows.append(y)
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    for i, j in pairs:
        for s in (1, -1):
            y = x.copy()
            y[i] += s * h[i]
            y[j] += s * h[j]
            rows.append(y)
    f = np.asarray(chi2_fn(np.array(rows)), dtype=float)
    f0, fp, fm = f[0], f[1:2 * d + 1:2], f[2:2 * d + 1:2]
    hess = np.diag((fp - 2 * f0 + fm) / h ** 2)
    for k, (i, j) in enumerate(pairs):
        fpp, fmm = f[2 * d + 1 + 2 * k], f[2 * d + 2 + 2 * k]
        hess[i, j] = hess[j, i] = (fpp + fmm - fp[i] - fm[i] - fp[j] - fm[j] + 2 * f0) \
            / (2 * h[i] * h[j])
    return hess / 2.0


def marginal_sigmas(fisher_matrix: np.ndarray, names: list[str]) -> dict[str, float]:
    """sqrt of the diagonal of F^-1 (NaN where F is singular)."""
    try:
        cov = np.linalg.inv(fisher_matrix)
    except np.linalg.LinAlgError:
        return {n: float("nan") for n in names}
    d = np.diag(cov)
    return {n: float(np.sqrt(v)) if v > 0 else float("nan") for n, v in zip(names, d)}
