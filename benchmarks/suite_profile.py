"""Where the test suite's time goes: CPU seconds and wall seconds per test file,
and each pytest worker's timeline (when it took which file, when it ran dry).

Two halves in one file:

* a pytest plugin. Each pytest process (the controller and every xdist worker)
  moves itself into a cgroup of its own in the v1 ``cpuacct`` hierarchy, which
  everything it starts inherits (the sandbox moves runs into memory and pids
  cgroups only), and reads the cgroup's CPU counter around every test: so a
  test's CPU seconds include its notebooks' kernels, sandboxed runners, Dask
  workers and PostgreSQL, which per-process rusage would miss or misattribute.
  Needs root and a v1 ``cpuacct`` hierarchy; elsewhere it falls back to rusage
  of the process and its waited-for children (and says so).
* a script that prints the table from what the plugin wrote.

    SUITE_PROFILE_DIR=/tmp/suite-profile PYTHONPATH=$PWD/benchmarks bash scripts/test.sh -p suite_profile
    .venv/bin/python benchmarks/suite_profile.py /tmp/suite-profile
"""
import collections
import json
import os
import resource
import sys
import time
from pathlib import Path

import pytest

CPUACCT = Path("/sys/fs/cgroup/cpuacct")
_state = {"rows": []}


def _out_dir() -> Path:
    return Path(os.environ.get("SUITE_PROFILE_DIR", "/tmp/suite-profile"))


def _rusage_cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pytest_configure(config):
    name = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    _state["name"] = name
    group = CPUACCT / f"suite-profile-{name}-{os.getpid()}"
    try:
        group.mkdir()
        (group / "cgroup.procs").write_text(str(os.getpid()))
        _state["cpu"] = lambda: int((group / "cpuacct.usage").read_text()) / 1e9
        _state["group"] = group
        _state["how"] = "cpuacct cgroup (this process and everything it started)"
    except OSError:
        _state["cpu"] = _rusage_cpu
        _state["how"] = "rusage (this process and its waited-for children only)"
    _state["start"] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Times a test's setup, call and teardown together (so a module fixture counts
    with the first test of its file, its teardown with the last)."""
    cpu, wall = _state["cpu"](), time.time()
    yield
    _state["rows"].append((item.nodeid, _state["cpu"]() - cpu, time.time() - wall, wall))


def pytest_unconfigure(config):
    if "cpu" not in _state:
        return
    folder = _out_dir()
    folder.mkdir(parents=True, exist_ok=True)
    record = {"name": _state["name"], "how": _state["how"], "start": _state["start"], "end": time.time(),
              "cpu_total": _state["cpu"](), "rows": _state["rows"]}
    (folder / f"{_state['name']}-{os.getpid()}.json").write_text(json.dumps(record))
    if "group" in _state:  # leave no cgroup behind (it stays while a process of the run lives on)
        try:
            (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
            _state["group"].rmdir()
        except OSError:
            pass


def report(folder: Path) -> None:
    """Print per-file CPU and wall seconds, and each worker's timeline."""
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    workers = [r for r in records if r["rows"]]
    if not workers:
        sys.exit(f"no profile in {folder}")
    t0 = min(r["start"] for r in records)
    end = max(r["end"] for r in records)
    print(f"measured with: {workers[0]['how']}")
    print(f"suite wall {end - t0:.0f} s; CPU {sum(r['cpu_total'] for r in workers):.0f} s in the workers")
    cpu, wall = collections.Counter(), collections.Counter()
    for record in workers:
        files = {}
        for nodeid, c, w, t in record["rows"]:
            name = nodeid.split("::")[0]
            cpu[name] += c
            wall[name] += w
            files.setdefault(name, t - t0)
        last = max(t + w for _, _, w, t in record["rows"]) - t0
        print(f"\n{record['name']}: {record['cpu_total']:.0f} CPU-s, ran dry at {last:.0f} s "
              f"({end - t0 - last:.0f} s before the end)")
        print("  " + "; ".join(f"{Path(n).name}@{s:.0f}" for n, s in files.items()))
    print(f"\n{'CPU s':>8} {'wall s':>8}  file")
    for name, seconds in cpu.most_common(25):
        print(f"{seconds:8.1f} {wall[name]:8.1f}  {name}")


if __name__ == "__main__":
    report(Path(sys.argv[1]) if len(sys.argv) > 1 else _out_dir())
