"""Warm starts (autograder/sandbox/forkserver.py): what a forked runner gets, and what
happens when the server fails or the grader dies. Isolation and limits themselves are
proven both ways, cold and warm, in test_sandbox.py."""
import json
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.grading.grade import Options, grade_submission
from autograder.release.demo_submissions import KNOWN_BUG, reference_files, with_bug
from autograder.sandbox import forkserver
from autograder.sandbox import launcher as launcher_mod
from autograder.sandbox.launcher import Launcher, bwrap_path
from autograder.sandbox.limits import RunLimits
from autograder.sandbox.workspace import Workspace

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")

PY = sys.executable
ASSIGNMENT = load_assignment()


@pytest.fixture
def workspace(tmp_path):
    with Workspace.create(tmp_path / "work", 16 << 20) as space:
        space.hand_over()
        yield space


def run_warm(code, workspace, limits=RunLimits(wall_s=30)):
    return Launcher(True).run_command([PY, "-I", "-c", code], workspace, limits, warm=True)


INHERITED = """
import json, os, sys
print(json.dumps({
    "modules": sorted(m for m in sys.modules
                      if m.split('.')[0] in ('autograder', 'cs231n', 'enter', 'forkserver', 'fresh_start',
                                             'warm_imports')),
    "torch": 'torch' in sys.modules,
    "fds": sorted(int(fd) for fd in os.listdir('/proc/self/fd')),
    "env": dict(os.environ),
    "pid": os.getpid(),
    "argv": sys.argv,
}))
"""


def test_a_warm_runner_has_torch_imported_and_nothing_of_the_grader(workspace, monkeypatch):
    monkeypatch.setenv("CS231N_GRADER_SEED", "987654")
    out = run_warm(INHERITED, workspace)
    assert out.returncode == 0 and out.enforced["warm"], out.stderr
    got = json.loads(out.stdout)
    assert got["torch"]  # what the server is for
    assert got["modules"] == []
    assert got["fds"] == [0, 1, 2, 3]  # 3: the listing's own
    assert "987654" not in json.dumps(got["env"]) and got["env"]["HOME"] == "/submission"
    assert got["pid"] == 1 and got["argv"] == ["-c"]


def test_the_server_imports_what_a_run_names_once_and_only_then(tmp_path):
    """The notebook runner's modules (papermill, ipykernel) are imported by the server at
    the first run that names them (launcher.RUNNER_IMPORTS), not when it starts: a grader
    that runs no notebook never pays for them."""
    code = "import sys; print('tabnanny' in sys.modules)"
    launcher = Launcher(True)
    seen = []
    for imports in ((), ("tabnanny",), ()):  # a standard module nothing else imports
        with Workspace.create(tmp_path / f"work{len(seen)}", 16 << 20) as space:
            space.hand_over()
            out = launcher.run_command([PY, "-I", "-c", code], space, RunLimits(wall_s=30), warm=True,
                                       imports=imports)
        assert out.returncode == 0 and out.enforced["warm"], out.stderr
        seen.append(out.stdout.strip())
    assert seen == ["False", "True", "True"]
    assert launcher_mod.RUNNER_IMPORTS == {"notebook_runner": launcher_mod.NOTEBOOK_IMPORTS}


def test_no_descriptor_of_the_server_passes_the_runs_lower_open_file_limit(workspace):
    """The monitor lowers RLIMIT_NOFILE after the server opened its descriptors (torch's
    among them), so closing those below the new limit is not enough."""
    out = Launcher(True).run_command([PY, "-I", "-c", INHERITED], workspace,
                                     RunLimits(wall_s=30, max_open_files=8), warm=True)
    assert out.returncode == 0 and out.enforced["warm"], out.stderr
    assert json.loads(out.stdout)["fds"] == [0, 1, 2, 3]


def test_a_failing_fork_server_means_a_cold_start_not_a_failed_run(workspace, monkeypatch):
    def refuse(self, plan, stdout, stderr):
        raise forkserver.ForkServerError("refused for the test")

    monkeypatch.setattr(forkserver.ForkServer, "start", refuse)
    out = run_warm("import sys; print('torch' in sys.modules)", workspace)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
    assert out.enforced["warm"] is False and "started cold: refused for the test" in out.stderr


def test_a_dead_fork_server_is_replaced(workspace):
    assert launcher_mod.warm_starts() == ""
    server = launcher_mod.fork_server()
    server.process.kill()
    server.process.wait()
    out = run_warm("print('again')", workspace)
    assert out.stdout.strip() == "again" and out.enforced["warm"], out.stderr
    assert launcher_mod.fork_server() is not server


GRADER = """
import sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {root!r})
from autograder.sandbox.launcher import Launcher
from autograder.sandbox.limits import RunLimits
from autograder.sandbox.workspace import Workspace
space = Workspace.create(Path(tempfile.mkdtemp()) / "w", 1 << 20)
space.hand_over()
print(space.uid, flush=True)
Launcher(True).run_command([sys.executable, "-c", "import time; time.sleep(600)"], space,
                           RunLimits(wall_s=600), warm=True)
"""


def test_a_warm_runner_ends_when_its_grader_is_killed(tmp_path):
    """The runner's monitor sees the grader's end of its socket close and kills it."""
    grader = subprocess.Popen([PY, "-c", GRADER.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True)
    uid = int(grader.stdout.readline())

    def processes_of_the_run():
        found = subprocess.run(["pgrep", "-u", str(uid)], capture_output=True, text=True).stdout.split()
        return [int(p) for p in found]

    deadline = time.monotonic() + 60
    while len(processes_of_the_run()) < 3 and time.monotonic() < deadline:  # holder, monitor, runner
        time.sleep(0.2)
    assert len(processes_of_the_run()) >= 3
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    deadline = time.monotonic() + 15
    while processes_of_the_run() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of_the_run() == []


def test_checks_run_warm_with_the_scores_of_a_cold_start(tmp_path, monkeypatch):
    """The check runner starts warm in a real grading, and a known bug loses the same
    checks, with the same messages, as when it starts cold."""
    submission = tmp_path / "one_bug.zip"
    with zipfile.ZipFile(submission, "w") as archive:
        for name, data in with_bug(reference_files(ASSIGNMENT), KNOWN_BUG).items():
            archive.writestr(name, data)
    starts = []
    real = Launcher.run_command

    def recording(self, command, *args, **kw):
        outcome = real(self, command, *args, **kw)
        starts.append(outcome.enforced.get("warm", False))
        return outcome

    monkeypatch.setattr(Launcher, "run_command", recording)
    options = Options(release_dir=ROOT / "release", execute_notebooks=False)
    warm = grade_submission(submission, tmp_path / "warm", options=options)
    monkeypatch.setattr(launcher_mod, "WARM_RUNNERS", ())
    cold = grade_submission(submission, tmp_path / "cold", options=options)
    assert starts == [True, False]
    assert warm["tests"] == cold["tests"]
    assert 0 < warm["score"] < ASSIGNMENT.auto_points()


def test_only_plain_python_commands_can_start_warm():
    assert forkserver.python_args([PY, "-I", "/grader/x.py", "a"]) == ["/grader/x.py", "a"]
    assert forkserver.python_args([PY, "-c", "pass", "b"]) == ["-c", "pass", "b"]
    assert forkserver.python_args([PY, "-m", "pip"]) is None
    assert forkserver.python_args(["/bin/sh", "-c", "true"]) is None
    assert forkserver.python_args([PY, "-c"]) is None

