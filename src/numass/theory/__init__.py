"""Theory: backends (own background code, CAMB, later an emulator) behind one interface.

``make_backend(name)`` returns the backend wrapped by the effective-mass extension, so every
backend accepts ``mnu_eff`` of either sign.
"""
from __future__ import annotations

from numass.errors import InputError

BACKENDS = ("background", "camb", "emulator")
# backends of the models CAMB cannot run (late-time engine, theory/latetime.py and
# theory/nu_interacting.py); a model lists the backends that compute it (models.Model.backends)
MODEL_BACKENDS = ("lscdm", "lscdm-emulator", "lscdm-background", "nu_interacting",
                  "nu_interacting-emulator")
BACKGROUND_ONLY = ("background", "lscdm-background")


def make_backend(name: str, **options):
    from numass.theory.effective_mass import EffectiveMass

    if name == "background":
        from numass.theory.background_backend import BackgroundBackend

        return EffectiveMass(BackgroundBackend(**options))
    if name == "camb":
        from numass.theory.camb_backend import CambBackend

        return EffectiveMass(CambBackend(**options))
    if name == "emulator":
        from numass.emulator.backend import EmulatorBackend

        return EffectiveMass(EmulatorBackend(**options))
    if name == "lscdm":
        from numass.theory.latetime import LsCDMBackend

        return EffectiveMass(LsCDMBackend(**options))
    if name == "lscdm-emulator":
        from numass.theory.latetime import LsCDMEmulatorBackend

        return EffectiveMass(LsCDMEmulatorBackend(**options))
    if name == "lscdm-background":
        from numass.theory.latetime import LsCDMBackgroundBackend

        return EffectiveMass(LsCDMBackgroundBackend(**options))
    if name == "nu_interacting":
        from numass.theory.nu_interacting import NuInteractingBackend

        return EffectiveMass(NuInteractingBackend(**options))
    if name == "nu_interacting-emulator":
        from numass.theory.nu_interacting import NuInteractingEmulatorBackend

        return EffectiveMass(NuInteractingEmulatorBackend(**options))
    raise InputError(f"unknown backend '{name}'; known backends: "
                     f"{', '.join(BACKENDS + MODEL_BACKENDS)}")


def compute_point(model: str, backend: str, params: dict[str, float]):
    """Theory products at one point: model defaults + fiducial values + the given parameters."""
    from numass.models import get_model
    from numass.theory.defaults import FIDUCIAL

    m = get_model(model)
    backend = m.resolve_backend(backend, need_spectra=True)
    point = {**FIDUCIAL, **m.fixed, **params}
    if "mnu_eff" in point:
        point.pop("mnu", None)
    if "theta_MC_100" in params or "cosmomc_theta" in params:
        point.pop("H0", None)
    if "logA" in params:
        point.pop("As", None)
    if model in ("lcdm", "lscdm", "nu_interacting") and (point.get("w", -1.0) != -1.0
                                                         or point.get("wa", 0.0) != 0.0):
        raise InputError(f"model '{model}' has no w, wa (w = -1, wa = 0); use --model w0wa to "
                         f"vary them")
    if backend in MODEL_BACKENDS:  # their dark energy is the model's own: no w, wa parameters
        point.pop("w", None)
        point.pop("wa", None)
    floor = next((p.prior[1] for p in m.params if p.name == "mnu_eff" and p.prior[0] == "uniform"),
                 None)
    if floor is not None and floor >= 0 and float(point.get("mnu_eff", 0.0)) < 0:
        raise InputError(f"model '{model}' has a physical neutrino mass (mnu_eff >= 0); got "
                         f"mnu_eff = {point['mnu_eff']}")
    if backend in BACKGROUND_ONLY:
        point.pop("alpha_fs", None)  # the background does not depend on it
    need = frozenset({"background"} if backend in BACKGROUND_ONLY else {"spectra", "background"})
    return make_backend(backend).compute(point, need)
