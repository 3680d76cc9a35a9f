# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""What a run reports: its trackers (`--report_to` plus the JSONL log), and at the end the test predictions, the
`from_pretrained` folder with its pipeline code, metrics.json, the model card, an example timeline and the Hub
upload.

The outputs are written into a hidden staging folder, then moved into the output folder as one set
(`replace_run_outputs`), so that a model folder never mixes the files of two runs; the Hub receives exactly the
files the model folder is made of (`model_folder_files`), with no local path in them (`public_run_config`)."""

import json
import os
import shutil
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

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = [
    "JsonlTracker",
    "create_hub_repo",
    "model_folder_files",
    "public_run_config",
    "push_output_dir",
    "replace_run_outputs",
    "report_to_trackers",
    "save_example_timeline",
    "tracker_value",
    "write_run_outputs",
]

# The files of a model folder besides its code (the modules its configs name, with their imports) and weight
# shards (those its weight index names); config.json last, as `replace_run_outputs` moves it.
MODEL_FOLDER_FILES = (
    "model.safetensors", "model.safetensors.index.json", "preprocessor_config.json", "README.md", "metrics.json",
    "timeline_example.png", "config.json",
)  # fmt: skip
# Outputs of a run that belong with its model but are not published.
LOCAL_RUN_FILES = ("test_predictions.json",)
# Where a run's outputs are written before `replace_run_outputs` moves them into the output folder.
STAGING_NAME = ".tmp_run_outputs"


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


def model_folder_files(folder: str | os.PathLike) -> list[str]:
    """The files a model folder is made of, by name and at its top level only, config.json last.

    Those of `MODEL_FOLDER_FILES` present, the weight shards named by model.safetensors.index.json, and the code
    files: the modules that the `auto_map` and `custom_pipelines` of config.json and preprocessor_config.json name,
    with the files they import (`transformers.dynamic_module_utils.get_relative_import_files`).
    """
    from transformers.dynamic_module_utils import get_relative_import_files

    folder = Path(folder)
    names = {name for name in MODEL_FOLDER_FILES if (folder / name).is_file()}
    if "model.safetensors.index.json" in names:
        names |= set(json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"].values())
    for config_name in {"config.json", "preprocessor_config.json"} & names:
        config = json.loads((folder / config_name).read_text())
        references = [*config.get("auto_map", {}).values()]
        references += [pipeline["impl"] for pipeline in config.get("custom_pipelines", {}).values()]
        for reference in references:
            module_file = folder / f"{reference.split('.')[0]}.py"
            if module_file.is_file():
                names |= {
                    module_file.name,
                    *(Path(path).name for path in get_relative_import_files(module_file)),
                }
    names = {name for name in names if (folder / name).is_file()}
    return sorted(names, key=lambda name: (name == "config.json", name))


def replace_run_outputs(staging: Path, output_dir: Path) -> None:
    """Moves a finished run's outputs from `staging` into `output_dir` as one set, replacing the previous run's.

    First the previous run's config.json goes, then the rest of its model folder (`model_folder_files`) and test
    predictions that the new run does not write; then the new files move in (`os.replace`, same file system),
    config.json last. A folder with a config.json therefore always holds one run's complete outputs: a kill
    during the switch leaves one without config.json (`from_pretrained` refuses it) and the complete new outputs
    still in `staging`. Checkpoints, logs and any other file are left alone.
    """
    new = sorted((path.name for path in staging.iterdir()), key=lambda name: (name == "config.json", name))
    old = [
        *model_folder_files(output_dir),
        *(name for name in LOCAL_RUN_FILES if (output_dir / name).is_file()),
    ]
    if "config.json" in old:
        (output_dir / "config.json").unlink()  # first: until the new one is in, the folder has no config.json
    for name in sorted(set(old) - set(new)):
        (output_dir / name).unlink(missing_ok=True)
    for name in new:
        os.replace(staging / name, output_dir / name)
    staging.rmdir()


def create_hub_repo(repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Creates the Hub model repo `repo_id` when missing, which checks the token too; returns the repo URL.

    Raises:
        ValueError: the repo cannot be created or reached (a missing or read-only token, no network), naming it.
    """
    from huggingface_hub import HfApi

    try:
        return str(HfApi(token=token).create_repo(repo_id, private=private, exist_ok=True))
    except Exception as error:  # HTTP and connection errors alike: nothing can be pushed
        raise ValueError(
            f"Cannot create or reach the Hub repo {repo_id!r} ({type(error).__name__}: {error}). Log in with "
            "`hf auth login` or set HF_TOKEN to a token that can write there."
        ) from error


def push_output_dir(
    output_dir: str | os.PathLike, repo_id: str, private: bool = False, token: str | None = None
):
    """Uploads the model folder in `output_dir` to the Hub model repo `repo_id` (created when missing).

    Uploads exactly `model_folder_files(output_dir)`: the weights, config.json, preprocessor_config.json, the
    code files, the model card, metrics.json and the example timeline, from the top level of the folder only.
    Anything else there (checkpoints, logs, predictions, other files) stays local.

    Returns:
        The `CommitInfo` of the upload.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    create_hub_repo(repo_id, private=private, token=token)
    folder = Path(output_dir)
    operations = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=folder / name)
        for name in model_folder_files(folder)
    ]
    return HfApi(token=token).create_commit(
        repo_id, operations, commit_message="Upload LoCo model trained with loco-hf"
    )


def public_run_config(run_config: Mapping) -> dict:
    """`run_config` as the published files (metrics.json, the model card) show it: the local paths of
    output_dir, dataset_dir (a folder, not a Hub id) and resume_from_checkpoint (not "latest") cut to their last
    component, so that no absolute path of the training machine is published."""
    public = dict(run_config)
    for name in ("output_dir", "dataset_dir", "resume_from_checkpoint"):
        value = public.get(name)
        if value and value != "latest" and not (name == "dataset_dir" and _is_hub_id(value)):
            public[name] = Path(value).resolve().name
    return public


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
    then the `save_pipeline` folder (weights, configs, code), metrics.json ({"summary", "test", "training"}, the
    training options through `public_run_config`) and the model card README.md, all into a staging folder that
    `replace_run_outputs` then moves into the output folder. Logs the summary to the trackers.

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
    staging = output_dir / STAGING_NAME
    shutil.rmtree(staging, ignore_errors=True)  # the outputs of a run killed while writing them
    staging.mkdir(parents=True)
    published_config = public_run_config(run_config)
    id2label = final_model.config.id2label
    test_metrics = None
    if test_predictions is not None:
        test_truth = ground_truth_of(dataset["test"])
        test_metrics = compute_metrics(test_predictions, test_truth, id2label)
        summary = {**summary, **flat_metrics(test_metrics, "test")}
        write_json(staging / "test_predictions.json", to_activitynet(test_predictions, id2label))
        save_example_timeline(
            staging / "timeline_example.png",
            test_predictions,
            test_truth,
            durations_of(dataset["test"]),
            id2label,
        )
    save_pipeline(final_model, feature_extractor, staging)
    write_json(
        staging / "metrics.json", {"summary": summary, "test": test_metrics, "training": published_config}
    )
    card = build_model_card(
        model_id=config.hub_model_id or published_config["output_dir"],
        title=config.hub_model_id or f"loco-{config.preset}",
        model_config=final_model.config,
        training=published_config,
        test_metrics=test_metrics,
        validation_average_map=summary.get("validation/average_mAP"),
        dataset_description=_dataset_description(config, published_config["dataset_dir"], dataset),
        dataset_id=config.dataset_dir if _is_hub_id(config.dataset_dir) else None,
        num_parameters=sum(parameter.numel() for parameter in final_model.parameters()),
        example_image="timeline_example.png" if (staging / "timeline_example.png").exists() else None,
    )
    card.save(staging / "README.md")
    replace_run_outputs(staging, output_dir)
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


def _dataset_description(config: TrainingConfig, dataset_name: str | None, dataset) -> str:
    sizes = ", ".join(f"{split} {len(dataset[split])}" for split in dataset)
    if dataset_name:
        return f"`{dataset_name}` (videos: {sizes})"
    return (
        f"synthetic UnAV-style data from `loco_hf.data.synthetic_unav(num_videos={config.num_videos}, "
        f"seed={config.data_seed})` (videos: {sizes}): UnAV-100's event statistics, with audio-only and "
        "visual-only distractor events and audio-visual asynchrony; not real video features"
    )
