"""Getting a Google Colab runtime ready for the assignment: versions and data.

The first cell of every notebook (``COLAB_SETUP`` in
``autograder/release/notebook_cells.py``) does, on Colab only: mount Drive, find
the assignment folder in it, move there, then ``prepare_colab()`` from here.

Why the work is split between that cell and this module:

- The cell has to find the assignment folder in the student's Drive before
  anything from the kit can be imported, so the Drive search and its messages
  live in the cell, and only there.
- Everything after that lives here, once, instead of six times in notebook
  cells: it ships in the kit as a provided module (students never edit it; a
  fix reaches every notebook), and it is tested like the rest of the package,
  without Colab: whether we are on Colab, the installed and tested versions,
  the download command and the output stream are all parameters.
- Importing it is cheap: it imports neither torch nor numpy (``cs231n``'s
  ``__init__`` only installs its torchvision hook), and it reads versions from
  the installed packages' metadata. So it can report a bad combination, e.g. a
  torchvision built for another torch, before anything trips over it.
- Off Colab ``prepare_colab()`` does nothing, and the cell never calls it there:
  local Jupyter, papermill, nbgrader and the autograder are unaffected.

The tested versions are read from the kit's ``environment.yml`` (its pip
section pins the same versions as ``pyproject.toml``), so there is one list.
"""
import codecs
import importlib.metadata
import os
import platform
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

ENVIRONMENT_FILE = Path(__file__).resolve().parent.parent / "environment.yml"
CHECKED = ("numpy", "torch", "torchvision")
DOWNLOAD_COMMAND = ("bash", "cs231n/datasets/get_datasets.sh")
RESTART = "then Runtime > Restart session, and run this cell again."


def in_colab():
    """True inside a Google Colab kernel (which imports google.colab at start-up)."""
    return "google.colab" in sys.modules


def prepare_colab(kit=".", *, on_colab=None, installed=None, tested=None, command=None, out=None):
    """Report the versions, then make sure the data is in ``kit``; nothing off Colab.

    ``on_colab``: None asks ``in_colab()``. ``installed``/``tested``: see
    ``check_versions``. ``command``: the download command (run in ``kit``).
    ``out``: where messages go (default: the current ``sys.stdout``).
    Returns True when it did its work, False off Colab.
    """
    if not (in_colab() if on_colab is None else on_colab):
        return False
    report_versions(installed, tested, out=out)
    ensure_data(kit, command=command, out=out)
    return True


# -- versions ----------------------------------------------------------------------

def tested_versions(environment_file=ENVIRONMENT_FILE):
    """{name: version} from environment.yml: each ``name==version`` pin, and
    ``python`` (from ``python=3.11``: the oldest Python the kit supports)."""
    pins = {}
    for line in Path(environment_file).read_text().splitlines():
        match = re.fullmatch(r"\s*-\s*([A-Za-z0-9_.-]+)\s*==?\s*([0-9][0-9A-Za-z.]*)\s*", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def installed_versions():
    """{name: version or None (not installed)} for the checked packages, and ``python``."""
    versions = {"python": platform.python_version()}
    for name in CHECKED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def release(version):
    """(major, minor, micro) of a version string: "2.9.0+cu126" -> (2, 9, 0)."""
    match = re.match(r"\d+(\.\d+)*", version)
    if not match:
        raise ValueError(f"release: cannot read a version number from {version!r}")
    numbers = [int(part) for part in match.group().split(".")]
    return tuple((numbers + [0, 0])[:3])


# Why another major version gets a warning rather than a note.
MAJOR_CHANGES = {
    "numpy": ("the kit is written for NumPy 2, whose type rules differ from NumPy 1's (a float32 NumPy "
              "scalar combined with a Python float stays float32 in NumPy 2, not in NumPy 1), so the dtypes "
              "that the checks compare can differ"),
    "torch": "the kit's PyTorch code is written and tested for torch 2 only",
    "torchvision": "torchvision's major version must match the torch it was built for",
}


def together(names):
    """``names`` with torch and torchvision together: each is built for the other."""
    names = set(names)
    return names | {"torch", "torchvision"} if names & {"torch", "torchvision"} else names


def pip_fix(names, tested):
    """The advice to install the tested versions of ``names`` (and of their partner)."""
    pins = " ".join(f"{name}=={tested[name]}" for name in CHECKED if name in together(names))
    return f"Fix: run `!pip install {pins}` in a cell, {RESTART}"


def check_versions(installed=None, tested=None):
    """Advice for each way the installed versions differ from the tested ones.

    ``installed``: {name: version or None}, default ``installed_versions()``;
    ``tested``: {name: version}, default ``tested_versions()``. Returns a list of
    paragraphs, empty when everything is as tested: "WARNING: ..." for each
    difference known to break the assignment, then one "Note: ..." for the other
    differences (a package that a warning's fix reinstalls is not noted again).
    """
    installed = installed_versions() if installed is None else installed
    tested = tested_versions() if tested is None else tested
    warnings, fixed, others = [], set(), []

    def warn(text, names):
        warnings.append(f"WARNING: {text} {pip_fix(names, tested)}")
        fixed.update(together(names))

    python = installed.get("python")
    if python and "python" in tested and release(python)[:2] < release(tested["python"])[:2]:
        warnings.append(f"WARNING: this is Python {python}; the kit needs Python {tested['python']} or newer. "
                        "Choose a newer runtime (Runtime > Change runtime type), then run this cell again.")
    for name in CHECKED:
        have, want = installed.get(name), tested[name]
        if have is None:
            warn(f"{name} is not installed.", [name])
        elif release(have)[0] != release(want)[0]:
            warn(f"this runtime has {name} {have}, a different major version than the tested {name} {want}: "
                 f"{MAJOR_CHANGES[name]}.", [name])
        elif release(have) != release(want):
            others.append(name)
    torch, vision = installed.get("torch"), installed.get("torchvision")
    if torch and vision and release(torch)[0] == 2 and release(vision)[0] == 0:
        built_for = release(vision)[1] - 15  # torchvision 0.(m+15) is built for torch 2.m
        if built_for != release(torch)[1]:
            warn(f"torchvision {vision} is built for torch 2.{built_for}, but this is torch {torch}. A torchvision "
                 "built for another torch cannot load its compiled part: `import torchvision` can fail "
                 "(\"operator torchvision::nms does not exist\"), and with it the Network Visualization and "
                 "GAN notebooks.", ["torch", "torchvision"])
    others = [name for name in others if name not in fixed]
    if others:
        have = ", ".join(f"{name} {installed[name]}" for name in others)
        want = ", ".join(f"{name} {tested[name]}" for name in others)
        warnings.append(f"Note: this runtime has {have}; the kit was tested with {want}. It will most likely "
                        "work. If something fails that is not in your own code, install the tested versions. "
                        + pip_fix(others, tested))
    return warnings


def report_versions(installed=None, tested=None, out=None):
    """Print the versions, then ``check_versions``'s advice; return that advice."""
    installed = installed_versions() if installed is None else installed
    tested = tested_versions() if tested is None else tested
    have = ", ".join(f"{name} {installed.get(name) or 'missing'}" for name in ("python", *CHECKED))
    want = ", ".join(f"{name} {tested[name]}" for name in CHECKED)
    advice = check_versions(installed, tested)
    print(f"Versions: {have} (tested: {want}; Python {tested.get('python', '3')} or newer)"
          + ("" if advice else ": as tested."), file=out or sys.stdout, flush=True)
    for paragraph in advice:
        print(paragraph, file=out or sys.stdout, flush=True)
    return advice


# -- data --------------------------------------------------------------------------

def _is_sample_archive(path):
    """True when the .npz at ``path`` is generated sample data (it holds a SAMPLE_DATA entry)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(Path(name).stem == "SAMPLE_DATA" for name in archive.namelist())


def missing_data(kit="."):
    """The real datasets ``kit/cs231n/datasets`` still lacks (generated sample data counts
    as missing, as in get_datasets.sh). MNIST is not listed: torchvision fetches it. CIFAR-10
    is listed only when the kit has the SimCLR part (cs231n/simclr/)."""
    datasets = Path(kit) / "cs231n" / "datasets"
    coco, imagenet = datasets / "coco_captioning", datasets / "imagenet_val_25.npz"
    missing = []
    if not (coco / "coco2014_captions.h5").is_file() or (coco / "SAMPLE_DATA.txt").exists():
        missing.append("coco_captioning")
    if not imagenet.is_file() or _is_sample_archive(imagenet):
        missing.append("imagenet_val_25.npz")
    cifar = datasets / "cifar-10-batches-py"
    if (datasets.parent / "simclr").is_dir() and (  # only a kit with the SimCLR part needs CIFAR-10
            not (cifar / "test_batch").is_file() or (cifar / "SAMPLE_DATA.txt").exists()):
        missing.append("cifar-10-batches-py")
    return missing


def ensure_data(kit=".", command=None, out=None):
    """Download the data into ``kit`` unless it is there, showing the download's output live.

    ``command``: what downloads (default ``bash cs231n/datasets/get_datasets.sh``),
    run in ``kit``. Raises RuntimeError when it fails. Returns True when it downloaded.
    """
    out = out or sys.stdout
    missing = missing_data(kit)
    if not missing:
        print("Data: already in cs231n/datasets, no download needed.", file=out, flush=True)
        return False
    size = " (coco_captioning is about 1 GB: a few minutes)" if "coco_captioning" in missing else ""
    print(f"Data: downloading {' and '.join(missing)}{size}; the download's progress follows.",
          file=out, flush=True)
    status = stream(list(command or DOWNLOAD_COMMAND), cwd=kit, out=out)
    if status != 0:
        raise RuntimeError(f"The data download failed (exit status {status}); the lines above say why. "
                           "Check that this runtime is online, then run this cell again.")
    return True


def stream(command, cwd=None, out=None):
    """Run ``command``, copying its output (stdout and stderr) to ``out`` as it arrives.

    Copied in chunks, not lines: a progress bar that redraws itself with carriage
    returns (curl's, wget's) moves in place in the notebook instead of showing up
    when the download is over. Interrupting (the stop button) stops the command
    and everything it started. Returns the exit status.
    """
    out = out or sys.stdout
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while chunk := os.read(process.stdout.fileno(), 65536):
            out.write(decoder.decode(chunk))
            out.flush()
        out.write(decoder.decode(b"", final=True))
        out.flush()
        return process.wait()
    finally:
        if process.poll() is None:  # interrupted: stop the download too
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            process.wait()
        process.stdout.close()
