"""Published figures embedded in numass, so that the default analysis needs no data directory.

Each table is typed from its publication (facts and numbers, with the citation); tests check
them against the full data files where those are available.
"""
from __future__ import annotations

import numpy as np

# DESI DR2 BAO, all tracers (DESI Collaboration 2025, arXiv:2503.14738, Table IV), at the
# published precision: (tracer, z_eff, [(quantity, value, sigma)], correlation D_M-D_H).
DESI_DR2_BAO_CITATION = "DESI Collaboration 2025, DESI DR2 Results II, arXiv:2503.14738, Table IV"
DESI_DR2_BAO = (
    ("BGS", 0.295, (("DV_over_rs", 7.942, 0.076),), None),
    ("LRG1", 0.510, (("DM_over_rs", 13.588, 0.168), ("DH_over_rs", 21.863, 0.429)), -0.452),
    ("LRG2", 0.706, (("DM_over_rs", 17.351, 0.180), ("DH_over_rs", 19.455, 0.334)), -0.395),
    ("LRG3+ELG1", 0.934, (("DM_over_rs", 21.576, 0.162), ("DH_over_rs", 17.641, 0.201)), -0.347),
    ("ELG2", 1.321, (("DM_over_rs", 27.601, 0.325), ("DH_over_rs", 14.176, 0.225)), -0.398),
    ("QSO", 1.484, (("DM_over_rs", 30.512, 0.764), ("DH_over_rs", 12.817, 0.518)), -0.494),
    ("Lya", 2.330, (("DM_over_rs", 38.989, 0.532), ("DH_over_rs", 8.632, 0.101)), -0.431),
)


def desi_dr2_bao_covariance() -> np.ndarray:
    """The 13 x 13 covariance of the embedded DR2 table (sigmas and D_M-D_H correlations)."""
    return desi_dr2_bao_table()[3]


def desi_dr2_bao_table() -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, list[str]]:
    """(z, quantities, values, covariance, tracer of each row) of the embedded DR2 table."""
    z: list[float] = []
    value: list[float] = []
    sigmas: list[float] = []
    quantity: list[str] = []
    tracer: list[str] = []
    blocks: list[tuple[int, int, float | None]] = []
    for name, zeff, rows, corr in DESI_DR2_BAO:
        start = len(value)
        for q, v, s in rows:
            z.append(zeff)
            quantity.append(q)
            value.append(v)
            sigmas.append(s)
            tracer.append(name)
        blocks.append((start, len(rows), corr))
    sigma = np.array(sigmas)
    cov = np.diag(sigma**2)
    for start, n, corr in blocks:
        if n == 2 and corr is not None:
            cov[start, start + 1] = cov[start + 1, start] = corr * sigma[start] * sigma[start + 1]
    return np.array(z), quantity, np.array(value), cov, tracer


# The compressed CMB likelihood DESI DR2 uses with BAO (arXiv:2503.14738 v3, Appendix A, Eqs. 35-36;
# after Lemos & Lewis 2023, arXiv:2302.12911), derived from Planck PR4 (CamSpec) + low-ell TT/EE
# chains: a Gaussian in (theta_*, omega_b, omega_bc). theta_* is the angle itself in radians
# (r_s(z*)/D_M(z*), CAMB's thetastar/100, NOT 100 theta_* and not theta_MC); omega_bc =
# omega_b + omega_c excludes neutrinos. The paper prints the means to 5 decimals; the unrounded
# values of DESI's public Cobaya likelihood (0.01041027, 0.02223208, 0.14207901) are within 0.1
# sigma of them (tests/test_cmb_compressed.py), and numass uses the printed ones. (Not to be confused with the paper's theta_*-only prior,
# 100 theta_* = 1.04110 +- 0.00053.)
CMB_COMPRESSED_CITATION = ("DESI Collaboration 2025, arXiv:2503.14738, Appendix A (compressed CMB "
                           "likelihood after Lemos & Lewis 2023, arXiv:2302.12911)")
CMB_COMPRESSED_MEAN = np.array([0.01041, 0.02223, 0.14208])  # theta_* [rad], omega_b, omega_bc
CMB_COMPRESSED_COV = 1e-9 * np.array([
    [0.006621, 0.12444, -1.1929],
    [0.12444, 21.344, -94.001],
    [-1.1929, -94.001, 1488.4],
])
