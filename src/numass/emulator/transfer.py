"""The emulator beyond its box in w0 and wa: the late-time transfer.

A w0wa point with w0 in (-0.2, design.W0_MAX] and/or wa in [design.WA_MIN, -3) and every other
coordinate inside the box is computed from a REFERENCE inside the box: the same early universe
(ω_b, ω_c, Σmν, n_s, A_s, τ, A_L), the same θ_MC, and w0 moved to the box's edge -0.2, wa to its
edge -3 (each only where beyond it), computed by the emulator.
The reference is carried to the target with the emulated late-time engine's pieces
(theory/latetime_batch.py, carry_rows; a single point as a batch of one):

* primary spectra: the same θ_MC means the same D_M(z*) to ~1e-7 (the early universe is shared
  and dark energy with w0 + wa < -0.7 does not reach z* measurably), so the unlensed primary
  spectra at ℓ ≳ 30 are the reference's as they are (the engine's angular mapping is the
  identity here; measured in tests/test_emulator_transfer.py);
* C_L^φφ: the reference's times the Limber ratio target/reference with the growth ratio and
  (at half weight, NL_WEIGHT) the nonlinear power's stronger response to it (nl_response.py);
* lensed TT, TE, EE: moved by the linear response of the lensing to that ratio;
* σ8: the growth ratio today and the radius 8/h of the target.

The transfer leaves out the late ISW and the dark-energy perturbations (PPF) on large scales,
which change TT at ℓ ≲ 30, where the low-ℓ TT likelihood looks (up to 0.12 σ_CV and 1.5 in its
χ² at w0 = 0.3). There TT comes instead from the emulator itself, extrapolated in w0 by the
quadratic through its values at the reference's w0 and 0.1 and 0.2 below it (all in the box; the
emulator is a smooth polynomial there, and this part of TT a smooth function of w0); a move in wa
is extrapolated the same way along the move, back into the box (low_ell_tt): ℓ < 30
extrapolated, ℓ >= 40 transferred, a linear blend between (errors in docs/emulator.md). TE and EE
below ℓ = 30 (the reionization bump; no numass likelihood uses them) stay the reference's. The background (H0, distances, r_d, θ*) is numass's own for the target, exact
as inside the box.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numass.emulator import design, targets
from numass.theory.backend import NEEDS
from numass.theory.background import BackgroundRows, compute_background
from numass.theory.batch import BatchSpectra
from numass.theory.densities import Densities, batch_densities
from numass.theory.latetime_batch import carry_rows
from numass.theory.products import SPECTRA_KEYS, TheoryProducts

_DENS = ("ombh2", "omch2", "mnu", "nnu", "w", "wa")
ISW_LMAX, ISW_BLEND = 30, 40  # TT: extrapolated below ISW_LMAX, blended up to ISW_BLEND
W0_STEP = 0.1
# one extrapolation step in wa (low_ell_tt): the late ISW responds to wa about a third as much
# as to w0 (w = w0 + wa z/(1+z), and the ISW comes from z < 1)
WA_STEP = 0.3
# The nonlinear power's response to the growth ratio (theory/nl_response.py) at half its A_s
# response: all of it over-corrects C_L^φφ at L ~ 800-1250 (CAMB at six points: -0.39% -> +0.14%
# at (w0, wa) = (0.1, -1.5), +0.29% -> -0.35% at (0.3, -2.95); HMcode's halos follow the growth
# history, which a late dark-energy change and an A_s change move differently); one half leaves
# <= 0.2% there. Checked on held-out points in docs/emulator.md.
NL_WEIGHT = 0.5


def low_ell_tt(emulator, ref_rows: np.ndarray, w0: np.ndarray, wa=None) -> np.ndarray:
    """TT D_ℓ on ℓ = LMIN..ISW_BLEND-1 at (w0, wa) (n,; wa None: the references'), from the
    emulator at the reference rows (n, 10) and one and two steps back from the target through
    them into the box: the quadratic through the three. A move in w0 alone steps W0_STEP in w0;
    a move with wa steps along the move, W0_STEP and WA_STEP being one step's length in each."""
    from numass.emulator.batch import predict_low_tt

    iw, iwa = design.PARAMS.index("w"), design.PARAMS.index("wa")
    dw = np.asarray(w0, dtype=float) - ref_rows[:, iw]
    dwa = np.zeros(len(dw)) if wa is None else np.asarray(wa, dtype=float) - ref_rows[:, iwa]
    length = np.hypot(dw / W0_STEP, dwa / WA_STEP)
    w_only = dwa == 0.0  # the w0 transfer as it was, to the bit
    s = np.where(w_only, dw / W0_STEP, length)[:, None]
    step = np.zeros_like(ref_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        step[:, iw] = np.where(w_only, W0_STEP, dw / length)
        step[:, iwa] = np.where(w_only, 0.0, dwa / length)
    stack = np.vstack([ref_rows - j * step for j in range(3)])
    f0, f1, f2 = np.split(predict_low_tt(emulator, stack, ISW_BLEND), 3)
    return f0 + s * (f0 - f1) + s * (s + 1) / 2 * (f0 - 2 * f1 + f2)


def blend_low_tt(tt: np.ndarray, low: np.ndarray) -> None:
    """TT (…, ℓ from 0) with ``low`` (low_ell_tt) below ISW_LMAX, blended linearly to the
    transferred TT at ISW_BLEND (in place)."""
    lmin = targets.LMIN
    ell = np.arange(lmin, ISW_BLEND)
    weight = np.clip((ISW_BLEND - ell) / (ISW_BLEND - ISW_LMAX), 0.0, 1.0)
    tt[..., lmin:ISW_BLEND] = weight * low + (1.0 - weight) * tt[..., lmin:ISW_BLEND]


def reference_params(p: dict, row: np.ndarray) -> dict:
    """The reference's parameters: ``p`` (normalised) at the target's θ_MC with w0 at the
    box's edge."""
    ref = {k: v for k, v in p.items() if k not in ("H0", "cosmomc_theta")}
    ref_row = design.reference_rows(row)[0]
    ref["cosmomc_theta"] = float(ref_row[design.PARAMS.index("theta_MC_100")]) / 100.0
    ref["w"] = float(ref_row[design.PARAMS.index("w")])
    ref["wa"] = float(ref_row[design.PARAMS.index("wa")])
    return ref


def transfer_compute(backend, params: dict, p: dict, row: np.ndarray,
                     need: frozenset[str] = NEEDS) -> TheoryProducts:
    """EmulatorBackend.compute at a point the transfer serves (design.by_transfer(row)):
    ``params`` as given, ``p`` normalised, ``row`` its design row."""
    dens = {k: p[k] for k in _DENS}
    theta = float(row[design.PARAMS.index("theta_MC_100")]) / 100.0
    given = {"cosmomc_theta": theta} if "cosmomc_theta" in p else {"H0": p["H0"]}
    target = compute_background({**given, **dens})
    h0 = float(target.h) * 100.0
    derived = {"H0": h0, "omegam": float(target.omegam), "omnuh2": float(target.omnuh2),
               "rdrag": float(target.rdrag), "zdrag": float(target.zdrag),
               "theta_star": float(target.theta_star), "zstar": float(target.zstar),
               "As": p["As"], "w": p["w"], "wa": p["wa"]}
    spectra = None
    if "spectra" in need:
        ref_p = reference_params(p, row)
        ref = backend.compute(ref_p, need)
        spectra, sigma8 = _carry_one(ref, target, dens, {k: ref_p[k] for k in _DENS}, p)
        blend_low_tt(spectra.tt, low_ell_tt(backend.emulator, design.reference_rows(row),
                                            np.array([p["w"]]), np.array([p["wa"]]))[0])
        derived["sigma8"] = sigma8
        derived["S8"] = sigma8 * float(np.sqrt(derived["omegam"] / 0.3))
    return TheoryProducts(params=dict(params), spectra=spectra, background=target,
                          derived=derived)


def _carry_one(ref: TheoryProducts, target, dens: dict, dens_ref: dict, p: dict) -> tuple:
    """carry_rows on a batch of one: the reference's spectra and σ8 carried to ``target``."""
    one = np.ones(1, dtype=bool)

    def background(d: dict, h: float):
        return BackgroundRows(batch_densities({k: np.array([float(v)]) for k, v in d.items()}),
                               np.array([h]), one)

    s = ref.need_spectra("the w0wa transfer")
    spectra = BatchSpectra(ell=s.ell, **{k: getattr(s, k)[None].copy() for k in SPECTRA_KEYS})
    first = np.zeros(1, dtype=int)
    _, sigma8 = carry_rows(spectra, first, background(dens, float(target.h)),
                           background(dens_ref, ref.derived["H0"] / 100.0), first,
                           np.array([p["ombh2"] + p["omch2"]]), np.array([float(target.h)]),
                           np.array([ref.derived["H0"] / 100.0]), np.array([float(p["A_L"])]),
                           np.ones(1), np.array([float(ref.derived["sigma8"])]),
                           nl_weight=NL_WEIGHT)
    return spectra.row(0), float(sigma8[0])


# --- many points at once (EmulatorBackend.compute_batch, emulator/batch.py) ------------------

@dataclass
class TransferRows:
    """The rows of a batch that the transfer serves: their indices, target and reference
    densities, h of both (same θ_MC), and whether h was found."""

    idx: np.ndarray
    dens_t: Densities
    dens_r: Densities
    h_t: np.ndarray
    h_r: np.ndarray
    ok: np.ndarray
    ref_rows: np.ndarray  # the references' design rows
    w0: np.ndarray  # the targets' w0
    wa: np.ndarray  # the targets' wa


def transfer_rows(emulator, ref_rows: np.ndarray, p: dict[str, np.ndarray], dens, idx: np.ndarray,
                  accuracy: str, h_emu: np.ndarray | None) -> TransferRows:
    """h of the targets and references of rows ``idx`` (design rows ``ref_rows`` of the
    references, all rows; ``dens`` the targets' batched densities; ``h_emu`` the emulated h of
    all rows when known): the reference's as inside the box (emulated, one Newton step), the
    target's by Newton on its θ_MC (or its given H0)."""
    from numass.emulator.batch import emulated_h0
    from numass.theory.background import solve_h
    from numass.theory.densities import take_rows

    dens_t = take_rows(dens, idx)
    sub = {k: p[k][idx] for k in _DENS}
    sub["w"] = ref_rows[idx, design.PARAMS.index("w")]
    sub["wa"] = ref_rows[idx, design.PARAMS.index("wa")]
    dens_r = batch_densities(sub)
    h_r = emulated_h0(emulator, ref_rows[idx], dens_r, accuracy,
                      None if h_emu is None else h_emu[idx]) / 100.0
    if "cosmomc_theta" in p:
        theta = ref_rows[idx, design.PARAMS.index("theta_MC_100")] / 100.0
        h_t, ok = solve_h(dens_t, theta, h_r, (0.2, 1.5), "simpson", accuracy)
    else:
        h_t, ok = p["H0"][idx] / 100.0, np.ones(len(idx), dtype=bool)
    return TransferRows(idx, dens_t, dens_r, h_t, h_r, ok & np.isfinite(h_r) & np.isfinite(h_t),
                        ref_rows[idx], p["w"][idx], p["wa"][idx])


def carry_batch(emulator, spectra, sigma8: np.ndarray, rows: TransferRows,
                p: dict[str, np.ndarray]) -> np.ndarray:
    """The references' spectra of rows.idx carried to the targets (in place) and their σ8
    (``sigma8`` of all rows, changed in place); returns the rows.idx mask of rows done."""
    bg_t = BackgroundRows(rows.dens_t, rows.h_t, rows.ok)
    bg_r = BackgroundRows(rows.dens_r, rows.h_r, rows.ok)
    done = bg_t.ok & bg_r.ok
    local = np.flatnonzero(done)
    if len(local):
        idx = rows.idx[local]
        ocb = p["ombh2"][idx] + p["omch2"][idx]
        _, sigma8[idx] = carry_rows(spectra, idx, bg_t, bg_r, local, ocb, rows.h_t[local],
                                    rows.h_r[local], p["A_L"][idx], np.ones(len(idx)),
                                    sigma8[idx], nl_weight=NL_WEIGHT)
        low = low_ell_tt(emulator, rows.ref_rows[local], rows.w0[local], rows.wa[local])
        tt = spectra.tt[idx]
        blend_low_tt(tt, low)
        spectra.tt[idx] = tt
    return done
