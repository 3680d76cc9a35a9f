# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Training, evaluation and publishing of LoCo with Accelerate and the Hugging Face Hub.

    accelerate launch scripts/train.py                       # small preset on synthetic data, a few CPU minutes
    accelerate launch scripts/train.py --preset unav100-i3d-vggish --dataset_dir path/to/unav100
    python scripts/evaluate.py --model outputs --split test  # mAP table, per-class AP, ActivityNet JSON

`train(TrainingConfig)` reads top to bottom like Accelerate's complete example: seed; data (the UnAV-100 release
or a prepared dataset through `loco_hf.data.load_event_dataset`, else synthetic UnAV-style data from a data seed of
its own); model (a preset, its overrides, and the dims, classes and time grid of the data); AdamW with weight decay
on conv and linear weights only; a transformers cosine schedule stepped per iteration; one `accelerator.prepare`;
the loop of `train_step`s (accumulate, autocast, clip 1.0, step, schedule, weight EMA); `evaluate_model` through
`gather_for_metrics`; checkpoints written to a temporary folder then renamed into place; at the end the EMA
weights selected on validation are evaluated on test and saved in `from_pretrained` format with their feature
extractor, pipeline code, model card, metrics and predictions.

Departures from the UnAV recipe (`docs/training.md`): the checkpoint is selected by the validation mAP of the EMA
weights (UnAV selects on the raw weights, then reports the EMA weights of that epoch), the training crops are
seeded per batch (`SeededCollator`), and the `small` preset's recipe is sized for a CPU (see `RECIPES`).
"""

import json
import logging
import math
import os
import shutil
import sys
import time
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.tracking import GeneralTracker, on_main_process
from accelerate.utils import ProjectConfiguration, is_tensorboard_available, set_seed
from safetensors.torch import load_file, save_file
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import HfArgumentParser, get_scheduler

from .configuration_loco import PRESETS, LocoConfig
from .data import LocoDataCollator, load_event_dataset, synthetic_unav
from .evaluation import average_precision_by_length, false_positive_breakdown, mean_average_precision
from .feature_extraction_loco import LocoFeatureExtractor
from .modelcard import build_model_card
from .modeling_loco import LocoForEventLocalization
from .pipeline_loco import save_pipeline

logger = logging.getLogger(__name__)

__all__ = [
    "RECIPES",
    "DataConfig",
    "EvaluationConfig",
    "JsonlTracker",
    "SeededCollator",
    "TrainingConfig",
    "compute_metrics",
    "evaluate_checkpoint",
    "evaluate_main",
    "evaluate_model",
    "format_map_table",
    "format_summary",
    "latest_checkpoint",
    "model_config_for_dataset",
    "parameter_groups",
    "push_output_dir",
    "to_activitynet",
    "train",
    "train_step",
]

# The UnAV-100 recipe (UnAV's configs/avel_unav100.yaml): 5 warm-up + 40 cosine epochs, AdamW 1e-4, EMA 0.999.
UNAV_RECIPE = {
    "num_epochs": 45,
    "warmup_epochs": 5.0,
    "batch_size": 16,
    "learning_rate": 1e-4,
    "weight_decay": 1e-4,
    "ema_decay": 0.999,
}
# The `small` preset on the default synthetic data, sized so that `accelerate launch scripts/train.py` finishes in
# under 10 minutes on 2 CPU cores: 5 epochs of 112 steps (1,800 training videos) at about 0.57 s a step
# (benchmarks/train_step.py, docs/training.md). At this budget seeing more distinct videos beat more epochs over
# fewer (docs/ablations.md). A run of a few hundred optimizer steps takes a larger learning rate than UnAV's 18,000
# (of 3e-4, 5e-4, 1e-3 and 3e-3, 5e-4 gave the best validation mAP at the earlier 222-step budget, and beat 1e-3
# again at 444 steps), and an EMA whose memory (1 / (1 - decay) = 20 steps) fits in it: with 0.999 the EMA would
# still be 57 % the initial weights.
SMALL_RECIPE = {
    "num_epochs": 5,
    "warmup_epochs": 1.0,
    "batch_size": 16,
    "learning_rate": 5e-4,
    "weight_decay": 1e-4,
    "ema_decay": 0.95,
}
RECIPES = {name: (SMALL_RECIPE if name == "small" else UNAV_RECIPE) for name in PRESETS}

# Synthetic videos (all splits) of the default data, and the seed that makes them (independent of `seed`).
DEFAULT_NUM_VIDEOS = 3000
DEFAULT_DATA_SEED = 0
TIOU_THRESHOLDS = [round(0.1 * i, 1) for i in range(1, 10)]
MIXED_PRECISION_CHOICES = ("no", "fp16", "bf16", "fp8")
TRAINER_STATE_NAME = "trainer_state.json"
BEST_WEIGHTS_NAME = "best_ema.safetensors"
# Files of the output folder that `push_output_dir` uploads (checkpoints, logs and predictions stay local).
HUB_ALLOW_PATTERNS = ["*.safetensors", "*.json", "*.py", "README.md", "*.png"]
HUB_IGNORE_PATTERNS = ["checkpoints/*", "logs/*", "*_predictions.json", "evaluation/*"]


# ---------------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class DataConfig:
    r"""
    Where the videos come from; shared by `TrainingConfig` and `EvaluationConfig`.

    Args:
        dataset_dir (`str`, *optional*): the UnAV-100 release folder, a prepared dataset folder or a Hub dataset id
            (read by `loco_hf.data.load_event_dataset`). Default: synthetic UnAV-style data.
        num_videos (`int`, default 3000): synthetic videos over all splits (60 / 20 / 20 %).
        data_seed (`int`, default 0): seed of the synthetic data, independent of the training seed.
        synthetic_clean (`bool`, default False): synthetic data without distractors and audio-visual shifts.
    """

    dataset_dir: str | None = field(
        default=None,
        metadata={
            "help": "UnAV-100 release folder, prepared dataset folder or Hub dataset id (default: synthetic)."
        },
    )
    num_videos: int = field(
        default=DEFAULT_NUM_VIDEOS, metadata={"help": "Synthetic videos over all splits."}
    )
    data_seed: int = field(default=DEFAULT_DATA_SEED, metadata={"help": "Seed of the synthetic data."})
    synthetic_clean: bool = field(
        default=False,
        metadata={
            "help": "Synthetic data without distractors and audio-visual shifts (same events and noise)."
        },
    )


@dataclass(kw_only=True)
class TrainingConfig(DataConfig):
    r"""
    Everything a training run needs besides the model configuration (which comes from `preset`, `model_overrides`
    and the data). Options left at `None` take the preset's recipe from `RECIPES`: the UnAV recipe for the UnAV
    presets, a CPU-sized one for `small`.

    Data: the fields of `DataConfig`.

    Model:
        preset (`str`, default "small"): a `LocoConfig` preset.
        model_overrides (`str`, *optional*): JSON object of `LocoConfig` fields, e.g.
            '{"use_lcf": false, "use_lac": false, "cross_attention_queries": "other"}' (the UnAV baseline).

    Optimisation:
        num_epochs (`int`): epochs in total, warm-up included (UnAV: 45). warmup_epochs (`float`): linear warm-up
        (UnAV: 5). batch_size (`int`): videos per process and step (UnAV: 16). learning_rate, weight_decay
        (`float`): AdamW (UnAV: 1e-4 and 1e-4, decay on conv and linear weights only). ema_decay (`float`): weight
        EMA (UnAV: 0.999). max_grad_norm (`float`, default 1.0), gradient_accumulation_steps (`int`, default 1),
        seed (`int`, default 1234567891, UnAV's), mixed_precision (`str`, *optional*: "no", "fp16", "bf16"; default
        from `accelerate launch`), num_workers (`int`, default 0), cpu_threads (`int`, *optional*: torch threads
        per process when training on a CPU; default the CPU count over the local processes, because
        `accelerate launch` without a config pins OMP_NUM_THREADS to 1 and would leave all but one core idle).

    Evaluation and checkpoints:
        eval_every_epochs (`int`, default 1): validation mAP of the EMA weights every N epochs and at the end; the
            best one is kept (0: no validation, keep the last weights). eval_batch_size (`int`, *optional*).
        checkpoint_every_steps (`int`, *optional*): `save_state` every N optimizer steps; default at each epoch end.
        checkpoints_total_limit (`int`, default 2): checkpoints kept.
        resume_from_checkpoint (`str`, *optional*): "latest" or a checkpoint folder.
        logging_steps (`int`, default 10): optimizer steps between two log lines.
        output_dir (`str`, default "outputs").

    Hub:
        push_to_hub (`bool`, default False), hub_model_id (`str`, *optional*), hub_private (`bool`, default False).
    """

    # model
    preset: str = field(default="small", metadata={"help": f"LocoConfig preset, one of {sorted(PRESETS)}."})
    model_overrides: str | None = field(
        default=None,
        metadata={"help": 'JSON object of LocoConfig fields, e.g. \'{"use_lcf": false, "use_lac": false}\'.'},
    )
    # optimisation (None: the preset's recipe)
    num_epochs: int | None = field(default=None, metadata={"help": "Epochs, warm-up included (UnAV 45)."})
    warmup_epochs: float | None = field(default=None, metadata={"help": "Linear warm-up epochs (UnAV 5)."})
    batch_size: int | None = field(default=None, metadata={"help": "Videos per process and step (UnAV 16)."})
    learning_rate: float | None = field(default=None, metadata={"help": "AdamW learning rate (UnAV 1e-4)."})
    weight_decay: float | None = field(default=None, metadata={"help": "On conv/linear weights (UnAV 1e-4)."})
    ema_decay: float | None = field(default=None, metadata={"help": "Weight EMA decay (UnAV 0.999)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient-norm clipping (0: none)."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Batches per optimizer step."})
    seed: int = field(default=1234567891, metadata={"help": "Training seed (init, data order, crops)."})
    mixed_precision: str | None = field(
        default=None, metadata={"help": "no, fp16 or bf16 (default: the accelerate launch setting)."}
    )
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes."})
    cpu_threads: int | None = field(
        default=None,
        metadata={
            "help": "Torch threads per process on a CPU (default: the CPU's cores over the processes)."
        },
    )
    # evaluation and checkpoints
    eval_every_epochs: int = field(
        default=1, metadata={"help": "Validation every N epochs and at the end; 0 keeps the last weights."}
    )
    eval_batch_size: int | None = field(default=None, metadata={"help": "Default: batch_size."})
    checkpoint_every_steps: int | None = field(
        default=None, metadata={"help": "save_state every N optimizer steps (default: each epoch end)."}
    )
    checkpoints_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept."})
    resume_from_checkpoint: str | None = field(
        default=None, metadata={"help": "'latest' or a checkpoint folder."}
    )
    logging_steps: int = field(default=10, metadata={"help": "Optimizer steps between two log lines."})
    output_dir: str = field(default="outputs", metadata={"help": "Where everything is written."})
    # hub
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the output folder to the Hub."})
    hub_model_id: str | None = field(
        default=None, metadata={"help": "Hub repo id, e.g. your-name/loco-unav100."}
    )
    hub_private: bool = field(default=False, metadata={"help": "Create the Hub repo as private."})

    def __post_init__(self):
        if self.preset not in RECIPES:
            raise ValueError(f"TrainingConfig.preset must be one of {sorted(RECIPES)}, got {self.preset!r}.")
        for name, value in RECIPES[self.preset].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.eval_batch_size is None:
            self.eval_batch_size = self.batch_size
        positive = ("num_videos", "num_epochs", "batch_size", "eval_batch_size", "gradient_accumulation_steps",
                    "checkpoints_total_limit", "logging_steps")  # fmt: skip
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"TrainingConfig.{name} must be a positive integer, got {getattr(self, name)}."
                )
        for name in ("warmup_epochs", "weight_decay", "max_grad_norm", "eval_every_epochs", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainingConfig.{name} must be >= 0, got {getattr(self, name)}.")
        if self.warmup_epochs > self.num_epochs:
            raise ValueError(
                f"TrainingConfig.warmup_epochs ({self.warmup_epochs}) exceeds num_epochs ({self.num_epochs})."
            )
        if not self.learning_rate > 0:
            raise ValueError(f"TrainingConfig.learning_rate must be > 0, got {self.learning_rate}.")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"TrainingConfig.ema_decay must be in [0, 1), got {self.ema_decay}.")
        if self.cpu_threads is not None and self.cpu_threads <= 0:
            raise ValueError(
                f"TrainingConfig.cpu_threads must be a positive integer, got {self.cpu_threads}."
            )
        if self.checkpoint_every_steps is not None and self.checkpoint_every_steps <= 0:
            raise ValueError(
                f"TrainingConfig.checkpoint_every_steps must be a positive integer, got {self.checkpoint_every_steps}."
            )
        if self.mixed_precision is not None and self.mixed_precision not in MIXED_PRECISION_CHOICES:
            raise ValueError(
                f"TrainingConfig.mixed_precision must be one of {MIXED_PRECISION_CHOICES}, got {self.mixed_precision!r}."
            )
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("TrainingConfig.push_to_hub needs hub_model_id (e.g. 'your-name/loco-unav100').")
        self.model_override_dict()  # validates the JSON early

    def model_override_dict(self) -> dict:
        """`model_overrides` parsed: a dict of `LocoConfig` fields (ValueError for bad JSON or unknown fields)."""
        return parse_model_overrides(self.model_overrides)


def parse_model_overrides(model_overrides: str | Mapping | None) -> dict:
    """Parses a JSON object (or takes a dict) of `LocoConfig` field overrides, rejecting unknown field names."""
    if model_overrides is None or model_overrides == "":
        return {}
    if isinstance(model_overrides, Mapping):
        overrides = dict(model_overrides)
    else:
        try:
            overrides = json.loads(model_overrides)
        except json.JSONDecodeError as error:
            raise ValueError(f"model_overrides is not valid JSON ({error}): {model_overrides!r}") from None
    if not isinstance(overrides, dict):
        raise ValueError(
            f"model_overrides must be a JSON object of LocoConfig fields, got {model_overrides!r}."
        )
    known = {f.name for f in fields(LocoConfig)} | {"id2label", "label2id"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"model_overrides names unknown LocoConfig fields {unknown}.")
    if "id2label" in overrides:
        # JSON keys are strings (LocoConfig.from_preset derives label2id from the new names).
        overrides["id2label"] = {int(index): name for index, name in overrides["id2label"].items()}
    return overrides


@dataclass(kw_only=True)
class EvaluationConfig(DataConfig):
    r"""
    Evaluation of a saved model on one split.

    Args:
        model (`str`): a folder written by `train` (or `save_pretrained`) or a Hub model id.
        split (`str`, default "test"): "train", "validation" or "test".
        dataset_dir (`str`, *optional*): as in `TrainingConfig`; default the synthetic data of `num_videos` and
            `data_seed` with the model's dims and classes (the defaults match `TrainingConfig`'s).
        num_videos (`int`), data_seed (`int`), synthetic_clean (`bool`): the synthetic data.
        batch_size (`int`, default 16).
        output_dir (`str`, *optional*): where the metrics, predictions and plots go (default: `<model>/evaluation`
            for a folder, `evaluation/<model id>` for a Hub id).
        mixed_precision (`str`, *optional*): "no", "fp16" or "bf16".
        plots (`bool`, default True): error-analysis and worst-video timeline PNGs (needs matplotlib).
    """

    model: str = field(metadata={"help": "Folder written by train, or a Hub model id."})
    split: str = field(default="test", metadata={"help": "train, validation or test."})
    batch_size: int = field(default=16, metadata={"help": "Videos per forward pass."})
    output_dir: str | None = field(default=None, metadata={"help": "Default: <model>/evaluation."})
    mixed_precision: str | None = field(default=None, metadata={"help": "no, fp16 or bf16."})
    plots: bool = field(default=True, metadata={"help": "Error-analysis and worst-video PNGs (matplotlib)."})

    def __post_init__(self):
        if self.split not in ("train", "validation", "test"):
            raise ValueError(f"EvaluationConfig.split must be train, validation or test, got {self.split!r}.")
        if self.batch_size <= 0 or self.num_videos <= 0:
            raise ValueError("EvaluationConfig.batch_size and num_videos must be positive integers.")
        if self.mixed_precision is not None and self.mixed_precision not in MIXED_PRECISION_CHOICES:
            raise ValueError(
                f"EvaluationConfig.mixed_precision must be one of {MIXED_PRECISION_CHOICES}, "
                f"got {self.mixed_precision!r}."
            )


# ---------------------------------------------------------------------------------------------------------------
# Tracker
# ---------------------------------------------------------------------------------------------------------------


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
            stream.write(json.dumps(record, default=_json_scalar) + "\n")

    @on_main_process
    def store_init_configuration(self, values: dict):
        self._write({"config": values})

    @on_main_process
    def log(self, values: dict, step: int | None = None, **kwargs):
        self._write({"step": step, "time": time.time(), **values})


def _json_scalar(value):
    """JSON fallback for tensors, NumPy scalars and arrays."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return str(value)


# ---------------------------------------------------------------------------------------------------------------
# Data and model
# ---------------------------------------------------------------------------------------------------------------


def load_datasets(
    dataset_dir: str | None, num_videos: int, data_seed: int, model_config: LocoConfig, clean: bool = False
):
    """The dataset splits: `load_event_dataset(dataset_dir)`, or synthetic data with the model config's dims
    (`clean`: without distractors and audio-visual shifts)."""
    if dataset_dir:
        return load_event_dataset(dataset_dir)
    return synthetic_unav(
        num_videos=num_videos,
        seed=data_seed,
        num_classes=model_config.num_labels,
        visual_dim=model_config.visual_dim,
        audio_dim=model_config.audio_dim,
        fps=model_config.fps,
        feature_stride=model_config.feature_stride,
        feature_window=model_config.feature_window,
        clean=clean,
    )


def dataset_model_fields(dataset) -> dict:
    """The `LocoConfig` fields a dataset fixes: feature dims, class names and the time grid of its first row.

    Args:
        dataset (`datasets.Dataset`): rows with the loco-hf event schema.
    Returns:
        `dict` with visual_dim, audio_dim, id2label, label2id, fps, feature_stride and feature_window.
    """
    features = dataset.features
    names = list(features["labels"].feature.names)
    first = dataset.select_columns(["fps", "feature_stride", "feature_window"])[0]
    return {
        "visual_dim": int(features["visual_features"].shape[1]),
        "audio_dim": int(features["audio_features"].shape[1]),
        "id2label": dict(enumerate(names)),
        "label2id": {name: index for index, name in enumerate(names)},
        "fps": float(first["fps"]),
        "feature_stride": int(first["feature_stride"]),
        "feature_window": int(first["feature_window"]),
    }


def model_config_for_dataset(preset: str, overrides: Mapping, dataset) -> LocoConfig:
    """`LocoConfig.from_preset(preset, **overrides)`, with the dims, classes and time grid of `dataset` where they
    differ (each difference is logged)."""
    config = LocoConfig.from_preset(preset, **overrides)
    data_fields = dataset_model_fields(dataset)
    changed = {name: value for name, value in data_fields.items() if getattr(config, name) != value}
    if not changed:
        return config
    for name in changed:
        if name != "label2id":
            shown = f"{len(data_fields[name])} classes" if name == "id2label" else data_fields[name]
            logger.info(f"Model field {name} taken from the data: {shown}.")
    return LocoConfig.from_preset(preset, **{**overrides, **changed})


def ground_truth_of(dataset) -> dict:
    """{video_id: {"segments" (k, 2) seconds, "labels" (k,)}} of a split, for `mean_average_precision`."""
    rows = dataset.select_columns(["video_id", "segments", "labels"])
    return {
        row["video_id"]: {
            "segments": np.asarray(row["segments"], dtype=np.float64).reshape(-1, 2),
            "labels": np.asarray(row["labels"], dtype=np.int64),
        }
        for row in rows
    }


def durations_of(dataset) -> dict:
    """{video_id: duration in seconds} of a split."""
    rows = dataset.select_columns(["video_id", "duration"])
    return {row["video_id"]: float(row["duration"]) for row in rows}


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW parameter groups as in UnAV: weight decay on the weights of conv and linear layers only.

    Biases, LayerNorm affines, layer scales, per-level scales, the classification prior and the plain LCF and LAC
    parameters (pair logit scale and bias, window predictors, null keys) get none. Raises a ValueError unless every
    trainable parameter lands in exactly one group.

    Returns:
        `[{"params": [...], "weight_decay": weight_decay}, {"params": [...], "weight_decay": 0.0}]`, each group
        also naming its parameters under "names".
    """
    decay, no_decay = {}, {}
    for module_name, module in model.named_modules():
        for name, parameter in module.named_parameters(recurse=False):
            if not parameter.requires_grad:
                continue
            full_name = f"{module_name}.{name}" if module_name else name
            if isinstance(module, (nn.Linear, nn.Conv1d)) and name == "weight":
                decay[full_name] = parameter
            else:
                no_decay[full_name] = parameter
    every = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    both = sorted(set(decay) & set(no_decay))
    missing = sorted(every - set(decay) - set(no_decay))
    extra = sorted((set(decay) | set(no_decay)) - every)
    if both or missing or extra:
        raise ValueError(
            f"Optimizer groups must hold each parameter exactly once: in both {both}, in none {missing}, "
            f"unknown {extra}."
        )
    return [
        {"params": list(decay.values()), "names": list(decay), "weight_decay": weight_decay},
        {"params": list(no_decay.values()), "names": list(no_decay), "weight_decay": 0.0},
    ]


# ---------------------------------------------------------------------------------------------------------------
# One step, one evaluation
# ---------------------------------------------------------------------------------------------------------------


def model_inputs(batch: Mapping) -> dict:
    """The model's keyword arguments from a collated batch (labels included when present)."""
    names = ("visual_features", "audio_features", "attention_mask", "labels")
    return {name: batch[name] for name in names if name in batch}


def train_step(
    model: nn.Module,
    batch: Mapping,
    optimizer,
    scheduler,
    accelerator: Accelerator,
    ema_model: AveragedModel | None = None,
    max_grad_norm: float = 1.0,
) -> dict[str, torch.Tensor]:
    """One batch of training (the shape of LeRobot's `update_policy`).

    Inside `accelerator.accumulate`: forward under `accelerator.autocast()`, backward, and when gradients sync (the
    last batch of an accumulation) clip the global norm to `max_grad_norm`; then optimizer step, scheduler step
    and zeroing, which Accelerate makes no-ops until the gradients sync; then the weight EMA update.

    Returns:
        Detached scalar tensors: "loss", its components and, on syncing steps, "grad_norm". No `.item()` here.
    """
    with accelerator.accumulate(model):
        with accelerator.autocast():
            outputs = model(**model_inputs(batch))
        accelerator.backward(outputs.loss)
        grad_norm = None
        if accelerator.sync_gradients and max_grad_norm > 0:
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    if accelerator.sync_gradients and ema_model is not None:
        ema_model.update_parameters(accelerator.unwrap_model(model))
    losses = {
        "loss": outputs.loss.detach(),
        "classification_loss": outputs.classification_loss,
        "regression_loss": outputs.regression_loss,
        "lcf_loss": outputs.lcf_loss,
    }
    if grad_norm is not None:
        losses["grad_norm"] = torch.as_tensor(grad_norm).detach()
    return losses


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    dataloader,
    feature_extractor: LocoFeatureExtractor,
    accelerator: Accelerator,
    description: str = "evaluation",
) -> dict[str, dict]:
    """Post-processed predictions of every video of a prepared dataloader, each video exactly once.

    Each process decodes its batches with `post_process_event_localization`; `accelerator.gather_for_metrics`
    collects them and drops the samples Accelerate repeated to even out the last batches.

    Returns:
        On every process, {video_id: {"segments" (k, 2) seconds, "scores" (k,), "labels" (k,)}} as NumPy arrays.
    """
    model.eval()
    predictions = {}
    progress = tqdm(dataloader, desc=description, leave=False, disable=not accelerator.is_local_main_process)
    for batch in progress:
        with accelerator.autocast():
            outputs = model(**model_inputs({**batch, "labels": None}))
        results = feature_extractor.post_process_event_localization(outputs, batch["durations"].tolist())
        videos = [
            {
                "video_id": video_id,
                "segments": result["segments"].float().cpu().numpy(),
                "scores": result["scores"].float().cpu().numpy(),
                "labels": result["labels"].cpu().numpy(),
            }
            for video_id, result in zip(batch["video_ids"], results, strict=True)
        ]
        for video in accelerator.gather_for_metrics(videos, use_gather_object=True):
            video_id = video.pop("video_id")
            if video_id in predictions:
                raise ValueError(
                    f"Video {video_id!r} was evaluated twice: video ids must be unique in a split."
                )
            predictions[video_id] = video
    return predictions


def compute_metrics(predictions: Mapping, ground_truth: Mapping, id2label: Mapping) -> dict:
    """The mAP table and per-class AP of a split, JSON-ready.

    Returns:
        `dict` with "mAP" ({"0.1": float, ..., "0.9": float}), "average_mAP" (float) and "per_class_AP"
        ({class name: {"0.1": ..., "0.9": ..., "average": ...}}, `None` for classes absent from the split).
    """
    result = mean_average_precision(predictions, ground_truth, TIOU_THRESHOLDS, num_classes=len(id2label))
    keys = [f"{threshold:.1f}" for threshold in result["tiou_thresholds"]]
    per_class = {}
    for class_id, row in zip(result["class_ids"].tolist(), result["per_class_AP"], strict=True):
        name = id2label[int(class_id)]
        values = [None if math.isnan(value) else float(value) for value in row.tolist()]
        average = None if None in values else float(np.mean(values))
        per_class[name] = {**dict(zip(keys, values, strict=True)), "average": average}
    return {
        "mAP": dict(zip(keys, (float(value) for value in result["mAP"]), strict=True)),
        "average_mAP": float(result["average_mAP"]),
        "per_class_AP": per_class,
    }


def flat_metrics(metrics: Mapping, prefix: str) -> dict[str, float]:
    """{"<prefix>/mAP@0.5": ..., "<prefix>/average_mAP": ...} for logging and the returned summary."""
    flat = {f"{prefix}/mAP@{key}": value for key, value in metrics["mAP"].items()}
    flat[f"{prefix}/average_mAP"] = metrics["average_mAP"]
    return flat


def format_map_table(metrics: Mapping, title: str = "") -> str:
    """A markdown table of mAP at each tIoU threshold and the average, in percent."""
    keys = list(metrics["mAP"])
    header = "| " + " | ".join([*keys, "average"]) + " |"
    rule = "|" + "---|" * (len(keys) + 1)
    values = "| " + " | ".join(f"{100 * metrics['mAP'][key]:.2f}" for key in keys)
    values += f" | {100 * metrics['average_mAP']:.2f} |"
    lines = ([title] if title else []) + [header, rule, values]
    return "\n".join(lines)


def format_summary(summary: Mapping) -> str:
    """The summary returned by `train` as text: the test mAP table (when there is one) and the selection."""
    lines = []
    thresholds = [key.split("@", 1)[1] for key in summary if key.startswith("test/mAP@")]
    if thresholds:
        table = {"mAP": {key: summary[f"test/mAP@{key}"] for key in thresholds}}
        lines.append(format_map_table({**table, "average_mAP": summary["test/average_mAP"]}, "Test mAP (%)"))
    if summary.get("validation/average_mAP") is not None:
        lines.append(
            f"Selected epoch {summary['best_epoch']} (validation average mAP "
            f"{100 * summary['validation/average_mAP']:.2f}), {summary['global_step']} optimizer steps."
        )
    return "\n".join(lines)


def to_activitynet(predictions: Mapping, id2label: Mapping) -> dict:
    """Predictions in the ActivityNet result format: {"version", "results": {video_id: [{"label", "score",
    "segment": [start, end]}]}, "external_data": {}}, times in seconds."""
    results = {}
    for video_id, video in predictions.items():
        results[video_id] = [
            {"label": id2label[int(label)], "score": float(score), "segment": [float(start), float(end)]}
            for (start, end), score, label in zip(
                np.asarray(video["segments"]).reshape(-1, 2).tolist(),
                np.asarray(video["scores"]).tolist(),
                np.asarray(video["labels"]).tolist(),
                strict=True,
            )
        ]
    return {"version": "VERSION 1.3", "results": results, "external_data": {}}


def write_json(path: Path, payload) -> None:
    """Writes JSON atomically (temporary file, then rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=2, default=_json_scalar) + "\n")
    os.replace(temporary, path)


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class TrainerState:
    """Where a run stands; saved as trainer_state.json in each checkpoint.

    `epoch` is the epoch in progress and `batches_in_epoch` the batches of it already trained on (an epoch-end
    checkpoint stores the next epoch and 0).
    """

    global_step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    best_metric: float | None = None
    best_epoch: int | None = None


def list_checkpoints(checkpoint_root: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (those holding trainer_state.json) as (global_step, path), oldest first."""
    found = []
    if checkpoint_root.is_dir():
        for path in checkpoint_root.iterdir():
            state_file = path / TRAINER_STATE_NAME
            if path.is_dir() and not path.name.startswith(".") and state_file.is_file():
                found.append((json.loads(state_file.read_text())["global_step"], path))
    return sorted(found)


def latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The checkpoint of `output_dir` with the most optimizer steps (read from its trainer_state.json)."""
    found = list_checkpoints(Path(output_dir) / "checkpoints")
    return found[-1][1] if found else None


def save_checkpoint(
    accelerator: Accelerator,
    output_dir: Path,
    state: TrainerState,
    best_weights: dict | None,
    total_limit: int,
) -> Path:
    """`accelerator.save_state` into a temporary folder, then an atomic rename to checkpoints/checkpoint_<step>.

    A kill during the save leaves only a hidden temporary folder (ignored, and removed by the next save): the last
    complete checkpoint is never touched. Keeps the `total_limit` most recent checkpoints.
    """
    checkpoint_root = output_dir / "checkpoints"
    final = checkpoint_root / f"checkpoint_{state.global_step}"
    temporary = checkpoint_root / f".tmp_checkpoint_{state.global_step}"
    if accelerator.is_main_process:
        checkpoint_root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(temporary, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if best_weights is not None:
            save_file(best_weights, temporary / BEST_WEIGHTS_NAME)
        (temporary / TRAINER_STATE_NAME).write_text(json.dumps(asdict(state), indent=2) + "\n")
        if final.exists():  # the same step saved again (a resumed run): replace it
            shutil.rmtree(final)
        os.replace(temporary, final)
        for _, old in list_checkpoints(checkpoint_root)[:-total_limit]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def resolve_checkpoint(resume_from_checkpoint: str, output_dir: Path) -> Path:
    """The folder named by `resume_from_checkpoint` ("latest" looks in output_dir/checkpoints)."""
    if resume_from_checkpoint == "latest":
        path = latest_checkpoint(output_dir)
        if path is None:
            raise ValueError(
                f"resume_from_checkpoint='latest' but {output_dir / 'checkpoints'} holds no checkpoint."
            )
        return path
    path = Path(resume_from_checkpoint)
    if not (path / TRAINER_STATE_NAME).is_file():
        raise ValueError(
            f"resume_from_checkpoint={str(path)!r} is not a checkpoint folder (no {TRAINER_STATE_NAME})."
        )
    return path


# ---------------------------------------------------------------------------------------------------------------
# Outputs and the Hub
# ---------------------------------------------------------------------------------------------------------------


def save_example_timeline(
    path: Path, predictions: Mapping, ground_truth: Mapping, durations: Mapping, id2label
):
    """A timeline PNG of the test video with the most events (skipped, with a log line, without matplotlib)."""
    try:
        from .plotting import plot_event_timeline

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


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------


class SeededCollator:
    """Runs a collator (its random training crops) under a torch generator seeded from (seed, epoch, the batch's
    video ids), then restores the global random state.

    The crops are then a function of the data alone, not of when the batch is built: Accelerate's loader builds
    the next batch before the current one trains (to detect the end of the epoch), so crops drawn from the global
    stream would interleave with the model's drop-path draws, and a run resumed mid-epoch (whose first batch is
    built after `load_state`) would crop differently. With this, the global stream holds the model's draws only,
    and `save_state` / `load_state` make any resume exact. Set `epoch` before each epoch.
    """

    def __init__(self, collator, seed: int):
        self.collator = collator
        self.seed = seed
        self.epoch = 0

    def __call__(self, rows):
        key = f"{self.seed}/{self.epoch}/" + "/".join(str(row["video_id"]) for row in rows)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(zlib.crc32(key.encode()))
            return self.collator(rows)


def _dataloaders(dataset, feature_extractor, config: TrainingConfig, has_validation: bool, has_test: bool):
    train_loader = DataLoader(
        dataset["train"].with_format("numpy"),
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=True,  # as UnAV; every optimizer step sees a full batch
        collate_fn=SeededCollator(LocoDataCollator(feature_extractor, training=True), config.seed),
        num_workers=config.num_workers,
        # A private generator: creating a loader iterator then draws its base seed from it, not from the global
        # RNG that the crops and drop-path use, so a resumed run sees the same random stream.
        generator=torch.Generator().manual_seed(config.seed),
    )

    def evaluation_loader(split):
        return DataLoader(
            dataset[split].with_format("numpy"),
            batch_size=config.eval_batch_size,
            collate_fn=LocoDataCollator(feature_extractor, training=False),
            num_workers=config.num_workers,
            generator=torch.Generator().manual_seed(config.seed),
        )

    validation_loader = evaluation_loader("validation") if has_validation else None
    test_loader = evaluation_loader("test") if has_test else None
    return train_loader, validation_loader, test_loader


def train(config: TrainingConfig) -> dict[str, float]:
    """Trains LoCo as `config` says and writes the model, its card, metrics and logs to `config.output_dir`.

    Returns:
        On the main process, the final metrics: "test/mAP@0.1" ... "test/mAP@0.9" and "test/average_mAP" (EMA
        weights selected on validation), "validation/average_mAP" of those weights, "best_epoch" and
        "global_step". An empty dict on the other processes.
    """
    output_dir = Path(config.output_dir)
    trackers = [JsonlTracker("train", output_dir / "logs")]
    if is_tensorboard_available():
        trackers.append("tensorboard")
    accelerator = Accelerator(
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        mixed_precision=config.mixed_precision,
        log_with=trackers,
        project_config=ProjectConfiguration(
            project_dir=str(output_dir), logging_dir=str(output_dir / "logs")
        ),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=config.seed),
    )

    if accelerator.device.type == "cpu":
        torch.set_num_threads(
            config.cpu_threads or max(1, (os.cpu_count() or 1) // accelerator.state.num_processes)
        )

    # Seed. The synthetic data has its own seed (data_seed), so every training seed sees the same videos.
    set_seed(config.seed)

    # Data, then the model configuration that fits it.
    overrides = config.model_override_dict()
    base_config = LocoConfig.from_preset(config.preset, **overrides)
    with accelerator.main_process_first():
        dataset = load_datasets(
            config.dataset_dir, config.num_videos, config.data_seed, base_config, config.synthetic_clean
        )
    model_config = model_config_for_dataset(config.preset, overrides, dataset["train"])
    feature_extractor = LocoFeatureExtractor.from_model_config(model_config)
    has_validation = "validation" in dataset and config.eval_every_epochs > 0
    has_test = "test" in dataset
    needed = config.batch_size * accelerator.num_processes
    if len(dataset["train"]) < needed:
        raise ValueError(
            f"The train split has {len(dataset['train'])} videos, fewer than batch_size x processes = {needed}."
        )
    train_loader, validation_loader, test_loader = _dataloaders(
        dataset, feature_extractor, config, has_validation, has_test
    )

    # Model and weight EMA (UnAV averages the whole state dict, buffers included).
    model = LocoForEventLocalization(model_config)
    ema_model = AveragedModel(
        model,
        device=accelerator.device,
        multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay),
        use_buffers=True,
    )
    accelerator.register_for_checkpointing(ema_model)

    # Optimizer and a per-iteration schedule. With drop_last, each process runs (batches // processes) batches
    # per epoch and Accelerate steps the scheduler once per process at each optimizer step.
    optimizer = torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.learning_rate)
    batches_per_process = len(train_loader) // accelerator.num_processes
    updates_per_epoch = math.ceil(batches_per_process / config.gradient_accumulation_steps)
    total_updates = updates_per_epoch * config.num_epochs
    scheduler = get_scheduler(
        "cosine",
        optimizer,
        num_warmup_steps=round(updates_per_epoch * config.warmup_epochs) * accelerator.num_processes,
        num_training_steps=total_updates * accelerator.num_processes,
    )

    model, optimizer, scheduler, train_loader, validation_loader, test_loader = accelerator.prepare(
        model, optimizer, scheduler, train_loader, validation_loader, test_loader
    )

    state = TrainerState()
    best_weights = None
    if config.resume_from_checkpoint:
        checkpoint = resolve_checkpoint(config.resume_from_checkpoint, output_dir)
        # The model (its loss normaliser too), optimizer, scheduler, RNG states and the EMA.
        accelerator.load_state(str(checkpoint))
        state = TrainerState(**json.loads((checkpoint / TRAINER_STATE_NAME).read_text()))
        if (checkpoint / BEST_WEIGHTS_NAME).is_file():
            best_weights = load_file(checkpoint / BEST_WEIGHTS_NAME)
        if accelerator.is_main_process:
            logger.info(f"Resumed from {checkpoint} at step {state.global_step}.")
    elif accelerator.is_main_process and list_checkpoints(output_dir / "checkpoints"):
        logger.warning(
            f"Starting a new run: the checkpoints in {output_dir / 'checkpoints'} will be replaced."
        )
        shutil.rmtree(output_dir / "checkpoints")

    run_config = {
        **asdict(config),
        "mixed_precision": accelerator.mixed_precision,
        "num_processes": accelerator.num_processes,
        "total_updates": total_updates,
    }
    accelerator.init_trackers(
        "train", config={key: _tracker_value(value) for key, value in run_config.items()}
    )
    if accelerator.is_main_process:
        logger.info(
            f"Training {config.preset} for {config.num_epochs} epochs ({total_updates} steps) on "
            f"{len(dataset['train'])} videos, {accelerator.num_processes} process(es)."
        )

    validation_truth = ground_truth_of(dataset["validation"]) if has_validation else None
    progress = tqdm(
        total=total_updates,
        initial=state.global_step,
        desc="training",
        disable=not accelerator.is_local_main_process,
    )
    running, running_count = {}, 0
    for epoch in range(state.epoch, config.num_epochs):
        model.train()
        train_loader.set_epoch(epoch)
        train_loader.collate_fn.epoch = epoch
        batches = train_loader
        if state.batches_in_epoch:
            # Resumed mid-epoch: the epoch's data order is a function of (seed, epoch), so skip what was done.
            batches = accelerator.skip_first_batches(train_loader, state.batches_in_epoch)
        for batch in batches:
            losses = train_step(
                model, batch, optimizer, scheduler, accelerator, ema_model, config.max_grad_norm
            )
            state.batches_in_epoch += 1
            grad_norm = losses.pop("grad_norm", None)
            for name, value in losses.items():
                running[name] = running.get(name, 0.0) + value
            running_count += 1
            if not accelerator.sync_gradients:
                continue
            state.global_step += 1
            progress.update(1)
            if state.global_step % config.logging_steps == 0:
                logs = {
                    name: accelerator.reduce(value, "mean").item() / running_count
                    for name, value in running.items()
                }
                logs.update(lr=scheduler.get_last_lr()[0], epoch=epoch)
                if grad_norm is not None:
                    logs["grad_norm"] = grad_norm.item()
                accelerator.log(logs, step=state.global_step)
                progress.set_postfix(loss=f"{logs['loss']:.3f}")
                running, running_count = {}, 0
            if config.checkpoint_every_steps and state.global_step % config.checkpoint_every_steps == 0:
                save_checkpoint(accelerator, output_dir, state, best_weights, config.checkpoints_total_limit)

        last_epoch = epoch == config.num_epochs - 1
        if has_validation and ((epoch + 1) % config.eval_every_epochs == 0 or last_epoch):
            predictions = evaluate_model(ema_model.module, validation_loader, feature_extractor, accelerator)
            validation_map = None
            if accelerator.is_main_process:
                metrics = compute_metrics(predictions, validation_truth, model_config.id2label)
                accelerator.log(flat_metrics(metrics, "validation"), step=state.global_step)
                logger.info(f"epoch {epoch}: validation average mAP {100 * metrics['average_mAP']:.2f}")
                validation_map = metrics["average_mAP"]
            validation_map = _broadcast(accelerator, validation_map)  # computed on the main process only
            if state.best_metric is None or validation_map > state.best_metric:
                state.best_metric, state.best_epoch = validation_map, epoch
                best_weights = {
                    name: tensor.detach().cpu().clone()
                    for name, tensor in ema_model.module.state_dict().items()
                }
        state.epoch, state.batches_in_epoch = epoch + 1, 0
        if config.checkpoint_every_steps is None:
            save_checkpoint(accelerator, output_dir, state, best_weights, config.checkpoints_total_limit)
    progress.close()

    # Final model: the EMA weights of the best validation epoch (else the last ones), evaluated on test.
    final_model = ema_model.module
    if best_weights is not None:
        final_model.load_state_dict(best_weights)
    summary = {"global_step": state.global_step, "best_epoch": state.best_epoch}
    if state.best_metric is not None:
        summary["validation/average_mAP"] = state.best_metric
    test_metrics = None
    if has_test:
        predictions = evaluate_model(final_model, test_loader, feature_extractor, accelerator, "test")
        if accelerator.is_main_process:
            test_truth = ground_truth_of(dataset["test"])
            test_metrics = compute_metrics(predictions, test_truth, model_config.id2label)
            summary.update(flat_metrics(test_metrics, "test"))
            write_json(
                output_dir / "test_predictions.json", to_activitynet(predictions, model_config.id2label)
            )
            save_example_timeline(
                output_dir / "timeline_example.png",
                predictions,
                test_truth,
                durations_of(dataset["test"]),
                model_config.id2label,
            )
    if accelerator.is_main_process:
        save_pipeline(final_model, feature_extractor, output_dir)
        metrics_file = {"summary": summary, "test": test_metrics, "training": run_config}
        write_json(output_dir / "metrics.json", metrics_file)
        card = build_model_card(
            model_id=config.hub_model_id or str(output_dir),
            title=config.hub_model_id or f"loco-{config.preset}",
            model_config=model_config,
            training=run_config,
            test_metrics=test_metrics,
            validation_average_map=state.best_metric,
            dataset_description=_dataset_description(config, dataset),
            dataset_id=config.dataset_dir if _is_hub_id(config.dataset_dir) else None,
            num_parameters=sum(parameter.numel() for parameter in final_model.parameters()),
            example_image="timeline_example.png" if (output_dir / "timeline_example.png").exists() else None,
        )
        card.save(output_dir / "README.md")
        accelerator.log(
            {key: value for key, value in summary.items() if value is not None}, step=state.global_step
        )
        if test_metrics is not None:
            logger.info(
                f"Test average mAP {100 * test_metrics['average_mAP']:.2f} (EMA weights of epoch {state.best_epoch})."
            )
        if config.push_to_hub:
            push_output_dir(output_dir, config.hub_model_id, private=config.hub_private)
            logger.info(f"Pushed {output_dir} to the Hub repo {config.hub_model_id}.")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary if accelerator.is_main_process else {}


def _broadcast(accelerator: Accelerator, value):
    """The main process's Python value, on every process."""
    if accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value])[0]


def _tracker_value(value):
    """Tracker hyper-parameters must be bool, str, int or float."""
    return value if isinstance(value, (bool, str, int, float)) else str(value)


def _is_hub_id(dataset_dir: str | None) -> bool:
    return bool(dataset_dir) and not Path(dataset_dir).exists() and dataset_dir.count("/") == 1


def _dataset_description(config: TrainingConfig, dataset) -> str:
    sizes = ", ".join(f"{split} {len(dataset[split])}" for split in dataset)
    if config.dataset_dir:
        return f"`{config.dataset_dir}` (videos: {sizes})"
    return (
        f"synthetic UnAV-style data from `loco_hf.data.synthetic_unav(num_videos={config.num_videos}, "
        f"seed={config.data_seed})` (videos: {sizes}): UnAV-100's event statistics, with audio-only and "
        "visual-only distractor events and audio-visual asynchrony; not real video features"
    )


# ---------------------------------------------------------------------------------------------------------------
# Evaluation of a saved model
# ---------------------------------------------------------------------------------------------------------------


def evaluate_checkpoint(config: EvaluationConfig) -> dict:
    """Evaluates a saved model (folder or Hub id) on one split and writes the results to the output folder.

    Writes `<split>_metrics.json` (mAP at tIoU 0.1 ... 0.9 and the average, per-class AP, AP by event length, false
    positives by type), `<split>_predictions.json` (ActivityNet format) and, with matplotlib, error-analysis and
    worst-video timeline PNGs.

    Returns:
        On the main process, the metrics dict (as in `<split>_metrics.json`) with "output_dir"; else {}.
    """
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    model = LocoForEventLocalization.from_pretrained(config.model)
    feature_extractor = LocoFeatureExtractor.from_pretrained(config.model)
    model_config = model.config
    with accelerator.main_process_first():
        dataset = load_datasets(
            config.dataset_dir, config.num_videos, config.data_seed, model_config, config.synthetic_clean
        )
    if config.split not in dataset:
        raise ValueError(f"The dataset has no {config.split!r} split (it has {list(dataset)}).")
    split = dataset[config.split]
    data_fields = dataset_model_fields(split)
    for name in ("visual_dim", "audio_dim", "id2label", "fps", "feature_stride", "feature_window"):
        if getattr(model_config, name) != data_fields[name]:
            raise ValueError(
                f"The model's {name} ({getattr(model_config, name)}) does not match the data's ({data_fields[name]})."
            )
    loader = DataLoader(
        split.with_format("numpy"),
        batch_size=config.batch_size,
        collate_fn=LocoDataCollator(feature_extractor, training=False),
        generator=torch.Generator(),
    )
    model, loader = accelerator.prepare(model, loader)
    predictions = evaluate_model(model, loader, feature_extractor, accelerator, config.split)
    if not accelerator.is_main_process:
        return {}

    if Path(config.model).is_dir():
        output_dir = Path(config.output_dir or Path(config.model) / "evaluation")
    else:
        output_dir = Path(config.output_dir or Path("evaluation") / config.model)
    output_dir.mkdir(parents=True, exist_ok=True)
    truth = ground_truth_of(split)
    metrics = compute_metrics(predictions, truth, model_config.id2label)
    metrics["by_length"] = _json_ready(
        average_precision_by_length(predictions, truth, tiou_thresholds=TIOU_THRESHOLDS)
    )
    metrics["false_positives"] = _json_ready(false_positive_breakdown(predictions, truth))
    write_json(output_dir / f"{config.split}_metrics.json", metrics)
    write_json(
        output_dir / f"{config.split}_predictions.json", to_activitynet(predictions, model_config.id2label)
    )
    if config.plots:
        try:
            from .plotting import plot_error_analysis, plot_worst_videos

            plot_error_analysis(
                metrics["by_length"], metrics["false_positives"], output_dir / f"{config.split}_errors.png"
            )
            plot_worst_videos(
                predictions, truth, output_dir, durations=durations_of(split), id2label=model_config.id2label
            )
        except ImportError as error:
            logger.info(f"No plots ({error}).")
    return {**metrics, "output_dir": str(output_dir)}


def _json_ready(value):
    """Nested dicts and lists with NumPy values -> plain Python (NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_ready(item) for item in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def evaluate_main(argv: list[str] | None = None) -> int:
    """Command-line entry point of `scripts/evaluate.py` and `loco-hf evaluate`: parses an `EvaluationConfig`,
    evaluates, and writes the mAP table and the output paths to stdout. Returns the exit status."""
    parser = HfArgumentParser(EvaluationConfig, description=evaluate_checkpoint.__doc__.split("\n")[0])
    (config,) = parser.parse_args_into_dataclasses(args=argv)
    metrics = evaluate_checkpoint(config)
    if metrics:
        directory = Path(metrics["output_dir"])
        sys.stdout.write(format_map_table(metrics, f"{config.model} on {config.split}: mAP (%)") + "\n")
        sys.stdout.write(f"metrics: {directory / f'{config.split}_metrics.json'}\n")
        sys.stdout.write(f"predictions: {directory / f'{config.split}_predictions.json'}\n")
    return 0
