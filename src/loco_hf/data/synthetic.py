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
how many videos are asked for. Timelines are sampled with UnAV-100's statistics, or read from a UnAV-100
annotation file (`loco_hf.data.timelines`). On sampled timelines video `index` belongs to split train,
validation or test by `index % 5` (0-2, 3, 4: UnAV's 60/20/20 proportions); on real ones, to its video's split.
`docs/data.md` lists the knobs and compares the statistics with UnAV-100 (`loco_hf.data.statistics`).
"""

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np

from ..configuration_loco import UNAV100_CLASS_NAMES
from .schema import SPLITS, event_dataset_features
from .timelines import (
    EVENT_LENGTH_QUANTILES,
    MIN_EVENT_SECONDS,
    class_frequencies,
    read_timelines,
    sample_quantiles,
    sample_timeline,
)

__all__ = [
    "SyntheticUnAVConfig",
    "SyntheticVideo",
    "generate_synthetic_video",
    "synthetic_class_names",
    "synthetic_features",
    "synthetic_unav",
]

# Split of video `index` is SPLIT_OF_INDEX_MOD_5[index % 5]: 60 / 20 / 20 %, as UnAV-100 (6,489 / 2,134 / 2,167).
SPLIT_OF_INDEX_MOD_5 = ("train", "train", "train", "validation", "test")

# ----------------------------------------------------------------------------------------------------------------
# Feature model constants (per-element scales; a class prototype has entries of standard deviation 1).
# ----------------------------------------------------------------------------------------------------------------
# Classes come in families of this many (class c is in family c % num_families in the visual stream), whose
# prototypes share `family_share` of their variance, as related classes do (violin and cello, man and woman
# speaking).
_CLASSES_PER_FAMILY = 4
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
# Drawn only when the audio families differ from the visual ones, so that the default data does not change.
_AUDIO_FAMILY_STREAM = 2


@dataclass(frozen=True)
class SyntheticUnAVConfig:
    r"""
    Knobs of the synthetic UnAV-style generator. Times are in seconds unless the name says steps.

    Args:
        num_classes (`int`, default 20): event classes, named by `synthetic_class_names`.
        visual_dim (`int`, default 256): channels of a visual feature.
        audio_dim (`int`, default 128): channels of an audio feature.
        noise (`float`, default 2.0): standard deviation of the per-step noise, relative to the per-element
            amplitude of a class prototype (1.0). The per-step signal-to-noise ratio of an event along its
            prototype is about `salience * sqrt(dim) / noise`.
        distractor_rate (`float`, default 0.75): expected audio-only or visual-only distractor events per
            labelled event (0 for none).
        distractors_per_video (`float`, *optional*): expected distractor events per video, whatever its number
            of labelled events; replaces `distractor_rate` when given.
        asynchrony_steps (`float`, default 2.5): standard deviation, in feature steps, of the difference between
            the audio and the visual onset (and, independently, offset) of a labelled event (0 for none).
        audio_offset_steps (`float`, default 0.0): steps by which the audio of every labelled event lags its
            visual span (onset and offset; negative: leads), before the `asynchrony_steps` jitter.
        family_share (`float`, default 0.3): share of a class prototype's variance common to its family of four
            classes, in each modality: how confusable related classes are (0: independent prototypes).
        independent_families (`bool`, default False): the audio families are a random regrouping of the classes,
            so classes confusable in one modality are told apart by the other; by default a family is the same in
            both modalities.
        timelines (`str`, *optional*): a UnAV-100 annotation file (`unav100_annotations.json` or a slice of it);
            video `index` then takes the duration, events, labels and split of the file's video `index` (file
            order), and `num_classes` must be 100 (UnAV-100's classes). By default timelines are sampled with
            UnAV-100's statistics (`loco_hf.data.timelines`).
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
    distractors_per_video: float | None = None
    audio_offset_steps: float = 0.0
    family_share: float = 0.3
    independent_families: bool = False
    timelines: str | None = None
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
        for name in ("noise", "distractor_rate", "asynchrony_steps", "distractors_per_video"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise ValueError(f"SyntheticUnAVConfig.{name} must be a finite number >= 0, got {value!r}.")
        if not math.isfinite(self.audio_offset_steps):
            raise ValueError(
                f"SyntheticUnAVConfig.audio_offset_steps must be finite, got {self.audio_offset_steps!r}."
            )
        if not 0 <= self.family_share <= 1:
            raise ValueError(
                f"SyntheticUnAVConfig.family_share must be in [0, 1], got {self.family_share!r}."
            )
        if self.timelines is not None and self.num_classes != len(UNAV100_CLASS_NAMES):
            raise ValueError(
                f"SyntheticUnAVConfig.timelines gives UnAV-100's {len(UNAV100_CLASS_NAMES)} classes; num_classes is "
                f"{self.num_classes}."
            )
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
        """Names of the classes: UnAV-100's on real timelines, else `synthetic_class_names(num_classes)`."""
        if self.timelines is not None:
            return list(UNAV100_CLASS_NAMES)
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
    """
    Class names of a synthetic class set: "synthetic event 00", "synthetic event 01", ... (at least two digits, as
    many as the largest id needs).
    """
    width = max(2, len(str(num_classes - 1)))
    return [f"synthetic event {i:0{width}d}" for i in range(num_classes)]


def synthetic_features(config: SyntheticUnAVConfig) -> datasets.Features:
    """The row schema of the UnAV-100 builder (`event_dataset_features`) for the dimensions and classes of `config`."""
    return event_dataset_features(
        config.visual_dim, config.audio_dim, config.class_names, config.feature_dtype
    )


# ----------------------------------------------------------------------------------------------------------------
# Sources and features
# ----------------------------------------------------------------------------------------------------------------


def _class_prototypes(config: SyntheticUnAVConfig) -> tuple[np.ndarray, np.ndarray]:
    """
    Class prototypes of the two modalities, drawn independently.

    Returns:
        visual (`np.ndarray` of shape `(num_classes, visual_dim)`), audio (`(num_classes, audio_dim)`): entries of
        standard deviation 1; classes of one family (class id modulo the number of families, regrouped at random
        in the audio stream with `independent_families`) share `family_share` of their variance.
    """
    rng = np.random.default_rng([config.seed, _PROTOTYPE_STREAM])
    num_families = math.ceil(config.num_classes / _CLASSES_PER_FAMILY)
    visual_families = np.arange(config.num_classes) % num_families
    audio_families = visual_families
    if config.independent_families:
        audio_families = np.random.default_rng([config.seed, _AUDIO_FAMILY_STREAM]).permutation(
            visual_families
        )
    prototypes = []
    for dim, family_of_class in ((config.visual_dim, visual_families), (config.audio_dim, audio_families)):
        families = rng.standard_normal((num_families, dim))
        own = rng.standard_normal((config.num_classes, dim))
        prototypes.append(
            math.sqrt(config.family_share) * families[family_of_class]
            + math.sqrt(1.0 - config.family_share) * own
        )
    return prototypes[0], prototypes[1]


def _asynchronous_spans(
    rng: np.random.Generator,
    segments: np.ndarray,
    duration: float,
    asynchrony_seconds: float,
    audio_offset_seconds: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """
    Splits labelled events into a visual and an audio span whose intersection is the label.

    The audio onset minus the visual onset, and independently the audio offset minus the visual offset, are
    normal with mean `audio_offset_seconds` and standard deviation `asynchrony_seconds`; the stream that starts later (stops earlier) starts
    (stops) at the label boundary, the other one extends beyond it (within the video).

    Returns:
        visual_segments, audio_segments (`np.ndarray` of shape `(k, 2)`, seconds).
    """
    onset_shift, offset_shift = (
        rng.standard_normal((2, len(segments))) * asynchrony_seconds + audio_offset_seconds
    )
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
    Draws one-modality distractor events (Poisson, `distractor_rate` per labelled event or `distractors_per_video`
    on average).

    A distractor takes a class of the video or a random class, and lies at a random place or against (over or
    beside) a labelled event of another class. It keeps `_DISTRACTOR_MARGIN_STEPS` away from both spans of every
    labelled event of its own class and from distractors of its own class, so it never extends a labelled event;
    when its class leaves no room (a labelled event covering the video), it takes a class absent from the video.

    Returns:
        segments (`np.ndarray` of shape `(n, 2)`, seconds), labels (`(n,)`), modalities (`list[str]`).
    """
    if config.distractors_per_video is not None:
        num_distractors = int(rng.poisson(config.distractors_per_video))
    else:
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
            np.clip(sample_quantiles(rng, EVENT_LENGTH_QUANTILES, 1)[0], MIN_EVENT_SECONDS, duration)
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


def video_split(index: int, config: SyntheticUnAVConfig) -> str:
    """Split of video `index`: its timeline's split on real timelines, else `SPLIT_OF_INDEX_MOD_5[index % 5]`."""
    if config.timelines is not None:
        return read_timelines(config.timelines)[index].split
    return SPLIT_OF_INDEX_MOD_5[index % 5]


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
        index (`int`): video index >= 0; its split is `video_split(index, config)`.
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
    class_probabilities = class_frequencies(config.num_classes)
    # Separate streams, so that a knob changes only what it is about (see the docstring).
    streams = [
        np.random.default_rng(s)
        for s in np.random.SeedSequence([config.seed, _VIDEO_STREAM, int(index)]).spawn(9)
    ]
    timeline_rng, asynchrony_rng, distractor_rng = streams[:3]
    modality_rngs = {"visual": streams[3:6], "audio": streams[6:9]}  # background, events, distractors

    if config.timelines is None:
        video_id = f"synthetic-s{config.seed}-{int(index):06d}"
        duration, segments, labels = sample_timeline(timeline_rng, class_probabilities)
    else:
        timelines = read_timelines(config.timelines)
        if index >= len(timelines):
            raise ValueError(
                f"Video index {index} is past the {len(timelines)} timelines of {config.timelines}."
            )
        timeline = timelines[index]
        video_id = f"synthetic-s{config.seed}-{timeline.video_id}"
        duration, segments, labels = timeline.duration, timeline.segments, timeline.labels
    visual_segments, audio_segments = _asynchronous_spans(
        asynchrony_rng,
        segments,
        duration,
        config.asynchrony_steps * config.seconds_per_step,
        config.audio_offset_steps * config.seconds_per_step,
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
        video_id=video_id,
        duration=duration,
        split=video_split(int(index), config),
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


def _generate_rows(indices: list[int], config: SyntheticUnAVConfig, timelines_digest: str | None = None):
    """
    Yields the dataset rows of videos `indices` (the generator behind `synthetic_unav`); `timelines_digest` only
    keys the `datasets` cache on the content of `config.timelines`.
    """
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
    num_classes: int | None = None,
    visual_dim: int = 256,
    audio_dim: int = 128,
    noise: float | None = None,
    distractor_rate: float | None = None,
    asynchrony_steps: float | None = None,
    distractors_per_video: float | None = None,
    audio_offset_steps: float | None = None,
    family_share: float | None = None,
    independent_families: bool = False,
    timelines: str | os.PathLike | None = None,
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
            train, validation or test by i % 5, so 60 / 20 / 20 %, or, on real `timelines`, the split of the
            file's video i).
        seed (`int`, default 0): seeds the class prototypes and every video.
        split (`str`, *optional*): "train", "validation" or "test" returns that split as a `Dataset`; by default
            a `DatasetDict` of the three.
        num_classes, visual_dim, audio_dim, noise, distractor_rate, asynchrony_steps, distractors_per_video,
            audio_offset_steps, family_share, independent_families, timelines, fps, feature_stride, feature_window,
            feature_dtype: see `SyntheticUnAVConfig` (None takes its default; `num_classes` is 100 on real
            `timelines`, else 20).
        clean (`bool`, default False): no distractors and no audio-visual shifts (distractor_rate = 0,
            asynchrony_steps = 0, no audio offset), with the same labelled events and noise as the default data.
        cache_dir (`str`, *optional*): where `datasets` writes the Arrow files (its cache by default); a second
            call with the same arguments reuses them.

    Returns:
        `datasets.DatasetDict` (train / validation / test) or `datasets.Dataset`: rows with video_id, duration
        (s), fps, feature_stride, feature_window, visual_features `(T, visual_dim)`, audio_features
        `(T, audio_dim)`, segments `(k, 2)` (s) and labels (`ClassLabel`).
    """
    shifts = {
        "distractor_rate": distractor_rate, "asynchrony_steps": asynchrony_steps,
        "distractors_per_video": distractors_per_video, "audio_offset_steps": audio_offset_steps,
    }  # fmt: skip
    if clean:
        for name, value in shifts.items():
            if value:
                raise ValueError(f"synthetic_unav(clean=True) means {name}=0, but {name}={value} was passed.")
        shifts = {"distractor_rate": 0.0, "asynchrony_steps": 0.0}
    if num_classes is None:
        num_classes = len(UNAV100_CLASS_NAMES) if timelines is not None else 20
    knobs = {"noise": noise, "family_share": family_share, **shifts}
    config = SyntheticUnAVConfig(
        num_classes=num_classes, visual_dim=visual_dim, audio_dim=audio_dim, fps=fps, feature_stride=feature_stride,
        feature_window=feature_window, feature_dtype=feature_dtype, seed=seed,
        independent_families=independent_families, timelines=None if timelines is None else str(timelines),
        **{name: value for name, value in knobs.items() if value is not None},
    )  # fmt: skip
    if not isinstance(num_videos, int) or num_videos <= 0:
        raise ValueError(f"synthetic_unav needs num_videos > 0, got {num_videos!r}.")
    generator_kwargs = {"config": config}
    if timelines is not None:
        available = len(read_timelines(timelines))
        if num_videos > available:
            raise ValueError(
                f"synthetic_unav asks for {num_videos} videos; {timelines} has {available} timelines."
            )
        # keys the `datasets` cache on the file's content, not only its path
        generator_kwargs["timelines_digest"] = hashlib.sha256(Path(timelines).read_bytes()).hexdigest()
    if split is not None and split not in SPLITS:
        raise ValueError(f"synthetic_unav split must be one of {SPLITS} or None, got {split!r}.")
    features = synthetic_features(config)

    def build(split_name: str) -> datasets.Dataset:
        indices = [i for i in range(num_videos) if video_split(i, config) == split_name]
        if not indices:
            return datasets.Dataset.from_dict(
                {name: [] for name in features}, features=features, split=split_name
            )
        return datasets.Dataset.from_generator(
            _generate_rows, features=features, gen_kwargs={"indices": indices, **generator_kwargs}, cache_dir=cache_dir,
            split=datasets.NamedSplit(split_name),
        )  # fmt: skip

    if split is not None:
        return build(split)
    return datasets.DatasetDict({name: build(name) for name in SPLITS})
