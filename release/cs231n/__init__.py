"""CS231n Assignment 3: recurrent captioning, Transformers, network visualization, GANs.

Importing the package is cheap (no torch). It installs a small import hook so that
``import torchvision`` also works on machines whose torchvision wheel does not
match the installed torch build; see ``cs231n/torchvision_compat.py``.
"""
from cs231n import torchvision_compat as _torchvision_compat

_torchvision_compat.install()
