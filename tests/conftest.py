"""Shared pytest fixtures."""
import gc

import pytest

import cs231n  # noqa: F401  (first, so that torchvision imports everywhere; see CONVENTIONS.md)

# The slowest test files, slowest first (measured on 2 cores, 2026-12-04). Collected first, so
# that under ``--dist loadfile --no-loadscope-reorder`` (scripts/test.sh) the long
# ones start at once and the short ones fill in behind them: pytest-xdist then hands out
# files in collection order, and a long file started last would run alone at the end.
# (Without that flag xdist orders files by their number of tests: the one-test
# fairness corpus went last and ran alone for its last two minutes.)
SLOWEST_FIRST = ("test_hostile_corpus.py", "test_fairness_corpus.py", "test_notebooks_headless.py",
                 "test_nbgrader.py", "test_fairness_checks.py", "test_grader.py", "test_cluster.py",
                 "test_environments.py", "test_gradescope.py", "test_nbgrader_autograde.py",
                 "test_execute.py", "test_sandbox.py", "test_captioning_transformer.py",
                 "test_self_check.py", "test_checks_gan.py", "test_batch_robustness.py",
                 "test_forkserver.py")


def pytest_collection_modifyitems(items):
    """Order the collected tests: SLOWEST_FIRST's files first, the rest as collected."""
    rank = {name: k for k, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file kept


def pytest_unconfigure(config):
    """Freeze what the session leaves: the interpreter's last garbage collections, as it
    exits, then skip it (torch's objects, the graded batches' caches; 2-10 s of one core
    per pytest process, measured, at the very end of the run)."""
    gc.freeze()


@pytest.fixture(scope="session")
def coco_sample_dir(tmp_path_factory):
    """Path of a freshly generated COCO captioning sample (default seed), built
    once per test session into a temporary directory."""
    from cs231n.datasets import sample_coco

    return sample_coco.build_coco_sample(tmp_path_factory.mktemp("coco_sample"),
                                         seed=sample_coco.DEFAULT_SEED)


@pytest.fixture(scope="session")
def coco_data(coco_sample_dir):
    """load_coco_data of the sample (512-d PCA features). Shared by the whole
    session: tests must not modify it in place (copy what you change)."""
    from cs231n.coco_utils import load_coco_data

    return load_coco_data(base_dir=coco_sample_dir)


@pytest.fixture(scope="session")
def imagenet_sample_path(tmp_path_factory):
    """Path of a freshly generated imagenet_val_25.npz sample (default seed)."""
    from cs231n.datasets import sample_imagenet

    path = tmp_path_factory.mktemp("imagenet_sample") / sample_imagenet.FILE_NAME
    return sample_imagenet.build_imagenet(path, seed=sample_imagenet.DEFAULT_SEED)


@pytest.fixture(scope="session")
def mnist_sample_root(tmp_path_factory):
    """Root folder (what torchvision.datasets.MNIST takes) of a freshly generated
    MNIST sample (default seed): the IDX files are in <root>/MNIST/raw/."""
    from cs231n.datasets import sample_mnist

    root = tmp_path_factory.mktemp("mnist_sample")
    sample_mnist.build_mnist(root, seed=sample_mnist.DEFAULT_SEED)
    return root


@pytest.fixture(scope="session")
def squeezenet_fallback():
    """The offline SqueezeNet 1.1 of load_squeezenet (fixed-seed random weights)."""
    from cs231n.squeezenet import load_squeezenet

    return load_squeezenet(pretrained=False)
