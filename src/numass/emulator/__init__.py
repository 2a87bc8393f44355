"""A CAMB-trained emulator of the lensed CMB spectra, C_L^phiphi, sigma8 and H0(theta_MC)
(issue 4; docs/emulator.md).

- ``design``: the parameter box and the space-filling (Latin hypercube) training design, seeded;
- ``generate``: CAMB runs over a design, parallel over cores, resumable in chunks, packed for
  transport;
- ``targets``: what is fitted (ln D_ell, TE correlation, ln pp) and the accuracy tolerances;
- ``network``: PCA + quartic-polynomial emulator, evaluated in numpy (weights in weights.npz);
- ``train``: the deterministic least-squares fit that writes weights.npz;
- ``backend``: the ``emulator`` theory backend;
- ``validate``: accuracy against fresh CAMB runs (the posterior check by importance reweighting,
  which needs the inference layer, is numass.inference.reweight).
"""
