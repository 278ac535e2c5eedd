"""Grading on a Dask cluster, with real processes (autograder/grading/cluster.py).

A scheduler and two grading workers (``dask scheduler`` / ``dask worker --preload
autograder.grading.cluster_worker``, each under a nanny that restarts it when it
dies) run on loopback for the whole file, with a third worker whose kit differs
by one byte. Hidden checks only (no notebooks); the batches that test faults
grade two checks of the assignment so that they stay short.
"""
import contextlib
import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.grading.batch import grade_all
from autograder.grading.grade import Options, fingerprint
from autograder.release.demo_submissions import reference_files, release_files, with_bug
from autograder.sandbox.launcher import bwrap_path

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")]
distributed = pytest.importorskip("distributed")
from autograder.grading.cluster import ClusterError, ClusterStep, refusal  # noqa: E402
from autograder.grading.cluster_worker import pack, unpack  # noqa: E402

FULL = load_assignment()
TWO_CHECKS = dataclasses.replace(FULL, checks={n: FULL.checks[n] for n in ("rnn_step_forward", "lstm_step_forward")})
SOME_CHECKS = dataclasses.replace(FULL, checks={n: FULL.checks[n] for n in (
    "rnn_step_forward", "rnn_backward", "lstm_step_forward", "multihead_attention", "sample_noise")})
OPTIONS = Options(release_dir=ROOT / "release", execute_notebooks=False, threads=1)
DASK = str(Path(sys.executable).parent / "dask")
KIT_PARTS = ("autograder", "release", "assignment", "cs231n")
DATA = ("coco_captioning", "MNIST_data", "imagenet_val_25.npz", "cifar-10-batches-py")  # in cs231n/datasets/


def env_for(root: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


class Cluster:
    """A scheduler and workers as subprocesses of their own session (killed as a group)."""

    def __init__(self, folder: Path):
        self.folder, self.procs = folder, []
        file = folder / "scheduler.json"
        self._start("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(file)], ROOT)
        self.address = self._wait(lambda: file.is_file() and json.loads(file.read_text())["address"], "scheduler")

    def _start(self, name, argv, root):
        log = open(self.folder / f"{name}.log", "wb")
        self.procs.append(subprocess.Popen(argv, cwd=root, env=env_for(root), stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))
        log.close()

    @staticmethod
    def _wait(ready, what, timeout_s=90.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if found := ready():
                    return found
            time.sleep(0.2)
        raise TimeoutError(f"{what} did not start in {timeout_s:g} s")

    def add_worker(self, name: str, root: Path = ROOT) -> None:
        self._start(name, [DASK, "worker", self.address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                           "--name", name, "--local-directory", str(self.folder / name),
                           "--preload", "autograder.grading.cluster_worker"], root)

    def wait_for(self, client, count: int) -> None:
        self._wait(lambda: len(client.scheduler_info(n_workers=-1)["workers"]) >= count, f"{count} workers")

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with contextlib.suppress(ProcessLookupError):  # anything left in its session
                os.killpg(proc.pid, signal.SIGKILL)


def other_kit(folder: Path) -> Path:
    """A copy of the kit with one byte changed (the data linked, not copied)."""
    for part in KIT_PARTS:
        shutil.copytree(ROOT / part, folder / part, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", *DATA))
    for data in DATA:
        (folder / "cs231n" / "datasets" / data).symlink_to((ROOT / "cs231n" / "datasets" / data).resolve())
    init = folder / "autograder" / "__init__.py"
    init.write_bytes(init.read_bytes() + b"#")
    return folder


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    running = Cluster(folder)
    try:
        running.add_worker("good1")
        running.add_worker("good2")
        running.add_worker("other_kit", other_kit(tmp_path_factory.mktemp("other_kit")))
        with distributed.Client(running.address, set_as_default=False) as client:
            running.wait_for(client, 3)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    """reference.zip, untouched.zip, one_bug.zip, and the reference as a folder."""
    folder = tmp_path_factory.mktemp("submissions")
    reference = reference_files(FULL)
    made = {"reference": reference, "untouched": release_files(FULL, ROOT / "release"), "one_bug": with_bug(reference)}
    for name, files in made.items():
        with zipfile.ZipFile(folder / f"{name}.zip", "w") as archive:
            for file, data in files.items():
                archive.writestr(file, data)
    for file, data in reference.items():
        (folder / "reference_folder" / file).parent.mkdir(parents=True, exist_ok=True)
        (folder / "reference_folder" / file).write_bytes(data)
    return folder


def connect(cluster) -> ClusterStep:
    step = ClusterStep.connect(cluster.address, log=io.StringIO())
    step.wait_for_workers_s = 120
    return step


def on_cluster(cluster, paths, out, assignment, **kwargs):
    step = connect(cluster)
    try:
        gradings = grade_all(paths, out, options=OPTIONS, progress=False, assignment=assignment, step=step, **kwargs)
    finally:
        step.close()
    return gradings, step


def results(out: Path, sid: str) -> dict:
    """results.json without its timing fields."""
    data = json.loads((out / sid / "results.json").read_text())
    data.pop("execution_time", None)
    for test in data.get("tests", []):
        test.pop("execution_time", None)
    return data


class Killer(threading.Thread):
    """Kills (SIGKILL) each worker process the moment it starts a task whose key holds ``part``,
    at most ``times`` times; ``kills`` records (worker address, key)."""

    def __init__(self, cluster, part: str, times: int):
        super().__init__(daemon=True)
        self.client = distributed.Client(cluster.address, set_as_default=False)
        self.part, self.times, self.kills, self.stopped = part, times, [], threading.Event()

    def run(self):
        while not self.stopped.is_set() and len(self.kills) < self.times:
            with contextlib.suppress(Exception):
                self._kill_one()
            time.sleep(0.05)

    def _kill_one(self):
        executing = self.client.run(lambda dask_worker: (os.getpid(), [str(ts.key) for ts in
                                                                        dask_worker.state.executing]))
        for address, (pid, keys) in executing.items():
            if any(self.part in key for key in keys) and len(self.kills) < self.times:
                os.kill(pid, signal.SIGKILL)
                self.kills.append((address, [k for k in keys if self.part in k][0]))
                time.sleep(1.0)  # the scheduler sees the death before the next look

    def stop(self):
        self.stopped.set()
        self.join(timeout=10)
        self.client.close()


def test_a_batch_on_the_cluster_writes_what_a_local_batch_writes(cluster, submissions, tmp_path, monkeypatch):
    local = grade_all([submissions], tmp_path / "local", workers=2, options=OPTIONS, progress=False,
                      assignment=SOME_CHECKS)
    # Tasks wake the client as they end; its poll only paces the wait for workers. A
    # long poll shows that the batch ends with its last task, not with a last poll.
    monkeypatch.setattr("autograder.grading.cluster.POLL_S", 120.0)
    start = time.monotonic()
    remote, step = on_cluster(cluster, [submissions], tmp_path / "remote", SOME_CHECKS)
    assert time.monotonic() - start < 120.0
    assert sorted(remote) == sorted(local) == ["one_bug", "reference", "reference_folder", "untouched"]
    for sid in local:
        assert remote[sid].grader_error == "", remote[sid].grader_error
        assert remote[sid].total(SOME_CHECKS) == local[sid].total(SOME_CHECKS), sid
        assert results(tmp_path / "remote", sid) == results(tmp_path / "local", sid), sid
        assert (tmp_path / "remote" / sid / "feedback.html").is_file()
        saved = json.loads((tmp_path / "remote" / sid / "grading.json").read_text())
        name = sid if sid.endswith("folder") else f"{sid}.zip"
        assert saved["fingerprint"] and saved["submission"] == str(submissions / name)
    scores = {sid: grading.total(SOME_CHECKS) for sid, grading in remote.items()}
    assert scores["reference"] == scores["reference_folder"] == SOME_CHECKS.auto_points() > scores["one_bug"] > 0
    assert (tmp_path / "remote" / "gradebook.csv").read_text() == (tmp_path / "local" / "gradebook.csv").read_text()
    # the worker of another kit version was refused, with the reason, and graded nothing
    assert not [sid for sid, address in step.graded_on.items() if address in " ".join(step.refused)]
    assert any("kit version" in why and "is not the client's" in why for why in step.refused), step.refused
    assert len(step.refused) == 1 and len(set(step.graded_on.values())) == 2


def test_a_fit_worker_is_warmed_up_and_unprofiled_before_it_takes_work(cluster):
    def warm_state(dask_worker):  # nested: pickled by value (the workers cannot import this file)
        """(is Dask's profiler still scheduled, how many checks are prepared for the warm-up seed)."""
        from autograder.checks import local
        from autograder.grading.cluster_worker import WARM_UP_SEED

        return "profile" in dask_worker.periodic_callbacks, sum(seed == WARM_UP_SEED for _, seed in local._prepared)

    with distributed.Client(cluster.address, set_as_default=False) as client:
        cluster.wait_for(client, 3)
        info = client.scheduler_info(n_workers=-1)["workers"]
        states = client.run(warm_state)
    by_name = {info[a]["name"]: (info[a].get("resources", {}), states[a]) for a in info}
    for name in ("good1", "good2"):  # a declared resource means it had warmed up first
        resources, state = by_name[name]
        assert any(key.startswith("cs231n-kit-") for key in resources), by_name
        assert state == (False, len(FULL.checks)), by_name
    assert set(by_name["other_kit"][0]).isdisjoint(by_name["good1"][0]), by_name  # its own kit's resource


def test_a_worker_killed_mid_batch_loses_nothing(cluster, submissions, tmp_path):
    killer = Killer(cluster, "cs231n-grade-", times=1)
    killer.start()
    try:
        gradings, step = on_cluster(cluster, [submissions], tmp_path / "out", TWO_CHECKS)
    finally:
        killer.stop()
    assert len(killer.kills) == 1, "no worker was killed mid-submission"
    assert {sid: g.grader_error for sid, g in gradings.items()} == dict.fromkeys(gradings, "")
    assert {sid: g.total(TWO_CHECKS) for sid, g in gradings.items()} == {
        "reference": TWO_CHECKS.auto_points(), "reference_folder": TWO_CHECKS.auto_points(),
        "untouched": 0.0, "one_bug": FULL.checks["rnn_step_forward"].points}


def test_a_submission_that_kills_its_worker_every_time_is_a_grader_error(cluster, submissions, tmp_path):
    from autograder.grading.cluster import MAX_WORKER_DEATHS

    paths = [submissions / "one_bug.zip", submissions / "untouched.zip"]
    killer = Killer(cluster, "cs231n-grade-one_bug-", times=MAX_WORKER_DEATHS + 1)
    killer.start()
    try:
        gradings, _ = on_cluster(cluster, paths, tmp_path / "out", TWO_CHECKS)
    finally:
        killer.stop()
    assert len(killer.kills) == MAX_WORKER_DEATHS  # and not retried after that
    assert f"killed its worker {MAX_WORKER_DEATHS} times" in gradings["one_bug"].grader_error
    assert gradings["untouched"].grader_error == "" and gradings["untouched"].total(TWO_CHECKS) == 0
    row = (tmp_path / "out" / "gradebook.csv").read_text()
    assert f"killed its worker {MAX_WORKER_DEATHS} times" in row
    saved = json.loads((tmp_path / "out" / "one_bug" / "grading.json").read_text())
    assert not saved["fingerprint"]  # so the next run grades it again


def test_no_usable_worker_is_a_clear_error_before_anything_is_written(cluster, tmp_path, monkeypatch):
    with distributed.Client(cluster.address, set_as_default=False) as client:
        cluster.wait_for(client, 3)  # the workers killed by the tests before are back
    monkeypatch.setattr("autograder.grading.cluster.kit_version", lambda: "0123456789abcdef")
    with pytest.raises(ClusterError, match="no usable worker") as caught:
        connect(cluster)
    assert str(caught.value).count("is not the client's 0123456789abcdef") == 3
    assert refusal("tcp://w", {"kit": "v", "problems": ["no sandbox: bwrap"], "root": "/"}, "v", {}) \
        == "tcp://w: refused: no sandbox: bwrap"
    assert "without the preload" in refusal("tcp://w", {"kit": "v", "problems": [], "root": "/"}, "v", {})


CLIENT = """
import sys
from autograder.grading.batch import grade_all
from autograder.grading.cluster import ClusterStep
from test_cluster import OPTIONS, TWO_CHECKS
grade_all([sys.argv[1]], sys.argv[2], options=OPTIONS, progress=False, assignment=TWO_CHECKS,
          step=ClusterStep.connect(sys.argv[3]))
"""


def test_a_client_killed_mid_batch_resumes_when_started_again(cluster, submissions, tmp_path):
    out = tmp_path / "out"
    argv = [sys.executable, "-c", CLIENT, str(submissions), str(out), cluster.address]
    env = {**env_for(ROOT), "PYTHONPATH": f"{ROOT}{os.pathsep}{Path(__file__).parent}"}
    first = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        Cluster._wait(lambda: list(out.glob("*/grading.json")), "a first graded submission", 120)
    finally:
        first.kill()
        first.wait()
    before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/grading.json")}
    assert 0 < len(before) < 4 and not (out / "gradebook.csv").exists()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, timeout=300, stdout=subprocess.DEVNULL)
    after = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/grading.json")}
    assert len(after) == 4 and {sid: after[sid] for sid in before} == before  # resumed, not graded again
    assert len((out / "gradebook.csv").read_text().splitlines()) == 5


def test_a_folder_travels_as_it_was(tmp_path):
    folder = tmp_path / "sub"
    (folder / "cs231n").mkdir(parents=True)
    (folder / "cs231n" / "rnn_layers.py").write_text("x = 1\n")
    (folder / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"not UTF-8 in its name")
    (folder / "link").symlink_to("/etc/passwd")
    (tmp_path / "there").mkdir()
    arrived = unpack(pack(folder), tmp_path / "there")
    assert arrived.name == "sub" and fingerprint(arrived) == fingerprint(folder)
    assert sorted(os.listdir(os.fsencode(arrived))) == [b"caf\xe9.txt", b"cs231n", b"link"]
    assert os.readlink(arrived / "link") == "/etc/passwd"  # intake refuses it there as it would here


def test_a_local_batch_never_imports_dask(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    with zipfile.ZipFile(folder / "notes.zip", "w") as archive:
        archive.writestr("notes.txt", "x")
    code = ("import sys, dataclasses\n"
            "from autograder.assignment import ROOT, load_assignment\n"
            "from autograder.grading.batch import grade_all\n"
            "from autograder.grading.grade import Options\n"
            "full = load_assignment()\n"
            "one = dataclasses.replace(full, checks={'rnn_step_forward': full.checks['rnn_step_forward']})\n"
            f"grade_all([{str(folder)!r}], {str(tmp_path / 'out')!r}, progress=False, assignment=one,\n"
            "          options=Options(release_dir=ROOT / 'release', execute_notebooks=False))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env_for(ROOT), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out" / "notes" / "results.json").is_file()
