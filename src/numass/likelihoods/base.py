"""The likelihood interface: theory products in, log-likelihood out (no Boltzmann code here)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

    def nuisance_values(self, given: dict[str, float] | None) -> dict[str, float]:
        """Defaults (prior centres) overridden by the values given."""
        values = {p.name: p.default for p in self.nuisance}
        values.update({k: float(v) for k, v in (given or {}).items() if k in values})
        return values
