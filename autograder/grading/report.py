"""Reports for one submission: Gradescope's results.json and an HTML feedback page.

results.json follows Gradescope's autograder format: ``score`` (total points),
``execution_time`` (seconds), ``output`` (text shown above the tests) and
``tests``, one per check, each with ``name``, ``score``, ``max_score``,
``output``, ``number`` and ``visibility``. Notebook runs and problems with the
submission appear in ``output``; nothing here depends on timing except
``execution_time``, so grading twice gives identical scores.

Every string that came from student code is escaped before it reaches HTML.
"""
import base64
import html
import json

import nbformat

MAX_IMAGES_PER_NOTEBOOK = 12
MAX_IMAGE_CHARS = 4 << 20  # base64 characters of one figure shown in the feedback page
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def part_scores(assignment, results):
    """{part id: (earned, automatic max)} from check results (name -> Result)."""
    scores = {}
    for part_id in assignment.parts:
        specs = assignment.checks_of(part_id)
        earned = sum(results[s.name].points(s.points) for s in specs if s.name in results)
        scores[part_id] = (round(earned, 4), sum(s.points for s in specs))
    return scores


def results_json(assignment, grading):
    """The Gradescope results.json dict for a ``grade.Grading``."""
    tests = []
    for number, (part_id, part) in enumerate(assignment.parts.items(), start=1):
        for index, spec in enumerate(assignment.checks_of(part_id), start=1):
            result = grading.results.get(spec.name)
            tests.append({
                "name": f"{part.title}: {spec.name}",
                "number": f"{number}.{index}",
                "score": result.points(spec.points) if result else 0.0,
                "max_score": spec.points,
                "output": result.message if result else "not graded",
                "tags": [part_id],
                "visibility": "visible",
            })
    lines = [f"Graded {assignment.title}."]
    lines += [f"Problem: {p}" for p in grading.problems]
    lines += [f"Notebook {r.notebook}: {r.message}" for r in grading.notebook_runs]
    lines += [f"Integrity flag (for your instructor to review; no points deducted): {f}"
              for f in grading.flags]
    manual = sum(m.points for m in assignment.manual.values())
    if manual:
        lines.append(f"{manual:g} more points are graded by hand (written answers).")
    return {
        "score": round(sum(t["score"] for t in tests), 4),
        "execution_time": round(grading.wall_s, 1),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def notebook_images(path, limit=MAX_IMAGES_PER_NOTEBOOK):
    """PNG images (base64 strings) from an executed notebook's outputs.

    Outputs come from student code: only strict base64 of real PNG data (so
    nothing can break out of the ``src`` attribute), at most MAX_IMAGE_CHARS each.
    """
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # an unreadable notebook simply contributes no images
        return []
    images = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            png = data.get("image/png")
            if isinstance(png, str) and len(images) < limit and len(png) <= MAX_IMAGE_CHARS:
                png = "".join(png.split())
                try:  # strict: base64 characters only, and really a PNG
                    if not base64.b64decode(png, validate=True).startswith(PNG_MAGIC):
                        continue
                except ValueError:
                    continue
                images.append(png)
    return images


def feedback_html(assignment, grading, results):
    """A self-contained HTML page: per part, each check's outcome and the plots."""
    esc = html.escape
    scores = part_scores(assignment, grading.results)
    body = [f"<h1>{esc(assignment.title)}</h1>",
            f"<p class='total'>Automatic score: <b>{results['score']:g}</b> / "
            f"{assignment.auto_points():g}</p>"]
    if grading.problems:
        body.append("<h2>About your submission</h2><ul>"
                    + "".join(f"<li>{esc(p)}</li>" for p in grading.problems) + "</ul>")
    if grading.flags:
        body.append("<h2>Integrity flags</h2><p>For a person to review; no points were deducted.</p><ul>"
                    + "".join(f"<li>{esc(f)}</li>" for f in grading.flags) + "</ul>")
    runs = {r.notebook: r for r in grading.notebook_runs}
    for part_id, part in assignment.parts.items():
        earned, maximum = scores[part_id]
        body.append(f"<h2>{esc(part.title)} — {earned:g} / {maximum:g}</h2>")
        run = runs.get(part.notebook)
        if run:
            status = "ok" if run.ok else "fail"
            body.append(f"<p class='{status}'>{esc(part.notebook)}: {esc(run.message)} "
                        f"({run.wall_s:.0f} s)</p>")
        rows = []
        for spec in assignment.checks_of(part_id):
            result = grading.results.get(spec.name)
            got = result.points(spec.points) if result else 0.0
            status = "ok" if got == spec.points else ("partial" if got > 0 else "fail")
            message = result.message if result else "not graded"
            rows.append(f"<tr class='{status}'><td>{esc(spec.name)}</td><td>{got:g} / {spec.points:g}"
                        f"</td><td>{esc(message)}</td></tr>")
        if rows:
            body.append("<table><tr><th>check</th><th>points</th><th>what we found</th></tr>"
                        + "".join(rows) + "</table>")
        if run and run.executed:
            for png in notebook_images(run.executed):
                body.append(f"<img alt='figure from {esc(part.notebook)}' src='data:image/png;base64,{png}'>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse;"
             "width:100%}td,th{border:1px solid #ccc;padding:4px;text-align:left;vertical-align:top}"
             ".ok{color:#185c18}.partial{color:#8a5a00}.fail{color:#a01010}img{max-width:45%;margin:4px}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(assignment.title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def write_reports(out_dir, assignment, grading):
    """Write results.json and feedback.html into ``out_dir``; return the results dict."""
    results = results_json(assignment, grading)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    (out_dir / "feedback.html").write_text(feedback_html(assignment, grading, results))
    return results
