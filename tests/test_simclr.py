"""The SimCLR part outside its checks: the CIFAR-10 sample (real format, read by
torchvision, deterministic), the two losses agreeing, the augmentation check's
crop statistics against torchvision's own RandomResizedCrop, the device
fallback, and leaving the part out with assignment.toml's ``omit_parts``."""
import pickle
import tomllib

import numpy as np
import pytest
import torch

from autograder.assignment import ASSIGNMENT_FILE, load_assignment, parse_assignment
from cs231n.datasets import sample_cifar10
from cs231n.simclr import open_cifar10, resolve_device
from cs231n.simclr.contrastive_loss import simclr_loss_naive, simclr_loss_vectorized


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    """torchvision's root of a freshly built CIFAR-10 sample (default seed)."""
    root = tmp_path_factory.mktemp("cifar")
    sample_cifar10.build_cifar10(root / sample_cifar10.DIR_NAME)
    return root


def test_torchvision_reads_the_sample_in_the_real_layout(cifar_root):
    import torchvision

    folder = cifar_root / sample_cifar10.DIR_NAME
    assert sorted(p.name for p in folder.iterdir()) == sorted([*sample_cifar10.FILES, "SAMPLE_DATA.txt"])
    with open(folder / "data_batch_1", "rb") as handle:
        entry = pickle.load(handle, encoding="latin1")  # as torchvision (and cs231n's old loaders) read it
    assert entry["data"].dtype == np.uint8 and entry["data"].shape == (sample_cifar10.PER_TRAIN_BATCH, 3072)
    assert set(entry) == {"batch_label", "labels", "data", "filenames"}
    train = open_cifar10(cifar_root, train=True)
    test = open_cifar10(cifar_root, train=False)
    assert isinstance(train, torchvision.datasets.CIFAR10)
    assert len(train) == 1500 and len(test) == 500 and train.classes == sample_cifar10.LABEL_NAMES
    assert train.data.shape == (1500, 32, 32, 3) and np.bincount(train.targets).tolist() == [150] * 10
    image, label = train[0]
    assert image.size == (32, 32) and 0 <= label < 10
    # the plain class refuses only because of the real files' MD5 sums; an unmarked folder is checked as usual
    with pytest.raises(RuntimeError, match="corrupted"):
        torchvision.datasets.CIFAR10(cifar_root, download=False)
    (folder / "SAMPLE_DATA.txt").rename(folder / "marker.txt")
    try:
        with pytest.raises(RuntimeError, match="corrupted"):
            open_cifar10(cifar_root)
    finally:
        (folder / "marker.txt").rename(folder / "SAMPLE_DATA.txt")


def test_missing_data_names_both_ways_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="get_datasets.sh.*build_sample_data"):
        open_cifar10(tmp_path)


def test_the_same_seed_gives_the_same_bytes(cifar_root, tmp_path):
    again = sample_cifar10.build_cifar10(tmp_path / "again")
    for name in sample_cifar10.FILES:
        assert (cifar_root / sample_cifar10.DIR_NAME / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    other = sample_cifar10.build_cifar10(tmp_path / "other", seed=1)
    assert (tmp_path / "other" / "test_batch").read_bytes() != (tmp_path / "again" / "test_batch").read_bytes()
    assert again and other


def test_the_builder_registry_builds_it_and_keeps_real_data(tmp_path):
    from cs231n.datasets.build_sample_data import SAMPLE_BUILDERS

    assert "built" in SAMPLE_BUILDERS["cifar10"](tmp_path, seed=231, force=False)
    assert "up to date" in SAMPLE_BUILDERS["cifar10"](tmp_path, seed=231, force=False)
    (tmp_path / sample_cifar10.DIR_NAME / "SAMPLE_DATA.txt").unlink()  # now it looks real
    assert "real data" in SAMPLE_BUILDERS["cifar10"](tmp_path, seed=231, force=True)


def test_vectorised_loss_equals_the_naive_one():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n, d = rng.integers(2, 10), rng.integers(2, 20)
        left, right = torch.tensor(rng.standard_normal((n, d))), torch.tensor(rng.standard_normal((n, d)))
        tau = float(rng.uniform(0.05, 5))
        naive = simclr_loss_naive(left, right, tau).item()
        assert simclr_loss_vectorized(left, right, tau, device="cpu").item() == pytest.approx(naive, rel=1e-12)


def test_an_absent_accelerator_means_the_cpu():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("cuda") == torch.device("cpu")
        left = torch.randn(4, 3)
        assert torch.isfinite(simclr_loss_vectorized(left, left + 1, 0.5))  # the default device='cuda'


def test_crop_statistics_match_torchvisions_random_resized_crop():
    """The augmentation check's expected crop area (a NumPy replay of the algorithm) against
    torchvision's own get_params on a 32 x 32 image."""
    import cs231n  # noqa: F401
    from PIL import Image
    from torchvision import transforms

    from autograder.checks.simclr import crop_area_moments

    torch.manual_seed(0)
    image = Image.new("RGB", (32, 32))
    areas = np.array([h * w / 1024 for _, _, h, w in (transforms.RandomResizedCrop.get_params(
        image, (0.08, 1.0), (3 / 4, 4 / 3)) for _ in range(20000))])
    mean, sd = crop_area_moments()
    assert abs(areas.mean() - mean) < 4 * sd / np.sqrt(len(areas))
    assert areas.std() == pytest.approx(sd, rel=0.02)


def with_simclr_omitted(tmp_path):
    text = ASSIGNMENT_FILE.read_text()
    assert "omit_parts = []" in text
    path = tmp_path / "assignment.toml"
    path.write_text(text.replace("omit_parts = []", 'omit_parts = ["simclr"]'))
    return path


def test_omit_parts_leaves_the_part_out_everywhere(tmp_path):
    full = load_assignment()
    omitted = load_assignment(with_simclr_omitted(tmp_path))
    simclr = full.parts["simclr"]
    assert "simclr" not in omitted.parts and omitted.omitted == {"simclr": simclr}
    assert not [c for c in omitted.checks.values() if c.part == "simclr"]
    assert not [m for m in omitted.manual.values() if m.part == "simclr"]
    assert not [f for f in omitted.student_files if f.startswith("cs231n/simclr/")]
    assert set(full.student_files) - set(omitted.student_files) == {
        "cs231n/simclr/contrastive_loss.py", "cs231n/simclr/data_utils.py", "cs231n/simclr/utils.py"}
    assert simclr.notebook not in {p.notebook for p in omitted.parts.values()}
    assert "simclr" not in omitted.expected_seconds
    assert omitted.auto_points() == full.auto_points() - full.auto_points("simclr") == full.auto_points() - 16
    assert omitted.manual_points() == full.manual_points() - full.manual_points("simclr")
    assert omitted.is_omitted_file("cs231n/simclr/model.py") and not full.is_omitted_file("cs231n/simclr/model.py")
    assert not omitted.is_omitted_file("cs231n/gan_pytorch.py")


def test_an_omitted_part_leaves_the_release(tmp_path):
    """The release's package copy and submission list, built from the omitting assignment."""
    from autograder.release.build import add_kit_files, copy_stripped_package

    omitted = load_assignment(with_simclr_omitted(tmp_path))
    copy_stripped_package(tmp_path / "kit", assignment=omitted)
    assert (tmp_path / "kit" / "cs231n" / "gan_pytorch.py").is_file()
    assert not (tmp_path / "kit" / "cs231n" / "simclr").exists()
    add_kit_files(tmp_path / "kit", omitted)
    listed = (tmp_path / "kit" / "submission_files.txt").read_text()
    assert "Self_Supervised_Learning.ipynb" not in listed and "simclr" not in listed
    assert "Generative_Adversarial_Networks.ipynb" in listed


def test_omit_parts_names_only_parts():
    data = tomllib.loads(ASSIGNMENT_FILE.read_text())
    with pytest.raises(ValueError, match="unknown parts \\['simclrr'\\]"):
        parse_assignment(dict(data, omit_parts=["simclrr"]))
    with pytest.raises(ValueError, match="leaves no part"):
        parse_assignment(dict(data, omit_parts=[p["id"] for p in data["parts"]]))


def test_colab_downloads_cifar10_only_for_a_kit_with_the_part(tmp_path):
    from cs231n import colab_setup

    datasets = tmp_path / "cs231n" / "datasets"
    datasets.mkdir(parents=True)
    assert "cifar-10-batches-py" not in colab_setup.missing_data(tmp_path)  # no cs231n/simclr: part omitted
    (tmp_path / "cs231n" / "simclr").mkdir()
    assert "cifar-10-batches-py" in colab_setup.missing_data(tmp_path)
    sample_cifar10.build_cifar10(datasets / sample_cifar10.DIR_NAME)
    assert "cifar-10-batches-py" in colab_setup.missing_data(tmp_path)  # the sample is not the real data
    (datasets / sample_cifar10.DIR_NAME / "SAMPLE_DATA.txt").unlink()
    assert "cifar-10-batches-py" not in colab_setup.missing_data(tmp_path)


def test_the_canonical_resnet18_model_trains_and_feeds_the_knn_monitor(cifar_root):
    """Full mode's path on the CPU, at toy size: ResNet-18 for 32 x 32 images gives unit-norm
    512-d features and 128-d projections, one epoch of ``train`` over pairs of the sample
    changes its weights and returns a finite loss, and ``test``'s kNN vote reads its features."""
    from torch.utils.data import DataLoader, Subset

    from cs231n.simclr.data_utils import CIFAR10Pair, compute_test_transform, compute_train_transform
    from cs231n.simclr.model import Model
    from cs231n.simclr.utils import test as knn_test
    from cs231n.simclr.utils import train

    torch.manual_seed(0)
    model = Model()  # feature_dim=128, the ResNet-18 encoder
    h, z = model(torch.randn(3, 3, 32, 32))
    assert h.shape == (3, 512) and z.shape == (3, 128)
    assert torch.allclose(h.norm(dim=1), torch.ones(3)) and torch.allclose(z.norm(dim=1), torch.ones(3))

    pairs = open_cifar10(cifar_root, train=True, transform=compute_train_transform(), dataset_class=CIFAR10Pair)
    loader = DataLoader(Subset(pairs, range(8)), batch_size=4, shuffle=False, drop_last=True)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = train(model, loader, optimizer, 1, 1, batch_size=4, temperature=0.5, device="cuda")
    assert np.isfinite(loss) and loss > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))

    plain = open_cifar10(cifar_root, train=False, transform=compute_test_transform(), dataset_class=CIFAR10Pair)
    top1, top5 = knn_test(model, DataLoader(Subset(plain, range(20)), batch_size=10),
                          DataLoader(Subset(plain, range(20, 30)), batch_size=10), 1, 1, c=10, k=5, device="cuda")
    assert 0 <= top1 <= top5 <= 100
