"""The assignment's definition (assignment/assignment.toml) as Python objects.

One place for parts, points, student-editable files and limits: notebooks,
the release command, the autograder and the tests all read them from here.
``load_assignment`` validates the file and names what is wrong.
"""
import dataclasses
import functools
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT_FILE = ROOT / "assignment" / "assignment.toml"


class AssignmentError(ValueError):
    """assignment.toml is malformed; the message names the entry."""


@dataclasses.dataclass(frozen=True)
class Part:
    id: str
    title: str
    notebook: str
    # package paths only this part uses ("cs231n/simclr/": a folder): left out with the part
    files: tuple = ()


@dataclasses.dataclass(frozen=True)
class CheckSpec:
    name: str
    part: str
    points: float
    covers: tuple


@dataclasses.dataclass(frozen=True)
class ManualSpec:
    """A manually graded answer cell (inline question, derivation)."""

    grade_id: str
    part: str
    points: float


@dataclasses.dataclass(frozen=True)
class Limits:
    notebook_wall_s: float
    cell_wall_s: float
    checks_wall_s: float
    check_wall_s: float
    memory_mb: int
    max_processes: int
    max_file_mb: int
    max_output_mb: int
    max_disk_mb: int
    max_upload_mb: int
    max_upload_files: int
    # Optional in assignment.toml (these defaults otherwise): a submitted notebook larger
    # than max_notebook_mb or with more cells than max_notebook_cells is not parsed.
    max_notebook_mb: int = 32
    max_notebook_cells: int = 2000
    # Optional too: wall-clock seconds for scoring one hidden check's outputs on the
    # trusted side (autograder.checks.core.score_within); a check that takes longer scores 0.
    score_wall_s: float = 20.0


@dataclasses.dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    student_files: tuple
    parts: dict
    checks: dict
    manual: dict
    limits: Limits
    # rough seconds per part's notebook (fast mode, one core) and for "hidden_checks":
    # only used to balance a submission's work across parallel lanes
    expected_seconds: dict = dataclasses.field(default_factory=dict)
    # omit_parts: the parts left out (their Part), and the package paths that go with them
    omitted: dict = dataclasses.field(default_factory=dict)

    @property
    def omitted_files(self):
        """Package paths of the omitted parts (``files``): not released, not staged."""
        return files_of(self.omitted.values())

    def is_omitted_file(self, path):
        """True when ``path`` (relative to the assignment folder) belongs to an omitted part."""
        return owned_by(self.omitted_files, path)

    def checks_of(self, part_id):
        return [c for c in self.checks.values() if c.part == part_id]

    def points_of(self, grade_id):
        """Points of a check or a manually graded cell by its grade id, or None."""
        spec = self.checks.get(grade_id) or self.manual.get(grade_id)
        return spec.points if spec else None

    def auto_points(self, part_id=None):
        return sum(c.points for c in self.checks.values() if part_id in (None, c.part))

    def manual_points(self, part_id=None):
        """Points graded by hand (written answers), of one part or of all."""
        return sum(m.points for m in self.manual.values() if part_id in (None, m.part))


def _require(table, key, where, kind):
    """``table[key]``, or AssignmentError naming the entry when absent or mistyped."""
    if key not in table:
        raise AssignmentError(f"{where}: missing '{key}'")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise AssignmentError(f"{where}: '{key}' has the wrong type: {value!r}")
    return value


def owns(prefix, path):
    """True when ``path`` is the file ``prefix`` or lies in the folder ``prefix`` ("x/")."""
    prefix, path = str(prefix), str(path)
    return path == prefix.rstrip("/") or path.startswith(prefix.rstrip("/") + "/")


def owned_by(prefixes, path):
    """True when ``path`` is one of ``prefixes`` or lies in one of them (``owns``)."""
    return any(owns(prefix, path) for prefix in prefixes)


def files_of(parts):
    """The package paths (``files``) of ``parts``, in order."""
    return tuple(path for part in parts for path in part.files)


def _parts(data, source):
    parts = {}
    for i, table in enumerate(_require(data, "parts", source, list)):
        where = f"{source}: parts[{i}]"
        files = tuple(_require(table, "files", where, list)) if "files" in table else ()
        if not all(isinstance(f, str) and f.strip("/") for f in files):
            raise AssignmentError(f"{where}: 'files' should list paths relative to the assignment folder")
        part = Part(_require(table, "id", where, str), _require(table, "title", where, str),
                    _require(table, "notebook", where, str), files)
        if part.id in parts:
            raise AssignmentError(f"{where}: duplicate part id '{part.id}'")
        parts[part.id] = part
    return parts


def _omitted(data, parts, source):
    """{part id: Part} named by ``omit_parts`` (every id must be a part's)."""
    omit = _require(data, "omit_parts", source, list) if "omit_parts" in data else []
    unknown = [p for p in omit if p not in parts]
    if unknown:
        raise AssignmentError(f"{source}: omit_parts names unknown parts {unknown} (parts: {', '.join(parts)})")
    if len(omit) == len(parts):
        raise AssignmentError(f"{source}: omit_parts leaves no part")
    return {p: parts[p] for p in parts if p in omit}


def parse_assignment(data, source="assignment.toml"):
    """Validate the parsed TOML ``data`` and build an Assignment.

    The parts named in ``omit_parts`` are left out of everything that follows
    (checks, written answers, student files under their ``files``, expected
    seconds): the Assignment is the one the offering has.
    """
    name = _require(data, "name", source, str)
    title = _require(data, "title", source, str)
    every_part = _parts(data, source)
    omitted = _omitted(data, every_part, source)
    parts = {p: part for p, part in every_part.items() if p not in omitted}
    omitted_files = files_of(omitted.values())
    student_files = tuple(f for f in _require(data, "student_files", source, list)
                          if not owned_by(omitted_files, f))
    checks = {}
    for check_name, table in _require(data, "checks", source, dict).items():
        where = f"{source}: [checks.{check_name}]"
        part_id = _require(table, "part", where, str)
        if part_id in omitted:
            continue
        if part_id not in parts:
            raise AssignmentError(f"{where}: unknown part '{part_id}' (parts: {', '.join(parts)})")
        points = _require(table, "points", where, (int, float))
        if points <= 0:
            raise AssignmentError(f"{where}: points must be positive, got {points}")
        covers = tuple(_require(table, "covers", where, list))
        for target in covers:
            path = target.split(":", 1)[0]
            if ":" not in target or path not in student_files:
                raise AssignmentError(f"{where}: covers entry '{target}' should be "
                                      "'<student file>:<function>' with a file from student_files")
        checks[check_name] = CheckSpec(check_name, part_id, float(points), covers)
    manual = {}
    for grade_id, table in data.get("manual", {}).items():
        where = f"{source}: [manual.{grade_id}]"
        if grade_id in checks:
            raise AssignmentError(f"{where}: '{grade_id}' is also a check's name")
        part_id = _require(table, "part", where, str)
        if part_id in omitted:
            continue
        if part_id not in parts:
            raise AssignmentError(f"{where}: unknown part '{part_id}' (parts: {', '.join(parts)})")
        points = _require(table, "points", where, (int, float))
        if points <= 0:
            raise AssignmentError(f"{where}: points must be positive, got {points}")
        manual[grade_id] = ManualSpec(grade_id, part_id, float(points))
    limits_table = _require(data, "limits", source, dict)
    limit_fields = {f.name: f.type for f in dataclasses.fields(Limits)}
    unknown = set(limits_table) - set(limit_fields)
    if unknown:
        raise AssignmentError(f"{source}: [limits] has unknown keys {sorted(unknown)}")
    optional = {f.name for f in dataclasses.fields(Limits) if f.default is not dataclasses.MISSING}
    limits = Limits(**{k: _require(limits_table, k, f"{source}: [limits]", (int, float))
                       for k in limit_fields if k in limits_table or k not in optional})
    seconds = {k: v for k, v in data.get("expected_seconds", {}).items() if k not in omitted}
    expected = _expected_seconds(seconds, parts, source)
    return Assignment(name, title, student_files, parts, checks, manual, limits, expected, omitted)


HIDDEN_CHECKS = "hidden_checks"  # the key of all hidden checks in [expected_seconds]


def _expected_seconds(table, parts, source):
    """[expected_seconds]: part ids and 'hidden_checks' to positive seconds (missing: 1 s)."""
    where = f"{source}: [expected_seconds]"
    known = [*parts, HIDDEN_CHECKS]
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise AssignmentError(f"{where}: unknown keys {unknown} (known: {', '.join(known)})")
    seconds = {key: 1.0 for key in known}
    for key in table:
        value = _require(table, key, where, (int, float))
        if value <= 0:
            raise AssignmentError(f"{where}: '{key}' must be positive, got {value}")
        seconds[key] = float(value)
    return seconds


@functools.lru_cache(maxsize=None)
def load_assignment(path=ASSIGNMENT_FILE):
    """Read and validate assignment.toml (cached per path)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{path}: not valid TOML: {exc}") from None
    return parse_assignment(data, source=str(path.name))
