"""Integrity flags: static checks of a submission's source, for a person to read.

These are not sandbox questions (the code may be harmless) but academic ones:
a NumPy layer written with torch, or attention delegated to PyTorch's own
implementation, earns hidden-check points without the student writing the
thing the part teaches. The grader does not change scores for them; it lists
them in the report so an instructor can look. The source is parsed, never run.

Notebooks are compared with the release: a locked cell (nbgrader's read-only
test cells) whose content no longer matches the checksum nbgrader stored in
the released notebook is flagged. Our grader never takes points from notebook
cells, so an edited test cell changes no score; it is worth a person's look.
"""
import ast
import functools
import threading
from pathlib import Path

from autograder.assignment import ROOT

RELEASE_DIR = ROOT / "release"
MAX_SOURCE_BYTES = 2 << 20  # larger student files are flagged, not parsed

# Files whose graded code must be NumPy only.
NUMPY_ONLY = ("cs231n/rnn_layers.py", "cs231n/classifiers/rnn.py")
# Files where the attention itself is the student's work.
OWN_ATTENTION = ("cs231n/transformer_layers.py", "cs231n/classifiers/transformer.py")
ATTENTION_SHORTCUTS = ("MultiheadAttention", "scaled_dot_product_attention", "TransformerDecoderLayer",
                       "TransformerDecoder")
FORBIDDEN_IN_NUMPY = ("torch", "tensorflow", "jax")


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args:
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def _torch_names_used(tree):
    """(line, name) for ``x.name`` attribute uses and names imported from torch.

    A bare name is not enough: the reference defines its own TransformerDecoderLayer.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            for alias in node.names:
                yield node.lineno, alias.name


# CPython 3.11 before 3.11.8 keeps ast.parse's recursion depth per interpreter, not
# per thread: two batch threads parsing at once raise "SystemError: AST constructor
# recursion depth mismatch" (a fairness-corpus batch hit it). One parse at a time.
_PARSE_LOCK = threading.Lock()


def flags_for(path, source):
    """Flags (strings) for one student file's ``source``."""
    if len(source) > MAX_SOURCE_BYTES:
        return [f"{path}: too large to analyse ({len(source) >> 10} KB)"]
    try:
        with _PARSE_LOCK:
            tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"{path}: does not parse (line {exc.lineno}): {exc.msg}"]
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return [f"{path}: does not parse ({type(exc).__name__}: {str(exc)[:100]})"]
    flags = []
    if path in NUMPY_ONLY:
        for line, module in _imports(tree):
            if module.split(".")[0] in FORBIDDEN_IN_NUMPY:
                flags.append(f"{path}:{line}: imports {module} in a NumPy-only module")
    if path in OWN_ATTENTION:
        for line, name in _torch_names_used(tree):
            if name in ATTENTION_SHORTCUTS:
                flags.append(f"{path}:{line}: uses PyTorch's {name} instead of its own attention")
    return sorted(set(flags))


def _locked_cells(nb):
    """{grade_id: cell} of a notebook's cells nbgrader locks (test cells, read-only cells)."""
    cells = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if not isinstance(meta, dict) or not meta.get("grade_id"):
            continue
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            cells[str(meta["grade_id"])] = cell
    return cells


def _cell_fingerprint(cell, source=None):
    """nbgrader's checksum of ``cell`` (of ``source`` instead of its own, if given)."""
    import copy

    from nbgrader.utils import compute_checksum

    if source is not None:
        cell = copy.deepcopy(cell)
        cell.source = source
    return compute_checksum(cell)


def _read_notebook(text):
    import nbformat

    try:
        return nbformat.reads(text, as_version=4)
    except Exception:  # not JSON, not a notebook: staging reports it and grades the release's
        return None


@functools.lru_cache(maxsize=32)
def _released_notebook(path, mtime_ns, limits):
    """The instructor's released notebook, parsed once per batch (None if unreadable)."""
    from autograder.grading.intake import NotebookRefused, read_notebook

    try:
        return read_notebook(path, limits)
    except NotebookRefused:
        return None


def notebook_flags(name, submitted, released):
    """Flags for the submitted notebook ``name`` against the release's: each is JSON
    text or an already parsed notebook (nbformat 4).

    A locked cell is unchanged when nbgrader's checksum of the submitted cell is
    the one the release stores, or when it differs from the release's cell only
    in leading or trailing blank space (tools differ in the newline they keep).
    """
    nb = _read_notebook(submitted) if isinstance(submitted, (str, bytes)) else submitted
    released = _read_notebook(released) if isinstance(released, (str, bytes)) else released
    if nb is None or released is None:
        return []
    mine = _locked_cells(nb)
    flags = []
    for grade_id, cell in _locked_cells(released).items():
        stored = cell["metadata"]["nbgrader"].get("checksum")
        theirs = mine.get(grade_id)
        if theirs is None:
            flags.append(f"{name}: the locked cell '{grade_id}' was deleted or lost its nbgrader metadata")
            continue
        try:
            same = _cell_fingerprint(theirs) == stored or (
                _cell_fingerprint(theirs, str(theirs.source).strip()) ==
                _cell_fingerprint(cell, str(cell.source).strip()))
        except Exception:  # metadata malformed beyond what nbgrader can checksum
            same = False
        if not same:
            flags.append(f"{name}: the locked cell '{grade_id}' was changed (its nbgrader checksum "
                         "differs from the released notebook's)")
    return flags


def integrity_flags(root, student_files, release_dir=None, notebooks=None, parsed=None, limits=None) -> list[str]:
    """Flags for every student file and released notebook present under ``root``.

    ``notebooks`` defaults to every notebook of ``release_dir`` (the instructor's
    release) that the submission holds. ``parsed``: {name: notebook} as intake
    parsed them (``Intake.notebooks``); a notebook missing from it was refused
    there and is not read again. Without ``parsed``, each notebook is read here
    within ``limits`` (default: assignment.toml's).
    """
    from autograder.assignment import load_assignment

    limits = limits or load_assignment().limits
    flags = []
    for path in student_files:
        file = root / path
        if file.is_file():
            flags += flags_for(path, file.read_text(errors="replace"))
    release_dir = RELEASE_DIR if release_dir is None else Path(release_dir)
    if notebooks is None:
        notebooks = sorted(p.name for p in release_dir.glob("*.ipynb")) if release_dir.is_dir() else []
    for name in notebooks:
        submitted, released = _submitted_notebook(root, name, parsed, limits), release_dir / name
        if submitted is None or not released.is_file():
            continue
        released_nb = _released_notebook(released.resolve(), released.stat().st_mtime_ns, limits)
        flags += notebook_flags(name, submitted, released_nb)
    return flags


def _submitted_notebook(root, name, parsed, limits):
    """The submitted notebook ``name``, parsed (None when absent, refused or unreadable)."""
    from autograder.grading.intake import NotebookRefused, read_notebook

    if parsed is not None:
        return parsed.get(name)
    if not (root / name).is_file():
        return None
    try:
        return read_notebook(root / name, limits)
    except NotebookRefused:  # staging reports it and runs the release's
        return None
