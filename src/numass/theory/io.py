"""Write a backend's products in the npz layout `numass chi2 --spectra` reads."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from numass.theory.products import TheoryProducts

DEFAULT_Z = np.round(np.linspace(0.0, 3.0, 301), 6)


def products_to_npz_dict(products: TheoryProducts, z_grid=DEFAULT_Z) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if products.spectra is not None:
        out.update(products.spectra.to_npz_dict())
    if products.background is not None:
        bg = products.background
        z = np.asarray(z_grid, dtype=float)
        out.update(z=z, H=np.asarray(bg.H(z)), DM=np.asarray(bg.DM(z)), DH=np.asarray(bg.DH(z)),
                   DV=np.asarray(bg.DV(z)))
    for name in ("rdrag", "theta_star", "sigma8", "S8", "H0", "omegam"):
        if name in products.derived:
            out[name] = np.asarray(float(products.derived[name]))
    for name, value in products.params.items():
        out[f"param_{name}"] = np.asarray(float(value))
    return out


def write_theory_npz(products: TheoryProducts, path: str | Path, z_grid=DEFAULT_Z) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **products_to_npz_dict(products, z_grid))
    return path
