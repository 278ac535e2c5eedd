"""Notebook kernels forked from the notebook runner, with torch already imported.

Why: a kernel is a new Python process that imports whatever its notebook
imports. For the torch notebooks that is about 2.5 CPU-s (torch, torchvision
and, through it, torch._dynamo) in every notebook of every submission. A
runner started warm (``autograder/sandbox/forkserver.py``) has imported those
modules already; a kernel forked from it starts with them.

How (``notebook_runner.py`` drives it):

- The runner's main process, the *template*, never runs an event loop, a
  thread or a kernel client, so it stays safe to fork. For each notebook it
  forks a *client* that runs papermill.
- When the client's kernel manager (``ForkingKernelManager``) starts the
  kernel, it sends the kernel's command, environment and folder to the
  template (``request_kernel``); the template forks the kernel
  (``fork_kernel``) and answers with its pid. So the kernel is the template's
  child: in the sandbox, pid 1's child, as kernels were when the runner was one
  process that started them itself.
- The kernel makes itself what ``python -m ipykernel_launcher -f FILE`` would
  have been (``become_kernel``): its own session, descriptors 0-2 only, the
  environment, folder, ``sys.path`` and ``argv`` of that command, fresh random
  seeds, the thread counts its environment asks for, dumpable again, nothing
  of the grader's modules; then ipykernel runs as ``-m`` runs it.
- The client follows the kernel through a pidfd (``ForkedKernel``: poll, wait,
  signals and kill as ``subprocess.Popen`` offers them), since it is not its child.
- Any other kernel command, or a template that does not answer, and the client
  starts the kernel itself, as it always did.

What a forked kernel keeps of the template: the modules it imported (the
point), the interpreter's flags (``-I``: of the ``PYTHON*`` variables only
``PYTHONPATH``, ``PYTHONDONTWRITEBYTECODE`` and ``PYTHONUNBUFFERED`` are applied,
by ``become_kernel``) and its hash seed.

Standard library only at import; the ipykernel and jupyter_client parts are
imported where they are used.
"""
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

from autograder.sandbox.inside import fresh_start
from autograder.sandbox.inside.sweep import PR_SET_DUMPABLE, prctl

KERNEL_MODULE = "ipykernel_launcher"
REPLY_TIMEOUT_S = 10.0
MAX_REQUEST = 1 << 20
GRADER_PACKAGES = ("autograder",)  # the runner's own modules: no kernel keeps them
# in a client: its socket to the template, whether to ask it for kernels, the kernel it forked
_template = {"socket": None, "fork": False, "kernel": None}


# ---------------------------------------------------------------- the template's side


def kernel_args(argv):
    """The arguments after the interpreter if ``argv`` starts ipykernel as the python3
    kernel spec does (``python -m ipykernel_launcher ...``), else None."""
    if len(argv) >= 3 and argv[0] == sys.executable and argv[1:3] == ["-m", KERNEL_MODULE]:
        return list(argv[1:])
    return None


def fork_kernel(request: dict, base_path: list) -> int:
    """Fork the kernel ``request`` describes ({"argv", "env", "cwd"}); its pid, once it runs
    in a session of its own. ``base_path``: ``sys.path`` as the interpreter started."""
    ready_read, ready_write = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        os.close(ready_read)
        code = 1
        try:
            code = become_kernel(request, base_path)  # its descriptors closed: ready_write too
        finally:
            os._exit(code)
    os.close(ready_write)
    os.read(ready_read, 1)  # end of file once the kernel has its session (or is gone)
    os.close(ready_read)
    return pid


def become_kernel(request: dict, base_path: list) -> int:
    """In the forked kernel: become ``python -m ipykernel_launcher ...`` (see the module's
    docstring) and run it; the exit code."""
    env, cwd = dict(request["env"]), request["cwd"]
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # a started kernel's stdin is a pipe nobody writes to: the same end of file
    os.close(null)
    os.closerange(3, 1 << 20)  # the template's and the client's sockets, and the "ready" pipe
    os.chdir(cwd)
    prctl(PR_SET_DUMPABLE, 1)  # the template is not dumpable; an exec'd kernel would be
    env["JPY_PARENT_PID"] = str(os.getppid())  # as the launcher sets it, for the kernel's parent poller
    set_thread_counts(env)  # first: threadpoolctl sets a variable of its own when imported
    fresh_start.reset(env, kernel_path(env, base_path), drop=GRADER_PACKAGES)
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    if env.get("PYTHONUNBUFFERED"):
        for stream in (sys.stdout, sys.stderr):
            stream.reconfigure(write_through=True)
    return fresh_start.run_main(kernel_args(request["argv"]))


def kernel_path(env: dict, base_path: list) -> list:
    """``sys.path`` as a started kernel has it once running: ``PYTHONPATH``, the base path,
    and "" (the notebook's folder) just before site-packages.

    A started kernel gets the folder first (``-m``); ``ipykernel_launcher`` removes it and
    IPython puts "" before the first site-packages folder (``InteractiveShellApp.init_path``).
    Here IPython would not (a forked kernel keeps the template's ``-I``, so
    ``sys.flags.safe_path``), and "" must be there: ``import cs231n`` is the submission's."""
    path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p] + list(base_path)
    where = next((k for k, p in enumerate(path) if os.path.basename(p) in ("site-packages", "dist-packages")), 0)
    return path[:where] + [""] + path[where:]


def set_thread_counts(env: dict) -> None:
    """Torch's and BLAS's thread pools as ``OMP_NUM_THREADS`` asks (at most one per CPU,
    as torch itself allows): both read it when first imported, which for a forked
    kernel was in the template."""
    try:
        threads = min(int(env.get("OMP_NUM_THREADS", "")), len(os.sched_getaffinity(0)))
    except ValueError:
        return
    if threads < 1:
        return
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "numpy" in sys.modules:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=threads, user_api="blas")
        except Exception:  # no threadpoolctl: BLAS keeps the template's count
            pass


def serve_kernels(client: socket.socket, base_path: list, timeout_s: float):
    """In the template, while one client runs: fork each kernel it asks for, until it sends
    its result (returned), or ends (None is returned). Raises TimeoutError if neither
    happened within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not select.select([client], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise TimeoutError(f"no result within {timeout_s:g} s")
        try:
            request = json.loads(client.recv(MAX_REQUEST) or b"null")
        except (OSError, ValueError):
            return None
        if not isinstance(request, dict):
            return None
        if "result" in request:
            return request["result"]
        try:
            reply = {"pid": fork_kernel(request, base_path)}
        except Exception as exc:  # the client starts it itself
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            client.send(json.dumps(reply).encode())
        except OSError:
            return None


# ---------------------------------------------------------------- the client's side


def use_template(sock: socket.socket, fork: bool = True) -> None:
    """In a client: the template is at the other end of ``sock``; ask it for kernels if ``fork``."""
    _template.update(socket=sock, fork=fork, kernel=None)


def send_result(result: dict) -> None:
    """In a client: hand the template the notebook's result (its last message)."""
    _template["socket"].send(json.dumps({"result": result}).encode())


def request_kernel(argv, env, cwd):
    """A ForkedKernel for ``argv`` forked by the template, or None (the caller starts it)."""
    sock = _template["socket"]
    if sock is None or not _template["fork"] or kernel_args(argv) is None:
        return None
    try:
        sock.send(json.dumps({"argv": list(argv), "env": dict(env), "cwd": os.fspath(cwd)}).encode())
        if not select.select([sock], [], [], REPLY_TIMEOUT_S)[0]:
            _template["fork"] = False  # a template that did not answer is not asked again
            return None
        reply = json.loads(sock.recv(MAX_REQUEST) or b"{}")
    except (OSError, ValueError):
        _template["fork"] = False
        return None
    if not isinstance(reply.get("pid"), int):
        return None
    try:
        _template["kernel"] = ForkedKernel(reply["pid"])
    except OSError:  # no pidfd on this machine (Linux before 5.3): start kernels here
        _template["fork"] = False
        try:
            os.kill(reply["pid"], signal.SIGKILL)
        except OSError:
            pass
        return None
    return _template["kernel"]


def kill_forked_kernel() -> None:
    """In a client: end the kernel the template forked for it, with its process group."""
    kernel = _template["kernel"]
    if kernel is not None:
        try:
            os.killpg(kernel.pid, signal.SIGKILL)
        except OSError:
            pass
        kernel.kill()


class ForkedKernel:
    """``subprocess.Popen``'s face on a kernel this process did not start (a pidfd).

    Its exit status belongs to the template, which reaps it; here an ended kernel's
    ``returncode`` is -SIGKILL if this side killed it, else 1."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid, self.returncode, self._killed = pid, None, False
        self._pidfd = os.pidfd_open(pid)

    def poll(self):
        if self.returncode is None and select.select([self._pidfd], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._ended()
        return self.returncode

    def send_signal(self, signum):
        if self.returncode is None:
            try:
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:
                pass
            self._killed = self._killed or signum == signal.SIGKILL

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)

    def _ended(self):
        self.returncode = -signal.SIGKILL if self._killed else 1
        os.close(self._pidfd)


def kernel_manager_class():
    """jupyter_client's AsyncKernelManager, starting kernels from the template when it can."""
    from jupyter_client.manager import AsyncKernelManager

    class ForkingKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            cwd = kw.get("cwd") or os.getcwd()
            kernel = request_kernel(kernel_cmd, kw.get("env") or os.environ, cwd)
            if kernel is None:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            provisioner = self.provisioner  # a LocalProvisioner: it only needs a Popen-like process
            provisioner.process, provisioner.pid, provisioner.pgid = kernel, kernel.pid, kernel.pid
            provisioner.cwd = cwd
            self._reconcile_connection_info(provisioner.connection_info)

    return ForkingKernelManager
