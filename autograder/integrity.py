"""Integrity flags: static checks of a submission's source, for a person to read.

These are not sandbox questions (the code may be harmless) but academic ones:
a NumPy layer written with torch, or attention delegated to PyTorch's own
implementation, earns hidden-check points without the student writing the
thing the part teaches. The grader does not change scores for them; it lists
them in the report so an instructor can look. The source is parsed, never run.
"""
import ast

# Files whose graded code must be NumPy only.
NUMPY_ONLY = ("cs231n/rnn_layers.py", "cs231n/classifiers/rnn.py")
# Files where the attention itself is the student's work.
OWN_ATTENTION = ("cs231n/transformer_layers.py", "cs231n/classifiers/transformer.py")
ATTENTION_SHORTCUTS = ("MultiheadAttention", "scaled_dot_product_attention", "TransformerDecoderLayer",
                       "TransformerDecoder")
FORBIDDEN_IN_NUMPY = ("torch", "tensorflow", "jax")


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args:
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def _torch_names_used(tree):
    """(line, name) for ``x.name`` attribute uses and names imported from torch.

    A bare name is not enough: the reference defines its own TransformerDecoderLayer.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            for alias in node.names:
                yield node.lineno, alias.name


def flags_for(path, source):
    """Flags (strings) for one student file's ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"{path}: does not parse (line {exc.lineno}): {exc.msg}"]
    flags = []
    if path in NUMPY_ONLY:
        for line, module in _imports(tree):
            if module.split(".")[0] in FORBIDDEN_IN_NUMPY:
                flags.append(f"{path}:{line}: imports {module} in a NumPy-only module")
    if path in OWN_ATTENTION:
        for line, name in _torch_names_used(tree):
            if name in ATTENTION_SHORTCUTS:
                flags.append(f"{path}:{line}: uses PyTorch's {name} instead of its own attention")
    return sorted(set(flags))


def integrity_flags(root, student_files):
    """Flags for every student file present under ``root``."""
    flags = []
    for path in student_files:
        file = root / path
        if file.is_file():
            flags += flags_for(path, file.read_text(errors="replace"))
    return flags
