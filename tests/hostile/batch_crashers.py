"""Hostile cases that once ended the whole batch, not just their own grading.

Each used to raise out of ``grade_batch``: an executed notebook whose cells
carry an "outputs" that is not a list (the feedback page's figure collector
tripped on it), a lone surrogate in a run's or a check's message (no UTF-8
writer accepts one), and notebooks so large or with so many cells that parsing
them took minutes and gigabytes. Names that are not UTF-8 come in a raw
archive. Ids that collide with the batch's own files or read as spreadsheet
formulas cannot be corpus cases (the corpus names each submission by its case
id); tests/test_batch_robustness.py grades those.

Cases in the format of ``hostile.cases.Case``; the corpus test registers them.
"""
import json

from hostile.cases import GAN, RNN_NB, THEORY_NB, Case, ctx_reference, notebook_cell, wrap, write_zip

LONE_SURROGATE = "raise ValueError('lone \\udcff surrogate: ' + chr(0xDCFF))"


def _json_notebook(files, name):
    return json.loads(files[name].decode())


def _with_cells(name, make_cells, at=0):
    """Put ``make_cells()`` (raw JSON dicts, unchecked) into notebook ``name`` at ``at``."""

    def build(files, ctx):
        nb = _json_notebook(files, name)
        nb["cells"][at:at] = make_cells()
        return {**files, name: json.dumps(nb).encode()}

    return build


def _odd_outputs():
    # papermill keeps a markdown cell's "outputs" as it is in the executed copy
    return [{"cell_type": "markdown", "metadata": {}, "source": "odd", "outputs": {"not": "a list"}},
            {"cell_type": "raw", "metadata": {}, "source": "odd", "outputs": "text"}]


def _many_cells(count, key="cell_type"):
    return lambda: [{key: "code", "metadata": {}, "source": "", "outputs": [], "execution_count": None}
                    for _ in range(count)]


def _escaped_cells(files, ctx):
    nb = _json_notebook(files, RNN_NB)
    nb["cells"] = _many_cells(3000)()
    return {**files, RNN_NB: json.dumps(nb).replace('"cell_type"', '"\\u0063ell_type"').encode()}


def _padded(name, megabytes):
    """Notebook ``name`` with one markdown cell of ``megabytes`` MB of spaces (deflates to little)."""
    return _with_cells(name, lambda: [{"cell_type": "markdown", "metadata": {}, "source": " " * (megabytes << 20)}],
                       at=1)


def _latin1_name(ctx, path):
    """The reference, plus an entry whose name is Latin-1 bytes without the UTF-8 flag."""
    placeholder = "notes/PLACEHOLDER.txt"
    write_zip(path, {**ctx_reference(ctx), placeholder: b"x"})
    data = path.read_bytes()
    raw = b"notes/r\xe9sum\xe9s\xff\xfe\x80\x81.txt"
    assert len(raw) == len(placeholder.encode()) and data.count(placeholder.encode()) == 2
    path.write_bytes(data.replace(placeholder.encode(), raw))


CASES = [
    Case("nb_outputs_not_a_list", "the theory notebook has cells whose 'outputs' is a dict and a string "
         "(kept as they are in the executed copy)", "the feedback page walks executed notebooks as untrusted JSON",
         build=_with_cells(THEORY_NB, _odd_outputs), notebooks={THEORY_NB: r"fail|error"}),
    Case("nb_lone_surrogate", "a theory notebook cell raises an error whose message holds a lone surrogate",
         "every text made writable as UTF-8 before the reports (Grading.clean)",
         build=notebook_cell(THEORY_NB, LONE_SURROGATE), notebooks={THEORY_NB: r"ValueError"}),
    Case("fn_lone_surrogate", "sample_noise raises an error whose message holds a lone surrogate",
         "every text made writable as UTF-8 before the reports (Grading.clean)",
         build=wrap(GAN, "sample_noise", LONE_SURROGATE), breaks=(f"{GAN}:sample_noise",),
         messages={"sample_noise": r"ValueError.*lone .*surrogate"}),
    Case("nb_too_many_cells", "RNN_Captioning.ipynb holds 3000 empty cells",
         "notebook cell cap, counted before parsing",
         build=_with_cells(RNN_NB, _many_cells(3000)),
         output=(r"'RNN_Captioning\.ipynb' has more than \d+ cells; the released \(unfinished\) version was run",)),
    Case("nb_escaped_cell_keys", "RNN_Captioning.ipynb holds 3000 cells whose keys are written as JSON escapes "
         "(so a byte count finds none)", "notebook cell cap, counted exactly after the JSON parse",
         build=_escaped_cells, output=(r"'RNN_Captioning\.ipynb' has more than \d+ cells",)),
    Case("nb_too_large", "RNN_LSTM_Theory.ipynb is 40 MB (one markdown cell of spaces)",
         "notebook size cap, checked before reading", build=_padded(THEORY_NB, 40),
         output=(r"'RNN_LSTM_Theory\.ipynb' is larger than \d+ MB; the released \(unfinished\) version was run",)),
    Case("zip_latin1_names", "an entry named in Latin-1 bytes, without the zip's UTF-8 flag",
         "intake reads it as the zip standard says (code page 437) and reports it ignored", raw=_latin1_name,
         output=(r"other file\(s\) were ignored",)),
]
