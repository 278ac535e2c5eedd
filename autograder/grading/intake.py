"""Taking in a submission: a zip or a folder, unpacked safely into a fresh folder.

Rules (limits from assignment.toml): at most ``max_upload_files`` files and
``max_upload_mb`` bytes unpacked (counted while writing, so a zip whose headers
lie about sizes is stopped too); no absolute paths, no ``..``, no links, no
device files; names are NFC-normalised and must be printable. Whatever breaks a
rule is skipped and reported; only a submission that cannot be read at all, or
that exceeds a cap, is refused (an ``IntakeError`` with the reason).

Then the submission's root is found (the folder holding the notebooks, however
deeply the student zipped it) and the files graders need are picked out. Each
expected notebook is parsed here, once, after checking its size
(``max_notebook_mb``) and its number of cells (``max_notebook_cells``) without
parsing it; staging and the integrity flags use the parsed notebooks. One that
is over a cap or not a notebook is left out with a problem in words (staging
then runs the released version in its place).
"""
import dataclasses
import json
import os
import shutil
import stat
import unicodedata
import zipfile
import zlib
from pathlib import Path, PurePosixPath

CHUNK = 1 << 16


class IntakeError(ValueError):
    """The submission cannot be taken in at all; the message says why."""


@dataclasses.dataclass
class Intake:
    """What was taken in: ``root`` holds the unpacked files; ``problems`` lists
    everything skipped or missing, in words for the report."""

    root: Path
    files: list[str]
    problems: list[str]
    # expected notebooks that were read: file name -> nbformat NotebookNode (format 4)
    notebooks: dict = dataclasses.field(default_factory=dict)
    # expected notebooks present but not used: file name -> why, in words
    refused_notebooks: dict[str, str] = dataclasses.field(default_factory=dict)


def _safe_name(name):
    """The normalised relative path for an archive name, or a reason it is refused."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/"))
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return None, "has control or invisible characters in its name"
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None, "is an absolute path"
    if ".." in path.parts:
        return None, "points outside the submission ('..')"
    if not path.parts or any(part in ("", ".") for part in path.parts):
        return None, "has an empty name"
    return path, None


class _Budget:
    def __init__(self, max_bytes, max_files):
        self.bytes_left, self.files_left = max_bytes, max_files
        self.max_bytes, self.max_files = max_bytes, max_files

    def take_file(self):
        self.files_left -= 1
        if self.files_left < 0:
            raise IntakeError(f"the submission has more than {self.max_files} files")

    def take_bytes(self, n):
        self.bytes_left -= n
        if self.bytes_left < 0:
            raise IntakeError(f"the submission unpacks to more than {self.max_bytes >> 20} MB")


def _copy_stream(source, target_path, budget):
    target_path.parent.mkdir(parents=True, exist_ok=True)
    with open(target_path, "wb") as target:
        while chunk := source.read(CHUNK):
            budget.take_bytes(len(chunk))
            target.write(chunk)


def _unpack_zip(archive_path, dest, budget, problems):
    # The archive itself may not be larger than what it may unpack to: this bounds
    # the central directory the zip module reads (and holds in memory) first.
    if os.path.getsize(archive_path) > budget.max_bytes:
        raise IntakeError(f"the submission's zip is larger than {budget.max_bytes >> 20} MB")
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise IntakeError(f"the submission is not a readable zip file ({exc})") from None
    except UnicodeDecodeError:
        raise IntakeError("the submission's zip has file names that are not valid UTF-8; "
                          "zip it again with an ordinary zip tool") from None
    except (ValueError, NotImplementedError, RuntimeError) as exc:
        raise IntakeError(f"the submission's zip cannot be read ({exc})") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > 4 * budget.max_files:  # folders count too, so allow some slack
            raise IntakeError(f"the submission has more than {budget.max_files} files")
        for info in entries:
            if info.is_dir():
                continue
            # Unix mode bits, when the zip tool stored them; many tools store none, or
            # permissions without a file type: only an explicit other type is refused.
            file_type = stat.S_IFMT(info.external_attr >> 16)
            if file_type == stat.S_IFLNK:
                problems.append(f"skipped '{info.filename}': links are not accepted")
                continue
            if file_type and file_type != stat.S_IFREG:
                problems.append(f"skipped '{info.filename}': not a regular file")
                continue
            path, reason = _safe_name(info.filename)
            if reason:
                problems.append(f"skipped {info.filename!r}: it {reason}")
                continue
            budget.take_file()
            try:
                with archive.open(info) as source:
                    _copy_stream(source, dest / path, budget)
            except IntakeError:  # a cap was exceeded: the whole submission is refused
                raise
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, ValueError,
                    EOFError, zlib.error) as exc:
                try:
                    (dest / path).unlink(missing_ok=True)  # never stage a partial file
                except OSError:  # e.g. the name is a folder made by another entry
                    pass
                problems.append(f"skipped '{path}': it could not be read ({exc})")


def _copy_folder(folder, dest, budget, problems):
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in sorted(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):
                problems.append(f"skipped '{Path(dirpath, name).relative_to(folder)}': links are not accepted")
        for name in sorted(filenames):
            full = Path(dirpath, name)
            relative = full.relative_to(folder).as_posix()
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                problems.append(f"skipped '{relative}': links are not accepted")
                continue
            if not stat.S_ISREG(info.st_mode):
                problems.append(f"skipped '{relative}': not a regular file")
                continue
            path, reason = _safe_name(relative)
            if reason:
                problems.append(f"skipped {relative!r}: it {reason}")
                continue
            budget.take_file()
            with open(full, "rb") as source:
                _copy_stream(source, dest / path, budget)


def find_root(dest, notebooks):
    """The folder under ``dest`` that holds the most expected notebooks (shallowest wins)."""
    best, best_count = dest, -1
    for folder in sorted([dest, *[p for p in dest.rglob("*") if p.is_dir()]],
                         key=lambda p: len(p.relative_to(dest).parts)):
        count = sum((folder / n).is_file() for n in notebooks)
        if count > best_count:
            best, best_count = folder, count
    return best


class NotebookRefused(ValueError):
    """A notebook that is not parsed: too large, too many cells, or not a notebook."""


def notebook_json(data: bytes, limits, what: str = "the notebook") -> dict:
    """The JSON of a notebook's bytes as a dict with a list of cells, or NotebookRefused.

    The size cap (``limits.max_notebook_mb``) is checked first, then the cell count
    cheaply (each cell has a "cell_type" key, which cannot occur unescaped inside a
    JSON string), then exactly once parsed; nbformat never sees an over-cap notebook.
    """
    max_bytes, max_cells = limits.max_notebook_mb << 20, limits.max_notebook_cells
    if len(data) > max_bytes:
        raise NotebookRefused(f"{what} is larger than {limits.max_notebook_mb} MB")
    if data.count(b'"cell_type"') > max_cells:
        raise NotebookRefused(f"{what} has more than {max_cells} cells")
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotebookRefused(f"{what} is not a readable notebook (broken JSON)") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells", []), list):
        raise NotebookRefused(f"{what} is not a readable notebook (not in the notebook format)")
    if len(nb.get("cells", [])) > max_cells:
        raise NotebookRefused(f"{what} has more than {max_cells} cells")
    return nb


def read_notebook(path, limits, what: str = "the notebook"):
    """Parse the notebook at ``path`` once, within the caps: an nbformat 4 NotebookNode.

    Raises NotebookRefused, with the reason, for anything that is not one. The
    size is checked before a byte is read.
    """
    import nbformat
    from nbformat.reader import get_version

    path = Path(path)
    try:
        if os.path.getsize(path) > limits.max_notebook_mb << 20:
            raise NotebookRefused(f"{what} is larger than {limits.max_notebook_mb} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise NotebookRefused(f"{what} could not be read ({exc.strerror})") from None
    nb = notebook_json(data, limits, what)
    try:
        major, minor = get_version(nb)
        nb = nbformat.convert(nbformat.versions[major].to_notebook_json(nb, minor=minor), 4)
    except Exception:  # unknown or broken format versions, malformed cells
        raise NotebookRefused(f"{what} is not a readable notebook (not in the notebook format)") from None
    if not isinstance(nb.get("cells"), list):
        raise NotebookRefused(f"{what} is not a readable notebook (not in the notebook format)")
    return nb


def _read_notebooks(root, names, limits):
    """({name: NotebookNode}, {name: why}) for the expected notebooks under ``root``."""
    parsed, refused = {}, {}
    for name in names:
        if not (root / name).is_file():
            continue
        try:
            parsed[name] = read_notebook(root / name, limits, f"'{name}'")
        except NotebookRefused as exc:
            refused[name] = str(exc)
    return parsed, refused


def take_in(submission, dest, limits, notebooks=()) -> Intake:
    """Unpack ``submission`` (zip file or folder) into the empty folder ``dest``.

    ``limits``: an ``autograder.assignment.Limits``; ``notebooks``: the file names
    of the expected notebooks (they locate the root, and are parsed). Returns an
    Intake whose ``root`` is the submission's root folder inside ``dest``.
    """
    submission, dest = Path(submission), Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    budget = _Budget(limits.max_upload_mb << 20, limits.max_upload_files)
    problems = []
    if submission.is_symlink():
        raise IntakeError("the submission itself is a link")
    if submission.is_dir():
        _copy_folder(submission, dest, budget, problems)
    elif submission.is_file():
        _unpack_zip(submission, dest, budget, problems)
    else:
        raise IntakeError(f"no submission at {submission}")
    root = find_root(dest, notebooks)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    parsed, refused = _read_notebooks(root, notebooks, limits)
    return Intake(root=root, files=files, problems=problems, notebooks=parsed, refused_notebooks=refused)
