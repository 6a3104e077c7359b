"""The training loop: epochs over the train split (a metric line after each), then the test split, on one
host or several (data-parallel), stoppable by SIGTERM and recorded for the Debugger when asked. Several hosts stop
between batches, together; one host stops at once, even while a batch loads (decoding a batch of photos and
running them through the trunk takes seconds, which a tuner's early stop should not wait for).

Kept apart from the entry point (`train`), which parses the job's arguments and saves the model: benchmarks
and tests run this loop in-process, without a job.
"""

import contextlib
import math
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Sampler, SequentialSampler

from classifier.recording.recorder import Recorder
from classifier.training import distributed
from classifier.training.batches import Batches, CachedFeatureBatches, DecodedBatches, ImageDataset
from classifier.training.breed_net import BreedNet
from classifier.training.config import TrainConfig
from classifier.training.image_folder import Split
from classifier.training.loop_recording import EpochCounts, check_rules, count_batch, record_epoch
from classifier.training.progress import announce_steps

Log = Callable[[str], None]
BACKBONE_LR_FACTOR = 0.01


@dataclass(frozen=True)
class Metrics:
    loss: float
    accuracy: float
    images: int
    seconds: float
    data_seconds: float = 0.0
    """Time spent waiting for batches (decoding and, with a frozen trunk, its features)."""


class StopSignal:
    """Set by SIGTERM; the loop reads it between batches. All hosts of a job agree before stopping, since a
    host that stops alone would leave the others waiting in the next gradient all-reduce. A job on one host
    (`single_host`) that is loading a batch when SIGTERM comes stops there (`loading`)."""

    def __init__(self) -> None:
        self.requested = False
        self.single_host = True
        self._loading = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        if self._loading:
            raise StoppedWhileLoading

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        """Around waiting for a training batch: on one host, a stop requested before or during it raises
        StoppedWhileLoading at once."""
        if self.single_host and self.requested:
            raise StoppedWhileLoading
        self._loading = self.single_host
        try:
            yield
        finally:
            self._loading = False

    def agreed(self) -> bool:
        """True once any host was asked to stop (a sum over hosts: every host must call this per batch)."""
        return distributed.sum_across_hosts([float(self.requested)])[0] > 0


class StoppedWhileLoading(BaseException):
    """SIGTERM came while a single-host job waited for a training batch (a BaseException, as KeyboardInterrupt is,
    so that no handler of ordinary errors on the way takes it for one)."""


@dataclass
class TrainingResult:
    net: BreedNet
    history: list[dict[str, float]] = field(default_factory=list)
    test: Metrics | None = None
    """None when the run was stopped before testing."""
    throughput: float = 0.0
    """Training images per second on this host (its shard when data-parallel), loading included."""
    stopped: bool = False
    """SIGTERM ended the run; ``net`` then holds the weights of the last whole epoch (``history[-1]``)."""


def train_and_evaluate(
    config: TrainConfig,
    splits: dict[str, Split],
    device: torch.device,
    log: Log,
    stop: StopSignal | None = None,
    recorder: Recorder | None = None,
) -> TrainingResult:
    """The training loop: ``epochs`` passes over train (metric line after each), then the test split.
    Joins the hosts' process group first when there are several; the caller stops it. When ``stop`` is
    set, the loop ends at the next training batch and returns the last whole epoch's weights, untested.
    With a ``recorder``, every step is recorded and the Debugger rules are evaluated after each epoch
    (status changes logged; a rule in ``stop_on_rules`` that fires stops the run as SIGTERM would)."""
    stop = stop or StopSignal()
    hp = config.hyperparameters
    torch.manual_seed(hp.seed)
    net = BreedNet(hp.fine_tune).to(device)
    is_distributed = distributed.start(config)
    stop.single_host = not is_distributed
    trainable = DistributedDataParallel(net.classifier) if is_distributed else net.classifier
    optimizer = _optimizer(net, hp.learning_rate)
    train_sampler = _train_sampler(config, len(splits["train"].samples), is_distributed)
    shard = slice(config.rank, None, len(config.hosts)) if is_distributed else slice(None)
    train_batches = _batches(config, net, splits["train"].samples, train_sampler, device, augment=True)
    valid_batches = _batches(config, net, splits["valid"].samples[shard], None, device, augment=False)
    test_batches = _batches(config, net, splits["test"].samples[shard], None, device, augment=False)

    result = TrainingResult(net)
    if recorder:
        recorder.watch(net.classifier)
        recorder.add_phase("initialisation", recorder.started, time.time())
        workers = 0 if isinstance(train_batches, CachedFeatureBatches) else _workers(config, device)
        recorder.add_record(
            {
                "Record": "config",
                "DataloaderWorkers": workers,
                "Cores": config.num_cpus or os.cpu_count(),
                "InstanceType": config.instance_type,
            }
        )
        recorder.weights()
    statuses: dict[str, str] = {}
    trained_images, train_seconds = 0, 0.0
    last_epoch: dict[str, torch.Tensor] | None = None  # the weights at the end of the last whole epoch
    for epoch in range(1, hp.epochs + 1):
        if isinstance(train_sampler, DistributedSampler):
            train_sampler.set_epoch(epoch)
        counts = EpochCounts()
        # The first epoch tells how far it is before its metric line, for an estimate of the time left.
        steps = math.ceil(len(train_sampler) / hp.batch_size)  # type: ignore[arg-type]  # both samplers have one
        batches = announce_steps(train_batches, steps, log) if epoch == 1 else train_batches
        train = _run_epoch(trainable, batches, optimizer, stop, recorder, counts)
        if train is None:
            break
        trained_images, train_seconds = trained_images + train.images, train_seconds + train.seconds
        evaluation_started = time.time()
        valid = _run_epoch(net.classifier, valid_batches, recorder=recorder, counts=counts)
        assert valid is not None  # evaluation passes always run to the end
        train, valid = _across_hosts(train), _across_hosts(valid)
        log(
            f"Epoch {epoch}/{hp.epochs}: train_loss={train.loss:.4f} train_acc={train.accuracy:.4f} "
            f"valid_loss={valid.loss:.4f} valid_acc={valid.accuracy:.4f}"
        )
        if recorder:
            record_epoch(recorder, epoch, train, valid, counts, evaluation_started)
            if check_rules(recorder, statuses, config, log, finished=False):
                stop.requested = True
        result.history.append(
            {
                "epoch": epoch,
                "train_loss": train.loss,
                "train_acc": train.accuracy,
                "valid_loss": valid.loss,
                "valid_acc": valid.accuracy,
                "seconds": round(train.seconds + valid.seconds, 3),
            }
        )
        last_epoch = {key: value.detach().clone() for key, value in net.classifier.state_dict().items()}
        if epoch < hp.epochs and stop.agreed():
            break
    result.throughput = trained_images / train_seconds if train_seconds else 0.0
    if recorder:
        check_rules(recorder, statuses, config, log, finished=True)
    if len(result.history) < hp.epochs:  # every host counts the same epochs, so all of them stop here
        result.stopped = True
        if last_epoch is not None:
            net.classifier.load_state_dict(last_epoch)
        return result
    test = _run_epoch(net.classifier, test_batches)
    assert test is not None
    result.test = _across_hosts(test)
    log(f"Testing Loss: {result.test.loss:.4f}")
    log(f"Testing Accuracy: {result.test.accuracy:.4f}")
    log(f"Train throughput: {result.throughput:.1f} images/s")
    return result


def _optimizer(net: BreedNet, learning_rate: float) -> torch.optim.Optimizer:
    """Adam, as the original project tuned it; the fine-tuned backbone blocks learn at a hundredth of
    the head's rate, because at the head's rate (0.01) they lost the ImageNet features within an epoch
    (test top-1 fell from 0.52 to 0.01), while at 1/100 they kept them (0.48)."""
    classifier = net.classifier
    groups = [{"params": list(classifier.head.parameters()), "lr": learning_rate}]
    backbone = [p for p in classifier.stage.parameters() if p.requires_grad]
    if backbone:
        groups.append({"params": backbone, "lr": learning_rate * BACKBONE_LR_FACTOR})
    return torch.optim.Adam(groups)


def _run_epoch(
    classifier: torch.nn.Module,
    batches: Batches,
    optimizer: torch.optim.Optimizer | None = None,
    stop: StopSignal | None = None,
    recorder: Recorder | None = None,
    counts: EpochCounts | None = None,
) -> Metrics | None:
    """One pass: trains when given an optimizer, else evaluates. Loss is the mean over samples. None when
    ``stop`` ended a training pass part-way (evaluation passes are not cut: hosts hold unequal shards).
    A ``recorder`` gets every batch; ``counts`` gathers per-class counts (and ReLU activity in training)."""
    training = optimizer is not None
    classifier.train(training)
    start = waited = time.perf_counter()
    loss_sum, correct, count, data_seconds = 0.0, 0, 0, 0.0
    pending = iter(batches)
    while True:
        try:
            with stop.loading() if stop is not None else contextlib.nullcontext():
                batch = next(pending, None)
        except StoppedWhileLoading:
            return None
        if batch is None:
            break
        features, labels = batch
        fetched = time.perf_counter()
        if stop is not None and stop.agreed():
            return None
        with torch.set_grad_enabled(training):
            logits = classifier(features)
            loss = F.cross_entropy(logits, labels)
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recorder:
                recorder.before_update()
            optimizer.step()
        hits = logits.argmax(dim=1) == labels
        batch_loss, batch_correct = loss.item(), int(hits.sum())
        loss_sum += batch_loss * len(labels)
        correct += batch_correct
        count += len(labels)
        data_seconds += fetched - waited
        if counts is not None:
            count_batch(counts, features, labels, hits, training)
        if recorder and optimizer is not None:
            rates = [group["lr"] for group in optimizer.param_groups]
            recorder.train_step(
                batch_loss, batch_correct / len(labels), rates, fetched - waited, time.perf_counter() - fetched
            )
        elif recorder:
            recorder.eval_batch(batch_loss)
        waited = time.perf_counter()
    seconds = time.perf_counter() - start
    return Metrics(loss_sum / max(count, 1), correct / max(count, 1), count, seconds, data_seconds)


def _across_hosts(metrics: Metrics) -> Metrics:
    """Metrics over every host's shard, so all hosts log the job's numbers, not their own slice's."""
    loss_sum, correct, count = distributed.sum_across_hosts(
        [metrics.loss * metrics.images, metrics.accuracy * metrics.images, float(metrics.images)]
    )
    return Metrics(loss_sum / max(count, 1), correct / max(count, 1), int(count), metrics.seconds, metrics.data_seconds)


def _train_sampler(config: TrainConfig, images: int, is_distributed: bool) -> Sampler[int]:
    seed = config.hyperparameters.seed
    if is_distributed:
        return DistributedSampler(range(images), len(config.hosts), config.rank, shuffle=True, seed=seed)
    return RandomSampler(range(images), generator=torch.Generator().manual_seed(seed))


def _batches(
    config: TrainConfig,
    net: BreedNet,
    samples: Sequence[tuple[Path, int]],
    sampler: Sampler[int] | None,
    device: torch.device,
    augment: bool,
) -> Batches:
    """Features kept across epochs where the whole trunk is frozen (head mode), else photos decoded by a
    DataLoader every epoch."""
    sampler = sampler or SequentialSampler(range(len(samples)))
    batch_size = config.hyperparameters.batch_size
    if config.hyperparameters.fine_tune == "head" and config.cache_features:
        return CachedFeatureBatches(net, samples, sampler, batch_size, device, augment)
    loader = DataLoader(
        ImageDataset(samples, augment),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=_workers(config, device),
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    return DecodedBatches(net, loader, device)


def _workers(config: TrainConfig, device: torch.device) -> int:
    """On the CPU the network, not decoding, is the bottleneck (about 30 vs 1,100 images/s per core for
    ~220 px photos), so loader processes would only take its cores; a GPU needs them to keep up."""
    if config.num_workers is not None:
        return config.num_workers
    return 0 if device.type == "cpu" else min(8, config.num_cpus or os.cpu_count() or 1)
