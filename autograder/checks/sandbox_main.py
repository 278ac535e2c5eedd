"""The check runner that executes INSIDE the sandbox (started by sandboxed.py).

Usage (isolated interpreter, cwd = the staged submission):
    python -I .grader/autograder/checks/sandbox_main.py .grader/io

``io/order.json`` lists the checks to run and the per-check time limit; each
check's inputs are ``io/inputs/<name>.npz``. For every check this process forks a
child that imports the student's modules, runs the check and writes
``io/outputs/<name>.npz`` (numbers only) or ``io/outputs/<name>.error.txt``.
This parent never imports student code, so a student function that hangs,
exits, or exhausts memory costs only its own check: the parent kills the child
at the time limit and records what happened in ``io/outputs/<name>.status``.
"""
import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path

GRADER_LIB = Path(__file__).resolve().parents[2]  # the folder holding ``autograder``
sys.path[:0] = [str(GRADER_LIB), os.getcwd()]

import numpy as np  # noqa: E402

from autograder.checks import REGISTRY, core  # noqa: E402
from autograder.reference import current_modules  # noqa: E402

# Third-party modules the student's files import, imported once here so that the
# forked children do not each pay for them (torchvision alone takes about a second).
# ``cs231n`` is the staged package's __init__, which always comes from the release
# (it installs the torchvision import hook); no student file is imported here.
WARM_IMPORTS = ("torch", "torch.optim", "torch.nn.functional", "cs231n", "torchvision",
                "torchvision.transforms", "scipy.ndimage", "PIL.Image")


def warm_imports():
    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional library is the student check's problem, not ours
            pass


def run_child(check, io_dir):
    """In the forked child: run one check on the student's code, write the result."""
    outputs_dir = io_dir / "outputs"
    log = os.open(outputs_dir / f"{check.name}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        with np.load(io_dir / "inputs" / f"{check.name}.npz", allow_pickle=False) as data:
            inputs = {k: data[k] for k in data.files}
        outputs = core.sanitize_outputs(check.run(current_modules(check.modules), inputs))
        np.savez(outputs_dir / f"{check.name}.npz", **outputs)
        code = 0
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: all are the student's
        (outputs_dir / f"{check.name}.error.txt").write_text(core.describe_exception(exc))
        code = 1
    os._exit(code)


def wait_for(pid, deadline):
    """Wait for ``pid`` until ``deadline``; returns (status text, exit info)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                return "killed", f"signal {os.WTERMSIG(status)}"
            return "exited", f"exit code {os.WEXITSTATUS(status)}"
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", "time limit"
        time.sleep(0.01)


def main(io_dir):
    io_dir = Path(io_dir)
    order = json.loads((io_dir / "order.json").read_text())
    warm_imports()
    (io_dir / "outputs").mkdir(exist_ok=True)
    for name in order["checks"]:
        status_file = io_dir / "outputs" / f"{name}.status"
        status_file.write_text("started")
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            run_child(REGISTRY[name], io_dir)
        state, info = wait_for(pid, start + order["check_wall_s"])
        status_file.write_text(json.dumps({"state": state, "info": info,
                                           "seconds": round(time.monotonic() - start, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
