"""A grader process's temporary folders (autograder/process_tmp.py): removed at exit, and,
when the process was killed, by the next grader process once they are stale."""
import os
import secrets
import signal
import subprocess
import sys
import time

from autograder.assignment import ROOT
from autograder.process_tmp import STALE_AFTER_S, process_folder, remove_stale

MAKE = ("import sys, time; from autograder.process_tmp import process_folder; "
        "print(process_folder(sys.argv[1]), flush=True)")


def made_by_a_process(prefix, then_sleep):
    """The folder a separate Python process made, and that process (still running if ``then_sleep``)."""
    code = MAKE + ("; time.sleep(60)" if then_sleep else "")
    proc = subprocess.Popen([sys.executable, "-c", code, prefix], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    return proc.stdout.readline().strip(), proc


def test_a_folder_goes_at_exit_and_a_killed_process_leaves_one_the_next_removes_once_stale():
    prefix = f"cs231n-test-{secrets.token_hex(4)}-"
    folder, proc = made_by_a_process(prefix, then_sleep=False)
    assert proc.wait() == 0 and folder and not os.path.exists(folder)  # gone at exit

    killed, proc = made_by_a_process(prefix, then_sleep=True)
    assert os.path.basename(killed).startswith(f"{prefix}{proc.pid}-") and os.path.isdir(killed)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert remove_stale(prefix) == [] and os.path.isdir(killed)  # too fresh to judge
    old = time.time() - STALE_AFTER_S - 60
    os.utime(killed, (old, old))
    mine = process_folder(prefix)  # the next process: removes the stale one, keeps its own
    assert not os.path.exists(killed) and mine.is_dir()
    assert oct(mine.stat().st_mode & 0o777) == "0o700"


def test_a_stale_name_of_a_live_process_stays(tmp_path):
    prefix = f"cs231n-test-{secrets.token_hex(4)}-"
    live = process_folder(prefix)  # this process: alive
    old = time.time() - STALE_AFTER_S - 60
    os.utime(live, (old, old))
    assert remove_stale(prefix) == [] and live.is_dir()
