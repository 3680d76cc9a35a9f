# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Checkpoints of a run: `accelerator.save_state` written to a temporary folder then renamed into place, with a
`TrainerState` (where the run stands), the weight EMA and the best EMA weights so far (safetensors) and the run's
options (JSON); listing, checking, resolving, loading and rotation. Checkpoints are ordered by the optimizer steps
recorded in them, never by folder times.

Nothing in a checkpoint folder is unpickled: the state written here is safetensors and JSON, and the files that
`accelerator.load_state` reads with `torch.load` (optimizer, scheduler, random states) are first checked to load
with `weights_only=True`, as Accelerate then loads them. A damaged file makes the checkpoint unusable, with an
error (or, for "latest", a warning and the next older checkpoint) naming the file."""

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from accelerate import Accelerator
from accelerate.utils import load as accelerate_load
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch.optim.swa_utils import AveragedModel
from transformers.utils import logging

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = [
    "CheckpointError",
    "TrainerState",
    "check_checkpoint",
    "check_run_options",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "resolve_checkpoint",
    "save_checkpoint",
]

TRAINER_STATE_NAME = "trainer_state.json"
BEST_WEIGHTS_NAME = "best_ema.safetensors"
EMA_WEIGHTS_NAME = "ema.safetensors"
RUN_OPTIONS_NAME = "run_options.json"
# Files of `accelerator.save_state` that resuming needs, besides each process's random_states_<index>.pkl.
ACCELERATE_STATE_NAMES = ("model.safetensors", "optimizer.bin", "scheduler.bin")
# Files that `accelerator.load_state` reads with `torch.load` (weights_only=True in Accelerate 1.16).
TORCH_LOAD_SUFFIXES = (".bin", ".pkl", ".pt")
# Accelerate's files for `register_for_checkpointing` objects, which it unpickles with weights_only=False.
CUSTOM_STATE_PATTERN = re.compile(r"custom_checkpoint_\d+\.pkl")
# Options that may differ between a run and its resumption: where outputs, logs and the Hub upload go, how
# often checkpoints are written and how many kept, how data is read, activation checkpointing and the CPU
# allocator (the same weights, tests/test_training.py); none of them changes the weights. The data itself is
# compared by its fingerprint, so `dataset_dir` may name a moved copy.
RESUMABLE_OPTION_CHANGES = frozenset(
    {
        "output_dir", "resume_from_checkpoint", "logging_steps", "report_to", "push_to_hub", "hub_model_id",
        "hub_private", "num_workers", "cpu_threads", "eval_batch_size", "checkpoint_every_steps",
        "checkpoints_total_limit", "dataset_dir", "gradient_checkpointing", "keep_freed_cpu_memory",
    }
)  # fmt: skip


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged or would have to be unpickled; the message names the file."""


@dataclass
class TrainerState:
    """Where a run stands; saved as trainer_state.json in each checkpoint.

    `epoch` is the epoch in progress and `batches_in_epoch` the batches of it already trained on (an epoch-end
    checkpoint stores the next epoch and 0). `ema_num_averaged` is the weight EMA's update count (its
    `n_averaged`), kept beside its weights in ema.safetensors.
    """

    global_step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    best_metric: float | None = None
    best_epoch: int | None = None
    ema_num_averaged: int = 0


def read_trainer_state(checkpoint: Path) -> TrainerState:
    """The `TrainerState` of a checkpoint folder; a `CheckpointError` naming trainer_state.json when it is
    missing, not JSON or not a trainer state."""
    path = checkpoint / TRAINER_STATE_NAME
    try:
        values = json.loads(path.read_text())
        known = {field.name for field in fields(TrainerState)}
        if not isinstance(values, dict) or not set(values) <= known or "global_step" not in values:
            raise ValueError(f"expected a JSON object with global_step and fields of {sorted(known)}")
        return TrainerState(**values)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable trainer state ({error}).") from None


def list_checkpoints(checkpoint_root: Path) -> list[tuple[int, Path]]:
    """Checkpoints whose trainer_state.json reads as (global_step, path), oldest first.

    Folders without trainer_state.json (a save in progress) are left out; a trainer_state.json that does not read
    is left out with a warning naming it.
    """
    found = []
    if checkpoint_root.is_dir():
        for path in checkpoint_root.iterdir():
            if path.is_dir() and not path.name.startswith(".") and (path / TRAINER_STATE_NAME).is_file():
                try:
                    found.append((read_trainer_state(path).global_step, path))
                except CheckpointError as error:
                    logger.warning(f"Skipping checkpoint {path}: {error}")
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
    ema_model: AveragedModel | None = None,
    run_options: dict | None = None,
) -> Path:
    """`accelerator.save_state` into a temporary folder, then an atomic rename to checkpoints/checkpoint_<step>.

    Beside Accelerate's files go ema.safetensors (the weights of `ema_model`; its update count goes to
    `state.ema_num_averaged`), best_ema.safetensors (`best_weights`), run_options.json (`run_options`, which a
    resumption must match: `check_run_options`) and trainer_state.json, written last. A kill during the save
    leaves only a hidden temporary folder (ignored, and removed with any other leftover by the next save): the
    last complete checkpoint is never touched. Keeps the `total_limit` most recent checkpoints.
    """
    checkpoint_root = output_dir / "checkpoints"
    final = checkpoint_root / f"checkpoint_{state.global_step}"
    temporary = checkpoint_root / f".tmp_checkpoint_{state.global_step}"
    if accelerator.is_main_process:
        checkpoint_root.mkdir(parents=True, exist_ok=True)
        for leftover in checkpoint_root.glob(".tmp_checkpoint_*"):
            shutil.rmtree(leftover, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if ema_model is not None:
            state.ema_num_averaged = int(ema_model.n_averaged)
            save_file(_cpu_state_dict(ema_model.module), temporary / EMA_WEIGHTS_NAME)
        if best_weights is not None:
            save_file(best_weights, temporary / BEST_WEIGHTS_NAME)
        if run_options is not None:
            (temporary / RUN_OPTIONS_NAME).write_text(json.dumps(run_options, indent=2) + "\n")
        (temporary / TRAINER_STATE_NAME).write_text(json.dumps(asdict(state), indent=2) + "\n")
        if final.exists():  # the same step saved again (a resumed run): replace it
            shutil.rmtree(final)
        os.replace(temporary, final)
        for _, old in list_checkpoints(checkpoint_root)[:-total_limit]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def _cpu_state_dict(module) -> dict:
    return {name: tensor.detach().cpu().contiguous() for name, tensor in module.state_dict().items()}


def check_checkpoint(checkpoint: Path, process_index: int = 0) -> TrainerState:
    """Checks that every file of a checkpoint that resuming reads is present and loads safely, without loading
    anything into a model.

    trainer_state.json and the other JSON files must parse; each safetensors file must have a whole header and
    data (a truncated file fails); each file that `accelerator.load_state` reads with `torch.load` (.bin, .pkl,
    .pt) must load with `weights_only=True`, so that no pickled code can run. Accelerate's
    custom_checkpoint_<i>.pkl files, which it would unpickle without that restriction, are refused.

    Returns:
        The checkpoint's `TrainerState`.

    Raises:
        CheckpointError: naming the first missing, damaged or refused file.
    """
    state = read_trainer_state(checkpoint)
    required = (*ACCELERATE_STATE_NAMES, f"random_states_{process_index}.pkl", EMA_WEIGHTS_NAME)
    for name in required:
        if not (checkpoint / name).is_file():
            raise CheckpointError(f"{checkpoint / name}: missing, so {checkpoint} cannot be resumed.")
    for path in sorted(checkpoint.iterdir()):
        if CUSTOM_STATE_PATTERN.fullmatch(path.name):
            raise CheckpointError(
                f"{path}: a pickled Accelerate custom state, which loading would unpickle and so could run code; "
                "loco-hf keeps its own state in safetensors and JSON and does not resume such checkpoints."
            )
        try:
            if path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".safetensors":
                with safe_open(path, framework="pt"):
                    pass
            elif path.suffix in TORCH_LOAD_SUFFIXES:
                accelerate_load(path, map_location="cpu")
        except Exception as error:  # each reader raises its own types; all mean the file cannot be used
            raise CheckpointError(
                f"{path}: cannot be loaded safely ({type(error).__name__}: {error})."
            ) from None
    return state


def check_run_options(saved: dict, current: dict, checkpoint: Path) -> None:
    """Raises a ValueError listing each option in which `current` (the resuming run's) differs from `saved` (the
    checkpoint's run_options.json), except those of `RESUMABLE_OPTION_CHANGES`, and a different data fingerprint.

    Args:
        saved, current (`dict`): {"options": {name: value}, "data_fingerprint": str} as JSON would hold them.
        checkpoint (`Path`): named in the error.
    """
    names = sorted((set(saved["options"]) | set(current["options"])) - RESUMABLE_OPTION_CHANGES)
    differences = []
    for name in names:
        before, now = saved["options"].get(name, "unset"), current["options"].get(name, "unset")
        if before != now:
            differences.append(f"{name}: {before!r} in the checkpoint, {now!r} now")
    if saved["data_fingerprint"] != current["data_fingerprint"]:
        differences.append(
            f"data: fingerprint {saved['data_fingerprint']} in the checkpoint, {current['data_fingerprint']} now "
            "(other videos, annotations or feature dims)"
        )
    if differences:
        listed = "".join(f"\n  {line}" for line in differences)
        raise ValueError(
            f"Cannot resume {checkpoint} with other options than its run's (only "
            f"{', '.join(sorted(RESUMABLE_OPTION_CHANGES))} may change):{listed}\nResume with the run's options, "
            "or start a new run in another output_dir."
        )


def resolve_checkpoint(resume_from_checkpoint: str, output_dir: Path, process_index: int = 0) -> Path:
    """The checkpoint folder named by `resume_from_checkpoint`, checked by `check_checkpoint`.

    "latest" is the newest checkpoint of output_dir/checkpoints that passes the check; each newer one that does
    not is skipped with a warning naming its damaged file. A named folder that fails raises.

    Raises:
        CheckpointError: the named folder is not a usable checkpoint, or no checkpoint of output_dir is.
    """
    if resume_from_checkpoint == "latest":
        checkpoint_root = output_dir / "checkpoints"
        for _, path in reversed(list_checkpoints(checkpoint_root)):
            try:
                check_checkpoint(path, process_index)
                return path
            except CheckpointError as error:
                logger.warning(f"Skipping checkpoint {path}: {error}")
        raise CheckpointError(
            f"resume_from_checkpoint='latest' but {checkpoint_root} holds no usable checkpoint."
        )
    path = Path(resume_from_checkpoint)
    if not (path / TRAINER_STATE_NAME).is_file():
        raise CheckpointError(
            f"resume_from_checkpoint={str(path)!r} is not a checkpoint folder (no {TRAINER_STATE_NAME})."
        )
    check_checkpoint(path, process_index)
    return path


def load_checkpoint(
    accelerator: Accelerator, checkpoint: Path, ema_model: AveragedModel | None = None
) -> tuple[TrainerState, dict | None]:
    """Loads a checkpoint folder (checked by `check_checkpoint` first): `accelerator.load_state` (the model with
    its loss normaliser, optimizer, scheduler and random states), and the weight EMA into `ema_model`.

    Returns:
        The checkpoint's `TrainerState`, and its best EMA weights so far (a state dict) or `None`.
    """
    state = check_checkpoint(checkpoint, accelerator.process_index)
    accelerator.load_state(str(checkpoint))
    if ema_model is not None:
        ema_model.module.load_state_dict(
            load_file(checkpoint / EMA_WEIGHTS_NAME, device=str(accelerator.device))
        )
        ema_model.n_averaged.fill_(state.ema_num_averaged)
    best_weights = None
    if (checkpoint / BEST_WEIGHTS_NAME).is_file():
        best_weights = load_file(checkpoint / BEST_WEIGHTS_NAME)
    return state, best_weights


def read_run_options(checkpoint: Path) -> dict | None:
    """The run options of a checkpoint (run_options.json), or `None` when it has none."""
    path = checkpoint / RUN_OPTIONS_NAME
    return json.loads(path.read_text()) if path.is_file() else None
