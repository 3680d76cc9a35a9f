# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The options of a training run (`TrainingConfig`) and of an evaluation (`EvaluationConfig`), and the recipes.

Options left unset take the preset's recipe from `RECIPES`: the UnAV recipe for the UnAV-100 presets, a CPU-sized
one for `small`. `parse_model_overrides` reads the JSON `LocoConfig` overrides of `--model_overrides`.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from accelerate.utils import LoggerType

from ..configuration_loco import DEPRECATED_FIELDS, PRESETS, LocoConfig
from ..data.collate import PADDING_STRATEGIES

__all__ = [
    "RECIPES",
    "REPORT_TO_CHOICES",
    "SMALL_RECIPE",
    "UNAV_RECIPE",
    "DataConfig",
    "EvaluationConfig",
    "TrainingConfig",
    "parse_model_overrides",
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
MIXED_PRECISION_CHOICES = ("no", "fp16", "bf16", "fp8")
# Experiment trackers of `--report_to`: those Accelerate supports ("all": every one of them that is installed), or
# "none". The JSONL log of the run (logs/train.jsonl) is written in every case.
REPORT_TO_CHOICES = tuple(str(tracker) for tracker in LoggerType) + ("none",)


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
            '{"use_lcf": false, "use_lac": false, "cross_attention_query_source": "other_stream"}' (the UnAV
            baseline). The deprecated field names of `configuration_loco.DEPRECATED_FIELDS` are accepted, with a
            FutureWarning.

    Optimisation:
        num_epochs (`int`): epochs in total, warm-up included (UnAV: 45). warmup_epochs (`float`): linear warm-up
        (UnAV: 5). batch_size (`int`): videos per process and step (UnAV: 16). learning_rate, weight_decay
        (`float`): AdamW (UnAV: 1e-4 and 1e-4, decay on conv and linear weights only). ema_decay (`float`): weight
        EMA (UnAV: 0.999). max_grad_norm (`float`, default 1.0), gradient_accumulation_steps (`int`, default 1),
        gradient_checkpointing (`bool`, default False: recompute the attention and dependency blocks in the backward
        pass instead of keeping their activations; same gradients, less memory, more compute),
        seed (`int`, default 1234567891, UnAV's), mixed_precision (`str`, *optional*: "no", "fp16", "bf16"; default
        from `accelerate launch`), num_workers (`int`, default 0), cpu_threads (`int`, *optional*: torch threads
        per process when training on a CPU; default the CPU count over the local processes, because
        `accelerate launch` without a config pins OMP_NUM_THREADS to 1 and would leave all but one core idle).

    Speed:
        padding (`str`, default "longest"): how `LocoDataCollator` pads a batch: "longest" to the batch's longest
            video rounded up to the largest stride (less work; a video's outputs do not depend on its padding),
            "max_length" to `max_seq_len` as UnAV trains (what a model with `reference_padding`, whose outputs do
            depend on it, needs). Evaluation pads the same way.
        group_by_length (`bool`, default False): batches of videos of similar length (`LengthGroupedSampler`,
            transformers' `group_by_length`), which only saves work with padding "longest"; with "longest" the
            validation and test splits are also read in order of length.
        torch_compile (`bool`, default False): compile the network (`nn.Module.compile` of the base model, static
            shapes: one graph per padded length, at most `max_seq_len / max_stride` of them with padding
            "longest"); the loss, whose labels change shape with each batch's event counts, runs eagerly.
        keep_freed_cpu_memory (`bool`, default True): on a CPU under Linux (glibc), large freed blocks stay in the
            process for the next step instead of being unmapped and faulted in again (`cpu_allocator`; a full-preset
            step spent a third of its time in the kernel without it). The process keeps its peak memory.

    Evaluation and checkpoints:
        eval_every_epochs (`int`, default 1): validation mAP of the EMA weights every N epochs and at the end; the
            best one is kept (0: no validation, keep the last weights). eval_batch_size (`int`, *optional*).
        checkpoint_every_steps (`int`, *optional*): `save_state` every N optimizer steps; default at each epoch end.
        checkpoints_total_limit (`int`, default 2): checkpoints kept.
        resume_from_checkpoint (`str`, *optional*): "latest" or a checkpoint folder.
        logging_steps (`int`, default 10): optimizer steps between two log lines.
        report_to (`list[str]`, default ["none"]): experiment trackers that receive the log lines besides
            logs/train.jsonl (always written): any of `REPORT_TO_CHOICES` ("tensorboard", "wandb", "mlflow",
            "trackio", ... as Accelerate supports them; "all": every installed one; "none": only the JSONL log),
            as transformers' `TrainingArguments.report_to`. A named tracker must be installed.
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
    gradient_checkpointing: bool = field(
        default=False,
        metadata={
            "help": "Recompute attention and dependency blocks in backward: less memory, same gradients."
        },
    )
    seed: int = field(default=1234567891, metadata={"help": "Training seed (init, data order, crops)."})
    mixed_precision: str | None = field(
        default=None, metadata={"help": "no, fp16 or bf16 (default: the accelerate launch setting)."}
    )
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes."})
    # speed
    padding: str = field(
        default="longest",
        metadata={
            "help": "Batch padding: longest (the longest video) or max_length (UnAV's, max_seq_len steps)."
        },
    )
    group_by_length: bool = field(
        default=False, metadata={"help": "Batches of videos of similar length (with padding longest)."}
    )
    torch_compile: bool = field(
        default=False, metadata={"help": "torch.compile the network (static shapes; the loss stays eager)."}
    )
    keep_freed_cpu_memory: bool = field(
        default=True,
        metadata={
            "help": "On a Linux CPU, reuse freed memory instead of returning it to the kernel each step."
        },
    )
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
    report_to: list[str] = field(
        default_factory=lambda: ["none"],
        metadata={
            "help": "Trackers besides logs/train.jsonl: tensorboard, wandb, mlflow, trackio, ... (what Accelerate "
            "supports), all (every installed one) or none."
        },
    )
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
        for option in fields(self):
            value = getattr(self, option.name)
            # NaN passes every comparison check below unnoticed (max_grad_norm=nan would turn clipping off).
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(
                    f"TrainingConfig.{option.name} must be finite (no NaN or infinity), got {value}."
                )
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
        if self.padding not in PADDING_STRATEGIES:
            raise ValueError(
                f"TrainingConfig.padding must be one of {PADDING_STRATEGIES}, got {self.padding!r}."
            )
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
        if isinstance(self.report_to, str):
            self.report_to = [self.report_to]
        unknown = sorted(set(self.report_to) - set(REPORT_TO_CHOICES))
        if unknown or ("none" in self.report_to and len(self.report_to) > 1):
            raise ValueError(
                f"TrainingConfig.report_to must be 'none' or names from {list(REPORT_TO_CHOICES[:-1])}, "
                f"got {self.report_to}."
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
    known = {f.name for f in fields(LocoConfig)} | {"id2label", "label2id"} | set(DEPRECATED_FIELDS)
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
        batch_size (`int`, default 16): videos per forward pass, taken in order of length and padded to the
            batch's longest (UnAV's padding for a converted checkpoint, `reference_padding`).
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
