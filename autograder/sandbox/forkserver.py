"""Runners started warm: a server that imported torch once forks each run into its sandbox.

Why: a check runner spends about 2.4 s importing torch, torchvision (and through
it torch._dynamo) and scipy before it runs a single check, once per submission.
This server imports them once per grader process (``inside/warm_imports.py``);
each run is forked from it and enters that run's sandbox itself, so a runner
starts in milliseconds.

How one run starts warm (``launcher.Launcher`` decides when):

1. The launcher builds the run's sandbox exactly as for a cold run (``enter.py``
   and bubblewrap: the same allow-list, uid, cgroup and rlimits), but bubblewrap's
   command is a *holder*: a shell that prints "ready" once the view is built, then
   sleeps. ``--info-fd`` tells the launcher the holder's host pid.
2. The launcher sends this server one request over a Unix socket: the plan as
   JSON, and as file descriptors the run's stdout, its stderr and a reply socket.
3. The server forks a *monitor*. As root, the monitor opens the holder's
   namespaces, joins the run's cgroup and sets its rlimits, then drops to the
   run's own host uid and gid for good. As that uid it owns the user namespace
   bubblewrap made, so it may join it and the mount, network, IPC, UTS and
   cgroup namespaces that namespace owns; there it makes a new pid and mount
   namespace and forks the *runner*.
4. The runner is pid 1 of its own pid namespace (when it ends, the kernel ends
   everything in it). It mounts its own /proc, enters bubblewrap's innermost user
   namespace (uid 1000 inside, as every run), drops every capability (bounding
   and ambient sets too), sets no-new-privileges, starts a new session, takes the
   run's stdout and stderr, closes every other descriptor, replaces the
   environment by the run's and runs the command as ``python -I`` would.
5. The monitor reports the runner's exit status; it kills the runner when the
   launcher asks (the wall clock) or disconnects.

The runner inherits only what this server is: an interpreter started with -I
and the sandbox's environment that imported the modules the launcher named,
none of the grader's (no autograder, no cs231n), no descriptor but those above.

Run as ``python -I forkserver.py CONTROL_FD MODULE...``; standard library only
(and ``enter.py`` beside it, ``inside/warm_imports.py`` and ``inside/fresh_start.py`` below it).
"""
import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading

if __package__:  # imported by the launcher
    from autograder.sandbox import enter
    from autograder.sandbox.inside import fresh_start, warm_imports
else:  # the server, run as a script: it imports nothing of the grader's package, only these two files
    HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [HERE, os.path.join(HERE, "inside")]
    import enter
    import fresh_start
    import warm_imports

    del sys.path[:2]
SERVER_MODULES = ("enter", "fresh_start", "warm_imports")  # the server's own helpers, not the runner's
BASE_PATH = list(sys.path)  # what ``python -I`` starts with here, as in every run

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x10000000, 0x20000000, 0x40000000
JOINED = (("mnt", CLONE_NEWNS), ("net", CLONE_NEWNET), ("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS),
          ("cgroup", CLONE_NEWCGROUP))
NS_GET_PARENT = 0xB702  # _IO(0xb7, 0x2), <linux/nsfs.h>
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
CAP_VERSION_3 = 0x20080522
MAX_MESSAGE = 1 << 20
START_TIMEOUT_S = 30.0


# ---------------------------------------------------------------- the grader's side


class ForkServerError(RuntimeError):
    """The fork server could not start a run (the message says why)."""


class ForkServer:
    """A running server and the socket to it; ``start`` may be called from any thread."""

    def __init__(self, modules, env):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control, self.lock = ours, threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), str(theirs.fileno()), *modules],
            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            start_new_session=True)
        theirs.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def start(self, plan: dict, stdout, stderr) -> "WarmRun":
        """Start ``plan``'s runner; its stdout and stderr go to the files ``stdout`` and
        ``stderr``. Raises ForkServerError if it could not enter the sandbox."""
        mine, monitor = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self.lock:
                socket.send_fds(self.control, [json.dumps(plan).encode()],
                                [stdout.fileno(), stderr.fileno(), monitor.fileno()])
        except OSError as exc:
            mine.close()
            raise ForkServerError(f"the fork server is gone ({exc})") from None
        finally:
            monitor.close()
        run = WarmRun(mine)
        reply = run.receive(START_TIMEOUT_S)
        if not reply or "started" not in reply:
            run.close()
            why = (reply or {}).get("error") or "no answer from the fork server"
            raise ForkServerError(f"could not start the runner warm: {why}")
        return run

    def close(self) -> None:
        self.control.close()  # the server ends when its control socket closes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class WarmRun:
    """One runner started by the server, seen through its monitor's socket.

    ``wait`` and ``kill`` behave as ``subprocess.Popen``'s do for the launcher."""

    def __init__(self, sock):
        self.sock, self.buffer, self.returncode = sock, b"", None

    def receive(self, timeout):
        """The monitor's next message (a dict), or None at the timeout or if it is gone."""
        while b"\n" not in self.buffer:
            if not select.select([self.sock], [], [], timeout)[0]:
                return None
            chunk = self.sock.recv(4096)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def wait(self, timeout=None):
        """The runner's exit code (negative: killed by that signal); raises
        subprocess.TimeoutExpired if it is still running after ``timeout`` seconds."""
        if self.returncode is None:
            reply = self.receive(timeout)
            if reply is None:
                if self.sock.fileno() >= 0 and _still_connected(self.sock):
                    raise subprocess.TimeoutExpired("warm runner", timeout)
                self.returncode = -signal.SIGKILL  # the monitor is gone: so is the runner
            else:
                self.returncode = int(reply.get("status", -signal.SIGKILL))
        return self.returncode

    def kill(self):
        """Have the monitor kill the runner (and with it its pid namespace)."""
        try:
            self.sock.sendall(b"kill\n")
        except OSError:
            pass

    def close(self):
        self.sock.close()


def _still_connected(sock) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def python_args(command, interpreter=sys.executable):
    """The arguments after the interpreter if ``command`` is this interpreter run as
    ``python [-I] -c CODE ...`` or ``python [-I] SCRIPT ...``; None otherwise."""
    if not command or command[0] != interpreter:
        return None
    rest = list(command[1:])
    while rest and rest[0] == "-I":
        rest.pop(0)
    if not rest or (rest[0].startswith("-") and rest[0] != "-c") or (rest[0] == "-c" and len(rest) < 2):
        return None
    return rest


# ---------------------------------------------------------------- the server's side


def serve(control_fd: int, modules) -> None:
    """Import ``modules``, then fork a monitor per request until the control socket closes
    (first importing what the request's ``imports`` name)."""
    warm_imports.warm_imports(modules)  # one that fails: the runner imports it again and meets the error
    control = socket.socket(fileno=control_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the monitors
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 3)
        except OSError:
            return
        if not message:  # the grader closed its end (or died)
            return
        plan = json.loads(message)
        # imported here, once (the first run that names them pays): every later runner has them
        warm_imports.warm_imports(plan.get("imports", ()))
        if len(fds) == 3 and os.fork() == 0:
            control.close()
            monitor(plan, *fds)  # never returns
        for fd in fds:
            os.close(fd)


def monitor(plan, out_fd, err_fd, reply_fd):
    """In the forked monitor (see the module's docstring, step 3 and 5). Never returns."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    reply = socket.socket(fileno=reply_fd)
    try:
        namespaces = open_namespaces(plan["holder"], plan["uid"])
        enter.join_caps(plan)
        if plan["uid"] is not None:
            enter.drop_privileges(plan["uid"])
        join_namespaces(namespaces)
        pid = os.fork()
    except Exception as exc:
        _send(reply, {"error": f"{type(exc).__name__}: {exc}"})
        os._exit(1)
    if pid == 0:
        reply.close()
        become_runner(plan, namespaces["innermost_user"], out_fd, err_fd)  # never returns
    for fd in (out_fd, err_fd, *namespaces.values()):
        os.close(fd)
    _prctl(PR_SET_DUMPABLE, 0)
    _send(reply, {"started": True})
    runner = os.pidfd_open(pid)
    killed = False
    while runner not in (readable := select.select([runner] if killed else [reply, runner], [], [])[0]):
        if reply in readable and reply.recv(64) in (b"", b"kill\n", b"kill"):  # asked, or the launcher is gone
            signal.pidfd_send_signal(runner, signal.SIGKILL)  # not reaped yet, so never another process
            killed = True
    _, status = os.waitpid(pid, 0)
    _send(reply, {"status": os.waitstatus_to_exitcode(status)})
    os._exit(0)


def open_namespaces(holder: int, uid) -> dict:
    """{name: fd} of the holder's namespaces: its user namespace's outermost ancestor below
    ours ("user"), its own ("innermost_user") and the others of JOINED."""
    pidfd = os.pidfd_open(holder)
    try:
        fds = {"innermost_user": os.open(f"/proc/{holder}/ns/user", os.O_RDONLY)}
        fds.update((name, os.open(f"/proc/{holder}/ns/{name}", os.O_RDONLY)) for name, _ in JOINED)
        if select.select([pidfd], [], [], 0)[0]:
            raise ForkServerError(f"the sandbox's holder {holder} ended before the runner entered it")
        owner = os.stat(f"/proc/{holder}").st_uid
        if uid is not None and owner != uid:
            raise ForkServerError(f"process {holder} belongs to uid {owner}, not to the run's {uid}")
    finally:
        os.close(pidfd)
    ours = os.stat("/proc/self/ns/user").st_ino
    user = os.dup(fds["innermost_user"])
    while True:  # climb to the namespace whose parent is ours: the one the run's uid owns
        parent = fcntl.ioctl(user, NS_GET_PARENT)
        if os.fstat(parent).st_ino == ours:
            os.close(parent)
            break
        os.close(user)
        user = parent
    fds["user"] = user
    return fds


def join_namespaces(fds: dict) -> None:
    """Join the run's user namespace and those it owns; then a new pid and mount namespace."""
    _setns(fds["user"], CLONE_NEWUSER)
    for name, kind in JOINED:
        _setns(fds[name], kind)
    enter._check(enter._libc.unshare(CLONE_NEWPID | CLONE_NEWNS), "unshare")


def become_runner(plan, innermost_user, out_fd, err_fd):
    """In the runner, pid 1 of its namespace (step 4). Never returns."""
    try:
        enter.mount(None, "/", None, MS_REC | MS_PRIVATE)
        enter.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        if os.fstat(innermost_user).st_ino != os.stat("/proc/self/ns/user").st_ino:
            _setns(innermost_user, CLONE_NEWUSER)
        drop_capabilities()
        # after the last change of credentials, which resets both
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _prctl(PR_SET_DUMPABLE, 1)  # as a freshly exec'd runner is
        os.setsid()
        os.chdir(plan["cwd"])
        null = os.open("/dev/null", os.O_RDONLY)
        for fd, target in ((null, 0), (out_fd, 1), (err_fd, 2)):
            os.dup2(fd, target)
        # Not just below RLIMIT_NOFILE: the monitor lowered it after the server had opened
        # descriptors, which may lie above the new limit. 1 << 20 is Linux's fs.nr_open
        # default; close_range(2) makes the call cheap.
        os.closerange(3, 1 << 20)
    except BaseException as exc:
        os.write(err_fd, f"forkserver: could not enter the sandbox: {exc}\n".encode())
        os._exit(125)
    os._exit(run_python(plan["args"], {**plan["env"], "PWD": plan["cwd"]}))  # PWD: as bwrap --chdir sets it


def drop_capabilities():
    """No capability left in any set; no new privileges on exec either."""
    for cap in range(64):
        if enter._libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    enter._check(enter._libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "ambient")
    header = (ctypes.c_uint32 * 2)(CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    enter._check(enter._libc.capset(header, data), "capset")
    enter._check(enter._libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def run_python(args, env) -> int:
    """Run ``python -I args`` in this process (``-c CODE ...`` or ``SCRIPT ...``); its exit code."""
    fresh_start.reset(env, BASE_PATH, drop=SERVER_MODULES)
    return fresh_start.run_main(args)


def _setns(fd, kind):
    enter._check(enter._libc.setns(fd, kind), f"setns {kind:#x}")


def _prctl(option, value):
    enter._check(enter._libc.prctl(option, value, 0, 0, 0), f"prctl {option}")


def _send(sock, message):
    try:
        sock.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
