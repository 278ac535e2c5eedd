"""summary.html and gradebook.csv for a made-up batch whose numbers are known by construction."""
import csv
import statistics

import pytest

from autograder.assignment import load_assignment
from autograder.grading import batch
from autograder.grading.execute import NotebookRun
from autograder.grading.result import Grading
from autograder.grading.summary import most_failed, quantiles, summary_html

FULL = load_assignment()
PART = next(iter(FULL.parts))
SPECS = FULL.checks_of(PART)


def graded(fraction_of, flags=(), failed=(), manual=None):
    """A Grading whose every check scores ``fraction_of(check name)``."""
    grading = Grading("x")
    grading.fill_missing(FULL)
    for name, result in grading.results.items():
        result.fraction = fraction_of(name)
    grading.flags = list(flags)
    grading.notebook_runs = [NotebookRun(nb, False, "the cell In [3] raised ValueError", 1.0) for nb in failed]
    grading.manual = manual or {}
    return grading


@pytest.fixture
def gradings():
    hard = SPECS[0].name  # failed by two of three
    return {
        "full": graded(lambda n: 1.0, manual={next(iter(FULL.manual)): 1.0}),
        "half": graded(lambda n: 0.0 if n == hard else 0.5, flags=["torch used in a numpy function"]),
        "<b>odd</b>": graded(lambda n: 0.0, failed=["RNN_Captioning.ipynb"]),
    }


def test_quantiles():
    assert quantiles([]) == (0.0, 0.0, 0.0) and quantiles([4.0]) == (4.0, 4.0, 4.0)
    assert quantiles([0.0, 1.0, 2.0, 3.0, 4.0]) == (1.0, 2.0, 3.0)


def test_the_checks_most_often_failed_come_first(gradings):
    rows = most_failed(FULL, gradings)
    top_spec, below, share = rows[0]
    assert top_spec.name == SPECS[0].name and below == 2 and share == pytest.approx(1 / 3)
    assert all(row[1] == 2 for row in rows), "every other check: 'half' and '<b>odd</b>' below full marks"


def test_summary_shows_parts_failures_links_flags_and_notebooks(gradings):
    page = summary_html(FULL, gradings)
    assert "3 submissions" in page and "data:image/png;base64," in page
    values = [g.part_scores(FULL)[PART][0] for g in gradings.values()]
    assert f"{statistics.fmean(values):.2f}" in page
    assert "<a href='full/feedback.html'>full</a>" in page
    assert "&lt;b&gt;odd&lt;/b&gt;/feedback.html" in page and "<b>odd</b>" not in page
    assert "torch used in a numpy function" in page and "Integrity flags (1)" in page
    assert "Notebook failures (1)" in page and "RNN_Captioning.ipynb: the cell In [3] raised ValueError" in page
    assert "Checks most often failed" in page and SPECS[0].name in page
    pending = 3 * len(FULL.manual) - 1
    assert f"{pending} answers still pending" in page


def test_the_gradebook_has_the_same_columns(tmp_path, gradings):
    batch.write_gradebook(tmp_path, FULL, gradings)
    rows = {r["submission"]: r for r in csv.DictReader(open(tmp_path / "gradebook.csv"))}
    assert rows["half"]["integrity_flags"] == "1" and rows["full"]["integrity_flags"] == "0"
    assert rows["<b>odd</b>"]["failed_notebooks"] == "RNN_Captioning.ipynb"
    assert float(rows["full"]["manual"]) == 1.0 and float(rows["full"]["total"]) == FULL.auto_points() + 1.0
    for sid, grading in gradings.items():
        assert float(rows[sid][PART]) == grading.part_scores(FULL)[PART][0]
