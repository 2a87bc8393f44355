"""Planning a comparison: its jobs (the hypotheses, the τ-prior ladder, the robustness variants),
which theory backend each uses, and which cannot run here (data absent, not constrained).

A job is one ``run_analysis`` (best fit, MCMC, profiles at the oscillation floors) in its own
folder ``DIR/<job>/``, plus for the hypotheses an evidence task. A hypothesis that the data cannot
constrain (A_L or tau on background-only data) gets a status saying so and no run.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
from dataclasses import asdict, dataclass, field

from numass.backends import make_backend
from numass.compare.hypotheses import (
    HYPOTHESIS,
    HYPOTHESIS_TABLE,
    LENSING_IDS,
    PRIMARY_IDS,
    PRIOR_VARIANTS,
    TAU_BASELINE,
    TAU_FLAT,
    TAU_LADDER,
    TAU_SAMPLING_RANGE,
)
from numass.data.store import data_dir as resolve_data_dir
from numass.errors import InputError
from numass.inference.nested_analysis import importance_first
from numass.likelihoods import LIKELIHOODS, resolve_data
from numass.likelihoods.sources import data_folder as _data_folder
from numass.likelihoods.sources import data_sources  # noqa: F401 - for compare.run, .tasks
from numass.likelihoods.tau_prior import TauPrior
from numass.models import get_model, sampled_params
from numass.stats import TAIL_RESOLVED_ESS

log = logging.getLogger("numass")


@dataclass
class Settings:
    rminus1: float = 0.01
    rminus1_cl: float = 0.05
    max_samples: int = 200_000
    nlive: int = 200
    dlogz: float = 0.1
    seed: int = 1
    quick: bool = False
    # 'dynesty' (nested sampling), 'importance' (draws from a Student-t fitted to the job's
    # converged chain; inference/evidence.py) or 'auto': importance sampling for CMB-spectra
    # fits, where nested sampling takes ~10^5 calls of ~5 ms, dynesty for background-only data
    evidence_method: str = "auto"
    is_draws: int = 4000
    # emulator fits: points outside the emulator's box go to CAMB (True: exact, but ~2 s each,
    # which makes a w0wa chain take hours) or get -inf (False: the box becomes part of the prior)
    emulator_fallback: bool = True
    # the CAMB check of the emulator optima (compare/camb_check.py): which jobs ('hypotheses',
    # 'all', 'none'), Newton steps per optimum (0: re-evaluation only), and --verify N posterior
    # samples reweighted with CAMB (0: off); outside the posterior's fingerprint (CHECK_SETTINGS)
    camb_check: str = "hypotheses"
    camb_steps: int = 1
    verify: int = 0
    # the posterior's sampler: 'auto' (for every job whose backend is batched, importance
    # sampling around the best fit, nautilus where its diagnostics fail, each giving posterior
    # and ln Z; Cobaya's MCMC + a separate evidence task otherwise), 'nautilus' (an error for a
    # job with no batched backend) or 'mcmc'; docs/compare.md
    sampler: str = "auto"
    # nautilus: live points, networks, and the convergence criterion, which is also its stop:
    # n_eff >= n_eff and sigma(ln Z) = 1/sqrt(n_eff) <= lnz_err_max (docs/compare.md: why)
    n_live: int = 500
    n_networks: int = 1
    n_eff: int = 10_000
    lnz_err_max: float = 0.1
    # tails: the evidence ratio on the prior cut at a floor where fewer effective samples than
    # this lie above it (numass.stats.TAIL_RESOLVED_ESS)
    tail_min_ess: float = TAIL_RESOLVED_ESS
    tail_n_live: int = 500
    tail_n_eff: int = 400

    @classmethod
    def make(cls, quick: bool = False, **overrides) -> Settings:
        base = (cls(rminus1=0.1, rminus1_cl=0.5, max_samples=10_000, nlive=50, dlogz=0.5,
                    is_draws=1500, emulator_fallback=False, camb_steps=0, quick=True, n_live=200,
                    n_eff=1000, tail_n_live=200, tail_n_eff=200, tail_min_ess=100.0)
                if quick else cls())
        for k, v in overrides.items():
            if v is not None:
                setattr(base, k, v)
        return base


# the settings of the CAMB check alone: changing them reruns the check, not the posterior
CHECK_SETTINGS = ("camb_check", "camb_steps", "verify")
# what serves the posteriors; part of every job's fingerprint, so that a folder of an earlier
# method's run (nautilus alone; importance sampling with one refit and prior edges to nautilus)
# is recomputed, not mixed with this one
POSTERIOR_METHOD = ("adaptive importance sampling around the best fit (refitted until its draws "
                    "settle), nautilus where they do not or its diagnostics fail")


@dataclass
class Job:
    name: str  # folder under DIR
    kind: str  # "hypothesis" | "ladder" | "variant"
    label: str
    model: str
    datasets: list[str]
    likelihood_options: dict = field(default_factory=dict)
    param_overrides: dict = field(default_factory=dict)
    backend: str | None = None
    evidence: bool = False
    skip: str | None = None  # why the data cannot constrain it (no run)
    same_as: str | None = None  # identical to another job: its results are reused
    hypothesis: str | None = None
    params_of_interest: tuple[str, ...] = ()
    chi2_exclude: tuple[str, ...] = ()  # likelihood ids left out of delta chi2
    ln_evidence_offset: float = 0.0  # normalisation of Gaussian priors written as likelihoods

    def spec(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("label",)}

    def fingerprint(self, settings: Settings) -> str:
        fixed = {k: v for k, v in asdict(settings).items() if k not in CHECK_SETTINGS}
        if importance_first(settings.sampler):
            fixed["posterior_method"] = POSTERIOR_METHOD
        spec = {**self.spec(), "settings": fixed}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- planning the jobs

def _requires(lik_id: str) -> frozenset:
    """A likelihood's theory needs, from its class (no data files read)."""
    module, cls, _ = LIKELIHOODS[lik_id]
    return getattr(importlib.import_module(module), cls).requires


def needs_spectra(datasets: list[str]) -> bool:
    return any("spectra" in _requires(i) for i in datasets)


def emulator_available() -> bool:
    """True when the emulator backend can be built here (its code and weights are present)."""
    try:
        make_backend("emulator")
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means: not available
        log.debug("emulator backend not available: %s", exc)
        return False


def _model_backends(model: str) -> tuple[str, ...] | None:
    try:
        m = get_model(model)
    except Exception:  # noqa: BLE001 - a missing model fails in its own job
        return None
    return tuple(getattr(m, "backends", ("background", "camb", "emulator")))


def _backend_for(model: str, spectra: bool, use_emulator: bool) -> str | None:
    """'emulator' (or the model's emulator-based backend, e.g. 'lscdm-emulator') for spectra
    fits of models it serves, else None (the model's default)."""
    if not spectra or not use_emulator:
        return None
    backends = _model_backends(model) or ()
    return next((b for b in backends if b == "emulator" or b.endswith("-emulator")), None)


def _swap(datasets: list[str], old: str, new: str) -> list[str]:
    return [new if d == old else d for d in datasets]


def _tau_offset(datasets: list[str], options: dict | None) -> float:
    """ln(tau sampling range / integral of the tau-prior likelihood over that range): the ln Z
    offset that makes the Gaussian tau prior a normalised prior (exact, truncation included)."""
    if "tau-prior" not in datasets:
        return 0.0
    lo, hi = TAU_SAMPLING_RANGE
    return math.log(hi - lo) - TauPrior(**(options or {})).log_normalisation(lo, hi)


def missing_data(datasets: list[str], data_dir: str | None = None) -> str | None:
    """Why these data sets cannot be read here (their folder is absent), or None."""
    root = resolve_data_dir(data_dir)
    absent = []
    for i in datasets:
        folder, embedded_fallback = _data_folder(i)
        if folder and not embedded_fallback and not (root / folder).is_dir():
            absent.append(folder)
    if not absent:
        return None
    return (f"not run: data set(s) {', '.join(sorted(set(absent)))} not in the data directory "
            f"{root} (`numass data fetch {' '.join(sorted(set(absent)))}`, or --data-dir)")


def plan(data: str | None = "embedded", use_emulator: bool | None = None,
         data_dir: str | None = None, check_data: bool = True,
         allow_camb: bool = False) -> list[Job]:
    """The jobs of a comparison on ``data`` ('embedded', 'full' or ids), without running any.

    With ``check_data``, a job whose data files are absent from the data directory is skipped
    with a status saying which (the embedded DESI DR2 table needs no files). With CMB spectra,
    a model the emulator does not serve (lscdm, nu_interacting: their late-time engine runs CAMB
    at every point) is skipped with its reason unless ``allow_camb`` (a day per chain)."""
    _, base = resolve_data(data)
    spectra = needs_spectra(base)
    if spectra and use_emulator is None:
        use_emulator = emulator_available()
        if not use_emulator:
            log.warning("the emulator backend is not available: the CMB-spectra fits use CAMB "
                        "(about 2 s per point; a full comparison then takes days, not an hour)")
    jobs: list[Job] = []

    def job(name, kind, model, datasets, **kw) -> Job:
        j = Job(name=name, kind=kind, model=model, datasets=list(datasets),
                backend=_backend_for(model, spectra, bool(use_emulator)),
                ln_evidence_offset=_tau_offset(datasets, kw.get("likelihood_options", {})
                                               .get("tau-prior")), **kw)
        jobs.append(j)
        return j

    _plan_hypotheses(jobs, base, spectra, job)
    _plan_variants(base, spectra, job)
    if spectra and use_emulator and not allow_camb:
        _skip_camb_only(jobs)
    if check_data:
        for j in jobs:
            if not j.skip:
                j.skip = missing_data(j.datasets, data_dir)
    _mark_twins(jobs)
    return jobs


def _plan_hypotheses(jobs: list[Job], base: list[str], spectra: bool, job) -> None:
    """One job per hypothesis (table order); the tau hypothesis brings its ladder."""
    what = ", ".join(base)
    for h in HYPOTHESIS_TABLE:
        if h.key == "tau":
            tau_plan(jobs, base, spectra, what, job)
        elif h.needs_spectra and not spectra:
            jobs.append(Job(h.key, "hypothesis", h.label, h.model, list(base), hypothesis=h.key,
                            skip=h.needs_spectra.format(what=what)))
        else:
            job(h.key, "hypothesis", h.model, base, label=h.label, evidence=True,
                hypothesis=h.key, params_of_interest=h.params_of_interest)


# lensing variants: name -> (lensing data set ids, label)
LENSING_VARIANTS = {
    "lensing_none": ([], "no CMB-lensing reconstruction"),
    "lensing_pr4_mv": (["planck-pr4-lensing"], "Planck PR4 lensing (minimum variance)"),
    "lensing_pr4_polonly": (["planck-pr4-lensing-polonly"],
                            "Planck PR4 lensing (polarization only)"),
    "lensing_act": (["act-dr6-lensing"], "ACT DR6 lensing alone"),
    "lensing_spt": (["spt3g-2018-lensing"], "SPT-3G 2018 lensing alone"),
    "lensing_all": (["planck-pr4-lensing", "act-dr6-lensing", "spt3g-2018-lensing"],
                    "Planck PR4 + ACT DR6 + SPT-3G lensing together (treated as independent)"),
}


def _plan_variants(base: list[str], spectra: bool, job) -> None:
    """The robustness variants (LCDM + Sigma m_nu,eff unless said otherwise)."""
    if "desi-dr2-bao" in base:
        job("no_lrg1", "variant", "lcdm", _swap(base, "desi-dr2-bao", "desi-dr2-bao-nolrg1"),
            label="DESI DR2 without the LRG 0.4 < z < 0.6 bin")
        job("desi_dr1", "variant", "lcdm", _swap(base, "desi-dr2-bao", "desi-dr1-bao"),
            label="DESI DR1 BAO in place of DR2")
    job("positive_mass", "variant", "lcdm", base,
        param_overrides={"mnu_eff": {"prior": {"min": 0.0, "max": 0.5},
                                     "ref": {"dist": "norm", "loc": 0.03, "scale": 0.01},
                                     "proposal": 0.02,
                                     "latex": r"\Sigma m_\nu\,[\rm eV]"}},
        label="physical prior Σmν ≥ 0 (for the published upper limits)")
    for v in PRIOR_VARIANTS:  # beside its hypothesis, with its own evidence (the prior's cost)
        h = HYPOTHESIS[v.hypothesis]
        if not (h.needs_spectra and not spectra):
            job(v.key, "variant", h.model, base, label=v.label, evidence=True,
                hypothesis=v.hypothesis, params_of_interest=h.params_of_interest,
                param_overrides={v.param: {"prior": {"min": v.prior[0], "max": v.prior[1]}}})
    primary = [d for d in base if d in PRIMARY_IDS]
    if not (spectra and primary):
        return
    no_lens = [d for d in base if d not in LENSING_IDS]
    others = [d for d in no_lens if d not in PRIMARY_IDS]
    job("AL_TT", "variant", "AL", others + ["planck2018-plik-lite-TT", "planck2018-lowl-TT"],
        label="A_L from TT-only primary CMB (plik_lite TT + low-ℓ TT), no lensing "
              "reconstruction", params_of_interest=("A_L",))
    job("AL_TEEE", "variant", "AL", others + ["planck2018-plik-lite-TEEE"],
        label="A_L from TE+EE-only primary CMB (plik_lite TE+EE), no lensing reconstruction",
        params_of_interest=("A_L",))
    for name, (ids, text) in LENSING_VARIANTS.items():
        job(name, "variant", "lcdm", no_lens + ids, label=text)


def _skip_camb_only(jobs: list[Job]) -> None:
    """With the emulator, a model it does not serve would need CAMB at every point: skip it."""
    for j in jobs:
        if not j.skip and j.backend is None:
            j.skip = (f"not run: with CMB spectra the {j.model} model needs CAMB at every "
                      f"point (its late-time engine rescales a CAMB run; the emulator does "
                      f"not serve it), about 2 s a point, so a converged chain takes about a "
                      f"day on 2 cores; run it with --allow-camb (e.g. --only {j.name} "
                      f"--allow-camb)")


def _mark_twins(jobs: list[Job]) -> None:
    """The same sampling problem twice (same likelihoods, priors and theory; e.g. nu_interacting
    on background-only data is LCDM with Sigma m_nu >= 0): run it once, reuse the results."""
    keys = {j.name: _problem_key(j) for j in jobs if not j.skip}
    for i, j in enumerate(jobs):
        if j.skip or j.name == "lcdm":
            continue
        for other in jobs[:i]:
            if other.skip or other.same_as or keys[other.name] != keys[j.name]:
                continue
            if not j.evidence or other.evidence:
                j.same_as = other.name
            break


def _problem_key(job: Job) -> str:
    """What defines the sampling problem (theory backend and fixed inputs, sampled parameters
    and their priors, likelihoods and options), as a string; read from the model definitions,
    without loading data. The job's own spec when the model does not exist."""
    try:
        model = get_model(job.model)
    except Exception:  # noqa: BLE001 - a missing model fails in its own job
        return json.dumps([job.model, sorted(job.datasets), job.likelihood_options,
                           job.param_overrides, job.backend], sort_keys=True, default=str)
    spectra = needs_spectra(job.datasets)
    if hasattr(model, "resolve_backend"):
        backend = model.resolve_backend(job.backend, spectra)
    else:
        backend = job.backend or ("camb" if spectra else "background")
    params = {p.name: p.cobaya()["prior"] for p in sampled_params(model, spectra)}
    for name, v in job.param_overrides.items():
        params[name] = v.get("prior", v) if isinstance(v, dict) else v
    liks = sorted((i, json.dumps(job.likelihood_options.get(i, {}), sort_keys=True))
                  for i in job.datasets)
    return json.dumps([backend, model.fixed, params, liks], sort_keys=True, default=str)


def tau_plan(jobs, base, spectra, what, job) -> None:
    """The tau hypothesis and its ladder of tau priors (each rung a job)."""
    tau = HYPOTHESIS["tau"]
    if not spectra:
        assert tau.needs_spectra is not None  # τ is seen through the CMB spectra only
        reason = tau.needs_spectra.format(what=what)
        jobs.append(Job("tau", "hypothesis", tau.label, tau.model, list(base), hypothesis="tau",
                        skip=reason))
        for rung, (text, _) in TAU_LADDER.items():
            jobs.append(Job(f"tau_{rung}", "ladder", text, "lcdm", list(base), skip=reason))
        return
    with_prior = base if "tau-prior" in base else base + ["tau-prior"]
    without = [d for d in base if d != "tau-prior"]
    for rung, (text, options) in TAU_LADDER.items():
        if options is None:
            lo, hi = TAU_FLAT
            job(f"tau_{rung}", "ladder", "lcdm", without, label=text,
                param_overrides={"tau": {"prior": {"min": lo, "max": hi},
                                         "ref": {"dist": "norm", "loc": 0.06, "scale": 0.006},
                                         "proposal": 0.006, "latex": r"\tau_{\rm reio}"}},
                params_of_interest=("tau",))
        else:
            if rung == TAU_BASELINE and "tau-prior" in base:
                options = {}  # the baseline prior is tau-prior's default: the lcdm job itself
            job(f"tau_{rung}", "ladder", "lcdm", with_prior, label=text,
                likelihood_options={"tau-prior": options} if options else {},
                params_of_interest=("tau",))
    flat = jobs[-1]
    # the hypothesis entry: tau left free within the reionization bounds (its own job, so that
    # it carries the evidence); delta chi2 leaves the tau prior out of the LCDM side
    job("tau", "hypothesis", tau.model, flat.datasets, label=tau.label,
        param_overrides=flat.param_overrides, evidence=True, hypothesis="tau",
        params_of_interest=("tau",), chi2_exclude=("tau-prior",))
    jobs.insert(2, jobs.pop())  # keep the hypotheses first


# ---------------------------------------------------------------- running one job
def select(jobs: list[Job], only: list[str]) -> list[Job]:
    """Keep the jobs named in ``only`` (others: 'not run: not selected'); InputError on a name
    that is not a job."""
    names = [j.name for j in jobs]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise InputError(f"--only: unknown job(s) {', '.join(unknown)}; jobs: {', '.join(names)}")
    for j in jobs:
        if j.name in only:
            if j.same_as and j.same_as not in only:
                j.same_as = None  # its twin is not run: run it itself
        elif not j.skip:
            j.skip = "not run: not selected (--only)"
    return jobs



def apply_overrides(jobs: list[Job], overrides: dict, mass_param: str = "mnu_eff") -> list[Job]:
    """--fix/--prior for a comparison: each override goes to every job that samples the
    parameter, except where the job defines that parameter itself (the τ ladder's τ priors, the
    positive-mass variant's prior: the job's own definition stays). InputError for a name no
    job samples, and for fixing the neutrino mass, which the comparison measures."""
    if mass_param in overrides and not isinstance(overrides[mass_param], dict):
        raise InputError(f"--fix {mass_param}: the comparison measures {mass_param}; give it "
                         f"another prior with --prior instead")
    sampled: set[str] = set()
    for j in jobs:
        names = {p.name for p in sampled_params(get_model(j.model), needs_spectra(j.datasets))}
        sampled |= names
        for name, value in overrides.items():
            if name in names and name not in j.param_overrides:
                j.param_overrides = {**j.param_overrides, name: value}
    unknown = sorted(set(overrides) - sampled)
    if unknown:
        raise InputError(f"unknown parameter(s) {', '.join(unknown)} for this comparison; its "
                         f"models sample: {', '.join(sorted(sampled))}")
    return jobs
