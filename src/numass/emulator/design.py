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


# Beyond the box in w0, up to W0_MAX, the emulator is carried by the late-time transfer
# (emulator/transfer.py): a point with w0 in (-0.2, W0_MAX], wa + TILT w0 <= TILT_MAX and every
# other coordinate inside the box takes its reference at w0 = -0.2 (the box's edge, so the two
# routes meet continuously there). DESI DR2 + CMB (arXiv:2503.14738) give w0 = -0.42 +- 0.21,
# wa = -1.75 +- 0.58 along a degeneracy on which wa falls by ~2.7 per unit of w0 (their fits with
# and without supernovae), reaching the prior's wa = -3 near w0 = 0: towards larger w0 the
# posterior lies along wa + 2.7 w0 ~ -2.9 and against wa = -3. The transfer's error grows with
# the distance from the reference and with how long dark energy stays dense (wa less negative):
# C_L^phiphi at L ~ 1000 was off by 1.1% at (w0, wa) = (0.2, -1.2) before the nonlinear response,
# 0.1-0.3% along the degeneracy. The served region is the band wa + 2.7 w0 <= -1.2 (1.7 above
# DESI's central line, ~3 sigma(wa); it holds (0.1, -1.5)), up to W0_MAX = 0.35 (> 3.6 sigma
# above DESI's w0; CAMB itself finds no H0(theta_MC) for some points beyond ~0.3); its accuracy,
# corners included, is measured in docs/emulator.md.
# The transfer's lensing change is linear about A_L = 1 (theory/latetime.lensing_change): it
# serves A_L within 0.2 of 1 (EE at l >= 30 reaches 0.08 sigma_CV at A_L ~ 1.4); no model samples
# w0 together with A_L (w0wa has A_L = 1).
# Below the box in wa, down to WA_MIN, the same transfer serves w0wa points with the reference's
# wa clipped to the box's edge -3 (and w0 clipped as above): the posterior on the full data
# piles against wa = -3 (DESI's prior and the box's edge), so a wider user prior needs the
# theory there. w0 + wa < -3.6 there: dark energy is yet more negligible at z* than in the box.
# WA_MIN = -5 lies below DESI's degeneracy line wa + 2.7 w0 ~ -2.9 for every served w0 <= 0.35
# (-3.8 at w0 = 0.35), i.e. > 2 sigma(wa) below the line; the low-ell TT (late ISW) is
# extrapolated along the move (transfer.low_ell_tt). Accuracy in docs/emulator.md.
W0_MAX = 0.35
WA_MIN = -5.0
TILT, TILT_MAX = 2.7, -1.2
A_L_RANGE = (0.8, 1.2)
SERVED_BOX = {**BOX, "w": (BOX["w"][0], W0_MAX), "wa": (WA_MIN, BOX["wa"][1])}
_IW, _IWA = PARAMS.index("w"), PARAMS.index("wa")


def in_box(x: np.ndarray) -> np.ndarray:
    """Boolean mask: rows of x (n, 10) inside the box with w0 + wa < W_SUM_MAX."""
    x = np.atleast_2d(x)
    inside = np.all((x >= LOW) & (x <= HIGH), axis=1)
    return inside & (x[:, _IW] + x[:, _IWA] < W_SUM_MAX)


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


def by_transfer(x: np.ndarray) -> np.ndarray:
    """Boolean mask: rows of x (n, 10) outside the box that the late-time transfer serves
    (w0 in (HIGH, W0_MAX] and/or wa in [WA_MIN, LOW), wa + TILT w0 <= TILT_MAX, A_L in
    A_L_RANGE, everything else inside the box)."""
    x = np.atleast_2d(x)
    ref = reference_rows(x)
    a_l = x[:, PARAMS.index("A_L")]
    w, wa = x[:, _IW], x[:, _IWA]
    return ((w > HIGH[_IW]) | (wa < LOW[_IWA])) & (w <= W0_MAX) & (wa >= WA_MIN) & in_box(ref) \
        & (wa + TILT * w <= TILT_MAX) & (a_l >= A_L_RANGE[0]) & (a_l <= A_L_RANGE[1])


def reference_rows(x: np.ndarray) -> np.ndarray:
    """The transfer's reference rows: w0 moved to the box's upper edge, wa to its lower edge
    (where beyond them; a copy)."""
    ref = np.array(np.atleast_2d(x), dtype=float)
    ref[:, _IW] = np.minimum(ref[:, _IW], HIGH[_IW])
    ref[:, _IWA] = np.maximum(ref[:, _IWA], LOW[_IWA])
    return ref


def served_w0wa(w, wa) -> np.ndarray:
    """Boolean mask: (w0, wa) pairs the 'emulator' backend serves when every other parameter is
    inside the box (and A_L in A_L_RANGE, as in every w0wa model): the box with w0 + wa <
    W_SUM_MAX, and the transfer's band beyond w0 = -0.2 and below wa = -3 (for a prior
    volume)."""
    w, wa = np.broadcast_arrays(np.asarray(w, dtype=float), np.asarray(wa, dtype=float))
    (wlo, whi), (alo, ahi) = BOX["w"], BOX["wa"]
    box = (w >= wlo) & (w <= whi) & (wa >= alo) & (wa <= ahi) & (w + wa < W_SUM_MAX)
    band = ((w > whi) | (wa < alo)) & (w >= wlo) & (w <= W0_MAX) & (wa >= WA_MIN) \
        & (wa <= ahi) & (wa + TILT * w <= TILT_MAX) & (w + wa < W_SUM_MAX)
    return box | band
