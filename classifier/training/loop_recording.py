"""The training loop's recording glue: per-class counts and ReLU activity gathered per epoch, an epoch's
records, and the Debugger rules evaluated as the job trains (status changes logged, optional stop)."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from classifier.recording.recorder import Recorder
from classifier.rules.debugger_rules import DEBUG_RULES, RuleResult, evaluate_rule
from classifier.training.breed_net import NUM_CLASSES
from classifier.training.config import TrainConfig

Log = Callable[[str], None]


class EpochMetrics(Protocol):
    loss: float
    accuracy: float
    seconds: float
    data_seconds: float


@dataclass
class EpochCounts:
    """Per-class counts and ReLU activity of one epoch, for ClassImbalance and DeadRelu."""

    train_samples: torch.Tensor | None = None
    samples: torch.Tensor | None = None
    correct: torch.Tensor | None = None
    active: torch.Tensor | None = None
    """Per unit of the head's input (pooled ReLU outputs in head mode): samples it was positive for."""
    active_samples: int = 0


def count_batch(
    counts: EpochCounts, features: torch.Tensor, labels: torch.Tensor, hits: torch.Tensor, training: bool
) -> None:
    classes = NUM_CLASSES
    if training:
        per_class = torch.bincount(labels, minlength=classes)
        counts.train_samples = per_class if counts.train_samples is None else counts.train_samples + per_class
        if features.dim() == 2:  # head mode: the frozen trunk's pooled ReLU6 outputs enter the head
            active = (features > 0).sum(dim=0)
            counts.active = active if counts.active is None else counts.active + active
            counts.active_samples += len(labels)
        return
    samples = torch.bincount(labels, minlength=classes)
    right = torch.bincount(labels[hits], minlength=classes)
    counts.samples = samples if counts.samples is None else counts.samples + samples
    counts.correct = right if counts.correct is None else counts.correct + right


def record_epoch(
    recorder: Recorder,
    epoch: int,
    train: EpochMetrics,
    valid: EpochMetrics,
    counts: EpochCounts,
    evaluation_started: float,
) -> None:
    recorder.add_seconds("data_loading", train.data_seconds, epoch)
    recorder.add_seconds("forward_backward", train.seconds - train.data_seconds, epoch)
    recorder.add_phase("evaluation", evaluation_started, time.time(), epoch)
    recorder.epoch_end(epoch, valid.loss, valid.accuracy)
    if counts.train_samples is not None and counts.samples is not None and counts.correct is not None:
        recorder.add_record(
            {
                "Record": "classes",
                "Epoch": epoch,
                "Step": recorder.step,
                "TrainSamples": counts.train_samples.tolist(),
                "Samples": counts.samples.tolist(),
                "Correct": counts.correct.tolist(),
            }
        )
    if counts.active is not None and counts.active_samples:
        active = (counts.active.double() / counts.active_samples).tolist()
        recorder.add_record(
            {
                "Record": "relu_activity",
                "Epoch": epoch,
                "Step": recorder.step,
                "Layer": "trunk_features",
                "Active": [round(a, 3) for a in active],
            }
        )


def check_rules(recorder: Recorder, statuses: dict[str, str], config: TrainConfig, log: Log, finished: bool) -> bool:
    """Evaluate the Debugger rules on what this host recorded; log each change; True when a rule named in
    ``stop_on_rules`` has fired. Only the leader records model data, so only it judges."""
    if not config.is_leader:
        return False
    recording = recorder.recording()
    stop = False
    for name in DEBUG_RULES:
        result = evaluate_rule(name, recording, finished=finished)
        if statuses.get(name) != result.status:
            statuses[name] = result.status
            log(f"Rule {name}: {result.status}{_rule_words(result)}")
            recorder.add_record({"Record": "rule", "Rule": name, "Status": result.status, "Details": result.details})
        if result.status == "IssuesFound" and name in config.stop_on_rules:
            if not finished:
                log(f"Stopping training: rule {name} fired and stop_on_rule names it.")
            stop = True
    return stop


def _rule_words(result: RuleResult) -> str:
    if result.status == "IssuesFound":
        return f" at step {result.step}: {result.details}"
    return f": {result.details}" if result.details else ""
