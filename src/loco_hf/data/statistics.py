# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Statistics of UnAV-format annotations (real or synthetic) and a table comparing two sets of them.

`annotation_statistics` reads the UnAV-100 JSON format (`to_unav_annotations` writes it for any event dataset),
`UNAV100_STATISTICS` holds its result on the real `unav100_annotations.json`, and `format_statistics_table`
compares two results side by side (the table of `docs/data.md`).
"""

import math
from collections import Counter
from collections.abc import Mapping

import datasets
import numpy as np

__all__ = ["UNAV100_STATISTICS", "annotation_statistics", "format_statistics_table", "to_unav_annotations"]

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
