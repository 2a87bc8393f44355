"""Shared pieces of the batched likelihoods (``loglike_batch``): input checks on a BatchProducts
and the Gaussian chi^2 of many rows at once.

Conventions. A batch has n rows. The caller's mistakes (an array of the wrong shape, a product
the likelihood needs but the theory lacks) raise InputError for the whole batch. A row's own
failure (``theory.ok`` False, a NaN or infinite parameter, nuisance value or theory product, a
calibration <= 0) gives ln L = -inf for that row only, and never raises: a sampler proposing
thousands of points needs every other row's value.
"""
from __future__ import annotations

import numpy as np

from numass.errors import InputError
from numass.theory.batch import BatchProducts


def batch_size(theory: BatchProducts, who: str) -> int:
    """n, after checking that ``theory`` is a BatchProducts whose ``ok`` is a bool array (n,)."""
    if not isinstance(theory, BatchProducts):
        raise InputError(f"{who}: loglike_batch takes a BatchProducts, got "
                         f"{type(theory).__name__} (use loglike for a single point)")
    ok = np.asarray(theory.ok)
    if ok.ndim != 1 or ok.dtype != bool or len(ok) == 0:
        raise InputError(f"{who}: theory.ok must be a non-empty bool array (n,), got "
                         f"{ok.dtype} array of shape {ok.shape}")
    return len(ok)


def row_vector(value, n: int, what: str, who: str) -> np.ndarray:
    """A scalar or an (n,) array as a float array (n,); any other shape is InputError."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{who}: {what} is not numeric: {value!r}") from None
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(f"{who}: {what} has shape {arr.shape}; expected a scalar or ({n},), "
                         f"one value per point of the batch")
    return arr


def param_rows(theory: BatchProducts, name: str, n: int, who: str) -> np.ndarray:
    """The cosmological parameter ``name`` of every row, (n,)."""
    if name not in theory.params:
        raise InputError(f"likelihood '{who}' needs the parameter '{name}'")
    return row_vector(theory.params[name], n, f"parameter '{name}'", who)


def nuisance_rows(lik, nuisance: dict | None, n: int) -> dict[str, np.ndarray]:
    """The likelihood's nuisance parameters as arrays (n,): defaults (prior centres) overridden by
    the values given. Every given value is shape-checked, also those of other likelihoods (the
    inference layer hands one dict to all), so a wrong length never passes silently."""
    who = lik.id or type(lik).__name__
    given = {k: row_vector(v, n, f"nuisance parameter '{k}'", who)
             for k, v in (nuisance or {}).items()}
    return {p.name: given.get(p.name, np.full(n, float(p.default))) for p in lik.nuisance}


def calibration_rows(cal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(calibration with the invalid entries set to 1, bool (n,): finite and > 0). A calibration
    (A_planck) <= 0 has no likelihood: -inf for that row, where ``loglike`` raises InputError."""
    good = np.isfinite(cal) & (cal > 0)
    return np.where(good, cal, 1.0), good


def spectra_rows(theory: BatchProducts, key: str, lmin: int, lmax: int, n: int,
                 who: str) -> np.ndarray:
    """Spectrum ``key`` at ell = lmin..lmax of every row, (n, lmax - lmin + 1) (a view).

    The spectra must be (n, lmax_theory + 1) arrays on ``ell`` = 0..lmax_theory.
    """
    spectra = theory.spectra
    if spectra is None:
        raise InputError(f"likelihood '{who}' needs CMB spectra but the theory provided none")
    ell = np.asarray(spectra.ell)
    arr = np.asarray(getattr(spectra, key))
    if ell.ndim != 1 or arr.shape != (n, len(ell)):
        raise InputError(f"{who}: batched spectrum '{key}' has shape {arr.shape}; expected "
                         f"(n, lmax+1) = ({n}, {len(ell)}), one row per point on ell = 0..lmax")
    if len(ell) <= lmax:
        raise InputError(f"{who} needs spectra up to ell = {lmax}, got lmax = {len(ell) - 1}")
    return arr[:, lmin: lmax + 1]


def finite_rows(arr: np.ndarray) -> np.ndarray:
    """bool (n,): every entry of the row finite. One summation pass: a NaN or inf anywhere makes
    the row sum non-finite (values large enough to overflow the sum are no spectrum either)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.isfinite(np.sum(arr, axis=1))


def whitened_chi2(resid: np.ndarray, whiten: np.ndarray) -> np.ndarray:
    """chi^2 of each row of ``resid`` (n, k) given the whitening matrix L^-1 (k, k), C = L L^T."""
    white = resid @ whiten.T
    return np.einsum("ij,ij->i", white, white)


def quadratic_chi2(resid: np.ndarray, inv_cov: np.ndarray) -> np.ndarray:
    """r^T C^-1 r of each row of ``resid`` (n, k)."""
    return np.einsum("ij,ij->i", resid @ inv_cov, resid)


def loglike_rows(chi2: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """-chi^2/2 where the row is valid and chi^2 finite, -inf elsewhere."""
    good = valid & np.isfinite(chi2)
    return np.where(good, -0.5 * np.where(good, chi2, 0.0), -np.inf)
