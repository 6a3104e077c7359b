"""The SageMaker script-mode contract for training: hyperparameters as ``--name value`` arguments, the
rest in ``SM_*`` environment variables, with defaults that let the same script run on a plain machine.
"""

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from classifier.recording.reader import RECORD_INTERVAL
from classifier.recording.system_monitor import DEFAULT_INTERVAL_MS, PROFILING_INTERVALS_MS
from classifier.rules.debugger_rules import DEBUG_RULES

FINE_TUNE_MODES = ("head", "last-blocks")
TUNING_OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
"""The hyperparameter SageMaker adds to every trial of a tuning job (the objective metric's name)."""
DEFAULT_MASTER_PORT = 29500


class ConfigError(ValueError):
    """A hyperparameter or environment value the job cannot run with; the message names it."""


@dataclass(frozen=True)
class Hyperparameters:
    """What an operator tunes; recorded in model.json so a model says how it was trained."""

    learning_rate: float
    batch_size: int
    epochs: int
    fine_tune: str
    seed: int


@dataclass(frozen=True)
class TrainConfig:
    hyperparameters: Hyperparameters
    num_workers: int | None
    """DataLoader processes; None lets the trainer pick for the device it finds."""
    cache_features: bool
    """In head mode, keep each photo's frozen-trunk features after the first time (see training/batches.py)."""
    model_dir: Path
    data_dir: Path
    output_data_dir: Path
    hosts: tuple[str, ...]
    current_host: str
    num_cpus: int | None
    """Cores this host may use (``SM_NUM_CPUS``); None leaves torch's default."""
    instance_type: str | None
    """The host's instance type (``SM_CURRENT_INSTANCE_TYPE``), recorded so the Profiler can name it."""
    master_addr: str
    master_port: int
    record: bool = True
    """Record losses, gradients, weights and system use (classifier/recording/recorder.py)."""
    recording_dir: Path = Path("output/tensorboard")
    """The TensorBoardOutputConfig LocalPath SageMaker syncs to S3 while the job runs (a tuning trial's is in its
    output data: see `default_recording_dir`)."""
    profiling_interval_ms: int = 500
    record_interval: int = RECORD_INTERVAL
    """Steps between records of per-layer gradients and update ratios (Debugger's ``save_interval``)."""
    stop_on_rules: tuple[str, ...] = ()
    """Debugger rules that end training when they fire (as Debugger's StopTraining action did)."""

    @property
    def rank(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def is_leader(self) -> bool:
        """Only the first host writes the model, as SageMaker uploads one model.tar.gz per job."""
        return self.rank == 0

    def hyperparameter_dict(self) -> dict[str, float | int | str]:
        return asdict(self.hyperparameters)


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> tuple[TrainConfig, list[str]]:
    """The config plus the arguments nobody asked for (reported, not fatal: tuning jobs may pass
    static hyperparameters meant for another script). Raises ``ConfigError`` for values out of range."""
    hps = _json(env, "SM_HPS", {})
    if not isinstance(hps, dict):
        raise ConfigError(f"SM_HPS must be a JSON object, got {env['SM_HPS']!r}.")
    parser = argparse.ArgumentParser(description="Train the 133-breed dog classifier (SageMaker script mode).")
    parser.add_argument("--learning_rate", "--learning-rate", type=float, default=hps.get("learning_rate", 0.01))
    parser.add_argument("--batch_size", "--batch-size", type=int, default=hps.get("batch_size", 32))
    parser.add_argument("--epochs", type=int, default=hps.get("epochs", 3))
    parser.add_argument("--fine_tune", "--fine-tune", default=hps.get("fine_tune", "head"))
    parser.add_argument("--seed", type=int, default=hps.get("seed", 0))
    parser.add_argument("--num_workers", "--num-workers", type=int, default=hps.get("num_workers"))
    parser.add_argument("--cache_features", "--cache-features", type=_boolean, default=hps.get("cache_features", True))
    parser.add_argument("--record", type=_boolean, default=hps.get("record", True))
    parser.add_argument("--record_interval", "--record-interval", type=int, default=hps.get("record_interval"))
    parser.add_argument("--stop_on_rule", "--stop-on-rule", default=hps.get("stop_on_rule", ""))
    parser.add_argument(
        "--recording-dir",
        "--recording_dir",
        type=Path,
        default=default_recording_dir(env, hps),
    )
    parser.add_argument("--model-dir", "--model_dir", type=Path, default=Path(env.get("SM_MODEL_DIR", "model")))
    parser.add_argument("--data-dir", "--data_dir", type=Path, default=Path(env.get("SM_CHANNEL_TRAINING", "data")))
    parser.add_argument(
        "--output-data-dir", "--output_data_dir", type=Path, default=Path(env.get("SM_OUTPUT_DATA_DIR", "output"))
    )
    args, unknown = parser.parse_known_args(list(argv))

    hosts = _json(env, "SM_HOSTS", ["algo-1"])
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
        raise ConfigError(f"SM_HOSTS must be a JSON list of host names, got {env.get('SM_HOSTS')!r}.")
    current_host = env.get("SM_CURRENT_HOST", hosts[0])
    if current_host not in hosts:
        raise ConfigError(f"SM_CURRENT_HOST {current_host!r} is not in SM_HOSTS {hosts}.")
    fine_tune = str(args.fine_tune).replace("_", "-")
    if fine_tune not in FINE_TUNE_MODES:
        raise ConfigError(f"fine_tune must be one of {', '.join(FINE_TUNE_MODES)}, got {args.fine_tune!r}.")
    if not args.learning_rate > 0:
        raise ConfigError(f"learning_rate must be greater than 0, got {args.learning_rate:g}.")
    if args.batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {args.batch_size}.")
    if args.epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {args.epochs}.")
    if args.num_workers is not None and args.num_workers < 0:
        raise ConfigError(f"num_workers must be 0 or more, got {args.num_workers}.")

    record_interval = args.record_interval if args.record_interval is not None else _hook_save_interval(env)
    if record_interval < 1:
        raise ConfigError(f"record_interval must be at least 1 step, got {record_interval}.")
    stop_on_rules = tuple(name.strip() for name in str(args.stop_on_rule).split(",") if name.strip())
    unknown_rules = [name for name in stop_on_rules if name not in DEBUG_RULES]
    if unknown_rules:
        raise ConfigError(f"stop_on_rule names unknown rules {unknown_rules}; use some of {', '.join(DEBUG_RULES)}.")
    num_cpus = int(env["SM_NUM_CPUS"]) if env.get("SM_NUM_CPUS") else None
    config = TrainConfig(
        hyperparameters=Hyperparameters(
            learning_rate=float(args.learning_rate),
            batch_size=int(args.batch_size),
            epochs=int(args.epochs),
            fine_tune=fine_tune,
            seed=int(args.seed),
        ),
        num_workers=args.num_workers,
        cache_features=bool(args.cache_features),
        model_dir=args.model_dir,
        data_dir=args.data_dir,
        output_data_dir=args.output_data_dir,
        hosts=tuple(hosts),
        current_host=current_host,
        num_cpus=num_cpus,
        instance_type=env.get("SM_CURRENT_INSTANCE_TYPE") or None,
        master_addr=env.get("MASTER_ADDR", hosts[0]),
        master_port=int(env.get("MASTER_PORT", DEFAULT_MASTER_PORT)),
        record=bool(args.record),
        recording_dir=args.recording_dir,
        profiling_interval_ms=_profiling_interval(env),
        record_interval=int(record_interval),
        stop_on_rules=stop_on_rules,
    )
    return config, unknown


def default_recording_dir(env: Mapping[str, str], hps: Mapping[str, object]) -> Path:
    """Where SageMaker takes the recording from: the TensorBoard LocalPath, which it syncs to the job's
    TensorBoardOutputConfig while the job runs; but a tuning job's training definition has no such field, so
    SageMaker gives its trials none and syncs nothing. A trial (its hyperparameters carry
    ``_tuning_objective_metric``, as SageMaker's own framework containers tell trials apart) records into its
    output data directory instead, which SageMaker uploads as output.tar.gz when the trial ends."""
    if TUNING_OBJECTIVE_HYPERPARAMETER in hps:
        return Path(env.get("SM_OUTPUT_DATA_DIR", "output")) / "tensorboard"
    return Path(env.get("SM_OUTPUT_DIR", "output")) / "tensorboard"


def _profiling_interval(env: Mapping[str, str]) -> int:
    """ProfilerConfig's interval, from the file SageMaker writes for the container (default 500 ms)."""
    path = Path(env.get("SM_INPUT_DIR", "/opt/ml/input")) / "config" / "profilerconfig.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return DEFAULT_INTERVAL_MS
    interval = config.get("ProfilingIntervalInMilliseconds", DEFAULT_INTERVAL_MS) if isinstance(config, dict) else 0
    if interval not in PROFILING_INTERVALS_MS:
        raise ConfigError(f"ProfilingIntervalInMilliseconds must be one of {PROFILING_INTERVALS_MS}, got {interval}.")
    return int(interval)


def _hook_save_interval(env: Mapping[str, str]) -> int:
    """DebugHookConfig's ``train.save_interval`` (or ``save_interval``) from the file SageMaker writes for the
    container, as smdebug's hook read it; RECORD_INTERVAL when the job has none."""
    path = Path(env.get("SM_INPUT_DIR", "/opt/ml/input")) / "config" / "debughookconfig.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return RECORD_INTERVAL
    hook = config.get("HookParameters") if isinstance(config, dict) else None
    hook = hook if isinstance(hook, dict) else {}
    raw = hook.get("train.save_interval", hook.get("save_interval"))
    if raw is None:
        return RECORD_INTERVAL
    try:
        return int(str(raw))
    except ValueError:
        raise ConfigError(f"HookParameters save_interval must be a whole number of steps, got {raw!r}.") from None


def _boolean(text: str) -> bool:
    """SageMaker passes every hyperparameter as a string: "true"/"false" (also 1/0, yes/no)."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _json(env: Mapping[str, str], name: str, default: object) -> object:
    if not env.get(name):
        return default
    try:
        return json.loads(env[name])
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON ({exc}): {env[name]!r}.") from None
