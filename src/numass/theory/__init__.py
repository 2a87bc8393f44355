"""Theory: backends (own background code, CAMB, the late-time engines) behind one interface.

The backends are built by name in numass.backends (``make_backend``), which also wires the
emulator into the emulated late-time engines: this package never imports the emulator.
"""
from __future__ import annotations

BACKENDS = ("background", "camb", "emulator")
# backends of the models CAMB cannot run (late-time engine, theory/latetime.py and
# theory/nu_interacting.py); a model lists the backends that compute it (models.Model.backends)
MODEL_BACKENDS = ("lscdm", "lscdm-emulator", "lscdm-background", "nu_interacting",
                  "nu_interacting-emulator")
BACKGROUND_ONLY = ("background", "lscdm-background")

# every name --backend accepts, with when to use it (the command line's help lists
# these; numass.backends checks that they are the backends it builds)
BACKEND_HELP = {
    "background": "numass's own background (no CMB spectra): BAO + compressed CMB, milliseconds "
                  "a point",
    "camb": "CAMB at every point: exact spectra, ~2 s a point; for checks and final runs",
    "emulator": "CAMB-trained emulator, ~1000x faster than CAMB; points outside its box go to "
                "CAMB (the default with CMB spectra)",
    "emulator-box": "the emulator alone: its box is part of the prior (fastest; quick looks)",
    "lscdm": "LsCDM's late-time engine on CAMB's early universe (model lscdm, with spectra)",
    "lscdm-emulator": "LsCDM's late-time engine on the emulator (model lscdm, fast spectra)",
    "lscdm-background": "LsCDM's background only (model lscdm, background-only data)",
    "nu_interacting": "interacting neutrinos on CAMB (model nu_interacting, with spectra)",
    "nu_interacting-emulator": "interacting neutrinos on the emulator (model nu_interacting, "
                               "fast spectra)",
}
