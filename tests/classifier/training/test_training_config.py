from pathlib import Path

import pytest

from classifier.labels import udacity_imagenet_indices
from classifier.recording.reader import RECORD_INTERVAL
from classifier.training.config import ConfigError, parse_config
from classifier.training.image_folder import DatasetError, read_channel
from tests.channels import DATASET, required


def test_plain_machine_defaults() -> None:
    config, unknown = parse_config([], {})
    hp = config.hyperparameters
    assert (hp.learning_rate, hp.batch_size, hp.epochs, hp.fine_tune, hp.seed) == (0.01, 32, 3, "head", 0)
    assert config.hosts == ("algo-1",) and config.is_leader and unknown == []
    assert (config.model_dir, config.data_dir, config.num_workers, config.num_cpus) == (
        Path("model"),
        Path("data"),
        None,
        None,
    )


def test_script_mode_environment_and_both_spellings() -> None:
    env = {
        "SM_MODEL_DIR": "/opt/ml/model",
        "SM_CHANNEL_TRAINING": "/opt/ml/input/data/training",
        "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
        "SM_HOSTS": '["algo-1", "algo-2", "algo-3"]',
        "SM_CURRENT_HOST": "algo-3",
        "SM_NUM_CPUS": "4",
        "SM_CURRENT_INSTANCE_TYPE": "ml.m5.xlarge",
        "SM_HPS": '{"epochs": "7", "seed": 3}',
    }
    args = ["--learning-rate", "0.05", "--batch_size", "64", "--fine-tune", "last_blocks", "--sagemaker_x", "1"]
    config, unknown = parse_config(args, env)
    hp = config.hyperparameters
    assert (hp.learning_rate, hp.batch_size, hp.epochs, hp.fine_tune, hp.seed) == (0.05, 64, 7, "last-blocks", 3)
    assert config.model_dir == Path("/opt/ml/model") and config.data_dir == Path("/opt/ml/input/data/training")
    assert (config.rank, config.is_leader, config.num_cpus, config.instance_type) == (2, False, 4, "ml.m5.xlarge")
    assert (config.master_addr, config.master_port) == ("algo-1", 29500)
    assert unknown == ["--sagemaker_x", "1"]
    overridden, _ = parse_config(["--data-dir", "/d", "--learning_rate", "0.2"], {**env, "MASTER_PORT": "1234"})
    assert overridden.data_dir == Path("/d") and overridden.hyperparameters.learning_rate == 0.2
    assert overridden.master_port == 1234


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--learning_rate", "-1"], {}, "learning_rate must be greater than 0, got -1."),
        (["--epochs", "0"], {}, "epochs must be at least 1"),
        (["--fine_tune", "all"], {}, "fine_tune must be one of head, last-blocks, got 'all'."),
        ([], {"SM_HOSTS": "algo-1"}, "SM_HOSTS is not valid JSON"),
        ([], {"SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-9"}, "'algo-9' is not in SM_HOSTS"),
        (["--stop_on_rule", "LossNotDecreasing,Loss"], {}, "stop_on_rule names unknown rules ['Loss']"),
    ],
)
def test_bad_values(args: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        parse_config(args, env)


def test_channel_maps_folders_to_udacity_indices() -> None:
    required(DATASET)
    splits = read_channel(DATASET)
    assert [len(splits[s].samples) for s in ("train", "valid", "test")] == [391, 103, 91]
    path, label = splits["train"].samples[0]
    assert path.parent.name == "001.Affenpinscher" and label == 0
    assert splits["train"].class_count == 111


def test_channel_refuses_unknown_class_folders(tmp_path: Path) -> None:
    for split in ("train", "valid", "test"):
        (tmp_path / split / "001.Affenpinscher").mkdir(parents=True)
    (tmp_path / "train" / "cats").mkdir()
    with pytest.raises(DatasetError, match="train/cats is not one of the 133 Udacity dogImages classes"):
        read_channel(tmp_path)


def test_empty_split_is_refused(tmp_path: Path) -> None:
    for split in ("train", "valid", "test"):
        (tmp_path / split / "001.Affenpinscher").mkdir(parents=True)
    with pytest.raises(DatasetError, match="The train split .* holds no images"):
        read_channel(tmp_path)


def test_imagenet_mapping_covers_88_breeds() -> None:
    mapping = udacity_imagenet_indices()
    assert len(mapping) == 133 and sum(1 for indices in mapping if indices) == 88
    assert mapping[0] == (252,) and mapping[123] == (265, 266, 267) and mapping[3] == ()


def test_recording_follows_the_sagemaker_layout(tmp_path: Path) -> None:
    config, _ = parse_config([], {"SM_OUTPUT_DIR": "/opt/ml/output", "SM_INPUT_DIR": str(tmp_path)})
    assert config.record and config.recording_dir == Path("/opt/ml/output/tensorboard")
    assert config.profiling_interval_ms == 500
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "profilerconfig.json").write_text('{"ProfilingIntervalInMilliseconds": 100}')
    assert parse_config([], {"SM_INPUT_DIR": str(tmp_path)})[0].profiling_interval_ms == 100
    (tmp_path / "config" / "profilerconfig.json").write_text('{"ProfilingIntervalInMilliseconds": 300}')
    with pytest.raises(ConfigError, match="must be one of"):
        parse_config([], {"SM_INPUT_DIR": str(tmp_path)})


def test_a_tuning_trial_records_into_its_output_data() -> None:
    """SageMaker gives tuning trials no TensorBoardOutputConfig, so only what lands in the output data (uploaded
    as output.tar.gz) outlives the trial; a trial is told apart by the hyperparameter SageMaker adds to it."""
    env = {"SM_OUTPUT_DIR": "/opt/ml/output", "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data"}
    trial = {**env, "SM_HPS": '{"_tuning_objective_metric": "Test Loss", "batch_size": 32}'}
    config, unknown = parse_config(["--_tuning_objective_metric", "Test Loss"], trial)
    assert config.recording_dir == Path("/opt/ml/output/data/tensorboard")
    assert unknown == ["--_tuning_objective_metric", "Test Loss"]  # reported, not fatal
    assert parse_config([], env)[0].recording_dir == Path("/opt/ml/output/tensorboard")
    assert parse_config(["--recording-dir", "/tmp/r"], trial)[0].recording_dir == Path("/tmp/r")


def test_record_interval_from_the_hyperparameter_or_debuggers_save_interval(tmp_path: Path) -> None:
    env = {"SM_INPUT_DIR": str(tmp_path)}
    assert parse_config([], env)[0].record_interval == RECORD_INTERVAL
    (tmp_path / "config").mkdir()
    hook = tmp_path / "config" / "debughookconfig.json"
    hook.write_text('{"S3OutputPath": "s3://b/d", "HookParameters": {"train.save_interval": "5"}}')
    assert parse_config([], env)[0].record_interval == 5
    hook.write_text('{"HookParameters": {"save_interval": "7"}}')
    assert parse_config([], env)[0].record_interval == 7
    assert parse_config(["--record_interval", "3"], env)[0].record_interval == 3  # the hyperparameter wins
    assert parse_config([], {**env, "SM_HPS": '{"record_interval": 4}'})[0].record_interval == 4
    hook.write_text('{"HookParameters": {"train.save_interval": "often"}}')
    with pytest.raises(ConfigError, match="save_interval must be a whole number"):
        parse_config([], env)
    with pytest.raises(ConfigError, match="record_interval must be at least 1 step, got 0"):
        parse_config(["--record_interval", "0"], {})
