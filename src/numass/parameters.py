"""The cosmological parameters, declared once: name, LaTeX, fiducial value and range.

Fiducial values are Planck 2018-like (TT,TE,EE+lowE+lensing best-fit region, arXiv:1807.06209
Table 2); a point that omits a parameter with a default gets it (omega_b, omega_c and H0 or
theta_MC have none: a point without them is an error, not a silent Planck cosmology). The range
is the models' flat prior, where numass's theory is validated against CAMB.

Two parameters are sampled under other names than CAMB takes (``to_camb_names``):
theta_MC_100 = 100 cosmomc_theta (far better conditioned for CMB fits) and logA = ln(1e10 A_s).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from numass.errors import InputError


@dataclass(frozen=True)
class CosmoParam:
    name: str
    latex: str
    fiducial: float
    range: tuple[float, float] | None = None  # the models' flat prior (None: not sampled)
    default: bool = False  # filled in where a point gives none


TABLE = (
    CosmoParam("H0", "H_0", 67.36, (40.0, 100.0)),
    CosmoParam("cosmomc_theta", r"\theta_{\rm MC}", 0.0104092),
    CosmoParam("theta_MC_100", r"100\theta_{\rm MC}", 1.04092, (0.5, 10.0)),
    CosmoParam("ombh2", r"\Omega_{\rm b} h^2", 0.02237, (0.005, 0.1)),
    CosmoParam("omch2", r"\Omega_{\rm c} h^2", 0.1200, (0.001, 0.99)),
    CosmoParam("mnu", r"\Sigma m_\nu\,[\rm eV]", 0.06, (0.0, 0.5), default=True),
    CosmoParam("nnu", r"N_{\rm eff}", 3.044, default=True),
    CosmoParam("nu_states", r"N_{\nu,\rm massive}", 1, default=True),
    CosmoParam("tau", r"\tau_{\rm reio}", 0.0544, (0.01, 0.8), default=True),
    CosmoParam("As", r"A_{\rm s}", 2.1e-9, default=True),
    CosmoParam("logA", r"\ln(10^{10} A_{\rm s})", 3.044, (1.61, 3.91)),
    CosmoParam("ns", r"n_{\rm s}", 0.9649, (0.8, 1.2), default=True),
    CosmoParam("w", "w_0", -1.0, (-3.0, 1.0), default=True),
    CosmoParam("wa", "w_a", 0.0, (-3.0, 2.0), default=True),
    CosmoParam("A_L", r"A_{\rm L}", 1.0, (0.5, 1.8), default=True),
    CosmoParam("A_lens", r"A_{\rm lens}", 1.0, (0.2, 2.0), default=True),
    CosmoParam("TCMB", r"T_{\rm CMB}\,[\rm K]", 2.7255, default=True),
    # numass's own: Sigma m_nu,eff of either sign (Elbers et al. 2024), LsCDM's switch, the
    # interaction model's free-streaming scale (1 = standard neutrinos)
    CosmoParam("mnu_eff", r"\Sigma m_{\nu,\rm eff}\,[\rm eV]", 0.0, (-0.5, 0.5)),
    CosmoParam("z_dagger", r"z_\dagger", 2.0, (1.0, 3.0)),
    CosmoParam("eta_lscdm", r"\eta", 10.0),
    CosmoParam("alpha_fs", r"\alpha_{\rm fs}", 1.0, (0.0, 1.0)),
)
PARAMS = {p.name: p for p in TABLE}

# what a point without them gets (backends' normalisation)
DEFAULTS = {p.name: p.fiducial for p in TABLE if p.default}
# a full fiducial point of the standard backends (CAMB names), as `numass theory` starts from
FIDUCIAL = {k: PARAMS[k].fiducial for k in ("H0", "ombh2", "omch2", "mnu", "tau", "As", "ns", "nnu",
                                           "nu_states", "w", "wa", "A_L", "A_lens")}
# every name the standard backends (CAMB, the emulator) accept: CAMB's and the sampled spellings
BACKEND_PARAMS = tuple(p.name for p in TABLE[:TABLE.index(PARAMS["TCMB"]) + 1])
# the parameters only the CMB spectra depend on (CAMB names): a background-only run ignores them
SPECTRA_ONLY = ("tau", "As", "ns", "A_L", "A_lens")
# the late-time engines' models: the standard backends' names without CPL dark energy
LATE_TIME_PARAMS = tuple(k for k in BACKEND_PARAMS if k not in ("w", "wa"))


def to_camb_names(params: dict) -> dict:
    """A copy of ``params`` (floats or arrays) in CAMB's names: theta_MC_100 -> cosmomc_theta =
    theta_MC_100 / 100, logA -> As = exp(logA) 1e-10. InputError for both spellings of one
    parameter, or more than one of H0, cosmomc_theta, theta_MC_100."""
    p = dict(params)
    if "As" in p and "logA" in p:
        raise InputError("give either 'As' or 'logA' (= ln(1e10 As)), not both")
    given = [k for k in ("H0", "cosmomc_theta", "theta_MC_100") if k in p]
    if len(given) > 1:
        raise InputError(f"give exactly one of 'H0', 'cosmomc_theta', 'theta_MC_100'; got "
                         f"{', '.join(given)}")
    if "logA" in p:
        log_a = p.pop("logA")
        p["As"] = (np.exp(log_a) if isinstance(log_a, np.ndarray) else math.exp(log_a)) * 1e-10
    if "theta_MC_100" in p:
        p["cosmomc_theta"] = p.pop("theta_MC_100") / 100.0
    return p

