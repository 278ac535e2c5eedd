"""The one library of checks, used by notebooks' hidden tests, the autograder and tests.

A check module registers its checks in ``REGISTRY`` (name -> Check) when it is
imported, and its modules are imported when first needed:

- ``REGISTRY`` (``from autograder.checks import REGISTRY``) imports every module
  beside this one: a new part's checks need no edit here.
- ``check_named(name)`` imports only the module that declares ``name``. A hidden
  test in a NumPy notebook grades one check this way and never imports torch
  (the GAN, SimCLR and visualization checks import it, about 1 s).
"""
import ast
import functools
import importlib
import pkgutil
from pathlib import Path

from autograder.checks import core

_NOT_CHECKS = {"core", "local", "diagnosis", "known_mistakes"}


def _check_modules() -> list:
    return [m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_CHECKS]


@functools.cache
def load_all() -> dict:
    """Import every check module (once); the full ``REGISTRY``."""
    for module in _check_modules():
        importlib.import_module(f"{__name__}.{module}")
    return core.REGISTRY


@functools.cache
def declared_in() -> dict:
    """{check name: module name}, read from the modules' source without importing them:
    the ``name = "..."`` of each class decorated with ``@register``."""
    found = {}
    for module in _check_modules():
        tree = ast.parse((Path(__path__[0]) / f"{module}.py").read_text())
        for node in tree.body:
            registered = isinstance(node, ast.ClassDef) and any(
                isinstance(d, ast.Name) and d.id == "register" for d in node.decorator_list)
            for statement in node.body if registered else ():
                targets = [getattr(t, "id", None) for t in getattr(statement, "targets", ())]
                if targets == ["name"] and isinstance(statement.value, ast.Constant):
                    found[statement.value.value] = module
    return found


def check_named(name: str) -> core.Check:
    """The registered check ``name``, importing only its module (KeyError if there is none)."""
    if name not in core.REGISTRY:
        module = declared_in().get(name)
        if module is None:
            load_all()
        else:
            importlib.import_module(f"{__name__}.{module}")
    return core.REGISTRY[name]


def __getattr__(attribute):
    if attribute == "REGISTRY":  # not bound here, so that every use goes through load_all
        return load_all()
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
