"""The future (and today's) experiments of a forecast: one table, each row with its citation.

Each row says what the synthetic likelihood measures and with which numbers; ``numass forecast
--help`` and the report print this table. Rows whose likelihood is not built say so in
``status`` (and are refused by the command).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from numass.errors import InputError


@dataclass(frozen=True)
class Experiment:
    id: str
    label: str
    kind: str  # "bao" | "cmb" (primary TT/TE/EE) | "lensing" | "tau" | "euclid_spec" | ...
    spec: dict = field(default_factory=dict)
    citation: str = ""
    status: str = "built"  # "built" or "not yet: <why>"

    @property
    def built(self) -> bool:
        return self.status == "built"

    def spec_text(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in self.spec.items())


# DESI DR2 covers the first three of the survey's five years (arXiv:2503.14738); its measured
# covariance scaled by 3/5 (errors by sqrt(3/5)) stands in for the final survey.
DESI_FINAL_COV_SCALE = 3.0 / 5.0

EXPERIMENT_TABLE = (
    Experiment("desi_dr2", "DESI DR2 BAO (today's measured covariance)", "bao",
               {"cov_scale": 1.0, "bins": "DR2's 13 (z_eff 0.295-2.33)"},
               "DESI DR2, arXiv:2503.14738 (the numass desi-dr2-bao data set)"),
    Experiment("desi_final", "DESI final-survey BAO (DR2 errors scaled to 5 years)", "bao",
               {"cov_scale": DESI_FINAL_COV_SCALE, "bins": "DR2's 13 (z_eff 0.295-2.33)"},
               "DESI Final Design Report forecast arXiv:1611.00036 (its per-bin table is not "
               "read here); stand-in: DESI DR2 arXiv:2503.14738 covariance x 3/5 (3 of 5 years)"),
    Experiment("planck", "Planck-like primary TT/TE/EE", "cmb",
               {"fsky": 0.6, "lmin": 30, "lmax": 2500, "noise_T_uKarcmin": 33.0,
                "beam_arcmin": 7.3},
               "143 GHz alone: 6 uK per 7.3' beam after 473 days (Planck 2013 VI, "
               "arXiv:1303.5067) = 46 uK-arcmin, /sqrt(2) for the full mission's ~2x longer "
               "survey = 33 uK-arcmin; P noise = sqrt(2) T; f_sky 0.6; no foregrounds"),
    Experiment("so", "Simons Observatory LAT primary TT/TE/EE (goal)", "cmb",
               {"fsky": 0.4, "lmin": 30, "lmax": 3000, "noise_T_uKarcmin": 6.3,
                "beam_arcmin": 1.4},
               "SO science goals arXiv:1808.07445, Table 1: 145 GHz goal 6.3 uK-arcmin, 1.4' "
               "(one channel, no foregrounds)"),
    Experiment("s4", "CMB-S4 primary TT/TE/EE", "cmb",
               {"fsky": 0.4, "lmin": 30, "lmax": 3000, "noise_T_uKarcmin": 1.0,
                "beam_arcmin": 1.0},
               "CMB-S4 Science Book arXiv:1610.02743: ~1 uK-arcmin, ~1' (as in Allison et al. "
               "arXiv:1509.07471); no foregrounds"),
    Experiment("so_lensing", "Simons Observatory lensing C_L^phiphi", "lensing",
               {"fsky": 0.4, "Lmin": 40, "Lmax": 3000, "bin_width": 20,
                "noise_file": "so_v3_1_deproj0_goal_fsky0p4_it.dat", "column": "N_lensing_MV"},
               "N_L from pyfisher (SO v3.1 goal, iterative, arXiv:1808.07445); Gaussian bandpower "
               "covariance"),
    Experiment("s4_lensing", "CMB-S4 lensing C_L^phiphi", "lensing",
               {"fsky": 0.4, "Lmin": 40, "Lmax": 3000, "bin_width": 20,
                "noise_file": "s4_noise.dat", "column": "N_lensing_MV"},
               "N_L from pyfisher (CMB-S4, arXiv:1610.02743); Gaussian bandpower covariance"),
    Experiment("planck_tau", "today's tau: Planck 2018 lowE", "tau", {"sigma_tau": 0.0086},
               "Planck 2018 VI arXiv:1807.06209 (lowE alone: 0.0506 +- 0.0086; numass tau-prior)"),
    Experiment("litebird_tau", "LiteBIRD-like tau (cosmic-variance limited)", "tau",
               {"sigma_tau": 0.002},
               "LiteBIRD PTEP arXiv:2202.02773: sigma(tau) = 0.002"),
    Experiment("euclid_spec", "Euclid spectroscopic clustering: D_M/r_d, D_H/r_d, f sigma8",
               "euclid_spec",
               {"z_edges": ((0.9, 1.1), (1.1, 1.3), (1.3, 1.5), (1.5, 1.8)),
                "n_h3_Mpc3": (6.86e-4, 5.58e-4, 4.21e-4, 2.61e-4),
                "bias": (1.46, 1.61, 1.75, 1.90), "area_deg2": 15000.0, "kmax_h_Mpc": 0.25},
               "Euclid IST:F arXiv:1910.09273 (GCsp bins, n(z), b(z), 15 000 deg^2; the paper's "
               "table not re-read here, the numbers cross-checked against an independent public "
               "implementation of the same setup); covariance: Kaiser + Alcock-Paczynski Fisher "
               "of P_g(k, mu) to k = 0.25 "
               "h/Mpc at numass's fiducial, b sigma8 marginalised"),
    Experiment("euclid_shear", "Euclid photometric cosmic shear (linearised about the ΛCDM "
               "floor: Fisher approximation)", "euclid_shear",
               {"n_bins": 10, "z0": round(0.9 / 2 ** 0.5, 6), "zmin": 0.001, "zmax": 2.5,
                "c_b": 1.0, "z_b": 0.0, "sigma_b": 0.05, "c_o": 1.0, "z_o": 0.1,
                "sigma_o": 0.05, "f_out": 0.1, "n_g_arcmin2": 30.0, "sigma_e": 0.30,
                "fsky": 0.3636, "lmin": 10, "lmax": 1500, "n_bands": 20},
               "Euclid IST:F arXiv:1910.09273 (WL: 10 equipopulated bins, photo-z model, "
               "30 gal/arcmin^2, sigma_e = 0.30, f_sky 0.3636, pessimistic ell <= 1500); C_ell "
               "from pyccl on numass's background and CAMB P(k, z); no intrinsic alignments"),
)
EXPERIMENTS = {e.id: e for e in EXPERIMENT_TABLE}

# the default combinations: today's primary CMB with the final DESI, then SO and CMB-S4, each with
# today's tau and with LiteBIRD's; Euclid with the Planck-like CMB (the published Euclid + Planck
# forecast's setting) and with everything (the review's closing claim)
DEFAULT_COMBINATIONS = (
    "planck+planck_tau+desi_final",
    "so+so_lensing+planck_tau+desi_final",
    "s4+s4_lensing+planck_tau+desi_final",
    "s4+s4_lensing+litebird_tau+desi_final",
    "planck+planck_tau+euclid_spec+euclid_shear",
    "s4+s4_lensing+litebird_tau+desi_final+euclid_spec+euclid_shear",
)


def parse_combination(name: str) -> tuple[str, ...]:
    """'a+b+c' -> ('a', 'b', 'c'), each a built experiment; an InputError otherwise."""
    ids = tuple(i.strip() for i in name.split("+") if i.strip())
    if not ids:
        raise InputError(f"empty experiment combination {name!r}")
    for i in ids:
        if i not in EXPERIMENTS:
            raise InputError(f"unknown experiment '{i}' in {name!r}; known: "
                             f"{', '.join(EXPERIMENTS)}")
        if not EXPERIMENTS[i].built:
            raise InputError(f"experiment '{i}' is {EXPERIMENTS[i].status}")
    if len(set(ids)) != len(ids):
        raise InputError(f"experiment listed twice in {name!r}")
    kinds = [EXPERIMENTS[i].kind for i in ids]
    if kinds.count("cmb") > 1 or kinds.count("tau") > 1 or kinds.count("bao") > 1:
        raise InputError(f"{name!r}: at most one primary CMB, one tau and one BAO experiment "
                         f"(they would share sky or galaxies)")
    return ids


def spec_rows() -> list[dict]:
    """The table as rows for the report and summary.json."""
    return [{"id": e.id, "label": e.label, "kind": e.kind, "spec": e.spec_text(),
             "citation": e.citation, "status": e.status} for e in EXPERIMENT_TABLE]


def help_text() -> str:
    """The table as the command's --help epilog."""
    lines = ["experiments (--experiments: combinations of ids joined by '+', comma-separated):"]
    for e in EXPERIMENT_TABLE:
        state = "" if e.built else f" [{e.status}]"
        lines.append(f"  {e.id:<13} {e.label}{state}")
        if e.spec:
            lines.append(f"  {'':<13}   {e.spec_text()}")
        lines.append(f"  {'':<13}   source: {e.citation}")
    lines.append("default combinations: " + ", ".join(DEFAULT_COMBINATIONS))
    return "\n".join(lines)
