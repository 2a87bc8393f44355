"""Registry of likelihood ids (part of numass's public interface) and their implementations."""
from __future__ import annotations

import importlib
from pathlib import Path

from numass.errors import InputError
from numass.likelihoods.base import Likelihood, Nuisance

# id -> (module, class, options passed to the class)
LIKELIHOODS: dict[str, tuple[str, str, dict]] = {
    "desi-dr2-bao": ("numass.likelihoods.bao", "DesiBAO", {"release": "dr2"}),
    "desi-dr2-bao-nolrg1": ("numass.likelihoods.bao", "DesiBAO", {"release": "dr2", "drop_lrg1": True}),
    "desi-dr1-bao": ("numass.likelihoods.bao", "DesiBAO", {"release": "dr1"}),
    "cmb-compressed": ("numass.likelihoods.cmb_compressed", "CompressedCMB", {}),
    "planck2018-plik-lite-TTTEEE": ("numass.likelihoods.plik_lite", "PlikLite", {"use": "TTTEEE"}),
    "planck2018-plik-lite-TT": ("numass.likelihoods.plik_lite", "PlikLite", {"use": "TT"}),
    "planck2018-plik-lite-TE": ("numass.likelihoods.plik_lite", "PlikLite", {"use": "TE"}),
    "planck2018-plik-lite-EE": ("numass.likelihoods.plik_lite", "PlikLite", {"use": "EE"}),
    "planck2018-plik-lite-TEEE": ("numass.likelihoods.plik_lite", "PlikLite", {"use": "TEEE"}),
    "planck2018-lowl-TT": ("numass.likelihoods.lowl_tt", "LowlTT", {}),
    "tau-prior": ("numass.likelihoods.tau_prior", "TauPrior", {}),
    "planck-pr4-lensing": ("numass.likelihoods.planck_pr4_lensing", "PlanckPR4Lensing", {"variant": "mv"}),
    "planck-pr4-lensing-marged": ("numass.likelihoods.planck_pr4_lensing", "PlanckPR4Lensing", {"variant": "mv_marged"}),
    "planck-pr4-lensing-polonly": ("numass.likelihoods.planck_pr4_lensing", "PlanckPR4Lensing", {"variant": "polonly"}),
    "act-dr6-lensing": ("numass.likelihoods.act_dr6_lensing", "ACTDR6Lensing", {"variant": "lens_and_cmb"}),
    "act-dr6-lensing-lensonly": ("numass.likelihoods.act_dr6_lensing", "ACTDR6Lensing", {"variant": "lens_only"}),
    "spt3g-2018-lensing": ("numass.likelihoods.spt3g_lensing", "SPT3GLensing", {}),
    "spt3g-2018-lensing-lensonly": ("numass.likelihoods.spt3g_lensing", "SPT3GLensing", {"variant": "lens_only"}),
}


def get_likelihood(lik_id: str, data_dir: str | Path | None = None, **options) -> Likelihood:
    """Instantiate the likelihood ``lik_id``; unknown ids raise InputError listing the known ones."""
    if lik_id not in LIKELIHOODS:
        raise InputError(f"unknown data set id '{lik_id}'; known ids: {', '.join(LIKELIHOODS)}")
    module, cls, fixed = LIKELIHOODS[lik_id]
    klass = getattr(importlib.import_module(module), cls)
    lik = klass(data_dir=data_dir, **{**fixed, **options})
    lik.id = lik_id
    return lik


def parse_ids(text: str) -> list[str]:
    """'a,b,c' -> ['a','b','c'], each checked against the registry."""
    ids = [t.strip() for t in text.split(",") if t.strip()]
    if not ids:
        raise InputError("no data set id given")
    for i in ids:
        if i not in LIKELIHOODS:
            raise InputError(f"unknown data set id '{i}'; known ids: {', '.join(LIKELIHOODS)}")
    return ids


# the two named data combinations (--data embedded | full)
EMBEDDED = ("desi-dr2-bao", "cmb-compressed")  # no data files needed
FULL = ("desi-dr2-bao", "planck2018-plik-lite-TTTEEE", "planck2018-lowl-TT", "tau-prior",
        "act-dr6-lensing")


def resolve_data(data: str | None) -> tuple[str, list[str]]:
    """--data 'embedded' (or None) | 'full' | 'id,id,...' -> (label, data set ids)."""
    if data in (None, "embedded"):
        return "embedded", list(EMBEDDED)
    if data == "full":
        return "full", list(FULL)
    return "custom", parse_ids(data)


__all__ = ["EMBEDDED", "FULL", "LIKELIHOODS", "Likelihood", "Nuisance", "get_likelihood",
           "parse_ids", "resolve_data"]
