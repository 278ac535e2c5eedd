"""Hostile cases for least privilege (issue 11): what the sandbox's uid can read,
what its disk really holds, and links and FIFOs where the grader reads a lane.

Each attack is written so that it would EARN points if it got through: the
wrapped function answers correctly only when the attack succeeded, so the
covering check scores 0 exactly when the defence holds.
"""
from hostile.cases import GAN, THEORY, THEORY_NB, Case, chain, notebook_cell, wrap

# Earns the check's points only if anything outside the allow-list is readable.
READ_HOST = """
import os
places = ["/etc/shadow", "/root/.bashrc", "/root/.profile", "@CANARY@", "@SUBMISSIONS@", "@OUT@", "@REPO@/cs231n",
          "@REPO@/assignment", "/var/tmp", "/home", "/var/log", "/etc/ssh"]
readable = [p for p in places if os.path.exists(p) and os.access(p, os.R_OK)]
if readable:
    return _original_one_unit_step_rnn_can_compute(*args, **kwargs)
"""

# Fills the disk with files deleted while open: the work folder's own size stops it.
UNLINKED_DISK = """
import os
kept = []
for i in range(1000):
    handle = open(f"ghost_{i}", "wb")
    os.unlink(f"ghost_{i}")
    kept.append(handle)
    handle.write(b"x" * (32 << 20))
    handle.flush()
return _original_sample_noise(*args, **kwargs)
"""

# Swaps the folder the runner writes executed notebooks into for a link, and plants a FIFO.
SWAP_EXECUTED = """
import os, shutil
shutil.rmtree("executed", ignore_errors=True)
os.symlink("/usr/lib", "executed")
os.mkfifo(".grader/notebooks/fifo")
"""

# From a notebook lane, reach the check lane of the same submission (its host path is
# known: <out>/<id>/.work/lane<k>) and forge the broken check's output, plant a FIFO
# at its error file and a link at its outputs folder, for 15 s (under the per-cell limit).
LANE_RACE = """
import glob, os, time
forged = []
deadline = time.monotonic() + 15
while time.monotonic() < deadline and not forged:
    for lane in glob.glob("@OUT@/priv_lane_race/.work/lane*") + glob.glob("../lane*"):
        outputs = os.path.join(lane, ".grader/io/outputs")
        try:
            os.mkfifo(os.path.join(outputs, "step_rnn_impossible.error.txt"))
            forged.append(lane)
        except OSError:
            pass
        try:
            os.replace(outputs, outputs + ".old")
            os.symlink("/etc", outputs)
            forged.append(lane)
        except OSError:
            pass
    time.sleep(0.5)
print("reached other lanes:", forged)
"""

CASES = [
    Case("priv_reads_host_files", "one_unit_step_rnn_can_compute answers only if /etc/shadow, /root, the canary, "
         "the submissions, the output or the repository is readable", "allow-list mounts, own unprivileged uid",
         build=wrap(THEORY, "one_unit_step_rnn_can_compute", READ_HOST),
         breaks=(f"{THEORY}:one_unit_step_rnn_can_compute",)),
    Case("priv_unlinked_disk", "sample_noise writes 32 GB into files it deleted while open",
         "work folder of fixed size",
         build=wrap(GAN, "sample_noise", UNLINKED_DISK), breaks=(f"{GAN}:sample_noise",),
         messages={"sample_noise": "No space left|larger than the limit|disk|killed|stopped"}),
    Case("priv_swap_executed_folder", "the theory notebook replaces the executed-notebook folder by a link to "
         "/usr/lib and plants a FIFO", "reads without links (Workspace.read_bytes)",
         build=notebook_cell(THEORY_NB, SWAP_EXECUTED), breaks=(), isolated=True,
         notebooks={THEORY_NB: "failed|not kept|raised|changed"}, all_notebooks=True),
    Case("priv_lane_race", "one_unit_step_rnn_can_compute is broken; the theory notebook spends 15 s trying "
         "to reach the check lane (by its host path and as a sibling folder) to plant a FIFO and swap its "
         "outputs folder for a link", "one workspace per lane, allow-list mounts",
         build=chain(wrap(THEORY, "one_unit_step_rnn_can_compute", "", "return None"),
                     notebook_cell(THEORY_NB, LANE_RACE)),
         breaks=(f"{THEORY}:one_unit_step_rnn_can_compute",), all_notebooks=True),
]
