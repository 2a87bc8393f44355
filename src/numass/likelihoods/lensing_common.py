"""Shared pieces of the CMB-lensing band-power likelihoods (Planck PR4, ACT DR6, SPT-3G 2018).

All three have the same shape:

    model_b = sum_L W_bL X_L                                  (band windows on the lensing spectrum)
            + sum_k sum_L M^k_bL C^k_L  -  (M C_fid)_b        (linear correction, optional)
            + templates                                        (SPT foreground, optional)
    chi^2   = (d - model)^T Cov^-1 (d - model)

where X is C_L^pp in CAMB's [L(L+1)]^2 C_L/2pi (Planck, SPT) or C_L^kk = [L(L+1)]^2 C_L/4 (ACT),
and the correction spectra C^k are the lensed CMB D_ell (muK^2) and the lensing spectrum itself.
The correction accounts for the dependence of the lensing-reconstruction normalisation (and N0/N1
biases) on the true CMB spectra, linearised about the fiducial model of each collaboration.

A window is stored here as (weights, lmin): weights[b, i] multiplies the spectrum at L = lmin + i,
cut at the highest L where any weight is non-zero, so ``lmax`` is exactly what a likelihood reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg

from numass.data.store import load_text
from numass.errors import DataError, InputError
from numass.likelihoods._batch import quadratic_chi2, spectra_rows
from numass.theory.batch import BatchProducts
from numass.theory.products import Spectra, TheoryProducts

CMB_KEYS = ("tt", "te", "ee", "bb")
# spectrum keys a window can act on: the four lensed CMB D_ell and the lensing spectrum
SPECTRUM_KEYS = CMB_KEYS + ("pp", "kk")


def pp_to_kk(pp: np.ndarray) -> np.ndarray:
    """[L(L+1)]^2 C_L^pp / 2pi  ->  C_L^kk = [L(L+1)]^2 C_L^pp / 4."""
    return np.asarray(pp, dtype=float) * (2.0 * np.pi / 4.0)


@dataclass(frozen=True)
class Window:
    """Linear map from one spectrum (L = lmin .. lmin + n - 1) to the band powers."""

    key: str  # which spectrum it acts on: one of SPECTRUM_KEYS
    weights: np.ndarray  # (nbins, n)
    lmin: int

    @property
    def lmax(self) -> int:
        return self.lmin + self.weights.shape[1] - 1

    def apply(self, spectrum: np.ndarray) -> np.ndarray:
        """Band powers from a spectrum indexed by L from 0."""
        return self.weights @ spectrum[self.lmin: self.lmax + 1]


@dataclass(frozen=True)
class KeyOperator:
    """All windows on one spectrum, (L = lmin .. lmax) x (nbins + 1); the last column is ones."""

    key: str
    lmin: int
    lmax: int
    weights: np.ndarray


def make_window(key: str, ells: np.ndarray, weights: np.ndarray, lmin: int, lmax: int,
                dataset: str, file: str) -> Window:
    """Window from per-bin columns: ``weights[i, b]`` is the weight of bin b at L = ells[i].

    Rows outside [lmin, lmax] are dropped (as the reference codes do); the result is trimmed to the
    L range where any weight is non-zero.
    """
    if key not in SPECTRUM_KEYS:
        raise ValueError(f"unknown spectrum key {key!r}")
    ells = np.asarray(ells)
    if np.any(ells != np.round(ells)) or len(np.unique(ells)) != len(ells):
        raise DataError(dataset, file, "multipole column is not a list of distinct integers")
    ells = ells.astype(int)
    keep = (ells >= lmin) & (ells <= lmax)
    dense = np.zeros((weights.shape[1], lmax - lmin + 1))
    dense[:, ells[keep] - lmin] = weights[keep].T
    nonzero = np.flatnonzero(np.any(dense != 0, axis=0))
    if len(nonzero) == 0:
        raise DataError(dataset, file, f"window for '{key}' is identically zero")
    lo, hi = nonzero[0], nonzero[-1]
    return Window(key=key, weights=dense[:, lo: hi + 1].copy(), lmin=lmin + int(lo))


def load_shaped(dataset: str, relpath: str, data_dir, shape: tuple[int, ...],
                column: int | None = None) -> np.ndarray:
    """A text file as an array of the given shape (a vector from one ``column`` if given)."""
    arr = load_text(dataset, relpath, data_dir, ndmin=2)
    if column is not None:
        out = arr[:, column] if arr.shape[1] > column else np.empty(0)
    else:
        out = arr.ravel() if len(shape) == 1 else arr
    if out.shape != shape:
        raise DataError(dataset, relpath, f"has shape {arr.shape}, expected {shape}"
                        + (f" in column {column}" if column is not None else ""))
    return out


def stack_bin_files(columns: list[np.ndarray], dataset: str, file: str
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin window files (each: L, w_1, ..., w_k) -> (ells, weights[nL, nbins, k]).

    Files may list different L; the union is returned, missing entries are zero.
    """
    ells = np.unique(np.concatenate([c[:, 0] for c in columns]))
    ncol = columns[0].shape[1] - 1
    out = np.zeros((len(ells), len(columns), ncol))
    for b, c in enumerate(columns):
        if c.ndim != 2 or c.shape[1] != ncol + 1:
            raise DataError(dataset, file,
                            f"bin {b} window has shape {c.shape}, expected {ncol + 1} columns")
        out[np.searchsorted(ells, c[:, 0]), b, :] = c[:, 1:]
    return ells, out


def load_bin_windows(dataset: str, relpaths: list[str], ncol: int, data_dir
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin window files (columns: L, ``ncol`` weights) -> (ells, weights[nL, nbins, ncol])."""
    cols = []
    for rel in relpaths:
        arr = load_text(dataset, rel, data_dir, ndmin=2)
        if arr.shape[1] != ncol + 1:
            raise DataError(dataset, rel, f"has {arr.shape[1]} columns, expected {ncol + 1} "
                            f"(L and {ncol} weights)")
        cols.append(arr)
    return stack_bin_files(cols, dataset, relpaths[0].rsplit("/", 1)[0])


def inverse_covariance(cov: np.ndarray, dataset: str, file: str) -> np.ndarray:
    """Cov^-1 through a Cholesky factorisation; DataError if not symmetric positive definite."""
    cov = np.asarray(cov, dtype=float)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise DataError(dataset, file, f"covariance has shape {cov.shape}, expected square")
    scale = np.sqrt(np.diag(cov))
    if not np.allclose(cov, cov.T, rtol=1e-6, atol=1e-12 * np.max(np.abs(cov))):
        raise DataError(dataset, file, "covariance is not symmetric")
    try:
        # work with the correlation matrix: the raw entries are ~1e-16 and poorly scaled
        factor = scipy.linalg.cho_factor(cov / np.outer(scale, scale))
    except (np.linalg.LinAlgError, ValueError):
        raise DataError(dataset, file, "covariance is not positive definite") from None
    inv = scipy.linalg.cho_solve(factor, np.eye(len(cov))) / np.outer(scale, scale)
    return 0.5 * (inv + inv.T)


def spectrum_array(spectra: Spectra, key: str, lmax: int, who: str) -> np.ndarray:
    """One spectrum as an array indexed by L = 0..lmax, checked for length and finite values.

    ``key`` 'kk' is derived from 'pp'. Values at L < 2 are not read by any window.
    """
    source = "pp" if key == "kk" else key
    arr = np.asarray(getattr(spectra, source), dtype=float)
    ell = np.asarray(spectra.ell)
    if arr.ndim != 1 or arr.shape != ell.shape:
        raise InputError(f"{who}: spectrum '{source}' has shape {arr.shape}, expected {ell.shape}")
    if len(arr) <= lmax:
        raise InputError(f"{who} needs the '{source}' spectrum up to L = {lmax}, "
                         f"got lmax = {len(arr) - 1}")
    arr = arr[: lmax + 1]
    if not np.all(np.isfinite(arr[2:])):
        raise InputError(f"{who}: spectrum '{source}' contains NaN or infinite values")
    return pp_to_kk(arr) if key == "kk" else arr


class BandpowerModel:
    """Band windows + optional linear correction + optional templates, and the Gaussian chi^2."""

    def __init__(self, data: np.ndarray, inv_cov: np.ndarray, band: Window,
                 correction: list[Window] | None = None,
                 fiducial_correction: np.ndarray | None = None,
                 templates: dict[str, np.ndarray] | None = None):
        self.data = np.asarray(data, dtype=float)
        self.inv_cov = inv_cov
        self.band = band
        self.correction = list(correction or [])
        self.fiducial_correction = (np.zeros(len(self.data)) if fiducial_correction is None
                                    else np.asarray(fiducial_correction, dtype=float))
        self.templates = dict(templates or {})  # nuisance name -> binned template (amplitude 1)
        n = len(self.data)
        for w in [band, *self.correction]:
            if w.weights.shape[0] != n:
                raise ValueError(f"window for '{w.key}' has {w.weights.shape[0]} bins, "
                                 f"data has {n}")

    @property
    def windows(self) -> list[Window]:
        return [self.band, *self.correction]

    @property
    def lmax(self) -> int:
        return max(w.lmax for w in self.windows)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w.key for w in self.windows))

    def model(self, arrays: dict[str, np.ndarray], amplitudes: dict[str, float] | None = None,
              cmb_scale: float = 1.0) -> np.ndarray:
        """Model band powers from spectra indexed by L (``arrays[key]``).

        ``cmb_scale`` multiplies the CMB spectra in the correction (Planck's 1/A_planck^2);
        ``amplitudes`` gives each template's amplitude. (``model_rows`` on one row gives the same
        to rounding but was measured twice as slow for a single point, so this path applies one
        window at a time.)
        """
        out = self.band.apply(arrays[self.band.key])
        if self.correction:
            corr = -self.fiducial_correction
            for w in self.correction:
                term = w.apply(arrays[w.key])
                corr = corr + (term * cmb_scale if w.key in CMB_KEYS else term)
            out = out + corr
        for name, template in self.templates.items():
            out = out + (amplitudes or {})[name] * template
        return out

    @cached_property
    def operators(self) -> list[KeyOperator]:
        """One operator per spectrum key: the windows on that key summed (the band window and the
        correction on the lensing spectrum share one), so each spectrum is read once."""
        out = []
        for key in self.keys:
            windows = [w for w in self.windows if w.key == key]
            lo, hi = min(w.lmin for w in windows), max(w.lmax for w in windows)
            weights = np.zeros((hi - lo + 1, len(self.data) + 1))
            for w in windows:
                weights[w.lmin - lo: w.lmax - lo + 1, :-1] += w.weights.T
            weights[:, -1] = 1.0  # a NaN or inf read anywhere makes this column non-finite
            out.append(KeyOperator(key, lo, hi, weights))
        return out

    def model_rows(self, arrays: dict[str, np.ndarray],
                   amplitudes: dict[str, np.ndarray] | None = None,
                   cmb_scale: np.ndarray | None = None, kk_from_pp: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(model band powers (n, nbins), bool (n,): every spectrum value read is finite) from
        spectra (n, >= lmax + 1) indexed by L. ``cmb_scale`` (n,) and each template amplitude (n,)
        as in ``model``, one value per row; with ``kk_from_pp``, ``arrays['kk']`` holds the pp
        spectrum and the conversion factor is applied to the band powers instead."""
        nbins = len(self.data)
        out = -self.fiducial_correction if self.correction else np.zeros(nbins)
        finite = np.ones(len(next(iter(arrays.values()))), dtype=bool)
        for op in self.operators:
            term = arrays[op.key][:, op.lmin: op.lmax + 1] @ op.weights
            finite &= np.isfinite(term[:, nbins])  # the sum of the values read
            term = term[:, :nbins]
            if op.key == "kk" and kk_from_pp:
                term = pp_to_kk(term)
            if op.key in CMB_KEYS and cmb_scale is not None:
                term = term * cmb_scale[:, None]
            out = out + term
        for name, template in self.templates.items():
            out = out + (amplitudes or {})[name][:, None] * template
        return out, finite

    def chi2(self, model: np.ndarray) -> float:
        r = self.data - model
        return float(r @ self.inv_cov @ r)

    def chi2_rows(self, model: np.ndarray) -> np.ndarray:
        """chi^2 of each row of ``model`` (n, nbins)."""
        return quadratic_chi2(self.data - model, self.inv_cov)



def spectra_arrays(theory: TheoryProducts, keys, lmax: int, who: str) -> dict[str, np.ndarray]:
    """The spectra a model reads, validated, as arrays indexed by L = 0..lmax."""
    spectra = theory.need_spectra(who)
    return {k: spectrum_array(spectra, k, lmax, who) for k in keys}


def spectra_rows_arrays(theory: BatchProducts, model: BandpowerModel, n: int, who: str
                        ) -> dict[str, np.ndarray]:
    """key -> spectra (n, lmax + 1) indexed by L, for ``model_rows(..., kk_from_pp=True)``:
    'kk' is the pp array itself (views, no copies)."""
    return {k: spectra_rows(theory, "pp" if k == "kk" else k, 0, model.lmax, n, who)
            for k in model.keys}


def finite_nuisance_rows(values: dict[str, np.ndarray]) -> np.ndarray | bool:
    """bool (n,): every nuisance value of the row finite (the batched ``finite_nuisance``);
    True, for every row, without nuisance parameters."""
    arrays = list(values.values())
    return np.logical_and.reduce([np.isfinite(a) for a in arrays]) if arrays else True


def finite_nuisance(values: dict[str, float], who: str) -> dict[str, float]:
    for name, v in values.items():
        if not np.isfinite(v):
            raise InputError(f"{who}: nuisance parameter '{name}' must be finite, got {v}")
    return values


def check_variant(variant: str, known, who: str) -> str:
    if variant not in known:
        raise InputError(f"{who}: unknown variant '{variant}'; choose one of {', '.join(known)}")
    return variant


def check_no_options(options: dict, who: str, known: str) -> None:
    if options:
        raise InputError(f"{who}: unknown option(s) {sorted(options)}; known: {known}")
