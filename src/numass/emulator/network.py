"""The emulator's model, evaluated in numpy: parameters scaled to the box -> all monomials up to
degree 4 (1001 terms in 10 parameters) -> linear map to the PCA coefficients of the
tolerance-whitened targets (targets.py) -> spectra; the same features give ln sigma8 and H0/100.

Why polynomials and not a neural network: on the ~4000 CAMB points the training design holds, a
ridge-regularised quartic reaches the accuracy targets in the box (docs/emulator.md) where an MLP
fitted on the same points did worse, and it is deterministic (a linear least-squares solve),
trains in seconds and needs no ML framework at run time or training time.

Weights file (npz): ``params``, ``low``, ``high`` (the box), ``degree``, ``W`` (n_features x
n_out, float64; columns: the K coefficients of TT, TE, EE, pp in that order, then ln sigma8,
H0/100), ``n_components``, and per spectrum ``k.mean``, ``k.basis`` (K x n_ell, float32),
``k.tol``; ``meta`` is a JSON string (training packs, sizes, residuals).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from numass.emulator import targets
from numass.theory.monomials import monomials

DEFAULT_WEIGHTS = Path(__file__).with_name("weights.npz")


def features(u: np.ndarray, degree: int) -> np.ndarray:
    """All monomials of the columns of u (n, n_vars) up to ``degree``, constant first."""
    return monomials(u, degree)


class Emulator:
    """Loaded weights; ``predict(x)`` for design rows x (n, n_params) in the box."""

    def __init__(self, path: Path | str = DEFAULT_WEIGHTS):
        path = Path(path)
        if not path.exists():
            from numass.errors import DataError

            raise DataError("emulator", str(path), "emulator weights not found",
                            fix="reinstall numass (the weights ship with it), train them with "
                                "'python -m numass.emulator.train', or use --backend camb")
        z = np.load(path, allow_pickle=False)
        self.params = tuple(str(p) for p in z["params"])
        self.low, self.high = z["low"].astype(float), z["high"].astype(float)
        self.degree = int(z["degree"])
        self.W = z["W"].astype(float)
        self.K = int(z["n_components"])
        self.meta = json.loads(str(z["meta"]))
        self.pca = {k: (z[f"{k}.mean"].astype(float), z[f"{k}.basis"].astype(float),
                        z[f"{k}.tol"].astype(float)) for k in targets.SPECTRA}

    def scale_inputs(self, x: np.ndarray) -> np.ndarray:
        return 2.0 * (np.atleast_2d(x) - self.low) / (self.high - self.low) - 1.0

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """The linear model's outputs: (n, 4K + 2)."""
        return features(self.scale_inputs(x), self.degree) @ self.W

    def h_and_slope(self, x: np.ndarray, step: float = 1e-5) -> tuple[float, float]:
        """h = H0/100 at one row and its derivative with respect to theta_MC_100 (the emulated
        relation; used for one Newton step of the exact theta_MC -> H0 solve)."""
        i = self.params.index("theta_MC_100")
        rows = np.vstack([x, x])
        rows[1, i] += step
        h = features(self.scale_inputs(rows), self.degree) @ self.W[:, -1]
        return float(h[0]), float((h[1] - h[0]) / step)

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Spectra on ell = 2..3000 (rows of x), sigma8 and H0 (at the row's theta_MC)."""
        from numass.emulator.batch import predict_rows

        return predict_rows(self, x)  # in cache-sized blocks of rows (emulator/batch.py)
