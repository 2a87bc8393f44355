"""Theory: backends (own background code, CAMB, the late-time engines) behind one interface.

The backends are built by name in numass.backends (``make_backend``), which also wires the
emulator into the emulated late-time engines: this package never imports the emulator.
"""
from __future__ import annotations
