"""Ending what student code leaves running, from inside the sandbox.

Both in-sandbox runners (the check runner, checks/sandbox_main.py, and the
notebook runner) call ``kill_strays`` after each unit of student work (a check,
a notebook), so a daemon, a fork bomb's remains or a grandchild still computing
cannot outlive its unit, take the process slots of the next, or touch its files.

What counts as a stray:
- in the sandbox's own pid namespace (the runner is pid 1 there, and the grader
  said it has one): every process but the runner (and its ancestors);
- elsewhere (an explicitly unsandboxed run): the runner's descendants. The
  runner is a child subreaper, so double-forked daemons stay its descendants.

Standard library only: this module runs in the isolated interpreter of the
sandbox, importing nothing of the student's.
"""
import ctypes
import os
import signal
import time
from pathlib import Path

PR_SET_DUMPABLE = 4  # prctl options, <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36


def prctl(option, value):
    """prctl(2) with one value; a no-op where there is none."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to set
        pass


def harden_runner():
    """Make the calling runner non-dumpable (processes of the same uid can no longer
    ptrace it or open its /proc/<pid>/ files: its stdout is its own), a child
    subreaper (orphaned descendants are re-parented to it rather than to init),
    and deaf to SIGINT (as the sandbox's pid 1, which bwrap --as-pid-1 makes it,
    the kernel already drops every other signal sent from inside)."""
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, lambda signum, frame: None)


def own_pid_namespace():
    """True when this process runs in the sandbox's own pid namespace: it is pid 1
    there (bwrap --as-pid-1), or bwrap is."""
    if os.getpid() == 1:
        return True
    try:
        return b"bwrap" in Path("/proc/1/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False


def reap():
    """Collect exited children (adopted orphans too) so they do not linger as zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _parents():
    """{pid: parent pid} of every live (not zombie) process visible in /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            # the command name is in parentheses and may itself hold spaces or ')'
            state, parent = stat[stat.rindex(")") + 2:].split()[:2]
        except (OSError, ValueError):
            continue
        if state not in ("Z", "X"):
            parents[int(entry)] = int(parent)
    return parents


def stray_pids(whole_namespace):
    """The pids ``kill_strays`` ends (see the module's docstring)."""
    parents = _parents()
    me = os.getpid()
    if whole_namespace:
        keep, pid = set(), me
        while pid > 0 and pid not in keep:
            keep.add(pid)
            pid = parents.get(pid, 0)
        return [pid for pid in parents if pid not in keep]
    children = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], list(children.get(me, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def kill_strays(whole_namespace, rounds=500):
    """SIGKILL strays until none is left (a fork bomb respawns for a while).

    Returns True when none is left, False when some survived every round.
    """
    for _ in range(rounds):
        if whole_namespace:  # one call ends every process of the namespace but pid 1 and this one
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reap()
        pids = stray_pids(whole_namespace)
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.005)
    return False
