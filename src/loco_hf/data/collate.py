# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Batching of event-dataset rows for LoCo, with the UnAV reference's training-time crop.

`LocoDataCollator` turns rows of a dataset in "numpy" format (see `loco_hf.data.unav100.event_dataset_features`)
into padded model inputs through `LocoFeatureExtractor`, and the annotations (seconds) into model labels (feature
steps). In training it first crops every video as the reference does (`crop_video`), drawing from torch's global
random generator so that `accelerate`'s `save_state` / `load_state` capture it and a resumed run crops exactly as
the uninterrupted one.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..feature_extraction_loco import LocoFeatureExtractor

__all__ = ["LocoDataCollator", "crop_video"]


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
        training (`bool`, default False): crop each video (`crop_video`) and pad to exactly `max_seq_len`; otherwise
            keep whole videos and pad to max(`max_seq_len`, the longest rounded up to the largest stride).
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
    crop_ratio: tuple[float, float] = (0.9, 1.0)
    truncation_threshold: float = 0.5
    max_crop_trials: int = 200

    def __post_init__(self):
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
            visual_list, audio_list, return_tensors="pt", training=self.training, video_ids=video_ids
        )
        return {
            "visual_features": batch["visual_features"],
            "audio_features": batch["audio_features"],
            "attention_mask": batch["attention_mask"],
            "labels": labels,
            "video_ids": video_ids,
            "durations": torch.tensor([float(row["duration"]) for row in rows], dtype=torch.float32),
        }
