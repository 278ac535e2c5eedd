"""Seals: how the check runner vouches for a check's outputs once it has ended.

Every file in the sandbox's work folder stays writable by student code, so code
running during a later check could rewrite an earlier check's outputs. After
each check (and after ending everything it left running) the in-sandbox runner
prints one line to its own stdout, which no student process can reach (children
get their own stdout, and the runner is non-dumpable): the check's final state
and the sha256 of each output file. The grader believes a check's outputs only
when they still match their seal.
"""
import hashlib
import json
import os
import stat

SEAL_PREFIX = "cs231n-check-seal "
NOTEBOOK_SEAL_PREFIX = "cs231n-notebook-seal "  # the notebook runner's, keyed by "notebook"
SEALED_SUFFIXES = (".npz", ".error.txt")


def _chunks(path, limit):
    """The 1 MB chunks of a regular file of at most ``limit`` bytes; nothing for links,
    FIFOs (never followed or opened for reading), missing or oversized files."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return
        yield b""  # says: a regular file, within the limit (empty or not)
        while chunk := handle.read(1 << 20):
            yield chunk


def file_digest(path, limit=256 << 20):
    """sha256 hex of a regular file (None for links, FIFOs, missing or oversized files)."""
    digest, regular = hashlib.sha256(), False
    for chunk in _chunks(path, limit):
        regular = True
        digest.update(chunk)
    return digest.hexdigest() if regular else None


def read_regular_file(path, limit):
    """The bytes of a regular file (None for links, FIFOs, missing or oversized files)."""
    chunks = list(_chunks(path, limit))
    return b"".join(chunks) if chunks else None


def seal_line(outputs_dir, name, status):
    """The line the runner prints for check ``name`` with its final ``status`` dict."""
    files = {suffix: file_digest(os.path.join(outputs_dir, name + suffix)) for suffix in SEALED_SUFFIXES}
    return SEAL_PREFIX + json.dumps({"check": name, **status, "files": files})


def sealed_lines(stdout, prefix, key):
    """{value of ``key``: seal dict} of every line of ``stdout`` starting with ``prefix``
    (malformed lines are skipped; a later seal for the same key wins)."""
    seals = {}
    for line in stdout.splitlines():
        if not line.startswith(prefix):
            continue
        try:
            seal = json.loads(line[len(prefix):])
        except ValueError:
            continue
        if isinstance(seal, dict) and isinstance(seal.get(key), str):
            seals[seal[key]] = seal
    return seals


def read_seals(stdout):
    """{check name: seal dict} from the check runner's stdout."""
    return {name: seal for name, seal in sealed_lines(stdout, SEAL_PREFIX, "check").items()
            if isinstance(seal.get("files"), dict)}
