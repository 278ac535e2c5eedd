"""Executing a submission's notebooks headlessly: papermill, inside the sandbox.

One sandboxed process, the runner (``autograder/sandbox/inside/notebook_runner.py``),
executes a lane's notebooks one after another with the fast parameters, in the
lane's own workspace; grade.py runs several lanes side by side. Per-cell and
per-notebook time limits are enforced inside the runner; memory, process,
file-size and disk caps and a wall clock for the whole lane by the sandbox.
Should a notebook's code end the runner itself, the notebooks after it start
again in a fresh sandbox, so one notebook cannot keep the next from running.

The runner reports on its private stdout (seal lines); executed notebooks are
read back with ``Workspace.read_bytes``, only when they match the runner's seal
and fit the output cap.
"""
import dataclasses
import hashlib
import json
from pathlib import Path

from autograder.sandbox.inside.notebook_runner import LOG_DIR
from autograder.sandbox.inside.seal import NOTEBOOK_SEAL_PREFIX, sealed_lines
from autograder.sandbox.launcher import Launcher
from autograder.sandbox.limits import Outcome, RunLimits
from autograder.sandbox.workspace import TooLarge, Workspace

EXECUTED_DIR = "executed"
FAST_PARAMETERS = {"fast_mode": True}
LANE_SLACK_S = 60  # kernel start-ups and clean-up on top of the notebooks' own limits
NOTEBOOK_SOURCE_MB = 8  # an executed notebook may be its own text plus max_output_mb of outputs


@dataclasses.dataclass
class NotebookRun:
    """How one notebook's headless run went.

    ``data``: the executed notebook's bytes as read back (None if nothing usable
    came back); ``executed``: where grade.py kept them for feedback and manual grading.
    """

    notebook: str
    ok: bool
    message: str
    wall_s: float
    data: bytes = None
    limits_hit: list = dataclasses.field(default_factory=list)
    executed: Path = None


def lane_plan(notebooks, limits, parameters: dict, use_sandbox: bool, fork_kernels: bool = True) -> dict:
    """What the runner needs, passed on its command line (no file to tamper with)."""
    return {"notebooks": list(notebooks), "parameters": dict(parameters),
            "cell_wall_s": limits.cell_wall_s, "notebook_wall_s": limits.notebook_wall_s,
            "max_output_bytes": limits.max_output_mb << 20, "executed_dir": EXECUTED_DIR,
            "own_pid_namespace": bool(use_sandbox), "fork_kernels": bool(fork_kernels)}


def read_seals(stdout: str) -> dict:
    """{notebook: last checked status} from the runner's seal lines."""
    return {name: checked_status(status) for name, status in sealed_lines(stdout, NOTEBOOK_SEAL_PREFIX,
                                                                           "notebook").items()}


def checked_status(status: dict) -> dict:
    """The fields of a seal, each checked for type and size."""
    if status.get("state") != "done":
        return {"state": "started"}
    limits_hit = status.get("limits_hit")
    wall = status.get("wall_s")
    return {"state": "done", "ok": status.get("ok") is True,
            "message": str(status.get("message", ""))[:600] or "no message",
            "wall_s": float(wall) if isinstance(wall, (int, float)) else 0.0,
            "limits_hit": [str(x)[:100] for x in limits_hit[:5]] if isinstance(limits_hit, list) else [],
            "sha256": status.get("sha256") if isinstance(status.get("sha256"), str) else None}


def executed_bytes(workspace: Workspace, notebook: str, sha256, max_bytes: int) -> tuple:
    """The executed notebook as the runner sealed it, or (None, why not)."""
    try:
        data = workspace.read_bytes(f"{EXECUTED_DIR}/{notebook}", max_bytes)
    except TooLarge:
        return None, f"the executed notebook is larger than {max_bytes >> 20} MB and was not kept"
    if data is None:
        return None, ""
    if sha256 is None or hashlib.sha256(data).hexdigest() != sha256:
        return None, "the executed notebook was changed after it ran and was not kept"
    return data, ""


def _run_from_seal(workspace, notebook, status, outcome, max_bytes):
    """A NotebookRun from the runner's sealed word, completed with what the sandbox saw."""
    if status["state"] == "done":
        executed, why = executed_bytes(workspace, notebook, status["sha256"], max_bytes)
        run = NotebookRun(notebook, status["ok"], status["message"] + (f"; {why}" if why else ""),
                          status["wall_s"], executed, status["limits_hit"])
        if not run.ok and "kernel died" in run.limits_hit and outcome.limit_messages:
            run.message += "; the sandbox says: " + "; ".join(outcome.limit_messages)
        return run
    reason = "; ".join(outcome.limit_messages) or (
        "the notebook's code ended the grader's runner; the notebooks after it ran in a fresh sandbox")
    return NotebookRun(notebook, False, f"stopped: {reason}", 0.0, None, outcome.limit_messages)


def _runner_failure(workspace: Workspace, outcome: Outcome) -> str:
    """Why the runner ended before its first notebook, in one line."""
    try:
        log = (workspace.read_bytes(f"{LOG_DIR}/runner.log", 1 << 16) or b"").decode("utf-8", "replace")
    except TooLarge:
        log = ""
    lines = (outcome.stderr + "\n" + log).strip().splitlines()
    why = outcome.limit_messages or lines[-1:] or [f"exit code {outcome.returncode}"]
    return why[0][:300]


def execute_notebooks(workspace: Workspace, notebooks, limits, launcher: Launcher, data=(),
                      parameters=FAST_PARAMETERS, threads: int = 1, fork_kernels: bool = True) -> list[NotebookRun]:
    """Run ``notebooks`` (names in the workspace) one after another in the sandbox.

    ``limits``: an ``autograder.assignment.Limits``; ``data``: (source, relative
    target) read-only binds; ``threads``: math threads the notebooks may use;
    ``fork_kernels``: fork each kernel from the runner (warm), rather than start it.
    Returns a NotebookRun per notebook, in the order given.
    """
    env = {"JUPYTER_PLATFORM_DIRS": "1", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           # figures become image outputs the feedback page can show
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    max_bytes = (limits.max_output_mb + NOTEBOOK_SOURCE_MB) << 20
    runs, remaining = {}, list(notebooks)
    while remaining:
        plan = lane_plan(remaining, limits, parameters, launcher.sandboxed, fork_kernels)
        lane_limits = RunLimits.from_assignment(limits, wall_s=len(remaining) * limits.notebook_wall_s + LANE_SLACK_S)
        outcome = launcher.run("notebook_runner", [json.dumps(plan)], workspace, lane_limits, data, env)
        seals = read_seals(outcome.stdout)
        started = {n: _run_from_seal(workspace, n, seals[n], outcome, max_bytes) for n in remaining if n in seals}
        if not started:  # the runner failed before its first notebook: say why, for all
            why = _runner_failure(workspace, outcome)
            started = {n: NotebookRun(n, False, f"not run: the notebook runner failed ({why})", 0.0, None,
                                      outcome.limit_messages) for n in remaining}
        runs.update(started)
        remaining = [n for n in remaining if n not in runs]
    return [runs[n] for n in notebooks]
