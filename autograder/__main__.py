"""Command line of the course tools.

    python -m autograder grade SUBMISSION... --out DIR   grade zips or folders
        [--scheduler tcp://HOST:PORT]                     ... on a Dask cluster
    python -m autograder demo [--out DIR]                 build, make 3 demo submissions, grade
    python -m autograder release [--out DIR]              build the student kit
    python -m autograder nbgrader-course [--out DIR]      stage a course folder for nbgrader
    python -m autograder nbgrader-autograde NAME --course DIR   grade an nbgrader course into its gradebook
    python -m autograder gradescope [--out ZIP]           build Gradescope's autograder zip
"""
import argparse
import gc
import os
import sys
from pathlib import Path

from autograder.assignment import ROOT, load_assignment


def _grade_options(args):
    from autograder.grading.grade import Options
    known = [part.notebook for part in load_assignment().parts.values()]
    unknown = sorted(set(args.notebooks or ()) - set(known))
    if unknown:
        raise SystemExit(f"grade: --notebooks: no part has {', '.join(unknown)}; "
                         f"the notebooks are {', '.join(known)}")
    from autograder.checks.local import DEFAULT_SEED
    return Options(release_dir=Path(args.release).resolve(), seed=DEFAULT_SEED if args.seed is None else args.seed,
                   allow_unsandboxed=args.allow_unsandboxed,
                   execute_notebooks=not args.no_notebooks,
                   notebooks=tuple(args.notebooks) if args.notebooks else None)


def _require_sandbox_or_permission(args):
    from autograder.sandbox.launcher import SandboxUnavailable, require_sandbox
    try:
        require_sandbox()
    except SandboxUnavailable as exc:
        if not args.allow_unsandboxed:
            print(f"grade: refusing to run student code: {exc}", file=sys.stderr)
            return False
        print("grade: WARNING: running student code WITHOUT a sandbox (--allow-unsandboxed)",
              file=sys.stderr)
    return True


def score_table(assignment, gradings) -> str:
    """A plain-text table: one row per submission ({id: result.Grading}), a column per part, the total."""
    parts = list(assignment.parts)
    head = ["submission", *parts, "total"]
    rows = [head, ["(max)", *[f"{assignment.auto_points(p):g}" for p in parts], f"{assignment.auto_points():g}"]]
    for sid, grading in sorted(gradings.items()):
        per_part = grading.part_scores(assignment)
        rows.append([sid, *[f"{per_part[p][0]:g}" for p in parts], f"{grading.total(assignment):g}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def _cluster_step(scheduler: str, options):
    """A ClusterStep connected to ``scheduler`` with its workers checked (Dask is imported
    only here); raises SystemExit with the reason when the cluster cannot grade."""
    from autograder.grading.cluster import ClusterError, ClusterStep, check_options
    try:
        check_options(options)
        return ClusterStep.connect(scheduler)
    except ClusterError as exc:
        print(f"grade: --scheduler: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_grade(args):
    from autograder.grading.batch import grade_all
    from autograder.grading.manual import ManualScoresError, read_manual_scores
    if not args.scheduler and not _require_sandbox_or_permission(args):
        return 2
    assignment = load_assignment()
    options = _grade_options(args)
    try:
        given = read_manual_scores(args.manual, assignment) if args.manual else None
        step = _cluster_step(args.scheduler, options) if args.scheduler else None
        try:
            gradings = grade_all(args.submissions, args.out, workers=args.workers, force=args.force,
                                 options=options, manual_scores=given, step=step)
        finally:
            if step is not None:
                step.close()
    except ManualScoresError as exc:
        print(f"grade: --manual: {exc}", file=sys.stderr)
        return 1
    print(score_table(assignment, gradings))
    out = Path(args.out).resolve()
    print(f"\nReports in {out} (gradebook.csv, summary.html, <submission>/feedback.html).")
    if assignment.manual:
        print(f"Written answers ({assignment.manual_points():g} points) are graded by hand: "
              f"{out / 'written_answers' / 'index.html'} shows them by question with the mark schemes "
              f"(staff only); enter points in {out / 'manual_scores.csv'} and grade again with --manual.")
    return 0


def cmd_demo(args):
    from autograder.grading.batch import grade_all
    from autograder.release.demo_submissions import make_demo_submissions
    from autograder.release.build import build_release
    if not _require_sandbox_or_permission(args):
        return 2
    out = Path(args.out).resolve()
    release_dir = build_release(out / "release")
    print(f"demo: built the student release in {release_dir}")
    submissions = make_demo_submissions(out / "submissions", release_dir)
    print(f"demo: made {len(submissions)} submissions: " + ", ".join(p.name for p in submissions))
    args.release = str(release_dir)
    gradings = grade_all(submissions, out / "graded", workers=args.workers, force=True,
                         options=_grade_options(args))
    print(score_table(load_assignment(), gradings))
    graded = out / "graded"
    print(f"\nFeedback pages: {graded}/<submission>/feedback.html; gradebook: {graded / 'gradebook.csv'}")
    return 0


def cmd_release(args):
    from autograder.release.build import main
    return main(["--out", args.out])


def cmd_nbgrader_course(args):
    from autograder.release.build import make_nbgrader_course
    root = make_nbgrader_course(Path(args.out).resolve())
    print(f"nbgrader-course: course folder ready in {root} (see README, 'Grading with nbgrader')")
    return 0


def cmd_nbgrader_autograde(args):
    from autograder.grading.nbgrader_course import CourseError, grade_course
    if not _require_sandbox_or_permission(args):
        return 2
    from autograder.release.build import course_seed
    assignment = load_assignment()
    if args.seed is None and "CS231N_GRADER_SEED" not in os.environ:
        args.seed = course_seed(args.course)  # the course's own, as nbgrader's kernels use it
    if args.assignment != assignment.name:
        raise SystemExit(f"nbgrader-autograde: this kit grades {assignment.name}, not {args.assignment}")
    try:
        gradings = grade_course(args.course, assignment, args.student, workers=args.workers, force=args.force,
                                options=_grade_options(args), db_url=args.db_url)
    except CourseError as exc:
        print(f"nbgrader-autograde: {exc}", file=sys.stderr)
        return 1
    print(score_table(assignment, gradings))
    course = Path(args.course).resolve()
    print(f"\nautograded/<student>/{assignment.name}/ and the gradebook are written in {course}; "
          f"the grader's reports are in {course / 'graded' / assignment.name}. Written answers "
          f"({assignment.manual_points():g} points) wait for formgrader.")
    return 0


def cmd_gradescope(args):
    from autograder.release.gradescope import build_gradescope_zip, written_questions_path
    path = build_gradescope_zip(Path(args.out).resolve())
    print(f"gradescope: wrote {path}\ngradescope: the written part's questions (add them as manually graded "
          f"questions): {written_questions_path(path)}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def grading_flags(p):
        p.add_argument("--workers", type=int, default=None, help="parallel submissions (default: all cores)")
        p.add_argument("--seed", type=int, default=None, help="secret seed of the hidden inputs")
        p.add_argument("--allow-unsandboxed", action="store_true",
                       help="run student code without bubblewrap (trusted submissions only)")
        p.add_argument("--no-notebooks", action="store_true", help="run the hidden checks only")
        p.add_argument("--notebooks", nargs="+", metavar="NOTEBOOK",
                       help="execute only these notebooks (file names); the hidden checks all run")

    g = sub.add_parser("grade", help="grade submissions (zips or folders, or folders of them)")
    g.add_argument("submissions", nargs="+")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--release", default=str(ROOT / "release"), help="the student kit to stage from")
    g.add_argument("--force", action="store_true", help="regrade submissions already graded")
    g.add_argument("--manual", metavar="CSV", help="points given by hand: a filled-in manual_scores.csv "
                                                  "(the batch writes its template); merged into every report")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                   help="grade on this Dask cluster (workers started with --preload "
                        "autograder.grading.cluster_worker; see autograder/grading/cluster.py)")
    grading_flags(g)
    g.set_defaults(func=cmd_grade)

    d = sub.add_parser("demo", help="build the release, make three demo submissions and grade them")
    d.add_argument("--out", default=str(ROOT / "out" / "demo"))
    grading_flags(d)
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("release", help="build the student kit")
    r.add_argument("--out", default=str(ROOT / "release"))
    r.set_defaults(func=cmd_release)

    n = sub.add_parser("nbgrader-course", help="stage an nbgrader course folder to grade with nbgrader")
    n.add_argument("--out", default=str(ROOT / "out" / "nbgrader_course"))
    n.set_defaults(func=cmd_nbgrader_course)

    a = sub.add_parser("nbgrader-autograde", help="grade an nbgrader course's submissions into its "
                                                  "autograded folders and gradebook, in the sandbox")
    a.add_argument("assignment", help="the assignment's name in the course")
    a.add_argument("--course", required=True, help="the nbgrader course folder (holding submitted/)")
    a.add_argument("--student", nargs="+", help="grade only these students")
    a.add_argument("--db-url", default=None, help="the gradebook (default: the course's nbgrader_config.py, "
                                                  "else sqlite:///COURSE/gradebook.db)")
    a.add_argument("--release", default=str(ROOT / "release"), help="the student kit to stage from")
    a.add_argument("--force", action="store_true", help="regrade submissions already graded")
    grading_flags(a)
    a.set_defaults(func=cmd_nbgrader_autograde)

    s = sub.add_parser("gradescope", help="build the Gradescope autograder zip")
    s.add_argument("--out", default=str(ROOT / "out" / "gradescope_autograder.zip"))
    s.set_defaults(func=cmd_gradescope)

    args = parser.parse_args(argv)
    return args.func(args)


def exit_with(code):
    """Exit without the interpreter's last garbage collections: they would walk every object
    left (torch's, a batch's) to free memory the operating system takes back anyway, 0.5-2
    s of CPU after the work is done. Frozen objects are skipped."""
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    exit_with(main())
