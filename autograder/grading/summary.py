"""summary.html: the batch at a glance, for the instructor, rendered from the Gradings.

- totals: how many submissions, the automatic scores' mean and median, the
  points graded by hand given so far and still pending, and a histogram;
- per part: mean, median, quartiles, how many got full marks and how many none,
  and each part's own histogram;
- the checks most often failed (what to explain again in class);
- every submission with a link to its feedback page, its scores, its integrity
  flags and the notebooks that failed to run;
- then the integrity flags, notebook failures and grader errors, spelled out.

The numbers per submission are gradebook.csv's (``batch.gradebook_row``).
"""
from __future__ import annotations

import base64
import html
import io
import statistics
from pathlib import Path

from autograder.grading import report
from autograder.grading.result import Grading

MOST_FAILED = 15  # rows in the "checks most often failed" table


def quantiles(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile) of ``values`` (all equal for one value)."""
    if len(values) < 2:
        value = values[0] if values else 0.0
        return value, value, value
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def _figure_png(draw) -> str:
    """``draw(plt)`` rendered to a base64 PNG ("" if matplotlib cannot draw it)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = draw(plt)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(fig)
    except Exception:  # the summary's numbers matter more than its pictures
        return ""
    return base64.b64encode(buffer.getvalue()).decode()


def total_histogram(assignment, scores: list[float]) -> str:
    def draw(plt):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(scores, bins=min(20, max(5, len(scores))), range=(0, assignment.auto_points()))
        ax.set_xlabel("automatic score")
        ax.set_ylabel("submissions")
        return fig
    return _figure_png(draw)


def part_histograms(assignment, per_part: dict[str, list[float]]) -> str:
    def draw(plt):
        fig, axes = plt.subplots(1, len(per_part), figsize=(2.2 * len(per_part), 2.2), squeeze=False)
        for ax, (part_id, values) in zip(axes[0], per_part.items()):
            ax.hist(values, bins=10, range=(0, assignment.auto_points(part_id) or 1))
            ax.set_title(part_id, fontsize=9)
            ax.tick_params(labelsize=7)
        return fig
    return _figure_png(draw)


def most_failed(assignment, gradings: dict[str, Grading]) -> list[tuple]:
    """[(check spec, submissions below full marks, mean fraction)], most failed first."""
    rows = []
    for spec in assignment.checks.values():
        earned = [g.points(spec) / spec.points for g in gradings.values()] if spec.points else []
        below = sum(e < 1 for e in earned)
        if below:
            rows.append((spec, below, sum(earned) / len(earned)))
    rows.sort(key=lambda row: (-row[1], row[2], row[0].name))
    return rows[:MOST_FAILED]


def _table(head, rows) -> str:
    esc = html.escape
    return ("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows) + "</table>")


def failed_notebooks(grading: Grading) -> list[str]:
    return [run.notebook for run in grading.notebook_runs if not run.ok]


def summary_html(assignment, gradings: dict[str, Grading]) -> str:
    esc = html.escape
    ids = sorted(gradings)
    totals = [gradings[s].total(assignment) for s in ids]
    mean = statistics.fmean(totals) if totals else 0.0
    pending = sum(len(gradings[s].manual_pending(assignment)) for s in ids)
    body = [f"<h1>{esc(assignment.title)}: grading summary</h1>",
            f"<p>{len(ids)} submissions; automatic score mean {mean:.2f}, median {quantiles(totals)[1]:.2f} "
            f"of {assignment.auto_points():g}.</p>"]
    if assignment.manual:
        body.append(f"<p>Graded by hand: {assignment.manual_points():g} points per submission "
                    f"({len(assignment.manual)} written answers); {pending} answers still pending "
                    f"(<a href='written_answers/index.html'>written answers, by question</a>).</p>")
    png = total_histogram(assignment, totals)
    if png:
        body.append(f"<img alt='histogram of automatic scores' src='data:image/png;base64,{png}'>")

    per_part = {p: [gradings[s].part_scores(assignment)[p][0] for s in ids] for p in assignment.parts}
    rows = []
    for part_id, part in assignment.parts.items():
        values, maximum = per_part[part_id], assignment.auto_points(part_id)
        q1, median, q3 = quantiles(values)
        rows.append([esc(part.title), f"{maximum:g}", f"{statistics.fmean(values) if values else 0:.2f}",
                     f"{q1:g} / {median:g} / {q3:g}", str(sum(v == maximum for v in values)),
                     str(sum(v == 0 for v in values))])
    body.append("<h2>Per part</h2>" + _table(
        ["part", "points", "mean", "quartiles (25% / median / 75%)", "full marks", "zero"], rows))
    png = part_histograms(assignment, per_part) if ids else ""
    if png:
        body.append(f"<img alt='histograms per part' src='data:image/png;base64,{png}'>")

    failed = most_failed(assignment, gradings)
    if failed:
        body.append("<h2>Checks most often failed</h2>" + _table(
            ["check", "part", "points", "submissions below full marks", "mean share of points"],
            [[esc(spec.name), esc(spec.part), f"{spec.points:g}", str(below), f"{share:.0%}"]
             for spec, below, share in failed]))

    rows = []
    for sid in ids:
        g = gradings[sid]
        link = f"<a href='{esc(sid)}/feedback.html'>{esc(sid)}</a>"
        rows.append([link, f"{g.total(assignment):g}", f"{g.manual_earned(assignment):g}",
                     f"{g.grand_total(assignment):g}", str(len(g.manual_pending(assignment))), str(len(g.flags)),
                     esc(", ".join(failed_notebooks(g))) or "", "yes" if g.grader_error else ""])
    body.append("<h2>Submissions</h2>" + _table(
        ["submission", "automatic", "by hand", "total", "answers pending", "integrity flags",
         "notebooks that failed", "grader error"], rows))

    flags = [(sid, flag) for sid in ids for flag in gradings[sid].flags]
    if flags:
        body.append(f"<h2>Integrity flags ({len(flags)}): for a person to review</h2><ul>"
                    + "".join(f"<li>{esc(sid)}: {esc(flag)}</li>" for sid, flag in flags) + "</ul>")
    broken = [(sid, run) for sid in ids for run in gradings[sid].notebook_runs if not run.ok]
    if broken:
        body.append(f"<h2>Notebook failures ({len(broken)})</h2><ul>"
                    + "".join(f"<li>{esc(sid)}, {esc(run.notebook)}: {esc(run.message)}</li>"
                              for sid, run in broken) + "</ul>")
    errors = [sid for sid in ids if gradings[sid].grader_error]
    if errors:
        body.append(f"<h2>Grader errors ({len(errors)}): regrade these</h2><ul>"
                    + "".join(f"<li>{esc(sid)}</li>" for sid in errors) + "</ul>")
    style = ("body{font-family:sans-serif;max-width:75em;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}img{max-width:100%}")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grading summary</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def write_summary(out_root, assignment, gradings: dict[str, Grading], name: str = "summary.html") -> None:
    report.write_text(Path(out_root) / name, summary_html(assignment, gradings))
