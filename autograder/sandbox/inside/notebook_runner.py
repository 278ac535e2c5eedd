"""The notebook runner that executes INSIDE the sandbox (started by execute.py).

Usage (isolated interpreter, cwd = the staged submission):
    python -I .grader/autograder/sandbox/inside/notebook_runner.py '<plan as JSON>'

The plan (``execute.lane_plan``) lists notebooks to run one after another with
papermill. This process imports papermill once per lane and stays a clean
template: for each notebook it forks a client that runs papermill, and forks
the client's kernel, so a kernel starts with what this process imported (torch,
when it was started warm: ``inside/forked_kernels.py``). For each notebook:

- the runner reports ``started`` and then how it went, with the sha256 of the
  executed notebook, as one line each on its own stdout, which it keeps on a
  private descriptor: before anything runs it points descriptors 1 and 2 at
  ``.grader/notebooks/runner.log``, so the kernels it starts (and the student
  code in them) inherit the log, never the grader's pipe;
- papermill enforces the per-cell time limit; a watchdog thread enforces the
  per-notebook one by killing the kernel (and everything it started);
- outputs beyond ``max_output_bytes`` are dropped, with a note in the notebook,
  so a cell printing hundreds of megabytes costs neither memory nor disk;
- afterwards every process the notebook left behind (a daemon, a fork bomb's
  remains, the client) is killed (``autograder/sandbox/inside/sweep.py``), so
  the next notebook starts clean;
- should the notebook's code end its client, only that notebook fails, with a reason.

Only the standard library, nbclient, papermill, the grader's own sweep module
and, for the kernels it forks, ipykernel and matplotlib.pyplot
(``inside/warm_imports.py``) are imported here, never student code. The
trusted side never believes these files for points: they only describe the
run in the report.
"""
import gc
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

LOG_DIR = Path(".grader") / "notebooks"
CLIENT_SLACK_S = 30  # past the notebook's own limit, the client is given up for lost
SAVE_EVERY_S = 5.0  # the executed notebook on disk while cells run: at most this old
DROPPED_NOTE = "\n[output dropped: this notebook printed more than the grader keeps ({mb:g} MB)]\n"


def private_report_channel():
    """Keep stdout for the runner alone (a close-on-exec copy); descriptors 1 and 2,
    which every child inherits, go to the log from now on. Returns the copy."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    channel = os.dup(1)  # Python makes it non-inheritable
    log = os.open(LOG_DIR / "runner.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return channel


def report(channel, notebook, status):
    """One seal line for ``notebook`` on the private channel."""
    from autograder.sandbox.inside.seal import NOTEBOOK_SEAL_PREFIX

    os.write(channel, (NOTEBOOK_SEAL_PREFIX + json.dumps({"notebook": notebook, **status}) + "\n").encode())


# ---------------------------------------------------------------------------
# papermill with an output budget


def _message_size(msg):
    content = msg.get("content", {})
    if "text" in content:
        return len(content["text"])
    return len(json.dumps(content.get("data", content), default=str))


def _at_most_every(seconds, save):
    """``save``, skipped when the last one was under ``seconds`` ago. papermill saves the
    executed notebook after every cell (each a validated write of the whole notebook:
    1.6 CPU-s of a complete submission's notebooks); the copy on disk only matters when a
    run ends without its final save (its client killed)."""
    last = [float("-inf")]

    def throttled(**kwargs):
        if time.monotonic() - last[0] >= seconds:
            save(**kwargs)
            last[0] = time.monotonic()

    return throttled


def register_capped_engine(max_output_bytes):
    """A papermill engine ("capped") whose client keeps at most ``max_output_bytes``
    of outputs per notebook and drops the rest with one note."""
    from nbformat.v4 import new_output
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    from autograder.sandbox.inside.forked_kernels import kernel_manager_class

    class CappedOutputClient(PapermillNotebookClient):
        kept_bytes = 0
        dropped = False

        def output(self, outs, msg, display_id, cell_index):
            self.kept_bytes += _message_size(msg)
            if self.kept_bytes <= max_output_bytes:
                return super().output(outs, msg, display_id, cell_index)
            if not self.dropped:
                self.dropped = True
                outs.append(new_output("stream", name="stderr",
                                       text=DROPPED_NOTE.format(mb=max_output_bytes / 2**20)))
            return None

    class CappedEngine(NBClientEngine):
        """NBClientEngine with the capped client (papermill's engine registry)."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            for unused in ("input_path", "timeout", "startup_timeout"):
                kwargs.pop(unused, None)
            save = nb_man.save
            nb_man.save = _at_most_every(SAVE_EVERY_S, save)
            try:
                # "immediate": the kernel is killed once the last cell is done. A graceful
                # shutdown waits for ipykernel to exit on its own, and about one kernel in
                # seven did not (3.4 s lost each time, then killed all the same).
                return CappedOutputClient(nb_man, timeout=execution_timeout, startup_timeout=start_timeout,
                                          kernel_name=kernel_name, log=logger, log_output=False,
                                          shutdown_kernel="immediate", kernel_manager_class=kernel_manager_class(),
                                          **kwargs).execute()
            finally:
                nb_man.save = save  # the engine's last save, however the run ended, is a real one

    papermill_engines.register("capped", CappedEngine)
    return "capped"


# ---------------------------------------------------------------------------
# one notebook


def shown_cell_number(exc, executed_path):
    """The ``In [n]`` of the failing cell as the student's own notebook numbers it after
    Restart & Run All: papermill's run also counted the parameters cell it injected."""
    from autograder.sandbox.inside.seal import read_regular_file

    count = exc.exec_count
    try:  # student code may still run beside us: no links, no FIFOs, a size cap
        cells = json.loads(read_regular_file(executed_path, 256 << 20))["cells"]
        injected = next(k for k, c in enumerate(cells) if "injected-parameters" in c["metadata"].get("tags", []))
    except Exception:  # no readable copy or no injected cell: papermill's own count
        return count
    return count - 1 if isinstance(count, int) and count > 1 and injected < exc.cell_index else count


def describe_failure(exc, plan, watchdog_fired, executed_path=None):
    """(message, limits hit) for an exception papermill raised, in a student's words."""
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if watchdog_fired:
        return (f"stopped: the notebook ran past its time limit ({plan['notebook_wall_s']:.0f} s)",
                ["notebook time limit"])
    if isinstance(exc, PapermillExecutionError):
        evalue = str(exc.evalue).strip().splitlines()
        detail = f"{exc.ename}: {evalue[0][:300]}" if evalue else exc.ename
        return f"the cell In [{shown_cell_number(exc, executed_path)}] raised {detail}", []
    if isinstance(exc, TimeoutError):  # nbclient's CellTimeoutError
        return (f"stopped: a cell ran past the per-cell time limit ({plan['cell_wall_s']:.0f} s)",
                ["cell time limit"])
    if isinstance(exc, DeadKernelError):
        return ("the kernel died (it may have run out of memory, hit the process limit, "
                "or been ended by the notebook's code)", ["kernel died"])
    text = str(exc).strip().splitlines()
    return f"the run failed: {type(exc).__name__}: {text[0][:300] if text else ''}", []


def run_notebook(notebook, plan, engine, whole_namespace):
    """Execute one notebook into ``executed/``; return its status dict."""
    import papermill

    from autograder.sandbox.inside.forked_kernels import kill_forked_kernel
    from autograder.sandbox.inside.sweep import kill_strays

    fired = threading.Event()

    def watchdog():
        fired.set()
        kill_forked_kernel()  # the template's child, not ours
        kill_strays(whole_namespace)

    timer = threading.Timer(plan["notebook_wall_s"], watchdog)
    start = time.monotonic()
    timer.start()
    executed = Path(plan["executed_dir"]) / notebook
    try:
        papermill.execute_notebook(notebook, str(executed),
                                   parameters=plan["parameters"], engine_name=engine,
                                   kernel_name="python3", language="python",
                                   execution_timeout=plan["cell_wall_s"], progress_bar=False)
        message, limits_hit, ok = "ran top to bottom", [], True
    except Exception as exc:  # everything a notebook can do wrong ends up here, in words
        message, limits_hit = describe_failure(exc, plan, fired.is_set(), executed)
        ok = False
    finally:
        timer.cancel()
    return {"state": "done", "ok": ok, "message": message, "limits_hit": limits_hit,
            "wall_s": round(time.monotonic() - start, 3)}


def run_in_client(notebook, plan, engine, whole_namespace, channel, base_path):
    """Fork the client that runs ``notebook``, fork the kernels it asks for (unless the
    plan says not to: the client then starts them); its status."""
    from autograder.sandbox.inside import forked_kernels

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    start = time.monotonic()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ours.close()
            os.close(channel)
            forked_kernels.use_template(theirs, fork=plan.get("fork_kernels", True))
            forked_kernels.send_result(run_notebook(notebook, plan, engine, whole_namespace))
            code = 0
        finally:
            os._exit(code)
    theirs.close()
    limit = plan["notebook_wall_s"]
    try:
        status = forked_kernels.serve_kernels(ours, base_path, limit + CLIENT_SLACK_S)
        message, limits_hit = "stopped: the notebook's code ended the process that ran it", []
    except TimeoutError:  # its watchdog did not end it: the sweep that follows does
        status = None
        message, limits_hit = f"stopped: the notebook ran past its time limit ({limit:.0f} s)", ["notebook time limit"]
    ours.close()
    if not isinstance(status, dict):
        status = {"state": "done", "ok": False, "limits_hit": limits_hit, "message": message,
                  "wall_s": round(time.monotonic() - start, 3)}
    return status


def main(plan, base_path):
    """Run the plan's notebooks; ``base_path``: ``sys.path`` as the interpreter started."""
    from autograder.sandbox.inside.seal import file_digest
    from autograder.sandbox.inside.sweep import harden_runner, kill_strays, own_pid_namespace
    from autograder.sandbox.inside.warm_imports import NOTEBOOK_IMPORTS, RUN_ENVIRONMENT_IMPORTS, warm_imports

    harden_runner()
    channel = private_report_channel()
    Path(plan["executed_dir"]).mkdir(exist_ok=True)
    # ending every visible process is only safe in the sandbox's own pid namespace
    whole_namespace = plan["own_pid_namespace"] and own_pid_namespace()
    warm_imports(NOTEBOOK_IMPORTS + RUN_ENVIRONMENT_IMPORTS)  # once here (or in the fork server), not per kernel
    engine = register_capped_engine(plan["max_output_bytes"])
    gc.freeze()  # clients and kernels are forks: their collections skip what this process holds
    for notebook in plan["notebooks"]:
        report(channel, notebook, {"state": "started"})
        status = run_in_client(notebook, plan, engine, whole_namespace, channel, base_path)
        kill_strays(whole_namespace)  # before the seal: nothing of the notebook runs any more
        status["sha256"] = file_digest(Path(plan["executed_dir"]) / notebook)  # None if not a plain file
        report(channel, notebook, status)


if __name__ == "__main__":
    interpreter_path = list(sys.path)
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the folder holding ``autograder``
    main(json.loads(sys.argv[1]), interpreter_path)
