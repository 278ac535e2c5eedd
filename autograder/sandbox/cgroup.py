"""Memory and process caps for a whole process tree: one child cgroup (v1 hierarchies).

The grader creates the cgroup; the launcher's first step (``enter.py``) moves
itself into it before it drops privileges, so everything the sandbox starts is
counted. Where no cgroup can be made, the caller falls back to rlimits.
"""
import os
import re
import signal
import time
import uuid
from pathlib import Path


class CgroupV1:
    """One child cgroup in the v1 memory and pids hierarchies (as on this machine)."""

    def __init__(self, memory_dir: Path, pids_dir: Path):
        self.memory_dir, self.pids_dir = memory_dir, pids_dir

    @classmethod
    def create(cls, memory_bytes: int, max_processes: int) -> "CgroupV1":
        name = f"cs231n-sandbox-{uuid.uuid4().hex[:12]}"
        memory_dir = _own_v1_dir("memory") / name
        pids_dir = _own_v1_dir("pids") / name
        memory_dir.mkdir()
        try:
            pids_dir.mkdir()
            (memory_dir / "memory.limit_in_bytes").write_text(str(memory_bytes))
            swap = memory_dir / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory_bytes))
            (pids_dir / "pids.max").write_text(str(max_processes))
        except OSError:
            for d in (memory_dir, pids_dir):
                if d.exists():
                    d.rmdir()
            raise
        return cls(memory_dir, pids_dir)

    @property
    def procs_files(self) -> list:
        """The files a process writes its pid to, to join this cgroup."""
        return [str(d / "cgroup.procs") for d in (self.memory_dir, self.pids_dir)]

    def pids(self) -> list:
        return [int(p) for p in (self.pids_dir / "cgroup.procs").read_text().split()]

    def memory_exceeded(self) -> bool:
        """True when the kernel's OOM killer ended a process of this cgroup."""
        control = (self.memory_dir / "memory.oom_control").read_text()
        match = re.search(r"^oom_kill (\d+)", control, re.MULTILINE)
        return bool(match and int(match.group(1)) > 0)

    def process_limit_hit(self) -> bool:
        events = self.pids_dir / "pids.events"
        return events.exists() and int(events.read_text().split()[-1]) > 0

    def destroy(self) -> None:
        _kill_all(self.pids)
        for d in (self.memory_dir, self.pids_dir):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


def make_cgroup(memory_bytes: int, max_processes: int) -> "CgroupV1 | None":
    """A fresh CgroupV1, or None where none can be made (no v1 hierarchy, no rights)."""
    try:
        return CgroupV1.create(memory_bytes, max_processes)
    except OSError:
        return None


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
