"""The layout of a run's summary.json, one table for every sampler, checked on write and on read.

Each key a run's summary may hold is listed once in ``SCHEMA`` with its kind, whether a reader
needs it (``required``: older folders hold at least these), whether a run writes it always
(``written``), whether its numbers must be finite and whether it may be null. Nautilus runs
also always write the keys of ``NAUTILUS_WRITTEN``. Keys the table does not know (a record the
caller adds) pass unchecked. ``check_summary`` raises an InputError naming the file and the key.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

from numass.errors import InputError

POSTERIOR_KEYS = ("mean", "std", "median", "lower68", "upper68", "upper95")


@dataclass(frozen=True)
class Key:
    """One summary key: its kind (see _KINDS), and the rules it obeys."""
    kind: str
    required: bool = False  # a reader needs it
    written: bool = False  # every run writes it
    finite: bool = False  # its numbers are finite
    nullable: bool = False  # null is allowed (nautilus has no R-1 and counts no failures)


SCHEMA: dict[str, Key] = {
    "model": Key("str", required=True, written=True),
    "datasets": Key("list[str]", required=True, written=True),
    "backend": Key("str", written=True),
    "sampler": Key("sampler", written=True),
    "sampled_params": Key("list[str]"),
    "mass_param": Key("str"),
    "mnu_eff": Key("posterior", required=True, written=True, finite=True),
    "params": Key("dict[posterior]", written=True),
    "bestfit": Key("bestfit", required=True, written=True),
    "tension_sigma": Key("dict[float]", required=True, written=True),
    "tension_sigma_profile": Key("dict[float]", required=True, written=True),
    "tension_sigma_lower_bound": Key("list[str]"),
    "tension_sigma_extrapolated": Key("list[str]"),
    "tension_bayes": Key("dict"),
    "tension_definitions": Key("dict", written=True),
    "profiles": Key("dict", written=True),
    "floors_eV": Key("dict[float]", written=True, finite=True),
    "rminus1": Key("float", written=True, nullable=True),
    "converged": Key("bool", written=True),
    "n_samples": Key("int", written=True),
    "n_theory_failures": Key("int", written=True, nullable=True),
    "wall_seconds": Key("float", written=True, finite=True),
    "chains": Key("str", written=True),
    "n_eff": Key("float", finite=True),
    "ln_evidence": Key("float", finite=True),
    "ln_evidence_err": Key("float"),
    "ln_prior_mass_of_box": Key("float"),
    "sampling_box": Key("dict[range]"),
    "box_edge_weight": Key("dict[float]"),
    "n_calls": Key("int"),
    "nautilus": Key("dict"),
    "importance": Key("dict"),
    "tail_runs": Key("dict"),
    "stage_seconds": Key("dict[float]"),
    "quick": Key("bool"),
    "warning": Key("str"),
    "triangle_plot": Key("str"),
    "param_overrides": Key("dict"),
}
# what a nautilus run writes besides the keys every run writes, and an importance-sampled one
# (--quick: the weighted draws around the best fit, nested_analysis)
NAUTILUS_WRITTEN = ("sampled_params", "n_eff", "ln_evidence", "ln_evidence_err",
                    "sampling_box", "box_edge_weight", "n_calls", "nautilus", "stage_seconds")
IMPORTANCE_WRITTEN = (*NAUTILUS_WRITTEN[:-2], "importance", "stage_seconds")
SAMPLER_WRITTEN: dict[str, tuple[str, ...]] = {"nautilus": NAUTILUS_WRITTEN,
                                               "importance": IMPORTANCE_WRITTEN}
SAMPLERS = ("mcmc", "nautilus", "importance")


def _real(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _finite_numbers(v, finite: bool) -> bool:
    return _real(v) and (not finite or math.isfinite(v))


def _posterior(v, finite: bool) -> str | None:
    if not isinstance(v, dict):
        return "a posterior summary {mean, std, median, lower68, upper68, upper95}"
    for k in POSTERIOR_KEYS:
        if not _finite_numbers(v.get(k), finite):
            return f"a posterior summary whose '{k}' is a{' finite' if finite else ''} number"
    return None


def _problem(kind: str, v, finite: bool) -> str | None:
    """What ``v`` should have been (None: it is fine)."""
    num = "a finite number" if finite else "a number"
    if kind == "str":
        return None if isinstance(v, str) else "a string"
    if kind == "sampler":
        return None if v in SAMPLERS else "'mcmc', 'nautilus' or 'importance'"
    if kind == "bool":
        return None if isinstance(v, bool) else "true or false"
    if kind == "int":
        return None if isinstance(v, Integral) and not isinstance(v, bool) else "an integer"
    if kind == "float":
        return None if _finite_numbers(v, finite) else num
    if kind == "list[str]":
        ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
        return None if ok else "a list of strings"
    if not isinstance(v, dict):
        return "an object"
    if kind == "dict[float]":
        bad = [k for k, x in v.items() if not _finite_numbers(x, finite)]
        return f"an object of numbers ('{bad[0]}' is not {num})" if bad else None
    if kind == "dict[range]":
        bad = [k for k, x in v.items() if not (isinstance(x, (list, tuple)) and len(x) == 2
                                               and all(_real(a) for a in x))]
        return f"an object of [low, high] pairs ('{bad[0]}' is not)" if bad else None
    if kind == "dict[posterior]":
        for name, x in v.items():
            if (why := _posterior(x, finite)) is not None:
                return f"an object of posterior summaries ('{name}' is not {why})"
        return None
    if kind == "posterior":
        return _posterior(v, finite)
    if kind == "bestfit":
        if not _finite_numbers(v.get("chi2"), True):
            return "the best fit's parameters with a finite 'chi2'"
        if not isinstance(v.get("chi2_by_likelihood", {}), dict):
            return "the best fit with 'chi2_by_likelihood' an object"
    return None


def summary_problems(d, written: bool) -> list[tuple[str, str]]:
    """[(key, what it should be)] of summary ``d``; ``written``: the rules of a run's writing
    (every key it always writes present), else those of a reader."""
    if not isinstance(d, dict):
        return [("(top level)", "an object of summary keys")]
    need = {k for k, key in SCHEMA.items() if key.written} if written else \
        {k for k, key in SCHEMA.items() if key.required}
    if written:
        need.update(SAMPLER_WRITTEN.get(str(d.get("sampler")), ()))
    problems = [(k, "present (a required key)") for k in SCHEMA if k in need and k not in d]
    for k, key in SCHEMA.items():
        if k not in d or (d[k] is None and key.nullable):
            continue
        if (why := _problem(key.kind, d[k], key.finite)) is not None:
            problems.append((k, why))
    return problems


def check_summary(d, source: str | Path, written: bool = False) -> None:
    """InputError naming ``source`` and the first key that breaks the schema, with what it
    should be and what it is."""
    problems = summary_problems(d, written)
    if not problems:
        return
    key, why = problems[0]
    found = "missing" if not isinstance(d, dict) or key not in d else repr(d[key])[:120]
    more = f" (and {len(problems) - 1} more: {', '.join(k for k, _ in problems[1:])})" \
        if len(problems) > 1 else ""
    raise InputError(f"{source}: summary field '{key}' should be {why}; found {found}{more}")


__all__ = [
    "IMPORTANCE_WRITTEN",
    "NAUTILUS_WRITTEN",
    "POSTERIOR_KEYS",
    "SAMPLERS",
    "SCHEMA",
    "Key",
    "check_summary",
    "summary_problems",
]
