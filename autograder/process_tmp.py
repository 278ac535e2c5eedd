"""Temporary folders that belong to one grader process and never outlive it for long.

A grader process keeps a few folders in the system's temporary folder for its
whole life (the sandbox's own /etc files, the known mistakes' packages) and
removes them at exit. A process that is killed (a Dask worker its nanny ends, a
test's grader) cannot, so each folder's name carries its process id, and the
next grader process to make one removes those whose process is gone.

    folder = process_folder("cs231n-sandbox-etc-")  # .../cs231n-sandbox-etc-<pid>-<random>
"""
import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path

STALE_AFTER_S = 3600  # also past this age: a pid of another pid namespace sharing /tmp is not ours to judge


def process_folder(prefix: str) -> Path:
    """A new private folder (mode 0700) named ``<prefix><pid>-<random>``, removed when this
    process exits; first, those of the same prefix left by processes that are gone."""
    remove_stale(prefix)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def remove_stale(prefix: str, now: float | None = None) -> list:
    """Remove this user's ``prefix`` folders whose process has ended and that are older
    than ``STALE_AFTER_S``; the paths removed."""
    now = time.time() if now is None else now
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        pid = folder.name[len(prefix):].split("-", 1)[0]
        try:
            info = folder.lstat()
        except OSError:
            continue
        if (pid.isdigit() and not _alive(int(pid)) and folder.is_dir() and not folder.is_symlink()
                and info.st_uid == os.getuid() and now - info.st_mtime > STALE_AFTER_S):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
