"""Hypothesis 6: a dark-sector interaction that stops neutrino free streaming.

The background is ΛCDM's with the physical Σmν >= 0; the matter power is
P_ref(k, z; Σmν) × S(k, z)^(alpha_fs − 1), S the free-streaming suppression
(theory/free_streaming.py): alpha_fs = 1 is standard neutrinos, 0 no suppression. Through the
late-time engine at the target's own H0 (the unlensed primary is the reference's); on the
emulator ('nu_interacting-emulator') through theory/latetime_batch.py. Definition, what is and
is not changed, validation: docs/latetime.md, "Dark-sector interaction".
"""
from __future__ import annotations

from numass.errors import InputError, TheoryError
from numass.parameters import LATE_TIME_PARAMS
from numass.theory.backend import NEEDS, Backend, check_need, normalise_params
from numass.theory.background import background_derived
from numass.theory.free_streaming import free_streaming_suppression, suppression_on_grid
from numass.theory.latetime import EmulatedEngine, late_time_products, model_background
from numass.theory.latetime_batch import nu_interacting_emulator_batch
from numass.theory.products import TheoryProducts

PARAMS = (*LATE_TIME_PARAMS, "alpha_fs")


def _inputs(params: dict, need) -> tuple[frozenset, float, dict]:
    """(need, alpha_fs, the other parameters normalised: w, wa = -1, 0), checked (names and
    finite values as the backend's, alpha_fs >= 0)."""
    need = check_need(need)
    NuInteractingBackend().check_params(params)
    alpha = float(params.get("alpha_fs", 1.0))
    if alpha < 0:
        raise InputError(f"alpha_fs = {alpha!r}: the free-streaming scaling must be >= 0 "
                         f"(1 = standard neutrinos, 0 = no free streaming)")
    return need, alpha, normalise_params({k: v for k, v in params.items() if k != "alpha_fs"})


class NuInteractingEmulatorBackend(EmulatedEngine):
    """Hypothesis 6 on the emulator (~20 ms a point; the first call runs the free-streaming grid,
    ~30 s of CAMB)."""

    name, params = "nu_interacting-emulator", PARAMS

    def compute_batch(self, params: dict, need: frozenset[str] = NEEDS):
        return nu_interacting_emulator_batch(self, params, need)

    def explain(self, params: dict, need) -> None:
        """Raises why a point has no theory: alpha_fs, the emulator, the free-streaming grid."""
        need, alpha, p = _inputs(params, need)
        self.emulator.compute({k: v for k, v in params.items() if k != "alpha_fs"}, need)
        top = suppression_on_grid()[-1][0]
        if "spectra" in need and alpha != 1.0 and p["mnu"] > top:
            raise TheoryError(f"mnu = {p['mnu']:g} is beyond the free-streaming grid (<= {top:g})")


class NuInteractingBackend(Backend):
    """Hypothesis 6 behind the Backend interface (see the module docstring). Wrapped by
    EffectiveMass in make_backend, so it takes ``mnu_eff``; the model samples it >= 0 (a physical
    mass), and a negative value would go through the observable-level mirror."""

    name, params = "nu_interacting", PARAMS

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        """The model at ``params`` (mnu >= 0 the physical mass; alpha_fs defaults to 1)."""
        need, alpha, p = _inputs(params, need)
        bg = model_background(p)
        if "spectra" not in need:
            derived = {**background_derived(bg), "omnuh2": float(bg.omnuh2), "alpha_fs": alpha}
            return TheoryProducts(params=dict(params), background=bg, derived=derived)

        def factor_for(ref):
            if alpha == 1.0 or p["mnu"] == 0.0:
                return None  # standard neutrinos: the reference itself
            interp = free_streaming_suppression(ref)["interp"]
            return lambda k, z: interp(k, z) ** (alpha - 1.0)

        out = late_time_products(p, bg, ref_H0=float(bg.h * 100), pk_factor_for=factor_for)
        out.params = dict(params)
        out.derived.update({"alpha_fs": alpha, "omnuh2": float(bg.omnuh2)})
        return out
