"""The log-posterior of a numass analysis: one protocol, evaluated on (n, d) arrays of points.

Everything in inference/ that needs the posterior (best fits, profiles, nautilus, importance
sampling) asks a ``LogPosterior`` for ``evaluate(x)`` on a batch of points. ``BatchPosterior``
is the core: it hands a whole batch to the backend's ``compute_batch`` and each likelihood's
``loglike_batch``. ``CobayaPosterior`` adapts a Cobaya model (the MCMC path's, where the theory
is a per-point engine such as CAMB) to the same protocol, one point of the batch after the other.

BatchPosterior is built from the Cobaya input dictionary of ``numass.inference.setup.build_info``, so that the
parameters, priors and likelihoods are exactly those the MCMC path samples:

- sampled parameters: those with a ``prior`` (uniform ``min``/``max`` or Gaussian ``dist: norm``),
  in the dictionary's order; their normalised 1-d log-densities summed are Cobaya's log-prior;
- fixed parameters (a number, or ``{"value": v}``) go to the theory and the likelihoods as given;
- the theory is ``make_backend(name).compute_batch`` of the dictionary's backend, and ln L is the
  sum of each likelihood's ``loglike_batch`` with its nuisance parameters;
- a Gaussian "prior" written as a likelihood (the tau prior) stays a likelihood, unnormalised, as
  Cobaya has it; the tau ladder adds its normalisation to ln Z (compare.plan._tau_offset).

Rows where the prior is zero, the theory fails or a likelihood is not finite get -inf.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy import stats

from numass.errors import InputError

# points per theory call: bounds the memory of the spectra arrays (n x 5 x ~3000 floats)
CHUNK = 1000
# the backends with a batched theory path (theory.make_backend names)
BATCHED_BACKENDS = ("background", "emulator", "emulator-box", "lscdm-background",
                    "lscdm-emulator", "nu_interacting-emulator")


@dataclass(frozen=True)
class Prior1D:
    """One sampled parameter's prior, as Cobaya builds it from the same dictionary."""

    name: str
    kind: str  # "uniform" | "norm"
    a: float  # uniform: lower edge; norm: mean
    b: float  # uniform: upper edge; norm: standard deviation

    @property
    def dist(self):
        if self.kind == "uniform":
            return stats.uniform(loc=self.a, scale=self.b - self.a)
        return stats.norm(loc=self.a, scale=self.b)

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.a, self.b) if self.kind == "uniform" else (-math.inf, math.inf)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        return self.dist.logpdf(x)


def parse_prior(name: str, block: dict) -> Prior1D:
    """A Cobaya ``prior`` block -> Prior1D; anything else is an InputError."""
    prior = block["prior"]
    if "min" in prior and "max" in prior:
        lo, hi = float(prior["min"]), float(prior["max"])
        if not lo < hi:
            raise InputError(f"parameter '{name}': prior min {lo} is not below max {hi}")
        return Prior1D(name, "uniform", lo, hi)
    if prior.get("dist") == "norm":
        sd = float(prior.get("scale", 1.0))
        if not sd > 0:
            raise InputError(f"parameter '{name}': Gaussian prior scale {sd} must be > 0")
        return Prior1D(name, "norm", float(prior.get("loc", 0.0)), sd)
    raise InputError(f"parameter '{name}': prior {prior} is not supported by the batched "
                     f"posterior (uniform min/max or dist: norm)")


def split_params(info_params: dict) -> tuple[list[Prior1D], dict[str, float], list[str]]:
    """(sampled priors, fixed values, derived names) of a Cobaya ``params`` block."""
    priors, fixed, derived = [], {}, []
    for name, block in info_params.items():
        if isinstance(block, (int, float)):
            fixed[name] = float(block)
        elif isinstance(block, dict) and "prior" in block:
            priors.append(parse_prior(name, block))
        elif isinstance(block, dict) and "value" in block:
            fixed[name] = float(block["value"])
        elif isinstance(block, dict) and block.get("derived"):
            derived.append(name)
        else:
            raise InputError(f"parameter '{name}': cannot read {block!r} (a number, a prior, "
                             f"a value or derived)")
    return priors, fixed, derived


@dataclass
class BatchResult:
    """The posterior at n points: logpost = logprior + sum of loglikes (each (n,))."""

    logpost: np.ndarray
    logprior: np.ndarray
    loglikes: dict[str, np.ndarray]
    derived: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def chi2(self) -> np.ndarray:
        # summed onto zeros, not 0: an array even with no likelihoods (0.0 + x == x exactly)
        return -2.0 * sum(self.loglikes.values(), np.zeros_like(self.logpost))


class LogPosterior(Protocol):
    """What best fits, samplers and importance sampling need of a posterior: the sampled
    parameters' names in column order, their priors' support (d, 2), and ln P at (n, d) points."""

    names: list[str]

    @property
    def bounds(self) -> np.ndarray: ...

    def evaluate(self, x) -> BatchResult: ...

    def __call__(self, x) -> np.ndarray: ...


def as_points(x, ndim: int, names: list[str]) -> np.ndarray:
    """x as (n, ndim) floats (one point may be given as (ndim,)); InputError otherwise."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1 and ndim != 1:
        x = x[None, :]
    x = x.reshape(len(x), -1) if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[1] != ndim:
        raise InputError(f"points must have shape (n, {ndim}) for the parameters "
                         f"{', '.join(names)}; got {np.shape(x)}")
    return x


class BatchPosterior:
    """Vectorised log-posterior: ``post(x)`` with x (n, d) in the order of ``names``."""

    def __init__(self, info: dict, data_dir: str | Path | None = None,
                 backend_options: dict | None = None, chunk: int = CHUNK):
        from numass.backends import make_backend
        from numass.likelihoods import get_likelihood

        theory = info["theory"]["numass"]
        self.backend_name = theory["backend"]
        options = theory.get("backend_options") or {} if backend_options is None \
            else backend_options
        self.backend = make_backend(self.backend_name, **options)
        self.priors, fixed, self.derived_names = split_params(info["params"])
        self.names = [p.name for p in self.priors]
        self.cosmo_inputs = list(theory.get("input", ()))
        self.theory_fixed = {**theory.get("fixed", {}),
                             **{k: v for k, v in fixed.items() if k in self.cosmo_inputs}}
        self.likelihoods = {}
        for lik_id, block in info["likelihood"].items():
            lik = get_likelihood(block.get("lik_id", lik_id), block.get("data_dir") or data_dir,
                                 **(block.get("options") or {}))
            self.likelihoods[lik_id] = lik
        self.nuisance_fixed = {k: v for k, v in fixed.items() if k not in self.cosmo_inputs}
        self.need = frozenset(set().union(*(lik.requires for lik in self.likelihoods.values()))
                              & {"spectra", "background"})
        self.chunk = chunk

    @classmethod
    def build(cls, model: str, datasets: list[str], data_dir=None, backend: str | None = None,
              **build_kwargs) -> BatchPosterior:
        from numass.inference.setup import build_info

        info = build_info(model, datasets, backend=backend, data_dir=data_dir, **build_kwargs)
        return cls(info, data_dir=data_dir)

    @property
    def ndim(self) -> int:
        return len(self.names)

    @property
    def bounds(self) -> np.ndarray:
        """(d, 2): where the prior is non-zero (Gaussian priors: unbounded)."""
        return np.array([p.bounds for p in self.priors], dtype=float)

    def as_array(self, x) -> np.ndarray:
        return as_points(x, self.ndim, self.names)

    def logprior(self, x) -> np.ndarray:
        x = self.as_array(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            lp = sum(p.logpdf(x[:, i]) for i, p in enumerate(self.priors))
        return np.where(np.isfinite(lp), lp, -np.inf)

    def evaluate(self, x) -> BatchResult:
        """Log-prior, each likelihood's ln L and the derived parameters at every row of x."""
        x = self.as_array(x)
        n = len(x)
        logprior = self.logprior(x)
        loglikes = {k: np.full(n, -np.inf) for k in self.likelihoods}
        derived = {k: np.full(n, np.nan) for k in self.derived_names}
        rows = np.flatnonzero(np.isfinite(logprior))
        for start in range(0, len(rows), self.chunk):
            idx = rows[start:start + self.chunk]
            self._evaluate_rows(x[idx], idx, loglikes, derived)
        total = logprior + sum(loglikes.values())
        total = np.where(np.isfinite(total), total, -np.inf)
        return BatchResult(logpost=total, logprior=logprior, loglikes=loglikes, derived=derived)

    def _evaluate_rows(self, x: np.ndarray, idx: np.ndarray, loglikes: dict, derived: dict):
        values = {name: x[:, i] for i, name in enumerate(self.names)}
        theory_in = {**self.theory_fixed,
                     **{k: v for k, v in values.items() if k in self.cosmo_inputs}}
        products = self.backend.compute_batch(theory_in, self.need)
        for lik_id, lik in self.likelihoods.items():
            nuisance = {p.name: values.get(p.name, self.nuisance_fixed.get(p.name, p.default))
                        for p in lik.nuisance}
            with np.errstate(all="ignore"):
                ll = np.asarray(lik.loglike_batch(products, nuisance), dtype=float)
            loglikes[lik_id][idx] = np.where(np.isfinite(ll), ll, -np.inf)
        for k in self.derived_names:
            if k in products.derived:
                derived[k][idx] = np.where(products.ok, products.derived[k], np.nan)

    def __call__(self, x) -> np.ndarray:
        return self.evaluate(x).logpost


class CobayaPosterior:
    """A Cobaya model as a LogPosterior: a batch is evaluated one point after the other
    (``model.logposterior``: Cobaya's priors, its theory's ``compute`` and the likelihoods'
    ``loglike``), so that the same best fits and importance sampling serve the MCMC path."""

    def __init__(self, model):
        self.model = model
        self.names = list(model.parameterization.sampled_params())

    @classmethod
    def from_info(cls, info: dict) -> CobayaPosterior:
        from cobaya.model import get_model

        return cls(get_model(info))

    @property
    def ndim(self) -> int:
        return len(self.names)

    @property
    def bounds(self) -> np.ndarray:
        return np.array(self.model.prior.bounds(confidence_for_unbounded=1.0), dtype=float)

    def evaluate(self, x) -> BatchResult:
        x = as_points(x, self.ndim, self.names)
        rows = [self.model.logposterior(dict(zip(self.names, row)), as_dict=True) for row in x]
        loglikes = {k: np.array([float(r.get("loglikes", {}).get(k, -np.inf)) for r in rows])
                    for k in self.model.likelihood}
        derived = {k: np.array([float(r.get("derived", {}).get(k, np.nan)) for r in rows])
                   for k in self.model.parameterization.derived_params()}
        return BatchResult(logpost=np.array([float(r["logpost"]) for r in rows]),
                           logprior=np.array([float(sum(r["logpriors"].values())) for r in rows]),
                           loglikes=loglikes, derived=derived)

    def __call__(self, x) -> np.ndarray:
        return self.evaluate(x).logpost


def batched_backend(backend: str) -> bool:
    """Does this backend have a batched theory path (see BATCHED_BACKENDS)?"""
    return backend in BATCHED_BACKENDS
