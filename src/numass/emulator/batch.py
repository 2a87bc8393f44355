"""The emulator at many points at once: ``predict_rows`` (what Emulator.predict runs) and the
vectorised ``compute_batch`` of the 'emulator' backend.

Why predict cost as much a row at n = 1000 as at n = 1: the PCA reconstruction wrote four
(n, 2999) arrays and their temporaries at a time ((n, 2999) float64 is 24 MB at n = 1000: each
new one is fresh memory the kernel has to map and zero, and every element-wise pass runs from
main memory). Here the rows go through in blocks small enough to stay in cache, into arrays
allocated once, with the tolerance scaling folded into the basis and the inverse target map done
in place. The matrix products are the same; results agree with the earlier code to rounding.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from numass.emulator import design, targets
from numass.theory.backend import batch_accuracy, check_need, normalise_arrays
from numass.theory.background import BackgroundRows, theta_mc
from numass.theory.batch import BatchProducts, BatchSpectra, broadcast_params
from numass.theory.densities import Densities, batch_densities, valid_rows

_BLOCK = 32  # rows per block: 4 x 32 x 2999 float64 is ~3 MB


@lru_cache(maxsize=4)
def _scaled_pca(emulator) -> dict:
    """k -> (mean x tol, basis x tol): the targets' whitening folded into the PCA."""
    return {k: (mean * tol, basis * tol[None, :]) for k, (mean, basis, tol)
            in emulator.pca.items()}


def predict_rows(emulator, x: np.ndarray, out: dict | None = None,
                 out_all: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Emulator.predict: spectra (n, 2999) on ell = 2..3000, sigma8 and H0 (n,); ``out`` may
    give the (n, 2999) arrays (views) to write the spectra into, ``out_all`` the emulator's
    outputs at x when already computed."""
    out_all = emulator.outputs(x) if out_all is None else out_all
    n, K = len(out_all), emulator.K
    pca = _scaled_pca(emulator)
    out = dict(out) if out else {k: np.empty((n, len(targets.ELL))) for k in targets.SPECTRA}
    buffer = np.empty((min(_BLOCK, n), len(targets.ELL)))  # contiguous, for BLAS
    for start in range(0, n, _BLOCK):
        rows = slice(start, min(start + _BLOCK, n))
        for i, k in enumerate(targets.SPECTRA):
            mean, basis = pca[k]
            product = buffer[:rows.stop - start]
            np.matmul(out_all[rows, i * K:(i + 1) * K], basis, out=product)
            np.add(product, mean, out=out[k][rows])
        tt, ee, te, pp = (out[k][rows] for k in ("tt", "ee", "te", "pp"))
        np.exp(tt, out=tt)
        np.exp(ee, out=ee)
        np.exp(pp, out=pp)
        te *= np.sqrt(tt * ee)  # te held the correlation r
    out["sigma8"] = np.exp(out_all[:, -2])
    out["H0"] = 100.0 * out_all[:, -1]
    return out


def predict_low_tt(emulator, x: np.ndarray, lmax: int) -> np.ndarray:
    """The emulator's lensed TT D_ℓ on ℓ = LMIN..lmax-1 at rows x, (n, lmax - LMIN): the first
    columns of predict_rows' TT, without reconstructing the rest."""
    out_all = emulator.outputs(x)
    mean, basis = _scaled_pca(emulator)["tt"]
    i, K, m = targets.SPECTRA.index("tt"), emulator.K, lmax - targets.LMIN
    return np.exp(out_all[:, i * K:(i + 1) * K] @ basis[:, :m] + mean[:m])


def h_and_slope_rows(emulator, x: np.ndarray, step: float = 1e-5,
                     h: np.ndarray | None = None):
    """Emulator.h_and_slope for rows x (n, 10): (h, dh/d theta_MC_100), each (n,); ``h`` the
    emulated h at x when already known (the last column of the emulator's outputs)."""
    from numass.emulator.network import features

    i = emulator.params.index("theta_MC_100")
    shifted = x.copy()
    shifted[:, i] += step
    both = x if h is None else np.empty((0, x.shape[1]))
    h_all = features(emulator.scale_inputs(np.vstack([both, shifted])), emulator.degree) \
        @ emulator.W[:, -1]
    h = h_all[:len(both)] if h is None else h
    return h, (h_all[len(both):] - h) / step


def refused_rows(p: dict[str, np.ndarray]) -> np.ndarray:
    """Rows normalise_params or the emulator's fixed settings refuse (per point: InputError)."""
    bad = ~valid_rows({k: p[k] for k in ("ombh2", "omch2", "mnu", "nnu", "nu_states", "w",
                                          "wa", "TCMB")})
    bad |= (p["mnu"] < 0) | (p["A_L"] < 0) | (p["A_lens"] < 0)
    for k, v in design.FIXED.items():
        bad |= p[k] != v
    for value in p.values():
        bad |= ~np.isfinite(value)
    return bad


def design_rows(p: dict[str, np.ndarray], dens: Densities,
                accuracy: str = "fast") -> np.ndarray:
    """(n, 10) rows in design.PARAMS order; theta_MC from H0 if not given."""
    if "cosmomc_theta" in p:
        theta100 = 100.0 * p["cosmomc_theta"]
    else:
        theta100 = 100.0 * theta_mc(dens, p["H0"] / 100.0, accuracy=accuracy)
    values = {**p, "theta_MC_100": theta100, "logA": np.log(1e10 * p["As"])}
    return np.stack([values[k] for k in design.PARAMS], axis=1)


def emulated_h0(emulator, rows: np.ndarray, dens: Densities, accuracy: str = "fast",
                h: np.ndarray | None = None) -> np.ndarray:
    """H0 at the rows' theta_MC: the emulated h (``h`` if already known) and one Newton step on
    numass's theta_MC (as EmulatorBackend.compute)."""
    h, slope = h_and_slope_rows(emulator, rows, h=h)
    theta = theta_mc(dens, h, accuracy=accuracy)
    h = h + (rows[:, design.PARAMS.index("theta_MC_100")] - 100 * theta) * slope
    return 100.0 * h


def _safe(p: dict[str, np.ndarray], ok: np.ndarray) -> dict[str, np.ndarray]:
    """Failed rows replaced by the box's centre (so the arithmetic on them stays finite)."""
    centre = design.as_params((design.LOW + design.HIGH) / 2)
    centre.update({"As": np.exp(centre["logA"]) * 1e-10, "H0": 67.0,
                   "cosmomc_theta": centre["theta_MC_100"] / 100, "A_lens": 1.0})
    return {k: np.where(ok, v, centre[k]) if k in centre else v for k, v in p.items()}


def emulator_batch(backend, params: dict, need, accuracy: str | None = None,
                   theta_accuracy: str | None = None) -> BatchProducts:
    """EmulatorBackend.compute_batch: one emulator call and one batched background for all the
    rows inside the box; rows outside it get ok = False (no CAMB fallback inside a batch).
    ``accuracy`` overrides the backend's background accuracy ('fast' or 'exact'),
    ``theta_accuracy`` that of theta_MC <-> H0 (default: ``accuracy``)."""
    need = check_need(need)
    backend.check_names(params)
    given = broadcast_params(params)
    p = normalise_arrays(given)
    ok = ~refused_rows(p)
    p = _safe(p, ok)
    dens = batch_densities({k: p[k] for k in ("ombh2", "omch2", "mnu", "nnu", "w", "wa")})
    accuracy = accuracy or batch_accuracy(backend)
    theta_accuracy = theta_accuracy or accuracy
    rows = design_rows(p, dens, theta_accuracy)
    finite = np.all(np.isfinite(rows), axis=1)
    ext = np.flatnonzero(ok & finite & design.by_transfer(rows))  # w0/wa beyond the box
    ok &= design.in_box(rows) & finite
    ok[ext] = True
    rows[ext] = design.reference_rows(rows[ext])  # emulated at the references
    rows[~ok] = (design.LOW + design.HIGH) / 2
    out_all = backend.emulator.outputs(rows) if "spectra" in need else None
    h_emu = None if out_all is None else out_all[:, -1]  # the emulated h: the last column
    if "cosmomc_theta" in p:
        h0 = emulated_h0(backend.emulator, rows, dens, theta_accuracy, h_emu)
    else:
        h0 = p["H0"]
    carried = None
    if len(ext):
        from numass.emulator.transfer import transfer_rows

        carried = transfer_rows(backend.emulator, rows, p, dens, ext, accuracy, h_emu)
        h0 = np.array(h0, dtype=float)
        h0[ext] = 100.0 * carried.h_t
        ok[ext] = carried.ok
    bg = BackgroundRows(dens, h0 / 100.0, ok & np.isfinite(h0), accuracy)
    ok = bg.ok
    derived = {"H0": h0, "omegam": bg.omegam, "omnuh2": bg.omnuh2, "rdrag": bg.rdrag,
               "zdrag": bg.zdrag, "theta_star": bg.theta_star, "zstar": bg.zstar,
               "As": p["As"], "w": p["w"], "wa": p["wa"]}
    spectra = None
    if "spectra" in need:
        spectra, pred = _spectra(backend.emulator, rows, p["A_lens"], ok, out_all)
        if carried is not None:
            from numass.emulator.transfer import carry_batch

            ok[ext] &= carry_batch(backend.emulator, spectra, pred["sigma8"], carried, p)
            ok &= np.all(np.isfinite(spectra.pp), axis=1)
        derived["sigma8"] = pred["sigma8"]
        derived["S8"] = pred["sigma8"] * np.sqrt(bg.omegam / 0.3)
    derived = {k: np.where(ok, v, np.nan) for k, v in derived.items()}
    return BatchProducts(params=given, ok=ok, spectra=spectra, background=bg, derived=derived)


def _spectra(emulator, rows: np.ndarray, a_lens: np.ndarray, ok: np.ndarray,
             out_all: np.ndarray | None = None):
    """(spectra on ell = 0..LMAX: zeros below LMIN, BB not emulated, NaN where not ok; the
    emulator's predictions), the emulator writing straight into the arrays."""
    n, size = len(ok), targets.LMAX + 1
    arrays = {k: np.zeros((n, size)) for k in (*targets.SPECTRA, "bb")}
    pred = predict_rows(emulator, rows, {k: arrays[k][:, targets.LMIN:]
                                         for k in targets.SPECTRA}, out_all)
    arrays["pp"] *= a_lens[:, None]
    for a in arrays.values():
        a[~ok] = np.nan
    return BatchSpectra(ell=np.arange(size), **arrays), pred
