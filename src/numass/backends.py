"""The theory backends by name: the one place that builds them.

``make_backend(name)`` returns the backend wrapped by the effective-mass extension, so every
backend accepts ``mnu_eff`` of either sign. The emulated late-time engines receive their reference
model (the emulator backend) from here, so that numass.theory never imports the emulator.
"""
from __future__ import annotations

from numass.emulator.backend import EmulatorBackend
from numass.errors import InputError
from numass.models import (
    BACKEND_HELP,
    BACKGROUND_ONLY,
    MODEL_BACKENDS,
    STANDARD_BACKENDS,
    get_model,
)
from numass.parameters import FIDUCIAL
from numass.theory.background_backend import BackgroundBackend
from numass.theory.camb_backend import CambBackend
from numass.theory.effective_mass import EffectiveMass
from numass.theory.latetime import LsCDMBackend, LsCDMBackgroundBackend, LsCDMEmulatorBackend
from numass.theory.nu_interacting import NuInteractingBackend, NuInteractingEmulatorBackend


def _emulated(engine):
    """A late-time engine class -> a factory taking the emulator's options (weights)."""
    return lambda weights=None: engine(EmulatorBackend(weights))


# name -> factory(**options) of the bare backend
FACTORIES = {
    "background": BackgroundBackend,
    "camb": CambBackend,
    "emulator": EmulatorBackend,
    "lscdm": LsCDMBackend,
    "lscdm-emulator": _emulated(LsCDMEmulatorBackend),
    "lscdm-background": LsCDMBackgroundBackend,
    "nu_interacting": NuInteractingBackend,
    "nu_interacting-emulator": _emulated(NuInteractingEmulatorBackend),
}
assert set(FACTORIES) == set(STANDARD_BACKENDS + MODEL_BACKENDS)

assert set(BACKEND_HELP) == set(FACTORIES) | {"emulator-box"}


def make_backend(name: str, **options):
    """The backend ``name`` (see FACTORIES) wrapped by EffectiveMass."""
    if name not in FACTORIES:
        raise InputError(f"unknown backend '{name}'; known backends: "
                         f"{', '.join(STANDARD_BACKENDS + MODEL_BACKENDS)}")
    return EffectiveMass(FACTORIES[name](**options))


def _point(model, backend: str, params: dict[str, float]) -> dict:
    """Model defaults + fiducial values + ``params``, without the inputs they replace; an
    InputError for parameters the model does not have."""
    point = {**FIDUCIAL, **model.fixed, **params}
    if "mnu_eff" in point:
        point.pop("mnu", None)
    if "theta_MC_100" in params or "cosmomc_theta" in params:
        point.pop("H0", None)
    if "logA" in params:
        point.pop("As", None)
    if model.name in ("lcdm", "lscdm", "nu_interacting") and (point.get("w", -1.0) != -1.0
                                                              or point.get("wa", 0.0) != 0.0):
        raise InputError(f"model '{model.name}' has no w, wa (w = -1, wa = 0); use --model w0wa "
                         f"to vary them")
    if backend in MODEL_BACKENDS:  # their dark energy is the model's own: no w, wa parameters
        point.pop("w", None)
        point.pop("wa", None)
    floor = next((p.prior[1] for p in model.params
                  if p.name == "mnu_eff" and p.prior[0] == "uniform"), None)
    if floor is not None and floor >= 0 and float(point.get("mnu_eff", 0.0)) < 0:
        raise InputError(f"model '{model.name}' has a physical neutrino mass (mnu_eff >= 0); got "
                         f"mnu_eff = {point['mnu_eff']}")
    if backend in BACKGROUND_ONLY:
        point.pop("alpha_fs", None)  # the background does not depend on it
    return point


def compute_point(model: str, backend: str, params: dict[str, float]):
    """Theory products at one point: model defaults + fiducial values + the given parameters."""
    m = get_model(model)
    backend = m.resolve_backend(backend, need_spectra=True)
    point = _point(m, backend, params)
    need = frozenset({"background"} if backend in BACKGROUND_ONLY else {"spectra", "background"})
    return make_backend(backend).compute(point, need)
