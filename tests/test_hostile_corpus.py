"""The hostile corpus (tests/hostile/cases.py) graded in one fixture, in parallel.

Proves, for every case: a result with a reason, no score above what the
submission earned (bounds from assignment.toml's covers, never from the
grader's output), the expected messages and integrity flags. For the batch:
the reference still gets full marks; the grader's files, the hidden data and
every submission are unchanged; nothing reached or listened on the host's
network; no process is left; no secret reached any output; the grader's own
memory stayed bounded.

Which notebooks each submission runs (``notebooks_for``): a notebook run can
only differ from the reference's when the notebook itself, or a student file
its code imports (directly or through other cs231n modules), differs from the
reference. So a case that edits only student files and notebooks runs only the
notebooks it edits and those that import an edited file (an attack on
gan_pytorch.py runs none of the two, one on rnn_theory.py or in a theory
notebook cell only the theory notebook). A case that adds or removes any file,
attacks the archive itself (``raw``), or aims at another notebook's run or
executed copy (``all_notebooks``) runs every notebook, and so does the
reference. Cases with the same notebook choice share
one ``grade_batch`` call (the fork bomb has one of its own: ``GRADED_ALONE``;
and cases are graded under the time limits they name, ``Case.time_limits``:
see ``LIMITS``); every call sees the same submissions folder (all
zips stay in it, beside the canary) and the same output folder, so the
sandbox hides the same places as one batch would. This halves the notebook
runs of the corpus without weakening any assertion: every assertion on a
notebook run or an executed notebook (messages, leaks, leftover processes,
files written, network) concerns a case that still runs that notebook, and
``test_case`` checks that each submission ran exactly the notebooks chosen.
"""
import ast
import collections
import dataclasses
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.grading.batch import grade_batch
from autograder.release.demo_submissions import reference_files
from autograder.grading.grade import Options
from autograder.sandbox.launcher import bwrap_path
from hostile import cases as corpus

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap not installed")]

ASSIGNMENT = load_assignment()
RELEASE = ROOT / "release"
NOTEBOOKS = ("RNN_Captioning.ipynb", "RNN_LSTM_Theory.ipynb")
# Tight limits, so that runaway cases end soon. The reference's slowest cell takes 2 s
# alone; 10 s per check leaves a margin for a loaded machine.
TIGHT = dataclasses.replace(ASSIGNMENT, limits=dataclasses.replace(
    ASSIGNMENT.limits, cell_wall_s=12, notebook_wall_s=60, check_wall_s=10, checks_wall_s=150, memory_mb=2048,
    max_disk_mb=200))


def with_time_limits(check_wall_s, cell_wall_s):
    return dataclasses.replace(TIGHT, limits=dataclasses.replace(TIGHT.limits, check_wall_s=check_wall_s,
                                                                 cell_wall_s=cell_wall_s))


# The time limits each case is graded under (``Case.time_limits``). "short": a runaway case
# (it spins, sleeps or forks until a time limit stops it) costs its whole limit in CPU or
# wall time, and the defence proven is the same at 3 s; the slowest check of the corpus
# takes about 0.3 s alone and the slowest release cell of the two notebooks it runs about
# 0.5 s (1 s when a kernel starts cold), a margin for a loaded machine (scripts/test.sh
# runs a worker more than there are cores). "long": a memory bomb must fill its 2 GB (the
# memory limit is the defence it proves) before a time limit ends it; near the limit the
# kernel reclaims before it kills, and on a busy machine that took past 10 s (once, with
# three test workers on 2 cores). It ends at the cap, so a long limit costs nothing.
LIMITS = {"tight": TIGHT, "short": with_time_limits(3, 6), "long": with_time_limits(60, 60)}
GUARDED = ("cs231n", "autograder", "assignment", "release")
# Graded in a batch of its own, with nothing beside it: twice (at stop 23 and again at
# stop 24, each time once in about seven full runs) a trivial check of the submission
# graded next to the fork bomb (fn_daemon's simclr_augmentation, fn_huge_output's
# word_embedding_forward) ran past the 10 s check limit, while the bomb filled its
# 512 processes on a machine already busy with the other test worker; alone, or beside
# the bomb on a quiet machine, neither ever did. The corpus proves each defence for its
# own submission; what one submission costs the others on the same machine is written
# in docs/threat_model.md.
GRADED_ALONE = ("fn_fork_bomb",)


def _module_file(module):
    """The file (relative to ROOT, as a string) of a dotted cs231n module, or None."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path.relative_to(ROOT).as_posix()
    return None


def _imported_modules(source):
    """Dotted names of the cs231n modules ``source`` imports (with their parent packages)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            found |= {".".join(parts[:k]) for k in range(1, len(parts) + 1) if parts[0] == "cs231n"}
    return found


def notebook_reach(notebook):
    """Every cs231n file (relative path) that running ``notebook`` (the release's) imports:
    the modules its code cells import, and theirs, transitively."""
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    nb = nbformat.read(RELEASE / notebook, as_version=4)
    transform = TransformerManager().transform_cell  # %magics and !commands to Python
    pending = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            pending |= _imported_modules(transform(cell.source))
    seen, files = set(), set()
    while pending:
        module = pending.pop()
        seen.add(module)
        path = _module_file(module)
        if path is not None:
            files.add(path)
            pending |= _imported_modules((ROOT / path).read_text()) - seen
    return files


REACH = {notebook: notebook_reach(notebook) for notebook in NOTEBOOKS}


def notebooks_for(case, files, reference):
    """The notebooks ``case``'s submission must run (see the module's docstring).
    ``files``: its built files, None for a ``raw`` case."""
    if files is None or case.all_notebooks or set(files) != set(reference):
        return NOTEBOOKS
    changed = {p for p in files if files[p] != reference[p]}
    editable = set(ASSIGNMENT.student_files) | {part.notebook for part in ASSIGNMENT.parts.values()}
    if not changed or not changed <= editable:
        return NOTEBOOKS
    return tuple(nb for nb in NOTEBOOKS if nb in changed or REACH[nb] & changed or nb in case.notebooks)


def tree_hashes(paths):
    """{path: sha256} of every file under ``paths`` (no __pycache__)."""
    hashes = {}
    for top in map(Path, paths):
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            hashes[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return hashes


def listening_ports():
    """{(proto, port)} of sockets listening in the host's network namespace."""
    found = set()
    for proto in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                found.add((proto, int(fields[1].rsplit(":", 1)[1], 16)))
    return found


def processes_matching(needles):
    """[(pid, cmdline)] of live processes whose command line or cwd holds a needle."""
    hits = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        if state != "Z" and any(n in cmdline or n in cwd for n in needles):
            hits.append((int(entry), cmdline[:200]))
    return hits


class Listener:
    """A TCP listener on the host's 127.0.0.1 that records every connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections, self.stop = [], threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.connections.append(peer)
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


class PortWatcher:
    """Polls the host's listening sockets while the batch runs."""

    def __init__(self, port):
        self.port, self.seen, self.stop = port, set(), threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    def watch(self):
        while not self.stop.is_set():
            self.seen |= {p for p in listening_ports() if p[1] == self.port}
            time.sleep(0.1)

    def close(self):
        self.stop.set()
        self.thread.join()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Run:
    ctx: corpus.Context
    base: Path
    out: Path
    results: dict
    hashes_before: dict
    hashes_after: dict
    connections: list
    port2_seen: set
    listeners_before: set
    listeners_after: set
    leftovers: list
    maxrss_growth_mb: float
    wall_s: float
    notebooks: dict  # submission id -> the notebooks it was graded with


@pytest.fixture(scope="module")
def run(monkeypatch_module):
    scratch = Path("/var/tmp") if Path("/var/tmp").is_dir() else None  # outside /tmp: the hiding is what protects
    base = Path(tempfile.mkdtemp(prefix="hostile-", dir=scratch))
    submissions, out = base / "submissions", base / "graded"
    submissions.mkdir()
    listener = Listener()
    ctx = corpus.Context(token=f"hostile{secrets.token_hex(6)}", secret=f"canary-{secrets.token_hex(16)}",
                         repo=ROOT, submissions=submissions, out_root=out, canary=submissions / "canary.txt",
                         port=listener.port, port2=free_port())
    ctx.canary.write_text(ctx.secret)
    monkeypatch_module.setenv("CS231N_HOSTILE_CANARY", ctx.secret)
    reference = reference_files(ASSIGNMENT)
    corpus.set_reference(reference)
    corpus.write_zip(submissions / "reference.zip", reference)
    chosen = {"reference": NOTEBOOKS}
    time_limits = {case.id: case.time_limits for case in corpus.CASES}
    for case in corpus.CASES:
        path = submissions / f"{case.id}.zip"
        if case.raw:
            case.raw(ctx, path)
            files = None
        else:
            files = case.build(dict(reference), ctx)
            corpus.write_zip(path, files)
        chosen[case.id] = notebooks_for(case, files, reference)
    groups = collections.defaultdict(list)  # (notebooks, alone, time limits) -> zips, all in one submissions folder
    for sid, notebooks in chosen.items():
        groups[(notebooks, sid in GRADED_ALONE, time_limits.get(sid, "tight"))].append(submissions / f"{sid}.zip")
    guarded = [ROOT / d for d in GUARDED] + [submissions]
    hashes_before = tree_hashes(guarded)
    listeners_before = listening_ports()
    watcher = PortWatcher(ctx.port2)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    results = {}
    try:
        for group in sorted(groups, key=lambda g: len(g[0]), reverse=True):  # the reference's (every notebook) first
            notebooks = group[0]
            options = Options(release_dir=RELEASE, notebooks=notebooks, execute_notebooks=bool(notebooks))
            results.update(grade_batch(groups[group], out, workers=2, progress=False,
                                       assignment=LIMITS[group[2]], options=options))
    finally:
        wall = time.monotonic() - start
        watcher.close()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    needles = [ctx.token, str(base)]
    deadline = time.monotonic() + 10
    while processes_matching(needles) and time.monotonic() < deadline:  # teardown grace
        time.sleep(0.2)
    leftovers = processes_matching(needles)
    listener.close()
    print(f"\nhostile corpus: {len(results)} submissions graded in {wall:.0f} s; notebooks run: "
          + ", ".join(f"{len(groups[g])} with {list(g[0]) or 'none'}" + " (alone)" * g[1] + f" ({g[2]} limits)"
                      for g in groups))
    yield Run(ctx, base, out, results, hashes_before, tree_hashes(guarded), list(listener.connections),
              watcher.seen, listeners_before, listening_ports(), leftovers, rss_growth, wall, chosen)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def monkeypatch_module():
    patcher = pytest.MonkeyPatch()
    yield patcher
    patcher.undo()


def covering(targets):
    """Checks whose covers include a broken target ("file:function", or a whole file)."""
    names = set()
    for spec in ASSIGNMENT.checks.values():
        for target in targets:
            if any(c == target or (":" not in target and c.split(":", 1)[0] == target) for c in spec.covers):
                names.add(spec.name)
    return names


def scores(result):
    return {t["name"].split(": ")[-1]: (t["score"], t["max_score"], t["output"]) for t in result["tests"]}


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in corpus.CASES])
def test_case(run, case):
    result = run.results[case.id]
    meta = json.loads((run.out / case.id / "grading.json").read_text())
    assert meta["grader_error"] == "", meta["grader_error"]
    got = scores(result)
    total = ASSIGNMENT.auto_points()
    if case.refused:
        assert result["score"] == 0
        assert "the submission was refused" in result["output"]
    else:
        assert set(meta["notebooks"]) == set(run.notebooks[case.id]), (meta["notebooks"], run.notebooks[case.id])
    broken = covering(case.breaks)
    must_zero = set(case.must_zero) if case.must_zero is not None else broken
    assert must_zero <= broken, f"must_zero names checks that cover nothing broken: {must_zero - broken}"
    for name in must_zero:
        assert got[name][0] == 0, f"{name} scored {got[name][0]} although it covers broken code: {got[name][2]}"
    bound = total - sum(ASSIGNMENT.checks[n].points for n in must_zero)
    assert result["score"] <= bound + 1e-9
    if case.isolated and not case.refused:
        collateral = {n: s[2] for n, s in got.items() if n not in broken and s[0] < s[1]}
        assert not collateral, f"checks that cover nothing broken lost points: {collateral}"
    for pattern in case.output:
        assert re.search(pattern, result["output"]), f"{pattern!r} not in the output:\n{result['output']}"
    for name, pattern in case.messages.items():
        assert re.search(pattern, got[name][2]), f"{name}: {pattern!r} not in {got[name][2]!r}"
    for pattern in case.flags:
        assert any(re.search(pattern, f) for f in meta["flags"]), f"no flag matches {pattern!r}: {meta['flags']}"
        assert re.search(pattern, result["output"])  # the flag reaches the report
    for notebook, pattern in case.notebooks.items():
        message = meta["notebooks"][notebook]["message"]
        assert not meta["notebooks"][notebook]["ok"] and re.search(pattern, message, re.I), message


def test_every_submission_has_a_result_with_a_reason(run):
    assert set(run.results) == {"reference", *(c.id for c in corpus.CASES)}
    for sid, result in run.results.items():
        assert len(result["tests"]) == len(ASSIGNMENT.checks)
        for test in result["tests"]:
            assert 0 <= test["score"] <= test["max_score"]
            assert test["output"].strip(), f"{sid}: {test['name']} has no message"
            if test["score"] < test["max_score"]:
                assert test["output"] != "passed", f"{sid}: {test['name']}"
        assert (run.out / sid / "feedback.html").is_file()


def test_reference_in_the_same_batch_gets_full_marks(run):
    reference = run.results["reference"]
    assert reference["score"] == ASSIGNMENT.auto_points(), [
        (t["name"], t["output"]) for t in reference["tests"] if t["score"] < t["max_score"]]
    meta = json.loads((run.out / "reference" / "grading.json").read_text())
    assert meta["flags"] == [] and all(n["ok"] for n in meta["notebooks"].values()), meta
    assert set(meta["notebooks"]) == set(NOTEBOOKS), meta["notebooks"]


def test_notebook_choice_follows_what_each_notebook_imports():
    """The reach behind ``notebooks_for``: each notebook's own module, and the shared
    layers, are in it; a file neither notebook imports is in neither."""
    assert corpus.THEORY in REACH["RNN_LSTM_Theory.ipynb"] and corpus.RNN_MODEL in REACH["RNN_Captioning.ipynb"]
    assert all(corpus.RNN_LAYERS in files for files in REACH.values())
    assert not any(corpus.GAN in files for files in REACH.values())
    reference = reference_files(ASSIGNMENT)
    by_id = {case.id: case for case in corpus.CASES}
    gan_only = by_id["fn_infinite_loop"]
    ctx = corpus.Context(token="t", secret="s", repo=ROOT, submissions=Path("/s"), out_root=Path("/o"),
                         canary=Path("/c"), port=1, port2=2)
    assert notebooks_for(gan_only, gan_only.build(dict(reference), ctx), reference) == ()
    assert notebooks_for(by_id["nb_sys_exit"], None, reference) == NOTEBOOKS
    edited = {**reference, corpus.THEORY_NB: b"{}"}
    assert notebooks_for(gan_only, edited, reference) == (corpus.THEORY_NB,)
    assert notebooks_for(by_id["nb_tamper_outputs"], by_id["nb_tamper_outputs"].build(dict(reference), ctx),
                         reference) == NOTEBOOKS
    assert notebooks_for(gan_only, {**reference, "cs231n/extra.py": b""}, reference) == NOTEBOOKS
    assert notebooks_for(gan_only, {k: v for k, v in reference.items() if k != corpus.GAN}, reference) == NOTEBOOKS


def test_grader_files_hidden_data_and_submissions_are_unchanged(run):
    changed = {p for p in set(run.hashes_before) | set(run.hashes_after)
               if run.hashes_before.get(p) != run.hashes_after.get(p)}
    assert not changed, sorted(changed)
    places = [ROOT, *(ROOT / d for d in GUARDED), ROOT / "autograder" / "checks", ROOT / "cs231n" / "datasets",
              run.ctx.submissions, run.base, Path("/var/tmp"), Path("/tmp"), Path("/root"), Path("/etc"),
              Path(sys.prefix)]
    escaped = [p for place in places for p in place.glob(f"*{run.ctx.token}*")]
    assert not escaped, escaped


def test_nothing_reached_or_listened_on_the_host_network(run):
    assert run.connections == [], run.connections
    assert run.port2_seen == set(), run.port2_seen
    assert not {p for p in run.listeners_after - run.listeners_before if p[1] == run.ctx.port2}


def test_no_process_is_left_behind(run):
    assert run.leftovers == [], run.leftovers


def test_no_secret_reaches_any_output(run):
    """The canary's secret (beside the submissions, and in the grader's environment)
    appears in no report, executed notebook or log of any submission."""
    leaks = []
    for file in run.out.rglob("*"):
        if file.is_file() and not file.is_symlink():
            data = file.read_bytes()
            if run.ctx.secret.encode() in data:
                leaks.append(str(file.relative_to(run.out)))
    assert not leaks, leaks
    assert not list(run.out.rglob(".work")), "scratch folders were left behind"


def test_feedback_pages_carry_no_markup_from_student_outputs(run):
    page = (run.out / "nb_xss_image" / "feedback.html").read_text()
    assert "onerror" not in page and run.ctx.token not in page


def test_the_grader_memory_stays_bounded(run):
    assert run.maxrss_growth_mb < 1024, f"the grader's peak memory grew by {run.maxrss_growth_mb:.0f} MB"


def test_defence_table(run):
    """Not an assertion of behaviour: the count of cases per defence, for the record."""
    table = collections.Counter(c.defence for c in corpus.CASES)
    assert sum(table.values()) == len(corpus.CASES) >= 30
    print("\n" + "\n".join(f"{n:3d}  {d}" for d, n in table.most_common()))
    print(f"wall time of the batch: {run.wall_s:.0f} s for {len(run.results)} submissions")
