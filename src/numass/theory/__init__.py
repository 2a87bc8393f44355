"""Theory: backends (own background code, CAMB, later an emulator) behind one interface.

``make_backend(name)`` returns the backend wrapped by the effective-mass extension, so every
backend accepts ``mnu_eff`` of either sign.
"""
from __future__ import annotations

from numass.errors import InputError

BACKENDS = ("background", "camb")


def make_backend(name: str, **options):
    from numass.theory.effective_mass import EffectiveMass

    if name == "background":
        from numass.theory.background_backend import BackgroundBackend

        return EffectiveMass(BackgroundBackend(**options))
    if name == "camb":
        from numass.theory.camb_backend import CambBackend

        return EffectiveMass(CambBackend(**options))
    raise InputError(f"unknown backend '{name}'; known backends: {', '.join(BACKENDS)}")


def compute_point(model: str, backend: str, params: dict[str, float]):
    """Theory products at one point: model defaults + fiducial values + the given parameters."""
    from numass.models import get_model
    from numass.theory.defaults import FIDUCIAL

    m = get_model(model)
    point = {**FIDUCIAL, **m.fixed, **params}
    if "mnu_eff" in point:
        point.pop("mnu", None)
    if "theta_MC_100" in params or "cosmomc_theta" in params:
        point.pop("H0", None)
    if "logA" in params:
        point.pop("As", None)
    if model == "lcdm" and (point.get("w", -1.0) != -1.0 or point.get("wa", 0.0) != 0.0):
        raise InputError("model 'lcdm' has w = -1, wa = 0; use --model w0wa to vary them")
    need = frozenset({"background"} if backend == "background" else {"spectra", "background"})
    return make_backend(backend).compute(point, need)
