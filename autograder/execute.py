"""Executing a submission's notebook headlessly: papermill, inside the sandbox.

The notebook runs with the fast parameters (``fast_mode=True``), a per-cell
time limit (papermill's ``--execution-timeout``) and a per-notebook wall clock
plus memory and process caps (the sandbox). The executed notebook is kept in
the work folder for feedback and manual grading, errors and all.
"""
import dataclasses
import re
import sys
from pathlib import Path

from autograder import sandbox
from autograder.reference import REFERENCE_ROOT

EXECUTED_DIR = "executed"
FAST_PARAMETERS = {"fast_mode": True}


@dataclasses.dataclass
class NotebookRun:
    """How one notebook's headless run went; ``executed`` is None if nothing was written."""

    notebook: str
    ok: bool
    message: str
    wall_s: float
    executed: Path = None
    limits_hit: list = dataclasses.field(default_factory=list)


def papermill_command(notebook, output, cell_wall_s, parameters):
    command = [sys.executable, "-I", "-m", "papermill", notebook, output,
               "--kernel", "python3", "--language", "python",
               "--execution-timeout", str(int(cell_wall_s)),
               "--no-progress-bar"]  # papermill saves after each cell: a timeout keeps the cells before it
    for key, value in parameters.items():
        command += ["-p", key, str(value)]
    return command


def failure_message(stderr):
    """The student-facing reason a papermill run failed, from its stderr."""
    if "Cell execution timed out" in stderr or "TimeoutError" in stderr and "cell" in stderr.lower():
        return "a cell ran past the per-cell time limit"
    match = re.search(r"Exception encountered at \"In \[(\d+)\]\"", stderr)
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "no output"
    if match:
        return f"cell [{match.group(1)}] raised {last}"
    if "DeadKernelError" in stderr or "Kernel died" in stderr:
        return "the kernel died (it may have run out of memory or been ended by the code)"
    return f"the run failed: {last}"


def execute_notebook(workdir, notebook, limits, mounts=(), hidden=(), parameters=FAST_PARAMETERS,
                     use_sandbox=True):
    """Run ``workdir/notebook`` with papermill in the sandbox; return a NotebookRun.

    ``limits``: an ``autograder.assignment.Limits``; ``mounts``: read-only data binds.
    """
    workdir = Path(workdir).resolve()
    (workdir / EXECUTED_DIR).mkdir(exist_ok=True)
    output = Path(EXECUTED_DIR) / notebook
    command = papermill_command(notebook, str(output), limits.cell_wall_s, parameters)
    run_limits = sandbox.Limits.from_assignment(limits, wall_s=limits.notebook_wall_s)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "JUPYTER_PLATFORM_DIRS": "1",
           # figures become image outputs the feedback page can show
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    outcome = sandbox.run_sandboxed(command, workdir, run_limits, hidden=[REFERENCE_ROOT, *hidden],
                                    readable=[sys.prefix], env=env, extra_ro_binds=mounts,
                                    sandbox=use_sandbox)
    executed = workdir / output
    limits_hit = outcome.limit_messages
    if outcome.returncode == 0:
        message = "ran top to bottom"
    else:
        message = "; ".join(limits_hit) if limits_hit else failure_message(outcome.stderr)
    return NotebookRun(notebook=notebook, ok=outcome.returncode == 0, message=message,
                       wall_s=outcome.wall_s, executed=executed if executed.exists() else None,
                       limits_hit=limits_hit)
