"""One server per data folder.

Two servers on one folder would both append to the journal and both restore the owed
callbacks from it (the customer would be called twice). The guard is an `flock` on
`acd.lock` held for the server's life: the kernel frees it when the process ends, however it
ends, so a killed server never leaves a lock to clear by hand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from acd.errors import StartupError

LOCK_FILE = "acd.lock"

try:
    import fcntl
except ImportError:  # Windows: no flock; the folder is not guarded there
    fcntl = None  # type: ignore[assignment]


class DataDirLock:
    """The exclusive lock on a data folder; `acquire` raises `StartupError` when it is taken."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock and write our pid into the file (for the error another server shows)."""
        if self._file is not None or fcntl is None:
            return
        f = self.path.open("a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            raise StartupError(
                f"data folder {self.path.parent} is in use by another server (pid {holder})",
                folder=str(self.path.parent),
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        """Let the lock go (closing the file releases the flock)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def in_use(folder: Path) -> bool:
    """Whether a server holds `folder` now: a probe that takes and drops a shared lock."""
    if fcntl is None:
        return True  # cannot tell here: trust the pid file
    path = folder / LOCK_FILE
    if not path.exists():
        return False
    with path.open() as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
    return False  # closing the file dropped the probe's lock
