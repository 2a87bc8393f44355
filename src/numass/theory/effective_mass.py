"""Sigma m_nu,eff: the neutrino mass sum extended to negative values, around any backend.

``mnu_eff`` >= 0 is the ordinary sum (the backend's products unchanged); below zero a backend
with ``supports_negative_mnu`` (numass's own background: Elbers et al. 2024's sign flip of the
mass-dependent neutrino density) takes mnu = mnu_eff itself, any other (CAMB, the emulator) gets
the observable-level mirror X(mnu_eff) = 2 X(0) - X(|mnu_eff|) for every product: spectra,
derived scalars and the background (MirroredBackground). Two evaluations at the same other
parameters (H0 or theta_MC, omega_b, omega_c, A_s, n_s, tau, w, wa); omega_c is CDM alone.
How the two extensions compare (equal to first order in m): docs/physics.md, "Neutrinos".
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from numass.errors import InputError
from numass.theory.backend import NEEDS, Backend, check_need
from numass.theory.batch import (
    BatchBackground,
    BatchProducts,
    BatchSpectra,
    Delegated,
    broadcast_params,
    finite_rows,
    row_background,
)
from numass.theory.products import SPECTRA_KEYS, Background, TheoryProducts

BACKGROUND_SCALARS = ("rdrag", "theta_star", "zstar", "zdrag")


def _mirror(plus, zero, rows):
    """2 zero - plus: for the whole value (rows None: one point), or in the rows ``rows`` of a
    batched array (``zero`` holds one row per entry of rows; ``plus`` is left unchanged)."""
    if rows is None:
        return 2 * zero - plus
    out = np.array(plus, dtype=float, copy=True)
    out[rows] = 2 * zero - out[rows]
    return out


class MirroredBackground(Delegated):
    """2 zero - plus for the functions H, DM, DH, DV and for the ``scalars`` both backgrounds
    have (zero at m = 0, plus at |m|): of one point (rows None), or of the rows ``rows`` of a
    batched ``plus``."""

    # a float of one point or an array (n,) of a batch, as the mirrored backgrounds' own
    rdrag: Any
    theta_star: Any

    def __init__(self, zero: Background | BatchBackground, plus: Background | BatchBackground,
                 rows: np.ndarray | None = None,
                 scalars: tuple[str, ...] = BACKGROUND_SCALARS):
        self._plus, self._zero, self._rows = plus, zero, rows
        for name in scalars:
            if hasattr(plus, name) and hasattr(zero, name):
                setattr(self, name, _mirror(getattr(plus, name), getattr(zero, name), rows))

    def _call(self, name: str, z):
        return _mirror(getattr(self._plus, name)(z), getattr(self._zero, name)(z), self._rows)

    def row(self, i: int):
        """Row i of a batched mirror (``rows`` given): the mirror of the rows' own backgrounds
        where row i is mirrored, else plus's row."""
        assert self._rows is not None  # a mirror of one point has no rows
        plus = row_background(cast(BatchBackground, self._plus), i)
        at = np.flatnonzero(self._rows == i)
        if len(at) == 0:
            return plus
        return MirroredBackground(row_background(cast(BatchBackground, self._zero), int(at[0])),
                                  plus)

def _mirror_rows(plus: BatchProducts, zero: BatchProducts, neg: np.ndarray,
                 params: dict) -> BatchProducts:
    """2 zero - plus in the rows ``neg`` of a batch (``zero`` holds those rows only) for every
    product: the spectra, the background, the derived scalars both have."""
    ok = plus.ok.copy()
    ok[neg] &= zero.ok
    spectra = None
    if plus.spectra is not None and zero.spectra is not None:
        spectra = BatchSpectra(ell=plus.spectra.ell, **{
            k: _mirror(getattr(plus.spectra, k), getattr(zero.spectra, k), neg)
            for k in SPECTRA_KEYS})
    background = None
    if plus.background is not None and zero.background is not None:
        background = MirroredBackground(zero.background, plus.background, neg)
    derived = {k: _mirror(v, zero.derived[k], neg) for k, v in plus.derived.items()
               if k in zero.derived}
    return BatchProducts(params=params, ok=ok, spectra=spectra, background=background,
                         derived=derived)


def _check_not_both(params: dict) -> None:
    if "mnu" in params:
        raise InputError("give either 'mnu' (the sum of masses, >= 0) or 'mnu_eff' (the "
                         "effective mass, either sign), not both")


class EffectiveMass(Backend):
    """Wraps a backend so that it accepts ``mnu_eff`` of either sign (see the module docstring).

    Without ``mnu_eff`` the call goes to the wrapped backend untouched. ``mnu`` and ``mnu_eff``
    together are an InputError.
    """

    supports_negative_mnu = True

    def __init__(self, backend: Backend):
        self.inner = backend
        self.name = backend.name
        self._zero: tuple[tuple, TheoryProducts] | None = None  # (key, products at m = 0)

    def param_names(self):
        return (*self.inner.param_names(), "mnu_eff")

    def compute(self, params: dict, need: frozenset[str] = NEEDS) -> TheoryProducts:
        """A batch of one of compute_batch's arithmetic, the wrapped backend's per-point
        ``compute`` inside, so that its errors are raised rather than a failed row."""
        need = check_need(need)
        if "mnu_eff" not in params:
            return self.inner.compute(params, need)
        _check_not_both(params)
        self.check_params(params)
        point = self._combined(broadcast_params(params), need, self._inner_point).point(0)
        assert point is not None  # the wrapped backend raised where it failed
        point.params = dict(params)
        return point

    def compute_batch(self, params: dict, need: frozenset[str] = NEEDS) -> BatchProducts:
        """The inner backend's compute_batch: one call at mnu = mnu_eff where no row needs the
        mirror, else one at mnu = |mnu_eff| for all rows and one at mnu = 0 for the negative
        rows, combined row by row."""
        need = check_need(need)
        if "mnu_eff" not in params:
            return self.inner.compute_batch(params, need)
        _check_not_both(params)
        return self._combined(broadcast_params(params), need, self.inner.compute_batch)

    def _combined(self, arrays: dict[str, np.ndarray], need: frozenset[str],
                  evaluate: Callable[[dict, frozenset[str]], BatchProducts]) -> BatchProducts:
        """The products at ``arrays``, ``evaluate`` computing the wrapped backend's."""
        m = arrays["mnu_eff"]
        finite = finite_rows({"mnu_eff": m})
        base = {k: v for k, v in arrays.items() if k != "mnu_eff"}
        neg = np.flatnonzero(finite & (m < 0))
        if self.inner.supports_negative_mnu or len(neg) == 0:
            out = evaluate({**base, "mnu": m}, need)
        else:
            plus = evaluate({**base, "mnu": np.abs(m)}, need)
            zero = evaluate({**{k: v[neg] for k, v in base.items()},
                             "mnu": np.zeros(len(neg))}, need)
            out = _mirror_rows(plus, zero, neg, arrays)
        out.params = arrays
        out.ok = out.ok & finite
        out.derived["mnu_eff"] = np.where(out.ok, m, np.nan)
        return out

    def _inner_point(self, arrays: dict, need: frozenset[str]) -> BatchProducts:
        """The wrapped backend's ``compute`` at the point ``arrays`` (each (1,)) as a batch of
        one; the m = 0 point cached on the other parameters and the request, so that a chain
        that moves only mnu_eff pays one evaluation a step."""
        p = {k: float(v[0]) for k, v in arrays.items()}
        if p["mnu"] != 0.0:
            return BatchProducts.from_points(arrays, [self.inner.compute(p, need)])
        key = (tuple(sorted(p.items())), need)
        if self._zero is None or self._zero[0] != key:
            self._zero = (key, self.inner.compute(p, need))
        return BatchProducts.from_points(arrays, [self._zero[1]])

