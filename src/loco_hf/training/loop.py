# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The training loop: optimizer groups, one step (`train_step`), one evaluation pass (`evaluate_model`), and
`train(TrainingConfig)`, which reads as the recipe: set up, loop, select, report.

    accelerate launch scripts/train.py                       # small preset on synthetic data, a few CPU minutes
    accelerate launch scripts/train.py --preset unav100-i3d-vggish --dataset_dir path/to/unav100

Set up: seed; data (the UnAV-100 release or a prepared dataset through `loco_hf.data.load_event_dataset`, else
synthetic UnAV-style data from a data seed of its own); model (a preset, its overrides, and the dims, classes and
time grid of the data) and its weight EMA; AdamW with weight decay on conv and linear weights only; a transformers
cosine schedule stepped per iteration; one `accelerator.prepare`. Loop: `train_step`s (accumulate, autocast, clip
1.0, step, schedule, weight EMA), `evaluate_model` on validation through `gather_for_metrics`, checkpoints written
to a temporary folder then renamed into place. Select: the EMA weights of the best validation epoch. Report: test
metrics, predictions, the `from_pretrained` folder with its feature extractor, pipeline code and model card
(`reporting.write_run_outputs`).

Departures from the UnAV recipe (`docs/training.md`): the checkpoint is selected by the validation mAP of the EMA
weights (UnAV selects on the raw weights, then reports the EMA weights of that epoch), the training crops are
seeded per batch (`SeededCollator`), and the `small` preset's recipe is sized for a CPU (see `RECIPES`).
"""

import json
import math
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.utils import ProjectConfiguration, set_seed
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm
from transformers import get_scheduler
from transformers.utils import logging

from ..configuration_loco import LocoConfig
from ..feature_extraction_loco import LocoFeatureExtractor
from ..modeling_loco import LocoForEventLocalization
from .checkpointing import (
    TrainerState,
    check_run_options,
    load_checkpoint,
    read_run_options,
    resolve_checkpoint,
    save_checkpoint,
)
from .config import TrainingConfig
from .cpu_allocator import keep_freed_memory
from .data import (
    build_dataloaders,
    data_fingerprint,
    ground_truth_of,
    load_datasets,
    model_config_for_dataset,
)
from .metrics import compute_metrics, flat_metrics
from .reporting import create_hub_repo, report_to_trackers, tracker_value, write_run_outputs

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = [
    "evaluate_model",
    "launch_lost_processes",
    "model_inputs",
    "parameter_groups",
    "train",
    "train_step",
]


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

    Each process runs its batches through `feature_extractor.forward_in_windows` (windows of `max_seq_len` steps for
    longer videos) and decodes them with `post_process_event_localization`; `accelerator.gather_for_metrics`
    collects them and drops the samples Accelerate repeated to even out the last batches.

    Returns:
        On every process, {video_id: {"segments" (k, 2) seconds, "scores" (k,), "labels" (k,)}} as NumPy arrays.
    """
    model.eval()
    predictions = {}
    progress = tqdm(dataloader, desc=description, leave=False, disable=not accelerator.is_local_main_process)
    for batch in progress:
        with accelerator.autocast():
            # Videos longer than max_seq_len run as windows of max_seq_len steps, as in the pipeline.
            outputs = feature_extractor.forward_in_windows(model, batch)
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


def train(config: TrainingConfig) -> dict[str, float]:
    """Trains LoCo as `config` says and writes the model, its card, metrics and logs to `config.output_dir`.

    Returns:
        On the main process, the final metrics: "test/mAP@0.1" ... "test/mAP@0.9" and "test/average_mAP" (EMA
        weights selected on validation), "validation/average_mAP" of those weights, "best_epoch" and
        "global_step". An empty dict on the other processes.
    """
    # Set up.
    output_dir = Path(config.output_dir)
    accelerator = build_accelerator(config, output_dir)
    if config.push_to_hub and accelerator.is_main_process:  # a bad token fails now, not after training
        create_hub_repo(config.hub_model_id, private=config.hub_private)
    # The synthetic data has its own seed (data_seed), so every training seed sees the same videos.
    set_seed(config.seed)
    dataset, model_config = load_training_data(config, accelerator)
    feature_extractor = LocoFeatureExtractor.from_model_config(model_config)
    has_validation = "validation" in dataset and config.eval_every_epochs > 0
    train_loader, validation_loader, test_loader = build_dataloaders(
        dataset, feature_extractor, config, has_validation, "test" in dataset
    )
    # Model and weight EMA (UnAV averages the whole state dict, buffers included).
    model = LocoForEventLocalization(model_config)
    ema_model = AveragedModel(
        model,
        device=accelerator.device,
        multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay),
        use_buffers=True,
    )
    if config.gradient_checkpointing:
        model.activation_checkpointing_enable()
    if config.torch_compile:
        # The network, in place (class and state-dict keys unchanged), with static shapes: one graph per padded
        # length. The loss stays eager: its labels change shape with every batch's event counts.
        model.base_model.compile(dynamic=False)
    optimizer = torch.optim.AdamW(parameter_groups(model, config.weight_decay), lr=config.learning_rate)
    scheduler, total_updates = build_scheduler(
        optimizer, len(train_loader), config, accelerator.num_processes
    )
    model, optimizer, scheduler, train_loader, validation_loader, test_loader = accelerator.prepare(
        model, optimizer, scheduler, train_loader, validation_loader, test_loader
    )
    options = {
        **asdict(config),
        "mixed_precision": accelerator.mixed_precision,
        "num_processes": accelerator.num_processes,
    }
    # What a resumption must match, as JSON holds it (the checkpoints store it).
    run_options = json.loads(json.dumps({"options": options, "data_fingerprint": data_fingerprint(dataset)}))
    state, best_weights = resume_or_start(config, accelerator, output_dir, ema_model, run_options)
    run_config = {**options, "total_updates": total_updates}
    accelerator.init_trackers(
        "train", config={key: tracker_value(value) for key, value in run_config.items()}
    )
    if accelerator.is_main_process:
        logger.info(
            f"Training {config.preset} for {config.num_epochs} epochs ({total_updates} steps) on "
            f"{len(dataset['train'])} videos, {accelerator.num_processes} process(es)."
        )

    # Loop.
    validation_truth = ground_truth_of(dataset["validation"]) if has_validation else None
    progress = tqdm(
        total=total_updates,
        initial=state.global_step,
        desc="training",
        disable=not accelerator.is_local_main_process,
    )
    running = RunningLosses()

    def checkpoint():
        save_checkpoint(accelerator, output_dir, state, best_weights, config.checkpoints_total_limit, ema_model,
                        run_options)  # fmt: skip

    for epoch in range(state.epoch, config.num_epochs):
        train_epoch(model, train_loader, optimizer, scheduler, accelerator, ema_model, config, state, epoch,
                    running, progress, checkpoint)  # fmt: skip
        last_epoch = epoch == config.num_epochs - 1
        if has_validation and ((epoch + 1) % config.eval_every_epochs == 0 or last_epoch):
            validation_map = validate(
                ema_model.module,
                validation_loader,
                validation_truth,
                feature_extractor,
                accelerator,
                state.global_step,
            )
            if accelerator.is_main_process:
                logger.info(f"epoch {epoch}: validation average mAP {100 * validation_map:.2f}")
            if state.best_metric is None or validation_map > state.best_metric:
                state.best_metric, state.best_epoch = validation_map, epoch
                best_weights = {
                    name: tensor.detach().cpu().clone()
                    for name, tensor in ema_model.module.state_dict().items()
                }
        state.epoch, state.batches_in_epoch = epoch + 1, 0
        if config.checkpoint_every_steps is None:
            checkpoint()
    progress.close()

    # Select: the EMA weights of the best validation epoch (else the last ones).
    final_model = ema_model.module
    if best_weights is not None:
        final_model.load_state_dict(best_weights)

    # Report: test metrics, predictions, the from_pretrained folder, its card and the Hub.
    summary = {"global_step": state.global_step, "best_epoch": state.best_epoch}
    if state.best_metric is not None:
        summary["validation/average_mAP"] = state.best_metric
    test_predictions = None
    if test_loader is not None:
        test_predictions = evaluate_model(final_model, test_loader, feature_extractor, accelerator, "test")
    if accelerator.is_main_process:
        summary = write_run_outputs(
            config,
            run_config,
            dataset,
            final_model,
            feature_extractor,
            test_predictions,
            summary,
            accelerator,
        )
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return summary if accelerator.is_main_process else {}


def launch_lost_processes(environ: Mapping[str, str], num_processes: int) -> bool:
    """Whether `accelerate launch` asked for several processes but this run got one.

    `accelerate launch --cpu --num_processes N` (N > 1) starts a single process without a word: it sets the
    rendezvous address (MASTER_ADDR) that only a multi-process launch needs, but no WORLD_SIZE.

    Args:
        environ (`Mapping[str, str]`): the process environment (`os.environ`).
        num_processes (`int`): the processes Accelerate sees (`accelerator.num_processes`).
    """
    launched_by_accelerate = "ACCELERATE_MIXED_PRECISION" in environ
    return (
        launched_by_accelerate
        and num_processes == 1
        and "MASTER_ADDR" in environ
        and "WORLD_SIZE" not in environ
    )


def build_accelerator(config: TrainingConfig, output_dir: Path) -> Accelerator:
    """The run's `Accelerator` (trackers of `config.report_to` plus the JSONL log, seedable sampler), with the
    torch threads of a CPU run set (and `keep_freed_cpu_memory` applied), and a warning when a multi-process launch came up as one process."""
    accelerator = Accelerator(
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        mixed_precision=config.mixed_precision,
        log_with=report_to_trackers(config.report_to, output_dir / "logs"),
        project_config=ProjectConfiguration(
            project_dir=str(output_dir), logging_dir=str(output_dir / "logs")
        ),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=config.seed),
    )
    if launch_lost_processes(os.environ, accelerator.num_processes):
        logger.warning(
            "accelerate launch asked for several processes, but this run has one: `accelerate launch --cpu` starts "
            "a single process whatever --num_processes says. For N CPU processes run "
            "`ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N scripts/train.py` "
            "(docs/training.md)."
        )
    if accelerator.device.type == "cpu":
        torch.set_num_threads(
            config.cpu_threads or max(1, (os.cpu_count() or 1) // accelerator.state.num_processes)
        )
        if config.keep_freed_cpu_memory:
            keep_freed_memory()
    return accelerator


def load_training_data(config: TrainingConfig, accelerator: Accelerator):
    """The dataset splits (loaded on the main process first) and the model configuration that fits them.

    Returns:
        `(datasets.DatasetDict, LocoConfig)`.
    """
    overrides = config.model_override_dict()
    base_config = LocoConfig.from_preset(config.preset, **overrides)
    with accelerator.main_process_first():
        dataset = load_datasets(
            config.dataset_dir, config.num_videos, config.data_seed, base_config, config.synthetic_clean
        )
    model_config = model_config_for_dataset(config.preset, overrides, dataset["train"])
    needed = config.batch_size * accelerator.num_processes
    if len(dataset["train"]) < needed:
        raise ValueError(
            f"The train split has {len(dataset['train'])} videos, fewer than batch_size x processes = {needed}."
        )
    return dataset, model_config


def build_scheduler(optimizer, num_train_batches: int, config: TrainingConfig, num_processes: int):
    """The transformers cosine schedule with linear warm-up, stepped per iteration.

    With drop_last, each process runs (batches // processes) batches per epoch, and Accelerate steps the scheduler
    once per process at each optimizer step, hence the step counts multiplied by the processes.

    Returns:
        `(scheduler, total_updates)`: the scheduler and the optimizer steps of the whole run.
    """
    batches_per_process = num_train_batches // num_processes
    updates_per_epoch = math.ceil(batches_per_process / config.gradient_accumulation_steps)
    total_updates = updates_per_epoch * config.num_epochs
    scheduler = get_scheduler(
        "cosine",
        optimizer,
        num_warmup_steps=round(updates_per_epoch * config.warmup_epochs) * num_processes,
        num_training_steps=total_updates * num_processes,
    )
    return scheduler, total_updates


def resume_or_start(
    config: TrainingConfig,
    accelerator: Accelerator,
    output_dir: Path,
    ema_model: AveragedModel,
    run_options: dict,
):
    """Loads the checkpoint of `config.resume_from_checkpoint` (the newest usable one for "latest") into the
    prepared objects and `ema_model`, once its run options match `run_options`; or starts afresh (removing the
    checkpoints folder of an earlier run in `output_dir`).

    Returns:
        `(TrainerState, best EMA weights so far or None)`.
    """
    if config.resume_from_checkpoint:
        checkpoint = resolve_checkpoint(config.resume_from_checkpoint, output_dir, accelerator.process_index)
        saved_options = read_run_options(checkpoint)
        if saved_options is None:
            logger.warning(f"{checkpoint} does not record its run's options: they cannot be compared.")
        else:
            check_run_options(saved_options, run_options, checkpoint)
        state, best_weights = load_checkpoint(accelerator, checkpoint, ema_model)
        if accelerator.is_main_process:
            logger.info(f"Resumed from {checkpoint} at step {state.global_step}.")
        return state, best_weights
    checkpoint_root = output_dir / "checkpoints"
    if accelerator.is_main_process and checkpoint_root.is_dir() and any(checkpoint_root.iterdir()):
        logger.warning(f"Starting a new run: the checkpoints in {checkpoint_root} will be replaced.")
        shutil.rmtree(checkpoint_root)
    accelerator.wait_for_everyone()
    return TrainerState(), None


class RunningLosses:
    """Sums of the detached step losses since the last log line (kept across epochs)."""

    def __init__(self):
        self.sums, self.count = {}, 0

    def add(self, losses: Mapping[str, torch.Tensor]):
        for name, value in losses.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.count += 1

    def pop_means(self, accelerator: Accelerator) -> dict[str, float]:
        """The means over the steps and processes since the last call, then a reset."""
        means = {
            name: accelerator.reduce(value, "mean").item() / self.count for name, value in self.sums.items()
        }
        self.sums, self.count = {}, 0
        return means


def train_epoch(
    model, train_loader, optimizer, scheduler, accelerator, ema_model, config, state, epoch, running, progress,
    checkpoint,
):  # fmt: skip
    """One epoch of `train_step`s from where `state` stands: log lines every `logging_steps` optimizer steps and
    `checkpoint()` every `checkpoint_every_steps`. Updates `state` (global step, batches of the epoch) in place."""
    model.train()
    train_loader.set_epoch(epoch)
    train_loader.collate_fn.epoch = epoch
    batches = train_loader
    if state.batches_in_epoch:
        # Resumed mid-epoch: the epoch's data order is a function of (seed, epoch), so skip what was done.
        batches = accelerator.skip_first_batches(train_loader, state.batches_in_epoch)
    for batch in batches:
        losses = train_step(model, batch, optimizer, scheduler, accelerator, ema_model, config.max_grad_norm)
        state.batches_in_epoch += 1
        grad_norm = losses.pop("grad_norm", None)
        running.add(losses)
        if not accelerator.sync_gradients:
            continue
        state.global_step += 1
        progress.update(1)
        if state.global_step % config.logging_steps == 0:
            logs = running.pop_means(accelerator)
            logs.update(lr=scheduler.get_last_lr()[0], epoch=epoch)
            if grad_norm is not None:
                logs["grad_norm"] = grad_norm.item()
            accelerator.log(logs, step=state.global_step)
            progress.set_postfix(loss=f"{logs['loss']:.3f}")
        if config.checkpoint_every_steps and state.global_step % config.checkpoint_every_steps == 0:
            checkpoint()


def validate(model, loader, truth: Mapping, feature_extractor, accelerator: Accelerator, step: int) -> float:
    """The validation average mAP of `model` on the prepared `loader` with ground truth `truth`: computed on the
    main process, logged there at optimizer step `step`, and returned on every process."""
    predictions = evaluate_model(model, loader, feature_extractor, accelerator)
    validation_map = None
    if accelerator.is_main_process:
        metrics = compute_metrics(predictions, truth, accelerator.unwrap_model(model).config.id2label)
        accelerator.log(flat_metrics(metrics, "validation"), step=step)
        validation_map = metrics["average_mAP"]
    return _broadcast(accelerator, validation_map)


def _broadcast(accelerator: Accelerator, value):
    """The main process's Python value, on every process."""
    if accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value])[0]
