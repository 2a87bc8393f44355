"""The backend interface (parameters in, TheoryProducts out) and the parameter normalisation
every backend shares."""
from __future__ import annotations

import math

import numpy as np

from numass.errors import InputError, TheoryError
from numass.parameters import DEFAULTS, to_camb_names
from numass.theory.batch import BatchProducts, broadcast_params, finite_rows
from numass.theory.products import TheoryProducts

NEEDS = frozenset({"spectra", "background"})


def check_need(need) -> frozenset[str]:
    need = frozenset(need)
    unknown = sorted(need - NEEDS)
    if unknown:
        raise InputError(f"unknown theory product(s) {unknown}; a backend provides "
                         f"{', '.join(sorted(NEEDS))}")
    return need


def normalise_params(params: dict, defaults: dict = DEFAULTS) -> dict[str, float]:
    """One canonical parameter dict from the accepted spellings, with defaults filled in.

    - amplitude: ``As`` or ``logA`` = ln(1e10 As)  ->  As;
    - expansion: ``H0`` [km/s/Mpc] or ``cosmomc_theta`` (theta_MC as CAMB's set_cosmology) or
      ``theta_MC_100`` = 100 theta_MC  ->  H0 or cosmomc_theta (exactly one of them in the output);
    - ``mnu``: the sum of the masses [eV], >= 0 (negative values are Sigma m_nu,eff, which the
      EffectiveMass wrapper handles); ``nu_states``: 1 (one massive + massless, CAMB's default)
      or 3 (three degenerate); ``nnu``: N_eff;
    - ``A_L`` >= 0 scales the lensing that smooths the primary spectra, ``A_lens`` >= 0 the
      reconstruction spectrum C_L^phiphi only.
    """
    p = _with_defaults(to_camb_names({k: float(v) for k, v in params.items()}), defaults)
    if p["mnu"] < 0:
        raise InputError(f"mnu = {p['mnu']} < 0: a sum of masses cannot be negative; sample "
                         f"'mnu_eff' (the effective mass, either sign) instead")
    if p["nu_states"] not in (1.0, 3.0):
        raise InputError(f"nu_states = {p['nu_states']:g}: use 1 (one massive eigenstate, CAMB's "
                         f"default) or 3 (three degenerate)")
    p["nu_states"] = int(p["nu_states"])
    for k in ("A_L", "A_lens"):
        if p[k] < 0:
            raise InputError(f"{k} = {p[k]} < 0: a lensing amplitude cannot be negative")
    return p


def normalise_arrays(params: dict) -> dict[str, np.ndarray]:
    """normalise_params for arrays (n,): the name checks raise InputError for the batch; the
    value checks are the caller's, row by row."""
    return _with_defaults(to_camb_names(broadcast_params(params)), DEFAULTS)


def _with_defaults(p: dict, defaults: dict) -> dict:
    """``p`` (CAMB names, floats or arrays (n,)) with the defaults filled in; InputError for a
    missing omega_b, omega_c, or H0 and theta_MC."""
    missing = [k for k in ("ombh2", "omch2") if k not in p]
    if "H0" not in p and "cosmomc_theta" not in p:
        missing.append("H0 (or cosmomc_theta / theta_MC_100)")
    if missing:
        raise InputError(f"missing cosmological parameter(s): {', '.join(missing)}")
    shape = np.shape(p["ombh2"])
    return {**{k: np.full(shape, float(v)) if shape else float(v) for k, v in defaults.items()},
            **p}


def one_point(compute_batch, params: dict, need, explain=None) -> TheoryProducts:
    """A per-point ``compute`` as a batch of one of ``compute_batch``. A failed row raises what
    ``explain(params)`` raises (the per-point checks that name the cause: InputError for bad
    input, TheoryError for a point without a solution), else a TheoryError."""
    out = compute_batch(params, need)  # scalars: a batch of one
    if not out.ok[0]:
        if explain is not None:
            explain(params)
        point = ", ".join(f"{k} = {v}" for k, v in params.items())
        raise TheoryError(f"no theory at {point} (non-finite products)")
    point = out.point(0)
    assert point is not None  # ok
    point.params = dict(params)
    return point


def batch_accuracy(backend) -> str:
    """'fast' (the default) or 'exact': the quadrature of a backend's batched background."""
    return getattr(backend, "batch_accuracy", "fast")


class Backend:
    """Maps a parameter point to the products likelihoods ask for.

    Subclasses set ``name``, ``params`` (the names they take), ``supports_negative_mnu`` and
    implement ``compute(params, need)`` with ``need`` a subset of NEEDS. A numerical failure at
    a point raises numass.errors.TheoryError (the sampler then gets -inf); bad input raises
    InputError.
    """

    name = "backend"
    supports_negative_mnu = False
    params: tuple[str, ...] = ()

    def param_names(self) -> tuple[str, ...]:
        return self.params

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        raise NotImplementedError

    def compute_batch(self, params: dict, need: frozenset[str] = NEEDS) -> BatchProducts:
        """Products at n points: ``params`` maps names to arrays (n,) (scalars broadcast).

        This generic version loops over ``compute``; vectorised backends override it and are
        tested against it. A point whose parameters are not finite, or whose ``compute`` raises
        TheoryError or InputError (e.g. outside a prior-like range), gets ``ok = False``; arrays
        of the wrong shape raise InputError for the whole batch.
        """
        need = check_need(need)
        arrays = broadcast_params(params)
        good = finite_rows(arrays)
        points = []
        for i in range(len(good)):
            point = None
            if good[i]:
                try:
                    point = self.compute({k: float(v[i]) for k, v in arrays.items()}, need)
                except (TheoryError, InputError):
                    point = None
            points.append(point)
        return BatchProducts.from_points(arrays, points)

    def check_names(self, params: dict) -> None:
        """Unknown names are InputError, naming them."""
        allowed = set(self.param_names())
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise InputError(f"backend '{self.name}' does not know the parameter(s) {unknown}; "
                             f"it takes: {', '.join(sorted(allowed))}")

    def check_params(self, params: dict) -> None:
        """Unknown names and non-numbers are InputError, naming the parameter."""
        self.check_names(params)
        for k, v in params.items():
            try:
                ok = math.isfinite(float(v))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise InputError(f"parameter '{k}' = {v!r} is not a finite number")
