"""The results of one analysis as types, and the conventions every reader of a run shares.

``RunResult`` is what ``run_analysis`` writes to ``DIR/summary.json`` (``to_json``) and what the
comparison reads back (``from_json``); its parts are ``PosteriorSummary`` (one parameter's
posterior), ``Tension`` (with one neutrino-mass floor) and ``BestFit``. The JSON layout is the
one numass has always written, so older output folders still read; both samplers write it
(``write_summary``: checked against summary_schema.SCHEMA, then written atomically), and every
read through ``from_json`` / ``read_summary`` is checked too.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from numass.data.store import describe_file
from numass.errors import InputError
from numass.fileio import atomic_write_json
from numass.inference.overrides import is_sampled, proposal_width, ref_centre
from numass.inference.summary_schema import check_summary

# the first 30% of each chain is burn-in, dropped by every reader of the chains
BURN_IN = 0.3
# Cobaya's second stop: R-1 of the chains' 95% bounds (Rminus1_cl_stop), once the means converge
RMINUS1_BOUNDS_STOP = 0.05
# the chains' file root inside a run's output folder (GetDist reads DIR/chains/numass*.txt)
CHAIN_ROOT = "chains/numass"
# written beside the chains by the nested sampler (inference/nested.py): its chains are
# importance-weighted samples of the posterior, with no burn-in to drop
NESTED_MARKER = "chains/nautilus_settings.json"


def chain_root(folder: str | Path) -> Path:
    """The chains' root of the run in ``folder`` (for getdist.loadMCSamples)."""
    return Path(folder) / CHAIN_ROOT


def run_sampler(folder: str | Path) -> str:
    """'nautilus', 'importance' or 'mcmc': the sampler that wrote the chains in ``folder``, as
    its summary.json records it ('sampler'); without a summary, 'nautilus' where its settings
    file lies beside the chains. Every reader of a run's chains branches on this, and only on
    this (weighted_draws: the samplers whose rows are weighted independent draws)."""
    try:
        recorded = json.loads((Path(folder) / "summary.json").read_text()).get("sampler")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded:
        return recorded
    return "nautilus" if (Path(folder) / NESTED_MARKER).exists() else "mcmc"


def weighted_draws(sampler: str | None) -> bool:
    """Are the chains of this sampler importance-weighted independent draws (nautilus, and the
    importance sampling of --quick), not a Markov chain (MCMC)?"""
    return sampler in ("nautilus", "importance")


def burn_in(folder: str | Path) -> float:
    """The fraction of each chain to drop: BURN_IN for MCMC; none for weighted independent
    draws (weighted_draws: dropping 30% would drop part of the posterior)."""
    return 0.0 if weighted_draws(run_sampler(folder)) else BURN_IN


def load_chains(folder: str | Path, **settings):
    """GetDist samples of the run in ``folder`` (burn-in removed where the sampler has one,
    see burn_in; ``settings`` added), or an InputError saying what was expected and found."""
    from getdist import loadMCSamples

    root = chain_root(folder)
    files = sorted(root.parent.glob(root.name + ".*.txt")) or sorted(
        root.parent.glob(root.name + ".txt"))
    expected = (f"expected Cobaya's chain files {root}.1.txt, ... (text columns: weight, "
                f"minuslogpost, the parameters)")
    if not files:
        found = sorted(p.name for p in root.parent.iterdir())[:8] if root.parent.is_dir() else []
        raise InputError(f"no chains in {folder}: {expected}; found "
                         f"{', '.join(found) if found else 'nothing'}")
    try:
        return loadMCSamples(str(root), settings={"ignore_rows": burn_in(folder), **settings})
    except Exception as exc:  # noqa: BLE001 - GetDist raises many kinds on a bad file
        raise InputError(f"cannot read the chains in {folder}: {expected}; found "
                         f"{describe_file(files[0])} in {files[0].name} ({exc})") from None


def proposal_widths(info: dict) -> dict[str, float]:
    """{sampled parameter: proposal width} of a Cobaya input dictionary (any valid block:
    ``proposal``, else the ref's scale, else from the prior)."""
    return {n: proposal_width(v) for n, v in info["params"].items() if is_sampled(v)}


def proposal_refs(info: dict) -> dict[str, float]:
    """{sampled parameter: centre of its starting ball} of a Cobaya input dictionary (``ref`` a
    number, a distribution, or absent: the prior's centre)."""
    return {n: ref_centre(v) for n, v in info["params"].items() if is_sampled(v)}


@dataclass
class PosteriorSummary:
    """One parameter's weighted posterior (numass.stats.summarize_1d): equal-tailed 68%
    interval, one-tailed 95% upper limit."""
    mean: float
    std: float
    median: float
    lower68: float
    upper68: float
    upper95: float

    @classmethod
    def from_dict(cls, d: dict) -> PosteriorSummary:
        return cls(**{f.name: d[f.name] for f in fields(cls)})


@dataclass
class Tension:
    """Tension with one oscillation floor, in Gaussian-equivalent sigma."""
    bayes: float  # posterior mass above the floor (numass.stats.bayes_tension)
    profile: float  # sqrt(chi2(floor) - chi2_min)
    bayes_lower_bound: bool = False  # the Bayesian figure is itself a lower bound
    bayes_extrapolated: bool = False  # too few samples above: from a fit to the marginal
    details: dict = field(default_factory=dict)  # bayes_tension's record (method, ess, bound)


@dataclass
class BestFit:
    """The best fit: sampled parameters, chi2 (total and per likelihood) and derived values."""
    values: dict[str, float]
    chi2: float
    chi2_by_likelihood: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> BestFit:
        values = {k: v for k, v in d.items() if k not in ("chi2", "chi2_by_likelihood")}
        return cls(values, d["chi2"], dict(d.get("chi2_by_likelihood", {})))

    def to_dict(self) -> dict:
        return {**self.values, "chi2": self.chi2, "chi2_by_likelihood": self.chi2_by_likelihood}

    def __getitem__(self, name: str) -> float:
        return self.values[name]


# summary.json keys RunResult holds field by field; any other key is kept in ``extra``
_TENSION_KEYS = ("tension_sigma", "tension_sigma_profile", "tension_sigma_lower_bound",
                 "tension_sigma_extrapolated", "tension_bayes", "tension_definitions")
_KEYS = ("model", "datasets", "backend", "mnu_eff", "params", "bestfit", *_TENSION_KEYS,
         "profiles", "floors_eV", "rminus1", "converged", "n_samples", "n_theory_failures",
         "wall_seconds", "chains")
# the optional keys, typed fields of RunResult, written only when set (not None), in this order
_OPTIONAL = ("mass_param", "triangle_plot", "param_overrides", "sampler", "sampled_params",
             "n_eff", "ln_evidence", "ln_evidence_err", "ln_prior_mass_of_box", "sampling_box",
             "box_edge_weight", "n_calls", "nautilus", "importance", "tail_runs",
             "stage_seconds", "quick",
             "warning")


@dataclass
class RunResult:
    """One analysis (model on data): posterior, best fit, tensions, convergence, provenance.

    Both samplers write this layout (summary_schema.SCHEMA): MCMC gives R-1 and counts the
    theory failures; nautilus gives neither (None) but its n_eff, ln Z, sampling box, settings
    and the time of each stage. A fixed mass (--fix) has no tensions (empty tables)."""
    model: str
    datasets: list[str]
    backend: str
    mnu_eff: PosteriorSummary
    params: dict[str, PosteriorSummary]
    bestfit: BestFit
    tensions: dict[str, Tension]  # floor label -> Tension
    tension_definitions: dict
    profiles: dict[str, dict]  # floor label -> {mass parameter: floor, chi2}
    floors_eV: dict[str, float]
    rminus1: float | None  # None: nautilus (no R-1)
    converged: bool
    n_samples: int
    n_theory_failures: int | None  # None: nautilus (not counted)
    wall_seconds: float
    chains: str
    extra: dict = field(default_factory=dict)  # keys the schema does not know
    mass_param: str | None = None  # the mass parameter when not mnu_eff
    triangle_plot: str | None = None
    param_overrides: dict | None = None  # --fix / --prior as given
    sampler: str | None = None  # 'mcmc', 'nautilus' or 'importance' (chain readers branch on it)
    sampled_params: list[str] | None = None
    n_eff: float | None = None  # nautilus: effective sample size
    ln_evidence: float | None = None
    ln_evidence_err: float | None = None
    ln_prior_mass_of_box: float | None = None
    sampling_box: dict[str, list[float]] | None = None  # {parameter: [low, high]}
    box_edge_weight: dict[str, float] | None = None
    n_calls: int | None = None  # likelihood calls of the nested sampler
    nautilus: dict | None = None  # its settings (n_live, n_eff_target, n_networks)
    # --quick's importance sampling: ESS, Pareto k̂, ln Z's error, calls, 'fallback' (why
    # nautilus ran instead; None: it served)
    importance: dict | None = None
    tail_runs: dict | None = None  # the tails' evidence runs (tail.py)
    stage_seconds: dict[str, float] | None = None
    quick: bool | None = None  # the CLI's --quick
    warning: str | None = None

    def record(self, fields_: dict) -> None:
        """Set the named fields (the schema's optional keys) and keep any other key in extra."""
        for k, v in fields_.items():
            if k in _OPTIONAL:
                setattr(self, k, v)
            else:
                self.extra[k] = v

    def to_dict(self) -> dict:
        """The summary.json layout (numass.stats.tension_fields for the tensions)."""
        t = self.tensions
        return {"model": self.model, "datasets": self.datasets, "backend": self.backend,
                "mnu_eff": asdict(self.mnu_eff),
                "params": {k: asdict(v) for k, v in self.params.items()},
                "bestfit": self.bestfit.to_dict(),
                "tension_sigma": {k: x.bayes for k, x in t.items()},
                "tension_sigma_profile": {k: x.profile for k, x in t.items()},
                "tension_sigma_lower_bound": [k for k, x in t.items() if x.bayes_lower_bound],
                "tension_sigma_extrapolated": [k for k, x in t.items() if x.bayes_extrapolated],
                "tension_bayes": {k: x.details for k, x in t.items()},
                "tension_definitions": self.tension_definitions,
                "profiles": self.profiles, "floors_eV": self.floors_eV, "rminus1": self.rminus1,
                "converged": self.converged, "n_samples": self.n_samples,
                "n_theory_failures": self.n_theory_failures, "wall_seconds": self.wall_seconds,
                "chains": self.chains,
                **{k: getattr(self, k) for k in _OPTIONAL if getattr(self, k) is not None},
                **self.extra}

    @staticmethod
    def tensions_from(d: dict) -> dict[str, Tension]:
        """{floor: Tension} from the summary's tension fields (numass.stats.tension_fields)."""
        bound = set(d.get("tension_sigma_lower_bound", []))
        extrapolated = set(d.get("tension_sigma_extrapolated", []))
        details = d.get("tension_bayes", {})
        return {k: Tension(d["tension_sigma"][k], d["tension_sigma_profile"][k], k in bound,
                           k in extrapolated, details.get(k, {}))
                for k in d["tension_sigma"]}

    @classmethod
    def from_dict(cls, d: dict) -> RunResult:
        result = cls(d["model"], list(d["datasets"]), d.get("backend", ""),
                     PosteriorSummary.from_dict(d["mnu_eff"]),
                     {k: PosteriorSummary.from_dict(v) for k, v in d.get("params", {}).items()},
                     BestFit.from_dict(d["bestfit"]), cls.tensions_from(d),
                     d.get("tension_definitions", {}), d.get("profiles", {}),
                     d.get("floors_eV", {}), d.get("rminus1", math.nan),
                     d.get("converged", False), d.get("n_samples", 0),
                     d.get("n_theory_failures", 0), d.get("wall_seconds", math.nan),
                     d.get("chains", ""))
        result.record({k: v for k, v in d.items() if k not in _KEYS})
        return result

    def to_json(self, path: str | Path) -> None:
        """Write DIR/summary.json, checked against the schema and atomically (write_summary)."""
        write_summary(path, self.to_dict())

    @classmethod
    def from_json(cls, path: str | Path) -> RunResult:
        """The run whose summary is ``path``; InputError naming the file, and the field that
        breaks the schema, when it cannot be read."""
        return cls.from_dict(read_summary(path))


def write_summary(path: str | Path, summary: dict) -> Path:
    """Write a run's summary.json (either sampler's) after checking it against the schema
    (every always-written key present, types, finite where required), atomically: a reader
    sees the old file or the whole new one. An InputError names the field that is wrong."""
    check_summary(summary, path, written=True)
    return atomic_write_json(path, summary)


def read_summary(path: str | Path) -> dict:
    """A run's summary.json as a dict, checked against the schema (InputError naming the file
    and the field when it is unreadable, not JSON, or breaks the schema)."""
    try:
        d = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read the run's summary ({exc})") from None
    except ValueError as exc:
        raise InputError(f"{path}: the run's summary is not valid JSON ({exc})") from None
    check_summary(d, path)
    return d
