"""The trainable network: EfficientNet-Lite0 (ImageNet weights) with a 133-class Udacity head beside the
original ImageNet head, so the exported model names the breed and can still say "not a dog".

The backbone stays frozen up to a split point (``trunk``). In ``head`` mode the split is after the
last convolution and only the new linear head learns; in ``last-blocks`` mode a copy of the last two
blocks and the head convolution learns too, while the ImageNet branch keeps the original ones, so the
dog score the server reads is the one that was measured.
"""

import copy

import torch
from torch import nn

from classifier.labels import udacity_imagenet_indices
from classifier.training.export_onnx import build_torch_model

NUM_CLASSES = 133
TUNED_BLOCKS = {"head": 0, "last-blocks": 2}
_DROPOUT = 0.2
"""EfficientNet-Lite0's own dropout before its classifier."""


class _Trunk(nn.Module):
    """Stem and the first blocks: frozen, shared by both heads."""

    def __init__(self, backbone: nn.Module, blocks: int) -> None:
        super().__init__()
        self.conv_stem, self.bn0, self.act = backbone._conv_stem, backbone._bn0, backbone._swish
        self.blocks = nn.ModuleList(backbone._blocks[:blocks])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn0(self.conv_stem(x)))
        for block in self.blocks:
            x = block(x)
        return x


class _Stage(nn.Module):
    """The remaining blocks, the head convolution and global average pooling: feature map to (N, 1280)."""

    def __init__(self, backbone: nn.Module, first_block: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(backbone._blocks[first_block:])
        self.conv_head, self.bn1, self.act = backbone._conv_head, backbone._bn1, backbone._swish

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.act(self.bn1(self.conv_head(x))).mean(dim=(2, 3))


class BreedClassifier(nn.Module):
    """The part that learns: features after the trunk to 133 breed logits. Its BatchNorm layers keep
    the ImageNet statistics (a few hundred photos would only make them noisier); only dropout trains."""

    def __init__(self, stage: nn.Module, in_features: int) -> None:
        super().__init__()
        self.stage = stage
        self.dropout = nn.Dropout(_DROPOUT)
        self.head = nn.Linear(in_features, NUM_CLASSES)

    def train(self, mode: bool = True) -> "BreedClassifier":
        super().train(mode)
        self.stage.eval()
        return self

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.stage(features)))


class BreedNet(nn.Module):
    """``forward`` returns (breed logits (N, 133), ImageNet logits (N, 1000)) — the served graph."""

    def __init__(self, fine_tune: str) -> None:
        super().__init__()
        backbone = build_torch_model()
        first_tuned = len(backbone._blocks) - TUNED_BLOCKS[fine_tune]
        if fine_tune == "head":
            self.trunk = nn.Sequential(_Trunk(backbone, first_tuned), _Stage(backbone, first_tuned))
            self.imagenet_stage: nn.Module = nn.Identity()
            breed_stage: nn.Module = nn.Identity()
        else:
            self.trunk = _Trunk(backbone, first_tuned)
            self.imagenet_stage = _Stage(backbone, first_tuned)
            breed_stage = copy.deepcopy(self.imagenet_stage)
        self.imagenet_head = backbone._fc
        self.classifier = BreedClassifier(breed_stage, backbone._fc.in_features)
        _init_from_imagenet(self.classifier.head, self.imagenet_head)
        for module in (self.trunk, self.imagenet_stage, self.imagenet_head):
            module.requires_grad_(False)
        # oneDNN's convolutions on the CPU run about a third faster on channels-last tensors.
        self.to(memory_format=torch.channels_last)
        self.eval()

    def train(self, mode: bool = True) -> "BreedNet":
        """Only the classifier's dropout ever trains; frozen parts stay in inference mode."""
        super().train(False)
        self.classifier.train(mode)
        return self

    def trunk_features(self, images: torch.Tensor) -> torch.Tensor:
        """The frozen trunk's output, computed without autograd: most of the compute, none of the memory."""
        with torch.no_grad():
            return self.trunk(images.contiguous(memory_format=torch.channels_last))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shared = self.trunk(images.contiguous(memory_format=torch.channels_last))
        return self.classifier(shared), self.imagenet_head(self.imagenet_stage(shared))


def _init_from_imagenet(head: nn.Linear, imagenet_head: nn.Linear) -> None:
    """Start the 88 breeds ImageNet also knows from its classifier rows (the mean where it splits a breed
    into several classes): the head then begins near ImageNet's own accuracy on them."""
    with torch.no_grad():
        for row, indices in enumerate(udacity_imagenet_indices()):
            if indices:
                head.weight[row] = imagenet_head.weight[list(indices)].mean(dim=0)
                head.bias[row] = imagenet_head.bias[list(indices)].mean()
