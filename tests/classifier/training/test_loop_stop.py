"""A stop (SIGTERM) that comes while a training batch loads: one host stops at once, without waiting for the
batch; hosts of a multi-host job finish loading it, since they stop together between batches."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
import torch

from classifier.training.loop import StopSignal, _run_epoch

LOADING_STEPS = 200_000


def batches_stopped_while_loading(progress: list[int]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One batch, then SIGTERM arrives while the second one loads (a long decode, step by step)."""
    yield torch.zeros(2, 4), torch.zeros(2, dtype=torch.long)
    os.kill(os.getpid(), signal.SIGTERM)
    for step in range(LOADING_STEPS):
        progress.append(step)
    yield torch.zeros(2, 4), torch.zeros(2, dtype=torch.long)


@pytest.fixture
def stop() -> Iterator[StopSignal]:
    previous = signal.getsignal(signal.SIGTERM)
    stop = StopSignal()
    stop.install()
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("single_host", [True, False])
def test_a_stop_while_a_batch_loads(stop: StopSignal, single_host: bool):
    stop.single_host = single_host
    classifier = torch.nn.Linear(4, 3)
    optimizer = torch.optim.SGD(classifier.parameters(), lr=0.1)
    progress: list[int] = []
    assert _run_epoch(classifier, batches_stopped_while_loading(progress), optimizer, stop) is None
    assert stop.requested
    if single_host:  # it did not wait for the batch
        assert len(progress) < LOADING_STEPS
    else:  # the batch loaded, and the hosts stop together before training on it
        assert len(progress) == LOADING_STEPS
