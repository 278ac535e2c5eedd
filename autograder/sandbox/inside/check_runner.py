"""The check runner that executes INSIDE the sandbox (started by grading/hidden_checks.py).

Usage (isolated interpreter, cwd = the staged submission):
    python -I /grader/autograder/sandbox/inside/check_runner.py .grader/io [--own-pid-namespace]

``io/order.json`` lists the checks to run and the per-check time limit; each
check's inputs are ``io/inputs/<name>.npz``. For every check this process forks a
child that imports the student's modules, runs the check and writes
``io/outputs/<name>.npz`` (numbers only) or ``io/outputs/<name>.error.txt``.
This parent never imports student code, so a student function that hangs,
exits, or exhausts memory costs only its own check: the parent kills the child
at the time limit and records what happened in ``io/outputs/<name>.status``.

After every check the parent ends what the check left running
(``autograder/sandbox/inside/sweep.py``: in the sandbox the whole pid namespace but itself;
unsandboxed, its descendants): a fork bomb, a daemon or a grandchild still
computing cannot outlive its check, take the process slots of the next one, or
touch its files. The parent makes itself non-dumpable, so student code (same
uid) cannot ptrace it or open its /proc files, and it never follows a link or
opens a FIFO that student code left where its own files go.
"""
import gc
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

GRADER_LIB = Path(__file__).resolve().parents[3]  # the folder holding ``autograder``
sys.path[:0] = [str(GRADER_LIB), os.getcwd()]

import numpy as np  # noqa: E402

from autograder.checks import REGISTRY, core  # noqa: E402
from autograder.sandbox.inside.seal import seal_line  # noqa: E402
from autograder.reference import current_modules  # noqa: E402
from autograder.sandbox.inside.sweep import harden_runner, kill_strays  # noqa: E402
from autograder.sandbox.inside.sweep import own_pid_namespace as in_own_pid_namespace  # noqa: E402
from autograder.sandbox.inside.warm_imports import warm_imports  # noqa: E402


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
        message = core.describe_exception(exc)  # may hold lone surrogates: escaped, not lost
        (outputs_dir / f"{check.name}.error.txt").write_text(message, errors="backslashreplace")
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


def write_own_file(path, text):
    """Write ``path`` afresh: whatever student code left there (a FIFO, a link) is removed first."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path, ignore_errors=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def clear_outputs(outputs_dir, name):
    """Remove anything student code planted under ``name``'s output names before it runs."""
    for suffix in (".npz", ".error.txt", ".log", ".status"):
        path = outputs_dir / f"{name}{suffix}"
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
        except FileNotFoundError:
            pass


def fork_child(check, io_dir, whole_namespace):
    """Fork the check's child; if the process table is full, sweep once and retry."""
    for attempt in range(2):
        try:
            pid = os.fork()
        except BlockingIOError:
            if attempt:
                raise
            kill_strays(whole_namespace)
            continue
        if pid == 0:
            run_child(check, io_dir)
        return pid


def main(io_dir, own_pid_namespace=False):
    io_dir = Path(io_dir)
    harden_runner()
    # Sweeping every visible process is only safe in the sandbox's own namespace:
    # the grader says so, and this runner is pid 1 there (or bubblewrap is).
    whole_namespace = own_pid_namespace and in_own_pid_namespace()
    order = json.loads((io_dir / "order.json").read_text())
    warm_imports()
    # Every check's child is a fork of this process: frozen, the objects it holds are skipped
    # by the children's collections, whose pages then stay shared (children 10% cheaper).
    gc.freeze()
    outputs_dir = io_dir / "outputs"
    outputs_dir.mkdir(exist_ok=True)
    for name in order["checks"]:
        status_file = outputs_dir / f"{name}.status"
        clear_outputs(outputs_dir, name)
        write_own_file(status_file, "started")
        start = time.monotonic()
        try:
            pid = fork_child(REGISTRY[name], io_dir, whole_namespace)
        except OSError as exc:
            status = {"state": "killed", "info": f"could not start ({exc})", "seconds": 0.0}
            write_own_file(status_file, json.dumps(status))
            print(seal_line(outputs_dir, name, status), flush=True)
            continue
        state, info = wait_for(pid, start + order["check_wall_s"])
        if not kill_strays(whole_namespace):
            info += "; processes it started could not all be ended"
        status = {"state": state, "info": info, "seconds": round(time.monotonic() - start, 3)}
        write_own_file(status_file, json.dumps(status))
        print(seal_line(outputs_dir, name, status), flush=True)  # nothing of the check runs any more


if __name__ == "__main__":
    main(sys.argv[1], own_pid_namespace="--own-pid-namespace" in sys.argv[2:])
