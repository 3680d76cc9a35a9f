# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The data of a run: dataset splits, the model configuration that fits them, their ground truth and durations,
and the dataloaders (training crops seeded per batch by `SeededCollator`)."""

import hashlib
import json
import zlib
from collections.abc import Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers.utils import logging

from ..configuration_loco import LocoConfig
from ..data import LengthGroupedSampler, LocoDataCollator, load_event_dataset, synthetic_unav, video_lengths
from .config import TrainingConfig

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = [
    "SeededCollator",
    "build_dataloaders",
    "data_fingerprint",
    "dataset_model_fields",
    "durations_of",
    "ground_truth_of",
    "load_datasets",
    "model_config_for_dataset",
]


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


def data_fingerprint(dataset) -> str:
    """A SHA-256 (hex) of what makes a run's data: each split's name, features (dims and class names), video ids,
    durations and events. Feature values are not read, so it costs milliseconds even for UnAV-100.

    Args:
        dataset (`datasets.DatasetDict`): the run's splits.
    """
    digest = hashlib.sha256()
    for split in sorted(dataset):
        annotations = dataset[split].select_columns(["video_id", "duration", "segments", "labels"]).to_dict()
        digest.update(json.dumps([split, repr(dataset[split].features), annotations]).encode())
    return digest.hexdigest()


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


def build_dataloaders(
    dataset, feature_extractor, config: TrainingConfig, has_validation: bool, has_test: bool
) -> tuple[DataLoader, DataLoader | None, DataLoader | None]:
    """The train loader (shuffled or grouped by length, full batches, crops seeded by `SeededCollator`) and the
    validation and test loaders (`None` when the split is not evaluated; in order of length with padding
    "longest"), each with a private generator seeded from `config.seed`; batches padded as `config.padding` says."""
    train = dataset["train"].with_format("numpy")
    order = (
        {"sampler": LengthGroupedSampler(video_lengths(train), config.batch_size, config.seed)}
        if config.group_by_length
        else {"shuffle": True}
    )
    train_loader = DataLoader(
        train,
        batch_size=config.batch_size,
        **order,
        drop_last=True,  # as UnAV; every optimizer step sees a full batch
        collate_fn=SeededCollator(
            LocoDataCollator(feature_extractor, training=True, padding=config.padding), config.seed
        ),
        num_workers=config.num_workers,
        # A private generator: creating a loader iterator then draws its base seed from it, not from the global
        # RNG that the crops and drop-path use, so a resumed run sees the same random stream.
        generator=torch.Generator().manual_seed(config.seed),
    )

    def split_loader(split):
        return evaluation_loader(
            dataset[split],
            feature_extractor,
            config.eval_batch_size,
            config.padding,
            config.num_workers,
            config.seed,
        )

    validation_loader = split_loader("validation") if has_validation else None
    test_loader = split_loader("test") if has_test else None
    return train_loader, validation_loader, test_loader


def evaluation_loader(
    split, feature_extractor, batch_size: int, padding: str, num_workers: int = 0, seed: int = 0
) -> DataLoader:
    """A loader over whole videos of a dataset split for evaluation, padded as `padding` says; with "longest" the
    videos come in order of length, so a batch holds similar lengths and little padding (the metrics do not depend
    on the order). `seed` seeds the loader's private generator."""
    rows = split.with_format("numpy")
    by_length = None
    if padding == "longest":
        lengths = video_lengths(rows)
        by_length = sorted(range(len(lengths)), key=lengths.__getitem__)
    return DataLoader(
        rows,
        batch_size=batch_size,
        sampler=by_length,
        collate_fn=LocoDataCollator(feature_extractor, training=False, padding=padding),
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )
