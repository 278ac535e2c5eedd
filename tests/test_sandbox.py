"""The sandbox really isolates and limits what runs inside it (launcher, workspace, mounts)."""
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from autograder.assignment import ROOT
from autograder.sandbox import launcher as launcher_mod
from autograder.sandbox import mounts
from autograder.sandbox.launcher import Launcher, SandboxUnavailable, bwrap_path
from autograder.sandbox.limits import RunLimits
from autograder.sandbox.workspace import TooLarge, Workspace, privileged

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")

PY = sys.executable


@pytest.fixture
def workspace(tmp_path):
    with Workspace.create(tmp_path / "work", 64 << 20) as space:
        yield space


class WarmLauncher(Launcher):
    """Starts every Python command warm: forked from the fork server into its sandbox."""

    def run_command(self, command, *args, **kw):
        return super().run_command(command, *args, warm=True, **kw)


@pytest.fixture(params=["cold", "warm"])
def launcher(request):
    """Both ways a run starts: its own interpreter (cold), or forked by the fork server (warm)."""
    if request.param == "cold":
        return Launcher(True)
    assert launcher_mod.warm_starts() == "", "the fork server does not work on this machine"
    return WarmLauncher(True)


def run_py(launcher, code, workspace, limits=RunLimits(wall_s=30), **kw):
    out = launcher.run_command([PY, "-c", code], workspace, limits, **kw)
    assert out.enforced.get("warm", False) == isinstance(launcher, WarmLauncher), out.stderr
    return out


def in_bash(script):
    """A Python command that runs ``script`` in bash and exits with its status."""
    return [PY, "-c", "import subprocess, sys; sys.exit(subprocess.run(['bash', '-c', sys.argv[1]]).returncode)",
            script]


def test_runs_as_its_own_unprivileged_host_uid_without_capabilities(workspace, launcher):
    """Inside it is uid 1000 without capabilities; on the host, what it writes belongs to
    the workspace's own uid, which is not root (bwrap nests its user namespaces, so
    /proc/self/uid_map inside names the intermediate namespace, not the host)."""
    workspace.hand_over()
    code = ("import os; print(os.getuid()); open('mine.txt', 'w').write('x');"
            "print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])")
    out = run_py(launcher, code, workspace)
    assert out.returncode == 0, out.stderr
    uid, caps = out.stdout.splitlines()[:2]
    assert uid == str(mounts.SANDBOX_UID) and caps == "0000000000000000"
    owner = os.stat(workspace.path / "mine.txt").st_uid
    assert owner != 0, "the sandbox's user is root on the host"
    assert owner == (workspace.uid if privileged() else os.getuid())


def test_each_workspace_has_its_own_uid(tmp_path):
    with Workspace.create(tmp_path / "a", 1 << 20) as a, Workspace.create(tmp_path / "b", 1 << 20) as b:
        assert a.uid != b.uid or not privileged()


LIST_READABLE = """
import os, sys
allowed = sys.argv[1:]
def inside(path):
    return any(path == p or path.startswith(p.rstrip('/') + '/') for p in allowed)
def parent_of_allowed(path):
    return any(p.startswith(path.rstrip('/') + '/') for p in allowed)
outside = []
for top, dirs, files in os.walk('/'):
    if top in ('/proc', '/dev') or top.startswith(('/proc/', '/dev/')):
        dirs[:] = []
        continue
    for name in dirs + files:
        path = os.path.join(top, name)
        if not inside(path) and not parent_of_allowed(path) and os.access(path, os.R_OK):
            outside.append(path)
print(sorted(os.listdir('/')))
print(outside)
"""


def test_nothing_outside_the_allow_list_is_readable(workspace, launcher):
    """Walks the whole file system from inside: every readable path lies in an allowed
    place (or is a folder leading to one, holding nothing else)."""
    allowed = mounts.allowed_prefixes()
    out = launcher.run_command([PY, "-c", LIST_READABLE, *allowed], workspace, RunLimits(wall_s=120))
    assert out.returncode == 0, out.stderr
    top, outside = out.stdout.splitlines()[:2]
    print("top level inside the sandbox:", top)
    assert outside == "[]", outside
    assert "'home'" not in top and "'var'" not in top and "'sys'" not in top


def test_the_reference_and_secrets_do_not_exist_inside(tmp_path, workspace, launcher):
    secret = tmp_path / "secret.txt"
    secret.write_text("answers")
    code = (f"import os\nfor p in [{str(secret)!r}, {str(ROOT / 'cs231n')!r}, {str(ROOT / 'assignment')!r},"
            "'/etc/shadow', '/root/.bash_history', '/var', '/home']:\n    print(p, os.path.exists(p))")
    out = run_py(launcher, code, workspace)
    assert out.returncode == 0, out.stderr
    assert all(line.endswith("False") for line in out.stdout.splitlines()), out.stdout


def test_the_work_folder_is_the_only_writable_place(tmp_path, workspace, launcher):
    outside = Path(sys.prefix) / f"escape-{uuid.uuid4().hex}.txt"
    code = ("import os\nopen('inside.txt', 'w').write('ok'); print('work writable', os.getcwd())\n"
            "open('/tmp/private.txt', 'w').write('x'); print('private tmp')\n"
            f"try:\n    open({str(outside)!r}, 'w')\nexcept OSError as e: print('outside', e.strerror)\n")
    out = run_py(launcher, code, workspace)
    assert out.returncode == 0, out.stderr
    assert f"work writable {mounts.SANDBOX_WORK}" in out.stdout
    assert workspace.read_bytes("inside.txt", 10) == b"ok"
    assert "private tmp" in out.stdout
    assert "outside Read-only file system" in out.stdout and not outside.exists()


def test_no_network_but_loopback_is_up(workspace, launcher):
    code = ("import socket\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print('loopback ok')\n"
            "try:\n"
            "    socket.create_connection(('1.1.1.1', 80), timeout=3); print('NETWORK OPEN')\n"
            "except OSError as e: print('blocked', e.errno)\n")
    out = run_py(launcher, code, workspace)
    assert "loopback ok" in out.stdout
    assert "blocked" in out.stdout and "NETWORK OPEN" not in out.stdout


def test_environment_is_cleared(workspace, monkeypatch, launcher):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "s3cret")
    out = run_py(launcher, "import os; print(os.environ.get('GRADER_SECRET_TOKEN'), os.environ['HOME'])", workspace)
    assert out.stdout.split() == ["None", mounts.SANDBOX_WORK]


def test_wall_clock_limit_kills_a_loop_that_ignores_sigint(workspace, launcher):
    code = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
    start = time.monotonic()
    out = run_py(launcher, code, workspace, RunLimits(wall_s=2))
    assert out.timed_out and out.returncode != 0
    assert time.monotonic() - start < 10
    assert any("wall-clock" in m for m in out.limit_messages)


def test_memory_limit_is_reported(workspace, launcher):
    out = run_py(launcher, "a = bytearray(2 << 30); a[::4096] = b'x' * len(a[::4096]); print('allocated')",
                 workspace, RunLimits(wall_s=30, memory_bytes=256 << 20))
    assert out.returncode != 0 and "allocated" not in out.stdout
    assert out.memory_exceeded
    assert any("memory" in m for m in out.limit_messages)


def test_fork_bomb_is_contained(workspace, launcher):
    out = launcher.run_command(in_bash(":(){ :|:& };: ; sleep 2; echo survived"), workspace,
                                     RunLimits(wall_s=20, max_processes=40))
    assert out.enforced["processes"] == "cgroup"
    assert out.process_limit_hit
    assert not out.timed_out


def test_daemonized_process_does_not_outlive_the_run(workspace, launcher):
    marker = f"sleep {1000 + uuid.uuid4().int % 1000}"
    out = launcher.run_command(in_bash(f"(setsid {marker} &); (nohup {marker} &); echo started"),
                                     workspace, RunLimits(wall_s=10))
    assert "started" in out.stdout
    time.sleep(0.3)
    survivors = subprocess.run(["pgrep", "-f", f"^{marker}$"], capture_output=True, text=True)
    assert survivors.stdout == "", f"processes left behind: {survivors.stdout}"


def test_huge_output_is_capped(workspace, launcher):
    code = "import sys\nfor _ in range(10**6): sys.stdout.write('x' * 1000 + '\\n')"
    out = run_py(launcher, code, workspace, RunLimits(wall_s=30, max_file_bytes=8 << 20), output_cap=4096)
    assert out.file_limit_hit
    assert len(out.stdout) < 5000 and "more bytes not shown" in out.stdout


def test_open_files_are_capped(workspace, launcher):
    code = ("fs = []\ntry:\n    for i in range(1000): fs.append(open('/dev/null'))\n"
            "except OSError as e: print('stopped at', len(fs), e.strerror)")
    out = run_py(launcher, code, workspace, RunLimits(wall_s=30, max_open_files=64))
    assert "stopped at" in out.stdout and int(out.stdout.split()[2]) < 64, out.stdout + out.stderr


def test_missing_bubblewrap_refuses_with_instructions(workspace, monkeypatch):
    monkeypatch.setattr(launcher_mod, "bwrap_path", lambda: None)
    with pytest.raises(SandboxUnavailable, match="--allow-unsandboxed"):
        Launcher.decide(allow_unsandboxed=False)
    launcher = Launcher.decide(allow_unsandboxed=True)
    out = run_py(launcher, "print('unsandboxed')", workspace)
    assert out.stdout.strip() == "unsandboxed" and out.enforced["sandbox"] is False


def test_grader_environment_is_not_readable_through_pid_1(workspace, monkeypatch, launcher):
    monkeypatch.setenv("CS231N_GRADER_SEED", "424242")
    code = "print(open('/proc/1/environ', 'rb').read().count(b'424242'))"
    out = run_py(launcher, code, workspace)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_disk_use_is_capped_even_for_deleted_open_files(workspace, launcher):
    """The work folder is a tmpfs of fixed size: a file unlinked while still open counts."""
    if not workspace.mounted:
        pytest.skip("the grader is not root: the work folder has no filesystem of its own")
    code = ("import os\nkept, written = [], 0\ntry:\n"
            "    for i in range(100):\n        f = open(f'h{i}', 'wb'); os.unlink(f'h{i}'); kept.append(f)\n"
            "        f.write(b'x' * 2**22); f.flush(); written += 4\n"
            "except OSError as e: print('stopped', written, e.strerror)")
    out = run_py(launcher, code, workspace, RunLimits(wall_s=60, max_file_bytes=8 << 20))
    assert "stopped" in out.stdout and "No space left" in out.stdout, out.stdout + out.stderr
    assert int(out.stdout.split()[1]) <= 64
    assert out.disk_limit_hit or "No space" in out.stdout


def test_tmp_inside_is_capped_too(workspace, launcher):
    code = ("import os\nf = open('/tmp/big', 'wb'); os.unlink('/tmp/big')\ntry:\n"
            "    for i in range(400): f.write(b'x' * 2**20); f.flush()\n"
            "except OSError as e: print('stopped', e.strerror)")
    out = run_py(launcher, code, workspace, RunLimits(wall_s=60, max_disk_bytes=64 << 20))
    assert "stopped No space left" in out.stdout, out.stdout + out.stderr


def test_an_unmounted_work_folder_is_watched_for_growth(tmp_path, monkeypatch, launcher):
    """Without root the work folder is a plain folder; the launcher polls its size and entries."""
    folder = tmp_path / "plain"
    folder.mkdir()
    plain = Workspace(folder, os.getuid(), 20 << 20, mounted=False)
    monkeypatch.setattr(launcher_mod, "MAX_WORK_ENTRIES", 500)
    code = "import time\nfor i in range(5000):\n    open(f'f{i}', 'w').close()\ntime.sleep(5)"
    out = launcher.run_command([PY, "-c", code], plain, RunLimits(wall_s=30))
    assert out.disk_limit_hit and out.wall_s < 5


PLANT = """
import os
os.symlink('/etc/passwd', 'link.txt')
os.mkfifo('fifo.txt')
os.mkdir('real')
os.symlink('/usr', 'dirlink')
open('real/big.bin', 'wb').write(b'x' * 5000)
"""


def test_the_grader_reads_only_plain_files_without_following_links(workspace, launcher):
    workspace.hand_over()
    out = run_py(launcher, PLANT, workspace)
    assert out.returncode == 0, out.stderr
    start = time.monotonic()
    assert workspace.read_bytes("link.txt", 1 << 20) is None
    assert workspace.read_bytes("fifo.txt", 1 << 20) is None  # does not block
    assert workspace.read_bytes("dirlink/bin/true", 1 << 20) is None
    assert time.monotonic() - start < 5
    with pytest.raises(TooLarge):
        workspace.read_bytes("real/big.bin", 1000)
    assert workspace.read_bytes("real/big.bin", 5000) == b"x" * 5000


HARDENED_PID_1 = """
import ctypes, subprocess
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0, as the grader's runners do
print("genuine", flush=True)
child = subprocess.run(["/bin/sh", "-c", "echo forged > /proc/1/fd/1; cat /proc/1/environ"],
                       capture_output=True, text=True)
print("child:", child.stderr.count("Permission denied"), flush=True)
"""


def test_a_hardened_runner_is_pid_1_and_its_stdout_is_its_own(workspace, launcher):
    """The check runner's seals go to its stdout: a process it starts cannot write there."""
    out = run_py(launcher, HARDENED_PID_1, workspace)
    assert out.stdout.splitlines() == ["genuine", "child: 2"], out.stdout


def test_lanes_running_at_once_cannot_reach_each_other(tmp_path, launcher):
    """Two lanes of one submission run side by side: neither can see, signal or write the
    other's workspace, even knowing its host path."""
    import threading

    with Workspace.create(tmp_path / "lane0", 16 << 20) as a, Workspace.create(tmp_path / "lane1", 16 << 20) as b:
        a.hand_over()
        b.hand_over()
        attack = (f"import os, glob\npaths = [{str(b.path)!r}, {str(tmp_path)!r}]\n"
                  "print('seen', [p for p in paths if os.path.exists(p)])\n"
                  "print('procs', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
                  f"try:\n    open({str(b.path / 'forged.npz')!r}, 'w').write('x')\n"
                  "except OSError as e: print('blocked', e.strerror)")
        victim = "import time\nopen('alive', 'w').write('1')\ntime.sleep(3)\nprint('victim done')"
        outcomes = {}
        runs = [threading.Thread(target=lambda: outcomes.update(b=run_py(launcher, victim, b))),
                threading.Thread(target=lambda: outcomes.update(a=run_py(launcher, attack, a)))]
        runs[0].start()
        time.sleep(1)
        runs[1].start()
        for thread in runs:
            thread.join()
        assert "seen []" in outcomes["a"].stdout and "blocked" in outcomes["a"].stdout, outcomes["a"].stdout
        assert "procs [1]" in outcomes["a"].stdout  # its own pid namespace: nothing of lane b
        assert "victim done" in outcomes["b"].stdout
        assert b.read_bytes("forged.npz", 10) is None


def test_lane_filesystems_of_a_killed_grader_are_reaped(tmp_path):
    """A grader killed with SIGKILL cannot unmount its lanes; the next one does."""
    if not privileged():
        pytest.skip("only root mounts lane filesystems")
    import ctypes

    from autograder.sandbox import workspace as workspace_mod

    dead = subprocess.Popen(["true"])
    dead.wait()
    target = tmp_path / "stale"
    target.mkdir()
    source = workspace_mod.MOUNT_SOURCE.format(pid=dead.pid).encode()
    assert ctypes.CDLL(None).mount(source, str(target).encode(), b"tmpfs", 0, b"size=1m") == 0
    mine = tmp_path / "mine"
    with Workspace.create(mine, 1 << 20) as live:
        removed = workspace_mod.reap_stale_mounts()
        assert str(target) in removed
        assert str(live.path) not in removed  # this process is alive: its lane stays
        assert os.path.ismount(live.path)
    assert not os.path.ismount(target)
