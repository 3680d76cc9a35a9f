# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Batching of event-dataset rows for LoCo, with the UnAV reference's training-time crop.

`LocoDataCollator` turns rows of a dataset in "numpy" format (see `loco_hf.data.unav100.event_dataset_features`)
into padded model inputs through `LocoFeatureExtractor`, and the annotations (seconds) into model labels (feature
steps). In training it first crops every video as the reference does (`crop_video`), drawing from torch's global
random generator so that `accelerate`'s `save_state` / `load_state` capture it and a resumed run crops exactly as
the uninterrupted one. With `padding="longest"` a batch is padded only as far as its longest video needs, and
`LengthGroupedSampler` orders a training split so that a batch holds videos of similar length (transformers'
`group_by_length`): less padding, less work per step.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Sampler
from transformers.trainer_pt_utils import get_length_grouped_indices

from ..feature_extraction_loco import LocoFeatureExtractor

__all__ = ["LengthGroupedSampler", "LocoDataCollator", "crop_video", "video_lengths"]

PADDING_STRATEGIES = ("longest", "max_length")


def crop_video(
    length: int,
    segments: torch.Tensor,
    class_labels: torch.Tensor,
    max_seq_len: int,
    crop_ratio: Sequence[float] = (0.9, 1.0),
    truncation_threshold: float = 0.5,
    max_crop_trials: int = 200,
) -> tuple[int, int, torch.Tensor, torch.Tensor]:
    """
    Picks a random training window of a video, as the UnAV reference (ActionFormer's `truncate_feats`) does.

    A video of `length` steps up to `max_seq_len` gets a window of a random length in
    [max(round(crop_ratio[0] * length), 1), min(round(crop_ratio[1] * length), length)] (a full-length draw keeps the
    video and its labels unchanged); a longer video gets a window of `max_seq_len` steps. The window start is drawn
    up to `max_crop_trials` times until at least one event has `truncation_threshold` of its length inside; the last
    draw is used if none does (possibly with no event). Kept events are clipped to the window and shifted to its
    start. Random numbers come from torch's global generator (`torch.randint`).

    Args:
        length (`int`): steps of the video (both streams already truncated to their common length).
        segments (`torch.FloatTensor` of shape `(k, 2)`): events, in steps.
        class_labels (`torch.LongTensor` of shape `(k,)`): their classes.
        max_seq_len (`int`): the training length, in steps.
        crop_ratio (`Sequence[float]`, default (0.9, 1.0)): range of the window length, as a share of `length`.
        truncation_threshold (`float`, default 0.5): share of an event's length that must lie in the window.
        max_crop_trials (`int`, default 200): window starts tried.

    Returns:
        start (`int`), end (`int`): the window `[start, end)`, in steps; segments (`torch.FloatTensor` of shape
        `(k', 2)`, steps relative to `start`) and class_labels (`torch.LongTensor` of shape `(k',)`) of the kept
        events.
    """
    if length <= max_seq_len:
        shortest = max(round(crop_ratio[0] * length), 1)
        longest = min(round(crop_ratio[1] * length), length)
        window = int(torch.randint(shortest, longest + 1, (1,)).item())
        if window == length:
            return 0, length, segments, class_labels
    else:
        window = max_seq_len
    # All trials drawn at once, then the first that keeps an event: the same law as drawing them one by one.
    num_trials = max_crop_trials if len(segments) else 1
    starts = torch.randint(0, length - window + 1, (num_trials,)).to(segments.dtype)  # (N,)
    # (N, 1) against (1, k) -> (N, k)
    left = torch.maximum(segments[None, :, 0], starts[:, None])
    right = torch.minimum(segments[None, :, 1], starts[:, None] + window)
    inside = (right - left).clamp(min=0) / (segments[:, 1] - segments[:, 0])[None]
    keep = inside >= truncation_threshold  # (N, k)
    successful = keep.any(dim=1)
    trial = int(successful.nonzero()[0, 0]) if successful.any() else num_trials - 1
    start = int(starts[trial])
    kept = keep[trial]
    cropped = torch.stack([left[trial, kept], right[trial, kept]], dim=1) - start
    return start, start + window, cropped, class_labels[kept]


@dataclass
class LocoDataCollator:
    r"""
    Collates event-dataset rows into LoCo model inputs.

    Args:
        feature_extractor (`LocoFeatureExtractor`): pads, masks and converts times (its `max_seq_len` is the
            training length).
        training (`bool`, default False): crop each video (`crop_video`) to at most `max_seq_len` steps; otherwise
            keep whole videos.
        padding (`str`, default "max_length"): "max_length" pads as the UnAV reference does, to exactly
            `max_seq_len` in training and to max(`max_seq_len`, the longest rounded up to a multiple of the largest
            stride) otherwise; "longest" pads a batch only to its longest video rounded up, less work per step
            (training's default, `TrainingConfig.padding`). The crop, the labels and the model's outputs at valid
            steps do not depend on it, except for a converted UnAV checkpoint (`reference_padding`), whose outputs
            do and which refuses "longest".
        crop_ratio (`tuple[float, float]`, default (0.9, 1.0)), truncation_threshold (`float`, default 0.5),
            max_crop_trials (`int`, default 200): the training crop (UnAV's values).

    Call with a list of rows (dicts from a dataset in "numpy" format; torch tensors and lists work too):
    video_id, duration (seconds), visual_features `(T, visual_dim)`, audio_features `(T, audio_dim)`, segments
    `(k, 2)` (seconds) and labels `(k,)` (class ids or names). Returns a dict:

    - visual_features (`torch.FloatTensor` of shape `(B, T', visual_dim)`), audio_features (`(B, T', audio_dim)`),
      attention_mask (`torch.LongTensor` of shape `(B, T')`, 1 = valid step);
    - labels (`list[dict]`, length B): "class_labels" (`torch.LongTensor` of shape `(k,)`) and "segments"
      (`torch.FloatTensor` of shape `(k, 2)`, in steps of the cropped video in training);
    - video_ids (`list[str]`), durations (`torch.FloatTensor` of shape `(B,)`, seconds of the whole video).
    """

    feature_extractor: LocoFeatureExtractor
    training: bool = False
    padding: str = "max_length"
    crop_ratio: tuple[float, float] = (0.9, 1.0)
    truncation_threshold: float = 0.5
    max_crop_trials: int = 200

    def __post_init__(self):
        if self.padding not in PADDING_STRATEGIES:
            raise ValueError(
                f"LocoDataCollator.padding must be one of {PADDING_STRATEGIES}, got {self.padding!r}."
            )
        if len(self.crop_ratio) != 2 or not 0 < self.crop_ratio[0] <= self.crop_ratio[1] <= 1:
            raise ValueError(
                f"LocoDataCollator.crop_ratio must be (low, high) with 0 < low <= high <= 1, got {self.crop_ratio}."
            )
        if not 0 <= self.truncation_threshold <= 1:
            raise ValueError(
                f"LocoDataCollator.truncation_threshold must be in [0, 1], got {self.truncation_threshold}."
            )
        if self.max_crop_trials < 1:
            raise ValueError(f"LocoDataCollator.max_crop_trials must be >= 1, got {self.max_crop_trials}.")

    def __call__(self, rows: Sequence[dict]) -> dict:
        if not rows:
            raise ValueError("LocoDataCollator needs at least one row.")
        extractor = self.feature_extractor
        video_ids = [str(row["video_id"]) for row in rows]
        visual_list, audio_list, labels = [], [], []
        for row, video_id in zip(rows, video_ids, strict=True):
            visual, audio = np.asarray(row["visual_features"]), np.asarray(row["audio_features"])
            target = extractor.annotations_to_labels(
                row["segments"], row["labels"], duration=float(row["duration"]), video_id=video_id
            )
            if self.training:
                start, end, segments, class_labels = crop_video(
                    min(len(visual), len(audio)),
                    target["segments"],
                    target["class_labels"],
                    extractor.max_seq_len,
                    self.crop_ratio,
                    self.truncation_threshold,
                    self.max_crop_trials,
                )
                visual, audio = visual[start:end], audio[start:end]
                target = {"class_labels": class_labels, "segments": segments}
            visual_list.append(visual)
            audio_list.append(audio)
            labels.append(target)
        batch = extractor(
            visual_list,
            audio_list,
            return_tensors="pt",
            training=self.training,
            video_ids=video_ids,
            padding=self.padding,
        )
        return {
            "visual_features": batch["visual_features"],
            "audio_features": batch["audio_features"],
            "attention_mask": batch["attention_mask"],
            "labels": labels,
            "video_ids": video_ids,
            "durations": torch.tensor([float(row["duration"]) for row in rows], dtype=torch.float32),
        }


def video_lengths(dataset) -> list[int]:
    """
    Feature steps of each video of an event dataset, from its time-grid columns (no feature is read).

    T = floor((fps * duration - feature_window) / feature_stride) + 1, at least 1: the number of windows of
    `feature_window` frames, `feature_stride` apart, that fit in the video. A tolerance of 1e-4 steps absorbs the
    float32 rounding of the stored duration; a video whose extractor rounded differently at an exact window
    boundary may hold one step fewer, which does not matter for grouping by length.

    Args:
        dataset (`datasets.Dataset`): rows with duration (seconds), fps, feature_stride and feature_window (frames).

    Returns:
        `list[int]`: one length per row, in row order.
    """
    grid = dataset.select_columns(["duration", "fps", "feature_stride", "feature_window"]).with_format(
        "numpy"
    )[:]
    frames = grid["fps"].astype(np.float64) * grid["duration"]
    steps = np.floor((frames - grid["feature_window"]) / grid["feature_stride"] + 1e-4) + 1
    return np.maximum(steps, 1).astype(int).tolist()


class LengthGroupedSampler(Sampler[int]):
    r"""
    A random order of a training split in which each run of `batch_size` indices holds videos of similar length.

    Transformers' `get_length_grouped_indices`: shuffle, cut into mega-batches of up to 50 batches, sort each by
    length (the batch holding the longest video first). The order is a function of (`seed`, epoch): Accelerate calls
    `set_epoch` before each epoch, so a resumed run sees the same batches. Fewer padded steps per batch than a plain
    shuffle, at the price of batches less mixed in length.

    Args:
        lengths (`Sequence[int]`): steps of each video (`video_lengths`).
        batch_size (`int`): videos per batch.
        seed (`int`, default 0): seed of the order.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"LengthGroupedSampler.batch_size must be >= 1, got {batch_size}.")
        self.lengths = [int(length) for length in lengths]
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))
