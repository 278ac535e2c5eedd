"""One lane's work folder: the only place a sandboxed run can write, and how the grader reads it.

Each lane (the hidden checks, or a group of notebooks) of each submission gets
its own ``Workspace`` and its own unprivileged host uid, so no two runs share a
folder or a user. Run as root, the grader mounts a tmpfs of ``max_bytes`` on
the folder: the size is a hard cap (files deleted while still open count too),
and closing the workspace unmounts it, so the grader never walks a tree that
student code shaped. Without root it is a plain folder whose growth the
launcher polls, removed with ``shutil.rmtree``'s fd-relative walk.

The grader reads what a run left only through ``read_bytes``: each path
component opened relative to the folder's descriptor with O_NOFOLLOW, the last
with O_NONBLOCK, a regular file by fstat, at most ``max_bytes`` read. A link,
FIFO, socket or device planted there reads as absent.
"""
import atexit
import ctypes
import errno
import itertools
import os
import shutil
import stat
import threading
from pathlib import Path

MNT_DETACH = 2
BASE_UID = 1_000_000 + (os.getpid() % 1000) * 10_000  # 10,000 uids per grader process
_uids = itertools.count()
_uid_lock = threading.Lock()
_libc = ctypes.CDLL(None, use_errno=True)
_open_mounts = set()  # workspaces still mounted: unmounted at exit should a grading not close them


MOUNT_SOURCE = "cs231n-lane-{pid}"  # names the grader process that mounted a lane's tmpfs
_reaped = False


def reap_stale_mounts(mounts_file="/proc/self/mounts") -> list:
    """Unmount lane filesystems whose grader process is gone (one killed with SIGKILL
    cannot unmount its own); returns the mount points removed."""
    removed = []
    with open(mounts_file) as handle:
        entries = [line.split() for line in handle]
    for source, target, *_ in entries:
        if not source.startswith("cs231n-lane-") or not source[12:].isdigit():
            continue
        pid = int(source[12:])
        if pid == os.getpid() or os.path.exists(f"/proc/{pid}"):
            continue
        target = target.replace("\\040", " ")
        if _libc.umount2(target.encode(), MNT_DETACH) == 0:
            removed.append(target)
    return removed


@atexit.register
def _unmount_leftovers():
    for path in list(_open_mounts):
        _libc.umount2(str(path).encode(), MNT_DETACH)


class TooLarge(ValueError):
    """A file the run left is larger than the reader allows."""


def privileged() -> bool:
    """True when the grader can give runs their own uid and filesystem (it runs as root)."""
    return os.geteuid() == 0


def next_uid() -> int:
    """A host uid no other run of this grader process is using (nothing on the host owns it)."""
    with _uid_lock:
        return BASE_UID + next(_uids) % 10_000


class Workspace:
    """A lane's work folder at ``path`` for a run as host ``uid``; ``mounted``: a tmpfs of its own."""

    def __init__(self, path: Path, uid: int, max_bytes: int, mounted: bool):
        self.path, self.uid, self.max_bytes, self.mounted = Path(path), uid, max_bytes, mounted

    @classmethod
    def create(cls, path, max_bytes: int) -> "Workspace":
        """Make the empty folder ``path`` (its parent must exist) with its own filesystem where possible."""
        path = Path(path)
        path.mkdir(mode=0o700)
        if not privileged():
            return cls(path, os.getuid(), max_bytes, False)
        global _reaped
        if not _reaped:
            _reaped = True
            reap_stale_mounts()
        uid = next_uid()
        options = f"size={max_bytes},mode=0700,uid={uid},gid={uid},nr_inodes=100000"
        source = MOUNT_SOURCE.format(pid=os.getpid()).encode()
        mounted = _libc.mount(source, str(path).encode(), b"tmpfs", ctypes.c_ulong(2 | 4), options.encode()) == 0
        if mounted:
            _open_mounts.add(path)
        else:
            os.chown(path, uid, uid)
        return cls(path, uid, max_bytes, mounted)

    def hand_over(self, keep=()) -> None:
        """Give the staged tree to the run's uid, except the relative folders in ``keep``
        (e.g. the hidden inputs), which stay the grader's, readable but not writable."""
        if self.uid == os.getuid():
            return
        kept = {os.path.normpath(k) for k in keep}
        for top, dirs, files, dir_fd in os.fwalk(self.path):
            relative = os.path.relpath(top, self.path)
            if relative in kept:
                dirs[:] = []
                continue
            os.chown(dir_fd, self.uid, self.uid)
            for name in files:
                os.chown(name, self.uid, self.uid, dir_fd=dir_fd, follow_symlinks=False)

    def read_bytes(self, relative, max_bytes: int):
        """The bytes of the regular file ``relative``, or None when it is absent or not a
        plain file reached without links. Raises TooLarge beyond ``max_bytes``."""
        parts = Path(relative).parts
        if not parts or any(p in ("..", "/") for p in parts):
            raise ValueError(f"not a relative path: {relative!r}")
        fds = []
        try:
            fds.append(os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW))
            for part in parts[:-1]:
                fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fds[-1]))
            fds.append(os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fds[-1]))
            info = os.fstat(fds[-1])
            if not stat.S_ISREG(info.st_mode):
                return None
            if info.st_size > max_bytes:
                raise TooLarge(f"{relative} holds {info.st_size} bytes, more than {max_bytes}")
            with os.fdopen(os.dup(fds[-1]), "rb") as handle:
                data = handle.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise TooLarge(f"{relative} grew past {max_bytes} bytes")
            return data
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a link where a name was expected
                return None
            raise
        finally:
            for fd in fds:
                os.close(fd)

    def full(self) -> bool:
        """True when the run filled its filesystem (a tmpfs workspace only)."""
        if not self.mounted:
            return False
        info = os.statvfs(self.path)
        return info.f_bavail * info.f_frsize < (1 << 20) or info.f_favail < 16

    def close(self) -> None:
        """Unmount (everything the run left goes with it) or remove the folder."""
        if self.mounted:
            _libc.umount2(str(self.path).encode(), MNT_DETACH)
            _open_mounts.discard(self.path)
            self.mounted = False
            try:
                os.rmdir(self.path)
                return
            except OSError:
                pass
        shutil.rmtree(self.path, ignore_errors=True)  # fd-relative: never follows a planted link

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
