"""Child processes that never outlive the command that started them.

A comparison's task processes and the CAMB check's worker pools compute for minutes and hold
files (nautilus's HDF5 checkpoint, with its lock): an orphan left by a kill -9 of the command
would go on computing and block the rerun. Each child calls ``die_with_parent`` first.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int | None = None, poll: float = 1.0) -> None:
    """End this process when ``parent`` (default: the current parent) ends, however it ends: on
    Linux the kernel sends SIGKILL (PR_SET_PDEATHSIG); everywhere a watchdog thread sees the
    parent change and kills this process."""
    parent = os.getppid() if parent is None else parent
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # the watchdog below still applies
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch():
        while os.getppid() == parent:
            time.sleep(poll)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="numass-parent-watchdog", daemon=True).start()


__all__ = ["die_with_parent"]
