"""Sigma m_nu,eff of either sign for a whole batch (theory/effective_mass.py, vectorised).

Rows with mnu_eff >= 0, and every row of a backend with native negative masses, go to the wrapped
backend's ``compute_batch`` with mnu = mnu_eff. Otherwise the rows with mnu_eff < 0 are mirrored,
X = 2 X(0) - X(|mnu_eff|): one batched call at mnu = |mnu_eff| for all rows and one at mnu = 0
for the negative rows only, combined row by row (spectra, derived scalars, the background's
functions and scalars), exactly as EffectiveMass.compute does at each point.
"""
from __future__ import annotations

import numpy as np

from numass.errors import InputError
from numass.theory.batch import BatchProducts, BatchSpectra, broadcast_params, finite_rows
from numass.theory.effective_mass import BACKGROUND_SCALARS
from numass.theory.products import SPECTRA_KEYS


class BatchMirroredBackground:
    """``plus``'s background, with rows ``neg`` replaced by 2 zero - plus (``zero`` holds one
    row per entry of ``neg``)."""

    def __init__(self, plus, zero, neg: np.ndarray):
        self._plus, self._zero, self._neg = plus, zero, neg
        for name in BACKGROUND_SCALARS:
            if hasattr(plus, name) and hasattr(zero, name):
                setattr(self, name, self._mirror(getattr(plus, name), getattr(zero, name)))

    def _mirror(self, plus: np.ndarray, zero: np.ndarray) -> np.ndarray:
        out = np.array(plus, dtype=float, copy=True)
        out[self._neg] = 2 * zero - out[self._neg]
        return out

    def _call(self, name: str, z) -> np.ndarray:
        return self._mirror(getattr(self._plus, name)(z), getattr(self._zero, name)(z))

    def H(self, z):
        return self._call("H", z)

    def DM(self, z):
        return self._call("DM", z)

    def DH(self, z):
        return self._call("DH", z)

    def DV(self, z):
        return self._call("DV", z)


def _mirror_products(plus: BatchProducts, zero: BatchProducts, neg: np.ndarray,
                     params: dict) -> BatchProducts:
    ok = plus.ok.copy()
    ok[neg] &= zero.ok

    def mirror(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # in place: plus is ours
        a[neg] = 2 * b - a[neg]
        return a

    spectra = None
    if plus.spectra is not None and zero.spectra is not None:
        spectra = BatchSpectra(ell=plus.spectra.ell, **{
            k: mirror(getattr(plus.spectra, k), getattr(zero.spectra, k)) for k in SPECTRA_KEYS})
    background = None
    if plus.background is not None and zero.background is not None:
        background = BatchMirroredBackground(plus.background, zero.background, neg)
    derived = {k: mirror(v, zero.derived[k]) for k, v in plus.derived.items()
               if k in zero.derived}
    return BatchProducts(params=params, ok=ok, spectra=spectra, background=background,
                         derived=derived)


def effective_mass_batch(wrapper, params: dict, need: frozenset[str]) -> BatchProducts:
    """EffectiveMass.compute_batch: ``wrapper.inner`` evaluated as one or two batches."""
    inner = wrapper.inner
    if "mnu_eff" not in params:
        return inner.compute_batch(params, need)
    if "mnu" in params:
        raise InputError("give either 'mnu' (the sum of masses, >= 0) or 'mnu_eff' (the "
                         "effective mass, either sign), not both")
    arrays = broadcast_params(params)
    m = arrays["mnu_eff"]
    finite = finite_rows({"mnu_eff": m})
    base = {k: v for k, v in arrays.items() if k != "mnu_eff"}
    neg = np.flatnonzero(finite & (m < 0))
    if inner.supports_negative_mnu or len(neg) == 0:
        out = inner.compute_batch({**base, "mnu": m}, need)
    else:
        plus = inner.compute_batch({**base, "mnu": np.abs(m)}, need)
        zero = inner.compute_batch({**{k: v[neg] for k, v in base.items()},
                                    "mnu": np.zeros(len(neg))}, need)
        out = _mirror_products(plus, zero, neg, arrays)
    out.params = arrays
    out.ok = out.ok & finite
    out.derived["mnu_eff"] = np.where(out.ok, m, np.nan)
    return out
