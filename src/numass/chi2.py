"""Theory products as files: chi2 of data sets on a user's own spectra (`numass chi2`), and the
products of a point written in the same .npz layout (`numass theory`).

The layout: ``ell, DlTT, DlTE, DlEE, DlBB, clpp_L2`` (products.NPZ_NAMES) when spectra were
computed; ``z, H`` [km/s/Mpc], ``DM, DH, DV`` [Mpc] on a redshift grid when the background was;
every scalar derived quantity as a 0-d array under its own name (always ``rdrag``,
``theta_star``, and ``sigma8``, ``S8`` with spectra); the input point as ``param_<name>``.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from numass.data.store import describe_file
from numass.errors import InputError
from numass.fileio import atomic_write_bytes
from numass.likelihoods import get_likelihood
from numass.parameters import FIDUCIAL
from numass.theory.products import NPZ_NAMES, SPECTRA_KEYS, Spectra, TheoryProducts

# the cosmological parameters `numass chi2` takes (CAMB names): the fiducial point's, less those
# the user's spectra fix
CHI2_PARAMS = tuple(k for k in FIDUCIAL if k not in ("As", "ns", "A_L", "A_lens"))


def parse_assignments(items: list[str] | None) -> dict[str, float]:
    """The command line's --param: ['H0=67', 'mnu=0.06'] -> {'H0': 67.0, 'mnu': 0.06};
    malformed items raise InputError."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param expects NAME=VALUE, got '{item}'")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--param {name.strip()}: '{value}' is not a number") from None
    return out


# chi2's CAMB-named parameters checked against the models' priors (the range where numass's
# theory is validated against CAMB); w0wa's priors include every other model's on these names
VALIDATED_AS = {"ombh2": "ombh2", "omch2": "omch2", "mnu": "mnu_eff", "w": "w", "wa": "wa",
                "tau": "tau"}


def outside_validated(model: str, params: dict[str, float],
                      aliases: dict[str, str] | None = None) -> list[str]:
    """A warning for each parameter outside ``model``'s flat prior (``aliases``: the model's name
    of each given name): numass's theory is validated against CAMB only there (e.g. its
    background and CAMB differ by 7% in theta* at Sigma m_nu,eff = -5 eV)."""
    from numass.models import get_model

    priors = {p.name: p.prior for p in get_model(model).params if p.prior[0] == "uniform"}
    out = []
    for name, value in params.items():
        prior = priors.get((aliases or {}).get(name, name))
        if prior is not None and not prior[1] <= value <= prior[2]:
            out.append(f"{name} = {value:g} lies outside [{prior[1]:g}, {prior[2]:g}], the range "
                       f"where numass's theory is validated against CAMB (model {model}'s "
                       f"prior): the numbers may be wrong there")
    return out


def read_spectra_npz(path: str | Path) -> Spectra:
    """The spectra of an .npz file in the layout above, checked (InputError naming what is
    wrong: a missing file or array, not an archive, bad shapes or values)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"spectra file '{path}' does not exist")
    try:
        with np.load(path) as f:
            missing = [n for n in ("ell", *NPZ_NAMES.values()) if n not in f]
            if missing:
                raise InputError(f"spectra file '{path}' lacks the arrays {missing}; it needs "
                                 f"'ell', {', '.join(repr(n) for n in NPZ_NAMES.values())}")
            arrays = {k: np.array(f[n], dtype=float) for k, n in NPZ_NAMES.items()}
            ell = np.array(f["ell"])
    except InputError:  # an archive missing arrays: already names them
        raise
    except (OSError, ValueError, EOFError, TypeError):  # TypeError: a .npy, no archive
        raise InputError(f"spectra file '{path}': expected an .npz archive (numpy.savez) "
                         f"with the arrays 'ell', "
                         f"{', '.join(repr(n) for n in NPZ_NAMES.values())}; found "
                         f"{describe_file(path)}") from None
    return Spectra(ell=ell.astype(int), **arrays).validate(str(path))


def chi2_table(ids: list[str], spectra_path: str | Path | None, params: dict[str, float],
               data_dir: str | Path | None = None) -> dict[str, float]:
    """{id: chi2} with normalisation constants dropped; nuisances default to their prior centres."""
    liks = [get_likelihood(i, data_dir) for i in ids]
    nuisance_names = {n.name for lik in liks for n in lik.nuisance}
    unknown = set(params) - set(CHI2_PARAMS) - nuisance_names
    if unknown:
        raise InputError(f"unknown parameter(s) {sorted(unknown)}; cosmological parameters: "
                         f"{', '.join(CHI2_PARAMS)}; nuisance parameters of these data sets: "
                         f"{', '.join(sorted(nuisance_names)) or 'none'}")
    cosmo = {k: v for k, v in {**FIDUCIAL, **params}.items() if k in CHI2_PARAMS}
    spectra = None
    if any("spectra" in lik.requires for lik in liks):
        if spectra_path is None:
            needing = [lik.id for lik in liks if "spectra" in lik.requires]
            raise InputError(f"{', '.join(needing)} need CMB spectra: pass --spectra FILE.npz")
        spectra = read_spectra_npz(spectra_path)
    background = None
    if any("background" in lik.requires for lik in liks):
        from numass.theory.background import compute_background
        from numass.theory.densities import ALLOWED

        background = compute_background({k: v for k, v in cosmo.items() if k in ALLOWED})
    theory = TheoryProducts(params=cosmo, spectra=spectra, background=background)
    nuisance = {k: v for k, v in params.items() if k in nuisance_names}
    return {lik.id: float(lik.chi2(theory, nuisance)) for lik in liks}


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
        s = products.spectra
        out.update(ell=np.asarray(s.ell), **{NPZ_NAMES[k]: np.asarray(getattr(s, k))
                                             for k in SPECTRA_KEYS})
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
