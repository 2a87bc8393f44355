"""Euclid spectroscopic galaxy clustering as compressed observables: D_M/r_d, D_H/r_d and fσ8 in
four redshift bins, with the covariance of a Fisher matrix computed once.

Survey (Euclid IST:F, arXiv:1910.09273, Sect. 3.1; the numbers in forecast/specs.py): Hα
galaxies in z = [0.9, 1.1], [1.1, 1.3], [1.3, 1.5], [1.5, 1.8] with number densities n and
linear biases b per bin, over 15 000 deg².

Covariance (the same for every truth and hypothesis): a Fisher matrix of the redshift-space
galaxy power spectrum at numass's fiducial cosmology (CAMB, linear P(k) at z = 0),
P_g(k, μ) = (bσ8 + fσ8 μ²)² P_lin(k)/σ8² (Kaiser 1987), seen through the Alcock-Paczynski
dilation k⊥ → k⊥ D_M,fid/D_M, k∥ → k∥ D_H,fid/D_H with the volume factor
(D_M,fid² D_H,fid)/(D_M² D_H), and Gaussian mode counting (Tegmark 1997):
F_ab = V/(8π²) ∫_{−1}^{1} dμ ∫ k² dk ∂_a ln P ∂_b ln P [nP/(1+nP)]², k from 0.001 to the
spec's 0.25 h/Mpc (IST:F's pessimistic cut; a choice), parameters (ln D_M, ln D_H, fσ8, bσ8),
bσ8 marginalised. Two dampings along the line of sight, fixed at the fiducial (IST:F's forms,
as functions of the observed k∥): the Fingers of God 1/(1 + (f σ_p k∥)²) with
σ_p² = ∫ P_lin dk/(6π²), and the redshift error exp(−k∥² σ_r²), σ_r = c 0.001 (1+z)/H(z). The BAO and the broadband shape both inform D_M and
D_H (the shape of P_lin is held at the fiducial's); no non-linear damping of the BAO wiggles, no
shot-noise or σ_p nuisance: the errors are on the optimistic side of IST:F's.

Model (batched, exact for all six hypotheses): D_M, D_H and r_d from the hypothesis's batched
background, fσ8(z) = f(z) σ8 D(z)/D(0), D the scale-independent growth of CDM + baryons
(limber_batch.growth_rows on the background's H(z)), f = d ln D/d ln a by a central difference
in ln a, σ8 the theory's derived σ8 (for Σmν,eff < 0 the mirror of every product applies).
The residual is in (ln(D_M/r_d), ln(D_H/r_d), fσ8).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from numass.forecast.noise import whiten_blocks
from numass.theory.batch import BatchProducts
from numass.theory.limber_batch import growth_rows
from numass.theory.products import C_KM_S

DEG2_SKY = 4 * np.pi * (180 / np.pi) ** 2
K_MIN = 1e-3  # h/Mpc; k_max is the spec's kmax_h_Mpc
DLNA = 0.01  # the central difference of ln D in ln a
SIGMA_Z = 0.001  # Euclid's spectroscopic redshift error, times (1 + z) (IST:F)


def growth_and_rate(hubble, omega_cb: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D, f) at z (n, len(z)) of n backgrounds: D from limber_batch.growth_rows, f = d ln D /
    d ln a by a central difference of DLNA in ln a."""
    z = np.asarray(z, float)
    lna, n = -np.log1p(z), len(z)
    d = growth_rows(hubble, omega_cb, np.concatenate([z, np.expm1(-(lna - DLNA)),
                                                      np.expm1(-(lna + DLNA))]))
    return d[:, :n], (np.log(d[:, 2 * n:]) - np.log(d[:, n:2 * n])) / (2 * DLNA)


def growth_rate_sigma8(products: BatchProducts, z: np.ndarray) -> np.ndarray:
    """fσ8 (n, len(z)) of every row (module docstring)."""
    bg = products.background
    assert bg is not None  # the forecast asks for the background
    omega_cb = np.asarray(products.params["ombh2"], float) + np.asarray(products.params["omch2"],
                                                                         float)
    failed = ~np.asarray(products.ok, dtype=bool)

    def hubble(zq):  # rows where the theory failed get a placeholder history, NaN below
        h = np.array(bg.H(zq), dtype=float)
        failed[~np.all(np.isfinite(h) & (h > 0), axis=1)] = True
        h[failed] = 100.0
        return h

    d, f = growth_and_rate(hubble, np.broadcast_to(omega_cb, (products.n,)),
                           np.concatenate([[0.0], np.asarray(z, float)]))
    sigma8 = np.asarray(products.derived["sigma8"], float)
    out = f[:, 1:] * sigma8[:, None] * d[:, 1:] / d[:, :1]
    out[failed] = np.nan
    return out


def spec_observables(products: BatchProducts, z: np.ndarray) -> np.ndarray:
    """(n, len(z), 3): ln(D_M/r_d), ln(D_H/r_d), fσ8 at the bins' centres."""
    bg = products.background
    assert bg is not None
    rd = np.asarray(bg.rdrag, float).reshape(-1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dm, dh = np.log(bg.DM(z) / rd), np.log(bg.DH(z) / rd)
    return np.stack([dm, dh, growth_rate_sigma8(products, z)], axis=-1)


def log_power(k, mu, theta, fid_pk, sigma8_fid, fog: float, sigma_r: float) -> np.ndarray:
    """ln P_g observed at (k, μ) [h/Mpc] for theta = (ln α⊥, ln α∥, fσ8, bσ8); ``fog`` = f σ_p
    and ``sigma_r`` [Mpc/h] of the Fingers-of-God and redshift-error dampings, fixed functions of
    the observed k∥ (so that they add no spurious Alcock-Paczynski information)."""
    a_perp, a_par = np.exp(theta[0]), np.exp(theta[1])
    q = np.sqrt(mu ** 2 / a_par ** 2 + (1 - mu ** 2) / a_perp ** 2)
    kt, mut = k * q, mu / a_par / q
    kpar2 = (k * mu) ** 2  # observed: the dampings carry no distance information
    damp = np.exp(-kpar2 * sigma_r ** 2) / (1.0 + kpar2 * fog ** 2)
    pg = (theta[3] + theta[2] * mut ** 2) ** 2 * fid_pk(kt) / sigma8_fid ** 2 * damp
    return np.log(pg / (a_perp ** 2 * a_par))


def bin_fisher(zlo, zhi, n_gal, bias, fsky, kmax, fid) -> np.ndarray:
    """4 × 4 Fisher matrix of (ln D_M, ln D_H, fσ8, bσ8) in one redshift bin."""
    h = fid["h"]
    zc = 0.5 * (zlo + zhi)
    vol = fsky * 4 * np.pi / 3 * (fid["DM"](zhi) ** 3 - fid["DM"](zlo) ** 3) * h ** 3
    s8z, fz = fid["sigma8_z"](zc), fid["f"](zc)
    theta0 = np.array([0.0, 0.0, fz * s8z, bias * s8z])
    damping = (fz * fid["sigma_p0"] * s8z / fid["sigma8_z"](0.0),
               C_KM_S * SIGMA_Z * (1 + zc) / fid["H"](zc) * h)
    k = np.linspace(K_MIN, kmax, 600)[:, None]
    mu = np.linspace(-1, 1, 201)[None, :]
    eps = np.array([1e-4, 1e-4, 1e-4 * theta0[2], 1e-4 * theta0[3]])
    grads = []
    for a in range(4):
        d = np.zeros(4)
        d[a] = eps[a]
        grads.append((log_power(k, mu, theta0 + d, fid["pk"], s8z, *damping)
                      - log_power(k, mu, theta0 - d, fid["pk"], s8z, *damping)) / (2 * eps[a]))
    p = np.exp(log_power(k, mu, theta0, fid["pk"], s8z, *damping))
    w = (n_gal * p / (1 + n_gal * p)) ** 2 * k ** 2 * vol / (8 * np.pi ** 2)
    f = np.empty((4, 4))
    for a in range(4):
        for b in range(a, 4):
            f[a, b] = f[b, a] = np.trapezoid(np.trapezoid(grads[a] * grads[b] * w, mu[0],
                                                          axis=1), k[:, 0])
    return f


def fiducial() -> dict:
    """numass's fiducial cosmology: its background, growth and linear P(k) (h units, CAMB)."""
    import camb

    from numass.forecast.shear_theory import early_params
    from numass.parameters import PARAMS
    from numass.theory.background import compute_background
    from numass.theory.camb_backend import CambBackend
    from numass.theory.reference import DENSITIES

    point = {k: PARAMS[k].fiducial for k in ("ombh2", "omch2", "ns", "tau")}
    point["logA"] = float(np.log(1e10 * PARAMS["As"].fiducial))
    p = early_params(point, PARAMS["mnu"].fiducial, PARAMS["H0"].fiducial)
    bg = compute_background({k: p[k] for k in ("H0", *DENSITIES)})
    pars = CambBackend().camb_params(p, frozenset())
    pars.set_matter_power(redshifts=[0.0], kmax=2.0, silent=True)
    pars.WantCls = False
    res = camb.get_results(pars)
    h = p["H0"] / 100.0
    kh, _, pk = res.get_linear_matter_power_spectrum(hubble_units=True, k_hunit=True)
    sigma8 = float(np.ravel(res.get_sigma8())[-1])
    zs = np.linspace(0.0, 2.0, 201)
    d, f = (v[0] for v in growth_and_rate(lambda z: np.atleast_2d(bg.H(z)),
                                          np.array([p["ombh2"] + p["omch2"]]), zs))
    # IST:F's velocity dispersion sigma_p^2 = (1/6 pi^2) int P_lin dk at z = 0 [(Mpc/h)^2]
    sigma_p0 = float(np.sqrt(np.trapezoid(pk[0], kh) / (6 * np.pi ** 2)))
    return {"h": h, "DM": lambda z: float(bg.DM(z)), "H": lambda z: float(bg.H(z)),
            "sigma_p0": sigma_p0,
            "pk": lambda k: np.exp(np.interp(np.log(k), np.log(kh), np.log(pk[0]))),
            "sigma8_z": lambda z: sigma8 * float(np.interp(z, zs, d / d[0])),
            "f": lambda z: float(np.interp(z, zs, f))}


@lru_cache(maxsize=4)
def bin_covariances(spec_key: tuple) -> np.ndarray:
    """(n_bins, 3, 3) covariance of (ln D_M, ln D_H, fσ8) per bin, bσ8 marginalised."""
    s = dict(spec_key)
    fid = fiducial()
    fsky = s["area_deg2"] / DEG2_SKY
    out = []
    for (lo, hi), n_gal, b in zip(s["z_edges"], s["n_h3_Mpc3"], s["bias"]):
        fisher = bin_fisher(lo, hi, n_gal, b, fsky, s["kmax_h_Mpc"], fid)
        out.append(np.linalg.inv(fisher)[:3, :3])
    return np.array(out)


class EuclidSpecMock:
    """ln(D_M/r_d), ln(D_H/r_d), fσ8 at the bins' centres; the fixed per-bin covariance."""

    def __init__(self, exp, truth: BatchProducts):
        s = exp.spec
        self.z = np.array([0.5 * (lo + hi) for lo, hi in s["z_edges"]])
        cov = bin_covariances(tuple(sorted(s.items())))
        self.linv = np.linalg.inv(np.linalg.cholesky(cov))
        self.data = spec_observables(truth, self.z)[0]

    def residual(self, p: BatchProducts) -> np.ndarray:
        return whiten_blocks(self.linv, spec_observables(p, self.z) - self.data, p.ok)
