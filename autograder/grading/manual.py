"""The points graded by hand: written answers, the scores people give them, and the TA's pages.

assignment.toml's ``[manual.<grade id>]`` tables name the written answers (inline
questions, derivations) and their points. For each submission the grader keeps
the text of every answer as handed in (``Grading.answers``), and merges the
points a person gave (``Grading.manual``) from either source:

- ``manual_scores.csv``, which every batch writes (or extends) beside
  gradebook.csv for a TA to fill in: one row per submission, one column per
  written answer, a blank cell meaning "not graded yet"; the grader reads it
  back with ``python -m autograder grade ... --manual FILE``;
- an nbgrader gradebook, where formgrader stores them (``nbgrader_course``).

``write_answer_pages`` writes ``written_answers/<grade id>.html``: one page per
question with its mark scheme (from the source notebooks, the instructor's)
and every submission's answer beside its current score, for the TA grading that
question across the class. These pages hold the mark schemes: they are for
staff, never handed back (feedback.html stays the student's page).
"""
from __future__ import annotations

import csv
import html
import math
from pathlib import Path

MANUAL_SCORES = "manual_scores.csv"
ANSWER_PAGES = "written_answers"
MAX_ANSWER_CHARS = 20_000
POINTS_ROW = "(points)"  # the template's second row: each question's maximum, for the TA's eyes


class ManualScoresError(ValueError):
    """A manual scores file that cannot be used; the message names the line and the cell."""


def written_answers(notebooks: dict, assignment) -> dict[str, str]:
    """{grade id: answer text} of the written answers in the parsed ``notebooks`` ({file: NotebookNode})."""
    wanted, answers = set(assignment.manual), {}
    for nb in notebooks.values():
        for cell in nb.get("cells", []):
            meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell, dict) else None
            grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
            if grade_id in wanted and grade_id not in answers:
                source = cell.get("source", "")
                text = "".join(source) if isinstance(source, list) else str(source)
                answers[grade_id] = text[:MAX_ANSWER_CHARS]
    return answers


# --- manual_scores.csv

def read_manual_scores(path, assignment) -> dict[str, dict[str, float]]:
    """{submission id: {grade id: points}} from a filled-in manual scores file.

    Blank cells are pending; every other cell must be a number from 0 to the
    question's points. Columns that name no written answer are an error (a typo
    would otherwise lose a TA's work silently); the template's points row is skipped.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise ManualScoresError(f"{path}: cannot be read ({exc})") from None
    if not rows or not rows[0] or rows[0][0].strip() != "submission":
        raise ManualScoresError(f"{path}: the first row must start with 'submission', then grade ids")
    header = [h.strip() for h in rows[0]]
    unknown = [h for h in header[1:] if h and h not in assignment.manual]
    if unknown:
        raise ManualScoresError(f"{path}: no written answer is called {', '.join(unknown)}; "
                                f"the answers are {', '.join(assignment.manual)}")
    scores = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip() or row[0].strip() == POINTS_ROW:
            continue
        given = {}
        for grade_id, cell in zip(header[1:], row[1:]):
            if grade_id and cell.strip():
                given[grade_id] = _points(cell, assignment.manual[grade_id].points, f"{path}, line {line}, {grade_id}")
        scores[row[0].strip()] = given
    return scores


def _points(cell: str, maximum: float, where: str) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise ManualScoresError(f"{where}: {cell.strip()!r} is not a number") from None
    if not math.isfinite(value) or not 0 <= value <= maximum:
        raise ManualScoresError(f"{where}: {value:g} is not between 0 and {maximum:g}")
    return value


def write_manual_template(out_root, assignment, gradings: dict) -> Path:
    """Write (or extend) ``manual_scores.csv``: a row per submission, a column per written
    answer. Rows already there, with whatever a TA entered, are kept as they are."""
    path = Path(out_root) / MANUAL_SCORES
    ids = list(assignment.manual)
    existing = []
    if path.is_file():
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        if not rows or [h.strip() for h in rows[0]] != ["submission", *ids]:
            return path  # columns a person rearranged, or another assignment's: left alone
        existing = [row for row in rows[1:] if row and row[0].strip() != POINTS_ROW]
    known = {row[0] for row in existing if row}
    fresh = [[sid] + [_cell(gradings[sid].manual.get(g)) for g in ids] for sid in sorted(gradings) if sid not in known]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", *ids])
        writer.writerow([POINTS_ROW, *[f"{assignment.manual[g].points:g}" for g in ids]])
        writer.writerows(existing + fresh)
    return path


def _cell(value) -> str:
    return "" if value is None else f"{value:g}"


# --- the TA's pages

def mark_schemes(assignment, source_dir=None) -> dict[str, tuple[str, str]]:
    """{grade id: (question, mark scheme)} from the source notebooks: the answer cell's
    reference text (its solution region, without the delimiter lines) is its mark scheme,
    the markdown cell before it the question."""
    import nbformat

    from autograder.assignment import ROOT

    source_dir = Path(source_dir or ROOT / "source_notebooks")
    found = {}
    for part in assignment.parts.values():
        path = source_dir / part.notebook
        if not path.is_file():
            continue
        cells = nbformat.read(path, as_version=4).cells
        for index, cell in enumerate(cells):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in assignment.manual:
                question = cells[index - 1].source if index and cells[index - 1].cell_type == "markdown" else ""
                found[grade_id] = (question, _without_delimiters(cell.source))
    return found


def _without_delimiters(source: str) -> str:
    """A solution cell's text without its ``### BEGIN/END SOLUTION`` lines."""
    from autograder.release.strip_solutions import BEGIN, END

    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN, END)).strip()


def answer_page(assignment, grade_id: str, gradings: dict, schemes: dict) -> str:
    """One question across every submission: the question, its mark scheme, each answer and score."""
    esc = html.escape
    spec = assignment.manual[grade_id]
    question, scheme = schemes.get(grade_id, ("", "(no mark scheme found in the source notebooks)"))
    body = [f"<h1>{esc(grade_id)} ({spec.points:g} points, part {esc(spec.part)})</h1>",
            "<p class='staff'>For course staff: this page holds the mark scheme. Do not hand it out.</p>",
            f"<h2>Question</h2><pre>{esc(question)}</pre>", f"<h2>Mark scheme</h2><pre>{esc(scheme)}</pre>",
            "<h2>Answers</h2><table><tr><th>submission</th><th>answer</th><th>score</th></tr>"]
    for sid in sorted(gradings):
        grading = gradings[sid]
        answer = grading.answers.get(grade_id)
        score = grading.manual.get(grade_id)
        shown = esc(answer) if answer is not None else "<i>no answer cell in this submission</i>"
        body.append(f"<tr><td>{esc(sid)}</td><td><pre>{shown}</pre></td>"
                    f"<td>{'pending' if score is None else f'{score:g}'} / {spec.points:g}</td></tr>")
    body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:70em;margin:auto}pre{white-space:pre-wrap}"
             "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px;"
             "vertical-align:top;text-align:left}.staff{color:#a01010}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(grade_id)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def write_answer_pages(out_root, assignment, gradings: dict, source_dir=None) -> Path:
    """written_answers/<grade id>.html for every written answer, and an index page."""
    folder = Path(out_root) / ANSWER_PAGES
    folder.mkdir(parents=True, exist_ok=True)
    schemes = mark_schemes(assignment, source_dir)
    links = []
    for grade_id, spec in assignment.manual.items():
        (folder / f"{grade_id}.html").write_text(answer_page(assignment, grade_id, gradings, schemes),
                                                 encoding="utf-8", errors="replace")
        pending = sum(grade_id not in g.manual for g in gradings.values())
        links.append(f"<li><a href='{html.escape(grade_id)}.html'>{html.escape(grade_id)}</a> "
                     f"({spec.points:g} points): {pending} of {len(gradings)} pending</li>")
    (folder / "index.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Written answers</title></head><body>"
        "<h1>Written answers, by question</h1><p>For course staff (mark schemes inside).</p><ul>"
        + "".join(links) + "</ul></body></html>", encoding="utf-8")
    return folder
