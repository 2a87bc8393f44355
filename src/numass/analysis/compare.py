"""`numass compare`: the six hypotheses of DESIGN.md section 2 weighed on the same data.

The comparison is a list of *jobs*, each one ``run_analysis`` (best fit, MCMC, profiles at the
oscillation floors) in its own folder ``DIR/<job>/``, and for the hypotheses a nested-sampling
evidence run (dynesty inside best fit ± 20 Hessian sigma; inference/evidence.py) as a separate
task, so that it runs beside a slow chain:

- the hypotheses: ``lcdm`` (the null), ``lensing_amplitude`` (A_L and A_lens), ``tau`` (the
  tau-prior ladder; the hypothesis's entry is its flat, reionization-bounded rung), ``w0wa``,
  ``lscdm``, ``nu_interacting``;
- the robustness variants: dropping the DESI LRG 0.4 < z < 0.6 bin, DESI DR1 in place of DR2,
  the physical prior Sigma m_nu >= 0 (for the published upper limits), and with CMB spectra: A_L
  from TT-only vs TE+EE-only primary data, and each CMB-lensing data set alone and together;
- the tau ladder's other rungs.

A hypothesis that the data cannot constrain (A_L or tau on background-only data) gets a status
saying so and no numbers. A job that fails gets ``status: "error: ..."``; the others go on.
Every task writes its state (``job.json``, ``evidence.json``) when it finishes; a rerun skips
finished tasks whose settings have not changed and resumes interrupted chains, so a crash or
Ctrl-C loses nothing that had finished. ``DIR/summary.json`` collects everything (layout in ``collect``) and
``DIR/report.html``/``report.md`` show it (numass.report.compare_report).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import platform
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from numass.analysis.tension import FLOORS, sigma_mark
from numass.likelihoods.tau_prior import DEFAULT_PRIOR as TAU_DEFAULT_PRIOR
from numass.likelihoods.tau_prior import TAU_PRIORS
log = logging.getLogger("numass")

HYPOTHESES = ("lcdm", "lensing_amplitude", "tau", "w0wa", "lscdm", "nu_interacting")
HYPOTHESIS_LABELS = {
    "lcdm": "ΛCDM + Σmν,eff (the null hypothesis)",
    "lensing_amplitude": "Lensing amplitude: A_L (smoothing of the primary spectra) and A_lens "
                         "(lensing reconstruction)",
    "tau": "Optical depth: Σmν,eff under a ladder of τ priors (entry: flat τ prior bounded by "
           "reionization)",
    "w0wa": "w0waCDM + Σmν,eff (CPL dark energy, PPF perturbations)",
    "lscdm": "ΛsCDM + Σmν,eff (Λ switching sign at z†)",
    "nu_interacting": "Dark-sector interaction: physical Σmν ≥ 0 in the expansion, free-streaming "
                      "suppression scaled by α_fs",
}
HYPOTHESIS_MODELS = {"lcdm": "lcdm", "lensing_amplitude": "alens", "tau": "lcdm", "w0wa": "w0wa",
                     "lscdm": "lscdm", "nu_interacting": "nu_interacting"}

EMBEDDED = ["desi-dr2-bao", "cmb-compressed"]
FULL = ["desi-dr2-bao", "planck2018-plik-lite-TTTEEE", "planck2018-lowl-TT", "tau-prior",
        "act-dr6-lensing"]
LENSING_IDS = ("planck-pr4-lensing", "planck-pr4-lensing-marged", "planck-pr4-lensing-polonly",
               "act-dr6-lensing", "act-dr6-lensing-lensonly", "spt3g-2018-lensing",
               "spt3g-2018-lensing-lensonly")
PRIMARY_IDS = ("planck2018-plik-lite-TTTEEE", "planck2018-plik-lite-TT", "planck2018-plik-lite-TE",
               "planck2018-plik-lite-EE", "planck2018-plik-lite-TEEE", "planck2018-lowl-TT")

# tau sampling prior of the spectra models (models.PRIMORDIAL): needed to normalise the Gaussian
# tau prior, which enters Cobaya as an (unnormalised) likelihood
TAU_SAMPLING_RANGE = (0.01, 0.8)
# Flat rung: tau >= 0.04 is what instantaneous reionization at z = 6 (the end of reionization seen
# in quasar Gunn-Peterson troughs) gives (with helium's second reionization at z = 3.5, CAMB);
# tau <= 0.12 is beyond every measurement since WMAP9 (0.089 +- 0.014) by two of its sigmas.
TAU_FLAT = (0.04, 0.12)
# The baseline rung is tau-prior's default, Planck 2018 lowE alone (0.0506 +- 0.0086); the wide and
# shifted rungs are defined from its mean and sigma, so that they move with it (docs/tau.md):
# one sigma down reaches the reionization floor (0.042 vs 0.04), two up the former high rung
TAU_BASE_MEAN, TAU_BASE_SIGMA = TAU_PRIORS[TAU_DEFAULT_PRIOR][:2]


def _shifted(n_sigma: float, width: float = 1.0) -> dict:
    return {"mean": round(TAU_BASE_MEAN + n_sigma * TAU_BASE_SIGMA, 4),
            "sigma": round(width * TAU_BASE_SIGMA, 4)}


def _pm(options: dict) -> str:
    return f"τ = {options['mean']:.4f} ± {options['sigma']:.4f}"


# name -> (label, tau-prior options or None for the flat rung)
TAU_LADDER = {
    "planck2018_lowE": (f"Planck 2018 lowE alone (the baseline): {_pm(_shifted(0))}",
                        {"prior": "planck2018-lowE"}),
    "planck2018_joint": ("Planck 2018 TT,TE,EE+lowE+lensing posterior (the former baseline; "
                         "counts the high-ℓ spectra twice): τ = 0.0544 ± 0.0073",
                         {"prior": "planck2018-TTTEEE-lowE-lensing"}),
    "planck_pr4": ("Planck PR4 HiLLiPoP + LoLLiPoP: τ = 0.058 ± 0.006", {"prior": "planck-pr4"}),
    "wide": (f"baseline mean, twice its width: {_pm(_shifted(0, 2))}", _shifted(0, 2)),
    "low": (f"baseline shifted down by its σ, to the reionization floor: {_pm(_shifted(-1))}",
            _shifted(-1)),
    "high": (f"baseline shifted up by twice its σ: {_pm(_shifted(2))}", _shifted(2)),
    "wmap9": ("WMAP9-like: τ = 0.089 ± 0.014", {"mean": 0.089, "sigma": 0.014}),
    "flat": (f"flat τ in [{TAU_FLAT[0]}, {TAU_FLAT[1]}] (reionization bounds)", None),
}
TAU_BASELINE = "planck2018_lowE"


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

    @classmethod
    def make(cls, quick: bool = False, **overrides) -> "Settings":
        base = (cls(rminus1=0.1, rminus1_cl=0.5, max_samples=10_000, nlive=50, dlogz=0.5,
                    is_draws=1500, emulator_fallback=False, quick=True) if quick else cls())
        for k, v in overrides.items():
            if v is not None:
                setattr(base, k, v)
        return base


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
        spec = {**self.spec(), "settings": asdict(settings)}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- planning the jobs

def _requires(lik_id: str) -> frozenset:
    """A likelihood's theory needs, from its class (no data files read)."""
    from numass.likelihoods import LIKELIHOODS

    module, cls, _ = LIKELIHOODS[lik_id]
    return getattr(importlib.import_module(module), cls).requires


def needs_spectra(datasets: list[str]) -> bool:
    return any("spectra" in _requires(i) for i in datasets)


def resolve_data(data: str | None) -> tuple[str, list[str]]:
    """'embedded' | 'full' | 'id,id,...' -> (label, data set ids)."""
    from numass.likelihoods import parse_ids

    if data in (None, "embedded"):
        return "embedded", list(EMBEDDED)
    if data == "full":
        return "full", list(FULL)
    return "custom", parse_ids(data)


def emulator_available() -> bool:
    """True when the emulator backend can be built here (its code and weights are present)."""
    try:
        from numass.theory import make_backend

        make_backend("emulator")
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means: not available
        log.debug("emulator backend not available: %s", exc)
        return False


def _model_backends(model: str) -> tuple[str, ...] | None:
    try:
        from numass.models import get_model

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
    from numass.likelihoods.tau_prior import TauPrior

    lo, hi = TAU_SAMPLING_RANGE
    return math.log(hi - lo) - TauPrior(**(options or {})).log_normalisation(lo, hi)


def _data_folder(lik_id: str) -> tuple[str | None, bool]:
    """(data set folder a likelihood reads, whether it has an embedded fallback)."""
    from numass.likelihoods import LIKELIHOODS

    module, cls, options = LIKELIHOODS[lik_id]
    klass = getattr(importlib.import_module(module), cls)
    if cls == "DesiBAO":
        from numass.likelihoods.bao import FILES

        release = options.get("release", "dr2")
        return FILES[release][0], release == "dr2"
    return getattr(klass, "dataset", None), False


def missing_data(datasets: list[str], data_dir: str | None = None) -> str | None:
    """Why these data sets cannot be read here (their folder is absent), or None."""
    from numass.data.store import data_dir as resolve

    root = resolve(data_dir)
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
    label, base = resolve_data(data)
    spectra = needs_spectra(base)
    if spectra and use_emulator is None:
        use_emulator = emulator_available()
        if not use_emulator:
            log.warning("the emulator backend is not available: the CMB-spectra fits use CAMB "
                        "(about 2 s per point; a full comparison then takes days, not an hour)")
    what = ", ".join(base)
    jobs: list[Job] = []

    def job(name, kind, model, datasets, **kw) -> Job:
        j = Job(name=name, kind=kind, model=model, datasets=list(datasets),
                backend=_backend_for(model, spectra, bool(use_emulator)),
                ln_evidence_offset=_tau_offset(datasets, kw.get("likelihood_options", {})
                                               .get("tau-prior")), **kw)
        jobs.append(j)
        return j

    # the six hypotheses
    job("lcdm", "hypothesis", "lcdm", base, label=HYPOTHESIS_LABELS["lcdm"], evidence=True,
        hypothesis="lcdm", params_of_interest=("H0", "omegam"))
    if spectra:
        job("lensing_amplitude", "hypothesis", "alens", base, evidence=True,
            label=HYPOTHESIS_LABELS["lensing_amplitude"], hypothesis="lensing_amplitude",
            params_of_interest=("A_L", "A_lens", "H0"))
    else:
        jobs.append(Job("lensing_amplitude", "hypothesis", HYPOTHESIS_LABELS["lensing_amplitude"],
                        "alens", list(base), hypothesis="lensing_amplitude",
                        skip=f"not constrained: A_L and A_lens scale the lensing of the CMB spectra "
                             f"and the lensing reconstruction, and these data ({what}) are "
                             f"background-only (BAO distances and the compressed CMB)"))
    tau_plan(jobs, base, spectra, what, job)
    job("w0wa", "hypothesis", "w0wa", base, label=HYPOTHESIS_LABELS["w0wa"], evidence=True,
        hypothesis="w0wa", params_of_interest=("w", "wa"))
    job("lscdm", "hypothesis", "lscdm", base, label=HYPOTHESIS_LABELS["lscdm"], evidence=True,
        hypothesis="lscdm", params_of_interest=("z_dagger",))
    job("nu_interacting", "hypothesis", "nu_interacting", base, evidence=True,
        label=HYPOTHESIS_LABELS["nu_interacting"], hypothesis="nu_interacting",
        params_of_interest=("alpha_fs",))

    # robustness variants (LCDM + Sigma m_nu,eff unless said otherwise)
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
    primary = [d for d in base if d in PRIMARY_IDS]
    if spectra and primary:
        no_lens = [d for d in base if d not in LENSING_IDS]
        others = [d for d in no_lens if d not in PRIMARY_IDS]
        job("AL_TT", "variant", "AL", others + ["planck2018-plik-lite-TT", "planck2018-lowl-TT"],
            label="A_L from TT-only primary CMB (plik_lite TT + low-ℓ TT), no lensing "
                  "reconstruction", params_of_interest=("A_L",))
        job("AL_TEEE", "variant", "AL", others + ["planck2018-plik-lite-TEEE"],
            label="A_L from TE+EE-only primary CMB (plik_lite TE+EE), no lensing reconstruction",
            params_of_interest=("A_L",))
        lensing_sets = {
            "lensing_none": ([], "no CMB-lensing reconstruction"),
            "lensing_pr4_mv": (["planck-pr4-lensing"], "Planck PR4 lensing (minimum variance)"),
            "lensing_pr4_polonly": (["planck-pr4-lensing-polonly"],
                                    "Planck PR4 lensing (polarization only)"),
            "lensing_act": (["act-dr6-lensing"], "ACT DR6 lensing alone"),
            "lensing_spt": (["spt3g-2018-lensing"], "SPT-3G 2018 lensing alone"),
            "lensing_all": (["planck-pr4-lensing", "act-dr6-lensing", "spt3g-2018-lensing"],
                            "Planck PR4 + ACT DR6 + SPT-3G lensing together (treated as "
                            "independent)"),
        }
        for name, (ids, text) in lensing_sets.items():
            job(name, "variant", "lcdm", no_lens + ids, label=text)

    if spectra and use_emulator and not allow_camb:
        for j in jobs:
            if not j.skip and j.backend is None:
                j.skip = (f"not run: with CMB spectra the {j.model} model needs CAMB at every "
                          f"point (its late-time engine rescales a CAMB run; the emulator does "
                          f"not serve it), about 2 s a point, so a converged chain takes about a "
                          f"day on 2 cores; run it with --allow-camb (e.g. --only {j.name} "
                          f"--allow-camb)")
    if check_data:
        for j in jobs:
            if not j.skip:
                j.skip = missing_data(j.datasets, data_dir)
    # the same sampling problem twice (same likelihoods, priors and theory; e.g. nu_interacting
    # on background-only data is LCDM with Sigma m_nu >= 0): run it once, reuse the results
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
    return jobs


def _problem_key(job: Job) -> str:
    """What defines the sampling problem (theory backend and fixed inputs, sampled parameters
    and their priors, likelihoods and options), as a string; read from the model definitions,
    without loading data. The job's own spec when the model does not exist."""
    from numass.models import get_model, sampled_params

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
    if not spectra:
        reason = (f"not constrained: the optical depth enters only through the CMB spectra "
                  f"(A_s e^-2τ, reionization bump), and these data ({what}) are background-only")
        jobs.append(Job("tau", "hypothesis", HYPOTHESIS_LABELS["tau"], "lcdm", list(base),
                        hypothesis="tau", skip=reason))
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
    job("tau", "hypothesis", "lcdm", flat.datasets, label=HYPOTHESIS_LABELS["tau"],
        param_overrides=flat.param_overrides, evidence=True, hypothesis="tau",
        params_of_interest=("tau",), chi2_exclude=("tau-prior",))
    jobs.insert(2, jobs.pop())  # keep the hypotheses first


# ---------------------------------------------------------------- running one job

def _progress_printer(name: str, log_name: str = "log.txt"):
    stream = sys.__stdout__ or sys.stdout

    def say(msg: str) -> None:
        msg = msg.replace("[numass] ", "").replace("progress below",
                                                   f"progress in {name}/{log_name}")
        stream.write(f"[numass compare] {name}: {msg}\n")
        stream.flush()

    return say


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# A job is two tasks run in separate processes: the posterior (run_analysis: best fit, MCMC,
# profiles; state in job.json) and, for the hypotheses, the evidence (state in evidence.json).
# They are independent, so the evidence runs beside a slow chain instead of after it.
STATE_FILE = {"posterior": "job.json", "evidence": "evidence.json"}
LOG_FILE = {"posterior": "log.txt", "evidence": "evidence_log.txt"}


def task_done(job: Job, part: str, out: Path, settings: Settings) -> bool:
    state = _read_json(out / job.name / STATE_FILE[part])
    return bool(state and state.get("fingerprint") == job.fingerprint(settings)
                and state.get("status") == "ok")


def job_done(job: Job, out: Path, settings: Settings) -> bool:
    return task_done(job, "posterior", out, settings) and (
        not job.evidence or task_done(job, "evidence", out, settings))


@contextlib.contextmanager
def _job_logging(logfile):
    """stdout, stderr, Cobaya's and numass's log records of one task -> its log file."""
    root = logging.getLogger()
    handlers_before = list(root.handlers)
    numass_handlers = list(log.handlers)
    for h in numass_handlers:
        log.removeHandler(h)
    file_handler = logging.StreamHandler(logfile)
    file_handler.setFormatter(logging.Formatter("[numass] %(message)s"))
    log.addHandler(file_handler)
    try:
        with contextlib.redirect_stdout(logfile), contextlib.redirect_stderr(logfile):
            yield
    finally:
        for h in list(root.handlers):  # Cobaya's handler on the log file: detach it
            if h not in handlers_before:
                root.removeHandler(h)
        log.removeHandler(file_handler)
        for h in numass_handlers:
            log.addHandler(h)


def execute(job: Job, out: Path, settings: Settings, data_dir: str | None = None,
            part: str = "posterior") -> dict:
    """Run one task of a job in ``out/<job.name>`` (resuming what an interrupted run left) and
    write its state file; a failure is recorded there as ``status: "error: ..."``."""
    folder = out / job.name
    folder.mkdir(parents=True, exist_ok=True)
    fp = job.fingerprint(settings)
    started_file = folder / f"started_{part}.json"
    resume = (_read_json(started_file) or {}).get("fingerprint") == fp
    started_file.write_text(json.dumps({"fingerprint": fp, "spec": job.spec()}, indent=1,
                                       default=str))
    say = _progress_printer(job.name, LOG_FILE[part])
    t0 = time.time()
    state = {"name": job.name, "part": part, "fingerprint": fp, "spec": job.spec(),
             "label": job.label}
    with open(folder / LOG_FILE[part], "a" if resume else "w") as logfile:
        try:
            with _job_logging(logfile):
                if part == "posterior":
                    summary = run_posterior(job, settings, data_dir, folder, resume, say)
                    m = summary["mnu_eff"]
                    say(f"posterior done in {time.time() - t0:.0f} s: Σmν,eff = "
                        f"{m['mean']:+.3f} ± {m['std']:.3f} eV, tension (normal ordering) "
                        f"{summary['tension_sigma']['normal_ordering']:.2f}σ Bayesian, "
                        f"{summary['tension_sigma_profile']['normal_ordering']:.2f}σ profile")
                else:
                    ev = run_evidence(job, settings, data_dir, say, folder=folder)
                    state.update(ev)
                    say(f"ln Z = {ev['ln_evidence']:.2f} ± {ev['ln_evidence_err']:.2f} "
                        f"({ev['n_calls']} likelihood calls, {time.time() - t0:.0f} s)")
            state["status"] = "ok"
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - one failing task must not stop the others
            state["status"] = f"error: {type(exc).__name__}: {exc}"
            (folder / f"traceback_{part}.txt").write_text(traceback.format_exc())
            say(f"FAILED ({state['status']}); details in {folder / f'traceback_{part}.txt'}")
    state["wall_seconds"] = round(time.time() - t0, 1)
    (folder / STATE_FILE[part]).write_text(json.dumps(state, indent=1, default=str))
    return state


def run_posterior(job: Job, settings: Settings, data_dir, folder: Path, resume: bool,
                  say) -> dict:
    from numass.inference.pipeline import run_analysis

    return run_analysis(
        model=job.model, datasets=job.datasets, out=folder, backend=theory_backend(job, settings),
        data_dir=data_dir, resume=resume, rminus1=settings.rminus1,
        max_samples=settings.max_samples, seed=settings.seed, progress=say,
        plots=job.name == "lcdm",  # the report draws the others over LCDM
        likelihood_options=job.likelihood_options or None,
        param_overrides=job.param_overrides or None,
        mcmc_options={"Rminus1_cl_stop": settings.rminus1_cl})


def hessian_box(model, info: dict, width: float = 20.0) -> dict:
    """{param: (lo, hi)}: the evidence's sampling box (the prior's edges apply on top).

    Best fit ± ``width`` sigma of the Hessian there; when the Hessian is not positive definite
    (a best fit on a prior edge: Sigma m_nu = 0 in nu_interacting, z_dagger = 3 in lscdm), each
    parameter's own curvature (one-sided at an edge) with twice the width, since it ignores the
    correlations; a parameter with no curvature gets no bound."""
    import numpy as np

    from numass.inference.optimize import best_fit, hessian_covmat

    widths = {n: v["proposal"] for n, v in info["params"].items()
              if isinstance(v, dict) and "proposal" in v}
    refs = {n: v["ref"]["loc"] for n, v in info["params"].items()
            if isinstance(v, dict) and "ref" in v}
    names = list(model.parameterization.sampled_params())
    bf = best_fit(model, [refs], widths)
    for rel_step in (0.5, 0.1, 0.03):
        cov = hessian_covmat(model, bf, widths, rel_step=rel_step)
        if cov is not None:
            sd = np.sqrt(np.diag(cov))
            return {n: (bf[n] - width * s, bf[n] + width * s) for n, s in zip(names, sd)}

    def f(x):
        lp = model.logpost(dict(zip(names, x)))
        return -lp if np.isfinite(lp) else np.nan

    x0 = np.array([bf[n] for n in names])
    f0 = f(x0)
    box = {}
    for i, n in enumerate(names):
        e = np.zeros(len(names))
        e[i] = 0.1 * widths[n]
        fp, fm = f(x0 + e), f(x0 - e)
        if np.isfinite(fp) and np.isfinite(fm):
            d2 = fp - 2 * f0 + fm
        elif np.isfinite(fp):
            d2 = f(x0 + 2 * e) - 2 * fp + f0
        elif np.isfinite(fm):
            d2 = f(x0 - 2 * e) - 2 * fm + f0
        else:
            continue
        if np.isfinite(d2) and d2 > 0:
            sd = e[i] / np.sqrt(d2)
            box[n] = (bf[n] - 2 * width * sd, bf[n] + 2 * width * sd)
    return box


def theory_backend(job: Job, settings: Settings) -> str | None:
    """The backend the job's runs use: 'emulator-box' when the settings turn CAMB fallback off."""
    if job.backend == "emulator" and not settings.emulator_fallback:
        return "emulator-box"
    return job.backend


def evidence_method(job: Job, settings: Settings) -> str:
    """'dynesty' or 'importance' for this job (see Settings.evidence_method)."""
    if settings.evidence_method not in ("auto", "dynesty", "importance"):
        from numass.errors import InputError

        raise InputError(f"evidence method '{settings.evidence_method}': use auto, dynesty or "
                         f"importance")
    if settings.evidence_method != "auto":
        return settings.evidence_method
    return "importance" if job.backend == "emulator" or needs_spectra(job.datasets) else "dynesty"


def chain_samples(folder: Path, names: list[str]):
    """(samples (m, d) of ``names``, weights) of the job's chains, burn-in removed as in the
    posterior summary (the first 30%)."""
    from getdist import loadMCSamples

    root = folder / "chains" / "numass"
    if not list(root.parent.glob("numass*.txt")):
        from numass.errors import NumassError

        raise NumassError(f"no chains in {root.parent}: the posterior task must finish first")
    s = loadMCSamples(str(root), settings={"ignore_rows": 0.3})
    return s.samples[:, [s.index[n] for n in names]], s.weights


def box_edge_weights(folder: Path, near: float = 0.02) -> dict[str, float]:
    """Posterior weight within ``near`` x (box width) of an edge of the emulator's box, per
    sampled parameter (and 'w+wa' for the w0 + wa < W_SUM_MAX cut), where it exceeds 1%: with
    'emulator-box' these edges act as prior edges, so weight there means a truncated posterior."""
    import numpy as np
    from getdist import loadMCSamples

    from numass.emulator import design

    s = loadMCSamples(str(folder / "chains" / "numass"), settings={"ignore_rows": 0.3})
    w = s.weights / s.weights.sum()
    col = {n: s.samples[:, s.index[n]] for n in design.PARAMS if n in s.index}
    out = {}
    for n, x in col.items():
        lo, hi = design.BOX[n]
        tol = near * (hi - lo)
        # an edge the prior also has (e.g. the flat tau rung's 0.12) truncates nothing new
        p_lo, p_hi = s.ranges.getLower(n), s.ranges.getUpper(n)
        at_lo = (x < lo + tol) if p_lo is None or p_lo < lo - tol else np.zeros(len(x), bool)
        at_hi = (x > hi - tol) if p_hi is None or p_hi > hi + tol else np.zeros(len(x), bool)
        out[n] = float(w[at_lo | at_hi].sum())
    if "w" in col and "wa" in col:
        out["w+wa"] = float(w[col["w"] + col["wa"] > design.W_SUM_MAX - near].sum())
    return {n: v for n, v in out.items() if v > 0.01}


def run_evidence(job: Job, settings: Settings, data_dir: str | None, say=None,
                 folder: Path | None = None) -> dict:
    """ln Z of the job's model and data. dynesty: inside the box of ``hessian_box`` (prior edges
    apply); on the full prior when there is no box or the posterior reaches the box's edge.
    importance: draws from a Student-t fitted to the job's chain in ``folder``."""
    from cobaya.model import get_model

    from numass.inference.evidence import importance_evidence, log_evidence
    from numass.inference.setup import build_info

    info = build_info(job.model, job.datasets, backend=theory_backend(job, settings),
                      data_dir=data_dir, likelihood_options=job.likelihood_options or None,
                      param_overrides=job.param_overrides or None)
    model = get_model(info)

    def progress(n):  # into the task's log, where the heartbeat reads it
        print(f"[evidence] {n} likelihood calls", flush=True)

    if evidence_method(job, settings) == "importance":
        if say:
            say(f"evidence by importance sampling ({settings.is_draws} draws from a Student-t "
                f"fitted to the chain)")
        names = list(model.parameterization.sampled_params())
        samples, weights = chain_samples(folder, names)
        ev = importance_evidence(model, samples, weights, n=settings.is_draws,
                                 seed=settings.seed, progress=progress)
        if "warning" in ev:
            log.warning("%s: %s", job.name, ev["warning"])
        return _offset(ev, job)
    if say:
        say(f"nested sampling for the evidence (dynesty, {settings.nlive} live points)")
    box = hessian_box(model, info)
    ev = None
    if box:
        print(f"[evidence] box: {json.dumps({k: [float(a), float(b)] for k, (a, b) in box.items()})}",
              flush=True)
        ev = log_evidence(model, nlive=settings.nlive, dlogz=settings.dlogz, seed=settings.seed,
                          bounds=box, progress=progress)
        if ev["edge_weight"] > 1e-3:
            log.warning("%s: %.1g of the evidence's posterior weight at the box's edge; "
                        "rerunning on the full prior", job.name, ev["edge_weight"])
            ev = None
    if ev is None:
        if say:
            say("evidence on the full prior (no usable box; slower)")
        print("[evidence] full prior", flush=True)
        ev = log_evidence(model, nlive=settings.nlive, dlogz=settings.dlogz, seed=settings.seed,
                          progress=progress)
    ev["method"] = "dynesty"
    return _offset(ev, job)


def _offset(ev: dict, job: Job) -> dict:
    """Add the normalisation of Gaussian priors written as likelihoods (Job.ln_evidence_offset)."""
    ev["ln_evidence_cobaya"] = ev["ln_evidence"]
    ev["ln_evidence_offset"] = job.ln_evidence_offset
    ev["ln_evidence"] += job.ln_evidence_offset
    return ev


def _child(job: Job, out: Path, settings: Settings, data_dir: str | None, part: str,
           threads: int | None = None) -> None:
    from threadpoolctl import threadpool_limits

    # the workers share the cores: BLAS/OpenMP threads inherited from the parent (one per core
    # each) would oversubscribe them (measured: 2 workers x 2 busy threads on 2 cores)
    limits = threadpool_limits(threads) if threads else contextlib.nullcontext()
    try:
        with limits:
            execute(job, out, settings, data_dir, part)
    except KeyboardInterrupt:
        sys.exit(130)


def _latest_progress(folder: Path, part: str) -> str:
    """The last convergence figure a task's log shows (for the heartbeat lines)."""
    try:
        with open(folder / LOG_FILE[part], "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 20000))
            tail = f.read().decode(errors="replace").splitlines()
    except OSError:
        return "starting"
    for line in reversed(tail):
        if line.startswith("[evidence]") and "likelihood calls" in line:
            return "evidence, " + line.split("]", 1)[1].strip()
        if line.startswith("[evidence] full prior"):
            return "evidence on the full prior"
        if "Sampling complete" in line or "has converged" in line:
            return "MCMC done; best fit, profiles"
        if "Convergence of means" in line:
            return "MCMC, R-1 = " + line.split("R-1 =")[1].split()[0]
        if "Sampling!" in line:
            return "MCMC, first steps"
    return ("best fit" if part == "posterior" else "evidence, best fit") if tail else "starting"


def _cost(job: Job, part: str) -> float:
    """Rough relative cost, to start the slowest tasks first."""
    n = len(job.datasets) + 2 * (job.model != "lcdm") + 3 * ("w0wa" in job.model)
    return n if part == "posterior" else n / 3


def _can_start(task, pending, running, settings: Settings) -> bool:
    """An importance-sampling evidence task needs its job's chain: it waits for the posterior."""
    job, part = task
    if part == "posterior" or evidence_method(job, settings) != "importance":
        return True
    busy = [(j.name, p) for _, j, p in running.values()] + [(j.name, p) for j, p in pending]
    return (job.name, "posterior") not in busy


def run_jobs(jobs: list[Job], out: Path, settings: Settings, data_dir: str | None = None,
             workers: int = 2, say=print, heartbeat: float = 60.0) -> None:
    """Run the tasks not finished yet, ``workers`` at a time, each in its own process."""
    todo = [j for j in jobs if not j.skip and not j.same_as]
    tasks = [(j, part) for j in todo for part in ("posterior", "evidence")
             if part == "posterior" or j.evidence]
    done = [t for t in tasks if task_done(*t, out, settings)]
    if done:
        names = sorted({j.name for j, _ in done if job_done(j, out, settings)})
        say(f"[numass compare] already finished in {out}, kept: "
            f"{', '.join(names) or '-'} ({len(done)} task(s))")
    pending = [t for t in tasks if t not in done]
    pending.sort(key=lambda t: -_cost(*t))
    if not pending:
        return
    workers = max(1, min(workers, len(pending)))
    say(f"[numass compare] {len(pending)} task(s) to run, {workers} at a time: "
        f"{', '.join(j.name + ('' if part == 'posterior' else ' (evidence)') for j, part in pending)}")
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                      else "spawn")
    running: dict = {}
    threads = max(1, (os.cpu_count() or 1) // workers)
    n_total, n_done = len(pending), 0
    t0 = last_beat = time.time()

    def on_sigterm(signum, frame):  # a kill (e.g. a CI timeout) stops the workers too
        raise SystemExit(128 + signum)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while pending or running:
            if time.time() - last_beat > heartbeat:  # a line a minute while the chains run
                last_beat = time.time()
                say("[numass compare] running: " + "; ".join(
                    f"{j.name} ({_latest_progress(out / j.name, part)})"
                    for _, j, part in running.values())
                    + f"; {len(pending)} waiting; {time.time() - t0:.0f} s elapsed")
            while len(running) < workers:
                ready_task = next((t for t in pending if _can_start(t, pending, running,
                                                                    settings)), None)
                if ready_task is None:
                    break
                pending.remove(ready_task)
                j, part = ready_task
                sys.stdout.flush()  # a forked worker must not inherit unwritten output
                sys.stderr.flush()
                p = ctx.Process(target=_child, args=(j, out, settings, data_dir, part, threads),
                                name=f"{j.name}-{part}")
                p.start()
                running[p.sentinel] = (p, j, part)
            ready = multiprocessing.connection.wait(list(running), timeout=5)
            for s in ready:
                p, j, part = running.pop(s)
                p.join()
                n_done += 1
                state = _read_json(out / j.name / STATE_FILE[part])
                if state is None or state.get("fingerprint") != j.fingerprint(settings):
                    if p.exitcode == 130:  # interrupted: nothing to record
                        continue
                    state = {"name": j.name, "part": part, "fingerprint": j.fingerprint(settings),
                             "spec": j.spec(), "label": j.label,
                             "status": f"error: the worker process died (exit code {p.exitcode})"}
                    (out / j.name).mkdir(parents=True, exist_ok=True)
                    (out / j.name / STATE_FILE[part]).write_text(json.dumps(state, indent=1))
                what = j.name + ("" if part == "posterior" else " (evidence)")
                say(f"[numass compare] {n_done}/{n_total} finished: {what} "
                    f"({state['status'][:120]}), {time.time() - t0:.0f} s elapsed")
    except BaseException as exc:
        # Ctrl-C reached the workers too: give them a moment to stop; anything else: stop them
        for p, _, _ in running.values():
            p.join(timeout=10 if isinstance(exc, KeyboardInterrupt) else 0)
            if p.is_alive():
                p.terminate()
                p.join()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def select(jobs: list[Job], only: list[str]) -> list[Job]:
    """Keep the jobs named in ``only`` (others: 'not run: not selected'); InputError on a name
    that is not a job."""
    from numass.errors import InputError

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


def compare(data: str | None = "embedded", out: str | Path = "numass-compare", quick: bool = False,
            data_dir: str | None = None, workers: int | None = None, report: bool = True,
            settings: Settings | None = None, say=print, jobs: list[Job] | None = None,
            only: list[str] | None = None, allow_camb: bool = False) -> dict:
    """Plan, run (resuming) and collect the comparison; write summary.json and the report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings or Settings.make(quick=quick)
    jobs = jobs if jobs is not None else plan(data, data_dir=data_dir, allow_camb=allow_camb)
    if only:
        jobs = select(jobs, only)
    data_label, base = resolve_data(data)
    workers = workers or min(2, os.cpu_count() or 1)
    t0 = time.time()
    say(f"[numass compare] {data_label} data ({', '.join(base)}); {len(jobs)} jobs; output in "
        f"{out}{'; quick settings' if settings.quick else ''}")
    # the models' imports happen once here, so that forked workers start at once
    import cobaya.model  # noqa: F401

    import numass.inference.pipeline  # noqa: F401
    try:
        run_jobs(jobs, out, settings, data_dir=data_dir, workers=workers, say=say)
    finally:  # even on Ctrl-C: what has finished is collected
        summary = collect(jobs, out, settings, data_label, base, wall=time.time() - t0)
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default))
    if report:
        from numass.report.compare_report import write_report

        say("[numass compare] writing the report (figures, report.html, report.md)")
        write_report(summary, out)
        summary["report_wall_seconds"] = round(time.time() - t0 - summary["wall_seconds"], 1)
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default))
    return summary


def _json_default(o):
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


# ---------------------------------------------------------------- collecting the results

def _chi2(summary: dict, exclude: tuple[str, ...] = ()) -> float:
    by = summary["bestfit"].get("chi2_by_likelihood", {})
    if not by:
        return summary["bestfit"]["chi2"]
    return float(sum(v for k, v in by.items() if k not in exclude))


def _tension(summary: dict) -> dict:
    """{floor: {bayes, profile, ...}}: 'bayes_extrapolated' where too few effective chain samples
    lie above the floor and the Bayesian figure comes from a fit to the marginal (then
    'bayes_method' names the fit and 'bayes_bound' is the 95% lower bound the samples alone
    support); 'bayes_lower_bound' only where the figure itself is a bound."""
    bound = summary.get("tension_sigma_lower_bound", [])
    details = summary.get("tension_bayes", {})
    out = {}
    for label in FLOORS:
        t = {"bayes": summary["tension_sigma"][label],
             "profile": summary["tension_sigma_profile"][label]}
        if label in bound:
            t["bayes_lower_bound"] = True
        d = details.get(label)
        if d:
            t.update({"bayes_method": d["method"], "bayes_ess": d["ess"],
                      "bayes_counted": d["sigma_counted"], "bayes_bound": d["sigma_bound"]})
            if d["extrapolated"]:
                t["bayes_extrapolated"] = True
        out[label] = t
    return out


def _empty(status: str, label: str, **extra) -> dict:
    return {"label": label, "status": status, "mnu_eff": None,
            "tension_sigma": {label_: {"bayes": None, "profile": None} for label_ in FLOORS},
            "delta_chi2": None, "delta_aic": None, "ln_evidence": None, "ln_evidence_err": None,
            "bestfit": None, **extra}


def _sampled(folder: Path) -> list[str]:
    cov = folder / "proposal.covmat"
    try:
        return cov.read_text().splitlines()[0].lstrip("#").split()
    except (OSError, IndexError):
        return []


def _job_result(job: Job, jobs_by_name: dict, out: Path, settings: Settings) -> tuple[dict, dict | None]:
    """(entry, run summary or None) for one job, following same_as."""
    src = jobs_by_name[job.same_as] if job.same_as else job
    if job.skip:
        return _empty(job.skip, job.label), None
    state = _read_json(out / src.name / "job.json")
    if state is None or state.get("fingerprint") != src.fingerprint(settings):
        return _empty("not run (interrupted before it finished; rerun the command to resume)",
                      job.label), None
    if state["status"] != "ok":
        return _empty(state["status"], job.label), None
    summary = _read_json(out / src.name / "summary.json")
    if summary is None:
        return _empty("error: summary.json missing", job.label), None
    summary["sampled_params"] = _sampled(out / src.name)
    entry = {"label": job.label, "status": "ok", "model": job.model, "datasets": job.datasets,
             "folder": src.name, "mnu_eff": summary["mnu_eff"], "tension_sigma": _tension(summary),
             "bestfit": summary["bestfit"], "n_params": len(summary["sampled_params"]),
             "rminus1": summary.get("rminus1"), "converged": summary.get("converged"),
             "n_samples": summary.get("n_samples"), "wall_seconds": state.get("wall_seconds"),
             "backend": summary.get("backend")}
    if job.same_as:
        entry["same_as"] = job.same_as
    if theory_backend(src, settings) == "emulator-box":
        try:
            edges = box_edge_weights(out / src.name)
        except Exception as exc:  # noqa: BLE001 - a diagnostic must not lose the results
            edges = {"unknown": f"{type(exc).__name__}: {exc}"}
        if edges:
            entry["emulator_box_edge_weight"] = edges
    poi = {p: summary["params"][p] for p in job.params_of_interest if p in summary["params"]}
    if poi:
        entry["params"] = poi
    if src.evidence:
        ev = _read_json(out / src.name / "evidence.json")
        if ev is None or ev.get("fingerprint") != src.fingerprint(settings):
            entry["evidence_status"] = "not run (interrupted; rerun the command to resume)"
        elif ev["status"] != "ok":
            entry["evidence_status"] = ev["status"]
        else:
            entry["evidence_status"] = "ok"
            entry["ln_evidence"], entry["ln_evidence_err"] = ev["ln_evidence"], ev["ln_evidence_err"]
            entry["evidence"] = {k: ev[k] for k in (
                "method", "n_calls", "nlive", "dlogz", "information", "ln_evidence_offset",
                "ln_prior_mass_of_box", "edge_weight", "ess", "wall_seconds", "warning")
                if k in ev}
    return entry, summary


def collect(jobs: list[Job], out: Path, settings: Settings, data_label: str, base: list[str],
            wall: float = math.nan) -> dict:
    """DIR/summary.json: hypotheses.{name}.{mnu_eff, tension_sigma.{normal_ordering,
    inverted_ordering}.{bayes, profile}, delta_chi2, delta_aic, ln_evidence, ln_evidence_err,
    bestfit, status}, hypotheses.tau.ladder.{rung}, variants.{name}, claims, settings, software."""
    by_name = {j.name: j for j in jobs}
    results = {j.name: _job_result(j, by_name, out, settings) for j in jobs}
    ref_entry, ref = results.get("lcdm", (None, None))
    hypotheses = {}
    for name in HYPOTHESES:
        if name not in results:
            hypotheses[name] = _empty("not planned", HYPOTHESIS_LABELS[name])
            continue
        entry, summary = results[name]
        entry = {**entry}
        entry.setdefault("ln_evidence", None)
        entry.setdefault("ln_evidence_err", None)
        entry.setdefault("delta_chi2", None)
        entry.setdefault("delta_aic", None)
        if summary is not None and ref is not None:
            exclude = by_name[name].chi2_exclude
            dchi2 = _chi2(summary, exclude) - _chi2(ref, exclude)
            entry["delta_chi2"] = dchi2
            entry["delta_aic"] = dchi2 + 2 * (len(summary["sampled_params"])
                                              - len(ref["sampled_params"]))
            if (name != "lcdm" and entry.get("ln_evidence") is not None
                    and ref_entry.get("ln_evidence") is not None):
                entry["ln_bayes_factor_vs_lcdm"] = entry["ln_evidence"] - ref_entry["ln_evidence"]
                entry["ln_bayes_factor_err"] = math.hypot(entry["ln_evidence_err"],
                                                          ref_entry["ln_evidence_err"])
            if exclude:
                entry["delta_chi2_excludes"] = list(exclude)
        entry["model"] = by_name[name].model
        entry["verdict"] = verdict(name, entry)
        hypotheses[name] = entry
    ladder = {j.name[len("tau_"):]: results[j.name][0] for j in jobs if j.kind == "ladder"}
    hypotheses["tau"]["ladder"] = ladder
    variants = {j.name: results[j.name][0] for j in jobs if j.kind == "variant"}
    warnings = []
    for j in jobs:
        e = results[j.name][0]
        if e.get("emulator_box_edge_weight") and not j.same_as:
            warnings.append(
                f"{j.name}: posterior weight at the emulator box's edge (the box is part of the "
                f"prior with --quick; rerun without --quick, which sends points outside it to "
                f"CAMB): " + ", ".join(f"{k} {v:.0%}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in e["emulator_box_edge_weight"].items()))
        if (e.get("evidence") or {}).get("warning"):
            warnings.append(f"{j.name}: evidence: {e['evidence']['warning']}")
    summary = {
        "numass_compare": 1,
        "data": {"label": data_label, "datasets": base, "citations": citations(
            sorted({d for j in jobs for d in j.datasets}))},
        "hypotheses": hypotheses,
        "variants": variants,
        "warnings": warnings,
        "floors_eV": FLOORS,
        "definitions": DEFINITIONS,
        "settings": asdict(settings),
        "priors": priors(jobs),
        "software": software_versions(),
        "wall_seconds": round(wall, 1),
        "jobs": {j.name: {"kind": j.kind, "model": j.model, "datasets": j.datasets,
                          "backend": j.backend, "skip": j.skip, "same_as": j.same_as,
                          "likelihood_options": j.likelihood_options,
                          "param_overrides": j.param_overrides}
                 for j in jobs},
    }
    summary["claims"] = claims(summary)
    return summary


DEFINITIONS = {
    "tension_sigma.bayes": "posterior mass of Σmν,eff above the floor, as a two-sided "
                           "Gaussian-equivalent σ (floors: normal ordering 0.0588 eV, inverted "
                           "0.099 eV); counted from the chain when ≥ 25 effective samples (the "
                           "chain's effective sample size from its autocorrelation, times the "
                           "mass fraction) lie above the floor; otherwise '≈' "
                           "(bayes_extrapolated): the tail mass of a Gaussian fit to the "
                           "marginal (skew-normal when its skewness is significant), an "
                           "extrapolation, with bayes_bound the 95% lower bound the samples alone "
                           "support (in brackets in the tables); '≥' (bayes_lower_bound) only for a figure that is itself "
                           "such a bound",
    "tension_sigma.profile": "sqrt(χ²(Σmν,eff = floor) − χ²_min) from best fits (0 when the best "
                             "fit is above the floor)",
    "delta_chi2": "χ²_min(hypothesis) − χ²_min(ΛCDM), on the same likelihoods (for tau, without "
                  "the τ-prior term); negative = better fit",
    "delta_aic": "Δχ² + 2 Δk, k = number of sampled parameters; negative favours the hypothesis",
    "ln_evidence": "ln Z over the sampled parameters' priors (Gaussian τ priors normalised), "
                   "from dynesty nested sampling or, for CMB-spectra fits, importance sampling "
                   "from the converged chain (evidence.method); ln_bayes_factor_vs_lcdm = ln Z − ln Z_ΛCDM, "
                   "positive favours the hypothesis (Jeffreys-like scale: |ln B| < 1 "
                   "inconclusive, 1-2.5 weak, 2.5-5 moderate, > 5 strong)",
    "verdict": "relieves the tension when the Bayesian normal-ordering tension is below 2σ, "
               "removes it below 1σ; the fit and evidence words follow ΔAIC and ln B",
}


def _strength(lnb: float) -> str:
    a = abs(lnb)
    word = ("inconclusive" if a < 1 else "weak" if a < 2.5 else "moderate" if a < 5 else "strong")
    if a < 1:
        return word
    return f"{word} evidence {'for' if lnb > 0 else 'against'}"


def verdict(name: str, e: dict) -> str:
    if e["status"] != "ok":
        return "not tested: " + e["status"]
    no = e["tension_sigma"]["normal_ordering"]
    t, mark = no["bayes"], sigma_mark(no)
    how = "Bayesian, extrapolated from a fit to the marginal" if mark == "≈" else "Bayesian"
    what = ("removes" if t < 1 else "relieves" if t < 2 else "does not remove")
    text = f"{what} the tension ({mark}{t:.1f}σ {how})"
    if name == "lcdm":
        return f"reference: {mark}{t:.1f}σ below the normal-ordering floor ({how})"
    if e.get("delta_aic") is not None:
        text += f"; ΔAIC = {e['delta_aic']:+.1f}"
    if e.get("ln_bayes_factor_vs_lcdm") is not None:
        lnb = e["ln_bayes_factor_vs_lcdm"]
        text += f"; ln B = {lnb:+.1f} ± {e['ln_bayes_factor_err']:.1f} ({_strength(lnb)})"
    return text


def citations(ids: list[str]) -> dict:
    from numass.data import embedded
    from numass.data.registry import get_dataset
    from numass.likelihoods import LIKELIHOODS
    out = {}
    for i in ids:
        if i not in LIKELIHOODS:
            continue
        module, cls, _ = LIKELIHOODS[i]
        dataset = getattr(getattr(importlib.import_module(module), cls), "dataset", None)
        if i == "cmb-compressed":
            out[i] = embedded.CMB_COMPRESSED_CITATION
        elif i == "tau-prior":
            out[i] = "; ".join(
                f"{k}{' (the default: the baseline)' if k == TAU_DEFAULT_PRIOR else ''}: "
                f"τ = {m} ± {sd}, {cite}" for k, (m, sd, cite) in TAU_PRIORS.items())
        elif dataset:
            try:
                out[i] = get_dataset(dataset).citation
            except Exception:  # noqa: BLE001
                out[i] = dataset
            if i.startswith("desi-dr2"):
                out[i] += (" (the embedded table, " + embedded.DESI_DR2_BAO_CITATION
                           + ", when the data directory lacks the files)")
    return out


def priors(jobs: list[Job]) -> dict:
    """Each model's sampled parameters and priors as Cobaya receives them (first job per model)."""
    from numass.inference.setup import build_info

    out = {}
    for j in jobs:
        key = j.name
        if j.skip or j.same_as or j.kind == "variant" and not j.param_overrides:
            continue
        try:
            info = build_info(j.model, j.datasets, backend=j.backend,
                              likelihood_options=j.likelihood_options or None,
                              param_overrides=j.param_overrides or None,
                              data_dir=os.environ.get("NUMASS_DATA_DIR"))
        except Exception as exc:  # noqa: BLE001 - a missing model or data set: say so
            out[key] = {"error": str(exc)}
            continue
        out[key] = {n: v["prior"] for n, v in info["params"].items()
                    if isinstance(v, dict) and "prior" in v}
        fixed = info["theory"]["numass"]["fixed"]
        if fixed:
            out[key]["fixed"] = fixed
    return out


def software_versions() -> dict:
    from importlib import metadata

    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("numass", "numpy", "scipy", "cobaya", "camb", "getdist", "dynesty", "matplotlib"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    try:
        import subprocess

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=Path(__file__).parent, timeout=5).stdout.strip()
        if commit:
            versions["numass_git_commit"] = commit
    except Exception:  # noqa: BLE001 - not a checkout
        pass
    return versions


# ---------------------------------------------------------------- the review's claims

def _get(d, *keys):
    for k in keys:
        if d is None:
            return None
        d = d.get(k) if isinstance(d, dict) else None
    return d


def claims(s: dict) -> list[dict]:
    """The review's claims beside numass's measurement, each with a rule fixed in advance.

    Each entry: claim, measured (text with numbers), verdict ('agrees', 'disagrees', 'partly',
    'not testable on these data'), rule (how the verdict follows from the numbers).
    """
    H, V = s["hypotheses"], s["variants"]
    out = []

    def add(claim, measured, verdict_, rule):
        out.append({"claim": claim, "measured": measured, "verdict": verdict_, "rule": rule})

    def nt(e):
        return f"not testable on these data ({e['status']})" if e else "not testable on these data"

    def sig(e, *others):
        """The normal-ordering tension the rules compare, and its kind: Bayesian, or the profile
        one for all of them when a Bayesian figure is a lower bound or an extrapolation (too few
        chain samples above the floor), since differences of those mean little."""
        ts = [x["tension_sigma"]["normal_ordering"] for x in (e, *others)]
        key = "profile" if any(sigma_mark(t) for t in ts) else "bayes"
        return [t[key] for t in ts], ("profile" if key == "profile" else "Bayesian")

    fallback = ("; when a Bayesian tension is a lower bound or extrapolated from a fit to the "
                "marginal (too few chain samples above the floor), the profile tensions are "
                "compared instead")

    lc = H["lcdm"]
    claim = "The posterior peaks near Σmν ≈ −0.15 eV, 2.5–3σ below 0.059 eV"
    rule = ("agrees when −0.15 eV lies in the measured 68% interval and the Bayesian "
            "normal-ordering tension lies in [2.5, 3.0]σ; partly when one of the two holds"
            + fallback)
    if lc["status"] == "ok":
        m, t = lc["mnu_eff"], lc["tension_sigma"]["normal_ordering"]
        a = m["lower68"] <= -0.15 <= m["upper68"]
        (t_lc,), _ = sig(lc)
        b = 2.5 <= t_lc <= 3.0
        bound = sigma_mark(t)
        add(claim, f"ΛCDM: Σmν,eff = {m['mean']:+.3f} ± {m['std']:.3f} eV (68%: "
                   f"[{m['lower68']:+.3f}, {m['upper68']:+.3f}]; best fit "
                   f"{lc['bestfit']['mnu_eff']:+.3f} eV); tension {bound}{t['bayes']:.2f}σ "
                   f"Bayesian, {t['profile']:.2f}σ profile",
            "agrees" if a and b else "partly" if a or b else "disagrees", rule)
    else:
        add(claim, nt(lc), "not testable on these data", rule)

    al = H["lensing_amplitude"]
    claim = "A_L systematics alone cannot remove the pull without a new tension in H0"
    rule = ("agrees when with A_L, A_lens free the Bayesian normal-ordering tension stays ≥ 2σ, "
            "or when H0 moves by more than 1σ (of ΛCDM's posterior) to remove it")
    if al["status"] == "ok" and lc["status"] == "ok":
        t = al["tension_sigma"]["normal_ordering"]["bayes"]
        h_al, lc_sum = _get(al, "params", "H0"), _get(lc, "params", "H0")
        shift = None
        if h_al and lc_sum:
            shift = (h_al["mean"] - lc_sum["mean"]) / lc_sum["std"]
        a_l = _get(al, "params", "A_L")
        txt = (f"A_L = {a_l['mean']:.3f} ± {a_l['std']:.3f}; " if a_l else "") + \
            f"tension {t:.2f}σ Bayesian" + (f"; H0 shift {shift:+.2f}σ vs ΛCDM" if shift is not None else "")
        ok = t >= 2 or (shift is not None and abs(shift) > 1)
        add(claim, txt, "agrees" if ok else "disagrees", rule)
    else:
        add(claim, nt(al), "not testable on these data", rule)

    tau = H["tau"]
    claim = "Pushing τ to its lowest allowed values only reduces the tension from 3σ to about 2.2σ"
    rule = ("agrees when the lowest-τ rung lowers the Bayesian tension relative to the Planck "
            "2018 lowE rung and ends within 0.3σ of 2.2σ; partly when it lowers it by another "
            "amount; disagrees when it raises it" + fallback)
    ladder = tau.get("ladder", {})
    lo, base = ladder.get("low"), ladder.get(TAU_BASELINE)
    if lo and base and lo["status"] == "ok" and base["status"] == "ok":
        ok_rungs = {k: v for k, v in ladder.items() if v["status"] == "ok"}
        (t_lo, t_b, *ts), kind = sig(lo, base, *ok_rungs.values())
        rungs = dict(zip(ok_rungs, ts))
        best = min(rungs, key=rungs.get)
        low = TAU_LADDER["low"][1]
        txt = (f"lowE rung {t_b:.2f}σ → lowest-τ rung ({low['mean']} ± {low['sigma']}) "
               f"{t_lo:.2f}σ; lowest tension on the ladder: {rungs[best]:.2f}σ ({best}); "
               f"{kind} tensions")
        v = ("agrees" if t_lo < t_b and abs(t_lo - 2.2) <= 0.3 else
             "partly" if t_lo < t_b else "disagrees")
        add(claim, txt, v, rule)
    else:
        add(claim, nt(tau), "not testable on these data", rule)

    nl = V.get("no_lrg1")
    claim = "Removing the DESI LRG bins at z < 0.6 significantly reduces the tension"
    rule = ("agrees when dropping the LRG 0.4 < z < 0.6 bin lowers the Bayesian normal-ordering "
            "tension by ≥ 0.5σ; partly for a smaller reduction; disagrees when it rises"
            + fallback)
    if nl and nl["status"] == "ok" and lc["status"] == "ok":
        (t0_, t1), kind = sig(lc, nl)
        m = nl["mnu_eff"]
        add(claim, f"{t0_:.2f}σ with all bins → {t1:.2f}σ without LRG1 (Σmν,eff = "
                   f"{m['mean']:+.3f} ± {m['std']:.3f} eV); {kind} tensions",
            "agrees" if t0_ - t1 >= 0.5 else "partly" if t1 < t0_ else "disagrees", rule)
    else:
        add(claim, nt(nl), "not testable on these data", rule)

    w = H["w0wa"]
    claim = "w0wa moves Σmν back to positive values"
    rule = "agrees when the w0wa posterior mean of Σmν,eff is > 0; partly when its 68% upper " \
           "edge is above the normal-ordering floor but the mean is ≤ 0"
    if w["status"] == "ok":
        m = w["mnu_eff"]
        t = w["tension_sigma"]["normal_ordering"]["bayes"]
        add(claim, f"w0wa: Σmν,eff = {m['mean']:+.3f} ± {m['std']:.3f} eV (68%: "
                   f"[{m['lower68']:+.3f}, {m['upper68']:+.3f}]); tension {t:.2f}σ Bayesian",
            "agrees" if m["mean"] > 0 else "partly" if m["upper68"] > FLOORS["normal_ordering"]
            else "disagrees", rule)
    else:
        add(claim, nt(w), "not testable on these data", rule)

    ls = H["lscdm"]
    claim = "ΛsCDM lowers the predicted lensing"
    rule = ("needs the predicted lensing (C_L^φφ or σ8) of ΛsCDM and ΛCDM fits to the same data "
            "with CMB spectra: agrees when ΛsCDM's best-fit σ8 is lower")
    s8_ls, s8_lc = _get(ls, "bestfit", "sigma8"), _get(lc, "bestfit", "sigma8")
    if ls["status"] == "ok" and s8_ls is not None and s8_lc is not None:
        add(claim, f"best-fit σ8: ΛsCDM {s8_ls:.4f}, ΛCDM {s8_lc:.4f}; Σmν,eff "
                   f"{ls['mnu_eff']['mean']:+.3f} ± {ls['mnu_eff']['std']:.3f} eV in ΛsCDM",
            "agrees" if s8_ls < s8_lc else "disagrees", rule)
    else:
        extra = ""
        if ls["status"] == "ok":
            m = ls["mnu_eff"]
            extra = (f"; background only: Σmν,eff = {m['mean']:+.3f} ± {m['std']:.3f} eV in "
                     f"ΛsCDM (vs {lc['mnu_eff']['mean']:+.3f} in ΛCDM)"
                     if lc["status"] == "ok" else "")
            add(claim, "not testable on these data: no CMB lensing in the fit" + extra,
                "not testable on these data", rule)
        else:
            add(claim, nt(ls), "not testable on these data", rule)

    nu = H["nu_interacting"]
    claim = "Decoupling free streaming from the mass fits the data with a positive mass"
    rule = ("needs α_fs in the fit (data that see clustering: CMB spectra or lensing); then agrees "
            "when the interacting model (physical Σmν ≥ 0) fits as well as ΛCDM + Σmν,eff: "
            "Δχ² ≤ 1 with the best-fit mass at or above the normal-ordering floor, or ΔAIC ≤ 0; "
            "disagrees otherwise")
    if nu["status"] == "ok" and nu.get("delta_chi2") is not None:
        m = nu["mnu_eff"]
        a = nu.get("params", {}).get("alpha_fs")
        txt = (f"Σmν = {m['mean']:.3f} ± {m['std']:.3f} eV (95% upper {m['upper95']:.3f}); "
               f"best fit {nu['bestfit']['mnu_eff']:.3f} eV; Δχ² = {nu['delta_chi2']:+.2f}, "
               f"ΔAIC = {nu['delta_aic']:+.2f} vs ΛCDM + Σmν,eff"
               + (f"; α_fs = {a['mean']:.2f} ± {a['std']:.2f}" if a else
                  "; α_fs not sampled (no clustering data in the fit): on these data the model "
                  "is ΛCDM with Σmν ≥ 0, and the mechanism is not tested"))
        if a is None:
            add(claim, txt, "not testable on these data", rule)
        else:
            good = (nu["delta_chi2"] <= 1
                    and nu["bestfit"]["mnu_eff"] >= FLOORS["normal_ordering"]) \
                or nu["delta_aic"] <= 0
            add(claim, txt, "agrees" if good else "disagrees", rule)
    else:
        add(claim, nt(nu), "not testable on these data", rule)
    return out


# ---------------------------------------------------------------- text output

def format_table(summary: dict) -> str:
    """The verdict table as plain text (what the CLI prints at the end)."""
    rows = [f"{'hypothesis':<18} {'status':<8} {'Σmν,eff [eV]':<17} {'NO σ (B/P)':<12} "
            f"{'IO σ (B/P)':<12} {'Δχ²':>7} {'ΔAIC':>7} {'ln Z':>15}"]
    for name, e in summary["hypotheses"].items():
        if e["status"] != "ok":
            rows.append(f"{name:<18} {e['status'][:90]}")
            continue
        m, t = e["mnu_eff"], e["tension_sigma"]
        lnz = (f"{e['ln_evidence']:.2f} ± {e['ln_evidence_err']:.2f}"
               if e.get("ln_evidence") is not None else "-")
        fmt = (lambda x: f"{x:+7.2f}" if x is not None else "      -")
        sig = (lambda s: f"{sigma_mark(s)}{s['bayes']:.2f}/{s['profile']:.2f}")
        rows.append(f"{name:<18} {'ok':<8} {m['mean']:+.3f} ± {m['std']:.3f}   "
                    f"{sig(t['normal_ordering']):<12} {sig(t['inverted_ordering']):<12} "
                    f"{fmt(e['delta_chi2'])} {fmt(e['delta_aic'])} {lnz:>15}")
    return "\n".join(rows)


__all__ = ["HYPOTHESES", "Job", "Settings", "collect", "compare", "execute", "format_table",
           "plan", "run_jobs"]

