"""assignment/assignment.toml: the real file loads, and mistakes are named."""
import copy
import tomllib

import pytest

from autograder.assignment import ASSIGNMENT_FILE, HIDDEN_CHECKS, AssignmentError, load_assignment, parse_assignment

DATA = tomllib.loads(ASSIGNMENT_FILE.read_text())


def edited(**changes):
    data = copy.deepcopy(DATA)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_the_real_file_loads_with_a_cost_for_every_part_and_the_checks():
    assignment = load_assignment()
    assert set(assignment.expected_seconds) == {*assignment.parts, HIDDEN_CHECKS}
    assert all(seconds > 0 for seconds in assignment.expected_seconds.values())
    assert assignment.limits.max_output_mb > 0


def test_missing_expected_seconds_default_to_one_second():
    assignment = parse_assignment(edited(expected_seconds={"gan": 18}))
    assert assignment.expected_seconds["gan"] == 18 and assignment.expected_seconds["rnn"] == 1.0
    assert parse_assignment(edited(expected_seconds=None)).expected_seconds[HIDDEN_CHECKS] == 1.0


@pytest.mark.parametrize("table, message", [
    ({"gann": 3}, "unknown keys ['gann']"),
    ({"gan": -1}, "'gan' must be positive"),
    ({"gan": "slow"}, "'gan' has the wrong type"),
])
def test_bad_expected_seconds_are_named(table, message):
    with pytest.raises(AssignmentError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_assignment(edited(expected_seconds=table))


def test_a_missing_limit_is_named():
    limits = dict(DATA["limits"])
    del limits["max_output_mb"]
    with pytest.raises(AssignmentError, match="missing 'max_output_mb'"):
        parse_assignment(edited(limits=limits))
