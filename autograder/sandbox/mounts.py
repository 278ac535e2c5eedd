"""The sandbox's view of the machine: an allow-list, nothing else.

Inside, the root is empty but for:
- the system's programs and libraries (``/usr``, and ``/bin``, ``/lib``, ...
  as the links or folders they are on the host), read-only;
- a minimal ``/etc``: the dynamic linker's cache and the time zone from the
  host, and a passwd, group, hosts and nsswitch.conf written here, naming only
  the sandbox's user and localhost;
- the Python installation and the virtual environment, read-only;
- the grader's library at ``/grader/autograder``, read-only (the runners and
  the checks' in-sandbox halves; never the reference, never expected values);
- the work folder at ``/submission``, the one writable place, and the
  instructor's data mounted read-only inside it where the package reads it;
- fresh ``/proc`` (of its own pid namespace), ``/dev``, and size-capped ``/tmp``
  and ``/dev/shm``.
"""
import os
import sys
from pathlib import Path

from autograder.process_tmp import process_folder

SANDBOX_WORK = "/submission"
GRADER_ROOT = "/grader"
SANDBOX_UID = 1000  # the user's id inside the sandbox; on the host each run has its own
GRADER_PACKAGE = Path(__file__).resolve().parents[1]  # .../autograder
TOP_LEVEL_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
HOST_ETC = ("/etc/ld.so.cache", "/etc/localtime")
SANDBOX_ETC = {
    "passwd": f"root:x:0:0::/:/usr/sbin/nologin\nstudent:x:{SANDBOX_UID}:{SANDBOX_UID}::{SANDBOX_WORK}:/bin/sh\n"
              "nobody:x:65534:65534::/:/usr/sbin/nologin\n",
    "group": f"root:x:0:\nstudent:x:{SANDBOX_UID}:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}
_etc_dir = None


def top_level_entries() -> list:
    """bwrap arguments for /bin, /lib and friends: a link where the host has a link
    (merged /usr), a read-only bind where it has a folder."""
    args = []
    for path in TOP_LEVEL_LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def sandbox_etc() -> Path:
    """A folder (made once per grader process) holding the sandbox's own /etc files."""
    global _etc_dir
    if _etc_dir is None:
        folder = process_folder("cs231n-sandbox-etc-")
        folder.chmod(0o755)
        for name, text in SANDBOX_ETC.items():
            (folder / name).write_text(text)
            (folder / name).chmod(0o644)
        _etc_dir = folder
    return _etc_dir


def python_roots() -> list:
    """The interpreter's installation and the virtual environment (one if they are the same)."""
    roots = []
    for prefix in (sys.base_prefix, sys.prefix):
        real = os.path.realpath(prefix)
        if real.startswith("/usr/") or real == "/usr" or any(real == r for r, _ in roots):
            continue
        roots.append((real, real))
        if prefix != real:
            roots.append((real, prefix))  # reachable under the name the venv's links use, too
    return roots


def system_mounts() -> list:
    """(source, target, writable) for everything of the host the sandbox may read."""
    mounts = [("/usr", "/usr", False)]
    mounts += [(path, path, False) for path in HOST_ETC if os.path.exists(path)]
    mounts += [(str(sandbox_etc() / name), f"/etc/{name}", False) for name in SANDBOX_ETC]
    mounts += [(source, target, False) for source, target in python_roots()]
    return mounts


def run_mounts(workspace_path, data=()) -> list:
    """All (source, target, writable) of one run, in the order bwrap must apply them:
    the system, the work folder, the data inside it, the grader's library."""
    mounts = system_mounts() + [(str(workspace_path), SANDBOX_WORK, True)]
    mounts += [(str(source), f"{SANDBOX_WORK}/{relative}", False) for source, relative in data]
    mounts.append((str(GRADER_PACKAGE), f"{GRADER_ROOT}/autograder", False))
    return mounts


def allowed_prefixes() -> list:
    """Every path the sandbox may read, for the test that proves nothing else exists there."""
    prefixes = ["/usr", *HOST_ETC, *(f"/etc/{n}" for n in SANDBOX_ETC), SANDBOX_WORK, GRADER_ROOT,
                "/proc", "/dev", "/tmp"]
    prefixes += [target for _, target in python_roots()]
    prefixes += [p for p in TOP_LEVEL_LINKS if os.path.lexists(p)]
    return prefixes
