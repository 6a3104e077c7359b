"""Head mode keeps each photo's frozen-trunk features: the classifier must see what decoding every photo
every epoch gives it, with each (photo, mirrored) pair through the trunk once."""

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, SequentialSampler

from classifier.training.batches import CachedFeatureBatches, DecodedBatches, ImageDataset, image_tensor
from classifier.training.breed_net import BreedNet
from classifier.training.image_folder import read_channel
from tests.channels import DATASET, small_channel

pytestmark = pytest.mark.skipif(not DATASET.is_dir(), reason=f"dataset not found at {DATASET}")


def test_kept_features_are_what_decoding_every_epoch_gives(tmp_path: Path) -> None:
    """Same batches, same order, same features (the random flips aside, checked photo by photo below)."""
    samples = read_channel(small_channel(tmp_path / "channel", classes=4))["valid"].samples
    net, cpu = BreedNet("head"), torch.device("cpu")
    order = SequentialSampler(range(len(samples)))
    kept = CachedFeatureBatches(net, samples, order, 4, cpu, augment=False)
    decoded = DecodedBatches(net, DataLoader(ImageDataset(samples, augment=False), batch_size=4, sampler=order), cpu)
    for _ in range(2):
        for (kept_features, kept_labels), (features, labels) in zip(kept, decoded, strict=True):
            assert torch.equal(kept_labels, labels)
            assert torch.allclose(kept_features, features, atol=1e-5)
    for mirror in (False, True):
        features = kept._features([(0, mirror)])
        assert torch.allclose(features, net.trunk_features(image_tensor(samples[0][0], mirror)[None]), atol=1e-5)


def test_each_photo_orientation_goes_through_the_trunk_once(tmp_path: Path) -> None:
    samples = read_channel(small_channel(tmp_path / "channel", classes=4))["train"].samples
    net = BreedNet("head")
    batches = CachedFeatureBatches(net, samples, range(len(samples)), 4, torch.device("cpu"), augment=True)
    first = [features for features, _ in batches]
    assert batches.computed <= len(samples) and first[0].shape[1] == 1280
    for _ in range(5):
        for _ in batches:
            pass
    assert batches.computed <= 2 * len(samples)
    assert len(batches.cached) == batches.computed  # all kept: far below the memory cap

    unflipped = CachedFeatureBatches(net, samples, range(len(samples)), 4, torch.device("cpu"), augment=False)
    again = [[f for f, _ in unflipped] for _ in range(2)]
    assert unflipped.computed == len(samples)
    assert all(torch.equal(a, b) for a, b in zip(*again, strict=True))


def test_beyond_the_memory_cap_features_are_computed_again_not_kept(tmp_path: Path) -> None:
    samples = read_channel(small_channel(tmp_path / "channel", classes=4))["train"].samples
    row_bytes = 1280 * 4
    batches = CachedFeatureBatches(
        BreedNet("head"), samples, range(len(samples)), 4, torch.device("cpu"), augment=False, max_bytes=3 * row_bytes
    )
    for _ in range(2):
        labels = [label for _, batch_labels in batches for label in batch_labels.tolist()]
    assert labels == [label for _, label in samples]
    assert len(batches.cached) == 3
    assert batches.computed == 2 * len(samples) - 3
