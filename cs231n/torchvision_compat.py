"""Make ``import torchvision`` work when its compiled extension cannot load.

Why this exists: some machines pair a CPU build of torch with a torchvision wheel
built for CUDA. Its ``_C`` extension then fails to load, which torchvision itself
tolerates (its detection ops raise a clear error when called), except that at
import time it registers "fake" (shape-only) kernels for ``torchvision::nms`` and
``torchvision::qnms`` unconditionally, and that registration fails because the
operators were never declared. Everything this course uses (models, transforms,
``datasets.MNIST``) needs none of the compiled ops.

What it does: ``install()`` (called by ``cs231n/__init__.py``; it imports nothing
heavy) puts a finder on ``sys.meta_path``. When torchvision is first imported,
and only if its ``_C`` extension fails to load, the finder declares the two
operator schemas, so torchvision's own import goes through unchanged. Where the
extension loads (Colab, a matching CPU wheel) it does nothing at all.

It must be installed before torchvision is first imported. So that the order of
imports never matters, the environments the project's commands build also run it
at interpreter start-up: ``install_startup_hook()`` (called by ``scripts/setup.sh``
and ``scripts/student_env.sh``) copies this file into the environment's
site-packages as ``cs231n_torchvision_compat.py`` and adds a one-line
``cs231n_torchvision_compat.pth`` that imports it and calls ``install()``. The copy
lives in site-packages, not here, so the hook works wherever the interpreter
runs, also in the grader's sandbox, which sees the environment but not this
repository. Elsewhere (Colab, a conda environment made by hand) importing
``cs231n`` installs it, as before.
"""
import importlib.abc
import importlib.machinery
import os
import sys

# Schemas as torchvision's C++ code declares them (torchvision/csrc/ops/nms.cpp).
_MISSING_OP_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the torch.library.Library (and so the schemas) alive
applied = False  # True once the schemas had to be declared on this machine


def _extension_loads(package_dirs):
    """Try loading torchvision's ``_C`` extension the way torchvision does."""
    import torch

    for directory in package_dirs:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(directory, "_C" + suffix)
            if os.path.exists(path):
                try:
                    torch.ops.load_library(path)
                    return True
                except (ImportError, OSError):
                    return False
    return False


def _declare_missing_ops():
    global _library, applied
    import torch

    if _library is None:
        _library = torch.library.Library("torchvision", "DEF")
        for schema in _MISSING_OP_SCHEMAS:
            _library.define(schema)
        applied = True


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        if not _extension_loads(module.__spec__.submodule_search_locations or []):
            _declare_missing_ops()
        self._inner.exec_module(module)


class _TorchvisionFinder(importlib.abc.MetaPathFinder):
    # Marks the finder across copies of this module (the start-up copy and cs231n's).
    cs231n_torchvision_finder = True

    def find_spec(self, fullname, path, target=None):
        if fullname != "torchvision":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def install():
    """Install the finder once; a no-op if torchvision is already imported or another
    copy of this module (the start-up hook's) installed its finder already."""
    if "torchvision" in sys.modules:
        return
    if not any(getattr(f, "cs231n_torchvision_finder", False) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionFinder())


STARTUP_MODULE = "cs231n_torchvision_compat"


def install_startup_hook(site_dir=None):
    """Copy this file into ``site_dir`` (default: this interpreter's site-packages) as
    ``cs231n_torchvision_compat.py``, with the ``.pth`` line that runs ``install()`` at
    every start-up of that environment. Idempotent. Returns the ``.pth`` path."""
    import sysconfig
    from pathlib import Path

    site = Path(site_dir or sysconfig.get_paths()["purelib"])
    source = Path(__file__).read_text(encoding="utf-8")
    header = "# Copied from cs231n/torchvision_compat.py by install_startup_hook(); do not edit here.\n"
    (site / f"{STARTUP_MODULE}.py").write_text(header + source, encoding="utf-8")
    pth = site / f"{STARTUP_MODULE}.pth"
    pth.write_text(f"import {STARTUP_MODULE}; {STARTUP_MODULE}.install()\n", encoding="utf-8")
    return pth
