"""The hypotheses as models: their sampled parameters, priors and the theory they need.

A model's parameters split in two: those every data set constrains (the background:
H0 or theta_MC, omega_b, omega_c, Sigma m_nu,eff, dark energy) and those only the CMB spectra see
(A_s, n_s, tau, lensing amplitudes). ``sampled_params(model, need_spectra)`` returns the right set,
so a background-only data combination (the embedded default) samples no parameter it cannot see.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from numass.errors import InputError
from numass.parameters import PARAMS


@dataclass(frozen=True)
class Param:
    name: str
    prior: tuple  # ("uniform", lo, hi) | ("gauss", mean, sd)
    ref: float  # centre of the starting ball
    proposal: float  # initial proposal width
    latex: str
    spectra_only: bool = False  # only sampled when CMB spectra are in the fit

    def cobaya(self) -> dict:
        kind, a, b = self.prior
        prior = {"min": a, "max": b} if kind == "uniform" else {"dist": "norm", "loc": a, "scale": b}
        return {"prior": prior, "ref": {"dist": "norm", "loc": self.ref, "scale": self.proposal},
                "proposal": self.proposal, "latex": self.latex}

    def check(self, value: float) -> None:
        kind, a, b = self.prior
        if kind == "uniform" and not a <= value <= b:
            raise InputError(f"parameter '{self.name}' = {value} is outside its prior [{a}, {b}]")


def declared(name: str, proposal: float, spectra_only: bool = False, ref: float | None = None,
             sampled_as: str | None = None) -> Param:
    """The parameter ``name`` of theory/parameters.py's table (its LaTeX, its range as a flat
    prior, its fiducial value as the starting ball's centre unless ``ref``), sampled under
    ``sampled_as`` when given."""
    entry = PARAMS[name]
    assert entry.range is not None, name
    return Param(sampled_as or name, ("uniform", *entry.range),
                 entry.fiducial if ref is None else ref, proposal, entry.latex, spectra_only)


# Sigma m_nu,eff prior: flat and symmetric about 0, wide enough for every posterior numass produces
# (the published analyses use [-0.3, 0.3] to [-0.5, 0.5] eV).
MNU_EFF = declared("mnu_eff", 0.03)

COMMON = (declared("ombh2", 0.0001), declared("omch2", 0.001), MNU_EFF)
# background-only fits sample H0; fits with CMB spectra sample theta_MC (far better conditioned)
H0 = declared("H0", 0.5, ref=67.5)
THETA = declared("theta_MC_100", 0.0003, spectra_only=True)
PRIMORDIAL = (declared("logA", 0.01, spectra_only=True),
              declared("ns", 0.004, spectra_only=True, ref=0.965),
              declared("tau", 0.006, spectra_only=True, ref=0.055))
# the starting ball away from LCDM's w0 = -1, wa = 0, inside the DESI region
W0WA = (declared("w", 0.05, ref=-0.8), declared("wa", 0.2, ref=-0.5))
# Hypothesis 2: A_L scales the lensing that smooths the primary spectra, A_lens the reconstructed
# C_L^phiphi alone. The A_L range is the emulator's box (Planck TT-only fits give A_L ~ 1.2 +- 0.1;
# TE/EE-only fits are wider).
A_L = declared("A_L", 0.05, spectra_only=True)
A_LENS = declared("A_lens", 0.05, spectra_only=True)
# Hypothesis 5, LsCDM: the redshift of the sign switch of Lambda. Uniform on [1, 3], the range
# Akarsu et al. sample (arXiv:2211.05742, 2307.10899) (z_dagger roughly 1-3). z_dagger -> inf
# is LCDM, so an upper edge at 3 truncates the LCDM-like tail: a posterior piling up at 3 is
# prior-bounded, not a detection (Kibris et al. 2026 quote z_dagger > 2.4 at 95%).
Z_DAGGER = declared("z_dagger", 0.1)
ETA_LSCDM = PARAMS["eta_lscdm"].fiducial  # width of the tanh switch (Akarsu et al. 2023), fixed
# Hypothesis 6, dark-sector interaction (docs/latetime.md): the expansion sees the physical mass
# Sigma m_nu >= 0 (sampled under the name the pipeline reads, mnu_eff, with its prior edge at 0),
# while alpha_fs scales the free-streaming suppression of clustering: 1 = standard neutrinos,
# 0 = no free streaming (the neutrinos cluster like CDM). Interactions can only remove free
# streaming, hence [0, 1].
MNU_PHYS = declared("mnu", 0.03, sampled_as="mnu_eff")
ALPHA_FS = declared("alpha_fs", 0.1, spectra_only=True, ref=0.8)

# the theory backends by name (numass.backends builds them): the standard ones, those of the models
# CAMB cannot run (the late-time engines, theory/latetime.py and theory/nu_interacting.py), those
# without CMB spectra; a model lists the backends that compute it (Model.backends)
STANDARD_BACKENDS = ("background", "camb", "emulator")
MODEL_BACKENDS = ("lscdm", "lscdm-emulator", "lscdm-background", "nu_interacting",
                  "nu_interacting-emulator")
BACKGROUND_ONLY = ("background", "lscdm-background")

# every name --backend accepts, with when to use it (the command line's help lists
# these; numass.backends checks that they are the backends it builds)
BACKEND_HELP = {
    "background": "numass's own background (no CMB spectra): BAO + compressed CMB, milliseconds "
                  "a point",
    "camb": "CAMB at every point: exact spectra, ~2 s a point; for checks and final runs",
    "emulator": "CAMB-trained emulator, ~1000x faster than CAMB; points outside its box go to "
                "CAMB (the default with CMB spectra)",
    "emulator-box": "the emulator alone: its box is part of the prior (fastest; quick looks)",
    "lscdm": "LsCDM's late-time engine on CAMB's early universe (model lscdm, with spectra)",
    "lscdm-emulator": "LsCDM's late-time engine on the emulator (model lscdm, fast spectra)",
    "lscdm-background": "LsCDM's background only (model lscdm, background-only data)",
    "nu_interacting": "interacting neutrinos on CAMB (model nu_interacting, with spectra)",
    "nu_interacting-emulator": "interacting neutrinos on the emulator (model nu_interacting, "
                               "fast spectra)",
}


def _emulator_available() -> bool:
    from numass.emulator.network import DEFAULT_WEIGHTS

    return DEFAULT_WEIGHTS.exists()


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    params: tuple[Param, ...]
    fixed: dict = field(default_factory=dict)  # passed to the backend unchanged
    derived: tuple[str, ...] = ("H0", "omegam", "rdrag", "theta_star")
    derived_spectra: tuple[str, ...] = ("sigma8", "S8")
    # theory backends: the default for background-only data, the default with CMB spectra, and
    # every backend that computes this model (see resolve_backend)
    backend_background: str = "background"
    backend_spectra: str = "camb"
    backends: tuple[str, ...] = STANDARD_BACKENDS

    def resolve_backend(self, backend: str | None, need_spectra: bool) -> str:
        """The backend to use: the model's default for the data when ``backend`` is None; the
        model's own backends under the generic names 'camb' (CMB spectra) and 'background'
        (background only) for models CAMB and numass's ΛCDM background cannot compute; an
        InputError for a backend that cannot compute this model."""
        if backend is None:
            if not need_spectra:
                return self.backend_background
            if self.backend_spectra == "camb" and _emulator_available():
                return "emulator"  # CAMB-trained; points outside its box go to CAMB (setup.py)
            emulated = self.backend_spectra + "-emulator"  # e.g. the late-time engine's
            if emulated in self.backends and _emulator_available():
                return emulated
            return self.backend_spectra
        if backend in self.backends:
            return backend
        if backend == "emulator-box" and "emulator" in self.backends:
            return backend  # the emulator without CAMB fallback: its box is part of the prior
        if backend == "camb":
            return self.backend_spectra
        if backend == "background":
            return self.backend_background
        raise InputError(f"model '{self.name}' cannot be computed by backend '{backend}'; use one "
                         f"of: {', '.join(self.backends)}")


MODELS: dict[str, Model] = {
    "lcdm": Model("lcdm", "LCDM + Sigma m_nu,eff (hypothesis 1, the null)", COMMON + PRIMORDIAL),
    "AL_Alens": Model("AL_Alens", "LCDM + Sigma m_nu,eff + A_L + A_lens (hypothesis 2: lensing "
                      "amplitudes)", COMMON + PRIMORDIAL + (A_L, A_LENS)),
    "AL": Model("AL", "LCDM + Sigma m_nu,eff + A_L (smoothing of the primary spectra only)",
                COMMON + PRIMORDIAL + (A_L,)),
    "Alens": Model("Alens", "LCDM + Sigma m_nu,eff + A_lens (lensing reconstruction amplitude "
                   "only)", COMMON + PRIMORDIAL + (A_LENS,)),
    "w0wa": Model("w0wa", "w0waCDM (CPL, PPF perturbations) + Sigma m_nu,eff (hypothesis 4)",
                  COMMON + PRIMORDIAL + W0WA),
    "lscdm": Model("lscdm", "LsCDM (Lambda switching sign at z_dagger, tanh-smoothed, eta = 10) + "
                   "Sigma m_nu,eff (hypothesis 5)", COMMON + PRIMORDIAL + (Z_DAGGER,),
                   fixed={"eta_lscdm": ETA_LSCDM}, backend_background="lscdm-background",
                   backend_spectra="lscdm",
                   backends=("lscdm-background", "lscdm", "lscdm-emulator")),
    "nu_interacting": Model("nu_interacting", "LCDM + physical Sigma m_nu >= 0 in the expansion, "
                            "free-streaming suppression scaled by alpha_fs (hypothesis 6)",
                            COMMON[:2] + (MNU_PHYS,) + PRIMORDIAL + (ALPHA_FS,),
                            backend_spectra="nu_interacting",
                            backends=("background", "nu_interacting",
                                      "nu_interacting-emulator")),
}


# old name -> new: 'alens' differed from 'Alens' by case only, so that their output folders
# (numass-fit-<model>) collided on case-insensitive file systems; the old name is still read
RENAMED_MODELS = {"alens": "AL_Alens"}


def model_name(name: str) -> str:
    """The model's current name; an old one is accepted with a notice."""
    new = RENAMED_MODELS.get(name)
    if new is None:
        return name
    logging.getLogger(__name__).warning("model '%s' is now called '%s'", name, new)
    return new


def get_model(name: str) -> Model:
    name = model_name(name)
    if name not in MODELS:
        raise InputError(f"unknown model '{name}'; known models: {', '.join(MODELS)}")
    return MODELS[name]


def sampled_params(model: Model, need_spectra: bool) -> list[Param]:
    """The parameters to sample for this model and data (H0 or theta_MC; spectra-only ones)."""
    out = [p for p in model.params if need_spectra or not p.spectra_only]
    out.insert(2, THETA if need_spectra else H0)
    return out
