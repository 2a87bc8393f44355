"""The emulator's parameter box and its training design.

The box covers, with margin, the posteriors of the six hypotheses on Planck + DESI + lensing
(docs/compare.md): Planck 2018 ranges +-7 sigma or more for the LCDM parameters, the tau ladder
(0.02-0.12, with A_s free over the range A_s e^-2tau allows), Sigma m_nu up to 0.6 eV (the
effective-mass mirror at |Sigma m_nu,eff| <= 0.5 eV needs m = 0 and m = |Sigma m_nu,eff|), the
w0wa region DESI + CMB allow (w0 + wa < 0), and A_L from 0.5 to 1.8 (TT-only and TE/EE-only fits).
A_lens (the amplitude of C_L^phiphi alone) is an exact overall factor and is not emulated.
"""
from __future__ import annotations

import numpy as np

# name: (low, high); the order is the network's input order
BOX = {
    "ombh2": (0.0214, 0.0234),
    "omch2": (0.108, 0.130),
    "theta_MC_100": (1.0385, 1.0435),
    "logA": (2.92, 3.22),
    "ns": (0.93, 1.00),
    "tau": (0.02, 0.12),
    "mnu": (0.0, 0.6),
    "w": (-1.6, -0.2),
    "wa": (-3.0, 1.0),
    "A_L": (0.5, 1.8),
}
PARAMS = tuple(BOX)
LOW = np.array([v[0] for v in BOX.values()])
HIGH = np.array([v[1] for v in BOX.values()])
# fixed in training (the models' defaults): N_eff, one massive eigenstate, T_CMB
FIXED = {"nnu": 3.044, "nu_states": 1, "TCMB": 2.7255}
# w0 + wa (w at early times) must stay below this: the region -0.7 < w0 + wa < 0, where dark
# energy tracks matter at early times, changes the spectra so much (C_L^phiphi by up to a factor 4
# at fixed theta_MC) that it would cost most of the emulator's accuracy, and no posterior of the
# six hypotheses reaches it (DESI DR2 + CMB: w0 + wa ~ -2.2 +- 0.4).
W_SUM_MAX = -0.7


def in_box(x: np.ndarray) -> np.ndarray:
    """Boolean mask: rows of x (n, 10) inside the box with w0 + wa < W_SUM_MAX."""
    x = np.atleast_2d(x)
    inside = np.all((x >= LOW) & (x <= HIGH), axis=1)
    iw, iwa = PARAMS.index("w"), PARAMS.index("wa")
    return inside & (x[:, iw] + x[:, iwa] < W_SUM_MAX)


def latin_hypercube(n: int, seed: int, shrink: float = 1.0) -> np.ndarray:
    """n points of a scrambled Latin hypercube in the box (optionally shrunk about its centre
    by ``shrink``, for held-out points in the box's core), w0 + wa < W_SUM_MAX by rejection."""
    from scipy.stats import qmc

    rng = np.random.default_rng(seed)
    centre, half = (LOW + HIGH) / 2, (HIGH - LOW) / 2 * shrink
    out = np.empty((0, len(PARAMS)))
    while len(out) < n:
        u = qmc.LatinHypercube(d=len(PARAMS), seed=rng).random(2 * n)
        x = centre - half + 2 * half * u
        out = np.vstack([out, x[in_box(x)]])
    return out[:n]


def as_params(row: np.ndarray) -> dict[str, float]:
    """A design row as a backend parameter dict."""
    return {**FIXED, **{k: float(v) for k, v in zip(PARAMS, row)}}
