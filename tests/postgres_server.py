"""A real PostgreSQL server for tests: started on 127.0.0.1 in a temporary folder, stopped after.

scripts/setup.sh installs PostgreSQL from apt (Debian puts its programs in
/usr/lib/postgresql/<version>/bin). PostgreSQL refuses to run as root, so as
root the server runs as the unprivileged ``nobody`` (uid 65534), which owns its
data folder. Nothing listens beyond loopback; the socket file stays in the data
folder.
"""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

UNPRIVILEGED_UID = 65534


def postgres_bin():
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    on_path = [Path(found).parent for found in [shutil.which("initdb")] if found]
    debian = [Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)]
    return next((d for d in on_path + debian if (d / "pg_ctl").exists()), None)


def free_port():
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``with PostgresServer() as pg: pg.url("gradebook")``: a fresh server and database."""

    def __init__(self):
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (scripts/setup.sh installs it with apt)")
        self.root = Path(tempfile.mkdtemp(prefix="cs231n-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args, timeout=120):
        def drop():
            if self.as_root:
                os.setgroups([])
                os.setgid(UNPRIVILEGED_UID)
                os.setuid(UNPRIVILEGED_UID)

        proc = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=timeout, preexec_fn=drop, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return proc

    def __enter__(self):
        if self.as_root:
            os.chown(self.root, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")
        return self

    def create_database(self, name):
        """Create database ``name`` and return its SQLAlchemy URL."""
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                connection = psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                                             autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def __exit__(self, *exc):
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
