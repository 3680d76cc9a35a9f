# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Timelines of UnAV-style videos: UnAV-100's annotation statistics as tables, and a sampler that draws from them.

A timeline is a video's duration and its labelled events (segments in seconds and class ids). `sample_timeline`
draws one whose duration, number of events, number of distinct classes, event lengths, starts at 0 s and overlaps
follow UnAV-100 (Geng et al., CVPR 2023; the tables below were computed from `unav100_annotations.json`).
`class_frequencies` gives a class set of any size UnAV-100's class imbalance, and `read_timelines` reads the real
timelines of an annotation file instead.
"""

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .unav100 import load_unav100_annotations

__all__ = [
    "EVENT_LENGTH_QUANTILES",
    "MIN_EVENT_SECONDS",
    "Timeline",
    "class_frequencies",
    "read_timelines",
    "sample_quantiles",
    "sample_timeline",
]

# ----------------------------------------------------------------------------------------------------------------
# UnAV-100 tables, computed from unav100_annotations.json (10,790 videos, 30,059 events).
# ----------------------------------------------------------------------------------------------------------------

# Video durations in seconds: number of videos in each 5 s bin from 10 s to 60 s.
_DURATION_BIN_EDGES = np.arange(10.0, 60.1, 5.0)
_DURATION_BIN_COUNTS = np.array([254, 269, 395, 417, 644, 1359, 2624, 2538, 1363, 927], dtype=np.float64)

# Events per video (1, 2, ..., 8, 9 or more), for videos of 10-20, 20-30, 30-40, 40-50 and 50-60 s.
_EVENTS_PER_VIDEO_BY_DURATION = np.array(
    [
        [326, 126, 47, 15, 3, 4, 1, 0, 1],
        [400, 188, 100, 55, 39, 11, 7, 6, 6],
        [868, 415, 277, 173, 111, 63, 32, 21, 43],
        [2046, 1011, 649, 475, 328, 213, 139, 103, 198],
        [809, 377, 321, 227, 147, 122, 75, 64, 148],
    ],
    dtype=np.float64,
)
# Videos with 9, 10, ..., 23 events (the tail of the table above).
_EVENTS_PER_VIDEO_TAIL = np.array([120, 88, 56, 36, 36, 11, 18, 10, 4, 5, 4, 2, 2, 2, 2], dtype=np.float64)

# Distinct classes per video (1, 2, 3, 4 or more) given its number of events (1, ..., 8, 9 or more).
_DISTINCT_CLASSES_BY_EVENTS = np.array(
    [
        [1, 0, 0, 0],
        [974, 1143, 0, 0],
        [479, 683, 232, 0],
        [264, 431, 214, 36],
        [134, 261, 174, 59],
        [64, 159, 124, 66],
        [29, 97, 71, 57],
        [14, 74, 59, 47],
        [17, 66, 114, 199],
    ],
    dtype=np.float64,
)
# Videos with 4, 5, 6, 7, 8 distinct classes.
_DISTINCT_CLASSES_TAIL = np.array([319, 108, 23, 13, 1], dtype=np.float64)

# Quantiles (0, 5, ..., 100 %) of the length, relative to the video duration, of events whose class occurs once
# in the video, for videos with 1, 2 and 3 or more distinct classes: a lone event covers the whole video more
# often than not, an event among three classes rarely does.
_SINGLE_EVENT_RELATIVE_LENGTH_QUANTILES = np.array([
    [0.018, 0.289, 0.514, 0.659, 0.769, 0.838, 0.897, 0.941, 0.968, 0.994, 0.996, 0.997, 0.998, 0.998, 0.998,
     0.999, 0.999, 0.999, 0.999, 1.0, 1.0],
    [0.01, 0.036, 0.056, 0.088, 0.132, 0.172, 0.227, 0.295, 0.386, 0.483, 0.577, 0.685, 0.797, 0.886, 0.974,
     0.996, 0.998, 0.998, 0.999, 1.0, 1.0],
    [0.007, 0.021, 0.027, 0.034, 0.043, 0.053, 0.067, 0.081, 0.103, 0.133, 0.172, 0.225, 0.281, 0.36, 0.458,
     0.591, 0.782, 0.932, 0.997, 0.999, 1.0],
])  # fmt: skip
# ... and in seconds, of events whose class occurs several times in the video (median 3.9 s against 28 s), as
# (cumulative probability, length) knots: the extra knots hold the 10 % of lengths of exactly 1.0 s.
_REPEATED_EVENT_LENGTH_QUANTILES = np.array([
    [0.0, 0.025, 0.05, 0.0574, 0.1625, 0.175, 0.2, 0.225, 0.25, 0.275, 0.3, 0.325, 0.35, 0.375, 0.4, 0.425, 0.45,
     0.475, 0.5, 0.525, 0.55, 0.575, 0.6, 0.625, 0.65, 0.675, 0.7, 0.725, 0.75, 0.775, 0.8, 0.825, 0.85, 0.875,
     0.9, 0.925, 0.95, 0.975, 1.0],
    [0.21, 0.75, 0.96, 1.0, 1.0, 1.11, 1.32, 1.48, 1.64, 1.82, 1.98, 2.15, 2.35, 2.56, 2.78, 3.01, 3.28, 3.58, 3.9,
     4.22, 4.59, 5.0, 5.44, 5.91, 6.44, 7.08, 7.76, 8.55, 9.43, 10.35, 11.44, 12.79, 14.23, 16.0, 18.18, 21.2,
     24.99, 30.81, 56.99],
])  # fmt: skip
# Knots of all event lengths in seconds (distractor lengths are drawn from it).
EVENT_LENGTH_QUANTILES = np.array([
    [0.0, 0.025, 0.0421, 0.119, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.275, 0.3, 0.325, 0.35, 0.375, 0.4, 0.425,
     0.45, 0.475, 0.5, 0.525, 0.55, 0.575, 0.6, 0.625, 0.65, 0.675, 0.7, 0.725, 0.75, 0.775, 0.8, 0.825, 0.85,
     0.875, 0.9, 0.925, 0.95, 0.975, 1.0],
    [0.21, 0.82, 1.0, 1.0, 1.06, 1.33, 1.54, 1.76, 1.96, 2.19, 2.45, 2.74, 3.04, 3.38, 3.79, 4.21, 4.68, 5.19,
     5.78, 6.44, 7.23, 8.13, 9.11, 10.18, 11.41, 12.93, 14.5, 16.43, 18.46, 21.14, 24.14, 27.8, 31.85, 35.91,
     38.96, 41.92, 43.97, 46.92, 50.12, 60.0],
])  # fmt: skip
# Probability that the first instance of a class starts at 0 s (annotators often start at the first frame), in
# UnAV-100: 64.5 % of lone events, 41.5 % of the classes of single-class videos with several instances, 30 % of
# the classes of videos with several classes.
_START_AT_ZERO_PROBABILITY_LONE_EVENT = 0.645
_START_AT_ZERO_PROBABILITY_SINGLE_CLASS = 0.415
_START_AT_ZERO_PROBABILITY_MULTI_CLASS = 0.30
# Shortest event (UnAV-100: 0.209 s), draws per placement, and the share of classes placed away from the events
# already in the video (tuned so that overlap rates match UnAV-100's).
MIN_EVENT_SECONDS = 0.2
_PLACEMENT_TRIALS = 10
_AVOID_OVERLAP_PROBABILITY = 0.9
_MIN_FREE_SHARE = 0.3

# Events per class, most frequent first (class ids of UnAV-100 follow this order closely). A synthetic class set
# of any size takes its frequencies from this rank-frequency curve (see `class_frequencies`).
_UNAV100_CLASS_EVENT_COUNTS = np.array([
    2515, 1519, 725, 716, 710, 685, 618, 617, 599, 549, 527, 442, 441, 439, 434, 412, 410, 391, 352, 349, 347,
    330, 329, 325, 325, 314, 307, 304, 300, 298, 296, 276, 274, 270, 268, 268, 267, 263, 262, 255, 253, 248, 244,
    239, 236, 235, 231, 226, 224, 224, 220, 220, 217, 215, 207, 206, 205, 203, 203, 203, 202, 200, 196, 195, 194,
    192, 188, 186, 182, 177, 176, 173, 173, 170, 170, 169, 167, 163, 160, 153, 152, 152, 144, 140, 139, 137, 137,
    136, 136, 135, 133, 132, 132, 132, 130, 129, 128, 124, 122, 116,
], dtype=np.float64)  # fmt: skip


@functools.lru_cache(maxsize=8)
def class_frequencies(num_classes: int) -> np.ndarray:
    """Event share of each class: UnAV-100's rank-frequency curve cut into `num_classes` equal rank intervals."""
    cumulative = np.concatenate([[0.0], np.cumsum(_UNAV100_CLASS_EVENT_COUNTS)])
    cumulative /= cumulative[-1]
    ranks = np.linspace(0.0, 1.0, len(cumulative))
    edges = np.interp(np.linspace(0.0, 1.0, num_classes + 1), ranks, cumulative)
    return np.diff(edges)


def sample_quantiles(rng: np.random.Generator, quantiles: np.ndarray, size: int) -> np.ndarray:
    """
    Draws `size` values by inverse-CDF sampling of a quantile table, linear between knots: either evenly spaced
    quantiles `(n,)` or `(2, n)` knots (cumulative probabilities, values).
    """
    levels, values = quantiles if quantiles.ndim == 2 else (np.linspace(0.0, 1.0, len(quantiles)), quantiles)
    return np.interp(rng.random(size), levels, values)


def _union_length(segments: np.ndarray) -> float:
    """Total time covered by the union of `segments` (`(n, 2)`, seconds)."""
    covered, reach = 0.0, -math.inf
    for start, end in segments[np.argsort(segments[:, 0])]:
        covered += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return covered


def sample_timeline(
    rng: np.random.Generator, class_probabilities: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """
    Draws a video duration and its labelled events with UnAV-100's statistics.

    Instances of one class never overlap each other. Most classes after the first avoid the events already placed
    and the rest are placed independently, so events of different classes overlap about as often as in UnAV-100.

    Returns:
        duration (`float`, seconds), segments (`np.ndarray` of shape `(k, 2)`, seconds, sorted by start),
        labels (`np.ndarray` of shape `(k,)`, class ids).
    """
    bin_index = rng.choice(len(_DURATION_BIN_COUNTS), p=_DURATION_BIN_COUNTS / _DURATION_BIN_COUNTS.sum())
    duration = round(
        float(rng.uniform(_DURATION_BIN_EDGES[bin_index], _DURATION_BIN_EDGES[bin_index + 1])), 2
    )

    events_row = _EVENTS_PER_VIDEO_BY_DURATION[min(int((duration - 10.0) // 10.0), 4)]
    num_events = int(rng.choice(9, p=events_row / events_row.sum())) + 1
    if num_events == 9:
        num_events = 9 + int(
            rng.choice(len(_EVENTS_PER_VIDEO_TAIL), p=_EVENTS_PER_VIDEO_TAIL / _EVENTS_PER_VIDEO_TAIL.sum())
        )

    classes_row = _DISTINCT_CLASSES_BY_EVENTS[min(num_events, 9) - 1]
    num_distinct = int(rng.choice(4, p=classes_row / classes_row.sum())) + 1
    if num_distinct == 4:
        num_distinct = 4 + int(
            rng.choice(len(_DISTINCT_CLASSES_TAIL), p=_DISTINCT_CLASSES_TAIL / _DISTINCT_CLASSES_TAIL.sum())
        )
    num_distinct = min(num_distinct, num_events, len(class_probabilities))
    classes = rng.choice(len(class_probabilities), size=num_distinct, replace=False, p=class_probabilities)
    # Every class gets one instance, the rest are spread uniformly over the classes.
    instances = np.ones(num_distinct, dtype=np.int64) + rng.multinomial(
        num_events - num_distinct, np.full(num_distinct, 1.0 / num_distinct)
    )

    segments, labels = [], []
    for class_id, count in sorted(zip(classes, instances, strict=True), key=lambda pair: -pair[1]):
        if count == 1:
            table = _SINGLE_EVENT_RELATIVE_LENGTH_QUANTILES[min(num_distinct, 3) - 1]
            lengths = sample_quantiles(rng, table, 1) * duration
        else:
            # Instances of one class must fit side by side: shrink them together when they do not.
            lengths = sample_quantiles(rng, _REPEATED_EVENT_LENGTH_QUANTILES, count)
            lengths *= min(1.0, 0.95 * duration / lengths.sum())
        lengths = np.clip(lengths, MIN_EVENT_SECONDS, duration)
        if num_distinct > 1:
            start_at_zero = _START_AT_ZERO_PROBABILITY_MULTI_CLASS
        elif count == 1:
            start_at_zero = _START_AT_ZERO_PROBABILITY_LONE_EVENT
        else:
            start_at_zero = _START_AT_ZERO_PROBABILITY_SINGLE_CLASS
        first_at_zero = rng.random() < start_at_zero
        # Some classes are placed independently of the others; the rest avoid the events already placed: they
        # shrink to fit the free time when there is enough of it, then take the best of a few placements. This
        # brings the overlap rates down to UnAV-100's.
        placed = np.concatenate(segments) if segments else np.zeros((0, 2))
        trials = 1
        if segments and rng.random() < _AVOID_OVERLAP_PROBABILITY:
            trials = _PLACEMENT_TRIALS
            free = duration - _union_length(placed)
            if count == 1 and free >= _MIN_FREE_SHARE * duration:
                lengths *= min(1.0, 0.9 * free / lengths.sum())
        best, best_overlap = None, math.inf
        for _ in range(trials):
            gaps = rng.dirichlet(np.ones(count + 1)) * (duration - lengths.sum())
            if first_at_zero:
                gaps[1:] += gaps[0] / count
                gaps[0] = 0.0
            starts = np.cumsum(gaps[:-1]) + np.concatenate([[0.0], np.cumsum(lengths[:-1])])
            candidate = np.stack([starts, np.minimum(starts + lengths, duration)], axis=1)
            # (n, m) intersections with the placed events, summed
            overlap = np.clip(
                np.minimum(candidate[:, None, 1], placed[None, :, 1])
                - np.maximum(candidate[:, None, 0], placed[None, :, 0]),
                0.0,
                None,
            ).sum()
            if overlap < best_overlap:
                best, best_overlap = candidate, overlap
        segments.append(best)
        labels.append(np.full(count, class_id, dtype=np.int64))
    segments = np.round(np.concatenate(segments), 3)
    labels = np.concatenate(labels)
    order = np.lexsort((labels, segments[:, 0]))
    return duration, segments[order], labels[order]


# ----------------------------------------------------------------------------------------------------------------
# Real timelines
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    r"""
    One video's timeline from an annotation file.

    Attributes:
        video_id (`str`), split (`str`): as in the file.
        duration (`float`): seconds.
        segments (`np.ndarray` of shape `(k, 2)`, seconds), labels (`np.ndarray` of shape `(k,)`, UnAV-100 class
            ids): the labelled events, in file order.
    """

    video_id: str
    split: str
    duration: float
    segments: np.ndarray
    labels: np.ndarray


def read_timelines(path: str | os.PathLike) -> list[Timeline]:
    """
    The timelines of a UnAV-100 annotation file, in file order (checked by `load_unav100_annotations`).

    The file is read once per content: a second call with the same file (same size and modification time) returns
    the same list.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"Timeline annotation file not found: {path}.")
    status = path.stat()
    return _read_timelines(str(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_timelines(path: str, size: int, mtime_ns: int) -> list[Timeline]:
    """`read_timelines` keyed on the file's size and modification time, so an edited file is read again."""
    return [
        Timeline(
            video_id=video_id,
            split=video["subset"],
            duration=video["duration"],
            segments=np.array(video["segments"], dtype=np.float64).reshape(-1, 2),
            labels=np.array(video["labels"], dtype=np.int64),
        )
        for video_id, video in load_unav100_annotations(path).items()
    ]
