"""The CAMB backend (PyPI ``camb``).

Settings, chosen for Planck 2018 plik_lite, Planck PR4 and ACT DR6 lensing:
- lensed C_ell to lmax = 3000 (ACT DR6's response windows reach L = 2999), C_L^phiphi to 3000,
  lens_potential_accuracy = 1, lens_output_margin = 1250 (as Cobaya's lens_margin), AccuracyBoost 1;
- nonlinear corrections to the lensing potential only (NonLinear_lens) with HMcode 2016
  (halofit_version 'mead2016', the 'mead' of the Planck PR4 lensing package's own tests);
- neutrinos: Sigma m_nu in ``nu_states`` = 1 massive eigenstate + massless ones (CAMB's default)
  or 3 degenerate, N_eff = ``nnu`` (3.044);
- w0wa: CPL with the PPF treatment of perturbations (crossing w = -1 allowed);
- A_L (CAMB's Alens) scales the lensing that smooths the primary spectra; A_lens scales only the
  reconstruction spectrum C_L^phiphi, after CAMB (no rerun).
The last CAMB result is cached, so a change of A_lens or of a likelihood's nuisance parameter
does not rerun CAMB.
"""
from __future__ import annotations

import logging

import numpy as np

from numass.errors import TheoryError
from numass.theory.backend import NEEDS, Backend
from numass.theory.products import Spectra, TheoryProducts

log = logging.getLogger("numass")
C_KM_S = 299792.458
PARAMS = ("H0", "cosmomc_theta", "theta_MC_100", "ombh2", "omch2", "mnu", "nnu", "nu_states",
          "tau", "As", "logA", "ns", "w", "wa", "A_L", "A_lens", "TCMB")
DEFAULTS = {"nnu": 3.044, "nu_states": 1, "w": -1.0, "wa": 0.0, "A_L": 1.0, "A_lens": 1.0,
            "TCMB": 2.7255, "tau": 0.0544, "ns": 0.9649, "As": 2.1e-9, "mnu": 0.06}


def _vectorised(func, z):
    """CAMB's distance functions want 1-d arrays; accept scalars and 0-d arrays too."""
    z = np.asarray(z, dtype=float)
    return np.asarray(func(np.atleast_1d(z)), dtype=float).reshape(z.shape)


class CambBackground:
    """CAMB's background through the Background protocol."""

    def __init__(self, results, derived: dict):
        self._r = results
        self.rdrag = derived["rdrag"]
        self.theta_star = derived["thetastar"]
        self.zstar, self.zdrag = derived["zstar"], derived["zdrag"]

    def H(self, z):
        return _vectorised(self._r.hubble_parameter, z)

    def DM(self, z):
        return _vectorised(self._r.comoving_radial_distance, z)

    def DH(self, z):
        return C_KM_S / self.H(z)

    def DV(self, z):
        z = np.asarray(z, dtype=float)
        return np.cbrt(z * self.DM(z) ** 2 * self.DH(z))


class CambBackend(Backend):
    name = "camb"
    supports_negative_mnu = False

    def __init__(self, lmax: int = 3000, lens_potential_accuracy: int = 1,
                 halofit_version: str = "mead2016"):
        self.lmax = int(lmax)
        self.lens_potential_accuracy = int(lens_potential_accuracy)
        self.halofit_version = halofit_version
        self._cache_key = None
        self._cache = None
        self.n_camb_calls = 0

    def param_names(self):
        return PARAMS

    def _normalise(self, params: dict) -> dict:
        p = {**DEFAULTS, **params}
        if "logA" in params:
            p["As"] = float(np.exp(params["logA"]) * 1e-10)
            p.pop("logA")
        if "theta_MC_100" in p:
            p["cosmomc_theta"] = p.pop("theta_MC_100") / 100.0
        if "cosmomc_theta" in p:
            p.pop("H0", None)
        return p

    def camb_params(self, p: dict, need: frozenset[str]):
        import camb

        pars = camb.CAMBparams()
        theta = p.get("cosmomc_theta")
        pars.set_cosmology(H0=None if theta else p["H0"], cosmomc_theta=theta,
                           ombh2=p["ombh2"], omch2=p["omch2"], mnu=p["mnu"], nnu=p["nnu"],
                           num_massive_neutrinos=int(p["nu_states"]), tau=p["tau"],
                           Alens=p["A_L"], TCMB=p["TCMB"])
        pars.InitPower.set_params(As=p["As"], ns=p["ns"])
        if (p["w"], p["wa"]) != (-1.0, 0.0):
            pars.set_dark_energy(w=p["w"], wa=p["wa"], dark_energy_model="ppf")
        if "spectra" in need:
            pars.set_for_lmax(self.lmax, lens_potential_accuracy=self.lens_potential_accuracy,
                              lens_output_margin=1250)
            pars.set_matter_power(redshifts=[0.0], kmax=2.0)
            pars.NonLinear = camb.model.NonLinear_lens
            pars.NonLinearModel.set_params(halofit_version=self.halofit_version)
            pars.WantTensors = False
        return pars

    def _run(self, p: dict, need: frozenset[str]):
        import camb

        key = (tuple(sorted((k, float(v)) for k, v in p.items() if k != "A_lens")), need)
        if key == self._cache_key:
            return self._cache
        try:
            pars = self.camb_params(p, need)
            self.n_camb_calls += 1
            results = camb.get_results(pars) if "spectra" in need else camb.get_background(pars)
            derived = results.get_derived_params()
            out = {"results": results, "derived": derived, "pars": pars}
            if "spectra" in need:
                lensed = results.get_lensed_scalar_cls(CMB_unit="muK", lmax=self.lmax)
                out["lensed"] = lensed
                out["pp"] = results.get_lens_potential_cls(lmax=self.lmax)[:, 0]
                out["sigma8"] = float(results.get_sigma8_0())
                if not (np.all(np.isfinite(lensed)) and np.all(np.isfinite(out["pp"]))):
                    raise TheoryError("CAMB returned non-finite spectra")
        except TheoryError:
            raise
        except (camb.CAMBError, ValueError, ArithmeticError) as exc:  # -inf for the sampler
            raise TheoryError(f"CAMB failed at {p}: {exc.__class__.__name__}: {exc}") from exc
        self._cache_key, self._cache = key, out
        return out

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        self.check_params(params)
        p = self._normalise(params)
        out = self._run(p, frozenset(need) | {"background"})
        results, d, pars = out["results"], out["derived"], out["pars"]
        h = pars.H0 / 100.0
        omegam = (pars.ombh2 + pars.omch2 + pars.omnuh2) / h**2
        derived = {"H0": pars.H0, "omegam": omegam, "omnuh2": pars.omnuh2, "rdrag": d["rdrag"],
                   "theta_star": d["thetastar"], "zdrag": d["zdrag"], "zstar": d["zstar"],
                   "As": p["As"], "w": p["w"], "wa": p["wa"]}
        spectra = None
        if "spectra" in need:
            lensed = out["lensed"]
            spectra = Spectra(ell=np.arange(self.lmax + 1), tt=lensed[:, 0].copy(),
                              ee=lensed[:, 1].copy(), bb=lensed[:, 2].copy(),
                              te=lensed[:, 3].copy(), pp=out["pp"] * p["A_lens"])
            derived["sigma8"] = out["sigma8"]
            derived["S8"] = out["sigma8"] * np.sqrt(omegam / 0.3)
        return TheoryProducts(params={**params}, spectra=spectra,
                              background=CambBackground(results, d), derived=derived)
