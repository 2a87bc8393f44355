"""numass's theory backends and likelihoods as Cobaya components.

``NumassTheory`` wraps a numass backend and provides one product, ``numass_products`` (a
TheoryProducts), plus derived parameters. ``likelihood_component(id)`` makes a Cobaya likelihood
class for a numass likelihood id, whose input parameters are that likelihood's nuisances.
Both can be used from a Cobaya YAML file:

    theory:
      numass.inference.cobaya_glue.NumassTheory: {backend: camb}
    likelihood:
      act-dr6-lensing: {external: import_module('numass.inference.cobaya_glue').likelihood_component('act-dr6-lensing')}

or, more simply, through ``numass.inference.setup.build_info`` (what ``numass fit`` uses).
"""
from __future__ import annotations

import logging
import math

from cobaya.likelihood import Likelihood as CobayaLikelihood
from cobaya.theory import Theory

from numass.backends import make_backend
from numass.errors import InputError, TheoryError
from numass.likelihoods import get_likelihood

log = logging.getLogger("numass")


class NumassTheory(Theory):
    """A numass backend as a Cobaya theory. Options: backend, backend_options, fixed, input, derived."""

    backend: str = "background"
    stop_at_error = True  # point failures are handled below (-inf); anything else is a real error
    backend_options: dict = {}
    fixed: dict = {}  # parameters passed to the backend at fixed values (e.g. nnu, nu_states)
    input: list = []  # names of the sampled cosmological parameters this theory takes
    derived: list = []  # names of the derived parameters it provides

    def initialize(self) -> None:
        self._backend = make_backend(self.backend, **(self.backend_options or {}))
        self._need: set[str] = set()
        self.n_failures = 0

    def get_can_support_params(self):
        return list(self.input)

    def get_can_provide_params(self):
        return list(self.derived)

    def get_can_provide(self):
        return ["numass_products"]

    def must_provide(self, **requirements):
        req = requirements.get("numass_products")
        if req:
            self._need |= set(req.get("need", ()))
        return super().must_provide(**requirements)

    def calculate(self, state, want_derived=True, **params_values):
        point = {**self.fixed, **params_values}
        try:
            products = self._backend.compute(point, frozenset(self._need))
        except TheoryError as exc:
            self.n_failures += 1
            if self.n_failures <= 5 or self.n_failures % 100 == 0:
                log.warning("theory failed at a point (%d so far; the sampler gets -inf there): %s",
                            self.n_failures, exc)
            return False
        state["numass_products"] = products
        if want_derived:
            state["derived"] = {p: products.derived.get(p, math.nan) for p in self.derived}
        return True

    def get_numass_products(self):
        return self.current_state["numass_products"]


class NumassLikelihood(CobayaLikelihood):
    """Base of the per-id Cobaya likelihoods. Options: lik_id, data_dir, options."""

    lik_id: str = ""
    stop_at_error = True
    data_dir: str | None = None
    options: dict = {}

    def initialize(self) -> None:
        self._lik = get_likelihood(self.lik_id, self.data_dir, **(self.options or {}))

    def get_requirements(self):
        need = sorted(self._lik.requires & {"spectra", "background"})
        return {"numass_products": {"need": need}}

    def get_can_support_params(self):
        return [p.name for p in self._lik.nuisance]

    def logp(self, **params_values):
        products = self.provider.get_result("numass_products")
        try:
            value = self._lik.loglike(products, params_values)
        except InputError:
            raise
        except (FloatingPointError, ValueError, ZeroDivisionError) as exc:
            log.warning("likelihood %s failed at a point: %s", self.lik_id, exc)
            return -math.inf
        return value if math.isfinite(value) else -math.inf


_CLASSES: dict[str, type] = {}


def _class_name(lik_id: str) -> str:
    return "numass_" + "".join(c if c.isalnum() else "_" for c in lik_id)


def likelihood_component(lik_id: str) -> type:
    """A Cobaya likelihood class for the numass likelihood ``lik_id`` (cached, one per id)."""
    if lik_id not in _CLASSES:
        cls = type(_class_name(lik_id), (NumassLikelihood,), {"lik_id": lik_id})
        cls.__module__ = __name__
        _CLASSES[lik_id] = cls
    return _CLASSES[lik_id]


def __getattr__(name: str):
    """Resolve the per-id classes by name, as Cobaya does when it reloads a run's YAML to resume."""
    from numass.likelihoods import LIKELIHOODS

    for lik_id in LIKELIHOODS:
        if _class_name(lik_id) == name:
            return likelihood_component(lik_id)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
