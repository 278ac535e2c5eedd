"""Run the visible checks of your notebooks against your cs231n code:

    python self_check.py                       every notebook
    python self_check.py rnn                   one part, by its short name
    python self_check.py RNN_Captioning.ipynb lstm   several parts

For each notebook it runs, top to bottom in a fresh Python kernel of this
environment, the cells down to the notebook's last visible check (the cells
below it cannot change a check), and prints one row per visible check (the
locked cells that print relative errors and stop with an AssertionError when
something is wrong): where it is (In [n], as Jupyter numbers the cell after
Restart & Run All), its points, passed / FAILED / not run, and one line of
detail (the error, or the last line the check printed, preferring one that
reports an error value). Other cells that stopped with an error are listed
under the table: a check after them may fail because of them.

How it runs a notebook, much as the graders do:

- on a copy held in memory: your notebook file is only read, never written;
- in fast mode: a cell ``fast_mode = True`` goes right after the cell tagged
  ``parameters`` (at the top when there is none), as papermill sets
  parameters; In [n] shown here leaves that extra cell out;
- every cell runs even after an error, so every check gets a verdict;
- with a time limit per cell (``--timeout``, 300 s by default): a cell that
  runs longer is stopped and its check fails;
- in this folder, with the Python kernel of the environment running this
  script (not a kernel registered elsewhere on your machine).

No hidden inputs leave the grader: this script uses only what is in this
folder, the visible cells of your notebooks and your cs231n files. The graders
also run hidden checks, on inputs you never see, and grade your written answers
by hand, so passing here does not guarantee the points.

Part names. The parts are the notebooks listed in submission_files.txt (all
``*.ipynb`` files here if that list is missing). A part is named by its file
name, with or without ``.ipynb``, in any case, or by a short name made from the
words of the file name (split at underscores, in lower case):

- a word names the notebook whose file name begins with it; when several do,
  the one with the fewest words (``rnn`` is RNN_Captioning, not
  RNN_LSTM_Theory), the first listed if still tied;
- a word that begins no file name names the one notebook that has it
  (``theory``); a word several notebooks have but none begins with names none;
- a file name of three words or more is also named by its initials (``gan``).

``python self_check.py --help`` lists every name. Exit status: 0 when every
visible check passed, 1 otherwise, 2 for bad usage (an unknown part).
It needs nbformat, nbclient and ipykernel, which the course environment has.
"""
import argparse
import asyncio
import sys
import time
from collections import namedtuple
from pathlib import Path

HERE = Path(__file__).resolve().parent
CELL_TIMEOUT_S = 300
FAST_MODE_CELL = "fast_mode = True"
PARAMETERS_TAG = "parameters"
# The Colab set-up cell (mounts Drive, finds the kit, fetches data) is not run here: this
# script already runs in the kit's folder, and on Colab a second Drive mount from a
# headless kernel could wait for a sign-in nobody sees. It stays in the copy, as a comment,
# so that every later cell keeps its In [n].
COLAB_SETUP_TAG = "colab-setup"
COLAB_SETUP_STANDIN = "# (the Colab set-up cell: not run by self_check.py)"
DETAIL_WIDTH = 120  # characters of detail per row; longer details end in "..."
TIMEOUT_NAME = "CellTimeout"  # the error a stopped cell gets here (our own name, not Python's)
REMINDER = ("These are the visible checks only: the graders also run hidden checks on other inputs, "
            "and grade the written answers by hand.")

# One visible check's row. ``number`` is n of In [n]; ``result`` is passed, FAILED or not run.
Row = namedtuple("Row", "number grade_id points result detail")
# What running one notebook gave: its rows, the other cells that stopped with an error
# (a list of (number, error)), and a problem that concerns the whole notebook (or "").
Outcome = namedtuple("Outcome", "rows other_errors problem")


class UsageError(Exception):
    """A part name that names no notebook; the message says which names exist."""


# ---------------------------------------------------------------------------
# The parts: notebooks of this folder and the names they go by
# ---------------------------------------------------------------------------

def kit_notebooks():
    """The kit's notebooks in the order of submission_files.txt (else every *.ipynb here)."""
    listing = HERE / "submission_files.txt"
    if listing.is_file():
        lines = [line.strip() for line in listing.read_text().splitlines()]
        names = [line for line in lines if line.endswith(".ipynb") and not line.startswith("#")]
        if names:
            return names
    return sorted(path.name for path in HERE.glob("*.ipynb"))


def _words(notebook):
    return Path(notebook).stem.lower().split("_")


def part_names(notebooks):
    """{name: notebook} for every name a part may be given by (the rule is in the docstring)."""
    names = {}
    for notebook in notebooks:
        names[notebook.lower()] = names[Path(notebook).stem.lower()] = notebook
    words = {notebook: _words(notebook) for notebook in notebooks}
    for word in {word for split in words.values() for word in split}:
        beginning = [notebook for notebook in notebooks if words[notebook][0] == word]
        having = [notebook for notebook in notebooks if word in words[notebook]]
        if beginning:
            names.setdefault(word, min(beginning, key=lambda notebook: len(words[notebook])))
        elif len(having) == 1:
            names.setdefault(word, having[0])
    initials = {notebook: "".join(word[0] for word in split if word)
                for notebook, split in words.items() if len(split) >= 3}
    for notebook, short in initials.items():
        if list(initials.values()).count(short) == 1:
            names.setdefault(short, notebook)
    return names


def short_names(notebook, names):
    """The short names of one notebook, in the order of the words of its file name."""
    full = {notebook.lower(), Path(notebook).stem.lower()}
    order = _words(notebook)
    mine = [name for name, target in names.items() if target == notebook and name not in full]
    return sorted(mine, key=lambda name: order.index(name) if name in order else len(order))


def parts_listing(notebooks):
    """The notebooks and their short names, one a line, for usage messages."""
    names = part_names(notebooks)
    width = max((len(notebook) for notebook in notebooks), default=0)
    return "\n".join(f"  {notebook:<{width}}  {', '.join(short_names(notebook, names))}".rstrip()
                     for notebook in notebooks)


def choose(requested, notebooks):
    """The notebooks the command line asks for, in its order, each once (all when none).

    Raises UsageError for a name that is no part."""
    if not requested:
        return list(notebooks)
    names = part_names(notebooks)
    chosen, unknown = [], []
    for text in requested:
        notebook = names.get(text.lower())
        if notebook is None and ("/" in text or "\\" in text):  # a path to one of this folder's notebooks
            path = Path(text).resolve()
            notebook = path.name if path.parent == HERE and path.name in notebooks else None
        if notebook is None:
            unknown.append(text)
        elif notebook not in chosen:
            chosen.append(notebook)
    if unknown:
        listed = ", ".join(repr(text) for text in unknown)
        raise UsageError(f"no part is called {listed}. Give a notebook's file name or one of its short "
                         f"names:\n{parts_listing(notebooks)}")
    return chosen


# ---------------------------------------------------------------------------
# Running one notebook
# ---------------------------------------------------------------------------

def _nbgrader(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def is_check(cell):
    """A visible check: a code cell that nbgrader grades (the locked cells with points)."""
    return cell.get("cell_type") == "code" and _nbgrader(cell).get("grade") is True


def _runs(cell):
    """Jupyter sends a code cell to the kernel (and numbers it) unless it is blank."""
    return cell.get("cell_type") == "code" and bool(str(cell.get("source", "")).strip())


def _first_line(text):
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else ""


def _shorten(text):
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_WIDTH else text[:DETAIL_WIDTH - 3] + "..."


def describe_error(content):
    """``ename: first line of evalue`` of an error reply."""
    ename = str(content.get("ename") or "Error")
    evalue = _first_line(content.get("evalue", ""))
    return _shorten(f"{ename}: {evalue}" if evalue else ename)


def last_printed_line(cell):
    """What a passed check printed last: the last line mentioning an error (the relative
    error lines), else its last line; empty when it printed nothing."""
    printed = "".join(str(output.get("text", "")) for output in cell.get("outputs", [])
                      if output.get("output_type") == "stream" and output.get("name") == "stdout")
    lines = [line for line in printed.splitlines() if line.strip()]
    with_error = [line for line in lines if "error" in line.lower()]
    return _shorten((with_error or lines or [""])[-1])


def fast_copy(notebook):
    """Make ``notebook`` (read into memory) the copy that runs: its cells down to the last
    visible check, outputs cleared, the fast_mode cell after the parameters cell. Returns
    (the copy, the file's cell index of each of its cells, None for the added one)."""
    import nbformat

    last = max(index for index, cell in enumerate(notebook.cells) if is_check(cell))
    cells = notebook.cells[:last + 1]
    origin = list(range(len(cells)))
    tagged = [index for index, cell in enumerate(cells) if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])]
    at = tagged[0] + 1 if tagged else 0
    injected = nbformat.v4.new_code_cell(FAST_MODE_CELL)
    injected.metadata["tags"] = ["injected-parameters"]
    cells = cells[:at] + [injected] + cells[at:]
    origin = origin[:at] + [None] + origin[at:]
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if COLAB_SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            cell.source = COLAB_SETUP_STANDIN
    notebook.cells = cells
    return notebook, origin


def execute(copy, timeout):
    """Run ``copy`` in a kernel of this environment; return (replies, died_at, problem).

    ``replies`` maps a copy cell index to its execute reply's content; ``died_at`` is the
    index of the cell whose kernel died (or None); ``problem`` is why the run stopped
    early, in words ("" when every cell ran)."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    replies, running = {}, []

    def on_execute(cell, cell_index):
        running.append(cell_index)

    def on_executed(cell, cell_index, execute_reply):
        replies[cell_index] = execute_reply.get("content", {})

    # No kernel directories: "python3" is then the ipykernel of this Python (sys.executable),
    # never a python3 kernel another environment registered for the user.
    manager = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    client = NotebookClient(
        copy, km=manager, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_NAME, "traceback": [],
                          "evalue": f"stopped after {timeout} s (the time limit of one cell; "
                                    "python self_check.py --timeout SECONDS allows more)"},
        # the kernel's own log (not your output) would only warn that it talks over local TCP
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(HERE)}}, on_cell_execute=on_execute, on_cell_executed=on_executed)
    died, problem = None, ""
    try:
        client.execute()
    except DeadKernelError:
        died = running[-1] if running and running[-1] not in replies else None
        problem = "Python (the kernel) died while running the notebook"
    except Exception as error:  # the kernel did not start, or the run broke off: say so, never a traceback
        problem = f"the notebook could not run to its last check ({type(error).__name__}: " \
                  f"{_first_line(error) or 'no message'})"
    if getattr(client, "_async_cleanup_kernel_future", None) is not None:
        raise KeyboardInterrupt  # Ctrl-C reached nbclient's own handler, which shut the kernel down
    return replies, died, problem


def run_notebook(path, timeout):
    """Run one notebook's visible checks; return its Outcome."""
    import nbformat

    try:
        notebook = nbformat.read(str(path), as_version=4)
    except Exception as error:
        return Outcome([], [], f"could not be read as a notebook ({type(error).__name__}: {_first_line(error)})")
    if not any(is_check(cell) for cell in notebook.cells):
        return Outcome([], [], "")
    numbers, count = {}, 0  # the file's cell index -> n of In [n] after Restart & Run All
    for index, cell in enumerate(notebook.cells):
        if _runs(cell):
            count += 1
            numbers[index] = count
    copy, origin = fast_copy(notebook)
    replies, died_at, problem = execute(copy, timeout)
    added = [index for index, source in enumerate(origin) if source is None]

    def number(index):
        """In [n] of a copy cell: the kernel's count less the added cells above it."""
        count = replies.get(index, {}).get("execution_count")
        if isinstance(count, int):
            return count - sum(1 for a in added if a < index)
        return numbers.get(origin[index], 0)

    if died_at is not None:
        problem = f"{problem} in In [{number(died_at)}]"
    rows, other_errors = [], []
    for index, cell in enumerate(copy.cells):
        reply = replies.get(index)
        if not is_check(cell):
            if reply and reply.get("status") == "error":
                other_errors.append((number(index), describe_error(reply)))
            continue
        meta = _nbgrader(cell)
        points = float(meta.get("points") or 0)
        grade_id = str(meta.get("grade_id") or f"cell {index}")
        if reply is None:
            if index == died_at:
                rows.append(Row(number(index), grade_id, points, "FAILED",
                                "Python (the kernel) died while running this check: out of memory?"))
            else:
                rows.append(Row(number(index), grade_id, points, "not run", _shorten(problem or "never reached")))
        elif reply.get("status") == "ok":
            rows.append(Row(number(index), grade_id, points, "passed", last_printed_line(cell)))
        else:
            rows.append(Row(number(index), grade_id, points, "FAILED", describe_error(reply)))
    return Outcome(rows, other_errors, problem)


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

def _points(value):
    return f"{value:g}"


def _tally(rows):
    """(checks passed, checks, points passed, points)."""
    passed = [row for row in rows if row.result == "passed"]
    return len(passed), len(rows), sum(row.points for row in passed), sum(row.points for row in rows)


def summary_line(rows):
    passed, total, won, stake = _tally(rows)
    return f"passed {passed} of {total} visible checks, {_points(won)} of {_points(stake)} points at stake"


def table(notebook, outcome):
    """The text printed for one notebook."""
    lines = [notebook]
    if outcome.problem and not outcome.rows:
        return "\n".join(lines + [f"  {outcome.problem}."])
    if not outcome.rows:
        return "\n".join(lines + ["  has no visible checks."])
    header = ("cell", "check", "points", "result", "detail")
    cells = [(f"In [{row.number}]", row.grade_id, _points(row.points), row.result, row.detail)
             for row in outcome.rows]
    widths = [max(len(values[k]) for values in [header] + cells) for k in range(4)]
    for values in [header] + cells:
        first = [value.rjust(widths[k]) if k == 2 else value.ljust(widths[k]) for k, value in enumerate(values[:4])]
        lines.append(("  " + "  ".join(first) + "  " + values[4]).rstrip())
    if outcome.other_errors:
        lines.append("  Other cells that stopped with an error (a check below one may fail because of it):")
        labels = [f"In [{number}]" for number, _ in outcome.other_errors]
        width = max(len(label) for label in labels)
        lines += [f"    {label:<{width}}  {error}" for label, (_, error) in zip(labels, outcome.other_errors)]
    if outcome.problem:
        lines.append(f"  {outcome.problem}.")
    return "\n".join(lines)


def main(argv=None):
    notebooks = kit_notebooks()
    parser = argparse.ArgumentParser(
        prog="python self_check.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the visible checks of the notebooks (all when no PART is given) in fast mode.",
        epilog=f"Parts, by file name and short names:\n{parts_listing(notebooks)}\n\n{REMINDER}")
    parser.add_argument("parts", nargs="*", metavar="PART", help="a notebook's file name or short name")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S, metavar="SECONDS",
                        help=f"time limit of one cell (default {CELL_TIMEOUT_S})")
    args = parser.parse_args(argv)
    try:
        chosen = choose(args.parts, notebooks)
    except UsageError as error:
        print(f"self_check.py: {error}", file=sys.stderr)
        return 2
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError as error:
        print(f"self_check.py needs the course environment's packages ({error}): activate it "
              "(conda activate cs231n-a3) or pip install -r requirements.txt, then run it again.")
        return 1
    try:
        all_rows, complete = check_notebooks(chosen, args.timeout)
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C; nbclient has shut the kernel down
        print("\nstopped (Ctrl-C): the checks above are all that ran.")
        return 1
    print(summary_line(all_rows))
    print(REMINDER)
    return 0 if complete and all(row.result == "passed" for row in all_rows) else 1


def check_notebooks(chosen, timeout):
    """Run and report each chosen notebook; return (all rows, whether every notebook could run)."""
    all_rows, complete = [], True
    for notebook in chosen:
        path = HERE / notebook
        if not path.is_file():
            print(f"{notebook}\n  missing from this folder: nothing was checked.\n")
            complete = False
            continue
        print(f"running {notebook} (fast mode) ...", end="", flush=True)
        start = time.monotonic()
        outcome = run_notebook(path, timeout)
        print(f" {time.monotonic() - start:.1f} s", flush=True)
        print("\n" + table(notebook, outcome) + "\n", flush=True)
        all_rows += outcome.rows
        complete = complete and not (outcome.problem and not outcome.rows)
    return all_rows, complete


if __name__ == "__main__":
    sys.exit(main())
