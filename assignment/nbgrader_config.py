"""nbgrader configuration for CS231n Assignment 3.

The release command (`python -m autograder release`) copies this file into the
nbgrader course it stages; instructors who grade with nbgrader use the course
folder made by `python -m autograder nbgrader-course` (see README), and run
nbgrader there through `scripts/nbgrader.sh`.
"""
c = get_config()  # noqa: F821  (provided by nbgrader)

c.CourseDirectory.course_id = "cs231n"
# Points live in assignment/assignment.toml; the release command writes them
# into the notebooks' grade cells, so nbgrader sees the same numbers.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
# Autograding executes every notebook; keep a stuck cell from stalling a class.
c.ExecutePreprocessor.timeout = 600
c.ExecutePreprocessor.interrupt_on_timeout = True
