"""Hypothesis 6: a dark-sector interaction that stops neutrino free streaming.

Model (docs/latetime.md, "Dark-sector interaction"): the expansion history is that of ΛCDM with
the physical neutrino mass Σmν >= 0 (numass's own background, CAMB's neutrino conventions), while
the free-streaming suppression of clustering is scaled by ``alpha_fs``:

    P_target(k, z) = P_ref(k, z; Σmν) × S(k, z)^(alpha_fs − 1),
    S(k, z) = P_lin(k, z; Σmν) / P_lin,nofs(k, z; Σmν),

with P_ref CAMB's nonlinear matter power of ΛCDM + Σmν (the late-time engine's reference run at
the target's own H0) and P_lin,nofs the linear power of the same cosmology in which the massive
neutrinos cluster like CDM + baryons once non-relativistic (no free streaming). alpha_fs = 1 is
standard neutrinos (P_target = P_ref exactly); alpha_fs = 0 removes the suppression.

S(k, z) is computed from the reference run itself (no second Boltzmann run): the sub-horizon
growth equation of the CDM+baryon density contrast,

    δ_cb'' + (2 + dlnH/dlna) δ_cb' = (3/2) [Ω_cb(a) δ_cb + Ω_ν,nr(a) δ_ν]     (' = d/dlna),

is solved for every k from z = 1200 to 0 twice, from CAMB's δ_cb and δ_cb' at z = 1200: once
with CAMB's own δ_ν/δ_cb (free streaming), once with the neutrinos following the CDM
adiabatically, δ_ν = (1 + w_ν) δ_cb (no free streaming; CAMB's δ_ν does the same on
super-horizon scales, so S = 1 there). Ω_ν,nr is the non-relativistic part of the neutrino
density, (ρ_ν − 3P_ν)/ρ_crit, which is what clusters. S = (δ_m,fs / δ_m,nofs)² with
δ_m = (ω_cb δ_cb + ω_ν,nr δ_ν)/(ω_cb + ω_ν,nr). Taking the ratio of
two solutions of the same equation cancels its approximations (Newtonian growth near the
horizon, baryons still coupled at z = 1200, radiation) to first order; what is left is the
effect of the neutrinos not following the CDM. Limits measured (tests/test_nu_interacting.py,
docs/latetime.md): S → 1 at k ≲ 1e-3 Mpc⁻¹, S ≈ 1 − 8 f_ν at k ≳ 0.5 Mpc⁻¹, z = 0 (the
Lesgourgues & Pastor suppression), and agreement with the classic fixed-ω_m comparison
(massive ν vs the same ω_ν as CDM, two CAMB runs) to a few 0.01 in P at k ≥ 0.03 Mpc⁻¹.

Then, through the late-time engine (theory/latetime.py): C_L^φφ = C_L^φφ,CAMB(ref) ×
Limber[P_target] / Limber[P_ref]; the unlensed primary is the reference's (same background, same
early universe: the relativistic neutrinos' free streaming before recombination, which sets the
CMB phase shift, is untouched); lensed with camb.correlations.lensed_cls and the new C_L^φφ;
σ8 from the linear P(k, 0) × S(k, 0)^(alpha_fs − 1).
"""
from __future__ import annotations


import numpy as np
from scipy.integrate import solve_ivp
from scipy.interpolate import CubicSpline, RectBivariateSpline

from numass.errors import InputError, TheoryError
from numass.theory.backend import NEEDS, Backend, check_need, normalise_params
from numass.theory.background import compute_background
from numass.theory.products import TheoryProducts

PARAMS = ("H0", "cosmomc_theta", "theta_MC_100", "ombh2", "omch2", "mnu", "nnu", "nu_states",
          "tau", "As", "logA", "ns", "TCMB", "A_L", "A_lens", "alpha_fs")
_BG_KEYS = ("H0", "cosmomc_theta", "ombh2", "omch2", "mnu", "nnu", "nu_states", "TCMB")


def _nonrel_density(dens, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ρ_ν − 3P_ν) a³ of the massive states in ω h² units (→ ω_ν today), = d(ρ a⁴)/dln a / a,
    and their equation of state w_ν = P_ν/ρ_ν."""
    eps = 1e-4
    x = np.log(a)
    f = dens.massive_nu(a)
    df = (dens.massive_nu(np.exp(x + eps)) - dens.massive_nu(np.exp(x - eps))) / (2 * eps)
    return df / a, (f - df) / (3.0 * f)


def free_streaming_suppression(ref) -> dict:
    """S(k, z) = P_lin(fs) / P_lin(no fs) on the reference's transfer grid (cached on ``ref``):
    a dict with k [1/Mpc], z (as the transfer grid), S (nk, nz) and ``interp`` f(k, z) -> S."""
    if "fs_suppression" in ref.cache:
        return ref.cache["fs_suppression"]
    tr = ref.transfer
    bg = ref.background
    dens = bg.dens
    k, z = tr["k"], tr["z"]
    order = np.argsort(-np.log1p(z))  # ascending ln a
    lna = -np.log1p(z[order])
    ombh2, omch2 = ref.params["ombh2"], ref.params["omch2"]
    ocb = ombh2 + omch2
    dcb = (omch2 * tr["cdm"] + ombh2 * tr["b"])[:, order] / ocb
    dnu = tr["nu"][:, order]
    if dens.n_massive == 0 or not np.any(dnu):
        S = np.ones_like(dcb)
    else:
        # background coefficients on a fine grid, splined (the ODE right-hand side is then cheap)
        xf = np.linspace(lna[0], 0.0, 3001)
        af = np.exp(xf)
        h2 = dens.h2(af)
        fric = 2.0 + 0.5 * np.gradient(np.log(h2), xf)
        o_cb = ocb / af**3 / h2
        w_nr, w_nu = _nonrel_density(dens, af)
        o_nu = w_nr / af**3 / h2
        # without free streaming the neutrinos follow the CDM adiabatically,
        # δ_ν/(1 + w_ν) = δ_cb, which CAMB's δ_ν also does on super-horizon scales: S -> 1 there
        c_fric, c_cb, c_nu, c_follow = (CubicSpline(xf, v) for v in (fric, o_cb, o_nu, 1 + w_nu))
        # δ_ν/δ_cb from CAMB (free streaming), and the initial δ_cb, δ_cb' at the first redshift
        ratio = CubicSpline(lna, dnu / dcb, axis=1)
        cb = CubicSpline(lna, dcb, axis=1)
        d0, dp0 = cb(lna[0]), cb(lna[0], 1)
        nk = len(k)
        y0 = np.concatenate([np.ones(nk), dp0 / d0, np.ones(nk), dp0 / d0])

        def rhs(x, y):
            d_fs, v_fs, d_no, v_no = y.reshape(4, nk)
            fr, a_cb, a_nu = c_fric(x), c_cb(x), c_nu(x)
            acc_fs = -fr * v_fs + 1.5 * (a_cb + a_nu * ratio(x)) * d_fs
            acc_no = -fr * v_no + 1.5 * (a_cb + a_nu * c_follow(x)) * d_no
            return np.concatenate([v_fs, acc_fs, v_no, acc_no])

        sol = solve_ivp(rhs, (lna[0], 0.0), y0, method="DOP853", rtol=1e-6, atol=1e-9,
                        t_eval=lna)
        if not sol.success:
            raise TheoryError(f"free-streaming growth integration failed: {sol.message}")
        y = sol.y.reshape(4, nk, -1)
        w_nr, w_nu = (v[None, :] for v in _nonrel_density(dens, np.exp(lna)))
        d_m_fs = (ocb * y[0] + w_nr * ratio(lna) * y[0]) / (ocb + w_nr)
        d_m_no = (ocb * y[2] + w_nr * (1 + w_nu) * y[2]) / (ocb + w_nr)
        S = (d_m_fs / d_m_no) ** 2
    if not np.all(np.isfinite(S)) or np.any(S <= 0):
        raise TheoryError("non-finite free-streaming suppression")
    spline = RectBivariateSpline(lna, np.log(k), np.log(S).T, kx=3, ky=3)
    lnk_lo, lnk_hi = np.log(k[0]), np.log(k[-1])

    def interp(kk, zz):
        kk, zz = np.broadcast_arrays(np.asarray(kk, dtype=float), np.asarray(zz, dtype=float))
        x = np.clip(-np.log1p(zz), lna[0], 0.0)  # beyond z = 1200 (no lensing there): S(1200)
        lk = np.clip(np.log(kk), lnk_lo, lnk_hi)  # S is flat beyond both ends of the k range
        return np.exp(spline.ev(x.ravel(), lk.ravel())).reshape(kk.shape)

    out = {"k": k, "z": z[order], "S": S, "interp": interp}
    ref.cache["fs_suppression"] = out
    return out


def _alpha(params: dict) -> float:
    try:
        alpha = float(params.get("alpha_fs", 1.0))
    except (TypeError, ValueError):
        raise InputError(f"alpha_fs = {params.get('alpha_fs')!r} is not a number") from None
    if not np.isfinite(alpha) or alpha < 0:
        raise InputError(f"alpha_fs = {params.get('alpha_fs')!r}: the free-streaming scaling must "
                         f"be a finite number >= 0 (1 = standard neutrinos, 0 = no free streaming)")
    return alpha


def _inputs(params: dict, need) -> tuple[frozenset, float, dict]:
    """(need, alpha_fs, the other parameters normalised: w, wa = -1, 0), checked."""
    need = check_need(need)
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise InputError(f"nu_interacting does not know the parameter(s) {unknown}; it takes: "
                         f"{', '.join(PARAMS)}")
    return need, _alpha(params), normalise_params({k: v for k, v in params.items()
                                                   if k != "alpha_fs"})


def compute_nu_interacting(params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
    """The interacting-neutrino model at ``params`` (mnu >= 0 is the physical mass; alpha_fs
    defaults to 1)."""
    need, alpha, p = _inputs(params, need)
    try:
        bg = compute_background({k: p[k] for k in _BG_KEYS if k in p})
    except (InputError, TheoryError):
        raise
    except Exception as exc:  # numerical failure at a point: the sampler gets -inf
        raise TheoryError(f"background failed at {params}: {exc}") from exc
    if "spectra" not in need:
        derived = {"H0": float(bg.h * 100), "omegam": float(bg.omegam), "rdrag": float(bg.rdrag),
                   "theta_star": float(bg.theta_star), "zdrag": float(bg.zdrag),
                   "zstar": float(bg.zstar), "omnuh2": float(bg.omnuh2), "alpha_fs": alpha}
        return TheoryProducts(params=dict(params), background=bg, derived=derived)
    from numass.theory.latetime import late_time_products

    def factor_for(ref):
        if alpha == 1.0 or p["mnu"] == 0.0:
            return None  # standard neutrinos: the reference itself
        interp = free_streaming_suppression(ref)["interp"]
        return lambda k, z: interp(k, z) ** (alpha - 1.0)

    engine_params = {k: v for k, v in p.items() if k not in ("H0", "cosmomc_theta", "w", "wa")}
    out = late_time_products(engine_params, bg, ref_H0=float(bg.h * 100),
                             pk_factor_for=factor_for)
    out.params = dict(params)
    out.derived.update({"alpha_fs": alpha, "omnuh2": float(bg.omnuh2)})
    return out


# --- the same model on the emulator (see latetime.late_time_products_emulated) ------------------
# The target is ΛCDM + Σmν itself with P(k, z) × S^(α−1): the reference is the emulator at the
# point, C_L^φφ gets the Limber ratio R(L) of P_fid S^(α−1) to P_fid (one fiducial CAMB P(k, z)),
# the lensed spectra the linear response to R (latetime.lensing_change), σ8 the same factor in
# the top-hat integral. S(k, z) needs CAMB's transfer functions; it depends on the point through the neutrino
# fraction almost only, so it is taken from CAMB runs at the fiducial densities on a grid of
# Σmν (MNU_GRID, run once per process), its logarithm interpolated linearly in Σmν.
MNU_GRID = (0.0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)


def suppression_on_grid():
    """[(mnu, S interp)] from fiducial CAMB runs at MNU_GRID (cached in latetime's run cache
    while in use, and here for good)."""
    global _S_GRID
    if _S_GRID is None:
        from numass.theory.latetime import FIDUCIAL_EARLY, FIDUCIAL_H0, run_reference

        grid = []
        for m in MNU_GRID:
            if m == 0.0:
                grid.append((m, None))
                continue
            ref = run_reference({**FIDUCIAL_EARLY, "mnu": m}, FIDUCIAL_H0)
            grid.append((m, free_streaming_suppression(ref)["interp"]))
        _S_GRID = grid
    return _S_GRID


_S_GRID = None


def suppression_at(mnu: float):
    """f(k, z) -> ln S(k, z) at Σmν = mnu, interpolated on the grid (0 at mnu = 0)."""
    grid = suppression_on_grid()
    ms = [m for m, _ in grid]
    if not 0.0 <= mnu <= ms[-1]:
        raise TheoryError(f"mnu = {mnu} outside the free-streaming grid [0, {ms[-1]}]")
    j = min(max(int(np.searchsorted(ms, mnu)) - 1, 0), len(ms) - 2)
    (m0, f0), (m1, f1) = grid[j], grid[j + 1]
    t = (mnu - m0) / (m1 - m0)

    def ln_s(k, z):
        a = np.log(f0(k, z)) if f0 is not None else 0.0
        return (1 - t) * a + t * np.log(f1(k, z))
    return ln_s


def compute_nu_interacting_emulated(params: dict, emulator, need: frozenset[str] = NEEDS
                                    ) -> TheoryProducts:
    """``compute_nu_interacting`` with the emulator as the reference (see above)."""
    from numass.theory import latetime as lt

    need, alpha, p = _inputs(params, need)
    ref = emulator.compute(p, need)
    bg = ref.background
    ref.params = dict(params)
    ref.derived.update({"alpha_fs": alpha, "omnuh2": float(bg.omnuh2)})
    if "spectra" not in need or alpha == 1.0 or p["mnu"] == 0.0:
        return ref
    ln_s = suppression_at(float(p["mnu"]))

    def factor(k, z):
        return np.exp((alpha - 1.0) * ln_s(k, z))

    fid = lt.fiducial_reference()
    zstar = float(bg.zstar)
    omega_m = p["ombh2"] + p["omch2"] + float(bg.omnuh2)
    Lg = lt.EMULATED_L_GRID
    lim_t = lt.limber_kappa(bg, fid.pk, np.ones_like, Lg, zstar, omega_m, nz=300,
                            pk_factor=factor)
    lim_r = lt.limber_kappa(bg, fid.pk, np.ones_like, Lg, zstar, omega_m, nz=300)
    # the reference's spectra are lensed at the point's A_L; its pp includes A_lens
    ref.spectra, a_eff = lt.relens(ref.spectra, lt.limber_ratio(Lg, lim_t, lim_r, ref.spectra),
                                   float(p.get("A_L", 1.0)))
    R8 = 8.0 / float(bg.h)
    s8 = float(ref.derived["sigma8"]) * np.sqrt(lt.sigma2_ratio(
        fid.pk_lin0, R8, lambda k: factor(k, np.zeros_like(k))))
    ref.derived.update({"sigma8": s8, "S8": s8 * np.sqrt(float(bg.omegam) / 0.3),
                        "A_L_eff": a_eff})
    return ref


class NuInteractingEmulatorBackend(Backend):
    """Hypothesis 6 on the emulator (~20 ms a point; the first call runs the free-streaming grid,
    ~30 s of CAMB). Outside the emulator's box: TheoryError (-inf)."""

    name = "nu_interacting-emulator"
    supports_negative_mnu = False

    def __init__(self, reference: Backend):
        self.emulator = reference  # the emulator backend (built by numass.backends)

    def param_names(self):
        return PARAMS

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        self.check_params(params)
        return compute_nu_interacting_emulated(params, self.emulator, need)

    def compute_batch(self, params: dict, need: frozenset[str] = NEEDS):
        """Vectorised over points (theory/latetime_batch.py); outside the box: ok = False."""
        from numass.theory.latetime_batch import nu_interacting_emulator_batch

        return nu_interacting_emulator_batch(self, params, need)


class NuInteractingBackend(Backend):
    """Hypothesis 6 behind the Backend interface (see the module docstring). Wrapped by
    EffectiveMass in make_backend, so it takes ``mnu_eff``; the model samples it >= 0 (a physical
    mass), and a negative value would go through the observable-level mirror."""

    name = "nu_interacting"
    supports_negative_mnu = False

    def param_names(self):
        return PARAMS

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        self.check_params(params)
        return compute_nu_interacting(params, need)
