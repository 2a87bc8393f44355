"""Default values of the cosmological parameters where a user gives none (Planck 2018-like,
TT,TE,EE+lowE+lensing best-fit region, arXiv:1807.06209 Table 2), and parameter-string parsing."""
from __future__ import annotations

from numass.errors import InputError

FIDUCIAL = {"H0": 67.36, "ombh2": 0.02237, "omch2": 0.1200, "mnu": 0.06, "tau": 0.0544,
            "As": 2.1e-9, "ns": 0.9649, "nnu": 3.044, "nu_states": 1, "w": -1.0, "wa": 0.0,
            "A_L": 1.0, "A_lens": 1.0}


def parse_assignments(items: list[str] | None) -> dict[str, float]:
    """['H0=67', 'mnu=0.06'] -> {'H0': 67.0, 'mnu': 0.06}; malformed items raise InputError."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param expects NAME=VALUE, got '{item}'")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--param {name.strip()}: '{value}' is not a number") from None
    return out
