"""Make the zip you hand in: python collect_submission.py

It packs exactly what the graders need, listed in submission_files.txt (the
six notebooks, run top to bottom, and the cs231n files you edited), into
a3_submission.zip next to this script. Then it tells you, file by file, what
still looks unfinished:

- a file that is missing;
- a cs231n file Python cannot read (a syntax error), with its line;
- a function or method that still raises NotImplementedError (see
  ``stub_raises`` for the exact rule); your code is read, never run;
- a notebook that is not valid JSON, was never run, stopped with an error
  (shown as Jupyter numbers the cell, In [n]), or has code cells that never ran;
- a written answer that still says YOUR ANSWER HERE.

The zip is always written, so you can hand in late work as it is. The script
exits with status 1 when anything is unfinished or missing, 0 when all is done.
It uses only the Python standard library.
"""
import ast
import json
import sys
import zipfile
from collections import namedtuple
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZIP_NAME = "a3_submission.zip"
STUB_TEXT = "replace this line with your code"  # the message of every stub in the kit
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"
RUN_ADVICE = "run it top to bottom (restart and run all), then save it."
RESAVE_ADVICE = "Save it again from Jupyter or Colab over this file."

# One finding about one file. ``count`` is how many unfinished things it stands for
# (a file with 10 stubs is one finding, counted 10 times); notes have kind "note",
# count 0, and are printed as advice under the finding before them.
Problem = namedtuple("Problem", "kind text count", defaults=(1,))

# What each kind of problem is called in the closing sentence: (one, many).
KINDS = {
    "missing": ("file is missing", "files are missing"),
    "syntax": ("cs231n file has a syntax error", "cs231n files have syntax errors"),
    "unchecked": ("file could not be checked", "files could not be checked"),
    "stub": ("function still raises NotImplementedError", "functions still raise NotImplementedError"),
    "bad_notebook": ("notebook file is damaged", "notebook files are damaged"),
    "never_run": ("notebook was never run", "notebooks were never run"),
    "error": ("notebook stopped with an error", "notebooks stopped with an error"),
    "partial": ("notebook was only partly run", "notebooks were only partly run"),
    "answer": (f"written answer still says {ANSWER_PLACEHOLDER}",
               f"written answers still say {ANSWER_PLACEHOLDER}"),
}


def submission_files():
    """The names listed in submission_files.txt, relative to this folder."""
    lines = (HERE / "submission_files.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def write_zip(names):
    """Pack every listed file that exists into the zip; return the names packed."""
    packed = []
    with zipfile.ZipFile(HERE / ZIP_NAME, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            path = HERE / name
            if path.is_file():
                archive.write(path, name)
                packed.append(name)
    return packed


# ---------------------------------------------------------------------------
# Python files: stubs and syntax errors, found by reading the code (ast)
# ---------------------------------------------------------------------------

def stub_raises(tree):
    """Return ``(line, name)`` for every stub still in a parsed module.

    The rule: a ``raise NotImplementedError`` (bare or called with a message)
    leaves its function (or method; ``name`` is e.g. ``CaptioningRNN.loss``)
    unfinished when either

    - it always runs when the function does: it is a statement of the
      function's own body, or of a ``with`` block in that body; code written
      above it does not matter, the function still ends there; or
    - it still carries the kit's stub message, "replace this line with your
      code", wherever it sits in the function.

    A ``raise NotImplementedError`` that you wrote yourself inside an ``if``,
    loop or ``try`` is your code, not a stub. Nested functions and classes are
    judged on their own. A stub at the top level of the file (outside every
    function) is reported with the name "(top level of the file)".
    """
    found = []
    _scan_scope(tree.body, "", found)
    return found


def _scan_scope(body, prefix, found):
    """Look for stubs among the statements of one scope (module, class, function)."""
    for statement, always_runs in _statements(body, always_runs=True):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            _scan_scope(statement.body, f"{prefix}{statement.name}.", found)
        elif _raises_not_implemented(statement) and (always_runs or _has_stub_text(statement)):
            found.append((statement.lineno, prefix[:-1] or "(top level of the file)"))


def _statements(body, always_runs):
    """Yield ``(statement, always_runs)`` for a statement list and the blocks inside it.

    Function and class definitions are yielded but not entered (they are scopes of
    their own). Only the body of a ``with`` keeps ``always_runs``; the blocks of
    ``if``, loops, ``try`` and ``match`` may be skipped.
    """
    for statement in body:
        yield statement, always_runs
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        inner_always = always_runs and isinstance(statement, (ast.With, ast.AsyncWith))
        yield from _statements(_child_statements(statement), inner_always)


def _child_statements(node):
    """The statements directly inside a compound statement (also via except/case clauses)."""
    children = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            children.append(child)
        elif isinstance(child, (ast.excepthandler, getattr(ast, "match_case", ast.excepthandler))):
            children.extend(_child_statements(child))
    return children


def _raises_not_implemented(statement):
    """True for ``raise NotImplementedError`` and ``raise NotImplementedError(...)``."""
    if not isinstance(statement, ast.Raise) or statement.exc is None:
        return False
    exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _has_stub_text(statement):
    """True when the raise's message is the kit's stub message."""
    return any(isinstance(node, ast.Constant) and isinstance(node.value, str) and STUB_TEXT in node.value
               for node in ast.walk(statement.exc))


def check_python_file(path):
    """Problems of one cs231n file (a list of Problem), empty when it is done."""
    try:
        tree = ast.parse(path.read_bytes(), filename=path.name)
    except (SyntaxError, ValueError) as error:  # some Pythons raise ValueError for null bytes
        return [Problem("syntax", _describe_syntax_error(error))]
    stubs = stub_raises(tree)
    if not stubs:
        return []
    width = len(str(max(line for line, _ in stubs)))
    listing = "".join(f"\n      line {line:>{width}}  {name}" for line, name in stubs)
    header = (f"{_count(len(stubs), 'function still raises', 'functions still raise')} "
              "NotImplementedError; replace that line with your code in:")
    return [Problem("stub", header + listing, len(stubs))]


def _describe_syntax_error(error):
    """One readable paragraph for a file that does not parse."""
    if not isinstance(error, SyntaxError):
        return f"Python cannot read it ({error}). Fix the file; nothing in it was checked."
    text = f"Python cannot read it: {error.msg}" + (f" at line {error.lineno}" if error.lineno else "")
    if error.text and error.text.strip():
        text += f":\n        {error.text.strip()}"
    return text + "\n    Fix that first: until then nothing in this file works (its functions were not checked)."


# ---------------------------------------------------------------------------
# Notebooks: read as JSON; run state, errors, written answers
# ---------------------------------------------------------------------------

def check_notebook(path):
    """Problems of one notebook (a list of Problem), empty when it is done."""
    try:
        notebook = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return [Problem("bad_notebook", f"damaged, not valid JSON ({error}). {RESAVE_ADVICE}")]
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return [Problem("bad_notebook", f"damaged: it holds no cells, so it is not a notebook. {RESAVE_ADVICE}")]
    cells = [cell for cell in cells if isinstance(cell, dict)]
    return run_problems(cells) + answer_problems(cells)


def cell_text(cell):
    """A cell's source as one string (notebooks store it as a string or a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _outputs(cell):
    outputs = cell.get("outputs")
    return [output for output in outputs if isinstance(output, dict)] if isinstance(outputs, list) else []


def _ran(cell):
    """A code cell ran when it has an execution count or any output."""
    return isinstance(cell.get("execution_count"), int) or bool(_outputs(cell))


def _label(cell, position):
    """How Jupyter shows a cell: In [n]; a cell without a number by its position."""
    count = cell.get("execution_count")
    return f"In [{count}]" if isinstance(count, int) else f"code cell {position}"


def run_problems(cells):
    """Has the notebook been run top to bottom without errors?

    Empty code cells are ignored. The first error output is reported with its
    cell's In [n] and ``ename: evalue`` (first line). Code cells that never ran
    are counted, with where the first of them is; cells run out of order are
    not a problem (the graders run the notebook again anyway).
    """
    code = [cell for cell in cells if cell.get("cell_type") == "code" and cell_text(cell).strip()]
    if not code:
        return []
    if not any(_ran(cell) for cell in code):
        return [Problem("never_run", f"never run: {RUN_ADVICE}")]
    problems = []
    error = _first_error(code)
    if error:
        problems.append(Problem("error", f"stopped with an error at {error}"))
    not_run = [index for index, cell in enumerate(code) if not _ran(cell)]
    if not_run:
        first = not_run[0]
        where = (f"just below {_label(code[first - 1], first)}" if first > 0 else "the first code cell")
        text = f"{len(not_run)} of {len(code)} code cells never ran (the first: {where})"
        problems.append(Problem("note", text, 0) if error else Problem("partial", text))
    if problems:
        advice = "Fix the error, then " + RUN_ADVICE if error else RUN_ADVICE.capitalize()
        problems.append(Problem("note", advice, 0))
    return problems


def _first_error(code_cells):
    """``'In [n]: ename: evalue'`` for the first error output, or None."""
    for position, cell in enumerate(code_cells, start=1):
        for output in _outputs(cell):
            if output.get("output_type") == "error":
                first_line = (str(output.get("evalue", "")).strip().splitlines() or [""])[0]
                ename = str(output.get("ename") or "Error")
                message = f"{ename}: {first_line}" if first_line else ename
                if len(message) > 200:
                    message = message[:197] + "..."
                return f"{_label(cell, position)}: {message}"
    return None


def answer_problems(cells):
    """Written answers (nbgrader markdown cells with solution and grade set) still unanswered.

    An answer counts as unanswered when its text, with the placeholder removed,
    is blank: the placeholder alone, or nothing at all.
    """
    unanswered = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        if (cell.get("cell_type") == "markdown" and isinstance(meta, dict) and meta.get("solution") is True
                and meta.get("grade") is True and not cell_text(cell).replace(ANSWER_PLACEHOLDER, "").strip()):
            unanswered.append(str(meta.get("grade_id", "?")))
    if not unanswered:
        return []
    text = (f"{_count(len(unanswered), 'written answer still says', 'written answers still say')} "
            f"{ANSWER_PLACEHOLDER}: {', '.join(unanswered)}")
    return [Problem("answer", text, len(unanswered))]


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

def check_file(name):
    """Problems of one listed file (a list of Problem), empty when it is done."""
    path = HERE / name
    if not path.is_file():
        return [Problem("missing", "missing from this folder: the graders will count it as not done.")]
    try:
        if name.endswith(".ipynb"):
            return check_notebook(path)
        if name.endswith(".py"):
            return check_python_file(path)
    except Exception as error:  # a check must never stop you from handing in
        return [Problem("unchecked", f"could not be checked ({type(error).__name__}: {error}); look at it yourself.")]
    return []


def _count(n, one, many):
    return f"{n} {one if n == 1 else many}"


def closing_sentence(problems):
    """The last line: how many things are unfinished, by kind."""
    counts = {kind: 0 for kind in KINDS}
    for problem in problems:
        if problem.kind in counts:
            counts[problem.kind] += problem.count
    parts = [_count(n, *KINDS[kind]) for kind, n in counts.items() if n]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    total = sum(problem.count for problem in problems)
    return f"Your zip is written, but {_count(total, 'thing is', 'things are')} unfinished: {listed}."


def report(by_file, packed):
    """The text printed for the student."""
    lines = [f"Wrote {ZIP_NAME} with {len(packed)} files."]
    problems = [problem for file_problems in by_file.values() for problem in file_problems]
    if not any(problem.count for problem in problems):
        lines.append("Everything is done: every notebook ran without errors, no function raises "
                     f"NotImplementedError and every written answer is filled in. Upload {ZIP_NAME}.")
        return "\n".join(lines)
    lines += ["", "Still unfinished, file by file. Finish it, then run python collect_submission.py",
              "again and upload the new zip."]
    for name, file_problems in by_file.items():
        if file_problems:
            lines += ["", name] + [f"    {p.text}" if p.kind == "note" else f"  - {p.text}" for p in file_problems]
    lines += ["", closing_sentence(problems)]
    return "\n".join(lines)


def main():
    names = submission_files()
    packed = write_zip(names)
    by_file = {name: check_file(name) for name in names}
    print(report(by_file, packed))
    unfinished = any(problem.count for problems in by_file.values() for problem in problems)
    return 1 if unfinished else 0


if __name__ == "__main__":
    sys.exit(main())
