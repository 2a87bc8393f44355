"""The likelihood interface: theory products in, log-likelihood out (no Boltzmann code here)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from numass.errors import InputError, TheoryError
from numass.theory.batch import BatchProducts, broadcast_params
from numass.theory.products import TheoryProducts


@dataclass(frozen=True)
class Nuisance:
    """A nuisance parameter of a likelihood and its prior.

    The prior is applied by the inference layer (as Cobaya does for Planck's A_planck);
    ``loglike`` itself returns the data likelihood only, matching the collaborations' chi^2.
    """

    name: str
    default: float
    prior: tuple  # ("gauss", mean, sd) or ("uniform", lo, hi) or ("fixed",)
    latex: str = ""


class Likelihood:
    """Base class. Subclasses set ``id``, ``dataset`` (registry id or None), ``requires``."""

    id: str = ""
    dataset: str | None = None  # data set folder in the data directory; None = embedded
    requires: frozenset[str] = frozenset()  # subset of {"spectra", "background", "params"}
    lmax: int = 0  # highest multipole of the spectra it reads
    params_needed: tuple[str, ...] = ()  # cosmological parameters read from theory.params
    nuisance: tuple[Nuisance, ...] = ()

    def __init__(self, data_dir: str | Path | None = None, **options):
        self.data_dir = data_dir
        self.options = options

    def loglike(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None) -> float:
        raise NotImplementedError

    def chi2(self, theory: TheoryProducts, nuisance: dict[str, float] | None = None) -> float:
        return -2.0 * self.loglike(theory, nuisance)

    def loglike_batch(self, theory: BatchProducts,
                      nuisance: Mapping[str, np.ndarray | float] | None = None) -> np.ndarray:
        """ln L at each of the n points of ``theory`` (shape (n,)); -inf where the theory failed
        (``theory.ok`` False) or a value is not finite. ``nuisance`` maps names to arrays (n,) or
        scalars. This generic version loops over ``loglike``; vectorised likelihoods override it
        and are tested against it to 1e-8 in chi^2."""
        n = theory.n
        values = broadcast_params({**(nuisance or {}), "__n__": np.zeros(n)})
        values.pop("__n__")
        out = np.full(n, -np.inf)
        for i in np.flatnonzero(theory.ok).tolist():
            point = {k: float(v[i]) for k, v in values.items()}
            if not all(math.isfinite(v) for v in point.values()):
                continue
            try:
                products = theory.point(i)
                assert products is not None  # row i is ok
                value = self.loglike(products, point)
            except (TheoryError, FloatingPointError, ValueError, ZeroDivisionError):
                continue
            except InputError:
                if not _finite_point(theory, i):
                    continue
                raise
            out[i] = value if math.isfinite(value) else -np.inf
        return out

    def nuisance_values(self, given: dict[str, float] | None) -> dict[str, float]:
        """Defaults (prior centres) overridden by the values given."""
        values = {p.name: p.default for p in self.nuisance}
        values.update({k: float(v) for k, v in (given or {}).items() if k in values})
        return values


def _finite_point(theory: BatchProducts, i: int) -> bool:
    """Are all inputs of row i finite? (a non-finite input is that point's failure, not the batch's)"""
    return all(math.isfinite(float(v[i])) for v in (*theory.params.values(),
                                                     *theory.derived.values()))
