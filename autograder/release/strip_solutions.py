"""Replace the solution regions of a Python module with stubs (release step).

A region is the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
(markers included). It becomes one line at the marker's indentation:
``raise NotImplementedError("<function>: ...")``, naming the enclosing function
so a student's traceback says which stub was hit. Code outside regions is kept
byte for byte. nbgrader does this for notebooks; this does it for ``.py`` files.
"""
import re

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)|^\s*class\s+(\w+)")


class SolutionRegionError(ValueError):
    """Malformed markers; the message names the file and line."""


def _enclosing_name(lines, index, indent):
    """Name of the innermost def (with its class) that encloses line ``index``."""
    names, limit = [], len(indent)
    for line in reversed(lines[:index]):
        match = _DEF.match(line)
        if match and len(line) - len(line.lstrip()) < limit:
            names.append(match.group(1) or match.group(2))
            limit = len(line) - len(line.lstrip())
            if limit == 0:
                break
    return ".".join(reversed(names)) or "module"


def strip_solutions(source, filename="<module>"):
    """Return ``source`` with every solution region replaced by a stub."""
    lines = source.splitlines(keepends=True)
    out, region_start = [], None
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == BEGIN:
            if region_start is not None:
                raise SolutionRegionError(f"{filename}:{number}: '{BEGIN}' inside the region "
                                          f"opened at line {region_start}")
            region_start = number
            indent = line[: len(line) - len(line.lstrip())]
            name = _enclosing_name(lines, number - 1, indent)
            out.append(f'{indent}raise NotImplementedError("{name}: replace this line with your code")\n')
        elif marker == END:
            if region_start is None:
                raise SolutionRegionError(f"{filename}:{number}: '{END}' without a matching '{BEGIN}'")
            region_start = None
        elif region_start is None:
            out.append(line)
    if region_start is not None:
        raise SolutionRegionError(f"{filename}:{region_start}: '{BEGIN}' is never closed by '{END}'")
    return "".join(out)


def count_regions(source):
    """Number of solution regions in ``source``."""
    return sum(1 for line in source.splitlines() if line.strip() == BEGIN)
