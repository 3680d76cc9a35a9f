"""Training, checkpoints, resume, two-process evaluation and the outputs of `loco_hf.training`.

Every run uses the tiny model of conftest (hidden 32, 3 levels, max_seq_len 32) on 15 synthetic videos with small
feature dims (9 train, 3 validation, 3 test), so a run takes seconds.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_config
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from torch import nn

from loco_hf import LocoConfig, LocoForEventLocalization
from loco_hf.data import synthetic_unav
from loco_hf.feature_extraction_loco import LocoFeatureExtractor
from loco_hf.training import (
    RECIPES,
    UNAV_RECIPE,
    EvaluationConfig,
    TrainingConfig,
    evaluate_checkpoint,
    latest_checkpoint,
    parameter_groups,
    train,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
# The fields conftest's tiny config sets, as training's JSON model overrides.
TINY_OVERRIDES = {
    name: getattr(make_tiny_config(), name)
    for name in ("visual_dim", "audio_dim", "hidden_size", "num_attention_heads", "intermediate_size",
                 "num_pyramid_levels", "max_seq_len", "lcf_projection_dim", "dependency_hidden_size",
                 "head_hidden_size", "id2label")
}  # fmt: skip
NUM_VIDEOS = 15  # video i is in train, validation or test by i % 5: 9 / 3 / 3


def tiny_training_config(output_dir, **options) -> TrainingConfig:
    defaults = {
        "num_videos": NUM_VIDEOS,
        "model_overrides": json.dumps(TINY_OVERRIDES),
        "num_epochs": 2,
        "warmup_epochs": 0.5,
        "batch_size": 4,
        "learning_rate": 1e-3,
        "ema_decay": 0.5,
        "logging_steps": 1,
        "seed": 7,
        "cpu_threads": 1,  # as conftest sets
        "output_dir": str(output_dir),
    }
    return TrainingConfig(**{**defaults, **options})


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny 3-epoch run: its output folder and returned summary."""
    output_dir = tmp_path_factory.mktemp("run")
    summary = train(tiny_training_config(output_dir, num_epochs=3))
    return output_dir, summary


def test_run_writes_all_outputs(trained_run):
    output_dir, summary = trained_run
    for name in (
        "model.safetensors", "config.json", "preprocessor_config.json", "README.md", "metrics.json",
        "test_predictions.json", "configuration_loco.py", "modeling_loco.py", "feature_extraction_loco.py",
        "pipeline_loco.py", "logs/train.jsonl",
    ):  # fmt: skip
        assert (output_dir / name).is_file(), name
    # 3 epochs of 2 steps, a checkpoint per epoch, the last 2 kept, no temporary folder left.
    checkpoints = sorted(path.name for path in (output_dir / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint_4", "checkpoint_6"]
    assert latest_checkpoint(output_dir).name == "checkpoint_6"
    assert summary["global_step"] == 6
    assert 0 <= summary["test/average_mAP"] <= 1
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["test"]["average_mAP"] == pytest.approx(summary["test/average_mAP"])
    assert set(metrics["test"]["mAP"]) == {f"0.{i}" for i in range(1, 10)}
    assert len(metrics["test"]["per_class_AP"]) == 5


def test_training_log_is_jsonl(trained_run):
    output_dir, _ = trained_run
    records = [json.loads(line) for line in (output_dir / "logs/train.jsonl").read_text().splitlines()]
    assert "config" in records[0] and records[0]["config"]["num_epochs"] == 3
    steps = [record for record in records[1:] if "loss" in record]
    assert [record["step"] for record in steps] == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(record["loss"]) and record["lr"] >= 0 for record in steps)
    assert any("validation/average_mAP" in record for record in records)


def test_outputs_reload_and_reproduce_the_test_metrics(trained_run, tmp_path):
    output_dir, summary = trained_run
    model = LocoForEventLocalization.from_pretrained(output_dir)
    feature_extractor = LocoFeatureExtractor.from_pretrained(output_dir)
    assert model.config.num_labels == feature_extractor.num_labels == 5
    assert feature_extractor.visual_dim == model.config.visual_dim == TINY_OVERRIDES["visual_dim"]
    # The saved weights are the evaluated ones: evaluating the folder again gives the same test mAP.
    result = evaluate_checkpoint(
        EvaluationConfig(model=str(output_dir), num_videos=NUM_VIDEOS, output_dir=str(tmp_path), plots=False)
    )
    assert result["average_mAP"] == pytest.approx(summary["test/average_mAP"], abs=1e-6)
    predictions = json.loads((tmp_path / "test_predictions.json").read_text())
    assert set(predictions) == {"version", "results", "external_data"}
    assert len(predictions["results"]) == 3
    for events in predictions["results"].values():
        for event in events:
            assert set(event) == {"label", "score", "segment"}
            assert event["label"] in feature_extractor.label2id
            assert 0 <= event["segment"][0] <= event["segment"][1]
    metrics = json.loads((tmp_path / "test_metrics.json").read_text())
    assert {"mAP", "average_mAP", "per_class_AP", "by_length", "false_positives"} <= set(metrics)


def test_evaluation_refuses_checkpoint_files_that_disagree(trained_run, tmp_path):
    output_dir, _ = trained_run
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((output_dir / name).read_bytes())
    settings = json.loads((output_dir / "preprocessor_config.json").read_text())
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({**settings, "fps": 12.5}))
    with pytest.raises(ValueError, match="preprocessor_config.json.*disagree: fps is 12.5 here but 25.0"):
        evaluate_checkpoint(EvaluationConfig(model=str(tmp_path), num_videos=NUM_VIDEOS, plots=False))


def test_evaluation_runs_videos_longer_than_max_seq_len_window_by_window(tiny_config):
    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    from loco_hf.data import LocoDataCollator
    from loco_hf.training import evaluate_model

    torch.manual_seed(0)
    model = LocoForEventLocalization(tiny_config).eval()
    extractor = LocoFeatureExtractor.from_model_config(tiny_config)
    split = synthetic_unav(num_videos=NUM_VIDEOS, visual_dim=24, audio_dim=12, num_classes=5)["test"]
    longest = max(len(features) for features in split["visual_features"])
    assert longest > 3 * tiny_config.max_seq_len  # synthetic videos last 10 to 60 s: up to 186 steps
    loader = DataLoader(split.with_format("numpy"), batch_size=2, collate_fn=LocoDataCollator(extractor))
    lengths = []
    model.loco.register_forward_hook(lambda module, args, output: lengths.append(output.padded_length))
    predictions = evaluate_model(model, loader, extractor, Accelerator(cpu=True))
    assert max(lengths) == tiny_config.max_seq_len
    assert sorted(predictions) == sorted(split["video_id"])
    assert all(len(video["scores"]) for video in predictions.values())


def test_model_card(trained_run):
    output_dir, summary = trained_run
    card = ModelCard.load(output_dir / "README.md")
    assert card.data.library_name == "transformers"
    assert card.data.pipeline_tag == "video-classification"
    assert "custom_code" in card.data.tags and "synthetic-data" in card.data.tags
    assert card.data.eval_results is None  # synthetic data has no Hub dataset id for a model-index entry
    assert f"| {100 * summary['test/average_mAP']:.2f} |" in card.text
    for text in (
        "2409.07967",
        "Xing",
        "trust_remote_code=True",
        "audio-visual-event-localization",
        "synthetic",
    ):
        assert text in card.text


def test_parameter_groups_cover_each_parameter_once(tiny_config):
    model = LocoForEventLocalization(tiny_config)
    decay, no_decay = parameter_groups(model, weight_decay=1e-4)
    assert decay["weight_decay"] == 1e-4 and no_decay["weight_decay"] == 0.0
    names = dict(model.named_parameters())
    assert sorted(decay["names"] + no_decay["names"]) == sorted(names)
    modules = dict(model.named_modules())
    for name in decay["names"]:
        module_name, _, attribute = name.rpartition(".")
        assert attribute == "weight" and isinstance(modules[module_name], (nn.Linear, nn.Conv1d)), name
    for suffix in ("norm_mlp.weight", "mlp_in.bias", "attention_scale", "level_scales", "prior_bias", "pair_log_scale",
                   "width_bias", "width_weight", "shift_weight", "audio_scale"):  # fmt: skip
        assert any(name.endswith(suffix) for name in no_decay["names"]), suffix


def test_parameter_groups_reject_a_shared_parameter():
    shared = nn.Linear(3, 3)
    model = nn.Module()
    model.first, model.second = shared, nn.Linear(3, 3)
    model.second.weight = shared.weight  # one parameter reached through two modules
    with pytest.raises(ValueError, match="exactly once"):
        parameter_groups(model, weight_decay=0.1)


def test_training_config_recipes_and_validation():
    assert TrainingConfig(preset="unav100-i3d-vggish").learning_rate == UNAV_RECIPE["learning_rate"]
    unav = TrainingConfig(preset="unav-baseline")
    assert (unav.num_epochs, unav.warmup_epochs, unav.batch_size, unav.ema_decay) == (45, 5.0, 16, 0.999)
    assert TrainingConfig().num_epochs == RECIPES["small"]["num_epochs"]
    assert TrainingConfig(learning_rate=3e-4).learning_rate == 3e-4
    with pytest.raises(ValueError, match="unknown LocoConfig fields"):
        TrainingConfig(model_overrides='{"use_lfc": false}')
    with pytest.raises(ValueError, match="not valid JSON"):
        TrainingConfig(model_overrides="{use_lcf: false}")
    # An older field name still works as an override: LocoConfig upgrades it, with a FutureWarning.
    old = TrainingConfig(model_overrides='{"cross_attention_queries": "other"}')
    with pytest.warns(FutureWarning, match="cross_attention_query_source='other_stream'"):
        model_config = LocoConfig.from_preset("small", **old.model_override_dict())
    assert model_config.cross_attention_query_source == "other_stream"
    with pytest.raises(ValueError, match="hub_model_id"):
        TrainingConfig(push_to_hub=True)
    with pytest.raises(ValueError, match="preset"):
        TrainingConfig(preset="large")
    with pytest.raises(ValueError, match="cpu_threads"):
        TrainingConfig(cpu_threads=0)


@pytest.mark.parametrize(
    "option", ["max_grad_norm", "learning_rate", "weight_decay", "warmup_epochs", "ema_decay"]
)
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_training_options_refuse_non_finite_numbers(option, value):
    with pytest.raises(ValueError, match=f"TrainingConfig.{option} must be finite"):
        TrainingConfig(**{option: value})


def test_latest_checkpoint_ignores_incomplete_saves(tmp_path):
    root = tmp_path / "checkpoints"
    for step, complete in ((3, True), (12, True), (20, False)):
        folder = root / f"checkpoint_{step}"
        folder.mkdir(parents=True)
        if complete:
            (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (root / ".tmp_checkpoint_30").mkdir()  # a save killed before its rename
    assert latest_checkpoint(tmp_path).name == "checkpoint_12"
    assert latest_checkpoint(tmp_path / "elsewhere") is None


class SimulatedKillError(Exception):
    pass


@pytest.fixture(scope="module")
def uninterrupted_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("straight")
    train(tiny_training_config(output_dir))
    return output_dir


@pytest.mark.parametrize("checkpoint_every_steps", [None, 1], ids=["epoch-end", "mid-epoch"])
def test_resume_ends_with_the_same_weights(uninterrupted_run, tmp_path, monkeypatch, checkpoint_every_steps):
    """2 epochs of 2 steps straight, against a run killed after its first (epoch 1 or step 1) checkpoint and
    resumed with `resume_from_checkpoint="latest"`: the final model, the raw weights (loss normaliser included),
    the EMA and the optimizer state agree."""
    from loco_hf.training import loop

    save_checkpoint = loop.save_checkpoint

    def save_then_die(*args, **kwargs):
        save_checkpoint(*args, **kwargs)
        raise SimulatedKillError

    options = {"checkpoint_every_steps": checkpoint_every_steps}
    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    with pytest.raises(SimulatedKillError):
        train(tiny_training_config(tmp_path, **options))
    monkeypatch.setattr(loop, "save_checkpoint", save_checkpoint)
    train(tiny_training_config(tmp_path, resume_from_checkpoint="latest", **options))

    def final_files(directory):
        last = latest_checkpoint(directory)
        return {
            "model": load_file(directory / "model.safetensors"),
            "raw": load_file(last / "model.safetensors"),
            "ema": load_file(last / "ema.safetensors"),
            "ema_updates": {
                "n": torch.tensor(json.loads((last / "trainer_state.json").read_text())["ema_num_averaged"])
            },
            "optimizer": torch.load(last / "optimizer.bin", weights_only=True)["state"],
        }

    expected, resumed = final_files(uninterrupted_run), final_files(tmp_path)
    assert resumed["raw"]["loss_normalizer"] != 250.0  # the normaliser moved and was carried over
    for part in expected:
        flat_expected = _flatten(expected[part])
        flat_resumed = _flatten(resumed[part])
        assert flat_expected.keys() == flat_resumed.keys(), part
        for name, tensor in flat_expected.items():
            torch.testing.assert_close(flat_resumed[name], tensor, rtol=0, atol=1e-6, msg=f"{part}: {name}")


def test_gradient_checkpointing_trains_the_same_weights(uninterrupted_run, tmp_path, monkeypatch):
    """`--gradient_checkpointing` recomputes blocks in the backward pass with the same drop-path draws, so the run
    ends with the same weights as without it."""
    enabled = []
    enable = LocoForEventLocalization.activation_checkpointing_enable
    monkeypatch.setattr(
        LocoForEventLocalization,
        "activation_checkpointing_enable",
        lambda model, *args, **kwargs: enabled.append(enable(model, *args, **kwargs)),
    )
    train(tiny_training_config(tmp_path, gradient_checkpointing=True))
    assert len(enabled) == 1
    expected, checkpointed = (load_file(d / "model.safetensors") for d in (uninterrupted_run, tmp_path))
    assert expected.keys() == checkpointed.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(checkpointed[name], tensor, rtol=0, atol=0, msg=name)


def _flatten(state, prefix="") -> dict:
    flat = {}
    for key, value in state.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, torch.Tensor):
            flat[f"{prefix}{key}"] = value
    return flat


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_evaluate_each_video_once(tmp_path):
    """`accelerate launch` with 2 CPU processes: 3 test and 3 validation videos (odd) in batches of 2 are each
    predicted exactly once."""
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()),
        str(REPO_ROOT / "scripts/train.py"),
        "--num_videos", str(NUM_VIDEOS), "--model_overrides", json.dumps(TINY_OVERRIDES), "--num_epochs", "1",
        "--warmup_epochs", "0", "--batch_size", "2", "--eval_batch_size", "2", "--output_dir", str(tmp_path),
    ]  # fmt: skip
    environment = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-4000:]
    predictions = json.loads((tmp_path / "test_predictions.json").read_text())["results"]
    test_ids = synthetic_unav(num_videos=NUM_VIDEOS, visual_dim=24, audio_dim=12, num_classes=5)["test"][
        "video_id"
    ]
    assert len(test_ids) == 3 and sorted(predictions) == sorted(test_ids)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["training"]["num_processes"] == 2
    # 9 train videos, batches of 2 on each of 2 processes: 2 optimizer steps.
    assert metrics["summary"]["global_step"] == 2
    assert "Test mAP" in finished.stdout


def test_clean_synthetic_data_has_the_same_events(tiny_config):
    from loco_hf.training import load_datasets

    default = load_datasets(None, 10, 0, tiny_config)["train"]
    clean = load_datasets(None, 10, 0, tiny_config, clean=True)["train"]
    assert default["video_id"] == clean["video_id"] and default["segments"] == clean["segments"]
    assert default["visual_features"] != clean["visual_features"]


def test_report_to_picks_the_trackers(tmp_path):
    """`report_to` as transformers' TrainingArguments: "none" (the default) keeps only the JSONL log, "all" adds
    every installed tracker, a named tracker must be installed, an unknown name is refused."""
    from accelerate.tracking import get_available_trackers

    from loco_hf.training import JsonlTracker
    from loco_hf.training.reporting import report_to_trackers

    assert TrainingConfig().report_to == ["none"]
    (only,) = report_to_trackers(["none"], tmp_path)
    assert isinstance(only, JsonlTracker) and only.path == tmp_path / "train.jsonl"
    installed = get_available_trackers()
    assert report_to_trackers(["all"], tmp_path)[1:] == installed
    missing = sorted({"tensorboard", "wandb", "mlflow", "trackio"} - {str(tracker) for tracker in installed})
    if missing:
        with pytest.raises(ValueError, match="not installed"):
            report_to_trackers(missing[:1], tmp_path)
    with pytest.raises(ValueError, match="report_to must be"):
        TrainingConfig(report_to=["jsonl"])
    with pytest.raises(ValueError, match="report_to must be"):
        TrainingConfig(report_to=["none", "tensorboard"])


def test_accelerate_launch_cpu_with_several_processes_is_detected():
    """`accelerate launch --cpu --num_processes 2` starts one process: the environment Accelerate's launcher builds
    for it is recognised (train warns), while plain runs and real multi-process runs are not."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_simple_launcher_cmd_env

    from loco_hf.training.loop import launch_lost_processes

    def launcher_environment(options):
        args = launch_command_parser().parse_args([*options, "--num_machines", "1", "--mixed_precision", "no",
                                                   "--dynamo_backend", "no", "scripts/train.py"])  # fmt: skip
        args, _, _ = _validate_launch_command(args)
        return prepare_simple_launcher_cmd_env(args)[1]

    plain = {key: value for key, value in os.environ.items() if key not in ("MASTER_ADDR", "WORLD_SIZE")}
    assert launch_lost_processes(launcher_environment(["--cpu", "--num_processes", "2"]), num_processes=1)
    assert not launch_lost_processes(launcher_environment(["--cpu", "--num_processes", "1"]), num_processes=1)
    assert not launch_lost_processes(plain, num_processes=1)
    assert not launch_lost_processes({**plain, "ACCELERATE_MIXED_PRECISION": "no", "MASTER_ADDR": "127.0.0.1",
                                      "WORLD_SIZE": "2"}, num_processes=2)  # fmt: skip


def test_length_grouped_batches_padded_to_the_longest_video_resume_exactly(tmp_path, monkeypatch):
    """With padding "longest" and group_by_length, batches hold similar lengths padded only as far as needed, the
    evaluation splits are read in order of length, and a run killed mid-epoch resumes to the same weights."""
    from loco_hf.training import loop
    from loco_hf.training.data import build_dataloaders, load_datasets

    with pytest.raises(ValueError, match="padding"):
        tiny_training_config(tmp_path, padding="shortest")
    options = {"padding": "longest", "group_by_length": True, "checkpoint_every_steps": 1}
    config = tiny_training_config(tmp_path / "straight", **options)
    model_config = LocoConfig(**TINY_OVERRIDES)
    dataset = load_datasets(None, NUM_VIDEOS, config.data_seed, model_config)
    train_loader, validation_loader, _ = build_dataloaders(
        dataset, LocoFeatureExtractor.from_model_config(model_config), config, True, True
    )
    max_stride = model_config.max_stride
    for batch in train_loader:
        padded, longest = batch["attention_mask"].shape[1], int(batch["attention_mask"].sum(dim=1).max())
        assert padded % max_stride == 0 and padded - max_stride < longest <= model_config.max_seq_len
    lengths = [int(length) for batch in validation_loader for length in batch["attention_mask"].sum(dim=1)]
    assert lengths == sorted(lengths)

    train(config)
    save_checkpoint = loop.save_checkpoint

    def save_then_die(*args, **kwargs):
        save_checkpoint(*args, **kwargs)
        raise SimulatedKillError

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    with pytest.raises(SimulatedKillError):
        train(tiny_training_config(tmp_path / "resumed", **options))
    monkeypatch.setattr(loop, "save_checkpoint", save_checkpoint)
    train(tiny_training_config(tmp_path / "resumed", resume_from_checkpoint="latest", **options))
    expected = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    for name, tensor in expected.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=1e-6, msg=name)
