"""A corpus of hostile and broken submissions for the grader (see cases.py)."""
