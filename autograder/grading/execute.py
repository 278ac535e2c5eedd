"""Executing a submission's notebooks headlessly: papermill, inside the sandbox.

One sandboxed process, the runner (``autograder/sandbox/inside/notebook_runner.py``), executes
a lane's notebooks one after another with the fast parameters; grade.py runs
several lanes side by side. Per-cell and per-notebook time limits are enforced
inside the runner; memory, process and file-size caps and a wall clock for the
whole lane by the sandbox. Should a notebook's code end the runner itself, the
notebooks after it start again in a fresh sandbox, so one notebook cannot keep
the next from running. Executed notebooks stay in the work folder for feedback
and manual grading, errors and all.
"""
import dataclasses
import json
import sys
from pathlib import Path

from autograder.sandbox import bwrap as sandbox
from autograder.sandbox.inside.notebook_runner import STATUS_DIR, status_path
from autograder.reference import REFERENCE_ROOT
from autograder.grading.staging import mount_grader_library

EXECUTED_DIR = "executed"
FAST_PARAMETERS = {"fast_mode": True}
LANE_SLACK_S = 60  # kernel start-ups and clean-up on top of the notebooks' own limits
MAX_STATUS_BYTES = 64 << 10


@dataclasses.dataclass
class NotebookRun:
    """How one notebook's headless run went; ``executed`` is None if nothing was written."""

    notebook: str
    ok: bool
    message: str
    wall_s: float
    executed: Path = None
    limits_hit: list = dataclasses.field(default_factory=list)


def lane_plan(notebooks, limits, parameters, use_sandbox):
    """What the runner needs, passed on its command line (no file to tamper with)."""
    return {"notebooks": list(notebooks), "parameters": dict(parameters),
            "cell_wall_s": limits.cell_wall_s, "notebook_wall_s": limits.notebook_wall_s,
            "max_output_bytes": limits.max_output_mb << 20, "executed_dir": EXECUTED_DIR,
            "own_pid_namespace": bool(use_sandbox)}


def read_status(workdir, notebook):
    """The runner's status for ``notebook`` as a checked dict, or None when absent."""
    path = Path(workdir) / status_path(notebook)
    try:
        with open(path, "rb") as handle:
            status = json.loads(handle.read(MAX_STATUS_BYTES).decode("utf-8", "replace"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"state": "started"}  # unreadable: treat as a run that never reported back
    if not isinstance(status, dict) or status.get("state") != "done":
        return {"state": "started"}
    limits_hit = status.get("limits_hit")
    return {"state": "done", "ok": status.get("ok") is True,
            "message": str(status.get("message", ""))[:600] or "no message",
            "wall_s": float(status["wall_s"]) if isinstance(status.get("wall_s"), (int, float)) else 0.0,
            "limits_hit": [str(x)[:100] for x in limits_hit[:5]] if isinstance(limits_hit, list) else []}


def _run_from_status(workdir, notebook, status, outcome):
    """A NotebookRun from the runner's word, completed with what the sandbox saw."""
    executed = Path(workdir) / EXECUTED_DIR / notebook
    executed = executed if executed.is_file() and not executed.is_symlink() else None
    if status["state"] == "done":
        run = NotebookRun(notebook, status["ok"], status["message"], status["wall_s"], executed,
                          status["limits_hit"])
        if not run.ok and "kernel died" in run.limits_hit and outcome.limit_messages:
            run.message += "; the sandbox says: " + "; ".join(outcome.limit_messages)
        return run
    reason = "; ".join(outcome.limit_messages) or (
        "the notebook's code ended the grader's runner; the notebooks after it ran in a fresh sandbox")
    return NotebookRun(notebook, False, f"stopped: {reason}", 0.0, executed, outcome.limit_messages)


def execute_notebooks(workdir, notebooks, limits, mounts=(), hidden=(), parameters=FAST_PARAMETERS,
                      use_sandbox=True, threads=1):
    """Run ``notebooks`` (names in ``workdir``) one after another in the sandbox.

    ``limits``: an ``autograder.assignment.Limits``; ``mounts``: read-only data
    binds; ``threads``: math threads the notebooks may use (OMP/MKL).
    Returns a NotebookRun per notebook, in the order given.
    """
    workdir = Path(workdir).resolve()
    (workdir / EXECUTED_DIR).mkdir(exist_ok=True)
    (workdir / STATUS_DIR).mkdir(parents=True, exist_ok=True)
    mount, binds = mount_grader_library(workdir, use_sandbox)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "JUPYTER_PLATFORM_DIRS": "1", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           # figures become image outputs the feedback page can show
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    runs, remaining = {}, list(notebooks)
    while remaining:
        for notebook in remaining:
            path = workdir / status_path(notebook)
            if path.exists() or path.is_symlink():
                path.unlink()
        plan = lane_plan(remaining, limits, parameters, use_sandbox)
        command = [sys.executable, "-I", str(mount / "sandbox" / "inside" / "notebook_runner.py"), json.dumps(plan)]
        lane_limits = sandbox.RunLimits.from_assignment(
            limits, wall_s=len(remaining) * limits.notebook_wall_s + LANE_SLACK_S)
        outcome = sandbox.run_sandboxed(command, workdir, lane_limits, hidden=[REFERENCE_ROOT, *hidden],
                                        readable=[sys.prefix], env=env,
                                        extra_ro_binds=[*mounts, *binds], sandbox=use_sandbox)
        started = {}
        for notebook in remaining:
            status = read_status(workdir, notebook)
            if status is not None:
                started[notebook] = _run_from_status(workdir, notebook, status, outcome)
        if not started:  # the runner failed before its first notebook: say why, for all
            why = (outcome.limit_messages or [line for line in outcome.stderr.strip().splitlines()][-1:]
                   or [f"exit code {outcome.returncode}"])
            for notebook in remaining:
                started[notebook] = NotebookRun(notebook, False, f"not run: the notebook runner failed ({why[0][:300]})",
                                                0.0, None, outcome.limit_messages)
        runs.update(started)
        remaining = [n for n in remaining if n not in runs]
    return [runs[n] for n in notebooks]
