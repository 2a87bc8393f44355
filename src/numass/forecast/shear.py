"""Euclid photometric cosmic shear as a synthetic likelihood, linearised about the ΛCDM floor
(a Fisher approximation).

Survey (Euclid IST:F, arXiv:1910.09273, Sect. 3.2): the parent distribution
n(z) ∝ (z/z0)² exp[−(z/z0)^1.5], z0 = 0.9/√2, cut into 10 bins equipopulated in [0.001, 2.5];
each bin's n_i(z) is n(z) times the probability that the photometric redshift falls in the bin,
p(z_p|z) = (1 − f_out) N(z; c_b z_p + z_b, σ_b (1+z)) + f_out N(z; c_o z_p + z_o, σ_o (1+z)),
integrated over the bin analytically (error functions). Shape noise N^{ij} = δ_ij σ_ε²/n_i with
n_i = n_g/10. Tomographic C_ℓ^{ij} (i <= j, 55 pairs) in 20 logarithmic bands over
ℓ = 10…1500 (IST:F's pessimistic cut), the Gaussian covariance per band
Cov(C^{ij}, C^{kl}) = [(C+N)^{ik}(C+N)^{jl} + (C+N)^{il}(C+N)^{jk}] / ((2ℓ+1) Δℓ f_sky),
bands independent. No intrinsic alignments, no baryonic feedback, no shear calibration
nuisance: all three would widen the errors.

Theory: the exact C_ℓ of a point (forecast/shear_theory.py: CAMB P(k, z) through numass's
theory paths, pyccl's Limber integrals) costs ~2 s, too slow for the batched fits, so the
likelihood uses a model LINEAR in the parameters about one expansion point x0 shared by every
hypothesis: the floor truth (ΛCDM at Σmν = 0.0588 eV) with each extension at its null
(w0 = −1, wa = 0, z† = 3, α_fs = 1, A_L = A_lens = 1). μ(x) = μ(x0) + J (x − x0), J by central
differences of exact evaluations (engine.jacobian_points, steps of half a proposal width): the
ΛCDM columns once for all hypotheses, each extension adds its own; τ, A_L and A_lens do not
change the matter power and have no column. ΛsCDM at z† = 3 is not ΛCDM (Λ changes sign at
z = 3): its model adds the exact offset μ_ΛsCDM(x0) − μ(x0). A truth's mock is the same linear
model at the truth, so each hypothesis fits its own truth exactly (χ² = 0). The model is built
once per process (~25 CAMB runs, ~1 min) and kept in memory only.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from numass.forecast.engine import NULL_VALUES, Hypothesis, jacobian, jacobian_points
from numass.forecast.noise import whiten_blocks
from numass.forecast.truths import TRUTH_FLOOR, embedded_truths
from numass.theory.batch import BatchProducts

ARCMIN2_PER_SR = (180.0 * 60.0 / math.pi) ** 2
Z_NZ = np.linspace(0.0, 4.0, 401)  # the true-redshift grid of the bins' n(z)
JACOBIAN_FRAC = 0.5  # finite-difference steps, in proposal widths
# the extension parameters of each hypothesis's model (the ΛCDM ones are shared)
EXTENSIONS = {"lcdm": ("ombh2", "omch2", "theta_MC_100", "mnu_eff", "logA", "ns"),
              "w0wa": ("w", "wa"), "lscdm": ("z_dagger",), "nu_interacting": ("alpha_fs",)}
OFFSET_MODELS = ("lscdm",)  # models that differ from ΛCDM at x0


def parent_nz(z: np.ndarray, z0: float) -> np.ndarray:
    return (z / z0) ** 2 * np.exp(-((z / z0) ** 1.5))


def equipopulated_edges(s: dict) -> np.ndarray:
    """Bin edges holding equal numbers of galaxies of the parent n(z) in [zmin, zmax]."""
    z = np.linspace(s["zmin"], s["zmax"], 4001)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (parent_nz(z[1:], s["z0"])
                                                  + parent_nz(z[:-1], s["z0"])) * np.diff(z))])
    return np.interp(np.linspace(0, cdf[-1], s["n_bins"] + 1), cdf, z)


def _in_bin(z, lo, hi, c, zb, sigma):
    """P(lo < z_p < hi | z) of one Gaussian component with mean of z: c z_p + zb."""
    w = np.sqrt(2.0) * sigma * (1.0 + z)
    return 0.5 * (erf((z - zb - c * lo) / w) - erf((z - zb - c * hi) / w)) / c


def bin_nz(s: dict) -> tuple[np.ndarray, np.ndarray]:
    """(z, n_i(z) (n_bins, nz)): each bin's true-redshift distribution (module docstring)."""
    edges = equipopulated_edges(s)
    z = Z_NZ
    parent = parent_nz(z, s["z0"])
    dens = []
    for lo, hi in itertools.pairwise(edges):
        p = (1 - s["f_out"]) * _in_bin(z, lo, hi, s["c_b"], s["z_b"], s["sigma_b"]) \
            + s["f_out"] * _in_bin(z, lo, hi, s["c_o"], s["z_o"], s["sigma_o"])
        dens.append(parent * p)
    return z, np.array(dens)


def bands(s: dict) -> tuple[np.ndarray, np.ndarray]:
    """(ℓ at each band's logarithmic centre, Δℓ) of the n_bands bands over lmin…lmax."""
    edges = np.geomspace(s["lmin"], s["lmax"], s["n_bands"] + 1)
    return np.sqrt(edges[:-1] * edges[1:]), np.diff(edges)


def band_whitening(cl: np.ndarray, s: dict) -> np.ndarray:
    """(n_bands, npairs, npairs) inverse Cholesky factors of the Gaussian covariance of the
    pairs' C_ℓ in each band (cl: (n_bands, npairs), pairs in np.triu_indices order)."""
    nb = s["n_bins"]
    ell, dl = bands(s)
    iu = np.triu_indices(nb)
    noise = s["sigma_e"] ** 2 / (s["n_g_arcmin2"] * ARCMIN2_PER_SR / nb)
    out = []
    for b in range(len(ell)):
        full = np.zeros((nb, nb))
        full[iu] = cl[b]
        full = full + np.triu(full, 1).T + noise * np.eye(nb)
        i, j = iu
        cov = full[np.ix_(i, i)] * full[np.ix_(j, j)] + full[np.ix_(i, j)] * full[np.ix_(j, i)]
        cov /= (2 * ell[b] + 1) * dl[b] * s["fsky"]
        out.append(np.linalg.inv(np.linalg.cholesky(cov)))
    return np.array(out)


def expansion_point() -> dict:
    """x0: the floor truth with every extension at its null value."""
    return {**NULL_VALUES, **embedded_truths()[TRUTH_FLOOR][1]}


@dataclass
class LinearShear:
    """μ(x) = μ0 + Σ_name J_name (x_name − x0_name) [+ the offset of a model that differs from
    ΛCDM at x0], μ flattened band-major (n_bands × npairs)."""

    x0: dict
    mu0: np.ndarray
    columns: dict
    offsets: dict  # a parameter only that model has -> its offset at x0

    def predict(self, params: dict) -> np.ndarray:
        n = len(np.atleast_1d(next(iter(params.values()))))
        out = np.tile(self.mu0, (n, 1))
        for name, col in self.columns.items():
            if name in params:
                dx = np.broadcast_to(np.asarray(params[name], dtype=float), (n,))
                out += (dx - self.x0[name])[:, None] * col[None]
        for name, off in self.offsets.items():
            if name in params:
                out += off[None]
        return out


def _columns(hyp: Hypothesis, names, x0: dict, evaluate) -> tuple[np.ndarray, dict]:
    """(μ at x0 through ``hyp``, {name: dμ/dname}) by central differences of ``evaluate``."""
    x = hyp.point(x0)
    free = np.isin(hyp.names, names)
    rows = jacobian_points(hyp, x, free, JACOBIAN_FRAC)
    mu = np.array([evaluate(hyp, dict(zip(hyp.names, r))) for r in rows])
    cols = jacobian(mu, hyp, free, JACOBIAN_FRAC).T
    return mu[0], dict(zip([n for n, f in zip(hyp.names, free) if f], cols))


_LINEAR: dict = {}


def linear_shear(s: dict, say=print) -> LinearShear:
    """The linear shear model of the spec ``s`` (built once per process; module docstring)."""
    key = tuple(sorted(s.items()))
    if key in _LINEAR:
        return _LINEAR[key]
    from numass.forecast.shear_theory import exact_shear, require_pyccl

    require_pyccl()
    nz, (ell, _) = bin_nz(s), bands(s)
    seen: dict = {}

    def evaluate(hyp, point):
        k = (hyp.model, tuple(sorted(point.items())))
        if k not in seen:
            seen[k] = exact_shear(hyp, point, nz, ell).T.ravel()  # band-major
        return seen[k]

    x0 = expansion_point()
    mu0, columns, offsets = None, {}, {}
    for model, names in EXTENSIONS.items():
        mu, cols = _columns(Hypothesis(f"shear:{model}", model), names, x0, evaluate)
        columns.update(cols)
        if mu0 is None:
            mu0 = mu
        elif model in OFFSET_MODELS:
            offsets[names[0]] = mu - mu0
    assert mu0 is not None
    say(f"[numass forecast] euclid_shear: linear model from {len(seen)} exact C_ell evaluations "
        f"(CAMB + pyccl)")
    _LINEAR[key] = LinearShear(x0=x0, mu0=mu0, columns=columns, offsets=offsets)
    return _LINEAR[key]


class EuclidShearMock:
    """The shear bandpowers of the linear model, whitened per band with the Gaussian covariance
    at the truth."""

    def __init__(self, exp, truth: BatchProducts):
        self.spec = exp.spec
        self.model = linear_shear(exp.spec)
        self.data = self.model.predict(truth.params)[0]
        nb = len(bands(exp.spec)[0])
        self.linv = band_whitening(self.data.reshape(nb, -1), exp.spec)

    def residual(self, p: BatchProducts) -> np.ndarray:
        r = (self.model.predict(p.params) - self.data).reshape(p.n, len(self.linv), -1)
        return whiten_blocks(self.linv, r, p.ok)
