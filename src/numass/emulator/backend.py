"""The ``emulator`` theory backend: the trained emulator (network.py) for the lensed spectra,
C_L^phiphi and sigma8, and numass's own background code for H0(theta_MC) (the emulated H0 refined
by one Newton step on the exact theta_MC), distances and r_d.

Served: the parameters of emulator.design.BOX (CAMB names; H0 may be given instead of theta_MC,
which is then computed by the background code), A_lens (an exact factor on C_L^phiphi), with
N_eff = 3.044, one massive eigenstate and T_CMB = 2.7255 fixed as in training. A point outside the
box raises TheoryError (a sampler gets -inf there) saying which parameter is out, unless
``fallback="camb"``, which sends it to the CAMB backend; w0 beyond the box up to design.W0_MAX
and wa below it down to design.WA_MIN (all else inside) are served by the late-time transfer
from the box's edges (emulator/transfer.py). BB is not emulated (zeros): no numass likelihood
uses it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from numass.emulator import design, targets
from numass.errors import InputError, TheoryError
from numass.parameters import BACKEND_PARAMS
from numass.theory.backend import NEEDS, Backend, check_need, normalise_params
from numass.theory.products import Spectra, TheoryProducts

if TYPE_CHECKING:
    from numass.theory.camb_backend import CambBackend


@lru_cache(maxsize=2)
def load_emulator(path: str | None = None):
    from numass.emulator.network import DEFAULT_WEIGHTS, Emulator

    return Emulator(path or DEFAULT_WEIGHTS)


class EmulatorBackend(Backend):
    name = "emulator"
    supports_negative_mnu = False  # Sigma m_nu,eff < 0 through the effective-mass mirror

    def __init__(self, weights: str | None = None, fallback: str | None = None):
        if fallback not in (None, "camb"):
            raise InputError(f"emulator fallback '{fallback}': use None or 'camb'")
        self.emulator = load_emulator(weights)
        self.fallback = fallback
        self._camb: CambBackend | None = None
        self.n_fallback = 0

    def param_names(self):
        return BACKEND_PARAMS

    def _design_row(self, p: dict) -> np.ndarray:
        for k, v in design.FIXED.items():
            if p[k] != v:
                raise InputError(f"the emulator was trained at {k} = {v}; got {p[k]} (use "
                                 f"--backend camb)")
        if "cosmomc_theta" in p:
            theta100 = 100.0 * p["cosmomc_theta"]
        else:
            from numass.theory.background import theta_mc_at

            theta100 = 100.0 * theta_mc_at({k: p[k] for k in ("ombh2", "omch2", "mnu", "nnu", "w",
                                                             "wa")}, p["H0"] / 100.0)
        values = {"theta_MC_100": theta100, "logA": float(np.log(1e10 * p["As"])), **p}
        return np.array([values[k] for k in design.PARAMS])

    def outside(self, row: np.ndarray) -> str | None:
        """Why a design row is outside the training box (None when inside)."""
        for k, v, lo, hi in zip(design.PARAMS, row, design.LOW, design.HIGH):
            if not lo <= v <= hi:
                return f"{k} = {v:.6g} is outside the emulator's box [{lo:g}, {hi:g}]"
        if row[design.PARAMS.index("w")] + row[design.PARAMS.index("wa")] >= design.W_SUM_MAX:
            return f"w0 + wa >= {design.W_SUM_MAX:g} is outside the emulator's box"
        return None

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        need = check_need(need)
        self.check_params(params)
        p = normalise_params(params)
        row = self._design_row(p)
        why = self.outside(row)
        if why is not None:
            if design.by_transfer(row)[0]:  # w0/wa beyond the box: the late-time transfer
                from numass.emulator.transfer import transfer_compute

                return transfer_compute(self, params, p, row, need)
            if self.fallback == "camb":
                return self._camb_compute(params, need)
            if "cosmomc_theta" not in p and why.startswith("theta_MC_100"):
                why += (f" (theta_MC follows from the given H0 = {p['H0']:g} and w0, wa; give "
                        f"theta_MC_100 instead, e.g. 1.0409, the CMB's)")
            raise TheoryError(f"{why}; the emulator refuses (use --backend camb, or fallback)")
        pred = self.emulator.predict(row)
        from numass.theory.background import compute_background, theta_mc_at

        dens = {k: p[k] for k in ("ombh2", "omch2", "mnu", "nnu", "w", "wa")}
        if "cosmomc_theta" in p:
            # emulated H0(theta_MC) (~3e-4), then one Newton step on numass's exact theta_MC(H0)
            h, slope = self.emulator.h_and_slope(row)
            h += (row[design.PARAMS.index("theta_MC_100")] - 100 * theta_mc_at(dens, h)) * slope
            h0 = 100.0 * h
        else:
            h0 = p["H0"]
        bg = compute_background({"H0": h0, **dens})
        derived = {"H0": h0, "omegam": float(bg.omegam), "omnuh2": float(bg.omnuh2),
                   "rdrag": float(bg.rdrag), "zdrag": float(bg.zdrag),
                   "theta_star": float(bg.theta_star), "zstar": float(bg.zstar), "As": p["As"],
                   "w": p["w"], "wa": p["wa"]}
        spectra = None
        if "spectra" in need:
            n = targets.LMAX + 1
            arr = {}
            for k in targets.SPECTRA:
                a = np.zeros(n)
                a[targets.LMIN:] = pred[k][0]
                arr[k] = a
            spectra = Spectra(ell=np.arange(n), tt=arr["tt"], te=arr["te"], ee=arr["ee"],
                              bb=np.zeros(n), pp=arr["pp"] * p["A_lens"])
            s8 = float(pred["sigma8"][0])
            derived["sigma8"] = s8
            derived["S8"] = s8 * float(np.sqrt(derived["omegam"] / 0.3))
        return TheoryProducts(params=dict(params), spectra=spectra, background=bg, derived=derived)

    def compute_batch(self, params: dict, need: frozenset[str] = NEEDS,
                      accuracy: str | None = None, theta_accuracy: str | None = None):
        """Vectorised over points (emulator/batch.py); outside the box: ok = False.
        ``accuracy``: the background's ('fast' or 'exact'; default the backend's);
        ``theta_accuracy``: that of theta_MC <-> H0 (default: the same)."""
        from numass.emulator.batch import emulator_batch

        return emulator_batch(self, params, need, accuracy, theta_accuracy)

    def _camb_compute(self, params: dict, need: frozenset[str]) -> TheoryProducts:
        from numass.theory.camb_backend import CambBackend

        if self._camb is None:
            self._camb = CambBackend(lmax=targets.LMAX)
        self.n_fallback += 1
        return self._camb.compute(params, need)
