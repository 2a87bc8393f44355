"""The exact Euclid cosmic-shear C_ℓ of one point of any hypothesis: P(k, z) from CAMB through
the same theory paths as numass's spectra, the background from the hypothesis's own theory, and
the Limber integrals from pyccl's CosmologyCalculator.

P(k, z) per hypothesis (non-linear: CAMB's halofit, the CAMB backend's ``mead2016`` setting):

- ΛCDM, A_L + A_lens, τ, w0wa: CAMB itself at the point (w0wa through CAMB's PPF dark energy);
  A_L, A_lens and τ do not change the matter power;
- ΛsCDM: the late-time engine's rescaling (theory/latetime.py): a ΛCDM reference run with the
  same early universe and the H0 that matches the target's D_M(z*), times the squared ratio of
  the target's and the reference's scale-independent growth (limber_batch.growth_rows);
- interacting neutrinos: the CAMB run at the physical mass times S(k, z)^(α_fs − 1), S the
  free-streaming suppression of theory/free_streaming.py, as theory/nu_interacting.py;
- Σmν,eff < 0: the observable mirror of theory/effective_mass.py applied to the C_ℓ,
  C_ℓ(m) = 2 C_ℓ(0) − C_ℓ(|m|).

The background (χ(z), H(z)/H0) is the hypothesis's own (its batched theory, one row); Ω_m of
the lensing kernel is ω_b + ω_c + ω_ν(CAMB) over h². Each evaluation is one CAMB run with the
matter power only (~1.5 s); the forecast uses them to build its linearised shear model
(forecast/shear.py), never inside a fit.
"""
from __future__ import annotations

import numpy as np

from numass.errors import DataError
from numass.forecast.engine import FIXED, Hypothesis
from numass.theory.backend import normalise_params
from numass.theory.background import BackgroundPoint, BackgroundRows, compute_background
from numass.theory.batch import row_background
from numass.theory.camb_backend import CambBackend
from numass.theory.free_streaming import free_streaming_suppression
from numass.theory.latetime import matched_H0
from numass.theory.limber_batch import growth_rows
from numass.theory.reference import DENSITIES, EARLY, run_reference

# redshifts of CAMB's P(k, z) (the source distributions end at z = 4) and the k grid given to
# pyccl (1/Mpc; CAMB computes to kmax and extrapolates its interpolator beyond)
Z_PK = np.linspace(0.0, 4.0, 41)
K_PK = np.geomspace(1e-4, 50.0, 300)
CAMB_KMAX = 10.0
Z_BG = np.linspace(0.0, 5.0, 251)  # the background table handed to pyccl


def require_pyccl():
    """pyccl, or a DataError that says how to install it."""
    try:
        import pyccl
    except ImportError:
        raise DataError("pyccl", "pyccl", "pyccl is not installed: the Euclid shear C_ell "
                        "come from it", fix="pip install -e '.[forecast]' (or pip install "
                                            "pyccl), or leave euclid_shear out of --experiments"
                        ) from None
    return pyccl


def camb_matter_power(p: dict) -> tuple[np.ndarray, float]:
    """Non-linear P(k, z) [Mpc^3] on (Z_PK, K_PK) of CAMB at the normalised point ``p`` (with
    H0, w, wa), the matter power only, and CAMB's ω_ν."""
    import camb

    backend = CambBackend()
    pars = backend.camb_params(p, frozenset())
    pars.set_matter_power(redshifts=Z_PK[::-1], kmax=CAMB_KMAX, nonlinear=True, silent=True)
    pars.NonLinearModel.set_params(halofit_version=backend.halofit_version)
    pars.WantCls = False
    res = camb.get_results(pars)
    pk = res.get_matter_power_interpolator(nonlinear=True, hubble_units=False, k_hunit=False,
                                           extrap_kmax=2 * K_PK[-1], silent=True)
    return np.asarray(pk.P(Z_PK, K_PK), dtype=float), float(pars.omnuh2)


def early_params(point: dict, mnu: float, H0: float) -> dict:
    """The CAMB-normalised early-universe point (ΛCDM dark energy) at mass ``mnu`` and H0."""
    keep = ("ombh2", "omch2", "logA", "ns", "tau")
    return normalise_params({**FIXED, **{k: point[k] for k in keep}, "mnu": mnu,
                             "H0": H0, "w": -1.0, "wa": 0.0})


def growth_ratio_sq(target, ref, omega_cb: float) -> np.ndarray:
    """[D_target(z) / D_ref(z)]^2 on Z_PK (the late-time engine's rescaling of P(k, z))."""
    g = growth_rows(lambda z: np.vstack([np.ravel(target.H(z)), np.ravel(ref.H(z))]),
                    np.full(2, omega_cb), Z_PK)
    return (g[0] / g[1]) ** 2


def power_of(model: str, point: dict, bg, H0: float) -> tuple[np.ndarray, float]:
    """(P(k, z) on (Z_PK, K_PK), ω_ν) of ``model`` at ``point`` (mnu_eff >= 0) with the target
    background ``bg`` (module docstring)."""
    m = float(point["mnu_eff"])
    if model == "lscdm":  # the reference: the same densities at the H0 matching D_M(z*)
        dens = {k: early_params(point, m, H0)[k] for k in DENSITIES}
        p_ref = early_params(point, m, matched_H0(dens, bg))
        ref_bg = compute_background({k: p_ref[k] for k in ("H0", *DENSITIES)})
        pk, omnu = camb_matter_power(p_ref)
        return pk * growth_ratio_sq(bg, ref_bg, p_ref["ombh2"] + p_ref["omch2"])[:, None], omnu
    p = early_params(point, m, H0)
    if model == "w0wa":
        p = {**p, "w": float(point["w"]), "wa": float(point["wa"])}
    pk, omnu = camb_matter_power(p)
    alpha = float(point.get("alpha_fs", 1.0))
    if model == "nu_interacting" and alpha != 1.0 and m > 0:
        s = free_streaming_suppression(run_reference({k: p[k] for k in EARLY if k in p}, H0))
        pk = pk * s["interp"](K_PK[None, :], Z_PK[:, None]) ** (alpha - 1.0)
    return pk, omnu


def calculator(point: dict, bg, H0: float, pk: np.ndarray, omnu: float):
    """pyccl's CosmologyCalculator on numass's background and P(k, z) (neutrinos counted in
    Ω_c, so that Ω_m of the lensing kernel is the point's)."""
    ccl = require_pyccl()
    h = H0 / 100.0
    a_bg = 1.0 / (1.0 + Z_BG[::-1])
    chi = np.ravel(bg.DM(Z_BG[::-1]))
    hz = np.ravel(bg.H(Z_BG[::-1])) / H0
    return ccl.CosmologyCalculator(
        Omega_c=(float(point["omch2"]) + omnu) / h ** 2, Omega_b=float(point["ombh2"]) / h ** 2,
        h=h, n_s=float(point["ns"]), A_s=1e-10 * np.exp(float(point["logA"])), m_nu=0.0,
        background={"a": a_bg, "chi": chi, "h_over_h0": hz},
        pk_nonlin={"a": 1.0 / (1.0 + Z_PK[::-1]), "k": K_PK,
                   "delta_matter:delta_matter": pk[::-1]})


def shear_cls(cosmo, nz: tuple[np.ndarray, np.ndarray], ell: np.ndarray) -> np.ndarray:
    """C_ℓ^{ij} (i <= j, in np.triu_indices order) of the bins' n(z) (z, (nbin, nz)) at ``ell``:
    (npairs, nell)."""
    ccl = require_pyccl()
    z, dens = nz
    tracers = [ccl.WeakLensingTracer(cosmo, dndz=(z, d)) for d in dens]
    iu = np.triu_indices(len(dens))
    return np.array([ccl.angular_cl(cosmo, tracers[i], tracers[j], ell) for i, j in zip(*iu)])


def first_background(products):
    """The background of a batch of one: numass's own background rows as a BackgroundPoint (what
    the late-time engine's matched H0 reads), any other (a mirror's) viewed as its row 0."""
    if isinstance(products.background, BackgroundRows):
        return BackgroundPoint(products.background)
    return row_background(products.background, 0)


def exact_shear(hyp: Hypothesis, point: dict, nz, ell: np.ndarray) -> np.ndarray:
    """C_ℓ^{ij} (npairs, nell) of hypothesis ``hyp`` at ``point`` (its sampled names)."""
    m = float(point["mnu_eff"])
    if m < 0:  # the observable mirror of theory/effective_mass.py
        return 2 * exact_shear(hyp, {**point, "mnu_eff": 0.0}, nz, ell) \
            - exact_shear(hyp, {**point, "mnu_eff": -m}, nz, ell)
    products = hyp.products(hyp.point(point))
    if not products.ok[0]:
        raise DataError("euclid_shear", hyp.key, f"the theory failed at {point}")
    bg = first_background(products)
    H0 = float(np.ravel(products.derived["H0"])[0])
    pk, omnu = power_of(hyp.model, point, bg, H0)
    return shear_cls(calculator(point, bg, H0, pk, omnu), nz, ell)
