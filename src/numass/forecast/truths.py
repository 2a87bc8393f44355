"""The true cosmologies of a forecast: each hypothesis's best fit on today's full data, and ΛCDM
at the normal-ordering floor.

The embedded points are numass's own batched best fits (``inference.bestfit``, emulator
backends) on ``--data full`` (DESI DR2 BAO + plik_lite TTTEEE + low-ell TT + tau prior (Planck
2018 lowE) + ACT DR6 lensing; the τ hypothesis: flat τ in [0.04, 0.12] without the τ prior),
measured 2026-12-03; chi^2 of each beside it. ``--truths-from DIR`` reads the best fits of a
``numass compare`` summary.json instead.
"""
from __future__ import annotations

import json
from pathlib import Path

from numass.errors import InputError

NO_FLOOR = 0.0588  # eV: the normal-ordering floor of Σmν (oscillations)
TRUTH_FLOOR = "lcdm_floor"

# hypothesis key -> (model, best-fit parameters, chi^2 on --data full)
EMBEDDED_TRUTHS = {
    "lcdm": ("lcdm", {"ombh2": 0.022445, "omch2": 0.119346, "theta_MC_100": 1.041029,
                      "mnu_eff": -0.103497, "logA": 3.040485, "ns": 0.96715, "tau": 0.053213},
             610.216),
    "lensing_amplitude": ("AL_Alens", {"ombh2": 0.022626, "omch2": 0.117631,
                                       "theta_MC_100": 1.041176, "mnu_eff": 0.012913,
                                       "logA": 3.02946, "ns": 0.972031, "tau": 0.049854,
                                       "A_L": 1.174114, "A_lens": 1.062499}, 604.588),
    "tau": ("lcdm", {"ombh2": 0.022521, "omch2": 0.118249, "theta_MC_100": 1.041112,
                     "mnu_eff": -0.036144, "logA": 3.079523, "ns": 0.970338, "tau": 0.074403},
            609.426),
    "w0wa": ("w0wa", {"ombh2": 0.022404, "omch2": 0.119741, "theta_MC_100": 1.040941,
                      "mnu_eff": -0.016938, "logA": 3.041464, "ns": 0.966128, "tau": 0.053357,
                      "w": -0.573953, "wa": -1.198446}, 606.903),
    "lscdm": ("lscdm", {"ombh2": 0.0224, "omch2": 0.1198, "theta_MC_100": 1.04091,
                        "mnu_eff": -0.00383, "logA": 3.04013, "ns": 0.96599, "tau": 0.05272,
                        "z_dagger": 3.0}, 609.845),
    "nu_interacting": ("nu_interacting", {"ombh2": 0.0225, "omch2": 0.11841,
                                          "theta_MC_100": 1.04113, "mnu_eff": 0.0,
                                          "logA": 3.05573, "ns": 0.9692, "tau": 0.06131,
                                          "alpha_fs": 1.0}, 614.197),
}
EMBEDDED_LABEL = ("embedded: numass batched best fits on --data full (emulator), "
                  "measured 2026-12-03")
TRUTH_KEYS = (TRUTH_FLOOR, *EMBEDDED_TRUTHS)


def floor_truth(lcdm_point: dict) -> dict:
    """ΛCDM with today's best-fit parameters but Σmν at the normal-ordering floor."""
    return {**lcdm_point, "mnu_eff": NO_FLOOR}


def embedded_truths() -> dict[str, tuple[str, dict]]:
    out = {k: (m, dict(p)) for k, (m, p, _) in EMBEDDED_TRUTHS.items()}
    out = {TRUTH_FLOOR: ("lcdm", floor_truth(out["lcdm"][1])), **out}
    return out


def truths_from_summary(folder: str | Path) -> dict[str, tuple[str, dict]]:
    """The best fits of a ``numass compare`` folder's summary.json (its 'hypotheses' block);
    hypotheses without a best fit keep the embedded point."""
    path = Path(folder) / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"--truths-from: cannot read {path} ({exc.__class__.__name__})") \
            from None
    hyps = summary.get("hypotheses")
    if not isinstance(hyps, dict):
        raise InputError(f"--truths-from: {path} has no 'hypotheses' block (is it a numass "
                         f"compare folder?)")
    out = embedded_truths()
    for key, (model, point) in list(out.items()):
        best = (hyps.get(key) or {}).get("bestfit")
        if key != TRUTH_FLOOR and isinstance(best, dict):
            out[key] = (model, {n: float(best[n]) for n in point if n in best} | {
                n: v for n, v in point.items() if n not in best})
    out[TRUTH_FLOOR] = ("lcdm", floor_truth(out["lcdm"][1]))
    return out
