"""The reference ΛCDM CAMB runs that the late-time engines rescale, and what is computed once from
the fiducial one.

A late-time engine (theory/latetime.py, theory/latetime_batch.py) carries the spectra of a ΛCDM
REFERENCE with the target's early universe to the target: ``run_reference`` is that CAMB run
(settings as the CAMB backend, plus the matter power on Z_PK, the transfer functions and σ_R),
cached for the last few parameter sets. The emulated engines take the reference's spectra from
the emulator and need CAMB only for shapes that barely depend on the point: the fiducial run's
P(k, z) and σ_R (``fiducial_reference``), and the linear response of the lensed spectra to
C_L^φφ in L bins (``lensing_response``, finite differences of camb.correlations.lensed_cls).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from numass.errors import TheoryError
from numass.parameters import PARAMS
from numass.theory.backend import normalise_params
from numass.theory.background import BackgroundPoint, compute_background
from numass.theory.camb_backend import CambBackend
from numass.theory.table_cache import cached_arrays, code_key

# the parameters of numass's background that target and reference share (CAMB names)
DENSITIES = ("ombh2", "omch2", "mnu", "nnu", "nu_states", "TCMB")
# early-universe parameters shared by target and reference (CAMB names)
EARLY = ("ombh2", "omch2", "mnu", "nnu", "nu_states", "tau", "As", "logA", "ns", "TCMB")
# transfer redshifts of the reference run: dense at low z where the lensing kernel lives;
# kmax = 2/Mpc as the CAMB backend (a larger Transfer.kmax changes CAMB's own C_L^φφ by ~0.2%)
Z_PK = np.concatenate([[0.0], np.expm1(np.linspace(np.log(1.01), np.log(1201.0), 119))])
_KMAX = 2.0
K_EXTRAP = 1e3  # P(k, z) is extrapolated to here, and the Limber integrals clip k below it
_N_CACHE = 4
# the fiducial early universe and H0 of the emulated engines' shapes (P(k, z), σ_R, the lensing
# response, the free-streaming grid)
FIDUCIAL_EARLY = {k: PARAMS[k].fiducial for k in (*DENSITIES, "tau", "As", "ns")}
FIDUCIAL_H0 = PARAMS["H0"].fiducial


@dataclass
class Reference:
    """A reference ΛCDM CAMB run: what the engine rescales."""

    params: dict  # CAMB-normalised parameters of the run (with H0)
    background: BackgroundPoint  # numass's own background at the same parameters
    unlensed: np.ndarray  # (max_l+1, 4) D_ell TT, EE, BB, TE in muK^2
    pp: np.ndarray  # [L(L+1)]^2 C_L^φφ / 2π to max_l
    pk: Any  # CAMB's nonlinear P(k, z) interpolator (untyped): k in 1/Mpc, P in Mpc^3
    sigma_R: Callable[[float], float]  # R [Mpc] -> linear sigma_R at z = 0 (delta_tot)
    # linear transfer functions at Z_PK: k [1/Mpc], z (descending, as CAMB orders them) and
    # delta_cdm, delta_b, delta_nu (massive), each (nk, nz)
    transfer: dict = field(default_factory=dict)
    pk_lin0: tuple = ()  # (k [1/Mpc], linear P_tot(k, z = 0) [Mpc^3])
    cache: dict = field(default_factory=dict)  # products derived from the run (e.g. suppression)


_REF_CACHE: OrderedDict = OrderedDict()


def _camb_run(p: dict, lmax: int) -> dict:
    """The CAMB products of a reference at CAMB-normalised ``p`` (Reference's fields)."""
    import camb

    pars = CambBackend(lmax=lmax).camb_params(p, frozenset({"spectra"}))
    pars.set_matter_power(redshifts=Z_PK, kmax=_KMAX, nonlinear=True, silent=True)
    res = camb.get_results(pars)
    td = res.get_matter_transfer_data()
    T = np.asarray(td.transfer_data, dtype=float)
    transfer = {"k": np.asarray(td.q, dtype=float),
                "z": np.asarray(res.transfer_redshifts, dtype=float),
                "cdm": T[camb.model.Transfer_cdm - 1], "b": T[camb.model.Transfer_b - 1],
                "nu": T[camb.model.Transfer_nu - 1]}
    kl, zl, pkl = res.get_linear_matter_power_spectrum(hubble_units=False, k_hunit=False)

    def sigma_R(R):
        return float(np.squeeze(res.get_sigmaR(float(R), z_indices=-1, hubble_units=False)))

    return {"unlensed": res.get_unlensed_scalar_cls(CMB_unit="muK"),
            "pp": res.get_lens_potential_cls()[:, 0],
            "pk": res.get_matter_power_interpolator(nonlinear=True, hubble_units=False,
                                                    k_hunit=False, extrap_kmax=K_EXTRAP,
                                                    silent=True),
            "sigma_R": sigma_R, "transfer": transfer,
            "pk_lin0": (np.asarray(kl, dtype=float),
                        np.asarray(pkl[int(np.argmin(np.abs(zl)))], dtype=float))}


def run_reference(early: dict, H0: float, lmax: int = 3000) -> Reference:
    """CAMB on ΛCDM (w = -1) with the given early-universe parameters and H0, settings as the CAMB
    backend (CambBackend.camb_params) plus the matter power at Z_PK. Cached (last few runs)."""
    import camb

    key = (tuple(sorted(early.items())), float(H0), int(lmax))
    if key in _REF_CACHE:
        _REF_CACHE.move_to_end(key)
        return _REF_CACHE[key]
    p = normalise_params({**early, "H0": float(H0), "A_L": 1.0, "w": -1.0, "wa": 0.0})
    try:
        run = _camb_run(p, lmax)
    except (camb.CAMBError, ValueError, ArithmeticError) as exc:
        raise TheoryError(f"CAMB failed on the reference model at {p}: {exc}") from exc
    if not (np.all(np.isfinite(run["unlensed"])) and np.all(np.isfinite(run["pp"]))):
        raise TheoryError("CAMB returned non-finite reference spectra")
    bg = compute_background({k: p[k] for k in ("H0", *DENSITIES)})
    ref = Reference(params=p, background=bg, **run)
    _REF_CACHE[key] = ref
    while len(_REF_CACHE) > _N_CACHE:
        _REF_CACHE.popitem(last=False)
    return ref


def fiducial_reference() -> Reference:
    """The CAMB run whose P(k, z) shapes the Limber ratios of the emulated engines (cached)."""
    return run_reference(FIDUCIAL_EARLY, FIDUCIAL_H0)


_RESPONSE_BINS = 24
_RESPONSE_STEP = 0.05
_RESPONSE: dict = {}


def lensing_response(lmax: int = 3000) -> dict:
    """d(lensed D_ℓ)/d ln C_L^φφ for C_L^φφ scaled in each of _RESPONSE_BINS log-spaced L bins,
    at the fiducial model (finite differences of lensed_cls; cached, and kept on disk between
    runs by table_cache): {'edges', 'resp' (n_bins,
    lmax+1, 4: TT, EE, BB, TE), 'lensed' (lmax+1, 4)}."""
    if lmax not in _RESPONSE:
        import sys

        from numass import parameters
        from numass.theory import backend, camb_backend

        key = {"lmax": lmax, "bins": _RESPONSE_BINS, "step": _RESPONSE_STEP,
               **code_key([sys.modules[__name__], camb_backend, backend, parameters])}
        _RESPONSE[lmax] = cached_arrays("lensing-response", key,
                                        lambda: _lensing_response(lmax))
    return _RESPONSE[lmax]


def _lensing_response(lmax: int) -> dict[str, np.ndarray]:
    from camb.correlations import lensed_cls

    fid = fiducial_reference()
    n = len(fid.pp)
    edges = np.unique(np.geomspace(2, n, _RESPONSE_BINS + 1).astype(int))
    base = lensed_cls(fid.unlensed, fid.pp, lmax_lensed=lmax)
    resp = []
    for lo, hi in pairwise(edges):
        pp = fid.pp.copy()
        pp[lo:hi] *= 1.0 + _RESPONSE_STEP
        resp.append((lensed_cls(fid.unlensed, pp, lmax_lensed=lmax) - base) / _RESPONSE_STEP)
    return {"edges": edges, "resp": np.array(resp), "lensed": base}
