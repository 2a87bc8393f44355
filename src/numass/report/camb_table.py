"""The report's "CAMB − emulator χ²" table: per checked job, the emulator's χ² at its best fit and
at the profile points on both floors beside CAMB's (compare/camb_check.py), and what changes in
Δχ² and the profile tension. The verdict table shows the CAMB values; this one shows by how
much they differ from the emulator's.
"""
from __future__ import annotations

import math

CAMB_HEAD = ["job", "CAMB check", "χ²_min emulator", "χ²_min CAMB", "CAMB − emulator (best fit)",
             "CAMB − emulator (NO floor)", "CAMB − emulator (IO floor)",
             "Δχ² vs ΛCDM: emulator → CAMB", "NO profile σ: emulator → CAMB"]

CAMB_NOTE = ("χ² at the emulator's optimum re-evaluated with CAMB (the CAMB late-time engines for "
             "ΛsCDM and the interaction model) and refined by Newton steps from there (the "
             "emulator's Hessian, CAMB's gradient); the profile points keep Σmν,eff at the floor. "
             "The verdict table's χ²-based numbers are the CAMB ones; summary.json keeps the "
             "emulator's beside them.")


def _num(x, fmt: str = "{:+.2f}") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return fmt.format(x)


def _status(check: dict) -> str:
    if check.get("status") != "ok":
        return check.get("status", "–")
    failed = [k for k, p in check.get("points", {}).items() if p.get("chi2_camb") is None]
    text = (f"ok: {check.get('n_camb_calls', '?')} CAMB calls "
            f"({check.get('exact_backend', 'camb')}), {check.get('camb_steps', '?')} step(s)")
    return text + (f"; CAMB failed at {', '.join(failed)} (emulator kept)" if failed else "")


def _arrow(a, b, fmt: str = "{:+.2f}") -> str:
    return f"{_num(a, fmt)} → {_num(b, fmt)}" if b is not None else "–"


def camb_rows(summary: dict) -> list[list[str]]:
    """One row per job with a CAMB check: hypotheses first, then the τ ladder and variants."""
    hyps = summary["hypotheses"]
    entries = {**hyps, **{f"tau_{k}": e for k, e in hyps.get("tau", {}).get("ladder", {}).items()},
               **summary.get("variants", {})}
    rows = []
    for name, e in entries.items():
        check = e.get("camb_check")
        if not check:
            continue
        pts = check.get("points", {})
        bf = pts.get("bestfit", {})
        no = (e.get("tension_sigma") or {}).get("normal_ordering", {})
        rows.append([
            name, _status(check), _num(bf.get("chi2_emulator"), "{:.2f}"),
            _num(bf.get("chi2_camb"), "{:.2f}"), _num(bf.get("camb_minus_emulator")),
            _num(pts.get("normal_ordering", {}).get("camb_minus_emulator")),
            _num(pts.get("inverted_ordering", {}).get("camb_minus_emulator")),
            _arrow(e.get("delta_chi2_emulator"),
                   e.get("delta_chi2") if e.get("delta_chi2_from") == "camb" else None),
            _arrow(no.get("profile_emulator"),
                   no.get("profile") if no.get("profile_from") == "camb" else None, "{:.2f}"),
        ])
    return rows


__all__ = ["CAMB_HEAD", "CAMB_NOTE", "camb_rows"]
