# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""What a run reports: its trackers (`--report_to` plus the JSONL log), and at the end the test predictions, the
`from_pretrained` folder with its pipeline code, metrics.json, the model card, an example timeline and the Hub
upload."""

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

from accelerate.tracking import GeneralTracker, get_available_trackers, on_main_process
from transformers.utils import logging

from ..modelcard import build_model_card
from ..pipeline_loco import save_pipeline
from .config import TrainingConfig
from .data import durations_of, ground_truth_of
from .metrics import compute_metrics, flat_metrics, json_scalar, to_activitynet, write_json

logger = logging.get_logger(__name__)

__all__ = [
    "JsonlTracker",
    "push_output_dir",
    "report_to_trackers",
    "save_example_timeline",
    "tracker_value",
    "write_run_outputs",
]

# Files of the output folder that `push_output_dir` uploads (checkpoints, logs and predictions stay local).
HUB_ALLOW_PATTERNS = ["*.safetensors", "*.json", "*.py", "README.md", "*.png"]
HUB_IGNORE_PATTERNS = ["checkpoints/*", "logs/*", "*_predictions.json", "evaluation/*"]


class JsonlTracker(GeneralTracker):
    """An Accelerate tracker writing one JSON object per `log` call to `<logging_dir>/<run_name>.jsonl`.

    The first line holds the run configuration (`{"config": {...}}`); the others `{"step": int, "time": float,
    name: value, ...}`. Logs on the main process only.
    """

    name = "jsonl"
    requires_logging_directory = True
    main_process_only = True

    def __init__(self, run_name: str, logging_dir: str | os.PathLike):
        super().__init__()
        self.path = Path(logging_dir) / f"{run_name}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def tracker(self) -> Path:
        return self.path

    def _write(self, record: dict):
        with self.path.open("a") as stream:
            stream.write(json.dumps(record, default=json_scalar) + "\n")

    @on_main_process
    def store_init_configuration(self, values: dict):
        self._write({"config": values})

    @on_main_process
    def log(self, values: dict, step: int | None = None, **kwargs):
        self._write({"step": step, "time": time.time(), **values})


def report_to_trackers(report_to: list[str], logging_dir: Path) -> list:
    """The `log_with` list of a run's `Accelerator`: a `JsonlTracker` writing `<logging_dir>/train.jsonl` (always:
    it is the run's own file log), then the trackers `report_to` names.

    Args:
        report_to (`list[str]`): as `TrainingConfig.report_to`: tracker names Accelerate supports, "all" (every
            installed one) or "none".
        logging_dir (`Path`): where the JSONL log and local trackers (TensorBoard) write.

    Raises:
        ValueError: a named tracker is not installed (Accelerate would drop it without a word).
    """
    trackers = [JsonlTracker("train", logging_dir)]
    if "none" in report_to:
        return trackers
    if "all" in report_to:
        return [*trackers, *get_available_trackers()]
    available = {str(tracker) for tracker in get_available_trackers()}
    missing = sorted(set(report_to) - available)
    if missing:
        raise ValueError(
            f"TrainingConfig.report_to names {missing}, which are not installed (installed: {sorted(available)})."
        )
    return [*trackers, *report_to]


def save_example_timeline(
    path: Path, predictions: Mapping, ground_truth: Mapping, durations: Mapping, id2label
):
    """A timeline PNG of the test video with the most events (skipped, with a log line, without matplotlib)."""
    try:
        from ..plotting import plot_event_timeline

        video_id = max(ground_truth, key=lambda video: (len(ground_truth[video]["labels"]), video))
        plot_event_timeline(
            predictions[video_id],
            ground_truth[video_id],
            duration=durations[video_id],
            id2label=id2label,
            title=f"{video_id}: ground truth (dark) and predictions (orange)",
            path=path,
            min_score=0.1,
        )
    except ImportError as error:
        logger.info(f"No example timeline ({error}).")


def push_output_dir(
    output_dir: str | os.PathLike, repo_id: str, private: bool = False, token: str | None = None
):
    """Uploads a training output folder to the Hub model repo `repo_id` (created when missing).

    Uploads the weights, config.json, preprocessor_config.json, the code files, the model card, metrics.json and
    any PNG (e.g. the example timeline); checkpoints, logs and predictions stay local.

    Returns:
        The `CommitInfo` of the upload.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=os.fspath(output_dir),
        commit_message="Upload LoCo model trained with loco-hf",
        allow_patterns=HUB_ALLOW_PATTERNS,
        ignore_patterns=HUB_IGNORE_PATTERNS,
    )


def tracker_value(value):
    """Tracker hyper-parameters must be bool, str, int or float."""
    return value if isinstance(value, (bool, str, int, float)) else str(value)


def _is_hub_id(dataset_dir: str | None) -> bool:
    return bool(dataset_dir) and not Path(dataset_dir).exists() and dataset_dir.count("/") == 1


def write_run_outputs(
    config: TrainingConfig, run_config: dict, dataset, final_model, feature_extractor, test_predictions, summary,
    accelerator,
) -> dict:  # fmt: skip
    """Writes the outputs of a finished run to `config.output_dir` (main process only) and pushes them to the Hub
    when `config.push_to_hub`.

    Writes test_predictions.json (ActivityNet format) and timeline_example.png when there are test predictions;
    then the `save_pipeline` folder (weights, configs, code), metrics.json ({"summary", "test", "training"}) and
    the model card README.md. Logs the summary to the trackers.

    Args:
        config (`TrainingConfig`), run_config (`dict`): the run's options, and those with what Accelerate chose.
        dataset (`datasets.DatasetDict`): the run's splits.
        final_model (`LocoForEventLocalization`): the selected weights; feature_extractor: its feature extractor.
        test_predictions (`dict`, *optional*): `evaluate_model`'s predictions of the test split.
        summary (`dict`): "global_step", "best_epoch" and "validation/average_mAP" (when validated).
        accelerator (`Accelerator`): the run's, for the trackers.

    Returns:
        The summary with the test metrics ("test/mAP@0.1" ... "test/average_mAP") added.
    """
    output_dir = Path(config.output_dir)
    id2label = final_model.config.id2label
    test_metrics = None
    if test_predictions is not None:
        test_truth = ground_truth_of(dataset["test"])
        test_metrics = compute_metrics(test_predictions, test_truth, id2label)
        summary = {**summary, **flat_metrics(test_metrics, "test")}
        write_json(output_dir / "test_predictions.json", to_activitynet(test_predictions, id2label))
        save_example_timeline(
            output_dir / "timeline_example.png",
            test_predictions,
            test_truth,
            durations_of(dataset["test"]),
            id2label,
        )
    save_pipeline(final_model, feature_extractor, output_dir)
    write_json(
        output_dir / "metrics.json", {"summary": summary, "test": test_metrics, "training": run_config}
    )
    card = build_model_card(
        model_id=config.hub_model_id or str(output_dir),
        title=config.hub_model_id or f"loco-{config.preset}",
        model_config=final_model.config,
        training=run_config,
        test_metrics=test_metrics,
        validation_average_map=summary.get("validation/average_mAP"),
        dataset_description=_dataset_description(config, dataset),
        dataset_id=config.dataset_dir if _is_hub_id(config.dataset_dir) else None,
        num_parameters=sum(parameter.numel() for parameter in final_model.parameters()),
        example_image="timeline_example.png" if (output_dir / "timeline_example.png").exists() else None,
    )
    card.save(output_dir / "README.md")
    accelerator.log(
        {key: value for key, value in summary.items() if value is not None}, step=summary["global_step"]
    )
    if test_metrics is not None:
        logger.info(
            f"Test average mAP {100 * test_metrics['average_mAP']:.2f} (EMA weights of epoch {summary['best_epoch']})."
        )
    if config.push_to_hub:
        push_output_dir(output_dir, config.hub_model_id, private=config.hub_private)
        logger.info(f"Pushed {output_dir} to the Hub repo {config.hub_model_id}.")
    return summary


def _dataset_description(config: TrainingConfig, dataset) -> str:
    sizes = ", ".join(f"{split} {len(dataset[split])}" for split in dataset)
    if config.dataset_dir:
        return f"`{config.dataset_dir}` (videos: {sizes})"
    return (
        f"synthetic UnAV-style data from `loco_hf.data.synthetic_unav(num_videos={config.num_videos}, "
        f"seed={config.data_seed})` (videos: {sizes}): UnAV-100's event statistics, with audio-only and "
        "visual-only distractor events and audio-visual asynchrony; not real video features"
    )
