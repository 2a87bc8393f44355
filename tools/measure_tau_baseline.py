"""Measure what the tau baseline does to the headline numbers on the full data (docs/tau.md).

Runs ΛCDM + Σmν,eff, ΛCDM with Σmν ≥ 0 and the A_L + A_lens model on ``--data full``
(DESI DR2 + plik_lite TTTEEE + low-ℓ TT + tau prior + ACT DR6 lensing; emulator inside its box)
under one Gaussian tau prior, and importance-reweights finished chains to another tau prior
(exact for a change of prior alone; the effective sample size says how far to trust it).

    python tools/measure_tau_baseline.py run --mean 0.0544 --sigma 0.0073 --out tau-before
    python tools/measure_tau_baseline.py reweight --out tau-before \
        --from 0.0544,0.0073 --to 0.0506,0.0086
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FULL = ["desi-dr2-bao", "planck2018-plik-lite-TTTEEE", "planck2018-lowl-TT", "tau-prior",
        "act-dr6-lensing"]
POSITIVE_MASS = {"mnu_eff": {"prior": {"min": 0.0, "max": 0.5},
                             "ref": {"dist": "norm", "loc": 0.03, "scale": 0.01},
                             "proposal": 0.02, "latex": r"\Sigma m_\nu\,[\rm eV]"}}
FITS = {"lcdm": ("lcdm", None), "positive_mass": ("lcdm", POSITIVE_MASS),
        "AL_Alens": ("AL_Alens", None)}


def run(args) -> None:
    from numass.inference.pipeline import run_analysis

    options = {"tau-prior": {"mean": args.mean, "sigma": args.sigma}}
    for name in args.only or FITS:
        model, overrides = FITS[name]
        s = run_analysis(model=model, datasets=FULL, out=Path(args.out) / name,
                         backend="emulator-box", rminus1=args.rminus1, max_samples=80_000,
                         seed=1, plots=False, likelihood_options=options,
                         param_overrides=overrides, mcmc_options={"Rminus1_cl_stop": 0.2})
        print(name, json.dumps({k: s[k] for k in ("mnu_eff", "tension_sigma",
                                                  "tension_sigma_profile", "rminus1",
                                                  "wall_seconds")}))


def _gauss_ln(x, mean, sigma):
    return -0.5 * ((x - mean) / sigma) ** 2


def reweight_one(folder: Path, old: tuple, new: tuple) -> dict:
    """Posterior summaries of one finished run with its tau prior swapped from old to new."""
    from getdist import loadMCSamples

    from numass.stats import FLOORS, bayes_sigma, summarize_1d

    samples = loadMCSamples(str(folder / "chains" / "numass"), settings={"ignore_rows": 0.3})
    p = samples.getParams()
    tau = p.tau
    lnr = _gauss_ln(tau, *new) - _gauss_ln(tau, *old)
    w = samples.weights * np.exp(lnr - lnr.max())
    out = {"ess": float(w.sum() ** 2 / np.sum(w ** 2)),
           "ess_before": float(samples.weights.sum() ** 2 / np.sum(samples.weights ** 2)),
           "n_rows": len(w)}
    mnu = p.mnu_eff
    out["mnu_eff"] = summarize_1d(mnu, w)
    out["tension_sigma"] = {k: bayes_sigma(mnu, w, f) for k, f in FLOORS.items()}
    out["tau"] = summarize_1d(tau, w)
    for name in ("A_L", "A_lens"):
        if hasattr(p, name):
            out[name] = summarize_1d(getattr(p, name), w)
    return out


def reweight(args) -> None:
    old = tuple(float(v) for v in args.from_.split(","))
    new = tuple(float(v) for v in args.to.split(","))
    result = {name: reweight_one(Path(args.out) / name, old, new)
              for name in args.only or FITS if (Path(args.out) / name / "chains").is_dir()}
    print(json.dumps(result, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--mean", type=float, required=True)
    r.add_argument("--sigma", type=float, required=True)
    r.add_argument("--rminus1", type=float, default=0.03)
    w = sub.add_parser("reweight")
    w.add_argument("--from", dest="from_", required=True, help="old prior: mean,sigma")
    w.add_argument("--to", required=True, help="new prior: mean,sigma")
    for p in (r, w):
        p.add_argument("--out", required=True)
        p.add_argument("--only", nargs="*", choices=list(FITS))
    args = ap.parse_args()
    run(args) if args.cmd == "run" else reweight(args)


if __name__ == "__main__":
    main()
