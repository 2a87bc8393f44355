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
