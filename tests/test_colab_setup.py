"""The Colab setup, proven without Colab: cs231n/colab_setup.py (versions, data,
live download output) and the notebooks' first cell (finding the kit in Drive).

Everything runs on real files: fake Drive trees in tmp_path with copies of the
committed release, real bash scripts for downloads, the real get_datasets.sh
fetching from file:// URLs, and the cell's text executed as the notebooks hold it.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import types
import zipfile

import nbformat
import numpy as np
import pytest

from autograder.assignment import ROOT, load_assignment
from autograder.release.notebook_cells import COLAB_SETUP, KIT_MARKER
from cs231n import colab_setup

TESTED = colab_setup.tested_versions()
PARTS = list(load_assignment().parts.values())
ON_COLAB_RUNTIME = {"python": "3.12.11", "numpy": "2.0.2", "torch": "2.9.0+cu126", "torchvision": "0.24.0+cu126"}


class Recorder:
    """A stream for ``out=``: keeps what was written; ``on_write(text so far)`` runs after each write."""

    def __init__(self, on_write=None):
        self.text, self.on_write = "", on_write

    def write(self, text):
        self.text += text
        if self.on_write:
            self.on_write(self.text)

    def flush(self):
        pass


def fake_real_data(kit):
    """Stand-ins for the real datasets (no SAMPLE_DATA marker), as get_datasets.sh leaves them."""
    datasets = kit / "cs231n" / "datasets"
    (datasets / "coco_captioning").mkdir(parents=True, exist_ok=True)
    (datasets / "coco_captioning" / "coco2014_captions.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    np.savez(datasets / "imagenet_val_25.npz", X=np.zeros((1, 2, 2, 3), np.uint8), y=np.zeros(1, np.int64))
    (datasets / "cifar-10-batches-py").mkdir(exist_ok=True)  # read only by a kit with cs231n/simclr/
    (datasets / "cifar-10-batches-py" / "test_batch").write_bytes(bytes(100))


# -- versions ------------------------------------------------------------------------

def test_tested_versions_are_the_pins_of_pyproject_and_of_the_kits_environment():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(line.split("==") for line in project["dependencies"])
    kit = colab_setup.tested_versions(ROOT / "release" / "environment.yml")  # what the module reads on Colab
    for name in colab_setup.CHECKED:
        assert TESTED[name] == kit[name] == pins[name], name
    assert TESTED["python"] == kit["python"] == project["requires-python"].removeprefix(">=")


def test_the_installed_versions_are_the_tested_ones(capsys):
    assert colab_setup.check_versions() == []
    assert colab_setup.report_versions() == []
    printed = capsys.readouterr().out
    assert printed.startswith("Versions: python ") and printed.rstrip().endswith(": as tested.")
    assert f"torch {TESTED['torch']}" in printed


def test_a_colab_runtime_with_other_minor_versions_gets_one_note_with_the_pip_command():
    advice = colab_setup.check_versions(ON_COLAB_RUNTIME, TESTED)
    assert len(advice) == 1 and advice[0].startswith("Note: "), advice
    note = advice[0]
    assert "numpy 2.0.2" in note and "torch 2.9.0+cu126" in note and "torchvision 0.24.0+cu126" in note
    assert f"!pip install numpy=={TESTED['numpy']} torch=={TESTED['torch']} torchvision=={TESTED['torchvision']}" \
        in note
    assert "Restart session" in note and "run this cell again" in note


def test_only_what_differs_is_installed():
    installed = dict(ON_COLAB_RUNTIME, torch=TESTED["torch"], torchvision=TESTED["torchvision"])
    advice = colab_setup.check_versions(installed, TESTED)
    assert len(advice) == 1 and f"`!pip install numpy=={TESTED['numpy']}` in a cell" in advice[0], advice


def test_a_torchvision_built_for_another_torch_is_a_warning_that_says_why():
    installed = dict(ON_COLAB_RUNTIME, torch="2.13.0", torchvision="0.27.1", numpy=TESTED["numpy"])
    advice = colab_setup.check_versions(installed, TESTED)
    assert len(advice) == 1 and advice[0].startswith("WARNING: "), advice
    assert "built for torch 2.12" in advice[0] and "torchvision::nms" in advice[0]
    assert f"torch=={TESTED['torch']} torchvision=={TESTED['torchvision']}" in advice[0]


def test_numpy_1_and_torch_1_are_warnings_that_explain_the_break():
    installed = {"python": "3.11.9", "numpy": "1.26.4", "torch": "1.13.1", "torchvision": "0.14.1"}
    advice = colab_setup.check_versions(installed, TESTED)
    numpy_advice = [a for a in advice if "numpy 1.26.4" in a]
    torch_advice = [a for a in advice if "torch 1.13.1" in a]
    assert numpy_advice and numpy_advice[0].startswith("WARNING: ") and "NumPy 2" in numpy_advice[0]
    assert f"numpy=={TESTED['numpy']}" in numpy_advice[0]
    assert torch_advice and torch_advice[0].startswith("WARNING: ") and "torch 2 only" in torch_advice[0]
    assert all("Note: " not in a for a in advice)


def test_a_missing_package_and_an_old_python_are_warnings():
    advice = colab_setup.check_versions(dict(ON_COLAB_RUNTIME, python="3.10.12", torchvision=None), TESTED)
    assert any(a.startswith("WARNING: this is Python 3.10.12") and "3.11 or newer" in a for a in advice), advice
    missing = [a for a in advice if "torchvision is not installed" in a]
    assert missing and f"torch=={TESTED['torch']} torchvision=={TESTED['torchvision']}" in missing[0]


def test_a_newer_python_than_the_environments_is_fine():
    installed = dict(colab_setup.installed_versions(), python="3.13.2")
    assert colab_setup.check_versions(installed, TESTED) == []


# -- live output of the download -------------------------------------------------------

def test_the_download_output_arrives_while_the_command_runs(tmp_path):
    """The script waits until the cell has shown each piece (a line, then a progress bar
    redrawn with a carriage return and no newline, on stderr) before it goes on: output
    that only appeared at the end would make it give up ("nobody saw it", status 9)."""
    script = tmp_path / "download.sh"
    script.write_text(
        'wait_for() { for _ in $(seq 150); do [ -e "$1" ] && return 0; sleep 0.1; done\n'
        '             echo "nobody saw it"; exit 9; }\n'
        'echo "get_datasets: downloading coco_captioning.zip ..."\n'
        'wait_for saw-line\n'
        "printf '\\r#####     50.0%%' >&2\n"
        'wait_for saw-progress\n'
        "printf '\\r##########100.0%%\\n' >&2\n"
        'echo "get_datasets: done"\n'
        'exit 3\n')

    def acknowledge(text):
        if "downloading" in text:
            (tmp_path / "saw-line").touch()
        if "50.0%" in text:
            (tmp_path / "saw-progress").touch()

    out = Recorder(acknowledge)
    status = colab_setup.stream(["bash", str(script)], cwd=tmp_path, out=out)
    assert "nobody saw it" not in out.text
    assert out.text == ("get_datasets: downloading coco_captioning.zip ...\n\r#####     50.0%"
                        "\r##########100.0%\nget_datasets: done\n")
    assert status == 3


def test_stopping_the_cell_stops_the_download(tmp_path):
    """The stop button raises KeyboardInterrupt in the cell: the command and what it
    started (here a background sleep, as curl runs under get_datasets.sh) end too."""
    script = tmp_path / "slow.sh"
    script.write_text('sleep 60 & echo $! > child.pid\necho started\nwait\necho "not stopped"\n')

    def interrupt(text):
        if "started" in text:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        colab_setup.stream(["bash", str(script)], cwd=tmp_path, out=Recorder(interrupt))
    child = int((tmp_path / "child.pid").read_text())
    for _ in range(100):
        try:
            with open(f"/proc/{child}/stat") as stat:
                if stat.read().split()[2] == "Z":  # ended, not yet reaped by its new parent
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, 9)
        pytest.fail("the download's child process kept running after the interrupt")


# -- the data ------------------------------------------------------------------------

def test_generated_sample_data_counts_as_missing_and_real_data_as_there(tmp_path):
    assert colab_setup.missing_data(ROOT) == ["coco_captioning", "imagenet_val_25.npz",  # the sample data
                                              "cifar-10-batches-py"]
    assert colab_setup.missing_data(tmp_path) == ["coco_captioning", "imagenet_val_25.npz"]  # nothing
    fake_real_data(tmp_path)
    assert colab_setup.missing_data(tmp_path) == []


def test_data_already_there_is_not_downloaded_again(tmp_path):
    fake_real_data(tmp_path)
    out = Recorder()
    assert colab_setup.ensure_data(tmp_path, command=["bash", "-c", "touch ran"], out=out) is False
    assert not (tmp_path / "ran").exists()
    assert out.text == "Data: already in cs231n/datasets, no download needed.\n"


def test_missing_data_is_downloaded_once_with_its_output_shown(tmp_path):
    script = tmp_path / "download.sh"
    script.write_text('echo "fetching ..."\n'
                      'mkdir -p cs231n/datasets/coco_captioning\n'
                      'echo data > cs231n/datasets/coco_captioning/coco2014_captions.h5\n'
                      f'{sys.executable} -c "import numpy; '
                      'numpy.savez(\'cs231n/datasets/imagenet_val_25.npz\', X=[1])"\n'
                      'echo "fetched"\n')
    out = Recorder()
    assert colab_setup.ensure_data(tmp_path, command=["bash", str(script)], out=out) is True
    assert "downloading coco_captioning and imagenet_val_25.npz (coco_captioning is about 1 GB" in out.text
    assert out.text.endswith("fetching ...\nfetched\n")
    assert colab_setup.missing_data(tmp_path) == []
    assert colab_setup.ensure_data(tmp_path, command=["false"], out=Recorder()) is False


def test_a_failed_download_stops_the_cell_and_says_what_to_do(tmp_path):
    out = Recorder()
    with pytest.raises(RuntimeError, match=r"exit status 1\).*lines above.*online.*run this cell again"):
        colab_setup.ensure_data(tmp_path, command=["bash", "-c", "echo 'get_datasets: could not download'; exit 1"],
                                out=out)
    assert "get_datasets: could not download" in out.text


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl fetches file:// URLs; wget does not")
def test_get_datasets_shows_a_progress_bar_and_unpacking(tmp_path):
    """The kit's own download script, from a local file:// 'server', streamed as on Colab."""
    server = tmp_path / "server"
    server.mkdir()
    with zipfile.ZipFile(server / "coco_captioning.zip", "w") as archive:
        archive.writestr("coco_captioning/coco2014_captions.h5", os.urandom(3 << 20))
        archive.writestr("coco_captioning/coco2014_vocab.json", "{}")
    np.savez(server / "imagenet_val_25.npz", X=np.zeros((1, 2, 2, 3), np.uint8))
    kit = tmp_path / "kit"
    shutil.copytree(ROOT / "release" / "cs231n" / "datasets", kit / "cs231n" / "datasets")
    out = Recorder()
    command = ["env", f"CS231N_DATA_URL=file://{server}", *colab_setup.DOWNLOAD_COMMAND]
    assert colab_setup.ensure_data(kit, command=command, out=out) is True
    assert "100.0%" in out.text and "get_datasets: unpacking coco_captioning.zip" in out.text, out.text
    assert "coco_captioning/ ready" in out.text and out.text.rstrip().endswith("get_datasets: done")
    assert colab_setup.missing_data(kit) == []


# -- prepare_colab -------------------------------------------------------------------

def test_prepare_colab_does_nothing_off_colab(tmp_path):
    out = Recorder()
    assert colab_setup.in_colab() is False
    assert colab_setup.prepare_colab(tmp_path, command=["bash", "-c", "touch ran"], out=out) is False
    assert colab_setup.prepare_colab(tmp_path, on_colab=False, command=["bash", "-c", "touch ran"], out=out) is False
    assert out.text == "" and not (tmp_path / "ran").exists()


def test_prepare_colab_on_colab_reports_versions_then_the_data(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert colab_setup.in_colab() is True
    out = Recorder()
    command = ["bash", "-c", "echo fetching; mkdir -p cs231n/datasets && touch cs231n/datasets/ran"]
    assert colab_setup.prepare_colab(tmp_path, installed=ON_COLAB_RUNTIME, command=command, out=out) is True
    assert (tmp_path / "cs231n" / "datasets" / "ran").exists()
    lines = out.text.splitlines()
    assert lines[0].startswith("Versions: python 3.12.11, numpy 2.0.2, torch 2.9.0+cu126")
    assert lines[1].startswith("Note: ") and lines[2].startswith("Data: downloading") and lines[3] == "fetching"


# -- the notebooks' first cell -------------------------------------------------------

def first_cell(notebook):
    return nbformat.read(notebook, as_version=4).cells[0]


@pytest.mark.parametrize("folder", ["source_notebooks", "release"])
def test_all_six_notebooks_start_with_the_cell_that_finds_the_kit(folder):
    assert len(PARTS) >= 6  # every part, the SimCLR part included when it is not omitted
    for part in PARTS:
        notebook = ROOT / folder / part.notebook
        cell = first_cell(notebook)
        assert cell.cell_type == "code" and cell.source == COLAB_SETUP, f"{folder}/{part.notebook}: old first cell"
        text = notebook.read_text()
        assert "FOLDERNAME" not in text and "cs231n/assignments" not in text, f"{folder}/{part.notebook}"
    assert COLAB_SETUP.splitlines()[4].startswith("KIT_FOLDER = None  # if the search fails")
    assert f'marker="{KIT_MARKER}"' in COLAB_SETUP and "from cs231n.colab_setup import prepare_colab" in COLAB_SETUP


def test_the_kit_holds_the_marker_in_its_top_folder_and_the_setup_module():
    assert "Keep it here" in (ROOT / "release" / KIT_MARKER).read_text()
    assert (ROOT / "release" / "cs231n" / "colab_setup.py").read_bytes() == \
        (ROOT / "cs231n" / "colab_setup.py").read_bytes()


@pytest.fixture(scope="module")
def find_kit_folder():
    """The search function as the released notebooks define it (off Colab that is all the cell does)."""
    namespace = {}
    exec(compile(first_cell(ROOT / "release" / PARTS[0].notebook).source, "colab_cell", "exec"), namespace)
    return namespace["find_kit_folder"]


@pytest.fixture
def drive(tmp_path):
    """A fake "My Drive" with the usual clutter and no kit."""
    root = tmp_path / "MyDrive"
    for folder in ("Colab Notebooks", "Photos/2025", "Courses/CS 229/ps1", "Courses/2026 spring/CS 231n"):
        (root / folder).mkdir(parents=True)
    (root / "Colab Notebooks" / "Untitled0.ipynb").write_text("{}")
    (root / "Courses" / "CS 229" / "ps1" / "README.md").write_text("not this one")
    return root


def put_kit(drive, *folders):
    """A copy of the committed release at drive/folders..., as a student uploads it."""
    kit = drive.joinpath(*folders)
    shutil.copytree(ROOT / "release", kit)
    return kit


def test_the_kit_is_found_at_any_depth_under_any_name(drive, find_kit_folder):
    kit = put_kit(drive, "Courses", "2026 spring", "CS 231n", "my a3 (copy)")
    assert find_kit_folder(str(drive)) == str(kit)
    assert find_kit_folder(str(drive) + "/") == str(kit)


def test_no_kit_says_what_to_do(drive, find_kit_folder):
    with pytest.raises(FileNotFoundError) as error:
        find_kit_folder(str(drive))
    message = str(error.value)
    assert f"No folder in {drive} (up to 5 levels down) holds {KIT_MARKER}" in message
    assert "Upload the whole assignment folder" in message and "set KIT_FOLDER at the top of this cell" in message


def test_two_copies_are_listed_and_the_student_is_told_to_choose(drive, find_kit_folder):
    first = put_kit(drive, "assignment3")
    second = put_kit(drive, "Courses", "2026 spring", "CS 231n", "assignment3 (1)")
    with pytest.raises(RuntimeError) as error:
        find_kit_folder(str(drive))
    message = str(error.value)
    assert message.startswith(f"2 copies of the assignment are in {drive}:\n  {second}\n  {first}\n")
    assert "Set KIT_FOLDER at the top of this cell to the one you work in" in message
    assert find_kit_folder(str(drive), "assignment3") == str(first)


def test_hidden_and_trash_folders_are_not_searched(drive, find_kit_folder):
    kit = put_kit(drive, "cs231n", "assignment3")
    for hidden in (".Trash-0", "Trash", ".shortcut-targets-by-id/1a2b"):
        put_kit(drive, *hidden.split("/"), "assignment3")
    assert find_kit_folder(str(drive)) == str(kit)


def test_the_search_goes_five_levels_down_and_not_into_a_kit(drive, find_kit_folder):
    deep = put_kit(drive, "a", "b", "c", "d", "kit")  # the kit's folder is 5 levels down
    (deep / "cs231n" / "datasets" / KIT_MARKER).write_text("a stray copy of the marker inside the kit")
    assert find_kit_folder(str(drive)) == str(deep)
    shutil.move(deep, drive / "a" / "b" / "c" / "d" / "e" / "kit")  # 6 levels down: not searched
    with pytest.raises(FileNotFoundError):
        find_kit_folder(str(drive))
    assert find_kit_folder(str(drive), max_depth=6) == str(drive / "a" / "b" / "c" / "d" / "e" / "kit")


def test_kit_folder_relative_to_the_drive_or_absolute_and_checked(drive, find_kit_folder):
    kit = put_kit(drive, "Courses", "2026 spring", "CS 231n", "a3")
    assert find_kit_folder(str(drive), "Courses/2026 spring/CS 231n/a3") == str(kit)
    assert find_kit_folder(str(drive), str(kit)) == str(kit)
    with pytest.raises(FileNotFoundError, match=r"KIT_FOLDER is 'Courses/2026 spring/CS 231n', but .* holds no "
                                                + KIT_MARKER):
        find_kit_folder(str(drive), "Courses/2026 spring/CS 231n")


def run_cell(cell, cwd, pythonpath, prelude=""):
    """The cell's text run as a notebook runs it (top-level code of a fresh interpreter's __main__)."""
    cell_file = cwd.parent / "cell.py"
    cell_file.write_text(cell)
    probe = ("_names = set(globals())\n" + prelude + "import json as _json, os as _os, sys as _sys\n"
             f"with open({str(cell_file)!r}) as _file:\n"
             "    _cell = compile(_file.read(), 'cell', 'exec')\n"
             "_before = (_os.getcwd(), list(_sys.path), set(_sys.modules))\n"
             "exec(_cell)\n"
             "print(_json.dumps({'cwd': _os.getcwd(), 'path_changed': _sys.path != _before[1],\n"
             "                   'new_modules': sorted(set(_sys.modules) - _before[2]),\n"
             "                   'setup_module': getattr(_sys.modules.get('cs231n.colab_setup'), '__file__', None),\n"
             "                   'new_names': sorted(n for n in set(globals()) - _names if not n.startswith('_'))}))\n")
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    return subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


AS_ON_COLAB = "import google.colab\n"  # Colab's kernel imports it at start-up


def fake_colab(folder):
    """An importable google.colab whose drive.mount only says what it was asked."""
    (folder / "google" / "colab").mkdir(parents=True)
    (folder / "google" / "__init__.py").write_text("")
    (folder / "google" / "colab" / "__init__.py").write_text("")
    (folder / "google" / "colab" / "drive.py").write_text('def mount(path):\n    print("mounted", path)\n')
    return folder


def test_outside_colab_the_cell_only_defines_kit_folder_and_the_search(drive, tmp_path):
    """In a fresh interpreter, beside a kit and with a google.colab package that could be
    imported: no output, no Drive, same folder and sys.path, no module imported."""
    kit = put_kit(drive, "assignment3")
    files = sorted(kit.rglob("*"))
    result = run_cell(first_cell(kit / PARTS[0].notebook).source, kit, fake_colab(tmp_path / "fake"))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    *printed, report = result.stdout.splitlines()
    assert printed == []
    assert json.loads(report) == {"cwd": str(kit), "path_changed": False, "new_modules": [], "setup_module": None,
                                  "new_names": ["KIT_FOLDER", "find_kit_folder", "os", "sys"]}
    assert sorted(kit.rglob("*")) == files


def test_on_colab_the_cell_mounts_drive_works_from_the_kit_and_prepares_it(drive, tmp_path):
    """A fake Colab (google.colab imported, drive.mount a stub) and KIT_FOLDER set, as a
    student sets it: the cell moves into the kit, imports the kit's own cs231n, reports
    the versions and finds the data there."""
    kit = put_kit(drive, "cs231n", "assignment3")
    fake_real_data(kit)
    cell = first_cell(kit / PARTS[0].notebook).source.replace("KIT_FOLDER = None", f"KIT_FOLDER = {str(kit)!r}", 1)
    elsewhere = tmp_path / "content"
    elsewhere.mkdir()
    result = run_cell(cell, elsewhere, fake_colab(tmp_path / "fake"), prelude=AS_ON_COLAB)
    assert result.returncode == 0, result.stderr
    *printed, report = result.stdout.splitlines()
    assert printed[:3] == ["mounted /content/drive", "Looking for the assignment folder in your Drive ...",
                           f"Assignment folder: {kit}"]
    assert printed[3].startswith("Versions: ") and printed[3].endswith(": as tested.")
    assert printed[4:] == ["Data: already in cs231n/datasets, no download needed."]
    report = json.loads(report)
    assert report["cwd"] == str(kit) and report["path_changed"]
    assert "cs231n.colab_setup" in report["new_modules"] and "torch" not in report["new_modules"]
    assert report["setup_module"] == str(kit / "cs231n" / "colab_setup.py"), "the kit's own copy"


@pytest.mark.skipif(os.path.exists("/content/drive/MyDrive"), reason="this machine has a real Drive mount")
def test_on_colab_without_a_kit_the_cell_stops_before_doing_anything(tmp_path):
    elsewhere = tmp_path / "content"
    elsewhere.mkdir()
    result = run_cell(COLAB_SETUP, elsewhere, fake_colab(tmp_path / "fake"), prelude=AS_ON_COLAB)
    assert result.returncode != 0 and result.stdout.splitlines() == [
        "mounted /content/drive", "Looking for the assignment folder in your Drive ..."]
    assert result.stderr.rstrip().splitlines()[-1].startswith(
        f"FileNotFoundError: No folder in /content/drive/MyDrive (up to 5 levels down) holds {KIT_MARKER}.")
