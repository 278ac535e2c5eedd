"""Spreading one submission's work over parallel lanes, longest task first.

A task is the hidden checks or one notebook; its cost is a rough number of
seconds (assignment.toml, [expected_seconds]). Each task goes to the lane with
the least work so far (the classic longest-processing-time rule, within 4/3 of
the best possible finish time). Tasks keep their lane's order.
"""


def plan_lanes(costs: dict, lanes: int) -> list[list]:
    """Split ``costs`` ({task: seconds}) over at most ``lanes`` lanes.

    Returns a list of non-empty lists of tasks; ties keep the given order.
    """
    order = sorted(costs, key=lambda task: -costs[task])  # sorted() is stable
    count = max(1, min(int(lanes), len(order)))
    plan, load = [[] for _ in range(count)], [0.0] * count
    for task in order:
        lane = min(range(count), key=lambda i: load[i])
        plan[lane].append(task)
        load[lane] += costs[task]
    return [lane for lane in plan if lane]
