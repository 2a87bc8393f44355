"""Posteriors that pile up at a prior edge: the check every job of a comparison gets.

A parameter whose posterior mass sits against an edge of its (flat) prior is measured by the
prior, not by the data: ΛsCDM's z† piling up at 3 truncates the ΛCDM-like direction (z† → ∞),
so the Σmν,eff it returns depends on where the edge was put. Such a parameter is flagged
(``prior_bounded``: [{param, edge, mass}] in the job's summary entry) and the verdict says so.

The chains are read by ``numass.inference.results.load_chains``, the one reader every part of
numass uses (MCMC chains lose their first 30%, nested-sampling chains nothing).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from numass.errors import InputError
from numass.inference.results import load_chains

# a band this fraction of the prior's width wide, next to each edge ...
EDGE_BAND = 0.02
# ... holding more than this fraction of the posterior mass: the parameter is prior-bounded
PILED_MASS = 0.10

# plain-text names for the verdict text (the parameter's own name where absent)
PLAIN_NAMES = {"z_dagger": "z†", "mnu_eff": "Σmν,eff", "alpha_fs": "α_fs", "tau": "τ",
               "w": "w0", "wa": "wa", "A_L": "A_L", "A_lens": "A_lens", "H0": "H0",
               "ombh2": "ω_b", "omch2": "ω_c", "ns": "n_s", "logA": "ln(10¹⁰ A_s)"}


def edge_masses(x: np.ndarray, weights: np.ndarray, lo: float, hi: float,
                band: float = EDGE_BAND) -> tuple[float, float]:
    """(mass within ``band`` × (hi − lo) of lo, mass within it of hi), as fractions of the
    total weight of the samples ``x``."""
    x, w = np.asarray(x, float), np.asarray(weights, float)
    if x.shape != w.shape or x.ndim != 1 or not len(x):
        raise InputError(f"edge_masses: samples and weights must be 1-d arrays of one length; "
                         f"got shapes {x.shape} and {w.shape}")
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise InputError(f"edge_masses: the prior [{lo}, {hi}] must be finite with lo < hi")
    total = w.sum()
    if not total > 0:
        raise InputError("edge_masses: the weights sum to zero")
    width = band * (hi - lo)
    return float(w[x <= lo + width].sum() / total), float(w[x >= hi - width].sum() / total)


def prior_bounded(columns: dict[str, np.ndarray], weights: np.ndarray,
                  ranges: dict[str, tuple[float, float]], band: float = EDGE_BAND,
                  piled: float = PILED_MASS) -> list[dict]:
    """[{param, edge, mass}] for each parameter of ``columns`` with a finite prior range in
    ``ranges`` whose posterior mass within ``band`` of the prior width of an edge exceeds
    ``piled``; ``edge`` is the edge's value, ``mass`` the fraction of the mass there."""
    out = []
    for name, x in columns.items():
        lo, hi = ranges.get(name, (None, None))
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
            continue  # an unbounded or Gaussian prior has no edge
        for edge, mass in zip((lo, hi), edge_masses(x, weights, lo, hi, band)):
            if mass > piled:
                out.append({"param": name, "edge": float(edge), "mass": round(mass, 4)})
    return out


def chain_prior_bounded(folder: str | Path, band: float = EDGE_BAND,
                        piled: float = PILED_MASS) -> list[dict]:
    """``prior_bounded`` for the sampled parameters of the chains in ``folder``, with the prior
    ranges the chains carry (Cobaya's, or the nested sampler's .ranges file)."""
    s = load_chains(folder)
    columns, ranges = {}, {}
    for p in s.paramNames.names:
        if p.isDerived:
            continue
        columns[p.name] = s.samples[:, s.index[p.name]]
        lo, hi = s.ranges.getLower(p.name), s.ranges.getUpper(p.name)
        ranges[p.name] = (lo, hi)
    return prior_bounded(columns, s.weights, ranges, band, piled)


def describe(flags: list[dict]) -> str:
    """'prior-bounded: z† piles up at 3 (31% of the mass within 2% of the prior width)', or ''."""
    if not flags:
        return ""
    parts = [f"{PLAIN_NAMES.get(f['param'], f['param'])} piles up at {f['edge']:g} "
             f"({f['mass']:.0%} of the mass within {EDGE_BAND:.0%} of the prior width)"
             for f in flags]
    return "prior-bounded: " + "; ".join(parts)


DEFINITION = (f"a sampled parameter with more than {PILED_MASS:.0%} of its posterior mass "
              f"within {EDGE_BAND:.0%} of the prior's width of one of its edges is flagged "
              f"prior_bounded ({{param, edge, mass}}): there the prior, not the data, sets the "
              f"posterior, and a verdict that relies on it says so")
