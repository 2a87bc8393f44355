"""The late-time engine: CMB spectra of a model that differs from ΛCDM only at late times.

Given a target background (anything with H(z) and DM(z): ΛsCDM, w0wa ...) and the early-universe
parameters (ombh2, omch2, mnu, nnu, nu_states, tau, As, ns, TCMB), the engine

1. runs CAMB on a REFERENCE: ΛCDM with the same early-universe parameters and, by default, the
   H0 that gives the reference the target's D_M(z*) (so the unlensed primary spectra at ℓ ≳ 30
   are the same function of ℓ; another H0 can be forced with ``ref_H0``);
2. solves the scale-independent linear growth D(z) of CDM+baryons in both backgrounds and takes
   P_target(k, z) = P_ref,nonlinear(k, z) [D_target(z) / D_ref(z)]^2 (k in 1/Mpc; the massive-
   neutrino scale dependence and the nonlinear correction P_nl/P_lin of the reference at the same
   (k, z) are carried over unchanged);
3. C_L^φφ(target) = C_L^φφ,CAMB(ref) × Limber(target) / Limber(ref), with the Limber integral
   C_L^κκ = ∫ dχ [3/2 Ω_m H0² (1+z) χ (χ* − χ)/χ*]² P((L+½)/χ, z) / χ²;
4. unlensed primary D_ℓ (TT, EE, BB, TE) of the target = the reference's at ℓ' = ℓ D_M,ref(z*) /
   D_M,target(z*) (D_ℓ = ℓ(ℓ+1)C_ℓ/2π, a variance per ln ℓ, is what an angular rescaling keeps);
   the late ISW (ℓ ≲ 30) change and the change of the reionization bump are left out;
5. lenses them with camb.correlations.lensed_cls and the target C_L^φφ.

Distances of target and reference both come from numass's own background code (or the target's
object), so that its tiny offsets from CAMB (< 2e-4) cancel in the ratios. See docs/latetime.md
for the validation against CAMB.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq

from numass.errors import InputError, TheoryError
from numass.theory.backend import NEEDS, Backend, check_need
from numass.theory.background import C_KM_S, compute_background
from numass.theory.products import Spectra, TheoryProducts

# early-universe parameters shared by target and reference (CAMB names)
EARLY = ("ombh2", "omch2", "mnu", "nnu", "nu_states", "tau", "As", "logA", "ns", "TCMB")
LENSING_SCALES = ("A_L", "A_lens")
_BG_EARLY = ("ombh2", "omch2", "mnu", "nnu", "nu_states", "TCMB")
# transfer redshifts of the reference run: dense at low z where the lensing kernel lives;
# kmax = 2/Mpc as the CAMB backend (a larger Transfer.kmax changes CAMB's own C_L^φφ by ~0.2%)
Z_PK = np.concatenate([[0.0], np.expm1(np.linspace(np.log(1.01), np.log(1201.0), 119))])
_KMAX = 2.0
_K_EXTRAP = 1e3
_A_GROWTH_INIT = 1e-2  # growth starts in matter domination, where target and reference agree
# RK4 steps in ln a from a = 0.01: 400 keep D(z) within 1.5e-7 of 1200 steps on ΛsCDM
# histories with the sharpest switch (eta = 10 at z† = 1.5, 2.5, 6), far inside the engines'
# 1e-3 error against CAMB, at a third of the cost (the growth was ~30% of an emulated ΛsCDM point)
GROWTH_STEPS = 400
_N_CACHE = 4


@dataclass
class Reference:
    """A reference ΛCDM CAMB run: what the engine rescales."""

    params: dict  # CAMB-normalised parameters of the run (with H0)
    background: object  # numass's own background at the same parameters
    unlensed: np.ndarray  # (max_l+1, 4) D_ell TT, EE, BB, TE in muK^2
    pp: np.ndarray  # [L(L+1)]^2 C_L^φφ / 2π to max_l
    pk: object  # nonlinear P(k, z) interpolator: k in 1/Mpc, P in Mpc^3
    sigma_R: object  # R [Mpc] -> linear sigma_R at z = 0 (delta_tot)
    derived: dict
    # linear transfer functions at Z_PK: k [1/Mpc], z (descending, as CAMB orders them) and
    # delta_cdm, delta_b, delta_nu (massive), delta_tot, each (nk, nz)
    transfer: dict = field(default_factory=dict)
    pk_lin0: tuple = ()  # (k [1/Mpc], linear P_tot(k, z = 0) [Mpc^3])
    cache: dict = field(default_factory=dict)  # products derived from the run (e.g. suppression)


_REF_CACHE: OrderedDict = OrderedDict()


def _early(params: dict) -> dict:
    return {k: float(v) for k, v in params.items() if k in EARLY}


def _engine_early(params: dict) -> dict:
    """The early-universe parameters of an engine call, checked (ω_b, ω_c given; mnu >= 0)."""
    for key in ("ombh2", "omch2"):
        if key not in params:
            raise InputError(f"the late-time engine needs '{key}'")
    early = _early(params)
    if float(early.get("mnu", 0.06)) < 0:
        raise InputError("the late-time engine's reference (CAMB or the emulator) needs "
                         "mnu >= 0; wrap it with numass.theory.effective_mass for Σmν,eff < 0")
    return early


def run_reference(early: dict, H0: float, lmax: int = 3000) -> Reference:
    """CAMB on ΛCDM (w = -1) with the given early-universe parameters and H0, settings as the CAMB
    backend (CambBackend.camb_params) plus the matter power at Z_PK. Cached (last few runs)."""
    import camb

    from numass.theory.camb_backend import CambBackend

    key = (tuple(sorted(early.items())), float(H0), int(lmax))
    if key in _REF_CACHE:
        _REF_CACHE.move_to_end(key)
        return _REF_CACHE[key]
    cb = CambBackend(lmax=lmax)
    p = cb.normalised({**early, "H0": float(H0), "A_L": 1.0, "w": -1.0, "wa": 0.0})
    try:
        pars = cb.camb_params(p, frozenset({"spectra"}))
        pars.set_matter_power(redshifts=Z_PK, kmax=_KMAX, nonlinear=True, silent=True)
        res = camb.get_results(pars)
        unl = res.get_unlensed_scalar_cls(CMB_unit="muK")
        pp = res.get_lens_potential_cls()[:, 0]
        pk = res.get_matter_power_interpolator(nonlinear=True, hubble_units=False, k_hunit=False,
                                               extrap_kmax=_K_EXTRAP, silent=True)
        derived = res.get_derived_params()
        td = res.get_matter_transfer_data()
        T = np.asarray(td.transfer_data, dtype=float)
        transfer = {"k": np.asarray(td.q, dtype=float),
                    "z": np.asarray(res.transfer_redshifts, dtype=float),
                    "cdm": T[camb.model.Transfer_cdm - 1], "b": T[camb.model.Transfer_b - 1],
                    "nu": T[camb.model.Transfer_nu - 1], "tot": T[camb.model.Transfer_tot - 1]}
        kl, zl, pkl = res.get_linear_matter_power_spectrum(hubble_units=False, k_hunit=False)
        pk_lin0 = (np.asarray(kl, dtype=float), np.asarray(pkl[int(np.argmin(np.abs(zl)))],
                                                           dtype=float))
    except (camb.CAMBError, ValueError, ArithmeticError) as exc:
        raise TheoryError(f"CAMB failed on the reference model at {p}: {exc}") from exc
    if not (np.all(np.isfinite(unl)) and np.all(np.isfinite(pp))):
        raise TheoryError("CAMB returned non-finite reference spectra")
    bg = compute_background({k: p[k] for k in ("H0", "ombh2", "omch2", "mnu", "nnu", "nu_states",
                                                "TCMB")})
    def sigma_R(R):
        return float(np.squeeze(res.get_sigmaR(float(R), z_indices=-1, hubble_units=False)))

    ref = Reference(params=p, background=bg, unlensed=unl, pp=pp, pk=pk, sigma_R=sigma_R,
                    derived=derived, transfer=transfer, pk_lin0=pk_lin0)
    _REF_CACHE[key] = ref
    while len(_REF_CACHE) > _N_CACHE:
        _REF_CACHE.popitem(last=False)
    return ref


def matched_H0(early: dict, target, zstar: float | None = None) -> float:
    """The ΛCDM H0 whose D_M(z*) equals the target's (numass's own background for both)."""
    base = {k: v for k, v in early.items() if k in _BG_EARLY}
    if zstar is None:
        zstar = compute_background({**base, "H0": 67.0}).zstar
    goal = float(target.DM(zstar))

    def miss(H0):
        return float(compute_background({**base, "H0": H0}).DM(zstar)) - goal

    try:
        return brentq(miss, 40.0, 110.0, xtol=1e-7)
    except ValueError:
        raise TheoryError(f"no ΛCDM H0 in [40, 110] has the target's D_M(z*) = {goal:.1f} Mpc") from None


def rk4_growth(fr, src, h: float, n_steps: int, start):
    """y'' = -fr y' + src y from y = y' = ``start`` by classical RK4 with step ``h``, the
    coefficients tabulated at every step's start, midpoint and end (indices 2i, 2i+1, 2i+2 on
    their first axis). ``start`` a number or an array (one growth history per entry); returns y
    at the n_steps + 1 step ends (leading axis)."""
    y = np.array(start, dtype=float)
    dp = y.copy()
    d = np.empty((n_steps + 1,) + y.shape)
    d[0] = y
    for i in range(n_steps):
        f0, s0 = fr[2 * i], src[2 * i]
        f1, s1 = fr[2 * i + 1], src[2 * i + 1]
        f2, s2 = fr[2 * i + 2], src[2 * i + 2]
        k1y, k1p = dp, -f0 * dp + s0 * y
        y2, p2 = y + 0.5 * h * k1y, dp + 0.5 * h * k1p
        k2y, k2p = p2, -f1 * p2 + s1 * y2
        y3, p3 = y + 0.5 * h * k2y, dp + 0.5 * h * k2p
        k3y, k3p = p3, -f1 * p3 + s1 * y3
        y4, p4 = y + h * k3y, dp + h * k3p
        k4y, k4p = p4, -f2 * p4 + s2 * y4
        y = y + h / 6 * (k1y + 2 * k2y + 2 * k3y + k4y)
        dp = dp + h / 6 * (k1p + 2 * k2p + 2 * k3p + k4p)
        d[i + 1] = y
    return d


def growth_factor(H, omega_cb: float, z) -> np.ndarray:
    """Linear growth D(z) of CDM+baryons (scale-independent part) in a background with Hubble
    rate H(z) [km/s/Mpc], omega_cb = (ombh2 + omch2): D'' + (2 + dlnH/dlna) D' = 3/2 Ω_cb(a) D
    (' = d/dlna), started as D = a at a = 0.01 (matter domination).

    Classical RK4 with a fixed step in ln a (1200 steps from a = 0.01; the coefficients tabulated
    at the steps and half-steps): 10x faster than the adaptive DOP853 solver (rtol = 1e-8) it
    replaces, and within 1e-7 of it (measured on ΛCDM and ΛsCDM backgrounds)."""
    z = np.asarray(z, dtype=float)
    x0 = np.log(_A_GROWTH_INIT)
    n = GROWTH_STEPS
    x = np.linspace(x0, 0.0, 2 * n + 1)  # steps and half-steps
    h = x[2] - x[0]
    lnH = CubicSpline(x, np.log(H(np.expm1(-x))))
    fr = 2.0 + lnH.derivative()(x)
    src = 1.5 * omega_cb * np.exp(-3 * x) / (np.exp(lnH(x)) / 100.0) ** 2
    d = rk4_growth(fr, src, h, n, _A_GROWTH_INIT)
    xs = np.clip(-np.log1p(z), x0, 0.0)  # before a = 0.01 target and reference coincide
    out = CubicSpline(x[::2], d)(xs)
    return np.where(-np.log1p(z) < x0, 1.0 / (1.0 + z), out)


def limber_kappa(bg, pk, growth_sq, L, zstar: float, omega_m: float, nz: int = 600,
                 pk_factor=None):
    """C_L^κκ in the Limber approximation for the background ``bg`` with the power
    P(k, z) = pk(k, z) growth_sq(z) [× pk_factor(k, z)] (k in 1/Mpc). Returns an array over L."""
    L = np.asarray(L, dtype=float)
    x = np.linspace(np.log1p(1e-3), np.log1p(zstar), nz)
    z = np.expm1(x)[:-1]  # drop χ = χ*, where the kernel vanishes
    chi = np.asarray(bg.DM(z), dtype=float)
    chistar = float(bg.DM(zstar))
    dchi_dx = C_KM_S / np.asarray(bg.H(z), dtype=float) * (1.0 + z)
    pref = 1.5 * omega_m * (100.0 / C_KM_S) ** 2
    kern = (pref * (1.0 + z) * (chistar - chi) / chistar) ** 2  # [..χ..]²/χ², χ cancelled
    k = (L[:, None] + 0.5) / chi[None, :]
    k = np.clip(k, pk.kmin * 1.0001, _K_EXTRAP * 0.999)
    zz = np.broadcast_to(z, k.shape)
    p = pk.P(zz.ravel(), k.ravel(), grid=False).reshape(k.shape) * growth_sq(z)[None, :]
    if pk_factor is not None:
        p = p * pk_factor(k, zz)
    f = kern[None, :] * p * dchi_dx[None, :]
    dx = x[1] - x[0]
    return np.sum(0.5 * (f[:, 1:] + f[:, :-1]), axis=1) * dx


def map_primary(unlensed: np.ndarray, ratio: float) -> np.ndarray:
    """D_ℓ(target) = D_ℓ'(ref) at ℓ' = ratio × ℓ, ratio = D_M,ref(z*) / D_M,target(z*), for each
    column; ℓ' beyond the reference's range takes its last value (ℓ ≈ max_l, negligible there)."""
    n = unlensed.shape[0]
    ell = np.arange(n, dtype=float)
    lp = np.clip(ell * ratio, 2.0, n - 1.0)
    out = np.empty_like(unlensed)
    for j in range(unlensed.shape[1]):
        out[:, j] = CubicSpline(ell[2:], unlensed[2:, j])(lp)
    out[:2] = 0.0
    return out


def sigma2_ratio(pk_lin0: tuple, R: float, factor) -> float:
    """∫ P(k) f(k) W²(kR) k³ dln k / ∫ P(k) W²(kR) k³ dln k (top hat of radius R [Mpc])."""
    k, pk = pk_lin0
    x = k * R
    w = 3.0 * (np.sin(x) - x * np.cos(x)) / x**3
    base = pk * w**2 * k**3
    lnk = np.log(k)
    return float(np.trapezoid(base * factor(k), lnk) / np.trapezoid(base, lnk))


def _omega_m_today(target, early: dict, ref) -> float:
    if hasattr(target, "omegam"):
        return float(target.omegam)
    h = float(target.H(0.0)) / 100.0
    return (ref.params["ombh2"] + ref.params["omch2"] + ref.background.omnuh2) / h**2


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
    for name in ("H", "DM"):
        if not callable(getattr(target, name, None)):
            raise InputError(f"the target background has no method {name}(z)")
    if ref_H0 is None:
        ref_H0 = matched_H0(early, target)
    ref = run_reference(early, ref_H0, lmax)
    rbg = ref.background
    zstar = float(rbg.zstar)
    ratio = float(rbg.DM(zstar)) / float(target.DM(zstar))
    # growth: scale-independent ratio between target and reference
    omega_cb = ref.params["ombh2"] + ref.params["omch2"]
    zg = np.concatenate([[0.0], Z_PK[1:]])
    g_t = growth_factor(target.H, omega_cb, zg)
    g_r = growth_factor(rbg.H, omega_cb, zg)
    gsq = CubicSpline(np.log1p(zg), (g_t / g_r) ** 2)

    def growth_sq_target(z):
        return gsq(np.log1p(z))

    # lensing potential: CAMB reference times the Limber ratio (on a grid in L, interpolated)
    n = len(ref.pp)
    Lg = np.unique(np.geomspace(2, n - 1, 90).astype(int))
    omega_m = ref.params["ombh2"] + ref.params["omch2"] + rbg.omnuh2
    pk_factor = pk_factor_for(ref) if pk_factor_for is not None else None
    lim_t = limber_kappa(target, ref.pk, growth_sq_target, Lg, zstar, omega_m,
                         pk_factor=pk_factor)
    lim_r = limber_kappa(rbg, ref.pk, np.ones_like, Lg, zstar, omega_m)
    lr = CubicSpline(np.log(Lg), np.log(lim_t / lim_r))
    pp = np.zeros(n)
    Ls = np.arange(2, n)
    pp[2:] = ref.pp[2:] * np.exp(lr(np.log(Ls)))
    # primary: geometric mapping, then lensing
    unl = map_primary(ref.unlensed, ratio)
    from camb.correlations import lensed_cls

    A_L = float(params.get("A_L", 1.0))
    lensed = lensed_cls(unl, pp * A_L, lmax_lensed=lmax)
    if not (np.all(np.isfinite(lensed)) and np.all(np.isfinite(pp))):
        raise TheoryError("the late-time engine produced non-finite spectra")
    A_lens = float(params.get("A_lens", 1.0))
    spectra = Spectra(ell=np.arange(lmax + 1), tt=lensed[:, 0].copy(), ee=lensed[:, 1].copy(),
                      bb=lensed[:, 2].copy(), te=lensed[:, 3].copy(),
                      pp=pp[:lmax + 1] * A_lens)
    om = _omega_m_today(target, early, ref)
    # sigma_8 of the target: spheres of 8/h_target Mpc in the reference's linear P(k, z=0),
    # times the growth ratio today
    R8 = 8.0 / (float(target.H(0.0)) / 100.0)
    sigma8 = ref.sigma_R(R8) * float(g_t[0] / g_r[0])
    if pk_factor is not None:  # the scale-dependent factor, as a ratio to the reference's σ8
        sigma8 *= np.sqrt(sigma2_ratio(ref.pk_lin0, R8, lambda k: pk_factor(k, np.zeros_like(k))))
    derived = {"H0": float(target.H(0.0)), "omegam": om, "sigma8": sigma8,
               "S8": sigma8 * np.sqrt(om / 0.3), "H0_ref": float(ref_H0),
               "As": float(ref.params["As"])}
    for name in ("rdrag", "theta_star", "zstar", "zdrag"):
        if hasattr(target, name):
            derived[name] = float(getattr(target, name))
    return TheoryProducts(params=dict(params), spectra=spectra, background=target,
                          derived=derived)



# --- the engine with the emulator as its reference --------------------------------------------
# The reference ΛCDM at the matched H0 has the target's D_M(z*), so the engine's primary mapping
# is the identity and what the target changes is the lensing alone: C_L^φφ by the Limber ratio
# R(L), and the smoothing of the primary spectra by lensing with R(L) C_L^φφ,ref. With the
# emulator as the reference, (1) C_L^φφ = emulator's × R(L), exactly the engine's; (2) the lensed
# spectra are the emulator's plus the change that lensing with R(L) instead of 1 makes, from the
# linear response of camb.correlations.lensed_cls to C_L^φφ in L bins around a fiducial model
# (computed once), rescaled to the point's spectra (a constant scale, the emulator's own A_L,
# missed R's scale dependence: 2.6 in plik_lite's χ² for the interaction model); (3) R(L) and the
# σ8 radius correction use one fiducial CAMB run's matter power instead of the point's own (a
# ratio of integrals over the same kernel shape). Errors: docs/latetime.md. ``carry_lensing``
# (steps 2, 3) also carries the emulator's own w0wa points beyond its box (emulator/transfer.py).
FIDUCIAL_EARLY = {"ombh2": 0.02237, "omch2": 0.1200, "mnu": 0.06, "nnu": 3.044, "nu_states": 1,
                  "tau": 0.0544, "As": 2.1e-9, "ns": 0.9649, "TCMB": 2.7255}
FIDUCIAL_H0 = 67.36


def fiducial_reference() -> Reference:
    """The CAMB run whose P(k, z) shapes the Limber ratios of the emulated engine (cached)."""
    return run_reference(FIDUCIAL_EARLY, FIDUCIAL_H0)


_RESPONSE_BINS = 24
_RESPONSE_STEP = 0.05
_RESPONSE: dict = {}


def lensing_response(lmax: int = 3000) -> dict:
    """d(lensed D_ℓ)/d ln C_L^φφ for C_L^φφ scaled in each of _RESPONSE_BINS log-spaced L bins,
    at the fiducial model (finite differences of lensed_cls; cached): {'edges', 'resp' (n_bins,
    lmax+1, 4: TT, EE, BB, TE), 'lensed' (lmax+1, 4)}."""
    if lmax not in _RESPONSE:
        from camb.correlations import lensed_cls

        fid = fiducial_reference()
        n = len(fid.pp)
        edges = np.unique(np.geomspace(2, n, _RESPONSE_BINS + 1).astype(int))
        base = lensed_cls(fid.unlensed, fid.pp, lmax_lensed=lmax)
        resp = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            pp = fid.pp.copy()
            pp[lo:hi] *= 1.0 + _RESPONSE_STEP
            resp.append((lensed_cls(fid.unlensed, pp, lmax_lensed=lmax) - base) / _RESPONSE_STEP)
        _RESPONSE[lmax] = {"edges": edges, "resp": np.array(resp), "lensed": base}
    return _RESPONSE[lmax]


def lensing_change(ratio: np.ndarray, spectra, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Change of the lensed TT, EE, TE of ``spectra`` when their lensing potential is multiplied
    by ``ratio`` (R(L), indexed by L, to at least the response's range) times ``scale`` (A_L)
    instead of ``scale``: the fiducial linear response to the bin means of scale × (R − 1),
    rescaled by the ratio of the point's lensed spectra to the fiducial ones."""
    r = lensing_response(len(spectra.tt) - 1)
    edges = r["edges"]
    dev = np.array([scale * (np.mean(ratio[lo:hi]) - 1.0) for lo, hi in zip(edges[:-1], edges[1:])])
    d = np.tensordot(dev, r["resp"], axes=1)  # (lmax+1, 4)
    f = r["lensed"]
    with np.errstate(divide="ignore", invalid="ignore"):
        rt = np.where(f[:, 0] > 0, spectra.tt / f[:, 0], 0.0)
        re = np.where(f[:, 1] > 0, spectra.ee / f[:, 1], 0.0)
    return {"tt": d[:, 0] * rt, "ee": d[:, 1] * re, "te": d[:, 3] * np.sqrt(rt * re)}


def effective_lensing_scale(pp: np.ndarray, ratio: np.ndarray) -> float:
    """Mean of R(L) weighted by the deflection power per L, (2L+1) L(L+1) C_L^φφ, over L >= 2
    (a summary of how much more the target lenses: derived 'A_L_eff'); ``pp`` = [L(L+1)]²
    C_L^φφ / 2π and ``ratio`` = R(L) on the same L (index) grid."""
    L = np.arange(len(pp), dtype=float)
    w = np.zeros_like(L)
    w[2:] = (2 * L[2:] + 1) * pp[2:] / (L[2:] * (L[2:] + 1))
    return float(np.sum(w[2:] * ratio[2:]) / np.sum(w[2:]))


# the L of the emulated engines' Limber ratio (a coarser grid than the CAMB engine's 90 L: the
# ratio is smooth in L)
EMULATED_L_GRID = np.unique(np.geomspace(2, 3000, 40).astype(int))


def limber_ratio(Lg: np.ndarray, lim_target: np.ndarray, lim_ref: np.ndarray, spectra) -> np.ndarray:
    """R(L) = C_L^κκ(target) / C_L^κκ(reference) from its values on ``Lg``, splined in ln L onto
    every L of ``spectra`` and of the lensing response (constant beyond Lg, 1 below L = 2)."""
    lr = CubicSpline(np.log(Lg), np.log(lim_target / lim_ref))
    n = max(len(spectra.pp), int(lensing_response(len(spectra.tt) - 1)["edges"][-1]))
    ratio = np.ones(n)
    ratio[2:] = np.exp(lr(np.log(np.clip(np.arange(2, n), None, Lg[-1]))))
    return ratio


def relens(spectra, ratio: np.ndarray, A_L: float):
    """(spectra with C_L^φφ × R(L) and lensed TT, TE, EE moved by the linear response to that
    change, the effective lensing scale of R(L))."""
    pp_ratio = ratio[:len(spectra.pp)]
    d = lensing_change(ratio, spectra, A_L)
    out = dataclasses.replace(spectra, tt=spectra.tt + d["tt"], te=spectra.te + d["te"],
                              ee=spectra.ee + d["ee"], pp=spectra.pp * pp_ratio)
    return out, effective_lensing_scale(spectra.pp, pp_ratio)


def carry_lensing(ref_spectra, ref_sigma8: float, rbg, h_ref: float, target, omega_cb: float,
                  A_L: float, pk_factor_for=None) -> tuple:
    """Carry an emulated reference (spectra, σ8, background ``rbg`` at H0 = 100 h_ref) to a
    ``target`` background with the same early universe and the same D_M(z*): C_L^φφ by the Limber
    ratio with the growth ratio (fiducial P(k, z); ``pk_factor_for(g²(z))`` an optional factor
    f(k, z) on the target's power, e.g. nl_response's), the lensed spectra by the lensing
    response to it (``A_L`` the lensing scale of the reference's spectra), σ8 by the fiducial
    σ_R's radius dependence and the growth ratio today. Returns (spectra, σ8, A_L_eff)."""
    fid = fiducial_reference()
    zstar = float(rbg.zstar)
    zg = np.concatenate([[0.0], Z_PK[1:]])
    g_t = growth_factor(target.H, omega_cb, zg)
    g_r = growth_factor(rbg.H, omega_cb, zg)
    gsq = CubicSpline(np.log1p(zg), (g_t / g_r) ** 2)
    omega_m = omega_cb + float(rbg.omnuh2)
    # a coarser grid than the CAMB engine's (90 L, 600 z): the ratio is smooth in L, and the
    # same z grid in both integrals cancels most of the quadrature error (checked in the docs)
    Lg = EMULATED_L_GRID
    g2 = lambda z: gsq(np.log1p(z))  # noqa: E731
    factor = pk_factor_for(g2) if pk_factor_for is not None else None
    lim_t = limber_kappa(target, fid.pk, g2, Lg, zstar, omega_m, nz=300, pk_factor=factor)
    lim_r = limber_kappa(rbg, fid.pk, np.ones_like, Lg, zstar, omega_m, nz=300)
    relensed, a_eff = relens(ref_spectra, limber_ratio(Lg, lim_t, lim_r, ref_spectra), A_L)
    if not np.all(np.isfinite(relensed.pp)):
        raise TheoryError("the emulated late-time engine produced a non-finite C_L^φφ")
    # σ8 in spheres of 8/h_target Mpc: the reference's (8/h_ref), the fiducial P(k)'s radius
    # dependence, and the growth ratio today
    h_t = float(target.H(0.0)) / 100.0
    sigma8 = (ref_sigma8 * fid.sigma_R(8.0 / h_t) / fid.sigma_R(8.0 / h_ref)
              * float(g_t[0] / g_r[0]))
    return relensed, sigma8, a_eff


def late_time_products_emulated(params: dict, target, emulator) -> TheoryProducts:
    """As ``late_time_products`` at the matched H0, with ``emulator`` (an EmulatorBackend,
    ΛCDM) in place of the CAMB reference run; see the comment above for what differs."""
    early = _engine_early(params)
    ref_H0 = matched_H0(early, target)
    rbg = compute_background({**{k: early[k] for k in _BG_EARLY if k in early}, "H0": ref_H0})
    A_L = float(params.get("A_L", 1.0))
    A_lens = float(params.get("A_lens", 1.0))
    ref_params = {k: v for k, v in params.items() if k in EARLY}
    ref = emulator.compute({**ref_params, "H0": ref_H0, "w": -1.0, "wa": 0.0, "A_lens": 1.0,
                            "A_L": A_L}, NEEDS)
    relensed, sigma8, a_eff = carry_lensing(ref.spectra, float(ref.derived["sigma8"]), rbg,
                                            ref_H0 / 100.0, target,
                                            early["ombh2"] + early["omch2"], A_L)
    spectra = dataclasses.replace(relensed, pp=relensed.pp * A_lens)
    om = _omega_m_today(target, early, ref)
    derived = {"H0": float(target.H(0.0)), "omegam": om, "sigma8": sigma8,
               "S8": sigma8 * np.sqrt(om / 0.3), "H0_ref": float(ref_H0),
               "As": float(ref.derived["As"]), "A_L_eff": a_eff}
    for name in ("rdrag", "theta_star", "zstar", "zdrag"):
        if hasattr(target, name):
            derived[name] = float(getattr(target, name))
    return TheoryProducts(params=dict(params), spectra=spectra, background=target,
                          derived=derived)

# --- ΛsCDM served through the engine ---------------------------------------------------------

LSCDM_PARAMS = ("H0", "cosmomc_theta", "theta_MC_100", "ombh2", "omch2", "mnu", "nnu",
                "nu_states", "tau", "As", "logA", "ns", "TCMB", "A_L", "A_lens", "z_dagger",
                "eta_lscdm")


def compute_lscdm(params: dict, need: frozenset[str] = NEEDS, emulator=None) -> TheoryProducts:
    """ΛsCDM at ``params``: background from theory/lscdm.py; spectra (if needed) from the
    late-time engine, its reference from CAMB or, when given, from ``emulator``. mnu must be
    >= 0 (wrap with EffectiveMass for Σmν,eff < 0)."""
    from numass.theory.lscdm import compute_lscdm_background

    unknown = sorted(set(params) - set(LSCDM_PARAMS))
    if unknown:
        raise InputError(f"ΛsCDM does not know the parameter(s) {unknown}; it takes: "
                         f"{', '.join(LSCDM_PARAMS)}")
    p = dict(params)
    if "theta_MC_100" in p:
        p["cosmomc_theta"] = p.pop("theta_MC_100") / 100.0
    if "logA" in p:
        p["As"] = float(np.exp(p.pop("logA")) * 1e-10)
    bg_keys = ("H0", "cosmomc_theta", "ombh2", "omch2", "mnu", "nnu", "nu_states", "TCMB",
               "z_dagger", "eta_lscdm")
    try:
        bg = compute_lscdm_background({k: v for k, v in p.items() if k in bg_keys})
    except (InputError, TheoryError):
        raise
    except Exception as exc:  # numerical failure at a point: the sampler gets -inf
        raise TheoryError(f"ΛsCDM background failed at {params}: {exc}") from exc
    if "spectra" in need:
        out = (late_time_products(p, bg) if emulator is None
               else late_time_products_emulated(p, bg, emulator))
        out.params = dict(params)
        out.derived.update({"z_dagger": bg.z_dagger, "eta_lscdm": bg.eta})
        return out
    derived = {"H0": float(bg.h * 100), "omegam": float(bg.omegam), "rdrag": float(bg.rdrag),
               "theta_star": float(bg.theta_star), "zdrag": float(bg.zdrag),
               "zstar": float(bg.zstar), "z_dagger": bg.z_dagger, "eta_lscdm": bg.eta}
    return TheoryProducts(params=dict(params), background=bg, derived=derived)


class LsCDMBackend(Backend):
    """ΛsCDM (background + late-time-engine spectra) behind the Backend interface.

    Σmν,eff < 0 goes through the observable-level mirror of EffectiveMass (the engine's reference
    is CAMB, which has no negative mass), exactly as for the CAMB backend."""

    name = "lscdm"
    supports_negative_mnu = False

    def param_names(self):
        return LSCDM_PARAMS

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        self.check_params(params)
        return compute_lscdm(params, need)


class LsCDMEmulatorBackend(Backend):
    """ΛsCDM with the late-time engine's reference taken from the emulator (~10 ms a point
    instead of ~2 s). A reference outside the emulator's box raises TheoryError (a sampler gets
    -inf there): the box is part of the prior; use the 'lscdm' backend for CAMB."""

    name = "lscdm-emulator"
    supports_negative_mnu = False

    def __init__(self, reference: Backend):
        self.emulator = reference  # the emulator backend (built by numass.backends)

    def param_names(self):
        return LSCDM_PARAMS

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        self.check_params(params)
        return compute_lscdm(params, need, emulator=self.emulator)

    def compute_batch(self, params: dict, need: frozenset[str] = NEEDS):
        """Vectorised over points (theory/latetime_batch.py); outside the box: ok = False."""
        from numass.theory.latetime_batch import lscdm_emulator_batch

        return lscdm_emulator_batch(self, params, need)


class LsCDMBackgroundBackend(Backend):
    """The ΛsCDM background alone (numass's own code, ~1 ms a point): what BAO and the compressed
    CMB likelihood need. Σmν,eff < 0 is native here, as in the ΛCDM 'background' backend (the
    mass-dependent neutrino density changes sign, Elbers et al. 2024), so that ΛCDM and ΛsCDM
    fits on background-only data use the same definition. Spectra-only parameters (tau, As, ns,
    A_L, A_lens) are accepted and ignored."""

    name = "lscdm-background"
    supports_negative_mnu = True

    def param_names(self):
        return LSCDM_PARAMS

    def compute(self, params: dict, need: frozenset[str] = frozenset({"background"})
                ) -> TheoryProducts:
        need = check_need(need)
        if "spectra" in need:
            raise InputError("the 'lscdm-background' backend computes no CMB spectra; use the "
                             "'lscdm' backend (late-time engine) for data sets that need them")
        self.check_params(params)
        out = compute_lscdm(params, frozenset({"background"}))
        if not all(np.isfinite(v) for v in out.derived.values()):
            raise TheoryError(f"non-finite ΛsCDM background at {params}")
        return out

    def compute_batch(self, params: dict, need: frozenset[str] = frozenset({"background"})):
        """Vectorised over points (theory/backends_batch.py)."""
        from numass.theory.backends_batch import lscdm_background_batch

        return lscdm_background_batch(self, params, need)
