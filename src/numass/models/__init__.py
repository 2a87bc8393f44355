"""The hypotheses as models: their sampled parameters, priors and the theory they need.

A model's parameters split in two: those every data set constrains (the background:
H0 or theta_MC, omega_b, omega_c, Sigma m_nu,eff, dark energy) and those only the CMB spectra see
(A_s, n_s, tau, lensing amplitudes). ``sampled_params(model, need_spectra)`` returns the right set,
so a background-only data combination (the embedded default) samples no parameter it cannot see.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from numass.errors import InputError


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


# Sigma m_nu,eff prior: flat and symmetric about 0, wide enough for every posterior numass produces
# (the published analyses use [-0.3, 0.3] to [-0.5, 0.5] eV).
MNU_EFF = Param("mnu_eff", ("uniform", -0.5, 0.5), 0.0, 0.03, r"\Sigma m_{\nu,\rm eff}\,[\rm eV]")

COMMON = (
    Param("ombh2", ("uniform", 0.005, 0.1), 0.02237, 0.0001, r"\Omega_{\rm b} h^2"),
    Param("omch2", ("uniform", 0.001, 0.99), 0.1200, 0.001, r"\Omega_{\rm c} h^2"),
    MNU_EFF,
)
# background-only fits sample H0; fits with CMB spectra sample theta_MC (far better conditioned)
H0 = Param("H0", ("uniform", 40.0, 100.0), 67.5, 0.5, "H_0")
THETA = Param("theta_MC_100", ("uniform", 0.5, 10.0), 1.04092, 0.0003, r"100\theta_{\rm MC}",
              spectra_only=True)
PRIMORDIAL = (
    Param("logA", ("uniform", 1.61, 3.91), 3.044, 0.01, r"\ln(10^{10} A_{\rm s})", spectra_only=True),
    Param("ns", ("uniform", 0.8, 1.2), 0.965, 0.004, r"n_{\rm s}", spectra_only=True),
    Param("tau", ("uniform", 0.01, 0.8), 0.055, 0.006, r"\tau_{\rm reio}", spectra_only=True),
)
W0WA = (
    Param("w", ("uniform", -3.0, 1.0), -0.8, 0.05, "w_0"),
    Param("wa", ("uniform", -3.0, 2.0), -0.5, 0.2, "w_a"),
)
# Hypothesis 2: A_L scales the lensing that smooths the primary spectra, A_lens the reconstructed
# C_L^phiphi alone. The A_L range is the emulator's box (Planck TT-only fits give A_L ~ 1.2 +- 0.1;
# TE/EE-only fits are wider).
A_L = Param("A_L", ("uniform", 0.5, 1.8), 1.0, 0.05, r"A_{\rm L}", spectra_only=True)
A_LENS = Param("A_lens", ("uniform", 0.2, 2.0), 1.0, 0.05, r"A_{\rm lens}", spectra_only=True)


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    params: tuple[Param, ...]
    fixed: dict = field(default_factory=dict)  # passed to the backend unchanged
    derived: tuple[str, ...] = ("H0", "omegam", "rdrag", "theta_star")
    derived_spectra: tuple[str, ...] = ("sigma8", "S8")


MODELS: dict[str, Model] = {
    "lcdm": Model("lcdm", "LCDM + Sigma m_nu,eff (hypothesis 1, the null)", COMMON + PRIMORDIAL),
    "alens": Model("alens", "LCDM + Sigma m_nu,eff + A_L + A_lens (hypothesis 2: lensing amplitudes)",
                   COMMON + PRIMORDIAL + (A_L, A_LENS)),
    "AL": Model("AL", "LCDM + Sigma m_nu,eff + A_L (smoothing of the primary spectra only)",
                COMMON + PRIMORDIAL + (A_L,)),
    "Alens": Model("Alens", "LCDM + Sigma m_nu,eff + A_lens (lensing reconstruction amplitude "
                   "only)", COMMON + PRIMORDIAL + (A_LENS,)),
    "w0wa": Model("w0wa", "w0waCDM (CPL, PPF perturbations) + Sigma m_nu,eff (hypothesis 4)",
                  COMMON + PRIMORDIAL + W0WA),
}


def get_model(name: str) -> Model:
    if name not in MODELS:
        raise InputError(f"unknown model '{name}'; known models: {', '.join(MODELS)}")
    return MODELS[name]


def sampled_params(model: Model, need_spectra: bool) -> list[Param]:
    """The parameters to sample for this model and data (H0 or theta_MC; spectra-only ones)."""
    out = [p for p in model.params if need_spectra or not p.spectra_only]
    out.insert(2, THETA if need_spectra else H0)
    return out
