"""The bubblewrap sandbox really isolates and limits what runs inside it."""
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from autograder.sandbox import bwrap as sandbox
from autograder.sandbox.bwrap import RunLimits, run_sandboxed

pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap not installed")

PY = sys.executable
VENV = str(Path(sys.prefix))


@pytest.fixture
def workdir(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    return work


def run_py(code, workdir, limits=RunLimits(wall_s=30), **kw):
    return run_sandboxed([PY, "-c", code], workdir, limits, readable=[VENV], **kw)


def test_runs_as_unprivileged_user_without_capabilities(workdir):
    out = run_py("import os; print(os.getuid());"
                 "print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0])", workdir)
    assert out.returncode == 0, out.stderr
    uid, caps = out.stdout.split("\n")[:2]
    assert uid == str(sandbox.SANDBOX_UID)
    assert caps.split()[1] == "0000000000000000"


def test_no_network_but_loopback_is_up(workdir):
    code = ("import socket\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print('loopback ok')\n"
            "try:\n"
            "    socket.create_connection(('1.1.1.1', 80), timeout=3); print('NETWORK OPEN')\n"
            "except OSError as e: print('blocked', e.errno)\n")
    out = run_py(code, workdir)
    assert "loopback ok" in out.stdout
    assert "blocked" in out.stdout and "NETWORK OPEN" not in out.stdout


def test_hidden_paths_are_empty_and_outside_is_read_only(tmp_path, workdir):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "expected.npz").write_text("answers")
    outside = Path(VENV) / f"escape-{uuid.uuid4().hex}.txt"
    code = (f"import os; print(sorted(os.listdir({str(secret)!r})))\n"
            f"open('inside.txt', 'w').write('ok'); print('work writable')\n"
            f"open({str(tmp_path / 'private.txt')!r}, 'w').write('x'); print('private tmp')\n"
            f"try:\n    open({str(outside)!r}, 'w')\n"
            f"except OSError as e: print('outside', e.strerror)\n")
    out = run_py(code, workdir, hidden=[secret])
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "[]"
    assert "work writable" in out.stdout and (workdir / "inside.txt").read_text() == "ok"
    # /tmp inside is a private tmpfs: the write succeeds there and never reaches ours
    assert "private tmp" in out.stdout and not (tmp_path / "private.txt").exists()
    assert "outside Read-only file system" in out.stdout and not outside.exists()
    assert (secret / "expected.npz").read_text() == "answers"


def test_environment_is_cleared(workdir, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "s3cret")
    out = run_py("import os; print(os.environ.get('GRADER_SECRET_TOKEN'), os.environ['HOME'])", workdir)
    assert out.stdout.split() == ["None", str(workdir.resolve())]


def test_wall_clock_limit_kills_a_loop_that_ignores_sigint(workdir):
    code = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
    start = time.monotonic()
    out = run_py(code, workdir, RunLimits(wall_s=2))
    assert out.timed_out and out.returncode != 0
    assert time.monotonic() - start < 10
    assert any("wall-clock" in m for m in out.limit_messages)


def test_memory_limit_is_reported(workdir):
    out = run_py("a = bytearray(2 << 30); a[::4096] = b'x' * len(a[::4096]); print('allocated')",
                 workdir, RunLimits(wall_s=30, memory_bytes=256 << 20))
    assert out.returncode != 0 and "allocated" not in out.stdout
    assert out.memory_exceeded
    assert any("memory" in m for m in out.limit_messages)


def test_fork_bomb_is_contained(workdir):
    out = run_sandboxed(["bash", "-c", ":(){ :|:& };: ; sleep 2; echo survived"], workdir,
                        RunLimits(wall_s=20, max_processes=40))
    assert out.enforced["processes"] == "cgroup"
    assert out.process_limit_hit
    assert not out.timed_out


def test_daemonized_process_does_not_outlive_the_run(workdir):
    marker = f"sleep {1000 + uuid.uuid4().int % 1000}"
    out = run_sandboxed(["bash", "-c", f"(setsid {marker} &); (nohup {marker} &); echo started"],
                        workdir, RunLimits(wall_s=10))
    assert "started" in out.stdout
    time.sleep(0.3)
    survivors = subprocess.run(["pgrep", "-f", f"^{marker}$"], capture_output=True, text=True)
    assert survivors.stdout == "", f"processes left behind: {survivors.stdout}"


def test_huge_output_is_capped(workdir):
    code = "import sys\nfor _ in range(10**6): sys.stdout.write('x' * 1000 + '\\n')"
    out = run_py(code, workdir, RunLimits(wall_s=30, max_file_bytes=8 << 20), output_cap=4096)
    assert out.file_limit_hit
    assert len(out.stdout) < 5000 and "more bytes not shown" in out.stdout


def test_missing_bubblewrap_refuses_with_instructions(workdir, monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="--allow-unsandboxed"):
        run_py("print(1)", workdir)
    out = run_py("print('unsandboxed')", workdir, sandbox=False)
    assert out.stdout.strip() == "unsandboxed" and out.enforced["sandbox"] is False


def test_grader_environment_is_not_readable_through_pid_1(workdir, monkeypatch):
    monkeypatch.setenv("CS231N_GRADER_SEED", "424242")
    code = "print(open('/proc/1/environ', 'rb').read().count(b'424242'))"
    out = run_py(code, workdir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_disk_use_of_the_work_folder_is_capped(workdir):
    code = ("import time\nfor i in range(2000):\n"
            "    open(f'f{i}', 'wb').write(b'x' * 2**20)\n    time.sleep(0.005)")
    out = run_py(code, workdir, RunLimits(wall_s=60, max_disk_bytes=20 << 20))
    assert out.disk_limit_hit and out.returncode != 0
    assert "more to disk" in " ".join(out.limit_messages)
    written = sum(f.stat().st_size for f in workdir.iterdir())
    assert 20 << 20 < written < 400 << 20  # stopped soon after the limit, far below 2000 MB


def test_too_many_files_in_the_work_folder_stop_the_run(workdir, monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_WORK_ENTRIES", 500)
    code = "import time\nfor i in range(5000):\n    open(f'f{i}', 'w').close()\ntime.sleep(5)"
    out = run_py(code, workdir)
    assert out.disk_limit_hit and out.wall_s < 5


HARDENED_PID_1 = """
import ctypes, subprocess
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0, as the grader's runners do
print("genuine", flush=True)
child = subprocess.run(["/bin/sh", "-c", "echo forged > /proc/1/fd/1; cat /proc/1/environ"],
                       capture_output=True, text=True)
print("child:", child.stderr.count("Permission denied"), flush=True)
"""


def test_a_hardened_runner_is_pid_1_and_its_stdout_is_its_own(workdir):
    """The check runner's seals go to its stdout: a process it starts cannot write there."""
    out = run_py(HARDENED_PID_1, workdir)
    assert out.stdout.splitlines() == ["genuine", "child: 2"], out.stdout
