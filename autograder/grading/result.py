"""One graded submission as one object, from intake to every report.

``Grading`` is filled in while a submission is graded (grade.py) and every
report is rendered from it: results.json and feedback.html (report.py),
grading.json (``Grading.to_json``), the gradebook row and the batch summary
(batch.py), the command line's score table. A submission graded earlier comes
back from its grading.json with ``Grading.from_json``; no report is ever made by
re-reading another report's text.

Scores live in one place: ``Grading.points`` for one check, ``part_scores`` per
part, ``total`` for the submission.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from autograder.checks import core
from autograder.grading.execute import NotebookRun

GRADING_FILE = "grading.json"
NOT_GRADED = "not graded: see the problems above"
GRADER_FAULT = "the grader hit an internal error; your instructor has been told and will regrade"
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text) -> str:
    """``text`` as a string that any UTF-8 writer accepts (lone surrogates become U+FFFD)."""
    return _SURROGATE.sub("\ufffd", text if isinstance(text, str) else str(text))


@dataclasses.dataclass
class Grading:
    """Everything known about one graded submission.

    ``results``: check name -> ``core.Result``; ``problems``: what was wrong with
    the submission, in words; ``notebook_runs``: one ``NotebookRun`` per executed
    notebook; ``flags``: integrity flags for a person to read; ``notes``: remarks
    about the grading itself (shown first); ``grader_error``: the grader's own
    fault, if any (the scores are then all zero); ``answers``: grade id -> the
    text of each written answer as handed in (for the person who grades it);
    ``manual``: grade id -> the points a person gave it (absent: still pending).
    """

    submission: str
    results: dict[str, core.Result] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    notebook_runs: list[NotebookRun] = dataclasses.field(default_factory=list)
    flags: list[str] = dataclasses.field(default_factory=list)
    wall_s: float = 0.0
    grader_error: str = ""
    fingerprint: str = ""
    grading_key: str = ""  # kit.grading_key: the kit and options it was graded with
    notes: list[str] = dataclasses.field(default_factory=list)
    answers: dict[str, str] = dataclasses.field(default_factory=dict)
    manual: dict[str, float] = dataclasses.field(default_factory=dict)

    # --- scores: the one place they are computed

    def points(self, spec) -> float:
        """Points earned on the check ``spec`` (an assignment ``CheckSpec``)."""
        result = self.results.get(spec.name)
        return result.points(spec.points) if result else 0.0

    def advice(self, assignment, name: str) -> str:
        """What the student reads for check ``name``: for a failed check the function to
        fix, the likely cause, then the numbers (``diagnosis.advice``)."""
        from autograder.checks.diagnosis import advice

        return advice(name, self.results, assignment.checks) if name in self.results else "not graded"

    def part_scores(self, assignment) -> dict[str, tuple[float, float]]:
        """{part id: (earned, automatic maximum)}, in the assignment's order."""
        scores = {}
        for part_id in assignment.parts:
            specs = assignment.checks_of(part_id)
            scores[part_id] = (round(float(sum(self.points(s) for s in specs)), 4),
                               float(sum(s.points for s in specs)))
        return scores

    def total(self, assignment) -> float:
        """The automatic score: every check's points, summed in the assignment's order."""
        return round(float(sum(self.points(s) for p in assignment.parts for s in assignment.checks_of(p))), 4)

    def manual_earned(self, assignment) -> float:
        """Points given by hand so far (each within its question's points)."""
        return round(float(sum(min(max(self.manual[g], 0.0), spec.points)
                               for g, spec in assignment.manual.items() if g in self.manual)), 4)

    def manual_pending(self, assignment) -> list[str]:
        """Grade ids of the written answers nobody has graded yet, in the assignment's order."""
        return [g for g in assignment.manual if g not in self.manual]

    def grand_total(self, assignment) -> float:
        """The automatic score plus the points given by hand so far."""
        return round(self.total(assignment) + self.manual_earned(assignment), 4)

    # --- keeping the object whole

    def fill_missing(self, assignment, message: str = NOT_GRADED) -> None:
        """Give every check of ``assignment`` without a result a zero with ``message``."""
        for spec in assignment.checks.values():
            self.results.setdefault(spec.name, core.Result(spec.name, 0.0, message))

    def fail(self, assignment, error: str) -> None:
        """Record a fault of the grader: every check scores zero, and the report says why."""
        self.grader_error = clean_text(error)[-4000:] or "unknown error"
        self.results = {}
        self.fill_missing(assignment, "not graded: " + GRADER_FAULT)
        if GRADER_FAULT not in self.problems:
            self.problems.append(GRADER_FAULT)

    def clean(self) -> None:
        """Make every text writable as UTF-8 (JSON, HTML and CSV writers refuse lone surrogates)."""
        self.submission = clean_text(self.submission)
        for result in self.results.values():
            result.message = clean_text(result.message)
            result.error = clean_text(result.error)
        self.problems = [clean_text(p) for p in self.problems]
        self.flags = [clean_text(f) for f in self.flags]
        self.notes = [clean_text(n) for n in self.notes]
        self.grader_error = clean_text(self.grader_error)
        self.answers = {clean_text(k): clean_text(v) for k, v in self.answers.items()}
        for run in self.notebook_runs:
            run.notebook, run.message = clean_text(run.notebook), clean_text(run.message)

    # --- grading.json

    def to_json(self, assignment) -> dict:
        """grading.json's dict: the whole Grading, plus its scores for people and scripts."""
        return {
            "submission": self.submission,
            "fingerprint": self.fingerprint,
            "grading_key": self.grading_key,
            "score": self.total(assignment),
            "manual_score": self.manual_earned(assignment),
            "manual_pending": self.manual_pending(assignment),
            "parts": {k: v[0] for k, v in self.part_scores(assignment).items()},
            "grader_error": self.grader_error,
            "flags": list(self.flags),
            "problems": list(self.problems),
            "notes": list(self.notes),
            "wall_s": self.wall_s,
            "notebooks": {r.notebook: {"ok": r.ok, "message": r.message, "wall_s": round(r.wall_s, 2),
                                       "limits_hit": list(r.limits_hit or []),
                                       "executed": bool(r.executed)}
                          for r in self.notebook_runs},
            "results": {name: {"fraction": r.fraction, "message": r.message, "error": r.error[-4000:],
                               "hint": r.hint, "fix_first": list(r.fix_first)}
                        for name, r in self.results.items()},
            "answers": dict(self.answers),
            "manual": dict(self.manual),
        }

    @classmethod
    def from_json(cls, data: dict, out_dir: Path | None = None) -> Grading:
        """The Grading that ``to_json`` wrote; ``out_dir`` locates kept executed notebooks.

        Raises ValueError when ``data`` is not such a dict.
        """
        if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
            raise ValueError("not a grading.json written by this grader")
        try:
            return cls._from_dict(data, out_dir)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"a malformed grading.json ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_dict(cls, data: dict, out_dir: Path | None) -> Grading:
        results = {str(name): core.Result(str(name), float(r["fraction"]), str(r["message"]),
                                          error=str(r.get("error", "")), hint=str(r.get("hint", "")),
                                          fix_first=[str(d) for d in r.get("fix_first", [])])
                   for name, r in data["results"].items()}
        runs = []
        for name, run in dict(data.get("notebooks", {})).items():
            executed = Path(out_dir) / "executed" / name if out_dir is not None and run.get("executed") else None
            runs.append(NotebookRun(name, bool(run["ok"]), str(run["message"]), float(run["wall_s"]),
                                    limits_hit=list(run.get("limits_hit", [])), executed=executed))
        return cls(submission=str(data.get("submission", "")), results=results,
                   problems=[str(p) for p in data.get("problems", [])], notebook_runs=runs,
                   flags=[str(f) for f in data.get("flags", [])], wall_s=float(data.get("wall_s", 0.0)),
                   grader_error=str(data.get("grader_error", "")), fingerprint=str(data.get("fingerprint", "")),
                   grading_key=str(data.get("grading_key", "")),
                   notes=[str(n) for n in data.get("notes", [])],
                   answers={str(k): str(v) for k, v in dict(data.get("answers", {})).items()},
                   manual={str(k): float(v) for k, v in dict(data.get("manual", {})).items()})

    def save(self, out_dir: Path, assignment) -> None:
        """Write ``out_dir/grading.json``."""
        (Path(out_dir) / GRADING_FILE).write_text(json.dumps(self.to_json(assignment), indent=2),
                                                  encoding="utf-8")

    @classmethod
    def load(cls, out_dir: Path) -> Grading:
        """The Grading saved in ``out_dir/grading.json`` (OSError or ValueError if there is none)."""
        data = json.loads((Path(out_dir) / GRADING_FILE).read_text(encoding="utf-8"))
        return cls.from_json(data, out_dir)
