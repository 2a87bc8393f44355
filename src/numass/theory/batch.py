"""Theory products of many parameter points at once: the batched contract.

A batched backend maps arrays of parameters (one entry per point) to a ``BatchProducts``; a
batched likelihood maps a ``BatchProducts`` (and nuisance arrays) to one log-likelihood per
point. Conventions are those of theory/products.py, with a leading axis of length n:

- ``params`` / ``derived``: name -> array of shape (n,);
- ``spectra``: ``ell`` (lmax+1,) and ``tt, te, ee, bb, pp`` of shape (n, lmax+1);
- ``background``: ``rdrag`` and ``theta_star`` of shape (n,), and ``H, DM, DH, DV`` taking a
  1-d array of redshifts z and returning (n, len(z));
- ``ok``: bool (n,), False where the theory failed at that point (outside an emulator's box, a
  numerical failure, a non-finite input). Likelihoods return -inf there and never raise for it.

``BatchProducts.point(i)`` gives the per-point ``TheoryProducts`` of row i, and
``BatchProducts.from_points`` stacks per-point products: the generic (looping) implementations in
``Backend.compute_batch`` and ``Likelihood.loglike_batch`` are built on these two, so every backend
and likelihood has a correct batched call, and the vectorised ones are checked against them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from numass.errors import InputError
from numass.theory.products import SPECTRA_KEYS, Spectra, SpectraArrays, TheoryProducts


def check_param_arrays(params: dict) -> int:
    """Every value a 1-d array of one common length n >= 1 (scalars are broadcast); returns n.

    Raises InputError for arrays of another shape (the caller's mistake, not a point's failure).
    """
    lengths = set()
    for k, v in params.items():
        a = np.asarray(v)
        if a.ndim > 1:
            raise InputError(f"batched parameter '{k}' has shape {a.shape}; expected (n,), one "
                             f"value per point")
        if a.ndim == 1:
            lengths.add(len(a))
    if len(lengths) > 1:
        raise InputError(f"batched parameters have different lengths {sorted(lengths)}; give one "
                         f"value per point for each")
    n = lengths.pop() if lengths else 1
    if n < 1:
        raise InputError("an empty batch (n = 0) has nothing to compute")
    return n


def broadcast_params(params: dict) -> dict[str, np.ndarray]:
    """name -> float array (n,), scalars repeated; non-numbers raise InputError."""
    n = check_param_arrays(params)
    out = {}
    for k, v in params.items():
        try:
            out[k] = np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
        except (TypeError, ValueError):
            raise InputError(f"batched parameter '{k}' is not numeric: {v!r}") from None
    return out


def finite_rows(params: dict[str, np.ndarray]) -> np.ndarray:
    """bool (n,): every parameter finite at that point."""
    n = check_param_arrays(params)
    ok = np.ones(n, dtype=bool)
    for v in params.values():
        ok &= np.isfinite(np.asarray(v, dtype=float))
    return ok


class BatchSpectra(SpectraArrays):
    def row(self, i: int) -> Spectra:
        return Spectra(ell=self.ell, **{k: getattr(self, k)[i] for k in SPECTRA_KEYS})


class BatchBackground(Protocol):
    """What a batched background provides (theory/background.py's BackgroundRows, a stack of
    per-point ones, a mirror of two): (n,) scalars and functions of a 1-d z -> (n, len(z))."""

    rdrag: np.ndarray
    theta_star: np.ndarray

    def H(self, z) -> np.ndarray: ...

    def DM(self, z) -> np.ndarray: ...

    def DH(self, z) -> np.ndarray: ...

    def DV(self, z) -> np.ndarray: ...


class Delegated:
    """H, DM, DH, DV, each through the subclass's ``_call(name, z)``."""

    def _call(self, name: str, z):
        raise NotImplementedError

    def H(self, z):
        return self._call("H", z)

    def DM(self, z):
        return self._call("DM", z)

    def DH(self, z):
        return self._call("DH", z)

    def DV(self, z):
        return self._call("DV", z)


class StackedBackground(Delegated):
    """Backgrounds of single points stacked into the batched interface (rows where a point
    failed hold NaN)."""

    def __init__(self, backgrounds: list):
        self._bgs = backgrounds
        self.rdrag = np.array([b.rdrag if b is not None else np.nan for b in backgrounds])
        self.theta_star = np.array([b.theta_star if b is not None else np.nan
                                    for b in backgrounds])

    def row(self, i: int):
        """Point i's own background (None where it failed): no need to stack every point."""
        return self._bgs[i]

    def _call(self, name: str, z) -> np.ndarray:
        z = np.atleast_1d(np.asarray(z, dtype=float))
        return np.array([getattr(b, name)(z) if b is not None else np.full(len(z), np.nan)
                         for b in self._bgs])


class RowBackground(Delegated):
    """Row i of a batched background, as the per-point Background interface."""

    def __init__(self, batch_bg: BatchBackground, i: int):
        self._bg, self._i = batch_bg, i
        self.rdrag = float(batch_bg.rdrag[i])
        self.theta_star = float(batch_bg.theta_star[i])

    def _call(self, name: str, z):
        scalar = np.ndim(z) == 0
        out = getattr(self._bg, name)(np.atleast_1d(np.asarray(z, dtype=float)))[self._i]
        return float(out[0]) if scalar else out


def row_background(batch_bg: BatchBackground | None, i: int):
    """Row i of a batched background: its own ``row(i)`` when it has one (the stored per-point
    background of a StackedBackground, a mirror of rows), else a view of row i of the batch."""
    if batch_bg is None:
        return None
    if hasattr(batch_bg, "row"):
        return batch_bg.row(i)
    return RowBackground(batch_bg, i)


@dataclass
class BatchProducts:
    """Everything a backend computed at n parameter points (see the module docstring)."""

    params: dict[str, np.ndarray]
    ok: np.ndarray
    spectra: BatchSpectra | None = None
    background: BatchBackground | None = None
    derived: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ok)

    def masked(self, ok: np.ndarray) -> BatchProducts:
        """These products with ``ok`` (bool (n,)): NaN in every row that is not."""
        self.ok = ok
        self.derived = {k: np.where(ok, v, np.nan) for k, v in self.derived.items()}
        if self.spectra is not None:
            for k in SPECTRA_KEYS:
                getattr(self.spectra, k)[~ok] = np.nan
        if isinstance(getattr(self.background, "ok", None), np.ndarray):  # numass's own rows
            self.background.ok = self.background.ok & ok  # type: ignore[union-attr]
        return self

    def point(self, i: int) -> TheoryProducts | None:
        """The per-point products of row i (None where the theory failed)."""
        if not self.ok[i]:
            return None
        return TheoryProducts(
            params={k: float(v[i]) for k, v in self.params.items()},
            spectra=self.spectra.row(i) if self.spectra is not None else None,
            background=row_background(self.background, i),
            derived={k: float(v[i]) for k, v in self.derived.items()})

    @classmethod
    def from_points(cls, params: dict[str, np.ndarray],
                    points: list[TheoryProducts | None]) -> BatchProducts:
        """Stack per-point products (None = the theory failed at that point); derived values
        that are not numbers are left out."""
        ok = np.array([p is not None for p in points], dtype=bool)
        good = [p for p in points if p is not None]
        spectra = None
        rows = [p.spectra if p is not None else None for p in points]
        first = next((s for s in rows if s is not None), None)
        if first is not None and all(p.spectra is not None for p in good):
            nan = np.full(len(first.ell), np.nan)
            spectra = BatchSpectra(ell=first.ell, **{
                k: np.array([getattr(s, k) if s is not None else nan for s in rows], dtype=float)
                for k in SPECTRA_KEYS})
        background = None
        if good and all(p.background is not None for p in good):
            background = StackedBackground([p.background if p is not None else None
                                            for p in points])
        names = {k for p in good for k, v in p.derived.items() if np.ndim(v) == 0
                 and np.issubdtype(np.asarray(v).dtype, np.number)}  # arrays of numbers only
        derived = {k: np.array([float(p.derived.get(k, np.nan)) if p is not None else np.nan
                                for p in points]) for k in sorted(names)}
        return cls(params=params, ok=ok, spectra=spectra, background=background, derived=derived)
