"""Messages a student can act on: known mistakes, the function to fix first, no grader paths.

Three steps, all on the trusted side:

- ``explain``: when a check is failed, its student outputs are compared with the
  outputs of the assignment's known mistakes aimed at that check
  (``assignment/known_mistakes/*.toml``: single-bug variants of the reference,
  each with a hint) on the same hidden inputs. When one matches, its hint joins
  the message ("your saliency equals ...: take the absolute value").
- ``fix_first``: a failed check that runs the functions of another failed,
  narrower check (by ``covers`` in assignment.toml) says to fix that one first:
  a zero ``pe`` buffer fails ``positional_encoding`` and the overfit with it.
- ``public_paths``: absolute paths of the grader's machine (work folders, the
  Python installation) leave every text a student sees.
"""
import re
import sys
import threading

from autograder.checks import core
from autograder.checks.known_mistakes import load_mistakes, make_mutant
from autograder.process_tmp import process_folder
from autograder.reference import REFERENCE_LOCK, package_modules

MATCH_TOL = core.Tol(1e-6, 1e-3)  # a student's copy of a mistake matches it to rounding
_lock = threading.Lock()
_state = {"mistakes": None, "folder": None}
_roots, _outputs = {}, {}


def _mistakes_for(name):
    with _lock:
        if _state["mistakes"] is None:
            try:
                _state["mistakes"] = load_mistakes()
            except Exception:  # a broken catalogue costs hints, never a grade
                _state["mistakes"] = []
    return [m for m in _state["mistakes"] if m.check == name]


def _mutant_root(mistake):
    with _lock:
        if mistake not in _roots:
            if _state["folder"] is None:
                _state["folder"] = process_folder("cs231n-mistakes-")
            folder = _state["folder"] / f"m{len(_roots)}"
            _roots[mistake] = make_mutant(mistake, folder)
        return _roots[mistake]


def mistake_outputs(name, mistake, inputs, seed):
    """The outputs of check ``name`` run on ``mistake``'s package (cached per seed), or None."""
    from autograder.checks.local import run_student

    key = (name, mistake, seed)
    if key not in _outputs:
        check = core.REGISTRY[name]  # graded already, so imported
        try:
            with REFERENCE_LOCK:
                outputs, error = run_student(check, package_modules(_mutant_root(mistake), check.modules), inputs)
        except Exception:
            outputs, error = None, "the mistake could not be built"
        _outputs[key] = None if error else outputs
    return _outputs[key]


def _same(got, outputs):
    """Every output of the mistake is also the student's, to rounding."""
    return all(k in got and core.compare_arrays(k, got[k], v, MATCH_TOL).ok for k, v in outputs.items())


def matching_hint(name, got, inputs, expected, seed):
    """The hint of the first known mistake of check ``name`` whose outputs equal ``got``, or ""."""
    for mistake in _mistakes_for(name):
        outputs = mistake_outputs(name, mistake, inputs, seed)
        if outputs is not None and not _same(outputs, expected) and _same(got, outputs):
            return mistake.hint
    return ""


def explain(result, got, inputs, expected, seed):
    """``result`` with the hint of a matching known mistake added to its message.

    Also for outputs refused by their schema (a known mistake may return a wrong
    shape): matching reads a value of ``got`` only where its shape equals the
    mistake's output, so the cost is bounded by the mistakes' own outputs.
    """
    if result.fraction >= 1 or not got:
        return result
    try:
        hint = matching_hint(result.name, got, inputs, expected, seed)
    except Exception:  # a diagnosis that fails costs the hint, never the grade
        hint = ""
    result.hint = hint
    return result


def fix_first(results, specs):
    """Set ``fix_first`` of each failed check whose covers strictly contain a failed check's
    covers: the narrowest such checks, whose code this one runs too.

    ``results``: {name: Result}; ``specs``: {name: assignment check spec with ``covers``}.
    """
    failed = {n for n, r in results.items() if r.fraction < 1 and n in specs}
    for name in sorted(failed):
        mine = set(specs[name].covers)
        narrower = [d for d in sorted(failed) if d != name and set(specs[d].covers) < mine]
        # keep the narrowest: a candidate that contains another candidate adds nothing
        results[name].fix_first = [d for d in narrower
                                   if not any(set(specs[e].covers) < set(specs[d].covers) for e in narrower)]
    return results


def suspects(name, results, specs) -> list[str]:
    """The functions to look at for failed check ``name`` (``covers`` entries, "file:function").

    The covers of the failed narrower checks it runs (``fix_first``) when there are any,
    else its own; less those a passed narrower check already vouches for (a loss check
    whose layers all pass points at the loss); all of them when every one is vouched for.
    """
    result, mine = results[name], list(specs[name].covers)
    candidates = list(dict.fromkeys(c for d in result.fix_first for c in specs[d].covers)) or mine
    vouched = {c for d, r in results.items() if d != name and d in specs and r.fraction >= 1
               and set(specs[d].covers) < set(mine) for c in specs[d].covers}
    return [c for c in candidates if c not in vouched] or candidates


def _functions(covers) -> str:
    """"f and g in cs231n/a.py; h in cs231n/b.py" from ["cs231n/a.py:f", ...]."""
    by_file = {}
    for entry in covers:
        path, _, function = entry.partition(":")
        by_file.setdefault(path, []).append(function)
    return "; ".join(f"{', '.join(names[:-1]) + ' and ' if len(names) > 1 else ''}{names[-1]} in {path}"
                     for path, names in by_file.items())


def advice(name, results, specs) -> str:
    """What a student reads for check ``name``: for a failed check, first the function to
    fix, then the likely cause (a known mistake's hint), then what was measured."""
    result = results[name]
    if result.fraction >= 1:
        return result.message
    where = _functions(suspects(name, results, specs))
    if result.fix_first:
        checks = ", ".join(result.fix_first)
        lines = [f"Fix {where} first: {'its check' if len(result.fix_first) == 1 else 'their checks'} "
                 f"({checks}) failed too, and this check runs that code."]
    else:
        lines = [f"Look at {where}."]
    if result.hint:
        lines.append(f"Likely cause: {result.hint.rstrip('.')}.")
    lines.append(f"What we measured: {result.message}")
    return " ".join(lines)


_PATH_CHARS = r"[^\s\"'<>:/\\]"
_ABSOLUTE = rf"(?<![\w:/.~>-])(?:/{_PATH_CHARS}+)+/"


def public_paths(text, roots=()):
    """``text`` without absolute paths of the grader's machine.

    ``roots`` (work folders) are cut first; then a student module keeps its path
    from ``cs231n/``, the grader's library becomes ``<grader>/``, the Python
    installation ``<python>/``, and any other absolute path only its last name.
    """
    for root in sorted({str(r).rstrip("/") for r in roots if str(r).strip("/")}, key=len, reverse=True):
        text = text.replace(root + "/", "")
    text = re.sub(_ABSOLUTE + r"(?=cs231n/)", "", text)
    text = re.sub(_ABSOLUTE + r"\.grader/autograder/", "<grader>/", text)
    text = re.sub(_ABSOLUTE + r"(?:site|dist)-packages/", "<python>/", text)
    for prefix in {sys.prefix, sys.base_prefix}:
        text = text.replace(prefix.rstrip("/") + "/", "<python>/")
    return re.sub(_ABSOLUTE + rf"(?={_PATH_CHARS})", "", text)
