"""Run untrusted student code in a bubblewrap sandbox with resource limits.

What the sandbox gives (see docs/threat_model.md for what it does not):
- no network: a new network namespace holding only an "up" loopback interface
  (a Jupyter kernel talks to its client over loopback, so it must be up);
- a read-only view of the machine, with secret paths (the instructor's repository,
  the grading output, other submissions) replaced by empty folders, and exactly
  one writable folder, the work folder; a private /tmp;
- its own pid namespace, in which the command is pid 1 (``--as-pid-1``: no
  bwrap process lives inside, whose files and fds student code could open;
  signals sent from inside cannot kill pid 1); when it ends, the kernel ends
  every process inside it, so nothing a submission starts outlives its run;
- no capabilities and an unprivileged uid inside a user namespace;
- limits: wall clock (enforced here), memory and process count (a cgroup where
  one can be made, else RLIMIT_AS and no process cap, said in the outcome),
  file size (RLIMIT_FSIZE, which also caps what the sandbox can print).

When bubblewrap is missing, ``run_sandboxed`` raises ``SandboxUnavailable``; the
caller decides whether an explicitly allowed unsandboxed run is acceptable.
"""
import dataclasses
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

SANDBOX_UID = 65534  # "nobody" inside the user namespace

_BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "MPLBACKEND": "Agg",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "OMP_NUM_THREADS": "1",
}


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot be used on this machine."""


@dataclasses.dataclass(frozen=True)
class RunLimits:
    """Resource limits for one sandboxed run.

    wall_s: wall-clock seconds before everything is killed.
    memory_bytes: resident memory of all processes together (cgroup), or the
        address space of each process (RLIMIT_AS) where no cgroup can be made.
    max_processes: processes and threads alive at once (cgroup pids.max).
    max_file_bytes: largest file any process may write, stdout/stderr included.
    max_disk_bytes: how much the work folder may grow (all files together, and at
        most ``MAX_WORK_ENTRIES`` of them); watched every ``DISK_POLL_S`` seconds,
        so a fast writer can overshoot by what it writes in that time.
    """

    wall_s: float = 600.0
    memory_bytes: int = 4 << 30
    max_processes: int = 256
    max_file_bytes: int = 64 << 20
    max_disk_bytes: int = 2 << 30

    @classmethod
    def from_assignment(cls, limits, wall_s):
        """Sandbox limits from an ``autograder.assignment.Limits`` (MB there, bytes here)."""
        return cls(wall_s=wall_s, memory_bytes=limits.memory_mb << 20,
                   max_processes=limits.max_processes, max_file_bytes=limits.max_file_mb << 20,
                   max_disk_bytes=limits.max_disk_mb << 20)


@dataclasses.dataclass
class Outcome:
    """What happened in one sandboxed run (stdout/stderr truncated to ``output_cap``)."""

    returncode: int
    wall_s: float
    stdout: str
    stderr: str
    timed_out: bool = False
    memory_exceeded: bool = False
    process_limit_hit: bool = False
    file_limit_hit: bool = False
    disk_limit_hit: bool = False
    enforced: dict = dataclasses.field(default_factory=dict)
    removed: list = dataclasses.field(default_factory=list)  # links and special files replaced afterwards

    @property
    def limit_messages(self):
        """Human-readable sentences for every limit this run hit."""
        messages = []
        if self.timed_out:
            messages.append(f"stopped: it ran past the wall-clock limit ({self.wall_s:.0f} s)")
        if self.memory_exceeded:
            messages.append("stopped: it used more memory than the limit allows")
        if self.process_limit_hit:
            messages.append("it tried to start more processes than the limit allows")
        if self.file_limit_hit:
            messages.append("stopped: it wrote a file or output larger than the limit allows")
        if self.disk_limit_hit:
            messages.append("stopped: it wrote more to disk (or more files) than the limit allows")
        return messages


def bwrap_path():
    """Path of the bwrap binary, or None."""
    return shutil.which("bwrap")


def use_sandbox(allow_unsandboxed):
    """Whether to isolate: always, unless explicitly allowed AND bubblewrap is missing.

    With bubblewrap missing and no permission, callers still ask for the sandbox,
    and ``run_sandboxed`` refuses with SandboxUnavailable.
    """
    return bwrap_path() is not None or not allow_unsandboxed


def require_sandbox():
    """Raise SandboxUnavailable with instructions when bubblewrap cannot run."""
    path = bwrap_path()
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code cannot be isolated. "
            "Install it (Debian/Ubuntu: apt-get install bubblewrap) or, for trusted "
            "submissions only, allow an unsandboxed run explicitly with --allow-unsandboxed.")
    probe = subprocess.run([path, "--unshare-all", "--ro-bind", "/", "/", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot create namespaces here ({probe.stderr.strip()}). "
            "Run the grader as root or enable unprivileged user namespaces; for trusted "
            "submissions only, allow an unsandboxed run explicitly with --allow-unsandboxed.")
    return path


# ---------------------------------------------------------------------------
# cgroups: memory and process caps for a whole process tree


class _CgroupV1:
    """One child cgroup in the v1 memory and pids hierarchies (as on this machine)."""

    def __init__(self, memory_dir, pids_dir):
        self.memory_dir, self.pids_dir = memory_dir, pids_dir

    @classmethod
    def create(cls, limits):
        name = f"cs231n-sandbox-{uuid.uuid4().hex[:12]}"
        memory_dir = _own_v1_dir("memory") / name
        pids_dir = _own_v1_dir("pids") / name
        memory_dir.mkdir()
        try:
            pids_dir.mkdir()
            (memory_dir / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            swap = memory_dir / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(limits.memory_bytes))
            (pids_dir / "pids.max").write_text(str(limits.max_processes))
        except OSError:
            for d in (memory_dir, pids_dir):
                if d.exists():
                    d.rmdir()
            raise
        return cls(memory_dir, pids_dir)

    def add_self(self):
        """Move the calling process (a child before exec) into the cgroup."""
        for d in (self.memory_dir, self.pids_dir):
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self):
        text = (self.pids_dir / "cgroup.procs").read_text()
        return [int(p) for p in text.split()]

    def memory_exceeded(self):
        """True when the kernel's OOM killer ended a process of this cgroup."""
        control = (self.memory_dir / "memory.oom_control").read_text()
        match = re.search(r"^oom_kill (\d+)", control, re.MULTILINE)
        return bool(match and int(match.group(1)) > 0)

    def process_limit_hit(self):
        events = self.pids_dir / "pids.events"
        return events.exists() and int(events.read_text().split()[-1]) > 0

    def destroy(self):
        _kill_all(self.pids)
        for d in (self.memory_dir, self.pids_dir):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


def _own_v1_dir(controller):
    """The v1 hierarchy folder of this process's own cgroup for ``controller``."""
    root = Path("/sys/fs/cgroup") / controller
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return root / path.lstrip("/")
    raise OSError(f"no v1 {controller} cgroup")


def _kill_all(list_pids):
    """SIGKILL every pid the cgroup still holds, until it is empty (bounded)."""
    for _ in range(100):
        try:
            pids = list_pids()
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def _make_cgroup(limits):
    try:
        return _CgroupV1.create(limits)
    except OSError:
        return None


# ---------------------------------------------------------------------------
# the bwrap command line


def bwrap_args(workdir, hidden=(), readable=(), env=None, extra_ro_binds=(), uid=SANDBOX_UID):
    """bwrap arguments: read-only root, ``hidden`` paths emptied, ``readable``
    paths re-exposed read-only after hiding (e.g. a virtual environment inside a
    hidden repository), ``workdir`` the only writable place, a private /tmp, and
    ``extra_ro_binds`` (source, target) pairs mounted read-only last (targets may
    lie inside the work folder, e.g. the grader's own library)."""
    workdir = str(Path(workdir).resolve())
    args = [
        "--die-with-parent", "--new-session", "--unshare-all", "--as-pid-1",
        "--uid", str(uid), "--gid", str(uid), "--cap-drop", "ALL",
        "--hostname", "sandbox",
        "--ro-bind", "/", "/",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run",
    ]
    for path in hidden:
        if Path(path).exists():
            args += ["--tmpfs", str(Path(path).resolve())]
    for path in readable:
        if Path(path).exists():
            args += ["--ro-bind", str(Path(path).resolve()), str(Path(path).resolve())]
    args += ["--bind", workdir, workdir]
    for source, target in extra_ro_binds:
        args += ["--ro-bind", str(Path(source).resolve()), str(Path(target).resolve())]
    args += ["--chdir", workdir, "--clearenv"]
    full_env = dict(_BASE_ENV, HOME=workdir, TMPDIR="/tmp")
    full_env.update(env or {})
    for key, value in full_env.items():
        args += ["--setenv", key, str(value)]
    return args


def run_sandboxed(command, workdir, limits=RunLimits(), hidden=(), readable=(), env=None,
                  extra_ro_binds=(), output_cap=1 << 20, sandbox=True):
    """Run ``command`` (a list) in the sandbox with ``limits``; return an Outcome.

    ``sandbox=False`` runs it without isolation (explicitly allowed runs only):
    wall clock, rlimits and the process-group kill still apply.
    """
    workdir = Path(workdir).resolve()
    cgroup = _make_cgroup(limits)
    enforced = {"sandbox": sandbox, "wall_clock": True, "file_size": True,
                "memory": "cgroup" if cgroup else "rlimit-as",
                "processes": "cgroup" if cgroup else "not enforced"}
    if sandbox:
        argv = [require_sandbox()] + bwrap_args(workdir, hidden, readable, env, extra_ro_binds) + ["--"] + list(command)
        # bwrap must not carry the grader's environment (the grading seed, tokens):
        # should a bwrap process ever live inside, its /proc/<pid>/environ is readable there.
        run_env = {"PATH": _BASE_ENV["PATH"], "LANG": _BASE_ENV["LANG"]}
    else:
        argv = list(command)
        run_env = dict(_BASE_ENV, HOME=str(workdir), **(env or {}))
        run_env["PATH"] = os.environ.get("PATH", _BASE_ENV["PATH"])

    def preexec():
        if cgroup is not None:
            cgroup.add_self()
        else:
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, env=run_env, preexec_fn=preexec,
                                start_new_session=True)
        try:
            returncode, timed_out, disk_limit_hit = _watch(proc, workdir, limits, start)
        finally:
            _killpg(proc.pid)
            memory_exceeded = bool(cgroup and cgroup.memory_exceeded())
            process_limit_hit = bool(cgroup and cgroup.process_limit_hit())
            if cgroup is not None:
                cgroup.destroy()
        wall = time.monotonic() - start
        stdout, stderr = _read_capped(out, output_cap), _read_capped(err, output_cap)
    # Nothing of the run is alive now: make what it left safe for the grader to read.
    removed = plain_files_only(workdir)
    # Python ignores SIGXFSZ, so its writes fail with EFBIG ("File too large").
    file_limit_hit = (returncode == -signal.SIGXFSZ or "File size limit exceeded" in stderr
                      or "File too large" in stderr)
    if cgroup is None and returncode != 0 and "MemoryError" in stderr:
        memory_exceeded = True
    return Outcome(returncode=returncode, wall_s=wall, stdout=stdout, stderr=stderr,
                   timed_out=timed_out, memory_exceeded=memory_exceeded,
                   process_limit_hit=process_limit_hit, file_limit_hit=file_limit_hit,
                   disk_limit_hit=disk_limit_hit,
                   enforced=enforced, removed=removed)


def plain_files_only(folder):
    """Replace everything under ``folder`` that is not a regular file or a folder.

    Code in the sandbox can leave symbolic links (to the instructor's files, to
    /dev/zero), FIFOs (which block whoever opens them), sockets and device nodes
    in the one folder it may write. The grader reads that folder afterwards with
    its own privileges, so each such entry is replaced by an empty regular file
    (a link to a folder by an empty folder): every path keeps existing, and
    nothing outside the folder is ever reached through it. Returns the relative
    paths replaced.
    """
    folder = Path(folder)
    replaced = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in list(dirnames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path):  # os.walk lists links to folders as folders
                dirnames.remove(name)
                os.unlink(path)
                os.mkdir(path, 0o755)
                replaced.append(os.path.relpath(path, folder))
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISREG(mode):
                continue
            os.unlink(path)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
            replaced.append(os.path.relpath(path, folder))
    return replaced


DISK_POLL_S = 0.5
MAX_WORK_ENTRIES = 100_000  # files and folders in a work folder, counted by the disk watch


def _watch(proc, workdir, limits, start):
    """Wait for ``proc`` while watching the clock and the work folder's growth.

    Returns (returncode, timed out, disk limit hit); kills the run's process
    group when a limit is hit.
    """
    baseline = work_folder_bytes(workdir, MAX_WORK_ENTRIES) or 0
    deadline = start + limits.wall_s
    while True:
        try:
            return proc.wait(timeout=max(0.0, min(DISK_POLL_S, deadline - time.monotonic()))), False, False
        except subprocess.TimeoutExpired:
            pass
        timed_out = time.monotonic() >= deadline
        used = None if timed_out else work_folder_bytes(workdir, MAX_WORK_ENTRIES)
        if timed_out or used is None or used - baseline > limits.max_disk_bytes:
            _killpg(proc.pid)
            return proc.wait(), timed_out, not timed_out


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
