"""Noise spectra and Gaussian covariances of the synthetic likelihoods, and their whitening
(pure functions)."""
from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np

from numass.errors import DataError

ARCMIN = np.pi / 180.0 / 60.0


def nan_failed(ok: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out`` (n, m) with the rows whose theory failed (``ok`` False) set to NaN."""
    out[~np.asarray(ok, dtype=bool)] = np.nan
    return out


def whiten_blocks(linv: np.ndarray, r: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """L_b^-1 r_b for every block b of the residuals r (n, n_blocks, m), with linv (n_blocks,
    m, m) the blocks' inverse Cholesky factors: (n, n_blocks m), failed rows NaN."""
    return nan_failed(ok, np.einsum("bij,nbj->nbi", linv, r).reshape(len(r), -1))


def white_noise_cl(ell: np.ndarray, noise_uk_arcmin: float, beam_fwhm_arcmin: float) -> np.ndarray:
    """N_ell [muK^2] of white noise deconvolved by a Gaussian beam (Knox 1995)."""
    sigma_b = beam_fwhm_arcmin * ARCMIN / np.sqrt(8.0 * np.log(2.0))
    return (noise_uk_arcmin * ARCMIN) ** 2 * np.exp(ell * (ell + 1.0) * sigma_b ** 2)


def cl_to_dl(ell: np.ndarray, cl: np.ndarray) -> np.ndarray:
    return ell * (ell + 1.0) * cl / (2.0 * np.pi)


def pp_to_kappa(ell: np.ndarray, pp: np.ndarray) -> np.ndarray:
    """CAMB's [L(L+1)]^2 C_L^phiphi / 2pi -> C_L^kappakappa = [L(L+1)]^2 C_L^phiphi / 4."""
    return pp * 2.0 * np.pi / 4.0 + 0.0 * ell


def cmb_block_cov(tt, te, ee, ntt, nee, ell, fsky):
    """(n_ell, 3, 3) Gaussian covariance of (TT, TE, EE) at each ell (noise added to TT, EE).

    Cov(XY, WZ) = (C^XW C^YZ + C^XZ C^YW) / ((2 ell + 1) f_sky).
    """
    t, c, e = tt + ntt, te, ee + nee
    cov = np.empty((len(ell), 3, 3))
    cov[:, 0, 0] = 2 * t * t
    cov[:, 1, 1] = c * c + t * e
    cov[:, 2, 2] = 2 * e * e
    cov[:, 0, 1] = cov[:, 1, 0] = 2 * t * c
    cov[:, 0, 2] = cov[:, 2, 0] = 2 * c * c
    cov[:, 1, 2] = cov[:, 2, 1] = 2 * c * e
    return cov / ((2 * ell + 1.0) * fsky)[:, None, None]


def bandpower_matrix(lmin: int, lmax: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(edges (nb+1,), B (nb, lmax-lmin+1)): flat averages over bins [lo, lo + width)."""
    edges = np.arange(lmin, lmax + 2, width)
    if edges[-1] != lmax + 1:
        edges = np.append(edges, lmax + 1)
    ells = np.arange(lmin, lmax + 1)
    b = np.zeros((len(edges) - 1, len(ells)))
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        sel = (ells >= lo) & (ells < hi)
        b[i, sel] = 1.0 / sel.sum()
    return edges, b


def bandpower_variance(ell: np.ndarray, signal: np.ndarray, noise: np.ndarray, fsky: float,
                       b: np.ndarray) -> np.ndarray:
    """Variance of flat bandpowers B C of a Gaussian field: sum_L B_bL^2 2 (C+N)^2/((2L+1) fsky)."""
    var_l = 2.0 * (signal + noise) ** 2 / ((2 * ell + 1.0) * fsky)
    return (b ** 2) @ var_l


def pyfisher_data_dir() -> Path | None:
    """pyfisher's data folder, found without importing pyfisher (its import pulls in heavy
    plotting packages); None when it is not installed."""
    spec = importlib.util.find_spec("pyfisher")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "lensing_nl"


# column of the minimum-variance gradient-mode noise in pyfisher's SO/S4 files (the file header:
# ells, N_TT, N_TE, N_EE, N_TB, N_EB, N_Pol, N_MV, then the curl columns)
MV_COLUMN = 7


def lensing_noise_kappa(filename: str, ell: np.ndarray) -> np.ndarray:
    """N_L^kappakappa of pyfisher's file at the multipoles ``ell`` (linear interpolation)."""
    folder = pyfisher_data_dir()
    if folder is None:
        raise DataError("pyfisher", filename, "pyfisher is not installed: the SO / CMB-S4 "
                        "lensing noise curves come from it",
                        fix="pip install -e '.[forecast]' (or pip install pyfisher), or leave "
                            "so_lensing and s4_lensing out of --experiments")
    path = folder / filename
    try:
        table = np.loadtxt(path, comments="#")
    except (OSError, ValueError) as exc:
        raise DataError("pyfisher", filename, f"unreadable ({exc.__class__.__name__})",
                        fix="reinstall pyfisher (pip install --force-reinstall pyfisher)") \
            from None
    return np.interp(ell, table[:, 0], table[:, MV_COLUMN])
