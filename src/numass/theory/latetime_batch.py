"""The emulated late-time engines, 'lscdm-emulator' and 'nu_interacting-emulator', for n points
at once (a per-point ``compute`` is a batch of one); ``carry_rows`` also serves the
emulator's w0wa transfer (emulator/transfer.py), ``matched_h``, ``ratio_rows`` and
``sigma2_ratio`` the CAMB engine (theory/latetime.py).

The reference ΛCDM (the emulator) at the H0 matched to the target's D_M(z*) needs no angular
mapping; the target changes the lensing alone: C_L^φφ by the Limber ratio over one fiducial CAMB
P(k, z), the lensed spectra by the fiducial linear response to it, σ8 by the growth ratio
(docs/batch.md, "The emulated late-time engines"; errors in docs/latetime.md). A failed row
gets ok = False and NaN (a batch of one raises the specific error); names and shapes are
checked for the whole batch (InputError).
"""
from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np
from scipy.interpolate import CubicSpline

from numass.parameters import to_camb_names
from numass.theory import background as bk
from numass.theory import reference as rf
from numass.theory.backend import NEEDS, check_need, normalise_arrays
from numass.theory.background_backend import background_batch
from numass.theory.batch import BatchProducts, BatchSpectra, broadcast_params
from numass.theory.densities import SAFE_VALUES, batch_densities
from numass.theory.free_streaming import suppression_on_grid
from numass.theory.limber_batch import L_GRID, LimberTable, Nodes, carried_growth
from numass.theory.nl_response import limber_rows
from numass.theory.quadrature import PanelDistance
from numass.theory.table_cache import cached_arrays, code_key

_H_BRACKET = (0.40, 1.10)  # the reference's h is sought in [0.4, 1.1]
_SIGMA_R = np.geomspace(4.0, 30.0, 90)  # radii [Mpc] of the fiducial σ_R table


class Fiducial(NamedTuple):
    """What the emulated engines take from the fiducial CAMB run: its LimberTable, the spline of
    ln σ_R in ln R on _SIGMA_R, and (k, linear P(k, z = 0))."""
    table: LimberTable
    sigma_spline: CubicSpline
    pk_lin0: tuple[np.ndarray, np.ndarray]


_FIDUCIAL: dict[str, Fiducial] = {}  # this process's, built once


def _table_key() -> dict:
    """What the fiducial tables depend on: the fiducial parameters, CAMB, and the code that
    computes them (any edit of it is a new key)."""
    from numass import parameters
    from numass.theory import (
        backend,
        background,
        camb_backend,
        densities,
        free_streaming,
        limber_batch,
        neutrinos,
        nl_response,
        quadrature,
    )

    return {"early": rf.FIDUCIAL_EARLY, "H0": rf.FIDUCIAL_H0,
            **code_key([sys.modules[__name__], limber_batch, rf, camb_backend, backend,
                        background, quadrature, densities, neutrinos, free_streaming,
                        nl_response, parameters])}


def _tabulate_fiducial() -> dict[str, np.ndarray]:
    fid = rf.fiducial_reference()
    return {**LimberTable(fid.pk, fid.background).arrays(),
            "sigma_R": np.array([fid.sigma_R(r) for r in _SIGMA_R]),
            "k_lin0": fid.pk_lin0[0], "pk_lin0": fid.pk_lin0[1]}


def _fiducial_tables() -> Fiducial:
    """The Fiducial of this process: its arrays kept on disk between runs (table_cache, keyed by
    _table_key), so that a process needs the fiducial CAMB run (~2 s) only to compute them, or
    for a row outside the tables."""
    if "tables" not in _FIDUCIAL:
        key = _table_key()
        t = cached_arrays("fiducial-limber", key, _tabulate_fiducial)
        table = LimberTable.from_arrays(
            t, lambda: rf.fiducial_reference().pk,
            store=lambda name, compute: cached_arrays(f"fiducial-{name}", key, compute))
        _FIDUCIAL["tables"] = Fiducial(table, CubicSpline(np.log(_SIGMA_R), np.log(t["sigma_R"])),
                                       (t["k_lin0"], t["pk_lin0"]))
    return _FIDUCIAL["tables"]


def _sigma_r(spline, R: np.ndarray) -> np.ndarray:
    """The fiducial σ_R at radii R (the table inside its range, CAMB itself outside)."""
    inside = (R >= _SIGMA_R[0]) & (R <= _SIGMA_R[-1])
    out = np.exp(spline(np.log(np.clip(R, _SIGMA_R[0], _SIGMA_R[-1]))))
    for i in np.flatnonzero(~inside & np.isfinite(R)):
        out[i] = rf.fiducial_reference().sigma_R(float(R[i]))
    return out


def _reference_batch(backend, params: dict, need) -> tuple[BatchProducts, bk.BackgroundRows]:
    """The emulator's ΛCDM batch (the backend holds it: theory never imports the emulator), and
    its background on the exact grids, whose D_M and H histories the engines read."""
    ref = backend.emulator.compute_batch(params, need, accuracy="exact", theta_accuracy="fast")
    assert isinstance(ref.background, bk.BackgroundRows)  # the emulator's is numass's own
    return ref, ref.background


def matched_h(bg, p: dict[str, np.ndarray], ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h of the ΛCDM reference (the densities of ``p``, CAMB names; w = -1) with the D_M(z*) of
    each row of the exact background ``bg``: Newton on the fast panels' D_M(z*; h) (within
    ~1e-8 of the exact grids'); rows not ``ok`` on stand-ins; (h, solved)."""
    dens = batch_densities({k: np.where(ok, p.get(k, SAFE_VALUES[k]), SAFE_VALUES[k])
                            for k in rf.DENSITIES})
    lna_star = -np.log1p(np.where(ok, bg.zstar, 1090.0))
    goal = np.where(ok, bg.DM_at(lna_star[:, None])[:, 0], 1.4e4)
    start = np.clip(np.where(np.isfinite(bg.h), bg.h, 0.68), *_H_BRACKET)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        h, solved = bk.newton_rows(PanelDistance(dens, lna_star), goal, start, _H_BRACKET)
    return h, solved & np.isfinite(h)


def ratio_rows(Lg: np.ndarray, lim_t: np.ndarray, lim_r: np.ndarray, size: int) -> np.ndarray:
    """R(L) = C_L^κκ(target) / C_L^κκ(reference) on L = 0..size-1 (1 below L = 2, constant
    beyond the last L of the grid) from the Limber integrals on ``Lg``, splined in ln L."""
    lr = CubicSpline(np.log(Lg), np.log(lim_t / lim_r), axis=1)
    ratio = np.ones((len(lim_t), size))
    ratio[:, 2:] = np.exp(lr(np.log(np.clip(np.arange(2, size), None, Lg[-1]))))
    return ratio


# per lmax: (the response dict the arrays were derived from, the arrays)
_RELATIVE_RESPONSE: dict[int, tuple[dict, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}


def relative_response(lmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fiducial lensing response of TT, EE and TE divided by the fiducial lensed TT, EE and
    √(TT EE) (0 where those are not positive), each (n_bins, lmax + 1): the change of a row's
    lensed spectrum is then one product with its bin deviations times its own spectrum.
    Derived once from each response reference.lensing_response returns."""
    r = rf.lensing_response(lmax)
    held = _RELATIVE_RESPONSE.get(lmax)
    if held is None or held[0] is not r:
        f, resp = r["lensed"], r["resp"]
        with np.errstate(divide="ignore"):
            inv_tt = np.where(f[:, 0] > 0, 1.0 / f[:, 0], 0.0)
            inv_ee = np.where(f[:, 1] > 0, 1.0 / f[:, 1], 0.0)
        held = r, (np.ascontiguousarray(resp[..., 0] * inv_tt),
                   np.ascontiguousarray(resp[..., 1] * inv_ee),
                   np.ascontiguousarray(resp[..., 3] * np.sqrt(inv_tt * inv_ee)))
        _RELATIVE_RESPONSE[lmax] = held
    return held[1]


def lensing_change_rows(ratio: np.ndarray, tt, ee, scale: np.ndarray) -> tuple:
    """Change of the lensed TT, EE, TE of rows when their lensing potential is multiplied by
    ``ratio`` (R(L), to at least the response's range) times ``scale`` (A_L) instead of
    ``scale``: the fiducial linear response to the bin means of scale × (R − 1), rescaled by the
    ratio of each row's lensed spectra to the fiducial ones. (ΔTT, ΔEE, ΔTE), each (n, lmax+1)."""
    lmax = tt.shape[1] - 1
    edges = rf.lensing_response(lmax)["edges"]
    dev = (np.add.reduceat(ratio[:, edges[0]:edges[-1]], edges[:-1] - edges[0], axis=1)
           / np.diff(edges) - 1.0) * scale[:, None]
    r_tt, r_ee, r_te = relative_response(lmax)
    return (dev @ r_tt) * tt, (dev @ r_ee) * ee, (dev @ r_te) * np.sqrt(tt * ee)


def effective_scale_rows(pp: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Mean of R(L) weighted by the deflection power per L, (2L+1) L(L+1) C_L^φφ, over L >= 2
    (how much more the target lenses: derived 'A_L_eff'); ``pp`` = [L(L+1)]² C_L^φφ / 2π."""
    L = np.arange(pp.shape[1], dtype=float)[2:]
    w = (2 * L + 1) * pp[:, 2:] / (L * (L + 1))
    return np.sum(w * ratio[:, 2:], axis=1) / np.sum(w, axis=1)


def _apply_ratio(spectra: BatchSpectra, idx: np.ndarray, lim_t: np.ndarray, lim_r: np.ndarray,
                 a_l: np.ndarray, a_lens: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``spectra`` lensed by R(L) = lim_t / lim_r (the Limber integrals of
    target and reference on L_GRID), in place, to the lensing response's range; returns
    A_L_eff of those rows."""
    size = spectra.pp.shape[1]
    ratio = ratio_rows(L_GRID, lim_t, lim_r,
                       max(size, int(rf.lensing_response(size - 1)["edges"][-1])))
    pp = spectra.pp[idx]
    a_eff = effective_scale_rows(pp, ratio[:, :size])
    d_tt, d_ee, d_te = lensing_change_rows(ratio, spectra.tt[idx], spectra.ee[idx], a_l)
    spectra.tt[idx] += d_tt
    spectra.ee[idx] += d_ee
    spectra.te[idx] += d_te
    spectra.pp[idx] = pp * ratio[:, :size] * a_lens[:, None]
    return a_eff


def _checked(backend, params: dict, need) -> tuple[frozenset, dict[str, np.ndarray]]:
    need = check_need(need)
    backend.check_names(params)
    return need, broadcast_params(params)


def carry_rows(spectra: BatchSpectra, idx: np.ndarray, target_bg, ref_bg, bg_idx: np.ndarray,
               ocb: np.ndarray, h_t: np.ndarray, h_r: np.ndarray, a_l: np.ndarray,
               a_lens: np.ndarray, sigma8_ref: np.ndarray, nl_weight: float = 0.0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Carry emulated references (rows ``idx`` of ``spectra``, changed in place) to targets with
    the same early universe and the same D_M(z*): C_L^φφ by the Limber ratio with the growth
    ratio, the lensed spectra by the lensing response to it, σ8 by the fiducial σ_R's radius
    dependence and the growth ratio today. Their target and reference backgrounds are rows
    ``bg_idx`` of ``target_bg`` and ``ref_bg`` (exact batched backgrounds); ocb = ω_b + ω_c, h_t, h_r, a_l, a_lens (× C_L^φφ), sigma8_ref per row of idx;
    ``nl_weight`` > 0: the target's power with theory/nl_response.py's factor of that weight.
    Returns (A_L_eff, σ8) of those rows."""
    table, s_spline, _ = _fiducial_tables()
    g_t, g_r, nodes_t, nodes_r, gsq = carried_growth(
        target_bg.take(bg_idx), ref_bg.take(bg_idx), ocb, ref_bg.zstar[bg_idx],
        ocb + ref_bg.omnuh2[bg_idx])
    if nl_weight:
        lim_t = limber_rows(table, nodes_t, gsq, nl_weight)
    else:
        lim_t = table.integrals(nodes_t, gsq)
    a_eff = _apply_ratio(spectra, idx, lim_t, table.integrals(nodes_r), a_l, a_lens)
    sigma8 = (sigma8_ref * _sigma_r(s_spline, 8.0 / h_t) / _sigma_r(s_spline, 8.0 / h_r)
              * g_t[:, 0] / g_r[:, 0])
    return a_eff, sigma8


EMULATOR_KEYS = ("ombh2", "omch2", "mnu", "nnu", "nu_states", "tau", "As", "ns", "TCMB", "A_L")
LSCDM_BG_KEYS = ("H0", "cosmomc_theta", *rf.DENSITIES, "z_dagger", "eta_lscdm")


def lscdm_emulator_batch(backend, params: dict, need=NEEDS) -> BatchProducts:
    """LsCDMEmulatorBackend.compute_batch: ΛsCDM (the background with de="lscdm") through the emulated engine."""
    need, given = _checked(backend, params, need)
    if "spectra" not in need:
        return background_batch(backend, params, need, de="lscdm")
    p = to_camb_names(given)  # the background checks the names (densities.check_names)
    bg = bk.compute_background_batch({k: p[k] for k in LSCDM_BG_KEYS if k in p}, "lscdm", "exact",
                                  theta_accuracy="fast")
    n = len(bg.h)
    ok = bg.ok.copy()
    h_ref, solved = matched_h(bg, p, ok)
    ok &= solved
    emu = {k: p[k] for k in EMULATOR_KEYS if k in p}
    emu.update({"H0": np.where(ok, 100.0 * h_ref, np.nan), "A_lens": np.ones(n)})
    ref, ref_bg = _reference_batch(backend, emu, NEEDS)
    spectra = ref.spectra
    assert spectra is not None  # asked for (NEEDS)
    ok &= ref.ok
    idx = np.flatnonzero(ok)
    a_l, a_lens = (p.get(k, np.ones(n)) for k in ("A_L", "A_lens"))
    h_t = bg.H(np.zeros(1))[:, 0] / 100.0
    sigma8, a_eff = np.full(n, np.nan), np.full(n, np.nan)
    if len(idx):
        ocb = p["ombh2"][idx] + p["omch2"][idx]
        a_eff[idx], sigma8[idx] = carry_rows(spectra, idx, bg, ref_bg, idx, ocb,
                                             h_t[idx], h_ref[idx], a_l[idx], a_lens[idx],
                                             ref.derived["sigma8"][idx])
    ok &= np.all(np.isfinite(spectra.pp), axis=1)
    derived = {**bk.background_derived(bg), "H0": 100.0 * h_t, "sigma8": sigma8,
               "S8": sigma8 * np.sqrt(bg.omegam / 0.3), "H0_ref": 100.0 * h_ref,
               "As": ref.derived["As"], "A_L_eff": a_eff, "z_dagger": bg.dens.z_dagger,
               "eta_lscdm": bg.dens.eta}
    return BatchProducts(params=given, ok=ok, spectra=spectra, background=bg,
                         derived=derived).masked(ok)


def sigma2_ratio(pk_lin0: tuple, R: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """∫ P(k) f(k) W²(kR) k³ dln k / ∫ P(k) W²(kR) k³ dln k per row (top hat of radius R [Mpc],
    (n,); ``factor`` f(k) (n, nk) on the k of ``pk_lin0`` = (k, linear P(k, z = 0)))."""
    k, pk = pk_lin0
    x = k[None, :] * R[:, None]
    w = 3.0 * (np.sin(x) - x * np.cos(x)) / x**3
    base = pk * w**2 * k**3
    lnk = np.log(k)
    return np.trapezoid(base * factor, lnk, axis=1) / np.trapezoid(base, lnk, axis=1)


def _sigma8_factor(pk_lin0, stab, h, alpha, mnu) -> np.ndarray:
    """σ8 / σ8,ref: √ sigma2_ratio with S^(α−1) at z = 0, per row."""
    if "ln_s0" not in stab.__dict__:
        k0 = pk_lin0[0]
        stab.ln_s0 = np.array([np.log(f(k0, np.zeros_like(k0))) if f is not None
                               else np.zeros_like(k0) for _, f in stab.grid])
    g, tm = stab.weights(mnu)
    ln_s = (1 - tm)[:, None] * stab.ln_s0[g] + tm[:, None] * stab.ln_s0[g + 1]
    return np.sqrt(sigma2_ratio(pk_lin0, 8.0 / h, np.exp((alpha - 1.0)[:, None] * ln_s)))


def nu_interacting_emulator_batch(backend, params: dict, need=NEEDS) -> BatchProducts:
    """NuInteractingEmulatorBackend.compute_batch: the interaction model (theory/
    nu_interacting.py) through the emulated engine."""
    need, given = _checked(backend, params, need)
    n = len(next(iter(given.values())))
    alpha = given.get("alpha_fs", np.ones(n))
    emu_params = {k: v for k, v in given.items() if k != "alpha_fs"}
    ref, bg = _reference_batch(backend, emu_params, need)
    ok = ref.ok & np.isfinite(alpha) & (alpha >= 0)
    ref.derived["alpha_fs"] = alpha.copy()
    if ref.spectra is not None:  # asked for
        spectra = ref.spectra
        p = normalise_arrays(emu_params)
        grid = suppression_on_grid()
        active = ok & (alpha != 1.0) & (p["mnu"] != 0.0)
        ok &= ~(active & ~(p["mnu"] <= grid[-1][0]))
        idx = np.flatnonzero(active & ok)
        a_eff = np.full(n, np.nan)
        if len(idx):
            table, _, pk_lin0 = _fiducial_tables()
            stab = table.suppression("free_streaming", suppression_on_grid)
            nodes = Nodes(bg.take(idx), bg.zstar[idx],
                          p["ombh2"][idx] + p["omch2"][idx] + bg.omnuh2[idx])
            lim_t = table.suppressed(nodes, stab, nodes.weight, (alpha[idx] - 1.0)[:, None],
                                     p["mnu"][idx])
            a_eff[idx] = _apply_ratio(spectra, idx, lim_t, table.integrals(nodes), p["A_L"][idx],
                                      np.ones(len(idx)))
            s8 = ref.derived["sigma8"]
            s8[idx] *= _sigma8_factor(pk_lin0, stab, bg.h[idx], alpha[idx], p["mnu"][idx])
            ref.derived["S8"] = s8 * np.sqrt(bg.omegam / 0.3)
        ref.derived["A_L_eff"] = a_eff
        ok &= np.all(np.isfinite(spectra.pp), axis=1)
    ref.params = given
    return ref.masked(ok)

