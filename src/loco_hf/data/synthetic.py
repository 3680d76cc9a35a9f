# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Synthetic UnAV-style data for dense audio-visual event localization.

The generator builds videos whose annotations follow the statistics of UnAV-100 (Geng et al., CVPR 2023; the
tables below were computed from `unav100_annotations.json`) and whose per-step features carry the structure that
LoCo's cross-modal modules exist for:

* every class has one prototype direction per modality (the visual and audio prototypes are independent); an
  event instance adds its prototype, a per-instance deviation and a slow drift, scaled by a per-instance salience
  and by the fraction of each feature's window the event covers;
* every video has a background (scene) vector with slow drift, and every step has noise correlated over the
  steps whose windows overlap (a 24-frame window with an 8-frame hop shares two thirds of its frames with its
  neighbour, so real features are smooth too);
* a labelled event is an event that is both audible and visible (the DAVE definition): it is made of a visual
  span and an audio span whose onsets and offsets differ by `asynchrony_steps` (standard deviation, in feature
  steps), and the label is their intersection, so each label boundary is set by whichever stream is later to
  start or earlier to stop;
* audio-only and visual-only distractor events (a class prototype in one modality only, `distractor_rate` of
  them per labelled event on average), half of them overlapping or touching a labelled event of another class,
  are not labels: a model that does not check cross-modal agreement mistakes them for events.

Each video comes from its own random generator seeded with `(seed, index)`, so a video's content never depends on
how many videos are asked for, and video `index` belongs to split train, validation or test by `index % 5`
(0-2, 3, 4: UnAV's 60/20/20 proportions). `docs/data.md` lists the knobs and compares the statistics with
UnAV-100.
"""

import functools
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import datasets
import numpy as np

from .unav100 import event_dataset_features

__all__ = [
    "UNAV100_STATISTICS",
    "SyntheticUnAVConfig",
    "SyntheticVideo",
    "annotation_statistics",
    "format_statistics_table",
    "generate_synthetic_video",
    "synthetic_class_names",
    "synthetic_features",
    "synthetic_unav",
    "to_unav_annotations",
]

SPLITS = ("train", "validation", "test")
# Split of video `index` is SPLIT_OF_INDEX_MOD_5[index % 5]: 60 / 20 / 20 %, as UnAV-100 (6,489 / 2,134 / 2,167).
SPLIT_OF_INDEX_MOD_5 = ("train", "train", "train", "validation", "test")

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
_EVENT_LENGTH_QUANTILES = np.array([
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
_MIN_EVENT_SECONDS = 0.2
_PLACEMENT_TRIALS = 10
_AVOID_OVERLAP_PROBABILITY = 0.9
_MIN_FREE_SHARE = 0.3

# Events per class, most frequent first (class ids of UnAV-100 follow this order closely). A synthetic class set
# of any size takes its frequencies from this rank-frequency curve (see `_class_frequencies`).
_UNAV100_CLASS_EVENT_COUNTS = np.array([
    2515, 1519, 725, 716, 710, 685, 618, 617, 599, 549, 527, 442, 441, 439, 434, 412, 410, 391, 352, 349, 347,
    330, 329, 325, 325, 314, 307, 304, 300, 298, 296, 276, 274, 270, 268, 268, 267, 263, 262, 255, 253, 248, 244,
    239, 236, 235, 231, 226, 224, 224, 220, 220, 217, 215, 207, 206, 205, 203, 203, 203, 202, 200, 196, 195, 194,
    192, 188, 186, 182, 177, 176, 173, 173, 170, 170, 169, 167, 163, 160, 153, 152, 152, 144, 140, 139, 137, 137,
    136, 136, 135, 133, 132, 132, 132, 130, 129, 128, 124, 122, 116,
], dtype=np.float64)  # fmt: skip

# What `annotation_statistics` returns for unav100_annotations.json (reference §1.2); used by tests and docs when
# the file itself is absent.
UNAV100_STATISTICS: dict = {
    "videos": 10790,
    "events": 30059,
    "classes_present": 100,
    "events_per_video_mean": 2.786,
    "events_per_video_max": 23,
    "duration_mean_seconds": 42.15,
    "duration_median_seconds": 43.91,
    "event_length_mean_seconds": 13.90,
    "event_length_median_seconds": 6.44,
    "event_length_p5_seconds": 1.00,
    "event_length_p25_seconds": 2.19,
    "event_length_p75_seconds": 21.14,
    "event_length_p95_seconds": 46.92,
    "event_relative_length_median": 0.152,
    "event_length_buckets": {
        "<1 s": 0.0421, "1-2 s": 0.1876, "2-5 s": 0.2112, "5-10 s": 0.1545, "10-20 s": 0.1445,
        "20-30 s": 0.0750, "30-45 s": 0.1204, "45-60 s": 0.0641, ">=60 s": 0.0006,
    },
    "event_length_step_buckets": {
        "[0, 4)": 0.145, "[4, 8)": 0.139, "[8, 16)": 0.163, "[16, 32)": 0.155, "[32, 64)": 0.143, ">=64": 0.256,
    },
    "events_per_video": {
        "1": 0.4123, "2": 0.1962, "3": 0.1292, "4": 0.0876, "5": 0.0582, "6": 0.0383, "7": 0.0235, "8": 0.0180,
        ">=9": 0.0367,
    },
    "multi_class_video_fraction": 0.405,
    "distinct_classes_per_video_mean": 1.60,
    "repeated_class_video_fraction": 0.456,
    "overlap_video_fraction": 0.282,
    "overlapping_event_fraction": 0.373,
    "same_class_overlapping_pairs": 1,
    "start_at_zero_event_fraction": 0.230,
    "max_simultaneous": {"1": 0.7182, "2": 0.2374, "3": 0.0385, "4": 0.0046, ">=5": 0.0013},
    "class_event_count_min": 116,
    "class_event_count_max": 2515,
}  # fmt: skip

# ----------------------------------------------------------------------------------------------------------------
# Feature model constants (per-element scales; a class prototype has entries of standard deviation 1).
# ----------------------------------------------------------------------------------------------------------------
# Classes come in families of this many (class c is in family c % num_families), whose prototypes share
# `_FAMILY_SHARE` of their variance, as related classes do (violin and cello, man and woman speaking).
_CLASSES_PER_FAMILY = 4
_FAMILY_SHARE = 0.3
# Per-instance deviation from the class prototype, and its slow drift over the event.
_INSTANCE_SCALE = 0.5
_DRIFT_SCALE = 0.3
# Per-video background (scene) vector and its slow drift.
_SCENE_SCALE = 1.0
_SCENE_DRIFT_SCALE = 0.3
# Drift is a sum of `_DRIFT_COMPONENTS` cosines with periods between these bounds, in feature steps.
_DRIFT_COMPONENTS = 2
_DRIFT_PERIOD_RANGE_STEPS = (10.0, 60.0)
# Salience of a source in one modality (how loud / how visible), uniform in this range.
_SALIENCE_RANGE = (0.5, 1.0)
# Share of distractors taking a class already labelled in the video, and share placed against (overlapping or
# touching) a labelled event of another class.
_DISTRACTOR_SAME_VIDEO_CLASS_SHARE = 0.5
_DISTRACTOR_NEAR_EVENT_SHARE = 0.5
# A distractor keeps this many steps away from the spans of labelled events of its own class.
_DISTRACTOR_MARGIN_STEPS = 2.0
_DISTRACTOR_PLACEMENT_TRIALS = 8
# Random streams: the class prototypes, and the videos (each spawns timeline, asynchrony, distractors, features).
_PROTOTYPE_STREAM = 0
_VIDEO_STREAM = 1


@dataclass(frozen=True)
class SyntheticUnAVConfig:
    r"""
    Knobs of the synthetic UnAV-style generator. Times are in seconds unless the name says steps.

    Args:
        num_classes (`int`, default 20): event classes; named by `synthetic_class_names`.
        visual_dim (`int`, default 256): channels of a visual feature.
        audio_dim (`int`, default 128): channels of an audio feature.
        noise (`float`, default 2.0): standard deviation of the per-step noise, relative to the per-element
            amplitude of a class prototype (1.0). The per-step signal-to-noise ratio of an event along its
            prototype is about `salience * sqrt(dim) / noise`.
        distractor_rate (`float`, default 0.75): expected audio-only or visual-only distractor events per
            labelled event (0 for none).
        asynchrony_steps (`float`, default 2.5): standard deviation, in feature steps, of the difference between
            the audio and the visual onset (and, independently, offset) of a labelled event (0 for none).
        fps (`float`, default 25.0), feature_stride (`int`, default 8), feature_window (`int`, default 24): the
            feature grid (frames per second, frames per step, frames per feature): UnAV-100's I3D/VGGish grid.
        feature_dtype (`str`, default "float32"): "float32" or "float16" storage of the features.
        seed (`int`, default 0): seeds the class prototypes and, with the video index, every video.
    """

    num_classes: int = 20
    visual_dim: int = 256
    audio_dim: int = 128
    noise: float = 2.0
    distractor_rate: float = 0.75
    asynchrony_steps: float = 2.5
    fps: float = 25.0
    feature_stride: int = 8
    feature_window: int = 24
    feature_dtype: str = "float32"
    seed: int = 0

    def __post_init__(self):
        for name in ("num_classes", "visual_dim", "audio_dim", "feature_stride", "feature_window"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ValueError(
                    f"SyntheticUnAVConfig.{name} must be a positive integer, got {getattr(self, name)!r}."
                )
        for name in ("noise", "distractor_rate", "asynchrony_steps"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"SyntheticUnAVConfig.{name} must be a finite number >= 0, got {value!r}.")
        if not self.fps > 0:
            raise ValueError(f"SyntheticUnAVConfig.fps must be > 0, got {self.fps!r}.")
        if self.feature_dtype not in ("float32", "float16"):
            raise ValueError(
                f"SyntheticUnAVConfig.feature_dtype must be 'float32' or 'float16', got {self.feature_dtype!r}."
            )

    @property
    def seconds_per_step(self) -> float:
        """Hop between two features, in seconds (0.32 s on the UnAV grid)."""
        return self.feature_stride / self.fps

    @property
    def class_names(self) -> list[str]:
        """Names of the classes (`synthetic_class_names(num_classes)`)."""
        return synthetic_class_names(self.num_classes)

    def num_steps(self, duration: float) -> int:
        """Feature length T of a video of `duration` seconds: floor((fps * duration - window) / stride) + 1."""
        return max(int(math.floor((self.fps * duration - self.feature_window) / self.feature_stride)) + 1, 1)


@dataclass
class SyntheticVideo:
    r"""
    One synthetic video: the dataset row plus the hidden sources that produced its features.

    Attributes:
        video_id (`str`), duration (`float`, seconds), split (`str`): identity.
        visual_features (`np.ndarray` of shape `(T, visual_dim)`), audio_features (`(T, audio_dim)`).
        segments (`np.ndarray` of shape `(k, 2)`, seconds), labels (`np.ndarray` of shape `(k,)`, class ids): the
            labelled (audible and visible) events.
        visual_segments, audio_segments (`np.ndarray` of shape `(k, 2)`, seconds): the visual and the audio span
            of each labelled event; `segments` is their intersection.
        distractor_segments (`np.ndarray` of shape `(n, 2)`, seconds), distractor_labels (`(n,)`),
            distractor_modalities (`list[str]`, "audio" or "visual"): one-modality events that are not labels.
    """

    video_id: str
    duration: float
    split: str
    visual_features: np.ndarray
    audio_features: np.ndarray
    segments: np.ndarray
    labels: np.ndarray
    visual_segments: np.ndarray
    audio_segments: np.ndarray
    distractor_segments: np.ndarray
    distractor_labels: np.ndarray
    distractor_modalities: list[str] = field(default_factory=list)


def synthetic_class_names(num_classes: int) -> list[str]:
    """Class names of a synthetic class set: "synthetic event NN" (at least two digits)."""
    width = max(2, len(str(num_classes - 1)))
    return [f"synthetic event {i:0{width}d}" for i in range(num_classes)]


def synthetic_features(config: SyntheticUnAVConfig) -> datasets.Features:
    """The row schema of the UnAV-100 builder (`event_dataset_features`) for the dimensions and classes of `config`."""
    return event_dataset_features(
        config.visual_dim, config.audio_dim, config.class_names, config.feature_dtype
    )


# ----------------------------------------------------------------------------------------------------------------
# Timelines
# ----------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _class_frequencies(num_classes: int) -> np.ndarray:
    """Event share of each class: UnAV-100's rank-frequency curve cut into `num_classes` equal rank intervals."""
    cumulative = np.concatenate([[0.0], np.cumsum(_UNAV100_CLASS_EVENT_COUNTS)])
    cumulative /= cumulative[-1]
    ranks = np.linspace(0.0, 1.0, len(cumulative))
    edges = np.interp(np.linspace(0.0, 1.0, num_classes + 1), ranks, cumulative)
    return np.diff(edges)


def _sample_quantiles(rng: np.random.Generator, quantiles: np.ndarray, size: int) -> np.ndarray:
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


def _sample_timeline(
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
            lengths = _sample_quantiles(rng, table, 1) * duration
        else:
            # Instances of one class must fit side by side: shrink them together when they do not.
            lengths = _sample_quantiles(rng, _REPEATED_EVENT_LENGTH_QUANTILES, count)
            lengths *= min(1.0, 0.95 * duration / lengths.sum())
        lengths = np.clip(lengths, _MIN_EVENT_SECONDS, duration)
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
# Sources and features
# ----------------------------------------------------------------------------------------------------------------


def _class_prototypes(config: SyntheticUnAVConfig) -> tuple[np.ndarray, np.ndarray]:
    """
    Class prototypes of the two modalities, drawn independently.

    Returns:
        visual (`np.ndarray` of shape `(num_classes, visual_dim)`), audio (`(num_classes, audio_dim)`): entries of
        standard deviation 1; classes of one family (class id modulo the number of families) share
        `_FAMILY_SHARE` of their variance.
    """
    rng = np.random.default_rng([config.seed, _PROTOTYPE_STREAM])
    num_families = math.ceil(config.num_classes / _CLASSES_PER_FAMILY)
    family_of_class = np.arange(config.num_classes) % num_families
    prototypes = []
    for dim in (config.visual_dim, config.audio_dim):
        families = rng.standard_normal((num_families, dim))
        own = rng.standard_normal((config.num_classes, dim))
        prototypes.append(
            math.sqrt(_FAMILY_SHARE) * families[family_of_class] + math.sqrt(1.0 - _FAMILY_SHARE) * own
        )
    return prototypes[0], prototypes[1]


def _asynchronous_spans(
    rng: np.random.Generator, segments: np.ndarray, duration: float, asynchrony_seconds: float
) -> tuple[np.ndarray, np.ndarray]:
    """
    Splits labelled events into a visual and an audio span whose intersection is the label.

    The audio onset minus the visual onset, and independently the audio offset minus the visual offset, are
    normal with standard deviation `asynchrony_seconds`; the stream that starts later (stops earlier) starts
    (stops) at the label boundary, the other one extends beyond it (within the video).

    Returns:
        visual_segments, audio_segments (`np.ndarray` of shape `(k, 2)`, seconds).
    """
    onset_shift, offset_shift = rng.standard_normal((2, len(segments))) * asynchrony_seconds
    visual = np.stack(
        [segments[:, 0] - np.maximum(onset_shift, 0.0), segments[:, 1] - np.minimum(offset_shift, 0.0)],
        axis=1,
    )
    audio = np.stack(
        [segments[:, 0] + np.minimum(onset_shift, 0.0), segments[:, 1] + np.maximum(offset_shift, 0.0)],
        axis=1,
    )
    return np.clip(visual, 0.0, duration), np.clip(audio, 0.0, duration)


def _place_distractor(
    rng: np.random.Generator,
    class_id: int,
    length: float,
    near_event: bool,
    duration: float,
    margin: float,
    labels: np.ndarray,
    labelled_hulls: np.ndarray,
    taken: list[tuple[int, float, float]],
) -> tuple[float, float] | None:
    """
    Places one distractor of `class_id`, at random or against a labelled event of another class, at least `margin`
    seconds away from the labelled events and the distractors of its class; None if a few trials find no place.
    """
    others = np.flatnonzero(labels != class_id)
    # (n, 2) spans the distractor must keep away from
    blocked = np.array(
        [
            *labelled_hulls[labels == class_id].tolist(),
            *([start, end] for c, start, end in taken if c == class_id),
        ]
    ).reshape(-1, 2)
    for _ in range(_DISTRACTOR_PLACEMENT_TRIALS):
        if near_event and len(others):
            target = labelled_hulls[rng.choice(others)]
            start = rng.uniform(target[0] - length - margin, target[1] + margin)
        else:
            start = rng.uniform(0.0, duration - length)
        start = float(np.clip(start, 0.0, duration - length))
        if not np.any((blocked[:, 0] - margin < start + length) & (blocked[:, 1] + margin > start)):
            return start, start + length
    return None


def _sample_distractors(
    rng: np.random.Generator,
    config: SyntheticUnAVConfig,
    class_probabilities: np.ndarray,
    duration: float,
    labels: np.ndarray,
    visual_segments: np.ndarray,
    audio_segments: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """
    Draws one-modality distractor events (Poisson, `distractor_rate` per labelled event on average).

    A distractor takes a class of the video or a random class, and lies at a random place or against (over or
    beside) a labelled event of another class. It keeps `_DISTRACTOR_MARGIN_STEPS` away from both spans of every
    labelled event of its own class and from distractors of its own class, so it never extends a labelled event;
    when its class leaves no room (a labelled event covering the video), it takes a class absent from the video.

    Returns:
        segments (`np.ndarray` of shape `(n, 2)`, seconds), labels (`(n,)`), modalities (`list[str]`).
    """
    num_distractors = int(rng.poisson(config.distractor_rate * len(labels)))
    margin = _DISTRACTOR_MARGIN_STEPS * config.seconds_per_step
    # (k, 2): the union hull of the two spans of each labelled event
    labelled_hulls = np.stack(
        [
            np.minimum(visual_segments[:, 0], audio_segments[:, 0]),
            np.maximum(visual_segments[:, 1], audio_segments[:, 1]),
        ],
        axis=1,
    )
    absent = np.setdiff1d(np.arange(len(class_probabilities)), labels)
    taken, modalities = [], []
    for _ in range(num_distractors):
        modality = "audio" if rng.random() < 0.5 else "visual"
        if len(labels) and rng.random() < _DISTRACTOR_SAME_VIDEO_CLASS_SHARE:
            class_id = int(rng.choice(np.unique(labels)))
        else:
            class_id = int(rng.choice(len(class_probabilities), p=class_probabilities))
        length = float(
            np.clip(_sample_quantiles(rng, _EVENT_LENGTH_QUANTILES, 1)[0], _MIN_EVENT_SECONDS, duration)
        )
        near_event = rng.random() < _DISTRACTOR_NEAR_EVENT_SHARE
        candidates = [class_id]
        if len(absent):
            candidates.append(
                int(rng.choice(absent, p=class_probabilities[absent] / class_probabilities[absent].sum()))
            )
        for candidate in candidates:
            span = _place_distractor(
                rng, candidate, length, near_event, duration, margin, labels, labelled_hulls, taken
            )
            if span is not None:
                taken.append((candidate, *span))
                modalities.append(modality)
                break
    segments = np.array([[start, end] for _, start, end in taken], dtype=np.float64).reshape(-1, 2)
    return segments, np.array([c for c, _, _ in taken], dtype=np.int64), modalities


def _window_activation(spans: np.ndarray, num_steps: int, config: SyntheticUnAVConfig) -> np.ndarray:
    """
    Share of each feature's window covered by each span.

    Args:
        spans (`np.ndarray` of shape `(n, 2)`, seconds).

    Returns:
        `np.ndarray` of shape `(n, T)` in [0, 1]: step g covers [g * stride, g * stride + window) frames.
    """
    window_seconds = config.feature_window / config.fps
    window_starts = np.arange(num_steps) * config.seconds_per_step  # (T,)
    # (n, 1) against (1, T) -> (n, T)
    covered = np.minimum(spans[:, 1:2], window_starts[None] + window_seconds) - np.maximum(
        spans[:, 0:1], window_starts[None]
    )
    return np.clip(covered, 0.0, None) / window_seconds


def _slow_drift(
    rng: np.random.Generator, num_sources: int, num_steps: int, dim: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """
    Slow drifts: per source, a sum of `_DRIFT_COMPONENTS` random cosines, each times a random vector.

    Returns:
        basis (`np.ndarray` of shape `(n, J, T)`), vectors (`(n, J, D)`) with per-element RMS `scale` for the sum.
    """
    periods = rng.uniform(*_DRIFT_PERIOD_RANGE_STEPS, size=(num_sources, _DRIFT_COMPONENTS, 1))
    phases = rng.uniform(0.0, 2.0 * math.pi, size=(num_sources, _DRIFT_COMPONENTS, 1))
    basis = np.cos(2.0 * math.pi * np.arange(num_steps)[None, None] / periods + phases)
    # a cosine has mean square 1/2, so J of them with vectors of variance 2 / J sum to variance 1
    vectors = (
        rng.standard_normal((num_sources, _DRIFT_COMPONENTS, dim))
        * scale
        * math.sqrt(2.0 / _DRIFT_COMPONENTS)
    )
    return basis, vectors


def _source_features(
    rng: np.random.Generator,
    config: SyntheticUnAVConfig,
    prototypes: np.ndarray,
    spans: np.ndarray,
    classes: np.ndarray,
    num_steps: int,
) -> np.ndarray:
    """
    What a set of sources adds to one modality.

    Each source adds, over the steps its span covers (weighted by `_window_activation`), its class prototype plus
    an instance deviation and a slow drift, all scaled by its salience.

    Args:
        prototypes (`np.ndarray` of shape `(C, D)`), spans (`(n, 2)`, seconds), classes (`(n,)`).

    Returns:
        `np.ndarray` of shape `(T, D)`.
    """
    num_sources, dim = len(classes), prototypes.shape[1]
    # (n, T): share of each step's window covered, times the salience
    weights = _window_activation(spans, num_steps, config) * rng.uniform(
        *_SALIENCE_RANGE, size=(num_sources, 1)
    )
    appearance = prototypes[classes] + rng.standard_normal((num_sources, dim)) * _INSTANCE_SCALE  # (n, D)
    drift_basis, drift_vectors = _slow_drift(rng, num_sources, num_steps, dim, _DRIFT_SCALE)
    # (n, 1, T) * (n, J, T) -> (n * J, T); (n, J, D) -> (n * J, D)
    drift_weights = (weights[:, None] * drift_basis).reshape(-1, num_steps)
    return weights.T @ appearance + drift_weights.T @ drift_vectors.reshape(-1, dim)


def _background_features(
    rng: np.random.Generator, config: SyntheticUnAVConfig, dim: int, num_steps: int
) -> np.ndarray:
    """
    Scene vector + slow scene drift + noise correlated over the steps whose windows overlap.

    A feature integrates `r = window / stride` hops, so neighbouring steps share noise as they share frames.

    Returns:
        `np.ndarray` of shape `(T, D)`.
    """
    scene = rng.standard_normal(dim) * _SCENE_SCALE
    scene_basis, scene_vectors = _slow_drift(rng, 1, num_steps, dim, _SCENE_DRIFT_SCALE)
    hops = max(1, round(config.feature_window / config.feature_stride))
    hop_noise = rng.standard_normal((num_steps + hops - 1, dim), dtype=np.float32)
    noise = sum(hop_noise[i : i + num_steps] for i in range(hops)) * (config.noise / math.sqrt(hops))
    return scene[None] + scene_basis[0].T @ scene_vectors[0] + noise


def generate_synthetic_video(
    index: int,
    config: SyntheticUnAVConfig | None = None,
    prototypes: tuple[np.ndarray, np.ndarray] | None = None,
) -> SyntheticVideo:
    """
    Generates video `index` of the synthetic data set described by `config`.

    The video depends only on `config` and `index`. Its timeline, asynchrony, distractors and features come from
    separate random streams, so changing `noise`, `distractor_rate` or `asynchrony_steps` keeps the same labelled
    events (and `clean=True` gives the same videos without distractors and shifts).

    Args:
        index (`int`): video index >= 0; its split is `SPLIT_OF_INDEX_MOD_5[index % 5]`.
        config (`SyntheticUnAVConfig`, *optional*): knobs; the defaults when omitted.
        prototypes (`tuple`, *optional*): the class prototypes of `config` (visual, audio), to skip recomputing
            them for every video.

    Returns:
        `SyntheticVideo`: the dataset row and the hidden sources (visual and audio spans of each labelled event,
        distractors).
    """
    config = config or SyntheticUnAVConfig()
    if not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"Synthetic video index must be an integer >= 0, got {index!r}.")
    if prototypes is None:
        prototypes = _class_prototypes(config)
    class_probabilities = _class_frequencies(config.num_classes)
    # Separate streams, so that a knob changes only what it is about (see the docstring).
    streams = [
        np.random.default_rng(s)
        for s in np.random.SeedSequence([config.seed, _VIDEO_STREAM, int(index)]).spawn(9)
    ]
    timeline_rng, asynchrony_rng, distractor_rng = streams[:3]
    modality_rngs = {"visual": streams[3:6], "audio": streams[6:9]}  # background, events, distractors

    duration, segments, labels = _sample_timeline(timeline_rng, class_probabilities)
    visual_segments, audio_segments = _asynchronous_spans(
        asynchrony_rng, segments, duration, config.asynchrony_steps * config.seconds_per_step
    )
    distractor_segments, distractor_labels, distractor_modalities = _sample_distractors(
        distractor_rng, config, class_probabilities, duration, labels, visual_segments, audio_segments
    )

    num_steps = config.num_steps(duration)
    # Background RMS about 1 whatever the noise, roughly the scale of standardised real features.
    background_rms = math.sqrt(_SCENE_SCALE**2 + _SCENE_DRIFT_SCALE**2 + config.noise**2)
    features = {}
    for modality, prototype, event_segments in (
        ("visual", prototypes[0], visual_segments),
        ("audio", prototypes[1], audio_segments),
    ):
        background_rng, event_rng, distractor_source_rng = modality_rngs[modality]
        in_modality = np.array([m == modality for m in distractor_modalities], dtype=bool)
        total = _background_features(background_rng, config, prototype.shape[1], num_steps)
        total += _source_features(event_rng, config, prototype, event_segments, labels, num_steps)
        total += _source_features(
            distractor_source_rng,
            config,
            prototype,
            distractor_segments[in_modality],
            distractor_labels[in_modality],
            num_steps,
        )
        features[modality] = total / background_rms
    dtype = np.float16 if config.feature_dtype == "float16" else np.float32
    return SyntheticVideo(
        video_id=f"synthetic-s{config.seed}-{int(index):06d}",
        duration=duration,
        split=SPLIT_OF_INDEX_MOD_5[int(index) % 5],
        visual_features=features["visual"].astype(dtype),
        audio_features=features["audio"].astype(dtype),
        segments=segments.astype(np.float32),
        labels=labels,
        visual_segments=visual_segments,
        audio_segments=audio_segments,
        distractor_segments=distractor_segments,
        distractor_labels=distractor_labels,
        distractor_modalities=distractor_modalities,
    )


def _generate_rows(indices: list[int], config: SyntheticUnAVConfig):
    """Yields the dataset rows of videos `indices` (the generator behind `synthetic_unav`)."""
    prototypes = _class_prototypes(config)
    for index in indices:
        video = generate_synthetic_video(index, config, prototypes)
        yield {
            "video_id": video.video_id,
            "duration": video.duration,
            "fps": config.fps,
            "feature_stride": config.feature_stride,
            "feature_window": config.feature_window,
            "visual_features": video.visual_features,
            "audio_features": video.audio_features,
            "segments": video.segments,
            "labels": video.labels,
        }


def synthetic_unav(
    num_videos: int = 3000,
    seed: int = 0,
    split: str | None = None,
    *,
    num_classes: int = 20,
    visual_dim: int = 256,
    audio_dim: int = 128,
    noise: float | None = None,
    distractor_rate: float | None = None,
    asynchrony_steps: float | None = None,
    clean: bool = False,
    fps: float = 25.0,
    feature_stride: int = 8,
    feature_window: int = 24,
    feature_dtype: str = "float32",
    cache_dir: str | None = None,
) -> datasets.DatasetDict | datasets.Dataset:
    """
    Synthetic UnAV-style dense audio-visual event data with the dataset schema of the UnAV-100 builder.

    Args:
        num_videos (`int`, default 3000): videos over all three splits (indices 0 .. num_videos - 1; video i is in
            train, validation or test by i % 5, so 60 / 20 / 20 %).
        seed (`int`, default 0): seeds the class prototypes and every video.
        split (`str`, *optional*): "train", "validation" or "test" returns that split as a `Dataset`; by default
            a `DatasetDict` of the three.
        num_classes, visual_dim, audio_dim, noise, distractor_rate, asynchrony_steps, fps, feature_stride,
            feature_window, feature_dtype: see `SyntheticUnAVConfig` (None takes its default).
        clean (`bool`, default False): no distractors and no audio-visual shifts (distractor_rate = 0,
            asynchrony_steps = 0), with the same labelled events and noise as the default data.
        cache_dir (`str`, *optional*): where `datasets` writes the Arrow files (its cache by default); a second
            call with the same arguments reuses them.

    Returns:
        `datasets.DatasetDict` (train / validation / test) or `datasets.Dataset`: rows with video_id, duration
        (s), fps, feature_stride, feature_window, visual_features `(T, visual_dim)`, audio_features
        `(T, audio_dim)`, segments `(k, 2)` (s) and labels (`ClassLabel`).
    """
    if clean:
        for name, value in (("distractor_rate", distractor_rate), ("asynchrony_steps", asynchrony_steps)):
            if value:
                raise ValueError(f"synthetic_unav(clean=True) means {name}=0, but {name}={value} was passed.")
        distractor_rate, asynchrony_steps = 0.0, 0.0
    knobs = {"noise": noise, "distractor_rate": distractor_rate, "asynchrony_steps": asynchrony_steps}
    config = SyntheticUnAVConfig(
        num_classes=num_classes, visual_dim=visual_dim, audio_dim=audio_dim, fps=fps, feature_stride=feature_stride,
        feature_window=feature_window, feature_dtype=feature_dtype, seed=seed,
        **{name: value for name, value in knobs.items() if value is not None},
    )  # fmt: skip
    if not isinstance(num_videos, int) or num_videos <= 0:
        raise ValueError(f"synthetic_unav needs num_videos > 0, got {num_videos!r}.")
    if split is not None and split not in SPLITS:
        raise ValueError(f"synthetic_unav split must be one of {SPLITS} or None, got {split!r}.")
    features = synthetic_features(config)

    def build(split_name: str) -> datasets.Dataset:
        indices = [i for i in range(num_videos) if SPLIT_OF_INDEX_MOD_5[i % 5] == split_name]
        if not indices:
            return datasets.Dataset.from_dict(
                {name: [] for name in features}, features=features, split=split_name
            )
        return datasets.Dataset.from_generator(
            _generate_rows, features=features, gen_kwargs={"indices": indices, "config": config}, cache_dir=cache_dir,
            split=datasets.NamedSplit(split_name),
        )  # fmt: skip

    if split is not None:
        return build(split)
    return datasets.DatasetDict({name: build(name) for name in SPLITS})


def to_unav_annotations(
    dataset: datasets.DatasetDict | datasets.Dataset | Mapping, subset: str | None = None
) -> dict:
    """
    Writes the annotations of a dataset in UnAV-100's JSON format (e.g. for `annotation_statistics`).

    Args:
        dataset (`DatasetDict` or `Dataset`): rows with video_id, duration, segments (s) and labels.
        subset (`str`, *optional*): the subset name of a single `Dataset` (default: its split, else "train").

    Returns:
        `dict`: `{"version": ..., "database": {video_id: {"duration", "subset", "annotations": [{"segment",
        "label", "label_id"}]}}}`.
    """
    if isinstance(dataset, datasets.Dataset):
        dataset = {subset or (str(dataset.split) if dataset.split is not None else "train"): dataset}
    database = {}
    for subset_name, split_dataset in dataset.items():
        label_feature = split_dataset.features["labels"].feature
        columns = split_dataset.select_columns(["video_id", "duration", "segments", "labels"]).to_dict()
        for video_id, duration, segments, labels in zip(
            columns["video_id"], columns["duration"], columns["segments"], columns["labels"], strict=True
        ):
            if video_id in database:
                raise ValueError(
                    f"Video {video_id!r} appears twice (in {database[video_id]['subset']!r} and {subset_name!r})."
                )
            database[video_id] = {
                "duration": round(float(duration), 3),
                "subset": subset_name,
                "annotations": [
                    {
                        "segment": [round(float(s), 5), round(float(e), 5)],
                        "label": label_feature.int2str(int(label)),
                        "label_id": int(label),
                    }
                    for (s, e), label in zip(segments, labels, strict=True)
                ],
            }
    return {"version": "synthetic-unav", "database": database}


# ----------------------------------------------------------------------------------------------------------------
# Statistics of UnAV-format annotations
# ----------------------------------------------------------------------------------------------------------------

_LENGTH_BUCKETS_SECONDS = (
    ("<1 s", 0.0, 1.0), ("1-2 s", 1.0, 2.0), ("2-5 s", 2.0, 5.0), ("5-10 s", 5.0, 10.0), ("10-20 s", 10.0, 20.0),
    ("20-30 s", 20.0, 30.0), ("30-45 s", 30.0, 45.0), ("45-60 s", 45.0, 60.0), (">=60 s", 60.0, math.inf),
)  # fmt: skip
# The regression ranges of the six pyramid levels, in steps.
_LENGTH_BUCKETS_STEPS = (
    ("[0, 4)", 0.0, 4.0), ("[4, 8)", 4.0, 8.0), ("[8, 16)", 8.0, 16.0), ("[16, 32)", 16.0, 32.0),
    ("[32, 64)", 32.0, 64.0), (">=64", 64.0, math.inf),
)  # fmt: skip


def _bucket_fractions(values: np.ndarray, buckets) -> dict[str, float]:
    return {
        name: float(np.mean((values >= low) & (values < high))) if len(values) else 0.0
        for name, low, high in buckets
    }


def _max_simultaneous(segments: np.ndarray) -> int:
    """Largest number of events active at one instant (touching events do not count as simultaneous)."""
    if len(segments) == 0:
        return 0
    times = np.concatenate([segments[:, 0], segments[:, 1]])
    deltas = np.concatenate([np.ones(len(segments)), -np.ones(len(segments))])
    order = np.lexsort((deltas, times))  # at equal times, ends (-1) before starts (+1)
    return int(np.cumsum(deltas[order]).max())


def annotation_statistics(database: Mapping, fps: float = 25.0, feature_stride: int = 8) -> dict:
    """
    Statistics of UnAV-format annotations, as in the UnAV-100 reference (§1.2).

    Args:
        database (`dict`): `{"database": {video_id: {"duration", "subset", "annotations": [{"segment": [start,
            end], "label", "label_id"}, ...]}}}` or the inner database dict. Times in seconds.
        fps (`float`), feature_stride (`int`): the feature grid used for the lengths in steps (UnAV: 25, 8).

    Returns:
        `dict` with the keys of `UNAV100_STATISTICS`: counts, means and medians (durations and lengths in
        seconds), event-length percentiles, bucket fractions (lengths in seconds and in feature steps), the
        fraction of videos with 1, ..., 8, >=9 events, the fractions of videos with several classes, a repeated
        class or an overlapping pair, the fraction of events overlapping another one, same-class overlapping
        pairs, the fraction of events starting at 0 s, the distribution of the largest number of simultaneous
        events, and the least and most frequent class counts. Overlap means a strictly positive intersection.
    """
    if "database" in database:
        database = database["database"]
    if not database:
        raise ValueError("annotation_statistics needs at least one video; the database is empty.")
    durations, lengths, relative_lengths, starts = [], [], [], []
    events_per_video, distinct_per_video, max_simultaneous = [], [], []
    repeated_videos = overlap_videos = overlapping_events = same_class_pairs = 0
    class_counts: Counter = Counter()
    for video_id, video in database.items():
        duration = float(video["duration"])
        annotations = video["annotations"]
        segments = np.array([a["segment"] for a in annotations], dtype=np.float64).reshape(-1, 2)
        names = [a["label"] for a in annotations]
        if len(segments) and not np.all(segments[:, 1] > segments[:, 0]):
            raise ValueError(
                f"Video {video_id!r} has a segment whose end is not after its start: {segments.tolist()}."
            )
        durations.append(duration)
        lengths.append(segments[:, 1] - segments[:, 0])
        relative_lengths.append((segments[:, 1] - segments[:, 0]) / duration)
        starts.append(segments[:, 0])
        class_counts.update(names)
        per_class = Counter(names)
        events_per_video.append(len(names))
        distinct_per_video.append(len(per_class))
        repeated_videos += any(count > 1 for count in per_class.values())
        # (k, k) strictly positive intersections, diagonal excluded
        intersection = np.minimum(segments[:, None, 1], segments[None, :, 1]) - np.maximum(
            segments[:, None, 0], segments[None, :, 0]
        )
        overlaps = (intersection > 0) & ~np.eye(len(segments), dtype=bool)
        overlap_videos += bool(overlaps.any())
        overlapping_events += int(overlaps.any(axis=1).sum())
        same_class = np.array(names)[:, None] == np.array(names)[None, :]
        same_class_pairs += int(np.triu(overlaps & same_class).sum())
        max_simultaneous.append(_max_simultaneous(segments))

    durations = np.array(durations)
    lengths = np.concatenate(lengths)
    relative_lengths = np.concatenate(relative_lengths)
    starts = np.concatenate(starts)
    events_per_video = np.array(events_per_video)
    max_simultaneous = np.array(max_simultaneous)
    num_videos, num_events = len(durations), len(lengths)
    percentiles = np.percentile(lengths, [5, 25, 50, 75, 95]) if num_events else np.zeros(5)
    seconds_per_step = feature_stride / fps
    return {
        "videos": num_videos,
        "events": num_events,
        "classes_present": len(class_counts),
        "events_per_video_mean": float(events_per_video.mean()),
        "events_per_video_max": int(events_per_video.max()),
        "duration_mean_seconds": float(durations.mean()),
        "duration_median_seconds": float(np.median(durations)),
        "event_length_mean_seconds": float(lengths.mean()) if num_events else 0.0,
        "event_length_median_seconds": float(percentiles[2]),
        "event_length_p5_seconds": float(percentiles[0]),
        "event_length_p25_seconds": float(percentiles[1]),
        "event_length_p75_seconds": float(percentiles[3]),
        "event_length_p95_seconds": float(percentiles[4]),
        "event_relative_length_median": float(np.median(relative_lengths)) if num_events else 0.0,
        "event_length_buckets": _bucket_fractions(lengths, _LENGTH_BUCKETS_SECONDS),
        "event_length_step_buckets": _bucket_fractions(lengths / seconds_per_step, _LENGTH_BUCKETS_STEPS),
        "events_per_video": {
            **{str(k): float(np.mean(events_per_video == k)) for k in range(1, 9)},
            ">=9": float(np.mean(events_per_video >= 9)),
        },
        "multi_class_video_fraction": float(np.mean(np.array(distinct_per_video) > 1)),
        "distinct_classes_per_video_mean": float(np.mean(distinct_per_video)),
        "repeated_class_video_fraction": repeated_videos / num_videos,
        "overlap_video_fraction": overlap_videos / num_videos,
        "overlapping_event_fraction": overlapping_events / num_events if num_events else 0.0,
        "same_class_overlapping_pairs": same_class_pairs,
        "start_at_zero_event_fraction": float(np.mean(starts == 0)) if num_events else 0.0,
        "max_simultaneous": {
            **{str(k): float(np.mean(max_simultaneous == k)) for k in range(1, 5)},
            ">=5": float(np.mean(max_simultaneous >= 5)),
        },
        "class_event_count_min": min(class_counts.values()) if class_counts else 0,
        "class_event_count_max": max(class_counts.values()) if class_counts else 0,
    }


# Rows of `format_statistics_table`: (label, key, kind); "count", "seconds", "number" or "fraction" formatting,
# and "buckets" expands a dict of fractions into one row per entry.
_STATISTICS_ROWS = (
    ("videos", "videos", "count"),
    ("events", "events", "count"),
    ("classes present", "classes_present", "count"),
    ("events / video (mean)", "events_per_video_mean", "number"),
    ("events / video (max)", "events_per_video_max", "count"),
    ("duration mean (s)", "duration_mean_seconds", "seconds"),
    ("duration median (s)", "duration_median_seconds", "seconds"),
    ("event length mean (s)", "event_length_mean_seconds", "seconds"),
    ("event length p5 (s)", "event_length_p5_seconds", "seconds"),
    ("event length p25 (s)", "event_length_p25_seconds", "seconds"),
    ("event length median (s)", "event_length_median_seconds", "seconds"),
    ("event length p75 (s)", "event_length_p75_seconds", "seconds"),
    ("event length p95 (s)", "event_length_p95_seconds", "seconds"),
    ("event length / duration (median)", "event_relative_length_median", "number"),
    ("events of length", "event_length_buckets", "buckets"),
    ("events of length in steps", "event_length_step_buckets", "buckets"),
    ("videos with this many events:", "events_per_video", "buckets"),
    ("videos with several classes", "multi_class_video_fraction", "fraction"),
    ("distinct classes / video (mean)", "distinct_classes_per_video_mean", "number"),
    ("videos with a repeated class", "repeated_class_video_fraction", "fraction"),
    ("videos with overlapping events", "overlap_video_fraction", "fraction"),
    ("events overlapping another", "overlapping_event_fraction", "fraction"),
    ("same-class overlapping pairs", "same_class_overlapping_pairs", "count"),
    ("events starting at 0 s", "start_at_zero_event_fraction", "fraction"),
    ("videos whose peak of simultaneous events is", "max_simultaneous", "buckets"),
    ("events of the rarest class", "class_event_count_min", "count"),
    ("events of the most frequent class", "class_event_count_max", "count"),
)


def _format_value(value, kind: str) -> str:
    if kind == "count":
        return f"{int(value):,}"
    if kind == "fraction":
        return f"{100.0 * value:.1f} %"
    return f"{value:.2f}"


def format_statistics_table(
    real_statistics: Mapping,
    synthetic_statistics: Mapping,
    names: tuple[str, str] = ("UnAV-100", "synthetic"),
) -> str:
    """
    A markdown table comparing two outputs of `annotation_statistics` (fractions in per cent, times in seconds).

    Args:
        real_statistics (`dict`), synthetic_statistics (`dict`): e.g. `UNAV100_STATISTICS` and the statistics of
            `to_unav_annotations(synthetic_unav(...))`.
        names (`tuple[str, str]`): the two column titles.

    Returns:
        `str`: the table, one row per statistic (bucketed statistics get one row per bucket).
    """
    lines = [f"| statistic | {names[0]} | {names[1]} |", "|---|---:|---:|"]
    for label, key, kind in _STATISTICS_ROWS:
        first, second = real_statistics[key], synthetic_statistics[key]
        if kind == "buckets":
            for bucket in first:
                lines.append(
                    f"| {label} {bucket} | {_format_value(first[bucket], 'fraction')} | {_format_value(second.get(bucket, 0.0), 'fraction')} |"
                )
        else:
            lines.append(f"| {label} | {_format_value(first, kind)} | {_format_value(second, kind)} |")
    return "\n".join(lines)
