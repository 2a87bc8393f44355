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


def _checked_entries(summary: dict) -> dict:
    """Every job entry that may carry a CAMB check: hypotheses, τ rungs, variants."""
    hyps = summary["hypotheses"]
    return {**hyps, **{f"tau_{k}": e for k, e in hyps.get("tau", {}).get("ladder", {}).items()},
            **summary.get("variants", {})}


def camb_rows(summary: dict) -> list[list[str]]:
    """One row per job with a CAMB check: hypotheses first, then the τ ladder and variants."""
    rows = []
    for name, e in _checked_entries(summary).items():
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


VERIFY_HEAD = ["job", "samples (distinct)", "ESS after reweighting", "Δ ln P (CAMB − emulator)",
               "Σmν,eff mean shift [σ]", "largest mean shift [σ]", "σ ratio CAMB / emulator"]

VERIFY_NOTE = ("--verify N: N thinned posterior samples of each checked job re-evaluated with "
               "CAMB and importance-reweighted by exp(ln P_CAMB − ln P_emulator); a mean's shift "
               "is (CAMB-weighted mean − emulator mean) / emulator σ over those samples, so it "
               "measures the emulator's effect on the posterior to about 1/√N σ.")


def verify_rows(summary: dict) -> list[list[str]]:
    """One row per job whose CAMB check ran --verify."""
    rows = []
    for name, e in _checked_entries(summary).items():
        v = (e.get("camb_check") or {}).get("verify")
        if not v or not v.get("params"):
            continue
        params = v["params"]
        shifts = {k: p.get("shift_in_sigma") for k, p in params.items()
                  if p.get("shift_in_sigma") is not None}
        big = max(shifts, key=lambda k: abs(shifts[k])) if shifts else None
        ratios = [p["sigma_ratio"] for p in params.values() if p.get("sigma_ratio")]
        dlp = v.get("delta_logpost") or {}
        mass = next((k for k in ("mnu_eff", "mnu") if k in params), None)
        rows.append([
            name, f"{v.get('n')} ({v.get('n_distinct')})", _num(v.get("ess"), "{:.1f}"),
            f"{_num(dlp.get('mean'))} ± {_num(dlp.get('std'), '{:.2f}')}",
            _num(shifts.get(mass)) if mass else "–",
            f"{_num(shifts[big])} ({big})" if big else "–",
            f"{min(ratios):.2f}–{max(ratios):.2f}" if ratios else "–"])
    return rows


__all__ = ["CAMB_HEAD", "CAMB_NOTE", "VERIFY_HEAD", "VERIFY_NOTE", "camb_rows", "verify_rows"]
