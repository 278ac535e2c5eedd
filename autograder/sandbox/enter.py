"""The launcher's last trusted step: join the caps, build the view, drop privileges, exec bwrap.

Usage (started by ``launcher.py``, never by hand):
    python -I autograder/sandbox/enter.py '<plan as JSON>'

One small single-threaded process, so nothing here races the grader's threads:

1. join the run's cgroup (memory and process caps) and set the rlimits
   (file size, open files, core dumps; processes per uid when it has its own);
2. as root: enter a private mount namespace of its own and bind every allowed
   source (found with root's rights, e.g. an interpreter under /root) into a
   fresh "stage" tmpfs, which an unprivileged user can traverse; nothing of
   this reaches the host's mounts;
3. drop to the run's own unprivileged host uid and gid (no supplementary
   groups, no new privileges) and exec bubblewrap, which binds the stage's
   entries at their places in an otherwise empty root.

An explicitly unsandboxed run (no bubblewrap, allowed by the instructor) stops
after step 1 and execs its command directly.

Without root (a grader run by an ordinary user) steps 2 and 3 are skipped:
bubblewrap binds the sources directly and the sandbox keeps the user's uid,
which is not root either. Standard library only.
"""
import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 4096, 16384, 1 << 18, 2, 4
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def join_caps(plan):
    """Enter the cgroup and set the rlimits (step 1)."""
    for procs in plan["cgroup_procs"]:
        with open(procs, "w") as handle:
            handle.write(str(os.getpid()))
    for name, value in plan["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))


def stage_mounts(plan):
    """Bind each source under the stage (step 2); returns the bwrap bind arguments."""
    stage = plan["stage"]
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("stage", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    args = []
    for index, (source, target, writable) in enumerate(plan["mounts"]):
        entry = os.path.join(stage, str(index))
        if os.path.isdir(source):
            os.mkdir(entry, 0o755)
        else:
            os.close(os.open(entry, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        mount(source, entry, None, MS_BIND | MS_REC)
        args += ["--bind" if writable else "--ro-bind", entry, target]
    return args


def drop_privileges(uid):
    """Become ``uid`` for good (step 3)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def main(plan):
    join_caps(plan)
    if plan["bwrap"] is None:  # an explicitly unsandboxed run: the caps only
        os.execv(plan["command"][0], plan["command"])
    binds = None
    if plan["uid"] is not None:
        try:
            binds = stage_mounts(plan)
        except OSError as exc:  # no mount rights (a container without CAP_SYS_ADMIN): bind directly
            print(f"enter: no private stage ({exc}); binding the sources directly", file=sys.stderr)
        drop_privileges(plan["uid"])
    if binds is None:
        binds = []
        for source, target, writable in plan["mounts"]:
            binds += ["--bind" if writable else "--ro-bind", source, target]
    argv = [plan["bwrap"], *plan["before"], *binds, *plan["after"], "--", *plan["command"]]
    os.execv(plan["bwrap"], argv)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
