"""Alternative implementations of one student function, applied to a copy of the reference.

An edit replaces one function (or one method, ``Class.method``) of a student
file with new source text, located by the AST, so an edit keeps applying when
the reference's body changes and fails loudly when the function disappears.
``source`` is the whole ``def`` (decorators included), written at any
indentation; it is re-indented to the function's place. ``extra_imports`` are
lines added at the top of the file (e.g. ``"import torch.nn.functional as F"``).
"""
import ast
import dataclasses
import textwrap
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Alternative:
    """Correct code in a student's idiom: every check keeps full marks with it."""

    id: str
    target: str  # "cs231n/file.py:function" or "cs231n/file.py:Class.method", as in covers
    source: str
    idiom: str  # what a student does differently here, in a few words
    extra_imports: tuple = ()

    @property
    def path(self):
        return self.target.split(":", 1)[0]

    @property
    def function(self):
        return self.target.split(":", 1)[1]


@dataclasses.dataclass(frozen=True)
class Degenerate:
    """Wrong code whose output is degenerate (constant, zeros, the unchanged input,
    NaN): every check in ``zero`` must give it exactly zero points."""

    id: str
    target: str
    source: str
    zero: tuple  # check names
    what: str = ""
    extra_imports: tuple = ()

    path = Alternative.path
    function = Alternative.function


def _find(tree, dotted):
    """The AST node of ``function`` or ``Class.method`` in a module tree."""
    body, node = tree.body, None
    for name in dotted.split("."):
        matches = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                   and n.name == name]
        if len(matches) != 1:
            raise LookupError(f"{dotted}: found {len(matches)} definitions of {name!r}")
        node = matches[0]
        body = node.body
    return node


def _end(lines, node):
    """Index after the last line of ``node``, with the comment lines indented
    inside it that follow its last statement (``### END SOLUTION``)."""
    end = node.end_lineno
    while end < len(lines):
        line = lines[end]
        indent = len(line) - len(line.lstrip())
        if line.strip() and not (line.lstrip().startswith("#") and indent > node.col_offset):
            break
        end += 1
    while end > node.end_lineno and not lines[end - 1].strip():  # keep the blank lines after it
        end -= 1
    return end


def replace_function(text, dotted, source, extra_imports=()):
    """``text`` (a module's source) with ``dotted``'s definition replaced by ``source``."""
    tree = ast.parse(text)
    node = _find(tree, dotted)
    lines = text.splitlines(keepends=True)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    indent = " " * node.col_offset
    new = textwrap.indent(textwrap.dedent(source).strip("\n") + "\n", indent)
    ast.parse(textwrap.dedent(new))  # a syntax error in the corpus fails here, not in grading
    text = "".join(lines[:start]) + new + "".join(lines[_end(lines, node):])
    if extra_imports:
        text = "".join(line + "\n" for line in extra_imports) + text
    return text


def apply_edits(root, edits):
    """Apply ``edits`` (Alternatives or Degenerates) to the package copy under ``root``."""
    root = Path(root)
    for edit in edits:
        file = root / edit.path
        file.write_text(replace_function(file.read_text(), edit.function, edit.source, edit.extra_imports))
    return root


def strip_to_names(text, keep):
    """``text`` (a module's source) without its top-level functions, classes and
    assignments whose names are not in ``keep``: what a student file holds when
    it holds only what the canonical file does. Imports always stay."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    drop = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = {node.name}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if not names or any(n.startswith("__") for n in names):
                continue
        else:
            continue
        if not names & set(keep):
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
            drop.append((start, _end(lines, node)))
    for start, end in sorted(drop, reverse=True):
        del lines[start:end]
    return "".join(lines)
