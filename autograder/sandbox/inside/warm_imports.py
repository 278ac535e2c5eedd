"""The third-party modules the runners import before any student code.

A check runner imports them once, not once per check: it forks a child per
check. The notebook runner forks each notebook's kernel (inside/forked_kernels.py),
so a kernel starts with them. With the fork server
(``autograder/sandbox/forkserver.py``) they are imported once per grader
process: the server imports them, and every runner is forked from it already
warm. Standard library only.
"""
import importlib

# ``cs231n`` is the staged package's __init__, which always comes from the release (it
# installs the torchvision import hook before torchvision is imported); no student file
# is imported here. The fork server skips it: it has no staged package.
WARM_IMPORTS = ("torch", "torch.optim", "torch.nn.functional", "cs231n", "torchvision",
                "torchvision.transforms", "scipy.ndimage", "PIL.Image")
STAGED = ("cs231n",)
# The notebook runner's own (papermill) and what each kernel it forks needs first (ipykernel):
# inside/forked_kernels.py. The fork server imports them at the first notebook run
# (launcher.RUNNER_IMPORTS), not when it starts.
NOTEBOOK_IMPORTS = ("papermill", "ipykernel.kernelapp")
# Imported by the notebook runner only, never the fork server: matplotlib reads the run's
# environment when imported (HOME for its configuration and font cache, MPLBACKEND).
RUN_ENVIRONMENT_IMPORTS = ("matplotlib.pyplot",)


def warm_imports(names=WARM_IMPORTS) -> None:
    """Import ``names``; a missing optional library is the student check's problem, not ours."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass
