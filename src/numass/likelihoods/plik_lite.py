"""Planck 2018 high-ell plik_lite (v22): foreground-marginalised binned TT, TE, EE band powers.

chi^2 = (X_data - X_model / A_planck^2)^T C^-1 (X_data - X_model / A_planck^2), where X_model are
the theory C_ell binned with the official weights (Planck 2018 V, arXiv:1907.12875; the python
port conventions of Prince & Dunkley 2019, arXiv:1909.05869, and Cobaya's native plik_lite).
Sub-selections (TT, TE, EE) keep the matching blocks of the full covariance.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

from numass.data.store import dataset_file, load_text
from numass.errors import DataError, InputError
from numass.likelihoods._batch import (
    batch_size,
    calibration_rows,
    finite_rows,
    loglike_rows,
    nuisance_rows,
    spectra_rows,
    whitened_chi2,
)
from numass.likelihoods.base import Likelihood, Nuisance
from numass.theory.batch import BatchProducts
from numass.theory.products import TheoryProducts

DATASET = "planck2018_lite"
SUBDIR = "planck2018_plik_lite"
NBINS = {"tt": 215, "te": 199, "ee": 199}  # TT l=30..2508, TE/EE l=30..1996
BIN_LMIN_OFFSET = 30
LMAX = 2508
USES = {"TTTEEE": ("tt", "te", "ee"), "TT": ("tt",), "TE": ("te",), "EE": ("ee",),
        "TEEE": ("te", "ee")}  # TEEE: polarization-only primary data (A_L test)
A_PLANCK = Nuisance("A_planck", 1.0, ("gauss", 1.0, 0.0025), r"y_{\rm cal}")


def read_fortran_matrix(dataset: str, relpath: str, path, n: int) -> np.ndarray:
    """One Fortran unformatted record holding an n x n float64 matrix; DataError if it is not."""
    raw = path.read_bytes()
    nbytes = n * n * 8
    if len(raw) != nbytes + 8:
        raise DataError(dataset, relpath, f"has {len(raw)} bytes, expected {nbytes + 8} (one "
                        f"Fortran record of {n}x{n} float64): truncated or corrupt")
    for order in ("<", ">"):  # the record markers tell the byte order
        head = np.frombuffer(raw[:4], dtype=order + "i4")[0]
        tail = np.frombuffer(raw[-4:], dtype=order + "i4")[0]
        if head == nbytes and tail == nbytes:
            mat = np.frombuffer(raw[4:-4], dtype=order + "f8").reshape(n, n)
            if not np.all(np.isfinite(mat)):
                raise DataError(dataset, relpath, "contains non-finite numbers")
            return mat.astype(float)
    raise DataError(dataset, relpath, "Fortran record markers do not match the expected size "
                    f"{nbytes} bytes: corrupt")


def symmetrize_lower(mat: np.ndarray) -> np.ndarray:
    """The file fills one triangle only: mirror the lower triangle onto the upper."""
    return np.tril(mat) + np.tril(mat, -1).T


def binning_matrix(blmin: np.ndarray, blmax: np.ndarray, weights: np.ndarray,
                   lmin: int, lmax: int) -> np.ndarray:
    """(nbin, lmax-lmin+1) matrix mapping D_ell (ell=lmin..lmax) to binned C_ell.

    ``blmin``/``blmax`` are absolute multipoles; ``weights[ell - lmin]`` weights C_ell, so the
    D_ell -> C_ell factor 2 pi / (l (l+1)) is folded in.
    """
    ell = np.arange(lmin, lmax + 1)
    w_dl = weights[: len(ell)] * 2.0 * np.pi / (ell * (ell + 1.0))
    mat = np.zeros((len(blmin), len(ell)))
    for i, (lo, hi) in enumerate(zip(blmin, blmax)):
        mat[i, lo - lmin: hi - lmin + 1] = w_dl[lo - lmin: hi - lmin + 1]
    return mat


class ContiguousBins:
    """Bins that do not overlap, in increasing ell: each band power is a weighted sum over its
    own ell range, so binning is one weighted pass and a segment sum (np.add.reduceat) instead of
    a dense (nbins x nell) product: the same numbers, O(nell) rather than O(nbins * nell) work.
    ``apply_rows`` maps D_ell (n, lmax - lmin + 1) to binned C_ell (n, nbins)."""

    ROWS_PER_CHUNK = 64  # the weighted rows of a chunk (~1.3 MB) stay in cache for the sum

    def __init__(self, blmin: np.ndarray, blmax: np.ndarray, weights: np.ndarray,
                 lmin: int, lmax: int):
        if np.any(blmin[1:] <= blmax[:-1]) or np.any(blmax < blmin) or blmin[0] < lmin \
                or blmax[-1] != lmax:
            raise ValueError("bins must be non-overlapping, increasing, within lmin..lmax and "
                             "end at lmax")
        # each column of the dense matrix holds at most one bin's weight: its sum is that weight
        self.weights = binning_matrix(blmin, blmax, weights, lmin, lmax).sum(axis=0)
        self.starts = np.asarray(blmin) - lmin

    def apply_rows(self, dl: np.ndarray) -> np.ndarray:
        out = np.empty((len(dl), len(self.starts)))
        for i in range(0, len(dl), self.ROWS_PER_CHUNK):
            rows = slice(i, i + self.ROWS_PER_CHUNK)
            out[rows] = np.add.reduceat(dl[rows] * self.weights, self.starts, axis=1)
        return out


def spectrum_slice(spectra, key: str, lmin: int, lmax: int, who: str) -> np.ndarray:
    """D_ell of ``key`` for ell = lmin..lmax, checked for shape and finiteness."""
    arr = np.asarray(getattr(spectra, key), dtype=float)
    ell = np.asarray(spectra.ell)
    if arr.ndim != 1 or arr.shape != ell.shape:
        raise InputError(f"{who}: spectrum '{key}' has shape {arr.shape}, expected {ell.shape}")
    if len(arr) <= lmax:
        raise InputError(f"{who} needs spectra up to ell = {lmax}, got lmax = {len(arr) - 1}")
    out = arr[lmin: lmax + 1]
    if not np.all(np.isfinite(out)):
        raise InputError(f"{who}: spectrum '{key}' contains NaN or infinite values at "
                         f"ell = {lmin}..{lmax}")
    return out


def calibration(nuis: dict[str, float], who: str) -> float:
    cal = float(nuis["A_planck"])
    if not np.isfinite(cal) or cal <= 0:
        raise InputError(f"{who}: A_planck must be a positive finite number, got {cal}")
    return cal


class PlikLite(Likelihood):
    """Planck 2018 plik_lite v22, ``use`` in TTTEEE, TT, TE, EE, TEEE."""

    dataset = DATASET
    requires = frozenset({"spectra"})
    lmax = LMAX
    nuisance = (A_PLANCK,)

    def __init__(self, data_dir=None, use: str = "TTTEEE", **options):
        if options:
            raise InputError(f"PlikLite: unknown option(s) {sorted(options)}; known: data_dir, use")
        if use not in USES:
            raise InputError(f"PlikLite: unknown use='{use}'; choose one of {', '.join(USES)}")
        super().__init__(data_dir=data_dir, use=use)
        self.use = use
        self.id = self.id or f"planck2018-plik-lite-{use}"
        self.spectra_used = USES[use]
        self._load(data_dir)

    def _load(self, data_dir) -> None:
        rel = lambda name: f"{SUBDIR}/{name}"
        ntot = sum(NBINS.values())
        data = load_text(DATASET, rel("cl_cmb_plik_v22.dat"), data_dir)
        if data.shape != (ntot, 3):
            raise DataError(DATASET, rel("cl_cmb_plik_v22.dat"),
                            f"has shape {data.shape}, expected ({ntot}, 3)")
        blmin = load_text(DATASET, rel("blmin.dat"), data_dir).astype(int) + BIN_LMIN_OFFSET
        blmax = load_text(DATASET, rel("blmax.dat"), data_dir).astype(int) + BIN_LMIN_OFFSET
        weights = load_text(DATASET, rel("bweight.dat"), data_dir)
        nmax = max(NBINS.values())
        if len(blmin) < nmax or len(blmax) < nmax or blmax[NBINS["tt"] - 1] != LMAX \
                or len(weights) < LMAX - BIN_LMIN_OFFSET + 1:
            raise DataError(DATASET, rel("blmin.dat / blmax.dat / bweight.dat"),
                            f"bin edges/weights do not cover ell = {BIN_LMIN_OFFSET}..{LMAX}")
        cov_rel = rel("c_matrix_plik_v22.dat")
        cov = symmetrize_lower(read_fortran_matrix(
            DATASET, cov_rel, dataset_file(DATASET, cov_rel, data_dir), ntot))

        offsets = np.cumsum([0] + [NBINS[k] for k in ("tt", "te")])
        start = dict(zip(("tt", "te", "ee"), offsets))
        idx = np.concatenate([start[k] + np.arange(NBINS[k]) for k in self.spectra_used])
        self.x_data = data[idx, 1]
        self.bin_ell = data[idx, 0]
        # per spectrum: the highest ell its bins read, and its binning matrix from ell = 30
        self._binning = {}
        for k in self.spectra_used:
            top = int(blmax[NBINS[k] - 1])
            try:
                self._binning[k] = (top, ContiguousBins(blmin[: NBINS[k]], blmax[: NBINS[k]],
                                                        weights, BIN_LMIN_OFFSET, top))
            except ValueError as exc:
                raise DataError(DATASET, rel("blmin.dat / blmax.dat"), str(exc)) from None
        try:
            chol = scipy.linalg.cholesky(cov[np.ix_(idx, idx)], lower=True)
        except np.linalg.LinAlgError:
            raise DataError(DATASET, cov_rel, "covariance is not positive definite") from None
        # whitening matrix: chi^2 = |L^-1 d|^2 (stable, and exactly non-negative)
        self._whiten = scipy.linalg.solve_triangular(chol, np.eye(len(idx)), lower=True)

    def binned_theory(self, theory: TheoryProducts) -> np.ndarray:
        """Binned model C_ell (before calibration), in the order of ``x_data``."""
        who = self.id or "PlikLite"
        spectra = theory.need_spectra(who)
        # every variant asks the theory for ell <= 2508 (TE/EE bins stop at 1996)
        if spectra.lmax < self.lmax:
            raise InputError(f"{who} needs spectra up to ell = {self.lmax}, "
                             f"got lmax = {spectra.lmax}")
        return np.concatenate([
            bins.apply_rows(spectrum_slice(spectra, k, BIN_LMIN_OFFSET, top, who)[None, :])[0]
            for k, (top, bins) in self._binning.items()])

    def loglike(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None) -> float:
        cal = calibration(self.nuisance_values(nuisance), self.id or "PlikLite")
        resid = self.x_data - self.binned_theory(theory) / cal**2
        white = self._whiten @ resid
        return -0.5 * float(white @ white)

    def binned_rows(self, theory: BatchProducts, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(binned model C_ell of every row (n, nbins) before calibration, bool (n,): the spectra
        read are finite)."""
        who = self.id or "PlikLite"
        spectra_rows(theory, "tt", 0, self.lmax, n, who)  # every variant needs ell <= 2508
        finite, parts = np.ones(n, dtype=bool), []
        for k, (top, bins) in self._binning.items():
            dl = spectra_rows(theory, k, BIN_LMIN_OFFSET, top, n, who)
            binned = bins.apply_rows(dl)
            finite &= finite_rows(binned)  # NaN or inf times any weight (0 too) is not finite
            parts.append(binned)
        return np.concatenate(parts, axis=1), finite

    def loglike_batch(self, theory: BatchProducts, nuisance=None) -> np.ndarray:
        who = self.id or "PlikLite"
        n = batch_size(theory, who)
        cal, cal_ok = calibration_rows(nuisance_rows(self, nuisance, n)["A_planck"])
        with np.errstate(all="ignore"):  # rows with non-finite spectra are masked below
            binned, finite = self.binned_rows(theory, n)
            resid = self.x_data - binned / cal[:, None] ** 2
            chi2 = whitened_chi2(resid, self._whiten)
        return loglike_rows(chi2, np.asarray(theory.ok) & cal_ok & finite)
