"""chi2 of data sets on a user's own spectra (`numass chi2`)."""
from __future__ import annotations

from pathlib import Path

from numass.errors import InputError
from numass.likelihoods import get_likelihood
from numass.theory.parameters import FIDUCIAL
from numass.theory.products import Spectra, TheoryProducts

# the cosmological parameters `numass chi2` takes (CAMB names): the fiducial point's, less those
# the user's spectra fix
CHI2_PARAMS = tuple(k for k in FIDUCIAL if k not in ("As", "ns", "A_L", "A_lens"))


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
        spectra = Spectra.from_npz(spectra_path)
    background = None
    if any("background" in lik.requires for lik in liks):
        from numass.theory.background import compute_background
        from numass.theory.densities import ALLOWED

        background = compute_background({k: v for k, v in cosmo.items() if k in ALLOWED})
    theory = TheoryProducts(params=cosmo, spectra=spectra, background=background)
    nuisance = {k: v for k, v in params.items() if k in nuisance_names}
    return {lik.id: float(lik.chi2(theory, nuisance)) for lik in liks}
