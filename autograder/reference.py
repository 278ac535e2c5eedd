"""The instructor's reference ``cs231n``, loadable next to a student's.

In a notebook kernel (nbgrader's hidden tests) ``import cs231n`` gives the
student's package. ``reference_modules`` imports the instructor's copy (the
``cs231n`` beside this ``autograder`` package) with the student's entries of
``sys.modules`` set aside, then puts them back: the reference modules keep
references to their own siblings, bound when they were imported.
"""
import importlib
import sys
import types
from pathlib import Path

REFERENCE_ROOT = Path(__file__).resolve().parent.parent
_cache = {}


def _is_cs231n(name):
    return name == "cs231n" or name.startswith("cs231n.")


def reference_modules(names):
    """A namespace of reference modules, e.g. ``ns.rnn_layers``, ``ns.rnn`` for
    ``classifiers.rnn`` (names are dotted module paths below ``cs231n``)."""
    missing = [n for n in names if n not in _cache]
    if missing:
        saved = {k: sys.modules.pop(k) for k in list(sys.modules) if _is_cs231n(k)}
        sys.path.insert(0, str(REFERENCE_ROOT))
        try:
            for name in missing:
                _cache[name] = importlib.import_module(f"cs231n.{name}")
            for key in [k for k in sys.modules if _is_cs231n(k)]:
                del sys.modules[key]
        finally:
            sys.path.remove(str(REFERENCE_ROOT))
            sys.modules.update(saved)
    return _namespace({n: _cache[n] for n in names})


def current_modules(names):
    """A namespace of whatever ``cs231n`` this process imports (the student's)."""
    return _namespace({n: importlib.import_module(f"cs231n.{n}") for n in names})


def _namespace(modules):
    """Modules by their last name component: ``classifiers.rnn`` becomes ``ns.rnn``."""
    return types.SimpleNamespace(**{name.rsplit(".", 1)[-1]: m for name, m in modules.items()})
