"""Reports for one submission, all rendered from its ``result.Grading``.

results.json follows Gradescope's autograder format: ``score`` (total points),
``execution_time`` (seconds), ``output`` (text shown above the tests) and
``tests``, one per check, each with ``name``, ``score``, ``max_score``,
``output``, ``number`` and ``visibility``. ``score`` is the automatic score, as
Gradescope expects (it grades the written part itself); ``output`` and
feedback.html also say how many points are graded by hand and how many of
those are given or pending (``manual_summary``). Notebook runs and problems with the
submission appear in ``output``; nothing here depends on timing except
``execution_time``, so grading twice gives identical scores. feedback.html is
a page for the student; grading.json is the Grading itself (``Grading.to_json``).

Every string that came from student code is escaped before it reaches HTML, and
every text is made writable as UTF-8 first (``Grading.clean``). A fault while
rendering becomes the submission's ``grader_error`` (zero scores, a reason),
never an exception for the batch.
"""
import base64
import html
import json
import os
import traceback
from pathlib import Path

from autograder.grading.result import Grading

MAX_IMAGES_PER_NOTEBOOK = 12
MAX_IMAGE_CHARS = 4 << 20  # base64 characters of one figure shown in the feedback page
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def results_json(assignment, grading: Grading) -> dict:
    """The Gradescope results.json dict for ``grading``."""
    tests = []
    for number, (part_id, part) in enumerate(assignment.parts.items(), start=1):
        for index, spec in enumerate(assignment.checks_of(part_id), start=1):
            tests.append({
                "name": f"{part.title}: {spec.name}",
                "number": f"{number}.{index}",
                "score": grading.points(spec),
                "max_score": spec.points,
                "output": grading.advice(assignment, spec.name),
                "tags": [part_id],
                "visibility": "visible",
            })
    lines = list(grading.notes) + [f"Graded {assignment.title}."]
    lines += [f"Problem: {p}" for p in grading.problems]
    lines += [f"Notebook {r.notebook}: {r.message}" for r in grading.notebook_runs]
    lines += [f"Integrity flag (for your instructor to review; no points deducted): {f}"
              for f in grading.flags]
    if assignment.manual:
        lines.append(manual_summary(assignment, grading))
    return {
        "score": grading.total(assignment),
        "execution_time": round(grading.wall_s, 1),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def manual_summary(assignment, grading: Grading) -> str:
    """One sentence on the points graded by hand: how many, given so far, still pending."""
    maximum, earned = assignment.manual_points(), grading.manual_earned(assignment)
    pending, count = len(grading.manual_pending(assignment)), len(assignment.manual)
    if pending == count:
        return f"Written answers: {maximum:g} more points, graded by hand; not graded yet ({count} answers)."
    if pending:
        return (f"Written answers, graded by hand: {earned:g} / {maximum:g} so far; "
                f"{pending} of {count} answers still pending.")
    return (f"Written answers, graded by hand: {earned:g} / {maximum:g}. Total with the automatic score: "
            f"{grading.grand_total(assignment):g} / {assignment.auto_points() + maximum:g}.")


def _png(output):
    """The strict base64 PNG of one notebook output, or None."""
    data = output.get("data") if isinstance(output, dict) else None
    png = data.get("image/png") if isinstance(data, dict) else None
    if not isinstance(png, str) or len(png) > MAX_IMAGE_CHARS:
        return None
    png = "".join(png.split())
    try:  # strict: base64 characters only, and really a PNG
        return png if base64.b64decode(png, validate=True).startswith(PNG_MAGIC) else None
    except ValueError:
        return None


def notebook_images(path, max_bytes, limit=MAX_IMAGES_PER_NOTEBOOK) -> list[str]:
    """PNG images (base64 strings) from an executed notebook's outputs.

    The notebook came out of student code: it is not read when larger than
    ``max_bytes``, and any shape of JSON is walked without trusting it. Only
    strict base64 of real PNG data (so nothing can break out of the ``src``
    attribute), at most MAX_IMAGE_CHARS each.
    """
    try:
        if os.path.getsize(path) > max_bytes:
            return []
        nb = json.loads(Path(path).read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable: simply no images
        return []
    cells = nb.get("cells") if isinstance(nb, dict) else None
    images = []
    for cell in cells if isinstance(cells, list) else []:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        for output in outputs if isinstance(outputs, list) else []:
            png = _png(output)
            if png and len(images) < limit:
                images.append(png)
    return images


def _check_rows(assignment, grading, part_id, esc):
    rows = []
    for spec in assignment.checks_of(part_id):
        got = grading.points(spec)
        status = "ok" if got == spec.points else ("partial" if got > 0 else "fail")
        message = grading.advice(assignment, spec.name)
        rows.append(f"<tr class='{status}'><td>{esc(spec.name)}</td><td>{got:g} / {spec.points:g}"
                    f"</td><td>{esc(message)}</td></tr>")
    return rows


RERUN_NOTE = (
    "How to read this page. Your points come from hidden checks: they call the functions in "
    "your cs231n files on inputs you have not seen and compare the results with a correct "
    "implementation. For a failed check the table says which function to look at first, then "
    "the likely cause when your outputs match a known mistake, then what was measured. The "
    "notebook lines and figures come from a short re-run of your notebooks here, top to bottom, "
    "in fast mode (far fewer training iterations and images), offline (no downloads, so no "
    "pictures fetched from the web) and on the course's copy of the data. So trained models "
    "are weaker, losses higher and generated images noisier than in your own full run; that is "
    "expected and costs no points. Cell numbers such as In [7] are those your notebook shows "
    "after Kernel > Restart Kernel and Run All Cells.")


def feedback_html(assignment, grading: Grading, images: bool = True) -> str:
    """A self-contained HTML page: per part, each check's outcome and the plots
    (``images``: read the executed notebooks' figures)."""
    esc = html.escape
    max_bytes = (assignment.limits.max_notebook_mb + assignment.limits.max_output_mb) << 20
    body = [f"<h1>{esc(assignment.title)}</h1>",
            f"<p class='total'>Automatic score: <b>{grading.total(assignment):g}</b> / "
            f"{assignment.auto_points():g}</p>"]
    if assignment.manual:
        body.append(f"<p class='total'>{esc(manual_summary(assignment, grading))}</p>")
    body.append(f"<p class='note'>{esc(RERUN_NOTE)}</p>")
    body += [f"<p>{esc(n)}</p>" for n in grading.notes]
    if grading.problems:
        body.append("<h2>About your submission</h2><ul>"
                    + "".join(f"<li>{esc(p)}</li>" for p in grading.problems) + "</ul>")
    if grading.flags:
        body.append("<h2>Integrity flags</h2><p>For a person to review; no points were deducted.</p><ul>"
                    + "".join(f"<li>{esc(f)}</li>" for f in grading.flags) + "</ul>")
    runs = {r.notebook: r for r in grading.notebook_runs}
    scores = grading.part_scores(assignment)
    for part_id, part in assignment.parts.items():
        earned, maximum = scores[part_id]
        body.append(f"<h2>{esc(part.title)} — {earned:g} / {maximum:g}</h2>")
        run = runs.get(part.notebook)
        if run:
            status = "ok" if run.ok else "fail"
            body.append(f"<p class='{status}'>{esc(part.notebook)}: {esc(run.message)} "
                        f"({run.wall_s:.0f} s)</p>")
        rows = _check_rows(assignment, grading, part_id, esc)
        if rows:
            body.append("<table><tr><th>check</th><th>points</th><th>what we found</th></tr>"
                        + "".join(rows) + "</table>")
        if images and run and run.executed:
            for png in notebook_images(run.executed, max_bytes):
                body.append(f"<img alt='figure from {esc(part.notebook)}' src='data:image/png;base64,{png}'>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse;"
             "width:100%}td,th{border:1px solid #ccc;padding:4px;text-align:left;vertical-align:top}"
             ".ok{color:#185c18}.partial{color:#8a5a00}.fail{color:#a01010}img{max-width:45%;margin:4px}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(assignment.title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def write_text(path, text: str) -> None:
    """Write ``text`` as UTF-8; what UTF-8 cannot hold (lone surrogates) is replaced."""
    Path(path).write_text(text, encoding="utf-8", errors="replace")


def _write_all(out_dir, assignment, grading, images):
    grading.clean()
    results = results_json(assignment, grading)
    write_text(out_dir / "results.json", json.dumps(results, indent=2))
    write_text(out_dir / "feedback.html", feedback_html(assignment, grading, images))
    grading.save(out_dir, assignment)
    return results


def write_reports(out_dir, assignment, grading: Grading) -> dict:
    """Write results.json, feedback.html and grading.json into ``out_dir``; return results.json's dict.

    Should rendering fail, the fault becomes ``grading``'s grader error (zero
    scores, a reason) and plainer reports are written; only a folder that cannot
    be written at all raises.
    """
    out_dir = Path(out_dir)
    try:
        return _write_all(out_dir, assignment, grading, images=True)
    except Exception:
        grading.fail(assignment, "writing the reports failed:\n" + traceback.format_exc())
        return _write_all(out_dir, assignment, grading, images=False)
