# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Pictures of dense audio-visual event localization results: event timelines and error analysis.

* `plot_event_timeline`: one lane per class, ground truth as solid bars and predictions as bars whose opacity is
  their score, on a shared time axis in seconds.
* `plot_error_analysis`: mAP by event length and the false-positive breakdown of `loco_hf.evaluation`, side by side.
* `rank_videos` and `plot_worst_videos`: the videos of a split with the lowest per-video average mAP, as timelines.

matplotlib is an optional dependency (the `viz` extra): it is imported when a function here first needs it. The
functions build `matplotlib.figure.Figure` objects directly (no pyplot state), return them, and save them when
given a `path`.

Events are accepted in the two forms the package produces, with times in seconds:

* the pipeline's list of `{"label", "start", "end", "score"}` dicts ("score" absent for ground truth);
* a dict of arrays: "segments" `(k, 2)`, "labels" `(k,)` (class ids, or names), optionally "label_names" and
  "scores" `(k,)`, as returned by `LocoFeatureExtractor.post_process_event_localization` and read by
  `loco_hf.evaluation`. Class ids become names through `id2label`.
"""

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import numpy as np
from transformers.utils import logging

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = [
    "plot_error_analysis",
    "plot_event_timeline",
    "plot_worst_videos",
    "rank_videos",
    "require_matplotlib",
    "timeline_paths",
]

GROUND_TRUTH_COLOR = "#3a3a3a"
PREDICTION_COLOR = "#e8710a"
# Bars below this opacity are hard to see at all; their outline keeps them visible and the label gives the score.
_MIN_ALPHA = 0.12
# At most this many rows of overlapping predictions per lane; more overlapping ones share the last row.
_MAX_PREDICTION_ROWS = 3
# Scores are written inside prediction bars at least this wide (fraction of the time axis).
_MIN_LABELLED_WIDTH = 0.045
_FALSE_POSITIVE_NAMES = {
    "duplicate": "duplicate",
    "wrong_class": "wrong class",
    "wrong_location": "wrong location",
    "confusion": "wrong class\n+ location",
    "background": "background",
}


def require_matplotlib():
    """Imports matplotlib's Figure and Patch lazily, with a clear error when the extra is missing; call it to fail
    early, before any work whose result is to be drawn.

    Returns:
        `(matplotlib.figure.Figure, matplotlib.patches.Patch)`.

    Raises:
        ImportError: naming the `viz` extra, when matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
    except ImportError as error:
        raise ImportError(
            "loco_hf.plotting needs matplotlib: install it with `pip install loco-hf[viz]` (or `pip install "
            "matplotlib`)."
        ) from error
    return Figure, Patch


@dataclass(frozen=True)
class _Event:
    label: str
    start: float
    end: float
    score: float | None


def _label_name(label, id2label: Mapping | None, owner: str) -> str:
    if isinstance(label, str):
        return label
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        if id2label is None:
            return f"class {int(label)}"
        names = {int(key): value for key, value in id2label.items()}
        if int(label) not in names:
            raise ValueError(f"Class id {int(label)} of the {owner} is not in id2label.")
        return names[int(label)]
    raise ValueError(f"Labels of the {owner} must be class names or ids, got {label!r}.")


def _to_list(values) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _read_events(events, id2label: Mapping | None, owner: str, with_scores: bool) -> list[_Event]:
    """Either event form (see the module docstring) -> list of `_Event`, checked."""
    if events is None:
        return []
    if isinstance(events, Mapping):
        segments = np.asarray(_to_list(events.get("segments", [])), dtype=np.float64).reshape(-1, 2)
        names = events.get("label_names")
        labels = _to_list(names if names is not None else events.get("labels", []))
        scores = events.get("scores") if with_scores else None
        scores = _to_list(scores) if scores is not None else [None] * len(segments)
        if not len(labels) == len(scores) == len(segments):
            raise ValueError(
                f"The {owner} have {len(segments)} segments, {len(labels)} labels and {len(scores)} scores."
            )
        rows = [(label, start, end, score) for label, (start, end), score in zip(labels, segments, scores)]  # noqa: B905
    elif isinstance(events, Sequence) and not isinstance(events, str):
        rows = []
        for event in events:
            if not isinstance(event, Mapping) or not {"label", "start", "end"} <= set(event):
                raise ValueError(
                    f"Each of the {owner} must be a dict with 'label', 'start' and 'end', got {event!r}."
                )
            rows.append(
                (event["label"], event["start"], event["end"], event.get("score") if with_scores else None)
            )
    else:
        raise ValueError(
            f"The {owner} must be a list of event dicts or a dict with 'segments' and 'labels', "
            f"got {type(events).__name__}."
        )
    parsed = []
    for label, start, end, score in rows:
        start, end = float(start), float(end)
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise ValueError(f"An event of the {owner} has bad times [{start}, {end}] s.")
        if score is not None:
            score = float(score)
            if not math.isfinite(score):
                raise ValueError(f"An event of the {owner} has a non-finite score {score}.")
        parsed.append(_Event(_label_name(label, id2label, owner), start, end, score))
    return parsed


def _pack_rows(events: list[_Event], max_rows: int) -> list[int]:
    """Greedy interval packing: a row index per event (in the given order) so that events of a row do not overlap."""
    row_ends: list[float] = []
    rows = []
    for event in events:
        for row, row_end in enumerate(row_ends):
            if event.start >= row_end:
                row_ends[row] = event.end
                rows.append(row)
                break
        else:
            if len(row_ends) < max_rows:
                row_ends.append(event.end)
                rows.append(len(row_ends) - 1)
            else:  # share the row that frees up first
                row = int(np.argmin(row_ends))
                row_ends[row] = max(row_ends[row], event.end)
                rows.append(row)
    return rows


def _save(figure, path) -> None:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=figure.dpi, bbox_inches="tight")
        logger.info("Wrote %s", path)


def timeline_paths(path: str | os.PathLike, video_ids: Sequence[str]) -> list[Path]:
    """
    Where the timelines of several videos go when one path is given: the path itself for a single video, else
    `<stem>_<video id><suffix>` beside it per video (characters other than letters, digits, "-", "_" and "." in
    the id become "_"; the suffix defaults to ".png").

    Args:
        path (`str` or `os.PathLike`): the requested file, e.g. "timeline.png".
        video_ids (`Sequence[str]`): the videos, in order.

    Returns:
        `list[Path]`, one per video.
    """
    path = Path(path)
    if len(video_ids) == 1:
        return [path]
    safe_ids = [
        "".join(c if c.isalnum() or c in "-_." else "_" for c in str(video_id)) for video_id in video_ids
    ]
    return [path.with_name(f"{path.stem}_{safe_id}{path.suffix or '.png'}") for safe_id in safe_ids]


def plot_event_timeline(
    predictions=None,
    ground_truth=None,
    *,
    duration: float | None = None,
    id2label: Mapping | None = None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
    min_score: float = 0.0,
):
    """
    Draws the events of one video on a timeline: one lane per class present, ground truth as solid dark bars at the
    top of the lane, predictions below as orange bars whose opacity is their score (overlapping predictions of a
    class are spread over up to 3 rows; scores are written inside bars wide enough to hold them).

    Lanes are ordered by the first ground-truth event of each class, then classes with predictions only (false
    positives) by their first prediction.

    Args:
        predictions: the predicted events, either the pipeline's list of `{"label", "start", "end", "score"}` or a
            dict with "segments" `(k, 2)` (seconds), "scores" `(k,)` and "labels" `(k,)` (ids or names) or
            "label_names". `None` draws the ground truth only.
        ground_truth (*optional*): the annotated events, in either form (scores ignored).
        duration (`float`, *optional*): video length in seconds, the end of the time axis; default: the last event
            end.
        id2label (`dict[int, str]`, *optional*): class names of integer labels (default "class <id>").
        title (`str`, *optional*): figure title.
        path (`str` or `os.PathLike`, *optional*): where to save the figure (PNG, SVG, PDF: from the suffix).
        min_score (`float`, default 0): predictions scoring below this are not drawn.

    Returns:
        `matplotlib.figure.Figure`.

    Raises:
        ValueError: for malformed events (missing keys, end before start, non-finite times) or a bad duration.
        ImportError: when matplotlib is not installed.
    """
    figure_class, patch_class = require_matplotlib()
    predicted = [
        event
        for event in _read_events(predictions, id2label, "predictions", with_scores=True)
        if event.score is None or event.score >= min_score
    ]
    annotated = _read_events(ground_truth, id2label, "ground truth", with_scores=False)
    if duration is None:
        duration = max([event.end for event in predicted + annotated], default=1.0) or 1.0
    duration = float(duration)
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be a positive number of seconds, got {duration}.")

    lanes: list[str] = []
    by_time = attrgetter("start", "end")
    for event in sorted(annotated, key=by_time) + sorted(predicted, key=by_time):
        if event.label not in lanes:
            lanes.append(event.label)
    num_lanes = max(len(lanes), 1)
    longest_name = max((len(name) for name in lanes), default=10)
    figure = figure_class(figsize=(11, 1.6 + 0.62 * num_lanes), dpi=110, layout="constrained")
    axes = figure.add_subplot()

    for lane, label in enumerate(lanes):
        if lane % 2:
            axes.axhspan(lane - 0.5, lane + 0.5, color="#f2f2f2", zorder=0)
        truth = [event for event in annotated if event.label == label]
        axes.barh(
            [lane - 0.27] * len(truth), [event.end - event.start for event in truth], left=[e.start for e in truth],
            height=0.2, color=GROUND_TRUTH_COLOR, zorder=2, gid="ground_truth",
        )  # fmt: skip
        guesses = sorted(
            (event for event in predicted if event.label == label), key=lambda e: (e.start, -e.end)
        )
        rows = _pack_rows(guesses, _MAX_PREDICTION_ROWS)
        num_rows = max(rows, default=0) + 1
        # The predictions share [lane - 0.13, lane + 0.43] below the ground truth (a single row takes half of it),
        # or are centred in the lane (at most [lane - 0.3, lane + 0.3]) when there is no ground truth to show.
        row_height = (0.56 if ground_truth is not None else 0.6) / max(num_rows, 2)
        prediction_top = -0.13 if ground_truth is not None else -row_height * num_rows / 2
        for event, row in zip(guesses, rows, strict=True):
            score = 1.0 if event.score is None else min(max(event.score, 0.0), 1.0)
            center = lane + prediction_top + row_height * (row + 0.5)
            width = max(event.end - event.start, duration * 0.002)  # keep zero-length events visible
            axes.barh(
                center, width, left=event.start, height=row_height * 0.82, zorder=3,
                color=PREDICTION_COLOR, alpha=max(score, _MIN_ALPHA), linewidth=0, gid="prediction",
            )  # fmt: skip
            axes.barh(
                center, width, left=event.start, height=row_height * 0.82, zorder=3,
                fill=False, edgecolor=PREDICTION_COLOR, linewidth=0.8,
            )  # fmt: skip
            if event.score is not None and width >= _MIN_LABELLED_WIDTH * duration and row_height > 0.15:
                axes.text(
                    event.start + width / 2, center, f"{event.score:.2f}", ha="center", va="center", zorder=4,
                    fontsize=8, color="white" if score > 0.55 else "#5a2d00",
                )  # fmt: skip

    axes.set_yticks(range(len(lanes)), lanes, fontsize=10 if longest_name < 28 else 8)
    axes.set_ylim(num_lanes - 0.5, -0.5)  # first lane on top
    axes.set_xlim(0, duration)
    axes.set_xlabel("time (s)")
    axes.tick_params(axis="y", length=0)
    axes.grid(axis="x", color="#cccccc", linestyle="--", linewidth=0.6, zorder=1)
    axes.set_axisbelow(True)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    if not lanes:
        axes.text(duration / 2, 0, "no events", ha="center", va="center", color="#777777", fontsize=12)
        axes.set_yticks([])

    handles = []
    if annotated:
        handles.append(patch_class(color=GROUND_TRUTH_COLOR, label="ground truth"))
    if any(event.score is not None for event in predicted):
        handles += [
            patch_class(facecolor=PREDICTION_COLOR, alpha=alpha, edgecolor=PREDICTION_COLOR, label=f"prediction, score {alpha:.1f}")
            for alpha in (0.3, 0.6, 0.9)
        ]  # fmt: skip
    elif predicted:
        handles.append(patch_class(color=PREDICTION_COLOR, label="prediction"))
    if handles:
        axes.legend(
            handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(handles), frameon=False,
            fontsize=9, handlelength=1.6, borderaxespad=0.3,
        )  # fmt: skip
    if title:
        figure.suptitle(title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    _save(figure, path)
    return figure


def plot_error_analysis(
    by_length: Mapping,
    false_positives: Mapping,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
):
    """
    Draws the error analysis of an evaluation as two bar charts: the average mAP (over the tIoU thresholds) of the
    events of each length bucket, and the false positives among the top-ranked predictions by type.

    Args:
        by_length (`dict`): the output of `loco_hf.evaluation.average_precision_by_length`: bucket label ->
            `{"average_mAP": float, "num_events": int, ...}` (NaN or None for an empty bucket).
        false_positives (`dict`): the output of `loco_hf.evaluation.false_positive_breakdown`: "counts" and
            "fractions" per type, "num_false_positives", "num_predictions", "tiou_threshold".
        path (`str` or `os.PathLike`, *optional*): where to save the figure.
        title (`str`, *optional*): figure title.

    Returns:
        `matplotlib.figure.Figure`.
    """
    figure_class, _ = require_matplotlib()
    if not isinstance(by_length, Mapping) or not by_length:
        raise ValueError("by_length must be the non-empty dict returned by average_precision_by_length.")
    for key in ("counts", "num_false_positives", "num_predictions", "tiou_threshold"):
        if key not in false_positives:
            raise ValueError(
                f"false_positives lacks {key!r}: pass the dict returned by false_positive_breakdown."
            )

    figure = figure_class(figsize=(11, 4.2), dpi=110, layout="constrained")
    length_axes, error_axes = figure.subplots(1, 2, width_ratios=[1, 1.15])

    buckets = list(by_length)
    # NaN (or None, after a JSON round trip) marks a bucket without events.
    values = [
        math.nan
        if by_length[bucket]["average_mAP"] is None
        else 100 * float(by_length[bucket]["average_mAP"])
        for bucket in buckets
    ]
    counts = [int(by_length[bucket]["num_events"]) for bucket in buckets]
    heights = [0.0 if math.isnan(value) else value for value in values]
    bars = length_axes.bar(range(len(buckets)), heights, color="#3b75af", width=0.65, zorder=2)
    top = max(heights + [1.0])
    for bar, value in zip(bars, values, strict=True):
        text = "no events" if math.isnan(value) else f"{value:.1f}"
        length_axes.text(
            bar.get_x() + bar.get_width() / 2, bar.get_height() + top * 0.02, text, ha="center", va="bottom",
            fontsize=10, color="#777777" if math.isnan(value) else "black",
        )  # fmt: skip
    length_axes.set_xticks(
        range(len(buckets)), [f"{_bucket_name(bucket)}\n{count} events" for bucket, count in zip(buckets, counts, strict=True)]
    )  # fmt: skip
    length_axes.set_ylim(0, top * 1.18)
    length_axes.set_ylabel("average mAP (%), tIoU 0.1-0.9")
    length_axes.set_title("mAP by ground-truth event length", fontsize=11)

    types = list(false_positives["counts"])
    type_counts = [int(false_positives["counts"][name]) for name in types]
    total = int(false_positives["num_false_positives"])
    bars = error_axes.barh(range(len(types)), type_counts, color="#c44e52", height=0.6, zorder=2)
    widest = max(type_counts + [1])
    for bar, count in zip(bars, type_counts, strict=True):
        share = f"{100 * count / total:.0f} %" if total else "-"
        error_axes.text(
            bar.get_width() + widest * 0.015, bar.get_y() + bar.get_height() / 2, f"{count}  ({share})", va="center",
            fontsize=10,
        )  # fmt: skip
    error_axes.set_yticks(range(len(types)), [_FALSE_POSITIVE_NAMES.get(name, name) for name in types])
    error_axes.invert_yaxis()
    error_axes.set_xlim(0, widest * 1.3)
    error_axes.set_xlabel("false positives")
    error_axes.set_title(
        f"False positives at tIoU {false_positives['tiou_threshold']:g}: {total} of "
        f"{false_positives['num_predictions']} top-ranked predictions",
        fontsize=11,
    )
    for axes in (length_axes, error_axes):
        axes.grid(axis="y" if axes is length_axes else "x", color="#dddddd", zorder=0)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
    if title:
        figure.suptitle(title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    _save(figure, path)
    return figure


def _bucket_name(bucket: str) -> str:
    """Short bucket names: "[2, 10)" -> "2-10 s", "[0, 2)" -> "< 2 s", "[30, inf)" -> "> 30 s"; others kept."""
    try:
        low, high = (float(value) for value in bucket.strip("[]()").split(","))
    except ValueError:
        return bucket
    if low == 0:
        return f"< {high:g} s"
    if math.isinf(high):
        return f"> {low:g} s"
    return f"{low:g}-{high:g} s"


def rank_videos(
    predictions: Mapping, ground_truth: Mapping, tiou_thresholds: Sequence[float] | None = None
) -> list:
    """
    Ranks the videos of a split from worst to best by their own average mAP: `mean_average_precision` on that
    video alone (its classes, all tIoU thresholds). Ties (typically several videos at 0) go to the video with more
    ground-truth events, then to the first listed. Videos without ground-truth events have no AP and are left out.

    Args:
        predictions (`dict`): video id -> `{"segments", "scores", "labels"}` as in `loco_hf.evaluation`.
        ground_truth (`dict`): video id -> `{"segments", "labels"}`.
        tiou_thresholds (`list[float]`, *optional*): default 0.1, ..., 0.9.

    Returns:
        `list` of `{"video_id", "average_mAP", "num_events"}`, worst first.
    """
    from .evaluation import mean_average_precision

    empty = {"segments": np.zeros((0, 2)), "scores": np.zeros(0), "labels": np.zeros(0, dtype=np.int64)}
    ranked = []
    for order, (video_id, truth) in enumerate(ground_truth.items()):
        num_events = len(_to_list(truth["labels"]))
        if not num_events:
            continue
        result = mean_average_precision(
            {video_id: predictions.get(video_id, empty)}, {video_id: truth}, tiou_thresholds
        )
        ranked.append((result["average_mAP"], -num_events, order, video_id))
    return [
        {"video_id": video_id, "average_mAP": float(value), "num_events": -negative}
        for value, negative, _, video_id in sorted(ranked)
    ]


def plot_worst_videos(
    predictions: Mapping,
    ground_truth: Mapping,
    directory: str | os.PathLike,
    *,
    durations: Mapping | None = None,
    id2label: Mapping | None = None,
    num_videos: int = 5,
    min_score: float = 0.1,
) -> list[dict]:
    """
    Writes the timelines of the `num_videos` worst videos of a split (lowest per-video average mAP, see
    `rank_videos`) as `<directory>/worst_<rank>_<video_id>.png`.

    Args:
        predictions (`dict`), ground_truth (`dict`): as in `loco_hf.evaluation.mean_average_precision`.
        directory (`str` or `os.PathLike`): created when missing.
        durations (`dict`, *optional*): video id -> duration in seconds (the time axis; default: the last event).
        id2label (`dict[int, str]`, *optional*): class names.
        num_videos (`int`, default 5): how many videos to draw.
        min_score (`float`, default 0.1): predictions below this score are not drawn (the evaluation keeps
            100 per video, most of them near 0).

    Returns:
        `list` of `{"video_id", "average_mAP", "num_events", "path"}`, worst first.
    """
    require_matplotlib()  # fail early, before ranking, when matplotlib is missing
    directory = Path(directory)
    worst = rank_videos(predictions, ground_truth)[:num_videos]
    for rank, video in enumerate(worst, start=1):
        video_id = video["video_id"]
        safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(video_id))
        video["path"] = str(directory / f"worst_{rank}_{safe_id}.png")
        figure = plot_event_timeline(
            predictions.get(video_id),
            ground_truth[video_id],
            duration=None if durations is None else durations.get(video_id),
            id2label=id2label,
            title=f"{video_id}: average mAP {100 * video['average_mAP']:.1f} % (rank {rank} from the bottom)",
            path=video["path"],
            min_score=min_score,
        )
        del figure
    return worst
