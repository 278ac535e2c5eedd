"""Notebook execution: the in-sandbox runner, its limits, and lanes.

Small hand-made notebooks run through ``execute_notebooks`` with real papermill,
real kernels and the real sandbox; each proves one promise of execute.py and
autograder/sandbox/inside/notebook_runner.py.
"""
import dataclasses
import json
import shutil

import nbformat
import pytest

from autograder.assignment import load_assignment
from autograder.grading.execute import execute_notebooks
from autograder.grading.lanes import plan_lanes
from autograder.sandbox.launcher import Launcher, bwrap_path
from autograder.sandbox.workspace import Workspace

LIMITS = dataclasses.replace(load_assignment().limits, cell_wall_s=4, notebook_wall_s=8, max_output_mb=1)
needs_bwrap = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")


def write_notebook(folder, name, *cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell("fast_mode = False")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters] + [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, str(folder / name))
    return name


def run(folder, *notebooks, use_sandbox=True, fork_kernels=True, lane="lane", **limits):
    """Run ``notebooks`` (written in ``folder``) in a lane workspace of their own."""
    limits = dataclasses.replace(LIMITS, **limits)
    with Workspace.create(folder / lane, 256 << 20) as workspace:
        for name in notebooks:
            shutil.copyfile(folder / name, workspace.path / name)
        workspace.hand_over()
        launcher = Launcher.decide(allow_unsandboxed=not use_sandbox) if use_sandbox else Launcher(False)
        return {r.notebook: r for r in execute_notebooks(workspace, notebooks, limits, launcher, threads=3,
                                                         fork_kernels=fork_kernels)}


def printed(result, cell=-1):
    """The text a cell of an executed notebook printed."""
    outputs = nbformat.reads(result.data.decode(), as_version=4).cells[cell].outputs
    return "".join(o.get("text", "") for o in outputs)


# --- lanes ------------------------------------------------------------------


def test_lanes_put_each_task_on_the_least_loaded_lane_longest_first():
    plan = plan_lanes({"a": 5, "b": 4, "c": 3, "d": 3, "e": 1}, 2)
    assert plan == [["a", "d"], ["b", "c", "e"]]  # loads 8 and 8: the best split of 16
    assert plan_lanes({"a": 1, "b": 2}, 8) == [["b"], ["a"]]  # never more lanes than tasks
    assert plan_lanes({"a": 1, "b": 2, "c": 3}, 1) == [["c", "b", "a"]]


# --- the runner ---------------------------------------------------------------


@needs_bwrap
def test_a_good_notebook_runs_with_the_fast_parameters_and_its_thread_count(tmp_path):
    name = write_notebook(tmp_path, "good.ipynb", "import os\nassert fast_mode is True\n"
                                                  "print('threads', os.environ['OMP_NUM_THREADS'])")
    result = run(tmp_path, name)[name]
    assert result.ok and result.message == "ran top to bottom"
    executed = nbformat.reads(result.data.decode(), as_version=4)
    assert "threads 3" in json.dumps(executed.cells[-1].outputs)


@needs_bwrap
def test_errors_and_cell_timeouts_are_reported_and_the_next_notebook_still_runs(tmp_path):
    broken = write_notebook(tmp_path, "broken.ipynb", "x = 1", "raise ValueError('bad shape (3, 4)')")
    slow = write_notebook(tmp_path, "slow.ipynb", "import time\ntime.sleep(60)")
    after = write_notebook(tmp_path, "after.ipynb", "print('fine')")
    results = run(tmp_path, broken, slow, after)
    # numbered as the student's notebook shows it after Restart & Run All (parameters In [1],
    # x = 1 In [2]): not counting the parameters cell papermill injected before it
    assert not results[broken].ok and "the cell In [3] raised ValueError: bad shape (3, 4)" in results[broken].message
    assert not results[slow].ok and "per-cell time limit (4 s)" in results[slow].message
    assert results[slow].wall_s < 30
    cells = nbformat.reads(results[broken].data.decode(), as_version=4).cells
    assert "bad shape (3, 4)" in json.dumps(cells[-1].outputs)  # the error is in the executed copy
    assert results[after].ok


@needs_bwrap
def test_the_notebook_wall_clock_stops_many_short_cells(tmp_path):
    name = write_notebook(tmp_path, "many.ipynb", *["import time\ntime.sleep(1.5)"] * 12)
    after = write_notebook(tmp_path, "after.ipynb", "print('fine')")
    results = run(tmp_path, name, after)
    assert not results[name].ok and "notebook ran past its time limit (8 s)" in results[name].message
    assert results[name].wall_s < 20
    assert results[after].ok
    # the executed copy is written once, when the run ends, and keeps the cells that ran
    ran = [c for c in nbformat.reads(results[name].data.decode(), as_version=4).cells if c.execution_count]
    assert 3 <= len(ran) < 13, len(ran)


DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open('daemon.pid', 'w').write(str(os.getpid()))
        while True:
            time.sleep(0.1)
    os._exit(0)
while not os.path.exists('daemon.pid'):
    time.sleep(0.05)
"""


# the next notebook runs in the same runner (in the sandbox, the same pid namespace)
DAEMON_GONE = """
import time
time.sleep(0.2)
pid = open('daemon.pid').read()
try:
    state = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]
except OSError:
    state = 'gone'
assert state in ('gone', 'Z'), f'the daemon {pid} is still alive ({state})'
"""


@needs_bwrap
def test_a_daemon_does_not_outlive_its_notebook(tmp_path):
    first = write_notebook(tmp_path, "daemon.ipynb", DAEMON)
    second = write_notebook(tmp_path, "check.ipynb", DAEMON_GONE)
    results = run(tmp_path, first, second)
    assert results[first].ok, results[first].message
    assert results[second].ok, results[second].message


def test_unsandboxed_runs_still_end_their_daemons(tmp_path):
    """Without a pid namespace the runner adopts orphans (a subreaper) and ends them."""
    first = write_notebook(tmp_path, "daemon.ipynb", DAEMON)
    second = write_notebook(tmp_path, "check.ipynb", DAEMON_GONE)
    results = run(tmp_path, first, second, use_sandbox=False)
    assert results[first].ok, results[first].message
    assert results[second].ok, results[second].message


KILL_RUNNER = ("import os, signal\nfor sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):\n"
               "    os.kill(os.getppid(), sig)")


@needs_bwrap
def test_in_the_sandbox_a_notebook_cannot_kill_the_runner(tmp_path):
    killer = write_notebook(tmp_path, "killer.ipynb", KILL_RUNNER, "import os\nassert os.getppid() == 1")
    after = write_notebook(tmp_path, "after.ipynb", "print('fine')")
    results = run(tmp_path, killer, after)
    assert results[killer].ok and results[after].ok, results[killer].message


def test_killing_the_runner_costs_only_that_notebook(tmp_path):
    """Unsandboxed the runner can be killed: the notebooks after it start again."""
    killer = write_notebook(tmp_path, "killer.ipynb", KILL_RUNNER)
    after = write_notebook(tmp_path, "after.ipynb", "print('fine')")
    results = run(tmp_path, killer, after, use_sandbox=False)
    assert not results[killer].ok and "ended the grader's runner" in results[killer].message
    assert results[after].ok


@needs_bwrap
def test_huge_output_is_dropped_with_a_note(tmp_path):
    name = write_notebook(tmp_path, "loud.ipynb", "for _ in range(200):\n    print('x' * 100_000)",
                          "print('still running')")
    result = run(tmp_path, name)[name]
    assert result.ok
    assert len(result.data) < 2 * 2**20  # 20 MB printed, at most 1 MB kept
    cells = nbformat.reads(result.data.decode(), as_version=4).cells
    assert "output dropped" in json.dumps(cells[-2].outputs)
    assert cells[-1].execution_count and cells[-1].outputs == []  # ran; its output was over the budget


@needs_bwrap
def test_an_unreadable_notebook_is_a_reason_not_a_crash(tmp_path):
    (tmp_path / "bad.ipynb").write_text("{ this is not json")
    after = write_notebook(tmp_path, "after.ipynb", "print('fine')")
    results = run(tmp_path, "bad.ipynb", after)
    assert not results["bad.ipynb"].ok and results["bad.ipynb"].message.startswith("the run failed")
    assert results[after].ok


SLOW_TO_EXIT = """
import atexit, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
atexit.register(time.sleep, 30)  # a kernel asked to shut down would take 30 s to go
print("done")
"""


@needs_bwrap
def test_a_finished_notebook_does_not_wait_for_its_kernel_to_exit(tmp_path):
    """The kernel is killed once the last cell is done (nbclient's "immediate" shutdown):
    a graceful one waits for ipykernel to exit by itself, which about one kernel in
    seven failed to do for 3.4 s, and this one would not do for 30 s."""
    name = write_notebook(tmp_path, "slow_exit.ipynb", SLOW_TO_EXIT)
    result = run(tmp_path, name)[name]
    assert result.ok, result.message
    assert result.wall_s < 3, result.wall_s
    executed = nbformat.reads(result.data.decode(), as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "done\n"  # every output kept


# --- kernels forked from the runner (autograder/sandbox/inside/forked_kernels.py) -----

KERNEL_PROBE = """
import json, os, sys
import matplotlib
import numpy, torch
facts = {"cwd": os.getcwd(), "path": sys.path, "argv": sys.argv[:2] + sys.argv[3:],
         "env": {k: v for k, v in os.environ.items() if not k.startswith("JPY_")},
         "own_session": os.getsid(0) == os.getpid(),
         "main": sys.modules["__main__"].__name__, "bytecode": sys.dont_write_bytecode,
         "backend": matplotlib.get_backend(), "torch_threads": torch.get_num_threads(),
         "helper": os.path.realpath(__import__("helper").__file__),
         "grader_modules": sorted(m for m in sys.modules if m.split(".")[0] == "autograder"),
         "descriptors": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))[:3]}
draws = {"numpy": numpy.random.rand(), "torch": torch.rand(1).item()}
print(json.dumps({"facts": facts, "draws": draws, "torch_was_imported": TORCH_BEFORE,
                  "parent_is_pid_1": os.getppid() == 1}))
"""


def probe_kernels(folder, fork_kernels):
    """Facts two kernels of one lane report about themselves, and their random draws."""
    folder.mkdir()
    (folder / "helper.py").write_text("X = 1\n")
    names = [write_notebook(folder, f"probe{k}.ipynb", "import sys\nTORCH_BEFORE = 'torch' in sys.modules",
                            "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()", KERNEL_PROBE)
             for k in range(2)]
    with Workspace.create(folder / "lane", 256 << 20) as workspace:
        for name in [*names, "helper.py"]:
            shutil.copyfile(folder / name, workspace.path / name)
        workspace.hand_over()
        runs = execute_notebooks(workspace, names, LIMITS, Launcher.decide(), threads=3, fork_kernels=fork_kernels)
    assert all(r.ok for r in runs), [r.message for r in runs]
    for r in runs:  # the figure became an image output, as the feedback page shows it
        assert "image/png" in json.dumps(nbformat.reads(r.data.decode(), as_version=4).cells[-2].outputs)
    return [json.loads(printed(r)) for r in runs]


@needs_bwrap
def test_a_forked_kernel_is_warm_and_otherwise_what_a_started_kernel_is(tmp_path):
    """Same folder, sys.path (the notebook's folder importable first after the standard
    library), argv, environment, session, backend (figures inline), thread count and descriptors 0-2 as a
    kernel the client starts; none of the grader's modules; torch already imported (the
    runner was forked warm); and, as started kernels, new random seeds in every kernel."""
    forked, started = probe_kernels(tmp_path / "forked", True), probe_kernels(tmp_path / "started", False)
    for one in forked + started:
        assert one["facts"] == started[0]["facts"]
    assert started[0]["facts"]["helper"].endswith("/helper.py")
    assert forked[0]["parent_is_pid_1"] and forked[1]["parent_is_pid_1"]  # the runner: no notebook can end it
    assert started[0]["facts"]["grader_modules"] == [] and started[0]["facts"]["own_session"]
    assert [one["torch_was_imported"] for one in forked + started] == [True, True, False, False]
    for source in ("numpy", "torch"):
        assert forked[0]["draws"][source] != forked[1]["draws"][source], source


ENDS_ITS_CLIENT = "import os, signal\nos.kill(-1, signal.SIGKILL)  # every process it may signal but pid 1"


@needs_bwrap
def test_a_notebook_that_ends_the_process_running_it_costs_only_that_notebook(tmp_path):
    killer = write_notebook(tmp_path, "killer.ipynb", ENDS_ITS_CLIENT, "print('not reached')")
    after = write_notebook(tmp_path, "after.ipynb", "print('fine')")
    results = run(tmp_path, killer, after)
    assert not results[killer].ok
    assert results[killer].message == "stopped: the notebook's code ended the process that ran it"
    assert results[after].ok and printed(results[after]) == "fine\n"


def test_the_template_returns_a_clients_result_notices_its_end_and_gives_up_on_a_silent_one():
    """serve_kernels: the result a client sends; None when the client ended without one
    (the notebook's code killed it); TimeoutError past the deadline (a stopped client)."""
    import socket

    from autograder.sandbox.inside.forked_kernels import serve_kernels

    template, client = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    client.send(json.dumps({"result": {"ok": True}}).encode())
    assert serve_kernels(template, [], 5) == {"ok": True}
    with pytest.raises(TimeoutError):
        serve_kernels(template, [], 0.2)
    client.close()
    assert serve_kernels(template, [], 5) is None
    template.close()


def test_a_kernel_the_template_cannot_fork_is_started_by_the_client(tmp_path, monkeypatch):
    """No template, one that answers with an error, one that has gone, a plan that says
    not to, a kernel this machine cannot follow (no pidfd: it is ended): the client starts
    the kernel itself (request_kernel gives None); a command that is not ipykernel's is
    never sent."""
    import os
    import socket
    import subprocess
    import sys

    from autograder.sandbox.inside import forked_kernels

    command = [sys.executable, "-m", "ipykernel_launcher", "-f", str(tmp_path / "kernel.json")]
    forked_kernels.use_template(None)
    assert forked_kernels.request_kernel(command, {}, tmp_path) is None
    ours, template = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    forked_kernels.use_template(ours)
    assert forked_kernels.request_kernel(["/bin/other-kernel", "-f", "x"], {}, tmp_path) is None
    template.setblocking(False)
    with pytest.raises(BlockingIOError):
        template.recv(1)  # nothing was sent for it
    template.send(b'{"error": "fork: Resource temporarily unavailable"}')
    assert forked_kernels.request_kernel(command, {}, tmp_path) is None
    assert json.loads(template.recv(1 << 16))["argv"] == command
    template.close()
    assert forked_kernels.request_kernel(command, {}, tmp_path) is None

    ours, template = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    forked_kernels.use_template(ours, fork=False)
    assert forked_kernels.request_kernel(command, {}, tmp_path) is None
    forked_kernels.use_template(ours)
    stand_in = subprocess.Popen(["sleep", "60"])  # the kernel the template forked
    template.send(json.dumps({"pid": stand_in.pid}).encode())

    def no_pidfd(pid):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    assert forked_kernels.request_kernel(command, {}, tmp_path) is None
    assert stand_in.wait(timeout=10) == -9
    template.setblocking(False)
    assert json.loads(template.recv(1 << 16))["argv"] == command  # asked once
    assert forked_kernels.request_kernel(command, {}, tmp_path) is None  # and never again
    with pytest.raises(BlockingIOError):
        template.recv(1)
    forked_kernels.use_template(None)
