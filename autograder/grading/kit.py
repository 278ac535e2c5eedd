"""The kit's version: one hash of what decides a grade, and the key of a grading.

``kit_version`` hashes the grader (autograder/), the student release (release/),
the assignment's definition (assignment/) and the reference package (cs231n/),
without caches or data. A Dask worker declares it (cluster_worker.py), and every
grading records ``grading_key``: the kit's version and the options that change a
grade, so that a batch resumes a submission only when nothing that decides its
grade has changed since (batch.resumed).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from autograder.assignment import ROOT
from autograder.grading.staging import DATA_PATHS

KIT_PARTS = ("autograder", "release", "assignment", "cs231n")  # what decides a grade
SKIPPED = ("__pycache__", ".pytest_cache")
_memo: dict[tuple, tuple] = {}  # (root, parts) -> (the files' names, sizes and times, the digest)


def _files(root: Path, parts):
    """(relative path, absolute path) of every file under ``root``/``part`` for each part,
    sorted; no caches, no datasets (the sample data is checked for presence, not hashed)."""
    data = {os.path.normpath(d) for d in DATA_PATHS}
    found = []
    for part in parts:
        for folder, dirs, files in os.walk(root / part):
            rel_folder = os.path.relpath(folder, root)

            def relative(name, rel_folder=rel_folder):
                return os.path.normpath(os.path.join(rel_folder, name))

            dirs[:] = [d for d in dirs if d not in SKIPPED and relative(d) not in data]
            found += [(relative(f), Path(folder) / f) for f in files
                      if not f.endswith(".pyc") and relative(f) not in data]
    return sorted(found, key=lambda pair: os.fsencode(pair[0]))


def tree_version(root: Path, parts=(".",)) -> str:
    """sha256 over the names and bytes of the files under ``root``/``part`` for each of
    ``parts`` (no caches, no data); 16 hex digits.

    The files are read again only when a name, size or modification time changed
    since the last call (a worker checks the version for every task).
    """
    root = Path(root)
    files = _files(root, parts)
    stamp = tuple((relative, path.stat().st_size, path.stat().st_mtime_ns) for relative, path in files)
    key = (str(root), tuple(parts))
    if _memo.get(key, (None,))[0] != stamp:
        digest = hashlib.sha256()
        for relative, path in files:
            digest.update(os.fsencode(relative) + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        _memo[key] = (stamp, digest.hexdigest()[:16])
    return _memo[key][1]


def kit_version(root: Path = ROOT) -> str:
    """The kit's version: ``tree_version`` of autograder/, release/, assignment/ and cs231n/."""
    return tree_version(root, KIT_PARTS)


def grading_key(assignment, options) -> str:
    """What a grading depends on besides the submission, as 16 hex digits.

    The kit's version, the release graded against when it is not the kit's own,
    the assignment as loaded (its limits and points, also when changed in code),
    the grading seed, the notebooks executed, and whether the sandbox isolated.
    Lanes and math threads (``Options.jobs``, ``Options.threads``) change no grade
    and are left out, so they do not stop a resume; so is the kit's location, so a
    cluster worker's key is the client's.
    """
    from autograder.grading.grade import notebooks_to_run  # grade imports this module's users

    release = Path(options.release_dir).resolve()
    facts = {
        "kit": kit_version(),
        "release": "" if release == (ROOT / "release").resolve() else tree_version(release),
        "assignment": hashlib.sha256(repr(assignment).encode()).hexdigest(),
        "seed": options.seed,
        "notebooks": [part.notebook for part in notebooks_to_run(assignment, options)],
        "sandboxed": not options.allow_unsandboxed,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
