"""The fast quadrature of the background (Gauss-Legendre panels, theory/quadrature.py) against
the per-point call (the exact quadrature): the largest relative difference of every product,
and of the DESI DR2 BAO and compressed CMB chi^2, over points spread across the emulator's box.

    python benchmarks/bench_background_accuracy.py [--n 60]

Cases: the 'background' backend with theta_MC given (w0wa, Sigma m_nu,eff in [-0.6, 0.6], one
massive state or three degenerate ones) and with H0 given; 'lscdm-background' (z_dagger 1-3);
'emulator' (LCDM and w0wa). The reference is the per-point ``compute`` at each point (the
generic Backend.compute_batch loop). Targets (issue 12): 1e-7 for the products, 1e-4 for chi^2.
"""
from __future__ import annotations

import argparse

import numpy as np

from numass.backends import make_backend
from numass.emulator import design
from numass.likelihoods import get_likelihood
from numass.theory.backend import Backend

DESI_Z = np.array([0.295, 0.51, 0.706, 0.934, 1.321, 1.484, 2.33])
BACKGROUND = frozenset({"background"})
PRODUCTS = ("H", "DM", "DH", "DV", "DM(z*)", "rdrag", "theta_star", "H0", "omegam", "zstar",
            "zdrag")


def box_points(n: int, rng, w0wa: bool) -> dict[str, np.ndarray]:
    """Uniform in the emulator's box (w0 + wa < -0.7 kept by resampling wa), mnu_eff +-0.6."""
    p = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in design.BOX.items()
         if k not in ("mnu", "w", "wa")}
    p["mnu_eff"] = rng.uniform(-0.6, 0.6, n)
    if w0wa:
        p["w"] = rng.uniform(*design.BOX["w"], n)
        p["wa"] = rng.uniform(design.BOX["wa"][0], np.minimum(design.BOX["wa"][1],
                                                              design.W_SUM_MAX - p["w"]), n)
    return p


def cases(n: int, rng) -> dict[str, tuple[str, dict, frozenset]]:
    spectra_only = ("logA", "ns", "tau", "A_L")
    bg = {k: v for k, v in box_points(n, rng, True).items() if k not in spectra_only}
    three = dict(bg, nu_states=np.full(n, 3.0))
    h0 = {k: v for k, v in bg.items() if k != "theta_MC_100"} | {"H0": rng.uniform(55, 80, n)}
    ls = {k: v for k, v in box_points(n, rng, False).items() if k not in spectra_only}
    ls["z_dagger"] = rng.uniform(1.0, 3.0, n)
    return {"background, theta_MC, w0wa": ("background", bg, BACKGROUND),
            "background, 3 degenerate": ("background", three, BACKGROUND),
            "background, H0 given": ("background", h0, BACKGROUND),
            "lscdm-background": ("lscdm-background", ls, BACKGROUND),
            "emulator, LCDM": ("emulator", box_points(n, rng, False), BACKGROUND),
            "emulator, w0wa": ("emulator", box_points(n, rng, True), BACKGROUND)}


def products(out, ok: np.ndarray) -> dict[str, np.ndarray]:
    bg = out.background
    zstar = np.where(ok, out.derived["zstar"], 1090.0)
    values = {name: getattr(bg, name)(DESI_Z)[ok] for name in ("H", "DM", "DH", "DV")}
    values["DM(z*)"] = np.array([bg.DM(np.array([z]))[i, 0] for i, z in enumerate(zstar)])[ok]
    values["rdrag"], values["theta_star"] = bg.rdrag[ok], bg.theta_star[ok]
    values.update({k: out.derived[k][ok] for k in ("H0", "omegam", "zstar", "zdrag")})
    return values


def chi2(likelihood, out, ok: np.ndarray) -> np.ndarray:
    return np.array([likelihood.chi2(out.point(i)) for i in np.flatnonzero(ok)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60, help="points a case")
    args = ap.parse_args()
    rng = np.random.default_rng(2026)
    likes = {"BAO": get_likelihood("desi-dr2-bao"), "CMB": get_likelihood("cmb-compressed")}
    for label, (name, params, need) in cases(args.n, rng).items():
        backend = make_backend(name)
        fast = backend.compute_batch(params, need)
        ref = Backend.compute_batch(backend, params, need)
        same_ok = np.array_equal(fast.ok, ref.ok)
        ok = fast.ok & ref.ok
        got, want = products(fast, ok), products(ref, ok)
        worst = {k: float(np.max(np.abs(got[k] / want[k] - 1))) for k in PRODUCTS}
        dchi2 = {}
        for k, lk in likes.items():  # the largest difference, and the chi^2 where it occurs
            want_chi2 = chi2(lk, ref, ok)
            diff = np.abs(chi2(lk, fast, ok) - want_chi2)
            dchi2[k] = f"{diff.max():.1e} (at chi2 = {want_chi2[diff.argmax()]:.3g})"
        print(f"{label} ({ok.sum()} of {len(ok)} points ok, same ok rows: {same_ok})")
        print("   " + "  ".join(f"{k} {v:.1e}" for k, v in worst.items()))
        print("   max |d chi2|: " + "  ".join(f"{k} {v}" for k, v in dchi2.items()))


if __name__ == "__main__":
    main()
