"""Checks of numass's approximations against the exact codes they stand in for: the emulator's
spectra, sigma8, H0 and the likelihoods' chi2 against fresh CAMB runs (``emulator``). A layer
above the likelihoods and the emulator, since a check runs both."""
