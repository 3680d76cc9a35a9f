# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Training, evaluation and publishing of LoCo with Accelerate and the Hugging Face Hub.

    accelerate launch scripts/train.py                       # small preset on synthetic data, a few CPU minutes
    accelerate launch scripts/train.py --preset unav100-i3d-vggish --dataset_dir path/to/unav100
    python scripts/evaluate.py --model outputs --split test  # mAP table, per-class AP, ActivityNet JSON

The package, by seam: `config` (TrainingConfig, EvaluationConfig, the recipes), `data` (splits, the model
configuration that fits them, dataloaders), `loop` (parameter groups, `train_step`, `evaluate_model`, `train`),
`checkpointing` (save, list, check, resolve, load, rotate), `metrics` (mAP of a split and its text and JSON forms),
`reporting` (trackers, the run's output folder, model card, Hub upload) and `evaluation` (`evaluate_checkpoint`).
The command-line entry points (`train_main`, `evaluate_main`, `predict_main`) live in `loco_hf.cli`.
"""

import warnings

from .checkpointing import (
    CheckpointError,
    TrainerState,
    latest_checkpoint,
    list_checkpoints,
    resolve_checkpoint,
    save_checkpoint,
)
from .config import RECIPES, SMALL_RECIPE, UNAV_RECIPE, DataConfig, EvaluationConfig, TrainingConfig
from .data import SeededCollator, load_datasets, model_config_for_dataset
from .evaluation import evaluate_checkpoint
from .loop import evaluate_model, parameter_groups, train, train_step
from .metrics import compute_metrics, format_map_table, format_summary, to_activitynet
from .reporting import JsonlTracker, push_output_dir

__all__ = [
    "RECIPES",
    "SMALL_RECIPE",
    "UNAV_RECIPE",
    "CheckpointError",
    "DataConfig",
    "EvaluationConfig",
    "JsonlTracker",
    "SeededCollator",
    "TrainerState",
    "TrainingConfig",
    "compute_metrics",
    "evaluate_checkpoint",
    "evaluate_model",
    "format_map_table",
    "format_summary",
    "latest_checkpoint",
    "list_checkpoints",
    "load_datasets",
    "model_config_for_dataset",
    "parameter_groups",
    "push_output_dir",
    "resolve_checkpoint",
    "save_checkpoint",
    "to_activitynet",
    "train",
    "train_step",
]


def __getattr__(name: str):
    # `evaluate_main` moved to `loco_hf.cli`, next to the other commands; the old name still works, with a warning.
    if name == "evaluate_main":
        from ..cli import evaluate_main

        warnings.warn(
            "loco_hf.training.evaluate_main is deprecated; use loco_hf.cli.evaluate_main.",
            FutureWarning,
            stacklevel=2,
        )
        return evaluate_main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
