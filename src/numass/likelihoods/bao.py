"""DESI BAO: a Gaussian likelihood on D_V/r_d, D_M/r_d and D_H/r_d.

DR2 reads the data directory's ``desi_bao_dr2`` files and, when they are absent, falls back to the
embedded published table (numass.data.embedded). DR1 needs the data directory. ``drop_lrg1``
removes the LRG 0.4 < z < 0.6 bin (z_eff = 0.51), a robustness test of the comparison.
"""
from __future__ import annotations

import logging

import numpy as np
import scipy.linalg

from numass.data import embedded
from numass.data.store import dataset_dir, dataset_file, load_text
from numass.errors import DataError, InputError, TheoryError
from numass.likelihoods._batch import (
    batch_size,
    loglike_rows,
    nuisance_rows,
    row_vector,
    whitened_chi2,
)
from numass.likelihoods.base import Likelihood
from numass.theory.batch import BatchProducts
from numass.theory.products import TheoryProducts

log = logging.getLogger("numass")

FILES = {
    "dr2": ("desi_bao_dr2", "desi_gaussian_bao_ALL_GCcomb_mean.txt",
            "desi_gaussian_bao_ALL_GCcomb_cov.txt"),
    "dr1": ("desi_bao_dr1", "desi_2024_gaussian_bao_ALL_GCcomb_mean.txt",
            "desi_2024_gaussian_bao_ALL_GCcomb_cov.txt"),
}
QUANTITIES = ("DV_over_rs", "DM_over_rs", "DH_over_rs")
LRG1_Z = 0.51
_SAID: set[str] = set()


def _say_once(msg: str, *args) -> None:
    text = msg % args
    if text not in _SAID:
        _SAID.add(text)
        log.info(text)


def read_mean_file(folder: str, name: str, data_dir) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(z, value, quantity) from a 'z value quantity' text file."""
    path = dataset_file(folder, name, data_dir)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(folder, name, f"unreadable ({exc.__class__.__name__})") from None
    z, value, quantity = [], [], []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        try:
            z.append(float(parts[0]))
            value.append(float(parts[1]))
            quantity.append(parts[2])
        except (IndexError, ValueError):
            raise DataError(folder, name, f"malformed line {line!r}") from None
        if parts[2] not in QUANTITIES:
            raise DataError(folder, name, f"unknown quantity {parts[2]!r}")
    if not z or not np.all(np.isfinite(value)):
        raise DataError(folder, name, "no measurements, or non-finite values")
    return np.array(z), np.array(value), quantity


class DesiBAO(Likelihood):
    """Gaussian likelihood of DESI's D_V/r_d, D_M/r_d, D_H/r_d; attribute ``source`` says whether
    the data files ("file") or the embedded published DR2 table ("embedded") are used."""

    requires = frozenset({"background"})

    def __init__(self, data_dir=None, release: str = "dr2", drop_lrg1: bool = False, **options):
        if options:
            raise InputError(f"DESI BAO: unknown option(s) {sorted(options)}; allowed: release, "
                             f"drop_lrg1")
        if release not in FILES:
            raise InputError(f"DESI BAO: unknown release '{release}'; allowed: {', '.join(FILES)}")
        super().__init__(data_dir)
        self.release, self.drop_lrg1 = release, bool(drop_lrg1)
        z, value, quantity, cov = self._load(release, data_dir)
        keep = ~np.isclose(z, LRG1_Z) if self.drop_lrg1 else np.ones(len(z), bool)
        self.z, self.value = z[keep], value[keep]
        self.quantity = [q for q, k in zip(quantity, keep) if k]
        self.cov = cov[np.ix_(keep, keep)]
        try:
            self._chol = np.linalg.cholesky(self.cov)
        except np.linalg.LinAlgError:
            raise DataError(FILES[release][0], FILES[release][2],
                            "covariance is not positive definite") from None
        # L^-1 for the batched chi^2 = |L^-1 r|^2 of many rows at once
        self._whiten = scipy.linalg.solve_triangular(self._chol, np.eye(len(self.z)), lower=True)

    def _load(self, release, data_dir):
        folder, mean_name, cov_name = FILES[release]
        try:
            dataset_dir(folder, data_dir)
        except DataError:
            if release != "dr2":
                raise
            _say_once("desi-dr2-bao: data directory has no %s; using the embedded published table "
                     "(%s)", folder, embedded.DESI_DR2_BAO_CITATION)
            self.source, self.dataset = "embedded", None
            z, quantity, value, cov, _ = embedded.desi_dr2_bao_table()
            return z, value, quantity, cov
        self.source, self.dataset = "file", folder
        _say_once("desi-%s-bao: using the data files in %s", release, folder)
        z, value, quantity = read_mean_file(folder, mean_name, data_dir)
        cov = load_text(folder, cov_name, data_dir)
        if cov.shape != (len(z), len(z)):
            raise DataError(folder, cov_name, f"covariance shape {cov.shape} does not match the "
                                              f"{len(z)} measurements")
        return z, value, quantity, cov

    def theory_vector(self, theory: TheoryProducts) -> np.ndarray:
        """D_X(z)/r_d for every measurement, in the data's order."""
        bg = theory.need_background(self.id or "desi-bao")
        funcs = {"DV_over_rs": bg.DV, "DM_over_rs": bg.DM, "DH_over_rs": bg.DH}
        out = np.array([float(funcs[q](zz)) for q, zz in zip(self.quantity, self.z)])
        out /= float(bg.rdrag)
        if not np.all(np.isfinite(out)):
            raise TheoryError(f"{self.id or 'desi-bao'}: non-finite D/r_d from the background")
        return out

    def loglike(self, theory: TheoryProducts, nuisance=None) -> float:
        r = self.theory_vector(theory) - self.value
        x = np.linalg.solve(self._chol, r)
        return -0.5 * float(x @ x)

    def theory_rows(self, theory: BatchProducts, n: int) -> np.ndarray:
        """D_X(z)/r_d of every row (n, k), in the data's order: one call per distance kind."""
        who = self.id or "desi-bao"
        bg = theory.background
        if bg is None:
            raise InputError(f"likelihood '{who}' needs the background expansion but the theory "
                             f"provided none")
        funcs = {"DV_over_rs": bg.DV, "DM_over_rs": bg.DM, "DH_over_rs": bg.DH}
        out = np.empty((n, len(self.z)))
        quantity = np.array(self.quantity)
        for q in dict.fromkeys(self.quantity):
            cols = np.flatnonzero(quantity == q)
            dist = np.asarray(funcs[q](self.z[cols]), dtype=float)
            if dist.shape != (n, len(cols)):
                raise InputError(f"{who}: batched background {q[:2]}(z) returned shape "
                                 f"{dist.shape}; expected (n, len(z)) = ({n}, {len(cols)})")
            out[:, cols] = dist
        with np.errstate(invalid="ignore", divide="ignore"):
            return out / row_vector(bg.rdrag, n, "background rdrag", who)[:, None]

    def loglike_batch(self, theory: BatchProducts, nuisance=None) -> np.ndarray:
        n = batch_size(theory, self.id or "desi-bao")
        nuisance_rows(self, nuisance, n)  # shape check only: no nuisance parameters
        r = self.theory_rows(theory, n) - self.value
        valid = np.asarray(theory.ok) & np.all(np.isfinite(r), axis=1)
        return loglike_rows(whitened_chi2(np.where(valid[:, None], r, 0.0), self._whiten), valid)
