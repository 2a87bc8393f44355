"""Provenance of a comparison: the data sets' citations, each model's priors as Cobaya receives
them, and the software versions.
"""
from __future__ import annotations

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


def citations(ids: list[str]) -> dict:
    """{data set id: citation} (the tau prior: every prior's source)."""
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
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=Path(__file__).parent, timeout=5).stdout.strip()
        if commit:
            versions["numass_git_commit"] = commit
    except Exception:  # noqa: BLE001 - not a checkout
        pass
    return versions


