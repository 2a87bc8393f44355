"""CAMB − emulator χ² at the emulator's best fit and profile points, on the full likelihoods.

    python benchmarks/bench_camb_check.py                    # ΛCDM; 2 CAMB processes, 1 step
    python benchmarks/bench_camb_check.py --model w0wa --steps 2

For each model: the emulator's best fit and its profile points at both floors (batched Newton,
as the nautilus path of `numass run` finds them), written as a job folder's summary.json, then
the comparison's CAMB check on it (compare/camb_check.py: re-evaluation with CAMB and the Newton
refinement). Prints per optimum the emulator's χ², CAMB's at the emulator optimum and after the
refinement, the CAMB calls, and the wall time. A measurement, not a test: the numbers depend on
the emulator's weights; the seconds on the machine's load (printed).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

FULL_BACKEND = {"lcdm": "emulator", "w0wa": "emulator", "AL_Alens": "emulator",
                "lscdm": "lscdm-emulator", "nu_interacting": "nu_interacting-emulator"}


def emulator_optima(model: str, datasets: list[str], backend: str) -> dict:
    """A job summary with the emulator's best fit and profile points (batched Newton)."""
    from numass.inference.bestfit import newton_fit, newton_profile
    from numass.inference.posterior import BatchPosterior
    from numass.inference.results import proposal_refs, proposal_widths
    from numass.inference.setup import build_info
    from numass.stats import FLOORS

    info = build_info(model, datasets, backend=backend)
    post = BatchPosterior(info, backend_options={})
    widths = proposal_widths(info)
    bf = newton_fit(post, proposal_refs(info), widths)
    profiles = newton_profile(post, "mnu_eff", list(FLOORS.values()), bf, widths)
    return {"model": model, "datasets": datasets,
            "bestfit": {k: v for k, v in bf.items() if k not in ("covariance", "n_calls")},
            "profiles": {k: {"mnu_eff": f, "chi2": p["chi2"],
                             "point": {n: p[n] for n in post.names}}
                         for (k, f), p in zip(FLOORS.items(), profiles)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lcdm")
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from numass.compare.camb_check import run_camb_check
    from numass.compare.plan import Job, Settings
    from numass.likelihoods import resolve_data

    _, datasets = resolve_data("full")
    backend = FULL_BACKEND[args.model]
    t0 = time.time()
    summary = emulator_optima(args.model, datasets, backend)
    t_emu = time.time() - t0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "summary.json").write_text(json.dumps(summary))
        job = Job(args.model, "hypothesis", args.model, args.model, datasets, backend=backend)
        t1 = time.time()
        res = run_camb_check(job, Settings(camb_steps=args.steps), None, folder, backend,
                             workers=args.workers, say=lambda m: print("  " + m, flush=True))
        t_camb = time.time() - t1
    print(f"\n{args.model} on {', '.join(datasets)} ({backend} vs {res['exact_backend']}); "
          f"load average {os.getloadavg()[0]:.1f}; emulator optima {t_emu:.0f} s; CAMB check "
          f"{t_camb:.0f} s, {res['n_camb_calls']} calls ({args.workers} processes, "
          f"{res['seconds_per_camb_call']:.1f} s per call)")
    print(f"{'optimum':<18}{'χ² emu':>10}{'CAMB at emu':>13}{'CAMB refined':>14}"
          f"{'refined − emu':>15}{'calls':>7}{'max shift [w]':>15}")
    for key, p in res["points"].items():
        c = p.get("chi2_camb")
        print(f"{key:<18}{p['chi2_emulator']:>10.3f}"
              f"{p.get('chi2_camb_at_emulator_optimum') or float('nan'):>13.3f}"
              f"{c if c is not None else float('nan'):>14.3f}"
              f"{(c - p['chi2_emulator']) if c is not None else float('nan'):>+15.3f}"
              f"{p['n_camb_calls']:>7}{p.get('max_shift_in_widths', float('nan')):>15.2f}")


if __name__ == "__main__":
    main()
