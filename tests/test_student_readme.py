"""The kit's README (release/README.md, from assignment/STUDENT_README.md) tells a
student who has never used Jupyter what to run: every file it names is in the kit,
every command it shows names a script or part that exists, and it covers Colab,
a laptop and handing in from both."""
import importlib.util
import json
import re

from autograder.assignment import ROOT, load_assignment

KIT = ROOT / "release"
README = (KIT / "README.md").read_text()


def kit_script(name):
    spec = importlib.util.spec_from_file_location(name, KIT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_file_the_readme_names_is_in_the_kit():
    named = set(re.findall(r"(?<![\w*/.])([\w/-]+(?:\.[\w-]+)*\.(?:py|yml|txt|sh|ipynb))\b", README))
    assert {"collect_submission.py", "self_check.py", "environment.yml", "requirements.txt",
            "cs231n/datasets/get_datasets.sh", "CS231N_ASSIGNMENT3_KIT.txt"} <= named
    missing = sorted(name for name in named if not (KIT / name).is_file())
    assert not missing, f"the README names files the kit lacks: {missing}"


def test_every_part_name_the_readme_shows_is_one_the_self_check_accepts():
    notebooks = [part.notebook for part in load_assignment().parts.values()]
    names = kit_script("self_check").part_names(notebooks)
    shown = re.findall(r"python self_check\.py ([a-z][\w ]*?)\s*(?:#|$)", README, re.MULTILINE)
    shown += re.findall(r"one part: ([a-z, ]+)", README)[0].split(", ")
    words = {word for text in shown for word in text.split()}
    assert words and not words - set(names), words - set(names)
    assert {names[word] for word in re.findall(r"one part: ([a-z, ]+)", README)[0].split(", ")} == set(notebooks)


def test_the_readme_walks_through_colab_a_laptop_and_handing_in():
    for step in ("Shift+Enter", "Restart Kernel and Run All", "KIT_FOLDER", "jupyter lab",
                 "pip install -r requirements.txt", "conda env create -f environment.yml",
                 "!python collect_submission.py", "files.download", "YOUR ANSWER HERE"):
        assert step in README, step
    for part in load_assignment().parts.values():
        first = json.loads((KIT / part.notebook).read_text())["cells"][0]
        assert "KIT_FOLDER = None" in "".join(first["source"]), f"{part.notebook}: the variable the README names"
