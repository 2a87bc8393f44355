"""The emulator's late-time transfer (w0 or wa beyond the box) against fresh CAMB runs.

    python benchmarks/bench_transfer.py [--n 24] [--n-chi2 12] [--seed 4242] [--workers 2]
                                        [--json out.json] [--wa-below]

Draws ``--n`` points in the region the transfer serves (emulator/design.py: w0 in (-0.2, 0.35],
wa in [-3, -1.2 - 2.7 w0]; with --wa-below w0 in [-0.6, 0.35], wa in [WA_MIN, -3)), A_L in
[0.8, 1.2], the other seven parameters in the core of the emulator's box as ``numass emulator
validate`` draws them) and ``--n-chi2`` points with Planck-like early-universe parameters
(validation.emulator.posterior_points) and (w0, wa) in the same region. CAMB (numass's
CambBackend, the emulator's training settings) runs at the H0 numass gives the target's θ_MC (so
CAMB's own H0(θ_MC) search, which fails for some w0 > 0.3, is not needed; numass's θ_MC is CAMB's
to ~1e-5 in H0). Prints the spectra errors (as validation.emulator.cv_errors), σ8, the emulator's own error
at the in-box reference of each point (CAMB run there too), and |Δχ²| of the full likelihoods
(A_L = 1, as the w0wa model; at the points and at their references). Needs NUMASS_DATA_DIR for
the χ² part. Two CAMB runs per point: ~4 minutes on 2 cores for the defaults.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from numass.emulator import design, targets
from numass.validation.emulator import CHI2_IDS, cv_errors, posterior_points

NEED = frozenset({"spectra", "background"})
SL = slice(targets.LMIN, targets.LMAX + 1)


# (w0, wa) drawn in: the region beyond the box in w0, or (--wa-below) the one below it in wa
W0_REGION = ((-0.2, 0.35), (-3.0, -0.5))
WA_REGION = ((-0.6, 0.35), (design.WA_MIN, -3.0))


def served_points(x: np.ndarray, seed: int, band=(-np.inf, np.inf), a_l: bool = True,
                  region=W0_REGION) -> np.ndarray:
    """x with (w0, wa) drawn uniformly in ``region`` of the transfer's (rejection), wa + 2.7 w0
    within ``band`` as well; A_L uniform in the transfer's range (``a_l``) or kept."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    iw, iwa = design.PARAMS.index("w"), design.PARAMS.index("wa")
    for i in range(len(x)):
        while True:
            w, wa = rng.uniform(*region[0]), rng.uniform(*region[1])
            t = wa + design.TILT * w
            if t <= design.TILT_MAX and band[0] <= t <= band[1]:
                x[i, iw], x[i, iwa] = w, wa
                break
    ia = design.PARAMS.index("A_L")
    if a_l:
        x[:, ia] = rng.uniform(*design.A_L_RANGE, len(x))  # the transfer's A_L range
    assert np.all(design.by_transfer(x))
    return x


def _camb(params: dict) -> dict:
    from numass.errors import TheoryError
    from numass.theory.camb_backend import CambBackend

    try:
        prod = CambBackend(lmax=targets.LMAX, cache_size=1).compute(params, NEED)
    except TheoryError as exc:
        return {"ok": False, "error": str(exc)}
    s = prod.spectra
    return {"ok": True, **{k: getattr(s, k)[SL] for k in targets.SPECTRA},
            "sigma8": float(prod.derived["sigma8"])}


def camb_runs(param_list: list[dict], workers: int) -> list[dict]:
    from multiprocessing import get_context

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with get_context("spawn").Pool(workers) as pool:
        return pool.map(_camb, param_list, chunksize=1)


def at_h0(row: np.ndarray, h0: float) -> dict:
    p = design.as_params(row)
    p.pop("theta_MC_100")
    return {**p, "H0": h0}


def spectra_errors(pred: list, camb: list[dict]) -> dict[str, np.ndarray]:
    ok = [i for i, c in enumerate(camb) if c["ok"]]
    arr = {k: np.array([getattr(pred[i].spectra, k)[SL] for i in ok]) for k in targets.SPECTRA}
    ref = {k: np.array([camb[i][k] for i in ok]) for k in targets.SPECTRA}
    out = cv_errors(arr["tt"], arr["te"], arr["ee"], arr["pp"], ref)
    nu = 2 * targets.ELL[:28] + 1  # 2 <= ell <= 29: the low-ell TT likelihood's range
    out["tt_low"] = np.max(np.abs(arr["tt"][:, :28] - ref["tt"][:, :28])
                           / (ref["tt"][:, :28] * np.sqrt(2 / nu)), axis=1)
    out["sigma8"] = np.abs(np.array([pred[i].derived["sigma8"] / camb[i]["sigma8"] - 1
                                     for i in ok]))
    return out


def chi2_differences(pred: list, camb: list[dict], rows: np.ndarray) -> dict[str, np.ndarray]:
    from numass.errors import DataError
    from numass.likelihoods import get_likelihood
    from numass.theory.products import Spectra, TheoryProducts

    def products(spec, row):
        n = targets.LMAX + 1
        full = {k: np.zeros(n) for k in (*targets.SPECTRA, "bb")}
        for k in targets.SPECTRA:
            full[k][SL] = spec[k]
        return TheoryProducts(params=design.as_params(row), spectra=Spectra(ell=np.arange(n),
                              **full), background=None, derived={})

    out = {}
    for lik_id in CHI2_IDS:
        try:
            lik = get_likelihood(lik_id)
        except DataError:
            continue
        d = [lik.chi2(products({k: getattr(p.spectra, k)[SL] for k in targets.SPECTRA}, r))
             - lik.chi2(products(c, r)) for p, c, r in zip(pred, camb, rows) if c["ok"]]
        out[lik_id] = np.array(d)
    return out


def summary(name: str, v: np.ndarray, target: float | None) -> str:
    av = np.abs(v)
    passed = f"{100 * np.mean(av < target):.0f}%" if target else "—"
    return (f"| {name} | {np.median(av):.3g} | {np.percentile(av, 90):.3g} | {av.max():.3g} | "
            f"{target if target else '—'} | {passed} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--n-chi2", type=int, default=12)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    ap.add_argument("--wa-below", action="store_true", help="draw (w0, wa) below the box in "
                    "wa: w0 in [-0.6, 0.35], wa in [WA_MIN, -3)")
    ap.add_argument("--chi2-band", default=None, help="LO,HI: the chi2 points' wa + 2.7 w0 "
                    "within it (e.g. -3.4,-2.2: where the w0wa posterior lies)")
    a = ap.parse_args()
    from numass.emulator.backend import EmulatorBackend

    emu = EmulatorBackend()
    region = WA_REGION if a.wa_below else W0_REGION
    x = served_points(design.latin_hypercube(a.n, a.seed, shrink=0.5), a.seed + 1, region=region)
    band = tuple(map(float, a.chi2_band.split(","))) if a.chi2_band else (-np.inf, np.inf)
    xc = served_points(posterior_points(a.n_chi2, a.seed + 2), a.seed + 3, band, a_l=False,
                       region=region)
    pred = [emu.compute(design.as_params(r), NEED) for r in x]
    predc = [emu.compute(design.as_params(r), NEED) for r in xc]
    refs, refc = design.reference_rows(x), design.reference_rows(xc)
    pref = [emu.compute(design.as_params(r), NEED) for r in refs]
    prefc = [emu.compute(design.as_params(r), NEED) for r in refc]
    jobs = [at_h0(r, p.derived["H0"]) for rows, preds in ((x, pred), (refs, pref), (xc, predc),
                                                           (refc, prefc))
            for r, p in zip(rows, preds)]
    camb = camb_runs(jobs, a.workers)
    m = a.n_chi2
    c_t, c_r = camb[:a.n], camb[a.n:2 * a.n]
    c_c, c_cr = camb[2 * a.n:2 * a.n + m], camb[2 * a.n + m:]
    print(f"CAMB failures: {sum(not c['ok'] for c in camb)} of {len(camb)}")
    err, err_ref = (spectra_errors(pred, c_t), spectra_errors(pref, c_r)) if a.n else ({}, {})
    chi2 = chi2_differences(predc, c_c, xc) if m else {}
    chi2_ref = chi2_differences(prefc, c_cr, refc) if m else {}
    goals = {"tt": 0.05, "te": 0.05, "ee": 0.05, "tt_all": 0.05, "te_all": 0.05, "ee_all": 0.05,
             "tt_low": None, "pp": 0.003, "sigma8": None}
    print(f"| quantity ({a.n} points) | median | 90th pct | max | target | pass |")
    print("|---|---|---|---|---|---|")
    for k, g in goals.items() if a.n else ():
        print(summary(k, err[k], g))
        print(summary(k + " (reference, in box)", err_ref[k], g))
    for k, v in chi2.items():
        print(summary(f"Δχ² {k} ({len(v)} points)", v, None))
        print(summary(f"Δχ² {k} (reference, in box)", chi2_ref[k], None))
        print(f"  signed: {np.round(v, 3).tolist()}")
        print(f"  reference: {np.round(chi2_ref[k], 3).tolist()}")
    if a.json:
        dump = {"x": x.tolist(), "x_chi2": xc.tolist(),
                "errors": {k: v.tolist() for k, v in err.items()},
                "errors_reference": {k: v.tolist() for k, v in err_ref.items()},
                "chi2": {k: v.tolist() for k, v in chi2.items()},
                "chi2_reference": {k: v.tolist() for k, v in chi2_ref.items()}}
        with open(a.json, "w") as f:
            json.dump(dump, f, indent=1)


if __name__ == "__main__":
    main()
