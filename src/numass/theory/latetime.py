"""The late-time engine: CMB spectra of a model that differs from ΛCDM only at late times (a target
background of numass's own: ΛsCDM, w0wa ...), and ΛsCDM served through it.

A CAMB run on a ΛCDM REFERENCE with the target's early universe and the H0 that gives it the
target's D_M(z*) (theory/reference.py) is carried to the target: the matter power by the squared
growth ratio, C_L^φφ by the ratio of Limber integrals, the unlensed primary D_ℓ by the angular
rescaling ℓ' = ℓ D_M,ref(z*)/D_M,target(z*), then lensed with camb.correlations.lensed_cls. The
steps, what is left out and the validation against CAMB: docs/latetime.md. The emulated engine
('lscdm-emulator') is theory/latetime_batch.py; its per-point ``compute`` is a batch of one.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from numass.errors import InputError, TheoryError
from numass.parameters import LATE_TIME_PARAMS, to_camb_names
from numass.theory.backend import NEEDS, Backend, one_point
from numass.theory.background import BackgroundPoint, background_derived, compute_background
from numass.theory.background_backend import BackgroundBackend
from numass.theory.latetime_batch import (
    EMULATOR_KEYS,
    LSCDM_BG_KEYS,
    lscdm_emulator_batch,
    matched_h,
    ratio_rows,
    sigma2_ratio,
)
from numass.theory.limber_batch import carried_growth, exact_power
from numass.theory.products import Spectra, TheoryProducts
from numass.theory.reference import EARLY, run_reference

_NZ = 600  # redshift nodes of the CAMB engine's Limber integrals
_NL = 90  # L of its Limber ratio (log-spaced, splined in ln L)


def _engine_early(params: dict) -> dict:
    """The early-universe parameters of an engine call, checked (ω_b, ω_c given; mnu >= 0)."""
    for key in ("ombh2", "omch2"):
        if key not in params:
            raise InputError(f"the late-time engine needs '{key}'")
    early = {k: float(v) for k, v in params.items() if k in EARLY}
    if float(early.get("mnu", 0.06)) < 0:
        raise InputError("the late-time engine's reference (CAMB or the emulator) needs "
                         "mnu >= 0; wrap it with numass.theory.effective_mass for Σmν,eff < 0")
    return early


def model_background(params: dict, de: str = "cpl") -> BackgroundPoint:
    """numass's background of a late-time model's point (any spelling; the entries
    LSCDM_BG_KEYS, those of ΛsCDM's switch absent elsewhere): InputError naming a bad input,
    TheoryError why there is none (a numerical failure too)."""
    p = to_camb_names(params)
    try:
        return compute_background({k: v for k, v in p.items() if k in LSCDM_BG_KEYS}, de)
    except (InputError, TheoryError):
        raise
    except Exception as exc:  # numerical failure at a point: the sampler gets -inf
        raise TheoryError(f"background failed at {params}: {exc}") from exc


def matched_H0(early: dict, target) -> float:
    """The ΛCDM H0 (the densities of ``early``) whose D_M(z*) equals the target's (a
    BackgroundPoint; numass's own background for both): latetime_batch.matched_h on one row."""
    h, solved = matched_h(target.rows, {k: np.array([float(v)]) for k, v in early.items()},
                          np.ones(1, dtype=bool))
    if not solved[0]:
        raise TheoryError(f"no ΛCDM H0 in [40, 110] has the target's D_M(z*) = "
                          f"{float(target.DM_star):.1f} Mpc")
    return 100.0 * float(h[0])


def map_primary(unlensed: np.ndarray, ratio: float) -> np.ndarray:
    """D_ℓ(target) = D_ℓ'(ref) at ℓ' = ratio × ℓ, ratio = D_M,ref(z*) / D_M,target(z*), for each
    column; ℓ' beyond the reference's range takes its last value (ℓ ≈ max_l, negligible there)."""
    n = unlensed.shape[0]
    ell = np.arange(n, dtype=float)
    out = CubicSpline(ell[2:], unlensed[2:], axis=0)(np.clip(ell * ratio, 2.0, n - 1.0))
    out[:2] = 0.0
    return out


def late_time_products(params: dict, target, *, ref_H0: float | None = None,
                       lmax: int = 3000, pk_factor_for=None) -> TheoryProducts:
    """TheoryProducts (lensed D_ℓ to lmax, C_L^φφ, background = target, derived) of a model whose
    late-time background is ``target`` and whose early universe is given by ``params``.

    ``params`` must hold ombh2, omch2 (and optionally mnu >= 0, nnu, nu_states, tau, As or logA,
    ns, TCMB, A_L, A_lens; other entries are ignored here and copied to the output). ``ref_H0``:
    H0 of the reference ΛCDM run; default: matched to the target's D_M(z*). ``pk_factor_for``:
    optional callable(reference) -> f(k, z) (or None), a scale-dependent factor on the target's
    matter power (k in 1/Mpc) on top of the growth ratio, used in the Limber integral and σ8
    (theory/nu_interacting.py uses it to scale the neutrino free-streaming suppression)."""
    early = _engine_early(params)
    if not isinstance(target, BackgroundPoint):
        raise InputError("the target background must be numass's own (theory.background's "
                         "compute_background)")
    if ref_H0 is None:
        ref_H0 = matched_H0(early, target)
    ref = run_reference(early, ref_H0, lmax)
    rbg = ref.background
    omega_cb = ref.params["ombh2"] + ref.params["omch2"]
    pk_factor = pk_factor_for(ref) if pk_factor_for is not None else None
    # the emulated engines' carry on one row (latetime_batch.carry_rows), over the reference's
    # own P(k, z) at every node (finer nodes, 90 L) instead of the fiducial table
    g_t, g_r, nodes_t, nodes_r, gsq = carried_growth(
        target.rows, rbg.rows, np.array([omega_cb]), np.array([rbg.zstar]),
        np.array([omega_cb + rbg.omnuh2]), nz=_NZ)
    n = len(ref.pp)
    Lg = np.unique(np.geomspace(2, n - 1, _NL).astype(int))
    lim_t = (nodes_t.weight * gsq)[0] @ exact_power(ref.pk, nodes_t, 0, Lg, pk_factor)
    lim_r = nodes_r.weight[0] @ exact_power(ref.pk, nodes_r, 0, Lg)
    pp = ref.pp * ratio_rows(Lg, lim_t[None], lim_r[None], n)[0]
    pp[:2] = 0.0
    # primary: geometric mapping, then lensing
    zstar = float(rbg.zstar)
    unl = map_primary(ref.unlensed, float(rbg.DM(zstar)) / float(target.DM(zstar)))
    from camb.correlations import lensed_cls

    lensed = lensed_cls(unl, pp * float(params.get("A_L", 1.0)), lmax_lensed=lmax)
    if not (np.all(np.isfinite(lensed)) and np.all(np.isfinite(pp))):
        raise TheoryError("the late-time engine produced non-finite spectra")
    spectra = Spectra(ell=np.arange(lmax + 1), tt=lensed[:, 0].copy(), ee=lensed[:, 1].copy(),
                      bb=lensed[:, 2].copy(), te=lensed[:, 3].copy(),
                      pp=pp[:lmax + 1] * float(params.get("A_lens", 1.0)))
    # sigma_8 of the target: spheres of 8/h_target Mpc in the reference's linear P(k, z=0),
    # times the growth ratio today [and the scale-dependent factor, as a ratio of integrals]
    h_t = float(target.H(0.0)) / 100.0
    R8 = 8.0 / h_t
    sigma8 = ref.sigma_R(R8) * float(g_t[0, 0] / g_r[0, 0])
    if pk_factor is not None:
        k = ref.pk_lin0[0]
        sigma8 *= float(np.sqrt(sigma2_ratio(ref.pk_lin0, np.array([R8]),
                                             pk_factor(k, np.zeros_like(k))[None])[0]))
    derived = {**background_derived(target), "H0": float(target.H(0.0)), "sigma8": sigma8,
               "S8": sigma8 * np.sqrt(target.omegam / 0.3), "H0_ref": float(ref_H0),
               "As": float(ref.params["As"])}
    return TheoryProducts(params=dict(params), spectra=spectra, background=target,
                          derived=derived)


# --- ΛsCDM served through the engine ---------------------------------------------------------

LSCDM_PARAMS = (*LATE_TIME_PARAMS, "z_dagger", "eta_lscdm")


class EmulatedEngine(Backend):
    """A late-time engine with the emulator as its ΛCDM reference (~10 ms a point instead of
    ~2 s): ``compute_batch`` vectorised over points, a per-point ``compute`` a batch of one whose
    failure ``explain`` names. A reference outside the emulator's box is a failed point (a
    sampler gets -inf there): the box is part of the prior; the CAMB-based backends have none."""

    def __init__(self, reference: Backend):
        self.emulator = reference  # the emulator backend (built by numass.backends)

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        self.check_params(params)
        return one_point(self.compute_batch, params, need, lambda p: self.explain(p, need))

    def explain(self, params: dict, need) -> None:
        raise NotImplementedError


class LsCDMBackend(Backend):
    """ΛsCDM (background + late-time-engine spectra) behind the Backend interface.

    Σmν,eff < 0 goes through the observable-level mirror of EffectiveMass (the engine's reference
    is CAMB, which has no negative mass), exactly as for the CAMB backend."""

    name, params = "lscdm", LSCDM_PARAMS

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        """The background from theory/background.py (de="lscdm"); the spectra (if needed) from
        the late-time engine with its CAMB reference."""
        self.check_params(params)
        bg = model_background(params, "lscdm")
        lscdm = {"z_dagger": bg.z_dagger, "eta_lscdm": bg.eta}
        if "spectra" not in need:
            return TheoryProducts(params=dict(params), background=bg,
                                  derived={**background_derived(bg), **lscdm})
        out = late_time_products(to_camb_names(params), bg)
        out.params = dict(params)
        out.derived.update(lscdm)
        return out


class LsCDMEmulatorBackend(EmulatedEngine):
    """ΛsCDM through the emulated engine (theory/latetime_batch.py); use the 'lscdm' backend
    for CAMB."""

    name, params = "lscdm-emulator", LSCDM_PARAMS

    def compute_batch(self, params: dict, need: frozenset[str] = NEEDS):
        return lscdm_emulator_batch(self, params, need)

    def explain(self, params: dict, need) -> None:
        """Raises why a point has no theory: its background, the matched H0, the emulator."""
        bg = model_background(params, "lscdm")
        if "spectra" in need:
            p = to_camb_names(params)
            h0 = matched_H0(_engine_early(p), bg)
            try:
                self.emulator.compute({**{k: p[k] for k in EMULATOR_KEYS if k in p}, "H0": h0})
            except TheoryError as exc:
                raise TheoryError(f"the ΛCDM reference at the matched H0 = {h0:.6g}: {exc}") from None


class LsCDMBackgroundBackend(BackgroundBackend):
    """The ΛsCDM background alone (theory/background_backend.py with de='lscdm'): what BAO and
    the compressed CMB likelihood need. Σmν,eff < 0 is native, as in the ΛCDM 'background'
    backend, so that ΛCDM and ΛsCDM fits on background-only data use one definition."""

    name, de, params = "lscdm-background", "lscdm", LSCDM_PARAMS
