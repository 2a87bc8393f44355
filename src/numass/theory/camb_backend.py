"""The CAMB backend (PyPI ``camb``, tested with 2.0.5)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from numass.errors import InputError, TheoryError
from numass.parameters import BACKEND_PARAMS, SPECTRA_ONLY
from numass.theory.backend import NEEDS, Backend, check_need, normalise_params
from numass.theory.products import Distances, Spectra, TheoryProducts

# accuracy presets: "planck" is enough for plik_lite, PR4 lensing and ACT DR6 lensing at their
# error bars; "high" is the lensing-potential accuracy ACT DR6 recommends for its final analyses.
ACCURACY = {"planck": {"lens_potential_accuracy": 1, "AccuracyBoost": 1.0},
            "high": {"lens_potential_accuracy": 4, "AccuracyBoost": 1.0}}
LENS_MARGIN = 1250  # extra multipoles computed beyond lmax so that the lensed C_ell are converged


def _vectorised(func, z):
    """CAMB's distance functions want 1-d arrays; accept scalars and 0-d arrays too."""
    z = np.asarray(z, dtype=float)
    return np.asarray(func(np.atleast_1d(z)), dtype=float).reshape(z.shape)


class CambBackground(Distances):
    """CAMB's background through the Background protocol (H in km/s/Mpc, distances in Mpc)."""

    def __init__(self, results, derived: dict):
        self._r = results
        self.rdrag = float(derived["rdrag"])
        self.theta_star = float(derived["thetastar"])
        self.zstar, self.zdrag = float(derived["zstar"]), float(derived["zdrag"])

    def H(self, z):
        return _vectorised(self._r.hubble_parameter, z)

    def DM(self, z):
        return _vectorised(self._r.comoving_radial_distance, z)



class CambBackend(Backend):
    """Lensed CMB spectra, C_L^phiphi, the background and sigma8 from CAMB, with the settings of
    docs/physics.md, "CAMB backend" (chosen for Planck 2018 plik_lite, PR4 and ACT DR6 lensing).

    - TT/TE/EE/BB D_ell [muK^2] and pp = [L(L+1)]^2 C_L^phiphi/2pi on ell = 0..max(lmax,
      lens_lmax); ``accuracy`` a preset of ACCURACY, ``lens_potential_accuracy`` overriding it;
    - (w, wa) != (-1, 0): CPL dark energy with DarkEnergyPPF, set before the cosmology so that
      theta_MC -> H0 is solved with w(a);
    - ``A_L`` is CAMB's Alens. CAMB also multiplies C_L^phiphi by it; numass divides that back
      out (exact: a final factor), so pp is the physical spectrum times ``A_lens`` alone. At
      A_L = 0 the primary spectra are the unlensed ones and pp comes from Alens = 1.

    Cache: the last ``cache_size`` (default 2: the two points of an effective-mass mirror) CAMB
    results, keyed by every parameter CAMB sees (A_lens never reruns CAMB); ``n_camb_calls``
    counts the runs. need = {"background"} runs camb.get_background only. Any failure inside
    CAMB, or non-finite output, raises TheoryError naming the point.
    """

    name, params = "camb", BACKEND_PARAMS

    def __init__(self, lmax: int = 3000, lens_lmax: int | None = None, accuracy: str = "planck",
                 lens_potential_accuracy: int | None = None, halofit_version: str = "mead2016",
                 cache_size: int = 2):
        if accuracy not in ACCURACY:
            raise InputError(f"unknown CAMB accuracy '{accuracy}'; use one of {sorted(ACCURACY)}")
        self.lmax = int(lmax)
        self.lens_lmax = self.lmax if lens_lmax is None else int(lens_lmax)
        if min(self.lmax, self.lens_lmax) < 2:
            raise InputError(f"lmax = {lmax}, lens_lmax = {lens_lmax}: need at least 2")
        self.accuracy = dict(ACCURACY[accuracy])
        if lens_potential_accuracy is not None:
            self.accuracy["lens_potential_accuracy"] = int(lens_potential_accuracy)
        self.lens_potential_accuracy = self.accuracy["lens_potential_accuracy"]
        self.halofit_version = halofit_version
        self.cache_size = max(1, int(cache_size))
        self._cache: OrderedDict = OrderedDict()
        self.n_camb_calls = 0

    @property
    def ell_max(self) -> int:
        """The last multipole of the returned spectra."""
        return max(self.lmax, self.lens_lmax)

    def camb_params(self, p: dict, need: frozenset[str]):
        """CAMBparams for a normalised point ``p`` (see normalise_params)."""
        import camb

        pars = camb.CAMBparams()
        if (p["w"], p["wa"]) != (-1.0, 0.0):
            pars.set_dark_energy(w=p["w"], wa=p["wa"], dark_energy_model="ppf")
        theta = p.get("cosmomc_theta")
        # A_L = 0 is run at Alens = 1 (for pp); its primary spectra are taken unlensed
        pars.set_cosmology(H0=None if theta is not None else p["H0"], cosmomc_theta=theta,
                           ombh2=p["ombh2"], omch2=p["omch2"], mnu=p["mnu"], nnu=p["nnu"],
                           num_massive_neutrinos=int(p["nu_states"]), tau=p["tau"],
                           Alens=p["A_L"] if p["A_L"] > 0 else 1.0, TCMB=p["TCMB"])
        pars.InitPower.set_params(As=p["As"], ns=p["ns"])
        pars.WantTensors = False
        if "spectra" in need:
            pars.Accuracy.AccuracyBoost = self.accuracy["AccuracyBoost"]
            pars.set_for_lmax(self.ell_max, lens_potential_accuracy=self.lens_potential_accuracy,
                              lens_output_margin=LENS_MARGIN)
            pars.set_matter_power(redshifts=[0.0], kmax=2.0)
            pars.NonLinear = camb.model.NonLinear_lens
            pars.NonLinearModel.set_params(halofit_version=self.halofit_version)
        return pars

    def _camb_key(self, p: dict, need: frozenset[str]) -> tuple:
        """Everything CAMB sees: the point without A_lens, and the kind of run."""
        spectra = "spectra" in need
        ignored = {"A_lens"} if spectra else set(SPECTRA_ONLY)
        return tuple(sorted((k, v) for k, v in p.items() if k not in ignored)), spectra

    def _run_camb(self, p: dict, need: frozenset[str]) -> dict:
        import camb

        lmax = self.ell_max
        try:
            pars = self.camb_params(p, need)
            self.n_camb_calls += 1
            results = camb.get_results(pars) if "spectra" in need else camb.get_background(pars)
            out = {"results": results, "derived": dict(results.get_derived_params()),
                   "H0": float(pars.H0), "omnuh2": float(pars.omnuh2)}
            if "spectra" in need:
                if p["A_L"] > 0:
                    cmb = results.get_lensed_scalar_cls(CMB_unit="muK", lmax=lmax)
                else:
                    cmb = results.get_unlensed_scalar_cls(CMB_unit="muK", lmax=lmax)
                out["cmb"] = np.array(cmb[:, :4], dtype=float)
                pp = np.array(results.get_lens_potential_cls(lmax=lmax)[:, 0], dtype=float)
                out["pp"] = pp / p["A_L"] if p["A_L"] > 0 else pp  # CAMB scaled it by Alens
                out["sigma8"] = float(results.get_sigma8_0())
        except Exception as exc:  # anything inside CAMB is a failure at this point: -inf
            raise TheoryError(f"CAMB failed at {_show(p)}: {exc.__class__.__name__}: "
                              f"{' '.join(str(exc).split())}") from exc
        _check_finite(out, p)
        return out

    def _run(self, p: dict, need: frozenset[str]) -> dict:
        key = self._camb_key(p, need)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        out = self._run_camb(p, need)  # a failure is not cached
        self._cache[key] = out
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        need = check_need(need)
        self.check_params(params)
        p = normalise_params(params)
        out = self._run(p, need)
        d = out["derived"]
        h = out["H0"] / 100.0
        omegam = (p["ombh2"] + p["omch2"] + out["omnuh2"]) / h**2
        derived = {"H0": out["H0"], "omegam": omegam, "omnuh2": out["omnuh2"],
                   "rdrag": float(d["rdrag"]), "zdrag": float(d["zdrag"]),
                   "theta_star": float(d["thetastar"]), "zstar": float(d["zstar"]),
                   "As": p["As"], "w": p["w"], "wa": p["wa"]}
        spectra = None
        if "spectra" in need:
            cmb = out["cmb"]  # CAMB's column order: TT, EE, BB, TE
            spectra = Spectra(ell=np.arange(self.ell_max + 1), tt=cmb[:, 0].copy(),
                              ee=cmb[:, 1].copy(), bb=cmb[:, 2].copy(), te=cmb[:, 3].copy(),
                              pp=out["pp"] * p["A_lens"])
            derived["sigma8"] = out["sigma8"]
            derived["S8"] = out["sigma8"] * float(np.sqrt(omegam / 0.3))
        return TheoryProducts(params=dict(params), spectra=spectra,
                              background=CambBackground(out["results"], d), derived=derived)


def _show(p: dict) -> str:
    return "{" + ", ".join(f"{k}={v:.6g}" for k, v in p.items()) + "}"


def _check_finite(out: dict, p: dict) -> None:
    arrays = [out.get("cmb", np.zeros(1))[2:], out.get("pp", np.zeros(1))[2:]]
    scalars = [out["H0"], out.get("sigma8", 0.0)] + [
        out["derived"][k] for k in ("rdrag", "thetastar", "zstar", "zdrag")]
    if not (all(np.all(np.isfinite(a)) for a in arrays) and np.all(np.isfinite(scalars))):
        raise TheoryError(f"CAMB returned non-finite output at {_show(p)}")
