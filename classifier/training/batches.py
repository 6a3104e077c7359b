"""Where a training epoch's batches come from: photos decoded per epoch, or, in ``head`` mode, the frozen
trunk's features of each photo computed once and kept.

In ``head`` mode everything before the linear head is frozen and in inference mode, so a photo (and its
mirror, the one augmentation) maps to the same 1,280 numbers every epoch. Keeping them makes every epoch
after the first little more than a linear layer's work; each photo is still mirrored at random, each
epoch, with the same odds.
"""

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
from PIL import ImageOps
from torch.utils.data import BatchSampler, DataLoader, Dataset

from classifier.preprocessing import ImageError, load_image, to_model_input
from classifier.training.breed_net import BreedNet
from classifier.training.image_folder import DatasetError

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
"""(trunk features, labels) on the training device, one pair per batch."""

MAX_CACHED_BYTES = 2 * 2**30
"""Beyond this many bytes of features (about 200,000 photo orientations in head mode) the rest are
computed every epoch instead of kept."""


def image_tensor(path: Path, mirror: bool) -> torch.Tensor:
    """One photo preprocessed exactly as the endpoint does, optionally mirrored (a mirrored dog is the
    same breed)."""
    try:
        image = load_image(path.read_bytes())
    except ImageError as exc:
        raise DatasetError(f"Cannot train on {path}: {exc}") from None
    if mirror:
        image = ImageOps.mirror(image)
    return torch.from_numpy(to_model_input(image)[0])


def draw_mirror(augment: bool) -> bool:
    """Whether to mirror the next training photo: one draw from torch's generator per photo."""
    return augment and bool(torch.rand(()) < 0.5)


class ImageDataset(Dataset):
    """Decoded photos for a DataLoader (its worker processes decode while the GPU computes)."""

    def __init__(self, samples: Sequence[tuple[Path, int]], augment: bool) -> None:
        self.samples = list(samples)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return image_tensor(path, draw_mirror(self.augment)), label


class DecodedBatches:
    """Every photo decoded and run through the trunk again each epoch: the way when part of what follows
    the trunk learns (last-blocks mode). Iterate once per epoch."""

    def __init__(self, net: BreedNet, loader: DataLoader, device: torch.device) -> None:
        self.net, self.loader, self.device = net, loader, device

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, labels in self.loader:
            images = images.to(self.device, non_blocking=True)
            yield self.net.trunk_features(images), labels.to(self.device, non_blocking=True)


class CachedFeatureBatches:
    """Batches whose trunk features are computed the first time a (photo, mirrored) pair comes up and
    reused after; iterate once per epoch."""

    def __init__(
        self,
        net: BreedNet,
        samples: Sequence[tuple[Path, int]],
        sampler: Iterable[int],
        batch_size: int,
        device: torch.device,
        augment: bool,
        max_bytes: int = MAX_CACHED_BYTES,
    ) -> None:
        self.net, self.samples, self.device, self.augment = net, list(samples), device, augment
        self.batches = BatchSampler(sampler, batch_size, drop_last=False)
        self.max_bytes = max_bytes
        self.cached: dict[tuple[int, bool], torch.Tensor] = {}
        self.cached_bytes = 0
        self.computed = 0
        """Photo orientations that went through the trunk (for tests and the curious)."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for indices in self.batches:
            keys = [(index, draw_mirror(self.augment)) for index in indices]
            labels = torch.tensor([self.samples[index][1] for index in indices], device=self.device)
            yield self._features(keys), labels

    def _features(self, keys: list[tuple[int, bool]]) -> torch.Tensor:
        missing = list(dict.fromkeys(key for key in keys if key not in self.cached))
        fresh: dict[tuple[int, bool], torch.Tensor] = {}
        if missing:
            images = torch.stack([image_tensor(self.samples[index][0], mirror) for index, mirror in missing])
            features = self.net.trunk_features(images.to(self.device))
            fresh = dict(zip(missing, features, strict=True))
            self.computed += len(missing)
            for key, row in fresh.items():
                size = row.numel() * row.element_size()
                if self.cached_bytes + size > self.max_bytes:
                    break
                self.cached[key] = row
                self.cached_bytes += size
        return torch.stack([self.cached[key] if key in self.cached else fresh[key] for key in keys])
