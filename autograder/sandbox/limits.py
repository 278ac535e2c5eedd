"""What one sandboxed run may use (``RunLimits``) and what happened in it (``Outcome``)."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class RunLimits:
    """Resource limits for one sandboxed run, in seconds and bytes.

    wall_s: wall-clock seconds before everything is killed.
    memory_bytes: resident memory of all processes together (cgroup), or the
        address space of each process (RLIMIT_AS) where no cgroup can be made.
    max_processes: processes and threads alive at once (cgroup pids.max, and
        RLIMIT_NPROC of the run's own host uid).
    max_file_bytes: largest file any process may write, stdout/stderr included.
    max_disk_bytes: size of the work folder's own filesystem (a tmpfs: files
        deleted while still open count too); /tmp gets a quarter of it.
    max_open_files: file descriptors per process (RLIMIT_NOFILE).
    """

    wall_s: float = 600.0
    memory_bytes: int = 4 << 30
    max_processes: int = 256
    max_file_bytes: int = 64 << 20
    max_disk_bytes: int = 2 << 30
    max_open_files: int = 256

    @classmethod
    def from_assignment(cls, limits, wall_s: float) -> "RunLimits":
        """Sandbox limits from an ``autograder.assignment.Limits`` (MB there, bytes here)."""
        return cls(wall_s=wall_s, memory_bytes=limits.memory_mb << 20,
                   max_processes=limits.max_processes, max_file_bytes=limits.max_file_mb << 20,
                   max_disk_bytes=limits.max_disk_mb << 20,
                   max_open_files=getattr(limits, "max_open_files", cls.max_open_files))


@dataclasses.dataclass
class Outcome:
    """What happened in one sandboxed run (stdout/stderr truncated to the output cap)."""

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

    @property
    def limit_messages(self) -> list:
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
