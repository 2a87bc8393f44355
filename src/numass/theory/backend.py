"""The backend interface: parameters in, TheoryProducts out."""
from __future__ import annotations

import math

from numass.errors import InputError
from numass.theory.products import TheoryProducts

NEEDS = frozenset({"spectra", "background"})


class Backend:
    """Maps a parameter point to the products likelihoods ask for.

    Subclasses set ``name``, ``supports_negative_mnu`` and implement ``param_names`` and
    ``compute``. A numerical failure at a point raises numass.errors.TheoryError (the sampler
    then gets -inf); bad input raises InputError.
    """

    name = "backend"
    supports_negative_mnu = False

    def param_names(self) -> tuple[str, ...]:
        raise NotImplementedError

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        raise NotImplementedError

    def check_params(self, params: dict) -> None:
        allowed = set(self.param_names())
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise InputError(f"backend '{self.name}' does not know the parameter(s) {unknown}; "
                             f"it takes: {', '.join(sorted(allowed))}")
        for k, v in params.items():
            try:
                ok = math.isfinite(float(v))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise InputError(f"parameter '{k}' = {v!r} is not a finite number")
