"""Parameter overrides: ``--fix NAME=VALUE`` and ``--prior NAME=LO,HI`` / ``NAME=gauss:MEAN,SD``,
and the reading of any Cobaya parameter block (fixed value, prior, ``ref``, ``proposal``).

An override maps a parameter name to a number (the parameter is fixed there) or to a Cobaya
parameter block. A block with a ``prior`` but no ``value`` is laid over the model's own block, so
``{"prior": {"min": -1, "max": 1}}`` keeps the model's starting point, proposal width and label;
a starting point the new prior excludes moves to the prior's centre.
"""
from __future__ import annotations

import math

from numass.errors import InputError


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{what}: '{text}' is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{what}: '{text}' is not a finite number")
    return value


def _split_assignment(item: str, option: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise InputError(f"{option} '{item}': expected NAME=VALUE")
    return name.strip(), value.strip()


def parse_fix(items: list[str] | None) -> dict[str, float]:
    """['mnu_eff=0.06'] -> {'mnu_eff': 0.06}."""
    out = {}
    for item in items or []:
        name, value = _split_assignment(item, "--fix")
        out[name] = _number(value, f"--fix {name}")
    return out


def parse_prior(items: list[str] | None) -> dict[str, dict]:
    """['mnu_eff=-1,1', 'tau=gauss:0.054,0.007'] -> {name: {'prior': Cobaya prior}}."""
    out = {}
    for item in items or []:
        name, spec = _split_assignment(item, "--prior")
        gauss = spec.startswith("gauss:")
        parts = (spec[len("gauss:"):] if gauss else spec).split(",")
        if len(parts) != 2:
            raise InputError(f"--prior {name}: expected LO,HI or gauss:MEAN,SD, got '{spec}'")
        a, b = (_number(p.strip(), f"--prior {name}") for p in parts)
        if gauss:
            if b <= 0:
                raise InputError(f"--prior {name}: the Gaussian's width must be > 0, got {b}")
            out[name] = {"prior": {"dist": "norm", "loc": a, "scale": b}}
        else:
            if not a < b:
                raise InputError(f"--prior {name}: the lower edge must be below the upper one, "
                                 f"got {a}, {b}")
            out[name] = {"prior": {"min": a, "max": b}}
    return out


def parse_overrides(fix: list[str] | None, prior: list[str] | None) -> dict:
    """The command line's --fix and --prior as one ``param_overrides`` dictionary."""
    fixed, priors = parse_fix(fix), parse_prior(prior)
    both = sorted(set(fixed) & set(priors))
    if both:
        raise InputError(f"{', '.join(both)}: given both --fix and --prior; use one")
    return {**fixed, **priors}


def is_sampled(block) -> bool:
    return isinstance(block, dict) and "prior" in block and "value" not in block


def fixed_value(block) -> float | None:
    """The value of a fixed parameter block (a number or {'value': number}), else None."""
    if isinstance(block, (int, float)) and not isinstance(block, bool):
        return float(block)
    if isinstance(block, dict) and isinstance(block.get("value"), (int, float)):
        return float(block["value"])
    return None


def prior_centre_width(prior) -> tuple[float, float]:
    """(centre, width) of a Cobaya prior: [lo, hi], {min, max}, or a scipy dist with loc/scale
    (norm: mean and sigma; uniform: loc = lower edge, scale = width)."""
    if isinstance(prior, (list, tuple)) and len(prior) == 2:
        prior = {"min": prior[0], "max": prior[1]}
    if not isinstance(prior, dict):
        raise InputError(f"prior {prior!r}: expected [lo, hi], {{min, max}} or {{dist, loc, "
                         f"scale}}")
    if "min" in prior and "max" in prior:
        lo, hi = float(prior["min"]), float(prior["max"])
        return (lo + hi) / 2, hi - lo
    loc, scale = float(prior.get("loc", 0.0)), float(prior.get("scale", 1.0))
    if prior.get("dist", "uniform") == "uniform":
        return loc + scale / 2, scale
    return loc, scale


def prior_contains(prior, x: float) -> bool:
    """Whether ``x`` lies inside a bounded prior (always True for an unbounded one)."""
    centre, width = prior_centre_width(prior)
    if isinstance(prior, dict) and prior.get("dist", "uniform") not in ("uniform",):
        return True
    return abs(x - centre) <= width / 2


def ref_centre(block: dict) -> float:
    """The centre of a sampled block's starting ball: ``ref`` as a number, a dist's ``loc``, the
    middle of a {min, max} ref, or (no ref) the prior's centre."""
    ref = block.get("ref")
    if isinstance(ref, (int, float)) and not isinstance(ref, bool):
        return float(ref)
    if isinstance(ref, dict) and ("loc" in ref or "min" in ref):
        return prior_centre_width(ref)[0]
    return prior_centre_width(block["prior"])[0]


def proposal_width(block: dict) -> float:
    """A sampled block's proposal width: ``proposal``, else the ref's scale, else 1/20 of the
    prior's width (a Gaussian prior: its sigma / 2)."""
    if "proposal" in block:
        return float(block["proposal"])
    ref = block.get("ref")
    if isinstance(ref, dict) and "scale" in ref:
        return float(ref["scale"])
    prior = block["prior"]
    _, width = prior_centre_width(prior)
    gauss = isinstance(prior, dict) and prior.get("dist") == "norm"
    return width / 2 if gauss else width / 20


def apply_override(name: str, block, override):
    """The model's ``block`` for ``name`` with ``override`` (module docstring) applied."""
    if isinstance(block, dict) and block.get("derived"):
        raise InputError(f"'{name}' is derived from the others here; it cannot be fixed or given "
                         f"a prior")
    if fixed_value(override) is not None or not is_sampled(override) or not is_sampled(block):
        return override
    merged = {**block, **override}
    if "ref" not in override and not prior_contains(merged["prior"], ref_centre(block)):
        centre = prior_centre_width(merged["prior"])[0]
        merged["ref"] = {"dist": "norm", "loc": centre, "scale": proposal_width(merged)}
    return merged
