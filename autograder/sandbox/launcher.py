"""The one way student code is started: ``Launcher.run``.

A grading decides once whether it isolates (``Launcher.decide``). Every runner
that executes student code (the check runner, the notebook runner, both in
``inside/``) is started through ``Launcher.run``, which builds the allow-listed
view (``mounts.py``), makes the caps (cgroup, rlimits, the work folder's own
size-capped filesystem), starts ``enter.py`` to drop privileges and exec
bubblewrap, and watches the wall clock. What the run leaves is read back only
through ``Workspace.read_bytes`` (see workspace.py).

What the sandbox gives (docs/threat_model.md says what it does not):
- its own unprivileged host uid, not mapped to root (as root: a fresh uid per
  run; otherwise the grader's own, non-root, uid), no capabilities, no new
  privileges;
- only the allow-list of ``mounts.py``: no other file of the host exists inside;
- no network: a new network namespace with only an "up" loopback interface (a
  Jupyter kernel talks to its client over loopback);
- its own pid namespace in which the runner is pid 1; when it ends, the kernel
  ends every process inside;
- limits: wall clock (here), memory and processes (cgroup, and RLIMIT_NPROC of
  its own uid), file size, open files, and a work folder, /tmp and /dev/shm of
  fixed size.
"""
import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder.sandbox import forkserver, mounts
from autograder.sandbox.cgroup import make_cgroup
from autograder.sandbox.inside.warm_imports import NOTEBOOK_IMPORTS, STAGED, WARM_IMPORTS
from autograder.sandbox.limits import Outcome, RunLimits
from autograder.sandbox.workspace import Workspace, privileged

ENTER = Path(__file__).resolve().parent / "enter.py"
INSIDE = "autograder/sandbox/inside"
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "MPLBACKEND": "Agg",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "OMP_NUM_THREADS": "1",
}
WARM_RUNNERS = ("check_runner", "notebook_runner")  # started from the fork server (forkserver.py) where it works
# What the server imports (once, at the first such run) before it forks these runners: a
# grader that never runs a notebook never imports them.
RUNNER_IMPORTS = {"notebook_runner": NOTEBOOK_IMPORTS}
HOLDER = ["/bin/sh", "-c", "echo ready; exec sleep infinity"]  # a warm run's sandbox, until the runner enters
DISK_POLL_S = 0.5
MAX_WORK_ENTRIES = 100_000  # files and folders in an unmounted work folder, counted by the disk watch
SHM_BYTES = 64 << 20
_probe = {}
_warm = {"lock": threading.Lock(), "server": None, "works": None}


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot be used on this machine."""


def bwrap_path() -> str | None:
    """Path of the bwrap binary, or None."""
    return shutil.which("bwrap")


class Launcher:
    """Starts runners for one grading; ``sandboxed`` is decided once, in ``decide``."""

    def __init__(self, sandboxed: bool, warm: bool = True):
        self.sandboxed = sandboxed
        self.warm = warm  # start WARM_RUNNERS from the fork server, where it works

    @classmethod
    def decide(cls, allow_unsandboxed: bool = False) -> "Launcher":
        """Isolate always, unless explicitly allowed AND bubblewrap is missing.

        Raises SandboxUnavailable when isolation is required but impossible."""
        if bwrap_path() is None and allow_unsandboxed:
            return cls(False)
        require_sandbox()
        return cls(True)

    def command(self, runner: str, args, workspace: Workspace) -> list:
        """The runner's command line as the run sees it."""
        if self.sandboxed:
            script = f"{mounts.GRADER_ROOT}/{INSIDE}/{runner}.py"
        else:  # the library is copied into the work folder: no other cs231n is importable from it
            library = workspace.path / ".grader" / "autograder"
            if not library.exists():
                shutil.copytree(mounts.GRADER_PACKAGE, library, ignore=shutil.ignore_patterns("__pycache__"))
            script = str(workspace.path / ".grader" / INSIDE / f"{runner}.py")
        return [sys.executable, "-I", script, *map(str, args)]

    def run(self, runner: str, args, workspace: Workspace, limits: RunLimits = RunLimits(), data=(),
            env=None, output_cap: int = 1 << 20) -> Outcome:
        """Run ``inside/<runner>.py args`` in ``workspace`` under ``limits``; ``data``:
        (source, relative target) read-only data binds."""
        return self.run_command(self.command(runner, args, workspace), workspace, limits, data, env, output_cap,
                                warm=self.warm and runner in WARM_RUNNERS, imports=RUNNER_IMPORTS.get(runner, ()))

    def run_command(self, command, workspace, limits=RunLimits(), data=(), env=None, output_cap=1 << 20,
                    warm=False, imports=()):
        """Run ``command`` (a list, as the run sees it) in ``workspace``: every start goes here.

        ``warm``: if ``command`` is this interpreter running Python (``-c`` or a script),
        fork it from the fork server into the same sandbox, where that works here, once
        the server has imported ``imports`` too."""
        return self._run(command, workspace, limits, data, env, output_cap,
                         try_warm=warm and self.sandboxed and warm_starts() == "", imports=imports)

    def _run(self, command, workspace, limits, data, env, output_cap, try_warm, imports=()):
        """``run_command``, trying a warm start first if ``try_warm`` (and it is Python)."""
        cgroup = make_cgroup(limits.memory_bytes, limits.max_processes)
        warm_args = forkserver.python_args(command) if try_warm else None
        enforced = {"sandbox": self.sandboxed, "wall_clock": True, "file_size": True,
                    "memory": "cgroup" if cgroup else "rlimit-as",
                    "processes": "cgroup" if cgroup else "rlimit-nproc",
                    "disk": "filesystem size" if workspace.mounted else "polled"}
        stage = tempfile.mkdtemp(prefix="cs231n-stage-") if self.sandboxed and privileged() else None
        argv, run_env = (self._sandboxed(command, workspace, limits, data, env, cgroup, stage) if self.sandboxed
                         else self._unsandboxed(command, workspace, limits, data, env, cgroup))
        start = time.monotonic()
        try:
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                proc = None
                if warm_args is not None:
                    proc = self._start_warm(warm_args, workspace, limits, data, env, cgroup, stage, out, err, start,
                                            imports)
                    enforced["warm"] = proc is not None
                if proc is None:
                    proc = _ColdRun(subprocess.Popen(argv, cwd=workspace.path, stdin=subprocess.DEVNULL, stdout=out,
                                                     stderr=err, env=run_env, start_new_session=True))
                try:
                    returncode, timed_out, disk_hit = _watch(proc, workspace, limits, start)
                finally:
                    proc.kill()
                    memory_exceeded = bool(cgroup and cgroup.memory_exceeded())
                    process_hit = bool(cgroup and cgroup.process_limit_hit())
                    if cgroup is not None:
                        cgroup.destroy()
                wall = time.monotonic() - start
                stdout, stderr = _read_capped(out, output_cap), _read_capped(err, output_cap)
        finally:
            if stage:
                os.rmdir(stage)
        file_hit = (returncode == -signal.SIGXFSZ or "File size limit exceeded" in stderr
                    or "File too large" in stderr)
        disk_hit = disk_hit or workspace.full() or "No space left on device" in stderr
        # RLIMIT_NPROC of the run's own uid may stop a fork before the cgroup does
        process_hit = process_hit or ("fork" in stderr and "Resource temporarily unavailable" in stderr)
        if cgroup is None and returncode != 0 and "MemoryError" in stderr:
            memory_exceeded = True
        return Outcome(returncode=returncode, wall_s=wall, stdout=stdout, stderr=stderr, timed_out=timed_out,
                       memory_exceeded=memory_exceeded, process_limit_hit=process_hit, file_limit_hit=file_hit,
                       disk_limit_hit=disk_hit, enforced=enforced)

    def _start_warm(self, args, workspace, limits, data, env, cgroup, stage, out, err, start, imports=()):
        """Start ``python -I args`` warm (forkserver.py): the sandbox with its holder, then the
        runner forked into it. Returns the run, or None (with the reason on its stderr) when
        that failed: the caller then starts it cold."""
        info_read, info_write = os.pipe()
        argv, run_env = self._sandboxed(HOLDER, workspace, limits, data, env, cgroup, stage, info_fd=info_write)
        holder = subprocess.Popen(argv, cwd=workspace.path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=err, env=run_env, start_new_session=True, pass_fds=(info_write,))
        os.close(info_write)
        try:
            pid = _holder_pid(info_read, holder.stdout, start + min(limits.wall_s, forkserver.START_TIMEOUT_S))
            plan = {"holder": pid, "uid": workspace.uid if stage else None,
                    "cgroup_procs": cgroup.procs_files if cgroup else [],
                    "rlimits": _rlimits(limits, cgroup, own_uid=stage is not None),
                    "env": _run_env(env), "args": list(args), "cwd": mounts.SANDBOX_WORK, "imports": list(imports)}
            run = fork_server().start(plan, out, err)
        except forkserver.ForkServerError as exc:
            _killpg(holder.pid)
            holder.wait()
            err.write(f"launcher: started cold: {exc}\n".encode())
            return None
        finally:
            os.close(info_read)
            holder.stdout.close()
        return _WarmRun(holder, run)

    def _sandboxed(self, command, workspace, limits, data, env, cgroup, stage, info_fd=None):
        rlimits = _rlimits(limits, cgroup, own_uid=stage is not None)
        full_env = _run_env(env)
        before = ["--die-with-parent", "--new-session", "--unshare-all", "--as-pid-1",
                  "--uid", str(mounts.SANDBOX_UID), "--gid", str(mounts.SANDBOX_UID), "--cap-drop", "ALL",
                  "--hostname", "sandbox", *mounts.top_level_entries(),
                  "--proc", "/proc", "--dev", "/dev",
                  "--size", str(max(1 << 20, limits.max_disk_bytes // 4)), "--tmpfs", "/tmp",
                  "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
        before += ["--info-fd", str(info_fd)] if info_fd is not None else []
        after = ["--chdir", mounts.SANDBOX_WORK, "--clearenv"]
        for key, value in full_env.items():
            after += ["--setenv", key, str(value)]
        plan = {"bwrap": require_sandbox(), "cgroup_procs": cgroup.procs_files if cgroup else [],
                "rlimits": rlimits, "uid": workspace.uid if stage else None, "stage": stage,
                "mounts": mounts.run_mounts(workspace.path, data), "before": before, "after": after,
                "command": list(command)}
        # The launcher carries none of the grader's environment (the grading seed, tokens).
        run_env = {"PATH": BASE_ENV["PATH"], "LANG": BASE_ENV["LANG"]}
        return [sys.executable, "-I", str(ENTER), json.dumps(plan)], run_env

    def _unsandboxed(self, command, workspace, limits, data, env, cgroup):
        for source, relative in data:  # explicitly trusted runs: links stand in for the binds
            target = workspace.path / relative
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)
        plan = {"bwrap": None, "cgroup_procs": cgroup.procs_files if cgroup else [],
                "rlimits": _rlimits(limits, cgroup, own_uid=False), "uid": None, "command": list(command)}
        run_env = dict(BASE_ENV, HOME=str(workspace.path), **(env or {}))
        run_env["PATH"] = os.environ.get("PATH", BASE_ENV["PATH"])
        return [sys.executable, "-I", str(ENTER), json.dumps(plan)], run_env


def _run_env(env):
    """The whole environment of a sandboxed run: BASE_ENV and ``env``, nothing of the grader's."""
    return dict(BASE_ENV, HOME=mounts.SANDBOX_WORK, TMPDIR="/tmp", **(env or {}))


class _ColdRun:
    """A run started as a process of its own (``wait`` as Popen's; ``kill`` ends its group)."""

    def __init__(self, process):
        self.process = process

    def wait(self, timeout=None):
        return self.process.wait(timeout=timeout)

    def kill(self):
        _killpg(self.process.pid)


class _WarmRun:
    """A run forked by the fork server into the sandbox its holder keeps."""

    def __init__(self, holder, run):
        self.holder, self.run, self.ended = holder, run, False

    def wait(self, timeout=None):
        if self.ended:
            return -signal.SIGKILL if self.run.returncode is None else self.run.returncode
        return self.run.wait(timeout)

    def kill(self):
        """End the runner (its monitor kills it) and the holder; idempotent."""
        if self.ended:
            return
        self.run.kill()
        if self.run.returncode is None:
            try:
                self.run.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.run.close()
        _killpg(self.holder.pid)
        self.holder.wait()
        self.ended = True


def _holder_pid(info_read, holder_stdout, deadline) -> int:
    """The holder's host pid (bwrap's --info-fd), once it said "ready": bubblewrap has
    built the whole view by then. Raises ForkServerError if that does not happen by ``deadline``."""
    info, said = b"", b""
    while True:
        try:
            pid = int(json.loads(info)["child-pid"])
            break
        except (ValueError, KeyError, TypeError):
            pass
        if not select.select([info_read], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise forkserver.ForkServerError("bubblewrap did not say which process holds the sandbox")
        chunk = os.read(info_read, 4096)
        if not chunk:
            raise forkserver.ForkServerError("bubblewrap ended before the sandbox was built")
        info += chunk
    while b"ready\n" not in said:
        if not select.select([holder_stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise forkserver.ForkServerError("the sandbox's holder did not start")
        chunk = os.read(holder_stdout.fileno(), 64)
        if not chunk:
            raise forkserver.ForkServerError("the sandbox's holder ended before the runner entered")
        said += chunk
    return pid


def fork_server() -> forkserver.ForkServer:
    """This process's fork server (started on first use, again if it died)."""
    with _warm["lock"]:
        server = _warm["server"]
        if server is None or not server.alive():
            modules = [name for name in WARM_IMPORTS if name not in STAGED]
            server = _warm["server"] = forkserver.ForkServer(modules, _run_env(None))
            atexit.register(server.close)
        return server


def warm_starts() -> str:
    """"" once a warm run of the fork server has worked here (cached); else why not. A
    machine where it does not (an old kernel, a sandbox that forbids joining namespaces)
    starts every runner cold, as safely, only slower."""
    with _warm["lock"]:
        if _warm["works"] is not None:
            return _warm["works"]
        _warm["works"] = "probing"
    code = "print('warm')"
    try:
        with tempfile.TemporaryDirectory(prefix="cs231n-probe-") as scratch:
            workspace = Workspace.create(Path(scratch) / "work", 1 << 20)
            try:
                out = Launcher(True)._run([sys.executable, "-I", "-c", code], workspace, RunLimits(wall_s=60), (),
                                          None, 1 << 20, try_warm=True)
            finally:
                workspace.close()
        worked = out.enforced.get("warm") and out.returncode == 0 and out.stdout == "warm\n"
        why = "" if worked else (out.stderr.strip()[-300:] or f"exit code {out.returncode}")
    except Exception as exc:  # whatever it is, the cold start still works
        why = f"{type(exc).__name__}: {exc}"
    with _warm["lock"]:
        _warm["works"] = why
    if why:
        print(f"launcher: check runners start cold (the fork server does not work here: {why})", file=sys.stderr)
    return why


def _rlimits(limits, cgroup, own_uid):
    rlimits = {"RLIMIT_FSIZE": limits.max_file_bytes, "RLIMIT_CORE": 0, "RLIMIT_NOFILE": limits.max_open_files}
    if own_uid:  # counts this run's uid only: a real process cap even without a cgroup
        rlimits["RLIMIT_NPROC"] = limits.max_processes
    if cgroup is None:
        rlimits["RLIMIT_AS"] = limits.memory_bytes
    return rlimits


def require_sandbox() -> str:
    """The bwrap path, once a real run through the launcher has worked here (cached);
    raises SandboxUnavailable with instructions otherwise."""
    path = bwrap_path()
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code cannot be isolated. "
            "Install it (Debian/Ubuntu: apt-get install bubblewrap) or, for trusted "
            "submissions only, allow an unsandboxed run explicitly with --allow-unsandboxed.")
    if path not in _probe:
        _probe[path] = "probing"
        with tempfile.TemporaryDirectory(prefix="cs231n-probe-") as scratch:
            workspace = Workspace.create(Path(scratch) / "work", 1 << 20)
            try:
                outcome = Launcher(True).run_command(["/usr/bin/true"], workspace, RunLimits(wall_s=30))
            finally:
                workspace.close()
        _probe[path] = "" if outcome.returncode == 0 else (outcome.stderr.strip()[-300:] or "unknown error")
    if _probe[path] not in ("", "probing"):
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot create its namespaces here ({_probe[path]}). "
            "Enable unprivileged user namespaces (or run the grader as root); for trusted "
            "submissions only, allow an unsandboxed run explicitly with --allow-unsandboxed.")
    return path


def _watch(proc, workspace, limits, start):
    """Wait for ``proc`` (a _ColdRun or _WarmRun) while watching the clock (and, for a
    folder without a filesystem of its own, its growth). Returns (returncode, timed out,
    disk limit hit)."""
    polled = not workspace.mounted
    baseline = (work_folder_bytes(workspace.path, MAX_WORK_ENTRIES) or 0) if polled else 0
    deadline = start + limits.wall_s
    while True:
        try:
            return proc.wait(timeout=max(0.0, min(DISK_POLL_S, deadline - time.monotonic()))), False, False
        except subprocess.TimeoutExpired:
            pass
        timed_out = time.monotonic() >= deadline
        if timed_out:
            proc.kill()
            return proc.wait(), True, False
        if polled:
            used = work_folder_bytes(workspace.path, MAX_WORK_ENTRIES)
            if used is None or used - baseline > limits.max_disk_bytes:
                proc.kill()
                return proc.wait(), False, True


def work_folder_bytes(folder, max_entries):
    """Bytes allocated under ``folder`` (links not followed, other mounts skipped),
    or None when it holds more than ``max_entries`` files and folders."""
    total, count = 0, 0
    device = os.stat(folder).st_dev
    pending = [os.fspath(folder)]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                count += 1
                if count > max_entries:
                    return None
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if info.st_dev != device:
                    continue
                total += info.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return total


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_capped(handle, cap):
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    data = handle.read(cap).decode("utf-8", errors="replace")
    if size > cap:
        data += f"\n[... {size - cap} more bytes not shown]"
    return data
