"""Loading a ``cs231n`` package from a given folder, beside the one in use.

In a notebook kernel (nbgrader's hidden tests) ``import cs231n`` gives the
student's package. ``reference_modules`` imports the instructor's copy (the
``cs231n`` beside this ``autograder`` package) with the student's entries of
``sys.modules`` set aside, then puts them back; the loaded modules keep
references to their own siblings, bound when they were imported. Tests load
mutated copies of the reference the same way (``package_modules``).
"""
import importlib
import sys
import threading
import types
from pathlib import Path

REFERENCE_ROOT = Path(__file__).resolve().parent.parent
_cache = {}
# Loading swaps sys.modules entries, and running reference code seeds or draws from
# the global random generators (torch, numpy): in one process (batch grading uses
# threads) both happen under this lock, one at a time.
REFERENCE_LOCK = threading.RLock()


def _is_cs231n(name):
    return name == "cs231n" or name.startswith("cs231n.")


def package_modules(root, names):
    """A namespace of ``cs231n.<name>`` modules imported from the folder ``root``.

    Names are dotted paths below ``cs231n``; ``classifiers.rnn`` becomes ``ns.rnn``.
    Modules are cached per (root, name); what was imported before is restored.
    """
    root = str(Path(root).resolve())
    with REFERENCE_LOCK:
        return _load(root, names)


def _load(root, names):
    missing = [n for n in names if (root, n) not in _cache]
    if missing:
        saved = {k: sys.modules.pop(k) for k in list(sys.modules) if _is_cs231n(k)}
        sys.path.insert(0, root)
        try:
            for name in missing:
                _cache[root, name] = importlib.import_module(f"cs231n.{name}")
        finally:
            sys.path.remove(root)
            for key in [k for k in sys.modules if _is_cs231n(k)]:
                del sys.modules[key]
            sys.modules.update(saved)
    return _namespace({n: _cache[root, n] for n in names})


def reference_modules(names):
    """The instructor's reference modules (see ``package_modules``)."""
    return package_modules(REFERENCE_ROOT, names)


def current_modules(names):
    """A namespace of whatever ``cs231n`` this process imports (the student's)."""
    return _namespace({n: importlib.import_module(f"cs231n.{n}") for n in names})


def _namespace(modules):
    """Modules by their last name component: ``classifiers.rnn`` becomes ``ns.rnn``."""
    return types.SimpleNamespace(**{name.rsplit(".", 1)[-1]: m for name, m in modules.items()})
