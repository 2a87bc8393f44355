"""Provenance of a comparison: the data sets' citations, each model's priors as Cobaya receives
them, and the software versions.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from numass.compare.plan import Job
from numass.data import embedded
from numass.data.registry import get_dataset
from numass.inference.overrides import fixed_value
from numass.inference.setup import build_info
from numass.likelihoods import LIKELIHOODS
from numass.likelihoods.tau_prior import DEFAULT_PRIOR as TAU_DEFAULT_PRIOR
from numass.likelihoods.tau_prior import TAU_PRIORS


def _dataset_folder(i: str) -> str | None:
    """The data registry's folder of likelihood ``i``: its class's ``dataset``, or for a
    likelihood that serves several releases (DESI BAO) the folder of the release it reads."""
    module_name, cls, options = LIKELIHOODS[i]
    module = importlib.import_module(module_name)
    dataset = getattr(getattr(module, cls), "dataset", None)
    release = (options or {}).get("release")
    files = getattr(module, "FILES", None)
    if dataset is None and release and isinstance(files, dict) and release in files:
        dataset = files[release][0]
    return dataset


def citations(ids: list[str]) -> dict:
    """{data set id: citation} for every id (the tau prior: every prior's source; an id numass
    does not know: said so, never dropped)."""
    out = {}
    for i in ids:
        if i not in LIKELIHOODS:
            out[i] = "no citation: not a numass data set id"
            continue
        dataset = _dataset_folder(i)
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
            if (LIKELIHOODS[i][2] or {}).get("drop_lrg1"):
                out[i] += " (without the LRG 0.4 < z < 0.6 bin)"
            if i.startswith("desi-dr2"):
                out[i] += (" (the embedded table, " + embedded.DESI_DR2_BAO_CITATION
                           + ", when the data directory lacks the files)")
        else:
            out[i] = "no citation recorded for this likelihood"
    return out


def data_rows(summary: dict) -> list[list[str]]:
    """[data set id, citation, the jobs that used it] for every data set of the summary's jobs
    and citations; a citation the summary lacks (one written before it was known) is looked up."""
    used: dict[str, list[str]] = {}
    for name, job in (summary.get("jobs") or {}).items():
        if not job.get("skip"):
            for d in job.get("datasets") or []:
                used.setdefault(d, []).append(name)
    cites = dict((summary.get("data") or {}).get("citations") or {})
    missing = [i for i in used if not cites.get(i)]
    cites.update(citations(missing) if missing else {})
    ids = list(dict.fromkeys([*cites, *used]))
    return [[i, cites[i], ", ".join(used.get(i, [])) or "–"] for i in ids]


def priors(jobs: list[Job]) -> dict:
    """Each model's sampled parameters and priors as Cobaya receives them (first job per model)."""
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
        out[key].update({n: {"fixed": fixed_value(v)} for n, v in j.param_overrides.items()
                         if fixed_value(v) is not None})  # --fix
        fixed = info["theory"]["numass"]["fixed"]
        if fixed:
            out[key]["fixed"] = fixed
    return out


def software_versions() -> dict:
    """Python, platform, the main packages' versions and numass's git commit when known."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("numass", "numpy", "scipy", "cobaya", "camb", "getdist", "dynesty", "matplotlib"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    with contextlib.suppress(OSError, subprocess.SubprocessError):  # no git, or it hung
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=Path(__file__).parent, timeout=5,
                                check=False).stdout.strip()  # empty when not a checkout
        if commit:
            versions["numass_git_commit"] = commit
    return versions


