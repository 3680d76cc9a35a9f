# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Checkpoints of a run: `accelerator.save_state` written to a temporary folder then renamed into place, with a
`TrainerState` (where the run stands) and the best EMA weights so far; listing, resolving, loading and rotation.
Checkpoints are ordered by the optimizer steps recorded in them, never by folder times."""

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from accelerate import Accelerator
from safetensors.torch import load_file, save_file

__all__ = [
    "TrainerState",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "resolve_checkpoint",
    "save_checkpoint",
]

TRAINER_STATE_NAME = "trainer_state.json"
BEST_WEIGHTS_NAME = "best_ema.safetensors"


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


def load_checkpoint(accelerator: Accelerator, checkpoint: Path) -> tuple[TrainerState, dict | None]:
    """`accelerator.load_state` of a checkpoint folder (the model with its loss normaliser, optimizer, scheduler,
    RNG states and the EMA).

    Returns:
        The checkpoint's `TrainerState`, and its best EMA weights so far (a state dict) or `None`.
    """
    accelerator.load_state(str(checkpoint))
    state = TrainerState(**json.loads((checkpoint / TRAINER_STATE_NAME).read_text()))
    best_weights = None
    if (checkpoint / BEST_WEIGHTS_NAME).is_file():
        best_weights = load_file(checkpoint / BEST_WEIGHTS_NAME)
    return state, best_weights
