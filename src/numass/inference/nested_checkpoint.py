"""nautilus's checkpoint kept consistent: Ctrl-C (StopOnInterrupt) and failed writes.

nautilus writes its checkpoint (out/chains/nautilus.hdf5) whole after each new bound and updates
it in place after each batch. A rerun resumes from it along the same path as an uninterrupted run
(the random state is in it), provided it is one nautilus wrote between two steps; this module
makes sure that is the only kind of checkpoint a Ctrl-C or a full disk can leave.
"""
from __future__ import annotations

import atexit
import os
import re
import signal
import sys
from pathlib import Path
from typing import Self

FAILED_SUFFIX = ".failed-write.hdf5"


def failed_write(exc: Exception, path: Path, remove: bool) -> Exception:
    """The error of a failed checkpoint write as an OSError naming the file, after cleaning up:
    a temporary file is removed; a checkpoint cut in the middle of an in-place update is set
    aside (as nautilus.failed-write.hdf5) so that the rerun starts afresh instead of reading a
    mixture. HDF5 keeps the failed file open (nautilus opens it without a with-block) and
    crashes when it flushes it at exit (a segmentation fault, seen on a full tmpfs; closing it
    here crashed too): the process then ends at exit with status 1 (_exit_without_hdf5)."""
    global _exit_registered
    if remove:
        path.unlink(missing_ok=True)
    elif path.exists():
        path.replace(path.with_suffix(FAILED_SUFFIX))
    if not _exit_registered:
        atexit.register(_exit_without_hdf5)
        _exit_registered = True
    text = str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return exc
    if isinstance(exc, OSError) or "file write failed" in text:
        # HDF5's words: "... errno = 28, error message = 'No space left on device', ..."
        code = re.search(r"errno = (\d+)", text)
        why = re.search(r"error message = '([^']*)'", text)
        return OSError(int(code.group(1)) if code else getattr(exc, "errno", None),
                       why.group(1) if why else text.splitlines()[0], str(path))
    return exc


_exit_registered = False


def _exit_without_hdf5() -> None:
    """At exit after a failed HDF5 write: end now, with status 1, before HDF5's crash."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


class StopOnInterrupt:
    """Ctrl-C during nautilus: stop at once, leaving the checkpoint as nautilus last wrote it.

    nautilus trains its networks with scikit-learn, which catches KeyboardInterrupt, keeps the
    half-trained network and carries on; nautilus would then write that network into its
    checkpoint and go on sampling. Here a SIGINT handler records the request (and raises as
    usual, except while a checkpoint is being written: a write is finished first); every
    network training, likelihood batch and checkpoint write then raises KeyboardInterrupt before
    it starts. The checkpoint on disk is therefore always one nautilus wrote between two steps,
    and a rerun resumes from it along the same path (the random state is in it). Installed only
    in the main thread and where SIGINT is not ignored; the previous handler is restored."""

    def __init__(self):
        self.requested = self.writing = False
        self._previous = self._train = None

    def __enter__(self) -> Self:
        import threading

        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN):
            import nautilus.neural

            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._train = nautilus.neural.train_network
            nautilus.neural.train_network = self._guard(self._train)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            import nautilus.neural

            nautilus.neural.train_network = self._train
            signal.signal(signal.SIGINT, self._previous)

    def _handler(self, signum, frame) -> None:
        self.requested = True
        if not self.writing:
            raise KeyboardInterrupt

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def _guard(self, func):
        def guarded(*args, **kwargs):
            self.check()
            return func(*args, **kwargs)
        return guarded

    def guard_writes(self, sampler) -> None:
        """Checkpoint writes of ``sampler`` that never start after a Ctrl-C and are never cut
        by one; the full write goes to a temporary file renamed over the checkpoint; a failed
        write (a full disk) leaves no checkpoint that could mislead a rerun (failed_write)."""
        write, update = sampler.write, sampler.write_shell_update

        def atomic_write(filepath, overwrite=False):
            tmp = Path(filepath).with_suffix(".tmp.hdf5")
            try:
                write(tmp, overwrite=True)
            except (OSError, RuntimeError) as exc:
                raise failed_write(exc, tmp, remove=True) from exc
            os.replace(tmp, filepath)

        def in_place_update(filepath, shell):
            try:
                update(filepath, shell)
            except (OSError, RuntimeError) as exc:
                raise failed_write(exc, Path(filepath), remove=False) from exc

        for name, func in (("write", atomic_write), ("write_shell_update", in_place_update)):
            setattr(sampler, name, self._while_writing(func))

    def _while_writing(self, func):
        def guarded(*args, **kwargs):
            self.check()
            self.writing = True
            try:
                return func(*args, **kwargs)
            finally:
                self.writing = False
            # a Ctrl-C during the write stops at the next step's check
        return guarded
