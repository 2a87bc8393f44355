"""A posterior run's summary fields, the same for every sampler.

``posterior_fields`` turns weighted samples, the best fit and the profiles at the oscillation
floors into the summary's posterior part (the mass's posterior and tensions, each parameter's
posterior, the best fit, the profiles), whichever sampler drew the samples; each sampler adds
its own convergence record (MCMC: R-1; nautilus: n_eff and ln Z), and pipeline.run_analysis
writes the whole as one RunResult (results.py, checked against summary_schema.SCHEMA).
"""
from __future__ import annotations

import numpy as np

from numass.stats import FLOORS, TENSION_DEFINITIONS, summarize_1d, tension_fields

# best-fit keys that are working data of the optimiser, not part of the summary
_BESTFIT_WORK = ("logpost", "covariance", "n_calls")


def _mass_fields(names, columns, weights, bf, profiles, mass_param, fixed_mass) -> dict:
    """The mass's summary, tensions and profiles; with the mass fixed (--fix), a point mass and
    no tension."""
    if fixed_mass is not None:
        return {"mnu_eff": dict(mean=fixed_mass, std=0.0, median=fixed_mass, lower68=fixed_mass,
                                upper68=fixed_mass, upper95=fixed_mass),
                "tension_sigma": {}, "tension_sigma_profile": {},
                "tension_definitions": TENSION_DEFINITIONS, "profiles": {}}
    mnu = columns[mass_param]
    return {"mnu_eff": summarize_1d(mnu, weights),
            **tension_fields(mnu, weights, bf["chi2"], bf[mass_param],
                             {k: profiles[k]["chi2"] for k in FLOORS}),
            "profiles": {k: {mass_param: f, "chi2": profiles[k]["chi2"],
                             "point": {n: profiles[k][n] for n in names if n in profiles[k]}}
                         for k, f in FLOORS.items()}}


def posterior_fields(names: list[str], columns: dict[str, np.ndarray], weights: np.ndarray,
                     bf: dict, profiles: dict[str, dict] | None, mass_param: str,
                     fixed_mass: float | None = None) -> dict:
    """The summary's posterior part: 'mnu_eff' (the mass parameter's posterior), 'params'
    (every other column with finite values), 'bestfit', the tension fields, 'profiles' and
    'floors_eV'. ``names``: the sampled parameters; ``columns``: {name: samples} of the
    sampled and derived parameters; ``profiles``: {floor label: the best fit at that floor}
    (None with the mass fixed)."""
    return {
        "sampled_params": list(names),
        **({"mass_param": mass_param} if mass_param != "mnu_eff" else {}),
        "params": {n: summarize_1d(v, weights) for n, v in columns.items()
                   if n != mass_param and np.all(np.isfinite(v))},
        "bestfit": {k: v for k, v in bf.items() if k not in _BESTFIT_WORK},
        **_mass_fields(names, columns, weights, bf, profiles, mass_param, fixed_mass),
        "floors_eV": dict(FLOORS),
    }
