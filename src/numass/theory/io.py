"""Theory products as an .npz file (the layout `numass chi2 --spectra` reads).

Arrays: ``ell, DlTT, DlTE, DlEE, DlBB, clpp_L2`` (Spectra.to_npz_dict) when spectra were
computed; ``z, H`` [km/s/Mpc], ``DM, DH, DV`` [Mpc] on a redshift grid when the background was;
every scalar derived quantity as a 0-d array under its own name (always ``rdrag``,
``theta_star``, and ``sigma8``, ``S8`` with spectra); the input point as ``param_<name>``.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from numass.errors import InputError
from numass.fileio import atomic_write_bytes
from numass.theory.products import NPZ_NAMES, TheoryProducts

# z = 0 .. 4 in steps of 0.01: covers every DESI tracer (Lya at z_eff = 2.33) with room to
# interpolate; z = 0 is included (H0; DM = DV = 0 there).
DEFAULT_Z = np.round(np.linspace(0.0, 4.0, 401), 10)
_ARRAY_NAMES = {"ell", *NPZ_NAMES.values(), "z", "H", "DM", "DH", "DV"}


def _z_grid(z_grid) -> np.ndarray:
    z = np.asarray(z_grid, dtype=float)
    if z.ndim != 1 or len(z) == 0 or not np.all(np.isfinite(z)) or np.any(z < 0):
        raise InputError("z_grid must be a non-empty 1-d array of finite redshifts >= 0")
    return z


def products_to_npz_dict(products: TheoryProducts, z_grid=DEFAULT_Z) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if products.spectra is not None:
        out.update(products.spectra.to_npz_dict())
    if products.background is not None:
        bg, z = products.background, _z_grid(z_grid)
        out.update(z=z, H=np.asarray(bg.H(z), dtype=float), DM=np.asarray(bg.DM(z), dtype=float),
                   DH=np.asarray(bg.DH(z), dtype=float), DV=np.asarray(bg.DV(z), dtype=float))
        for name in ("rdrag", "theta_star"):
            if hasattr(bg, name):
                out[name] = np.asarray(float(getattr(bg, name)))
    for name, value in products.derived.items():
        if name not in _ARRAY_NAMES and np.ndim(value) == 0:
            out[name] = np.asarray(float(value))
    for name, value in products.params.items():
        out[f"param_{name}"] = np.asarray(float(value))
    return out


def write_theory_npz(products: TheoryProducts, path: str | Path, z_grid=DEFAULT_Z) -> Path:
    """Write the products to ``path`` (.npz; parent folders are created); returns the path."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")  # np.savez would append it silently
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    arrays: dict[str, Any] = products_to_npz_dict(products, z_grid)  # savez's **kwds: Any
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())  # never half a file (a full disk, Ctrl-C)
    return path
